package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"

	"github.com/ddb2pg/ddb2pg/internal/pgerr"
	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
	"github.com/ddb2pg/ddb2pg/pkg/ledger"
	"github.com/ddb2pg/ddb2pg/pkg/report"
)

// A named full run is checkpointed: the table is split into RunSegments
// Scan segments; each is read by one worker of one process at a time (a
// claim through PostgreSQL) with its own counts and findings, committed to
// the bookkeeping with the segment's last evaluated key every
// CheckpointEvery. A killed process's segments are continued from their
// checkpoints; when the last segment is done, one process merges the
// segments' states in segment order (so the report does not depend on who
// read what, or on interruptions), runs the extra pass and records the
// report.

// segState is what a checkpoint holds of one segment's verifier.
type segState struct {
	Items          report.ItemCounts      `json:"items"`
	Tables         []report.TableCounts   `json:"tables"`
	Samples        []report.Sample        `json:"samples"`
	SamplesOmitted int64                  `json:"samples_omitted"`
	Rejected       []report.Rejected      `json:"rejected"`
	RejectedOmit   int64                  `json:"rejected_omitted"`
	Recheck        report.Recheck         `json:"recheck"`
	ItemsWithRows  []int64                `json:"items_with_rows"`
	TupleSum       []uint64               `json:"tuple_sum"`
	Shared         [][]sharedCheckpointed `json:"shared"`
}

// sharedCheckpointed is one shared row as a segment saw it.
type sharedCheckpointed struct {
	PH       uint64 `json:"h"`
	Val      uint64 `json:"v"`
	Owner    string `json:"o"`
	Status   uint8  `json:"s"`
	Conflict bool   `json:"c,omitempty"`
	Row      string `json:"r,omitempty"` // primary key JSON, when not matched
}

// clone returns a verifier for one segment: the same run, fresh counts.
func (v *verifier) clone() *verifier {
	c := &verifier{m: v.m, ddb: v.ddb, pool: v.pool, opts: v.opts, tables: v.tables, bucket: v.bucket,
		ledger: v.ledger, keyTypes: v.keyTypes, samples: map[string]int{}, started: v.started, live: v.live,
		total: v.total}
	c.res = &report.Result{Tables: map[string]*report.TableCounts{}, Samples: []report.Sample{}, Rejected: []report.Rejected{}}
	for _, t := range v.m.Tables {
		tc := &report.TableCounts{Shared: t.Shared}
		c.counts = append(c.counts, tc)
		c.res.Tables[t.Name] = tc
		c.shared = append(c.shared, map[uint64]sharedState{})
	}
	c.itemsWithRows = make([]int64, len(v.m.Tables))
	c.tupleSum = make([]uint64, len(v.m.Tables))
	return c
}

// snapshot captures the segment verifier's state (no chunk in flight).
func (v *verifier) snapshot() segState {
	v.mu.Lock()
	defer v.mu.Unlock()
	s := segState{Items: v.res.Items, Samples: append([]report.Sample{}, v.res.Samples...),
		SamplesOmitted: v.res.SamplesOmitted, Rejected: append([]report.Rejected{}, v.res.Rejected...),
		RejectedOmit: v.res.RejectedOmitted, Recheck: v.res.Recheck,
		ItemsWithRows: append([]int64{}, v.itemsWithRows...), TupleSum: append([]uint64{}, v.tupleSum...)}
	s.Items.Read = v.read.Load()
	for ti, c := range v.counts {
		s.Tables = append(s.Tables, *c)
		var sh []sharedCheckpointed
		for ph, st := range v.shared[ti] {
			e := sharedCheckpointed{PH: ph, Val: st.valHash, Owner: string(st.owner), Status: st.status, Conflict: st.conflict}
			if st.status != stMatched {
				e.Row = st.pk
			}
			sh = append(sh, e)
		}
		sort.Slice(sh, func(a, b int) bool { return sh[a].PH < sh[b].PH })
		s.Shared = append(s.Shared, sh)
	}
	return s
}

// restore loads a checkpointed state into a fresh segment verifier.
func (v *verifier) restore(s segState) error {
	if len(s.Tables) != len(v.counts) || len(s.Shared) != len(v.counts) {
		return fmt.Errorf("checkpoint holds %d tables, the mapping has %d", len(s.Tables), len(v.counts))
	}
	v.res.Items = s.Items
	v.res.Items.Read = 0
	v.read.Store(s.Items.Read)
	v.res.Samples = append(v.res.Samples[:0], s.Samples...)
	v.res.SamplesOmitted = s.SamplesOmitted
	v.res.Rejected = append(v.res.Rejected[:0], s.Rejected...)
	v.res.RejectedOmitted = s.RejectedOmit
	v.res.Recheck = s.Recheck
	copy(v.itemsWithRows, s.ItemsWithRows)
	copy(v.tupleSum, s.TupleSum)
	for _, x := range s.Samples {
		v.samples[x.Table+"\x00"+x.Class]++
	}
	for ti := range v.counts {
		*v.counts[ti] = s.Tables[ti]
		for _, e := range s.Shared[ti] {
			v.shared[ti][e.PH] = sharedState{valHash: e.Val, owner: ddbitem.Key(e.Owner), status: e.Status,
				conflict: e.Conflict, pk: e.Row}
		}
	}
	return nil
}

// checkpointedScan runs (or continues, or joins) the named run.
func (v *verifier) checkpointedScan(ctx context.Context) error {
	if err := v.ledger.Ensure(ctx, v.pool); err != nil {
		return err
	}
	total := v.opts.RunSegments
	if total <= 0 {
		total = 4 * v.opts.Segments
	}
	h, err := v.ledger.OpenVerifyRun(ctx, v.pool, v.m.Source.Table, v.opts.RunName, v.m.Fingerprint(), total,
		v.opts.Resume || v.opts.Join)
	if err != nil {
		return err
	}
	if h.Finished {
		// resumed or joined after the end: the run's report stands
		r, err := Stored(ctx, v.pool, v.opts.LedgerSchema, v.m.Source.Table, v.opts.RunName)
		if err != nil {
			return err
		}
		v.adopted = r
		return errAdopted
	}
	v.runID = h.ID
	v.res.Parameters.RunSegments = h.Segments
	v.res.Timing.StartedAt = h.StartedAt.UTC()
	v.opts.Logger.Info("verify: named run", "run", v.opts.RunName, "id", h.ID, "segments", h.Segments, "created", h.Created)
	pc, err := v.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("connecting for the segment claims: %w", err)
	}
	// the claims are session locks: this connection never goes back to
	// the pool, and closing it frees whatever it still holds
	lockConn := pc.Hijack()
	defer lockConn.Close(context.Background()) //nolint:errcheck
	var lockMu sync.Mutex
	held := map[int]bool{} // segments this process claimed (under lockMu)
	worker := workerName()
	g, gctx := errgroup.WithContext(ctx)
	for range v.opts.Segments {
		g.Go(func() error {
			for {
				lockMu.Lock()
				c, ok, err := v.ledger.ClaimVerifySegment(gctx, lockConn, h.ID, held)
				if ok {
					held[c.Segment] = true
				}
				lockMu.Unlock()
				if err != nil {
					return err
				}
				if !ok {
					return nil
				}
				err = v.readSegment(gctx, h, c, worker)
				lockMu.Lock()
				rerr := v.ledger.ReleaseVerifySegment(context.Background(), lockConn, h.ID, c.Segment)
				delete(held, c.Segment)
				lockMu.Unlock()
				if err != nil {
					return err
				}
				if rerr != nil {
					return rerr
				}
			}
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	// Every segment this process could claim is done; others may still be
	// read by other processes. Wait for them (a killed process's segments
	// become free and are read here), then one process finishes the run.
	for {
		left, err := v.ledger.VerifySegmentsLeft(ctx, v.pool, h.ID)
		if err != nil {
			return err
		}
		if left == 0 {
			segs, err := v.ledger.VerifySegments(ctx, v.pool, h.ID)
			if err != nil {
				return err
			}
			return v.finishRun(ctx, h, lockConn, segs)
		}
		c, ok, err := v.ledger.ClaimVerifySegment(ctx, lockConn, h.ID, nil)
		if err != nil {
			return err
		}
		if ok {
			err = v.readSegment(ctx, h, c, worker)
			if rerr := v.ledger.ReleaseVerifySegment(context.Background(), lockConn, h.ID, c.Segment); err == nil {
				err = rerr
			}
			if err != nil {
				return err
			}
			continue
		}
		if err := pgerr.Sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
}

func workerName() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s:%d", host, os.Getpid())
}

// readSegment reads one claimed segment from its checkpoint to its end,
// committing a checkpoint every CheckpointEvery.
func (v *verifier) readSegment(ctx context.Context, h ledger.RunHandle, c ledger.SegmentCheckpoint, worker string) error {
	sv := v.clone()
	if c.State != "" {
		var st segState
		if err := json.Unmarshal([]byte(c.State), &st); err != nil {
			return fmt.Errorf("reading the checkpoint of segment %d: %w", c.Segment, err)
		}
		if err := sv.restore(st); err != nil {
			return fmt.Errorf("segment %d: %w", c.Segment, err)
		}
	}
	var start map[string]types.AttributeValue
	if c.LastKey != "" {
		k, err := v.m.KeyItem(ddbitem.Key(c.LastKey))
		if err != nil {
			return fmt.Errorf("segment %d: checkpoint key: %w", c.Segment, err)
		}
		start = k.AttributeValues()
	}
	v.live.Add(sv.read.Load())
	save := func(lastKey string, done bool) error {
		b, err := json.Marshal(sv.snapshot())
		if err != nil {
			return err
		}
		return v.ledger.SaveVerifySegment(ctx, v.pool, h.ID, ledger.SegmentCheckpoint{Segment: c.Segment, Done: done,
			LastKey: lastKey, State: string(b), Items: sv.read.Load()}, worker)
	}
	every := v.opts.CheckpointEvery
	if every <= 0 {
		every = 10 * time.Second
	}
	g, gctx := errgroup.WithContext(ctx)
	chunks := make(chan []*entry, 1)
	var inflight sync.WaitGroup
	for range 2 {
		g.Go(func() error {
			for chunk := range chunks {
				err := sv.process(gctx, chunk)
				inflight.Done()
				if err != nil {
					return err
				}
			}
			return nil
		})
	}
	g.Go(func() error {
		defer close(chunks)
		send := func(ch []*entry) error {
			if len(ch) == 0 {
				return nil
			}
			// claims in scan order: who first sees a shared row does not
			// depend on which comparer runs first
			sv.claimShared(ch)
			inflight.Add(1)
			select {
			case chunks <- ch:
				return nil
			case <-gctx.Done():
				inflight.Done()
				return gctx.Err()
			}
		}
		var chunk []*entry
		sl := &slab{}
		last := time.Now()
		lastKey := c.LastKey
		err := sv.scanFrom(gctx, c.Segment, h.Segments, start, func(items pageItems, lek map[string]types.AttributeValue) (bool, error) {
			err := items.each(func(it ddbitem.Item) (bool, error) {
				e, err := sv.presentEntry(it)
				if err != nil {
					return false, err
				}
				if err := sv.prepareWith(e, sl); err != nil {
					return false, err
				}
				e.prepared = true
				chunk = append(chunk, e)
				if len(chunk) >= v.opts.ChunkSize {
					if err := send(chunk); err != nil {
						return false, err
					}
					chunk, sl = nil, &slab{}
				}
				return true, nil
			})
			if err != nil {
				return false, err
			}
			if len(lek) > 0 {
				k, err := ddbitem.ItemFromAttributeValues(lek)
				if err != nil {
					return false, fmt.Errorf("segment %d: last evaluated key: %w", c.Segment, err)
				}
				kk, err := v.m.KeyOf(k)
				if err != nil {
					return false, fmt.Errorf("segment %d: last evaluated key: %w", c.Segment, err)
				}
				lastKey = string(kk)
			}
			if len(lek) > 0 && time.Since(last) >= every {
				if err := send(chunk); err != nil {
					return false, err
				}
				chunk, sl = nil, &slab{}
				// every chunk sent is compared before the checkpoint; a
				// comparer that failed leaves its chunk unfinished, so wait
				// for the group's end too (the chunks are drained below)
				drained := make(chan struct{})
				go func() { inflight.Wait(); close(drained) }()
				select {
				case <-drained:
				case <-gctx.Done():
					return false, gctx.Err()
				}
				if err := save(lastKey, false); err != nil {
					return false, err
				}
				last = time.Now()
			}
			return true, nil
		})
		if err != nil {
			return err
		}
		return send(chunk)
	})
	err := g.Wait()
	for range chunks {
		inflight.Done() // chunks no comparer took after a failure
	}
	if err != nil {
		return err
	}
	return save("", true)
}

// scanFrom is scanSegment from a given exclusive start key, passing each
// page's last evaluated key along.
func (v *verifier) scanFrom(ctx context.Context, segment, total int, start map[string]types.AttributeValue,
	page func(pageItems, map[string]types.AttributeValue) (bool, error)) error {
	for {
		if err := v.bucket.wait(ctx); err != nil {
			return err
		}
		in := &dynamodb.ScanInput{
			TableName:              aws.String(v.m.Source.Table),
			ConsistentRead:         aws.Bool(v.opts.ConsistentRead),
			ReturnConsumedCapacity: types.ReturnConsumedCapacityTotal,
			ExclusiveStartKey:      start,
		}
		if total > 1 {
			in.Segment = aws.Int32(int32(segment))
			in.TotalSegments = aws.Int32(int32(total))
		}
		out, err := v.ddb.Scan(ctx, in)
		if err != nil {
			return fmt.Errorf("scanning DynamoDB table %s (segment %d of %d): %w", v.m.Source.Table, segment, total, err)
		}
		if out.ConsumedCapacity != nil {
			v.bucket.charge(*out.ConsumedCapacity)
		}
		more, err := page(pageItems(out.Items), out.LastEvaluatedKey)
		if err != nil {
			return err
		}
		if !more || len(out.LastEvaluatedKey) == 0 {
			return nil
		}
		start = out.LastEvaluatedKey
	}
}

// errAdopted marks a run another process finished: its report is adopted.
var errAdopted = errors.New("adopted")

// finishRun merges the segments, runs the extra pass and records the
// report, or, when another process holds the right to finish, waits for its
// report and adopts it.
func (v *verifier) finishRun(ctx context.Context, h ledger.RunHandle, conn ledger.Execer, segs []ledger.SegmentCheckpoint) error {
	got, err := v.ledger.TryFinishVerifyRun(ctx, conn, h.ID)
	if err != nil {
		return err
	}
	if got {
		done, err := v.ledger.VerifyRunFinished(ctx, v.pool, h.ID)
		if err != nil {
			return err
		}
		if !done {
			if err := v.merge(segs); err != nil {
				return err
			}
			v.finisher = true
			if err := v.extraPass(ctx); err != nil {
				return err
			}
			v.res.ExtraPass = "done"
			return v.runOrphanPass(ctx)
		}
	}
	for {
		done, err := v.ledger.VerifyRunFinished(ctx, v.pool, h.ID)
		if err != nil {
			return err
		}
		if done {
			r, err := Stored(ctx, v.pool, v.opts.LedgerSchema, v.m.Source.Table, v.opts.RunName)
			if err != nil {
				return err
			}
			v.adopted = r
			return errAdopted
		}
		if !got {
			if got, err = v.ledger.TryFinishVerifyRun(ctx, conn, h.ID); err != nil {
				return err
			}
			if got {
				// the finisher died before recording: finish here
				return v.finishRun(ctx, h, conn, segs)
			}
		}
		if err := pgerr.Sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
}

// merge folds the segments' states into v, in segment order. A shared row
// seen by several segments counts once, as the first segment saw it; a
// later segment that saw other values makes it a shared conflict.
func (v *verifier) merge(segs []ledger.SegmentCheckpoint) error {
	var samples []report.Sample
	var rejected []report.Rejected
	var read int64
	for _, sc := range segs {
		var s segState
		if err := json.Unmarshal([]byte(sc.State), &s); err != nil {
			return fmt.Errorf("reading the checkpoint of segment %d: %w", sc.Segment, err)
		}
		if len(s.Tables) != len(v.counts) {
			return fmt.Errorf("segment %d holds %d tables, the mapping has %d", sc.Segment, len(s.Tables), len(v.counts))
		}
		read += s.Items.Read
		v.res.Items.Rejected += s.Items.Rejected
		v.res.Items.Absent += s.Items.Absent
		v.res.Items.Divergent += s.Items.Divergent
		v.res.Recheck.Suspects += s.Recheck.Suspects
		v.res.Recheck.Resolved += s.Recheck.Resolved
		v.res.Recheck.Persisted += s.Recheck.Persisted
		v.res.SamplesOmitted += s.SamplesOmitted
		v.res.RejectedOmitted += s.RejectedOmit
		rejected = append(rejected, s.Rejected...)
		drop := map[string]bool{} // table \x00 row: this segment's samples of rows counted elsewhere
		for ti, tc := range s.Tables {
			c := v.counts[ti]
			c.ExpectedRows += tc.ExpectedRows
			c.Matched += tc.Matched
			c.Missing += tc.Missing
			c.Extra += tc.Extra
			c.Mismatched += tc.Mismatched
			c.Rejected += tc.Rejected
			c.SharedConflict += tc.SharedConflict
			v.itemsWithRows[ti] += s.ItemsWithRows[ti]
			v.tupleSum[ti] += s.TupleSum[ti]
			name := v.tables[ti].name
			for _, e := range s.Shared[ti] {
				base, seen := v.shared[ti][e.PH]
				if !seen {
					v.shared[ti][e.PH] = sharedState{valHash: e.Val, owner: ddbitem.Key(e.Owner), status: e.Status,
						conflict: e.Conflict, pk: e.Row}
					continue
				}
				// counted by an earlier segment: take this one's count back
				c.ExpectedRows--
				switch {
				case e.Status == stMissing:
					c.Missing--
				case e.Conflict:
					c.SharedConflict--
				case e.Status == stMatched:
					c.Matched--
				case e.Status == stMismatched:
					c.Mismatched--
				}
				if e.Row != "" {
					drop[name+"\x00"+e.Row] = true
				}
				if base.conflict || (e.Val == base.valHash && !e.Conflict) {
					continue
				}
				base.conflict = true
				switch base.status {
				case stMatched:
					c.Matched--
					c.SharedConflict++
				case stMismatched:
					c.Mismatched--
					c.SharedConflict++
					out := samples[:0]
					for _, x := range samples {
						if !(x.Table == name && x.Class == report.Mismatched && x.Row == base.pk) {
							out = append(out, x)
						}
					}
					samples = out
				}
				v.shared[ti][e.PH] = base
			}
		}
		for _, x := range s.Samples {
			if drop[x.Table+"\x00"+x.Row] && v.tables[v.tableIndex(x.Table)].t.Shared && x.Class != report.SharedConflict {
				continue
			}
			samples = append(samples, x)
		}
	}
	v.read.Store(read)
	// the same order and caps whatever the interleaving of the segments
	v.res.Samples = samples
	sortSamples(v.res, v.m)
	kept := map[string]int{}
	out := v.res.Samples[:0]
	for _, x := range v.res.Samples {
		k := x.Table + "\x00" + x.Class
		if kept[k] >= v.opts.SamplesPerClass {
			v.res.SamplesOmitted++
			continue
		}
		kept[k]++
		out = append(out, x)
	}
	v.res.Samples = out
	v.samples = kept
	sort.SliceStable(rejected, func(i, j int) bool { return rejected[i].Key < rejected[j].Key })
	if len(rejected) > v.opts.MaxRejected {
		v.res.RejectedOmitted += int64(len(rejected) - v.opts.MaxRejected)
		rejected = rejected[:v.opts.MaxRejected]
	}
	v.res.Rejected = append(v.res.Rejected[:0], rejected...)
	return nil
}

func (v *verifier) tableIndex(name string) int {
	for i, tb := range v.tables {
		if tb.name == name {
			return i
		}
	}
	return 0
}
