package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddb2pg/ddb2pg/internal/exportgen"
	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
)

// ensureTable creates the table when it is missing and waits until it is
// active; it returns the table's latest stream ARN.
func ensureTable(ctx context.Context, cl *dynamodb.Client, table string) (arn string, created bool, err error) {
	out, err := cl.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	var nf *types.ResourceNotFoundException
	switch {
	case errors.As(err, &nf):
		_, err = cl.CreateTable(ctx, &dynamodb.CreateTableInput{
			TableName:            aws.String(table),
			AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("orderId"), AttributeType: types.ScalarAttributeTypeS}},
			KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("orderId"), KeyType: types.KeyTypeHash}},
			BillingMode:          types.BillingModePayPerRequest,
			StreamSpecification: &types.StreamSpecification{StreamEnabled: aws.Bool(true),
				StreamViewType: types.StreamViewTypeNewAndOldImages},
		})
		if err != nil {
			return "", false, fmt.Errorf("create table %s: %w", table, err)
		}
		created = true
		w := dynamodb.NewTableExistsWaiter(cl)
		out, err = w.WaitForOutput(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}, 2*time.Minute)
		if err != nil {
			return "", true, fmt.Errorf("wait for table %s: %w", table, err)
		}
	case err != nil:
		return "", false, fmt.Errorf("describe table %s: %w", table, err)
	}
	t := out.Table
	if t.StreamSpecification == nil || !aws.ToBool(t.StreamSpecification.StreamEnabled) {
		return "", created, fmt.Errorf("table %s exists without a stream", table)
	}
	return aws.ToString(t.LatestStreamArn), created, nil
}

// badOrders names the bad items for describe.
var badOrders []exportgen.BadOrder

func seed(ctx context.Context, cl *dynamodb.Client, c common, workers int) error {
	start := time.Now()
	badOrders = exportgen.BadOrders(c.cfg)
	arn, created, err := ensureTable(ctx, cl, c.table)
	if err != nil {
		return err
	}
	if created {
		fmt.Printf("created table %s (key orderId S, PAY_PER_REQUEST, stream NEW_AND_OLD_IMAGES)\n", c.table)
	} else {
		fmt.Printf("table %s exists\n", c.table)
	}
	batches := make(chan []ddbitem.Item, workers)
	var (
		written  atomic.Int64
		mu       sync.Mutex
		failures []string
		wg       sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range max(workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				n, f, err := writeBatch(ctx, cl, c.table, b)
				written.Add(int64(n))
				if err != nil || len(f) > 0 {
					mu.Lock()
					if err != nil {
						failures = append(failures, err.Error())
						cancel()
					}
					failures = append(failures, f...)
					mu.Unlock()
				}
			}
		}()
	}
	var b []ddbitem.Item
	total := 0
	for it := range exportgen.Orders(c.cfg) {
		total++
		b = append(b, it)
		if len(b) == 25 {
			select {
			case batches <- b:
			case <-ctx.Done():
			}
			b = nil
		}
	}
	if len(b) > 0 && ctx.Err() == nil {
		batches <- b
	}
	close(batches)
	wg.Wait()
	for _, f := range failures {
		fmt.Printf("NOT WRITTEN: %s\n", f)
	}
	if len(failures) > 0 {
		return fmt.Errorf("%d of %d items could not be written: the table and the export differ", total-int(written.Load()), total)
	}
	fmt.Printf("wrote %d items (the export's items, same generator config) in %s\n", written.Load(), since(start))
	if err := readBack(ctx, cl, c); err != nil {
		return err
	}
	fmt.Printf("stream ARN: %s\n", arn)
	return nil
}

// writeBatch writes up to 25 items with BatchWriteItem, retrying
// UnprocessedItems with backoff. When DynamoDB rejects the whole batch (a
// ValidationException: an item it cannot store), it writes the items one by
// one to name each that fails and why.
func writeBatch(ctx context.Context, cl *dynamodb.Client, table string, items []ddbitem.Item) (int, []string, error) {
	reqs := make([]types.WriteRequest, len(items))
	for i, it := range items {
		reqs[i] = types.WriteRequest{PutRequest: &types.PutRequest{Item: it.AttributeValues()}}
	}
	pending := map[string][]types.WriteRequest{table: reqs}
	for attempt := 0; ; attempt++ {
		out, err := cl.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: pending})
		if err != nil {
			var ve interface{ ErrorCode() string }
			if errors.As(err, &ve) && ve.ErrorCode() == "ValidationException" && attempt == 0 {
				return putEach(ctx, cl, table, items)
			}
			return 0, nil, fmt.Errorf("BatchWriteItem: %w", err)
		}
		if len(out.UnprocessedItems[table]) == 0 {
			return len(items), nil, nil
		}
		if attempt == 20 {
			return len(items) - len(out.UnprocessedItems[table]), nil,
				fmt.Errorf("BatchWriteItem: %d items still unprocessed after %d attempts", len(out.UnprocessedItems[table]), attempt+1)
		}
		pending = out.UnprocessedItems
		select {
		case <-time.After(time.Duration(min(1<<attempt, 1000)) * 10 * time.Millisecond):
		case <-ctx.Done():
			return 0, nil, ctx.Err()
		}
	}
}

func putEach(ctx context.Context, cl *dynamodb.Client, table string, items []ddbitem.Item) (int, []string, error) {
	n := 0
	var failed []string
	for _, it := range items {
		_, err := cl.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: it.AttributeValues()})
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s (%s): %v", it["orderId"].Str, describe(it), err))
			continue
		}
		n++
	}
	return n, failed, nil
}

// describe names an order's edge case or bad kind, if it has one.
func describe(it ddbitem.Item) string {
	id := it["orderId"].Str
	for _, e := range exportgen.EdgeCases() {
		if e.OrderID == id {
			return "edge case " + e.Name
		}
	}
	for _, b := range badOrders {
		if b.OrderID == id {
			return "bad item " + b.Kind
		}
	}
	return "regular order"
}

// readBack reads the edge-case and bad orders back (consistent reads) and
// compares them with the generator's, value by value: DynamoDB must have
// stored each unchanged (numbers compare by value: DynamoDB normalises
// "1E+2" to "100"; sets as sets).
func readBack(ctx context.Context, cl *dynamodb.Client, c common) error {
	var ids []string
	if c.cfg.EdgeCases {
		for _, e := range exportgen.EdgeCases() {
			ids = append(ids, e.OrderID)
		}
	}
	for _, b := range exportgen.BadOrders(c.cfg) {
		ids = append(ids, b.OrderID)
	}
	if len(ids) == 0 {
		return nil
	}
	differ := 0
	for _, id := range ids {
		var n int
		if _, err := fmt.Sscanf(id, "ORD-%d", &n); err != nil {
			return fmt.Errorf("order id %s: %w", id, err)
		}
		want := exportgen.Order(c.cfg, n)
		out, err := cl.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(c.table), ConsistentRead: aws.Bool(true),
			Key: map[string]types.AttributeValue{"orderId": &types.AttributeValueMemberS{Value: id}}})
		if err != nil {
			return fmt.Errorf("GetItem %s: %w", id, err)
		}
		got, err := ddbitem.ItemFromAttributeValues(out.Item)
		if err != nil {
			return fmt.Errorf("GetItem %s: %w", id, err)
		}
		if !ddbitem.Equal(ddbitem.MapOf(want), ddbitem.MapOf(got)) {
			differ++
			fmt.Printf("DIFFERS: %s (%s) reads back different from the export's item\n", id, describe(want))
		}
	}
	if differ > 0 {
		return fmt.Errorf("%d of the %d edge-case and bad items read back different: the table and the export differ", differ, len(ids))
	}
	fmt.Printf("read back the %d edge-case and bad items: each equal to the export's (numbers by value, sets as sets)\n", len(ids))
	return nil
}
