package pgwrite

import (
	"testing"
	"time"

	"github.com/ddb2pg/ddb2pg/pkg/mapping"
)

// typedArrays gives one typed slice per column by the column's Kind, and
// no set statement for a kind without a flat array form or a NULL.
func TestTypedArrays(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name  string
		kinds []mapping.Kind
		rows  [][]any
		ok    bool
	}{
		{"text, bigint, date", []mapping.Kind{mapping.KindVarchar, mapping.KindInt8, mapping.KindDate},
			[][]any{{"a", int64(1), at}, {"b", int64(2), at}}, true},
		{"float8", []mapping.Kind{mapping.KindFloat8}, [][]any{{1.5}, {-0.0}}, true},
		{"jsonb has no flat array", []mapping.Kind{mapping.KindText, mapping.KindJSONB}, [][]any{{"a", []byte("{}")}}, false},
		{"a NULL", []mapping.Kind{mapping.KindText, mapping.KindInt4}, [][]any{{"a", int32(1)}, {"b", nil}}, false},
		{"a value not of its kind's type", []mapping.Kind{mapping.KindInt4}, [][]any{{int64(1)}}, false},
	}
	for _, c := range cases {
		arrays, ok := typedArrays(c.kinds, c.rows)
		if ok != c.ok {
			t.Errorf("%s: ok %v, want %v", c.name, ok, c.ok)
			continue
		}
		if !ok {
			continue
		}
		if s, isStrings := arrays[0].([]string); c.kinds[0] == mapping.KindVarchar && (!isStrings || len(s) != 2 || s[1] != "b") {
			t.Errorf("%s: first column %#v", c.name, arrays[0])
		}
		if len(arrays) != len(c.kinds) {
			t.Errorf("%s: %d arrays for %d columns", c.name, len(arrays), len(c.kinds))
		}
	}
}
