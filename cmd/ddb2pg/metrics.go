package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ddb2pg/ddb2pg/internal/metrics"
	"github.com/ddb2pg/ddb2pg/internal/progress"
	"github.com/ddb2pg/ddb2pg/pkg/apply"
	"github.com/ddb2pg/ddb2pg/pkg/ledger"
)

// startMetrics serves the metrics of a stream or backfill run at addr
// (--metrics-addr); both are nil when addr is "". ddb2pg_rejects reads the
// bookkeeping's rejects of sourceTable through db at each scrape.
func startMetrics(addr string, log *slog.Logger, db ledger.Execer, led *ledger.Ledger, sourceTable string) (*metrics.Registry, *metrics.Server, error) {
	if addr == "" {
		return nil, nil, nil
	}
	reg := metrics.New(func(ctx context.Context) (map[string]int64, error) {
		return led.RejectsByTable(ctx, db, sourceTable)
	})
	srv, err := metrics.Serve(addr, reg, log)
	if err != nil {
		return nil, nil, err
	}
	log.Info("serving metrics", "addr", "http://"+srv.Addr().String()+"/metrics")
	return reg, srv, nil
}

// withMetrics returns a progress.Func feeding both pf (may be nil) and reg.
func withMetrics(pf progress.Func, reg *metrics.Registry) progress.Func {
	return func(s progress.Snapshot) {
		if pf != nil {
			pf(s)
		}
		reg.Progress(s)
	}
}

// lagSampleEvery is how often a shard's lag is recorded in the bookkeeping
// (for `ddb2pg status`'s chart) at most.
const lagSampleEvery = 30 * time.Second

// batchObserver returns the poller's OnBatch: it feeds reg (may be nil)
// and records each shard's lag in the bookkeeping at most every
// lagSampleEvery. A failed record (5s at most) is logged, never fatal.
func batchObserver(ctx context.Context, db *pgxpool.Pool, led *ledger.Ledger, reg *metrics.Registry, log *slog.Logger) (func(string, string, apply.Stats, time.Duration, time.Duration), error) {
	if err := led.EnsureLagHistory(ctx, db); err != nil {
		return nil, err
	}
	var mu sync.Mutex
	last := map[string]time.Time{}
	return func(arn, shard string, st apply.Stats, took, lag time.Duration) {
		reg.Batch(arn, shard, st, took, lag)
		if st.NewestTime.IsZero() {
			return
		}
		mu.Lock()
		due := time.Since(last[arn+" "+shard]) >= lagSampleEvery
		if due {
			last[arn+" "+shard] = time.Now()
		}
		mu.Unlock()
		if due {
			rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := led.RecordLag(rctx, db, arn, shard, lag)
			cancel()
			if err != nil && ctx.Err() == nil {
				log.Warn("could not record the shard's lag", "shard", shard, "error", err.Error())
			}
		}
	}, nil
}
