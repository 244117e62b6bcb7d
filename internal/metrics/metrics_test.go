package metrics_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ddb2pg/ddb2pg/internal/metrics"
	"github.com/ddb2pg/ddb2pg/internal/progress"
	"github.com/ddb2pg/ddb2pg/pkg/apply"
)

func get(t *testing.T, srv *metrics.Server) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + srv.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// What each method does to the page, served on loopback: a finished
// shard's lag series goes; the backfill counters add the snapshots'
// growth only; a failing reject count leaves ddb2pg_rejects off the page
// (never a 0) and the rest is still served.
func TestRegistryPage(t *testing.T) {
	var failing atomic.Bool
	reg := metrics.New(func(context.Context) (map[string]int64, error) {
		if failing.Load() {
			return nil, errors.New("database down")
		}
		return map[string]int64{"orders": 2, "": 1}, nil
	})
	srv, err := metrics.Serve("127.0.0.1:0", reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	now := time.Now()
	reg.Batch("arn", "shard-1", apply.Stats{Applied: 3, Skipped: 1, NewestTime: now}, 10*time.Millisecond, 4*time.Second)
	reg.Batch("arn", "shard-2", apply.Stats{Rejected: 2, NewestTime: now}, 20*time.Millisecond, 7*time.Second)
	reg.Batch("arn", "shard-3", apply.Stats{Applied: 1}, time.Millisecond, 0) // no record time: no lag
	reg.ShardDone("arn", "shard-1")
	reg.Progress(progress.Snapshot{FilesDone: -1, FilesTotal: 4, Items: 10, ItemsTotal: 100, Rejected: 1})
	reg.Progress(progress.Snapshot{FilesDone: 2, FilesTotal: 4, Items: 30, ItemsTotal: 100, Rejected: 1})
	reg.Progress(progress.Snapshot{FilesDone: 2, FilesTotal: 4, Items: 30, ItemsTotal: 100, Rejected: 1})
	code, page := get(t, srv)
	if code != http.StatusOK {
		t.Fatalf("status %d\n%s", code, page)
	}
	for _, want := range []string{
		`ddb2pg_stream_records_total{outcome="applied"} 4`,
		`ddb2pg_stream_records_total{outcome="skipped"} 1`,
		`ddb2pg_stream_records_total{outcome="rejected"} 2`,
		`ddb2pg_stream_batches_total 3`,
		`ddb2pg_stream_batch_duration_seconds_count 3`,
		`ddb2pg_stream_shard_lag_seconds{shard="shard-2"} 7`,
		`ddb2pg_backfill_files 4`,
		`ddb2pg_backfill_files_done 2`,
		`ddb2pg_backfill_manifest_items 100`,
		`ddb2pg_backfill_items_total 30`,
		`ddb2pg_backfill_items_rejected_total 1`,
		`ddb2pg_rejects{table="orders"} 2`,
		`ddb2pg_rejects{table=""} 1`,
	} {
		if !strings.Contains(page, want+"\n") {
			t.Errorf("page lacks %q", want)
		}
	}
	if !strings.Contains(page, `ddb2pg_stream_shard_last_batch_timestamp_seconds{shard="shard-3"} `) {
		t.Error("no last batch time of shard-3")
	}
	for _, gone := range []string{`shard="shard-1"`, `ddb2pg_stream_shard_lag_seconds{shard="shard-3"}`} {
		if strings.Contains(page, gone) {
			t.Errorf("page has %s", gone)
		}
	}
	failing.Store(true)
	code, page = get(t, srv)
	if code != http.StatusOK || strings.Contains(page, "ddb2pg_rejects{") ||
		!strings.Contains(page, `ddb2pg_stream_records_total{outcome="applied"} 4`) {
		t.Errorf("with the database down: %d\n%s", code, page)
	}
}

func TestServeRefusesAnAddressInUse(t *testing.T) {
	a, err := metrics.Serve("127.0.0.1:0", metrics.New(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if b, err := metrics.Serve(a.Addr().String(), metrics.New(nil), nil); err == nil {
		b.Close()
		t.Fatal("a second server on the same address started")
	} else if !strings.Contains(err.Error(), a.Addr().String()) {
		t.Errorf("error does not name the address: %v", err)
	}
}
