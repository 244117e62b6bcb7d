// Package baseline is the poller as it was before issue 20 (main at 83324a5),
// kept only as the baseline of the bench in pkg/poll (TestPollerBench): do not
// use it for anything else.
//
// It read a DynamoDB stream directly with the Streams API
// (DescribeStream, GetShardIterator, GetRecords) and applies it with the
// apply engine: the `ddb2pg stream` command, for teams that do not use the
// Lambda function and for local work.
//
// Each shard's position is checkpointed in the bookkeeping schema
// (stream_shards) in the same transaction as the records it covers, so a
// restart resumes right after the last applied record. Parent shards are
// read to their end before their children.
package baseline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/smithy-go"
	"github.com/jackc/pgx/v5"

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
	Tables  TableAPI // used when StreamARN is empty
	Table   string   // the mapping's source table
	// StreamARN is the stream to read ("": the table's latest stream).
	StreamARN string
	// From is where shards without a checkpoint start: "trim-horizon"
	// (default: everything the stream still holds) or "latest".
	From   string
	Engine *apply.Engine
	DB     DB
	Ledger *ledger.Ledger
	// UntilIdle, when > 0, ends the run once every open shard has returned
	// no record for that long (and every closed shard is read to its end).
	UntilIdle time.Duration
	// PollInterval is the pause after an empty GetRecords (default 1s).
	PollInterval time.Duration
	// RefreshInterval is how often the shard list is re-read (default 30s).
	RefreshInterval time.Duration
	Logger          *slog.Logger
}

// Stats sums up a run.
type Stats struct {
	apply.Stats
	Batches int
	Shards  int
}

// LostError says records were trimmed from the stream (older than 24 hours)
// before they were applied: PostgreSQL has missed changes.
type LostError struct {
	StreamARN, ShardID, AfterSeq string
	Cause                        error
}

func (e *LostError) Error() string {
	from := "its start"
	if e.AfterSeq != "" {
		from = "sequence number " + e.AfterSeq
	}
	return fmt.Sprintf("stream %s shard %s: the records after %s are no longer in the stream (DynamoDB Streams keeps 24 hours; "+
		"they were trimmed before ddb2pg applied them), so changes made to the table in that gap are missing from PostgreSQL. "+
		"To recover: export the table again (ddb2pg export), backfill that export (ddb2pg backfill: it only overwrites items the stream "+
		"has not written since), then restart the stream with --from trim-horizon; run verify afterwards. (%v)",
		e.StreamARN, e.ShardID, from, e.Cause)
}

func (e *LostError) Unwrap() error { return e.Cause }

type shardState struct {
	id, parent string
	startSeq   string
	endSeq     string // "" while the shard is open
	iter       *string
	lastSeq    string // last applied (checkpoint)
	done       bool   // read to its end (closed) or skipped
	lastData   time.Time
	started    bool
}

type poller struct {
	cfg    Config
	arn    string
	shards map[string]*shardState
	order  []string
	st     Stats
	log    *slog.Logger
}

// Run polls until ctx ends (nil error) or, with UntilIdle, until idle.
func Run(ctx context.Context, cfg Config) (Stats, error) {
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.RefreshInterval <= 0 {
		cfg.RefreshInterval = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	switch cfg.From {
	case "":
		cfg.From = "trim-horizon"
	case "trim-horizon", "latest":
	default:
		return Stats{}, fmt.Errorf("--from %q: want trim-horizon or latest", cfg.From)
	}
	p := &poller{cfg: cfg, shards: map[string]*shardState{}, log: cfg.Logger}
	if err := p.resolveARN(ctx); err != nil {
		return p.st, err
	}
	if err := cfg.Ledger.EnsureStream(ctx, cfg.DB); err != nil {
		return p.st, err
	}
	if err := p.refresh(ctx); err != nil {
		return p.st, err
	}
	lastRefresh := time.Now()
	started := time.Now()
	for {
		if ctx.Err() != nil {
			return p.st, nil
		}
		progressed := false
		for _, id := range p.order {
			s := p.shards[id]
			if s.done || !p.ready(s) {
				continue
			}
			got, err := p.pollShard(ctx, s)
			if err != nil {
				if ctx.Err() != nil {
					return p.st, nil
				}
				return p.st, err
			}
			progressed = progressed || got
		}
		if time.Since(lastRefresh) > cfg.RefreshInterval || p.needRefresh() {
			if err := p.refresh(ctx); err != nil {
				return p.st, err
			}
			lastRefresh = time.Now()
		}
		if cfg.UntilIdle > 0 && p.idle(started) {
			p.log.Info("stream idle", "stream", p.arn, "idle", cfg.UntilIdle.String(), "applied", p.st.Applied,
				"skipped", p.st.Skipped, "rejected", p.st.Rejected)
			return p.st, nil
		}
		if !progressed {
			select {
			case <-ctx.Done():
				return p.st, nil
			case <-time.After(cfg.PollInterval):
			}
		}
	}
}

func (p *poller) resolveARN(ctx context.Context) error {
	if p.cfg.StreamARN != "" {
		p.arn = p.cfg.StreamARN
		return nil
	}
	if p.cfg.Tables == nil || p.cfg.Table == "" {
		return errors.New("no stream: pass --stream-arn or a mapping whose source.table has a stream")
	}
	out, err := p.cfg.Tables.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(p.cfg.Table)})
	if err != nil {
		return fmt.Errorf("finding the stream of table %s: %w", p.cfg.Table, err)
	}
	if out.Table == nil || out.Table.LatestStreamArn == nil ||
		(out.Table.StreamSpecification != nil && !aws.ToBool(out.Table.StreamSpecification.StreamEnabled)) {
		return fmt.Errorf("table %s has no stream enabled: enable DynamoDB Streams (NEW_AND_OLD_IMAGES) or pass --stream-arn", p.cfg.Table)
	}
	p.arn = *out.Table.LatestStreamArn
	return nil
}

// refresh re-reads the shard list (paged) and the checkpoints.
func (p *poller) refresh(ctx context.Context) error {
	var shards []types.Shard
	var start *string
	for {
		out, err := p.cfg.Streams.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{
			StreamArn: aws.String(p.arn), ExclusiveStartShardId: start})
		if err != nil {
			return fmt.Errorf("describing stream %s: %w", p.arn, err)
		}
		d := out.StreamDescription
		if d == nil {
			return fmt.Errorf("describing stream %s: no description", p.arn)
		}
		if err := stream.CheckViewType(string(d.StreamViewType)); err != nil {
			return fmt.Errorf("stream %s: %w", p.arn, err)
		}
		shards = append(shards, d.Shards...)
		if d.LastEvaluatedShardId == nil {
			break
		}
		start = d.LastEvaluatedShardId
	}
	cps, err := p.cfg.Ledger.Checkpoints(ctx, p.cfg.DB, p.arn)
	if err != nil {
		return err
	}
	for _, sh := range shards {
		id := aws.ToString(sh.ShardId)
		s, known := p.shards[id]
		if !known {
			s = &shardState{id: id, parent: aws.ToString(sh.ParentShardId)}
			if cp, ok := cps[id]; ok {
				s.lastSeq = cp.LastSeq
				s.done = cp.Closed
			}
			p.shards[id] = s
			p.order = append(p.order, id)
		}
		if r := sh.SequenceNumberRange; r != nil {
			s.startSeq = aws.ToString(r.StartingSequenceNumber)
			s.endSeq = aws.ToString(r.EndingSequenceNumber)
		}
	}
	// Parents first: order by starting sequence number.
	sort.SliceStable(p.order, func(a, b int) bool {
		return stream.CompareSeq(p.shards[p.order[a]].startSeq, p.shards[p.order[b]].startSeq) < 0
	})
	p.st.Shards = len(p.shards)
	return nil
}

// ready: a shard is read once its parent is done or gone from the stream.
func (p *poller) ready(s *shardState) bool {
	if s.parent == "" {
		return true
	}
	par, ok := p.shards[s.parent]
	return !ok || par.done
}

func (p *poller) needRefresh() bool {
	for _, s := range p.shards {
		if s.done && s.endSeq == "" {
			return true // closed while we read it: its children are not known yet
		}
	}
	return false
}

func (p *poller) idle(started time.Time) bool {
	for _, s := range p.shards {
		if s.done {
			continue
		}
		if !p.ready(s) {
			return false
		}
		last := s.lastData
		if last.IsZero() {
			last = started
		}
		if time.Since(last) < p.cfg.UntilIdle {
			return false
		}
	}
	return true
}

func (p *poller) iterator(ctx context.Context, s *shardState) error {
	in := &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(p.arn), ShardId: aws.String(s.id)}
	switch {
	case s.lastSeq != "":
		in.ShardIteratorType = types.ShardIteratorTypeAfterSequenceNumber
		in.SequenceNumber = aws.String(s.lastSeq)
	case p.cfg.From == "latest" && s.endSeq == "" && s.parent == "":
		in.ShardIteratorType = types.ShardIteratorTypeLatest
	case p.cfg.From == "latest" && s.endSeq != "":
		// A shard closed before we started: nothing of it is "latest".
		s.done = true
		return p.checkpoint(ctx, s, true)
	default:
		in.ShardIteratorType = types.ShardIteratorTypeTrimHorizon
	}
	out, err := p.cfg.Streams.GetShardIterator(ctx, in)
	if err != nil {
		var trimmed *types.TrimmedDataAccessException
		if errors.As(err, &trimmed) {
			return &LostError{StreamARN: p.arn, ShardID: s.id, AfterSeq: s.lastSeq, Cause: err}
		}
		var nf *types.ResourceNotFoundException
		if errors.As(err, &nf) && s.lastSeq != "" {
			return &LostError{StreamARN: p.arn, ShardID: s.id, AfterSeq: s.lastSeq, Cause: err}
		}
		return fmt.Errorf("getting an iterator for shard %s: %w", s.id, err)
	}
	s.iter = out.ShardIterator
	s.started = true
	return nil
}

func (p *poller) checkpoint(ctx context.Context, s *shardState, closed bool) error {
	tx, err := p.cfg.DB.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck
	if err := p.cfg.Ledger.SaveCheckpoint(ctx, tx, ledger.ShardCheckpoint{StreamARN: p.arn, ShardID: s.id,
		ParentShardID: s.parent, LastSeq: s.lastSeq, Closed: closed}); err != nil {
		return err
	}
	return tx.Commit(ctx)
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

// pollShard reads one page of a shard and applies it; it reports whether
// records came.
func (p *poller) pollShard(ctx context.Context, s *shardState) (bool, error) {
	if s.iter == nil {
		if err := p.iterator(ctx, s); err != nil || s.done {
			return false, err
		}
	}
	var out *dynamodbstreams.GetRecordsOutput
	backoff := 100 * time.Millisecond
	for attempt := 0; ; attempt++ {
		var err error
		out, err = p.cfg.Streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: s.iter, Limit: aws.Int32(1000)})
		if err == nil {
			break
		}
		var expired *types.ExpiredIteratorException
		var trimmed *types.TrimmedDataAccessException
		switch {
		case errors.As(err, &expired) && attempt < 3:
			// Iterators live 15 minutes: take a new one after the checkpoint.
			p.log.Info("shard iterator expired; resuming after the checkpoint", "shard", s.id, "after", s.lastSeq)
			if err := p.iterator(ctx, s); err != nil {
				return false, err
			}
			continue
		case errors.As(err, &trimmed):
			return false, &LostError{StreamARN: p.arn, ShardID: s.id, AfterSeq: s.lastSeq, Cause: err}
		case throttled(err) && attempt < 10:
			p.log.Warn("throttled reading the stream; backing off", "shard", s.id, "wait", backoff.String())
			if err := sleep(ctx, backoff); err != nil {
				return false, err
			}
			backoff = min(backoff*2, 10*time.Second)
			continue
		}
		return false, fmt.Errorf("reading shard %s: %w", s.id, err)
	}
	recs := make([]stream.Record, len(out.Records))
	for i, r := range out.Records {
		rec, err := stream.FromStreams(s.id, r)
		if err != nil {
			rec.Err = err
		}
		recs[i] = rec
	}
	if len(recs) > 0 {
		if err := p.apply(ctx, s, recs); err != nil {
			return false, err
		}
		s.lastData = time.Now()
	}
	s.iter = out.NextShardIterator
	if s.iter == nil {
		// The shard is closed and read to its end.
		s.done = true
		p.log.Info("shard finished", "shard", s.id, "last_seq", s.lastSeq)
		if err := p.checkpoint(ctx, s, true); err != nil {
			return false, err
		}
	}
	return len(recs) > 0, nil
}

// apply applies a page, retrying transient failures from the first record
// not committed; the checkpoint commits with each chunk.
func (p *poller) apply(ctx context.Context, s *shardState, recs []stream.Record) error {
	backoff := 200 * time.Millisecond
	for attempt := 0; len(recs) > 0; attempt++ {
		start := time.Now()
		res := p.cfg.Engine.Apply(ctx, p.cfg.DB, recs, func(ctx context.Context, tx pgx.Tx, chunk []stream.Record) error {
			last := lastValidSeq(chunk)
			if last == "" {
				return nil
			}
			var t time.Time
			for _, r := range chunk {
				if r.ApproxTime.After(t) {
					t = r.ApproxTime
				}
			}
			return p.cfg.Ledger.SaveCheckpoint(ctx, tx, ledger.ShardCheckpoint{StreamARN: p.arn, ShardID: s.id,
				ParentShardID: s.parent, LastSeq: last, LastRecordTime: t})
		})
		if res.Committed > 0 {
			if last := lastValidSeq(recs[:res.Committed]); last != "" {
				s.lastSeq = last
			}
			p.st.Add(res.Stats)
			p.st.Batches++
			p.log.Info("batch applied", "shard", s.id, "records", res.Records, "applied", res.Applied,
				"skipped", res.Skipped, "rejected", res.Rejected, "first_seq", res.FirstSeq, "last_seq", res.LastSeq,
				"duration_ms", time.Since(start).Milliseconds())
		}
		if res.Err == nil {
			return nil
		}
		if !apply.Retryable(res.Err) || attempt >= 8 {
			return fmt.Errorf("applying shard %s from %s: %w", s.id, recs[res.Committed].Seq, res.Err)
		}
		p.log.Warn("transient failure applying records; retrying", "shard", s.id, "from_seq", recs[res.Committed].Seq,
			"error", res.Err.Error(), "wait", backoff.String())
		recs = recs[res.Committed:]
		if err := sleep(ctx, backoff); err != nil {
			return err
		}
		backoff = min(backoff*2, 10*time.Second)
	}
	return nil
}

func lastValidSeq(recs []stream.Record) string {
	for i := len(recs) - 1; i >= 0; i-- {
		if stream.ValidSeq(recs[i].Seq) == nil {
			return recs[i].Seq
		}
	}
	return ""
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// DB is what the poller needs from a pool: transactions and single statements.
type DB interface {
	apply.DB
	ledger.Execer
}
