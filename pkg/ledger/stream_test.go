package ledger_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ddb2pg/ddb2pg/internal/teststack"
	"github.com/ddb2pg/ddb2pg/pkg/ledger"
)

// A stream's recorded start is written once: concurrent pollers all get the
// first one. The streams of a table are found by the exact table name (one
// with LIKE wildcards in it included), and forgetting a stream leaves the
// others alone.
func TestStreamStart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, teststack.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	led, _ := ledger.New("")
	if err := led.Ensure(ctx, pool); err != nil {
		t.Fatal(err)
	}
	arn := func(table, label string) string {
		return "arn:aws:dynamodb:us-east-1:123456789012:table/" + table + "/stream/" + label
	}
	a, b, other := arn("my_table", "2026-01-01T00:00:00.000"), arn("my_table", "2026-02-01T00:00:00.000"), arn("myXtable", "2026-01-01T00:00:00.000")
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	got := make([]ledger.StreamStart, 8)
	created := make([]bool, 8)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			got[i], created[i], err = led.RecordStreamStart(ctx, pool, ledger.StreamStart{StreamARN: a, From: "latest",
				StartedAt: t0.Add(time.Duration(i) * time.Second), Shards: []ledger.StartShard{{ShardID: "s1", StartSeq: "100", EndSeq: "200"}, {ShardID: "s2", ParentShardID: "s1"}}})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	n := 0
	for i := range got {
		if created[i] {
			n++
		}
		if !got[i].StartedAt.Equal(got[0].StartedAt) || len(got[i].Shards) != 2 || got[i].Shards[1].ParentShardID != "s1" || got[i].From != "latest" {
			t.Errorf("poller %d got %+v, poller 0 %+v", i, got[i], got[0])
		}
	}
	if n != 1 {
		t.Errorf("%d pollers recorded the start", n)
	}
	for _, c := range []ledger.ShardCheckpoint{{StreamARN: b, ShardID: "x", LastSeq: "5", LastRecordTime: t0.Add(time.Hour)},
		{StreamARN: other, ShardID: "y", LastSeq: "7"}} {
		if err := led.SaveCheckpoint(ctx, pool, c); err != nil {
			t.Fatal(err)
		}
	}
	streams, err := led.StreamsOfTable(ctx, pool, "my_table")
	if err != nil {
		t.Fatal(err)
	}
	if len(streams) != 2 || !streams[a].IsZero() || !streams[b].Equal(t0.Add(time.Hour)) {
		t.Errorf("streams of my_table: %v", streams)
	}
	if err := led.ForgetStream(ctx, pool, a); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := led.StreamStartOf(ctx, pool, a); ok || err != nil {
		t.Errorf("after forgetting: start %v %v", ok, err)
	}
	if streams, _ := led.StreamsOfTable(ctx, pool, "my_table"); len(streams) != 1 {
		t.Errorf("after forgetting %s: %v", a, streams)
	}
}
