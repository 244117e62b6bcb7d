package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/spf13/cobra"

	"github.com/ddb2pg/ddb2pg/internal/progress"
	"github.com/ddb2pg/ddb2pg/pkg/ledger"
	"github.com/ddb2pg/ddb2pg/pkg/report"
	"github.com/ddb2pg/ddb2pg/pkg/verify"
)

func newVerifyCmd() *cobra.Command {
	var (
		mappingPath, dbURL, keysFile, stateSchema, progressMode string
		htmlPath, jsonPath, mdPath                              string
		changedSince                                            string
		opts                                                    verify.Options
	)
	cmd := &cobra.Command{
		Use:   "verify --mapping mapping.yaml [--database-url URL] [--report report.html] [--json report.json] [--markdown report.md]",
		Short: "Dual-read DynamoDB and PostgreSQL and report every difference (GO / NO-GO)",
		Long: `verify reads the DynamoDB table (parallel Scan, a random sample, or the keys in a file),
computes the rows the mapping says each item must have, looks them up in PostgreSQL, and
classifies every difference: missing, extra, mismatched, shared conflict; rejected items are
listed. Exit status: 0 GO (divergent rows <= --max-divergence), 3 NO-GO, 1 error (a run that
could not read part of the data is never GO), 2 usage error. See docs/verify.md.`,
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
			switch {
			case opts.Sample > 0 && keysFile != "":
				return usageError{errors.New("--sample and --keys exclude each other")}
			case changedSince != "" && (opts.Sample > 0 || keysFile != ""):
				return usageError{errors.New("--changed-since excludes --sample and --keys")}
			case (opts.Resume || opts.Join) && opts.RunName == "":
				return usageError{errors.New("--resume and --join need --run NAME")}
			}
			switch changedSince {
			case "":
			case "last-full":
				opts.ChangedSinceLastFull = true
			default:
				t, err := time.Parse(time.RFC3339Nano, changedSince)
				if err != nil {
					return usageError{fmt.Errorf("--changed-since: want an RFC 3339 time (2024-06-01T12:00:00Z) or last-full: %w", err)}
				}
				opts.ChangedSince = t
			}
			if _, err := ledger.New(stateSchema); err != nil {
				return usageError{err}
			}
			log, err := logger()
			if err != nil {
				return err
			}
			bar, err := progressRenderer(progressMode)
			if err != nil {
				return err
			}
			opts.LedgerSchema = stateSchema
			opts.Logger = log
			if bar != nil {
				opts.Progress = progress.Func(bar.Update)
			}
			if keysFile != "" {
				f, err := os.Open(keysFile)
				if err != nil {
					return usageError{fmt.Errorf("--keys: %w", err)}
				}
				defer f.Close()
				opts.Keys = verify.NewKeyReader(f, m.Source.Key, true)
				opts.KeysFile = keysFile
			}
			ctx := cmd.Context()
			awsCfg, err := awsConfig(ctx)
			if err != nil {
				return err
			}
			ddb := dynamodb.NewFromConfig(awsCfg)
			tuneGC(verify.GCPercent, verify.MemoryLimit(opts.Segments))
			pool, err := openPool(ctx, url, 2*opts.Segments+2)
			if err != nil {
				return err
			}
			defer pool.Close()

			res, runErr := verify.Run(ctx, m, ddb, pool, opts)
			if bar != nil {
				bar.Done()
			}
			if res == nil {
				return &exitError{code: exitFailed, err: runErr}
			}
			return writeReports(cmd.OutOrStdout(), res, runErr, htmlPath, jsonPath, mdPath)
		},
	}
	f := cmd.Flags()
	f.StringVar(&mappingPath, "mapping", "", "mapping file (YAML)")
	f.StringVar(&dbURL, "database-url", "", "PostgreSQL URL (default $DATABASE_URL)")
	intFlag(f, &opts.Segments, "segments", 4, 1, 1000, "parallel Scan segments (and workers), 1 to 1000")
	nonNegativeFloatFlag(f, &opts.MaxRCU, "max-rcu", 0, "read capacity units per second to stay within (0: no limit)")
	f.BoolVar(&opts.ConsistentRead, "consistent-read", false, "strongly consistent Scan and BatchGetItem (twice the RCU)")
	intFlag(f, &opts.Sample, "sample", 0, 1, noMax, "compare only a random sample of N items")
	f.StringVar(&keysFile, "keys", "", "compare only the keys in FILE (one per line: a DynamoDB JSON key map, or the plain value of a single-attribute key)")
	f.StringVar(&changedSince, "changed-since", "", "compare only the items backfill, incremental exports or the stream applied (or deleted) since TIME (RFC 3339) or since last-full, the start of the last GO full run")
	f.StringVar(&opts.RunName, "run", "", "name the run in the bookkeeping history (verify report --run NAME renders it again); a named full scan is checkpointed")
	f.BoolVar(&opts.Resume, "resume", false, "continue the unfinished run --run NAME from its checkpoints")
	f.BoolVar(&opts.Join, "join", false, "read the run --run NAME together with the other processes on it (started if none is)")
	intFlag(f, &opts.RunSegments, "run-segments", 0, 1, 100000, "Scan segments of a new named run, 1 to 100000, claimed one at a time by the workers of every process (default 4 × --segments)")
	durationFlag(f, &opts.CheckpointEvery, "checkpoint-every", 10*time.Second, false, "how often a named run commits each segment's progress")
	intFlag(f, &opts.Recheck, "recheck", 2, 0, 100, "re-read a suspect on both sides up to N times before it counts (0 to 100)")
	durationFlag(f, &opts.RecheckDelay, "recheck-delay", time.Second, true, "wait before the first re-read; doubled each time")
	f.StringVar(&htmlPath, "report", "", "write the HTML report to this file")
	f.StringVar(&jsonPath, "json", "", "write the JSON report to this file")
	f.StringVar(&mdPath, "markdown", "", "write the Markdown summary to this file")
	int64Flag(f, &opts.MaxDivergence, "max-divergence", 0, 0, noMax, "divergent rows still accepted as GO")
	f.BoolVar(&opts.OrphansDiverge, "orphans-diverge", false, "count orphaned shared rows (no item refers to them) as divergent rows")
	intFlag(f, &opts.ChunkSize, "chunk-items", 1000, 1, 1_000_000, "items compared per PostgreSQL round trip")
	f.StringVar(&stateSchema, "state-schema", ledger.DefaultSchema, "schema of ddb2pg's bookkeeping tables")
	choiceFlag(f, &progressMode, "progress", "auto", progressModes, "progress display: auto, bar, log or none")
	cmd.AddCommand(newVerifyReportCmd())
	return cmd
}

// newVerifyReportCmd renders a finished named run again from the
// bookkeeping, with the exit status of the run.
func newVerifyReportCmd() *cobra.Command {
	var mappingPath, dbURL, stateSchema, runName, htmlPath, jsonPath, mdPath string
	cmd := &cobra.Command{
		Use:   "report --mapping mapping.yaml --run NAME [--report F] [--json F] [--markdown F]",
		Short: "Render the report of a finished named verify run again",
		Long: `verify report reads the report a named run (verify --run NAME) recorded in the bookkeeping
and writes it again: the terminal summary and any of --report, --json and --markdown. Nothing is
re-read from DynamoDB. Exit status as the run's: 0 GO, 3 NO-GO, 1 error or no such run.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runName == "" {
				return usageError{errors.New("--run NAME is required")}
			}
			m, err := loadMapping(mappingPath)
			if err != nil {
				return err
			}
			url, err := databaseURL(dbURL)
			if err != nil {
				return err
			}
			if _, err := ledger.New(stateSchema); err != nil {
				return usageError{err}
			}
			ctx := cmd.Context()
			pool, err := openPool(ctx, url, 2)
			if err != nil {
				return err
			}
			defer pool.Close()
			res, err := verify.Stored(ctx, pool, stateSchema, m.Source.Table, runName)
			if err != nil {
				return &exitError{code: exitFailed, err: err}
			}
			var runErr error
			if res.Error != "" {
				runErr = errors.New(res.Error)
			}
			return writeReports(cmd.OutOrStdout(), res, runErr, htmlPath, jsonPath, mdPath)
		},
	}
	f := cmd.Flags()
	f.StringVar(&mappingPath, "mapping", "", "mapping file (YAML)")
	f.StringVar(&dbURL, "database-url", "", "PostgreSQL URL (default $DATABASE_URL)")
	f.StringVar(&runName, "run", "", "name of the run to render")
	f.StringVar(&htmlPath, "report", "", "write the HTML report to this file")
	f.StringVar(&jsonPath, "json", "", "write the JSON report to this file")
	f.StringVar(&mdPath, "markdown", "", "write the Markdown summary to this file")
	f.StringVar(&stateSchema, "state-schema", ledger.DefaultSchema, "schema of ddb2pg's bookkeeping tables")
	return cmd
}

// writeReports prints the terminal summary, writes the requested report
// files and turns the outcome into the exit status.
func writeReports(out io.Writer, res *report.Result, runErr error, htmlPath, jsonPath, mdPath string) error {
	// A run that stopped before reading anything (the table could not be
	// described) has no counts to show: its error alone is the answer,
	// said once on stderr.
	started := runErr == nil || res.Mode != ""
	if started {
		if err := report.WriteTerminal(out, res); err != nil {
			return err
		}
	}
	var writeErr error
	for _, o := range []struct {
		path  string
		write func(io.Writer, *report.Result) error
	}{{htmlPath, report.WriteHTML}, {jsonPath, report.WriteJSON}, {mdPath, report.WriteMarkdown}} {
		if o.path == "" {
			continue
		}
		if err := writeFile(o.path, res, o.write); err != nil {
			writeErr = errors.Join(writeErr, err)
			continue
		}
		fmt.Fprintf(out, "report written to %s\n", o.path)
	}
	switch {
	case runErr != nil && !started:
		return &exitError{code: exitFailed, err: fmt.Errorf("verify could not start (never GO): %w", runErr)}
	case runErr != nil:
		return &exitError{code: exitFailed, err: fmt.Errorf("verify could not finish (never GO): %w", runErr)}
	case writeErr != nil:
		return &exitError{code: exitFailed, err: writeErr}
	case res.Verdict != report.GO:
		return &exitError{code: exitPartial}
	}
	return nil
}

// writeFile renders the report into path through a buffer, so a failed
// render leaves no half-written file.
func writeFile(path string, r *report.Result, write func(io.Writer, *report.Result) error) error {
	var b bytes.Buffer
	if err := write(&b, r); err != nil {
		return fmt.Errorf("rendering %s: %w", path, err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("writing report: %w", err)
	}
	return nil
}
