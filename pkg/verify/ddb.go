package verify

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddb2pg/ddb2pg/internal/pgerr"
	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
)

// DynamoDB is what verify needs from a DynamoDB client (*dynamodb.Client).
type DynamoDB interface {
	Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
}

// bucket is a token bucket of read capacity units shared by every request
// of a run. A request waits until the balance is positive, then its
// ConsumedCapacity is charged (the balance may go negative: DynamoDB only
// says what a page cost after reading it), so over time the rate stays at
// or below the budget. A rate of 0 means no budget.
type bucket struct {
	mu       sync.Mutex
	rate     float64
	tokens   float64
	last     time.Time
	consumed float64
}

func newBucket(rate float64) *bucket {
	return &bucket{rate: rate, tokens: rate, last: time.Now()}
}

func (b *bucket) refill(now time.Time) {
	b.tokens += now.Sub(b.last).Seconds() * b.rate
	if b.tokens > b.rate {
		b.tokens = b.rate // burst: one second of budget
	}
	b.last = now
}

func (b *bucket) wait(ctx context.Context) error {
	if b.rate <= 0 {
		return nil
	}
	for {
		b.mu.Lock()
		b.refill(time.Now())
		if b.tokens > 0 {
			b.mu.Unlock()
			return nil
		}
		d := time.Duration((-b.tokens + b.rate/100) / b.rate * float64(time.Second))
		b.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
		}
	}
}

func (b *bucket) charge(cc ...types.ConsumedCapacity) {
	var u float64
	for _, c := range cc {
		if c.CapacityUnits != nil {
			u += *c.CapacityUnits
		}
	}
	b.mu.Lock()
	b.consumed += u
	if b.rate > 0 {
		b.refill(time.Now())
		b.tokens -= u
	}
	b.mu.Unlock()
}

func (b *bucket) total() float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.consumed
}

// scanSegment reads one segment of a parallel scan, page by page, calling
// page with each page's items. It stops early when page returns false.
func (v *verifier) scanSegment(ctx context.Context, segment, total int, page func(pageItems) (bool, error)) error {
	return v.scanFrom(ctx, segment, total, nil, func(items pageItems, _ map[string]types.AttributeValue) (bool, error) {
		return page(items)
	})
}

// pageItems are the items of one Scan page, converted one at a time (and
// released once converted) so a page is never held twice in memory.
type pageItems []map[string]types.AttributeValue

// each converts the items in order and calls f with each; it stops when f
// returns false or an error.
func (p pageItems) each(f func(ddbitem.Item) (bool, error)) error {
	for i, av := range p {
		it, err := ddbitem.ItemFromAttributeValues(av)
		if err != nil {
			return fmt.Errorf("decoding a scanned item: %w", err)
		}
		p[i] = nil
		if ok, err := f(it); !ok || err != nil {
			return err
		}
	}
	return nil
}

// batchGet reads the items with the given keys (key attribute maps), 100 per
// request, retrying unprocessed keys. It returns the items found by key.
func (v *verifier) batchGet(ctx context.Context, keys []ddbitem.Item) (map[ddbitem.Key]ddbitem.Item, error) {
	found := make(map[ddbitem.Key]ddbitem.Item, len(keys))
	for start := 0; start < len(keys); start += 100 {
		part := keys[start:min(start+100, len(keys))]
		req := make([]map[string]types.AttributeValue, len(part))
		for i, k := range part {
			req[i] = k.AttributeValues()
		}
		// Unprocessed keys (throttling) are asked again under the one retry
		// policy: 100 ms doubling to 5 s, at most 13 requests in all.
		retry := pgerr.Policy{Initial: 100 * time.Millisecond, Max: 5 * time.Second, MaxAttempts: 13}.Start()
		for attempt := 0; len(req) > 0; attempt++ {
			if attempt > 0 {
				if err := retry.Wait(ctx, errUnprocessed); err != nil {
					var ex *pgerr.ExhaustedError
					if errors.As(err, &ex) {
						return nil, fmt.Errorf("reading DynamoDB table %s: %d keys stayed unprocessed after %d requests", v.m.Source.Table, len(req), ex.Attempts)
					}
					return nil, err
				}
			}
			if err := v.bucket.wait(ctx); err != nil {
				return nil, err
			}
			out, err := v.ddb.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{
				RequestItems: map[string]types.KeysAndAttributes{
					v.m.Source.Table: {Keys: req, ConsistentRead: aws.Bool(v.opts.ConsistentRead)},
				},
				ReturnConsumedCapacity: types.ReturnConsumedCapacityTotal,
			})
			if err != nil {
				return nil, fmt.Errorf("reading DynamoDB table %s (BatchGetItem): %w", v.m.Source.Table, err)
			}
			v.bucket.charge(out.ConsumedCapacity...)
			for _, av := range out.Responses[v.m.Source.Table] {
				it, err := ddbitem.ItemFromAttributeValues(av)
				if err != nil {
					return nil, fmt.Errorf("decoding an item: %w", err)
				}
				k, err := v.m.KeyOf(it)
				if err != nil {
					return nil, err
				}
				found[k] = it
			}
			req = out.UnprocessedKeys[v.m.Source.Table].Keys
		}
	}
	return found, nil
}

// getItem reads one item with a strongly consistent read (recheck); nil
// when DynamoDB does not have it.
func (v *verifier) getItem(ctx context.Context, key ddbitem.Item) (ddbitem.Item, error) {
	if err := v.bucket.wait(ctx); err != nil {
		return nil, err
	}
	out, err := v.ddb.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:              aws.String(v.m.Source.Table),
		Key:                    key.AttributeValues(),
		ConsistentRead:         aws.Bool(true),
		ReturnConsumedCapacity: types.ReturnConsumedCapacityTotal,
	})
	if err != nil {
		return nil, fmt.Errorf("re-reading an item of DynamoDB table %s: %w", v.m.Source.Table, err)
	}
	if out.ConsumedCapacity != nil {
		v.bucket.charge(*out.ConsumedCapacity)
	}
	if out.Item == nil {
		return nil, nil
	}
	return ddbitem.ItemFromAttributeValues(out.Item)
}

// errUnprocessed is what a BatchGetItem that left keys unprocessed counts as.
var errUnprocessed = errors.New("BatchGetItem left keys unprocessed")
