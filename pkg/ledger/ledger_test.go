package ledger_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ddb2pg/ddb2pg/internal/teststack"
	"github.com/ddb2pg/ddb2pg/pkg/ledger"
)

func TestMain(m *testing.M) { os.Exit(teststack.Run(m)) }

// The version rules every writer follows, one step at a time on one item:
// each step claims the item through a guard and says whether it must win.
func TestVersionRules(t *testing.T) {
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
	t0 := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	type step struct {
		name string
		run  func(tx pgx.Tx) (won bool, err error)
		want bool
	}
	full := func(key string, ts time.Time) func(pgx.Tx) (bool, error) {
		return func(tx pgx.Tx) (bool, error) {
			c, err := led.ClaimForExport(ctx, tx, "T", ts, []string{key})
			_, won := c.Won[key]
			return won, err
		}
	}
	incr := func(key string, ts time.Time, del bool) func(pgx.Tx) (bool, error) {
		return func(tx pgx.Tx) (bool, error) {
			o, err := led.ClaimForIncremental(ctx, tx, "T", []ledger.IncrementalClaim{{Key: key, WriteTime: ts, Deleted: del}})
			return o[key].Won, err
		}
	}
	strm := func(key, seq string, del bool) func(pgx.Tx) (bool, error) {
		return func(tx pgx.Tx) (bool, error) {
			o, err := led.ClaimForStream(ctx, tx, "T", []ledger.StreamClaim{{Key: key, Seq: seq, ShardID: "shardId-1", Deleted: del}})
			return o[key].Won, err
		}
	}
	steps := []step{
		{"a full export writes an unknown item", full("a", at(0)), true},
		{"the same export again is idempotent", full("a", at(0)), true},
		{"an older export gives way", full("a", at(-time.Hour)), false},
		{"an incremental change after the export wins", incr("a", at(time.Minute), false), true},
		{"the same change again is a no-op", incr("a", at(time.Minute), false), false},
		{"an older change is skipped", incr("a", at(30*time.Second), false), false},
		{"an incremental delete wins and leaves a tombstone", incr("a", at(2*time.Minute), true), true},
		{"an export taken before the delete cannot resurrect it", full("a", at(time.Minute)), false},
		{"an export taken after the delete brings a re-created item back", full("a", at(3*time.Minute)), true},
		{"the stream beats any export copy", strm("a", "000000000000000000100", false), true},
		{"an export never overwrites what the stream applied", full("a", at(time.Hour)), false},
		{"an incremental change never overwrites the stream", incr("a", at(time.Hour), false), false},
		{"a duplicate stream record is a no-op", strm("a", "100", false), false},
		{"an older stream record is stale", strm("a", "99", false), false},
		{"sequence numbers compare as integers (22 digits after 21)", strm("a", "1000000000000000000000", false), true},
		{"a 21-digit number after a 22-digit one is stale", strm("a", "999999999999999999999", false), false},
		{"a stream delete leaves a tombstone", strm("a", "1000000000000000000001", true), true},
		{"an export cannot resurrect a stream delete", full("a", at(24*time.Hour)), false},
		{"40-digit sequence numbers", strm("a", "1234567890123456789012345678901234567890", false), true},
	}
	for _, s := range steps {
		tx, err := pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		won, err := s.run(tx)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if won != s.want {
			t.Fatalf("%s: won = %v, want %v", s.name, won, s.want)
		}
	}
}
