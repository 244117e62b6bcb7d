package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ddb2pg/ddb2pg/internal/pgerr"
	"github.com/ddb2pg/ddb2pg/pkg/apply"
	"github.com/ddb2pg/ddb2pg/pkg/ledger"
	"github.com/ddb2pg/ddb2pg/pkg/mapping"
	"github.com/ddb2pg/ddb2pg/pkg/schema"
	"github.com/ddb2pg/ddb2pg/pkg/stream"
)

// function is one container's state: created at init, reused by every
// invocation.
type function struct {
	set     settings
	log     *slog.Logger
	metrics io.Writer
	m       *mapping.Mapping
	led     *ledger.Ledger
	eng     *apply.Engine
	secrets SecretsAPI
	name    string

	mu      sync.Mutex
	pool    *pgxpool.Pool
	ensured bool
}

func (f *function) openPool(ctx context.Context, refresh bool) error {
	dsn := f.set.databaseURL
	if dsn == "" {
		var err error
		if dsn, err = fetchSecretURL(ctx, f.secrets, f.set.secretARN, f.set.dbOptions); err != nil {
			return err
		}
	}
	cfg, err := poolConfig(dsn, f.set.maxConns)
	if err != nil {
		return err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("creating the connection pool: %w", err)
	}
	if f.pool != nil {
		f.pool.Close()
	}
	f.pool = pool
	if refresh {
		f.log.Info("database credentials refreshed from the secret", "secret", f.set.secretARN)
	}
	return nil
}

func (f *function) ensure(ctx context.Context) error {
	if f.ensured {
		return nil
	}
	if err := f.led.EnsureStream(ctx, f.pool); err != nil {
		return err
	}
	if _, err := schema.Ensure(ctx, f.pool, f.m); err != nil {
		return err
	}
	f.ensured = true
	return nil
}

// handle processes one DynamoDB stream event. A malformed record is rejected
// (ddb2pg.rejects) and the others applied. When not every record is committed
// — a transient failure, or the invocation's deadline less a margin
// (answerMargin) — the response's batchItemFailures names the first record not
// committed, so Lambda retries from there. An error (a function error, the
// whole batch retried) is only for what fails every record: an event that is
// not a DynamoDB Streams event, an OLD_IMAGE stream, configuration.
func (f *function) handle(ctx context.Context, payload json.RawMessage) (events.DynamoDBEventResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	resp := events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{}}
	start := time.Now()
	recs, err := stream.DecodeLambdaEvent(payload)
	if err != nil {
		f.log.Error("event refused", "error", err.Error())
		return resp, err
	}
	for i := range recs {
		if recs[i].StreamViewType == stream.ViewOldImage {
			f.log.Error("event refused", "error", stream.ErrOldImageOnly.Error())
			return resp, stream.ErrOldImageOnly
		}
	}
	if len(recs) == 0 {
		return resp, nil
	}
	if dl, ok := ctx.Deadline(); ok {
		// Keep time to answer: a batch cut by the deadline is reported, not lost.
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-answerMargin(time.Until(dl))))
		defer cancel()
	}
	res := f.apply(ctx, recs)
	if res.Err != nil && pgerr.IsAuthFailure(res.Err) && f.set.secretARN != "" && f.set.databaseURL == "" {
		if err := f.openPool(ctx, true); err == nil {
			more := f.apply(ctx, recs[res.Committed:])
			more.Committed += res.Committed
			res.Stats.Add(more.Stats)
			more.Stats = res.Stats
			res = more
		} else {
			res.Err = err
		}
	}
	dur := time.Since(start)
	attrs := []any{"records", len(recs), "committed", res.Committed, "applied", res.Applied, "skipped", res.Skipped,
		"rejected", res.Rejected, "ttl_ignored", res.TTLIgnored, "first_seq", recs[0].Seq, "last_seq", recs[len(recs)-1].Seq,
		"duration_ms", dur.Milliseconds()}
	var lag time.Duration
	if !res.NewestTime.IsZero() {
		lag = max(time.Since(res.NewestTime), 0)
		attrs = append(attrs, "lag_ms", lag.Milliseconds())
	}
	if res.Rejected > 0 {
		attrs = append(attrs, "rejects_by_reason", f.rejectReasons(ctx, recs[:res.Committed]))
	}
	f.emitMetrics(res.Stats, dur, lag)
	if res.Err != nil {
		failed := recs[res.Committed]
		attrs = append(attrs, "failed_seq", failed.Seq, "error", res.Err.Error())
		if ctx.Err() != nil || errors.Is(res.Err, context.DeadlineExceeded) {
			// The invocation's deadline (less the margin) cut the batch: what
			// is committed stays, Lambda retries from the first record that is not.
			f.log.Warn("batch cut by the invocation deadline; Lambda retries from the first record not committed", attrs...)
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: failed.Seq})
			return resp, nil
		}
		if !apply.Retryable(res.Err) {
			f.log.Error("batch failed", attrs...)
			return resp, res.Err
		}
		f.log.Warn("batch partly applied; Lambda retries from the failed record", attrs...)
		resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: failed.Seq})
		return resp, nil
	}
	f.log.Info("batch applied", attrs...)
	return resp, nil
}

func (f *function) apply(ctx context.Context, recs []stream.Record) apply.Result {
	if f.pool == nil {
		if err := f.openPool(ctx, false); err != nil {
			return apply.Result{Err: err}
		}
	}
	if err := f.ensure(ctx); err != nil {
		return apply.Result{Err: err}
	}
	return f.eng.Apply(ctx, f.pool, recs, nil)
}

// emitMetrics writes one CloudWatch Embedded Metric Format line.
func (f *function) emitMetrics(st apply.Stats, dur, lag time.Duration) {
	type metric struct {
		Name string `json:"Name"`
		Unit string `json:"Unit"`
	}
	metrics := []metric{{"RecordsApplied", "Count"}, {"RecordsSkipped", "Count"}, {"RecordsRejected", "Count"},
		{"BatchDuration", "Milliseconds"}}
	doc := map[string]any{
		"FunctionName":    f.name,
		"RecordsApplied":  st.Applied,
		"RecordsSkipped":  st.Skipped,
		"RecordsRejected": st.Rejected,
		"BatchDuration":   float64(dur.Microseconds()) / 1000,
	}
	if !st.NewestTime.IsZero() {
		metrics = append(metrics, metric{"ReplicationLag", "Milliseconds"})
		doc["ReplicationLag"] = lag.Milliseconds()
	}
	doc["_aws"] = map[string]any{
		"Timestamp": time.Now().UnixMilli(),
		"CloudWatchMetrics": []any{map[string]any{
			"Namespace":  f.set.namespace,
			"Dimensions": [][]string{{"FunctionName"}},
			"Metrics":    metrics,
		}},
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return
	}
	b = append(b, '\n')
	_, _ = f.metrics.Write(b)
}

// newFunction builds the container's state from the environment.
func newFunction(ctx context.Context, getenv func(string) string, log *slog.Logger, metrics io.Writer,
	fetcher apply.Fetcher, secrets SecretsAPI) (*function, error) {
	set, err := readSettings(getenv)
	if err != nil {
		return nil, err
	}
	m, err := mapping.Load(set.mappingPath)
	if err != nil {
		return nil, fmt.Errorf("mapping %s: %w", set.mappingPath, err)
	}
	led, err := ledger.New(set.stateSchema)
	if err != nil {
		return nil, err
	}
	if df, ok := fetcher.(*apply.DynamoDBFetcher); ok && df.Table == "" {
		df.Table = m.Source.Table
	}
	eng, err := apply.New(apply.Config{Mapping: m, Ledger: led, TTL: set.ttl, SoftDeleteColumn: set.softDeleteColumn,
		Fetcher: fetcher, ChunkSize: set.chunk, Logger: log})
	if err != nil {
		return nil, err
	}
	name := getenv("AWS_LAMBDA_FUNCTION_NAME")
	if name == "" {
		name = "ddb2pg"
	}
	f := &function{set: set, log: log, metrics: metrics, m: m, led: led, eng: eng, secrets: secrets, name: name}
	if err := f.openPool(ctx, false); err != nil {
		return nil, err
	}
	return f, nil
}

// answerMargin is how long before the invocation's deadline a batch is cut,
// to leave time to roll back and answer: a sixth of the time left, at least
// one second and at most ten (a stalled sandbox or a loaded host needs more
// than a fixed second when the timeout is long).
func answerMargin(left time.Duration) time.Duration {
	return min(max(left/6, time.Second), 10*time.Second)
}

// rejectReasons counts the rejects of the committed records by "table.column:
// reason" for the batch's log line, so the log says why without a query. It
// is best effort: a failed read is said in the map's one entry.
func (f *function) rejectReasons(ctx context.Context, recs []stream.Record) map[string]int64 {
	seqs := make([]string, 0, len(recs))
	for _, r := range recs {
		seqs = append(seqs, r.Seq)
	}
	groups, err := f.led.RejectGroupsWhere(context.WithoutCancel(ctx), f.pool,
		ledger.RejectFilter{SourceTable: f.m.Source.Table, Seqs: seqs}, 20)
	if err != nil {
		return map[string]int64{"(could not read the rejects: " + err.Error() + ")": 0}
	}
	out := make(map[string]int64, len(groups))
	for _, g := range groups {
		col := g.Table
		if g.Column != "" {
			col += "." + g.Column
		}
		if col == "" {
			col = "(before mapping)"
		}
		out[col+": "+g.Reason] = g.Count
	}
	return out
}
