package verify

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ddb2pg/ddb2pg/internal/exportgen"
	"github.com/ddb2pg/ddb2pg/internal/teststack"
	"github.com/ddb2pg/ddb2pg/pkg/apply"
	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
	"github.com/ddb2pg/ddb2pg/pkg/ledger"
	"github.com/ddb2pg/ddb2pg/pkg/mapping"
	"github.com/ddb2pg/ddb2pg/pkg/poll"
	"github.com/ddb2pg/ddb2pg/pkg/report"
	"github.com/ddb2pg/ddb2pg/pkg/schema"
)

// TestGOWhileStreamApplies verifies while items keep changing and the
// stream poller applies the changes: recheck absorbs the lag, the verdict is
// GO, and the report shows the poller's shard state.
func TestGOWhileStreamApplies(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	env := teststack.DynamoDB(t)
	db := env.Client(t)
	table := teststack.UniqueName(t, "Orders")
	if _, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("orderId"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("orderId"), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
		StreamSpecification:  &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewAndOldImages},
	}); err != nil {
		t.Fatal(err)
	}
	mp := filepath.Join(t.TempDir(), "mapping.yaml")
	if err := os.WriteFile(mp, []byte(exportgen.MappingYAML(table)), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := mapping.Load(mp)
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
	eng, err := apply.New(apply.Config{Mapping: m, Ledger: led, Fetcher: &apply.DynamoDBFetcher{Client: db, Table: table}})
	if err != nil {
		t.Fatal(err)
	}
	put := func(it ddbitem.Item) error {
		_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: it.AttributeValues()})
		return err
	}
	for i := range nItems {
		if err := put(orderItem(i)); err != nil {
			t.Fatal(err)
		}
	}
	pollCtx, stopPoll := context.WithCancel(ctx)
	pollDone := make(chan error, 1)
	go func() {
		_, err := poll.Run(pollCtx, poll.Config{Streams: env.StreamsClient(t), Tables: db, Table: table, Engine: eng, DB: pool,
			Ledger: led, PollInterval: 20 * time.Millisecond, RefreshInterval: time.Second})
		pollDone <- err
	}()
	defer func() {
		stopPoll()
		<-pollDone
	}()
	// wait until the poller caught up with the initial load
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM orders`).Scan(&n); err == nil && n == nItems {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the stream poller did not load the items")
		}
		time.Sleep(50 * time.Millisecond)
	}

	// live writes: changed statuses, new and deleted orders
	writeCtx, stopWrites := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var writeErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		r := rand.New(rand.NewPCG(1, 2))
		for n := 0; writeCtx.Err() == nil; n++ {
			i := r.IntN(nItems + 10)
			var err error
			switch {
			case n%7 == 3:
				_, err = db.DeleteItem(writeCtx, &dynamodb.DeleteItemInput{TableName: aws.String(table),
					Key: ddbitem.Item{"orderId": ddbitem.Str(fmt.Sprintf("o-%02d", i))}.AttributeValues()})
			default:
				it := orderItem(i)
				it["status"] = ddbitem.Str(fmt.Sprintf("S%d", n))
				err = put(it)
			}
			if err != nil && writeCtx.Err() == nil {
				writeErr = err
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	res, err := Run(ctx, m, db, pool, Options{Segments: 3, Recheck: 8, RecheckDelay: 100 * time.Millisecond})
	stopWrites()
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if writeErr != nil {
		t.Fatal(writeErr)
	}
	if res.Verdict != report.GO {
		dump(t, res)
		t.Fatalf("verdict %s with live writes: %d divergent", res.Verdict, res.DivergentRows)
	}
	t.Logf("recheck: %+v", res.Recheck)
	if len(res.Stream.Shards) == 0 || res.Stream.Shards[0].LastRecordTime == nil {
		t.Errorf("stream state not reported: %+v", res.Stream)
	}
}
