package verify

import (
	"context"

	"github.com/ddb2pg/ddb2pg/pkg/report"
)

// readBookkeeping fills the report's backfill accounting, recorded rejects
// and stream state from the bookkeeping schema, read through pkg/ledger.
// Missing tables (no backfill or stream ran yet) are noted, not errors: they
// are context for the lead, not part of the comparison.
func (v *verifier) readBookkeeping(ctx context.Context) {
	r := v.res
	r.Backfill.Exports = []report.Export{}
	r.Stream.Shards = []report.Shard{}
	r.RecordedRejects.Items = []report.RecordedReject{}
	exists := func(table string) bool {
		ok, err := v.ledger.HasTable(ctx, v.pool, table)
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
	if exists("verify_runs") {
		hs, err := v.ledger.VerifyHistory(ctx, v.pool, v.m.Source.Table, v.m.Fingerprint(), 20)
		if err != nil {
			v.opts.Logger.Warn("verify: could not read the history of runs", "err", err)
		}
		for _, h := range hs {
			r.History = append(r.History, report.HistoryRun{Name: h.Name, Mode: h.Mode, StartedAt: h.StartedAt.UTC(),
				Verdict: h.Verdict, Complete: h.Complete, DivergentRows: h.DivergentRows, ItemsRead: h.ItemsRead,
				DurationSeconds: h.DurationSeconds})
		}
	}
	if !exists("stream_shards") {
		r.Stream.Note = "no stream checkpoints found (the stream poller has not run)"
	} else if err := v.readStream(ctx); err != nil {
		r.Stream.Note = "could not read the stream checkpoints: " + err.Error()
	}
}

func (v *verifier) readExports(ctx context.Context) error {
	xs, err := v.ledger.ExportSummaries(ctx, v.pool, v.m.Source.Table)
	if err != nil {
		return err
	}
	for _, x := range xs {
		v.res.Backfill.Exports = append(v.res.Backfill.Exports, report.Export{ExportID: x.ExportID,
			ExportTime: x.ExportTime, ManifestItems: x.ManifestItems, Files: x.Files, FilesDone: x.FilesDone,
			LoadedItems: x.LoadedItems, SkippedItems: x.SkippedItems, RejectedItems: x.RejectedItems,
			Finished: x.Finished})
	}
	return nil
}

func (v *verifier) readRejects(ctx context.Context) error {
	total, xs, err := v.ledger.RecordedRejects(ctx, v.pool, v.m.Source.Table, v.opts.MaxRejected)
	if err != nil {
		return err
	}
	v.res.RecordedRejects.Total = total
	for _, x := range xs {
		v.res.RecordedRejects.Items = append(v.res.RecordedRejects.Items, report.RecordedReject{Key: x.Key,
			Table: x.Table, Column: x.Column, Reason: x.Reason, Origin: x.Origin, At: x.At})
	}
	return nil
}

func (v *verifier) readStream(ctx context.Context) error {
	xs, err := v.ledger.ShardStates(ctx, v.pool, v.m.Source.Table)
	if err != nil {
		return err
	}
	for _, x := range xs {
		s := report.Shard{StreamARN: x.StreamARN, ShardID: x.ShardID, Parent: x.Parent, LastSeq: x.LastSeq,
			LastRecordTime: x.LastRecordTime, Closed: x.Closed}
		if x.LastRecordTime != nil && !x.Closed {
			lag := x.Now.Sub(*x.LastRecordTime).Seconds()
			s.LagSeconds = &lag
			if v.res.Stream.MaxLagSeconds == nil || lag > *v.res.Stream.MaxLagSeconds {
				l := lag
				v.res.Stream.MaxLagSeconds = &l
			}
		}
		v.res.Stream.Shards = append(v.res.Stream.Shards, s)
	}
	return nil
}
