package apply_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ddb2pg/ddb2pg/internal/exportgen"
	"github.com/ddb2pg/ddb2pg/pkg/apply"
	"github.com/ddb2pg/ddb2pg/pkg/backfill"
	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
	"github.com/ddb2pg/ddb2pg/pkg/export"
	"github.com/ddb2pg/ddb2pg/pkg/stream"
)

// orderSeeds is how many histories TestOrderIndependence tries.
const orderSeeds = 3

// TestOrderIndependence: one random history (puts, deletes, images the
// mapping rejects, customers renamed over time) of which the stream holds
// only the part after its start; a full export taken before the stream
// started and a newer one taken after; the stream delivered with
// duplicates. The real backfill and the stream engine run in several
// orders: the stream first, the exports first, the stream between them,
// and interleaved at random (the older export always before the newer);
// and the same orders with an incremental export from the older export's
// time to the newer's in place of the newer export.
// Every order ends with the non-shared tables of the history's final state
// and identical shared tables, holding the customers only an export's copy
// referenced too. (Loading the older export after the newer one is not
// such an order: a full export cannot tell that an item it does not hold
// was deleted, so the older export would bring it back.)
func TestOrderIndependence(t *testing.T) {
	for seed := 1; seed <= orderSeeds; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { orderIndependence(t, uint64(seed)) })
	}
}

func orderIndependence(t *testing.T, seed uint64) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(seed, 7))
	version := map[string]int{} // customer -> its current name's version
	randItem := func(id string) ddbitem.Item {
		lines := make([]string, rng.IntN(3))
		for i := range lines {
			lines[i] = fmt.Sprintf("p%d", rng.IntN(4))
		}
		c := fmt.Sprintf("c%d", rng.IntN(6))
		if rng.IntN(4) == 0 {
			version[c]++ // the customer is renamed
		}
		it := order(id, c, fmt.Sprintf("s%d", rng.IntN(100)), lines...)
		it["customerName"] = ddbitem.Str(fmt.Sprintf("name of %s v%d", c, version[c]))
		if rng.IntN(8) == 0 {
			it["total"] = ddbitem.Num("1.005") // numeric(12,2) rejects it
		}
		return it
	}
	state := map[string]ddbitem.Item{}
	nOps := 40 + rng.IntN(30)
	start := 5 + rng.IntN(nOps/2) // the first op the stream holds
	at1 := rng.IntN(start + 1)
	at2 := start + rng.IntN(nOps-start+1)
	var snap1, snap2 map[string]ddbitem.Item
	var recs []stream.Record
	t0 := time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)
	t1, t2 := t0.Add(time.Hour), t0.Add(2*time.Hour) // the exports' times
	window := map[string]exportgen.Change{}          // the incremental export (t1, t2]: each item's last change
	for i := 0; i <= nOps; i++ {
		if i == at1 {
			snap1 = copyState(state)
		}
		if i == at2 {
			snap2 = copyState(state)
		}
		if i == nOps {
			break
		}
		id := fmt.Sprintf("o%d", rng.IntN(10))
		var r stream.Record
		keys := ddbitem.Item{"orderId": ddbitem.Str(id)}
		at := t1.Add(time.Duration(i-at1+1) * time.Second)
		if _, ok := state[id]; ok && rng.IntN(5) == 0 {
			delete(state, id)
			r = del(i+1, id)
			if i >= at1 && i < at2 {
				window[id] = exportgen.Change{Keys: keys, OldImage: keys, WriteTime: at}
			}
		} else {
			it := randItem(id)
			if i < start {
				// Customers of the time before the stream: only the
				// exports know them, unless the stream names them again.
				c := fmt.Sprintf("old%d", rng.IntN(4))
				it["customerId"] = ddbitem.Str(c)
				it["customerName"] = ddbitem.Str("name of " + c)
			}
			state[id] = it
			r = put(i+1, it)
			if i >= at1 && i < at2 {
				window[id] = exportgen.Change{Keys: keys, NewImage: it, WriteTime: at}
			}
		}
		if i >= start {
			recs = append(recs, r)
		}
	}
	var deliveries [][]stream.Record
	for pos := 0; pos < len(recs); {
		end := min(pos+1+rng.IntN(8), len(recs))
		deliveries = append(deliveries, recs[pos:end])
		if rng.IntN(4) == 0 { // delivered again from an earlier point
			deliveries = append(deliveries, recs[rng.IntN(end):end])
		}
		pos = end
	}
	dir := t.TempDir()
	writeExport := func(name string, snap map[string]ddbitem.Item, at time.Time) string {
		ids := slices.Sorted(mapsKeys(snap))
		w, err := exportgen.WriteExportFromItems(filepath.Join(dir, name), exportgen.ExportOptions{Table: "Orders", ExportTime: at,
			Seed: int64(len(name))}, func(yield func(ddbitem.Item) bool) {
			for _, id := range ids {
				if !yield(snap[id]) {
					return
				}
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		return w.Folder
	}
	older := writeExport("e1", snap1, t1)
	newer := writeExport("e22", snap2, t2)
	var changes []exportgen.Change
	for _, id := range slices.Sorted(mapsKeys(window)) {
		changes = append(changes, window[id])
	}
	inc, err := exportgen.WriteIncrementalExport(filepath.Join(dir, "inc"), exportgen.ExportOptions{Table: "Orders", Seed: 9}, t1, t2, changes)
	if err != nil {
		t.Fatal(err)
	}

	// A schedule lists steps: "s<i>" delivers deliveries[i], "e1"/"e2"
	// loads a full export, "i" the incremental export between them (which
	// brings e1's time to e2's as e2 does).
	streamSteps := func() []string {
		s := make([]string, len(deliveries))
		for i := range s {
			s[i] = fmt.Sprint("s", i)
		}
		return s
	}
	interleaved := streamSteps()
	i1 := rng.IntN(len(interleaved) + 1)
	interleaved = slices.Insert(interleaved, i1, "e1")
	interleaved = slices.Insert(interleaved, i1+1+rng.IntN(len(interleaved)-i1), "e2")
	interleavedInc := slices.Clone(interleaved)
	interleavedInc[slices.Index(interleavedInc, "e2")] = "i"
	schedules := []struct {
		name  string
		steps []string
	}{
		{"stream-first", append(streamSteps(), "e1", "e2")},
		{"exports-first", append([]string{"e1", "e2"}, streamSteps()...)},
		{"between-exports", append(append([]string{"e1"}, streamSteps()...), "e2")},
		{"interleaved", interleaved},
		{"incremental-then-stream", append([]string{"e1", "i"}, streamSteps()...)},
		{"stream-then-incremental", append(streamSteps(), "e1", "i")},
		{"interleaved-incremental", interleavedInc},
	}
	chunk := 1 + rng.IntN(6)
	var dumps []string
	var sharedKeys []string
	for _, sc := range schedules {
		e := setup(t, apply.Config{ChunkSize: chunk})
		for _, step := range sc.steps {
			switch step {
			case "e1", "e2", "i":
				folder := map[string]string{"e1": older, "e2": newer, "i": inc.Folder}[step]
				exp, err := export.Open(ctx, folder)
				if err != nil {
					t.Fatal(err)
				}
				sum, err := backfill.Run(ctx, backfill.Config{Pool: e.pool, Mapping: e.m, Export: exp, Ledger: e.led, URI: folder,
					Workers: 1, ChunkItems: 3})
				if err != nil || !sum.Status.Complete() {
					t.Fatalf("%s: loading %s: %v", sc.name, step, err)
				}
			default:
				var i int
				fmt.Sscanf(step, "s%d", &i)
				if res := e.eng.Apply(ctx, e.pool, deliveries[i], nil); res.Err != nil {
					t.Fatalf("%s: delivery %d: %v", sc.name, i, res.Err)
				}
			}
		}
		dumps = append(dumps, e.dump())
		sharedKeys = append(sharedKeys, e.customerIDs())
	}

	ref := setup(t, apply.Config{})
	var final []stream.Record
	for i, id := range slices.Sorted(mapsKeys(state)) {
		final = append(final, put(i+1, state[id]))
	}
	ref.apply(final...)
	want := ref.dumpTables(false)
	for i, sc := range schedules {
		if got := dumps[i][:strings.Index(dumps[i], "customers:")]; got != want {
			t.Errorf("seed %d, %s (stream from op %d, exports at ops %d and %d of %d): non-shared tables differ from the final state:\n%s\nwant\n%s",
				seed, sc.name, start, at1, at2, nOps, got, want)
		}
		if dumps[i] != dumps[0] {
			t.Errorf("seed %d: %s and %s end differently:\n%s\nvs\n%s", seed, sc.name, schedules[0].name, dumps[i], dumps[0])
		}
	}
	// Every customer an export's copy referenced (a copy the mapping
	// rejects has no rows).
	have := strings.Split(sharedKeys[0], ",")
	for _, snap := range []map[string]ddbitem.Item{snap1, snap2} {
		for _, it := range snap {
			if c := it["customerId"].Str; it["total"].Str != "1.005" && !slices.Contains(have, c) {
				t.Errorf("seed %d: customer %s is missing", seed, c)
			}
		}
	}
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// customerIDs lists the shared table's primary keys, sorted.
func (e *env) customerIDs() string {
	e.t.Helper()
	rows, err := e.pool.Query(e.ctx, `SELECT id FROM customers`)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			e.t.Fatal(err)
		}
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return strings.Join(ids, ",")
}
