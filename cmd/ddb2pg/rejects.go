package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/ddb2pg/ddb2pg/pkg/ledger"
)

// maxReasonGroups is how many kinds of rejects the summary lists.
const maxReasonGroups = 5

// printRejectSummary says why items of an export were rejected: the top
// reasons with counts, table, column and one example key, the files where
// one reason rejected most items (then the mapping is the likely cause),
// and the SQL that lists them all. It is best effort: a failed read prints
// a line saying so.
func printRejectSummary(ctx context.Context, w io.Writer, db ledger.Execer, led *ledger.Ledger, sourceTable, exportID string) {
	groups, err := led.RejectGroups(ctx, db, sourceTable, exportID, maxReasonGroups+1)
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
		col := g.Table
		if g.Column != "" {
			col += "." + g.Column
		}
		if col == "" {
			col = "(before mapping)"
		}
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\n", g.Count, col, g.Reason, g.ExampleKey)
	}
	tw.Flush()
	dom, err := led.DominantRejects(ctx, db, exportID)
	if err == nil {
		for _, d := range dom {
			col := d.Table
			if d.Column != "" {
				col += "." + d.Column
			}
			fmt.Fprintf(w, "%d of the %d items of %s were rejected for one reason (%s: %s): the mapping is the likely cause\n",
				d.Count, d.Items, d.FileKey, col, d.Reason)
		}
	}
	fmt.Fprintf(w, "all of them: SELECT item_key, pg_table, pg_column, reason, raw_value, origin FROM %s WHERE export_id = '%s' ORDER BY id;\n",
		led.T("rejects"), strings.ReplaceAll(exportID, "'", "''"))
}
