package apply_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/ddb2pg/ddb2pg/pkg/apply"
	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
	"github.com/ddb2pg/ddb2pg/pkg/stream"
)

// randomSeeds is how many histories `go test` tries; `make soak` runs
// TestSoakRandomHistories (random_soak_test.go) with far more.
const randomSeeds = 6

// TestRandomHistories: random puts and deletes over a small key space, an
// export taken at a random point, and the backfill of that export
// interleaved at a random moment with a stream delivery that duplicates
// batches, retries from the middle and splits batches. The final tables
// must equal the mapping of the final table contents exactly.
func TestRandomHistories(t *testing.T) {
	for seed := 1; seed <= randomSeeds; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { randomHistory(t, uint64(seed)) })
	}
}

func randomHistory(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 42))
	e := setup(t, apply.Config{ChunkSize: 1 + rng.IntN(8)})
	ctx := context.Background()

	// The table before the stream starts (only the export knows these), then
	// the history the stream records.
	state := map[string]ddbitem.Item{}
	randItem := func(id string) ddbitem.Item {
		lines := make([]string, rng.IntN(4))
		for i := range lines {
			lines[i] = fmt.Sprintf("p%d", rng.IntN(5))
		}
		c := fmt.Sprintf("c%d", rng.IntN(3))
		return order(id, c, fmt.Sprintf("s%d", rng.IntN(100)), lines...)
	}
	state["pre1"] = randItem("pre1")
	state["pre2"] = randItem("pre2")
	var recs []stream.Record
	nOps := 30 + rng.IntN(40)
	exportAt := rng.IntN(nOps + 1)
	var snapshot map[string]ddbitem.Item
	for i := 0; i < nOps; i++ {
		if i == exportAt {
			snapshot = copyState(state)
		}
		id := fmt.Sprintf("o%d", rng.IntN(6))
		var r stream.Record
		if _, exists := state[id]; exists && rng.IntN(4) == 0 {
			delete(state, id)
			r = del(0, id)
		} else {
			it := randItem(id)
			state[id] = it
			r = put(0, it)
		}
		// Sequence numbers cross from 21 to 22 digits halfway.
		r.Seq = seqAround(i, nOps)
		recs = append(recs, r)
	}
	if snapshot == nil {
		snapshot = copyState(state)
	}

	// The delivery: in order, with duplicated batches, retries from the
	// middle of a batch and split batches; the backfill runs at a random step.
	var deliveries [][]stream.Record
	for pos := 0; pos < len(recs); {
		n := 1 + rng.IntN(10)
		end := min(pos+n, len(recs))
		batch := recs[pos:end]
		switch rng.IntN(6) {
		case 0: // duplicated
			deliveries = append(deliveries, batch, batch)
		case 1: // retried from the middle
			deliveries = append(deliveries, batch, batch[len(batch)/2:])
		case 2: // split in half, first half delivered twice
			h := len(batch) / 2
			deliveries = append(deliveries, batch[:h], batch[:h], batch[h:])
		case 3: // an older batch comes again
			from := rng.IntN(end)
			deliveries = append(deliveries, batch, recs[from:end])
		case 4: // a stale window that stops short of the progress (a late duplicate)
			from := rng.IntN(end)
			to := from + rng.IntN(end-from+1)
			deliveries = append(deliveries, batch, recs[from:to])
		default:
			deliveries = append(deliveries, batch)
		}
		pos = end
	}
	backfillAt := rng.IntN(len(deliveries) + 1)
	exportTime := time.Now()
	for i := 0; i <= len(deliveries); i++ {
		if i == backfillAt {
			backfill(t, e, snapshot, exportTime)
		}
		if i < len(deliveries) {
			if res := e.eng.Apply(ctx, e.pool, deliveries[i], nil); res.Err != nil {
				t.Fatalf("delivery %d: %v", i, res.Err)
			}
		}
	}

	// Reference: the final contents, written once into a fresh database.
	ref := setup(t, apply.Config{})
	var final []stream.Record
	ids := make([]string, 0, len(state))
	for id := range state {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for i, id := range ids {
		final = append(final, put(i+1, state[id]))
	}
	ref.apply(final...)
	got, want := e.dumpTables(false), ref.dumpTables(false)
	if got != want {
		t.Fatalf("seed %d (export at op %d of %d, backfill at delivery %d of %d): tables differ:\n%s\nwant\n%s",
			seed, exportAt, nOps, backfillAt, len(deliveries), got, want)
	}
	// Shared rows are never deleted: every expected one is there, equal.
	for _, id := range ids {
		c := state[id]["customerId"].Str
		if e.count(`SELECT count(*) FROM customers WHERE id = $1 AND name = $2`, c, "name of "+c) != 1 {
			t.Errorf("customer %s missing", c)
		}
	}
}

func copyState(s map[string]ddbitem.Item) map[string]ddbitem.Item {
	c := make(map[string]ddbitem.Item, len(s))
	for k, v := range s {
		c[k] = v
	}
	return c
}

// seqAround gives increasing sequence numbers that go from 21 to 22 digits
// in the middle of the history.
func seqAround(i, n int) string {
	if i < n/2 {
		return fmt.Sprintf("9999999999999999999%02d", 10+i) // 21 digits
	}
	return fmt.Sprintf("10000000000000000000%02d", i) // 22 digits
}

// backfill loads an export copy the way pkg/load does: claim, replace the
// item's rows when it held an older copy, insert, shared rows only if absent.
func backfill(t *testing.T, e *env, snapshot map[string]ddbitem.Item, exportTime time.Time) {
	t.Helper()
	ctx := context.Background()
	tx, err := e.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	keys := []string{}
	byKey := map[string]ddbitem.Item{}
	for _, it := range snapshot {
		k, err := e.m.KeyOf(it)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, string(k))
		byKey[string(k)] = it
	}
	sort.Strings(keys)
	claim, err := e.led.ClaimForExport(ctx, tx, "Orders", exportTime, keys)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		fresh, won := claim.Won[k]
		if !won {
			continue
		}
		it := byKey[k]
		rows, rej := e.m.Rows(it)
		if rej != nil {
			t.Fatal(rej)
		}
		for ti, tb := range e.m.Tables {
			q := insertSQL(tb.Ident.Sanitize(), len(tb.Columns), tb.Shared)
			if !tb.Shared && !fresh {
				kv, ok, err := e.m.KeyValues(tb, it)
				if err != nil {
					t.Fatal(err)
				}
				if ok {
					where := ""
					for i, ci := range tb.KeyColumns {
						if i > 0 {
							where += " AND "
						}
						where += fmt.Sprintf("%q = $%d", tb.Columns[ci].Name, i+1)
					}
					if _, err := tx.Exec(ctx, "DELETE FROM "+tb.Ident.Sanitize()+" WHERE "+where, kv...); err != nil {
						t.Fatal(err)
					}
				}
			}
			for _, row := range rows[ti] {
				if _, err := tx.Exec(ctx, q, row...); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

func insertSQL(table string, n int, shared bool) string {
	q := "INSERT INTO " + table + " VALUES ("
	for i := 1; i <= n; i++ {
		if i > 1 {
			q += ", "
		}
		q += fmt.Sprintf("$%d", i)
	}
	q += ")"
	if shared {
		q += " ON CONFLICT DO NOTHING"
	}
	return q
}
