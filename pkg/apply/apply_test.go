package apply_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ddb2pg/ddb2pg/internal/exportgen"
	"github.com/ddb2pg/ddb2pg/internal/teststack"
	"github.com/ddb2pg/ddb2pg/pkg/apply"
	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
	"github.com/ddb2pg/ddb2pg/pkg/ledger"
	"github.com/ddb2pg/ddb2pg/pkg/mapping"
	"github.com/ddb2pg/ddb2pg/pkg/schema"
	"github.com/ddb2pg/ddb2pg/pkg/stream"
)

func TestMain(m *testing.M) { os.Exit(teststack.Run(m)) }

type env struct {
	t    *testing.T
	ctx  context.Context
	pool *pgxpool.Pool
	m    *mapping.Mapping
	led  *ledger.Ledger
	eng  *apply.Engine
}

func setup(t *testing.T, cfg apply.Config) *env {
	t.Helper()
	return setupMode(t, cfg, "")
}

// setupMode connects with the given default_query_exec_mode ("" for pgx's default).
func setupMode(t *testing.T, cfg apply.Config, execMode string) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "mapping.yaml")
	if err := os.WriteFile(path, []byte(exportgen.MappingYAML("Orders")), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := mapping.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	dsn := teststack.Postgres(t)
	if execMode != "" {
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		dsn += sep + "default_query_exec_mode=" + execMode
	}
	pool, err := pgxpool.New(ctx, dsn)
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
	cfg.Mapping, cfg.Ledger = m, led
	eng, err := apply.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, ctx: ctx, pool: pool, m: m, led: led, eng: eng}
}

// order builds an order item with n lines.
func order(id, customer, status string, lines ...string) ddbitem.Item {
	it := ddbitem.Item{
		"orderId":      ddbitem.Str(id),
		"customerId":   ddbitem.Str(customer),
		"customerName": ddbitem.Str("name of " + customer),
		"total":        ddbitem.Num("12.50"),
		"status":       ddbitem.Str(status),
	}
	if len(lines) > 0 {
		l := make([]ddbitem.Value, len(lines))
		for i, p := range lines {
			l[i] = ddbitem.MapOf(map[string]ddbitem.Value{"productId": ddbitem.Str(p), "quantity": ddbitem.Num(fmt.Sprint(i + 1))})
		}
		it["items"] = ddbitem.ListOf(l...)
	}
	return it
}

func seq(n int) string { return fmt.Sprintf("%021d", n) }

func put(n int, it ddbitem.Item) stream.Record {
	return stream.Record{EventName: stream.Modify, Seq: seq(n), Keys: ddbitem.Item{"orderId": it["orderId"]}, NewImage: it,
		StreamViewType: stream.ViewNewAndOldImages, ApproxTime: time.Now().Add(-time.Second)}
}

func del(n int, id string) stream.Record {
	return stream.Record{EventName: stream.Remove, Seq: seq(n), Keys: ddbitem.Item{"orderId": ddbitem.Str(id)},
		StreamViewType: stream.ViewNewAndOldImages}
}

func (e *env) apply(recs ...stream.Record) apply.Result {
	e.t.Helper()
	res := e.eng.Apply(e.ctx, e.pool, recs, nil)
	if res.Err != nil {
		e.t.Fatalf("apply: %v", res.Err)
	}
	return res
}

// dump renders every mapped table's rows, sorted.
func (e *env) dump() string {
	e.t.Helper()
	return e.dumpTables(false) + e.dumpTables(true)
}

// dumpTables renders the shared or the non-shared tables' rows, sorted.
func (e *env) dumpTables(shared bool) string {
	e.t.Helper()
	var sb strings.Builder
	for _, tb := range e.m.Tables {
		if tb.Shared != shared {
			continue
		}
		rows, err := e.pool.Query(e.ctx, "SELECT row_to_json(t)::text FROM "+tb.Ident.Sanitize()+" t")
		if err != nil {
			e.t.Fatal(err)
		}
		var lines []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				e.t.Fatal(err)
			}
			lines = append(lines, s)
		}
		if rows.Err() != nil {
			e.t.Fatal(rows.Err())
		}
		sort.Strings(lines)
		fmt.Fprintf(&sb, "%s:\n  %s\n", tb.Name, strings.Join(lines, "\n  "))
	}
	return sb.String()
}

func (e *env) count(sql string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.pool.QueryRow(e.ctx, sql, args...).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *env) version(id string) ledger.ItemVersion {
	e.t.Helper()
	k, _ := e.m.KeyOf(ddbitem.Item{"orderId": ddbitem.Str(id)})
	v, ok, err := e.led.ItemVersionOf(e.ctx, e.pool, "Orders", string(k))
	if err != nil || !ok {
		e.t.Fatalf("version of %s: ok=%v %v", id, ok, err)
	}
	return v
}

func stats(r apply.Result) string {
	return fmt.Sprintf("applied=%d skipped=%d rejected=%d", r.Applied, r.Skipped, r.Rejected)
}

func TestOrderDuplicatesAndStale(t *testing.T) {
	e := setup(t, apply.Config{})
	r := e.apply(put(100, order("o1", "c1", "new", "p1", "p2")), put(200, order("o1", "c1", "paid", "p1", "p2", "p3")))
	if stats(r) != "applied=2 skipped=0 rejected=0" {
		t.Errorf("first batch: %s", stats(r))
	}
	want := e.dump()
	// Replays: the same batch, the stale record alone, a batch split in two.
	r = e.apply(put(100, order("o1", "c1", "new", "p1", "p2")), put(200, order("o1", "c1", "paid", "p1", "p2", "p3")))
	if stats(r) != "applied=0 skipped=2 rejected=0" {
		t.Errorf("replay: %s", stats(r))
	}
	e.apply(put(100, order("o1", "c1", "new")))
	// A duplicate inside one batch.
	r = e.apply(put(150, order("o1", "c1", "stale")), put(200, order("o1", "c1", "paid", "p1", "p2", "p3")))
	if r.Skipped != 2 {
		t.Errorf("stale+dup: %s", stats(r))
	}
	if got := e.dump(); got != want {
		t.Errorf("tables changed by replays:\n%s\nwant\n%s", got, want)
	}
	if n := e.count(`SELECT count(*) FROM order_items`); n != 3 {
		t.Errorf("%d order_items, want 3", n)
	}
	if v := e.version("o1"); v.Origin != "stream" || v.Seq != "200" || v.Deleted {
		t.Errorf("version %+v", v)
	}
	// Duplicates inside one batch with the same sequence number.
	r = e.apply(put(300, order("o1", "c1", "x")), put(300, order("o1", "c1", "x")))
	if r.Applied != 1 || r.Skipped != 1 {
		t.Errorf("in-batch duplicate: %s", stats(r))
	}
}

// Sequence numbers compare as numbers: 22 digits after 21.
func TestSequenceNumbersAsNumbers(t *testing.T) {
	e := setup(t, apply.Config{})
	a := put(0, order("o1", "c1", "old"))
	a.Seq = "999999999999999999999"
	b := put(0, order("o1", "c1", "new"))
	b.Seq = "1000000000000000000000"
	e.apply(b)
	r := e.apply(a)
	if r.Skipped != 1 {
		t.Errorf("21-digit record after a 22-digit one: %s", stats(r))
	}
	if n := e.count(`SELECT count(*) FROM orders WHERE status = 'new'`); n != 1 {
		t.Error("the older record overwrote the newer")
	}
	c := put(0, order("o1", "c1", "newest"))
	c.Seq = "99999999999999999999999999999999999999" + "99"
	e.apply(c)
	if v := e.version("o1"); v.Seq != c.Seq {
		t.Errorf("40-digit seq stored as %s", v.Seq)
	}
}

func TestShrinkGrowAndRemove(t *testing.T) {
	e := setup(t, apply.Config{})
	e.apply(put(1, order("o1", "c1", "new", "p1", "p2", "p3")), put(1, order("o2", "c2", "new", "p9")))
	e.apply(put(2, order("o1", "c1", "new", "p1")))
	if n := e.count(`SELECT count(*) FROM order_items WHERE order_id = 'o1'`); n != 1 {
		t.Fatalf("after shrinking: %d lines, want 1", n)
	}
	e.apply(put(3, order("o1", "c1", "new", "p1", "p5")))
	if n := e.count(`SELECT count(*) FROM order_items WHERE order_id = 'o1'`); n != 2 {
		t.Fatalf("after growing: %d lines, want 2", n)
	}
	r := e.apply(del(4, "o1"))
	if r.Applied != 1 {
		t.Errorf("remove: %s", stats(r))
	}
	if n := e.count(`SELECT count(*) FROM orders WHERE id = 'o1'`) + e.count(`SELECT count(*) FROM order_items WHERE order_id = 'o1'`); n != 0 {
		t.Errorf("%d rows of the removed item remain", n)
	}
	if n := e.count(`SELECT count(*) FROM customers WHERE id = 'c1'`); n != 1 {
		t.Errorf("shared customer row deleted with the item")
	}
	if v := e.version("o1"); !v.Deleted || v.Seq != "4" {
		t.Errorf("tombstone %+v", v)
	}
	// The other item is untouched.
	if n := e.count(`SELECT count(*) FROM order_items WHERE order_id = 'o2'`); n != 1 {
		t.Errorf("o2 lines: %d", n)
	}
	// A stale INSERT after the REMOVE does not resurrect it.
	r = e.apply(put(3, order("o1", "c1", "zombie", "p1")))
	if r.Skipped != 1 || e.count(`SELECT count(*) FROM orders WHERE id = 'o1'`) != 0 {
		t.Errorf("resurrected by a stale record: %s", stats(r))
	}
}

// The hand-off: a tombstone beats a later export copy; a stream record beats
// an export copy; an export copy loses to any stream version.
func TestHandOffWithExport(t *testing.T) {
	e := setup(t, apply.Config{})
	keyOf := func(id string) string {
		k, _ := e.m.KeyOf(ddbitem.Item{"orderId": ddbitem.Str(id)})
		return string(k)
	}
	// o1 is deleted by the stream, then an export copy of o1 (taken before the
	// delete) tries to claim it: it must lose.
	e.apply(put(1, order("o1", "c1", "new", "p1")), del(2, "o1"))
	tx, err := e.pool.Begin(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	claim, err := e.led.ClaimForExport(e.ctx, tx, "Orders", time.Now(), []string{keyOf("o1"), keyOf("o2")})
	if err != nil {
		t.Fatal(err)
	}
	if _, won := claim.Won[keyOf("o1")]; won {
		t.Error("an export copy won over a tombstone")
	}
	if _, won := claim.Won[keyOf("o2")]; !won {
		t.Error("an export copy lost on an item the stream never saw")
	}
	// Write o2's export rows as the backfill would.
	if _, err := tx.Exec(e.ctx, `INSERT INTO orders (id, customer_id, total, status) VALUES ('o2', 'c2', 1, 'exported')`); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(e.ctx, `INSERT INTO order_items (order_id, line, product_id, quantity) VALUES ('o2', 0, 'a', 1), ('o2', 1, 'b', 1)`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(e.ctx); err != nil {
		t.Fatal(err)
	}
	// Any stream record beats the export copy, whatever its sequence number.
	r := e.apply(put(1, order("o2", "c2", "streamed", "x")))
	if r.Applied != 1 {
		t.Fatalf("stream after export: %s", stats(r))
	}
	if n := e.count(`SELECT count(*) FROM order_items WHERE order_id = 'o2'`); n != 1 {
		t.Errorf("export rows not replaced: %d lines", n)
	}
	if n := e.count(`SELECT count(*) FROM orders WHERE id = 'o2' AND status = 'streamed'`); n != 1 {
		t.Error("o2 not streamed")
	}
	if e.count(`SELECT count(*) FROM orders WHERE id = 'o1'`) != 0 {
		t.Error("o1 resurrected")
	}
}

// A new image the mapping rejects: the old rows go (they are not current),
// the version advances, the reject is recorded; a later good record applies.
func TestRejectedImage(t *testing.T) {
	e := setup(t, apply.Config{})
	e.apply(put(1, order("o1", "c1", "new", "p1", "p2")))
	bad := order("o1", "c1", "bad", "p1")
	bad["items"].List[0].Map["quantity"] = ddbitem.Num("1.5") // not an integer
	r := e.apply(bad2(put(2, bad)), put(3, order("o2", "c2", "fine")))
	if r.Rejected != 1 || r.Applied != 1 {
		t.Fatalf("%s", stats(r))
	}
	if n := e.count(`SELECT count(*) FROM orders WHERE id = 'o1'`) + e.count(`SELECT count(*) FROM order_items WHERE order_id = 'o1'`); n != 0 {
		t.Errorf("%d rows of the rejected version remain", n)
	}
	var seqText, origin, col string
	if err := e.pool.QueryRow(e.ctx, `SELECT seq, origin, pg_column FROM ddb2pg.rejects`).Scan(&seqText, &origin, &col); err != nil {
		t.Fatal(err)
	}
	if seqText != seq(2) || !strings.Contains(origin, "seq "+seq(2)) || col != "quantity" {
		t.Errorf("reject recorded as seq=%s origin=%q column=%s", seqText, origin, col)
	}
	if v := e.version("o1"); v.Seq != "2" {
		t.Errorf("version not advanced: %+v", v)
	}
	// Replaying the batch records no second reject.
	e.apply(bad2(put(2, bad)))
	if n := e.count(`SELECT count(*) FROM ddb2pg.rejects`); n != 1 {
		t.Errorf("%d rejects after a replay", n)
	}
	e.apply(put(4, order("o1", "c1", "fixed", "p1")))
	if n := e.count(`SELECT count(*) FROM order_items WHERE order_id = 'o1'`); n != 1 {
		t.Errorf("fixed version: %d lines", n)
	}
}

func bad2(r stream.Record) stream.Record { return r }

// Unreadable records are rejected and do not stop the batch.
func TestUnreadableRecords(t *testing.T) {
	e := setup(t, apply.Config{})
	r1 := put(1, order("o1", "c1", "new"))
	r1.Err = fmt.Errorf("unknown eventName %q", "UPSERT")
	r2 := put(2, order("o2", "c1", "new"))
	r2.Keys = ddbitem.Item{"wrong": ddbitem.Str("x")}
	r := e.apply(r1, r2, put(3, order("o3", "c1", "new")))
	if r.Rejected != 2 || r.Applied != 1 || e.count(`SELECT count(*) FROM ddb2pg.rejects`) != 2 {
		t.Errorf("%s", stats(r))
	}
}

// A row PostgreSQL refuses (a user's CHECK constraint) is isolated and
// rejected; the rest of the batch applies.
func TestPoisonRowIsolated(t *testing.T) {
	e := setup(t, apply.Config{})
	if _, err := e.pool.Exec(e.ctx, `ALTER TABLE orders ADD CONSTRAINT no_poison CHECK (status <> 'poison')`); err != nil {
		t.Fatal(err)
	}
	r := e.apply(put(1, order("o1", "c1", "new", "p1")), put(2, order("o2", "c1", "poison", "p1")), put(3, order("o3", "c1", "new")))
	if r.Applied != 2 || r.Rejected != 1 {
		t.Errorf("%s", stats(r))
	}
	if e.count(`SELECT count(*) FROM orders`) != 2 || e.count(`SELECT count(*) FROM order_items WHERE order_id = 'o2'`) != 0 {
		t.Error("poison record's rows written or others missing")
	}
	if n := e.count(`SELECT count(*) FROM ddb2pg.rejects WHERE reason LIKE '%no_poison%'`); n != 1 {
		t.Errorf("%d rejects naming the constraint", n)
	}
}

// The database goes away in the middle of a batch: the committed prefix
// stays, the result names the first record not committed, and a retry from
// there ends in the same state as a clean run.
func TestDatabaseGoneMidBatch(t *testing.T) {
	e := setup(t, apply.Config{ChunkSize: 2})
	var recs []stream.Record
	for i := 1; i <= 7; i++ {
		recs = append(recs, put(i, order(fmt.Sprintf("o%d", i), "c1", "new", "p1", "p2")))
	}
	var calls atomic.Int32
	kill := func(ctx context.Context, tx pgx.Tx, chunk []stream.Record) error {
		if calls.Add(1) == 2 {
			// The server ends this session (as a failover or restart would).
			_, err := tx.Exec(ctx, `SELECT pg_terminate_backend(pg_backend_pid())`)
			return err
		}
		return nil
	}
	res := e.eng.Apply(e.ctx, e.pool, recs, kill)
	if res.Err == nil {
		t.Fatal("no error although the session was killed")
	}
	if !apply.Retryable(res.Err) {
		t.Errorf("error %v not retryable", res.Err)
	}
	if res.Committed != 2 || recs[res.Committed].Seq != seq(3) {
		t.Fatalf("committed %d, want 2 (first failed record seq %s)", res.Committed, seq(3))
	}
	if n := e.count(`SELECT count(*) FROM orders`); n != 2 {
		t.Errorf("%d orders committed, want 2 (nothing after the failure)", n)
	}
	// Lambda retries from the failed record; a split half overlaps.
	e.apply(recs[res.Committed:5]...)
	e.apply(recs[3:]...)
	if n := e.count(`SELECT count(*) FROM orders`); n != 7 {
		t.Errorf("%d orders, want 7", n)
	}
	if n := e.count(`SELECT count(*) FROM order_items`); n != 14 {
		t.Errorf("%d lines, want 14", n)
	}
}

func TestTTLModes(t *testing.T) {
	ttlDel := func(n int, id string) stream.Record {
		r := del(n, id)
		r.TTL = true
		r.ApproxTime = time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
		return r
	}
	t.Run("delete", func(t *testing.T) {
		e := setup(t, apply.Config{})
		e.apply(put(1, order("o1", "c1", "new", "p1")), ttlDel(2, "o1"))
		if e.count(`SELECT count(*) FROM orders`) != 0 {
			t.Error("TTL delete kept the rows")
		}
	})
	t.Run("ignore", func(t *testing.T) {
		e := setup(t, apply.Config{TTL: apply.TTLIgnore})
		r := e.apply(put(1, order("o1", "c1", "new", "p1")), ttlDel(2, "o1"))
		if e.count(`SELECT count(*) FROM orders`) != 1 || e.count(`SELECT count(*) FROM order_items`) != 1 || r.TTLIgnored != 1 {
			t.Errorf("TTL ignore: %s", stats(r))
		}
		if v := e.version("o1"); !v.Deleted {
			t.Error("not marked deleted in the bookkeeping")
		}
		// A normal delete still deletes.
		e.apply(del(3, "o1"))
		if e.count(`SELECT count(*) FROM orders`) != 0 {
			t.Error("user delete kept the rows")
		}
	})
	t.Run("soft", func(t *testing.T) {
		e := setup(t, apply.Config{TTL: apply.TTLSoft, SoftDeleteColumn: "deleted_at"})
		if _, err := e.pool.Exec(e.ctx, `ALTER TABLE orders ADD COLUMN deleted_at timestamptz`); err != nil {
			t.Fatal(err)
		}
		e.apply(put(1, order("o1", "c1", "new", "p1")), ttlDel(2, "o1"))
		if n := e.count(`SELECT count(*) FROM orders WHERE deleted_at = '2026-01-02T03:04:00Z'`); n != 1 {
			t.Error("soft delete did not set deleted_at")
		}
		// Re-created later: fresh rows, no deleted_at.
		e.apply(put(3, order("o1", "c1", "again", "p1")))
		if n := e.count(`SELECT count(*) FROM orders WHERE deleted_at IS NULL AND status = 'again'`); n != 1 {
			t.Error("re-created item still soft-deleted")
		}
	})
}

type fakeFetcher struct{ items map[string]ddbitem.Item }

func (f *fakeFetcher) GetItem(_ context.Context, keys ddbitem.Item) (ddbitem.Item, bool, error) {
	it, ok := f.items[keys["orderId"].Str]
	return it, ok, nil
}

func TestKeysOnly(t *testing.T) {
	f := &fakeFetcher{items: map[string]ddbitem.Item{"o1": order("o1", "c1", "current", "p1", "p2")}}
	e := setup(t, apply.Config{Fetcher: f})
	ko := func(n int, id string, ev stream.EventName) stream.Record {
		return stream.Record{EventName: ev, Seq: seq(n), Keys: ddbitem.Item{"orderId": ddbitem.Str(id)}, StreamViewType: stream.ViewKeysOnly}
	}
	e.apply(ko(1, "o1", stream.Insert), ko(2, "o1", stream.Modify), ko(3, "o2", stream.Insert))
	if e.count(`SELECT count(*) FROM orders WHERE status = 'current'`) != 1 || e.count(`SELECT count(*) FROM order_items`) != 2 {
		t.Error("KEYS_ONLY item not read")
	}
	if e.count(`SELECT count(*) FROM orders WHERE id = 'o2'`) != 0 {
		t.Error("an item gone from DynamoDB was written")
	}
	// OLD_IMAGE records fail the batch.
	old := stream.Record{EventName: stream.Modify, Seq: seq(9), Keys: ddbitem.Item{"orderId": ddbitem.Str("o1")},
		OldImage: order("o1", "c1", "x"), StreamViewType: stream.ViewOldImage}
	if res := e.eng.Apply(e.ctx, e.pool, []stream.Record{old}, nil); res.Err == nil || apply.Retryable(res.Err) {
		t.Errorf("OLD_IMAGE: %v", res.Err)
	}
}

// The Lambda runs in pgx's exec mode (no prepared statements, for RDS Proxy
// and PgBouncer): set-based deletes must work there too.
func TestExecModeSetDeletes(t *testing.T) {
	for _, mode := range []string{"exec", "simple_protocol"} {
		t.Run(mode, func(t *testing.T) {
			e := setupMode(t, apply.Config{}, mode)
			var ins, mod, rem []stream.Record
			for i := 0; i < 6; i++ {
				id := fmt.Sprintf("o%d", i)
				ins = append(ins, put(i+1, order(id, fmt.Sprintf("c%d", i), "new", "p1", "p2", "p3")))
				mod = append(mod, put(i+100, order(id, fmt.Sprintf("c%d", i+3), "paid", "p9")))
				rem = append(rem, del(i+200, id))
			}
			e.apply(ins...)
			e.apply(mod...)
			if e.count(`SELECT count(*) FROM order_items`) != 6 || e.count(`SELECT count(*) FROM orders WHERE status = 'paid'`) != 6 ||
				e.count(`SELECT count(*) FROM customers WHERE name = 'name of ' || id`) != 9 {
				t.Errorf("after modify:\n%s", e.dump())
			}
			e.apply(rem[:5]...)
			if e.count(`SELECT count(*) FROM orders`) != 1 || e.count(`SELECT count(*) FROM order_items`) != 1 {
				t.Errorf("after remove:\n%s", e.dump())
			}
		})
	}
}
