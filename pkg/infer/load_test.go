package infer_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ddb2pg/ddb2pg/internal/exportgen"
	"github.com/ddb2pg/ddb2pg/internal/teststack"
	"github.com/ddb2pg/ddb2pg/pkg/backfill"
	"github.com/ddb2pg/ddb2pg/pkg/export"
	"github.com/ddb2pg/ddb2pg/pkg/infer"
	"github.com/ddb2pg/ddb2pg/pkg/ledger"
	"github.com/ddb2pg/ddb2pg/pkg/mapping"
	"github.com/ddb2pg/ddb2pg/pkg/schema"
)

func TestMain(m *testing.M) { os.Exit(teststack.Run(m)) }

// The proposal loads its own sample into real PostgreSQL with no rejects
// other than values PostgreSQL cannot store (issue 6), through the real
// backfill.
func TestInferProposalLoadsItsSample(t *testing.T) {
	t.Parallel()
	cfg := exportgen.Config{Orders: 400, Files: 3, Seed: 3, EdgeCases: true, BadItems: 18}
	w, err := exportgen.WriteExport(t.TempDir(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	unstorable := 0 // the bad items PostgreSQL cannot store whatever the type (U+0000)
	for _, b := range exportgen.BadOrders(cfg) {
		if b.Kind == "nul-in-name" {
			unstorable++
		}
	}
	ctx := context.Background()
	exp, err := export.Open(ctx, w.Folder)
	if err != nil {
		t.Fatal(err)
	}
	items, err := infer.SampleExport(ctx, exp, infer.DefaultSample)
	if err != nil {
		t.Fatal(err)
	}
	res, err := infer.Infer(items, infer.Options{SourceTable: "Orders"})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "mapping.yaml")
	if err := os.WriteFile(path, res.YAML, 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := mapping.Load(path)
	if err != nil {
		t.Fatalf("the proposal does not load as a mapping: %v\n%s", err, res.YAML)
	}
	pool, err := pgxpool.New(ctx, teststack.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	led, _ := ledger.New("")
	if err := led.Ensure(ctx, pool); err != nil {
		t.Fatal(err)
	}
	if _, err := schema.Ensure(ctx, pool, m); err != nil {
		t.Fatalf("creating the proposed tables: %v\n%s", err, res.YAML)
	}
	sum, err := backfill.Run(ctx, backfill.Config{Pool: pool, Mapping: m, Export: exp, Ledger: led, URI: w.Folder, Workers: 2, WaitForOthers: true})
	if err != nil {
		t.Fatalf("backfill with the proposal: %v\n%s", err, res.YAML)
	}
	if !sum.Complete() || sum.Status.Rejected != int64(unstorable) {
		rows, _ := pool.Query(ctx, `SELECT item_key || ' ' || coalesce(pg_table, '') || '.' || coalesce(pg_column, '') || ': ' || reason FROM ddb2pg.rejects`)
		var why []string
		for rows.Next() {
			var s string
			_ = rows.Scan(&s)
			why = append(why, s)
		}
		rows.Close()
		t.Fatalf("status %+v: want complete with only the %d unstorable items rejected; rejects: %v\n%s", sum.Status, unstorable, why, res.YAML)
	}
}
