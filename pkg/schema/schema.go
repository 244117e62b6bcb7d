// Package schema makes the PostgreSQL side ready for a mapping: it creates
// the tables that are missing and checks that tables users created
// themselves (with their own indexes and constraints) fit the mapping.
package schema

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ddb2pg/ddb2pg/pkg/mapping"
)

// DB is what preparing the schema needs from a pool or connection.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Begin(ctx context.Context) (pgx.Tx, error)
}

// TableState says what was found for one mapped table.
type TableState struct {
	Table   *mapping.Table
	Exists  bool
	Created bool
}

// MisfitError lists the mapped tables that exist but do not fit the mapping.
type MisfitError struct {
	Tables []TableMisfit
}

// TableMisfit is one existing table that cannot be used as it is.
type TableMisfit struct {
	Table    string
	Problems []string
}

func (e *MisfitError) Error() string {
	var sb strings.Builder
	sb.WriteString("existing tables do not fit the mapping:")
	for _, t := range e.Tables {
		for _, p := range t.Problems {
			fmt.Fprintf(&sb, "\n  table %s: %s", t.Table, p)
		}
	}
	return sb.String()
}

// Inspect reports which mapped tables exist and checks the existing ones.
// It changes nothing.
func Inspect(ctx context.Context, db DB, m *mapping.Mapping) ([]TableState, error) {
	states := make([]TableState, len(m.Tables))
	var misfits []TableMisfit
	for i, t := range m.Tables {
		states[i].Table = t
		cols, err := existingColumns(ctx, db, t)
		if err != nil {
			return nil, err
		}
		if cols == nil {
			continue
		}
		states[i].Exists = true
		var problems []string
		if err := t.CheckColumns(cols); err != nil {
			var ce *mapping.ColumnsError
			if errors.As(err, &ce) {
				for _, p := range ce.Problems {
					problems = append(problems, fmt.Sprintf("column %s: %s", p.Column, p.Reason))
				}
			} else {
				problems = append(problems, err.Error())
			}
		}
		ok, err := hasUniqueIndexOn(ctx, db, t)
		if err != nil {
			return nil, err
		}
		if !ok {
			problems = append(problems, fmt.Sprintf("no primary key or unique index on exactly (%s), which the mapping's primary_key needs for upserts",
				strings.Join(t.PrimaryKey, ", ")))
		}
		if len(problems) > 0 {
			misfits = append(misfits, TableMisfit{Table: t.Name, Problems: problems})
		}
	}
	if len(misfits) > 0 {
		return states, &MisfitError{Tables: misfits}
	}
	return states, nil
}

// Ensure creates the mapped tables that do not exist, in one transaction,
// after checking that the existing ones fit. It returns what it found and did.
func Ensure(ctx context.Context, db DB, m *mapping.Mapping) ([]TableState, error) {
	states, err := Inspect(ctx, db, m)
	if err != nil {
		return states, err
	}
	tx, err := db.Begin(ctx)
	if err != nil {
		return states, fmt.Errorf("creating tables: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	// Serialise concurrent backfill processes creating the same tables.
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('ddb2pg.schema'))`); err != nil {
		return states, fmt.Errorf("locking schema creation: %w", err)
	}
	schemas := map[string]bool{}
	for i := range states {
		t := states[i].Table
		if states[i].Exists {
			continue
		}
		if t.Schema != "" && !schemas[t.Schema] {
			schemas[t.Schema] = true
			if _, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{t.Schema}.Sanitize()); err != nil {
				return states, fmt.Errorf("creating schema %s: %w", t.Schema, err)
			}
		}
		if _, err := tx.Exec(ctx, t.CreateSQL()); err != nil {
			return states, fmt.Errorf("creating table %s: %w", t.Name, err)
		}
		states[i].Created = true
	}
	if err := tx.Commit(ctx); err != nil {
		return states, fmt.Errorf("creating tables: %w", err)
	}
	return states, nil
}

// existingColumns returns the table's columns, or nil when it does not exist.
func existingColumns(ctx context.Context, db DB, t *mapping.Table) ([]mapping.ExistingColumn, error) {
	rows, err := db.Query(ctx, `SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, a.atthasdef
		FROM pg_attribute a
		WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped
		ORDER BY a.attnum`, t.Ident.Sanitize())
	if err != nil {
		return nil, fmt.Errorf("reading columns of %s: %w", t.Name, err)
	}
	defer rows.Close()
	var cols []mapping.ExistingColumn
	for rows.Next() {
		var c mapping.ExistingColumn
		var hasDefault bool
		if err := rows.Scan(&c.Name, &c.DataType, &c.NotNull, &hasDefault); err != nil {
			return nil, fmt.Errorf("reading columns of %s: %w", t.Name, err)
		}
		c.HasDefault = hasDefault
		cols = append(cols, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading columns of %s: %w", t.Name, err)
	}
	if cols == nil {
		// A table may exist with no columns at all; tell it apart from absence.
		var exists bool
		if err := db.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, t.Ident.Sanitize()).Scan(&exists); err != nil {
			return nil, err
		}
		if exists {
			return []mapping.ExistingColumn{}, nil
		}
	}
	return cols, nil
}

// hasUniqueIndexOn reports whether a unique index covers exactly the
// mapping's primary key columns (in any order), as ON CONFLICT needs.
func hasUniqueIndexOn(ctx context.Context, db DB, t *mapping.Table) (bool, error) {
	rows, err := db.Query(ctx, `SELECT array_agg(a.attname::text ORDER BY a.attname)
		FROM pg_index i
		JOIN LATERAL unnest(i.indkey) AS k(attnum) ON true
		JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
		WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL
		GROUP BY i.indexrelid`, t.Ident.Sanitize())
	if err != nil {
		return false, fmt.Errorf("reading indexes of %s: %w", t.Name, err)
	}
	defer rows.Close()
	want := append([]string(nil), t.PrimaryKey...)
	sort.Strings(want)
	for rows.Next() {
		var cols []string
		if err := rows.Scan(&cols); err != nil {
			return false, fmt.Errorf("reading indexes of %s: %w", t.Name, err)
		}
		if strings.Join(cols, "\x00") == strings.Join(want, "\x00") {
			return true, nil
		}
	}
	return false, rows.Err()
}

// IsMisfit reports whether err says existing tables do not fit.
func IsMisfit(err error) bool {
	var m *MisfitError
	return errors.As(err, &m)
}
