package pgwrite

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ddb2pg/ddb2pg/pkg/mapping"
)

// TestNewOrder: parents are written before children and deleted after
// them; keys checked at commit do not order; cycles keep mapping order.
func TestNewOrder(t *testing.T) {
	for _, tc := range []struct {
		name            string
		n               int
		fks             []FK
		insert, delete  string
		cycle, selfRefs string
	}{
		{name: "no keys: mapping order", n: 3, insert: "[0 1 2]", delete: "[2 1 0]", cycle: "[]", selfRefs: "[]"},
		{name: "child mapped before parent", n: 3, fks: []FK{{Child: 1, Parent: 2}},
			insert: "[0 2 1]", delete: "[1 2 0]", cycle: "[]", selfRefs: "[]"},
		{name: "chain to a shared table", n: 3, fks: []FK{{Child: 2, Parent: 1}, {Child: 1, Parent: 0}},
			insert: "[0 1 2]", delete: "[2 1 0]", cycle: "[]", selfRefs: "[]"},
		{name: "reverse chain", n: 3, fks: []FK{{Child: 0, Parent: 1}, {Child: 1, Parent: 2}},
			insert: "[2 1 0]", delete: "[0 1 2]", cycle: "[]", selfRefs: "[]"},
		{name: "initially deferred keys do not order", n: 2, fks: []FK{{Child: 0, Parent: 1, Deferrable: true, Deferred: true}},
			insert: "[0 1]", delete: "[1 0]", cycle: "[]", selfRefs: "[]"},
		{name: "deferrable but immediate keys order", n: 2, fks: []FK{{Child: 0, Parent: 1, Deferrable: true}},
			insert: "[1 0]", delete: "[0 1]", cycle: "[]", selfRefs: "[]"},
		{name: "self-reference", n: 2, fks: []FK{{Child: 1, Parent: 1}, {Child: 0, Parent: 1}},
			insert: "[1 0]", delete: "[0 1]", cycle: "[]", selfRefs: "[1]"},
		{name: "cycle, fed by a table and feeding one", n: 4,
			fks:    []FK{{Child: 3, Parent: 1}, {Child: 1, Parent: 2}, {Child: 2, Parent: 1}, {Child: 1, Parent: 0}, {Child: 2, Parent: 0}},
			insert: "[0 1 2 3]", delete: "[3 2 1 0]", cycle: "[1 2]", selfRefs: "[]"},
		{name: "a table waiting on a cycle mapped first", n: 3,
			fks:    []FK{{Child: 0, Parent: 1}, {Child: 1, Parent: 2}, {Child: 2, Parent: 1}},
			insert: "[1 2 0]", delete: "[0 2 1]", cycle: "[1 2]", selfRefs: "[]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := NewOrder(tc.n, tc.fks)
			var self []int
			for i, s := range o.SelfRef {
				if s {
					self = append(self, i)
				}
			}
			got := fmt.Sprintf("%v %v %v %v", o.Insert, o.Delete, o.Cycle, self)
			want := tc.insert + " " + tc.delete + " " + tc.cycle + " " + tc.selfRefs
			if got != want {
				t.Errorf("got %s, want %s", got, want)
			}
		})
	}
}

// Describe names the order for the log, and says which tables a cycle of
// immediate keys left in mapping order and how to fix it.
func TestOrderDescribe(t *testing.T) {
	t.Parallel()
	m, err := mapping.Parse("test.yaml", []byte(testMapping))
	if err != nil {
		t.Fatal(err)
	}
	tables := For(m)
	if got := NewOrder(len(tables), nil).Describe(tables); got != "" {
		t.Errorf("without keys: %q", got)
	}
	got := NewOrder(len(tables), []FK{{Child: 1, Parent: 3}}).Describe(tables)
	if want := "tables written in the order sales.customers, tags, profiles, order_items (deleted in reverse)"; got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	got = NewOrder(len(tables), []FK{{Child: 2, Parent: 3}, {Child: 3, Parent: 2}}).Describe(tables)
	if !strings.Contains(got, "between tags, profiles form a cycle") || !strings.Contains(got, "DEFERRABLE INITIALLY DEFERRED") {
		t.Errorf("cycle: %q", got)
	}
}
