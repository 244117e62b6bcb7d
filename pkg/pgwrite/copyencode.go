package pgwrite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/ddb2pg/ddb2pg/pkg/mapping"
)

// The backfill writes COPY data in PostgreSQL's text format itself rather
// than through pgx's CopyFrom: pgx encodes every value through its type map
// (an interface dispatch and often an allocation per value), which was the
// largest single client-side cost of a load. The encoder below knows exactly
// the Go types mapping.Row holds, writes them as PostgreSQL's own text
// output would spell them, and leaves the parsing to the server, as psql's
// \copy does. TestCopyTextMatchesBinary checks every type against pgx's
// binary path on a real server.

// errUnsupported says a value has a Go type the text encoder does not know;
// the caller then falls back to pgx's CopyFrom for the batch.
var errUnsupported = errors.New("copy text: unsupported value type")

// copyText is one table's COPY statement and its column kinds.
type copyText struct {
	sql   string
	kinds []mapping.Kind // per column: its type (how a time.Time is spelled)
}

func newCopyText(ident string, cols []string, mcols []*mapping.Column) *copyText {
	ct := &copyText{kinds: make([]mapping.Kind, len(mcols))}
	q := make([]byte, 0, 64)
	q = append(q, "COPY "...)
	q = append(q, ident...)
	q = append(q, " ("...)
	for i, c := range cols {
		if i > 0 {
			q = append(q, ", "...)
		}
		q = append(q, pgx.Identifier{c}.Sanitize()...)
	}
	q = append(q, ") FROM STDIN"...)
	ct.sql = string(q)
	for i, c := range mcols {
		ct.kinds[i] = c.Type.Kind
	}
	return ct
}

// copyRows writes rows with COPY in text format, or with pgx's binary
// CopyFrom when a value has a type the text encoder does not know. buf is
// scratch space reused across calls.
func copyRows(ctx context.Context, tx pgx.Tx, ct *copyText, ident pgx.Identifier, cols []string, rows [][]any, buf *[]byte) (int64, error) {
	b, err := ct.appendRows((*buf)[:0], rows)
	if errors.Is(err, errUnsupported) {
		return tx.CopyFrom(ctx, ident, cols, pgx.CopyFromRows(rows))
	}
	if err != nil {
		return 0, err
	}
	*buf = b
	n, err := Send(ctx, tx.Conn().PgConn(), ct.sql, b)
	if cap(b) > 16<<20 {
		*buf = nil // do not keep a huge buffer for the next chunk
	}
	return n, err
}

func (ct *copyText) appendRows(b []byte, rows [][]any) ([]byte, error) {
	for _, row := range rows {
		for ci, v := range row {
			if ci > 0 {
				b = append(b, '\t')
			}
			var err error
			if b, err = appendCopyValue(b, v, ct.kinds[ci]); err != nil {
				return b, err
			}
		}
		b = append(b, '\n')
	}
	return b, nil
}

// appendArrayElem appends s as a quoted array element, escaped for the
// array literal and then for COPY.
func appendArrayElem[S string | []byte](b []byte, s S) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' && c != '\n' && c != '\r' && c != '\t' && c != '"' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"':
			b = append(b, '\\', '\\', '"') // \" in the literal
		case '\\':
			b = append(b, '\\', '\\', '\\', '\\') // \\ in the literal
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// appendHex appends bytea's hex form with its backslash escaped for COPY
// (twice more inside an array literal: inArray).
func appendHex(b []byte, x []byte, inArray bool) []byte {
	if inArray {
		b = append(b, `"\\\\x`...)
	} else {
		b = append(b, `\\x`...)
	}
	for _, c := range x {
		b = append(b, hexDigits[c>>4], hexDigits[c&15])
	}
	if inArray {
		b = append(b, '"')
	}
	return b
}

func appendCopyValue(b []byte, v any, tk mapping.Kind) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, `\N`...), nil
	case string:
		return AppendText(b, x), nil
	case int16:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int32:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case pgtype.Numeric:
		if !x.Valid {
			return append(b, `\N`...), nil
		}
		return appendNumeric(b, x), nil
	case float64:
		return appendFloat(b, x, 64), nil
	case float32:
		return appendFloat(b, float64(x), 32), nil
	case bool:
		if x {
			return append(b, 't'), nil
		}
		return append(b, 'f'), nil
	case time.Time:
		return appendTime(b, x, tk), nil
	case pgtype.UUID:
		if !x.Valid {
			return append(b, `\N`...), nil
		}
		return appendUUID(b, x.Bytes), nil
	case json.RawMessage:
		if x == nil {
			return append(b, `\N`...), nil
		}
		return AppendText(b, []byte(x)), nil
	case []byte:
		if x == nil {
			return append(b, `\N`...), nil
		}
		return appendHex(b, x, false), nil
	case []string:
		if x == nil {
			return append(b, `\N`...), nil
		}
		b = append(b, '{')
		for i, s := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendArrayElem(b, s)
		}
		return append(b, '}'), nil
	case []int64:
		if x == nil {
			return append(b, `\N`...), nil
		}
		b = append(b, '{')
		for i, n := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, n, 10)
		}
		return append(b, '}'), nil
	case []pgtype.Numeric:
		if x == nil {
			return append(b, `\N`...), nil
		}
		b = append(b, '{')
		for i, n := range x {
			if i > 0 {
				b = append(b, ',')
			}
			if !n.Valid {
				b = append(b, "NULL"...)
				continue
			}
			b = appendNumeric(b, n)
		}
		return append(b, '}'), nil
	case [][]byte:
		if x == nil {
			return append(b, `\N`...), nil
		}
		b = append(b, '{')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			if e == nil {
				b = append(b, "NULL"...)
				continue
			}
			b = appendHex(b, e, true)
		}
		return append(b, '}'), nil
	}
	return b, fmt.Errorf("%w: %T", errUnsupported, v)
}

// appendNumeric spells Int × 10^Exp as a decimal with -Exp fractional
// digits (the display scale pgx's binary encoding sends).
func appendNumeric(b []byte, n pgtype.Numeric) []byte {
	switch {
	case n.NaN:
		return append(b, "NaN"...)
	case n.InfinityModifier == pgtype.Infinity:
		return append(b, "Infinity"...)
	case n.InfinityModifier == pgtype.NegativeInfinity:
		return append(b, "-Infinity"...)
	}
	var digits []byte
	var small [40]byte
	switch {
	case n.Int == nil:
		digits = append(small[:0], '0')
	case n.Int.IsInt64():
		digits = strconv.AppendInt(small[:0], n.Int.Int64(), 10)
	default:
		digits = n.Int.Append(small[:0], 10)
	}
	if len(digits) > 0 && digits[0] == '-' {
		b = append(b, '-')
		digits = digits[1:]
	}
	if n.Exp >= 0 {
		b = append(b, digits...)
		if !(len(digits) == 1 && digits[0] == '0') {
			for range n.Exp {
				b = append(b, '0')
			}
		}
		return b
	}
	scale := int(-n.Exp)
	if len(digits) <= scale {
		b = append(b, '0', '.')
		for range scale - len(digits) {
			b = append(b, '0')
		}
		return append(b, digits...)
	}
	cut := len(digits) - scale
	b = append(b, digits[:cut]...)
	b = append(b, '.')
	return append(b, digits[cut:]...)
}

func appendFloat(b []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, "NaN"...)
	case math.IsInf(f, 1):
		return append(b, "Infinity"...)
	case math.IsInf(f, -1):
		return append(b, "-Infinity"...)
	}
	return strconv.AppendFloat(b, f, 'g', -1, bits)
}

func appendUUID(b []byte, u [16]byte) []byte {
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hexDigits[c>>4], hexDigits[c&15])
	}
	return b
}

func appendPadded(b []byte, n, width int) []byte {
	var tmp [20]byte
	s := strconv.AppendInt(tmp[:0], int64(n), 10)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// appendTime spells t as pgx's binary encoding sends it: timestamptz and
// timestamp to the microsecond (truncated, as pgx does), date by its
// calendar day. Years before 1 are written in PostgreSQL's BC form.
func appendTime(b []byte, t time.Time, tk mapping.Kind) []byte {
	if withZone(tk) {
		t = t.UTC()
	}
	if tk != mapping.KindDate {
		// Truncate to the microsecond toward minus infinity, as pgx does.
		if ns := t.Nanosecond() % 1000; ns != 0 {
			t = t.Add(-time.Duration(ns))
		}
	}
	year, month, day := t.Date()
	bc := year <= 0
	if bc {
		year = 1 - year
	}
	b = appendPadded(b, year, 4)
	b = append(b, '-')
	b = appendPadded(b, int(month), 2)
	b = append(b, '-')
	b = appendPadded(b, day, 2)
	if tk != mapping.KindDate {
		h, m, s := t.Clock()
		b = append(b, ' ')
		b = appendPadded(b, h, 2)
		b = append(b, ':')
		b = appendPadded(b, m, 2)
		b = append(b, ':')
		b = appendPadded(b, s, 2)
		if us := t.Nanosecond() / 1000; us != 0 {
			b = append(b, '.')
			b = appendPadded(b, us, 6)
		}
		if withZone(tk) {
			b = append(b, "+00"...)
		}
	}
	if bc {
		b = append(b, " BC"...)
	}
	return b
}

// withZone reports whether a time.Time written to a column of kind tk is
// spelled with its zone: anything but timestamp and date (a column of
// unknown kind gets the unambiguous spelling).
func withZone(tk mapping.Kind) bool { return tk != mapping.KindTimestamp && tk != mapping.KindDate }
