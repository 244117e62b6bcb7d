package ddbion

import (
	"fmt"
	"strconv"
	"strings"
)

// DecodeError says why an ION export line was refused and where. Path uses
// the notation of ddbjson.DecodeError: the document part first ("Item",
// "NewImage", "Keys", "Metadata"), then map keys separated by dots and list
// or set positions in brackets ("Item.items[2].price"); a key that would be
// ambiguous is quoted (Item["a.b"]). It is empty when the problem is the line
// as a whole.
type DecodeError struct {
	Path   string
	Reason string
}

func (e *DecodeError) Error() string {
	if e.Path == "" {
		return "dynamodb ion: " + e.Reason
	}
	return "dynamodb ion: attribute " + e.Path + ": " + e.Reason
}

type segment struct {
	key   string
	index int // -1 for a map key
}

// pathError collects path segments innermost first while the recursion
// unwinds; the happy path never builds paths.
type pathError struct {
	segs   []segment
	reason string
}

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
		switch {
		case s.index >= 0:
			sb.WriteByte('[')
			sb.WriteString(strconv.Itoa(s.index))
			sb.WriteByte(']')
		case plainKey(s.key):
			if sb.Len() > 0 {
				sb.WriteByte('.')
			}
			sb.WriteString(s.key)
		default:
			sb.WriteByte('[')
			sb.WriteString(strconv.Quote(s.key))
			sb.WriteByte(']')
		}
	}
	return &DecodeError{Path: sb.String(), Reason: e.reason}
}

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

// ionError wraps an error of the Ion reader (syntax, truncation).
func ionError(err error) *pathError {
	return &pathError{reason: "invalid ion: " + strings.TrimPrefix(err.Error(), "ion: ")}
}
