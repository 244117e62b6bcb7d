package poll_test

import (
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
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ddb2pg/ddb2pg/internal/exportgen"
	"github.com/ddb2pg/ddb2pg/internal/teststack"
	"github.com/ddb2pg/ddb2pg/pkg/apply"
	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
	"github.com/ddb2pg/ddb2pg/pkg/ledger"
	"github.com/ddb2pg/ddb2pg/pkg/mapping"
	"github.com/ddb2pg/ddb2pg/pkg/poll"
	"github.com/ddb2pg/ddb2pg/pkg/schema"
	"github.com/ddb2pg/ddb2pg/pkg/stream"
)

func TestMain(m *testing.M) { os.Exit(teststack.Run(m)) }

type pg struct {
	dsn  string
	pool *pgxpool.Pool
	led  *ledger.Ledger
	eng  *apply.Engine
}

func newPG(t *testing.T, m *mapping.Mapping, fetcher apply.Fetcher) *pg {
	t.Helper()
	return newPGFor(t, m, teststack.Postgres(t), fetcher)
}

// newPGFor is newPG on the database at dsn.
func newPGFor(t *testing.T, m *mapping.Mapping, dsn string, fetcher apply.Fetcher) *pg {
	t.Helper()
	ctx := context.Background()
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
	eng, err := apply.New(apply.Config{Mapping: m, Ledger: led, Fetcher: fetcher})
	if err != nil {
		t.Fatal(err)
	}
	return &pg{dsn: dsn, pool: pool, led: led, eng: eng}
}

func dump(t *testing.T, pool *pgxpool.Pool, m *mapping.Mapping, shared bool) string {
	t.Helper()
	var sb strings.Builder
	for _, tb := range m.Tables {
		if tb.Shared != shared {
			continue
		}
		rows, err := pool.Query(context.Background(), "SELECT row_to_json(t)::text FROM "+tb.Ident.Sanitize()+" t")
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, s)
		}
		sort.Strings(lines)
		fmt.Fprintf(&sb, "%s:\n  %s\n", tb.Name, strings.Join(lines, "\n  "))
	}
	return sb.String()
}

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

// expected applies a scan of the table to a fresh database: what the mapping
// gives for the table's current items.
func expected(t *testing.T, ctx context.Context, db *dynamodb.Client, table string, m *mapping.Mapping) *pg {
	t.Helper()
	ref := newPG(t, m, nil)
	out, err := db.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	var recs []stream.Record
	for i, av := range out.Items {
		it, err := ddbitem.ItemFromAttributeValues(av)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, stream.Record{EventName: stream.Insert, Seq: fmt.Sprint(i + 1), NewImage: it,
			Keys: ddbitem.Item{"orderId": it["orderId"]}})
	}
	if res := ref.eng.Apply(ctx, ref.pool, recs, nil); res.Err != nil {
		t.Fatal(res.Err)
	}
	return ref
}

func TestStreamEndToEndDynamoDBLocal(t *testing.T) {
	ctx := context.Background()
	env := teststack.DynamoDB(t)
	db := env.Client(t)
	table := teststack.UniqueName(t, "orders")
	if _, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("orderId"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("orderId"), KeyType: ddbtypes.KeyTypeHash}},
		BillingMode:          ddbtypes.BillingModePayPerRequest,
		StreamSpecification:  &ddbtypes.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: ddbtypes.StreamViewTypeNewAndOldImages},
	}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "mapping.yaml")
	if err := os.WriteFile(path, []byte(exportgen.MappingYAML(table)), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := mapping.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	putItem := func(it ddbitem.Item) {
		t.Helper()
		if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: it.AttributeValues()}); err != nil {
			t.Fatal(err)
		}
	}
	deleteItem := func(id string) {
		t.Helper()
		if _, err := db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(table),
			Key: ddbitem.Item{"orderId": ddbitem.Str(id)}.AttributeValues()}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 20; i++ {
		putItem(order(fmt.Sprintf("o%02d", i), fmt.Sprintf("c%d", i%3), "new", "p1", "p2", "p3"))
	}
	putItem(order("o01", "c1", "paid", "p1"))                   // shrink
	putItem(order("o02", "c2", "paid", "p1", "p2", "p3", "p4")) // grow
	deleteItem("o03")
	if _, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(table),
		Key:                       ddbitem.Item{"orderId": ddbitem.Str("o04")}.AttributeValues(),
		UpdateExpression:          aws.String("SET #s = :s REMOVE #i"),
		ExpressionAttributeNames:  map[string]string{"#s": "status", "#i": "items"},
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":s": &ddbtypes.AttributeValueMemberS{Value: "shipped"}},
	}); err != nil {
		t.Fatal(err)
	}
	deleteItem("o05")
	putItem(order("o05", "c0", "recreated", "p9"))

	target := newPG(t, m, &apply.DynamoDBFetcher{Client: db, Table: table})
	cfg := poll.Config{Streams: env.StreamsClient(t), Tables: db, Table: table, Engine: target.eng, DB: target.pool,
		Ledger: target.led, UntilIdle: 1500 * time.Millisecond, PollInterval: 100 * time.Millisecond}
	st, err := poll.Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if st.Records != 26 || st.Applied != 26 {
		t.Errorf("first run: %+v", st)
	}
	ref := expected(t, ctx, db, table, m)
	if got, want := dump(t, target.pool, m, false), dump(t, ref.pool, m, false); got != want {
		t.Fatalf("tables differ from the mapping of a scan:\n%s\nwant\n%s", got, want)
	}
	if got, want := dump(t, target.pool, m, true), dump(t, ref.pool, m, true); got != want {
		t.Errorf("shared tables differ:\n%s\nwant\n%s", got, want)
	}

	// More changes; a restart resumes after the checkpoint.
	deleteItem("o06")
	putItem(order("o07", "c1", "edited", "p7", "p8"))
	putItem(order("o99", "c9", "new"))
	st, err = poll.Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if st.Records != 3 || st.Applied != 3 || st.Skipped != 0 {
		t.Errorf("restart did not resume after the checkpoint: %+v", st)
	}
	ref = expected(t, ctx, db, table, m)
	if got, want := dump(t, target.pool, m, false), dump(t, ref.pool, m, false); got != want {
		t.Fatalf("after restart, tables differ:\n%s\nwant\n%s", got, want)
	}
	var n int
	if err := target.pool.QueryRow(ctx, `SELECT count(*) FROM ddb2pg.stream_shards WHERE last_seq IS NOT NULL`).Scan(&n); err != nil || n != 1 {
		t.Errorf("checkpoints: %d %v", n, err)
	}
}

// fakeStreams serves a fixed shard tree: a closed parent with records, a
// child, and records per shard.
type fakeStreams struct {
	shards   []types.Shard
	records  map[string][]types.Record
	trimmed  map[string]bool
	expire   map[string]bool // the next GetRecords on this shard fails with ExpiredIteratorException
	throttle int             // this many GetRecords calls fail with LimitExceededException
	view     types.StreamViewType
	reads    []string
}

func (f *fakeStreams) DescribeStream(_ context.Context, in *dynamodbstreams.DescribeStreamInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error) {
	// One shard per page, to exercise paging.
	i := 0
	if in.ExclusiveStartShardId != nil {
		for j, s := range f.shards {
			if *s.ShardId == *in.ExclusiveStartShardId {
				i = j + 1
			}
		}
	}
	d := &types.StreamDescription{StreamArn: in.StreamArn, StreamViewType: f.view, Shards: f.shards[i : i+1]}
	if i+1 < len(f.shards) {
		d.LastEvaluatedShardId = f.shards[i].ShardId
	}
	return &dynamodbstreams.DescribeStreamOutput{StreamDescription: d}, nil
}

func (f *fakeStreams) GetShardIterator(_ context.Context, in *dynamodbstreams.GetShardIteratorInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error) {
	if f.trimmed[*in.ShardId] {
		return nil, &types.TrimmedDataAccessException{Message: aws.String("trimmed")}
	}
	pos := 0
	if in.ShardIteratorType == types.ShardIteratorTypeAfterSequenceNumber {
		for i, r := range f.records[*in.ShardId] {
			if *r.Dynamodb.SequenceNumber == *in.SequenceNumber {
				pos = i + 1
			}
		}
	}
	return &dynamodbstreams.GetShardIteratorOutput{ShardIterator: aws.String(fmt.Sprintf("%s|%d", *in.ShardId, pos))}, nil
}

func (f *fakeStreams) GetRecords(_ context.Context, in *dynamodbstreams.GetRecordsInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error) {
	var shard string
	var pos int
	parts := strings.SplitN(*in.ShardIterator, "|", 2)
	shard = parts[0]
	fmt.Sscan(parts[1], &pos)
	if f.throttle > 0 {
		f.throttle--
		return nil, &types.LimitExceededException{Message: aws.String("slow down")}
	}
	if f.expire[shard] {
		delete(f.expire, shard)
		return nil, &types.ExpiredIteratorException{Message: aws.String("expired")}
	}
	f.reads = append(f.reads, shard)
	recs := f.records[shard][pos:]
	if len(recs) > 2 {
		recs = recs[:2]
	}
	out := &dynamodbstreams.GetRecordsOutput{Records: recs}
	next := pos + len(recs)
	closed := false
	for _, s := range f.shards {
		if *s.ShardId == shard && s.SequenceNumberRange.EndingSequenceNumber != nil {
			closed = true
		}
	}
	if !closed || next < len(f.records[shard]) {
		out.NextShardIterator = aws.String(fmt.Sprintf("%s|%d", shard, next))
	}
	return out, nil
}

func srec(seq string, ev types.OperationType, it ddbitem.Item) types.Record {
	sr := &types.StreamRecord{SequenceNumber: aws.String(seq), Keys: stream.ToStreamsAV(ddbitem.Item{"orderId": it["orderId"]}),
		StreamViewType: types.StreamViewTypeNewAndOldImages}
	if ev != types.OperationTypeRemove {
		sr.NewImage = stream.ToStreamsAV(it)
	}
	return types.Record{EventName: ev, Dynamodb: sr, EventSource: aws.String("aws:dynamodb")}
}

// A split: the parent is read to its end before the child, whatever order
// DescribeStream lists them in; the item's change in the child wins.
func TestShardLineage(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "mapping.yaml")
	os.WriteFile(path, []byte(exportgen.MappingYAML("Orders")), 0o644)
	m, err := mapping.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeStreams{view: types.StreamViewTypeNewAndOldImages,
		shards: []types.Shard{
			{ShardId: aws.String("child"), ParentShardId: aws.String("parent"),
				SequenceNumberRange: &types.SequenceNumberRange{StartingSequenceNumber: aws.String("2000000000000000000000")}},
			{ShardId: aws.String("parent"), SequenceNumberRange: &types.SequenceNumberRange{
				StartingSequenceNumber: aws.String("100000000000000000000"), EndingSequenceNumber: aws.String("100000000000000000009")}},
		},
		records: map[string][]types.Record{
			"parent": {
				srec("100000000000000000001", types.OperationTypeInsert, order("o1", "c1", "new", "p1")),
				srec("100000000000000000002", types.OperationTypeModify, order("o1", "c1", "parent-last", "p1", "p2")),
				srec("100000000000000000003", types.OperationTypeInsert, order("o2", "c1", "new")),
			},
			"child": {
				srec("2000000000000000000001", types.OperationTypeModify, order("o1", "c1", "child", "p3")),
				srec("2000000000000000000002", types.OperationTypeRemove, order("o2", "c1", "")),
			},
		}}
	// An expired iterator is renewed from the checkpoint; throttling backs off.
	f.expire = map[string]bool{"child": true}
	f.throttle = 2
	target := newPG(t, m, nil)
	cfg := poll.Config{Streams: f, StreamARN: "arn:test", Engine: target.eng, DB: target.pool, Ledger: target.led,
		UntilIdle: 300 * time.Millisecond, PollInterval: 50 * time.Millisecond}
	st, err := poll.Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if st.Applied != 5 {
		t.Errorf("stats %+v", st)
	}
	firstChild := -1
	lastParent := -1
	for i, s := range f.reads {
		if s == "child" && firstChild < 0 {
			firstChild = i
		}
		if s == "parent" {
			lastParent = i
		}
	}
	if firstChild < lastParent {
		t.Errorf("child read before the parent was finished: %v", f.reads)
	}
	var status string
	var n int
	if err := target.pool.QueryRow(ctx, `SELECT status, (SELECT count(*) FROM orders) FROM orders WHERE id = 'o1'`).Scan(&status, &n); err != nil || status != "child" || n != 1 {
		t.Errorf("o1 status %q, %d orders (%v)", status, n, err)
	}
	var closed bool
	if err := target.pool.QueryRow(ctx, `SELECT closed FROM ddb2pg.stream_shards WHERE shard_id = 'parent'`).Scan(&closed); err != nil || !closed {
		t.Errorf("parent checkpoint closed=%v %v", closed, err)
	}
	// A restart reads nothing again.
	f.reads = nil
	st, err = poll.Run(ctx, cfg)
	if err != nil || st.Records != 0 {
		t.Errorf("restart: %+v %v", st, err)
	}
	for _, s := range f.reads {
		if s == "parent" {
			t.Error("closed parent read again after restart")
		}
	}

	// A trimmed shard is a clear error saying what was lost.
	f.trimmed = map[string]bool{"child": true}
	target2 := newPG(t, m, nil)
	cfg.Engine, cfg.DB, cfg.Ledger = target2.eng, target2.pool, target2.led
	_, err = poll.Run(ctx, cfg)
	var lost *poll.LostError
	if !errors.As(err, &lost) || !strings.Contains(err.Error(), "backfill") || lost.ShardID != "child" {
		t.Errorf("trimmed: %v", err)
	}

	// OLD_IMAGE streams are refused at start.
	f.trimmed = nil
	f.view = types.StreamViewTypeOldImage
	if _, err := poll.Run(ctx, cfg); !errors.Is(err, stream.ErrOldImageOnly) {
		t.Errorf("OLD_IMAGE: %v", err)
	}
}
