package load

import (
	"iter"
	"maps"
	"slices"
	"strings"
	"sync"
)

// maxCommittedShared bounds the memory spent remembering shared rows.
const maxCommittedShared = 2_000_000

// committedShared remembers the primary keys of shared rows that files of
// this run have committed. The backfill never overwrites an existing shared
// row, so a later file's copy of such a row would be a no-op: skipping it
// saves staging it and probing it again. Only an optimisation: past the
// bound, rows are simply staged and PostgreSQL's ON CONFLICT DO NOTHING
// decides, as it does for rows other processes wrote.
type committedShared struct {
	mu   sync.RWMutex
	n    int
	keys map[int]map[string]struct{} // table index -> pk strings
}

// view read-locks the set for a batch of lookups in one table; call done
// after them.
func (c *committedShared) view(table int) committedView {
	c.mu.RLock()
	return committedView{c: c, m: c.keys[table]}
}

type committedView struct {
	c *committedShared
	m map[string]struct{}
}

func (v committedView) has(pk string) bool {
	_, ok := v.m[pk]
	return ok
}

func (v committedView) done() { v.c.mu.RUnlock() }

// add records keys of a committed file's shared rows.
func (c *committedShared) add(table int, pks iter.Seq[string]) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.keys == nil {
		c.keys = map[int]map[string]struct{}{}
	}
	m := c.keys[table]
	if m == nil {
		m = map[string]struct{}{}
		c.keys[table] = m
	}
	for pk := range pks {
		if c.n >= maxCommittedShared {
			return
		}
		if _, ok := m[pk]; !ok {
			m[pk] = struct{}{}
			c.n++
		}
	}
}

// sharedClaims are the primary keys of shared rows that files of this
// process are writing with a plain COPY and have not committed yet. A first
// load copies its new shared rows straight into the table (PostgreSQL's ON
// CONFLICT path costs it about three times a COPY); claims keep two files of
// the process from copying the same row, which would make the later one wait
// for the earlier one's commit and then fail. A file releases its claims
// once committed (after adding them to committedShared) or rolled back (its
// retry claims again). A row another process or the stream wrote meanwhile
// fails the COPY with a unique violation, and the careful retry stages it.
type sharedClaims struct {
	mu   sync.Mutex
	keys map[int]map[string]struct{} // table index -> claimed pks
}

// claim takes the rows of table whose primary keys are neither committed
// nor claimed by another file, and claims those keys for the caller.
func (c *sharedClaims) claim(table int, rows [][]any, pkOf func([]any) string, committed committedView) (kept [][]any, pks []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.keys == nil {
		c.keys = map[int]map[string]struct{}{}
	}
	m := c.keys[table]
	if m == nil {
		m = map[string]struct{}{}
		c.keys[table] = m
	}
	for _, row := range rows {
		pk := pkOf(row)
		if _, taken := m[pk]; taken || committed.has(pk) {
			continue
		}
		pk = strings.Clone(pk) // kept beyond the row's decoded line
		m[pk] = struct{}{}
		kept = append(kept, row)
		pks = append(pks, pk)
	}
	return kept, pks
}

// release drops claims.
func (c *sharedClaims) release(table int, pks []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, pk := range pks {
		delete(c.keys[table], pk)
	}
}

// keysOf lists a set's keys for committedShared.add.
func keysOf(set map[string]struct{}) iter.Seq[string] { return maps.Keys(set) }

// keysIn lists a slice's keys for committedShared.add.
func keysIn(pks []string) iter.Seq[string] { return slices.Values(pks) }
