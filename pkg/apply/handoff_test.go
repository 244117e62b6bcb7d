package apply_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/ddb2pg/ddb2pg/internal/exportgen"
	"github.com/ddb2pg/ddb2pg/pkg/apply"
	"github.com/ddb2pg/ddb2pg/pkg/backfill"
	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
	"github.com/ddb2pg/ddb2pg/pkg/export"
	"github.com/ddb2pg/ddb2pg/pkg/stream"
)

// The real backfill (pkg/backfill, several workers) and the stream applier run
// before, after, and at the same time as each other on the same items: the
// final tables equal the export's items with the stream's changes applied.
func TestHandOffWithRealBackfill(t *testing.T) {
	for _, order := range []string{"stream-first", "backfill-first", "concurrent"} {
		t.Run(order, func(t *testing.T) { handOff(t, order) })
	}
}

func handOff(t *testing.T, mode string) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(11, 13))
	// The table at the export's snapshot.
	state := map[string]ddbitem.Item{}
	var exported []ddbitem.Item
	for i := 0; i < 150; i++ {
		id := fmt.Sprintf("o%03d", i)
		it := order(id, fmt.Sprintf("c%d", i%7), "exported", "p1", "p2", "p3")
		state[id] = it
		exported = append(exported, it)
	}
	dir := t.TempDir()
	w, err := exportgen.WriteExportFromItems(dir, exportgen.ExportOptions{Table: "Orders", ItemsPerFile: 15, ExportTime: time.Now().Add(-time.Hour)},
		func(yield func(ddbitem.Item) bool) {
			for _, it := range exported {
				if !yield(it) {
					return
				}
			}
		})
	if err != nil {
		t.Fatal(err)
	}
	// The stream: changes after the snapshot (and some before it, replayed
	// from TRIM_HORIZON: the insert of o000 with an older state).
	var recs []stream.Record
	recs = append(recs, put(1, order("o000", "c0", "before-export", "p1")))
	for n := 2; n < 400; n++ {
		id := fmt.Sprintf("o%03d", rng.IntN(180))
		if _, ok := state[id]; ok && rng.IntN(5) == 0 {
			delete(state, id)
			recs = append(recs, del(n, id))
			continue
		}
		lines := make([]string, rng.IntN(4))
		for j := range lines {
			lines[j] = fmt.Sprintf("p%d", rng.IntN(9))
		}
		it := order(id, fmt.Sprintf("c%d", rng.IntN(7)), fmt.Sprintf("v%d", n), lines...)
		state[id] = it
		recs = append(recs, put(n, it))
	}
	// o000's change before the export is older than the export's copy, but
	// the stream also carries every later change: here o000 is changed after.
	it := order("o000", "c0", "after-export", "p4")
	state["o000"] = it
	recs = append(recs, put(400, it))

	e := setup(t, apply.Config{ChunkSize: 25})
	exp, err := export.Open(ctx, w.Folder)
	if err != nil {
		t.Fatal(err)
	}
	runBackfill := func() {
		sum, err := backfill.Run(ctx, backfill.Config{Pool: e.pool, Mapping: e.m, Export: exp, Ledger: e.led, URI: w.Folder,
			Workers: 4, ChunkItems: 16, WaitForOthers: true})
		if err != nil {
			t.Errorf("backfill: %v", err)
			return
		}
		if !sum.Status.Complete() {
			t.Errorf("backfill incomplete: %+v", sum.Status)
		}
	}
	streamAll := func() {
		for i := 0; i < len(recs); i += 40 {
			batch := recs[i:min(i+40, len(recs))]
			if res := e.eng.Apply(ctx, e.pool, batch, nil); res.Err != nil {
				// Deadlocks with the backfill's workers are transient: retry
				// from the first record not committed, as Lambda would.
				if !apply.Retryable(res.Err) {
					t.Errorf("stream: %v", res.Err)
					return
				}
				i -= 40 - res.Committed
				continue
			}
			if rng.IntN(3) == 0 { // a duplicate delivery
				e.eng.Apply(ctx, e.pool, batch, nil)
			}
		}
	}
	switch mode {
	case "stream-first":
		streamAll()
		runBackfill()
	case "backfill-first":
		runBackfill()
		streamAll()
	default:
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); runBackfill() }()
		go func() { defer wg.Done(); streamAll() }()
		wg.Wait()
	}
	if t.Failed() {
		return
	}
	ref := setup(t, apply.Config{})
	ids := make([]string, 0, len(state))
	for id := range state {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var final []stream.Record
	for i, id := range ids {
		final = append(final, put(i+1, state[id]))
	}
	ref.apply(final...)
	if got, want := e.dumpTables(false), ref.dumpTables(false); got != want {
		t.Fatalf("%s: tables differ from the expected ones:\n%s\nwant\n%s", mode, got, want)
	}
}
