// Package poll reads a DynamoDB stream directly with the Streams API
// (DescribeStream, GetShardIterator, GetRecords) and applies it with the
// apply engine: the `ddb2pg stream` command, for teams that do not use the
// Lambda function and for local work.
//
// Guarantees: every record of the stream after the recorded start is either
// applied, in order per shard, or the run stops with an error naming what is
// missing (*LostError, *StreamChangedError). Each shard's position is
// checkpointed in the bookkeeping schema (stream_shards) in the same
// transaction as the records it covers, so a restart resumes right after the
// last applied record. The first run on a stream records a lasting start
// position (stream_starts: the time and the shard list), which later runs,
// expired iterators and restarts all keep to. Parent shards are read to their
// end before their children; shards are read concurrently, at most
// Config.ShardConcurrency at a time.
package poll

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/smithy-go"

	"github.com/ddb2pg/ddb2pg/internal/pgerr"
	"github.com/ddb2pg/ddb2pg/pkg/apply"
	"github.com/ddb2pg/ddb2pg/pkg/ledger"
	"github.com/ddb2pg/ddb2pg/pkg/stream"
)

// StreamsAPI is the part of the DynamoDB Streams client the poller uses.
type StreamsAPI interface {
	DescribeStream(ctx context.Context, in *dynamodbstreams.DescribeStreamInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error)
	GetShardIterator(ctx context.Context, in *dynamodbstreams.GetShardIteratorInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *dynamodbstreams.GetRecordsInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error)
}

// TableAPI finds a table's stream.
type TableAPI interface {
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
}

// Config configures a poller run.
type Config struct {
	Streams StreamsAPI
	// Tables finds the table's stream when StreamARN is empty, and the
	// table's new stream when the one being read is disabled.
	Tables TableAPI
	Table  string // the mapping's source table
	// StreamARN is the stream to read ("": the table's latest stream, which
	// must be the stream the bookkeeping has positions in, if any).
	StreamARN string
	// From is where the first run on a stream starts: "trim-horizon"
	// (default: everything the stream still holds) or "latest" (the changes
	// made from the start on). It is recorded with the start time and the
	// shard list; later runs keep to the recorded start.
	From   string
	Engine *apply.Engine
	DB     DB
	Ledger *ledger.Ledger
	// ForgetPosition deletes the stream's checkpoints and recorded start
	// before the run, which then starts as From says (after a lost-data gap
	// has been recovered with an export). It needs StreamARN.
	ForgetPosition bool
	// UntilIdle, when > 0, ends the run once every open shard has returned
	// no record for that long (and every closed shard is read to its end).
	UntilIdle time.Duration
	// PollInterval is the longest pause between two reads of a shard that
	// returns nothing (default 1s, at least MinReadInterval); the pause
	// doubles up to it from MinReadInterval.
	PollInterval time.Duration
	// MinReadInterval is the shortest time between two GetRecords calls on
	// one shard (default 200ms: AWS allows five per second per shard).
	MinReadInterval time.Duration
	// RefreshInterval is how often the whole shard list is re-read (default
	// 30s). A shard read to its end has its children looked up alone
	// (DescribeStream with a CHILD_SHARDS filter), backing off from one
	// second up to RefreshInterval while none is listed.
	RefreshInterval time.Duration
	// ShardConcurrency is how many shards are read and applied at once
	// (default 8); each applying shard holds one PostgreSQL connection.
	ShardConcurrency int
	// MaxOutage is how long PostgreSQL may keep failing with transient errors
	// (connection lost, server restarting, …) before the run stops with an
	// *OutageError (default 5m).
	MaxOutage time.Duration
	Logger    *slog.Logger
	// OnBatch, when set, is called after each committed batch with the
	// stream and shard, the batch's stats, how long its successful attempt took
	// and the shard's lag: the time since the newest committed record was
	// written to the table (0 when no record carried a creation time). It is
	// called from the shards' goroutines: it must be cheap and safe for
	// concurrent use.
	OnBatch func(streamARN, shardID string, st apply.Stats, took, lag time.Duration)
	// OnShardDone, when set, is called once a shard is read to its end and
	// its last checkpoint saved: no OnBatch of it follows in this run. Same
	// rules as OnBatch.
	OnShardDone func(streamARN, shardID string)
}

// Stats sums up a run.
type Stats struct {
	apply.Stats
	Batches int
	Shards  int
	// BeforeStart counts records read and not applied because they were
	// written before the recorded start of a "latest" stream.
	BeforeStart int
}

type shardState struct {
	id, parent       string
	startSeq, endSeq string // from DescribeStream; endSeq "" while open or not yet shown
	listed           bool   // in the last full listing

	lastSeq  string    // last applied (or passed over before the start)
	applied  bool      // a record of it passed the start filter (it is off from then on)
	done     bool      // read to its end, or closed before the recorded start
	running  bool      // its reader is running
	since    time.Time // its reader started
	polled   bool      // its reader has had a GetRecords answer
	lastData time.Time

	// Once read to its end: its children are looked up until some are
	// listed, with a per-shard backoff.
	children  bool
	looked    bool
	childWait time.Duration
	childAt   time.Time
}

type shardEvent struct {
	s   *shardState
	err error
}

type poller struct {
	cfg Config
	arn string
	log *slog.Logger
	sem chan struct{}

	mu          sync.Mutex
	shards      map[string]*shardState
	order       []*shardState
	cps         map[string]ledger.ShardCheckpoint // as of the last refresh, shards no longer listed included
	start       ledger.StreamStart
	startShards map[string]ledger.StartShard
	cutoff      time.Time // "latest": records created before it are not applied
	status      types.StreamStatus
	lastChange  time.Time
	noFilter    bool      // the endpoint refused ShardFilter
	lastListing time.Time // the last whole listing
	st          Stats
}

// Run polls until ctx ends (nil error) or, with UntilIdle, until idle.
func Run(ctx context.Context, cfg Config) (Stats, error) {
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.MinReadInterval <= 0 {
		cfg.MinReadInterval = 200 * time.Millisecond
	}
	cfg.PollInterval = max(cfg.PollInterval, cfg.MinReadInterval)
	if cfg.RefreshInterval <= 0 {
		cfg.RefreshInterval = 30 * time.Second
	}
	if cfg.ShardConcurrency <= 0 {
		cfg.ShardConcurrency = 8
	}
	if cfg.MaxOutage <= 0 {
		cfg.MaxOutage = 5 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	switch cfg.From {
	case "":
		cfg.From = "trim-horizon"
	case "trim-horizon", "latest":
	default:
		return Stats{}, fmt.Errorf("start position %q: want trim-horizon or latest", cfg.From)
	}
	if cfg.ForgetPosition && cfg.StreamARN == "" {
		return Stats{}, errors.New("forgetting a stream's position needs the stream named explicitly")
	}
	p := &poller{cfg: cfg, shards: map[string]*shardState{}, log: cfg.Logger,
		sem: make(chan struct{}, cfg.ShardConcurrency), lastChange: time.Now()}
	err := p.run(ctx)
	if ctx.Err() != nil && !isLost(err) {
		err = nil
	}
	return p.stats(), err
}

func isLost(err error) bool {
	var lost *LostError
	var changed *StreamChangedError
	return errors.As(err, &lost) || errors.As(err, &changed)
}

func (p *poller) stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.st
	st.Shards = len(p.shards)
	return st
}

func (p *poller) run(ctx context.Context) error {
	if err := p.resolveARN(ctx); err != nil {
		return err
	}
	if err := p.withPG(ctx, "creating the bookkeeping schema", func(ctx context.Context) error {
		return p.cfg.Ledger.EnsureStream(ctx, p.cfg.DB)
	}); err != nil {
		return err
	}
	if p.cfg.ForgetPosition {
		if err := p.withPG(ctx, "forgetting the stream position", func(ctx context.Context) error {
			return p.cfg.Ledger.ForgetStream(ctx, p.cfg.DB, p.arn)
		}); err != nil {
			return err
		}
		p.log.Warn("forgot the stream's checkpoints and recorded start", "stream", p.arn, "from", p.cfg.From)
	} else if p.cfg.StreamARN == "" {
		if err := p.checkOtherStreams(ctx); err != nil {
			return err
		}
	}
	if err := p.fullRefresh(ctx, true); err != nil {
		return err
	}
	if err := p.loadStart(ctx); err != nil {
		return err
	}
	return p.loop(ctx)
}

func (p *poller) resolveARN(ctx context.Context) error {
	if p.cfg.StreamARN != "" {
		p.arn = p.cfg.StreamARN
		return nil
	}
	if p.cfg.Tables == nil || p.cfg.Table == "" {
		return errors.New("no stream: name the stream, or a source table that has one")
	}
	out, err := p.describeTable(ctx)
	if err != nil {
		return fmt.Errorf("finding the stream of table %s: %w", p.cfg.Table, err)
	}
	if out.Table == nil || out.Table.LatestStreamArn == nil ||
		(out.Table.StreamSpecification != nil && !aws.ToBool(out.Table.StreamSpecification.StreamEnabled)) {
		return fmt.Errorf("table %s has no stream enabled: enable DynamoDB Streams (NEW_AND_OLD_IMAGES) or name the stream", p.cfg.Table)
	}
	p.arn = *out.Table.LatestStreamArn
	return nil
}

// describeTable is DescribeTable, backing off while throttled.
func (p *poller) describeTable(ctx context.Context) (*dynamodb.DescribeTableOutput, error) {
	var out *dynamodb.DescribeTableOutput
	err := p.throttlePolicy("describing the table", 200*time.Millisecond, 10*time.Second).Do(ctx, func(ctx context.Context) error {
		var err error
		out, err = p.cfg.Tables.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(p.cfg.Table)})
		return err
	})
	return out, err
}

// throttleLimit bounds how long one throttled call is retried before the
// run stops naming it: an hour of throttling means another reader takes
// the shard's or the table's capacity, which backing off will not fix.
const throttleLimit = time.Hour

// throttlePolicy retries AWS throttling (the one retry policy of pgerr,
// with throttled as its test), logging each wait.
func (p *poller) throttlePolicy(what string, initial, maxWait time.Duration) pgerr.Policy {
	return pgerr.Policy{Initial: initial, Max: maxWait, MaxElapsed: throttleLimit, Retryable: throttled,
		OnRetry: func(err error, _ int, wait time.Duration) {
			p.log.Warn("throttled "+what+"; backing off", "stream", p.arn, "table", p.cfg.Table, "wait", wait.String())
		}}
}

// checkOtherStreams refuses to start silently on the table's latest stream
// when the bookkeeping has positions in another stream of the table and none
// in this one (the stream was disabled and enabled again): the run reads the
// old stream instead, to its end, and then stops naming both.
func (p *poller) checkOtherStreams(ctx context.Context) error {
	var streams map[string]time.Time
	if err := p.withPG(ctx, "reading the table's streams", func(ctx context.Context) error {
		var err error
		streams, err = p.cfg.Ledger.StreamsOfTable(ctx, p.cfg.DB, p.cfg.Table)
		return err
	}); err != nil {
		return err
	}
	if _, ok := streams[p.arn]; ok || len(streams) == 0 {
		return nil
	}
	var old string
	for arn := range streams {
		if arn > old { // labels are creation times: the newest old stream
			old = arn
		}
	}
	// Read what is left of the old stream first (a disabled stream keeps its
	// records for 24 hours); checkEnded then stops the run naming both.
	p.log.Warn("the bookkeeping has positions in another stream of the table: reading it to its end first",
		"stream", old, "latest_stream", p.arn)
	latest := p.arn
	p.arn = old
	if _, _, err := p.describe(ctx, ""); err != nil {
		var nf *types.ResourceNotFoundException
		if errors.As(err, &nf) {
			return &StreamChangedError{Table: p.cfg.Table, OldARN: old, NewARN: latest, LastRecordTime: streams[old]}
		}
		return err
	}
	return nil
}

// describe lists the stream's shards (paged); with parent set, only that
// shard's children (ShardFilter CHILD_SHARDS).
func (p *poller) describe(ctx context.Context, parent string) ([]types.Shard, types.StreamStatus, error) {
	var shards []types.Shard
	var start *string
	var status types.StreamStatus
	for {
		in := &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(p.arn), ExclusiveStartShardId: start, Limit: aws.Int32(100)}
		if parent != "" {
			in.ShardFilter = &types.ShardFilter{Type: types.ShardFilterTypeChildShards, ShardId: aws.String(parent)}
		}
		out, err := p.cfg.Streams.DescribeStream(ctx, in)
		if err != nil {
			return nil, "", fmt.Errorf("describing stream %s: %w", p.arn, err)
		}
		d := out.StreamDescription
		if d == nil {
			return nil, "", fmt.Errorf("describing stream %s: no description", p.arn)
		}
		if err := stream.CheckViewType(string(d.StreamViewType)); err != nil {
			return nil, "", fmt.Errorf("stream %s: %w", p.arn, err)
		}
		status = d.StreamStatus
		shards = append(shards, d.Shards...)
		if d.LastEvaluatedShardId == nil {
			return shards, status, nil
		}
		start = d.LastEvaluatedShardId
	}
}

// fullRefresh re-reads the whole shard list and the checkpoints. The first
// one must succeed (it backs off while throttled); a later one that is
// throttled is skipped until the next interval.
func (p *poller) fullRefresh(ctx context.Context, first bool) error {
	var shards []types.Shard
	var status types.StreamStatus
	retry := p.throttlePolicy("listing the stream's shards", 500*time.Millisecond, 30*time.Second).Start()
	for {
		var err error
		shards, status, err = p.describe(ctx, "")
		if err == nil {
			break
		}
		var nf *types.ResourceNotFoundException
		if errors.As(err, &nf) && !first {
			return p.streamGone(ctx, err)
		}
		if !throttled(err) {
			return err
		}
		if !first {
			p.log.Warn("throttled listing the stream's shards; trying again at the next refresh", "stream", p.arn, "error", err.Error())
			return nil
		}
		if err := retry.Wait(ctx, err); err != nil {
			return err
		}
	}
	var cps map[string]ledger.ShardCheckpoint
	if err := p.withPG(ctx, "reading the checkpoints", func(ctx context.Context) error {
		var err error
		cps, err = p.cfg.Ledger.Checkpoints(ctx, p.cfg.DB, p.arn)
		return err
	}); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lastListing = time.Now()
	p.cps = cps
	p.status = status
	for _, s := range p.shards {
		s.listed = false
	}
	p.merge(shards)
	// The listing is the lookup every shard waiting for its children is due.
	now := time.Now()
	for _, s := range p.order {
		if s.done && !s.children && !s.childAt.After(now.Add(p.cfg.RefreshInterval/10)) {
			p.lookedUp(s)
		}
	}
	return p.checkGone()
}

// checkGone finds shards that left the stream before they were read to
// their end: one with an open checkpoint, or one listed at the recorded start
// that was never finished (unless it was closed before a "latest" start).
// The earliest is returned as a *LostError (p.mu held).
func (p *poller) checkGone() error {
	var lost *LostError
	var lostAt string
	gone := func(id, after, why string) {
		at := after
		if at == "" {
			at = p.startSeqOf(id)
		}
		if lost == nil || stream.CompareSeq(at, lostAt) < 0 {
			lostAt = at
			lost = &LostError{StreamARN: p.arn, ShardID: id, AfterSeq: after,
				Cause: fmt.Errorf("shard %s is no longer listed by DescribeStream (it aged out) and %s", id, why)}
		}
	}
	for id, cp := range p.cps {
		if s, ok := p.shards[id]; cp.Closed || (ok && (s.listed || s.done)) {
			continue
		}
		gone(id, cp.LastSeq, "was not read to its end")
	}
	for id, ss := range p.startShards {
		if s, ok := p.shards[id]; ok && (s.listed || s.done) {
			continue
		}
		if _, ok := p.cps[id]; ok || (p.start.From == "latest" && ss.EndSeq != "") {
			continue
		}
		gone(id, "", "was never read")
	}
	if lost != nil {
		return lost
	}
	return nil
}

// startSeqOf is a shard's starting sequence number as last seen ("" unknown).
func (p *poller) startSeqOf(id string) string {
	if s, ok := p.shards[id]; ok {
		return s.startSeq
	}
	return p.startShards[id].StartSeq
}

// streamGone is the error for a stream that no longer exists (deleted 24
// hours after it was disabled) while being read: its unfinished shards lost
// their records, or, if none is unfinished, the table streams elsewhere.
func (p *poller) streamGone(ctx context.Context, cause error) error {
	p.mu.Lock()
	for _, s := range p.order {
		if !s.done {
			defer p.mu.Unlock()
			return &LostError{StreamARN: p.arn, ShardID: s.id, AfterSeq: s.lastSeq, Cause: cause}
		}
	}
	p.status = types.StreamStatusDisabled
	p.mu.Unlock()
	return p.checkEnded(ctx)
}

// merge adds listed shards (p.mu held).
func (p *poller) merge(shards []types.Shard) {
	added := false
	for _, sh := range shards {
		id := aws.ToString(sh.ShardId)
		s, known := p.shards[id]
		if !known {
			s = &shardState{id: id, parent: aws.ToString(sh.ParentShardId)}
			if cp, ok := p.cps[id]; ok {
				s.lastSeq = cp.LastSeq
				s.applied = !cp.LastRecordTime.IsZero()
				s.done = cp.Closed
			}
			p.shards[id] = s
			p.order = append(p.order, s)
			added = true
		}
		s.listed = true
		if r := sh.SequenceNumberRange; r != nil {
			s.startSeq = aws.ToString(r.StartingSequenceNumber)
			if e := aws.ToString(r.EndingSequenceNumber); e != "" {
				s.endSeq = e
			}
		}
	}
	for _, sh := range shards { // (a child may be listed before its parent)
		if par, ok := p.shards[aws.ToString(sh.ParentShardId)]; ok {
			par.children = true
		}
	}
	if added {
		p.lastChange = time.Now()
		// Parents first: order by starting sequence number.
		sort.SliceStable(p.order, func(a, b int) bool {
			return stream.CompareSeq(p.order[a].startSeq, p.order[b].startSeq) < 0
		})
	}
}

// loadStart reads the stream's recorded start, or records it: now, the
// position asked for, and the shards listed.
func (p *poller) loadStart(ctx context.Context) error {
	p.mu.Lock()
	from := p.cfg.From
	if len(p.cps) > 0 {
		// Checkpoints without a recorded start (an earlier ddb2pg): the
		// stream is already being applied, so no shard may be skipped.
		from = "trim-horizon"
	}
	want := ledger.StreamStart{StreamARN: p.arn, From: from, StartedAt: time.Now().UTC()}
	for _, s := range p.order {
		want.Shards = append(want.Shards, ledger.StartShard{ShardID: s.id, ParentShardID: s.parent, StartSeq: s.startSeq, EndSeq: s.endSeq})
	}
	p.mu.Unlock()
	var st ledger.StreamStart
	var created bool
	if err := p.withPG(ctx, "recording the start of the stream", func(ctx context.Context) error {
		var err error
		st, created, err = p.cfg.Ledger.RecordStreamStart(ctx, p.cfg.DB, want)
		return err
	}); err != nil {
		return err
	}
	if created {
		p.log.Info("recorded the start of the stream", "stream", p.arn, "from", st.From, "started_at", st.StartedAt.Format(time.RFC3339Nano),
			"shards", len(st.Shards))
	} else if st.From != p.cfg.From {
		p.log.Info("the stream's recorded start position applies, not the one asked for", "stream", p.arn, "from", st.From,
			"started_at", st.StartedAt.Format(time.RFC3339Nano), "asked", p.cfg.From)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.start = st
	p.startShards = make(map[string]ledger.StartShard, len(st.Shards))
	for _, s := range st.Shards {
		p.startShards[s.ShardID] = s
	}
	if err := p.checkGone(); err != nil {
		return err
	}
	if st.From == "latest" {
		// ApproximateCreationDateTime is rounded (to the minute on DynamoDB
		// Local) and comes from another clock: records up to two minutes
		// older than the start may be applied too, none newer is skipped.
		p.cutoff = st.StartedAt.Truncate(time.Minute).Add(-time.Minute)
	}
	return nil
}

// closedAtStart: a shard that was closed when a "latest" stream started has
// nothing to apply (p.mu held).
func (p *poller) closedAtStart(s *shardState) bool {
	ss, ok := p.startShards[s.id]
	return ok && p.start.From == "latest" && ss.EndSeq != "" && s.lastSeq == ""
}

// filtered: a shard listed at a "latest" start whose records may be older
// than the start (p.mu held).
func (p *poller) filtered(s *shardState) bool {
	_, ok := p.startShards[s.id]
	return ok && !p.cutoff.IsZero() && !s.applied
}

// parentReady says whether a shard may be read: its parent is read to its
// end, or was never this poller's to read. A parent that left the stream
// before it was read to its end is a *LostError (p.mu held).
func (p *poller) parentReady(s *shardState) (bool, error) {
	if s.parent == "" {
		return true, nil
	}
	if par, ok := p.shards[s.parent]; ok {
		return par.done, nil
	}
	cp, ok := p.cps[s.parent]
	switch {
	case ok && cp.Closed:
		return true, nil
	case ok:
		return false, &LostError{StreamARN: p.arn, ShardID: s.parent, AfterSeq: cp.LastSeq,
			Cause: fmt.Errorf("shard %s is no longer listed by DescribeStream (it aged out) and was not read to its end; its child %s is", s.parent, s.id)}
	}
	if ps, ok := p.startShards[s.parent]; ok {
		if ps.EndSeq != "" && p.start.From == "latest" {
			return true, nil // closed before a "latest" start: nothing of it to apply
		}
	} else if _, ok := p.startShards[s.id]; ok {
		return true, nil // the parent was gone before the stream's recorded start
	}
	return false, &LostError{StreamARN: p.arn, ShardID: s.parent,
		Cause: fmt.Errorf("shard %s is no longer listed by DescribeStream (it aged out) and was never read; its child %s is", s.parent, s.id)}
}

func (p *poller) loop(parent context.Context) error {
	ctx, cancel := context.WithCancel(parent)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	events := make(chan shardEvent)
	tick := time.NewTicker(min(100*time.Millisecond, p.cfg.PollInterval))
	defer tick.Stop()
	nextFull := time.Now().Add(p.cfg.RefreshInterval)
	for {
		if err := p.schedule(ctx, &wg, events); err != nil {
			return err
		}
		if p.cfg.UntilIdle > 0 && p.idle() {
			st := p.stats()
			p.log.Info("stream idle", "stream", p.arn, "idle", p.cfg.UntilIdle.String(), "applied", st.Applied,
				"skipped", st.Skipped, "rejected", st.Rejected)
			return nil
		}
		select {
		case <-parent.Done():
			return nil
		case ev := <-events:
			p.mu.Lock()
			ev.s.running = false
			p.mu.Unlock()
			if ev.err != nil {
				return ev.err
			}
		case <-tick.C:
		}
		if time.Now().After(nextFull) {
			if err := p.fullRefresh(ctx, false); err != nil {
				return err
			}
			nextFull = time.Now().Add(p.cfg.RefreshInterval)
		}
		if err := p.lookups(ctx); err != nil {
			return err
		}
		if err := p.checkEnded(ctx); err != nil {
			return err
		}
	}
}

// schedule starts a reader for every shard that is ready.
func (p *poller) schedule(ctx context.Context, wg *sync.WaitGroup, events chan<- shardEvent) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.order {
		if s.done || s.running {
			continue
		}
		ok, err := p.parentReady(s)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		s.running, s.since, s.polled = true, time.Now(), false
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := p.readShard(ctx, s)
			select {
			case events <- shardEvent{s: s, err: err}:
			case <-ctx.Done():
			}
		}()
	}
	return nil
}

func (p *poller) idle() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.lastChange) < p.cfg.UntilIdle {
		return false
	}
	for _, s := range p.order {
		if s.done {
			if !s.children && !s.looked {
				return false
			}
			continue
		}
		if !s.running || !s.polled {
			return false
		}
		last := s.lastData
		if last.Before(s.since) {
			last = s.since
		}
		if time.Since(last) < p.cfg.UntilIdle {
			return false
		}
	}
	return true
}

// lookups looks up the children of shards read to their end, each on its
// own backoff.
func (p *poller) lookups(ctx context.Context) error {
	now := time.Now()
	var due []*shardState
	p.mu.Lock()
	for _, s := range p.order {
		if s.done && !s.children && !s.childAt.After(now) {
			due = append(due, s)
		}
	}
	// One whole listing is cheaper than a filtered call per shard once more
	// shards wait than it has pages (e.g. every shard of a disabled stream).
	whole := p.noFilter || len(due) > (len(p.shards)+99)/100
	p.mu.Unlock()
	if len(due) == 0 {
		return nil
	}
	if whole {
		p.mu.Lock()
		recent := time.Since(p.lastListing) < time.Second
		p.mu.Unlock()
		if recent {
			return nil // at most one whole listing a second for lookups
		}
		return p.fullRefresh(ctx, false)
	}
	for _, s := range due {
		shards, status, err := p.describe(ctx, s.id)
		switch {
		case err == nil:
		case throttled(err):
			p.log.Warn("throttled looking up a shard's children; backing off", "shard", s.id, "error", err.Error())
			p.mu.Lock()
			p.lookedUp(s)
			p.mu.Unlock()
			continue
		default:
			// An endpoint without ShardFilter (or any other failure here):
			// whole listings from now on, which report what is wrong.
			p.log.Info("looking up a shard's children failed; re-listing the stream instead", "shard", s.id, "error", err.Error())
			p.mu.Lock()
			p.noFilter = true
			p.mu.Unlock()
			return nil
		}
		var mine []types.Shard
		for _, sh := range shards {
			if aws.ToString(sh.ParentShardId) == s.id {
				mine = append(mine, sh) // an endpoint that ignores the filter lists them all
			}
		}
		var unknown bool
		p.mu.Lock()
		p.status = status
		for _, sh := range mine {
			if _, ok := p.shards[aws.ToString(sh.ShardId)]; !ok {
				unknown = true
			}
		}
		p.mu.Unlock()
		if unknown {
			var cps map[string]ledger.ShardCheckpoint
			if err := p.withPG(ctx, "reading the checkpoints", func(ctx context.Context) error {
				var err error
				cps, err = p.cfg.Ledger.Checkpoints(ctx, p.cfg.DB, p.arn)
				return err
			}); err != nil {
				return err
			}
			p.mu.Lock()
			p.cps = cps
			p.mu.Unlock()
		}
		p.mu.Lock()
		p.merge(mine)
		p.lookedUp(s)
		p.mu.Unlock()
	}
	return nil
}

// lookedUp schedules the next lookup of a shard's children (p.mu held).
func (p *poller) lookedUp(s *shardState) {
	s.looked = true
	if s.children {
		return
	}
	s.childWait = min(max(s.childWait*2, time.Second), p.cfg.RefreshInterval)
	s.childAt = time.Now().Add(s.childWait)
}

// checkEnded stops the run when the stream is disabled and every shard is
// read to its end: nothing more will come from it.
func (p *poller) checkEnded(ctx context.Context) error {
	p.mu.Lock()
	ended := p.status == types.StreamStatusDisabled || p.status == types.StreamStatusDisabling
	for _, s := range p.order {
		if !s.done {
			ended = false
		}
	}
	p.mu.Unlock()
	if !ended {
		return nil
	}
	e := &StreamChangedError{Table: p.cfg.Table, OldARN: p.arn}
	if p.cfg.Tables != nil && p.cfg.Table != "" {
		out, err := p.describeTable(ctx)
		if err != nil {
			return fmt.Errorf("stream %s is disabled; finding the table's new stream: %w", p.arn, err)
		}
		if out.Table != nil && (out.Table.StreamSpecification == nil || aws.ToBool(out.Table.StreamSpecification.StreamEnabled)) {
			e.NewARN = aws.ToString(out.Table.LatestStreamArn)
		}
		if e.NewARN == p.arn {
			e.NewARN = ""
		}
	}
	if err := p.withPG(ctx, "reading the table's streams", func(ctx context.Context) error {
		streams, err := p.cfg.Ledger.StreamsOfTable(ctx, p.cfg.DB, p.cfg.Table)
		e.LastRecordTime = streams[p.arn]
		return err
	}); err != nil {
		return err
	}
	return e
}

func throttled(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "LimitExceededException", "ThrottlingException", "ProvisionedThroughputExceededException",
			"RequestLimitExceeded", "InternalServerError", "ServiceUnavailable":
			return true
		}
	}
	return false
}

// withPG runs fn until it succeeds, fails for good, or PostgreSQL has kept
// failing with transient errors for longer than MaxOutage (pgerr's one retry
// policy, waits from 200 ms up to 5 s).
func (p *poller) withPG(ctx context.Context, what string, fn func(ctx context.Context) error) error {
	pol := pgerr.Policy{Initial: 200 * time.Millisecond, Max: 5 * time.Second, MaxElapsed: p.cfg.MaxOutage,
		Retryable: pgerr.IsRetryable,
		OnRetry: func(err error, _ int, wait time.Duration) {
			p.log.Warn("transient PostgreSQL failure; retrying", "during", what, "error", err.Error(), "wait", wait.String())
		}}
	err := pol.Do(ctx, fn)
	var ex *pgerr.ExhaustedError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ex):
		return &OutageError{What: what, For: ex.Elapsed, Cause: ex.Err}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// DB is what the poller needs from a pool: transactions and single statements.
type DB interface {
	apply.DB
	ledger.Execer
}
