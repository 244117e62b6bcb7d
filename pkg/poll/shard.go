package poll

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/jackc/pgx/v5"

	"github.com/ddb2pg/ddb2pg/internal/pgerr"
	"github.com/ddb2pg/ddb2pg/pkg/apply"
	"github.com/ddb2pg/ddb2pg/pkg/ledger"
	"github.com/ddb2pg/ddb2pg/pkg/stream"
)

// readShard reads one shard to its end (nil), or until ctx ends or a read or
// an apply fails for good. Each GetRecords and the apply of its page run
// holding one of the ShardConcurrency slots; between reads the shard waits at
// least MinReadInterval, and after empty reads up to PollInterval.
func (p *poller) readShard(ctx context.Context, s *shardState) error {
	p.mu.Lock()
	skip := p.closedAtStart(s)
	p.mu.Unlock()
	if skip {
		p.log.Info("shard closed before the stream's recorded start; nothing of it to apply", "shard", s.id)
		return p.finish(ctx, s)
	}
	iter, err := p.iterator(ctx, s)
	if err != nil {
		return err
	}
	wait := p.cfg.MinReadInterval
	throttle := p.throttlePolicy("reading the stream", 200*time.Millisecond, 10*time.Second)
	retry := throttle.Start()
	expired := 0
	for {
		select {
		case p.sem <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		// The pace (AWS's per-shard limit) counts from the call itself, not
		// from the wait for a slot before it.
		t0 := time.Now()
		out, err := p.cfg.Streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(1000)})
		if err == nil {
			expired, retry = 0, throttle.Start()
			err := p.page(ctx, s, out.Records)
			<-p.sem
			if err != nil {
				return err
			}
			p.mu.Lock()
			s.polled = true
			p.mu.Unlock()
		} else {
			<-p.sem
		}
		if err != nil {
			var exp *types.ExpiredIteratorException
			var trimmed *types.TrimmedDataAccessException
			var nf *types.ResourceNotFoundException
			switch {
			case errors.As(err, &exp) && expired < 3:
				// Iterators live 15 minutes: take a new one from the checkpoint
				// (or the trim horizon, with the start's filter, if nothing is
				// applied yet): never from LATEST.
				expired++
				p.log.Info("shard iterator expired; resuming from the checkpoint", "shard", s.id, "after", p.lastSeq(s))
				if iter, err = p.iterator(ctx, s); err != nil {
					return err
				}
				continue
			case errors.As(err, &trimmed):
				return &LostError{StreamARN: p.arn, ShardID: s.id, AfterSeq: p.lastSeq(s), Cause: err}
			case errors.As(err, &nf):
				return p.lostAt(s, err)
			case throttled(err):
				if err := retry.Wait(ctx, fmt.Errorf("shard %s: %w", s.id, err)); err != nil {
					return err
				}
				continue
			}
			return fmt.Errorf("reading shard %s: %w", s.id, err)
		}
		if out.NextShardIterator == nil {
			return p.finish(ctx, s)
		}
		iter = out.NextShardIterator
		if len(out.Records) > 0 {
			wait = p.cfg.MinReadInterval
			if err := pgerr.Sleep(ctx, time.Until(t0.Add(p.cfg.MinReadInterval))); err != nil {
				return err
			}
			continue
		}
		if err := pgerr.Sleep(ctx, max(wait, time.Until(t0.Add(p.cfg.MinReadInterval)))); err != nil {
			return err
		}
		wait = min(wait*2, p.cfg.PollInterval)
	}
}

func (p *poller) lastSeq(s *shardState) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return s.lastSeq
}

// finish marks a shard read to its end, in the bookkeeping first.
func (p *poller) finish(ctx context.Context, s *shardState) error {
	last := p.lastSeq(s)
	if err := p.withPG(ctx, "saving the checkpoint of shard "+s.id, func(ctx context.Context) error {
		return p.cfg.Ledger.SaveCheckpoint(ctx, p.cfg.DB, ledger.ShardCheckpoint{StreamARN: p.arn, ShardID: s.id,
			ParentShardID: s.parent, LastSeq: last, Closed: true})
	}); err != nil {
		return err
	}
	p.log.Info("shard finished", "shard", s.id, "last_seq", last)
	if p.cfg.OnShardDone != nil {
		p.cfg.OnShardDone(p.arn, s.id)
	}
	p.mu.Lock()
	s.done = true
	s.childAt = time.Now()
	p.lastChange = time.Now()
	p.mu.Unlock()
	return nil
}

// iterator returns an iterator at the shard's checkpoint, or at its trim
// horizon when nothing of it is applied yet.
func (p *poller) iterator(ctx context.Context, s *shardState) (*string, error) {
	last := p.lastSeq(s)
	in := &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(p.arn), ShardId: aws.String(s.id),
		ShardIteratorType: types.ShardIteratorTypeTrimHorizon}
	if last != "" {
		in.ShardIteratorType = types.ShardIteratorTypeAfterSequenceNumber
		in.SequenceNumber = aws.String(last)
	}
	backoff := 200 * time.Millisecond
	for {
		out, err := p.cfg.Streams.GetShardIterator(ctx, in)
		if err == nil {
			return out.ShardIterator, nil
		}
		var trimmed *types.TrimmedDataAccessException
		var nf *types.ResourceNotFoundException
		switch {
		case errors.As(err, &trimmed):
			return nil, &LostError{StreamARN: p.arn, ShardID: s.id, AfterSeq: last, Cause: err}
		case errors.As(err, &nf):
			return nil, p.lostAt(s, err)
		case throttled(err):
			p.log.Warn("throttled getting a shard iterator; backing off", "shard", s.id, "wait", backoff.String())
			if err := pgerr.Sleep(ctx, backoff); err != nil {
				return nil, err
			}
			backoff = min(backoff*2, 10*time.Second)
			continue
		}
		return nil, fmt.Errorf("getting an iterator for shard %s: %w", s.id, err)
	}
}

// lostAt is the error for a shard that is not found: its records after the
// checkpoint are gone, or, with no checkpoint, those of its parent if that was
// not read to its end, else all of its own.
func (p *poller) lostAt(s *shardState, cause error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s.lastSeq != "" {
		return &LostError{StreamARN: p.arn, ShardID: s.id, AfterSeq: s.lastSeq, Cause: cause}
	}
	if par, ok := p.shards[s.parent]; ok && !par.done {
		return &LostError{StreamARN: p.arn, ShardID: par.id, AfterSeq: par.lastSeq, Cause: cause}
	}
	if cp, ok := p.cps[s.parent]; ok && !cp.Closed {
		return &LostError{StreamARN: p.arn, ShardID: s.parent, AfterSeq: cp.LastSeq, Cause: cause}
	}
	return &LostError{StreamARN: p.arn, ShardID: s.id, Cause: cause}
}

// page applies one GetRecords page: the records written before the recorded
// start of a "latest" stream are passed over (their position is saved), the
// others applied with their checkpoint.
func (p *poller) page(ctx context.Context, s *shardState, raw []types.Record) error {
	if len(raw) == 0 {
		return nil
	}
	recs := make([]stream.Record, len(raw))
	for i, r := range raw {
		rec, err := stream.FromStreams(s.id, r)
		if err != nil {
			rec.Err = err
		}
		recs[i] = rec
	}
	p.mu.Lock()
	filtered, cutoff := p.filtered(s), p.cutoff
	p.mu.Unlock()
	if filtered {
		n := 0
		for n < len(recs) && !recs[n].ApproxTime.IsZero() && recs[n].ApproxTime.Before(cutoff) {
			n++
		}
		if n > 0 {
			if err := p.passOver(ctx, s, recs[:n]); err != nil {
				return err
			}
			recs = recs[n:]
		}
		if len(recs) > 0 {
			p.mu.Lock()
			s.applied = true
			p.mu.Unlock()
		}
	}
	if len(recs) == 0 {
		return nil
	}
	if err := p.apply(ctx, s, recs); err != nil {
		return err
	}
	p.mu.Lock()
	s.lastData = time.Now()
	p.lastChange = s.lastData
	p.mu.Unlock()
	return nil
}

// passOver saves the position after records written before the start.
func (p *poller) passOver(ctx context.Context, s *shardState, recs []stream.Record) error {
	last := lastValidSeq(recs)
	if last != "" {
		if err := p.withPG(ctx, "saving the checkpoint of shard "+s.id, func(ctx context.Context) error {
			return p.cfg.Ledger.SaveCheckpoint(ctx, p.cfg.DB, ledger.ShardCheckpoint{StreamARN: p.arn, ShardID: s.id,
				ParentShardID: s.parent, LastSeq: last})
		}); err != nil {
			return err
		}
	}
	p.mu.Lock()
	if last != "" {
		s.lastSeq = last
	}
	p.st.BeforeStart += len(recs)
	p.mu.Unlock()
	return nil
}

// apply applies a page, retrying transient failures from the first record
// not committed, until PostgreSQL has failed for longer than MaxOutage
// without progress; the checkpoint commits with each chunk.
func (p *poller) apply(ctx context.Context, s *shardState, recs []stream.Record) error {
	// Transient failures are retried from the first record not committed
	// (the one retry policy; progress starts a new streak), for at most
	// MaxOutage of failing without progress.
	policy := pgerr.Policy{Initial: 200 * time.Millisecond, Max: 5 * time.Second, MaxElapsed: p.cfg.MaxOutage}
	retry := policy.Start()
	for len(recs) > 0 {
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
			p.mu.Lock()
			if last := lastValidSeq(recs[:res.Committed]); last != "" {
				s.lastSeq = last
			}
			p.st.Add(res.Stats)
			p.st.Batches++
			p.mu.Unlock()
			retry = policy.Start()
			p.log.Info("batch applied", "shard", s.id, "records", res.Records, "applied", res.Applied,
				"skipped", res.Skipped, "rejected", res.Rejected, "first_seq", res.FirstSeq, "last_seq", res.LastSeq,
				"duration_ms", time.Since(start).Milliseconds())
			if p.cfg.OnBatch != nil {
				var lag time.Duration
				if !res.NewestTime.IsZero() {
					lag = max(time.Since(res.NewestTime), 0)
				}
				p.cfg.OnBatch(p.arn, s.id, res.Stats, time.Since(start), lag)
			}
		}
		if res.Err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !apply.Retryable(res.Err) {
			return fmt.Errorf("applying shard %s from %s: %w", s.id, recs[res.Committed].Seq, res.Err)
		}
		from := recs[res.Committed].Seq
		p.log.Warn("transient failure applying records; retrying", "shard", s.id, "from_seq", from, "error", res.Err.Error())
		recs = recs[res.Committed:]
		if err := retry.Wait(ctx, res.Err); err != nil {
			var ex *pgerr.ExhaustedError
			if errors.As(err, &ex) {
				return &OutageError{What: fmt.Sprintf("applying shard %s from %s", s.id, from), For: ex.Elapsed, Cause: res.Err}
			}
			return err
		}
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
