package mapping

import "testing"

// TestKindStringMatchesTheTypeTable: every base type's Kind prints as that
// type's canonical name, so messages that name a kind and the DDL agree.
func TestKindStringMatchesTheTypeTable(t *testing.T) {
	seen := map[Kind]bool{}
	for name, b := range bases {
		if b.kind.String() != b.name {
			t.Errorf("%s: Kind %d prints %q, want %q", name, b.kind, b.kind.String(), b.name)
		}
		seen[b.kind] = true
	}
	for k := KindText; k <= KindJSONB; k++ {
		if !seen[k] {
			t.Errorf("Kind %v has no base type", k)
		}
	}
}
