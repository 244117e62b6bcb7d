package schema_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ddb2pg/ddb2pg/internal/teststack"
	"github.com/ddb2pg/ddb2pg/pkg/mapping"
	"github.com/ddb2pg/ddb2pg/pkg/schema"
)

func TestMain(m *testing.M) { os.Exit(teststack.Run(m)) }

const doc = `version: 1
source: {table: Orders, key: [orderId]}
tables:
  - name: sales.orders
    primary_key: [id]
    columns:
      - {name: id, from: orderId, type: text}
      - {name: total, from: total, type: "numeric(12,2)"}
`

func setup(t *testing.T) (*pgxpool.Pool, *mapping.Mapping) {
	t.Helper()
	m, err := mapping.Parse("m.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.New(context.Background(), teststack.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool, m
}

func TestEnsureCreatesThenReuses(t *testing.T) {
	t.Parallel()
	pool, m := setup(t)
	ctx := context.Background()
	states, err := schema.Ensure(ctx, pool, m)
	if err != nil || !states[0].Created {
		t.Fatalf("first Ensure: %+v, %v", states, err)
	}
	states, err = schema.Ensure(ctx, pool, m)
	if err != nil || states[0].Created || !states[0].Exists {
		t.Fatalf("second Ensure should find the table: %+v, %v", states, err)
	}
}

func TestExistingTables(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		ddl     string
		problem string // "" = fits
	}{
		{"unique index instead of primary key, extra nullable column", `CREATE TABLE sales.orders (id text NOT NULL, total numeric(12,2), note text);
			CREATE UNIQUE INDEX ON sales.orders (id)`, ""},
		{"no unique index", `CREATE TABLE sales.orders (id text, total numeric(12,2))`, "no primary key or unique index on exactly (id)"},
		{"partial unique index does not count", `CREATE TABLE sales.orders (id text, total numeric(12,2)); CREATE UNIQUE INDEX ON sales.orders (id) WHERE total > 0`, "no primary key or unique index"},
		{"wrong type", `CREATE TABLE sales.orders (id text PRIMARY KEY, total numeric(10,2))`, "column total"},
		{"missing column", `CREATE TABLE sales.orders (id text PRIMARY KEY)`, "column total"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			pool, m := setup(t)
			ctx := context.Background()
			if _, err := pool.Exec(ctx, "CREATE SCHEMA sales; "+c.ddl); err != nil {
				t.Fatal(err)
			}
			_, err := schema.Ensure(ctx, pool, m)
			if c.problem == "" {
				if err != nil {
					t.Fatalf("table should fit: %v", err)
				}
				return
			}
			var misfit *schema.MisfitError
			if !errors.As(err, &misfit) || !strings.Contains(err.Error(), c.problem) || !strings.Contains(err.Error(), "sales.orders") {
				t.Fatalf("err = %v, want a misfit naming sales.orders and %q", err, c.problem)
			}
		})
	}
}
