package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/ddb2pg/ddb2pg/internal/exportgen"
	"github.com/ddb2pg/ddb2pg/internal/teststack"
)

// TestBackfillRefusesAnotherTablesExport: an export's manifest names its
// table. A mapping of another table refuses it (exit 2, naming both) before
// anything is written; --renamed-from accepts it and the bookkeeping
// records which table the export was of.
func TestBackfillRefusesAnotherTablesExport(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	exp, err := exportgen.WriteExport(filepath.Join(dir, "orders"), exportgen.Config{Orders: 30, Files: 2, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	yaml, err := os.ReadFile(sampleMapping)
	if err != nil {
		t.Fatal(err)
	}
	invoices := filepath.Join(dir, "invoices.yaml")
	renamed := strings.Replace(string(yaml), "table: Orders", "table: Invoices", 1)
	if renamed == string(yaml) {
		t.Fatal("the sample mapping's source table line changed: update this test")
	}
	if err := os.WriteFile(invoices, []byte(renamed), 0o644); err != nil {
		t.Fatal(err)
	}
	db := teststack.Postgres(t)
	args := []string{"backfill", "--mapping", invoices, "--export", exp.Folder, "--database-url", db, "--progress", "none"}

	r := runBin(t, nil, args...)
	if r.code != 2 {
		t.Fatalf("exit %d, want 2\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	for _, s := range []string{`"Orders"`, `"Invoices"`, "--renamed-from Orders"} {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("stderr should mention %s:\n%s", s, r.stderr)
		}
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var exports, orders int
	if err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM ddb2pg.exports), (SELECT count(*) FROM orders)`).Scan(&exports, &orders); err != nil {
		t.Fatal(err)
	}
	if exports != 0 || orders != 0 {
		t.Fatalf("refused export wrote %d exports rows and %d orders", exports, orders)
	}

	// a wrong --renamed-from is refused too
	r = runBin(t, nil, append(args, "--renamed-from", "Order")...)
	if r.code != 2 || !strings.Contains(r.stderr, `"Order"`) {
		t.Fatalf("wrong --renamed-from: exit %d\n%s", r.code, r.stderr)
	}

	r = runBin(t, nil, append(args, "--renamed-from", "Orders")...)
	if r.code != 0 {
		t.Fatalf("--renamed-from Orders: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	var source, of string
	if err := conn.QueryRow(ctx, `SELECT source_table, export_table FROM ddb2pg.exports`).Scan(&source, &of); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM orders`).Scan(&orders); err != nil {
		t.Fatal(err)
	}
	if source != "Invoices" || of != "Orders" || orders != 30 {
		t.Fatalf("recorded source %q, export of %q, %d orders", source, of, orders)
	}
}

// TestBackfillSaysWhyItemsWereRejected: when every item is rejected for one
// reason (here a column of status, which the mapping reads as a number),
// the summary names the reason with its count, column and an example key,
// says that the mapping is the likely cause, and gives the SQL for the rest.
func TestBackfillSaysWhyItemsWereRejected(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	exp, err := exportgen.WriteExport(filepath.Join(dir, "orders"), exportgen.Config{Orders: 40, Files: 2, Seed: 6})
	if err != nil {
		t.Fatal(err)
	}
	yaml, err := os.ReadFile(sampleMapping)
	if err != nil {
		t.Fatal(err)
	}
	const old = "{name: status,      from: status,     type: text}"
	bad := strings.Replace(string(yaml), old, "{name: status,      from: status,     type: integer}", 1)
	if bad == string(yaml) {
		t.Fatal("the sample mapping's status line changed: update this test")
	}
	path := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runBin(t, nil, "backfill", "--mapping", path, "--export", exp.Folder, "--database-url", teststack.Postgres(t), "--progress", "none")
	if r.code != 3 {
		t.Fatalf("exit %d, want 3\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	for _, s := range []string{"why items were rejected", "  40 ", "orders.status", "is not a number", `[{"S":"`, "the mapping is the likely cause",
		"SELECT item_key, pg_table, pg_column, reason, raw_value, origin FROM \"ddb2pg\".\"rejects\" WHERE export_id = '"} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("stdout should contain %q:\n%s", s, r.stdout)
		}
	}
}
