package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ddb2pg/ddb2pg/internal/pgerr"
	"github.com/ddb2pg/ddb2pg/internal/progress"
	"github.com/ddb2pg/ddb2pg/pkg/backfill"
	"github.com/ddb2pg/ddb2pg/pkg/export"
	"github.com/ddb2pg/ddb2pg/pkg/ledger"
	"github.com/ddb2pg/ddb2pg/pkg/schema"
)

func newBackfillCmd() *cobra.Command {
	var (
		mappingPath, exportURI, dbURL, stateSchema, progressMode string
		renamedFrom, metricsAddr                                 string
		workers, chunk                                           int
		maxOutage                                                time.Duration
	)
	cmd := &cobra.Command{
		Use:   "backfill --mapping mapping.yaml --export EXPORT --database-url URL [--workers N]",
		Short: "Load a DynamoDB S3 export into the mapped PostgreSQL tables",
		Long: `Loads a DynamoDB point-in-time export (the folder holding manifest-summary.json,
a local path or s3://bucket/prefix/AWSDynamoDB/<exportId>) into the tables the mapping
describes. Safe to rerun after a crash, and to run as several processes on one export.
Rides out PostgreSQL restarts and lock timeouts: it reconnects with backoff for up to
--max-outage, then stops; a rerun loads only the files not done.

Exit codes: 0 all loaded; 3 finished but some items were rejected; 1 failed; 2 usage error.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if exportURI == "" {
				return usageError{errors.New("--export is required")}
			}
			tuneGC(300, 200<<20)
			m, err := loadMapping(mappingPath)
			if err != nil {
				return err
			}
			url, err := databaseURL(dbURL)
			if err != nil {
				return err
			}
			log, err := logger()
			if err != nil {
				return err
			}
			bar, err := progressRenderer(progressMode)
			if err != nil {
				return err
			}
			led, err := ledger.New(stateSchema)
			if err != nil {
				return usageError{err}
			}
			ctx := cmd.Context()
			if workers == 0 {
				workers = runtime.NumCPU()
			}
			if err := checkS3Credentials(ctx, exportURI); err != nil {
				return err
			}
			exp, err := export.Open(ctx, exportURI)
			if err != nil {
				return err
			}
			if _, err := checkMappingOnExport(ctx, m, exp, log); err != nil {
				return err
			}
			pool, err := openPool(ctx, url, workers+2)
			if err != nil {
				return err
			}
			defer pool.Close()
			// A restart between here and the load is waited out as in it.
			if err := pgerr.OutagePolicy(maxOutage).Do(ctx, func(ctx context.Context) error {
				if err := led.Ensure(ctx, pool); err != nil {
					return err
				}
				_, err := schema.Ensure(ctx, pool, m)
				return err
			}); err != nil {
				return err
			}
			var pf progress.Func
			if bar != nil {
				pf = bar.Update
			}
			reg, msrv, err := startMetrics(metricsAddr, log, pool, led, m.Source.Table)
			if err != nil {
				return err
			}
			if msrv != nil {
				defer msrv.Close()
				pf = withMetrics(pf, reg)
			}
			sum, err := backfill.Run(ctx, backfill.Config{Pool: pool, Mapping: m, Export: exp, Ledger: led, URI: exportURI,
				RenamedFrom: renamedFrom, Workers: workers, ChunkItems: chunk, MaxOutage: maxOutage, Progress: pf, Logger: log, WaitForOthers: true})
			if bar != nil {
				bar.Done()
			}
			if sum != nil {
				printSummary(cmd.OutOrStdout(), sum)
			}
			var wrongTable *backfill.SourceTableError
			if errors.As(err, &wrongTable) {
				if wrongTable.RenamedFrom == "" {
					err = fmt.Errorf("%w (--renamed-from %s)", err, wrongTable.ExportTable)
				}
				return usageError{err}
			}
			var inc *backfill.IncompleteError
			if errors.As(err, &inc) {
				return &exitError{code: exitFailed, err: err}
			}
			if err != nil {
				return err
			}
			if sum.Status.Rejected > 0 {
				printRejectSummary(ctx, cmd.OutOrStdout(), pool, led, ledger.RejectFilter{SourceTable: m.Source.Table, ExportID: sum.ExportID})
				return &exitError{code: exitPartial, err: fmt.Errorf("%d items were rejected: see %s.rejects", sum.Status.Rejected, led.Schema())}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&mappingPath, "mapping", "", "mapping file (YAML)")
	f.StringVar(&exportURI, "export", "", "export folder: local path or s3://bucket/prefix/AWSDynamoDB/<exportId>")
	f.StringVar(&dbURL, "database-url", "", "PostgreSQL URL (default $DATABASE_URL)")
	intFlag(f, &workers, "workers", 0, 1, 1024, "files loaded at once, 1 to 1024 (default: CPU count)")
	intFlag(f, &chunk, "chunk-items", 0, 1, 1_000_000, "items per round trip to PostgreSQL (default 1024)")
	durationFlag(f, &maxOutage, "max-outage", 5*time.Minute, false, "how long to keep reconnecting while PostgreSQL is unavailable before stopping")
	f.StringVar(&stateSchema, "state-schema", ledger.DefaultSchema, "schema of ddb2pg's bookkeeping tables")
	f.StringVar(&renamedFrom, "renamed-from", "", "accept an export of this table (the mapping's source table was renamed from it)")
	choiceFlag(f, &progressMode, "progress", "auto", progressModes, "progress display: auto, bar, log or none")
	f.StringVar(&metricsAddr, "metrics-addr", "", "serve Prometheus metrics at http://ADDR/metrics (e.g. 127.0.0.1:9108; default off)")
	return cmd
}

func printSummary(w io.Writer, s *backfill.Summary) {
	st := s.Status
	fmt.Fprintf(w, "\nbackfill of export %s (source table %s)\n", s.ExportID, s.SourceTable)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "table\trows loaded\titems rejected\t")
	seen := map[string]bool{}
	var names []string
	for _, m := range []map[string]int64{st.TableRows, st.TableRejects} {
		for n := range m {
			if !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
	}
	sort.Strings(names)
	for _, n := range names {
		label := n
		if label == "" {
			label = "(before mapping)"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t\n", label, st.TableRows[n], st.TableRejects[n])
	}
	tw.Flush()
	accounted := st.Loaded + st.Skipped + st.Rejected
	fmt.Fprintf(w, "files: %d of %d done", st.Done, st.Files)
	if st.Failed > 0 {
		fmt.Fprintf(w, ", %d failed", st.Failed)
	}
	fmt.Fprintf(w, " (%d by this run in %s)\n", s.FilesLoaded, s.Duration.Round(1e6))
	// Skipped items had a newer version applied already: by the stream, or
	// (for an incremental export) by a later export or change.
	fmt.Fprintf(w, "items: manifest %d = loaded %d + already newer %d + rejected %d", st.ManifestItems, st.Loaded, st.Skipped, st.Rejected)
	if accounted == st.ManifestItems && st.Done == st.Files {
		fmt.Fprintln(w, "  [complete]")
	} else {
		fmt.Fprintf(w, "  [INCOMPLETE: %d of %d items accounted]\n", accounted, st.ManifestItems)
	}
	for f, e := range st.FailedFiles {
		fmt.Fprintf(w, "failed file %s: %s\n", f, e)
	}
}
