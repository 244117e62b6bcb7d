package poll_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ddb2pg/ddb2pg/pkg/poll"
)

// Long shard lineages (splits into one or two children, several generations
// deep, ends shown late), empty pages, expired iterators, throttling and
// PostgreSQL outages, with the poller stopped and restarted at random points
// while records are written; finally, sometimes, a line of shards ages out while the poller is
// stopped. Every record is applied once in effect (the tables hold each
// item's last version), or the run stops with the lost-data error naming a
// shard whose records are really lost, after its checkpoint.
// DDB2PG_POLL_SEEDS=N runs seeds 1..N; `make soak` runs 150 more.
func TestRandomLineageWithRestarts(t *testing.T) {
	n := 4
	if s := os.Getenv("DDB2PG_POLL_SEEDS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			t.Fatal(err)
		}
	}
	for seed := 1; seed <= n; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { randomLineage(t, uint64(seed)) })
	}
}

func randomLineage(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 20))
	w := newWithDouble(t)
	// The poller reaches PostgreSQL through a proxy that the history cuts
	// now and then (a restart, a failover); the checks go direct.
	proxy, pool := poolThrough(t, w.pg.dsn)
	w.cfg.DB = pool
	w.cfg.ShardConcurrency = 1 + rng.IntN(4)
	w.d.set(func(d *streamsDouble) { d.pageSize = 1 + rng.IntN(4) })
	parent := map[string]string{}
	var open []string
	newShard := func(p string) string {
		id := fmt.Sprintf("shard-%02d", len(parent))
		w.d.addShard(w.arn, id, p)
		parent[id] = p
		open = append(open, id)
		return id
	}
	newShard("")
	newShard("")
	keyShard := map[string]string{}
	want := map[string]string{}
	var lostRecords int

	var cancel context.CancelFunc
	var done chan error
	running := false
	start := func() {
		var ctx context.Context
		ctx, cancel = context.WithTimeout(context.Background(), time.Minute)
		done = make(chan error, 1)
		go func() {
			_, err := poll.Run(ctx, w.cfg)
			done <- err
		}()
		running = true
	}
	stop := func() {
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("seed %d: a run stopped by its caller ended with %v", seed, err)
		}
		running = false
	}
	ops := []string{"DescribeTable", "DescribeStream", "GetShardIterator", "GetRecords"}
	for step := 0; step < 150; step++ {
		switch r := rng.IntN(100); {
		case r < 60:
			key := fmt.Sprintf("o%02d", rng.IntN(20))
			sh, ok := keyShard[key]
			if !ok {
				sh = open[rng.IntN(len(open))]
				keyShard[key] = sh
			}
			if _, exists := want[key]; exists && rng.IntN(5) == 0 {
				w.d.put(w.arn, sh, "REMOVE", order(key, "c1", ""))
				delete(want, key)
			} else {
				status := fmt.Sprintf("v%d", step)
				w.d.put(w.arn, sh, "MODIFY", order(key, fmt.Sprintf("c%d", rng.IntN(3)), status))
				want[key] = status
			}
		case r < 68:
			i := rng.IntN(len(open))
			p := open[i]
			open = slices.Delete(open, i, i+1)
			w.d.closeShard(w.arn, p, rng.IntN(2) == 0)
			kids := []string{newShard(p)}
			if rng.IntN(2) == 0 {
				kids = append(kids, newShard(p))
			}
			for k, sh := range keyShard {
				if sh == p {
					keyShard[k] = kids[rng.IntN(len(kids))]
				}
			}
		case r < 73:
			sh := open[rng.IntN(len(open))]
			w.d.set(func(d *streamsDouble) { d.emptyNext[sh] = 1 + rng.IntN(3) })
		case r < 76:
			sh := open[rng.IntN(len(open))]
			w.d.set(func(d *streamsDouble) { d.expireNext[sh] = 1 })
		case r < 79:
			op := ops[rng.IntN(len(ops))]
			w.d.set(func(d *streamsDouble) { d.throttle[op] += 1 + rng.IntN(2) })
		case r < 82:
			proxy.cut()
			time.Sleep(time.Duration(50+rng.IntN(400)) * time.Millisecond)
			proxy.restore()
		case r < 92:
			if running {
				stop()
			} else {
				start()
			}
		}
		if rng.IntN(3) == 0 {
			time.Sleep(time.Duration(rng.IntN(40)) * time.Millisecond)
		}
	}
	if running {
		stop()
	}

	// Sometimes a line of closed shards (one and all its ancestors) ages out
	// while the poller is stopped.
	lost := map[string]string{} // shard whose records may be lost -> its checkpoint
	var closed []string
	for id := range parent {
		if !slices.Contains(open, id) {
			closed = append(closed, id)
		}
	}
	slices.Sort(closed)
	// (Only once a run has recorded the stream's start: shards gone before
	// the first run are not the poller's to read.)
	_, started, err := w.pg.led.StreamStartOf(context.Background(), w.pg.pool, w.arn)
	if err != nil {
		t.Fatal(err)
	}
	if len(closed) > 0 && started && rng.IntN(2) == 0 {
		cps, err := w.pg.led.Checkpoints(context.Background(), w.pg.pool, w.arn)
		if err != nil {
			t.Fatal(err)
		}
		for id := closed[rng.IntN(len(closed))]; id != ""; id = parent[id] {
			w.d.ageOut(w.arn, id)
			if cp, ok := cps[id]; !ok || !cp.Closed {
				lost[id] = cp.LastSeq
				lostRecords++
			}
		}
	}
	w.d.set(func(d *streamsDouble) { clear(d.throttle) })
	_, err = w.run(t)
	if lostRecords > 0 {
		var le *poll.LostError
		if !errors.As(err, &le) {
			t.Fatalf("seed %d: shards %v aged out unfinished; want the lost-data error, got %v", seed, lost, err)
		}
		after, ok := lost[le.ShardID]
		if !ok || strings.TrimLeft(after, "0") != strings.TrimLeft(le.AfterSeq, "0") {
			t.Fatalf("seed %d: the error names shard %s after %q; the unfinished aged-out shards are %v", seed, le.ShardID, le.AfterSeq, lost)
		}
		t.Logf("seed %d: %d shards, lost data reported in shard %s after %q", seed, len(parent), le.ShardID, le.AfterSeq)
		return
	}
	if err != nil {
		t.Fatalf("seed %d: %v", seed, err)
	}
	got := w.statuses(t)
	t.Logf("seed %d: %d shards, %d items", seed, len(parent), len(want))
	for k, st := range want {
		if got[k] != st {
			t.Errorf("seed %d: %s is %q, want %q", seed, k, got[k], st)
		}
	}
	for k, st := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("seed %d: %s is %q, want it deleted", seed, k, st)
		}
	}
}
