package load

import (
	"slices"
	"testing"
)

// Two files of one process never both copy a shared row: the second skips
// what the first claimed, rows already committed are skipped by both, and a
// file's claims come free when it rolls back, for its retry (or another
// file) to take.
func TestSharedClaims(t *testing.T) {
	t.Parallel()
	var c sharedClaims
	var committed committedShared
	committed.add(0, keysIn([]string{"c"}))
	pk := func(r []any) string { return r[0].(string) }
	rows := func(ks ...string) [][]any {
		var out [][]any
		for _, k := range ks {
			out = append(out, []any{k})
		}
		return out
	}
	claim := func(table int, ks ...string) []string {
		v := committed.view(table)
		defer v.done()
		kept, pks := c.claim(table, rows(ks...), pk, v)
		if len(kept) != len(pks) {
			t.Fatalf("%d rows kept for %d keys", len(kept), len(pks))
		}
		return pks
	}
	a := claim(0, "x", "y", "c")
	if !slices.Equal(a, []string{"x", "y"}) {
		t.Fatalf("first file claimed %v, want [x y] (c is committed)", a)
	}
	if b := claim(0, "y", "z"); !slices.Equal(b, []string{"z"}) {
		t.Fatalf("second file claimed %v, want [z]: y is the first file's", b)
	}
	if other := claim(1, "y"); !slices.Equal(other, []string{"y"}) {
		t.Fatalf("another table's y claimed %v, want [y]", other)
	}
	c.release(0, a) // the first file rolled back
	if retry := claim(0, "x", "y"); !slices.Equal(retry, []string{"x", "y"}) {
		t.Fatalf("after the rollback, claimed %v, want [x y]", retry)
	}
}

// Sort keys order rows by primary key: text bytewise, integers as numbers
// (negative ones first), composite keys column by column.
func TestAppendSortKeyOrders(t *testing.T) {
	t.Parallel()
	ct := &copyText{kinds: make([]timeKind, 2)}
	key := func(vals ...any) string { return string(appendSortKey(nil, vals, []int{0, 1}, ct)) }
	ordered := [][]any{
		{"a", int32(-5)},
		{"a", int32(0)},
		{"a", int32(2)},
		{"a", int32(10)},
		{"ab", int32(-1)},
		{"b", int32(1)},
	}
	for i := 1; i < len(ordered); i++ {
		if a, b := key(ordered[i-1]...), key(ordered[i]...); a >= b {
			t.Errorf("key of %v (%q) sorts at or after the key of %v (%q)", ordered[i-1], a, ordered[i], b)
		}
	}
	if a, b := key(int64(-1), "x"), key(int64(1), "x"); a >= b {
		t.Errorf("bigint -1 sorts at or after 1")
	}
}
