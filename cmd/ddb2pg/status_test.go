package main

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ddb2pg/ddb2pg/internal/exportgen"
	"github.com/ddb2pg/ddb2pg/internal/teststack"
	"github.com/ddb2pg/ddb2pg/pkg/ledger"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

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
	golden(t, "status-empty.golden", r.stdout)

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
	golden(t, "status.golden", r.stdout)

	r = runBin(t, nil, "status", "--mapping", sampleMapping, "--database-url", dsn, "--json")
	var rep struct {
		Exports []struct {
			ManifestItems, LoadedItems, RejectedItems, FilesDone, Files int64
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
		rep.Exports[0].FilesDone != 2 || rep.RejectTotal != 2 || rep.Ready {
		t.Errorf("--json: %+v", rep)
	}
	if len(rep.Shards) != 2 || rep.Shards[0].LagSeconds == nil || *rep.Shards[0].LagSeconds < 85 || *rep.Shards[0].LagSeconds > 600 {
		t.Errorf("--json shards: %+v", rep.Shards)
	}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	got = statusNow.ReplaceAllString(got, "status of $1 at <NOW>")
	got = statusLag.ReplaceAllString(got, "<DURATION>")
	got = statusRecTime.ReplaceAllString(got, "<RECORD-TIME>       $1")
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}
