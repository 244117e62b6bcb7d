package poll_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/ddb2pg/ddb2pg/pkg/poll"
	"github.com/ddb2pg/ddb2pg/pkg/poll/internal/baseline"
)

func envInt(t *testing.T, name string, def int) int {
	if s := os.Getenv(name); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return n
	}
	return def
}

type benchResult struct {
	name                         string
	catchUp                      time.Duration
	records                      int
	describeCatchUp, getsCatchUp int
	describeIdle, getsIdle       int
	idle                         time.Duration
	maxPerShard                  int // most GetRecords on one shard within any second
}

// TestPollerBench (make bench: DDB2PG_BENCH=1) reads a stream of 500 shards
// in the Streams double (20 ms per GetRecords, as on AWS; 20 records on each
// shard; 2% of the shards read to their end while AWS shows neither their
// EndingSequenceNumber nor their children yet) with this poller and with the
// poller before issue 20, in the same run: the time to apply every record,
// records/s, and DescribeStream and GetRecords calls per minute while
// catching up and while idle (the minute after). DDB2PG_BENCH_SHARDS,
// DDB2PG_BENCH_RECORDS and DDB2PG_BENCH_IDLE_SECONDS change the size.
func TestPollerBench(t *testing.T) {
	if os.Getenv("DDB2PG_BENCH") == "" {
		t.Skip("set DDB2PG_BENCH=1 (make bench)")
	}
	shards := envInt(t, "DDB2PG_BENCH_SHARDS", 500)
	perShard := envInt(t, "DDB2PG_BENCH_RECORDS", 20)
	idle := time.Duration(envInt(t, "DDB2PG_BENCH_IDLE_SECONDS", 60)) * time.Second
	measure := func(name string, run func(ctx context.Context, w *withDouble) error) benchResult {
		w := newWithDouble(t)
		w.d.set(func(d *streamsDouble) { d.latency = 20 * time.Millisecond })
		total := 0
		for s := 0; s < shards; s++ {
			id := fmt.Sprintf("shard-%04d", s)
			w.d.addShard(w.arn, id, "")
			for i := 0; i < perShard; i++ {
				w.d.put(w.arn, id, "INSERT", order(fmt.Sprintf("o%d-%d", s, i), fmt.Sprintf("c%d", i%50), "new", "p1"))
				total++
			}
			if s%50 == 7 {
				w.d.closeShard(w.arn, id, false)
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 1)
		start := time.Now()
		go func() { done <- run(ctx, w) }()
		r := benchResult{name: name, records: total, idle: idle}
		for {
			var n int
			if err := w.pg.pool.QueryRow(context.Background(), `SELECT count(*) FROM orders`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n == total {
				break
			}
			select {
			case err := <-done:
				t.Fatalf("%s: ended early: %v", name, err)
			case <-time.After(50 * time.Millisecond):
			}
		}
		r.catchUp = time.Since(start)
		r.describeCatchUp, r.getsCatchUp = w.d.count("DescribeStream"), w.d.count("GetRecords")
		time.Sleep(idle)
		r.describeIdle, r.getsIdle = w.d.count("DescribeStream")-r.describeCatchUp, w.d.count("GetRecords")-r.getsCatchUp
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		w.d.set(func(d *streamsDouble) {
			for _, times := range d.readTimes {
				for i := range times {
					j := i
					for j < len(times) && times[j].Sub(times[i]) < time.Second {
						j++
					}
					r.maxPerShard = max(r.maxPerShard, j-i)
				}
			}
		})
		return r
	}
	before := measure("before issue 20", func(ctx context.Context, w *withDouble) error {
		_, err := baseline.Run(ctx, baseline.Config{Streams: w.cfg.Streams, Tables: w.cfg.Tables, Table: w.cfg.Table,
			Engine: w.cfg.Engine, DB: w.cfg.DB, Ledger: w.cfg.Ledger})
		return err
	})
	now := measure("this poller", func(ctx context.Context, w *withDouble) error {
		_, err := poll.Run(ctx, poll.Config{Streams: w.cfg.Streams, Tables: w.cfg.Tables, Table: w.cfg.Table,
			Engine: w.cfg.Engine, DB: w.cfg.DB, Ledger: w.cfg.Ledger})
		return err
	})
	perMin := func(n int, d time.Duration) float64 { return float64(n) / d.Minutes() }
	t.Logf("stream poller, %d shards, %d records, GetRecords 20 ms, defaults (poll 1s, refresh 30s, concurrency 8)", shards, before.records)
	t.Logf("%-16s %9s %9s | %-19s | %-27s | %s", "", "catch-up", "", "calls to catch up", "calls per minute, idle", "")
	t.Logf("%-16s %9s %9s | %8s %10s | %12s %14s | %s", "poller", "time", "records/s", "Describe", "GetRecords",
		"Describe", "GetRecords", "most GetRecords/s on a shard")
	for _, r := range []benchResult{before, now} {
		t.Logf("%-16s %9s %9.0f | %8d %10d | %12.0f %14.0f | %d", r.name, r.catchUp.Round(10*time.Millisecond),
			float64(r.records)/r.catchUp.Seconds(), r.describeCatchUp, r.getsCatchUp,
			perMin(r.describeIdle, r.idle), perMin(r.getsIdle, r.idle), r.maxPerShard)
	}
	if now.catchUp > before.catchUp {
		t.Errorf("this poller took %s to catch up, the one before %s", now.catchUp, before.catchUp)
	}
	if now.maxPerShard > 5 {
		t.Errorf("a shard was read %d times within a second; AWS allows 5", now.maxPerShard)
	}
	if perMin(now.describeIdle, now.idle) > float64(shards)/10*2+60 {
		t.Errorf("%d DescribeStream calls in %s idle", now.describeIdle, now.idle)
	}
}
