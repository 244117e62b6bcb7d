package poll_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ddb2pg/ddb2pg/pkg/poll"
)

// Shards are read concurrently: a slow shard does not stall the others; a
// busy shard is read at most five times a second (AWS's per-shard limit);
// a shard that returns nothing is read less and less often.
func TestShardsAreReadConcurrentlyAndPaced(t *testing.T) {
	w := newWithDouble(t)
	w.cfg.UntilIdle = 0
	w.cfg.PollInterval, w.cfg.MinReadInterval = time.Second, 0
	w.d.set(func(d *streamsDouble) { d.pageSize = 2 })
	w.d.addShard(w.arn, "slow", "")
	w.d.set(func(d *streamsDouble) { d.delay["slow"] = 1500 * time.Millisecond })
	w.d.addShard(w.arn, "busy", "")
	for i := 0; i < 16; i++ {
		w.d.put(w.arn, "busy", "INSERT", order(fmt.Sprintf("o%02d", i), "c1", "busy"))
	}
	for i := 0; i < 4; i++ {
		w.d.addShard(w.arn, fmt.Sprintf("idle%d", i), "")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	st, err := poll.Run(ctx, w.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if st.Applied != 16 {
		t.Errorf("applied %d of the busy shard's 16 records in 3 s beside a slow shard", st.Applied)
	}
	w.d.set(func(d *streamsDouble) {
		times := d.readTimes["busy"]
		for i := 1; i < len(times); i++ {
			if gap := times[i].Sub(times[i-1]); gap < 180*time.Millisecond {
				t.Errorf("busy shard read twice within %s", gap)
			}
		}
		for i := 0; i < 4; i++ {
			if n := len(d.readTimes[fmt.Sprintf("idle%d", i)]); n > 8 || n < 2 {
				t.Errorf("idle shard read %d times in 3 s, want 2 to 8", n)
			}
		}
	})
}

// A shard with a backlog is read at most five times a second.
func TestBusyShardIsPaced(t *testing.T) {
	w := newWithDouble(t)
	w.cfg.PollInterval, w.cfg.MinReadInterval = time.Second, 0
	w.d.set(func(d *streamsDouble) { d.pageSize = 2 })
	w.d.addShard(w.arn, "busy", "")
	for i := 0; i < 10; i++ {
		w.d.put(w.arn, "busy", "INSERT", order(fmt.Sprintf("o%02d", i), "c1", "busy"))
	}
	if st, err := w.run(t); err != nil || st.Applied != 10 {
		t.Fatalf("%+v %v", st, err)
	}
	w.d.set(func(d *streamsDouble) {
		times := d.readTimes["busy"]
		for i := 1; i < len(times); i++ {
			if gap := times[i].Sub(times[i-1]); gap < 180*time.Millisecond {
				t.Errorf("read %d came %s after the one before", i, gap)
			}
		}
	})
}

// At most ShardConcurrency shards are read (and applied) at once.
func TestShardConcurrencyIsBounded(t *testing.T) {
	w := newWithDouble(t)
	w.cfg.ShardConcurrency = 3
	for i := 0; i < 10; i++ {
		id := fmt.Sprintf("s%d", i)
		w.d.addShard(w.arn, id, "")
		w.d.put(w.arn, id, "INSERT", order("o"+id, "c1", "new"))
		w.d.set(func(d *streamsDouble) { d.delay[id] = 100 * time.Millisecond })
	}
	st, err := w.run(t)
	if err != nil || st.Applied != 10 {
		t.Fatalf("%+v %v", st, err)
	}
	w.d.set(func(d *streamsDouble) {
		if d.maxFlight > 3 || d.maxFlight < 2 {
			t.Errorf("at most %d GetRecords at once, want 2 or 3", d.maxFlight)
		}
	})
}
