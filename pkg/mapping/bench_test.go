package mapping

import (
	"strconv"
	"testing"

	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
)

// benchItem is a typical order of the sample model: five lines and a few
// unmapped attributes for "*".
func benchItem() ddbitem.Item {
	var lines []ddbitem.Value
	for i := 0; i < 5; i++ {
		lines = append(lines, ddbitem.MapOf(map[string]ddbitem.Value{
			"productId": ddbitem.Str("p-" + strconv.Itoa(1000+i)),
			"quantity":  ddbitem.Num(strconv.Itoa(i + 1)),
			"price":     ddbitem.Num("19.95"),
		}))
	}
	return ddbitem.Item{
		"orderId":       ddbitem.Str("o-0000123456"),
		"customerId":    ddbitem.Str("c-000042"),
		"customerName":  ddbitem.Str("Ada Lovelace"),
		"customerEmail": ddbitem.Str("ada@example.com"),
		"total":         ddbitem.Num("99.75"),
		"status":        ddbitem.Str("SHIPPED"),
		"createdAt":     ddbitem.Str("2024-05-01T10:15:30.250Z"),
		"channel":       ddbitem.Str("web"),
		"tags":          ddbitem.StrSet("gift", "express"),
		"shipping":      ddbitem.MapOf(map[string]ddbitem.Value{"city": ddbitem.Str("London"), "zip": ddbitem.Str("NW1")}),
		"items":         ddbitem.ListOf(lines...),
	}
}

// BenchmarkRows converts one sample order (1 customer, 1 order, 5 lines):
// the backfill's per-item cost.
func BenchmarkRows(b *testing.B) {
	m, err := Load("../../examples/orders/mapping.yaml")
	if err != nil {
		b.Fatal(err)
	}
	it := benchItem()
	if _, rej := m.Rows(it); rej != nil {
		b.Fatal(rej)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, rej := m.Rows(it); rej != nil {
			b.Fatal(rej)
		}
	}
}

// BenchmarkKeyValues is the stream's per-delete cost for one table.
func BenchmarkKeyValues(b *testing.B) {
	m, err := Load("../../examples/orders/mapping.yaml")
	if err != nil {
		b.Fatal(err)
	}
	key := ddbitem.Item{"orderId": ddbitem.Str("o-0000123456")}
	t := m.Table("order_items")
	b.ReportAllocs()
	for b.Loop() {
		if _, ok, err := m.KeyValues(t, key); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}
