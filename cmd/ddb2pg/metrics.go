package main

import (
	"context"
	"log/slog"

	"github.com/ddb2pg/ddb2pg/internal/metrics"
	"github.com/ddb2pg/ddb2pg/pkg/ledger"
	"github.com/ddb2pg/ddb2pg/pkg/progress"
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
