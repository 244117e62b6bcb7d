package load

import "sync"

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
func (c *committedShared) add(table int, pks map[string]struct{}) {
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
