// Package verify dual-reads DynamoDB and PostgreSQL through the mapping
// engine and classifies every difference (missing, extra, mismatched,
// shared conflict; rejected items are listed). docs/verify.md describes the
// classes, the modes and the report.
//
// Memory is bounded by the chunk size (items compared per PostgreSQL round
// trip) times the number of segments, plus a small fixed-size entry per
// distinct shared row (to see items disagree about it), independent of the
// number of items.
package verify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"github.com/ddb2pg/ddb2pg/internal/progress"
	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
	"github.com/ddb2pg/ddb2pg/pkg/ledger"
	"github.com/ddb2pg/ddb2pg/pkg/mapping"
	"github.com/ddb2pg/ddb2pg/pkg/report"
)

// Options control a run. Zero values take the defaults noted.
type Options struct {
	// Segments is the parallel Scan's segment count and the number of
	// workers (default 4).
	Segments int
	// MaxRCU caps read capacity units per second, measured from
	// ConsumedCapacity (0: no cap).
	MaxRCU float64
	// ConsistentRead makes Scan and BatchGetItem strongly consistent.
	ConsistentRead bool
	// Sample, when > 0, compares only a random sample of this many items.
	Sample int
	// Keys, when set, yields the keys to compare (see ReadKeys); KeysFile
	// is its name for the report.
	Keys     KeySource
	KeysFile string
	// ChangedSince, when not zero, compares only the items whose applied
	// version the bookkeeping recorded at or after this time (by the stream,
	// a backfill or an incremental export), deletes included, each re-read
	// from DynamoDB with a strongly consistent read. ChangedSinceLastFull
	// takes the time from the last complete GO full run of the same table
	// and mapping recorded in the bookkeeping instead.
	ChangedSince         time.Time
	ChangedSinceLastFull bool
	// RunName names the run in the bookkeeping's history (a named run
	// replaces an earlier finished run of the same name; see Stored). A
	// named full scan is checkpointed: RunSegments Scan segments (default 4
	// × Segments, fixed when the run is created), each claimed by one
	// worker of one process at a time, with its last evaluated key, counts
	// and findings committed every CheckpointEvery (default 10s). Resume
	// continues an unfinished run of that name (a new run fails while one
	// is unfinished); Join does the same and is meant for more processes,
	// possibly on other hosts, reading one run together. The process that
	// finishes the last segment renders the report; the others wait for it
	// and return it too.
	RunName         string
	RunSegments     int
	Resume, Join    bool
	CheckpointEvery time.Duration
	// Recheck is how often a suspect is re-read before it counts (0: it
	// counts at once); RecheckDelay the first wait, doubled each time
	// (default 1s).
	Recheck      int
	RecheckDelay time.Duration
	// MaxDivergence is the largest number of divergent rows that is still GO.
	MaxDivergence int64
	// OrphansDiverge counts orphaned shared rows (rows of a shared table no
	// item refers to, found by a full run) as divergent rows.
	OrphansDiverge bool
	// LedgerSchema is the bookkeeping schema (default "ddb2pg").
	LedgerSchema string
	// ChunkSize is how many items are looked up per PostgreSQL query
	// (default 1000).
	ChunkSize int
	// SamplesPerClass caps the samples kept per table and class (default
	// 20); MaxRejected caps the rejected items listed (default 100).
	SamplesPerClass int
	MaxRejected     int
	Progress        progress.Func
	Logger          *slog.Logger
}

// KeySource yields key attribute maps; it returns (nil, io.EOF) at the end.
type KeySource interface {
	Next() (ddbitem.Item, error)
}

type verifier struct {
	m      *mapping.Mapping
	ddb    DynamoDB
	pool   *pgxpool.Pool
	opts   Options
	tables []*table
	bucket *bucket
	ledger *ledger.Ledger
	// keyTypes maps each key attribute to S, N or B (DescribeTable).
	keyTypes map[string]string

	mu      sync.Mutex
	res     *report.Result
	counts  []*report.TableCounts
	shared  []map[uint64]sharedState
	samples map[string]int // table + class -> samples kept
	// itemsWithRows counts, per table, the items the forward pass found
	// rows for in PostgreSQL (extra pass shortcut).
	itemsWithRows []int64
	tupleSum      []uint64 // sum of the hashes of their key tuples

	read    atomic.Int64
	total   int64
	started time.Time
	// live counts the items read by this process for progress: &read, or
	// the parent's for a segment verifier of a checkpointed run.
	live *atomic.Int64
	// checkpointed runs: the run's id, whether this process merged and
	// finished it, and the report of a run another process finished.
	runID    int64
	finisher bool
	adopted  *report.Result
}

// Run verifies the table of m. The Result is returned even on error (then
// incomplete and NO-GO) so a partial report can still be written.
func Run(ctx context.Context, m *mapping.Mapping, ddb DynamoDB, pool *pgxpool.Pool, opts Options) (*report.Result, error) {
	if opts.Segments <= 0 {
		opts.Segments = 4
	}
	if opts.ChunkSize <= 0 {
		opts.ChunkSize = 1000
	}
	if opts.RecheckDelay <= 0 {
		opts.RecheckDelay = time.Second
	}
	if opts.SamplesPerClass <= 0 {
		opts.SamplesPerClass = 20
	}
	if opts.MaxRejected <= 0 {
		opts.MaxRejected = 100
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Keys == nil && opts.Sample == 0 && (!opts.ChangedSince.IsZero() || opts.ChangedSinceLastFull) {
		// cutover reads what changed: no eventually consistent lag allowed
		opts.ConsistentRead = true
	}
	if (!opts.ChangedSince.IsZero() || opts.ChangedSinceLastFull) && (opts.Keys != nil || opts.Sample > 0) {
		return nil, errors.New("verify options: changed-since excludes a key source and sampling")
	}
	led, err := ledger.New(opts.LedgerSchema)
	if err != nil {
		return nil, err
	}
	v := &verifier{m: m, ddb: ddb, pool: pool, opts: opts, bucket: newBucket(opts.MaxRCU), ledger: led,
		samples: map[string]int{}, started: time.Now()}
	v.live = &v.read
	res := &report.Result{
		SourceTable:    m.Source.Table,
		MaxDivergence:  opts.MaxDivergence,
		OrphansDiverge: opts.OrphansDiverge,
		Tables:         map[string]*report.TableCounts{},
		Samples:        []report.Sample{},
		Rejected:       []report.Rejected{},
		Parameters: report.Parameters{
			Mapping: m.File, MappingFingerprint: m.Fingerprint(), Segments: opts.Segments, MaxRCU: opts.MaxRCU,
			ConsistentRead: opts.ConsistentRead, Sample: opts.Sample, KeysFile: opts.KeysFile,
			Recheck: opts.Recheck, RecheckDelay: opts.RecheckDelay.String(), MaxDivergence: opts.MaxDivergence,
		},
	}
	res.Timing.StartedAt = v.started.UTC()
	v.res = res
	for i, t := range m.Tables {
		tb, err := prepareTable(m, i)
		if err != nil {
			return nil, err
		}
		v.tables = append(v.tables, tb)
		c := &report.TableCounts{Shared: t.Shared}
		v.counts = append(v.counts, c)
		res.Tables[t.Name] = c
		res.TableOrder = append(res.TableOrder, t.Name)
		v.shared = append(v.shared, map[uint64]sharedState{})
	}
	v.itemsWithRows = make([]int64, len(m.Tables))
	v.tupleSum = make([]uint64, len(m.Tables))
	err = v.run(ctx)
	if errors.Is(err, errAdopted) {
		*res = *v.adopted
		return res, nil
	}
	v.finish(ctx, err)
	v.recordRun(ctx)
	return res, err
}

func (v *verifier) run(ctx context.Context) error {
	desc, err := v.ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(v.m.Source.Table)})
	if err != nil {
		return fmt.Errorf("describing DynamoDB table %s: %w", v.m.Source.Table, err)
	}
	v.keyTypes = map[string]string{}
	for _, ad := range desc.Table.AttributeDefinitions {
		v.keyTypes[aws.ToString(ad.AttributeName)] = string(ad.AttributeType)
	}
	for _, k := range v.m.Source.Key {
		if v.keyTypes[k] == "" {
			return fmt.Errorf("DynamoDB table %s has no key attribute %s (the mapping's source.key)", v.m.Source.Table, k)
		}
	}
	itemCount := aws.ToInt64(desc.Table.ItemCount)
	v.res.OrphanPass = "skipped (only a full run sees every item that refers to a shared row)"
	switch {
	case v.opts.Keys != nil:
		v.res.Mode = "keys"
		v.res.ExtraPass = "skipped (key-file mode checks the given keys only)"
		return v.keysPassFrom(ctx, v.opts.Keys)
	case v.changedMode():
		v.res.Mode = "changed-since"
		v.res.ExtraPass = "skipped (changed-since mode checks the changed and deleted items only)"
		return v.changedPass(ctx)
	case v.opts.Sample > 0:
		v.res.Mode = "sample"
		v.res.ExtraPass = "skipped (sample mode checks the sampled items only)"
		v.total = int64(v.opts.Sample)
		return v.samplePass(ctx, itemCount)
	}
	v.res.Mode = "scan"
	v.total = itemCount
	if v.opts.RunName != "" {
		// checkpointed: the extra pass runs in whichever process finishes
		return v.checkpointedScan(ctx)
	}
	t0 := time.Now()
	if err := v.scanPass(ctx); err != nil {
		return err
	}
	t1 := time.Now()
	v.opts.Logger.Debug("verify: scan pass done", "items", v.read.Load(), "seconds", t1.Sub(t0).Seconds())
	if err := v.extraPass(ctx); err != nil {
		return err
	}
	v.opts.Logger.Debug("verify: extra pass done", "seconds", time.Since(t1).Seconds())
	v.res.ExtraPass = "done"
	return v.runOrphanPass(ctx)
}

// runOrphanPass runs the orphan pass after a run that read every item.
func (v *verifier) runOrphanPass(ctx context.Context) error {
	if err := v.orphanPass(ctx); err != nil {
		return err
	}
	v.res.OrphanPass = "done"
	return nil
}

// finish fills in the bookkeeping sections, timing and the verdict.
func (v *verifier) finish(ctx context.Context, runErr error) {
	r := v.res
	r.Complete = runErr == nil
	if runErr != nil {
		r.Error = runErr.Error()
	}
	if ctx.Err() == nil {
		v.readBookkeeping(ctx)
	}
	sortSamples(r, v.m)
	now := time.Now()
	r.Timing.FinishedAt = now.UTC()
	r.Timing.DurationSeconds = now.Sub(v.started).Seconds()
	if v.runID != 0 {
		// a checkpointed run lasts from its creation, interruptions included
		r.Timing.DurationSeconds = now.Sub(r.Timing.StartedAt).Seconds()
	}
	r.Items.Read = v.read.Load()
	if r.Timing.DurationSeconds > 0 {
		r.Timing.ItemsPerSecond = float64(r.Items.Read) / r.Timing.DurationSeconds
	}
	r.Timing.ConsumedRCU = v.bucket.total()
	if r.Mode == "sample" {
		r.SampleBound = report.NewSampleBound(r.Items.Read, r.Items.Divergent)
	}
	r.Finish()
}

func (v *verifier) progress() {
	if v.opts.Progress == nil {
		return
	}
	v.mu.Lock()
	rej := v.res.Items.Rejected
	v.mu.Unlock()
	v.opts.Progress(progress.Snapshot{Step: "verify", Items: v.live.Load(), ItemsTotal: v.total,
		Rejected: rej, Elapsed: time.Since(v.started)})
}

// scanPass compares every item, one parallel Scan segment per worker. Each
// segment reads the next pages while two comparers work on its previous
// chunks (so at most four chunks per segment are in memory).
func (v *verifier) scanPass(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	n := v.opts.Segments
	for seg := range n {
		chunks := make(chan []*entry, 1)
		for range 2 {
			g.Go(func() error {
				for chunk := range chunks {
					if err := v.process(gctx, chunk); err != nil {
						return err
					}
				}
				return nil
			})
		}
		g.Go(func() error {
			defer close(chunks)
			send := func(c []*entry) error {
				select {
				case chunks <- c:
					return nil
				case <-gctx.Done():
					return gctx.Err()
				}
			}
			var chunk []*entry
			sl := &slab{}
			err := v.scanSegment(gctx, seg, n, func(items pageItems) (bool, error) {
				err := items.each(func(it ddbitem.Item) (bool, error) {
					e, err := v.presentEntry(it)
					if err != nil {
						return false, err
					}
					// compute the expected rows now, so the chunk waiting
					// for a comparer holds compact rows, not whole items
					if err := v.prepareWith(e, sl); err != nil {
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
				return err == nil, err
			})
			if err != nil {
				return err
			}
			if len(chunk) > 0 {
				return send(chunk)
			}
			return nil
		})
	}
	return g.Wait()
}

// samplePass compares a random sample: the table is split into many more
// Scan segments than needed (each a random slice of the key hash space),
// and whole segments are read in random order until Sample items are in.
func (v *verifier) samplePass(ctx context.Context, itemCount int64) error {
	want := int64(v.opts.Sample)
	total := int64(1000)
	if itemCount > 0 {
		// about 4 items per segment, so the sample spans many segments
		total = max(int64(v.opts.Segments), min(itemCount/4+1, 1000000))
	}
	order := randPerm(int(total))
	next := make(chan int)
	var taken atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(next)
		for _, s := range order {
			if taken.Load() >= want {
				return nil
			}
			select {
			case next <- s:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	for range v.opts.Segments {
		g.Go(func() error {
			var chunk []*entry
			for seg := range next {
				err := v.scanSegment(gctx, seg, int(total), func(items pageItems) (bool, error) {
					stop := false
					err := items.each(func(it ddbitem.Item) (bool, error) {
						if taken.Add(1) > want {
							stop = true
							return false, nil
						}
						e, err := v.presentEntry(it)
						if err != nil {
							return false, err
						}
						chunk = append(chunk, e)
						return true, nil
					})
					if err != nil || stop {
						return false, err
					}
					if len(chunk) >= v.opts.ChunkSize {
						if err := v.process(gctx, chunk); err != nil {
							return false, err
						}
						chunk = chunk[:0]
					}
					return taken.Load() < want, nil
				})
				if err != nil {
					return err
				}
			}
			return v.process(gctx, chunk)
		})
	}
	return g.Wait()
}

// changedMode reports whether the run compares the changed items only.
func (v *verifier) changedMode() bool {
	return !v.opts.ChangedSince.IsZero() || v.opts.ChangedSinceLastFull
}

// keysPassFrom compares the items of the given keys: found items fully,
// keys DynamoDB does not have against the rows PostgreSQL still has for them.
func (v *verifier) keysPassFrom(ctx context.Context, keys KeySource) error {
	chunks := make(chan []ddbitem.Item)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(chunks)
		var chunk []ddbitem.Item
		seen := map[ddbitem.Key]bool{}
		flush := func() error {
			if len(chunk) == 0 {
				return nil
			}
			select {
			case chunks <- chunk:
			case <-gctx.Done():
				return gctx.Err()
			}
			chunk, seen = nil, map[ddbitem.Key]bool{}
			return nil
		}
		for {
			k, err := keys.Next()
			if errors.Is(err, errEOF) {
				break
			}
			if err != nil {
				return err
			}
			for _, a := range v.m.Source.Key {
				// a plain value in the key file is read as S; the table says N
				if x := k[a]; x.Kind == ddbitem.S && v.keyTypes[a] == "N" {
					k[a] = ddbitem.Num(x.Str)
				}
			}
			kk, err := v.m.KeyOf(k)
			if err != nil {
				return fmt.Errorf("key file: %w", err)
			}
			if seen[kk] {
				continue
			}
			seen[kk] = true
			chunk = append(chunk, k)
			if len(chunk) >= v.opts.ChunkSize {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		return flush()
	})
	for range v.opts.Segments {
		g.Go(func() error {
			for keys := range chunks {
				if err := v.keyedChunk(gctx, keys, true, -1); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return g.Wait()
}

// keyedChunk reads keys from DynamoDB; found items are compared when
// present is set; keys DynamoDB does not have are checked for leftover rows
// (only in table only, when only >= 0).
func (v *verifier) keyedChunk(ctx context.Context, keys []ddbitem.Item, present bool, only int) error {
	found, err := v.batchGet(ctx, keys)
	if err != nil {
		return err
	}
	var chunk []*entry
	for _, k := range keys {
		kk, err := v.m.KeyOf(k)
		if err != nil {
			return err
		}
		if it, ok := found[kk]; ok {
			if present {
				e, err := v.presentEntry(it)
				if err != nil {
					return err
				}
				chunk = append(chunk, e)
			}
			continue
		}
		chunk = append(chunk, &entry{key: kk, keyItem: k, only: only})
	}
	return v.process(ctx, chunk)
}

// extraPass reads every non-shared table's distinct item keys (key
// columns) and looks them up in DynamoDB: rows of an item DynamoDB does not
// have are extra. Items DynamoDB has were compared by the scan.
func (v *verifier) extraPass(ctx context.Context) error {
	// the tables are independent: check them concurrently
	g, gctx := errgroup.WithContext(ctx)
	for _, tb := range v.tables {
		if tb.t.Shared {
			continue
		}
		g.Go(func() error { return v.extraPassTable(gctx, tb) })
	}
	return g.Wait()
}

func (v *verifier) extraPassTable(ctx context.Context, tb *table) error {
	// Shortcut: when PostgreSQL holds exactly the items the scan found rows
	// for (same count and same sum of key-tuple hashes), no row can belong
	// to an item DynamoDB lacks. Otherwise, look every item up.
	count, sum, err := v.pgItems(ctx, tb)
	if err != nil {
		return err
	}
	v.mu.Lock()
	same := count == v.itemsWithRows[tb.idx] && sum == v.tupleSum[tb.idx]
	v.mu.Unlock()
	if same {
		return nil
	}
	chunks := make(chan []ddbitem.Item)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(chunks)
		conn, err := v.pool.Acquire(gctx)
		if err != nil {
			return err
		}
		defer conn.Release()
		rows, err := conn.Query(gctx, tb.keyScanSQL())
		if err != nil {
			return fmt.Errorf("listing the items of %s: %w", tb.name, err)
		}
		defer rows.Close()
		var chunk []ddbitem.Item
		last := "\xff"
		for rows.Next() {
			r, err := tb.scanOne(rows, tb.t.KeyColumns)
			if err != nil {
				return err
			}
			tuple := joinTuple(r.vals)
			if tuple == last {
				continue
			}
			last = tuple
			k, err := v.keyFromTuple(tb, r)
			if err != nil {
				return err
			}
			chunk = append(chunk, k)
			if len(chunk) >= v.opts.ChunkSize {
				select {
				case chunks <- chunk:
				case <-gctx.Done():
					return gctx.Err()
				}
				chunk = nil
			}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("listing the items of %s: %w", tb.name, err)
		}
		if len(chunk) > 0 {
			select {
			case chunks <- chunk:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	for range v.opts.Segments {
		g.Go(func() error {
			for keys := range chunks {
				if err := v.keyedChunk(gctx, keys, false, tb.idx); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return g.Wait()
}

// pgItems counts the distinct key tuples of tb and sums their hashes.
func (v *verifier) pgItems(ctx context.Context, tb *table) (int64, uint64, error) {
	rows, err := v.pool.Query(ctx, tb.keyScanSQL())
	if err != nil {
		return 0, 0, fmt.Errorf("listing the items of %s: %w", tb.name, err)
	}
	defer rows.Close()
	var count int64
	var sum uint64
	if tb.rawKeyText() {
		// text key columns: hash the raw column bytes (the canonical text
		// of a text value is the value itself) without building strings
		var cur, last []byte
		first := true
		for rows.Next() {
			cur = cur[:0]
			for i, raw := range rows.RawValues() {
				if i > 0 {
					cur = append(cur, 0)
				}
				cur = append(cur, raw...)
			}
			if !first && bytes.Equal(cur, last) {
				continue
			}
			first = false
			last = append(last[:0], cur...)
			count++
			sum += fnvAddBytes(fnvOffset, cur)
		}
	} else {
		last := "\xff"
		dest := tb.dest(tb.t.KeyColumns)
		n := len(tb.t.KeyColumns)
		r := pgRow{vals: make([]string, n), nulls: make([]bool, n)}
		for rows.Next() {
			if err := tb.scanIntoRow(rows, tb.t.KeyColumns, dest, r); err != nil {
				return 0, 0, err
			}
			tuple := joinTuple(r.vals)
			if tuple == last {
				continue
			}
			last = tuple
			count++
			sum += hashStr(tuple)
		}
	}
	if err := rows.Err(); err != nil {
		return 0, 0, fmt.Errorf("listing the items of %s: %w", tb.name, err)
	}
	return count, sum, nil
}

// keyFromTuple rebuilds the DynamoDB key of a row's item from its key
// columns (plus the values a when: equals condition pins).
func (v *verifier) keyFromTuple(tb *table, r pgRow) (ddbitem.Item, error) {
	k := ddbitem.Item{}
	for attr, val := range tb.pinned {
		av, err := attrValue(v.keyTypes[attr], val, "")
		if err != nil {
			return nil, err
		}
		k[attr] = av
	}
	for i, attr := range tb.keyAttrs {
		if r.nulls[i] {
			return nil, fmt.Errorf("table %s: NULL in key column %s", tb.name, tb.t.Columns[tb.t.KeyColumns[i]].Name)
		}
		c := tb.t.Columns[tb.t.KeyColumns[i]]
		av, err := attrValue(v.keyTypes[attr], r.vals[i], c.StripPrefix)
		if err != nil {
			return nil, fmt.Errorf("table %s column %s: %w", tb.name, c.Name, err)
		}
		k[attr] = av
	}
	return k, nil
}

func attrValue(typ, text, prefix string) (ddbitem.Value, error) {
	switch typ {
	case "S":
		return ddbitem.Str(prefix + text), nil
	case "N":
		return ddbitem.Num(text), nil
	case "B":
		b, err := hexBytes(text)
		if err != nil {
			return ddbitem.Value{}, err
		}
		return ddbitem.Bin(b), nil
	}
	return ddbitem.Value{}, fmt.Errorf("unknown key type %q", typ)
}

func (v *verifier) presentEntry(it ddbitem.Item) (*entry, error) {
	k, err := v.m.KeyOf(it)
	if err != nil {
		return nil, fmt.Errorf("item without a valid key: %w", err)
	}
	ki := make(ddbitem.Item, len(v.m.Source.Key))
	for _, a := range v.m.Source.Key {
		ki[a] = it[a]
	}
	return &entry{key: k, keyItem: ki, item: it, only: -1}, nil
}

func (tb *table) keyScanSQL() string {
	names := make([]string, len(tb.t.KeyColumns))
	for i, ci := range tb.t.KeyColumns {
		names[i] = q(tb.t.Columns[ci].Name)
	}
	return "SELECT " + strings.Join(tb.selectFor(tb.t.KeyColumns), ", ") + " FROM " + tb.t.Ident.Sanitize() +
		" ORDER BY " + strings.Join(names, ", ")
}

// rawKeyText reports whether every key column is plain text (selected as
// text, canonical form = the value itself), so raw bytes can be hashed.
func (tb *table) rawKeyText() bool {
	for _, ci := range tb.t.KeyColumns {
		c := tb.t.Columns[ci]
		if tb.kinds[ci] != scanText || c.Type.Array || (c.Type.Kind != mapping.KindText && c.Type.Kind != mapping.KindVarchar) {
			return false
		}
	}
	return true
}
