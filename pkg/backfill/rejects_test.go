package backfill_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ddb2pg/ddb2pg/internal/exportgen"
	"github.com/ddb2pg/ddb2pg/internal/teststack"
	"github.com/ddb2pg/ddb2pg/pkg/apply"
	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
	"github.com/ddb2pg/ddb2pg/pkg/ledger"
	"github.com/ddb2pg/ddb2pg/pkg/mapping"
	"github.com/ddb2pg/ddb2pg/pkg/stream"
)

// recordedReject is one row of ddb2pg.rejects.
type recordedReject struct {
	key, raw, reason, origin string
	line                     int64
}

// rejectsByLine reads ddb2pg.rejects, by line.
func rejectsByLine(t *testing.T, pool *pgxpool.Pool) map[int64]recordedReject {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT coalesce(item_key, ''), coalesce(raw_value, ''), reason, origin, coalesce(line, 0)
		FROM ddb2pg.rejects ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int64]recordedReject{}
	for rows.Next() {
		var r recordedReject
		if err := rows.Scan(&r.key, &r.raw, &r.reason, &r.origin, &r.line); err != nil {
			t.Fatal(err)
		}
		out[r.line] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func orderKey(t *testing.T, m *mapping.Mapping, id string) string {
	t.Helper()
	k, err := m.KeyOf(ddbitem.Item{"orderId": ddbitem.Str(id)})
	if err != nil {
		t.Fatal(err)
	}
	return string(k)
}

// Any bytes can be recorded: a rejected value of more than 64 KiB of
// multi-byte text, a line holding bytes that are not UTF-8 or U+0000. The
// file loads, each reject is recorded with the item's key when the key is
// readable, and the raw value is text PostgreSQL accepts.
func TestBackfillRecordsRejectsOfAnyBytes(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("€", 30_000) // 90,000 bytes: cut at 64 KiB falls inside a character
	lines := [][]byte{
		[]byte(`{"Item":{"orderId":{"S":"o-1"},"customerId":{"S":"c-1"},"total":{"S":"` + long + `"}}}`),
		[]byte("{\"Item\":{\"orderId\":{\"S\":\"o-2\"},\"customerId\":{\"S\":\"c-1\"},\"status\":{\"S\":\"bad \xff\xfe bytes\"}}}"),
		[]byte("\x00\xc3 not even json"),
		[]byte(`{"Item":{"orderId":{"S":"o-4"},"customerId":{"S":"c-2"},"total":{"N":"2"}}}`),
		[]byte("{\"Item\":{\"customerId\":{\"S\":\"c\xff\"},\"orderId\":{\"S\":\"o-5\"},\"total\":{\"N\":\"1\"},\"x\":{\"N\":5}}}"),
		[]byte("{\"Item\":{\"orderId\":{\"S\":\"o-6\"},\"total\":{\"N\":\"1\"},\"cut\":{\"S\":\"abc"),
	}
	w, err := exportgen.WriteExportFromLines(t.TempDir(), exportgen.ExportOptions{Seed: 7}, seq(lines))
	if err != nil {
		t.Fatal(err)
	}
	pool := openDB(t, teststack.Postgres(t), 4)
	m := sampleMapping(t)
	sum, err := runBackfill(t, pool, m, w.Folder, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Complete() || sum.Status.Loaded != 1 || sum.Status.Rejected != 5 {
		t.Fatalf("status %+v: want 1 loaded, 5 rejected, complete", sum.Status)
	}
	got := rejectsByLine(t, pool)
	want := map[int64]struct{ key, rawHas string }{
		1: {orderKey(t, m, "o-1"), "€€"},
		2: {orderKey(t, m, "o-2"), `bad \xFF\xFE bytes`},
		3: {"", `\u0000\xC3 not even json`},
		5: {orderKey(t, m, "o-5"), `"c\xFF"`},
		6: {orderKey(t, m, "o-6"), `"abc`},
	}
	for line, w := range want {
		r, ok := got[line]
		if !ok {
			t.Errorf("line %d: no reject recorded", line)
			continue
		}
		if r.key != w.key || !strings.Contains(r.raw, w.rawHas) || !utf8.ValidString(r.raw) || len(r.raw) > ledger.MaxRawValue {
			t.Errorf("line %d: key %q raw %.80q (%d bytes); want key %q, raw holding %q", line, r.key, r.raw, len(r.raw), w.key, w.rawHas)
		}
	}
	if r := got[1]; !strings.HasSuffix(r.raw, ledger.TruncatedMark) {
		t.Errorf("line 1: the long raw value is not marked as cut: ...%q", r.raw[max(0, len(r.raw)-40):])
	}
}

// A newer full export whose copy of an item is rejected (the mapping
// refuses it, or the line does not decode) removes the rows an older export
// wrote, records the reject and claims the item's version: loading the
// older export again does not bring its rows back.
func TestBackfillNewerExportRejectedCopyRemovesRows(t *testing.T) {
	t.Parallel()
	m := sampleMapping(t)
	pool := openDB(t, teststack.Postgres(t), 4)
	dir := t.TempDir()
	item := func(id string, total string) ddbitem.Item {
		return ddbitem.Item{"orderId": ddbitem.Str(id), "customerId": ddbitem.Str("c-" + id), "total": ddbitem.Num(total),
			"items": ddbitem.ListOf(ddbitem.MapOf(map[string]ddbitem.Value{"productId": ddbitem.Str("p"), "quantity": ddbitem.Num("1")}))}
	}
	t1 := exportgen.DefaultExportTime
	older, err := exportgen.WriteExportFromItems(filepath.Join(dir, "a"), exportgen.ExportOptions{Seed: 1, ExportTime: t1},
		seq([]ddbitem.Item{item("x", "1"), item("y", "2"), item("z", "3")}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := runBackfill(t, pool, m, older.Folder, 1); err != nil {
		t.Fatal(err)
	}
	// The newer export: x's total does not fit numeric(12,2); z's line
	// holds bytes that are not UTF-8 (its key is still readable).
	xBad, _ := item("x", "1.005").MarshalJSON()
	yGood, _ := item("y", "2").MarshalJSON()
	lines := [][]byte{
		[]byte(`{"Item":` + string(xBad) + `}`),
		[]byte(`{"Item":` + string(yGood) + `}`),
		[]byte("{\"Item\":{\"orderId\":{\"S\":\"z\"},\"status\":{\"S\":\"\xff\"}}}"),
	}
	t2 := t1.Add(time.Hour)
	newer, err := exportgen.WriteExportFromLines(filepath.Join(dir, "b"), exportgen.ExportOptions{Seed: 2, ExportTime: t2}, seq(lines))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // the older export again must not bring the rows back
		sum, err := runBackfill(t, pool, m, newer.Folder, 1)
		if err != nil || !sum.Complete() || sum.Status.Rejected != 2 {
			t.Fatalf("newer export: %v %+v", err, sum)
		}
		for _, id := range []string{"x", "z"} {
			if n := count(t, pool, `SELECT count(*) FROM orders WHERE id = $1`, id) +
				count(t, pool, `SELECT count(*) FROM order_items WHERE order_id = $1`, id); n != 0 {
				t.Errorf("%s: %d rows of the older export remain although the newer export's copy is rejected", id, n)
			}
			if n := count(t, pool, `SELECT count(*) FROM ddb2pg.rejects WHERE item_key = $1`, orderKey(t, m, id)); n != 1 {
				t.Errorf("%s: %d rejects recorded, want 1", id, n)
			}
			if n := count(t, pool, `SELECT count(*) FROM ddb2pg.items WHERE item_key = $1 AND export_time = $2`, orderKey(t, m, id), t2); n != 1 {
				t.Errorf("%s: the rejected copy did not claim the item's version", id)
			}
		}
		if n := count(t, pool, `SELECT count(*) FROM orders WHERE id = 'y'`); n != 1 {
			t.Errorf("y: %d orders rows", n)
		}
		if _, err := runBackfill(t, pool, m, older.Folder, 1); err != nil {
			t.Fatal(err)
		}
	}
}

// Shared rows do not depend on the order of backfill and stream: a
// customer only the export's copy of an item referenced (the stream later
// changed the item to another customer, or deleted it) is there whether
// the stream ran first or second.
func TestBackfillSharedRowsIndependentOfStreamOrder(t *testing.T) {
	t.Parallel()
	m := sampleMapping(t)
	order := func(id, customer string) ddbitem.Item {
		return ddbitem.Item{"orderId": ddbitem.Str(id), "customerId": ddbitem.Str(customer),
			"customerName": ddbitem.Str("name of " + customer), "total": ddbitem.Num("1")}
	}
	exported := []ddbitem.Item{order("x", "c-old"), order("y", "c-gone"), order("z", "c-z")}
	w, err := exportgen.WriteExportFromItems(t.TempDir(), exportgen.ExportOptions{Seed: 3, ItemsPerFile: 2}, seq(exported))
	if err != nil {
		t.Fatal(err)
	}
	changed := order("x", "c-new")
	recs := []stream.Record{
		{EventName: stream.Modify, Seq: "000000000000000000001", Keys: ddbitem.Item{"orderId": ddbitem.Str("x")}, NewImage: changed,
			StreamViewType: stream.ViewNewAndOldImages},
		{EventName: stream.Remove, Seq: "000000000000000000002", Keys: ddbitem.Item{"orderId": ddbitem.Str("y")},
			StreamViewType: stream.ViewNewAndOldImages},
	}
	dumps := map[string]map[string]string{}
	for _, mode := range []string{"stream-first", "backfill-first"} {
		pool := openDB(t, teststack.Postgres(t), 4)
		led, _ := ledger.New("")
		backfillPrepare(t, pool, m)
		eng, err := apply.New(apply.Config{Mapping: m, Ledger: led})
		if err != nil {
			t.Fatal(err)
		}
		streamAll := func() {
			if res := eng.Apply(context.Background(), pool, recs, nil); res.Err != nil {
				t.Fatalf("%s: stream: %v", mode, res.Err)
			}
		}
		if mode == "stream-first" {
			streamAll()
		}
		if _, err := runBackfill(t, pool, m, w.Folder, 2); err != nil {
			t.Fatal(err)
		}
		if mode == "backfill-first" {
			streamAll()
		}
		dumps[mode] = dump(t, pool, orderTables...)
	}
	for _, tb := range orderTables {
		if a, b := dumps["stream-first"][tb], dumps["backfill-first"][tb]; a != b {
			t.Errorf("%s differs:\nstream first:\n%s\nbackfill first:\n%s", tb, a, b)
		}
	}
	for _, c := range []string{"c-old", "c-gone", "c-new", "c-z"} {
		if !strings.Contains(dumps["stream-first"]["customers"], "("+c+",") {
			t.Errorf("stream first: customer %s missing:\n%s", c, dumps["stream-first"]["customers"])
		}
	}
}

// A shared table may have a column named like the backfill's own staging
// column: a load that is not the first stages shared rows all the same.
func TestBackfillSharedColumnNamedLikeStagingColumn(t *testing.T) {
	t.Parallel()
	m, err := mapping.Parse("mapping.yaml", []byte(`version: 1
source:
  table: Orders
  key: [orderId]
tables:
  - name: customers
    primary_key: [id]
    shared: true
    columns:
      - {name: id,         from: customerId, type: text}
      - {name: ddb2pg_ord, from: rank,       type: bigint}
  - name: orders
    primary_key: [id]
    columns:
      - {name: id,          from: orderId,    type: text}
      - {name: customer_id, from: customerId, type: text}
`))
	if err != nil {
		t.Fatal(err)
	}
	pool := openDB(t, teststack.Postgres(t), 4)
	dir := t.TempDir()
	for i, n := range []int{3, 6} {
		var items []ddbitem.Item
		for j := range n {
			items = append(items, ddbitem.Item{"orderId": ddbitem.Str(fmt.Sprint("o", j)), "customerId": ddbitem.Str(fmt.Sprint("c", j)),
				"rank": ddbitem.Num(fmt.Sprint(j))})
		}
		w, err := exportgen.WriteExportFromItems(filepath.Join(dir, fmt.Sprint(i)), exportgen.ExportOptions{Seed: int64(i),
			Table: "Orders", ExportTime: exportgen.DefaultExportTime.Add(time.Duration(i) * time.Hour)}, seq(items))
		if err != nil {
			t.Fatal(err)
		}
		if sum, err := runBackfill(t, pool, m, w.Folder, 1); err != nil || !sum.Complete() {
			t.Fatalf("export %d: %v", i, err)
		}
	}
	if n := count(t, pool, `SELECT count(*) FROM customers WHERE ddb2pg_ord::text = substr(id, 2)`); n != 6 {
		t.Errorf("%d customers, want 6", n)
	}
}

// An incremental export's shared rows do not depend on its order with the
// stream either: they are inserted when absent, from every change that
// maps, applied or not, and never overwrite a row (the stream's is newer).
func TestIncrementalSharedRowsIndependentOfStreamOrder(t *testing.T) {
	t.Parallel()
	m := sampleMapping(t)
	order := func(id, customer, name string) ddbitem.Item {
		return ddbitem.Item{"orderId": ddbitem.Str(id), "customerId": ddbitem.Str(customer),
			"customerName": ddbitem.Str(name), "total": ddbitem.Num("1")}
	}
	keys := func(id string) ddbitem.Item { return ddbitem.Item{"orderId": ddbitem.Str(id)} }
	t0 := exportgen.DefaultExportTime
	w, err := exportgen.WriteIncrementalExport(t.TempDir(), exportgen.ExportOptions{Seed: 4, Table: "Orders"}, t0, t0.Add(time.Hour),
		[]exportgen.Change{
			{Keys: keys("x"), NewImage: order("x", "c1", "old name"), WriteTime: t0.Add(time.Minute)},
			{Keys: keys("y"), NewImage: order("y", "c-only-here", "n"), WriteTime: t0.Add(2 * time.Minute)},
			{Keys: keys("z"), NewImage: order("z", "c-z-before", "n"), WriteTime: t0.Add(3 * time.Minute)},
		})
	if err != nil {
		t.Fatal(err)
	}
	// The stream, later: another order renames c1; z changes customer.
	recs := []stream.Record{
		{EventName: stream.Insert, Seq: "000000000000000000010", Keys: keys("w"), NewImage: order("w", "c1", "new name"),
			StreamViewType: stream.ViewNewAndOldImages},
		{EventName: stream.Modify, Seq: "000000000000000000011", Keys: keys("z"), NewImage: order("z", "c-z-after", "n"),
			StreamViewType: stream.ViewNewAndOldImages},
	}
	dumps := map[string]map[string]string{}
	for _, mode := range []string{"stream-first", "export-first"} {
		pool := openDB(t, teststack.Postgres(t), 4)
		led, _ := ledger.New("")
		backfillPrepare(t, pool, m)
		eng, err := apply.New(apply.Config{Mapping: m, Ledger: led})
		if err != nil {
			t.Fatal(err)
		}
		streamAll := func() {
			if res := eng.Apply(context.Background(), pool, recs, nil); res.Err != nil {
				t.Fatalf("%s: stream: %v", mode, res.Err)
			}
		}
		if mode == "stream-first" {
			streamAll()
		}
		if sum, err := runBackfill(t, pool, m, w.Folder, 1); err != nil || !sum.Complete() {
			t.Fatalf("%s: incremental export: %v", mode, err)
		}
		if mode == "export-first" {
			streamAll()
		}
		dumps[mode] = dump(t, pool, orderTables...)
	}
	for _, tb := range orderTables {
		if a, b := dumps["stream-first"][tb], dumps["export-first"][tb]; a != b {
			t.Errorf("%s differs:\nstream first:\n%s\nexport first:\n%s", tb, a, b)
		}
	}
	for _, want := range []string{"(c1,\"new name\",", "(c-only-here,", "(c-z-before,", "(c-z-after,"} {
		if !strings.Contains(dumps["stream-first"]["customers"], want) {
			t.Errorf("stream first: customers lack %s:\n%s", want, dumps["stream-first"]["customers"])
		}
	}
}

// The same in a file PostgreSQL refuses a row of (loaded item by item): the
// rejected copy still removes the older export's rows, and the refused
// item's reject names its line.
func TestBackfillRejectedCopyInFileLoadedItemByItem(t *testing.T) {
	t.Parallel()
	m := sampleMapping(t)
	pool := openDB(t, teststack.Postgres(t), 4)
	dir := t.TempDir()
	item := func(id, status, total string) ddbitem.Item {
		return ddbitem.Item{"orderId": ddbitem.Str(id), "customerId": ddbitem.Str("c-" + id), "total": ddbitem.Num(total),
			"status": ddbitem.Str(status)}
	}
	t1 := exportgen.DefaultExportTime
	older, err := exportgen.WriteExportFromItems(filepath.Join(dir, "a"), exportgen.ExportOptions{Seed: 1, ExportTime: t1},
		seq([]ddbitem.Item{item("x", "ok", "1"), item("y", "ok", "2"), item("z", "ok", "3")}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := runBackfill(t, pool, m, older.Folder, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(context.Background(), `ALTER TABLE orders ADD CONSTRAINT no_poison CHECK (status <> 'poison')`); err != nil {
		t.Fatal(err)
	}
	newer, err := exportgen.WriteExportFromItems(filepath.Join(dir, "b"), exportgen.ExportOptions{Seed: 2, ExportTime: t1.Add(time.Hour)},
		seq([]ddbitem.Item{item("x", "ok", "1.005"), item("y", "poison", "2"), item("z", "fine", "3")}))
	if err != nil {
		t.Fatal(err)
	}
	sum, err := runBackfill(t, pool, m, newer.Folder, 1)
	if err != nil || !sum.Complete() || sum.Status.Rejected != 2 || sum.Status.Loaded != 1 {
		t.Fatalf("newer export: %v %+v", err, sum)
	}
	if n := count(t, pool, `SELECT count(*) FROM orders WHERE id IN ('x', 'y')`); n != 0 {
		t.Errorf("%d rows of the older export remain for the rejected and the refused item", n)
	}
	if n := count(t, pool, `SELECT count(*) FROM orders WHERE id = 'z' AND status = 'fine'`); n != 1 {
		t.Errorf("z not loaded")
	}
	got := rejectsByLine(t, pool)
	if r := got[1]; r.key != orderKey(t, m, "x") {
		t.Errorf("line 1: %+v", r)
	}
	if r := got[2]; r.key != orderKey(t, m, "y") || !strings.Contains(r.reason, "no_poison") {
		t.Errorf("line 2: %+v", r)
	}
}

// An incremental export's change that does not decode but names its item
// and its write time is that item's rejected change: the older rows go,
// the version advances, the reject names the item.
func TestIncrementalUndecodableChangeOfKnownItem(t *testing.T) {
	t.Parallel()
	m := sampleMapping(t)
	pool := openDB(t, teststack.Postgres(t), 4)
	dir := t.TempDir()
	t0 := exportgen.DefaultExportTime
	x := ddbitem.Item{"orderId": ddbitem.Str("x"), "customerId": ddbitem.Str("c"), "total": ddbitem.Num("1")}
	full, err := exportgen.WriteExportFromItems(filepath.Join(dir, "full"), exportgen.ExportOptions{Seed: 1, ExportTime: t0}, seq([]ddbitem.Item{x}))
	if err != nil {
		t.Fatal(err)
	}
	mustBackfill(t, pool, m, full.Folder)
	bad := ddbitem.Item{"orderId": ddbitem.Str("x"), "customerId": ddbitem.Str("c"), "total": ddbitem.Num("not a number")}
	at := t0.Add(10 * time.Minute)
	inc, err := exportgen.WriteIncrementalExport(filepath.Join(dir, "inc"), exportgen.ExportOptions{Seed: 2}, t0, t0.Add(time.Hour),
		[]exportgen.Change{{Keys: ddbitem.Item{"orderId": ddbitem.Str("x")}, NewImage: bad, WriteTime: at}})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := runBackfill(t, pool, m, inc.Folder, 1)
	if err != nil || !sum.Complete() || sum.Status.Rejected != 1 {
		t.Fatalf("incremental export: %v %+v", err, sum)
	}
	if n := count(t, pool, `SELECT count(*) FROM orders WHERE id = 'x'`); n != 0 {
		t.Errorf("x's older rows remain")
	}
	key := orderKey(t, m, "x")
	if n := count(t, pool, `SELECT count(*) FROM ddb2pg.items WHERE item_key = $1 AND export_time = $2 AND NOT deleted`, key, at); n != 1 {
		t.Errorf("the rejected change did not claim x's version")
	}
	if n := count(t, pool, `SELECT count(*) FROM ddb2pg.rejects WHERE item_key = $1 AND reason LIKE 'undecodable line%'`, key); n != 1 {
		t.Errorf("%d rejects naming x", n)
	}
}
