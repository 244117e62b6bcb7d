package backfill_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ddb2pg/ddb2pg/internal/exportgen"
	"github.com/ddb2pg/ddb2pg/internal/teststack"
	"github.com/ddb2pg/ddb2pg/pkg/backfill"
	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
	"github.com/ddb2pg/ddb2pg/pkg/mapping"
)

// The user's plain (NOT DEFERRABLE) foreign key between two non-shared
// tables of the order model, as users add it.
const itemsToOrdersFK = `ALTER TABLE order_items ADD CONSTRAINT order_items_order_fk FOREIGN KEY (order_id) REFERENCES orders (id)`

// childFirstMapping is the sample mapping with order_items listed before
// orders.
func childFirstMapping(t *testing.T) *mapping.Mapping {
	t.Helper()
	y := string(readFile(t, "../../examples/orders/mapping.yaml"))
	i, j := strings.Index(y, "  - name: orders"), strings.Index(y, "  - name: order_items")
	if i < 0 || j < i {
		t.Fatal("the sample mapping no longer lists orders before order_items")
	}
	p := filepath.Join(t.TempDir(), "mapping.yaml")
	writeFile(t, p, []byte(y[:i]+y[j:]+y[i:j]))
	m, err := mapping.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Defect 1 (issue 12), backfill: with a plain foreign key order_items ->
// orders, a first load (tables listed child first in the mapping, so the
// COPY order must come from the key) and a newer export replacing orders
// with lines (children deleted before parents) both complete, exactly.
func TestBackfillPlainForeignKeyBetweenItemTables(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		childFirst bool // mapping lists order_items first; the key exists before the first load
	}{
		{"key added after the first load", false},
		{"child table mapped first", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			plainForeignKeyBackfill(t, tc.childFirst)
		})
	}
}

func plainForeignKeyBackfill(t *testing.T, childFirst bool) {
	m := sampleMapping(t)
	if childFirst {
		m = childFirstMapping(t)
	}
	pool := openDB(t, teststack.Postgres(t), 4)
	backfillPrepare(t, pool, m)
	addFK := func() {
		if _, err := pool.Exec(t.Context(), itemsToOrdersFK); err != nil {
			t.Fatal(err)
		}
	}
	if childFirst {
		addFK()
	}
	dir := t.TempDir()
	cfg := exportgen.Config{Orders: 120, Seed: 5}
	first, err := exportgen.WriteExportFromItems(filepath.Join(dir, "a"), exportgen.ExportOptions{Seed: 1, ItemsPerFile: 40}, exportgen.Orders(cfg))
	if err != nil {
		t.Fatal(err)
	}
	sum, err := runBackfill(t, pool, m, first.Folder, 2)
	if err != nil || !sum.Complete() || sum.Status.Rejected != 0 {
		t.Fatalf("first load: %v", err)
	}
	if !childFirst {
		addFK()
	}
	// The newer export: every order with lines has one line fewer.
	var items []ddbitem.Item
	want := map[string]int{}
	for it := range exportgen.Orders(cfg) {
		if v, ok := it["items"]; ok && len(v.List) > 0 {
			v.List = v.List[1:]
			it["items"] = v
		}
		want[it["orderId"].Str] = len(it["items"].List)
		items = append(items, it)
	}
	second, err := exportgen.WriteExportFromItems(filepath.Join(dir, "b"),
		exportgen.ExportOptions{Seed: 2, ItemsPerFile: 40, ExportTime: exportgen.DefaultExportTime.Add(time.Hour)}, seq(items))
	if err != nil {
		t.Fatal(err)
	}
	sum, err = runBackfill(t, pool, m, second.Folder, 2)
	if err != nil || !sum.Complete() {
		t.Fatalf("newer export: %v", err)
	}
	if sum.Status.Loaded != int64(len(items)) {
		t.Errorf("newer export: %+v, want all %d loaded", sum.Status, len(items))
	}
	for id, n := range want {
		if got := count(t, pool, `SELECT count(*) FROM order_items WHERE order_id = $1`, id); got != int64(n) {
			t.Fatalf("order %s has %d lines, want %d", id, got, n)
		}
	}
}

// Defect 1, incremental export: with a plain foreign key order_items ->
// orders added after the full load, an incremental export's modifies and
// deletes of orders with lines apply.
func TestIncrementalPlainForeignKeyBetweenItemTables(t *testing.T) {
	t.Parallel()
	m := sampleMapping(t)
	pool := openDB(t, teststack.Postgres(t), 4)
	dir := t.TempDir()
	state := map[string]ddbitem.Item{}
	var items []ddbitem.Item
	cfg := exportgen.Config{Orders: 40, Seed: 8}
	for it := range exportgen.Orders(cfg) {
		state[it["orderId"].Str] = it
		items = append(items, it)
	}
	full, err := exportgen.WriteExportFromItems(filepath.Join(dir, "full"), exportgen.ExportOptions{ExportTime: incT0, Seed: 1}, seq(items))
	if err != nil {
		t.Fatal(err)
	}
	mustBackfill(t, pool, m, full.Folder)
	if _, err := pool.Exec(t.Context(), itemsToOrdersFK); err != nil {
		t.Fatal(err)
	}
	var changes []exportgen.Change
	for i, it := range items {
		keys := ddbitem.Item{"orderId": it["orderId"]}
		at := incT0.Add(time.Duration(i+1) * time.Second)
		switch i % 3 {
		case 0:
			changes = append(changes, exportgen.Change{Keys: keys, OldImage: it, WriteTime: at})
			delete(state, it["orderId"].Str)
		case 1:
			nu := ddbitem.Item{}
			for k, v := range it {
				nu[k] = v
			}
			if v, ok := nu["items"]; ok && len(v.List) > 0 {
				v.List = v.List[1:]
				nu["items"] = v
			}
			nu["status"] = ddbitem.Str("CHANGED")
			changes = append(changes, exportgen.Change{Keys: keys, OldImage: it, NewImage: nu, WriteTime: at})
			state[it["orderId"].Str] = nu
		}
	}
	inc, err := exportgen.WriteIncrementalExport(dir, exportgen.ExportOptions{Seed: 3, ItemsPerFile: 10}, incT0, incT1, changes)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := runBackfill(t, pool, m, inc.Folder, 2)
	if err != nil || !sum.Complete() || sum.Status.Loaded != int64(len(changes)) {
		t.Fatalf("incremental export: %v %+v", err, sum)
	}
	finalItems := make([]ddbitem.Item, 0, len(state))
	for _, it := range state {
		finalItems = append(finalItems, it)
	}
	ref, err := exportgen.WriteExportFromItems(filepath.Join(dir, "ref"), exportgen.ExportOptions{ExportTime: incT2, Seed: 9}, seq(finalItems))
	if err != nil {
		t.Fatal(err)
	}
	refPool := openDB(t, teststack.Postgres(t), 2)
	mustBackfill(t, refPool, m, ref.Folder)
	got, want := dump(t, pool, "orders", "order_items"), dump(t, refPool, "orders", "order_items")
	for _, tb := range []string{"orders", "order_items"} {
		if got[tb] != want[tb] {
			t.Errorf("%s differs:\n%s\nwant\n%s", tb, got[tb], want[tb])
		}
	}
}

// A foreign key from a non-shared table to a shared one: the backfill
// writes shared rows at the end of each file, so a NOT DEFERRABLE one is
// refused with a message naming the fix, and a DEFERRABLE INITIALLY
// IMMEDIATE one is deferred for the file's transaction.
func TestBackfillForeignKeyToSharedTable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		kind, wantErr string
	}{
		{"", "DEFERRABLE INITIALLY DEFERRED"},
		{"DEFERRABLE INITIALLY IMMEDIATE", ""},
	} {
		t.Run(fmt.Sprintf("%q", tc.kind), func(t *testing.T) {
			w, m, pool := preparedExport(t, exportgen.Config{Orders: 150, Files: 3, Seed: 4}, 4)
			if _, err := pool.Exec(t.Context(), `ALTER TABLE orders ADD CONSTRAINT orders_customer_fk
				FOREIGN KEY (customer_id) REFERENCES customers (id) `+tc.kind); err != nil {
				t.Fatal(err)
			}
			sum, err := runBackfill(t, pool, m, w.Folder, 2)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "orders_customer_fk") {
					t.Fatalf("got %v, want an error naming orders_customer_fk and %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !sum.Complete() || sum.Status.Loaded != w.Stats.Orders {
				t.Fatalf("%v %+v", err, sum)
			}
			if n := count(t, pool, "SELECT count(*) FROM customers"); n != w.Stats.Customers {
				t.Errorf("%d customers, want %d", n, w.Stats.Customers)
			}
		})
	}
}

// A file's COPY data is sent when the tables' pending rows reach the batch
// bound, biggest table first: with a plain foreign key order_items ->
// orders and big lines, the lines' table fills first, and its parents'
// pending rows must still go before it, so that the first load never needs
// its careful retry (which costs a second pass over the file and keeps the
// run careful).
func TestBackfillPlainForeignKeyFullCopyBatch(t *testing.T) {
	t.Parallel()
	y := string(readFile(t, "../../examples/orders/mapping.yaml"))
	const last = "      - {name: price_at_purchase, from: price, type: \"numeric(12,2)\"}\n"
	if !strings.HasSuffix(y, last) {
		t.Fatal("the sample mapping no longer ends with order_items' price column")
	}
	p := filepath.Join(t.TempDir(), "mapping.yaml")
	writeFile(t, p, []byte(y+"      - {name: note, from: note, type: text}\n"))
	m, err := mapping.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	pool := openDB(t, teststack.Postgres(t), 4)
	backfillPrepare(t, pool, m)
	if _, err := pool.Exec(t.Context(), itemsToOrdersFK); err != nil {
		t.Fatal(err)
	}
	note := strings.Repeat("a line's long note. ", 1000) // 20 kB
	var items []ddbitem.Item
	for i := range 150 {
		lines := make([]ddbitem.Value, 3)
		for j := range lines {
			lines[j] = ddbitem.MapOf(map[string]ddbitem.Value{"productId": ddbitem.Str(fmt.Sprint("p", j)),
				"quantity": ddbitem.Num("1"), "note": ddbitem.Str(note)})
		}
		items = append(items, ddbitem.Item{"orderId": ddbitem.Str(fmt.Sprintf("o%03d", i)), "customerId": ddbitem.Str("c1"),
			"items": ddbitem.ListOf(lines...)})
	}
	w, err := exportgen.WriteExportFromItems(t.TempDir(), exportgen.ExportOptions{Seed: 1}, seq(items))
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	sum, err := runLoad(t, pool, m, w.Folder, backfill.Config{Workers: 1, ChunkItems: 64, WaitForOthers: true,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil || !sum.Complete() || sum.Status.Loaded != 150 {
		t.Fatalf("%v %+v", err, sum)
	}
	if strings.Contains(logs.String(), "retrying") {
		t.Errorf("the first load was retried:\n%s", logs.String())
	}
	if n := count(t, pool, "SELECT count(*) FROM order_items"); n != 450 {
		t.Errorf("%d lines, want 450", n)
	}
}

// A user's CHECK constraint or unique index that some items break: the
// backfill (first load, newer export, incremental export) records those
// items as rejected, with PostgreSQL's reason, leaves their rows out (a
// newer copy's refusal deletes the older copy's rows) and loads the rest.
func TestBackfillRejectsItemsPostgresRefuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, ddl string
		refuse    func(it ddbitem.Item)
	}{
		{"check", `ALTER TABLE orders ADD CONSTRAINT orders_status_check CHECK (status <> 'REFUSED')`,
			func(it ddbitem.Item) { it["status"] = ddbitem.Str("REFUSED") }},
		{"unique index", `CREATE UNIQUE INDEX order_items_product ON order_items (order_id, product_id)`,
			func(it ddbitem.Item) {
				l := ddbitem.MapOf(map[string]ddbitem.Value{"productId": ddbitem.Str("P-DUP"), "quantity": ddbitem.Num("1")})
				it["items"] = ddbitem.ListOf(l, l)
			}},
	} {
		for _, path := range []string{"first load", "newer export", "incremental export"} {
			t.Run(tc.name+"/"+path, func(t *testing.T) {
				t.Parallel()
				refusedBackfill(t, tc.ddl, tc.refuse, path)
			})
		}
	}
}

func refusedBackfill(t *testing.T, ddl string, refuse func(ddbitem.Item), path string) {
	m := sampleMapping(t)
	pool := openDB(t, teststack.Postgres(t), 4)
	backfillPrepare(t, pool, m)
	if _, err := pool.Exec(t.Context(), ddl); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var good, bad []ddbitem.Item
	refused := map[string]bool{}
	for it := range exportgen.Orders(exportgen.Config{Orders: 60, Seed: 6}) {
		if v, ok := it["items"]; ok { // one line per product: the generator repeats some
			seen := map[string]bool{}
			var lines []ddbitem.Value
			for _, l := range v.List {
				if p := l.Map["productId"].Str; !seen[p] {
					seen[p] = true
					lines = append(lines, l)
				}
			}
			v.List = lines
			it["items"] = v
		}
		good = append(good, it)
		nu := ddbitem.Item{}
		for k, v := range it {
			nu[k] = v
		}
		if len(good)%7 == 3 {
			refuse(nu)
			refused[it["orderId"].Str] = true
		}
		bad = append(bad, nu)
	}
	opts := exportgen.ExportOptions{Seed: 1, ItemsPerFile: 20}
	var folder string
	switch path {
	case "first load":
		w, err := exportgen.WriteExportFromItems(filepath.Join(dir, "a"), opts, seq(bad))
		if err != nil {
			t.Fatal(err)
		}
		folder = w.Folder
	case "newer export":
		w, err := exportgen.WriteExportFromItems(filepath.Join(dir, "a"), opts, seq(good))
		if err != nil {
			t.Fatal(err)
		}
		mustBackfill(t, pool, m, w.Folder)
		opts.ExportTime = exportgen.DefaultExportTime.Add(time.Hour)
		w, err = exportgen.WriteExportFromItems(filepath.Join(dir, "b"), opts, seq(bad))
		if err != nil {
			t.Fatal(err)
		}
		folder = w.Folder
	default:
		opts.ExportTime = incT0
		w, err := exportgen.WriteExportFromItems(filepath.Join(dir, "a"), opts, seq(good))
		if err != nil {
			t.Fatal(err)
		}
		mustBackfill(t, pool, m, w.Folder)
		var changes []exportgen.Change
		for i, it := range bad {
			changes = append(changes, exportgen.Change{Keys: ddbitem.Item{"orderId": it["orderId"]}, OldImage: good[i], NewImage: it,
				WriteTime: incT0.Add(time.Duration(i+1) * time.Second)})
		}
		inc, err := exportgen.WriteIncrementalExport(dir, exportgen.ExportOptions{Seed: 3, ItemsPerFile: 20}, incT0, incT1, changes)
		if err != nil {
			t.Fatal(err)
		}
		folder = inc.Folder
	}
	sum, err := runBackfill(t, pool, m, folder, 2)
	if err != nil || !sum.Complete() {
		t.Fatalf("%v", err)
	}
	if sum.Status.Rejected != int64(len(refused)) || sum.Status.Loaded != int64(len(bad)-len(refused)) {
		t.Errorf("status %+v, want %d loaded and %d rejected", sum.Status, len(bad)-len(refused), len(refused))
	}
	if n := count(t, pool, `SELECT count(*) FROM ddb2pg.rejects WHERE reason LIKE 'PostgreSQL refused%'`); n != int64(len(refused)) {
		t.Errorf("%d rejects recorded, want %d", n, len(refused))
	}
	for _, it := range bad {
		id := it["orderId"].Str
		n := count(t, pool, `SELECT count(*) FROM orders WHERE id = $1`, id)
		if want := map[bool]int64{true: 0, false: 1}[refused[id]]; n != want {
			t.Errorf("order %s (refused: %v) has %d rows", id, refused[id], n)
		}
		lines := count(t, pool, `SELECT count(*) FROM order_items WHERE order_id = $1`, id)
		if want := int64(len(it["items"].List)); refused[id] && lines != 0 || !refused[id] && lines != want {
			t.Errorf("order %s (refused: %v) has %d lines", id, refused[id], lines)
		}
	}
}
