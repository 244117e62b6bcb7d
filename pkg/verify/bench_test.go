package verify

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"github.com/ddb2pg/ddb2pg/internal/exportgen"
	"github.com/ddb2pg/ddb2pg/internal/teststack"
	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
	"github.com/ddb2pg/ddb2pg/pkg/ledger"
	"github.com/ddb2pg/ddb2pg/pkg/mapping"
	"github.com/ddb2pg/ddb2pg/pkg/report"
)

// BenchmarkVerifyVsScan measures verify's throughput against a bare
// parallel Scan of the same DynamoDB Local table with the same segment
// count, in the same run, and fails when verify is slower than half of it.
// DDB2PG_BENCH_ITEMS sets the table size (default 20000; the issue's
// figure is 200000), DDB2PG_BENCH_SEGMENTS the segments (default 8). It
// reports items/s of both, their ratio and the peak Go heap during verify.
//
//	go test -run '^$' -bench VerifyVsScan -benchtime 1x ./pkg/verify/
func BenchmarkVerifyVsScan(b *testing.B) {
	n := envInt("DDB2PG_BENCH_ITEMS", 20000)
	segments := envInt("DDB2PG_BENCH_SEGMENTS", 8)
	ctx := context.Background()
	db := teststack.DynamoDB(b).Client(b)
	table := teststack.UniqueName(b, "OrdersBench")
	if _, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("orderId"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("orderId"), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	}); err != nil {
		b.Fatal(err)
	}
	defer db.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(table)}) //nolint:errcheck
	mp := filepath.Join(b.TempDir(), "mapping.yaml")
	if err := os.WriteFile(mp, []byte(exportgen.MappingYAML(table)), 0o644); err != nil {
		b.Fatal(err)
	}
	m, err := mapping.Load(mp)
	if err != nil {
		b.Fatal(err)
	}
	pool, err := pgxpool.New(ctx, teststack.Postgres(b))
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, m.DDL()); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if err := benchLoad(ctx, db, pool, m, table, n); err != nil {
		b.Fatal(err)
	}
	b.Logf("loaded %d items in %v", n, time.Since(start).Round(time.Millisecond))
	b.ResetTimer()
	for range b.N {
		// bare parallel Scan: the faster of two runs (the first warms up
		// DynamoDB Local), so the floor is not lowered by a cold start
		scanRate := 0.0
		for range 2 {
			r, err := bareScan(ctx, db, table, segments)
			if err != nil {
				b.Fatal(err)
			}
			scanRate = max(scanRate, r)
		}

		var peak atomic.Uint64
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			var ms runtime.MemStats
			for {
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > peak.Load() {
					peak.Store(ms.HeapInuse)
					if p := os.Getenv("DDB2PG_BENCH_MEMPROFILE"); p != "" {
						if f, err := os.Create(p); err == nil {
							pprof.Lookup("heap").WriteTo(f, 0) //nolint:errcheck
							f.Close()
						}
					}
				}
				select {
				case <-stop:
					return
				case <-time.After(100 * time.Millisecond):
				}
			}
		}()
		if p := os.Getenv("DDB2PG_BENCH_CPUPROFILE"); p != "" {
			f, err := os.Create(p)
			if err != nil {
				b.Fatal(err)
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				b.Fatal(err)
			}
		}
		// return the load's and the bare scans' garbage to the OS and
		// reset the process's peak RSS (Linux), so VmHWM covers verify only
		debug.FreeOSMemory()
		os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) //nolint:errcheck
		// the collector settings `ddb2pg verify` applies (cmd/ddb2pg)
		prevGC := debug.SetGCPercent(GCPercent)
		prevLimit := debug.SetMemoryLimit(MemoryLimit(segments))
		cpu0 := cpuTime()
		start = time.Now()
		res, err := Run(ctx, m, db, pool, Options{Segments: segments,
			Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))})
		forward := time.Since(start)
		debug.SetGCPercent(prevGC)
		debug.SetMemoryLimit(prevLimit)
		cpu := cpuTime() - cpu0
		pprof.StopCPUProfile()
		close(stop)
		wg.Wait()
		if err != nil {
			b.Fatal(err)
		}
		if res.Verdict != report.GO || res.Items.Read != int64(n) {
			b.Fatalf("verdict %s, %d items read", res.Verdict, res.Items.Read)
		}
		verifyRate := float64(n) / forward.Seconds()
		b.ReportMetric(scanRate, "scan-items/s")
		b.ReportMetric(verifyRate, "verify-items/s")
		b.ReportMetric(verifyRate/scanRate, "ratio")
		b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
		b.ReportMetric(cpu.Seconds(), "verify-cpu-s")
		if hwm := vmHWM(); hwm > 0 {
			b.ReportMetric(float64(hwm)/(1<<20), "peak-RSS-MiB")
			b.Logf("peak RSS during verify %.1f MiB", float64(hwm)/(1<<20))
		}
		b.Logf("bare scan %.0f items/s, verify (both passes) %.0f items/s: ratio %.2f (floor 0.5), peak heap %.1f MiB",
			scanRate, verifyRate, verifyRate/scanRate, float64(peak.Load())/(1<<20))
		if verifyRate < 0.5*scanRate {
			b.Errorf("verify is slower than half a bare scan")
		}
		benchNamedAndChanged(ctx, b, m, db, pool, n, segments, forward)
	}
}

// benchNamedAndChanged measures a checkpointed (named) full run against the
// plain one (the checkpoints' cost, target <= 5%), and changed-since over
// n/20 changed items (10,000 of 200,000) against the plain full run's time
// (target <= 5%).
func benchNamedAndChanged(ctx context.Context, b *testing.B, m *mapping.Mapping, db *dynamodb.Client, pool *pgxpool.Pool,
	n, segments int, plain time.Duration) {
	// the default interval; DDB2PG_BENCH_CHECKPOINT_MS sets another
	checkpointEvery := time.Duration(envInt("DDB2PG_BENCH_CHECKPOINT_MS", 10000)) * time.Millisecond
	prevGC := debug.SetGCPercent(GCPercent)
	prevLimit := debug.SetMemoryLimit(MemoryLimit(segments))
	defer debug.SetGCPercent(prevGC)
	defer debug.SetMemoryLimit(prevLimit)
	// plain and named alternately, twice each, the faster of each: the
	// machine's noise (and DynamoDB Local warming up) is larger than 5%
	var plainBest, named time.Duration
	rounds := 2
	if n > 50000 {
		rounds = 1 // minutes each
	}
	for round := range rounds {
		start := time.Now()
		res, err := Run(ctx, m, db, pool, Options{Segments: segments})
		if took := time.Since(start); err == nil && (plainBest == 0 || took < plainBest) {
			plainBest = took
		}
		b.Logf("round %d: plain %v", round, time.Since(start))
		if err != nil || res.Verdict != report.GO {
			b.Fatalf("plain run: %v, verdict %s", err, res.Verdict)
		}
		start = time.Now()
		res, err = Run(ctx, m, db, pool, Options{Segments: segments, RunSegments: segments, RunName: fmt.Sprint("bench-", round),
			CheckpointEvery: checkpointEvery})
		if took := time.Since(start); named == 0 || took < named {
			named = took
		}
		b.Logf("round %d: named %v", round, time.Since(start))
		if err != nil || res.Verdict != report.GO || res.Items.Read != int64(n) {
			b.Fatalf("named run: %v, verdict %s, %d items", err, res.Verdict, res.Items.Read)
		}
	}
	var checkpoints int64
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM ddb2pg.verify_segments s JOIN ddb2pg.verify_runs r USING (run_id)
		WHERE r.name = 'bench-0'`).Scan(&checkpoints); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(named.Seconds()/plainBest.Seconds()-1, "checkpoint-cost")
	b.Logf("named (checkpointed every %v) full run %v vs plain %v: cost %+.1f%% (target <= 5%%)", checkpointEvery, named.Round(time.Millisecond),
		plainBest.Round(time.Millisecond), 100*(named.Seconds()/plainBest.Seconds()-1))
	plain = plainBest

	// the bookkeeping of a backfill of every item, then n/20 items changed
	// by the stream since a time
	led := ledgerFor(b, ctx, pool)
	keys := make([]string, n)
	for i := range n {
		k, err := m.KeyOf(benchItem(i))
		if err != nil {
			b.Fatal(err)
		}
		keys[i] = string(k)
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if err := led.RecordFreshForExport(ctx, tx, m.Source.Table, time.Now().Add(-time.Hour), append([]string{}, keys...)); err != nil {
		b.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		b.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	since := time.Now()
	time.Sleep(10 * time.Millisecond)
	changed := n / 20
	var claims []ledger.StreamClaim
	for i := 0; i < changed; i++ {
		claims = append(claims, ledger.StreamClaim{Key: keys[i*20], Seq: fmt.Sprint(1000 + i), ShardID: "shardId-1"})
	}
	sort.Slice(claims, func(a, c int) bool { return claims[a].Key < claims[c].Key })
	tx, err = pool.Begin(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := led.ClaimForStream(ctx, tx, m.Source.Table, claims); err != nil {
		b.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	res, err := Run(ctx, m, db, pool, Options{Segments: segments, ChangedSince: since})
	took := time.Since(start)
	if err != nil || res.Verdict != report.GO || res.Changed == nil || res.Changed.Keys != int64(changed) {
		b.Fatalf("changed-since: %v, verdict %s, coverage %+v", err, res.Verdict, res.Changed)
	}
	b.ReportMetric(took.Seconds()/plain.Seconds(), "changed-since-fraction")
	b.Logf("changed-since over %d of %d items: %v, %.1f%% of the full run (target <= 5%%)", changed, n,
		took.Round(time.Millisecond), 100*took.Seconds()/plain.Seconds())
}

func ledgerFor(b *testing.B, ctx context.Context, pool *pgxpool.Pool) *ledger.Ledger {
	led, err := ledger.New("")
	if err != nil {
		b.Fatal(err)
	}
	if err := led.Ensure(ctx, pool); err != nil {
		b.Fatal(err)
	}
	return led
}

func bareScan(ctx context.Context, db *dynamodb.Client, table string, segments int) (float64, error) {
	start := time.Now()
	var scanned atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	for seg := range segments {
		g.Go(func() error {
			var startKey map[string]types.AttributeValue
			for {
				out, err := db.Scan(gctx, &dynamodb.ScanInput{TableName: aws.String(table), Segment: aws.Int32(int32(seg)),
					TotalSegments: aws.Int32(int32(segments)), ExclusiveStartKey: startKey})
				if err != nil {
					return err
				}
				scanned.Add(int64(len(out.Items)))
				if len(out.LastEvaluatedKey) == 0 {
					return nil
				}
				startKey = out.LastEvaluatedKey
			}
		})
	}
	if err := g.Wait(); err != nil {
		return 0, err
	}
	return float64(scanned.Load()) / time.Since(start).Seconds(), nil
}

// cpuTime is the process's user + system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// vmHWM is the process's peak resident set size in bytes (0 if unknown).
func vmHWM() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// benchLoad writes n orders to DynamoDB (BatchWriteItem) and their rows to
// PostgreSQL (COPY).
func benchLoad(ctx context.Context, db *dynamodb.Client, pool *pgxpool.Pool, m *mapping.Mapping, table string, n int) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for start := 0; start < n; start += 25 {
		g.Go(func() error {
			var reqs []types.WriteRequest
			for i := start; i < min(start+25, n); i++ {
				reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: benchItem(i).AttributeValues()}})
			}
			for len(reqs) > 0 {
				out, err := db.BatchWriteItem(gctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: reqs}})
				if err != nil {
					return err
				}
				reqs = out.UnprocessedItems[table]
			}
			return nil
		})
	}
	rows := make([][][]any, len(m.Tables))
	seen := map[string]bool{}
	for i := range n {
		r, rej := m.Rows(benchItem(i))
		if rej != nil {
			return rej
		}
		for ti, t := range m.Tables {
			for _, row := range r[ti] {
				if t.Shared {
					k := fmt.Sprint(ti, row[t.PKIndexes[0]])
					if seen[k] {
						continue
					}
					seen[k] = true
				}
				rows[ti] = append(rows[ti], row)
			}
		}
	}
	for ti, t := range m.Tables {
		cols := make([]string, len(t.Columns))
		for i, c := range t.Columns {
			cols[i] = c.Name
		}
		if _, err := pool.CopyFrom(ctx, t.Ident, cols, pgx.CopyFromRows(rows[ti])); err != nil {
			return err
		}
	}
	return g.Wait()
}

func benchItem(i int) ddbitem.Item {
	it := orderItem(i % nItems)
	it["orderId"] = ddbitem.Str(fmt.Sprintf("o-%07d", i))
	it["customerId"] = ddbitem.Str(fmt.Sprintf("c-%d", i%1000))
	it["customerName"] = ddbitem.Str(fmt.Sprintf("Customer %d", i%1000))
	return it
}
