package verify

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
	"github.com/ddb2pg/ddb2pg/pkg/mapping"
)

// norm returns a value's canonical text for its column type, so that two
// values compare equal exactly when they mean the same thing in that type:
// numbers by value ("10.50" = "10.5"), timestamps as instants, jsonb
// semantically (object key order and number spelling do not matter, numbers
// are compared exactly), arrays elementwise. It accepts both what the
// mapping engine produces and what the PostgreSQL lookups scan. The text is
// also what reports show, and is valid PostgreSQL input for the type.
func norm(t mapping.Type, v any) (s string, null bool, err error) {
	if v == nil {
		return "", true, nil
	}
	if t.Array {
		return normArray(t, v)
	}
	return normScalar(t.Kind, v)
}

func normScalar(kind mapping.Kind, v any) (string, bool, error) {
	if v == nil {
		return "", true, nil
	}
	switch x := v.(type) {
	case pgtype.Text:
		if !x.Valid {
			return "", true, nil
		}
		v = x.String
	case *string:
		if x == nil {
			return "", true, nil
		}
		v = *x
	case pgtype.Int8:
		if !x.Valid {
			return "", true, nil
		}
		v = x.Int64
	case pgtype.Float8:
		if !x.Valid {
			return "", true, nil
		}
		v = x.Float64
	case pgtype.Bool:
		if !x.Valid {
			return "", true, nil
		}
		v = x.Bool
	case pgtype.Timestamptz:
		if !x.Valid {
			return "", true, nil
		}
		if x.InfinityModifier != pgtype.Finite {
			return x.InfinityModifier.String(), false, nil
		}
		v = x.Time
	case pgtype.Timestamp:
		if !x.Valid {
			return "", true, nil
		}
		if x.InfinityModifier != pgtype.Finite {
			return x.InfinityModifier.String(), false, nil
		}
		v = x.Time
	case pgtype.Date:
		if !x.Valid {
			return "", true, nil
		}
		if x.InfinityModifier != pgtype.Finite {
			return x.InfinityModifier.String(), false, nil
		}
		v = x.Time
	case pgtype.UUID:
		if !x.Valid {
			return "", true, nil
		}
		v = x.Bytes
	case pgtype.Numeric:
		if !x.Valid {
			return "", true, nil
		}
	}
	switch kind {
	case mapping.KindText, mapping.KindVarchar:
		switch x := v.(type) {
		case string:
			return x, false, nil
		case []byte:
			return string(x), false, nil
		}
	case mapping.KindInt2, mapping.KindInt4, mapping.KindInt8, mapping.KindNumeric:
		return normNumber(v)
	case mapping.KindFloat8:
		switch x := v.(type) {
		case float64:
			return strconv.FormatFloat(x, 'g', -1, 64), false, nil
		case float32:
			return strconv.FormatFloat(float64(x), 'g', -1, 64), false, nil
		case string:
			f, err := strconv.ParseFloat(x, 64)
			if err != nil {
				return "", false, err
			}
			return strconv.FormatFloat(f, 'g', -1, 64), false, nil
		}
	case mapping.KindFloat4:
		switch x := v.(type) {
		case float64:
			return strconv.FormatFloat(float64(float32(x)), 'g', -1, 32), false, nil
		case float32:
			return strconv.FormatFloat(float64(x), 'g', -1, 32), false, nil
		case string:
			f, err := strconv.ParseFloat(x, 32)
			if err != nil {
				return "", false, err
			}
			return strconv.FormatFloat(f, 'g', -1, 32), false, nil
		}
	case mapping.KindBool:
		switch x := v.(type) {
		case bool:
			return strconv.FormatBool(x), false, nil
		case string:
			b, err := strconv.ParseBool(x)
			if err != nil {
				return "", false, err
			}
			return strconv.FormatBool(b), false, nil
		}
	case mapping.KindTimestamptz:
		switch x := v.(type) {
		case time.Time:
			return formatInstant(x), false, nil
		case string:
			tt, err := time.Parse(time.RFC3339Nano, x)
			if err != nil {
				return "", false, err
			}
			return tt.UTC().Format(time.RFC3339Nano), false, nil
		}
	case mapping.KindTimestamp:
		switch x := v.(type) {
		case time.Time:
			// timestamp without time zone holds a wall-clock reading
			return x.Format("2006-01-02T15:04:05.999999999"), false, nil
		case string:
			return x, false, nil
		}
	case mapping.KindDate:
		switch x := v.(type) {
		case time.Time:
			return x.Format("2006-01-02"), false, nil
		case string:
			return x, false, nil
		}
	case mapping.KindUUID:
		switch x := v.(type) {
		case [16]byte:
			return fmt.Sprintf("%x-%x-%x-%x-%x", x[0:4], x[4:6], x[6:8], x[8:10], x[10:16]), false, nil
		case string:
			return strings.ToLower(x), false, nil
		case []byte:
			if len(x) == 16 {
				return fmt.Sprintf("%x-%x-%x-%x-%x", x[0:4], x[4:6], x[6:8], x[8:10], x[10:16]), false, nil
			}
		}
	case mapping.KindBytea:
		switch x := v.(type) {
		case []byte:
			return `\x` + hex.EncodeToString(x), false, nil
		case string:
			if strings.HasPrefix(x, `\x`) {
				return strings.ToLower(x), false, nil
			}
			return `\x` + hex.EncodeToString([]byte(x)), false, nil
		}
	case mapping.KindJSONB:
		var data []byte
		switch x := v.(type) {
		case []byte:
			data = x
		case json.RawMessage:
			data = x
		case string:
			data = []byte(x)
		default:
			b, err := json.Marshal(x)
			if err != nil {
				return "", false, err
			}
			data = b
		}
		s, err := canonJSON(data)
		return s, false, err
	}
	return "", false, fmt.Errorf("cannot compare a %T as %s", v, kind)
}

// decimalText renders i * 10^exp in the canonical plain form of
// ddbitem.Decimal.String (no exponent, no trailing fractional zeros).
func decimalText(i int64, exp int) string {
	neg := i < 0
	u := uint64(i)
	if neg {
		u = -u
	}
	for exp < 0 && u%10 == 0 {
		u /= 10
		exp++
	}
	digits := strconv.FormatUint(u, 10)
	var sb strings.Builder
	if neg {
		sb.WriteByte('-')
	}
	switch {
	case exp >= 0:
		sb.WriteString(digits)
		for range exp {
			sb.WriteByte('0')
		}
	case -exp >= len(digits):
		sb.WriteString("0.")
		for range -exp - len(digits) {
			sb.WriteByte('0')
		}
		sb.WriteString(digits)
	default:
		p := len(digits) + exp
		sb.WriteString(digits[:p])
		sb.WriteByte('.')
		sb.WriteString(digits[p:])
	}
	return sb.String()
}

func normNumber(v any) (string, bool, error) {
	var text string
	switch x := v.(type) {
	case int:
		text = strconv.FormatInt(int64(x), 10)
	case int16:
		return strconv.FormatInt(int64(x), 10), false, nil
	case int32:
		return strconv.FormatInt(int64(x), 10), false, nil
	case int64:
		return strconv.FormatInt(x, 10), false, nil
	case uint32:
		text = strconv.FormatUint(uint64(x), 10)
	case uint64:
		text = strconv.FormatUint(x, 10)
	case string:
		if canonicalNumberText(x) {
			return x, false, nil
		}
		text = x
	case json.Number:
		text = string(x)
	case pgtype.Numeric:
		if x.NaN {
			return "NaN", false, nil
		}
		if x.InfinityModifier == pgtype.Infinity {
			return "Infinity", false, nil
		}
		if x.InfinityModifier == pgtype.NegativeInfinity {
			return "-Infinity", false, nil
		}
		if x.Int == nil || x.Int.Sign() == 0 {
			return "0", false, nil
		}
		if x.Int.IsInt64() {
			return decimalText(x.Int.Int64(), int(x.Exp)), false, nil
		}
		text = x.Int.String() + "e" + strconv.Itoa(int(x.Exp))
	case float64:
		text = strconv.FormatFloat(x, 'g', -1, 64)
	default:
		return "", false, fmt.Errorf("cannot compare a %T as a number", v)
	}
	switch text {
	case "NaN", "Infinity", "-Infinity":
		return text, false, nil
	}
	d, err := ddbitem.ParseNumber(text)
	if err != nil {
		return "", false, err
	}
	return d.String(), false, nil
}

// normArray canonicalises an array: a Go slice (mapping side) or the
// array's JSON text (PostgreSQL side, selected as to_jsonb(col)::text).
func normArray(t mapping.Type, v any) (string, bool, error) {
	var elems []any
	switch x := v.(type) {
	case pgtype.Text:
		if !x.Valid {
			return "", true, nil
		}
		return normArray(t, x.String)
	case string:
		dec := json.NewDecoder(strings.NewReader(x))
		dec.UseNumber()
		var raw []any
		if err := dec.Decode(&raw); err != nil {
			return "", false, fmt.Errorf("array %s: %w", x, err)
		}
		if raw == nil {
			return "", true, nil
		}
		for _, e := range raw {
			if s, ok := e.(string); ok && t.Kind == mapping.KindBytea {
				b, err := hex.DecodeString(strings.TrimPrefix(s, `\x`))
				if err != nil {
					return "", false, err
				}
				e = b
			}
			elems = append(elems, e)
		}
	case []string:
		for _, e := range x {
			elems = append(elems, e)
		}
	case []int64:
		for _, e := range x {
			elems = append(elems, e)
		}
	case []pgtype.Numeric:
		for _, e := range x {
			elems = append(elems, e)
		}
	case [][]byte:
		for _, e := range x {
			elems = append(elems, e)
		}
	case []any:
		elems = x
	case []*string:
		for _, e := range x {
			if e == nil {
				elems = append(elems, nil)
			} else {
				elems = append(elems, *e)
			}
		}
	default:
		return "", false, fmt.Errorf("cannot compare a %T as %s", v, t.Name)
	}
	var sb strings.Builder
	sb.WriteByte('[')
	for i, e := range elems {
		if i > 0 {
			sb.WriteByte(',')
		}
		if n, ok := e.(json.Number); ok {
			e = string(n)
		}
		s, null, err := normScalar(t.Kind, e)
		if err != nil {
			return "", false, err
		}
		if null {
			sb.WriteString("null")
			continue
		}
		if t.Kind == mapping.KindNumeric || t.Kind == mapping.KindInt8 {
			sb.WriteString(s)
		} else {
			b, _ := json.Marshal(s)
			sb.Write(b)
		}
	}
	sb.WriteByte(']')
	return sb.String(), false, nil
}

// canonJSON re-encodes JSON with sorted object keys, no insignificant space
// and numbers in canonical decimal form (exact: never through float64).
func canonJSON(data []byte) (string, error) {
	if s, ok := canonJSONFast(data); ok {
		return s, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", fmt.Errorf("invalid JSON: %w", err)
	}
	var sb strings.Builder
	if err := writeCanon(&sb, v); err != nil {
		return "", err
	}
	return sb.String(), nil
}

func writeCanon(sb *strings.Builder, v any) error {
	switch x := v.(type) {
	case nil:
		sb.WriteString("null")
	case bool:
		sb.WriteString(strconv.FormatBool(x))
	case json.Number:
		d, err := ddbitem.ParseNumber(string(x))
		if err != nil {
			return err
		}
		sb.WriteString(d.String())
	case string:
		b, _ := json.Marshal(x)
		sb.Write(b)
	case []any:
		sb.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				sb.WriteByte(',')
			}
			if err := writeCanon(sb, e); err != nil {
				return err
			}
		}
		sb.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		sb.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				sb.WriteByte(',')
			}
			b, _ := json.Marshal(k)
			sb.Write(b)
			sb.WriteByte(':')
			if err := writeCanon(sb, x[k]); err != nil {
				return err
			}
		}
		sb.WriteByte('}')
	default:
		return fmt.Errorf("unexpected JSON value %T", v)
	}
	return nil
}

// formatInstant renders t as an RFC 3339 instant in UTC (the canonical
// form of timestamptz values).
func formatInstant(t time.Time) string {
	var buf [40]byte
	return string(t.UTC().AppendFormat(buf[:0], time.RFC3339Nano))
}
