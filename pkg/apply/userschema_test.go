package apply_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ddb2pg/ddb2pg/internal/exportgen"
	"github.com/ddb2pg/ddb2pg/internal/teststack"
	"github.com/ddb2pg/ddb2pg/pkg/apply"
	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
	"github.com/ddb2pg/ddb2pg/pkg/ledger"
	"github.com/ddb2pg/ddb2pg/pkg/mapping"
	"github.com/ddb2pg/ddb2pg/pkg/pgwrite"
	"github.com/ddb2pg/ddb2pg/pkg/schema"
	"github.com/ddb2pg/ddb2pg/pkg/stream"
)

// childFirstYAML is the order model's mapping with order_items listed
// before orders, which a user's foreign key order_items -> orders then
// makes the wrong order to insert in.
func childFirstYAML() string {
	y := exportgen.MappingYAML("Orders")
	i, j := strings.Index(y, "  - name: orders"), strings.Index(y, "  - name: order_items")
	return y[:i] + y[j:] + y[i:j]
}

// setupYAML is setup with the mapping yamlText and, after the tables are
// created, the statements ddl (the user's own constraints).
func setupYAML(t *testing.T, cfg apply.Config, yamlText string, ddl ...string) *env {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "mapping.yaml")
	if err := os.WriteFile(path, []byte(yamlText), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := mapping.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.New(ctx, teststack.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	led, _ := ledger.New("")
	if err := led.EnsureStream(ctx, pool); err != nil {
		t.Fatal(err)
	}
	if _, err := schema.Ensure(ctx, pool, m); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ctx: ctx, pool: pool, m: m, led: led}
	e.exec(ddl...)
	cfg.Mapping, cfg.Ledger = m, led
	if e.eng, err = apply.New(cfg); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) exec(stmts ...string) {
	e.t.Helper()
	for _, s := range stmts {
		if _, err := e.pool.Exec(e.ctx, s); err != nil {
			e.t.Fatalf("%s: %v", s, err)
		}
	}
}

// reasons lists the recorded rejects' reasons, sorted.
func (e *env) reasons() []string {
	e.t.Helper()
	rows, err := e.pool.Query(e.ctx, `SELECT item_key || ': ' || reason FROM ddb2pg.rejects ORDER BY 1`)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// expectTables checks that e's non-shared tables hold exactly the rows of
// items (by id), as a fresh engine writes them.
func (e *env) expectTables(yamlText string, items map[string]ddbitem.Item) {
	e.t.Helper()
	ref := setupYAML(e.t, apply.Config{}, yamlText)
	ids := make([]string, 0, len(items))
	for id := range items {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var recs []stream.Record
	for i, id := range ids {
		recs = append(recs, put(i+1, items[id]))
	}
	if len(recs) > 0 {
		ref.apply(recs...)
	}
	if got, want := e.dumpTables(false), ref.dumpTables(false); got != want {
		e.t.Errorf("tables differ:\n%s\nwant\n%s", got, want)
	}
}

const (
	plainFK    = `ALTER TABLE order_items ADD CONSTRAINT order_items_order_fk FOREIGN KEY (order_id) REFERENCES orders (id)`
	customerFK = `ALTER TABLE orders ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id)`
)

// Defect 1 (issue 12), stream: a user adds a plain foreign key
// order_items -> orders after the rows are in; MODIFY and REMOVE records of
// orders with lines must apply (children deleted before parents), in the
// batch that meets the new key and in the ones after it; with the mapping
// listing order_items first, new orders must insert parents first.
func TestPlainForeignKeyBetweenItemTablesStream(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		fkBefore   bool // the key exists before the engine's first write
	}{
		{"added after the rows", exportgen.MappingYAML("Orders"), false},
		{"child table mapped first", childFirstYAML(), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ddl []string
			if tc.fkBefore {
				ddl = []string{plainFK, customerFK}
			}
			e := setupYAML(t, apply.Config{}, tc.yaml, ddl...)
			state := map[string]ddbitem.Item{}
			var recs []stream.Record
			for i := range 8 {
				id := fmt.Sprintf("o%d", i)
				state[id] = order(id, fmt.Sprintf("c%d", i%3), "new", "p1", "p2", "p3")
				recs = append(recs, put(10+i, state[id]))
			}
			if res := e.apply(recs...); res.Rejected != 0 {
				t.Fatalf("first batch: %s %v", stats(res), e.reasons())
			}
			if !tc.fkBefore {
				e.exec(plainFK, customerFK)
			}
			// Changes: fewer lines, other lines, removes; two batches.
			state["o0"] = order("o0", "c0", "paid", "p1")
			state["o1"] = order("o1", "c5", "paid", "p9", "p8")
			delete(state, "o2")
			state["o3"] = order("o3", "c1", "paid")
			state["o8"] = order("o8", "c6", "new", "p1", "p2")
			r1 := e.apply(put(20, state["o0"]), put(21, state["o1"]), del(22, "o2"), put(23, state["o3"]), put(24, state["o8"]))
			delete(state, "o4")
			delete(state, "o5")
			state["o6"] = order("o6", "c7", "shipped", "p4", "p5", "p6", "p7")
			r2 := e.apply(del(30, "o4"), del(31, "o5"), put(32, state["o6"]))
			if r1.Rejected+r2.Rejected != 0 || r1.Applied != 5 || r2.Applied != 3 {
				t.Errorf("batches: %s, %s; rejects %v", stats(r1), stats(r2), e.reasons())
			}
			e.expectTables(tc.yaml, state)
		})
	}
}

// Defect 1, the per-record retry pass: a batch in which PostgreSQL refuses
// one record (a user's CHECK) is written record by record; with a plain
// foreign key order_items -> orders, the other records' MODIFY and REMOVE
// must still apply, and only the refused one be rejected (its item's rows
// gone).
func TestPlainForeignKeyCarefulPass(t *testing.T) {
	e := setupYAML(t, apply.Config{}, exportgen.MappingYAML("Orders"))
	state := map[string]ddbitem.Item{}
	var recs []stream.Record
	for i := range 6 {
		id := fmt.Sprintf("o%d", i)
		state[id] = order(id, fmt.Sprintf("c%d", i%2), "new", "p1", "p2")
		recs = append(recs, put(10+i, state[id]))
	}
	e.apply(recs...)
	e.exec(plainFK, `ALTER TABLE orders ADD CONSTRAINT orders_status_check CHECK (status <> 'refused')`)
	state["o0"] = order("o0", "c0", "paid", "p3")
	delete(state, "o1")
	state["o2"] = order("o2", "c1", "paid", "p1", "p2", "p3", "p4")
	refused := order("o3", "c9", "refused", "p1")
	delete(state, "o3") // a refused record's item has no rows
	delete(state, "o4")
	res := e.apply(put(20, state["o0"]), del(21, "o1"), put(22, state["o2"]), put(23, refused), del(24, "o4"))
	if res.Rejected != 1 || res.Applied != 4 {
		t.Errorf("%s, want 4 applied and 1 rejected; rejects %v", stats(res), e.reasons())
	}
	if r := e.reasons(); len(r) != 1 || !strings.Contains(r[0], "o3") || !strings.Contains(r[0], "orders_status_check") {
		t.Errorf("rejects %v, want o3's refusal by orders_status_check", r)
	}
	e.expectTables(exportgen.MappingYAML("Orders"), state)
	if n := e.count(`SELECT count(*) FROM customers WHERE id = 'c9'`); n != 0 {
		t.Errorf("the refused record's customer was written")
	}
}

// Defect 8 (issue 12): Lambda's parallelization factor runs several
// invocations at once, on different items that share customers. When a
// user's CHECK refuses some records, each invocation retries its batch
// record by record; those retries must lock shared rows in one order: no
// deadlock (pg_stat_database.deadlocks unchanged, no 40P01 returned) and
// the final tables exact.
func TestConcurrentInvocationsWithRefusedRecordsDoNotDeadlock(t *testing.T) {
	e := setupYAML(t, apply.Config{}, exportgen.MappingYAML("Orders"),
		`ALTER TABLE orders ADD CONSTRAINT orders_status_check CHECK (status <> 'refused')`)
	pool, err := pgxpool.New(e.ctx, e.pool.Config().ConnString()) // the invocations' own connections
	if err != nil {
		t.Fatal(err)
	}
	deadlocks := func() int64 {
		var n int64
		if err := e.pool.QueryRow(e.ctx, `SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := deadlocks()
	const invocations, batches, perBatch = 6, 4, 40
	var mu sync.Mutex
	state := map[string]ddbitem.Item{}
	var returned40P01 int
	var wg sync.WaitGroup
	for g := range invocations {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			n := 0
			for b := range batches {
				var recs []stream.Record
				for range perBatch {
					n++
					id := fmt.Sprintf("g%d-o%d", g, rng.IntN(30))
					status := fmt.Sprintf("s%d", n)
					if rng.IntN(15) == 0 {
						status = "refused"
					}
					it := order(id, fmt.Sprintf("c%d", rng.IntN(12)), status, "p1", "p2")
					// One shard's sequence numbers: unique across the
					// invocations (as Lambda's parallel batches of a shard are),
					// increasing within each.
					recs = append(recs, put(n*invocations+g, it))
					mu.Lock()
					if status == "refused" {
						delete(state, id)
					} else {
						state[id] = it
					}
					mu.Unlock()
				}
				// As Lambda does: a failed batch is retried from the first
				// record not committed.
				for attempt := 0; len(recs) > 0; attempt++ {
					res := e.eng.Apply(e.ctx, pool, recs, nil)
					if res.Err == nil {
						break
					}
					if !apply.Retryable(res.Err) || attempt > 20 {
						t.Errorf("invocation %d batch %d: %v", g, b, res.Err)
						return
					}
					if strings.Contains(res.Err.Error(), "40P01") {
						mu.Lock()
						returned40P01++
						mu.Unlock()
					}
					recs = recs[res.Committed:]
				}
			}
		}()
	}
	wg.Wait()
	pool.Close() // the backends report their statistics as they exit
	var after int64
	for range 50 {
		if after = deadlocks(); after != before {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if after != before || returned40P01 != 0 {
		t.Errorf("%d deadlocks detected by PostgreSQL, %d batches failed with 40P01", after-before, returned40P01)
	}
	if n := e.count(`SELECT count(*) FROM ddb2pg.rejects`); n == 0 {
		t.Errorf("no record was refused: the test did not run the per-record pass")
	}
	e.expectTables(exportgen.MappingYAML("Orders"), state)
}

// pgwrite.ReadOrder reads the user's foreign keys from the catalog:
// schema-qualified and quoted names, a self-reference, deferrable and
// initially deferred keys; a key to a table that is not mapped is left out.
func TestReadOrderFromCatalog(t *testing.T) {
	yamlText := `version: 1
source:
  table: T
  key: [id]
tables:
  - name: "sales.Lines"
    primary_key: [id, n]
    for_each: lines
    columns:
      - {name: id, from: $.id, type: text}
      - {name: n, from: "#index", type: integer}
      - {name: parent_n, from: parent, type: integer}
  - name: sales.heads
    primary_key: [id]
    columns:
      - {name: id, from: id, type: text}
      - {name: region, from: region, type: text}
  - name: regions
    primary_key: [code]
    shared: true
    columns:
      - {name: code, from: region, type: text, required: true}
`
	e := setupYAML(t, apply.Config{}, yamlText)
	e.exec(`CREATE TABLE other (id text PRIMARY KEY)`,
		`ALTER TABLE sales."Lines" ADD CONSTRAINT lines_head FOREIGN KEY (id) REFERENCES sales.heads (id)`,
		`ALTER TABLE sales."Lines" ADD CONSTRAINT "Lines self" FOREIGN KEY (id, parent_n) REFERENCES sales."Lines" (id, n) DEFERRABLE`,
		`ALTER TABLE sales.heads ADD CONSTRAINT heads_region FOREIGN KEY (region) REFERENCES regions (code) DEFERRABLE INITIALLY DEFERRED`,
		`ALTER TABLE sales.heads ADD CONSTRAINT heads_other FOREIGN KEY (id) REFERENCES other (id) NOT VALID`)
	tables := pgwrite.For(e.m)
	ord, err := pgwrite.ReadOrder(e.ctx, e.pool, tables)
	if err != nil {
		t.Fatal(err)
	}
	var fks []string
	for _, fk := range ord.FKs {
		fks = append(fks, fmt.Sprintf("%s %d->%d deferrable=%v deferred=%v", fk.Name, fk.Child, fk.Parent, fk.Deferrable, fk.Deferred))
	}
	want := []string{
		`"sales"."Lines self" 0->0 deferrable=true deferred=false`,
		`"sales"."lines_head" 0->1 deferrable=false deferred=false`,
		`"sales"."heads_region" 1->2 deferrable=true deferred=true`,
	}
	if fmt.Sprint(fks) != fmt.Sprint(want) {
		t.Errorf("foreign keys\n%v\nwant\n%v", fks, want)
	}
	if got := fmt.Sprint(ord.Insert, ord.Delete, ord.SelfRef); got != "[1 0 2] [2 0 1] [true false false]" {
		t.Errorf("order %s", got)
	}
}
