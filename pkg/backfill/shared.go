package backfill

import (
	"encoding/binary"
	"hash/maphash"
	"iter"
	"maps"
	"slices"
	"sync"
)

// pkHash identifies a shared row's primary key in the sets below: 128 bits
// of two seeded hashes of its dedupe key. Fixed-size keys sit inside the
// maps' slots, where string keys cost a cache miss apiece to compare (the
// lookups were most of the writer's time). Two keys sharing a hash, odds
// about n²/2¹²⁹ for n keys (1e-29 for 100,000), would make the second row
// look written already and skip it; PostgreSQL decides every other case.
type pkHash [16]byte

var pkSeeds = [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}

func hashPK(key string) pkHash {
	var h pkHash
	binary.LittleEndian.PutUint64(h[:8], maphash.String(pkSeeds[0], key))
	binary.LittleEndian.PutUint64(h[8:], maphash.String(pkSeeds[1], key))
	return h
}

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
	keys map[int]map[pkHash]struct{} // table index -> primary keys
}

// view read-locks the set for a batch of lookups in one table; call done
// after them.
func (c *committedShared) view(table int) committedView {
	c.mu.RLock()
	return committedView{c: c, m: c.keys[table]}
}

type committedView struct {
	c *committedShared
	m map[pkHash]struct{}
}

func (v committedView) has(pk pkHash) bool {
	_, ok := v.m[pk]
	return ok
}

func (v committedView) done() { v.c.mu.RUnlock() }

// add records keys of a committed file's shared rows.
func (c *committedShared) add(table int, pks iter.Seq[pkHash]) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := tableSet(&c.keys, table)
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
	keys map[int]map[pkHash]struct{} // table index -> claimed keys
}

// claim takes the rows of table whose primary keys (pks, aligned with
// rows) are neither committed nor claimed by another file, and claims those
// keys for the caller.
func (c *sharedClaims) claim(table int, rows [][]any, pks []pkHash, committed committedView) (keptRows [][]any, kept []pkHash) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := tableSet(&c.keys, table)
	for i, row := range rows {
		pk := pks[i]
		if _, taken := m[pk]; taken || committed.has(pk) {
			continue
		}
		m[pk] = struct{}{}
		keptRows = append(keptRows, row)
		kept = append(kept, pk)
	}
	return keptRows, kept
}

// release drops claims.
func (c *sharedClaims) release(table int, pks []pkHash) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, pk := range pks {
		delete(c.keys[table], pk)
	}
}

// tableSet returns table's set in sets, created when missing.
func tableSet(sets *map[int]map[pkHash]struct{}, table int) map[pkHash]struct{} {
	if *sets == nil {
		*sets = map[int]map[pkHash]struct{}{}
	}
	m := (*sets)[table]
	if m == nil {
		m = map[pkHash]struct{}{}
		(*sets)[table] = m
	}
	return m
}

// keysOf lists a set's keys for committedShared.add.
func keysOf(set map[pkHash]struct{}) iter.Seq[pkHash] { return maps.Keys(set) }

// keysIn lists a slice's keys for committedShared.add.
func keysIn(pks []pkHash) iter.Seq[pkHash] { return slices.Values(pks) }
