package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ddb2pg/ddb2pg/pkg/ledger"
)

// maxReasonGroups is how many kinds of rejects the summary lists.
const maxReasonGroups = 5

// printRejectSummary says why items were rejected: the top reasons with
// counts, table, column and one example key; for an export, the files where
// one reason rejected most items (then the mapping is the likely cause);
// and the SQL that lists them all. It is best effort: a failed read prints
// a line saying so.
func printRejectSummary(ctx context.Context, w io.Writer, db ledger.Execer, led *ledger.Ledger, f ledger.RejectFilter) {
	groups, err := led.RejectGroupsWhere(ctx, db, f, maxReasonGroups+1)
	if err != nil {
		fmt.Fprintf(w, "\n(could not summarise the rejects: %v)\n", err)
		return
	}
	if len(groups) == 0 {
		return
	}
	fmt.Fprintf(w, "\nwhy items were rejected (top reasons):\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  items\tcolumn\treason\texample key")
	for i, g := range groups {
		if i == maxReasonGroups {
			fmt.Fprintln(tw, "  …\t\tmore reasons: see the query below\t")
			break
		}
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\n", g.Count, columnLabel(g.Table, g.Column), g.Reason, g.ExampleKey)
	}
	tw.Flush()
	where := fmt.Sprintf("source_table = %s", sqlLiteral(f.SourceTable))
	if f.ExportID != "" {
		where = "export_id = " + sqlLiteral(f.ExportID)
		if dom, err := led.DominantRejects(ctx, db, f.ExportID); err == nil {
			for _, d := range dom {
				col := columnLabel(d.Table, d.Column)
				fmt.Fprintf(w, "%d of the %d items of %s were rejected for one reason (%s: %s): the mapping is the likely cause\n",
					d.Count, d.Items, d.FileKey, col, d.Reason)
			}
		}
	}
	if f.Stream {
		where += " AND shard_id IS NOT NULL"
	}
	if !f.Since.IsZero() {
		where += " AND created_at >= " + sqlLiteral(f.Since.UTC().Format(time.RFC3339Nano))
	}
	fmt.Fprintf(w, "all of them: SELECT item_key, pg_table, pg_column, reason, raw_value, origin FROM %s WHERE %s ORDER BY id;\n",
		led.T("rejects"), where)
}

func columnLabel(table, column string) string {
	switch {
	case table == "":
		return "(before mapping)"
	case column == "":
		return table
	}
	return table + "." + column
}

// sqlLiteral quotes s for SQL the user copies; it is printed, never run.
func sqlLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
