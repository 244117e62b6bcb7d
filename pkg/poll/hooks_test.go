package poll_test

import (
	"sync"
	"testing"
	"time"

	"github.com/ddb2pg/ddb2pg/pkg/apply"
)

// OnBatch sees every committed batch with its stream, shard and lag, and
// sums to the run's stats; OnShardDone names each shard read to its end,
// after its last batch, and no open shard.
func TestBatchAndShardDoneCallbacks(t *testing.T) {
	w := newWithDouble(t)
	w.d.set(func(d *streamsDouble) { d.pageSize = 2; d.clock = time.Now().Add(-time.Hour) })
	w.d.addShard(w.arn, "A", "")
	w.d.put(w.arn, "A", "INSERT", order("o1", "c1", "first"))
	w.d.put(w.arn, "A", "MODIFY", order("o1", "c1", "second"))
	w.d.put(w.arn, "A", "INSERT", order("o2", "c1", "first"))
	w.d.split(w.arn, "A", "B")
	w.d.put(w.arn, "B", "MODIFY", order("o2", "c1", "child"))
	var (
		mu      sync.Mutex
		sum     apply.Stats
		batches = map[string]int{}
		done    []string
		events  []string
	)
	w.cfg.OnBatch = func(arn, shard string, st apply.Stats, took, lag time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		if arn != w.arn {
			t.Errorf("batch of stream %s, want %s", arn, w.arn)
		}
		// The records were written an hour ago by the double's clock.
		if lag < 59*time.Minute || lag > 2*time.Hour || took <= 0 {
			t.Errorf("shard %s: lag %v, took %v", shard, lag, took)
		}
		sum.Add(st)
		batches[shard]++
		events = append(events, "batch "+shard)
	}
	w.cfg.OnShardDone = func(arn, shard string) {
		mu.Lock()
		defer mu.Unlock()
		done = append(done, shard)
		events = append(events, "done "+shard)
	}
	st, err := w.run(t)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Records != st.Records || sum.Applied != st.Applied || sum.Records != 4 {
		t.Errorf("callbacks summed %+v, the run %+v", sum, st.Stats)
	}
	if batches["A"] != 2 || batches["B"] != 1 {
		t.Errorf("batches per shard %v, want A:2 B:1 (pages of 2)", batches)
	}
	if len(done) != 1 || done[0] != "A" {
		t.Errorf("shards done %v, want [A] (B is open)", done)
	}
	afterDone := false
	for _, e := range events {
		afterDone = afterDone || e == "done A"
		if afterDone && e == "batch A" {
			t.Errorf("a batch of A after it was done: %v", events)
		}
	}
}
