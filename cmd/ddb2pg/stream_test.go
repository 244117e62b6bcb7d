package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/ddb2pg/ddb2pg/internal/teststack"
	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
	"github.com/ddb2pg/ddb2pg/pkg/mapping"
	"github.com/ddb2pg/ddb2pg/pkg/poll"
)

// streamRoot is the root command with `stream` (registered by main.go, or
// added here until it is).
func streamRoot() *cobra.Command {
	root := newRootCmd()
	for _, c := range root.Commands() {
		if c.Name() == "stream" {
			return root
		}
	}
	root.AddCommand(newStreamCmd())
	return root
}

func runStream(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := streamRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs(append([]string{"stream"}, args...))
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

func TestStreamUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--mapping", sampleMapping, "--database-url", "postgres://x/y", "--from", "yesterday"},
		{"--mapping", sampleMapping, "--database-url", "postgres://x/y", "--ttl-deletes", "later"},
		{"--mapping", sampleMapping, "--database-url", "postgres://x/y", "--ttl-deletes", "soft"},
		{"--database-url", "postgres://x/y"},
		{"--mapping", sampleMapping, "--database-url", "postgres://x/y", "--shard-concurrency", "0"},
		{"--mapping", sampleMapping, "--database-url", "postgres://x/y", "--refresh-interval", "0s"},
		{"--mapping", sampleMapping, "--database-url", "postgres://x/y", "--max-pg-outage", "0s"},
		{"--mapping", sampleMapping, "--database-url", "postgres://x/y", "--forget-position"},
	} {
		t.Setenv("DDB2PG_SOFT_DELETE_COLUMN", "")
		_, err := runStream(t, args...)
		var ue usageError
		if !errors.As(err, &ue) {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
}

// writes to a DynamoDB Local table with a stream -> `ddb2pg stream
// --until-idle` -> the PostgreSQL tables equal the mapping of a scan.
func TestStreamCommandEndToEnd(t *testing.T) {
	ctx := context.Background()
	db, table, mp := streamTable(t)
	m, err := mapping.Load(mp)
	if err != nil {
		t.Fatal(err)
	}
	item := func(id, customer, status string, products ...string) ddbitem.Item {
		it := ddbitem.Item{"orderId": ddbitem.Str(id), "customerId": ddbitem.Str(customer), "customerName": ddbitem.Str("n" + customer),
			"total": ddbitem.Num("9.99"), "status": ddbitem.Str(status), "createdAt": ddbitem.Str("2026-01-02T03:04:05Z")}
		var l []ddbitem.Value
		for i, p := range products {
			l = append(l, ddbitem.MapOf(map[string]ddbitem.Value{"productId": ddbitem.Str(p), "quantity": ddbitem.Num(fmt.Sprint(i + 1)), "price": ddbitem.Num("1.25")}))
		}
		if l != nil {
			it["items"] = ddbitem.ListOf(l...)
		}
		return it
	}
	put := func(it ddbitem.Item) {
		if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: it.AttributeValues()}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 12; i++ {
		put(item(fmt.Sprintf("o%d", i), fmt.Sprintf("c%d", i%4), "new", "p1", "p2"))
	}
	put(item("o1", "c1", "paid", "p1"))
	put(item("o2", "c2", "paid", "p1", "p2", "p3"))
	if _, err := db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(table), Key: ddbitem.Item{"orderId": ddbitem.Str("o3")}.AttributeValues()}); err != nil {
		t.Fatal(err)
	}
	dsn := teststack.Postgres(t)
	out, err := runStream(t, "--mapping", mp, "--database-url", dsn, "--until-idle", "1s", "--poll-interval", "100ms")
	if err != nil {
		t.Fatalf("stream: %v\n%s", err, out)
	}
	if !strings.Contains(out, "15 records, 15 applied") {
		t.Errorf("summary: %s", out)
	}
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	// Expected: the mapping's rows of a scan.
	scan, err := db.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{}
	for _, av := range scan.Items {
		it, err := ddbitem.ItemFromAttributeValues(av)
		if err != nil {
			t.Fatal(err)
		}
		rows, rej := m.Rows(it)
		if rej != nil {
			t.Fatal(rej)
		}
		for ti, tb := range m.Tables {
			if tb.Shared {
				continue
			}
			for range rows[ti] {
				want[tb.Name] = append(want[tb.Name], "")
			}
		}
	}
	for _, tb := range m.Tables {
		if tb.Shared {
			continue
		}
		var n int
		if err := pool.QueryRow(ctx, "SELECT count(*) FROM "+tb.Ident.Sanitize()).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != len(want[tb.Name]) {
			t.Errorf("%s: %d rows, the scan maps to %d", tb.Name, n, len(want[tb.Name]))
		}
	}
	// Row contents: the items' ids, statuses and lines.
	var got []string
	rows, err := pool.Query(ctx, `SELECT o.id || ':' || o.status || ':' || coalesce(string_agg(i.product_id, ',' ORDER BY i.line), '')
		FROM orders o LEFT JOIN order_items i ON i.order_id = o.id GROUP BY o.id, o.status`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		rows.Scan(&s)
		got = append(got, s)
	}
	var exp []string
	for _, av := range scan.Items {
		it, _ := ddbitem.ItemFromAttributeValues(av)
		var ps []string
		for _, e := range it["items"].List {
			ps = append(ps, e.Map["productId"].Str)
		}
		exp = append(exp, it["orderId"].Str+":"+it["status"].Str+":"+strings.Join(ps, ","))
	}
	sort.Strings(got)
	sort.Strings(exp)
	if strings.Join(got, " ") != strings.Join(exp, " ") {
		t.Errorf("orders:\n%v\nwant\n%v", got, exp)
	}
	// A second run has nothing new.
	out, err = runStream(t, "--mapping", mp, "--database-url", dsn, "--until-idle", "500ms", "--poll-interval", "100ms")
	if err != nil || !strings.Contains(out, "0 records") {
		t.Errorf("second run: %v %s", err, out)
	}
}

// A lost-data error ends with the commands that recover from it.
func TestStreamRecoveryHint(t *testing.T) {
	const old = "arn:aws:dynamodb:us-east-1:123456789012:table/Orders/stream/2026-12-01T00:00:00.000"
	const nu = "arn:aws:dynamodb:us-east-1:123456789012:table/Orders/stream/2026-12-02T10:20:30.000"
	last := time.Date(2026, 12, 1, 23, 59, 30, 0, time.UTC)
	for _, tc := range []struct {
		err  error
		want []string
	}{
		{&poll.LostError{StreamARN: old, ShardID: "A", AfterSeq: "100"},
			[]string{"ddb2pg export;", "--stream-arn " + old + " --forget-position --from trim-horizon"}},
		{&poll.StreamChangedError{Table: "Orders", OldARN: old, NewARN: nu, LastRecordTime: last},
			[]string{"--incremental --from 2026-12-01T23:59:00Z --to 2026-12-02T10:21:00Z", "--stream-arn " + nu + " --from trim-horizon"}},
		{&poll.StreamChangedError{Table: "Orders", OldARN: old}, []string{"enable the table's stream"}},
		{fmt.Errorf("wrapped: %w", &poll.LostError{StreamARN: old, ShardID: "A"}), []string{"--forget-position"}},
	} {
		got := withRecovery(tc.err).Error()
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("%v\nwant it to contain %q", got, w)
			}
		}
		if !errors.Is(withRecovery(tc.err), tc.err) {
			t.Errorf("%v does not wrap the error", got)
		}
	}
	if err := errors.New("other"); withRecovery(err) != err {
		t.Error("another error was changed")
	}
}

// TestStreamSaysWhyRecordsWereRejected: the poller's exit says why records
// were rejected, counted by reason, with the SQL for the rest; a run that
// rejects nothing prints no such summary.
func TestStreamSaysWhyRecordsWereRejected(t *testing.T) {
	ctx := context.Background()
	db, table, mp := streamTable(t)
	for i, total := range []string{"9.99", "1.005", "2.005"} { // numeric(12,2) refuses the last two
		it := ddbitem.Item{"orderId": ddbitem.Str(fmt.Sprintf("o%d", i)), "customerId": ddbitem.Str("c1"),
			"total": ddbitem.Num(total), "status": ddbitem.Str("new")}
		if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: it.AttributeValues()}); err != nil {
			t.Fatal(err)
		}
	}
	dsn := teststack.Postgres(t)
	out, err := runStream(t, "--mapping", mp, "--database-url", dsn, "--until-idle", "1s", "--poll-interval", "100ms")
	if err != nil {
		t.Fatalf("stream: %v\n%s", err, out)
	}
	for _, s := range []string{"3 records, 1 applied", "why items were rejected", "  2 ", "orders.total", `[{"S":"o1"}]`,
		"AND shard_id IS NOT NULL AND created_at >= '"} {
		if !strings.Contains(out, s) {
			t.Errorf("output should contain %q:\n%s", s, out)
		}
	}
	out, err = runStream(t, "--mapping", mp, "--database-url", dsn, "--until-idle", "500ms", "--poll-interval", "100ms")
	if err != nil || strings.Contains(out, "why items were rejected") {
		t.Errorf("second run (nothing rejected): %v\n%s", err, out)
	}
}

// streamTable creates an Orders-shaped DynamoDB Local table with a
// NEW_AND_OLD_IMAGES stream, points the AWS environment at DynamoDB Local,
// and writes the sample mapping with that table as its source.
func streamTable(t *testing.T) (db *dynamodb.Client, table, mappingPath string) {
	t.Helper()
	env := teststack.DynamoDB(t)
	env.Setenv(t)
	db = env.Client(t)
	table = teststack.UniqueName(t, "orders")
	if _, err := db.CreateTable(context.Background(), &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("orderId"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("orderId"), KeyType: ddbtypes.KeyTypeHash}},
		BillingMode:          ddbtypes.BillingModePayPerRequest,
		StreamSpecification:  &ddbtypes.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: ddbtypes.StreamViewTypeNewAndOldImages},
	}); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(sampleMapping)
	if err != nil {
		t.Fatal(err)
	}
	mappingPath = filepath.Join(t.TempDir(), "mapping.yaml")
	if err := os.WriteFile(mappingPath, []byte(strings.Replace(string(src), "table: Orders", "table: "+table, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	return db, table, mappingPath
}
