package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/ddb2pg/ddb2pg/pkg/ledger"
	"github.com/ddb2pg/ddb2pg/pkg/status"
)

func newStatusCmd() *cobra.Command {
	var (
		mappingPath, dbURL, stateSchema, htmlPath string
		asJSON                                    bool
	)
	cmd := &cobra.Command{
		Use:   "status --mapping mapping.yaml --database-url URL [--json] [--html F]",
		Short: "Show the migration's state from the bookkeeping: backfill, stream lag, rejects, cutover checks",
		Long: `Reads ddb2pg's bookkeeping schema (it writes nothing) and prints one screen: each export's
accounting, the poller's position and lag per shard, when a stream record was last applied (by the
Lambda or the poller), rejects by table, column and reason, and the cutover checks the bookkeeping
can answer. Verify runs are not recorded there: ddb2pg verify decides the cutover.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := loadMapping(mappingPath)
			if err != nil {
				return err
			}
			url, err := databaseURL(dbURL)
			if err != nil {
				return err
			}
			led, err := ledger.New(stateSchema)
			if err != nil {
				return usageError{err}
			}
			ctx := cmd.Context()
			pool, err := openPool(ctx, url, 1)
			if err != nil {
				return err
			}
			defer pool.Close()
			r, err := status.Gather(ctx, pool, led, m.Source.Table)
			if err != nil {
				return err
			}
			if htmlPath != "" {
				if err := writeStatusHTML(htmlPath, r); err != nil {
					return err
				}
			}
			if asJSON {
				return r.JSON(cmd.OutOrStdout())
			}
			return r.Text(cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&mappingPath, "mapping", "", "mapping file (YAML)")
	f.StringVar(&dbURL, "database-url", "", "PostgreSQL URL (default $DATABASE_URL)")
	f.StringVar(&stateSchema, "state-schema", ledger.DefaultSchema, "schema of ddb2pg's bookkeeping tables")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	f.StringVar(&htmlPath, "html", "", "also write the report as a self-contained HTML page with a lag-over-time chart to this file")
	return cmd
}

func writeStatusHTML(path string, r *status.Report) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("writing the status page: %w", err)
	}
	if err := r.HTML(f); err != nil {
		f.Close()
		return fmt.Errorf("writing the status page %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing the status page %s: %w", path, err)
	}
	return nil
}
