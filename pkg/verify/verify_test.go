package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ddb2pg/ddb2pg/internal/exportgen"
	"github.com/ddb2pg/ddb2pg/internal/teststack"
	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
	"github.com/ddb2pg/ddb2pg/pkg/mapping"
	"github.com/ddb2pg/ddb2pg/pkg/pgwrite"
	"github.com/ddb2pg/ddb2pg/pkg/report"
)

const nItems = 30

type fixture struct {
	m     *mapping.Mapping
	ddb   *dynamodb.Client
	pool  *pgxpool.Pool
	table string
	dsn   string
	items []ddbitem.Item
	lines int
}

func orderItem(i int) ddbitem.Item {
	c := i % 5
	var lines []ddbitem.Value
	for l := 0; l <= i%3; l++ {
		lines = append(lines, ddbitem.MapOf(map[string]ddbitem.Value{
			"productId": ddbitem.Str(fmt.Sprintf("p-%d", (i+l)%7)),
			"quantity":  ddbitem.Num(fmt.Sprint(l + 1)),
			"price":     ddbitem.Num(fmt.Sprintf("%d.5", 3+l)),
		}))
	}
	return ddbitem.Item{
		"orderId":      ddbitem.Str(fmt.Sprintf("o-%02d", i)),
		"customerId":   ddbitem.Str(fmt.Sprintf("c-%d", c)),
		"customerName": ddbitem.Str(fmt.Sprintf("Customer %d", c)),
		"total":        ddbitem.Num(fmt.Sprintf("%d.5", 10+i)),
		"status":       ddbitem.Str("NEW"),
		"createdAt":    ddbitem.Str(fmt.Sprintf("2024-03-01T10:%02d:00+02:00", i)),
		"items":        ddbitem.ListOf(lines...),
		"meta":         ddbitem.MapOf(map[string]ddbitem.Value{"weight": ddbitem.Num("1.5"), "gift": ddbitem.Bool(i%2 == 0)}),
	}
}

// newFixture creates a DynamoDB table with nItems orders and loads
// PostgreSQL with the rows the mapping gives for them.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{ddb: testDynamoDB(t), table: teststack.UniqueName(t, "Orders")}
	dir := t.TempDir()
	mp := filepath.Join(dir, "mapping.yaml")
	if err := os.WriteFile(mp, []byte(exportgen.MappingYAML(f.table)), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := mapping.Load(mp)
	if err != nil {
		t.Fatal(err)
	}
	f.m = m
	_, err = f.ddb.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(f.table),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("orderId"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("orderId"), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.ddb.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(f.table)}) //nolint:errcheck
	})
	f.dsn = testPostgres(t)
	pool, err := pgxpool.New(ctx, f.dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	f.pool = pool
	if _, err := pool.Exec(ctx, m.DDL()); err != nil {
		t.Fatalf("DDL: %v\n%s", err, m.DDL())
	}
	stmts := pgwrite.For(m)
	for i := range nItems {
		it := orderItem(i)
		f.items = append(f.items, it)
		f.put(t, it)
		rows, rej := m.Rows(it)
		if rej != nil {
			t.Fatal(rej)
		}
		for ti, st := range stmts {
			for _, row := range rows[ti] {
				sql := st.Insert
				if st.T.Shared {
					sql = st.Upsert
				}
				if _, err := pool.Exec(ctx, sql, row...); err != nil {
					t.Fatalf("loading %s: %v", st.T.Name, err)
				}
			}
		}
		f.lines += i%3 + 1
	}
	return f
}

func (f *fixture) put(t *testing.T, it ddbitem.Item) {
	t.Helper()
	if _, err := f.ddb.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(f.table), Item: it.AttributeValues()}); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	tag, err := f.pool.Exec(context.Background(), sql, args...)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	if tag.RowsAffected() != 1 {
		t.Fatalf("%s: %d rows", sql, tag.RowsAffected())
	}
}

func (f *fixture) run(t *testing.T, opts Options) *report.Result {
	t.Helper()
	res, err := Run(context.Background(), f.m, f.ddb, f.pool, opts)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	return res
}

func counts(t *testing.T, res *report.Result, table string, want report.TableCounts) {
	t.Helper()
	got := res.Tables[table]
	if got == nil {
		t.Fatalf("no table %s in result", table)
	}
	if *got != want {
		t.Errorf("table %s: got %+v, want %+v", table, *got, want)
	}
}

func dump(t *testing.T, res *report.Result) {
	b, _ := json.MarshalIndent(res, "", "  ")
	t.Logf("result: %s", b)
}

func TestCleanMigrationIsGO(t *testing.T) {
	f := newFixture(t)
	// Same meaning, other spelling: must not count.
	f.exec(t, `UPDATE orders SET total = 10.50 WHERE id = 'o-00'`)
	f.exec(t, `UPDATE orders SET attrs = '{"meta": {"gift": true, "weight": 1.50}}' WHERE id = 'o-00'`)
	res := f.run(t, Options{Segments: 3})
	if res.Verdict != report.GO || res.DivergentRows != 0 || !res.Complete {
		dump(t, res)
		t.Fatalf("verdict %s, divergent %d", res.Verdict, res.DivergentRows)
	}
	counts(t, res, "customers", report.TableCounts{Shared: true, ExpectedRows: 5, Matched: 5})
	counts(t, res, "orders", report.TableCounts{ExpectedRows: nItems, Matched: nItems})
	counts(t, res, "order_items", report.TableCounts{ExpectedRows: int64(f.lines), Matched: int64(f.lines)})
	if res.Items.Read != nItems || res.ExtraPass != "done" || res.Mode != "scan" {
		t.Errorf("items %+v extra pass %q mode %q", res.Items, res.ExtraPass, res.Mode)
	}
	if len(res.Samples) != 0 {
		t.Errorf("samples: %+v", res.Samples)
	}
}

func TestEveryDivergenceClass(t *testing.T) {
	f := newFixture(t)
	f.exec(t, `DELETE FROM orders WHERE id = 'o-01'`)                                                        // missing
	f.exec(t, `UPDATE orders SET status = 'SHIPPED' WHERE id = 'o-02'`)                                      // mismatched
	f.exec(t, `INSERT INTO orders (id, customer_id, status) VALUES ('o-99', 'c-1', 'NEW')`)                  // extra
	f.exec(t, `DELETE FROM order_items WHERE order_id = 'o-05' AND line = 2`)                                // missing child (o-05 has 3 lines)
	f.exec(t, `INSERT INTO order_items (order_id, line, product_id, quantity) VALUES ('o-04', 7, 'p-1', 1)`) // extra child
	// shared conflict: o-06 names customer c-1 differently
	it := orderItem(6)
	it["customerName"] = ddbitem.Str("Someone Else")
	f.put(t, it)

	res := f.run(t, Options{Segments: 4, MaxDivergence: 4})
	if res.Verdict != report.NOGO || res.DivergentRows != 5 {
		dump(t, res)
		t.Fatalf("verdict %s, divergent %d", res.Verdict, res.DivergentRows)
	}
	counts(t, res, "customers", report.TableCounts{Shared: true, ExpectedRows: 5, Matched: 4, SharedConflict: 1})
	counts(t, res, "orders", report.TableCounts{ExpectedRows: nItems, Matched: nItems - 2, Missing: 1, Mismatched: 1, Extra: 1})
	counts(t, res, "order_items", report.TableCounts{ExpectedRows: int64(f.lines), Matched: int64(f.lines) - 1, Missing: 1, Extra: 1})

	want := map[string]bool{
		`orders missing {"id":"o-01"} `:                       false,
		`orders mismatched {"id":"o-02"} status`:              false,
		`orders extra {"id":"o-99"} `:                         false,
		`order_items missing {"order_id":"o-05","line":"2"} `: false,
		`order_items extra {"order_id":"o-04","line":"7"} `:   false,
		`customers shared_conflict {"id":"c-1"} name`:         false,
	}
	for _, s := range res.Samples {
		k := s.Table + " " + s.Class + " " + s.Row + " " + s.Column
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected sample %+v", s)
			continue
		}
		want[k] = true
		switch s.Class {
		case report.Mismatched:
			if *s.DynamoDBValue != "NEW" || *s.PostgresValue != "SHIPPED" || s.Key != `[{"S":"o-02"}]` {
				t.Errorf("mismatch sample %+v", s)
			}
		case report.SharedConflict:
			vals := []string{*s.DynamoDBValue, *s.OtherValue}
			if s.OtherKey == "" || !(strings.Contains(strings.Join(vals, "|"), "Someone Else") && strings.Contains(strings.Join(vals, "|"), "Customer 1")) {
				t.Errorf("conflict sample %+v", s)
			}
		case report.Extra:
			if s.PostgresValue == nil || s.DynamoDBValue != nil {
				t.Errorf("extra sample %+v", s)
			}
		case report.Missing:
			if s.PostgresValue != nil || s.DynamoDBValue == nil {
				t.Errorf("missing sample %+v", s)
			}
		}
	}
	for k, seen := range want {
		if !seen {
			t.Errorf("no sample %s", k)
		}
	}
	// within the allowance: GO
	res = f.run(t, Options{Segments: 2, MaxDivergence: 5})
	if res.Verdict != report.GO {
		t.Errorf("max divergence 5: verdict %s (%d)", res.Verdict, res.DivergentRows)
	}
}

// TestRejectedItemWithRowsIsExtra: an item whose current version the mapping
// rejects expects no rows. While PostgreSQL still holds the rows of an
// earlier version (the stream has not applied the change), they are extra:
// NO-GO, in a full scan and in --keys mode. Once they are gone (as the
// stream's apply of the rejected image does), the item is only listed.
func TestRejectedItemWithRowsIsExtra(t *testing.T) {
	f := newFixture(t)
	it := orderItem(7)                    // two order lines
	it["status"] = ddbitem.Str("NEW\x00") // U+0000: text cannot hold it
	it2 := orderItem(8)                   // three order lines
	it2["total"] = ddbitem.Num("1.005")   // does not fit numeric(12,2)
	f.put(t, it)
	f.put(t, it2)
	listed := func(res *report.Result) {
		t.Helper()
		if res.Items.Rejected != 2 || len(res.Rejected) != 2 || res.Rejected[0].Key != `[{"S":"o-07"}]` ||
			res.Rejected[0].Table != "orders" || res.Rejected[0].Column != "status" || res.Rejected[1].Column != "total" {
			dump(t, res)
			t.Fatalf("rejected: %+v", res.Rejected)
		}
	}
	// their rows stay as loaded
	res := f.run(t, Options{Segments: 2})
	listed(res)
	if res.Verdict != report.NOGO || res.DivergentRows != 7 {
		dump(t, res)
		t.Fatalf("full scan: verdict %s, divergent %d", res.Verdict, res.DivergentRows)
	}
	counts(t, res, "orders", report.TableCounts{ExpectedRows: nItems - 2, Matched: nItems - 2, Extra: 2, Rejected: 2})
	counts(t, res, "order_items", report.TableCounts{ExpectedRows: int64(f.lines) - 5, Matched: int64(f.lines) - 5, Extra: 5})
	extra := 0
	for _, s := range res.Samples {
		if s.Class == report.Extra && (s.Key == `[{"S":"o-07"}]` || s.Key == `[{"S":"o-08"}]`) && s.PostgresValue != nil {
			extra++
		}
	}
	if extra != 7 {
		dump(t, res)
		t.Errorf("extra samples naming the rejected items: %d, want 7", extra)
	}

	keys := "o-07\no-08\n"
	res = f.run(t, Options{Keys: NewKeyReader(strings.NewReader(keys), []string{"orderId"}, true), KeysFile: "keys.txt"})
	listed(res)
	if res.Verdict != report.NOGO || res.DivergentRows != 7 {
		dump(t, res)
		t.Fatalf("keys mode: verdict %s, divergent %d", res.Verdict, res.DivergentRows)
	}

	// the stream applies the rejected versions: their rows go
	for _, id := range []string{"o-07", "o-08"} {
		if _, err := f.pool.Exec(context.Background(), `DELETE FROM order_items WHERE order_id = $1`, id); err != nil {
			t.Fatal(err)
		}
		f.exec(t, `DELETE FROM orders WHERE id = $1`, id)
	}
	res = f.run(t, Options{Segments: 3})
	listed(res)
	if res.Verdict != report.GO || res.DivergentRows != 0 {
		dump(t, res)
		t.Fatalf("after the rows went: verdict %s, divergent %d", res.Verdict, res.DivergentRows)
	}
	counts(t, res, "orders", report.TableCounts{ExpectedRows: nItems - 2, Matched: nItems - 2, Rejected: 2})
}

func TestSampleMode(t *testing.T) {
	f := newFixture(t)
	res := f.run(t, Options{Segments: 2, Sample: 10})
	if res.Items.Read != 10 || res.Mode != "sample" || res.Verdict != report.GO {
		dump(t, res)
		t.Fatalf("read %d mode %s verdict %s", res.Items.Read, res.Mode, res.Verdict)
	}
	if res.Tables["orders"].ExpectedRows != 10 || res.Tables["orders"].Matched != 10 {
		t.Errorf("orders %+v", res.Tables["orders"])
	}
	if b := res.SampleBound; b == nil || b.Items != 10 || b.Divergent != 0 || b.UpperRate != report.BinomialUpper(10, 0, 0.95) {
		t.Errorf("sample bound %+v", b)
	}
	// a damaged row is found when its item is in the sample: sample everything
	f.exec(t, `UPDATE orders SET status = 'X' WHERE id = 'o-03'`)
	res = f.run(t, Options{Segments: 2, Sample: nItems})
	if res.Items.Read != nItems || res.Tables["orders"].Mismatched != 1 || res.Verdict != report.NOGO {
		dump(t, res)
		t.Fatalf("full sample: %+v", res.Tables["orders"])
	}
	// one divergent item (its orders row) in 30: bound as for 1 in 30
	if b := res.SampleBound; b == nil || b.Items != nItems || b.Divergent != 1 || b.UpperRate != report.BinomialUpper(nItems, 1, 0.95) {
		t.Errorf("sample bound %+v", b)
	}
	if full := f.run(t, Options{Segments: 2}); full.SampleBound != nil || full.Items.Divergent != 1 {
		t.Errorf("full scan: bound %+v, divergent items %d", full.SampleBound, full.Items.Divergent)
	}
}

func TestKeysMode(t *testing.T) {
	f := newFixture(t)
	f.exec(t, `UPDATE orders SET status = 'X' WHERE id = 'o-03'`)
	f.exec(t, `UPDATE orders SET status = 'X' WHERE id = 'o-04'`) // not in the key file: not seen
	f.exec(t, `INSERT INTO orders (id, customer_id, status) VALUES ('o-99', 'c-1', 'NEW')`)
	keys := "# keys to check\n{\"orderId\":{\"S\":\"o-03\"}}\no-10\n\no-99\no-10\n"
	res := f.run(t, Options{Keys: NewKeyReader(strings.NewReader(keys), []string{"orderId"}, true), KeysFile: "keys.txt"})
	if res.Mode != "keys" || res.Items.Read != 2 || res.Items.Absent != 1 {
		dump(t, res)
		t.Fatalf("mode %s items %+v", res.Mode, res.Items)
	}
	counts(t, res, "orders", report.TableCounts{ExpectedRows: 2, Matched: 1, Mismatched: 1, Extra: 1})
	if res.Verdict != report.NOGO || res.DivergentRows != 2 {
		t.Errorf("verdict %s divergent %d", res.Verdict, res.DivergentRows)
	}
	_, err := NewKeyReader(strings.NewReader("{\"nope\":{\"S\":\"x\"}}\n"), []string{"orderId"}, true).Next()
	if err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("bad key line: %v", err)
	}
}

// failing wraps a client: Scan pages of 4 items, and the table is deleted
// before the third page.
type failing struct {
	*dynamodb.Client
	table string
	calls atomic.Int64
}

func (c *failing) Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	in.Limit = aws.Int32(4)
	if c.calls.Add(1) == 3 {
		if _, err := c.Client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(c.table)}); err != nil {
			return nil, err
		}
	}
	return c.Client.Scan(ctx, in, opts...)
}

func TestReadFailureIsNeverGO(t *testing.T) {
	f := newFixture(t)
	res, err := Run(context.Background(), f.m, &failing{Client: f.ddb, table: f.table}, f.pool, Options{Segments: 1})
	if err == nil {
		t.Fatal("no error after the table was deleted mid-scan")
	}
	if res == nil || res.Verdict != report.NOGO || res.Complete || res.Error == "" {
		t.Fatalf("result after failure: %+v", res)
	}
	t.Logf("error: %v", err)

	// a DynamoDB that cannot be reached at all
	dead := dynamodb.New(dynamodb.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://127.0.0.1:1"),
		Credentials: f.ddb.Options().Credentials, RetryMaxAttempts: 1})
	res, err = Run(context.Background(), f.m, dead, f.pool, Options{})
	if err == nil || res.Verdict != report.NOGO {
		t.Fatalf("closed port: err %v verdict %v", err, res.Verdict)
	}
}

// healing repairs PostgreSQL when the suspect is re-read: a change in flight.
type healing struct {
	*dynamodb.Client
	heal func()
	once atomic.Bool
}

func (c *healing) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	if c.once.CompareAndSwap(false, true) {
		c.heal()
	}
	return c.Client.GetItem(ctx, in, opts...)
}

func TestRecheckAbsorbsLag(t *testing.T) {
	f := newFixture(t)
	f.exec(t, `UPDATE orders SET status = 'OLD' WHERE id = 'o-08'`)
	f.exec(t, `UPDATE orders SET status = 'OLD' WHERE id = 'o-09'`)
	h := &healing{Client: f.ddb, heal: func() {
		f.exec(t, `UPDATE orders SET status = 'NEW' WHERE id = 'o-08'`)
	}}
	res, err := Run(context.Background(), f.m, h, f.pool, Options{Segments: 1, Recheck: 2, RecheckDelay: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Recheck != (report.Recheck{Suspects: 2, Resolved: 1, Persisted: 1}) || res.Tables["orders"].Mismatched != 1 {
		dump(t, res)
		t.Fatalf("recheck %+v", res.Recheck)
	}
}

func TestMaxRCU(t *testing.T) {
	f := newFixture(t)
	res := f.run(t, Options{Segments: 2, MaxRCU: 1000})
	if res.Timing.ConsumedRCU <= 0 || res.Verdict != report.GO {
		t.Fatalf("consumed %v verdict %s", res.Timing.ConsumedRCU, res.Verdict)
	}
	b := newBucket(10)
	b.charge(types.ConsumedCapacity{CapacityUnits: aws.Float64(15)}) // 10 - 15 = -5: half a second of debt
	start := time.Now()
	if err := b.wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 400*time.Millisecond || d > 2*time.Second {
		t.Errorf("waited %v for 5 RCU of debt at 10 RCU/s", d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b.charge(types.ConsumedCapacity{CapacityUnits: aws.Float64(100)})
	if err := b.wait(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled wait: %v", err)
	}
}

const singleTableMapping = `version: 1
source:
  table: %s
  key: [PK, SK]
tables:
  - name: customers
    when: {attribute: SK, equals: PROFILE}
    primary_key: [id]
    columns:
      - {name: id,   from: PK,   type: text, strip_prefix: "CUSTOMER#"}
      - {name: name, from: name, type: text}
  - name: orders
    when: {attribute: SK, begins_with: "ORDER#"}
    primary_key: [customer_id, order_no]
    columns:
      - {name: customer_id, from: PK,    type: text,    strip_prefix: "CUSTOMER#"}
      - {name: order_no,    from: SK,    type: bigint,  strip_prefix: "ORDER#"}
      - {name: total,       from: total, type: numeric}
`

// TestSingleTableDesign covers key columns with strip_prefix, a key
// attribute pinned by when: equals, and the extra pass rebuilding such keys.
func TestSingleTableDesign(t *testing.T) {
	ctx := context.Background()
	db := testDynamoDB(t)
	table := teststack.UniqueName(t, "Single")
	if _, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName: aws.String(table),
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String("PK"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("SK"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema: []types.KeySchemaElement{{AttributeName: aws.String("PK"), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String("SK"), KeyType: types.KeyTypeRange}},
		BillingMode: types.BillingModePayPerRequest,
	}); err != nil {
		t.Fatal(err)
	}
	mp := filepath.Join(t.TempDir(), "mapping.yaml")
	if err := os.WriteFile(mp, []byte(fmt.Sprintf(singleTableMapping, table)), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := mapping.Load(mp)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.New(ctx, testPostgres(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := pool.Exec(ctx, m.DDL()); err != nil {
		t.Fatal(err)
	}
	stmts := pgwrite.For(m)
	var items []ddbitem.Item
	for c := range 4 {
		pk := ddbitem.Str(fmt.Sprintf("CUSTOMER#%d", c))
		items = append(items, ddbitem.Item{"PK": pk, "SK": ddbitem.Str("PROFILE"), "name": ddbitem.Str(fmt.Sprintf("n%d", c))})
		for o := range 3 {
			items = append(items, ddbitem.Item{"PK": pk, "SK": ddbitem.Str(fmt.Sprintf("ORDER#%d", o+10*c)), "total": ddbitem.Num(fmt.Sprintf("%d.5", o))})
		}
	}
	for _, it := range items {
		if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: it.AttributeValues()}); err != nil {
			t.Fatal(err)
		}
		rows, rej := m.Rows(it)
		if rej != nil {
			t.Fatal(rej)
		}
		for ti, st := range stmts {
			for _, row := range rows[ti] {
				if _, err := pool.Exec(ctx, st.Insert, row...); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	res, err := Run(ctx, m, db, pool, Options{Segments: 2})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != report.GO {
		dump(t, res)
		t.Fatalf("clean single-table: %s", res.Verdict)
	}
	counts(t, res, "customers", report.TableCounts{ExpectedRows: 4, Matched: 4})
	counts(t, res, "orders", report.TableCounts{ExpectedRows: 12, Matched: 12})

	for _, sql := range []string{
		`INSERT INTO customers (id, name) VALUES ('9', 'ghost')`,                   // no CUSTOMER#9 / PROFILE item
		`INSERT INTO orders (customer_id, order_no, total) VALUES ('1', 77, 1)`,    // no CUSTOMER#1 / ORDER#77 item
		`UPDATE orders SET total = 2.50 WHERE customer_id = '2' AND order_no = 22`, // same value
		`UPDATE orders SET total = 9 WHERE customer_id = '3' AND order_no = 31`,
	} {
		if _, err := pool.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	res, err = Run(ctx, m, db, pool, Options{Segments: 2})
	if err != nil {
		t.Fatal(err)
	}
	counts(t, res, "customers", report.TableCounts{ExpectedRows: 4, Matched: 4, Extra: 1})
	counts(t, res, "orders", report.TableCounts{ExpectedRows: 12, Matched: 11, Extra: 1, Mismatched: 1})
	if res.DivergentRows != 3 {
		dump(t, res)
		t.Fatalf("divergent %d", res.DivergentRows)
	}
	for _, s := range res.Samples {
		if s.Class == report.Extra && s.Table == "orders" && s.Row != `{"customer_id":"1","order_no":"77"}` {
			t.Errorf("extra sample %+v", s)
		}
	}
}
