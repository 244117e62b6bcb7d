package mapping

import (
	"encoding/hex"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
)

// convert turns a present, non-NULL value into column c's Go value. s
// holds memory shared by the item's values (jsonb text, numerics).
// On failure it returns the offending value and why; nothing allocates on
// the success path beyond the result.
func convert(c *Column, v ddbitem.Value, s *scratch) (any, *badValue) {
	if c.StripPrefix != "" {
		if v.Kind != ddbitem.S {
			return nil, &badValue{v: v, reason: "strip_prefix " + strconv.Quote(c.StripPrefix) + " needs a string (S), got " + v.Kind.String()}
		}
		rest, ok := strings.CutPrefix(v.Str, c.StripPrefix)
		if !ok {
			return nil, &badValue{v: v, reason: "does not begin with " + strconv.Quote(c.StripPrefix) + " (strip_prefix)"}
		}
		v = ddbitem.Str(rest)
	}
	t := &c.Type
	if t.Array {
		return convertArray(t, v, s)
	}
	switch t.Kind {
	case KindText, KindVarchar:
		if v.Kind != ddbitem.S && v.Kind != ddbitem.N {
			return nil, mismatch(v, t, "S or N")
		}
		str := v.Str
		if v.Kind == ddbitem.N {
			n, ok := parseNumber(str)
			if !ok {
				return nil, &badValue{v: v, reason: "is not a number"}
			}
			if c.keyCol {
				// Keys compare as numbers in DynamoDB ("1.0" is "1"), so
				// the key column holds the canonical text.
				str = n.canonical()
			}
		}
		if r := textProblem(str); r != "" {
			return nil, &badValue{v: v, reason: r}
		}
		if t.Length > 0 && len(str) > t.Length && utf8.RuneCountInString(str) > t.Length {
			return nil, &badValue{v: v, reason: "is " + strconv.Itoa(utf8.RuneCountInString(str)) + " characters long; " + t.Name + " holds " + strconv.Itoa(t.Length)}
		}
		return str, nil
	case KindInt2, KindInt4, KindInt8:
		if v.Kind != ddbitem.N && v.Kind != ddbitem.S {
			return nil, mismatch(v, t, "N, or S holding an integer")
		}
		i, r := parseInt(v.Str, t)
		if r != "" {
			return nil, &badValue{v: v, reason: r}
		}
		if c.keyCol && v.Kind == ddbitem.S && strconv.FormatInt(i, 10) != v.Str {
			return nil, notCanonical(v, strconv.FormatInt(i, 10))
		}
		switch t.Kind {
		case KindInt2:
			return int16(i), nil
		case KindInt4:
			return int32(i), nil
		}
		return i, nil
	case KindNumeric:
		if v.Kind != ddbitem.N && v.Kind != ddbitem.S {
			return nil, mismatch(v, t, "N, or S holding a number")
		}
		n, ok := parseNumber(v.Str)
		if !ok {
			return nil, &badValue{v: v, reason: "is not a number"}
		}
		num, r := n.numeric(t, s)
		if r != "" {
			return nil, &badValue{v: v, reason: r}
		}
		if c.keyCol && v.Kind == ddbitem.S && n.canonical() != v.Str {
			return nil, notCanonical(v, n.canonical())
		}
		return num, nil
	case KindFloat8, KindFloat4:
		if v.Kind != ddbitem.N {
			return nil, mismatch(v, t, "N")
		}
		f, r := parseFloat(v.Str, t)
		if r != "" {
			return nil, &badValue{v: v, reason: r}
		}
		if t.Kind == KindFloat4 {
			return float32(f), nil
		}
		return f, nil
	case KindBool:
		if v.Kind != ddbitem.BOOL {
			return nil, mismatch(v, t, "BOOL")
		}
		return v.Bool, nil
	case KindTimestamptz, KindTimestamp, KindDate:
		var ts time.Time
		var r string
		switch v.Kind {
		case ddbitem.S:
			ts, r = parseTimestamp(v.Str)
		case ddbitem.N:
			n, ok := parseNumber(v.Str)
			if !ok {
				return nil, &badValue{v: v, reason: "is not a number"}
			}
			ts, r = epochTime(&n, c.millis)
		default:
			return nil, mismatch(v, t, "S (RFC 3339 / ISO 8601 / YYYY-MM-DD) or N (epoch)")
		}
		if r != "" {
			return nil, &badValue{v: v, reason: r}
		}
		if t.Kind == KindDate && (ts.Hour() != 0 || ts.Minute() != 0 || ts.Second() != 0 || ts.Nanosecond() != 0) {
			return nil, &badValue{v: v, reason: "is not a whole day (midnight UTC); a date column would drop the time of day"}
		}
		return ts, nil
	case KindUUID:
		if v.Kind != ddbitem.S {
			return nil, mismatch(v, t, "S")
		}
		u, ok := parseUUID(v.Str)
		if !ok {
			return nil, &badValue{v: v, reason: "is not a UUID"}
		}
		if c.keyCol {
			if canon := formatUUID(u); canon != v.Str {
				return nil, notCanonical(v, canon)
			}
		}
		return pgtype.UUID{Bytes: u, Valid: true}, nil
	case KindBytea:
		if v.Kind != ddbitem.B {
			return nil, mismatch(v, t, "B")
		}
		return nonNilBytes(v.Bin), nil
	case KindJSONB:
		start := len(s.buf)
		b, bad := appendJSON(s.buf, v)
		s.buf = b
		if bad != nil {
			return nil, bad
		}
		// Cap the slice so later appends to buf can never write into it.
		return json.RawMessage(b[start:len(b):len(b)]), nil
	}
	return nil, &badValue{v: v, reason: "unsupported column type " + t.Name}
}

func mismatch(v ddbitem.Value, t *Type, want string) *badValue {
	return &badValue{v: v, reason: "a " + v.Kind.String() + " value cannot go into a " + t.Name + " column (needs " + want + ")"}
}

func notCanonical(v ddbitem.Value, canon string) *badValue {
	return &badValue{v: v, reason: "key value is not in canonical form (" + strconv.Quote(canon) +
		"); two distinct keys would share the same key column value"}
}

// nonNilBytes keeps an empty binary from becoming SQL NULL (pgx writes a
// nil []byte as NULL).
func nonNilBytes(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// parseInt reads an integer for an integer column, exactly.
func parseInt(s string, t *Type) (int64, string) {
	i, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		n, ok := parseNumber(s)
		if !ok {
			return 0, "is not a number"
		}
		var integer, inRange bool
		i, integer, inRange = n.int64()
		if !integer {
			return 0, "is not an integer"
		}
		if !inRange {
			return 0, "is out of range for " + t.Base
		}
	}
	lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
	switch t.Kind {
	case KindInt2:
		lo, hi = math.MinInt16, math.MaxInt16
	case KindInt4:
		lo, hi = math.MinInt32, math.MaxInt32
	}
	if i < lo || i > hi {
		return 0, "is out of range for " + t.Base
	}
	return i, ""
}

// parseFloat converts for double precision / real, the one place a number
// goes through binary floating point, because the user chose that type.
func parseFloat(s string, t *Type) (float64, string) {
	n, ok := parseNumber(s)
	if !ok {
		return 0, "is not a number"
	}
	bits := 64
	if t.Kind == KindFloat4 {
		bits = 32
	}
	f, err := strconv.ParseFloat(s, bits)
	if err != nil || math.IsInf(f, 0) {
		return 0, "is out of range for " + t.Base
	}
	if f == 0 && !n.zero() {
		return 0, "is too small for " + t.Base + " (it would become 0)"
	}
	return f, ""
}

// parseUUID accepts the forms PostgreSQL does that people use: canonical
// 8-4-4-4-12 hex (any case), 32 hex digits, or either in braces.
func parseUUID(s string) ([16]byte, bool) {
	var u [16]byte
	if len(s) >= 2 && s[0] == '{' && s[len(s)-1] == '}' {
		s = s[1 : len(s)-1]
	}
	var h [32]byte
	switch len(s) {
	case 36:
		if s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
			return u, false
		}
		copy(h[0:8], s[0:8])
		copy(h[8:12], s[9:13])
		copy(h[12:16], s[14:18])
		copy(h[16:20], s[19:23])
		copy(h[20:32], s[24:36])
	case 32:
		copy(h[:], s)
	default:
		return u, false
	}
	if _, err := hex.Decode(u[:], h[:]); err != nil {
		return u, false
	}
	return u, true
}

func formatUUID(u [16]byte) string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:36], u[10:16])
	return string(b[:])
}

// convertArray converts sets (sorted ascending) and lists (in order) for
// text[], bigint[], numeric[] and bytea[] columns.
func convertArray(t *Type, v ddbitem.Value, sc *scratch) (any, *badValue) {
	var elems []ddbitem.Value // list elements, or set members wrapped
	switch v.Kind {
	case ddbitem.L:
		elems = v.List
	case ddbitem.SS, ddbitem.NS, ddbitem.BS:
	default:
		return nil, mismatch(v, t, "a set or a list")
	}
	for _, e := range elems {
		if e.IsNull() {
			return nil, &badValue{v: v, reason: "has a NULL element; array columns are written without NULL elements"}
		}
	}
	switch t.Kind {
	case KindText:
		var out []string
		switch v.Kind {
		case ddbitem.SS:
			out = slices.Clone(sortedStrings(v.Strs))
		case ddbitem.NS:
			s, bad := sortedNumbers(v.Strs)
			if bad != "" {
				return nil, &badValue{ddbitem.Num(bad), "is not a number", true}
			}
			out = s
		case ddbitem.L:
			out = make([]string, len(elems))
			for i, e := range elems {
				if e.Kind != ddbitem.S && e.Kind != ddbitem.N {
					return nil, &badValue{e, "a " + e.Kind.String() + " element cannot go into text[] (needs S or N)", true}
				}
				out[i] = e.Str
			}
		default:
			return nil, mismatch(v, t, "SS, NS or a list of S/N")
		}
		for _, s := range out {
			if r := textProblem(s); r != "" {
				return nil, &badValue{ddbitem.Str(s), r, true}
			}
		}
		return out, nil
	case KindInt8:
		texts, bad := scalarTexts(v, elems, t)
		if bad != nil {
			return nil, bad
		}
		out := make([]int64, len(texts))
		for i, s := range texts {
			n, r := parseInt(s, t)
			if r != "" {
				return nil, &badValue{ddbitem.Num(s), r, true}
			}
			out[i] = n
		}
		if v.Kind != ddbitem.L {
			slices.Sort(out)
		}
		return out, nil
	case KindNumeric:
		texts, bad := scalarTexts(v, elems, t)
		if bad != nil {
			return nil, bad
		}
		ns := make([]number, len(texts))
		for i, s := range texts {
			n, ok := parseNumber(s)
			if !ok {
				return nil, &badValue{ddbitem.Num(s), "is not a number", true}
			}
			ns[i] = n
		}
		if v.Kind != ddbitem.L {
			slices.SortStableFunc(ns, func(a, b number) int { return a.cmp(&b) })
		}
		out := make([]pgtype.Numeric, len(ns))
		for i := range ns {
			num, r := ns[i].numeric(t, sc)
			if r != "" {
				return nil, &badValue{ddbitem.Num(texts[i]), r, true}
			}
			out[i] = num
		}
		return out, nil
	case KindBytea:
		var out [][]byte
		switch v.Kind {
		case ddbitem.BS:
			out = slices.Clone(sortedBinaries(v.Bins))
		case ddbitem.L:
			out = make([][]byte, len(elems))
			for i, e := range elems {
				if e.Kind != ddbitem.B {
					return nil, &badValue{e, "a " + e.Kind.String() + " element cannot go into bytea[] (needs B)", true}
				}
				out[i] = e.Bin
			}
		default:
			return nil, mismatch(v, t, "BS or a list of B")
		}
		for i := range out {
			out[i] = nonNilBytes(out[i])
		}
		return out, nil
	}
	return nil, &badValue{v: v, reason: "unsupported column type " + t.Name}
}

// scalarTexts returns the number texts of an NS, an SS (of numbers) or a
// list of N/S, for bigint[] and numeric[].
func scalarTexts(v ddbitem.Value, elems []ddbitem.Value, t *Type) ([]string, *badValue) {
	switch v.Kind {
	case ddbitem.NS, ddbitem.SS:
		return v.Strs, nil
	case ddbitem.L:
		out := make([]string, len(elems))
		for i, e := range elems {
			if e.Kind != ddbitem.N && e.Kind != ddbitem.S {
				return nil, &badValue{e, "a " + e.Kind.String() + " element cannot go into " + t.Name + " (needs N or S)", true}
			}
			out[i] = e.Str
		}
		return out, nil
	}
	return nil, mismatch(v, t, "NS, SS or a list of N/S")
}
