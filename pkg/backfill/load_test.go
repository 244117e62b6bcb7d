package backfill_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ddb2pg/ddb2pg/internal/exportgen"
	"github.com/ddb2pg/ddb2pg/internal/progress"
	"github.com/ddb2pg/ddb2pg/internal/teststack"
	"github.com/ddb2pg/ddb2pg/pkg/backfill"
	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
	"github.com/ddb2pg/ddb2pg/pkg/export"
	"github.com/ddb2pg/ddb2pg/pkg/ledger"
	"github.com/ddb2pg/ddb2pg/pkg/mapping"
	"github.com/ddb2pg/ddb2pg/pkg/schema"
)

func TestMain(m *testing.M) { os.Exit(teststack.Run(m)) }

var orderTables = []string{"customers", "orders", "order_items"}

func sampleMapping(t *testing.T) *mapping.Mapping {
	t.Helper()
	m, err := mapping.Load("../../examples/orders/mapping.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func openDB(t *testing.T, dsn string, conns int32) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = conns
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// backfill prepares the schema and runs one backfill of the export folder.
func runBackfill(t *testing.T, pool *pgxpool.Pool, m *mapping.Mapping, folder string, workers int) (*backfill.Summary, error) {
	t.Helper()
	ctx := context.Background()
	led, err := ledger.New("")
	if err != nil {
		t.Fatal(err)
	}
	if err := led.Ensure(ctx, pool); err != nil {
		t.Fatal(err)
	}
	if _, err := schema.Ensure(ctx, pool, m); err != nil {
		t.Fatal(err)
	}
	exp, err := export.Open(ctx, folder)
	if err != nil {
		return nil, err
	}
	return backfill.Run(ctx, backfill.Config{Pool: pool, Mapping: m, Export: exp, Ledger: led, URI: folder,
		Workers: workers, ChunkItems: 64, WaitForOthers: true})
}

// dump renders the tables' full contents in a canonical order, so two
// databases can be compared exactly.
func dump(t *testing.T, pool *pgxpool.Pool, tables ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, tb := range tables {
		var s string
		if err := pool.QueryRow(context.Background(),
			fmt.Sprintf(`SELECT coalesce(string_agg(x::text, E'\n' ORDER BY x::text), '') FROM %s x`, tb)).Scan(&s); err != nil {
			t.Fatalf("dumping %s: %v", tb, err)
		}
		out[tb] = s
	}
	return out
}

func count(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func TestBackfillLoadsGeneratedExportExactly(t *testing.T) {
	t.Parallel()
	cfg := exportgen.Config{Orders: 700, Files: 5, Seed: 11, EdgeCases: true, BadItems: 5, Prefix: "exports/orders"}
	w, err := exportgen.WriteExport(t.TempDir(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	pool := openDB(t, teststack.Postgres(t), 6)
	m := sampleMapping(t)
	sum, err := runBackfill(t, pool, m, w.Folder, 3)
	if err != nil {
		t.Fatalf("backfill: %v", err)
	}
	st := sum.Status
	if !sum.Complete() || st.Loaded != w.Stats.Orders || st.Rejected != w.Stats.Rejected || st.ManifestItems != 700 {
		t.Fatalf("status %+v, want loaded %d rejected %d of 700", st, w.Stats.Orders, w.Stats.Rejected)
	}
	for tb, want := range map[string]int64{"orders": w.Stats.Orders, "order_items": w.Stats.OrderItems, "customers": w.Stats.Customers} {
		if got := count(t, pool, "SELECT count(*) FROM "+tb); got != want {
			t.Errorf("%s has %d rows, want %d", tb, got, want)
		}
	}
	// Every bad order is recorded with its table, column and origin.
	for _, b := range exportgen.BadOrders(cfg) {
		var table, column, origin, reason string
		err := pool.QueryRow(context.Background(), `SELECT pg_table, pg_column, origin, reason FROM ddb2pg.rejects WHERE item_key = $1`,
			fmt.Sprintf(`[{"S":%q}]`, b.OrderID)).Scan(&table, &column, &origin, &reason)
		if err != nil {
			t.Fatalf("reject of %s (%s): %v", b.OrderID, b.Kind, err)
		}
		if table != b.Table || column != b.Column || !strings.Contains(origin, "line ") || reason == "" {
			t.Errorf("reject of %s: table %s column %s origin %q reason %q; want %s.%s", b.OrderID, table, column, origin, reason, b.Table, b.Column)
		}
		if n := count(t, pool, "SELECT count(*) FROM orders WHERE id = $1", b.OrderID); n != 0 {
			t.Errorf("rejected order %s has rows", b.OrderID)
		}
	}
	// Exact values survive: a 38-digit number inside attrs, totals exact.
	if n := count(t, pool, `SELECT count(*) FROM orders WHERE total IS NULL OR total <> (SELECT sum(quantity * price_at_purchase) FROM order_items i WHERE i.order_id = orders.id)
		AND EXISTS (SELECT 1 FROM order_items i WHERE i.order_id = orders.id)`); n != 0 {
		t.Errorf("%d orders whose total is not the exact sum of their lines", n)
	}

	// A rerun of a finished backfill changes nothing.
	before := dump(t, pool, orderTables...)
	sum2, err := runBackfill(t, pool, m, w.Folder, 2)
	if err != nil || sum2.FilesLoaded != 0 || !sum2.Complete() {
		t.Fatalf("rerun: %v (files loaded %d)", err, sum2.FilesLoaded)
	}
	after := dump(t, pool, orderTables...)
	for _, tb := range orderTables {
		if before[tb] != after[tb] {
			t.Errorf("rerun changed %s", tb)
		}
	}
	if n := count(t, pool, "SELECT count(*) FROM ddb2pg.rejects"); n != w.Stats.Rejected {
		t.Errorf("rerun duplicated rejects: %d", n)
	}
}

func TestBackfillSeveralProcessesShareOneExport(t *testing.T) {
	t.Parallel()
	cfg := exportgen.Config{Orders: 900, Files: 9, Seed: 5, EdgeCases: true}
	w, err := exportgen.WriteExport(t.TempDir(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	m := sampleMapping(t)
	clean := openDB(t, teststack.Postgres(t), 4)
	if _, err := runBackfill(t, clean, m, w.Folder, 1); err != nil {
		t.Fatal(err)
	}
	shared := teststack.Postgres(t)
	var wg sync.WaitGroup
	sums := make([]*backfill.Summary, 3)
	errs := make([]error, 3)
	// Prepare once so the processes race only on files.
	backfillPrepare(t, openDB(t, shared, 2), m)
	for i := range sums {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sums[i], errs[i] = runBackfill(t, openDB(t, shared, 4), m, w.Folder, 2)
		}()
	}
	wg.Wait()
	files := 0
	for i := range sums {
		if errs[i] != nil {
			t.Fatalf("process %d: %v", i, errs[i])
		}
		files += sums[i].FilesLoaded
		if !sums[i].Complete() {
			t.Errorf("process %d does not see a complete export: %+v", i, sums[i].Status)
		}
	}
	if files != 9 {
		t.Errorf("the processes loaded %d files together, want each of the 9 exactly once", files)
	}
	a, b := dump(t, clean, orderTables...), dump(t, openDB(t, shared, 1), orderTables...)
	for _, tb := range orderTables {
		if a[tb] != b[tb] {
			t.Errorf("table %s differs from a single-process load", tb)
		}
	}
}

func backfillPrepare(t *testing.T, pool *pgxpool.Pool, m *mapping.Mapping) {
	t.Helper()
	led, _ := ledger.New("")
	if err := led.Ensure(context.Background(), pool); err != nil {
		t.Fatal(err)
	}
	if _, err := schema.Ensure(context.Background(), pool, m); err != nil {
		t.Fatal(err)
	}
}

// The stream may have applied items before the backfill runs: an export
// copy never overwrites a newer stream-applied state, and a deleted item is
// never resurrected.
func TestBackfillNeverOverwritesStreamState(t *testing.T) {
	t.Parallel()
	cfg := exportgen.Config{Orders: 50, Files: 2, Seed: 3}
	w, err := exportgen.WriteExport(t.TempDir(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	m := sampleMapping(t)
	pool := openDB(t, teststack.Postgres(t), 4)
	backfillPrepare(t, pool, m)
	ctx := context.Background()
	changed, deleted := exportgen.OrderID(7), exportgen.OrderID(9)
	// What the stream applied: a newer version of one order, a delete of another.
	if _, err := pool.Exec(ctx, `INSERT INTO ddb2pg.items (source_table, item_key, origin, seq, shard_id, deleted) VALUES
		('Orders', $1, 'stream', 100000000000000000001, 'shardId-1', false),
		('Orders', $2, 'stream', 100000000000000000002, 'shardId-1', true)`,
		fmt.Sprintf(`[{"S":%q}]`, changed), fmt.Sprintf(`[{"S":%q}]`, deleted)); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO orders (id, status, total) VALUES ($1, 'FROM-STREAM', 1.00)`, changed); err != nil {
		t.Fatal(err)
	}
	sum, err := runBackfill(t, pool, m, w.Folder, 2)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Status.Skipped != 2 || sum.Status.Loaded != 48 || !sum.Complete() {
		t.Fatalf("status %+v: want 2 skipped (newer in stream), 48 loaded, complete", sum.Status)
	}
	var status string
	if err := pool.QueryRow(ctx, `SELECT status FROM orders WHERE id = $1`, changed).Scan(&status); err != nil || status != "FROM-STREAM" {
		t.Errorf("stream-applied order was overwritten: status %q, err %v", status, err)
	}
	if n := count(t, pool, `SELECT count(*) FROM orders WHERE id = $1`, deleted) + count(t, pool, `SELECT count(*) FROM order_items WHERE order_id = $1`, deleted); n != 0 {
		t.Errorf("deleted order was resurrected by the export (%d rows)", n)
	}
}

// A later full export replaces the rows of items loaded from an earlier one:
// a shortened items list deletes the dropped child rows.
func TestBackfillNewerExportReplacesItemRows(t *testing.T) {
	t.Parallel()
	m := sampleMapping(t)
	pool := openDB(t, teststack.Postgres(t), 4)
	dir := t.TempDir()
	cfg := exportgen.Config{Orders: 30, Seed: 2}
	first, err := exportgen.WriteExportFromItems(filepath.Join(dir, "a"), exportgen.ExportOptions{Seed: 1}, exportgen.Orders(cfg))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := runBackfill(t, pool, m, first.Folder, 1); err != nil {
		t.Fatal(err)
	}
	// Find an order with at least two lines and keep only its first line.
	var target string
	if err := pool.QueryRow(context.Background(), `SELECT order_id FROM order_items GROUP BY order_id HAVING count(*) >= 2 ORDER BY order_id LIMIT 1`).Scan(&target); err != nil {
		t.Fatal(err)
	}
	var items []exportgenItem
	for it := range exportgen.Orders(cfg) {
		if it["orderId"].Str == target {
			v := it["items"]
			v.List = v.List[:1]
			it["items"] = v
			it["status"] = strValue("CANCELLED")
		}
		items = append(items, it)
	}
	second, err := exportgen.WriteExportFromItems(filepath.Join(dir, "b"),
		exportgen.ExportOptions{Seed: 2, ExportTime: exportgen.DefaultExportTime.Add(time.Hour)}, seq(items))
	if err != nil {
		t.Fatal(err)
	}
	sum, err := runBackfill(t, pool, m, second.Folder, 1)
	if err != nil || !sum.Complete() {
		t.Fatalf("second export: %v", err)
	}
	if n := count(t, pool, `SELECT count(*) FROM order_items WHERE order_id = $1`, target); n != 1 {
		t.Errorf("order %s has %d item rows after its list shrank to 1", target, n)
	}
	var status string
	_ = pool.QueryRow(context.Background(), `SELECT status FROM orders WHERE id = $1`, target).Scan(&status)
	if status != "CANCELLED" {
		t.Errorf("order %s status %q, want the newer export's CANCELLED", target, status)
	}
	// The older export, loaded again, is not allowed to regress the item.
	if _, err := runBackfill(t, pool, m, first.Folder, 1); err != nil {
		t.Fatal(err)
	}
	if n := count(t, pool, `SELECT count(*) FROM order_items WHERE order_id = $1`, target); n != 1 {
		t.Errorf("older export regressed order %s", target)
	}
}

// Not parallel: it points the SDK's standard environment at MinIO, exactly
// as an operator would.
func TestBackfillFromS3(t *testing.T) {
	s3env := teststack.S3(t)
	s3env.Setenv(t)
	cfg := exportgen.Config{Orders: 200, Files: 3, Seed: 9, Prefix: "exp/orders", Bucket: s3env.Bucket}
	dir := t.TempDir()
	w, err := exportgen.WriteExport(dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	uploadDir(t, s3env, dir)
	pool := openDB(t, teststack.Postgres(t), 4)
	sum, err := runBackfill(t, pool, sampleMapping(t), w.S3URL(), 2)
	if err != nil {
		t.Fatalf("backfill from %s: %v", w.S3URL(), err)
	}
	if !sum.Complete() || sum.Status.Loaded != 200 {
		t.Fatalf("status %+v", sum.Status)
	}
	if n := count(t, pool, "SELECT count(*) FROM orders"); n != 200 {
		t.Errorf("%d orders", n)
	}
}

func TestBackfillDamagedFilesNeverCountAsLoaded(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		damage  func(t *testing.T, w *exportgen.Written)
		wantErr string
	}{
		{"truncated gzip", func(t *testing.T, w *exportgen.Written) {
			b := readFile(t, w.Files[1])
			writeFile(t, w.Files[1], b[:len(b)/2])
		}, "truncated"},
		{"md5 mismatch", func(t *testing.T, w *exportgen.Written) {
			// A valid gzip of different content: only the checksum tells.
			writeFile(t, w.Files[1], readFile(t, w.Files[0]))
		}, "md5"},
		{"missing data file", func(t *testing.T, w *exportgen.Written) {
			if err := os.Remove(w.Files[1]); err != nil {
				t.Fatal(err)
			}
		}, "not found"},
		{"item count disagrees with the manifest", func(t *testing.T, w *exportgen.Written) {
			// The manifests claim one more item in file 1 (and in total),
			// consistently, so only reading the file can tell.
			bumpItemCount(t, w, 1)
		}, "item count"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			w, err := exportgen.WriteExport(t.TempDir(), exportgen.Config{Orders: 90, Files: 3, Seed: 4})
			if err != nil {
				t.Fatal(err)
			}
			c.damage(t, w)
			pool := openDB(t, teststack.Postgres(t), 4)
			sum, err := runBackfill(t, pool, sampleMapping(t), w.Folder, 2)
			var inc *backfill.IncompleteError
			if !errors.As(err, &inc) {
				t.Fatalf("err = %v, want an IncompleteError", err)
			}
			name := filepath.Base(w.Files[1])
			if !strings.Contains(err.Error(), name) || !strings.Contains(strings.ToLower(err.Error()), c.wantErr) {
				t.Errorf("error %q should name the file %s and say %q", err, name, c.wantErr)
			}
			if sum.Complete() || sum.Status.Done != 2 || sum.Status.Failed != 1 {
				t.Errorf("status %+v: want 2 files done, 1 failed, incomplete", sum.Status)
			}
			// Damage reads the same every time: the file is not retried.
			for _, fe := range sum.FileErrors {
				if fe.Attempts != 1 {
					t.Errorf("damaged file %s was tried %d times, want once", fe.File, fe.Attempts)
				}
			}
			// The damaged file's items are not in the tables: 60 of 90.
			if n := count(t, pool, "SELECT count(*) FROM orders"); n != 60 {
				t.Errorf("%d orders loaded, want the 60 of the two good files", n)
			}
		})
	}
}

// Lines that are not items are recorded as rejected with file and line;
// the rest of the file loads.
func TestBackfillRejectsUndecodableLines(t *testing.T) {
	t.Parallel()
	lines := [][]byte{
		[]byte(`{"Item":{"orderId":{"S":"o-1"},"customerId":{"S":"c-1"},"total":{"N":"1.50"}}}`),
		[]byte(`this is not json`),
		[]byte(`{"Item":{"orderId":{"S":"o-2"},"customerId":{"S":"c-1"},"total":{"X":"1"}}}`),
		[]byte(`{"Item":{"orderId":{"S":"o-3"},"customerId":{"S":"c-2"},"total":{"N":"2"}}}`),
		[]byte(`{"Item":{"customerId":{"S":"c-3"}}}`),
	}
	w, err := exportgen.WriteExportFromLines(t.TempDir(), exportgen.ExportOptions{Seed: 5}, seq(lines))
	if err != nil {
		t.Fatal(err)
	}
	pool := openDB(t, teststack.Postgres(t), 4)
	sum, err := runBackfill(t, pool, sampleMapping(t), w.Folder, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Complete() || sum.Status.Loaded != 2 || sum.Status.Rejected != 3 {
		t.Fatalf("status %+v: want 2 loaded, 3 rejected, complete", sum.Status)
	}
	rows, err := pool.Query(context.Background(), `SELECT line, reason, file_key FROM ddb2pg.rejects ORDER BY line`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	want := map[int64]string{2: "undecodable", 3: `"X"`, 5: "orderId"}
	for rows.Next() {
		var line int64
		var reason, file string
		if err := rows.Scan(&line, &reason, &file); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(reason, want[line]) || !strings.HasSuffix(file, filepath.Base(w.Files[0])) {
			t.Errorf("line %d: reason %q file %q; want it to mention %s", line, reason, file, want[line])
		}
		delete(want, line)
	}
	if len(want) != 0 {
		t.Errorf("no reject recorded for lines %v", want)
	}
}

// The genuine AWS export with every DynamoDB type loads into typed columns:
// sets sorted, numbers exact, binary as bytes, the unmapped rest in jsonb.
func TestBackfillGenuineEveryTypeExport(t *testing.T) {
	t.Parallel()
	folder := "../export/testdata/scylla/dynamodb-export/AWSDynamoDB/01715685260608-c488b4e1"
	if _, err := os.Stat(folder); err != nil {
		t.Fatalf("the real-world export is missing from testdata: %v", err)
	}
	m, err := mapping.Load("testdata/every-type.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pool := openDB(t, teststack.Postgres(t), 2)
	sum, err := runBackfill(t, pool, m, folder, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Complete() || sum.Status.Loaded != 3 {
		t.Fatalf("status %+v", sum.Status)
	}
	q := "(SELECT id, a, b, c, d, e, f, f_g, encode(j, 'escape') AS j, k, rest FROM every_type)"
	got := dump(t, pool, q)[q]
	want := []string{
		`(K3TXQk84Si,f,,"{8gfX8dh0xa,fRjHZJ2Ce9}","{2,3}","[1, ""Dsb87qc6Es""]","{""g"": 9, ""h"": null, ""i"": true}",9,hello,"{""\\\\x69732066617374"",""\\\\x7363796c6c616462""}",{})`,
		`(bar,,,,,,,,,,"{""baz"": 0}")`,
		`(foo,,,,,,,,,,"{""bar"": 42}")`,
	}
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("missing row %s in\n%s", w, got)
		}
	}
}

// The same data exported as DYNAMODB_JSON and as ION loads into identical
// tables, with identical rejects (issue 6).
func TestBackfillIONAndJSONLoadIdentically(t *testing.T) {
	t.Parallel()
	cfg := exportgen.Config{Orders: 600, Files: 3, Seed: 17, EdgeCases: true, BadItems: 9}
	// DynamoDB stores numbers normalised ("72.30" reads back "72.3") and
	// both export formats carry the stored value; the generator's items are
	// normalised the same way first.
	var items []ddbitem.Item
	for it := range exportgen.Orders(cfg) {
		items = append(items, normalizeNumbers(t, it))
	}
	jsonExp, err := exportgen.WriteExportFromItems(t.TempDir(), exportgen.ExportOptions{Seed: 17, ItemsPerFile: 200}, seq(items))
	if err != nil {
		t.Fatal(err)
	}
	ionExp, err := exportgen.WriteExportFromItems(t.TempDir(), exportgen.ExportOptions{Seed: 17, ItemsPerFile: 200, Format: exportgen.FormatION}, seq(items))
	if err != nil {
		t.Fatal(err)
	}
	m := sampleMapping(t)
	dumps := make([]map[string]string, 2)
	for i, folder := range []string{jsonExp.Folder, ionExp.Folder} {
		pool := openDB(t, teststack.Postgres(t), 4)
		sum, err := runBackfill(t, pool, m, folder, 2)
		if err != nil {
			t.Fatalf("%s: %v", folder, err)
		}
		if !sum.Complete() || sum.Status.Rejected != 9 || sum.Status.Loaded != 591 {
			t.Fatalf("%s: status %+v", folder, sum.Status)
		}
		dumps[i] = dump(t, pool, append(orderTables, "(SELECT item_key, pg_table, pg_column, raw_value, reason FROM ddb2pg.rejects)")...)
	}
	for tb, js := range dumps[0] {
		if dumps[1][tb] != js {
			a, b := strings.Split(js, "\n"), strings.Split(dumps[1][tb], "\n")
			for i := 0; i < len(a) && i < len(b); i++ {
				if a[i] != b[i] {
					j := 0
					for j < len(a[i]) && j < len(b[i]) && a[i][j] == b[i][j] {
						j++
					}
					lo := max(0, j-80)
					t.Errorf("%s differs between the JSON and the ION export, first at:\n json: …%s\n  ion: …%s", tb, a[i][lo:min(len(a[i]), j+80)], b[i][lo:min(len(b[i]), j+80)])
					break
				}
			}
		}
	}
}

// Loading a file again (an operator reset its bookkeeping) does not list
// its rejected items twice.
func TestBackfillReloadDoesNotDuplicateRejects(t *testing.T) {
	t.Parallel()
	w, err := exportgen.WriteExport(t.TempDir(), exportgen.Config{Orders: 100, Files: 2, Seed: 8, BadItems: 4})
	if err != nil {
		t.Fatal(err)
	}
	pool := openDB(t, teststack.Postgres(t), 4)
	m := sampleMapping(t)
	if _, err := runBackfill(t, pool, m, w.Folder, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(context.Background(), `UPDATE ddb2pg.export_files SET status = 'pending'`); err != nil {
		t.Fatal(err)
	}
	if _, err := runBackfill(t, pool, m, w.Folder, 1); err != nil {
		t.Fatal(err)
	}
	if n := count(t, pool, "SELECT count(*) FROM ddb2pg.rejects"); n != 4 {
		t.Errorf("%d rejects after reloading, want the 4 bad items once", n)
	}
}

// A first load skips looking items up in the ledger; when a key turns out
// to exist after all (here: the export repeats an item in two files; in
// production: a stream applier started meanwhile), the unique violation
// sends the file back through the careful path and the load completes
// with the item once.
func TestBackfillFirstLoadFallsBackOnConflict(t *testing.T) {
	t.Parallel()
	items := slices.Collect(exportgen.Orders(exportgen.Config{Orders: 40, Seed: 12}))
	items = append(items, items[3]) // the same order again, in the last file
	w, err := exportgen.WriteExportFromItems(t.TempDir(), exportgen.ExportOptions{Seed: 12, ItemsPerFile: 20}, seq(items))
	if err != nil {
		t.Fatal(err)
	}
	pool := openDB(t, teststack.Postgres(t), 4)
	m := sampleMapping(t)
	backfillPrepare(t, pool, m)
	var logs bytes.Buffer
	sum, err := runLoad(t, pool, m, w.Folder, backfill.Config{
		Workers: 1, WaitForOthers: true, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "sqlstate=23505") {
		t.Errorf("the conflict path did not run; log:\n%s", logs.String())
	}
	if !sum.Complete() || sum.Status.Loaded != 41 {
		t.Fatalf("status %+v: want all 41 lines loaded", sum.Status)
	}
	id := items[3]["orderId"].Str
	if n := count(t, pool, "SELECT count(*) FROM orders WHERE id = $1", id); n != 1 {
		t.Errorf("order %s has %d rows", id, n)
	}
	if n := count(t, pool, "SELECT count(*) FROM orders"); n != 40 {
		t.Errorf("%d orders, want 40", n)
	}
}

// A first load records its item keys in the ledger once per file, after
// the file's rows: a stream delete that lands once the run has decided the
// ledger is empty must still win, through the unique violation at the end
// of the file and the careful retry, and never be resurrected.
func TestBackfillFirstLoadYieldsToStreamDeleteMidRun(t *testing.T) {
	t.Parallel()
	w, m, pool := preparedExport(t, exportgen.Config{Orders: 60, Files: 2, Seed: 5}, 4)
	ctx := context.Background()
	deleted := exportgen.OrderID(11)
	var once sync.Once
	var streamErr error
	var logs bytes.Buffer
	sum, err := runLoad(t, pool, m, w.Folder, backfill.Config{
		Workers: 1, ChunkItems: 8, WaitForOthers: true, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		// The first progress report comes after the run found the ledger
		// empty and before any file is read.
		Progress: func(progress.Snapshot) {
			once.Do(func() {
				_, streamErr = pool.Exec(ctx, `INSERT INTO ddb2pg.items (source_table, item_key, origin, seq, shard_id, deleted)
					VALUES ('Orders', $1, 'stream', 100000000000000000007, 'shardId-1', true)`, fmt.Sprintf(`[{"S":%q}]`, deleted))
			})
		}})
	if streamErr != nil {
		t.Fatal(streamErr)
	}
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "sqlstate=23505") {
		t.Errorf("the first load did not meet the stream's ledger row; log:\n%s", logs.String())
	}
	if sum.Status.Skipped != 1 || sum.Status.Loaded != 59 || !sum.Complete() {
		t.Fatalf("status %+v: want 1 skipped (deleted by the stream), 59 loaded, complete", sum.Status)
	}
	if n := count(t, pool, `SELECT count(*) FROM orders WHERE id = $1`, deleted) + count(t, pool, `SELECT count(*) FROM order_items WHERE order_id = $1`, deleted); n != 0 {
		t.Errorf("the stream's delete was undone by the export (%d rows)", n)
	}
	if n := count(t, pool, `SELECT count(*) FROM ddb2pg.items WHERE origin = 'export'`); n != 59 {
		t.Errorf("%d export-origin ledger rows, want 59", n)
	}
}

// An item twice in one file, in different chunks: the later line is the
// item's state. A first load meets its own row (unique violation) and
// retries carefully, which deletes the earlier copy's rows before writing
// the later one's; the earlier chunk's rows must reach the server first
// even though rows are gathered across chunks.
func TestBackfillItemTwiceInOneFileLaterLineWins(t *testing.T) {
	t.Parallel()
	items := slices.Collect(exportgen.Orders(exportgen.Config{Orders: 30, Seed: 21}))
	later := maps.Clone(items[2])
	later["status"] = ddbitem.Str("LATER-LINE")
	later["items"] = ddbitem.Value{Kind: ddbitem.L, List: items[2]["items"].List[:1]}
	items = append(items, later) // same key, 28 lines after the first copy
	w, err := exportgen.WriteExportFromItems(t.TempDir(), exportgen.ExportOptions{Seed: 21, ItemsPerFile: 100}, seq(items))
	if err != nil {
		t.Fatal(err)
	}
	pool := openDB(t, teststack.Postgres(t), 4)
	m := sampleMapping(t)
	backfillPrepare(t, pool, m)
	sum, err := runLoad(t, pool, m, w.Folder, backfill.Config{
		Workers: 1, ChunkItems: 4, WaitForOthers: true})
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Complete() || sum.Status.Loaded != 31 {
		t.Fatalf("status %+v: want all 31 lines loaded", sum.Status)
	}
	id := items[2]["orderId"].Str
	var status string
	if err := pool.QueryRow(context.Background(), "SELECT status FROM orders WHERE id = $1", id).Scan(&status); err != nil || status != "LATER-LINE" {
		t.Errorf("order %s: status %q (%v), want the later line's", id, status, err)
	}
	if n := count(t, pool, "SELECT count(*) FROM order_items WHERE order_id = $1", id); n != 1 {
		t.Errorf("order %s has %d order_items rows, want the later line's 1", id, n)
	}
}

// Users pre-create tables with their own constraints. With a deferred
// foreign key from orders to customers, a file whose customer rows another
// file of the run is still writing must not fail at commit: the run ends
// complete with every customer present.
func TestBackfillDeferredForeignKeyToSharedTable(t *testing.T) {
	t.Parallel()
	w, m, pool := preparedExport(t, exportgen.Config{Orders: 400, Files: 8, Seed: 17}, 8)
	if _, err := pool.Exec(context.Background(), `ALTER TABLE orders ADD CONSTRAINT orders_customer_fk
		FOREIGN KEY (customer_id) REFERENCES customers (id) DEFERRABLE INITIALLY DEFERRED`); err != nil {
		t.Fatal(err)
	}
	sum, err := runBackfill(t, pool, m, w.Folder, 4)
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Complete() || sum.Status.Loaded != w.Stats.Orders {
		t.Fatalf("status %+v: want all %d orders loaded", sum.Status, w.Stats.Orders)
	}
	if n := count(t, pool, "SELECT count(*) FROM customers"); n != w.Stats.Customers {
		t.Errorf("%d customers, want %d", n, w.Stats.Customers)
	}
}

// runLoad runs one backfill of the export folder with cfg (Pool, Mapping,
// Export, Ledger and URI filled in), the schema already prepared.
func runLoad(t *testing.T, pool *pgxpool.Pool, m *mapping.Mapping, folder string, cfg backfill.Config) (*backfill.Summary, error) {
	t.Helper()
	exp, err := export.Open(context.Background(), folder)
	if err != nil {
		t.Fatal(err)
	}
	led, err := ledger.New("")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Pool, cfg.Mapping, cfg.Export, cfg.Ledger, cfg.URI = pool, m, exp, led, folder
	return backfill.Run(context.Background(), cfg)
}

// preparedExport writes a generated export and prepares a database for it
// (schema and bookkeeping), with a pool of conns connections.
func preparedExport(t *testing.T, cfg exportgen.Config, conns int32) (*exportgen.Written, *mapping.Mapping, *pgxpool.Pool) {
	t.Helper()
	w, err := exportgen.WriteExport(t.TempDir(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	m := sampleMapping(t)
	pool := openDB(t, teststack.Postgres(t), conns)
	backfillPrepare(t, pool, m)
	return w, m, pool
}
