package ddbitem

import (
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// FromAttributeValue converts an aws-sdk-go-v2 DynamoDB attribute value (as
// Scan, GetItem and BatchGetItem return it) into a Value. Numbers keep their
// decimal text; nothing goes through float64.
func FromAttributeValue(av types.AttributeValue) (Value, error) {
	switch v := av.(type) {
	case *types.AttributeValueMemberS:
		return Str(v.Value), nil
	case *types.AttributeValueMemberN:
		return CheckedNum(v.Value)
	case *types.AttributeValueMemberB:
		return Bin(v.Value), nil
	case *types.AttributeValueMemberBOOL:
		return Bool(v.Value), nil
	case *types.AttributeValueMemberNULL:
		return Null(), nil
	case *types.AttributeValueMemberM:
		m, err := ItemFromAttributeValues(v.Value)
		if err != nil {
			return Value{}, err
		}
		return MapOf(m), nil
	case *types.AttributeValueMemberL:
		l := make([]Value, len(v.Value))
		for i, e := range v.Value {
			x, err := FromAttributeValue(e)
			if err != nil {
				return Value{}, fmt.Errorf("[%d]: %w", i, err)
			}
			l[i] = x
		}
		return ListOf(l...), nil
	case *types.AttributeValueMemberSS:
		return StrSet(v.Value...), nil
	case *types.AttributeValueMemberNS:
		return CheckedNumSet(v.Value...)
	case *types.AttributeValueMemberBS:
		return BinSet(v.Value...), nil
	case nil:
		return Value{}, fmt.Errorf("nil attribute value")
	}
	return Value{}, fmt.Errorf("unsupported attribute value type %T", av)
}

// ItemFromAttributeValues converts an SDK attribute map into an Item.
func ItemFromAttributeValues(m map[string]types.AttributeValue) (Item, error) {
	it := make(Item, len(m))
	for k, av := range m {
		v, err := FromAttributeValue(av)
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", k, err)
		}
		it[k] = v
	}
	return it, nil
}

// AttributeValue converts v into an aws-sdk-go-v2 attribute value (for keys
// of GetItem / BatchGetItem, or writing items in tests and tools).
func (v Value) AttributeValue() types.AttributeValue {
	switch v.Kind {
	case S:
		return &types.AttributeValueMemberS{Value: v.Str}
	case N:
		return &types.AttributeValueMemberN{Value: v.Str}
	case B:
		return &types.AttributeValueMemberB{Value: v.Bin}
	case BOOL:
		return &types.AttributeValueMemberBOOL{Value: v.Bool}
	case M:
		return &types.AttributeValueMemberM{Value: Item(v.Map).AttributeValues()}
	case L:
		l := make([]types.AttributeValue, len(v.List))
		for i, e := range v.List {
			l[i] = e.AttributeValue()
		}
		return &types.AttributeValueMemberL{Value: l}
	case SS:
		return &types.AttributeValueMemberSS{Value: v.Strs}
	case NS:
		return &types.AttributeValueMemberNS{Value: v.Strs}
	case BS:
		return &types.AttributeValueMemberBS{Value: v.Bins}
	}
	return &types.AttributeValueMemberNULL{Value: true}
}

// AttributeValues converts the item into an SDK attribute map.
func (it Item) AttributeValues() map[string]types.AttributeValue {
	m := make(map[string]types.AttributeValue, len(it))
	for k, v := range it {
		m[k] = v.AttributeValue()
	}
	return m
}
