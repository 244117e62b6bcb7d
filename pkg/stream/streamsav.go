package stream

import (
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
)

// ToStreamsAV converts an item to the Streams API's attribute values (the
// Streams SDK has its own copy of the DynamoDB types): for fakes and tests.
func ToStreamsAV(it ddbitem.Item) map[string]types.AttributeValue {
	out := make(map[string]types.AttributeValue, len(it))
	for k, v := range it {
		out[k] = toStreamsAV(v)
	}
	return out
}

func toStreamsAV(v ddbitem.Value) types.AttributeValue {
	switch v.Kind {
	case ddbitem.S:
		return &types.AttributeValueMemberS{Value: v.Str}
	case ddbitem.N:
		return &types.AttributeValueMemberN{Value: v.Str}
	case ddbitem.B:
		return &types.AttributeValueMemberB{Value: v.Bin}
	case ddbitem.BOOL:
		return &types.AttributeValueMemberBOOL{Value: v.Bool}
	case ddbitem.M:
		return &types.AttributeValueMemberM{Value: ToStreamsAV(v.Map)}
	case ddbitem.L:
		l := make([]types.AttributeValue, len(v.List))
		for i, e := range v.List {
			l[i] = toStreamsAV(e)
		}
		return &types.AttributeValueMemberL{Value: l}
	case ddbitem.SS:
		return &types.AttributeValueMemberSS{Value: v.Strs}
	case ddbitem.NS:
		return &types.AttributeValueMemberNS{Value: v.Strs}
	case ddbitem.BS:
		return &types.AttributeValueMemberBS{Value: v.Bins}
	}
	return &types.AttributeValueMemberNULL{Value: true}
}
