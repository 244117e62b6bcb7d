package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ddb2pg/ddb2pg/internal/exportgen"
	"github.com/ddb2pg/ddb2pg/internal/teststack"
	"github.com/ddb2pg/ddb2pg/pkg/ledger"
)

// The clock-dependent parts of `status` output: the database's now and the
// lags computed from it.
var (
	statusNow = regexp.MustCompile(`status of (\S+) at \S+`)
	statusLag = regexp.MustCompile(`\b(\d+h)?(\d+m)?\d+(\.\d+)?s\b`)
	// A shard's last record time is the test's clock (its lag must be real).
	statusRecTime = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ(\s+<DURATION>)`)
)

// `ddb2pg status` after a backfill with rejects and a poller's checkpoints:
// the screen (golden, clock-dependent parts replaced) and the JSON agree
// with the bookkeeping.
func TestStatusGolden(t *testing.T) {
	dir := t.TempDir()
	exp, err := exportgen.WriteExport(filepath.Join(dir, "e"), exportgen.Config{Orders: 40, Files: 2, Seed: 1, BadItems: 2})
	if err != nil {
		t.Fatal(err)
	}
	dsn := teststack.Postgres(t)
	// Nothing ran yet: every part is empty, and nothing is ready.
	r := runBin(t, nil, "status", "--mapping", sampleMapping, "--database-url", dsn)
	if r.code != 0 {
		t.Fatalf("status on an empty database: %d\n%s", r.code, r.stderr)
	}
	statusGolden(t, "status-empty.golden", r.stdout)

	if r := runBin(t, nil, "backfill", "--mapping", sampleMapping, "--export", exp.Folder, "--database-url", dsn, "--progress", "none"); r.code != 3 {
		t.Fatalf("backfill: %d\n%s", r.code, r.stderr)
	}
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	led, err := ledger.New(ledger.DefaultSchema)
	if err != nil {
		t.Fatal(err)
	}
	if err := led.EnsureStream(ctx, pool); err != nil {
		t.Fatal(err)
	}
	arn := "arn:aws:dynamodb:us-east-1:000000000000:table/Orders/stream/2026-01-01T00:00:00.000"
	recTime := time.Now().Add(-90 * time.Second)
	for _, c := range []ledger.ShardCheckpoint{
		{StreamARN: arn, ShardID: "shardId-00000001", LastSeq: "100000000000000000001", LastRecordTime: recTime},
		{StreamARN: arn, ShardID: "shardId-00000002", ParentShardID: "shardId-00000001", LastSeq: "200000000000000000007", LastRecordTime: recTime},
	} {
		if err := led.SaveCheckpoint(ctx, pool, c); err != nil {
			t.Fatal(err)
		}
	}
	r = runBin(t, nil, "status", "--mapping", sampleMapping, "--database-url", dsn)
	if r.code != 0 {
		t.Fatalf("status: %d\n%s", r.code, r.stderr)
	}
	statusGolden(t, "status.golden", r.stdout)

	r = runBin(t, nil, "status", "--mapping", sampleMapping, "--database-url", dsn, "--json")
	var rep struct {
		Exports []struct {
			ManifestItems int64 `json:"manifest_items"`
			RejectedItems int64 `json:"rejected_items"`
			FilesDone     int64 `json:"files_done"`
			Complete      bool  `json:"complete"`
		}
		Shards []struct {
			ShardID    string   `json:"shard_id"`
			LagSeconds *float64 `json:"lag_seconds"`
		}
		RejectTotal int64 `json:"reject_total"`
		Ready       bool
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("--json: %v\n%s", err, r.stdout)
	}
	if len(rep.Exports) != 1 || rep.Exports[0].ManifestItems != exp.Items || rep.Exports[0].RejectedItems != 2 ||
		rep.Exports[0].FilesDone != 2 || !rep.Exports[0].Complete || rep.RejectTotal != 2 || rep.Ready {
		t.Errorf("--json: %+v", rep)
	}
	if len(rep.Shards) != 2 || rep.Shards[0].LagSeconds == nil || *rep.Shards[0].LagSeconds < 85 || *rep.Shards[0].LagSeconds > 600 {
		t.Errorf("--json shards: %+v", rep.Shards)
	}
}

// statusGolden compares status output with testdata/NAME after replacing
// what changes from run to run (times, durations).
func statusGolden(t *testing.T, name, got string) {
	t.Helper()
	got = statusNow.ReplaceAllString(got, "status of $1 at <NOW>")
	got = statusLag.ReplaceAllString(got, "<DURATION>")
	got = statusRecTime.ReplaceAllString(got, "<RECORD-TIME>       $1")
	golden(t, filepath.Join("testdata", name), got)
}

// findChromium returns a headless-capable Chromium (as pkg/report's test
// does): scripts/install-deps.sh installs it; without it the test fails in
// CI and is skipped, with the reason, elsewhere.
func findChromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "chromium is not installed: run scripts/install-deps.sh (as root it installs Debian's chromium)"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// `ddb2pg status --html F` after a poller recorded lag samples of two
// shards: headless Chromium renders the page with one line per shard
// through every sample, and the page loads nothing from outside.
func TestStatusHTMLRendersInChromium(t *testing.T) {
	chromium := findChromium(t)
	dsn := teststack.Postgres(t)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	led, err := ledger.New(ledger.DefaultSchema)
	if err != nil {
		t.Fatal(err)
	}
	if err := led.EnsureStream(ctx, pool); err != nil {
		t.Fatal(err)
	}
	if err := led.EnsureLagHistory(ctx, pool); err != nil {
		t.Fatal(err)
	}
	arn := "arn:aws:dynamodb:us-east-1:000000000000:table/Orders/stream/2026-01-01T00:00:00.000"
	other := "arn:aws:dynamodb:us-east-1:000000000000:table/Other/stream/2026-01-01T00:00:00.000"
	for i, lag := range []time.Duration{3 * time.Second, 40 * time.Second, 12 * time.Second} {
		for _, shard := range []string{"shardId-a", "shardId-b"} {
			if err := led.RecordLag(ctx, pool, arn, shard, lag+time.Duration(len(shard)*i)*time.Second); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Another table's samples stay off this table's page.
	if err := led.RecordLag(ctx, pool, other, "shardId-z", time.Hour); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "status.html")
	if r := runBin(t, nil, "status", "--mapping", sampleMapping, "--database-url", dsn, "--html", path); r.code != 0 {
		t.Fatalf("status --html: %d\n%s", r.code, r.stderr)
	}
	page, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, ext := range []string{"<script", "<link", "src=", "http://", "https://"} {
		if strings.Contains(strings.ReplaceAll(string(page), `xmlns="http://www.w3.org/2000/svg"`, ""), ext) {
			t.Errorf("the page is not self-contained: it has %q", ext)
		}
	}
	cmd := exec.Command(chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--dump-dom", "file://"+path)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("chromium: %v\n%s", err, stderr.String())
		}
	case <-time.After(90 * time.Second):
		cmd.Process.Kill() //nolint:errcheck
		t.Fatal("chromium did not finish in 90s")
	}
	dom := stdout.String()
	if !strings.Contains(dom, `id="lag-chart"`) {
		t.Fatalf("the rendered page has no lag chart:\n%.3000s", dom)
	}
	lines := regexp.MustCompile(`<polyline class="lag-series" data-shard="([^"]+)"[^>]* points="([^"]*)"`).FindAllStringSubmatch(dom, -1)
	if len(lines) != 2 || lines[0][1] != "shardId-a" || lines[1][1] != "shardId-b" {
		t.Fatalf("lines %q, want one per shard of Orders", lines)
	}
	for _, l := range lines {
		if n := len(strings.Fields(l[2])); n != 3 {
			t.Errorf("%s: %d points, want 3 samples", l[1], n)
		}
	}
	if !strings.Contains(dom, "NOT READY") {
		t.Error("the page lacks the cutover verdict")
	}
}

// Bad inputs of status, and of --metrics-addr on the commands that take it.
func TestStatusAndMetricsBadInputs(t *testing.T) {
	dsn := teststack.Postgres(t)
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	inUse := held.Addr().String()
	exp, err := exportgen.WriteExport(filepath.Join(t.TempDir(), "e"), exportgen.Config{Orders: 4, Files: 1, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name     string
		args     []string
		code     int
		inStderr string
	}{
		{"status without mapping", []string{"status", "--database-url", dsn}, 2, "mapping"},
		{"status with a stray argument", []string{"status", "--mapping", sampleMapping, "--database-url", dsn, "now"}, 2, "now"},
		{"status on a database that is not there", []string{"status", "--mapping", sampleMapping,
			"--database-url", "postgres://nobody@127.0.0.1:1/none?connect_timeout=2"}, 1, "127.0.0.1"},
		{"status --html into a missing directory", []string{"status", "--mapping", sampleMapping, "--database-url", dsn,
			"--html", filepath.Join(t.TempDir(), "no", "such", "dir", "s.html")}, 1, "status page"},
		{"backfill --metrics-addr in use", []string{"backfill", "--mapping", sampleMapping, "--export", exp.Folder,
			"--database-url", dsn, "--progress", "none", "--metrics-addr", inUse}, 1, inUse},
		{"backfill --metrics-addr without a port", []string{"backfill", "--mapping", sampleMapping, "--export", exp.Folder,
			"--database-url", dsn, "--progress", "none", "--metrics-addr", "127.0.0.1"}, 1, "127.0.0.1"},
		{"stream --metrics-addr in use", []string{"stream", "--mapping", sampleMapping, "--database-url", dsn,
			"--metrics-addr", inUse}, 1, inUse},
	} {
		t.Run(c.name, func(t *testing.T) {
			// Keys and a dead endpoint: the credentials check passes and nothing
			// reaches AWS; the metrics address is refused first.
			r := runBin(t, []string{"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=y",
				"AWS_ENDPOINT_URL=http://127.0.0.1:1", "AWS_EC2_METADATA_DISABLED=true"}, c.args...)
			if r.code != c.code || !strings.Contains(r.stderr, c.inStderr) {
				t.Errorf("exit %d, want %d; stderr should mention %q:\n%s", r.code, c.code, c.inStderr, r.stderr)
			}
		})
	}
}
