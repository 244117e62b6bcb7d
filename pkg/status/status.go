// Package status gathers, from the bookkeeping alone, what the lead needs on
// one screen during a migration: backfill accounting per export, the stream's
// position and lag per shard, the last stream apply, rejects by table and
// reason, and the cutover checks that the bookkeeping can answer. It reads
// through pkg/ledger and writes nothing.
package status

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/ddb2pg/ddb2pg/pkg/ledger"
)

// maxRejectGroups is how many kinds of rejects a report lists.
const maxRejectGroups = 20

// LagWindow is how far back a report's lag history reaches.
const LagWindow = 24 * time.Hour

// Shard is one stream shard's checkpoint with its lag.
type Shard struct {
	StreamARN      string     `json:"stream_arn"`
	ShardID        string     `json:"shard_id"`
	Parent         string     `json:"parent_shard_id,omitempty"`
	LastSeq        string     `json:"last_seq"`
	LastRecordTime *time.Time `json:"last_record_time,omitempty"`
	Closed         bool       `json:"closed"`
	// LagSeconds is the database's now minus LastRecordTime: on a table
	// written to steadily, how far the consumer is behind (an idle table
	// shows the time since its last write). Nil without a record time, and
	// for a closed shard (read to its end: it has no lag).
	LagSeconds *float64 `json:"lag_seconds,omitempty"`
}

// Export is one export's accounting, summed over its data files.
type Export struct {
	ExportID      string     `json:"export_id"`
	ExportTime    *time.Time `json:"export_time,omitempty"` // nil for an incremental export without one
	ManifestItems int64      `json:"manifest_items"`
	Files         int64      `json:"files"`
	FilesDone     int64      `json:"files_done"`
	LoadedItems   int64      `json:"loaded_items"`
	SkippedItems  int64      `json:"skipped_items"` // a newer version was already applied
	RejectedItems int64      `json:"rejected_items"`
	// Complete: finished, every file done and every manifest item
	// accounted for (loaded, skipped or rejected).
	Complete bool `json:"complete"`
}

// RejectGroup is the rejects of one kind: same table, column and reason.
type RejectGroup struct {
	Table      string `json:"table"`
	Column     string `json:"column"`
	Reason     string `json:"reason"`
	Count      int64  `json:"count"`
	ExampleKey string `json:"example_key"`
}

// Check is one cutover condition the bookkeeping can answer.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// Report is the status of one source table's migration.
type Report struct {
	SourceTable     string     `json:"source_table"`
	At              time.Time  `json:"at"` // the database's clock
	Exports         []Export   `json:"exports"`
	Shards          []Shard    `json:"shards"`
	LastStreamApply *time.Time `json:"last_stream_apply,omitempty"`
	// LagHistory is the pollers' lag samples of the last LagWindow, oldest
	// first (the Lambda records none: its IteratorAge metric is the same).
	LagHistory  []ledger.LagSample `json:"lag_history"`
	RejectTotal int64              `json:"reject_total"`
	Rejects     []RejectGroup      `json:"rejects"`
	Checks      []Check            `json:"checks"`
	// Ready is true when every check passed. Verify runs are not recorded
	// in the bookkeeping: a GO from `ddb2pg verify` is still needed.
	Ready bool `json:"ready"`
}

// Gather reads the report of sourceTable. Bookkeeping tables that do not
// exist yet (nothing ran) read as empty.
func Gather(ctx context.Context, db ledger.Execer, led *ledger.Ledger, sourceTable string) (*Report, error) {
	r := &Report{SourceTable: sourceTable}
	if err := db.QueryRow(ctx, `SELECT now()`).Scan(&r.At); err != nil {
		return nil, fmt.Errorf("reading the database clock: %w", err)
	}
	r.At = r.At.UTC()
	has := func(t string) (bool, error) { return led.HasTable(ctx, db, t) }
	if ok, err := has("exports"); err != nil {
		return nil, err
	} else if ok {
		sums, err := led.ExportSummaries(ctx, db, sourceTable)
		if err != nil {
			return nil, err
		}
		for _, e := range sums {
			r.Exports = append(r.Exports, Export{ExportID: e.ExportID, ExportTime: e.ExportTime, ManifestItems: e.ManifestItems,
				Files: e.Files, FilesDone: e.FilesDone, LoadedItems: e.LoadedItems, SkippedItems: e.SkippedItems,
				RejectedItems: e.RejectedItems,
				Complete:      e.Finished && e.FilesDone == e.Files && e.LoadedItems+e.SkippedItems+e.RejectedItems == e.ManifestItems})
		}
	}
	if ok, err := has("stream_shards"); err != nil {
		return nil, err
	} else if ok {
		states, err := led.ShardStates(ctx, db, sourceTable)
		if err != nil {
			return nil, err
		}
		for _, s := range states {
			sh := Shard{StreamARN: s.StreamARN, ShardID: s.ShardID, Parent: s.Parent, LastSeq: s.LastSeq,
				LastRecordTime: s.LastRecordTime, Closed: s.Closed}
			if s.LastRecordTime != nil && !s.Closed {
				lag := max(s.Now.Sub(*s.LastRecordTime), 0).Seconds()
				sh.LagSeconds = &lag
			}
			r.Shards = append(r.Shards, sh)
		}
	}
	var err error
	if r.LagHistory, err = led.LagHistory(ctx, db, sourceTable, r.At.Add(-LagWindow)); err != nil {
		return nil, err
	}
	if r.LastStreamApply, err = led.LastStreamApply(ctx, db, sourceTable); err != nil {
		return nil, err
	}
	if ok, err := has("rejects"); err != nil {
		return nil, err
	} else if ok {
		if r.RejectTotal, _, err = led.RecordedRejects(ctx, db, sourceTable, 0); err != nil {
			return nil, err
		}
		groups, err := led.RejectGroups(ctx, db, sourceTable, "", maxRejectGroups)
		if err != nil {
			return nil, err
		}
		for _, g := range groups {
			r.Rejects = append(r.Rejects, RejectGroup{Table: g.Table, Column: g.Column, Reason: g.Reason, Count: g.Count, ExampleKey: g.ExampleKey})
		}
	}
	r.Checks = checks(r)
	r.Ready = true
	for _, c := range r.Checks {
		r.Ready = r.Ready && c.OK
	}
	return r, nil
}

func checks(r *Report) []Check {
	var out []Check
	c := Check{Name: "backfill", Detail: "no export was loaded"}
	for _, e := range r.Exports {
		if e.Complete && e.ExportTime != nil {
			c.OK, c.Detail = true, fmt.Sprintf("export %s loaded completely", e.ExportID)
		}
	}
	if !c.OK && len(r.Exports) > 0 {
		e := r.Exports[len(r.Exports)-1]
		c.Detail = fmt.Sprintf("export %s: %d of %d files, %d of %d items accounted", e.ExportID, e.FilesDone, e.Files,
			e.LoadedItems+e.SkippedItems+e.RejectedItems, e.ManifestItems)
	}
	out = append(out, c)
	c = Check{Name: "stream", Detail: "no stream record was applied"}
	if r.LastStreamApply != nil || len(r.Shards) > 0 {
		c.OK, c.Detail = true, "the stream is being applied"
		if r.LastStreamApply != nil {
			c.Detail = fmt.Sprintf("last stream apply %s ago", r.At.Sub(*r.LastStreamApply).Round(time.Second))
		}
	}
	out = append(out, c)
	c = Check{Name: "rejects", OK: r.RejectTotal == 0, Detail: fmt.Sprintf("%d rejects recorded", r.RejectTotal)}
	out = append(out, c)
	return out
}

// JSON writes the report as indented JSON.
func (r *Report) JSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// Text writes the one-screen summary.
func (r *Report) Text(w io.Writer) error {
	ts := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.Format(time.RFC3339)
	}
	fmt.Fprintf(w, "status of %s at %s\n\nbackfill\n", r.SourceTable, r.At.Format(time.RFC3339))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if len(r.Exports) == 0 {
		fmt.Fprintln(tw, "  (no export loaded)")
	} else {
		fmt.Fprintln(tw, "  export\texport time\tfiles\tmanifest\tloaded\talready newer\trejected\tstate")
	}
	for _, e := range r.Exports {
		state := "INCOMPLETE"
		if e.Complete {
			state = "complete"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%d/%d\t%d\t%d\t%d\t%d\t%s\n", e.ExportID, ts(e.ExportTime), e.FilesDone, e.Files,
			e.ManifestItems, e.LoadedItems, e.SkippedItems, e.RejectedItems, state)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nstream (last stream apply, Lambda or poller: %s)\n", ts(r.LastStreamApply))
	if len(r.Shards) == 0 {
		fmt.Fprintln(tw, "  (no poller checkpoint)")
	} else {
		fmt.Fprintln(tw, "  stream\tshard\tstate\tlast sequence\tlast record\tlag")
	}
	for _, s := range r.Shards {
		state, lag := "open", "-"
		if s.Closed {
			state = "closed"
		}
		if s.LagSeconds != nil {
			lag = (time.Duration(*s.LagSeconds) * time.Second).String()
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", s.StreamARN, s.ShardID, state, s.LastSeq, ts(s.LastRecordTime), lag)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nrejects: %d\n", r.RejectTotal)
	if len(r.Rejects) > 0 {
		fmt.Fprintln(tw, "  table\tcolumn\tcount\treason\texample key")
	}
	for _, g := range r.Rejects {
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\t%s\n", dash(g.Table), dash(g.Column), g.Count, g.Reason, dash(g.ExampleKey))
	}
	tw.Flush()
	fmt.Fprintf(w, "\ncutover\n")
	for _, c := range r.Checks {
		mark := "no "
		if c.OK {
			mark = "ok "
		}
		fmt.Fprintf(w, "  %s %-9s %s\n", mark, c.Name, c.Detail)
	}
	fmt.Fprintln(w, "  ?   verify    not recorded in the bookkeeping: run ddb2pg verify (a GO decides the cutover)")
	if r.Ready {
		fmt.Fprintln(w, "ready as far as the bookkeeping knows")
	} else {
		fmt.Fprintln(w, "NOT READY")
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
