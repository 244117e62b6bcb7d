package ddbitem

import (
	"encoding/base64"
	"fmt"
	"strings"
)

// KeyError says why an item's primary key could not be read.
type KeyError struct {
	Attribute string
	Reason    string
}

func (e *KeyError) Error() string {
	return fmt.Sprintf("key attribute %q: %s", e.Attribute, e.Reason)
}

// Key is an item's primary key in canonical text form: the key attributes'
// values in key order, typed, as a JSON array ([{"S":"o-1"}] or
// [{"S":"u#1"},{"N":"42"}]). Numbers are canonicalised so "1.0" and "1" name
// the same item, as they do in DynamoDB. It is what the bookkeeping stores.
type Key string

// KeyOf extracts the key of item given the key attribute names (partition
// key first). Key attributes must be S, N or B, as in DynamoDB.
func KeyOf(item Item, attrs []string) (Key, error) {
	var sb strings.Builder
	sb.WriteByte('[')
	for i, a := range attrs {
		v, ok := item[a]
		if !ok || v.IsNull() {
			return "", &KeyError{a, "missing"}
		}
		if i > 0 {
			sb.WriteByte(',')
		}
		switch v.Kind {
		case S:
			sb.WriteString(`{"S":`)
			writeString(&sb, v.Str)
		case N:
			c, err := CanonicalNumber(v.Str)
			if err != nil {
				return "", &KeyError{a, err.Error()}
			}
			sb.WriteString(`{"N":`)
			writeString(&sb, c)
		case B:
			sb.WriteString(`{"B":`)
			writeString(&sb, base64.StdEncoding.EncodeToString(v.Bin))
		default:
			return "", &KeyError{a, fmt.Sprintf("type %s cannot be a key (S, N or B)", v.Kind)}
		}
		sb.WriteByte('}')
	}
	sb.WriteByte(']')
	return Key(sb.String()), nil
}
