package mapping

import (
	"strings"
	"testing"

	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
)

// TestCheckSample: a from: path into an attribute of a list is refused when
// most sampled items have a list there; a map there, a path with an index,
// a for_each table's own paths, and a minority of odd items are accepted.
func TestCheckSample(t *testing.T) {
	t.Parallel()
	m := mustParse(t, `version: 1
source: {table: T, key: [k]}
tables:
  - name: t
    primary_key: [k]
    columns:
      - {name: k, from: k, type: text}
      - {name: sku, from: items.sku, type: text}
      - {name: first, from: "items[0].sku", type: text}
      - {name: city, from: addr.city, type: text}
  - name: lines
    for_each: items
    primary_key: [k, line]
    columns:
      - {name: k, from: $.k, type: text}
      - {name: line, from: "#index", type: integer}
      - {name: sku, from: sku, type: text}
      - {name: order_city, from: $.addr.city, type: text}
`)
	list := `{"k":{"S":"a"},"items":{"L":[{"M":{"sku":{"S":"x"}}}]},"addr":{"M":{"city":{"S":"Oslo"}}}}`
	mapped := `{"k":{"S":"b"},"items":{"M":{"sku":{"S":"x"}}},"addr":{"M":{"city":{"S":"Oslo"}}}}`
	cityList := `{"k":{"S":"c"},"items":{"L":[]},"addr":{"L":[{"S":"Oslo"}]}}`
	bare := `{"k":{"S":"d"}}`
	for _, c := range []struct {
		name  string
		items []string
		want  []string // substrings of the error, one per refused column; none: nil
	}{
		{"all lists", []string{list, list, bare}, []string{"test.yaml:8: table t, column sku: from items.sku reaches into a list: items is a list (L) in 2 of the 2 sampled items that have it; map its elements with a table that has for_each: items (and from: sku), or take one element, e.g. from: items[0].sku"}},
		{"maps", []string{mapped, mapped}, nil},
		{"a minority of lists", []string{list, mapped, mapped}, nil},
		{"a majority of lists", []string{list, list, mapped}, []string{"in 2 of the 3 sampled items"}},
		{"$. paths of a for_each table too", []string{cityList, cityList}, []string{"column sku: from items.sku", "column city: from addr.city", "table lines, column order_city: from $.addr.city"}},
		{"no items", nil, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			var items []ddbitem.Item
			for _, s := range c.items {
				items = append(items, item(t, s))
			}
			err := m.CheckSample(items)
			if len(c.want) == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			errs := Errors(err)
			if len(errs) != len(c.want) {
				t.Fatalf("%d errors, want %d: %v", len(errs), len(c.want), err)
			}
			for i, w := range c.want {
				if !strings.Contains(errs[i].Error(), w) {
					t.Errorf("error %d: %v\nwant it to contain %q", i, errs[i], w)
				}
			}
		})
	}
}
