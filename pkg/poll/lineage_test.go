package poll_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ddb2pg/ddb2pg/internal/exportgen"
	"github.com/ddb2pg/ddb2pg/pkg/mapping"
	"github.com/ddb2pg/ddb2pg/pkg/poll"
)

// withDouble is a Streams API double with one stream on table Orders, a
// fresh database, and a poller configuration reading the table's stream.
type withDouble struct {
	d   *streamsDouble
	arn string
	pg  *pg
	m   *mapping.Mapping
	cfg poll.Config
}

func ordersMapping(t *testing.T) *mapping.Mapping {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mapping.yaml")
	if err := os.WriteFile(path, []byte(exportgen.MappingYAML(doubleTable)), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := mapping.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func newWithDouble(t *testing.T) *withDouble {
	t.Helper()
	m := ordersMapping(t)
	d := newStreamsDouble(t)
	w := &withDouble{d: d, arn: d.newStream("2026-12-01T00:00:00.000"), pg: newPG(t, m, nil), m: m}
	w.cfg = poll.Config{Streams: d.streamsClient(), Tables: d.tablesClient(), Table: doubleTable,
		Engine: w.pg.eng, DB: w.pg.pool, Ledger: w.pg.led, UntilIdle: 400 * time.Millisecond,
		PollInterval: 20 * time.Millisecond, MinReadInterval: 20 * time.Millisecond}
	return w
}

func (w *withDouble) run(t *testing.T) (poll.Stats, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return poll.Run(ctx, w.cfg)
}

// statuses is orders.id -> status in PostgreSQL.
func (w *withDouble) statuses(t *testing.T) map[string]string {
	t.Helper()
	rows, err := w.pg.pool.Query(context.Background(), `SELECT id, status FROM orders`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, st string
		if err := rows.Scan(&id, &st); err != nil {
			t.Fatal(err)
		}
		out[id] = st
	}
	return out
}

func wantLost(t *testing.T, err error, shard, after string) {
	t.Helper()
	var lost *poll.LostError
	if !errors.As(err, &lost) {
		t.Fatalf("want the lost-data error naming shard %s, got %v", shard, err)
	}
	if lost.ShardID != shard || lost.AfterSeq != after || !strings.Contains(err.Error(), lost.StreamARN) ||
		!strings.Contains(err.Error(), "backfill") {
		t.Fatalf("lost-data error names shard %s after %q, want %s after %q: %v", lost.ShardID, lost.AfterSeq, shard, after, err)
	}
}

// Issue 20 defect 1: a shard that leaves the stream (ages out) before it is
// read to its end is lost data, never a finished parent: the run stops with
// the lost-data error naming the shard and its last applied record, and its
// children are not read.
func TestAgedOutShardIsLostData(t *testing.T) {
	for _, tc := range []struct {
		name string
		// after run 1 (which applied o1..o3 from shard A, still open)
		then       func(w *withDouble)
		shard      string
		afterFirst bool   // the error names A's last applied record
		recovered  string // the item a reread after forgetting the position applies (status "child")
	}{
		{"parent with an open checkpoint aged out", func(w *withDouble) {
			w.d.put(w.arn, "A", "MODIFY", order("o1", "c1", "lost"))
			w.d.split(w.arn, "A", "B")
			w.d.put(w.arn, "B", "MODIFY", order("o2", "c1", "child"))
			w.d.ageOut(w.arn, "A")
		}, "A", true, "o2"},
		{"the records after the checkpoint were trimmed", func(w *withDouble) {
			w.d.put(w.arn, "A", "MODIFY", order("o1", "c1", "lost"))
			w.d.put(w.arn, "A", "MODIFY", order("o2", "c1", "child"))
			w.d.trim(w.arn, "A", 4)
		}, "A", true, "o2"},
		{"child not found while the parent's checkpoint is open", func(w *withDouble) {
			w.d.put(w.arn, "A", "MODIFY", order("o1", "c1", "lost"))
			w.d.split(w.arn, "A", "B")
			w.d.put(w.arn, "B", "MODIFY", order("o2", "c1", "child"))
			w.d.ageOut(w.arn, "A")
			w.d.set(func(d *streamsDouble) { d.shard(w.arn, "B").unfound = true })
		}, "A", true, "o2"},
		{"a shard listed at the start aged out before any record of it was applied", func(w *withDouble) {
			w.d.put(w.arn, "E", "INSERT", order("o9", "c1", "lost"))
			w.d.split(w.arn, "E", "F")
			w.d.put(w.arn, "F", "MODIFY", order("o2", "c1", "child"))
			w.d.ageOut(w.arn, "E")
		}, "E", false, "o2"},
		{"a grandparent aged out under a parent that aged out too", func(w *withDouble) {
			w.d.put(w.arn, "A", "MODIFY", order("o1", "c1", "lost"))
			w.d.split(w.arn, "A", "B")
			w.d.put(w.arn, "B", "MODIFY", order("o2", "c1", "lost"))
			w.d.split(w.arn, "B", "C")
			w.d.put(w.arn, "C", "MODIFY", order("o3", "c1", "child"))
			w.d.ageOut(w.arn, "A")
			w.d.ageOut(w.arn, "B")
		}, "A", true, "o3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWithDouble(t)
			w.d.addShard(w.arn, "A", "")
			w.d.addShard(w.arn, "E", "")
			w.d.put(w.arn, "A", "INSERT", order("o1", "c1", "new"))
			w.d.put(w.arn, "A", "INSERT", order("o2", "c1", "new"))
			last := w.d.put(w.arn, "A", "INSERT", order("o3", "c1", "new"))
			if st, err := w.run(t); err != nil || st.Applied != 3 {
				t.Fatalf("run 1: %+v %v", st, err)
			}
			tc.then(w)
			_, err := w.run(t)
			after := ""
			if tc.afterFirst {
				after = last
			}
			wantLost(t, err, tc.shard, after)
			for id, st := range w.statuses(t) {
				if st != "new" {
					t.Errorf("%s: status %q: a child of the lost shard was applied", id, st)
				}
			}
			// The documented recovery's last step (after an export and its
			// backfill): forget the position, read what the stream holds.
			w.cfg.StreamARN, w.cfg.ForgetPosition = w.arn, true
			w.d.set(func(d *streamsDouble) {
				for _, sh := range d.streams[w.arn].shards {
					sh.unfound = false
				}
			})
			if _, err := w.run(t); err != nil {
				t.Fatalf("after forgetting the position: %v", err)
			}
			if got := w.statuses(t)[tc.recovered]; got != "child" {
				t.Errorf("after forgetting the position, %s is %q", tc.recovered, got)
			}
		})
	}
}

// waitReads waits until the double has served n GetRecords of a shard.
func (w *withDouble) waitReads(t *testing.T, shard string, n int) {
	t.Helper()
	for i := 0; i < 500; i++ {
		var got int
		w.d.set(func(d *streamsDouble) { got = len(d.readTimes[shard]) })
		if got >= n {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("shard %s was not read %d times", shard, n)
}

// Issue 12 defect 9 and issue 20 defects 2 and 3: `--from latest` is a
// lasting start position (the time and the shard list of the first run):
// every record written after it is applied, across restarts, expired
// iterators, and shards that open and close while the poller is stopped;
// only shards closed before the start, and records written before it, are
// passed over.
func TestFromLatestIsALastingStart(t *testing.T) {
	for _, tc := range []struct {
		name string
		// during run 1 (started on open shard A with records from an hour
		// ago), with stop() ending it; then run 2.
		during func(t *testing.T, w *withDouble, stop func())
		want   map[string]string
	}{
		{"restart before the first record", func(t *testing.T, w *withDouble, stop func()) {
			w.waitReads(t, "A", 1)
			stop()
			w.d.put(w.arn, "A", "INSERT", order("n1", "c1", "after"))
		}, map[string]string{"n1": "after"}},
		{"shards born and closed while stopped", func(t *testing.T, w *withDouble, stop func()) {
			w.waitReads(t, "A", 1)
			stop()
			w.d.put(w.arn, "A", "INSERT", order("n1", "c1", "after"))
			w.d.split(w.arn, "A", "B")
			w.d.put(w.arn, "B", "INSERT", order("n2", "c1", "after"))
			w.d.put(w.arn, "B", "MODIFY", order("old1", "c1", "after"))
			w.d.split(w.arn, "B", "C")
			w.d.put(w.arn, "C", "INSERT", order("n3", "c1", "after"))
		}, map[string]string{"n1": "after", "n2": "after", "n3": "after", "old1": "after"}},
		{"expired iterator before the first record", func(t *testing.T, w *withDouble, stop func()) {
			w.waitReads(t, "A", 1)
			w.d.put(w.arn, "A", "INSERT", order("n1", "c1", "after"))
			w.d.set(func(d *streamsDouble) { d.expireNext["A"] = 1 })
			w.d.put(w.arn, "A", "INSERT", order("n2", "c1", "after"))
		}, map[string]string{"n1": "after", "n2": "after"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWithDouble(t)
			w.cfg.From = "latest"
			w.cfg.UntilIdle = 0
			w.d.addShard(w.arn, "Z", "")
			w.d.set(func(d *streamsDouble) { d.clock = time.Now().Add(-time.Hour) })
			w.d.put(w.arn, "Z", "INSERT", order("old0", "c1", "before"))
			w.d.closeShard(w.arn, "Z", true) // closed before the start: skipped
			w.d.addShard(w.arn, "A", "")
			w.d.put(w.arn, "A", "INSERT", order("old1", "c1", "before"))
			w.d.put(w.arn, "A", "INSERT", order("old2", "c1", "before"))
			w.d.set(func(d *streamsDouble) { d.clock = time.Time{} })

			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			done := make(chan error, 1)
			go func() {
				_, err := poll.Run(ctx, w.cfg)
				done <- err
			}()
			stopped := false
			tc.during(t, w, func() {
				cancel()
				if err := <-done; err != nil {
					t.Fatalf("run 1: %v", err)
				}
				stopped = true
			})
			if !stopped {
				time.Sleep(300 * time.Millisecond)
				cancel()
				if err := <-done; err != nil {
					t.Fatalf("run 1: %v", err)
				}
			}
			w.cfg.UntilIdle = 400 * time.Millisecond
			if _, err := w.run(t); err != nil {
				t.Fatalf("run 2: %v", err)
			}
			got := w.statuses(t)
			if len(got) != len(tc.want) {
				t.Errorf("applied %v, want %v", got, tc.want)
			}
			for id, st := range tc.want {
				if got[id] != st {
					t.Errorf("%s: status %q, want %q (applied: %v)", id, got[id], st, got)
				}
			}
		})
	}
}

// Issue 20 defect 4: a stream disabled (and enabled again) is noticed, while
// running and on a restart: the run stops with an error naming both streams
// and the recovery; naming the new stream explicitly starts on it.
func TestDisabledStreamIsNoticed(t *testing.T) {
	for _, tc := range []struct {
		name     string
		restart  bool // disable between two runs, not during one
		reenable bool
		gone     bool // the old stream is deleted too (24 hours after it was disabled)
	}{
		{"disabled and enabled again while running", false, true, false},
		{"disabled and enabled again while stopped", true, true, false},
		{"disabled while running", false, false, false},
		{"disabled, enabled again and aged out while stopped", true, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWithDouble(t)
			w.d.addShard(w.arn, "A", "")
			w.d.put(w.arn, "A", "INSERT", order("o1", "c1", "old stream"))
			var newARN string
			change := func() {
				w.d.put(w.arn, "A", "MODIFY", order("o1", "c1", "old stream, last"))
				w.d.disable(w.arn)
				if tc.reenable {
					newARN = w.d.newStream("2026-12-02T00:00:00.000")
					w.d.addShard(newARN, "X", "")
					w.d.put(newARN, "X", "INSERT", order("o2", "c1", "new stream"))
				}
				if tc.gone {
					w.d.set(func(d *streamsDouble) { delete(d.streams, w.arn) })
				}
			}
			var err error
			if tc.restart {
				if _, err := w.run(t); err != nil {
					t.Fatal(err)
				}
				change()
				_, err = w.run(t)
			} else {
				done := make(chan error, 1)
				go func() {
					_, err := w.run(t)
					done <- err
				}()
				w.waitReads(t, "A", 1)
				change()
				err = <-done
			}
			if err == nil || !strings.Contains(err.Error(), w.arn) || !strings.Contains(err.Error(), newARN) ||
				!strings.Contains(err.Error(), "disabled") {
				t.Fatalf("want an error naming the disabled stream %s and the new one %q, got %v", w.arn, newARN, err)
			}
			wantOld := "old stream, last"
			if tc.gone {
				wantOld = "old stream"
			}
			if got := w.statuses(t); got["o1"] != wantOld || got["o2"] != "" {
				t.Errorf("applied %v: want all of the old stream, nothing of the new", got)
			}
			if !tc.reenable {
				return
			}
			// Naming the new stream is the operator's word that the gap is dealt with.
			w.cfg.StreamARN = newARN
			if _, err := w.run(t); err != nil {
				t.Fatalf("on the named new stream: %v", err)
			}
			if got := w.statuses(t); got["o2"] != "new stream" {
				t.Errorf("the new stream was not applied: %v", got)
			}
		})
	}
}

// Issue 20 defect 5: a shard read to its end whose EndingSequenceNumber and
// children AWS shows only later costs a few DescribeStream calls (a lookup of
// its children, on a backoff), not one whole listing per loop pass; the
// children are found and read when they appear.
func TestDescribeStreamIsBounded(t *testing.T) {
	for _, tc := range []struct {
		name     string
		noFilter bool
		waiting  int // more shards read to their end, waiting for children
		max      int
	}{
		{"children looked up with ShardFilter", false, 0, 6},
		{"an endpoint without ShardFilter is re-listed on the same backoff", true, 0, 10},
		{"many shards waiting at once are looked up with whole listings", false, 150, 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWithDouble(t)
			w.d.set(func(d *streamsDouble) { d.noFilter = tc.noFilter })
			for i := 0; i < tc.waiting; i++ {
				id := fmt.Sprintf("w%03d", i)
				w.d.addShard(w.arn, id, "")
				w.d.closeShard(w.arn, id, false)
			}
			w.d.addShard(w.arn, "A", "")
			w.d.put(w.arn, "A", "INSERT", order("o1", "c1", "parent"))
			w.d.closeShard(w.arn, "A", false)
			w.cfg.UntilIdle = 0
			ctx, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond)
			defer cancel()
			time.AfterFunc(500*time.Millisecond, func() {
				w.d.addShard(w.arn, "B", "A")
				w.d.put(w.arn, "B", "MODIFY", order("o1", "c1", "child"))
			})
			if _, err := poll.Run(ctx, w.cfg); err != nil {
				t.Fatal(err)
			}
			n := w.d.count("DescribeStream")
			t.Logf("DescribeStream calls in 2.5 s: %d (%d with a ShardFilter)", n, w.d.filtered)
			if n > tc.max {
				t.Errorf("%d DescribeStream calls in 2.5 s, want at most %d", n, tc.max)
			}
			if got := w.statuses(t)["o1"]; got != "child" {
				t.Errorf("o1 is %q: the child was not found and read", got)
			}
		})
	}
}

// Throttling of any operation (LimitExceededException, with the SDK's own
// retries off) backs off and continues; it never ends the run.
func TestThrottlingBacksOff(t *testing.T) {
	w := newWithDouble(t)
	w.d.addShard(w.arn, "A", "")
	w.d.put(w.arn, "A", "INSERT", order("o1", "c1", "parent"))
	w.d.split(w.arn, "A", "B", "C")
	w.d.put(w.arn, "B", "INSERT", order("o2", "c1", "child"))
	w.d.put(w.arn, "C", "INSERT", order("o3", "c1", "child"))
	w.d.set(func(d *streamsDouble) {
		for _, op := range []string{"DescribeTable", "DescribeStream", "GetShardIterator", "GetRecords"} {
			d.throttle[op] = 2
		}
	})
	st, err := w.run(t)
	if err != nil {
		t.Fatal(err)
	}
	if st.Applied != 3 {
		t.Errorf("%+v", st)
	}
}

// A shard listed at the recorded start with its child, never read before it
// aged out, is lost data even though the child was listed at the start too.
func TestShardListedAtStartNeverReadIsLostData(t *testing.T) {
	w := newWithDouble(t)
	w.d.addShard(w.arn, "P", "")
	w.d.put(w.arn, "P", "INSERT", order("o1", "c1", "lost"))
	w.d.split(w.arn, "P", "C")
	w.d.put(w.arn, "C", "INSERT", order("o2", "c1", "child"))
	// Run 1 records the start and stops before it gets to read P.
	w.d.set(func(d *streamsDouble) { d.throttle["GetShardIterator"] = 1000 })
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if _, err := poll.Run(ctx, w.cfg); err != nil {
		t.Fatal(err)
	}
	w.d.set(func(d *streamsDouble) { d.throttle["GetShardIterator"] = 0 })
	w.d.ageOut(w.arn, "P")
	_, err := w.run(t)
	wantLost(t, err, "P", "")
	if got := w.statuses(t); len(got) != 0 {
		t.Errorf("applied %v", got)
	}
}

// A stream deleted while being read (24 hours after it was disabled): its
// unfinished shard lost what followed its checkpoint.
func TestDeletedStreamIsLostData(t *testing.T) {
	w := newWithDouble(t)
	w.cfg.UntilIdle = 0
	w.cfg.RefreshInterval = 100 * time.Millisecond
	w.d.addShard(w.arn, "A", "")
	last := w.d.put(w.arn, "A", "INSERT", order("o1", "c1", "new"))
	done := make(chan error, 1)
	go func() {
		_, err := w.run(t)
		done <- err
	}()
	waitStatus(t, w.pg.pool, "o1", "new", 10*time.Second)
	w.d.set(func(d *streamsDouble) { delete(d.streams, w.arn) })
	wantLost(t, <-done, "A", last)
}

// Empty pages before a closed shard's end (AWS returns them) do not end the
// shard: its last records and then its child are applied.
func TestEmptyPagesBeforeAShardsEnd(t *testing.T) {
	w := newWithDouble(t)
	w.d.set(func(d *streamsDouble) { d.pageSize = 1 })
	w.d.addShard(w.arn, "A", "")
	w.d.put(w.arn, "A", "INSERT", order("o1", "c1", "first"))
	w.d.put(w.arn, "A", "MODIFY", order("o1", "c1", "parent-last"))
	w.d.split(w.arn, "A", "B")
	w.d.put(w.arn, "B", "MODIFY", order("o2", "c1", "child"))
	w.d.set(func(d *streamsDouble) { d.emptyNext["A"], d.emptyNext["B"] = 3, 2 })
	if _, err := w.run(t); err != nil {
		t.Fatal(err)
	}
	if got := w.statuses(t); got["o1"] != "parent-last" || got["o2"] != "child" {
		t.Errorf("applied %v", got)
	}
}
