package pgwrite

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
)

// FK is a foreign key between two mapped tables, as the catalog has it.
// Child and Parent index the tables given to ReadOrder (equal for a
// self-reference).
type FK struct {
	Name          string // the constraint's name, schema-qualified and quoted
	Constraint    string // the constraint's own name, as it is
	Child, Parent int
	// Deferrable: SET CONSTRAINTS can defer it. Deferred: it is
	// INITIALLY DEFERRED, checked at commit; otherwise it is checked at
	// the end of each statement, so the order of statements matters.
	Deferrable, Deferred bool
}

// Order is the order in which a writer touches the mapped tables so that
// the user's foreign keys between them hold after every statement: rows are
// inserted or upserted parents first (Insert) and deleted children first
// (Delete). Without foreign keys it is the mapping's order. Indexes refer to
// the tables given to ReadOrder (a mapping's tables, in mapping order).
type Order struct {
	Insert []int // every table, parents before children
	Delete []int // every table, children before parents (Insert reversed)
	// SelfRef marks tables with an immediate foreign key to themselves: a
	// writer sends such a table's rows of an item in one statement (one
	// COPY or one DELETE), after which PostgreSQL checks them together.
	SelfRef []bool
	// FKs are the foreign keys between mapped tables (self-references too).
	FKs []FK
	// Cycle lists the tables whose immediate foreign keys form a cycle;
	// they keep their mapping order among themselves, which cannot satisfy
	// every such key (make one of them DEFERRABLE INITIALLY DEFERRED).
	Cycle []int
}

// NewOrder orders n tables by fks: a stable topological sort over the
// immediate (not initially deferred) foreign keys, ties kept in index order.
// Tables on a cycle of immediate keys are placed, in index order, where the
// first of them becomes free once the cycle's keys are ignored.
func NewOrder(n int, fks []FK) *Order {
	o := &Order{SelfRef: make([]bool, n), FKs: fks}
	parents := make([][]int, n) // child -> parents (immediate keys only)
	for _, fk := range fks {
		if fk.Deferred {
			continue
		}
		if fk.Child == fk.Parent {
			o.SelfRef[fk.Child] = true
			continue
		}
		if !slices.Contains(parents[fk.Child], fk.Parent) {
			parents[fk.Child] = append(parents[fk.Child], fk.Parent)
		}
	}
	placed := make([]bool, n)
	ready := func(i int) bool {
		for _, p := range parents[i] {
			if !placed[p] {
				return false
			}
		}
		return true
	}
	for len(o.Insert) < n {
		next := -1
		for i := 0; i < n; i++ {
			if !placed[i] && ready(i) {
				next = i
				break
			}
		}
		if next >= 0 {
			placed[next] = true
			o.Insert = append(o.Insert, next)
			continue
		}
		// Every table left waits on another: there is a cycle. Place the
		// first cycle (strongly connected tables) that waits on no table
		// outside itself, its tables in index order.
		var cyc []int
		for i := 0; i < n && cyc == nil; i++ {
			if placed[i] {
				continue
			}
			scc := cycleOf(i, parents, placed)
			free := true
			for _, t := range scc {
				for _, p := range parents[t] {
					if !placed[p] && !slices.Contains(scc, p) {
						free = false
					}
				}
			}
			if free {
				cyc = scc
			}
		}
		for _, i := range cyc {
			placed[i] = true
			o.Insert = append(o.Insert, i)
		}
		o.Cycle = append(o.Cycle, cyc...)
	}
	o.Delete = make([]int, n)
	for i, t := range o.Insert {
		o.Delete[n-1-i] = t
	}
	return o
}

// cycleOf returns, sorted, the unplaced tables that start reaches through
// unplaced parents and that reach start back: start's strongly connected
// component among the unplaced tables.
func cycleOf(start int, parents [][]int, placed []bool) []int {
	reach := func(from int, next func(int) []int) map[int]bool {
		seen := map[int]bool{from: true}
		stack := []int{from}
		for len(stack) > 0 {
			t := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for _, p := range next(t) {
				if !placed[p] && !seen[p] {
					seen[p] = true
					stack = append(stack, p)
				}
			}
		}
		return seen
	}
	up := reach(start, func(t int) []int { return parents[t] })
	down := reach(start, func(t int) []int {
		var cs []int
		for c := range parents {
			if slices.Contains(parents[c], t) {
				cs = append(cs, c)
			}
		}
		return cs
	})
	var out []int
	for t := range up {
		if down[t] {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return out
}

// Querier runs a query (a pool, a connection or a transaction).
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// fkQuery lists the foreign keys between the named tables: one row per
// constraint (not per partition's copy of it), with the indexes of child
// and parent in $1.
const fkQuery = `WITH t AS (SELECT u.i - 1 AS i, to_regclass(u.n) AS oid FROM unnest($1::text[]) WITH ORDINALITY AS u(n, i))
SELECT ns.nspname, c.conname, child.i, parent.i, c.condeferrable, c.condeferred
FROM pg_constraint c
JOIN pg_namespace ns ON ns.oid = c.connamespace
JOIN t child ON child.oid = c.conrelid
JOIN t parent ON parent.oid = c.confrelid
WHERE c.contype = 'f' AND c.conparentid = 0
ORDER BY 3, 4, 2`

// ReadOrder reads the foreign keys between tables from the catalog and
// orders the tables by them. A table that does not exist has none.
func ReadOrder(ctx context.Context, q Querier, tables []*Table) (*Order, error) {
	names := make([]string, len(tables))
	for i, rt := range tables {
		names[i] = rt.Name
	}
	rows, err := q.Query(ctx, fkQuery, names)
	if err != nil {
		return nil, fmt.Errorf("reading the foreign keys between the mapped tables: %w", err)
	}
	var fks []FK
	for rows.Next() {
		var fk FK
		var child, parent int64
		var schema string
		if err := rows.Scan(&schema, &fk.Constraint, &child, &parent, &fk.Deferrable, &fk.Deferred); err != nil {
			rows.Close()
			return nil, fmt.Errorf("reading the foreign keys between the mapped tables: %w", err)
		}
		fk.Child, fk.Parent = int(child), int(parent)
		fk.Name = pgx.Identifier{schema, fk.Constraint}.Sanitize()
		fks = append(fks, fk)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the foreign keys between the mapped tables: %w", err)
	}
	return NewOrder(len(tables), fks), nil
}

// orderCache is the order of one set of tables built by For, shared by
// them: read from the catalog once per set, re-read after Forget.
type orderCache struct {
	mu  sync.Mutex
	ord *Order
}

// OrderOf returns the write order of tables, which must be one whole set
// built by For: read from the catalog through q the first time (or the
// first time after ForgetOrder), then remembered for the set. A foreign key
// added to the tables later is seen only after ForgetOrder (writers call it
// when PostgreSQL reports a foreign key violation, SQLSTATE 23503) or with
// a new set (a restart).
func OrderOf(ctx context.Context, q Querier, tables []*Table) (*Order, error) {
	if len(tables) == 0 {
		return NewOrder(0, nil), nil
	}
	c := tables[0].order
	if c == nil {
		return ReadOrder(ctx, q, tables)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ord != nil {
		return c.ord, nil
	}
	ord, err := ReadOrder(ctx, q, tables)
	if err != nil {
		return nil, err
	}
	c.ord = ord
	return ord, nil
}

// ForgetOrder makes the next OrderOf of tables read the catalog again.
func ForgetOrder(tables []*Table) {
	if len(tables) == 0 || tables[0].order == nil {
		return
	}
	c := tables[0].order
	c.mu.Lock()
	c.ord = nil
	c.mu.Unlock()
}

// Describe says, for a log line, which foreign keys order the tables and
// which cycle could not be ordered ("" when there are no foreign keys).
func (o *Order) Describe(tables []*Table) string {
	if len(o.FKs) == 0 {
		return ""
	}
	names := func(is []int) string {
		s := make([]string, len(is))
		for k, i := range is {
			s[k] = tables[i].T.Name
		}
		return strings.Join(s, ", ")
	}
	msg := "tables written in the order " + names(o.Insert) + " (deleted in reverse)"
	if len(o.Cycle) > 0 {
		msg += "; the foreign keys between " + names(o.Cycle) +
			" form a cycle of immediate checks, so these are written in mapping order: make one of them DEFERRABLE INITIALLY DEFERRED"
	}
	return msg
}
