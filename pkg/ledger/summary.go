package ledger

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// The read-only summaries below are what verify (and, later, cutover) report
// about the bookkeeping. They live here so that no other package reads the
// bookkeeping tables' SQL; each takes the connection to read with and writes
// nothing.

// ExportSummary is one export's accounting, summed over its data files.
type ExportSummary struct {
	ExportID      string
	ExportTime    *time.Time // nil for an incremental export without one
	ManifestItems int64      // items the manifest announces
	Files         int64      // data files in the manifest
	FilesDone     int64
	LoadedItems   int64
	SkippedItems  int64
	RejectedItems int64
	Finished      bool
}

// RecordedReject is one row of the rejects table, as listed in reports.
type RecordedReject struct {
	Key, Table, Column, Reason, Origin string
	At                                 time.Time
}

// ShardState is one stream shard's checkpoint as the poller left it.
type ShardState struct {
	StreamARN, ShardID, Parent, LastSeq string
	LastRecordTime                      *time.Time
	Closed                              bool
	// Now is the server's clock at the read, to compute lag without
	// trusting the client's.
	Now time.Time
}

// HasTable reports whether the bookkeeping table exists (a backfill or
// stream that never ran has not created it).
func (l *Ledger) HasTable(ctx context.Context, db Execer, table string) (bool, error) {
	var ok bool
	if err := db.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, l.T(table)).Scan(&ok); err != nil {
		return false, fmt.Errorf("looking for %s: %w", l.T(table), err)
	}
	return ok, nil
}

// ExportSummaries lists the exports of sourceTable in the order they were
// started.
func (l *Ledger) ExportSummaries(ctx context.Context, db Execer, sourceTable string) ([]ExportSummary, error) {
	rows, err := db.Query(ctx, `SELECT e.export_id, e.export_time, e.item_count, e.file_count,
		count(f.file_key) FILTER (WHERE f.status = 'done'),
		coalesce(sum(f.loaded_items), 0)::bigint, coalesce(sum(f.skipped_items), 0)::bigint,
		coalesce(sum(f.rejected_items), 0)::bigint, e.finished_at IS NOT NULL
		FROM `+l.T("exports")+` e LEFT JOIN `+l.T("export_files")+` f USING (export_id)
		WHERE e.source_table = $1
		GROUP BY e.export_id ORDER BY e.started_at, e.export_id`, sourceTable)
	if err != nil {
		return nil, fmt.Errorf("reading the exports of %s: %w", sourceTable, err)
	}
	defer rows.Close()
	var out []ExportSummary
	for rows.Next() {
		var x ExportSummary
		var et pgtype.Timestamptz
		var files int32
		if err := rows.Scan(&x.ExportID, &et, &x.ManifestItems, &files, &x.FilesDone, &x.LoadedItems,
			&x.SkippedItems, &x.RejectedItems, &x.Finished); err != nil {
			return nil, fmt.Errorf("reading the exports of %s: %w", sourceTable, err)
		}
		x.Files = int64(files)
		if et.Valid {
			t := et.Time.UTC()
			x.ExportTime = &t
		}
		out = append(out, x)
	}
	return out, rows.Err()
}

// RecordedRejects returns how many rejects sourceTable has and the first
// limit of them, oldest first.
func (l *Ledger) RecordedRejects(ctx context.Context, db Execer, sourceTable string, limit int) (int64, []RecordedReject, error) {
	var total int64
	if err := db.QueryRow(ctx, `SELECT count(*) FROM `+l.T("rejects")+` WHERE source_table = $1`,
		sourceTable).Scan(&total); err != nil {
		return 0, nil, fmt.Errorf("counting the rejects of %s: %w", sourceTable, err)
	}
	rows, err := db.Query(ctx, `SELECT coalesce(item_key, ''), coalesce(pg_table, ''), coalesce(pg_column, ''),
		reason, origin, created_at FROM `+l.T("rejects")+` WHERE source_table = $1 ORDER BY id LIMIT $2`,
		sourceTable, limit)
	if err != nil {
		return 0, nil, fmt.Errorf("reading the rejects of %s: %w", sourceTable, err)
	}
	defer rows.Close()
	var out []RecordedReject
	for rows.Next() {
		var x RecordedReject
		if err := rows.Scan(&x.Key, &x.Table, &x.Column, &x.Reason, &x.Origin, &x.At); err != nil {
			return 0, nil, fmt.Errorf("reading the rejects of %s: %w", sourceTable, err)
		}
		x.At = x.At.UTC()
		out = append(out, x)
	}
	return total, out, rows.Err()
}

// ShardStates lists the checkpoints of every stream of sourceTable (an ARN
// names its table), by stream and shard.
func (l *Ledger) ShardStates(ctx context.Context, db Execer, sourceTable string) ([]ShardState, error) {
	rows, err := db.Query(ctx, `SELECT stream_arn::text, shard_id::text, coalesce(parent_shard_id::text, ''),
		coalesce(last_seq::text, ''), last_record_time, coalesce(closed, false), now()
		FROM `+l.T("stream_shards")+` WHERE strpos(stream_arn, ':table/' || $1 || '/stream/') > 0
		ORDER BY stream_arn, shard_id`, sourceTable)
	if err != nil {
		return nil, fmt.Errorf("reading the stream checkpoints of %s: %w", sourceTable, err)
	}
	defer rows.Close()
	var out []ShardState
	for rows.Next() {
		var x ShardState
		var lrt pgtype.Timestamptz
		if err := rows.Scan(&x.StreamARN, &x.ShardID, &x.Parent, &x.LastSeq, &lrt, &x.Closed, &x.Now); err != nil {
			return nil, fmt.Errorf("reading the stream checkpoints of %s: %w", sourceTable, err)
		}
		if lrt.Valid {
			t := lrt.Time.UTC()
			x.LastRecordTime = &t
		}
		out = append(out, x)
	}
	return out, rows.Err()
}

// RejectGroup is the rejects of one kind: same table, column and reason.
type RejectGroup struct {
	Table, Column, Reason string
	Count                 int64
	ExampleKey            string // one item's key ("" when no item key could be read)
}

// DominantReject is a data file where a single reason rejected more than
// half of the items: the mapping, not the data, is the likely cause.
type DominantReject struct {
	FileKey       string
	Items, Count  int64
	Table, Column string
	Reason        string
}

// RejectFilter selects rejects to summarise. SourceTable is required; the
// other fields narrow it when set.
type RejectFilter struct {
	SourceTable string
	ExportID    string    // one export's
	Stream      bool      // only records the poller read (they name their shard)
	Since       time.Time // recorded at or after this time
	Seqs        []string  // only these stream records (decimal sequence numbers)
}

// RejectGroups summarises the rejects of one export (exportID "" for all of
// sourceTable's), the largest groups first, at most limit of them.
func (l *Ledger) RejectGroups(ctx context.Context, db Execer, sourceTable, exportID string, limit int) ([]RejectGroup, error) {
	return l.RejectGroupsWhere(ctx, db, RejectFilter{SourceTable: sourceTable, ExportID: exportID}, limit)
}

// RejectGroupsWhere summarises the rejects f selects by table, column and
// reason, the largest groups first, at most limit of them.
func (l *Ledger) RejectGroupsWhere(ctx context.Context, db Execer, f RejectFilter, limit int) ([]RejectGroup, error) {
	var since any
	if !f.Since.IsZero() {
		since = f.Since
	}
	var seqs any
	if f.Seqs != nil {
		seqs = f.Seqs
	}
	rows, err := db.Query(ctx, `SELECT coalesce(pg_table, ''), coalesce(pg_column, ''), reason, count(*),
		coalesce(min(item_key), '')
		FROM `+l.T("rejects")+` WHERE source_table = $1 AND ($2 = '' OR export_id = $2)
		AND (NOT $3 OR shard_id IS NOT NULL) AND ($4::timestamptz IS NULL OR created_at >= $4)
		AND ($5::text[] IS NULL OR seq = ANY($5))
		GROUP BY 1, 2, 3 ORDER BY 4 DESC, 1, 2, 3 LIMIT $6`, f.SourceTable, f.ExportID, f.Stream, since, seqs, limit)
	if err != nil {
		return nil, fmt.Errorf("summarising the rejects of %s: %w", f.SourceTable, err)
	}
	defer rows.Close()
	var out []RejectGroup
	for rows.Next() {
		var g RejectGroup
		if err := rows.Scan(&g.Table, &g.Column, &g.Reason, &g.Count, &g.ExampleKey); err != nil {
			return nil, fmt.Errorf("summarising the rejects of %s: %w", f.SourceTable, err)
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// DominantRejects lists the files of an export where one reason rejected
// more than half of the file's items.
func (l *Ledger) DominantRejects(ctx context.Context, db Execer, exportID string) ([]DominantReject, error) {
	rows, err := db.Query(ctx, `SELECT r.file_key, f.item_count, count(*), coalesce(r.pg_table, ''),
		coalesce(r.pg_column, ''), r.reason
		FROM `+l.T("rejects")+` r JOIN `+l.T("export_files")+` f USING (export_id, file_key)
		WHERE r.export_id = $1
		GROUP BY r.file_key, f.item_count, r.pg_table, r.pg_column, r.reason
		HAVING count(*) * 2 > f.item_count
		ORDER BY r.file_key`, exportID)
	if err != nil {
		return nil, fmt.Errorf("reading the rejects of export %s: %w", exportID, err)
	}
	defer rows.Close()
	var out []DominantReject
	for rows.Next() {
		var d DominantReject
		if err := rows.Scan(&d.FileKey, &d.Items, &d.Count, &d.Table, &d.Column, &d.Reason); err != nil {
			return nil, fmt.Errorf("reading the rejects of export %s: %w", exportID, err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// ServerTime reads the server's clock: the bookkeeping's times (created_at,
// applied times) are the server's, so a run that wants "what I recorded"
// takes its start from here, not from its own clock.
func (l *Ledger) ServerTime(ctx context.Context, db Execer) (time.Time, error) {
	var t time.Time
	if err := db.QueryRow(ctx, `SELECT now()`).Scan(&t); err != nil {
		return time.Time{}, fmt.Errorf("reading the server's clock: %w", err)
	}
	return t, nil
}
