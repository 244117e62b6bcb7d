package apply_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/ddb2pg/ddb2pg/internal/exportgen"
	"github.com/ddb2pg/ddb2pg/pkg/apply"
	"github.com/ddb2pg/ddb2pg/pkg/backfill"
	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
	"github.com/ddb2pg/ddb2pg/pkg/export"
	"github.com/ddb2pg/ddb2pg/pkg/stream"
)

// randomSeeds is how many histories `go test` tries per schema;
// `make soak` runs TestSoakRandomHistories (random_soak_test.go) with far
// more.
const randomSeeds = 6

// userSchema is what a user may add to the mapped tables: foreign keys,
// CHECK constraints, a unique index, a trigger. refuses says which items
// PostgreSQL then refuses (their records are rejected and their rows go).
type userSchema struct {
	name    string
	yaml    string
	ddl     []string
	refuses func(it ddbitem.Item) bool
}

// lineCountTrigger keeps orders.line_count equal to the order's number of
// lines: it needs each order's row in before its lines and its lines
// deleted before it.
const lineCountTrigger = `ALTER TABLE orders ADD COLUMN line_count integer NOT NULL DEFAULT 0;
CREATE FUNCTION count_lines() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    UPDATE orders SET line_count = line_count + 1 WHERE id = NEW.order_id;
  ELSE
    UPDATE orders SET line_count = line_count - 1 WHERE id = OLD.order_id;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER order_items_count AFTER INSERT OR DELETE ON order_items FOR EACH ROW EXECUTE FUNCTION count_lines()`

func userSchemas() []userSchema {
	refusedStatus := func(it ddbitem.Item) bool { return it["status"].Str == "refused" }
	return []userSchema{
		{name: "plain", yaml: exportgen.MappingYAML("Orders")},
		{
			// Plain keys (the child table mapped first), a CHECK, a unique
			// index and a trigger that counts lines.
			name: "immediate",
			yaml: childFirstYAML(),
			ddl: []string{plainFK,
				`ALTER TABLE orders ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id) DEFERRABLE INITIALLY DEFERRED`,
				`ALTER TABLE orders ADD CONSTRAINT orders_status_check CHECK (status <> 'refused')`,
				`CREATE UNIQUE INDEX order_items_one_line_per_product ON order_items (order_id, product_id)`,
				lineCountTrigger},
			refuses: func(it ddbitem.Item) bool { return refusedStatus(it) || duplicateProduct(it) },
		},
		{
			// Deferrable keys, one of them checked at once; a CHECK on the
			// child table.
			name: "deferrable",
			yaml: exportgen.MappingYAML("Orders"),
			ddl: []string{
				`ALTER TABLE order_items ADD CONSTRAINT order_items_order_fk FOREIGN KEY (order_id) REFERENCES orders (id) DEFERRABLE INITIALLY DEFERRED`,
				`ALTER TABLE orders ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id) DEFERRABLE INITIALLY IMMEDIATE`,
				`ALTER TABLE order_items ADD CONSTRAINT order_items_quantity_check CHECK (quantity < 3)`,
				lineCountTrigger},
			refuses: func(it ddbitem.Item) bool { return len(it["items"].List) >= 3 },
		},
	}
}

func duplicateProduct(it ddbitem.Item) bool {
	seen := map[string]bool{}
	for _, l := range it["items"].List {
		p := l.Map["productId"].Str
		if seen[p] {
			return true
		}
		seen[p] = true
	}
	return false
}

// TestRandomHistories: random puts and deletes over a small key space, an
// export taken at a random point, and the real backfill of that export
// interleaved at a random moment with a stream delivery that duplicates
// batches, retries from the middle and splits batches; on the plain tables
// and on tables with the user's foreign keys, CHECK constraints, unique
// index and trigger. The final tables must equal the mapping of the final
// table contents exactly, less the items PostgreSQL refuses, which are
// recorded as rejected.
func TestRandomHistories(t *testing.T) {
	for _, us := range userSchemas() {
		n := randomSeeds
		if us.refuses != nil {
			n = randomSeeds / 2
		}
		for seed := 1; seed <= n; seed++ {
			t.Run(fmt.Sprint(us.name, "/seed", seed), func(t *testing.T) { randomHistory(t, us, uint64(seed)) })
		}
	}
}

func randomHistory(t *testing.T, us userSchema, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 42))
	e := setupYAML(t, apply.Config{ChunkSize: 1 + rng.IntN(8)}, us.yaml, us.ddl...)
	ctx := context.Background()
	refuses := func(it ddbitem.Item) bool { return us.refuses != nil && us.refuses(it) }

	// The table before the stream starts (only the export knows these), then
	// the history the stream records.
	state := map[string]ddbitem.Item{}
	randItem := func(id string) ddbitem.Item {
		lines := make([]string, rng.IntN(4))
		for i := range lines {
			lines[i] = fmt.Sprintf("p%d", rng.IntN(5))
		}
		c := fmt.Sprintf("c%d", rng.IntN(3))
		status := fmt.Sprintf("s%d", rng.IntN(100))
		if rng.IntN(8) == 0 {
			status = "refused"
		}
		return order(id, c, status, lines...)
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
			runBackfill(t, e, snapshot, exportTime)
		}
		if i < len(deliveries) {
			if res := e.eng.Apply(ctx, e.pool, deliveries[i], nil); res.Err != nil {
				t.Fatalf("delivery %d: %v", i, res.Err)
			}
		}
	}

	// Reference: the final contents PostgreSQL accepts, written once into a
	// fresh database with the same schema.
	ref := setupYAML(t, apply.Config{}, us.yaml, us.ddl...)
	var final []stream.Record
	var ids, refused []string
	for id := range state {
		if refuses(state[id]) {
			refused = append(refused, id)
			continue
		}
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for i, id := range ids {
		final = append(final, put(i+1, state[id]))
	}
	if len(final) > 0 {
		if res := ref.apply(final...); res.Rejected != 0 {
			t.Fatalf("the reference refused %d items: %v", res.Rejected, ref.reasons())
		}
	}
	got, want := e.dumpTables(false), ref.dumpTables(false)
	if got != want {
		t.Fatalf("%s seed %d (export at op %d of %d, backfill at delivery %d of %d): tables differ:\n%s\nwant\n%s",
			us.name, seed, exportAt, nOps, backfillAt, len(deliveries), got, want)
	}
	// Shared rows are never deleted: every expected one is there, equal.
	for _, id := range ids {
		c := state[id]["customerId"].Str
		if e.count(`SELECT count(*) FROM customers WHERE id = $1 AND name = $2`, c, "name of "+c) != 1 {
			t.Errorf("customer %s missing", c)
		}
	}
	// An item PostgreSQL refuses is recorded as rejected, with the reason.
	t.Logf("%d items, %d refused at the end, %d rejects recorded", len(state), len(refused), e.count(`SELECT count(*) FROM ddb2pg.rejects`))
	for _, id := range refused {
		k, _ := e.m.KeyOf(ddbitem.Item{"orderId": ddbitem.Str(id)})
		if e.count(`SELECT count(*) FROM ddb2pg.rejects WHERE item_key = $1 AND reason LIKE 'PostgreSQL refused%'`, string(k)) == 0 {
			t.Errorf("item %s is refused by PostgreSQL but not recorded as rejected (rejects: %v)", id, e.reasons())
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

// backfill loads an export of snapshot taken at exportTime with the real
// backfill (pkg/backfill).
func runBackfill(t *testing.T, e *env, snapshot map[string]ddbitem.Item, exportTime time.Time) {
	t.Helper()
	ctx := context.Background()
	ids := make([]string, 0, len(snapshot))
	for id := range snapshot {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	w, err := exportgen.WriteExportFromItems(t.TempDir(), exportgen.ExportOptions{Table: "Orders", ItemsPerFile: 3, ExportTime: exportTime},
		func(yield func(ddbitem.Item) bool) {
			for _, id := range ids {
				if !yield(snapshot[id]) {
					return
				}
			}
		})
	if err != nil {
		t.Fatal(err)
	}
	exp, err := export.Open(ctx, w.Folder)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := backfill.Run(ctx, backfill.Config{Pool: e.pool, Mapping: e.m, Export: exp, Ledger: e.led, URI: w.Folder,
		Workers: 2, ChunkItems: 2, WaitForOthers: true})
	if err != nil {
		t.Fatalf("backfill: %v", err)
	}
	if !sum.Complete() {
		t.Fatalf("backfill: %+v", sum.Status)
	}
}
