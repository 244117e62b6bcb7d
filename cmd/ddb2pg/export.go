package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/spf13/cobra"

	"github.com/ddb2pg/ddb2pg/pkg/exportstart"
)

// newExportCmd is `ddb2pg export`: check the table, start a point-in-time
// export (full, or incremental with --incremental), optionally wait for it.
// stdout gets only the export folder's s3:// URI, so a script can write
// EXPORT=$(ddb2pg export ... --wait); everything for people goes to stderr.
func newExportCmd() *cobra.Command {
	var (
		req          exportstart.Request
		format       string
		wait         bool
		incremental  bool
		from, to     string
		pollInterval time.Duration
	)
	cmd := &cobra.Command{
		Use:   "export --table TABLE --s3-bucket BUCKET [--s3-prefix PREFIX] [--format DYNAMODB_JSON|ION] [--wait]",
		Short: "Check a table and start its point-in-time export to S3",
		Long: `Checks that the table has point-in-time recovery on and a stream carrying new
images (NEW_AND_OLD_IMAGES or NEW_IMAGE), and prints the aws CLI commands that
fix what is missing. Then starts ExportTableToPointInTime and prints the export
folder's URI (s3://BUCKET/PREFIX/AWSDynamoDB/<exportId>), the --export that
'ddb2pg backfill' takes. With --wait it polls until the export is COMPLETED
(exit 0) or FAILED (exit 1, with DynamoDB's reason).

--incremental --from T1 --to T2 (RFC 3339) exports the changes written in
[T1, T2) instead of the whole table: 15 minutes to 24 hours, within the
point-in-time recovery window.

The AWS region and credentials come from the standard SDK configuration
(AWS_REGION, AWS_PROFILE, ...; AWS_ENDPOINT_URL_DYNAMODB for another endpoint).`,
		Example: `  ddb2pg export --table Orders --s3-bucket acme-ddb2pg-exports --s3-prefix orders --wait
  ddb2pg export --table Orders --s3-bucket acme-ddb2pg-exports --s3-prefix orders \
      --incremental --from 2026-01-02T00:00:00Z --to 2026-01-02T12:00:00Z --wait`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := exportstart.ParseFormat(format)
			if err != nil {
				return usageError{err}
			}
			req.Format = f
			switch {
			case incremental:
				w, err := parseWindow(from, to)
				if err != nil {
					return usageError{err}
				}
				req.Incremental = w
			case from != "" || to != "":
				return usageError{errors.New("--from and --to are for incremental exports: add --incremental")}
			}
			req = req.Normalize()
			if err := req.Validate(time.Now()); err != nil {
				return usageError{err}
			}

			ctx := cmd.Context()
			cfg, err := awsConfig(ctx)
			if err != nil {
				return err
			}
			api := dynamodb.NewFromConfig(cfg)
			stderr := cmd.ErrOrStderr()

			exp, info, err := exportstart.Start(ctx, api, req, time.Now())
			if err != nil {
				var re *exportstart.RequestError
				if errors.As(err, &re) {
					return usageError{err}
				}
				return err
			}
			fmt.Fprintf(stderr, "table %s: point-in-time recovery on, stream %s (%s)\n", info.Name, info.StreamViewType, info.StreamARN)
			if req.Incremental != nil {
				fmt.Fprintf(stderr, "started incremental export of [%s, %s): %s\n",
					req.Incremental.From.UTC().Format(time.RFC3339), req.Incremental.To.UTC().Format(time.RFC3339), exp.ARN)
			} else {
				fmt.Fprintf(stderr, "started export: %s\n", exp.ARN)
			}
			fmt.Fprintf(stderr, "export folder: %s\n", exp.URI)
			if !wait {
				fmt.Fprintf(stderr, "not waiting (--wait not given); the folder is complete once this says COMPLETED:\n"+
					"  aws dynamodb describe-export --export-arn %s --query ExportDescription.ExportStatus\n", exp.ARN)
				fmt.Fprintln(cmd.OutOrStdout(), exp.URI)
				return nil
			}

			p := newExportProgress(stderr)
			done, err := exportstart.Wait(ctx, api, exp.ARN, exportstart.WaitOptions{
				PollInterval: pollInterval,
				Bucket:       req.Bucket,
				Prefix:       req.Prefix,
				Progress:     p.update,
			})
			p.finish()
			if err != nil {
				return err
			}
			took := ""
			if !done.StartTime.IsZero() && !done.EndTime.IsZero() {
				took = ", in " + done.EndTime.Sub(done.StartTime).Round(time.Second).String()
			}
			fmt.Fprintf(stderr, "export COMPLETED: %d items, %d bytes billed%s\n", done.ItemCount, done.BilledSize, took)
			// The instant the copy stands for: the stream (or the next
			// incremental export) must cover everything after it.
			switch {
			case !done.To.IsZero():
				fmt.Fprintf(stderr, "changes in [%s, %s); the next incremental window starts at %s\n",
					done.From.UTC().Format(time.RFC3339), done.To.UTC().Format(time.RFC3339), done.To.UTC().Format(time.RFC3339))
			case !done.ExportTime.IsZero():
				fmt.Fprintf(stderr, "snapshot of the table at %s\n", done.ExportTime.UTC().Format(time.RFC3339))
			}
			fmt.Fprintf(stderr, "next: ddb2pg backfill --mapping mapping.yaml --export %s\n", done.URI)
			fmt.Fprintln(cmd.OutOrStdout(), done.URI)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&req.Table, "table", "", "DynamoDB table name or ARN (required)")
	fl.StringVar(&req.Bucket, "s3-bucket", "", "S3 bucket name to export into (required)")
	fl.StringVar(&req.Prefix, "s3-prefix", "", "key prefix inside the bucket")
	fl.StringVar(&format, "format", string(exportstart.FormatDynamoDBJSON), "export format: DYNAMODB_JSON or ION")
	fl.BoolVar(&wait, "wait", false, "wait until the export is COMPLETED or FAILED, showing progress")
	fl.BoolVar(&incremental, "incremental", false, "export the changes in [--from, --to) instead of the whole table")
	fl.StringVar(&from, "from", "", "incremental: start of the window, inclusive (RFC 3339)")
	fl.StringVar(&to, "to", "", "incremental: end of the window, exclusive (RFC 3339)")
	fl.StringVar(&req.BucketOwner, "s3-bucket-owner", "", "account id owning the bucket, when it is another account's")
	fl.StringVar(&req.KMSKeyID, "kms-key", "", "KMS key id or ARN: encrypt the export with SSE-KMS and this key")
	durationFlag(fl, &pollInterval, "poll-interval", exportstart.DefaultPollInterval, false, "with --wait: how often to ask DynamoDB")
	return cmd
}

func parseWindow(from, to string) (*exportstart.Window, error) {
	if from == "" || to == "" {
		return nil, errors.New("--incremental needs both --from and --to (RFC 3339, e.g. 2026-01-02T00:00:00Z)")
	}
	f, err := time.Parse(time.RFC3339, from)
	if err != nil {
		return nil, fmt.Errorf("--from: %q is not an RFC 3339 time, like 2026-01-02T00:00:00Z", from)
	}
	t, err := time.Parse(time.RFC3339, to)
	if err != nil {
		return nil, fmt.Errorf("--to: %q is not an RFC 3339 time, like 2026-01-02T12:00:00Z", to)
	}
	return &exportstart.Window{From: f, To: t}, nil
}

// exportProgress renders the waiting: one line rewritten in place on a
// terminal, a line per change of status (and every tenth poll, as a sign of
// life) when stderr goes to a log.
type exportProgress struct {
	w        io.Writer
	terminal bool
	last     string
	dirty    bool
}

func newExportProgress(w io.Writer) *exportProgress {
	p := &exportProgress{w: w}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.terminal = true
		}
	}
	return p
}

func (p *exportProgress) update(e exportstart.Export, pr exportstart.Progress) {
	line := fmt.Sprintf("export %s: %s, %s elapsed", e.ID, e.Status, pr.Elapsed.Round(time.Second))
	if p.terminal {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		p.dirty = true
		return
	}
	if e.Status != p.last || pr.Polls%10 == 0 {
		fmt.Fprintln(p.w, line)
	}
	p.last = e.Status
}

func (p *exportProgress) finish() {
	if p.dirty {
		fmt.Fprintln(p.w)
		p.dirty = false
	}
}
