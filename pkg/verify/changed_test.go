package verify

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/jackc/pgx/v5"

	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
	"github.com/ddb2pg/ddb2pg/pkg/ledger"
	"github.com/ddb2pg/ddb2pg/pkg/report"
)

// ledgerFor records, through the ledger's own writers, that a backfill
// loaded every fixture item.
func (f *fixture) ledgerFor(t *testing.T) *ledger.Ledger {
	t.Helper()
	ctx := context.Background()
	led, err := ledger.New("")
	if err != nil {
		t.Fatal(err)
	}
	if err := led.Ensure(ctx, f.pool); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, it := range f.items {
		k, err := f.m.KeyOf(it)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, string(k))
	}
	f.inTx(t, func(tx pgx.Tx) error {
		_, err := led.ClaimForExport(ctx, tx, f.table, time.Now().Add(-time.Hour), keys)
		return err
	})
	return led
}

func (f *fixture) inTx(t *testing.T, fn func(pgx.Tx) error) {
	t.Helper()
	ctx := context.Background()
	tx, err := f.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	if err := fn(tx); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

// streamApplied records in the ledger that the stream applied a change (or
// a delete) of the order.
func (f *fixture) streamApplied(t *testing.T, led *ledger.Ledger, order string, seq string, deleted bool) {
	t.Helper()
	k, err := f.m.KeyOf(ddbitem.Item{"orderId": ddbitem.Str(order)})
	if err != nil {
		t.Fatal(err)
	}
	f.inTx(t, func(tx pgx.Tx) error {
		o, err := led.ClaimForStream(context.Background(), tx, f.table,
			[]ledger.StreamClaim{{Key: string(k), Seq: seq, ShardID: "shardId-1", Deleted: deleted}})
		if err == nil && !o[string(k)].Won {
			t.Fatalf("stream claim of %s lost", order)
		}
		return err
	})
}

func (f *fixture) deleteItem(t *testing.T, order string) {
	t.Helper()
	_, err := f.ddb.DeleteItem(context.Background(), &dynamodb.DeleteItemInput{TableName: aws.String(f.table),
		Key: ddbitem.Item{"orderId": ddbitem.Str(order)}.AttributeValues()})
	if err != nil {
		t.Fatal(err)
	}
}

func sampleKeys(res *report.Result) string {
	var b strings.Builder
	for _, s := range res.Samples {
		b.WriteString(s.Class + " " + s.Table + " " + s.Key + "\n")
	}
	return b.String()
}

// Changed-since re-reads exactly the items the bookkeeping recorded as
// applied since the time: a divergence on a changed item is found, one on
// an unchanged item is not looked at, deletes are checked for leftover rows.
func TestChangedSince(t *testing.T) {
	defer func(m time.Duration) { lastFullMargin = m }(lastFullMargin)
	lastFullMargin = 0
	f := newFixture(t)
	led := f.ledgerFor(t)
	ctx := context.Background()

	// no full run recorded yet: last-full has no starting point
	if _, err := Run(ctx, f.m, f.ddb, f.pool, Options{ChangedSinceLastFull: true}); err == nil ||
		!strings.Contains(err.Error(), "no complete full verify") {
		t.Fatalf("last-full without a full run: %v", err)
	}
	full := f.run(t, Options{Segments: 2})
	if full.Verdict != report.GO {
		dump(t, full)
		t.Fatal("the full run is not GO")
	}
	time.Sleep(50 * time.Millisecond)
	var since time.Time
	if err := f.pool.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&since); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)

	// o-03 changed and applied correctly
	it := orderItem(3)
	it["status"] = ddbitem.Str("SHIPPED")
	f.put(t, it)
	f.exec(t, `UPDATE orders SET status = 'SHIPPED' WHERE id = 'o-03'`)
	f.streamApplied(t, led, "o-03", "100", false)
	// o-04 changed, applied wrongly
	it = orderItem(4)
	it["status"] = ddbitem.Str("PAID")
	f.put(t, it)
	f.exec(t, `UPDATE orders SET status = 'PAIDX' WHERE id = 'o-04'`)
	f.streamApplied(t, led, "o-04", "101", false)
	// o-07 deleted, but its rows stayed (7 % 3 + 1 = 2 lines)
	f.deleteItem(t, "o-07")
	f.streamApplied(t, led, "o-07", "102", true)
	// o-08 deleted properly
	f.deleteItem(t, "o-08")
	f.exec(t, `DELETE FROM orders WHERE id = 'o-08'`)
	if _, err := f.pool.Exec(ctx, `DELETE FROM order_items WHERE order_id = 'o-08'`); err != nil {
		t.Fatal(err)
	}
	f.streamApplied(t, led, "o-08", "103", true)
	// o-10 damaged without any recorded change: not asked about
	f.exec(t, `UPDATE orders SET status = 'DAMAGED' WHERE id = 'o-10'`)

	for _, tc := range []struct {
		name string
		opts Options
		from string
	}{
		{"time", Options{ChangedSince: since, Segments: 2}, "time"},
		{"last-full", Options{ChangedSinceLastFull: true, Segments: 2}, "last-full"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := f.run(t, tc.opts)
			if res.Mode != "changed-since" || res.Changed == nil || res.Changed.From != tc.from {
				dump(t, res)
				t.Fatalf("mode %q changed %+v", res.Mode, res.Changed)
			}
			c := *res.Changed
			if c.Keys != 4 || c.Stream != 4 || c.Export != 0 || c.Deleted != 2 || c.Bookkeeping != "ddb2pg.items" {
				t.Errorf("coverage %+v", c)
			}
			if tc.from == "last-full" && (c.LastFullRun == nil || !c.LastFullRun.Equal(full.Timing.StartedAt.Truncate(time.Microsecond))) {
				t.Errorf("last full run %v, want %v", c.LastFullRun, full.Timing.StartedAt)
			}
			if !res.Parameters.ConsistentRead {
				t.Error("changed-since reads are not strongly consistent")
			}
			counts(t, res, "orders", report.TableCounts{ExpectedRows: 2, Matched: 1, Mismatched: 1, Extra: 1})
			counts(t, res, "order_items", report.TableCounts{ExpectedRows: 3, Matched: 3, Extra: 2})
			if res.Verdict != report.NOGO || res.DivergentRows != 4 || res.Items.Read != 2 || res.Items.Absent != 2 {
				dump(t, res)
				t.Fatalf("verdict %s divergent %d items %+v", res.Verdict, res.DivergentRows, res.Items)
			}
			keys := sampleKeys(res)
			for _, want := range []string{`mismatched orders [{"S":"o-04"}]`, `extra orders [{"S":"o-07"}]`} {
				if !strings.Contains(keys, want) {
					t.Errorf("samples lack %q:\n%s", want, keys)
				}
			}
			if strings.Contains(keys, "o-10") {
				t.Errorf("an unchanged item was compared:\n%s", keys)
			}
			var b strings.Builder
			if err := report.WriteTerminal(&b, res); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(b.String(), "changed-since: 4 changed items since") {
				t.Errorf("terminal report:\n%s", b.String())
			}
		})
	}
	// the full run still sees o-10
	res := f.run(t, Options{Segments: 2})
	if !strings.Contains(sampleKeys(res), `mismatched orders [{"S":"o-10"}]`) {
		t.Errorf("full run samples:\n%s", sampleKeys(res))
	}
}

// A shared row no item refers to is reported as orphaned: not divergence
// unless OrphansDiverge; only a run that reads every item looks for them.
func TestOrphanedSharedRows(t *testing.T) {
	f := newFixture(t)
	f.exec(t, `INSERT INTO customers (id, name) VALUES ('c-77', 'Nobody''s')`)
	for _, tc := range []struct {
		name     string
		opts     Options
		orphaned int64
		verdict  string
	}{
		{"full", Options{Segments: 2}, 1, report.GO},
		{"counted", Options{Segments: 2, OrphansDiverge: true}, 1, report.NOGO},
		{"named", namedOpts("orphans"), 1, report.GO},
		{"sample", Options{Segments: 2, Sample: nItems}, 0, report.GO},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := f.run(t, tc.opts)
			c := res.Tables["customers"]
			if c.Orphaned != tc.orphaned || res.Verdict != tc.verdict || c.Matched != 5 {
				dump(t, res)
				t.Fatalf("orphaned %d verdict %s", c.Orphaned, res.Verdict)
			}
			if tc.orphaned > 0 {
				if res.OrphanPass != "done" || !strings.Contains(sampleKeys(res), "orphaned customers") {
					t.Errorf("orphan pass %q, samples:\n%s", res.OrphanPass, sampleKeys(res))
				}
			} else if !strings.HasPrefix(res.OrphanPass, "skipped") {
				t.Errorf("orphan pass %q", res.OrphanPass)
			}
		})
	}
	// the four runs above are this run's history, oldest first
	res := f.run(t, Options{Segments: 2})
	if len(res.History) != 4 || res.History[0].Verdict != report.GO || res.History[1].Verdict != report.NOGO ||
		res.History[1].DivergentRows != 1 || res.History[2].Name != "orphans" || res.History[3].Mode != "sample" {
		t.Fatalf("history: %+v", res.History)
	}
	var b strings.Builder
	if err := report.WriteHTML(&b, res); err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(b.String(), "divergent rows, "); !strings.Contains(b.String(), `id="history"`) || got != 5 {
		t.Errorf("HTML history: %d bars", got)
	}
}
