// Package metrics exposes the progress of `ddb2pg stream` and `ddb2pg
// backfill` as Prometheus metrics over HTTP (/metrics). The engine packages
// know nothing of it: the CLI wires their callbacks (poll.Config.OnBatch,
// load.Config.Progress) to a *Registry's methods. Every metric is named
// ddb2pg_*; docs/status.md lists each one with its type, labels and meaning.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ddb2pg/ddb2pg/internal/progress"
	"github.com/ddb2pg/ddb2pg/pkg/apply"
)

// RejectCounter returns the rejects recorded in the bookkeeping, by
// PostgreSQL table ("" for items rejected before any table was mapped).
type RejectCounter func(ctx context.Context) (map[string]int64, error)

// Registry holds the metrics of one process. Its methods are safe for
// concurrent use.
type Registry struct {
	reg *prometheus.Registry

	streamRecords *prometheus.CounterVec
	streamBatches prometheus.Counter
	batchSeconds  prometheus.Histogram
	shardLag      *prometheus.GaugeVec
	shardLast     *prometheus.GaugeVec

	filesDone     prometheus.Gauge
	filesTotal    prometheus.Gauge
	manifestItems prometheus.Gauge
	items         prometheus.Counter
	itemsRejected prometheus.Counter

	mu       sync.Mutex
	lastSnap progress.Snapshot
}

// New returns a registry with the Go runtime and process collectors and
// ddb2pg's own metrics. rejects, when not nil, is read at each scrape
// (bounded by a 5s timeout) for ddb2pg_rejects.
func New(rejects RejectCounter) *Registry {
	r := &Registry{reg: prometheus.NewRegistry()}
	r.streamRecords = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ddb2pg_stream_records_total",
		Help: "Stream records committed by this process, by outcome: applied, skipped (stale or duplicate) or rejected.",
	}, []string{"outcome"})
	for _, o := range []string{"applied", "skipped", "rejected"} {
		r.streamRecords.WithLabelValues(o)
	}
	r.streamBatches = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "ddb2pg_stream_batches_total",
		Help: "Batches of stream records committed by this process.",
	})
	r.batchSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "ddb2pg_stream_batch_duration_seconds",
		Help:    "Time to apply and commit one batch of stream records.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	})
	r.shardLag = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "ddb2pg_stream_shard_lag_seconds",
		Help: "Per shard, the time between the newest committed record's write to DynamoDB and its commit, as of the last batch.",
	}, []string{"shard"})
	r.shardLast = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "ddb2pg_stream_shard_last_batch_timestamp_seconds",
		Help: "Per shard, when its last batch was committed (Unix time): how old ddb2pg_stream_shard_lag_seconds is.",
	}, []string{"shard"})
	r.filesDone = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "ddb2pg_backfill_files_done",
		Help: "Data files of the export loaded, by every process loading it.",
	})
	r.filesTotal = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "ddb2pg_backfill_files",
		Help: "Data files in the export's manifest.",
	})
	r.manifestItems = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "ddb2pg_backfill_manifest_items",
		Help: "Items the export's manifest announces.",
	})
	r.items = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "ddb2pg_backfill_items_total",
		Help: "Export items processed (loaded, already newer or rejected) by this process.",
	})
	r.itemsRejected = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "ddb2pg_backfill_items_rejected_total",
		Help: "Export items rejected by this process.",
	})
	r.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		r.streamRecords, r.streamBatches, r.batchSeconds, r.shardLag, r.shardLast,
		r.filesDone, r.filesTotal, r.manifestItems, r.items, r.itemsRejected)
	if rejects != nil {
		r.reg.MustRegister(&rejectCollector{count: rejects, desc: prometheus.NewDesc("ddb2pg_rejects",
			"Rejects recorded in the bookkeeping for the mapping's source table, by PostgreSQL table (read at scrape time).",
			[]string{"table"}, nil)})
	}
	return r
}

// Batch records one committed stream batch; its signature is
// poll.Config.OnBatch's. A nil *Registry records nothing.
func (r *Registry) Batch(_, shardID string, st apply.Stats, took, lag time.Duration) {
	if r == nil {
		return
	}
	r.streamRecords.WithLabelValues("applied").Add(float64(st.Applied))
	r.streamRecords.WithLabelValues("skipped").Add(float64(st.Skipped))
	r.streamRecords.WithLabelValues("rejected").Add(float64(st.Rejected))
	r.streamBatches.Inc()
	r.batchSeconds.Observe(took.Seconds())
	r.shardLast.WithLabelValues(shardID).SetToCurrentTime()
	if !st.NewestTime.IsZero() {
		r.shardLag.WithLabelValues(shardID).Set(lag.Seconds())
	}
}

// ShardDone drops a shard's lag series once the shard is read to its end
// (its last value would otherwise stay on the page for the life of the
// process); its signature is poll.Config.OnShardDone's. A nil *Registry
// records nothing.
func (r *Registry) ShardDone(_, shardID string) {
	if r == nil {
		return
	}
	r.shardLag.DeleteLabelValues(shardID)
	r.shardLast.DeleteLabelValues(shardID)
}

// Progress records a backfill snapshot; it is a progress.Func. The
// snapshot's per-process totals only grow, so the counters add the
// difference from the previous snapshot. A nil *Registry records nothing.
func (r *Registry) Progress(s progress.Snapshot) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if s.FilesDone >= 0 {
		r.filesDone.Set(float64(s.FilesDone))
	}
	r.filesTotal.Set(float64(s.FilesTotal))
	r.manifestItems.Set(float64(s.ItemsTotal))
	if d := s.Items - r.lastSnap.Items; d > 0 {
		r.items.Add(float64(d))
	}
	if d := s.Rejected - r.lastSnap.Rejected; d > 0 {
		r.itemsRejected.Add(float64(d))
	}
	r.lastSnap = s
}

// Handler serves the registry in the Prometheus text format. A metric that
// cannot be read (ddb2pg_rejects while PostgreSQL is down) is left off the
// page and logged through log (may be nil); the others are still served.
func (r *Registry) Handler(log *slog.Logger) http.Handler {
	opts := promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}
	if log != nil {
		opts.ErrorLog = slogPrintln{log}
	}
	return promhttp.HandlerFor(r.reg, opts)
}

type slogPrintln struct{ log *slog.Logger }

func (l slogPrintln) Println(v ...any) {
	l.log.Warn("metrics scrape incomplete", "error", strings.TrimSpace(fmt.Sprintln(v...)))
}

// Server serves /metrics until Close.
type Server struct {
	srv  *http.Server
	addr net.Addr
	done chan struct{}
}

// Serve listens on addr (host:port; port 0 picks a free one) and serves
// r.Handler at /metrics in the background. Serving errors after the listen
// are logged through log.
func Serve(addr string, r *Registry, log *slog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening for metrics on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", r.Handler(log))
	s := &Server{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}, addr: ln.Addr(), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && log != nil {
			log.Error("metrics server stopped", "addr", s.addr.String(), "error", err.Error())
		}
	}()
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.addr }

// Close stops the server, letting scrapes in flight finish for up to 2s.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	<-s.done
	return err
}

type rejectCollector struct {
	count RejectCounter
	desc  *prometheus.Desc
}

func (c *rejectCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *rejectCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	byTable, err := c.count(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	for t, n := range byTable {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), t)
	}
}
