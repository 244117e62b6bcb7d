package backfill

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
	committed.add(0, keysIn([]pkHash{hashPK("c")}))
	claim := func(table int, ks ...string) []string {
		var rows [][]any
		var pks []pkHash
		for _, k := range ks {
			rows = append(rows, []any{k})
			pks = append(pks, hashPK(k))
		}
		v := committed.view(table)
		defer v.done()
		kept, keys := c.claim(table, rows, pks, v)
		if len(kept) != len(keys) {
			t.Fatalf("%d rows kept for %d keys", len(kept), len(keys))
		}
		var out []string
		for i, row := range kept {
			if keys[i] != hashPK(row[0].(string)) {
				t.Fatalf("row %v came back with another row's key", row)
			}
			out = append(out, row[0].(string))
		}
		return out
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
	c.release(0, []pkHash{hashPK("x"), hashPK("y")}) // the first file rolled back
	if retry := claim(0, "x", "y"); !slices.Equal(retry, []string{"x", "y"}) {
		t.Fatalf("after the rollback, claimed %v, want [x y]", retry)
	}
	if hashPK("x") == hashPK("y") || hashPK("ab\x00c") == hashPK("a\x00bc") {
		t.Fatal("distinct keys share a hash")
	}
}
