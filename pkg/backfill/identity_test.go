package backfill_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ddb2pg/ddb2pg/internal/exportgen"
	"github.com/ddb2pg/ddb2pg/internal/teststack"
	"github.com/ddb2pg/ddb2pg/pkg/apply"
	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
	"github.com/ddb2pg/ddb2pg/pkg/ledger"
	"github.com/ddb2pg/ddb2pg/pkg/mapping"
	"github.com/ddb2pg/ddb2pg/pkg/schema"
	"github.com/ddb2pg/ddb2pg/pkg/stream"
)

// priceItems spell the shared tables' keys differently: 1.50 and 1.5, 2 and
// 2.0 (numeric), 0 and -0, 1 and 1.0 (float8): PostgreSQL considers each
// pair one key.
func priceItems() []ddbitem.Item {
	it := func(id, level, zone string) ddbitem.Item {
		return ddbitem.Item{"id": ddbitem.Str(id), "level": ddbitem.Num(level), "zone": ddbitem.Num(zone), "label": ddbitem.Str(id)}
	}
	return []ddbitem.Item{it("a", "1.50", "0"), it("b", "1.5", "-0"), it("c", "2", "1"), it("d", "2.0", "1.0"), it("e", "3", "2")}
}

// sharedKeys lists a shared table's keys as PostgreSQL compares them, with
// the number of rows.
func sharedKeys(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	var levels, zones string
	var nl, nz int64
	if err := pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM levels), (SELECT string_agg(level::text, ',' ORDER BY level) FROM levels),
		(SELECT count(*) FROM zones), (SELECT string_agg((zone + 0)::text, ',' ORDER BY zone) FROM zones)`).Scan(&nl, &levels, &nz, &zones); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("levels %d rows: %s; zones %d rows: %s", nl, levels, nz, zones)
}

// One row identity (mapping.Table.PKString, PostgreSQL's equality) in every
// path: shared rows whose keys are spelled differently but equal dedupe the
// same in a backfill, an incremental export and the stream (one row per
// key, no statement updating a row twice), and in the stream the last
// record's row wins whatever the spelling.
func TestSharedRowsOneIdentityInEveryPath(t *testing.T) {
	t.Parallel()
	m, err := mapping.Load("testdata/numeric-shared-keys.yaml")
	if err != nil {
		t.Fatal(err)
	}
	items := priceItems()
	const want = "levels 3 rows: 1.5,2,3; zones 3 rows: 0,1,2"

	t.Run("backfill", func(t *testing.T) {
		t.Parallel()
		w, err := exportgen.WriteExportFromItems(t.TempDir(), exportgen.ExportOptions{ExportTime: incT0, Seed: 3, Table: "prices"}, seq(items))
		if err != nil {
			t.Fatal(err)
		}
		pool := openDB(t, teststack.Postgres(t), 2)
		mustBackfill(t, pool, m, w.Folder)
		if got := sharedKeys(t, pool); got != want {
			t.Errorf("got %s\nwant %s", got, want)
		}
	})

	t.Run("incremental export", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		full, err := exportgen.WriteExportFromItems(dir, exportgen.ExportOptions{ExportTime: incT0, Seed: 4, Table: "prices"},
			seq([]ddbitem.Item{{"id": ddbitem.Str("z"), "level": ddbitem.Num("9"), "zone": ddbitem.Num("9"), "label": ddbitem.Str("z")}}))
		if err != nil {
			t.Fatal(err)
		}
		var changes []exportgen.Change
		for i, it := range items {
			changes = append(changes, exportgen.Change{Keys: ddbitem.Item{"id": it["id"]}, NewImage: it, WriteTime: incT0.Add(time.Duration(i+1) * time.Minute)})
		}
		changes = append(changes, exportgen.Change{Keys: ddbitem.Item{"id": ddbitem.Str("z")}, OldImage: ddbitem.Item{"id": ddbitem.Str("z")}, WriteTime: incT0.Add(time.Hour)})
		inc, err := exportgen.WriteIncrementalExport(dir, exportgen.ExportOptions{Seed: 5, Table: "prices"}, incT0, incT1, changes)
		if err != nil {
			t.Fatal(err)
		}
		pool := openDB(t, teststack.Postgres(t), 2)
		mustBackfill(t, pool, m, full.Folder)
		mustBackfill(t, pool, m, inc.Folder)
		// The deleted item's shared rows stay (shared rows are never deleted).
		if got := sharedKeys(t, pool); got != "levels 4 rows: 1.5,2,3,9; zones 4 rows: 0,1,2,9" {
			t.Errorf("got %s", got)
		}
	})

	t.Run("stream", func(t *testing.T) {
		t.Parallel()
		pool := openDB(t, teststack.Postgres(t), 2)
		ctx := context.Background()
		led, err := ledger.New("")
		if err != nil {
			t.Fatal(err)
		}
		if err := led.Ensure(ctx, pool); err != nil {
			t.Fatal(err)
		}
		if _, err := schema.Ensure(ctx, pool, m); err != nil {
			t.Fatal(err)
		}
		eng, err := apply.New(apply.Config{Mapping: m, Ledger: led})
		if err != nil {
			t.Fatal(err)
		}
		var recs []stream.Record
		for i, it := range items {
			recs = append(recs, stream.Record{EventName: stream.Insert, Seq: fmt.Sprintf("%021d", i+1), Keys: ddbitem.Item{"id": it["id"]},
				NewImage: it, StreamViewType: stream.ViewNewAndOldImages})
		}
		if res := eng.Apply(ctx, pool, recs, nil); res.Err != nil || res.Committed != len(recs) || res.Applied != len(recs) {
			t.Fatalf("stream apply: %+v", res)
		}
		if got := sharedKeys(t, pool); got != want {
			t.Errorf("got %s\nwant %s", got, want)
		}
		// The last record per key wins: b over a, d over c.
		var labels string
		if err := pool.QueryRow(ctx, `SELECT (SELECT string_agg(label, ',' ORDER BY level) FROM levels) || ';' ||
			(SELECT string_agg(label, ',' ORDER BY zone) FROM zones)`).Scan(&labels); err != nil {
			t.Fatal(err)
		}
		if labels != "b,d,e;b,d,e" {
			t.Errorf("shared rows' labels %q, want the last record's per key: b,d,e;b,d,e", labels)
		}
	})
}
