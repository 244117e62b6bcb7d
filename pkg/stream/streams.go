package stream

import (
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
)

// FromStreams converts a record returned by the Streams API's GetRecords,
// read from shardID. On error the returned record still carries what could be
// read.
func FromStreams(shardID string, r types.Record) (Record, error) {
	rec := Record{
		EventID:   aws.ToString(r.EventID),
		EventName: EventName(r.EventName),
		ShardID:   shardID,
	}
	if r.UserIdentity != nil && aws.ToString(r.UserIdentity.Type) == ttlIdentityType &&
		aws.ToString(r.UserIdentity.PrincipalId) == ttlIdentityPrincipal {
		rec.TTL = true
	}
	if src := aws.ToString(r.EventSource); src != "" && src != LambdaEventSource {
		return rec, fmt.Errorf("eventSource %q is not %q", src, LambdaEventSource)
	}
	c := r.Dynamodb
	if c == nil {
		return rec, fmt.Errorf("record %s has no dynamodb section", rec.EventID)
	}
	rec.Seq = aws.ToString(c.SequenceNumber)
	rec.StreamViewType = string(c.StreamViewType)
	if c.ApproximateCreationDateTime != nil {
		rec.ApproxTime = *c.ApproximateCreationDateTime
	}
	var err error
	if rec.Keys, err = SDKItem(c.Keys); err != nil {
		return rec, fmt.Errorf("Keys: %w", err)
	}
	if rec.NewImage, err = SDKItem(c.NewImage); err != nil {
		return rec, fmt.Errorf("NewImage: %w", err)
	}
	if rec.OldImage, err = SDKItem(c.OldImage); err != nil {
		return rec, fmt.Errorf("OldImage: %w", err)
	}
	return rec, rec.Check()
}

// SDKItem converts a Streams API attribute map (nil stays nil).
func SDKItem(m map[string]types.AttributeValue) (ddbitem.Item, error) {
	if m == nil {
		return nil, nil
	}
	it := make(ddbitem.Item, len(m))
	for k, v := range m {
		dv, err := sdkValue(v)
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", k, err)
		}
		it[k] = dv
	}
	return it, nil
}

func sdkValue(v types.AttributeValue) (ddbitem.Value, error) {
	switch t := v.(type) {
	case *types.AttributeValueMemberS:
		return ddbitem.Str(t.Value), nil
	case *types.AttributeValueMemberN:
		return ddbitem.CheckedNum(t.Value)
	case *types.AttributeValueMemberB:
		return ddbitem.Bin(t.Value), nil
	case *types.AttributeValueMemberBOOL:
		return ddbitem.Bool(t.Value), nil
	case *types.AttributeValueMemberNULL:
		return ddbitem.Null(), nil
	case *types.AttributeValueMemberSS:
		return ddbitem.StrSet(t.Value...), nil
	case *types.AttributeValueMemberNS:
		return ddbitem.CheckedNumSet(t.Value...)
	case *types.AttributeValueMemberBS:
		return ddbitem.BinSet(t.Value...), nil
	case *types.AttributeValueMemberL:
		out := make([]ddbitem.Value, len(t.Value))
		for i, e := range t.Value {
			dv, err := sdkValue(e)
			if err != nil {
				return ddbitem.Value{}, fmt.Errorf("[%d]: %w", i, err)
			}
			out[i] = dv
		}
		return ddbitem.ListOf(out...), nil
	case *types.AttributeValueMemberM:
		m, err := SDKItem(t.Value)
		if err != nil {
			return ddbitem.Value{}, err
		}
		if m == nil {
			m = ddbitem.Item{}
		}
		return ddbitem.MapOf(m), nil
	case nil:
		return ddbitem.Value{}, fmt.Errorf("missing value")
	}
	return ddbitem.Value{}, fmt.Errorf("unsupported attribute value %T", v)
}
