package ledger_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ddb2pg/ddb2pg/internal/teststack"
	"github.com/ddb2pg/ddb2pg/pkg/ledger"
)

// Lag samples: a table's history holds its own streams' samples only (a
// table name's _ and % are not wildcards), oldest first, and recording a
// sample deletes that shard's samples past LagRetention; a history read
// before any poller ran is empty, not an error.
func TestLagHistory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, teststack.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	led, err := ledger.New("bookkeeping")
	if err != nil {
		t.Fatal(err)
	}
	if err := led.Ensure(ctx, pool); err != nil {
		t.Fatal(err)
	}
	if got, err := led.LagHistory(ctx, pool, "Order_s", time.Time{}); err != nil || len(got) != 0 {
		t.Fatalf("before any sample: %v, %v", got, err)
	}
	if err := led.EnsureLagHistory(ctx, pool); err != nil {
		t.Fatal(err)
	}
	mine := "arn:aws:dynamodb:us-east-1:1:table/Order_s/stream/2026-01-01T00:00:00.000"
	other := "arn:aws:dynamodb:us-east-1:1:table/OrderXs/stream/2026-01-01T00:00:00.000"
	pct := "arn:aws:dynamodb:us-east-1:1:table/Order%s/stream/2026-01-01T00:00:00.000"
	// A sample past the retention, as if recorded 15 days ago.
	if _, err := pool.Exec(ctx, `INSERT INTO bookkeeping.stream_lag (stream_arn, shard_id, at, lag_seconds)
		VALUES ($1, 'A', now() - interval '15 days', 1), ($1, 'B', now() - interval '15 days', 1)`, mine); err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct {
		arn, shard string
		lag        time.Duration
	}{{mine, "A", 2 * time.Second}, {other, "A", time.Hour}, {pct, "A", time.Hour}, {mine, "A", 3 * time.Second}, {mine, "A", -time.Second}} {
		if err := led.RecordLag(ctx, pool, s.arn, s.shard, s.lag); err != nil {
			t.Fatal(err)
		}
	}
	got, err := led.LagHistory(ctx, pool, "Order_s", time.Now().Add(-30*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var lags []float64
	for _, s := range got {
		if s.StreamARN != mine {
			t.Errorf("sample of %s in Order_s's history", s.StreamARN)
		}
		lags = append(lags, s.Lag)
	}
	// A's old sample went with A's next record; B's stays until B records.
	if len(lags) != 4 || lags[0] != 1 || got[0].ShardID != "B" || lags[1] != 2 || lags[2] != 3 || lags[3] != 0 {
		t.Errorf("history %+v", got)
	}
}
