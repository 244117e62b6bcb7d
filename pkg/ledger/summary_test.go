package ledger_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ddb2pg/ddb2pg/internal/teststack"
	"github.com/ddb2pg/ddb2pg/pkg/ledger"
)

// TestShardStatesMatchTheTableLiterally: a table name's "_" or "%" is not a
// wildcard: Order_s's shards are not OrderXs's.
func TestShardStatesMatchTheTableLiterally(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, teststack.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	led, err := ledger.New("")
	if err != nil {
		t.Fatal(err)
	}
	if err := led.Ensure(ctx, pool); err != nil {
		t.Fatal(err)
	}
	for _, arn := range []string{
		"arn:aws:dynamodb:us-east-1:1:table/Order_s/stream/2026-01-01T00:00:00.000",
		"arn:aws:dynamodb:us-east-1:1:table/OrderXs/stream/2026-01-01T00:00:00.000",
		"arn:aws:dynamodb:us-east-1:1:table/50%off/stream/2026-01-01T00:00:00.000",
	} {
		if err := led.SaveCheckpoint(ctx, pool, ledger.ShardCheckpoint{StreamARN: arn, ShardID: "shardId-1", LastSeq: "100"}); err != nil {
			t.Fatal(err)
		}
	}
	for table, want := range map[string]int{"Order_s": 1, "OrderXs": 1, "50%off": 1, "Order": 0, "%": 0} {
		got, err := led.ShardStates(ctx, pool, table)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != want {
			t.Errorf("%s: %d shards, want %d: %+v", table, len(got), want, got)
		}
	}
}
