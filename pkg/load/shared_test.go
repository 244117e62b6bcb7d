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
