package ledger

import (
	"context"
	"fmt"
	"time"
)

// verifyDDL creates verify's bookkeeping: one row per verify run (its
// parameters, verdict, counts and timing, and the whole report as JSON
// text: jsonb cannot hold the \u0000 a sample of a NUL byte needs), so
// later runs can start from the last full one (changed-since) and reports
// can show the trend. Each statement is idempotent.
func (l *Ledger) verifyDDL() []string {
	return []string{
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
	}
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

// VerifyHistory lists the latest runs of sourceTable under the mapping with
// this fingerprint, oldest first, at most limit of them (Result left nil).
func (l *Ledger) VerifyHistory(ctx context.Context, db Execer, sourceTable, fingerprint string, limit int) ([]VerifyRun, error) {
	ok, err := l.HasTable(ctx, db, "verify_runs")
	if err != nil || !ok {
		return nil, err
	}
	rows, err := db.Query(ctx, `SELECT * FROM (SELECT `+verifyRunCols+` FROM `+l.T("verify_runs")+`
		WHERE source_table = $1 AND mapping_fingerprint = $2 ORDER BY started_at DESC, run_id DESC LIMIT $3) AS h
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

// ChangedItems returns, in key order, up to limit items of sourceTable
// whose applied version was recorded (items.applied_at, the writing
// transaction's start) at or after since, with keys after the given one
// ("" to start). Call again with the last key returned until fewer than
// limit come back.
func (l *Ledger) ChangedItems(ctx context.Context, db Execer, sourceTable string, since time.Time, after string, limit int) ([]ChangedItem, error) {
	rows, err := db.Query(ctx, `SELECT item_key, origin, deleted FROM `+l.T("items")+`
		WHERE source_table = $1 AND item_key > $2 AND applied_at >= $3 ORDER BY item_key LIMIT $4`,
		sourceTable, after, since, limit)
	if err != nil {
		return nil, fmt.Errorf("reading the items of %s changed since %s: %w", sourceTable, since.Format(time.RFC3339), err)
	}
	defer rows.Close()
	out := make([]ChangedItem, 0, limit)
	for rows.Next() {
		var c ChangedItem
		if err := rows.Scan(&c.Key, &c.Origin, &c.Deleted); err != nil {
			return nil, fmt.Errorf("reading changed items of %s: %w", sourceTable, err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
