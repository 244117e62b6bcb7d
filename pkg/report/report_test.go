package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func sp(s string) *string { return &s }

// fixed is a Result as verify builds it, with every section filled.
func fixed() *Result {
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	et := time.Date(2026, 2, 28, 23, 0, 0, 0, time.UTC)
	lrt := time.Date(2026, 3, 1, 9, 59, 58, 0, time.UTC)
	lag := 2.0
	r := &Result{
		MaxDivergence: 0, Complete: true, SourceTable: "Orders", Mode: "scan", ExtraPass: "done", OrphanPass: "done",
		Items: ItemCounts{Read: 1000, Rejected: 1, Divergent: 3},
		Tables: map[string]*TableCounts{
			"customers":   {Shared: true, ExpectedRows: 120, Matched: 119, SharedConflict: 1, Orphaned: 2},
			"orders":      {ExpectedRows: 999, Matched: 997, Missing: 1, Mismatched: 1, Extra: 1, Rejected: 1},
			"order_items": {ExpectedRows: 2400, Matched: 2400},
		},
		TableOrder: []string{"customers", "orders", "order_items"},
		Samples: []Sample{
			{Key: `[{"S":"c-1"}]`, Table: "customers", Class: SharedConflict, Row: `{"id":"c-1"}`, Column: "name",
				DynamoDBValue: sp("Ada"), PostgresValue: sp("Ada"), OtherKey: `[{"S":"o-7"}]`, OtherValue: sp("Ada L.")},
			{Key: `[{"S":"o-1"}]`, Table: "orders", Class: Missing, Row: `{"id":"o-1"}`, DynamoDBValue: sp(`{"id":"o-1","total":"12.5"}`)},
			{Key: `[{"S":"o-2"}]`, Table: "orders", Class: Mismatched, Row: `{"id":"o-2"}`, Column: "status",
				DynamoDBValue: sp("NEW"), PostgresValue: sp("SHIPPED <b>")},
			{Key: `[{"S":"o-9"}]`, Table: "orders", Class: Extra, Row: `{"id":"o-9"}`, PostgresValue: sp(`{"id":"o-9","total":null}`)},
		},
		Rejected: []Rejected{{Key: `[{"S":"o-5"}]`, Table: "orders", Column: "total", Path: "total", Value: `{"N":"1.005"}`,
			Reason: "1.005 does not fit numeric(12,2) exactly"}},
		RecordedRejects: RecordedRejects{Total: 1, Items: []RecordedReject{{Key: `[{"S":"o-5"}]`, Table: "orders", Column: "total",
			Reason: "1.005 does not fit numeric(12,2) exactly", Origin: "export 0001 file data/a.json.gz line 7", At: t0}}},
		Recheck:  Recheck{Suspects: 5, Resolved: 2, Persisted: 3},
		Backfill: Backfill{Exports: []Export{{ExportID: "01700000000000-abcdef", ExportTime: &et, ManifestItems: 1000, Files: 4, FilesDone: 4, LoadedItems: 999, RejectedItems: 1, Finished: true}}},
		Stream: Stream{Shards: []Shard{{StreamARN: "arn:aws:dynamodb:us-east-1:000000000000:table/Orders/stream/x", ShardID: "shardId-1",
			LastSeq: "100000000000000000001", LastRecordTime: &lrt, LagSeconds: &lag}}, MaxLagSeconds: &lag},
		Parameters: Parameters{Mapping: "mapping.yaml", MappingFingerprint: "0123456789abcdef0123", Segments: 8, ConsistentRead: true,
			Recheck: 3, RecheckDelay: "1s"},
		Timing: Timing{StartedAt: t0, FinishedAt: t0.Add(90 * time.Second), DurationSeconds: 90, ItemsPerSecond: 11.1, ConsumedRCU: 512},
	}
	r.Finish()
	return r
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update to accept):\n%s", name, got)
	}
}

func TestVerdict(t *testing.T) {
	r := fixed()
	if r.Verdict != NOGO || r.DivergentRows != 3 {
		t.Fatalf("verdict %s divergent %d", r.Verdict, r.DivergentRows)
	}
	r.MaxDivergence = 3
	r.Finish()
	if r.Verdict != GO {
		t.Fatalf("within allowance: %s", r.Verdict)
	}
	r.Complete, r.Error = false, "segment 3: throttled"
	r.Finish()
	if r.Verdict != NOGO {
		t.Fatal("an incomplete run must never be GO")
	}
}

func TestJSONGolden(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, fixed()); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.json", b.Bytes())
	// the documented top-level fields
	var doc map[string]any
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"verdict", "divergent_rows", "tables", "samples", "parameters", "timing", "stream", "backfill", "recheck", "rejected"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("JSON report has no %q", k)
		}
	}
	tbl := doc["tables"].(map[string]any)["orders"].(map[string]any)
	for _, k := range []string{"expected_rows", "matched", "missing", "extra", "mismatched", "rejected"} {
		if _, ok := tbl[k]; !ok {
			t.Errorf("table counts have no %q", k)
		}
	}
}

func TestMarkdownGolden(t *testing.T) {
	var b bytes.Buffer
	if err := WriteMarkdown(&b, fixed()); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.md", b.Bytes())
}

func TestTerminalGolden(t *testing.T) {
	var b bytes.Buffer
	if err := WriteTerminal(&b, fixed()); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.txt", b.Bytes())
}

func TestHTMLSelfContained(t *testing.T) {
	var b bytes.Buffer
	if err := WriteHTML(&b, fixed()); err != nil {
		t.Fatal(err)
	}
	h := b.String()
	for _, bad := range []string{"http://", "https://", "<script", "<link", "@import", "src="} {
		if strings.Contains(strings.ReplaceAll(h, `xmlns="http://www.w3.org/2000/svg"`, ""), bad) {
			t.Errorf("HTML report contains %q: not self-contained", bad)
		}
	}
	for _, want := range []string{"NO-GO", "<svg", "SHIPPED &lt;b&gt;", "1.005 does not fit", "01700000000000-abcdef", "shardId-1"} {
		if !strings.Contains(h, want) {
			t.Errorf("HTML report lacks %q", want)
		}
	}
}

// findChromium returns a headless-capable Chromium. scripts/install-deps.sh
// (run by make test) installs Debian's package; without it the test fails in
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

func TestHTMLRendersInChromium(t *testing.T) {
	chromium := findChromium(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		name    string
		r       *Result
		verdict string
	}{
		{"nogo", fixed(), NOGO},
		{"go", func() *Result { r := fixed(); r.MaxDivergence = 10; r.Finish(); return r }(), GO},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".html")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := WriteHTML(f, tc.r); err != nil {
				t.Fatal(err)
			}
			f.Close()
			cmd := exec.Command(chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
				"--disable-background-networking", "--disable-component-update", "--disable-sync",
				"--user-data-dir="+filepath.Join(dir, "profile-"+tc.name), "--dump-dom", "file://"+path)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			done := make(chan error, 1)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
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
			i := strings.Index(dom, `id="verdict"`)
			if i < 0 {
				t.Fatalf("rendered DOM has no verdict section:\n%.2000s", dom)
			}
			sec := dom[i:min(len(dom), i+200)]
			if !strings.Contains(sec, `<div class="big">`+tc.verdict+`</div>`) {
				t.Errorf("rendered verdict is not %s: %s", tc.verdict, sec)
			}
			if !strings.Contains(dom, "<svg") || !strings.Contains(dom, `class="s-matched"`) {
				t.Error("rendered DOM lacks the bar chart")
			}
		})
	}
}

// TestUnstartedRun: a run that stopped before its first read says so in the
// terminal and Markdown summaries instead of leaving blanks.
func TestUnstartedRun(t *testing.T) {
	r := &Result{SourceTable: "Orders", Verdict: NOGO, Error: "describing DynamoDB table Orders: no such table",
		Tables: map[string]*TableCounts{}}
	for _, c := range []struct {
		name  string
		write func(io.Writer, *Result) error
		want  []string
	}{
		{"terminal", WriteTerminal, []string{"mode none (not started), extra-row pass not run"}},
		{"markdown", WriteMarkdown, []string{"mode none (not started):", "Extra-row pass: not run."}},
	} {
		var b bytes.Buffer
		if err := c.write(&b, r); err != nil {
			t.Fatal(err)
		}
		for _, w := range c.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("%s: no %q in\n%s", c.name, w, b.String())
			}
		}
	}
}
