package ledger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// verifyDDL creates verify's bookkeeping: one row per verify run (its
// parameters, verdict, counts and timing, and the whole report as JSON
// text: jsonb cannot hold the \u0000 a sample of a NUL byte needs), so
// later runs can start from the last full one (changed-since) and reports
// can show the trend. Each statement is idempotent.
func (l *Ledger) verifyDDL() []string {
	return append([]string{
		`CREATE TABLE IF NOT EXISTS ` + l.T("verify_runs") + ` (
	run_id              bigserial PRIMARY KEY,
	source_table        text NOT NULL,
	name                text,
	mapping_fingerprint text NOT NULL,
	mode                text NOT NULL,
	started_at          timestamptz NOT NULL,
	finished_at         timestamptz,
	complete            boolean NOT NULL DEFAULT false,
	verdict             text,
	divergent_rows      bigint,
	items_read          bigint,
	duration_seconds    double precision,
	result              text,
	UNIQUE (source_table, name)
)`,
		`CREATE INDEX IF NOT EXISTS verify_runs_table_idx ON ` + l.T("verify_runs") + ` (source_table, started_at)`,
	}, l.checkpointDDL()...)
}

// VerifyRun is one finished verify run as recorded in the bookkeeping.
type VerifyRun struct {
	ID                 int64
	SourceTable        string
	Name               string // "" for an unnamed run
	MappingFingerprint string
	Mode               string // "scan", "sample", "keys", "changed-since"
	StartedAt          time.Time
	FinishedAt         time.Time
	Complete           bool
	Verdict            string
	DivergentRows      int64
	ItemsRead          int64
	DurationSeconds    float64
	// Result is the run's JSON report (RecordVerifyRun stores it;
	// VerifyHistory leaves it nil).
	Result []byte
}

// RecordVerifyRun stores a finished run and returns its id. A named run
// replaces an earlier run of the same name and table.
func (l *Ledger) RecordVerifyRun(ctx context.Context, db Execer, r VerifyRun) (int64, error) {
	var name any
	if r.Name != "" {
		name = r.Name
	}
	var id int64
	err := db.QueryRow(ctx, `INSERT INTO `+l.T("verify_runs")+` AS r (source_table, name, mapping_fingerprint, mode,
		started_at, finished_at, complete, verdict, divergent_rows, items_read, duration_seconds, result)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		ON CONFLICT (source_table, name) DO UPDATE SET mapping_fingerprint = excluded.mapping_fingerprint,
			mode = excluded.mode, started_at = excluded.started_at, finished_at = excluded.finished_at,
			complete = excluded.complete, verdict = excluded.verdict, divergent_rows = excluded.divergent_rows,
			items_read = excluded.items_read, duration_seconds = excluded.duration_seconds, result = excluded.result
		RETURNING run_id`,
		r.SourceTable, name, r.MappingFingerprint, r.Mode, r.StartedAt, r.FinishedAt, r.Complete, r.Verdict,
		r.DivergentRows, r.ItemsRead, r.DurationSeconds, string(r.Result)).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("recording the verify run of %s: %w", r.SourceTable, err)
	}
	return id, nil
}

const verifyRunCols = `run_id, source_table, coalesce(name, ''), mapping_fingerprint, mode, started_at,
	coalesce(finished_at, started_at), complete, coalesce(verdict, ''), coalesce(divergent_rows, 0),
	coalesce(items_read, 0), coalesce(duration_seconds, 0)`

type scanner interface{ Scan(dest ...any) error }

func scanVerifyRun(s scanner, extra ...any) (VerifyRun, error) {
	var r VerifyRun
	dest := append([]any{&r.ID, &r.SourceTable, &r.Name, &r.MappingFingerprint, &r.Mode, &r.StartedAt, &r.FinishedAt,
		&r.Complete, &r.Verdict, &r.DivergentRows, &r.ItemsRead, &r.DurationSeconds}, extra...)
	err := s.Scan(dest...)
	return r, err
}

// LastFullVerify returns the latest complete full (scan-mode) run of
// sourceTable under the mapping with this fingerprint whose verdict was GO
// (ok false: none recorded). A NO-GO run does not vouch for the items it
// found divergent, so it is never a starting point.
func (l *Ledger) LastFullVerify(ctx context.Context, db Execer, sourceTable, fingerprint string) (VerifyRun, bool, error) {
	ok, err := l.HasTable(ctx, db, "verify_runs")
	if err != nil || !ok {
		return VerifyRun{}, false, err
	}
	rows, err := db.Query(ctx, `SELECT `+verifyRunCols+` FROM `+l.T("verify_runs")+`
		WHERE source_table = $1 AND mapping_fingerprint = $2 AND mode = 'scan' AND complete AND verdict = 'GO'
		ORDER BY started_at DESC LIMIT 1`, sourceTable, fingerprint)
	if err != nil {
		return VerifyRun{}, false, fmt.Errorf("reading the verify runs of %s: %w", sourceTable, err)
	}
	defer rows.Close()
	if !rows.Next() {
		return VerifyRun{}, false, rows.Err()
	}
	r, err := scanVerifyRun(rows)
	if err != nil {
		return VerifyRun{}, false, fmt.Errorf("reading the verify runs of %s: %w", sourceTable, err)
	}
	return r, true, nil
}

// VerifyRunByName returns a named run of sourceTable with its JSON report
// (ok false: no such run).
func (l *Ledger) VerifyRunByName(ctx context.Context, db Execer, sourceTable, name string) (VerifyRun, bool, error) {
	ok, err := l.HasTable(ctx, db, "verify_runs")
	if err != nil || !ok {
		return VerifyRun{}, false, err
	}
	rows, err := db.Query(ctx, `SELECT `+verifyRunCols+`, coalesce(result, '') FROM `+l.T("verify_runs")+`
		WHERE source_table = $1 AND name = $2`, sourceTable, name)
	if err != nil {
		return VerifyRun{}, false, fmt.Errorf("reading verify run %s of %s: %w", name, sourceTable, err)
	}
	defer rows.Close()
	if !rows.Next() {
		return VerifyRun{}, false, rows.Err()
	}
	var res string
	r, err := scanVerifyRun(rows, &res)
	if err != nil {
		return VerifyRun{}, false, fmt.Errorf("reading verify run %s of %s: %w", name, sourceTable, err)
	}
	r.Result = []byte(res)
	return r, true, nil
}

// VerifyHistory lists the latest finished runs of sourceTable under the
// mapping with this fingerprint, oldest first, at most limit of them
// (Result left nil).
func (l *Ledger) VerifyHistory(ctx context.Context, db Execer, sourceTable, fingerprint string, limit int) ([]VerifyRun, error) {
	ok, err := l.HasTable(ctx, db, "verify_runs")
	if err != nil || !ok {
		return nil, err
	}
	rows, err := db.Query(ctx, `SELECT * FROM (SELECT `+verifyRunCols+` FROM `+l.T("verify_runs")+`
		WHERE source_table = $1 AND mapping_fingerprint = $2 AND finished_at IS NOT NULL
		ORDER BY started_at DESC, run_id DESC LIMIT $3) AS h
		ORDER BY started_at, run_id`, sourceTable, fingerprint, limit)
	if err != nil {
		return nil, fmt.Errorf("reading the verify history of %s: %w", sourceTable, err)
	}
	defer rows.Close()
	var out []VerifyRun
	for rows.Next() {
		r, err := scanVerifyRun(rows)
		if err != nil {
			return nil, fmt.Errorf("reading the verify history of %s: %w", sourceTable, err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ChangedItem is one item whose applied version was recorded at or after a
// given time.
type ChangedItem struct {
	Key     string
	Origin  string // "export" (full or incremental export) or "stream"
	Deleted bool   // the applied version is a delete (tombstone)
}

// ChangedItems streams the items of sourceTable whose applied version was
// recorded (items.applied_at, the writing transaction's start) at or after
// since, in no particular order, in one pass over the table's bookkeeping.
// The caller reads them with Next and must Close them; db stays busy until
// then.
func (l *Ledger) ChangedItems(ctx context.Context, db Execer, sourceTable string, since time.Time) (*ChangedRows, error) {
	rows, err := db.Query(ctx, `SELECT item_key, origin, deleted FROM `+l.T("items")+`
		WHERE source_table = $1 AND applied_at >= $2`, sourceTable, since)
	if err != nil {
		return nil, fmt.Errorf("reading the items of %s changed since %s: %w", sourceTable, since.Format(time.RFC3339), err)
	}
	return &ChangedRows{rows: rows, table: sourceTable}, nil
}

// ChangedRows are the rows ChangedItems streams.
type ChangedRows struct {
	rows  pgx.Rows
	table string
}

// Next returns the next changed item; ok is false at the end.
func (c *ChangedRows) Next() (it ChangedItem, ok bool, err error) {
	if !c.rows.Next() {
		if err := c.rows.Err(); err != nil {
			return it, false, fmt.Errorf("reading changed items of %s: %w", c.table, err)
		}
		return it, false, nil
	}
	if err := c.rows.Scan(&it.Key, &it.Origin, &it.Deleted); err != nil {
		return it, false, fmt.Errorf("reading changed items of %s: %w", c.table, err)
	}
	return it, true, nil
}

// Close ends the stream.
func (c *ChangedRows) Close() { c.rows.Close() }

// checkpointDDL creates the checkpoints of named verify runs: one row per
// Scan segment of the run, with the segment's last evaluated key and its
// counts and findings so far (JSON), committed as the run goes. Each
// statement is idempotent.
func (l *Ledger) checkpointDDL() []string {
	return []string{
		`ALTER TABLE ` + l.T("verify_runs") + ` ADD COLUMN IF NOT EXISTS segments integer`,
		`CREATE TABLE IF NOT EXISTS ` + l.T("verify_segments") + ` (
	run_id     bigint NOT NULL REFERENCES ` + l.T("verify_runs") + ` ON DELETE CASCADE,
	segment    integer NOT NULL,
	done       boolean NOT NULL DEFAULT false,
	last_key   text,
	state      text,
	items      bigint NOT NULL DEFAULT 0,
	worker     text,
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (run_id, segment)
)`,
	}
}

// RunHandle is a named, checkpointed verify run in progress.
type RunHandle struct {
	ID        int64
	Segments  int
	StartedAt time.Time
	// Created: this call created the run (it had no unfinished run).
	Created bool
	// Finished: the run asked to be continued is already finished (its
	// report is recorded); nothing is left to read.
	Finished bool
}

// ErrRunUnfinished is returned by OpenVerifyRun when a run of that name is
// unfinished and the caller asked for a new one.
var ErrRunUnfinished = errors.New("an unfinished run of that name exists")

// OpenVerifyRun starts or continues the named checkpointed run of
// sourceTable. With cont false it starts a new run, replacing a finished
// one of the same name, and fails with ErrRunUnfinished when one is
// unfinished. With cont true it continues the run of that name (which must
// have the same mapping fingerprint; Finished says when it has already
// finished), or starts one if there is none; segments is used only when
// the run is created. Concurrent callers agree on one run.
func (l *Ledger) OpenVerifyRun(ctx context.Context, db interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}, sourceTable, name, fingerprint string, segments int, cont bool) (RunHandle, error) {
	tx, err := db.Begin(ctx)
	if err != nil {
		return RunHandle{}, fmt.Errorf("opening verify run %s: %w", name, err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit this is a no-op
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('ddb2pg.verify_run:' || $1 || ':' || $2))`,
		sourceTable, name); err != nil {
		return RunHandle{}, fmt.Errorf("opening verify run %s: %w", name, err)
	}
	var h RunHandle
	var fp string
	var finished bool
	var segs *int32
	err = tx.QueryRow(ctx, `SELECT run_id, mapping_fingerprint, finished_at IS NOT NULL, segments, started_at
		FROM `+l.T("verify_runs")+` WHERE source_table = $1 AND name = $2`, sourceTable, name).
		Scan(&h.ID, &fp, &finished, &segs, &h.StartedAt)
	switch {
	case err == pgx.ErrNoRows:
	case err != nil:
		return RunHandle{}, fmt.Errorf("opening verify run %s: %w", name, err)
	case segs != nil && cont:
		if fp != fingerprint {
			return RunHandle{}, fmt.Errorf("verify run %s was started with another mapping (fingerprint %.12s, this one %.12s)", name, fp, fingerprint)
		}
		h.Segments, h.Finished = int(*segs), finished
		return h, tx.Commit(ctx)
	case !finished && segs != nil:
		return RunHandle{}, fmt.Errorf("verify run %s of %s: %w", name, sourceTable, ErrRunUnfinished)
	default:
		if _, err := tx.Exec(ctx, `DELETE FROM `+l.T("verify_runs")+` WHERE run_id = $1`, h.ID); err != nil {
			return RunHandle{}, fmt.Errorf("replacing verify run %s: %w", name, err)
		}
	}
	h = RunHandle{Segments: segments, Created: true}
	if err := tx.QueryRow(ctx, `INSERT INTO `+l.T("verify_runs")+` (source_table, name, mapping_fingerprint, mode, started_at, segments)
		VALUES ($1, $2, $3, 'scan', now(), $4) RETURNING run_id, started_at`, sourceTable, name, fingerprint, segments).
		Scan(&h.ID, &h.StartedAt); err != nil {
		return RunHandle{}, fmt.Errorf("creating verify run %s: %w", name, err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO `+l.T("verify_segments")+` (run_id, segment)
		SELECT $1, s FROM generate_series(0, $2 - 1) AS s`, h.ID, segments); err != nil {
		return RunHandle{}, fmt.Errorf("creating the segments of verify run %s: %w", name, err)
	}
	return h, tx.Commit(ctx)
}

// SegmentCheckpoint is one segment's progress in a checkpointed run.
type SegmentCheckpoint struct {
	Segment int
	Done    bool
	LastKey string // "" before the first checkpoint
	State   string // the verifier's counts and findings (JSON), "" at first
	Items   int64
}

// lockKeys are the advisory lock keys of a run's segment (segment -1: the
// right to finish the run).
func lockKeys(runID int64, segment int) (int32, int32) {
	return int32(runID % (1 << 31)), int32(segment)
}

// ClaimVerifySegment takes the first segment of the run that is not done
// and that no other session holds, and returns its checkpoint. The claim is
// a session advisory lock on conn, so it ends when the claimer's
// connection does (a killed process frees its segments at once); conn must
// be a dedicated connection, kept for as long as the claim, and
// ReleaseVerifySegment gives it back. ok is false when no segment is free.
// The lock is re-entrant within the session: held lists the segments the
// caller already holds on conn, which are skipped.
func (l *Ledger) ClaimVerifySegment(ctx context.Context, conn Execer, runID int64, held map[int]bool) (c SegmentCheckpoint, ok bool, err error) {
	rows, err := conn.Query(ctx, `SELECT segment FROM `+l.T("verify_segments")+` WHERE run_id = $1 AND NOT done ORDER BY segment`, runID)
	if err != nil {
		return c, false, fmt.Errorf("listing the segments of verify run %d: %w", runID, err)
	}
	var segs []int
	for rows.Next() {
		var s int
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return c, false, fmt.Errorf("listing the segments of verify run %d: %w", runID, err)
		}
		segs = append(segs, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return c, false, fmt.Errorf("listing the segments of verify run %d: %w", runID, err)
	}
	for _, s := range segs {
		if held[s] {
			continue
		}
		k1, k2 := lockKeys(runID, s)
		var got bool
		if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1, $2)`, k1, k2).Scan(&got); err != nil {
			return c, false, fmt.Errorf("claiming segment %d of verify run %d: %w", s, runID, err)
		}
		if !got {
			continue
		}
		var lk, st *string
		c.Segment = s
		err := conn.QueryRow(ctx, `SELECT done, last_key, state, items FROM `+l.T("verify_segments")+`
			WHERE run_id = $1 AND segment = $2`, runID, s).Scan(&c.Done, &lk, &st, &c.Items)
		if err == nil && c.Done {
			err = l.ReleaseVerifySegment(ctx, conn, runID, s) // finished meanwhile
			if err == nil {
				continue
			}
		}
		if err != nil {
			return c, false, fmt.Errorf("reading segment %d of verify run %d: %w", s, runID, err)
		}
		if lk != nil {
			c.LastKey = *lk
		}
		if st != nil {
			c.State = *st
		}
		return c, true, nil
	}
	return c, false, nil
}

// ReleaseVerifySegment gives up the claim ClaimVerifySegment took on conn.
func (l *Ledger) ReleaseVerifySegment(ctx context.Context, conn Execer, runID int64, segment int) error {
	k1, k2 := lockKeys(runID, segment)
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock($1, $2)`, k1, k2); err != nil {
		return fmt.Errorf("releasing segment %d of verify run %d: %w", segment, runID, err)
	}
	return nil
}

// SaveVerifySegment commits a segment's checkpoint: everything up to
// lastKey is in state; done marks the segment finished.
func (l *Ledger) SaveVerifySegment(ctx context.Context, db Execer, runID int64, c SegmentCheckpoint, worker string) error {
	_, err := db.Exec(ctx, `UPDATE `+l.T("verify_segments")+` SET done = $3, last_key = $4, state = $5, items = $6,
		worker = $7, updated_at = now() WHERE run_id = $1 AND segment = $2`,
		runID, c.Segment, c.Done, c.LastKey, c.State, c.Items, worker)
	if err != nil {
		return fmt.Errorf("saving the checkpoint of segment %d of verify run %d: %w", c.Segment, runID, err)
	}
	return nil
}

// VerifySegments returns every segment's checkpoint, in segment order.
func (l *Ledger) VerifySegments(ctx context.Context, db Execer, runID int64) ([]SegmentCheckpoint, error) {
	rows, err := db.Query(ctx, `SELECT segment, done, coalesce(last_key, ''), coalesce(state, ''), items
		FROM `+l.T("verify_segments")+` WHERE run_id = $1 ORDER BY segment`, runID)
	if err != nil {
		return nil, fmt.Errorf("reading the segments of verify run %d: %w", runID, err)
	}
	defer rows.Close()
	var out []SegmentCheckpoint
	for rows.Next() {
		var c SegmentCheckpoint
		if err := rows.Scan(&c.Segment, &c.Done, &c.LastKey, &c.State, &c.Items); err != nil {
			return nil, fmt.Errorf("reading the segments of verify run %d: %w", runID, err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// VerifySegmentsLeft counts the run's segments not done yet.
func (l *Ledger) VerifySegmentsLeft(ctx context.Context, db Execer, runID int64) (int, error) {
	var n int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM `+l.T("verify_segments")+` WHERE run_id = $1 AND NOT done`, runID).Scan(&n); err != nil {
		return 0, fmt.Errorf("reading the segments of verify run %d: %w", runID, err)
	}
	return n, nil
}

// TryFinishVerifyRun takes, on the dedicated conn, the right to finish the
// run (render and record its report); false when another session holds it.
func (l *Ledger) TryFinishVerifyRun(ctx context.Context, conn Execer, runID int64) (bool, error) {
	k1, k2 := lockKeys(runID, -1)
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1, $2)`, k1, k2).Scan(&got); err != nil {
		return false, fmt.Errorf("claiming the finish of verify run %d: %w", runID, err)
	}
	return got, nil
}

// VerifyRunFinished reports whether the run's report is recorded.
func (l *Ledger) VerifyRunFinished(ctx context.Context, db Execer, runID int64) (bool, error) {
	var done bool
	err := db.QueryRow(ctx, `SELECT finished_at IS NOT NULL AND result IS NOT NULL FROM `+l.T("verify_runs")+` WHERE run_id = $1`, runID).Scan(&done)
	if err != nil {
		return false, fmt.Errorf("reading verify run %d: %w", runID, err)
	}
	return done, nil
}
