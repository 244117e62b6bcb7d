package backfill_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
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

const awslabsIncremental = "../export/testdata/awslabs/unicornactiviti-data-export/AWSDynamoDB/01716791487000-6ddcf8cf"

var unicornTables = []string{"unicorns", "unicorn_activities"}

func unicornMapping(t *testing.T) *mapping.Mapping {
	t.Helper()
	m, err := mapping.Load("testdata/unicorn-activities.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// The genuine AWS incremental export: 15 changes (modifies, deletes, one
// insert), lines not in time order, data files in the shared data folder.
func TestIncrementalAWSExportLoads(t *testing.T) {
	t.Parallel()
	pool := openDB(t, teststack.Postgres(t), 4)
	m := unicornMapping(t)
	sum, err := runBackfill(t, pool, m, awslabsIncremental, 2)
	if err != nil {
		t.Fatalf("backfill: %v", err)
	}
	st := sum.Status
	if !sum.Complete() || st.Loaded != 15 || st.Skipped != 0 || st.Rejected != 0 || st.ManifestItems != 15 {
		t.Fatalf("status %+v", st)
	}
	// 9 changes carry a NewImage (8 modifies, 1 insert); 6 are deletes.
	if n := count(t, pool, "SELECT count(*) FROM unicorns"); n != 9 {
		t.Errorf("unicorns has %d rows, want 9", n)
	}
	if n := count(t, pool, "SELECT count(*) FROM ddb2pg.items WHERE deleted"); n != 6 {
		t.Errorf("%d tombstones, want 6", n)
	}
	if n := count(t, pool, "SELECT count(*) FROM unicorn_activities WHERE name = 'Chant502'"); n != 31 {
		t.Errorf("Chant502 has %d activities, want 31", n)
	}
	if n := count(t, pool, "SELECT count(*) FROM unicorns WHERE name = 'Olwen4734'"); n != 1 {
		t.Errorf("the inserted item is missing")
	}
	var et time.Time
	if err := pool.QueryRow(context.Background(), "SELECT export_time FROM ddb2pg.items WHERE item_key LIKE '%Chant3756%'").Scan(&et); err != nil {
		t.Fatal(err)
	}
	if !et.Equal(time.UnixMicro(1716790450778514)) {
		t.Errorf("the delete's version is %v, want its write time", et)
	}
}

// ---- generated fixtures ----

var (
	incT0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	incT1 = incT0.Add(time.Hour)
	incT2 = incT1.Add(time.Hour)
)

func unicorn(name string, acts ...string) ddbitem.Item {
	l := make([]ddbitem.Value, len(acts))
	for i, a := range acts {
		l[i] = ddbitem.MapOf(map[string]ddbitem.Value{"activity": ddbitem.Str(a), "timestamp": ddbitem.Str(fmt.Sprintf("t%d", i))})
	}
	return ddbitem.Item{"name": ddbitem.Str(name), "activities": ddbitem.ListOf(l...), "color": ddbitem.Str("c-" + name)}
}

func ukeys(name string) ddbitem.Item { return ddbitem.Item{"name": ddbitem.Str(name)} }

func upsertChange(it ddbitem.Item, at time.Time) exportgen.Change {
	return exportgen.Change{Keys: ukeys(it["name"].Str), NewImage: it, WriteTime: at}
}

func deleteChange(name string, at time.Time) exportgen.Change {
	return exportgen.Change{Keys: ukeys(name), OldImage: unicorn(name, "gone"), WriteTime: at}
}

// incFixture is a full export at T0 and two incremental exports [T0,T1)
// and [T1,T2) with modifies, deletes, re-creates and an item inserted then
// deleted, lines out of time order, plus the final item states.
type incFixture struct {
	full, inc1, inc2 string
	// second copies (other export ids) of the incremental exports
	inc1b, inc2b string
	final        map[string]ddbitem.Item
}

func writeIncFixture(t *testing.T) *incFixture {
	t.Helper()
	dir := t.TempDir()
	state := map[string]ddbitem.Item{}
	for i := range 6 {
		n := fmt.Sprintf("u%d", i)
		state[n] = unicorn(n, "born", fmt.Sprintf("v0-%d", i))
	}
	full, err := exportgen.WriteExportFromItems(dir, exportgen.ExportOptions{ExportTime: incT0, Seed: 1, ItemsPerFile: 4, Table: "unicorn_activities"},
		seq(slices.Collect(maps.Values(state))))
	if err != nil {
		t.Fatal(err)
	}
	at := func(base time.Time, min int) time.Time {
		return base.Add(time.Duration(min)*time.Minute + 123456*time.Microsecond)
	}
	inc1 := []exportgen.Change{
		deleteChange("u1", at(incT0, 20)),                        // delete
		upsertChange(unicorn("u0", "born", "v1"), at(incT0, 10)), // modify
		upsertChange(unicorn("u6", "born"), at(incT0, 5)),        // insert
		deleteChange("u2", at(incT0, 30)),                        // delete, re-created in inc2
		upsertChange(unicorn("u7", "born", "x"), at(incT0, 40)),  // insert, deleted in inc2
		upsertChange(unicorn("u3"), at(incT0, 1)),                // modify to an empty list
	}
	inc2 := []exportgen.Change{
		deleteChange("u7", at(incT1, 5)),
		upsertChange(unicorn("u2", "reborn"), at(incT1, 20)), // re-create
		deleteChange("u0", at(incT1, 1)),
		upsertChange(unicorn("u6", "born", "grew", "flew"), at(incT1, 10)),
		upsertChange(unicorn("u4", "v2", "v2b", "v2c"), at(incT1, 3)),
	}
	write := func(seed int64, from, to time.Time, ch []exportgen.Change) string {
		w, err := exportgen.WriteIncrementalExport(dir, exportgen.ExportOptions{Seed: seed, ItemsPerFile: 2, Table: "unicorn_activities"}, from, to, ch)
		if err != nil {
			t.Fatal(err)
		}
		return w.Folder
	}
	f := &incFixture{full: full.Folder, inc1: write(2, incT0, incT1, inc1), inc2: write(3, incT1, incT2, inc2),
		inc1b: write(4, incT0, incT1, inc1), inc2b: write(5, incT1, incT2, inc2)}
	all := append(slices.Clone(inc1), inc2...)
	slices.SortFunc(all, func(a, b exportgen.Change) int { return a.WriteTime.Compare(b.WriteTime) })
	for _, c := range all {
		if c.NewImage == nil {
			delete(state, c.Keys["name"].Str)
		} else {
			state[c.Keys["name"].Str] = c.NewImage
		}
	}
	f.final = state
	return f
}

// expectedDump loads the final item states as a full export into a fresh
// database and dumps the tables.
func expectedDump(t *testing.T, m *mapping.Mapping, items map[string]ddbitem.Item) map[string]string {
	t.Helper()
	w, err := exportgen.WriteExportFromItems(t.TempDir(), exportgen.ExportOptions{ExportTime: incT2, Seed: 9, Table: "unicorn_activities"},
		seq(slices.Collect(maps.Values(items))))
	if err != nil {
		t.Fatal(err)
	}
	pool := openDB(t, teststack.Postgres(t), 2)
	if _, err := runBackfill(t, pool, m, w.Folder, 1); err != nil {
		t.Fatal(err)
	}
	return dump(t, pool, unicornTables...)
}

func mustBackfill(t *testing.T, pool *pgxpool.Pool, m *mapping.Mapping, folder string) {
	t.Helper()
	sum, err := runBackfill(t, pool, m, folder, 2)
	if err != nil {
		t.Fatalf("backfill %s: %v", folder, err)
	}
	if !sum.Complete() || sum.Status.Rejected != 0 {
		t.Fatalf("backfill %s: status %+v", folder, sum.Status)
	}
}

func TestIncrementalExportsConverge(t *testing.T) {
	t.Parallel()
	m := unicornMapping(t)
	f := writeIncFixture(t)
	want := expectedDump(t, m, f.final)
	for name, order := range map[string][]string{
		"in order":             {f.full, f.inc1, f.inc2},
		"incrementals swapped": {f.full, f.inc2, f.inc1},
		"full export last":     {f.inc2, f.inc1, f.full},
		"twice":                {f.full, f.inc1, f.inc2, f.inc1b, f.inc2b, f.inc1b},
		"twice out of order":   {f.full, f.inc2, f.inc1b, f.inc1, f.inc2b},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			pool := openDB(t, teststack.Postgres(t), 4)
			for _, folder := range order {
				mustBackfill(t, pool, m, folder)
			}
			got := dump(t, pool, unicornTables...)
			for _, tb := range unicornTables {
				if got[tb] != want[tb] {
					t.Errorf("%s:\n got %s\nwant %s", tb, got[tb], want[tb])
				}
			}
		})
	}
}

// The second copy of an incremental export skips every change as older.
func TestIncrementalExportTwiceSkips(t *testing.T) {
	t.Parallel()
	m := unicornMapping(t)
	f := writeIncFixture(t)
	pool := openDB(t, teststack.Postgres(t), 4)
	mustBackfill(t, pool, m, f.full)
	mustBackfill(t, pool, m, f.inc1)
	before := dump(t, pool, unicornTables...)
	sum, err := runBackfill(t, pool, m, f.inc1b, 2)
	if err != nil {
		t.Fatal(err)
	}
	if st := sum.Status; st.Loaded != 0 || st.Skipped != 6 || !sum.Complete() {
		t.Fatalf("status %+v, want all 6 changes skipped", st)
	}
	if after := dump(t, pool, unicornTables...); !maps.Equal(before, after) {
		t.Fatalf("a second copy changed the tables")
	}
}

// Stream records on the same items, applied before or after the incremental
// exports: the stream's state stands.
func TestIncrementalExportYieldsToStream(t *testing.T) {
	t.Parallel()
	m := unicornMapping(t)
	f := writeIncFixture(t)
	led, err := ledger.New("")
	if err != nil {
		t.Fatal(err)
	}
	eng, err := apply.New(apply.Config{Mapping: m, Ledger: led})
	if err != nil {
		t.Fatal(err)
	}
	recs := []stream.Record{
		{EventName: stream.Modify, Seq: "100000000000000000001", Keys: ukeys("u0"), NewImage: unicorn("u0", "stream")},
		{EventName: stream.Remove, Seq: "100000000000000000002", Keys: ukeys("u6")},
		{EventName: stream.Insert, Seq: "100000000000000000003", Keys: ukeys("u2"), NewImage: unicorn("u2", "stream", "s2")},
	}
	final := maps.Clone(f.final)
	final["u0"] = recs[0].NewImage
	delete(final, "u6")
	final["u2"] = recs[2].NewImage
	want := expectedDump(t, m, final)
	for name, streamAfter := range map[string]int{"stream first": 0, "stream between": 2, "stream last": 3} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			pool := openDB(t, teststack.Postgres(t), 4)
			for i, folder := range []string{f.full, f.inc1, f.inc2} {
				if i == streamAfter {
					applyStream(t, pool, eng, recs)
				}
				mustBackfill(t, pool, m, folder)
			}
			if streamAfter == 3 {
				applyStream(t, pool, eng, recs)
			}
			got := dump(t, pool, unicornTables...)
			for _, tb := range unicornTables {
				if got[tb] != want[tb] {
					t.Errorf("%s:\n got %s\nwant %s", tb, got[tb], want[tb])
				}
			}
		})
	}
}

func applyStream(t *testing.T, pool *pgxpool.Pool, eng *apply.Engine, recs []stream.Record) {
	t.Helper()
	led, _ := ledger.New("")
	if err := led.Ensure(context.Background(), pool); err != nil {
		t.Fatal(err)
	}
	if _, err := schema.Ensure(context.Background(), pool, unicornMapping(t)); err != nil {
		t.Fatal(err)
	}
	if res := eng.Apply(context.Background(), pool, recs, nil); res.Err != nil || res.Committed != len(recs) {
		t.Fatalf("stream apply: %+v", res)
	}
}

// A full export compares its time with an incremental delete's tombstone:
// taken after the delete it may hold the re-created item, taken before it
// must not resurrect it.
func TestFullExportAfterIncrementalDelete(t *testing.T) {
	t.Parallel()
	m := unicornMapping(t)
	f := writeIncFixture(t)
	pool := openDB(t, teststack.Postgres(t), 4)
	mustBackfill(t, pool, m, f.full)
	mustBackfill(t, pool, m, f.inc1) // deletes u1 at T0+20m
	dir := t.TempDir()
	before, err := exportgen.WriteExportFromItems(dir, exportgen.ExportOptions{ExportTime: incT0.Add(10 * time.Minute), Seed: 21, Table: "unicorn_activities"},
		seq([]ddbitem.Item{unicorn("u1", "old")}))
	if err != nil {
		t.Fatal(err)
	}
	mustBackfill(t, pool, m, before.Folder)
	if n := count(t, pool, "SELECT count(*) FROM unicorns WHERE name = 'u1'"); n != 0 {
		t.Fatalf("a full export older than the delete resurrected the item")
	}
	after, err := exportgen.WriteExportFromItems(dir, exportgen.ExportOptions{ExportTime: incT1, Seed: 22, Table: "unicorn_activities"},
		seq([]ddbitem.Item{unicorn("u1", "again", "and again")}))
	if err != nil {
		t.Fatal(err)
	}
	mustBackfill(t, pool, m, after.Folder)
	if n := count(t, pool, "SELECT count(*) FROM unicorn_activities WHERE name = 'u1'"); n != 2 {
		t.Fatalf("the re-created item has %d activities, want 2", n)
	}
	if n := count(t, pool, "SELECT count(*) FROM ddb2pg.items WHERE item_key LIKE '%u1%' AND NOT deleted AND export_time = $1", incT1); n != 1 {
		t.Fatalf("the ledger does not hold the re-created item's version")
	}
}
