package verify

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ddb2pg/ddb2pg/pkg/mapping"
)

// scan kinds: how a column is selected and scanned on the PostgreSQL side.
const (
	scanText  = iota // selected as text (or as to_jsonb(col)::text for arrays)
	scanInt          // smallint, integer, bigint
	scanFloat        // double precision, real
	scanBool
	scanTimestamptz
	scanTimestamp
	scanBytes
)

// table is one mapped table prepared for lookups.
type table struct {
	idx   int
	t     *mapping.Table
	name  string // as written in the mapping (report key)
	kinds []int
	sel   []string // select expression per column
	// byKey selects an item's rows by key columns (non-shared tables);
	// byPK selects rows by primary key. Both take one text[] per column.
	byKey, byPK string
	// fullKey: the key columns hold every key attribute (none is pinned by
	// a when: equals condition).
	fullKey bool
	// keyAttrs[i] is the source key attribute of KeyColumns[i]; pinned
	// maps a pinned key attribute to its value.
	keyAttrs []string
	pinned   map[string]string
}

func q(s string) string { return pgx.Identifier{s}.Sanitize() }

func prepareTable(m *mapping.Mapping, idx int) (*table, error) {
	t := m.Tables[idx]
	tb := &table{idx: idx, t: t, name: t.Name, kinds: make([]int, len(t.Columns))}
	sel := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		col := q(c.Name)
		sel[i] = col
		switch {
		case c.Type.Array:
			sel[i] = "to_jsonb(" + col + ")::text"
			tb.kinds[i] = scanText
		default:
			switch c.Type.Kind {
			case mapping.KindInt2, mapping.KindInt4, mapping.KindInt8:
				tb.kinds[i] = scanInt
			case mapping.KindFloat8, mapping.KindFloat4:
				tb.kinds[i] = scanFloat
			case mapping.KindBool:
				tb.kinds[i] = scanBool
			case mapping.KindTimestamptz:
				tb.kinds[i] = scanTimestamptz
			case mapping.KindTimestamp:
				tb.kinds[i] = scanTimestamp
			case mapping.KindBytea:
				tb.kinds[i] = scanBytes
			default: // text, varchar, numeric, jsonb, uuid, date
				sel[i] = col + "::text"
				tb.kinds[i] = scanText
			}
		}
	}
	tb.sel = sel
	from := t.Ident.Sanitize()
	selList := strings.Join(sel, ", ")
	lookup := func(cols []int) string {
		names := make([]string, len(cols))
		casts := make([]string, len(cols))
		params := make([]string, len(cols))
		aliases := make([]string, len(cols))
		for i, ci := range cols {
			c := t.Columns[ci]
			names[i] = q(c.Name)
			aliases[i] = fmt.Sprintf("c%d", i)
			casts[i] = fmt.Sprintf("u.c%d::%s", i, c.Type.Name)
			params[i] = fmt.Sprintf("$%d::text[]", i+1)
		}
		if len(cols) == 1 {
			// one column: = ANY(array) is the cheapest plan (index scan)
			return "SELECT " + selList + " FROM " + from + " WHERE " + names[0] + " = ANY($1::text[]::" +
				t.Columns[cols[0]].Type.Name + "[])"
		}
		return "SELECT " + selList + " FROM " + from + " WHERE (" + strings.Join(names, ", ") + ") IN (SELECT " +
			strings.Join(casts, ", ") + " FROM unnest(" + strings.Join(params, ", ") + ") AS u(" + strings.Join(aliases, ", ") + "))"
	}
	tb.byPK = lookup(t.PKIndexes)
	if !t.Shared {
		if len(t.KeyColumns) == 0 {
			return nil, fmt.Errorf("table %s: no key columns (mapping not validated?)", t.Name)
		}
		tb.byKey = lookup(t.KeyColumns)
		// The mapping engine decided which key attributes have a column
		// (KeyAttrs) and which a `when: equals` pins instead.
		tb.keyAttrs = t.KeyAttrs
		tb.pinned = map[string]string{}
		for _, attr := range m.Source.Key {
			if v, ok := t.PinnedValue(attr); ok && !slices.Contains(t.KeyAttrs, attr) {
				tb.pinned[attr] = v
			}
		}
		if len(tb.keyAttrs) != len(t.KeyColumns) || len(tb.keyAttrs)+len(tb.pinned) != len(m.Source.Key) {
			return nil, fmt.Errorf("table %s: key columns %v and pinned attributes %v do not cover the key %v", t.Name, tb.keyAttrs, tb.pinned, m.Source.Key)
		}
		tb.fullKey = len(tb.pinned) == 0
	}
	return tb, nil
}

// pgRow is one PostgreSQL row: canonical text per column (null marked).
type pgRow struct {
	vals  []string
	nulls []bool
}

// selectFor returns the select expressions of the given columns.
func (tb *table) selectFor(cols []int) []string {
	out := make([]string, len(cols))
	for i, ci := range cols {
		out[i] = tb.sel[ci]
	}
	return out
}

// scanRows reads every row of rows (all columns) into canonical form.
func (tb *table) scanRows(rows pgx.Rows) ([]pgRow, error) {
	defer rows.Close()
	all := make([]int, len(tb.kinds))
	for i := range all {
		all[i] = i
	}
	var out []pgRow
	dest := tb.dest(all)
	n := len(all)
	var vals []string
	var nulls []bool
	for rows.Next() {
		if len(vals) < n {
			vals, nulls = make([]string, 64*n), make([]bool, 64*n)
		}
		r := pgRow{vals: vals[:n:n], nulls: nulls[:n:n]}
		vals, nulls = vals[n:], nulls[n:]
		if err := tb.scanIntoRow(rows, all, dest, r); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", tb.name, err)
	}
	return out, nil
}

// scanOne reads the current row, whose columns are cols, into canonical form.
func (tb *table) scanOne(rows pgx.Rows, cols []int) (pgRow, error) {
	return tb.scanInto(rows, cols, tb.dest(cols))
}

// dest allocates scan targets for cols (reusable across rows).
func (tb *table) dest(cols []int) []any {
	dest := make([]any, len(cols))
	for i, ci := range cols {
		switch tb.kinds[ci] {
		case scanText:
			dest[i] = new(pgtype.Text)
		case scanInt:
			dest[i] = new(pgtype.Int8)
		case scanFloat:
			dest[i] = new(pgtype.Float8)
		case scanBool:
			dest[i] = new(pgtype.Bool)
		case scanTimestamptz:
			dest[i] = new(pgtype.Timestamptz)
		case scanTimestamp:
			dest[i] = new(pgtype.Timestamp)
		case scanBytes:
			dest[i] = new([]byte)
		}
	}
	return dest
}

func (tb *table) scanInto(rows pgx.Rows, cols []int, dest []any) (pgRow, error) {
	n := len(cols)
	r := pgRow{vals: make([]string, n), nulls: make([]bool, n)}
	return r, tb.scanIntoRow(rows, cols, dest, r)
}

// scanIntoRow scans the current row into r (len(r.vals) == len(cols)).
// The common kinds are normalised without boxing; the rest go through norm.
func (tb *table) scanIntoRow(rows pgx.Rows, cols []int, dest []any, r pgRow) error {
	if err := rows.Scan(dest...); err != nil {
		return fmt.Errorf("reading %s: %w", tb.name, err)
	}
	for i, d := range dest {
		c := tb.t.Columns[cols[i]]
		var v any
		switch x := d.(type) {
		case *pgtype.Text:
			if !x.Valid {
				r.vals[i], r.nulls[i] = "", true
				continue
			}
			if !c.Type.Array && (c.Type.Kind == mapping.KindText || c.Type.Kind == mapping.KindVarchar) {
				r.vals[i], r.nulls[i] = x.String, false
				continue
			}
			v = *x
		case *pgtype.Int8:
			if !x.Valid {
				r.vals[i], r.nulls[i] = "", true
				continue
			}
			r.vals[i], r.nulls[i] = strconv.FormatInt(x.Int64, 10), false
			continue
		case *pgtype.Float8:
			v = *x
		case *pgtype.Bool:
			v = *x
		case *pgtype.Timestamptz:
			if !x.Valid {
				r.vals[i], r.nulls[i] = "", true
				continue
			}
			if x.InfinityModifier == pgtype.Finite {
				r.vals[i], r.nulls[i] = formatInstant(x.Time), false
				continue
			}
			v = *x
		case *pgtype.Timestamp:
			v = *x
		case *[]byte:
			if *x != nil {
				v = *x
			}
		}
		s, null, err := norm(c.Type, v)
		if err != nil {
			return fmt.Errorf("reading %s.%s: %w", tb.name, c.Name, err)
		}
		r.vals[i], r.nulls[i] = s, null
	}
	return nil
}

// lookup runs byKey or byPK for the given tuples (canonical text of each
// column, tuple by tuple) and returns the rows.
func (tb *table) lookup(ctx context.Context, pool *pgxpool.Pool, sql string, width int, tuples [][]string) ([]pgRow, error) {
	if len(tuples) == 0 {
		return nil, nil
	}
	cols := make([]any, width)
	for i := range width {
		a := make([]string, len(tuples))
		for j, tp := range tuples {
			a[j] = tp[i]
		}
		cols[i] = a
	}
	rows, err := pool.Query(ctx, sql, cols...)
	if err != nil {
		return nil, fmt.Errorf("looking up rows of %s: %w", tb.name, err)
	}
	return tb.scanRows(rows)
}

// tupleOf returns the canonical tuple of row at the given columns.
func tupleOf(r pgRow, cols []int) string {
	if len(cols) == 1 {
		return r.vals[cols[0]]
	}
	var sb strings.Builder
	for i, ci := range cols {
		if i > 0 {
			sb.WriteByte(0)
		}
		sb.WriteString(r.vals[ci])
	}
	return sb.String()
}

func joinTuple(vals []string) string { return strings.Join(vals, "\x00") }
