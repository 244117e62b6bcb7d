package mapping

import (
	"cmp"
	"encoding/base64"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
)

const hexDigits = "0123456789abcdef"

// textProblem says why PostgreSQL cannot store s as text ("" if it can).
func textProblem(s string) string {
	if strings.IndexByte(s, 0) >= 0 {
		return "contains U+0000, which PostgreSQL cannot store in text or jsonb"
	}
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	return ""
}

// appendJSONString appends s as a JSON string. PostgreSQL's jsonb refuses
// \u0000 and invalid UTF-8, so those give a reason instead.
func appendJSONString(b []byte, s string) ([]byte, string) {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				return b, "is not valid UTF-8"
			}
			i += size
			continue
		}
		if c >= 0x20 && c != '"' && c != '\\' {
			i++
			continue
		}
		if c == 0 {
			return b, "contains U+0000, which PostgreSQL cannot store in text or jsonb"
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"'), ""
}

// appendJSONNumber writes a DynamoDB number as a JSON number literal, from
// its decimal text, never through float64. Text that is already valid JSON
// is kept as written (jsonb keeps its scale); other forms ("+1", ".5")
// are written canonically.
func appendJSONNumber(b []byte, s string) ([]byte, string) {
	n, ok := parseNumber(s)
	if !ok {
		return b, "is not a number"
	}
	if n.intDigits() > pgMaxIntDigits || n.fracDigits() > pgMaxScale {
		return b, "is out of PostgreSQL's numeric range"
	}
	if n.scale <= pgMaxScale && jsonNumber(s) {
		return append(b, s...), ""
	}
	return append(b, n.canonical()...), ""
}

// badValue is the part of a value that failed inside a jsonb document.
type badValue struct {
	v      ddbitem.Value
	reason string
	inner  bool // v is an element or member of the column's value
}

// appendJSON writes v as JSON: M → object (keys sorted), L → array, N →
// number, sets → arrays sorted ascending, B → base64 string, NULL → null.
func appendJSON(b []byte, v ddbitem.Value) ([]byte, *badValue) {
	var r string
	switch v.Kind {
	case ddbitem.S:
		b, r = appendJSONString(b, v.Str)
	case ddbitem.N:
		b, r = appendJSONNumber(b, v.Str)
	case ddbitem.B:
		b = appendBase64(b, v.Bin)
	case ddbitem.BOOL:
		if v.Bool {
			b = append(b, "true"...)
		} else {
			b = append(b, "false"...)
		}
	case ddbitem.NULL, ddbitem.KindInvalid:
		b = append(b, "null"...)
	case ddbitem.M:
		return appendJSONObject(b, v.Map)
	case ddbitem.L:
		b = append(b, '[')
		for i, e := range v.List {
			if i > 0 {
				b = append(b, ',')
			}
			var bad *badValue
			if b, bad = appendJSON(b, e); bad != nil {
				bad.inner = true
				return b, bad
			}
		}
		b = append(b, ']')
	case ddbitem.SS:
		b = append(b, '[')
		for i, s := range sortedStrings(v.Strs) {
			if i > 0 {
				b = append(b, ',')
			}
			if b, r = appendJSONString(b, s); r != "" {
				return b, &badValue{ddbitem.Str(s), r, true}
			}
		}
		b = append(b, ']')
	case ddbitem.NS:
		sorted, bad := sortedNumbers(v.Strs)
		if bad != "" {
			return b, &badValue{ddbitem.Num(bad), "is not a number", true}
		}
		b = append(b, '[')
		for i, s := range sorted {
			if i > 0 {
				b = append(b, ',')
			}
			if b, r = appendJSONNumber(b, s); r != "" {
				return b, &badValue{ddbitem.Num(s), r, true}
			}
		}
		b = append(b, ']')
	case ddbitem.BS:
		b = append(b, '[')
		for i, e := range sortedBinaries(v.Bins) {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendBase64(b, e)
		}
		b = append(b, ']')
	default:
		r = "has an unknown type"
	}
	if r != "" {
		return b, &badValue{v: v, reason: r}
	}
	return b, nil
}

// appendJSONObject writes m as a JSON object with sorted keys.
func appendJSONObject(b []byte, m map[string]ddbitem.Value) ([]byte, *badValue) {
	var stack [16]string
	keys := stack[:0]
	for k := range m {
		keys = append(keys, k)
	}
	return appendJSONFields(b, m, keys)
}

// appendStarObject writes the "*" object: the item's attributes that no
// matched table maps.
func appendStarObject(b []byte, item ddbitem.Item, attrUsers map[string][]int, matched []bool) ([]byte, *badValue) {
	var stack [16]string
	keys := stack[:0]
	for k := range item {
		if !mapped(attrUsers, matched, k) {
			keys = append(keys, k)
		}
	}
	return appendJSONFields(b, item, keys)
}

func appendJSONFields(b []byte, m map[string]ddbitem.Value, keys []string) ([]byte, *badValue) {
	slices.SortFunc(keys, jsonbKeyOrder)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		var r string
		if b, r = appendJSONString(b, k); r != "" {
			return b, &badValue{ddbitem.Str(k), "attribute name " + r, true}
		}
		b = append(b, ':')
		var bad *badValue
		if b, bad = appendJSON(b, m[k]); bad != nil {
			bad.inner = true
			return b, bad
		}
	}
	return append(b, '}'), nil
}

// jsonbKeyOrder is the order jsonb keeps object keys in (shorter first,
// then bytewise). Written in that order, objects cost PostgreSQL no sort
// when it parses them (its sort checks for sorted input first).
func jsonbKeyOrder(a, b string) int {
	if len(a) != len(b) {
		return cmp.Compare(len(a), len(b))
	}
	return strings.Compare(a, b)
}

func appendBase64(b []byte, bin []byte) []byte {
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, bin)
	return append(b, '"')
}

// sortedStrings returns s sorted bytewise, copying only when needed.
func sortedStrings(s []string) []string {
	if slices.IsSorted(s) {
		return s
	}
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// sortedNumbers returns number texts sorted by value; bad is a member that
// is not a number.
func sortedNumbers(s []string) (sorted []string, bad string) {
	ns := make([]number, len(s))
	for i, x := range s {
		n, ok := parseNumber(x)
		if !ok {
			return nil, x
		}
		ns[i] = n
	}
	idx := make([]int, len(s))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return ns[idx[a]].cmp(&ns[idx[b]]) < 0 })
	out := make([]string, len(s))
	for i, k := range idx {
		out[i] = s[k]
	}
	return out, ""
}

func sortedBinaries(b [][]byte) [][]byte {
	less := func(x, y []byte) int { return strings.Compare(string(x), string(y)) }
	if slices.IsSortedFunc(b, less) {
		return b
	}
	c := slices.Clone(b)
	slices.SortFunc(c, less)
	return c
}
