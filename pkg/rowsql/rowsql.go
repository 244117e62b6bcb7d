// Package rowsql builds the DML that writes a mapped table's rows, shared by
// the backfill and the stream applier so both write rows the same way. All
// identifiers come from a validated mapping and are quoted; values always go
// as parameters or COPY data.
package rowsql

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
}

// For builds the statements of every table of m, in mapping order.
func For(m *mapping.Mapping) []*Table {
	out := make([]*Table, len(m.Tables))
	for i, t := range m.Tables {
		out[i] = build(t)
	}
	return out
}

func quote(name string) string { return pgx.Identifier{name}.Sanitize() }

func build(t *mapping.Table) *Table {
	rt := &Table{T: t, Name: t.Ident.Sanitize()}
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
	ins := "INSERT INTO " + rt.Name + " AS t (" + strings.Join(cols, ", ") + ") VALUES (" + strings.Join(params, ", ") + ")"
	rt.Insert = ins
	rt.InsertIfAbsent = ins + " ON CONFLICT (" + strings.Join(pk, ", ") + ") DO NOTHING"
	if len(set) == 0 {
		rt.Upsert = rt.InsertIfAbsent
	} else {
		rt.Upsert = ins + " ON CONFLICT (" + strings.Join(pk, ", ") + ") DO UPDATE SET " + strings.Join(set, ", ") +
			" WHERE (" + strings.Join(oldVals, ", ") + ") IS DISTINCT FROM (" + strings.Join(newVals, ", ") + ")"
	}
	if !t.Shared {
		conds := make([]string, len(t.KeyColumns))
		for i, ci := range t.KeyColumns {
			conds[i] = fmt.Sprintf("%s = $%d", quote(t.Columns[ci].Name), i+1)
		}
		rt.DeleteItem = "DELETE FROM " + rt.Name + " WHERE " + strings.Join(conds, " AND ")
	}
	return rt
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
