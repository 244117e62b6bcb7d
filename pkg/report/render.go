package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteJSON writes the --json report (the documented schema).
func WriteJSON(w io.Writer, r *Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

func show(p *string) string {
	if p == nil {
		return "NULL"
	}
	return *p
}

// orNot returns s, or what to say when it is empty (a run that stopped
// before reaching that step).
func orNot(s, none string) string {
	if s == "" {
		return none
	}
	return s
}

func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// WriteTerminal writes the summary the CLI prints: per-table counts, the
// first differences, and the verdict.
func WriteTerminal(w io.Writer, r *Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	nw := len("table")
	for _, name := range r.OrderedTables() {
		nw = max(nw, len(name))
	}
	// names padded to one width read left-aligned in right-aligned columns
	fmt.Fprintf(tw, "%-*s\texpected\tmatched\tmissing\textra\tmismatched\trejected\tshared conflict\torphaned\t\n", nw, "table")
	for _, name := range r.OrderedTables() {
		c := r.Tables[name]
		fmt.Fprintf(tw, "%-*s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", nw, name, c.ExpectedRows, c.Matched, c.Missing, c.Extra,
			c.Mismatched, c.Rejected, c.SharedConflict, c.Orphaned)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nitems read %d (rejected %d, absent keys %d), mode %s, extra-row pass %s, orphan pass %s\n",
		r.Items.Read, r.Items.Rejected, r.Items.Absent, orNot(r.Mode, "none (not started)"), orNot(r.ExtraPass, "not run"), orphanPass(r))
	if r.Changed != nil {
		fmt.Fprintf(w, "changed-since: %s\n", r.Changed.Describe())
	}
	if r.SampleBound != nil {
		fmt.Fprintf(w, "sample: %s\n", r.SampleBound.Describe())
	}
	if r.Recheck.Suspects > 0 {
		fmt.Fprintf(w, "recheck: %d suspects, %d resolved on re-read, %d persisted\n",
			r.Recheck.Suspects, r.Recheck.Resolved, r.Recheck.Persisted)
	}
	const maxShown = 10
	if len(r.Samples) > 0 {
		fmt.Fprintln(w, "\ndifferences (first of each kind):")
		for i, s := range r.Samples {
			if i == maxShown {
				fmt.Fprintf(w, "  ... %d more in the report\n", int64(len(r.Samples)-maxShown)+r.SamplesOmitted)
				break
			}
			fmt.Fprintf(w, "  %-15s %s %s item %s", s.Class, s.Table, s.Row, s.Key)
			if s.Column != "" {
				fmt.Fprintf(w, " column %s: DynamoDB %s, PostgreSQL %s", s.Column,
					shorten(show(s.DynamoDBValue), 60), shorten(show(s.PostgresValue), 60))
				if s.OtherKey != "" {
					fmt.Fprintf(w, ", item %s says %s", s.OtherKey, shorten(show(s.OtherValue), 60))
				}
			}
			fmt.Fprintln(w)
		}
	}
	if len(r.Rejected) > 0 {
		fmt.Fprintf(w, "\n%d items are rejected by the mapping (not divergence), e.g. %s: %s\n",
			r.Items.Rejected, r.Rejected[0].Key, r.Rejected[0].Reason)
	}
	if r.Error != "" {
		fmt.Fprintf(w, "\nINCOMPLETE: %s\n", r.Error)
	}
	fmt.Fprintf(w, "\nverdict: %s (%d divergent rows, %d allowed) in %.1fs\n", r.Verdict, r.DivergentRows,
		r.MaxDivergence, r.Timing.DurationSeconds)
	return nil
}

// orphanPass describes the orphan pass and whether orphans count.
func orphanPass(r *Result) string {
	s := r.OrphanPass
	if s == "" {
		s = "not run"
	}
	if r.OrphansDiverge {
		return s + " (orphaned rows count as divergence)"
	}
	return s + " (orphaned rows are not divergence)"
}

func mdEscape(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	s = strings.ReplaceAll(s, "\n", " ")
	return s
}

func mdCode(s string) string {
	if s == "" {
		return ""
	}
	return "`" + strings.ReplaceAll(mdEscape(s), "`", "'") + "`"
}

func mdVal(p *string) string {
	if p == nil {
		return "NULL"
	}
	return mdCode(shorten(*p, 200))
}

// WriteMarkdown writes the summary for pasting into a ticket.
func WriteMarkdown(w io.Writer, r *Result) error {
	var b strings.Builder
	icon := "✅"
	if r.Verdict != GO {
		icon = "❌"
	}
	fmt.Fprintf(&b, "## ddb2pg verify: %s %s\n\n", icon, r.Verdict)
	fmt.Fprintf(&b, "DynamoDB table `%s`, mode %s: **%d divergent rows** (allowed %d); %d items read, %d rejected by the mapping.\n\n",
		r.SourceTable, orNot(r.Mode, "none (not started)"), r.DivergentRows, r.MaxDivergence, r.Items.Read, r.Items.Rejected)
	if r.Changed != nil {
		fmt.Fprintf(&b, "Changed since: %s.\n\n", mdEscape(r.Changed.Describe()))
	}
	if r.SampleBound != nil {
		fmt.Fprintf(&b, "Sample: %s.\n\n", mdEscape(r.SampleBound.Describe()))
	}
	if r.Error != "" {
		fmt.Fprintf(&b, "> **Incomplete run:** %s\n\n", mdEscape(r.Error))
	}
	b.WriteString("| table | expected | matched | missing | extra | mismatched | rejected | shared conflict | orphaned |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, name := range r.OrderedTables() {
		c := r.Tables[name]
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d | %d | %d | %d |\n", mdEscape(name), c.ExpectedRows, c.Matched,
			c.Missing, c.Extra, c.Mismatched, c.Rejected, c.SharedConflict, c.Orphaned)
	}
	fmt.Fprintf(&b, "\nExtra-row pass: %s. Orphan pass: %s. Recheck: %d suspects, %d resolved, %d persisted.\n",
		orNot(r.ExtraPass, "not run"), orphanPass(r), r.Recheck.Suspects, r.Recheck.Resolved, r.Recheck.Persisted)
	if len(r.Samples) > 0 {
		b.WriteString("\n### Differences\n\n| class | table | row | item | column | DynamoDB | PostgreSQL |\n|---|---|---|---|---|---|---|\n")
		for _, s := range r.Samples {
			ddb := mdVal(s.DynamoDBValue)
			if s.OtherKey != "" {
				ddb += " vs " + mdCode(s.OtherKey) + ": " + mdVal(s.OtherValue)
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", s.Class, mdEscape(s.Table), mdCode(s.Row),
				mdCode(s.Key), mdEscape(s.Column), ddb, mdVal(s.PostgresValue))
		}
		if r.SamplesOmitted > 0 {
			fmt.Fprintf(&b, "\n%d more differences are counted above but not listed.\n", r.SamplesOmitted)
		}
	}
	if len(r.Rejected) > 0 {
		b.WriteString("\n### Rejected items (not divergence)\n\n| item | table | column | reason |\n|---|---|---|---|\n")
		for _, x := range r.Rejected {
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", mdCode(x.Key), mdEscape(x.Table), mdEscape(x.Column), mdEscape(x.Reason))
		}
	}
	if len(r.Backfill.Exports) > 0 {
		b.WriteString("\n### Backfill\n\n| export | manifest items | loaded | skipped | rejected | files done |\n|---|---:|---:|---:|---:|---:|\n")
		for _, e := range r.Backfill.Exports {
			fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d/%d |\n", mdCode(e.ExportID), e.ManifestItems, e.LoadedItems,
				e.SkippedItems, e.RejectedItems, e.FilesDone, e.Files)
		}
	}
	if len(r.Stream.Shards) > 0 {
		lag := "n/a"
		if r.Stream.MaxLagSeconds != nil {
			lag = fmt.Sprintf("%.1fs", *r.Stream.MaxLagSeconds)
		}
		fmt.Fprintf(&b, "\nStream: %d shards, max lag %s.\n", len(r.Stream.Shards), lag)
	}
	p := r.Parameters
	fmt.Fprintf(&b, "\n<sub>mapping %s (%s), segments %d, max RCU %g, consistent read %t, sample %d, recheck %d × %s; started %s, %.1fs, %.0f items/s, %.1f RCU</sub>\n",
		mdCode(p.Mapping), shorten(p.MappingFingerprint, 12), p.Segments, p.MaxRCU, p.ConsistentRead, p.Sample, p.Recheck,
		p.RecheckDelay, r.Timing.StartedAt.Format("2006-01-02 15:04:05Z07:00"), r.Timing.DurationSeconds,
		r.Timing.ItemsPerSecond, r.Timing.ConsumedRCU)
	_, err := io.WriteString(w, b.String())
	return err
}
