package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
	"github.com/ddb2pg/ddb2pg/pkg/ledger"
	"github.com/ddb2pg/ddb2pg/pkg/mapping"
	"github.com/ddb2pg/ddb2pg/pkg/report"
)

// lastFullMargin is subtracted from the start of the last full run when it
// is the changed-since time: the bookkeeping stamps an item with its
// writing transaction's start, so a write that began shortly before the
// full run and committed during it is still covered.
var lastFullMargin = time.Minute

// resolveChangedSince fills in the coverage header of a changed-since run:
// the time from the options or from the last complete GO full run.
func (v *verifier) resolveChangedSince(ctx context.Context) (*report.Changed, error) {
	c := &report.Changed{Since: v.opts.ChangedSince, From: "time", Bookkeeping: v.ledger.Schema() + ".items"}
	if v.opts.ChangedSinceLastFull {
		run, ok, err := v.ledger.LastFullVerify(ctx, v.pool, v.m.Source.Table, v.m.Fingerprint())
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("changed since the last full run: no complete full verify of %s with verdict GO under this mapping is recorded in schema %s",
				v.m.Source.Table, v.ledger.Schema())
		}
		started := run.StartedAt
		c.From, c.LastFullRun, c.Since = "last-full", &started, started.Add(-lastFullMargin)
	}
	ok, err := v.ledger.HasTable(ctx, v.pool, "items")
	if err == nil && ok {
		// no item of this table was ever applied through the bookkeeping
		// (rows loaded some other way): nothing says what changed
		ok, err = v.ledger.HasItems(ctx, v.pool, v.m.Source.Table)
	}
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("changed since %s: no item of %s in the bookkeeping of schema %s (nothing was applied by backfill or stream)",
			c.Since.Format(time.RFC3339), v.m.Source.Table, v.ledger.Schema())
	}
	return c, nil
}

// changedKeys yields the keys of the items the bookkeeping recorded as
// applied at or after a time, streamed in one pass, counting them into the
// coverage header as it goes.
type changedKeys struct {
	rows  *ledger.ChangedRows
	m     *mapping.Mapping
	count func(ledger.ChangedItem) // under the verifier's lock
}

// Next returns the next changed item's key attributes.
func (c *changedKeys) Next() (ddbitem.Item, error) {
	it, ok, err := c.rows.Next()
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errEOF
	}
	c.count(it)
	k, err := c.m.KeyItem(ddbitem.Key(it.Key))
	if err != nil {
		return nil, fmt.Errorf("bookkeeping item %s: %w", it.Key, err)
	}
	return k, nil
}

// changedPass compares every item the bookkeeping recorded as applied since
// the resolved time: re-read from DynamoDB (strongly consistent), compared
// as in key mode; deleted items are checked for rows PostgreSQL still holds.
func (v *verifier) changedPass(ctx context.Context) error {
	cov, err := v.resolveChangedSince(ctx)
	if err != nil {
		return err
	}
	v.res.Changed = cov
	v.res.Parameters.ChangedSince = cov.Since.UTC().Format(time.RFC3339Nano)
	if cov.From == "last-full" {
		v.res.Parameters.ChangedSince = "last-full (" + v.res.Parameters.ChangedSince + ")"
	}
	conn, err := v.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("connecting to read the bookkeeping: %w", err)
	}
	defer conn.Release()
	rows, err := v.ledger.ChangedItems(ctx, conn, v.m.Source.Table, cov.Since)
	if err != nil {
		return err
	}
	defer rows.Close()
	src := &changedKeys{rows: rows, m: v.m,
		count: func(it ledger.ChangedItem) {
			v.mu.Lock()
			defer v.mu.Unlock()
			cov.Keys++
			switch it.Origin {
			case "stream":
				cov.Stream++
			default:
				cov.Export++
			}
			if it.Deleted {
				cov.Deleted++
			}
		}}
	return v.keysPassFrom(ctx, src)
}

// recordRun stores the finished run in the bookkeeping's history. The
// history is context, not part of the comparison: a failure to write it is
// logged and leaves the verdict alone.
func (v *verifier) recordRun(ctx context.Context) {
	r := v.res
	if ctx.Err() != nil || r.Mode == "" || (v.opts.RunName != "" && r.Mode == "scan" && !v.finisher) {
		// a checkpointed run is recorded by the process that finishes it
		// (never by one that failed, or was refused, on the way)
		return
	}
	b, err := json.Marshal(r)
	if err == nil {
		err = v.ledger.Ensure(ctx, v.pool)
	}
	if err == nil {
		_, err = v.ledger.RecordVerifyRun(ctx, v.pool, ledger.VerifyRun{SourceTable: r.SourceTable, Name: v.opts.RunName,
			MappingFingerprint: r.Parameters.MappingFingerprint, Mode: r.Mode, StartedAt: r.Timing.StartedAt,
			FinishedAt: r.Timing.FinishedAt, Complete: r.Complete, Verdict: r.Verdict, DivergentRows: r.DivergentRows,
			ItemsRead: r.Items.Read, DurationSeconds: r.Timing.DurationSeconds, Result: b})
	}
	if err != nil {
		v.opts.Logger.Warn("verify: could not record the run in the bookkeeping history", "err", err)
	}
}

// ErrNoSuchRun is returned by Stored for a run name the bookkeeping does
// not know.
var ErrNoSuchRun = errors.New("no such verify run")

// Stored returns the report of a finished named run as it was recorded.
func Stored(ctx context.Context, pool *pgxpool.Pool, ledgerSchema, sourceTable, name string) (*report.Result, error) {
	led, err := ledger.New(ledgerSchema)
	if err != nil {
		return nil, err
	}
	run, ok, err := led.VerifyRunByName(ctx, pool, sourceTable, name)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("run %q of table %s in schema %s: %w", name, sourceTable, led.Schema(), ErrNoSuchRun)
	}
	if len(run.Result) == 0 {
		return nil, fmt.Errorf("run %q of table %s is not finished (continue it with --resume): %w", name, sourceTable, ErrNoSuchRun)
	}
	var r report.Result
	if err := json.Unmarshal(run.Result, &r); err != nil {
		return nil, fmt.Errorf("decoding the recorded report of run %q: %w", name, err)
	}
	return &r, nil
}
