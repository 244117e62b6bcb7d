// Package ddbitem is the DynamoDB item model every step of ddb2pg shares: the
// export decoders, the stream decoders and the mapping engine all speak it, so
// a value means the same thing whichever way it arrived.
//
// Numbers are kept as their decimal text (DynamoDB allows 38 significant
// digits, more than float64 holds); sets keep their members as received.
package ddbitem

import (
	"fmt"
	"sort"
	"strings"
)

// Kind is a DynamoDB type descriptor.
type Kind uint8

const (
	KindInvalid Kind = iota
	S
	N
	B
	BOOL
	NULL
	M
	L
	SS
	NS
	BS
)

var kindNames = [...]string{"?", "S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS"}

// String returns the DynamoDB descriptor ("S", "NS", ...).
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", k)
}

// KindOf maps a descriptor ("S", "N", ...) to its Kind; ok is false for an
// unknown descriptor.
func KindOf(descriptor string) (Kind, bool) {
	for i, n := range kindNames {
		if i > 0 && n == descriptor {
			return Kind(i), true
		}
	}
	return KindInvalid, false
}

// Value is one DynamoDB attribute value. Exactly the fields of its Kind are
// meaningful:
//
//	S, N   -> Str (N: the number's decimal text as sent)
//	B      -> Bin
//	BOOL   -> Bool
//	NULL   -> nothing
//	M      -> Map
//	L      -> List
//	SS, NS -> Strs (NS: decimal texts)
//	BS     -> Bins
//
// Value must stay at most 128 bytes (see TestValueFitsMapSlot): Go maps
// store larger values out of line, one allocation per entry, which made
// decoding an item's maps cost several times over.
type Value struct {
	Kind Kind
	Bool bool
	Str  string
	Bin  []byte
	Map  map[string]Value
	List []Value
	Strs []string
	Bins [][]byte
}

// Item is a DynamoDB item: its top-level attributes by name.
type Item map[string]Value

// Constructors keep call sites short in decoders and tests.
func Str(s string) Value             { return Value{Kind: S, Str: s} }
func Num(n string) Value             { return Value{Kind: N, Str: n} }
func Bin(b []byte) Value             { return Value{Kind: B, Bin: b} }
func Bool(b bool) Value              { return Value{Kind: BOOL, Bool: b} }
func Null() Value                    { return Value{Kind: NULL} }
func MapOf(m map[string]Value) Value { return Value{Kind: M, Map: m} }
func ListOf(l ...Value) Value        { return Value{Kind: L, List: l} }
func StrSet(s ...string) Value       { return Value{Kind: SS, Strs: s} }
func NumSet(n ...string) Value       { return Value{Kind: NS, Strs: n} }
func BinSet(b ...[]byte) Value       { return Value{Kind: BS, Bins: b} }

// IsNull reports whether v is absent (zero Value) or an explicit NULL.
func (v Value) IsNull() bool { return v.Kind == KindInvalid || v.Kind == NULL }

// Equal reports whether a and b hold the same DynamoDB value. Numbers compare
// by value (so "1.0" equals "1"); sets compare as sets.
func Equal(a, b Value) bool {
	if a.Kind != b.Kind {
		return false
	}
	switch a.Kind {
	case S:
		return a.Str == b.Str
	case N:
		return CompareNumbers(a.Str, b.Str) == 0
	case B:
		return string(a.Bin) == string(b.Bin)
	case BOOL:
		return a.Bool == b.Bool
	case NULL, KindInvalid:
		return true
	case M:
		if len(a.Map) != len(b.Map) {
			return false
		}
		for k, av := range a.Map {
			bv, ok := b.Map[k]
			if !ok || !Equal(av, bv) {
				return false
			}
		}
		return true
	case L:
		if len(a.List) != len(b.List) {
			return false
		}
		for i := range a.List {
			if !Equal(a.List[i], b.List[i]) {
				return false
			}
		}
		return true
	case SS:
		return equalSorted(SortedStrings(a.Strs), SortedStrings(b.Strs))
	case NS:
		x, y := SortedNumbers(a.Strs), SortedNumbers(b.Strs)
		if len(x) != len(y) {
			return false
		}
		for i := range x {
			if CompareNumbers(x[i], y[i]) != 0 {
				return false
			}
		}
		return true
	case BS:
		x, y := SortedBinaries(a.Bins), SortedBinaries(b.Bins)
		if len(x) != len(y) {
			return false
		}
		for i := range x {
			if string(x[i]) != string(y[i]) {
				return false
			}
		}
		return true
	}
	return false
}

func equalSorted(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// SortedStrings returns a sorted copy (bytewise, as DynamoDB orders strings).
func SortedStrings(s []string) []string {
	c := append([]string(nil), s...)
	sort.Strings(c)
	return c
}

// SortedNumbers returns a copy of decimal texts sorted by numeric value.
// Texts that are not numbers sort after numbers, bytewise.
func SortedNumbers(s []string) []string {
	c := append([]string(nil), s...)
	sort.SliceStable(c, func(i, j int) bool { return CompareNumbers(c[i], c[j]) < 0 })
	return c
}

// SortedBinaries returns a copy sorted by bytes.
func SortedBinaries(b [][]byte) [][]byte {
	c := append([][]byte(nil), b...)
	sort.Slice(c, func(i, j int) bool { return string(c[i]) < string(c[j]) })
	return c
}

// String renders v in DynamoDB JSON, for messages and reject records.
func (v Value) String() string {
	var sb strings.Builder
	writeJSON(&sb, v)
	return sb.String()
}
