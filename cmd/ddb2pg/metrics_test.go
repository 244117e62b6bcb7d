package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/jackc/pgx/v5"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/ddb2pg/ddb2pg/internal/exportgen"
	"github.com/ddb2pg/ddb2pg/internal/teststack"
	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
)

// freeAddr returns a loopback address no one listens on (for the moment).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// scrape reads http://addr/metrics and parses it; nil when nothing answers.
func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %v %d %s", err, resp.StatusCode, body)
	}
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("parsing the scrape: %v\n%s", err, body)
	}
	return fams
}

// value returns the value of the sample of fam whose labels include
// labels (name=value pairs), and whether there is one.
func value(fams map[string]*dto.MetricFamily, fam string, labels ...string) (float64, bool) {
	f := fams[fam]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, l := range m.Label {
				if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// `ddb2pg stream --metrics-addr` as a Prometheus server scrapes it: the
// records counters, the batch histogram, the lag per shard and the rejects
// by table match what the stream carried, while the poller runs.
func TestStreamMetricsScraped(t *testing.T) {
	ctx := context.Background()
	db, table, mp := streamTable(t)
	put := func(id, created string) {
		it := ddbitem.Item{"orderId": ddbitem.Str(id), "customerId": ddbitem.Str("c" + id), "total": ddbitem.Num("9.99"),
			"status": ddbitem.Str("new"), "createdAt": ddbitem.Str(created)}
		if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: it.AttributeValues()}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 10; i++ {
		put(fmt.Sprintf("o%d", i), "2026-01-02T03:04:05Z")
	}
	put("bad", "not a time") // rejected: created_at is timestamptz
	dsn := teststack.Postgres(t)
	addr := freeAddr(t)
	wait := startBin(t, "stream", "--mapping", mp, "--database-url", dsn, "--until-idle", "4s", "--poll-interval", "100ms",
		"--metrics-addr", addr)
	var fams map[string]*dto.MetricFamily
	deadline := time.Now().Add(2 * time.Minute)
	for {
		fams = scrape(t, addr)
		if n, _ := value(fams, "ddb2pg_stream_records_total", "outcome", "rejected"); n == 1 {
			if a, _ := value(fams, "ddb2pg_stream_records_total", "outcome", "applied"); a == 10 {
				break
			}
		}
		if time.Now().After(deadline) {
			r := wait()
			t.Fatalf("the counters did not reach 10 applied, 1 rejected: %v\nstdout:\n%s\nstderr:\n%s", fams, r.stdout, r.stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n, ok := value(fams, "ddb2pg_stream_records_total", "outcome", "skipped"); !ok || n != 0 {
		t.Errorf("skipped = %v (present %v), want 0", n, ok)
	}
	batches, _ := value(fams, "ddb2pg_stream_batches_total")
	observed, _ := value(fams, "ddb2pg_stream_batch_duration_seconds")
	if batches < 1 || observed != batches {
		t.Errorf("%v batches, the histogram observed %v", batches, observed)
	}
	lag := fams["ddb2pg_stream_shard_lag_seconds"]
	if lag == nil || len(lag.Metric) == 0 {
		t.Errorf("no shard lag")
	} else {
		for _, m := range lag.Metric {
			// The records were written moments ago (DynamoDB Local's clock is
			// this machine's); the lag is under the test's duration.
			if v := m.Gauge.GetValue(); v < 0 || v > 300 {
				t.Errorf("shard %v lag %vs", m.Label, v)
			}
		}
	}
	if n, _ := value(fams, "ddb2pg_rejects", "table", "orders"); n != 1 {
		t.Errorf("ddb2pg_rejects{table=orders} = %v, want 1", n)
	}
	r := wait()
	if r.code != 0 {
		t.Fatalf("stream exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if scrape(t, addr) != nil {
		t.Errorf("the metrics server outlived the command")
	}
	// The poller recorded its lag for `ddb2pg status`'s chart.
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var samples int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM ddb2pg.stream_lag WHERE lag_seconds < 300`).Scan(&samples); err != nil || samples < 1 {
		t.Errorf("lag samples: %d, %v", samples, err)
	}
	// `ddb2pg status` after the real poller: its shards, the last stream
	// apply, the lag history and the reject, as --json tells them.
	st := runBin(t, nil, "status", "--mapping", mp, "--database-url", dsn, "--json")
	var rep struct {
		Shards []struct {
			LagSeconds *float64 `json:"lag_seconds"`
		} `json:"shards"`
		LastStreamApply *time.Time        `json:"last_stream_apply"`
		LagHistory      []json.RawMessage `json:"lag_history"`
		RejectTotal     int64             `json:"reject_total"`
		Checks          []struct {
			Name string `json:"name"`
			OK   bool   `json:"ok"`
		} `json:"checks"`
	}
	if err := json.Unmarshal([]byte(st.stdout), &rep); err != nil {
		t.Fatalf("status --json: %v\n%s\n%s", err, st.stdout, st.stderr)
	}
	if len(rep.Shards) == 0 || rep.LastStreamApply == nil || time.Since(*rep.LastStreamApply) > 5*time.Minute ||
		len(rep.LagHistory) != samples || rep.RejectTotal != 1 {
		t.Errorf("status after the poller: %s", st.stdout)
	}
	for _, c := range rep.Checks {
		if c.Name == "stream" && !c.OK {
			t.Errorf("the stream check failed after the poller applied records: %s", st.stdout)
		}
	}
}

// `ddb2pg backfill --metrics-addr`, scraped at two held-up moments: while
// the first file waits on a table lock (the export's size is on the page,
// nothing done), and while the second file is held by "another process"
// (the first file's items, rejects and done count are). Then the run
// completes once the locks go.
func TestBackfillMetricsScraped(t *testing.T) {
	dir := t.TempDir()
	exp, err := exportgen.WriteExport(filepath.Join(dir, "e"), exportgen.Config{Orders: 40, Files: 2, Seed: 1, BadItems: 2})
	if err != nil {
		t.Fatal(err)
	}
	dsn := teststack.Postgres(t)
	if r := runBin(t, nil, "schema", "--mapping", sampleMapping, "--database-url", dsn, "--apply"); r.code != 0 {
		t.Fatalf("schema: %d %s", r.code, r.stderr)
	}
	ctx := context.Background()
	connect := func() *pgx.Conn {
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(ctx) })
		return c
	}
	tableLock, err := connect().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tableLock.Exec(ctx, "LOCK TABLE order_items IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	wait := startBin(t, "backfill", "--mapping", sampleMapping, "--export", exp.Folder, "--database-url", dsn,
		"--progress", "none", "--workers", "1", "--metrics-addr", addr)
	fail := func(format string, args ...any) {
		t.Helper()
		tableLock.Rollback(ctx)
		r := wait()
		t.Fatalf(format+"\nstderr:\n%s", append(args, r.stderr)...)
	}
	until := func(what string, ok func(map[string]*dto.MetricFamily) bool) map[string]*dto.MetricFamily {
		t.Helper()
		deadline := time.Now().Add(2 * time.Minute)
		for {
			fams := scrape(t, addr)
			if ok(fams) {
				return fams
			}
			if time.Now().After(deadline) {
				fail("waiting for %s: %v", what, fams)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	fams := until("the export's size", func(f map[string]*dto.MetricFamily) bool {
		n, _ := value(f, "ddb2pg_backfill_files")
		return n == 2
	})
	if n, _ := value(fams, "ddb2pg_backfill_manifest_items"); n != float64(exp.Items) {
		t.Errorf("manifest items %v, want %d", n, exp.Items)
	}
	if n, _ := value(fams, "ddb2pg_backfill_files_done"); n != 0 {
		t.Errorf("files done %v while the load is blocked", n)
	}
	// The second file is held as another process's claim would hold it.
	holder := connect()
	fileLock, err := holder.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer fileLock.Rollback(ctx)
	var held string
	if err := fileLock.QueryRow(ctx, `SELECT file_key FROM ddb2pg.export_files WHERE file_index = 1 FOR UPDATE NOWAIT`).Scan(&held); err != nil {
		fail("locking the second file: %v", err)
	}
	if err := tableLock.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	fams = until("the first file done", func(f map[string]*dto.MetricFamily) bool {
		n, _ := value(f, "ddb2pg_backfill_files_done")
		return n == 1
	})
	var items, rejected int64
	if err := connect().QueryRow(ctx, `SELECT item_count, rejected_items FROM ddb2pg.export_files
		WHERE status = 'done' AND file_key <> $1`, held).Scan(&items, &rejected); err != nil {
		t.Fatal(err)
	}
	if n, _ := value(fams, "ddb2pg_backfill_items_total"); n != float64(items) {
		t.Errorf("items %v after the first file, want its %d", n, items)
	}
	if n, _ := value(fams, "ddb2pg_backfill_items_rejected_total"); n != float64(rejected) {
		t.Errorf("rejected %v after the first file, want its %d", n, rejected)
	}
	var byTable float64
	if f := fams["ddb2pg_rejects"]; f != nil {
		for _, m := range f.Metric {
			byTable += m.Gauge.GetValue()
		}
	}
	if byTable != float64(rejected) {
		t.Errorf("ddb2pg_rejects sums to %v over its tables, want %d", byTable, rejected)
	}
	if err := fileLock.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	r := wait()
	if r.code != 3 {
		t.Fatalf("backfill exit %d, want 3 (two rejects)\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}
