package pgwrite

// The per-table statements. All identifiers come from a validated mapping and
// are quoted; values always go as parameters or COPY data.

import (
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/ddb2pg/ddb2pg/pkg/mapping"
)

// Table holds the statements for one mapped table.
type Table struct {
	T *mapping.Table
	// Name is the quoted, possibly schema-qualified table name.
	Name string
	// Columns are the mapped column names, in mapping order (COPY order).
	Columns []string
	// DeleteItem deletes an item's rows by the table's key columns
	// ($1..$k in Source.Key order). Non-shared tables only.
	DeleteItem string
	// Insert inserts one row ($1..$n in column order).
	Insert string
	// Upsert inserts one row or, for an existing primary key, updates the
	// non-key columns when they differ (the stream's write of a shared row).
	Upsert string
	// InsertIfAbsent inserts one row unless its primary key exists.
	InsertIfAbsent string
	// UpsertSet is Upsert fed by one typed array per column ($1::T1[], ...,
	// unnested), to write many rows in one statement; "" when a column's
	// type has no flat array form (arrays, jsonb).
	UpsertSet string
	// DeleteItems deletes the rows of many items at once, one typed array
	// per key column ($1::T1[], ... in KeyColumns order). Non-shared only.
	DeleteItems string

	textKey   int         // the column of a single text primary key, or -1 (see SharedKey)
	itemWhere string      // " WHERE k1 = $1 AND ...", non-shared only
	order     *orderCache // the write order of the set built by For (see OrderOf)
}

// SoftDeleteItem marks an item's rows instead of deleting them: it sets
// column to $k+1 (now() when NULL), $1..$k being the key columns as in
// DeleteItem. Non-shared tables only.
func (rt *Table) SoftDeleteItem(column string) string {
	n := len(rt.T.KeyColumns) + 1
	return "UPDATE " + rt.Name + " SET " + quote(column) + fmt.Sprintf(" = coalesce($%d::timestamptz, now())", n) + rt.itemWhere
}

// For builds the statements of every table of m, in mapping order: one set,
// whose write order OrderOf reads once.
func For(m *mapping.Mapping) []*Table {
	out := make([]*Table, len(m.Tables))
	c := &orderCache{}
	for i, t := range m.Tables {
		out[i] = build(t)
		out[i].order = c
	}
	return out
}

func quote(name string) string { return pgx.Identifier{name}.Sanitize() }

func build(t *mapping.Table) *Table {
	rt := &Table{T: t, Name: t.Ident.Sanitize(), textKey: textKeyOf(t)}
	cols := make([]string, len(t.Columns))
	params := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		rt.Columns = append(rt.Columns, c.Name)
		cols[i] = quote(c.Name)
		params[i] = fmt.Sprintf("$%d", i+1)
	}
	pk := make([]string, len(t.PKIndexes))
	isPK := map[int]bool{}
	for i, ci := range t.PKIndexes {
		pk[i] = quote(t.Columns[ci].Name)
		isPK[ci] = true
	}
	var set, oldVals, newVals []string
	for i, c := range t.Columns {
		if isPK[i] {
			continue
		}
		q := quote(c.Name)
		set = append(set, q+" = EXCLUDED."+q)
		oldVals = append(oldVals, "t."+q)
		newVals = append(newVals, "EXCLUDED."+q)
	}
	into := "INSERT INTO " + rt.Name + " AS t (" + strings.Join(cols, ", ") + ")"
	onConflict := " ON CONFLICT (" + strings.Join(pk, ", ") + ") DO NOTHING"
	if len(set) > 0 {
		onConflict = " ON CONFLICT (" + strings.Join(pk, ", ") + ") DO UPDATE SET " + strings.Join(set, ", ") +
			" WHERE (" + strings.Join(oldVals, ", ") + ") IS DISTINCT FROM (" + strings.Join(newVals, ", ") + ")"
	}
	values := " VALUES (" + strings.Join(params, ", ") + ")"
	rt.Insert = into + values
	rt.InsertIfAbsent = into + values + " ON CONFLICT (" + strings.Join(pk, ", ") + ") DO NOTHING"
	rt.Upsert = into + values + onConflict
	if arrays, ok := arrayParams(t.Columns); ok {
		rt.UpsertSet = into + " SELECT * FROM unnest(" + strings.Join(arrays, ", ") + ")" + onConflict
	}
	if !t.Shared {
		conds := make([]string, len(t.KeyColumns))
		setConds := make([]string, len(t.KeyColumns))
		names := make([]string, len(t.KeyColumns))
		keyCols := make([]*mapping.Column, len(t.KeyColumns))
		for i, ci := range t.KeyColumns {
			c := t.Columns[ci]
			keyCols[i] = c
			conds[i] = fmt.Sprintf("%s = $%d", quote(c.Name), i+1)
			names[i] = fmt.Sprintf("k%d", i)
			setConds[i] = fmt.Sprintf("t.%s = d.k%d", quote(c.Name), i)
		}
		rt.itemWhere = " WHERE " + strings.Join(conds, " AND ")
		rt.DeleteItem = "DELETE FROM " + rt.Name + rt.itemWhere
		keyArrays, _ := arrayParams(keyCols) // key columns are scalar types
		rt.DeleteItems = "DELETE FROM " + rt.Name + " AS t USING unnest(" + strings.Join(keyArrays, ", ") + ") AS d(" +
			strings.Join(names, ", ") + ") WHERE " + strings.Join(setConds, " AND ")
	}
	return rt
}

// arrayParams returns "$i::T[]" for each column, and false when a column's
// type has no flat array form (it is an array itself, or json).
func arrayParams(cols []*mapping.Column) ([]string, bool) {
	out := make([]string, len(cols))
	for i, c := range cols {
		if c.Type.Array || c.Type.Kind == mapping.KindJSONB {
			return nil, false
		}
		out[i] = fmt.Sprintf("$%d::%s[]", i+1, c.Type.Name)
	}
	return out, true
}

// PrimaryKey returns the quoted primary key column list, comma separated.
func (rt *Table) PrimaryKey() string {
	pk := make([]string, len(rt.T.PKIndexes))
	for i, ci := range rt.T.PKIndexes {
		pk[i] = quote(rt.T.Columns[ci].Name)
	}
	return strings.Join(pk, ", ")
}

// QuotedColumns returns the quoted column list, comma separated.
func (rt *Table) QuotedColumns() string {
	q := make([]string, len(rt.Columns))
	for i, c := range rt.Columns {
		q[i] = quote(c)
	}
	return strings.Join(q, ", ")
}

// SharedKey is a row's identity in its table: equal for rows whose primary
// keys PostgreSQL considers equal (mapping.Table.PKString). A single text
// primary key is its own identity: most shared rows repeat one already seen,
// and looking the value up as it is costs no allocation.
func (rt *Table) SharedKey(row []any) string {
	if rt.textKey >= 0 {
		if s, ok := row[rt.textKey].(string); ok {
			return s
		}
	}
	return rt.T.PKString(row)
}

// textKeyOf is the column index of t's single text primary key, or -1.
func textKeyOf(t *mapping.Table) int {
	if pk := t.PKIndexes; len(pk) == 1 {
		if k := t.Columns[pk[0]].Type.Kind; (k == mapping.KindText || k == mapping.KindVarchar) && !t.Columns[pk[0]].Type.Array {
			return pk[0]
		}
	}
	return -1
}
