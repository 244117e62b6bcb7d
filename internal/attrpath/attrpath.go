// Package attrpath names where in a DynamoDB item a decoder found a problem,
// in the notation every ddb2pg message uses: the document part first
// ("Item", "NewImage", ...), then map keys separated by dots and list or set
// positions in brackets ("Item.items[2].price"); a key that would be
// ambiguous in this notation is quoted (Item["a.b"]). The JSON and ION
// decoders share it so their errors read the same.
package attrpath

import (
	"fmt"
	"strconv"
	"strings"
)

// Error is a decoder's internal error: segments are appended innermost first
// while the recursion unwinds (the happy path never builds paths), then
// rendered once by Path.
type Error struct {
	segs   []segment
	Reason string
}

type segment struct {
	key   string
	index int // -1 for a map key
}

// Errorf starts an error at the innermost position.
func Errorf(format string, args ...any) *Error {
	return &Error{Reason: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string { return e.Reason }

// In records that the error happened inside the map key.
func (e *Error) In(key string) *Error {
	e.segs = append(e.segs, segment{key: key, index: -1})
	return e
}

// At records that the error happened at list or set position i.
func (e *Error) At(i int) *Error {
	e.segs = append(e.segs, segment{index: i})
	return e
}

// Path renders the recorded position, outermost first; "" for the document
// as a whole.
func (e *Error) Path() string {
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
	return sb.String()
}

// plainKey reports whether a key can be written bare without ambiguity.
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
