package verify

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/ddb2pg/ddb2pg/pkg/report"
)

// readBookkeeping fills the report's backfill accounting, recorded rejects
// and stream state from the bookkeeping schema. Missing tables (no backfill
// or stream ran yet) are noted, not errors: they are context for the lead,
// not part of the comparison.
func (v *verifier) readBookkeeping(ctx context.Context) {
	r := v.res
	r.Backfill.Exports = []report.Export{}
	r.Stream.Shards = []report.Shard{}
	r.RecordedRejects.Items = []report.RecordedReject{}
	exists := func(table string) bool {
		var ok bool
		err := v.pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, v.ledger.T(table)).Scan(&ok)
		return err == nil && ok
	}
	if !exists("exports") || !exists("export_files") {
		r.Backfill.Note = "no backfill bookkeeping found (schema " + v.ledger.Schema() + ")"
	} else if err := v.readExports(ctx); err != nil {
		r.Backfill.Note = "could not read the backfill bookkeeping: " + err.Error()
	}
	if exists("rejects") {
		if err := v.readRejects(ctx); err != nil {
			r.Backfill.Note = "could not read recorded rejects: " + err.Error()
		}
	}
	if !exists("stream_shards") {
		r.Stream.Note = "no stream checkpoints found (the stream poller has not run)"
	} else if err := v.readStream(ctx); err != nil {
		r.Stream.Note = "could not read the stream checkpoints: " + err.Error()
	}
}

func (v *verifier) readExports(ctx context.Context) error {
	rows, err := v.pool.Query(ctx, `SELECT e.export_id, e.export_time, e.item_count, e.file_count,
		count(f.file_key) FILTER (WHERE f.status = 'done'),
		coalesce(sum(f.loaded_items), 0)::bigint, coalesce(sum(f.skipped_items), 0)::bigint,
		coalesce(sum(f.rejected_items), 0)::bigint, e.finished_at IS NOT NULL
		FROM `+v.ledger.T("exports")+` e LEFT JOIN `+v.ledger.T("export_files")+` f USING (export_id)
		WHERE e.source_table = $1
		GROUP BY e.export_id ORDER BY e.started_at, e.export_id`, v.m.Source.Table)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var x report.Export
		var et pgtype.Timestamptz
		var files int32
		if err := rows.Scan(&x.ExportID, &et, &x.ManifestItems, &files, &x.FilesDone, &x.LoadedItems,
			&x.SkippedItems, &x.RejectedItems, &x.Finished); err != nil {
			return err
		}
		x.Files = int64(files)
		if et.Valid {
			t := et.Time.UTC()
			x.ExportTime = &t
		}
		v.res.Backfill.Exports = append(v.res.Backfill.Exports, x)
	}
	return rows.Err()
}

func (v *verifier) readRejects(ctx context.Context) error {
	r := v.res
	if err := v.pool.QueryRow(ctx, `SELECT count(*) FROM `+v.ledger.T("rejects")+` WHERE source_table = $1`,
		v.m.Source.Table).Scan(&r.RecordedRejects.Total); err != nil {
		return err
	}
	rows, err := v.pool.Query(ctx, `SELECT coalesce(item_key, ''), coalesce(pg_table, ''), coalesce(pg_column, ''),
		reason, origin, created_at FROM `+v.ledger.T("rejects")+` WHERE source_table = $1 ORDER BY id LIMIT $2`,
		v.m.Source.Table, v.opts.MaxRejected)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var x report.RecordedReject
		if err := rows.Scan(&x.Key, &x.Table, &x.Column, &x.Reason, &x.Origin, &x.At); err != nil {
			return err
		}
		x.At = x.At.UTC()
		r.RecordedRejects.Items = append(r.RecordedRejects.Items, x)
	}
	return rows.Err()
}

func (v *verifier) readStream(ctx context.Context) error {
	rows, err := v.pool.Query(ctx, `SELECT stream_arn::text, shard_id::text, coalesce(parent_shard_id::text, ''),
		coalesce(last_seq::text, ''), last_record_time, coalesce(closed, false), now()
		FROM `+v.ledger.T("stream_shards")+` WHERE stream_arn LIKE '%:table/' || $1 || '/stream/%'
		ORDER BY stream_arn, shard_id`, v.m.Source.Table)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var x report.Shard
		var lrt pgtype.Timestamptz
		var now time.Time
		if err := rows.Scan(&x.StreamARN, &x.ShardID, &x.Parent, &x.LastSeq, &lrt, &x.Closed, &now); err != nil {
			return err
		}
		if lrt.Valid {
			t := lrt.Time.UTC()
			x.LastRecordTime = &t
			if !x.Closed {
				lag := now.Sub(t).Seconds()
				x.LagSeconds = &lag
				if v.res.Stream.MaxLagSeconds == nil || lag > *v.res.Stream.MaxLagSeconds {
					l := lag
					v.res.Stream.MaxLagSeconds = &l
				}
			}
		}
		v.res.Stream.Shards = append(v.res.Stream.Shards, x)
	}
	return rows.Err()
}
