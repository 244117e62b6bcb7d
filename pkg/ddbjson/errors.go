package ddbjson

import (
	"fmt"
	"strconv"
	"strings"
)

// DecodeError says why a DynamoDB JSON document was refused and where.
//
// Path names the attribute the way a person would look for it in the item:
// the document part first ("Item", "NewImage", "Keys", "Metadata"), then map
// keys separated by dots and list or set positions in brackets, e.g.
// "Item.items[2].price". For DecodeAttributeMap the path starts at the
// attribute name ("items[2].price"). It is empty when the problem is the
// document as a whole (e.g. trailing garbage after it). A key that would be
// ambiguous in this notation is quoted: Item["a.b"].
type DecodeError struct {
	Path   string
	Reason string
}

func (e *DecodeError) Error() string {
	if e.Path == "" {
		return "dynamodb json: " + e.Reason
	}
	return "dynamodb json: attribute " + e.Path + ": " + e.Reason
}

// segment is one step of a path, collected on the way out of the recursion so
// the happy path never builds paths.
type segment struct {
	key   string
	index int // -1 for a map key
}

// pathError is the decoder's internal error: segments are appended innermost
// first while the recursion unwinds, then rendered once into a DecodeError.
type pathError struct {
	segs   []segment
	reason string
}

func (e *pathError) Error() string { return e.reason }

func (e *pathError) in(key string) *pathError {
	e.segs = append(e.segs, segment{key: key, index: -1})
	return e
}

func (e *pathError) at(i int) *pathError {
	e.segs = append(e.segs, segment{index: i})
	return e
}

func (e *pathError) toDecodeError() *DecodeError {
	var sb strings.Builder
	for i := len(e.segs) - 1; i >= 0; i-- {
		s := e.segs[i]
		if s.index >= 0 {
			sb.WriteByte('[')
			sb.WriteString(strconv.Itoa(s.index))
			sb.WriteByte(']')
			continue
		}
		if plainKey(s.key) {
			if sb.Len() > 0 {
				sb.WriteByte('.')
			}
			sb.WriteString(s.key)
			continue
		}
		sb.WriteByte('[')
		sb.WriteString(strconv.Quote(s.key))
		sb.WriteByte(']')
	}
	return &DecodeError{Path: sb.String(), Reason: e.reason}
}

// plainKey reports whether a key can be written bare in a path without
// ambiguity.
func plainKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c <= ' ' || c == '.' || c == '[' || c == ']' || c == '"' || c >= 0x7f {
			return false
		}
	}
	return true
}

func errorf(format string, args ...any) *pathError {
	return &pathError{reason: fmt.Sprintf(format, args...)}
}
