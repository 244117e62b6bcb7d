package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/spf13/cobra"

	"github.com/ddb2pg/ddb2pg/pkg/apply"
	"github.com/ddb2pg/ddb2pg/pkg/ledger"
	"github.com/ddb2pg/ddb2pg/pkg/poll"
	"github.com/ddb2pg/ddb2pg/pkg/schema"
)

func newStreamCmd() *cobra.Command {
	var (
		mappingPath, dbURL, streamARN, from, stateSchema, ttl, softCol string
		metricsAddr                                                    string
		untilIdle, pollInterval, refreshInterval, maxOutage            time.Duration
		chunk, shardConcurrency                                        int
		forget                                                         bool
	)
	cmd := &cobra.Command{
		Use:   "stream",
		Short: "Apply the table's DynamoDB stream to PostgreSQL (a poller; the Lambda function does the same)",
		Long: `Reads the stream of the mapping's source table (or --stream-arn) with the DynamoDB Streams API and
applies every change through the mapping: in order per item, exactly once in effect. Each shard's
position is checkpointed in the bookkeeping schema together with the records it covers, so a restart
resumes after the last applied record; the first run records where it started (--from), and later
runs keep to that. Records the stream no longer holds are never skipped silently: the run stops with
an error naming the stream, the shard and the last applied record, and says how to recover
(docs/stream.md, "Lost data"). Endpoints, region and credentials come from the standard AWS SDK
configuration (AWS_ENDPOINT_URL_DYNAMODB_STREAMS for DynamoDB Local).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if forget && streamARN == "" {
				return usageError{errors.New("--forget-position needs --stream-arn: name the stream whose position to forget")}
			}
			ttlMode, err := apply.ParseTTLMode(ttl)
			if err != nil {
				return usageError{fmt.Errorf("--ttl-deletes: %w", err)}
			}
			if softCol == "" {
				softCol = os.Getenv("DDB2PG_SOFT_DELETE_COLUMN")
			}
			if ttlMode == apply.TTLSoft && softCol == "" {
				return usageError{errors.New("--ttl-deletes soft needs --soft-delete-column (or DDB2PG_SOFT_DELETE_COLUMN)")}
			}
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
			led, err := ledger.New(stateSchema)
			if err != nil {
				return usageError{err}
			}
			ctx := cmd.Context()
			awsCfg, err := awsConfig(ctx)
			if err != nil {
				return err
			}
			ddb := dynamodb.NewFromConfig(awsCfg)
			// One connection per shard applying at once, one for the shard
			// list and checkpoints.
			pool, err := openPool(ctx, url, shardConcurrency+1)
			if err != nil {
				return err
			}
			defer pool.Close()
			if err := led.EnsureStream(ctx, pool); err != nil {
				return err
			}
			if _, err := schema.Ensure(ctx, pool, m); err != nil {
				return err
			}
			reg, msrv, err := startMetrics(metricsAddr, log, pool, led, m.Source.Table)
			if err != nil {
				return err
			}
			if msrv != nil {
				defer msrv.Close()
			}
			onBatch, err := batchObserver(ctx, pool, led, reg, log)
			if err != nil {
				return err
			}
			eng, err := apply.New(apply.Config{Mapping: m, Ledger: led, TTL: ttlMode, SoftDeleteColumn: softCol,
				Fetcher: &apply.DynamoDBFetcher{Client: ddb, Table: m.Source.Table}, ChunkSize: chunk, Logger: log})
			if err != nil {
				return usageError{err}
			}
			started, err := led.ServerTime(ctx, pool)
			if err != nil {
				return err
			}
			st, err := poll.Run(ctx, poll.Config{
				Streams: dynamodbstreams.NewFromConfig(awsCfg), Tables: ddb, Table: m.Source.Table, StreamARN: streamARN,
				From: from, Engine: eng, DB: pool, Ledger: led, UntilIdle: untilIdle, PollInterval: pollInterval,
				RefreshInterval: refreshInterval, ShardConcurrency: shardConcurrency, MaxOutage: maxOutage,
				ForgetPosition: forget, Logger: log, OnBatch: onBatch, OnShardDone: reg.ShardDone,
			})
			fmt.Fprintf(cmd.OutOrStdout(), "stream: %d records, %d applied, %d skipped (stale or duplicate), %d rejected, %d batches\n",
				st.Records, st.Applied, st.Skipped, st.Rejected, st.Batches)
			if st.BeforeStart > 0 {
				log.Info("records written before the stream's recorded start were not applied", "records", st.BeforeStart)
			}
			if st.Rejected > 0 {
				log.Warn("some records were rejected", "rejected", st.Rejected, "table", led.Schema()+".rejects")
			}
			if st.Rejected > 0 {
				// Why, counted by reason: the stream rejects this run recorded.
				printRejectSummary(context.WithoutCancel(ctx), cmd.OutOrStdout(), pool, led, ledger.RejectFilter{
					SourceTable: m.Source.Table, Stream: true, Since: started})
			}
			if err != nil {
				return withRecovery(err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&mappingPath, "mapping", "", "mapping file (YAML)")
	f.StringVar(&dbURL, "database-url", "", "PostgreSQL URL (default $DATABASE_URL)")
	f.StringVar(&streamARN, "stream-arn", "", "stream to read (default: the latest stream of the mapping's source.table)")
	choiceFlag(f, &from, "from", "trim-horizon", []string{"trim-horizon", "latest"}, "where the first run on a stream starts: trim-horizon or latest (recorded; later runs keep to it)")
	durationFlag(f, &untilIdle, "until-idle", 0, true, "exit once every open shard has been idle this long (0: run until interrupted)")
	durationFlag(f, &pollInterval, "poll-interval", time.Second, false, "longest pause between reads of a shard that returns nothing")
	durationFlag(f, &refreshInterval, "refresh-interval", 30*time.Second, false, "how often the whole shard list is read again")
	intFlag(f, &shardConcurrency, "shard-concurrency", 8, 1, 1024, "shards read and applied at once, 1 to 1024 (each holds a PostgreSQL connection)")
	durationFlag(f, &maxOutage, "max-pg-outage", 5*time.Minute, false, "how long PostgreSQL may stay unreachable before the run fails")
	f.BoolVar(&forget, "forget-position", false, "forget the named stream's checkpoints and recorded start first (the last step of recovering lost data)")
	f.StringVar(&ttl, "ttl-deletes", streamEnvOr("DDB2PG_TTL_DELETES", "delete"), "TTL expiry deletes: delete, ignore or soft")
	f.StringVar(&softCol, "soft-delete-column", "", "column set by --ttl-deletes soft (default $DDB2PG_SOFT_DELETE_COLUMN)")
	intFlag(f, &chunk, "chunk-records", 0, 1, 1_000_000, "records per transaction (default: a whole GetRecords page)")
	f.StringVar(&stateSchema, "state-schema", ledger.DefaultSchema, "schema of ddb2pg's bookkeeping tables")
	f.StringVar(&metricsAddr, "metrics-addr", "", "serve Prometheus metrics at http://ADDR/metrics (e.g. 127.0.0.1:9108; default off)")
	return cmd
}

func streamEnvOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// withRecovery adds the commands that recover from a lost-data error.
func withRecovery(err error) error {
	var lost *poll.LostError
	var changed *poll.StreamChangedError
	switch {
	case errors.As(err, &lost):
		return fmt.Errorf("%w\nnext: ddb2pg export; ddb2pg backfill (that export); "+
			"ddb2pg stream --stream-arn %s --forget-position --from trim-horizon; ddb2pg verify (docs/stream.md, \"Lost data\")",
			err, lost.StreamARN)
	case errors.As(err, &changed) && changed.NewARN != "":
		from := "<the old stream's last record time>"
		if !changed.LastRecordTime.IsZero() {
			from = changed.LastRecordTime.UTC().Truncate(time.Minute).Format(time.RFC3339)
		}
		to := "<the new stream's creation time>"
		label := changed.NewARN[strings.LastIndex(changed.NewARN, "/")+1:]
		if t, perr := time.Parse("2006-01-02T15:04:05.000", label); perr == nil {
			to = t.Truncate(time.Minute).Add(time.Minute).Format(time.RFC3339)
		}
		return fmt.Errorf("%w\nnext: ddb2pg export --incremental --from %s --to %s; ddb2pg backfill (that export); "+
			"ddb2pg stream --stream-arn %s --from trim-horizon; ddb2pg verify (docs/stream.md, \"Lost data\")",
			err, from, to, changed.NewARN)
	case errors.As(err, &changed):
		return fmt.Errorf("%w\nnext: enable the table's stream; ddb2pg export; ddb2pg backfill (that export); "+
			"ddb2pg stream --from trim-horizon; ddb2pg verify (docs/stream.md, \"Lost data\")", err)
	}
	return err
}
