// Package exportgen generates realistic DynamoDB full exports of the order
// model (the seed's denormalized Orders table: customer and product data
// copied into every order) for tests, the demo and the benchmark.
//
// Everything is deterministic for a seed and streamed: an order is built from
// its own random source keyed by (seed, order number), so any order can be
// rebuilt alone, files can be written in parallel, and a million orders never
// sit in memory. The folder written is laid out exactly as AWS writes a full
// export (see WriteExport), so the reader under test cannot tell the
// difference.
package exportgen

import (
	"fmt"
	"iter"
	"time"

	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
)

// Defaults applied to a zero Config field.
const (
	DefaultBucket = "demo-exports"
	DefaultTable  = "Orders"
	DefaultRegion = "us-east-1"
	// DefaultAccount is AWS's documentation account id: never a real one.
	DefaultAccount = "123456789012"
)

// DefaultExportTime is the export time used when Config.ExportTime is zero.
// It is fixed, not time.Now, so that a seed alone decides every byte.
var DefaultExportTime = time.Date(2024, 6, 30, 12, 0, 0, 0, time.UTC)

// Config describes a generated export of the Orders table.
type Config struct {
	// Orders is the number of items in the export, BadItems included.
	Orders int
	// Files is the number of data files (default 1). Items are split evenly
	// by count; with more files than orders some files are empty, which AWS
	// also produces.
	Files int
	// Customers is the size of the customer pool (default Orders*2/5, at
	// least 1). Customers are picked with a skew, so a few order often and
	// some never appear.
	Customers int
	// Products is the size of the product catalogue (default Orders/10,
	// between 1 and 20,000), also picked with a skew.
	Products int
	// Seed decides every generated value: same Config, same bytes.
	Seed int64
	// Prefix is the S3 prefix the export was requested with ("" for none,
	// which AWS records as "s3Prefix": null).
	Prefix string
	// Bucket is recorded as s3Bucket in the summary (default DefaultBucket).
	Bucket string
	// ExportTime is the point in time the export reflects (default
	// DefaultExportTime); order creation times fall in the year before it.
	ExportTime time.Time
	// EdgeCases adds the edge-case orders (ORD-000001 .. see EdgeCases())
	// and sprinkles rarer shapes over the other orders. Every edge case is
	// valid input the sample mapping must load.
	EdgeCases bool
	// BadItems is how many of the Orders the sample mapping must reject
	// (see BadOrders); they are spread over the export.
	BadItems int
}

func (c Config) normalized() Config {
	if c.Files <= 0 {
		c.Files = 1
	}
	if c.Customers <= 0 {
		c.Customers = max(1, c.Orders*2/5)
	}
	if c.Products <= 0 {
		c.Products = min(max(1, c.Orders/10), 20000)
	}
	if c.Bucket == "" {
		c.Bucket = DefaultBucket
	}
	if c.ExportTime.IsZero() {
		c.ExportTime = DefaultExportTime
	}
	c.ExportTime = c.ExportTime.UTC()
	return c
}

// Validate reports a Config that cannot be generated.
func (c Config) Validate() error {
	if c.Orders < 0 || c.BadItems < 0 || c.Files < 0 || c.Customers < 0 || c.Products < 0 {
		return fmt.Errorf("exportgen: counts must not be negative")
	}
	special := 0
	if c.EdgeCases {
		special = len(edgeCases)
	}
	if special+c.BadItems > c.Orders {
		return fmt.Errorf("exportgen: %d orders cannot hold %d edge-case and %d bad orders", c.Orders, special, c.BadItems)
	}
	return nil
}

// OrderID is the orderId of order number n (1-based), e.g. "ORD-000123".
func OrderID(n int) string { return fmt.Sprintf("ORD-%06d", n) }

// Orders yields the export's items in export order (the order WriteExport
// writes them, which is not orderId order: AWS exports follow the hash of
// the key). An invalid Config yields nothing; call Validate first.
func Orders(cfg Config) iter.Seq[ddbitem.Item] {
	return func(yield func(ddbitem.Item) bool) {
		if cfg.Validate() != nil {
			return
		}
		g := newGen(cfg)
		for pos := 0; pos < g.cfg.Orders; pos++ {
			if !yield(g.order(g.numberAt(pos))) {
				return
			}
		}
	}
}

// Order rebuilds order number n (1-based, the number in its orderId) exactly
// as Orders yields it, without generating the others. It returns nil for a
// number outside the export or an invalid Config.
func Order(cfg Config, n int) ddbitem.Item {
	if cfg.Validate() != nil || n < 1 || n > cfg.Orders {
		return nil
	}
	return newGen(cfg).order(n - 1)
}

// Stats counts what the sample mapping (examples/orders/mapping.yaml, plus
// a shared products table fed from items) should load from an export.
type Stats struct {
	Items      int64 // items in the export (Orders)
	Rejected   int64 // items the mapping must reject (BadItems)
	Orders     int64 // rows in orders: the items that are not rejected
	OrderItems int64 // rows in order_items: lines of those orders
	Customers  int64 // rows in customers: distinct customerIds among them
	Products   int64 // rows in a products table: distinct productIds among their lines
}

// Rows is the total row count over orders, order_items, customers and products.
func (s Stats) Rows() int64 { return s.Orders + s.OrderItems + s.Customers + s.Products }

// Count computes the Stats of cfg's export without writing it (it generates
// every order, so it takes about as long as WriteExport minus the I/O).
func Count(cfg Config) (Stats, error) {
	if err := cfg.Validate(); err != nil {
		return Stats{}, err
	}
	g := newGen(cfg)
	acc := g.newStatsAcc()
	for pos := 0; pos < g.cfg.Orders; pos++ {
		n := g.numberAt(pos)
		acc.add(n, g.order(n))
	}
	return g.mergeStats(acc), nil
}
