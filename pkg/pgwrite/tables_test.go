package pgwrite

import (
	"math"
	"math/big"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/ddb2pg/ddb2pg/pkg/mapping"
)

const testMapping = `version: 1
source:
  table: Orders
  key: [orderId]
tables:
  - name: sales.customers
    primary_key: [id]
    shared: true
    columns:
      - {name: id, from: customerId, type: text}
      - {name: "Name", from: customerName, type: text}
  - name: order_items
    for_each: items
    primary_key: [order_id, line]
    columns:
      - {name: order_id, from: $.orderId, type: text}
      - {name: line, from: "#index", type: integer}
      - {name: qty, from: quantity, type: integer}
  - name: tags
    primary_key: [tag]
    shared: true
    for_each: tags
    columns:
      - {name: tag, from: "#value", type: text}
  - name: profiles
    primary_key: [id]
    shared: true
    columns:
      - {name: id, from: customerId, type: text}
      - {name: prefs, from: prefs, type: jsonb}
`

func TestStatements(t *testing.T) {
	t.Parallel()
	m, err := mapping.Parse("test.yaml", []byte(testMapping))
	if err != nil {
		t.Fatal(err)
	}
	tables := For(m)
	cases := []struct {
		name, got, want string
	}{
		{"shared insert", tables[0].Insert, `INSERT INTO "sales"."customers" AS t ("id", "Name") VALUES ($1, $2)`},
		{"shared upsert", tables[0].Upsert, `INSERT INTO "sales"."customers" AS t ("id", "Name") VALUES ($1, $2) ON CONFLICT ("id") DO UPDATE SET "Name" = EXCLUDED."Name" WHERE (t."Name") IS DISTINCT FROM (EXCLUDED."Name")`},
		{"shared has no item delete", tables[0].DeleteItem, ``},
		{"child delete by key columns", tables[1].DeleteItem, `DELETE FROM "order_items" WHERE "order_id" = $1`},
		{"child insert if absent", tables[1].InsertIfAbsent, `INSERT INTO "order_items" AS t ("order_id", "line", "qty") VALUES ($1, $2, $3) ON CONFLICT ("order_id", "line") DO NOTHING`},
		{"pk-only upsert does nothing on conflict", tables[2].Upsert, `INSERT INTO "tags" AS t ("tag") VALUES ($1) ON CONFLICT ("tag") DO NOTHING`},
		{"shared set upsert", tables[0].UpsertSet, `INSERT INTO "sales"."customers" AS t ("id", "Name") SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT ("id") DO UPDATE SET "Name" = EXCLUDED."Name" WHERE (t."Name") IS DISTINCT FROM (EXCLUDED."Name")`},
		{"set delete of many items", tables[1].DeleteItems, `DELETE FROM "order_items" AS t USING unnest($1::text[]) AS d(k0) WHERE t."order_id" = d.k0`},
		{"soft delete", tables[1].SoftDeleteItem("deleted_at"), `UPDATE "order_items" SET "deleted_at" = coalesce($2::timestamptz, now()) WHERE "order_id" = $1`},
		{"quoted columns", tables[1].QuotedColumns(), `"order_id", "line", "qty"`},
		{"primary key", tables[1].PrimaryKey(), `"order_id", "line"`},
		{"no set upsert through jsonb", tables[3].UpsertSet, ``},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, c.got, c.want)
		}
	}
}

// SharedKey is PostgreSQL's equality of primary keys: equal for 1.5 and
// 1.50, 0 and -0, one instant in two time zones; distinct otherwise.
func TestSharedKey(t *testing.T) {
	t.Parallel()
	m, err := mapping.Parse("keys.yaml", []byte(`version: 1
source:
  table: T
  key: [id]
tables:
  - name: k
    primary_key: [n, f, ts]
    shared: true
    columns:
      - {name: n, from: n, type: numeric}
      - {name: f, from: f, type: float8}
      - {name: ts, from: ts, type: timestamptz}
  - name: s
    primary_key: [s]
    shared: true
    columns:
      - {name: s, from: s, type: text}
`))
	if err != nil {
		t.Fatal(err)
	}
	tables := For(m)
	num := func(i int64, exp int32) pgtype.Numeric {
		return pgtype.Numeric{Int: big.NewInt(i), Exp: exp, Valid: true}
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	plus1 := at.In(time.FixedZone("+01", 3600))
	cases := []struct {
		name  string
		table int
		a, b  []any
		equal bool
	}{
		{"1.5 = 1.50", 0, []any{num(15, -1), 0.0, at}, []any{num(150, -2), 0.0, at}, true},
		{"150 = 1.5E2", 0, []any{num(150, 0), 0.0, at}, []any{num(15, 1), 0.0, at}, true},
		{"0 = -0", 0, []any{num(1, 0), 0.0, at}, []any{num(1, 0), math.Copysign(0, -1), at}, true},
		{"one instant in two zones", 0, []any{num(1, 0), 1.0, at}, []any{num(1, 0), 1.0, plus1}, true},
		{"1.5 != 1.51", 0, []any{num(15, -1), 0.0, at}, []any{num(151, -2), 0.0, at}, false},
		{"text", 1, []any{"a"}, []any{"a"}, true},
		{"text differs", 1, []any{"a"}, []any{"a "}, false},
	}
	for _, c := range cases {
		if got := tables[c.table].SharedKey(c.a) == tables[c.table].SharedKey(c.b); got != c.equal {
			t.Errorf("%s: equal %v, want %v", c.name, got, c.equal)
		}
	}
}
