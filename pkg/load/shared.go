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

func (c *committedShared) has(table int, pk string) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	_, ok := c.keys[table][pk]
	return ok
}

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
