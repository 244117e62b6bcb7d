package backfill_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ddb2pg/ddb2pg/internal/exportgen"
	"github.com/ddb2pg/ddb2pg/internal/progress"
	"github.com/ddb2pg/ddb2pg/internal/teststack"
	"github.com/ddb2pg/ddb2pg/pkg/backfill"
	"github.com/ddb2pg/ddb2pg/pkg/mapping"
)

// Faults a backfill meets in real migrations: PostgreSQL restarted under it,
// a lock held past lock_timeout while a worker claims its next file, an
// outage longer than the run waits for, the process killed. Each run ends
// with exactly the rows of an undisturbed run, or fails with a message that
// says what to do, and then a rerun ends exact.

var faultExport = exportgen.Config{Orders: 1200, Files: 8, Seed: 29, EdgeCases: true, BadItems: 3}

// faultFixture is an export and the dump of an undisturbed backfill of it.
type faultFixture struct {
	w    *exportgen.Written
	m    *mapping.Mapping
	want map[string]string
	took time.Duration // the undisturbed run's duration
}

func newFaultFixture(t *testing.T) *faultFixture {
	t.Helper()
	w, err := exportgen.WriteExport(t.TempDir(), faultExport)
	if err != nil {
		t.Fatal(err)
	}
	f := &faultFixture{w: w, m: sampleMapping(t)}
	pool := openDB(t, teststack.Postgres(t), 4)
	start := time.Now()
	if _, err := runBackfill(t, pool, f.m, w.Folder, 2); err != nil {
		t.Fatalf("undisturbed backfill: %v", err)
	}
	f.took = time.Since(start)
	f.want = dump(t, pool, orderTables...)
	return f
}

// check fails the test unless pool's tables are exactly the undisturbed run's.
func (f *faultFixture) check(t *testing.T, pool *pgxpool.Pool, what string) {
	t.Helper()
	got := dump(t, pool, orderTables...)
	for _, tb := range orderTables {
		if got[tb] != f.want[tb] {
			t.Errorf("%s: table %s differs from an undisturbed run (%d vs %d bytes)", what, tb, len(got[tb]), len(f.want[tb]))
		}
	}
	if n := count(t, pool, "SELECT count(*) FROM ddb2pg.rejects"); n != f.w.Stats.Rejected {
		t.Errorf("%s: %d rejects, want %d", what, n, f.w.Stats.Rejected)
	}
}

// testLogger shows the run's warnings in the test's log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(&testWriter{t: t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// countingLogger is testLogger that also counts the lines holding substr.
func countingLogger(t *testing.T, substr string) (*slog.Logger, *atomic.Int64) {
	w := &testWriter{t: t, substr: substr}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn})), &w.n
}

type testWriter struct {
	t      *testing.T
	substr string
	n      atomic.Int64
}

func (w *testWriter) Write(p []byte) (int, error) {
	if w.substr != "" && strings.Contains(string(p), w.substr) {
		w.n.Add(1)
	}
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// A fast restart of PostgreSQL (pg_ctl restart -m fast: every session
// ended, under a second down) at a random point of the run: the run
// reconnects and finishes, exact.
func TestBackfillRidesOutRestarts(t *testing.T) {
	t.Parallel()
	f := newFaultFixture(t)
	cluster := teststack.PostgresCluster(t)
	for seed := uint64(1); seed <= 4; seed++ {
		restartedRun(t, f, cluster, seed)
	}
}

// restartedRun runs one backfill in a new database of cluster, restarting
// the cluster once or twice at points seed picks, and checks it ends exact.
func restartedRun(t *testing.T, f *faultFixture, cluster *teststack.Cluster, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	dsn := cluster.Database(t, fmt.Sprintf("restart_%d", seed))
	pool := openDB(t, dsn, 5)
	backfillPrepare(t, pool, f.m)
	// Each restart comes when a random number of files is done, a random
	// part of a file's time later: always during the run.
	restarts := 1 + int(seed%2)
	type point struct {
		files int64
		delay time.Duration
	}
	var points []point
	for i := range restarts {
		points = append(points, point{int64(i + rng.IntN(faultExport.Files-restarts)), time.Duration(rng.Int64N(int64(f.took)/int64(faultExport.Files) + 1))})
	}
	var filesDone atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for _, p := range points {
			for filesDone.Load() < p.files {
				time.Sleep(2 * time.Millisecond)
			}
			time.Sleep(p.delay)
			down, err := cluster.Restart()
			if err != nil {
				t.Errorf("restarting PostgreSQL: %v", err)
				return
			}
			t.Logf("seed %d: restarted PostgreSQL with %d files done + %v, down %v", seed, filesDone.Load(), p.delay, down)
		}
	}()
	log, waits := countingLogger(t, "waiting for PostgreSQL")
	sum, err := runLoad(t, pool, f.m, f.w.Folder, backfill.Config{Workers: 3, ChunkItems: 64, WaitForOthers: true, Logger: log,
		Progress: func(s progress.Snapshot) { filesDone.Store(int64(s.FilesDone)) }})
	wg.Wait()
	t.Logf("seed %d: the run waited for PostgreSQL %d times", seed, waits.Load())
	if err != nil {
		t.Fatalf("seed %d: the backfill did not ride out %d restart(s) at %v: %v", seed, restarts, points, err)
	}
	if !sum.Complete() {
		t.Fatalf("seed %d: incomplete: %+v", seed, sum.Status)
	}
	f.check(t, openDB(t, dsn, 1), fmt.Sprintf("seed %d", seed))
	pool.Close()
}

// A claim that waits on a lock past lock_timeout (here a table lock another
// session queues for, as ALTER TABLE or VACUUM FULL do) is retried; the run
// finishes exact.
func TestBackfillRidesOutLockTimeoutWhileClaiming(t *testing.T) {
	t.Parallel()
	f := newFaultFixture(t)
	dsn := teststack.Postgres(t)
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 4
	cfg.ConnConfig.RuntimeParams["lock_timeout"] = "100ms"
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	backfillPrepare(t, pool, f.m)
	locker := openDB(t, dsn, 1)
	watcher := openDB(t, dsn, 1)

	firstFile := make(chan struct{})
	var once sync.Once
	var lockErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-firstFile
		ctx := context.Background()
		tx, err := locker.Begin(ctx)
		if err != nil {
			lockErr = err
			return
		}
		defer tx.Rollback(ctx) //nolint:errcheck
		// Queued behind the files in flight, this lock makes every new
		// claim wait; with lock_timeout 100ms, claims fail with 55P03.
		if _, lockErr = tx.Exec(ctx, "LOCK TABLE ddb2pg.export_files IN ACCESS EXCLUSIVE MODE"); lockErr != nil {
			return
		}
		time.Sleep(1500 * time.Millisecond)
		lockErr = tx.Commit(ctx)
	}()
	log, timeouts := countingLogger(t, "55P03")
	sum, err := runLoad(t, pool, f.m, f.w.Folder, backfill.Config{Workers: 2, ChunkItems: 64, WaitForOthers: true, Logger: log,
		Progress: func(s progress.Snapshot) {
			if s.FilesDone >= 1 {
				// Called after the file's commit: hold this worker until the
				// lock is queued, so the next claim (files remain) must wait
				// behind it and time out, however fast the rest would load.
				once.Do(func() { close(firstFile); waitForLockRequest(t, watcher) })
			}
		}})
	once.Do(func() { close(firstFile) })
	wg.Wait()
	if lockErr != nil {
		t.Fatalf("holding the lock: %v", lockErr)
	}
	if timeouts.Load() == 0 {
		t.Error("no lock timeout happened: the test did not test")
	}
	if err != nil {
		t.Fatalf("the backfill did not ride out a lock timeout: %v", err)
	}
	if !sum.Complete() {
		t.Fatalf("incomplete: %+v", sum.Status)
	}
	f.check(t, pool, "after the lock")
}

// An outage longer than MaxOutage ends the run with a message that names
// what is done and what to do; the rerun ends exact.
func TestBackfillOutageLimit(t *testing.T) {
	t.Parallel()
	f := newFaultFixture(t)
	cluster := teststack.PostgresCluster(t)
	dsn := cluster.Database(t, "outage")
	pool := openDB(t, dsn, 4)
	backfillPrepare(t, pool, f.m)
	firstFile := make(chan struct{})
	var once sync.Once
	stopped := make(chan time.Time, 1)
	go func() {
		<-firstFile
		stopped <- time.Now()
		if err := cluster.Stop(); err != nil {
			t.Errorf("stopping PostgreSQL: %v", err)
		}
	}()
	_, err := runLoad(t, pool, f.m, f.w.Folder, backfill.Config{Workers: 2, ChunkItems: 64, WaitForOthers: true, Logger: testLogger(t),
		MaxOutage: 2 * time.Second,
		Progress: func(s progress.Snapshot) {
			if s.FilesDone >= 1 {
				once.Do(func() { close(firstFile) })
			}
		}})
	failed := time.Now()
	var unavailable *backfill.UnavailableError
	if !errors.As(err, &unavailable) {
		t.Fatalf("run during an outage returned %v, want an UnavailableError", err)
	}
	msg := err.Error()
	t.Logf("the run said: %s", msg)
	for _, want := range []string{"PostgreSQL", "unavailable", "files", "rerun"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q does not say %q", msg, want)
		}
	}
	if unavailable.FilesDone < 1 || unavailable.FilesTotal != faultExport.Files {
		t.Errorf("the error counts %d of %d files done, want at least 1 of %d", unavailable.FilesDone, unavailable.FilesTotal, faultExport.Files)
	}
	if waited := failed.Sub(<-stopped); waited < 2*time.Second || waited > 20*time.Second {
		t.Errorf("the run gave up %v after PostgreSQL stopped, want about the 2s limit", waited)
	}
	if err := cluster.Start(); err != nil {
		t.Fatal(err)
	}
	sum, err := runLoad(t, pool, f.m, f.w.Folder, backfill.Config{Workers: 2, ChunkItems: 64, WaitForOthers: true, Logger: testLogger(t)})
	if err != nil || !sum.Complete() {
		t.Fatalf("rerun: %v", err)
	}
	f.check(t, pool, "rerun")
}

// childEnv names the database and export of a backfill run as a child
// process by TestBackfillChild.
const childEnv = "DDB2PG_TEST_BACKFILL_CHILD"

// TestBackfillChild is the backfill process TestBackfillKilledThenRerun
// kills; it only runs as that child.
func TestBackfillChild(t *testing.T) {
	spec := os.Getenv(childEnv)
	if spec == "" {
		t.Skip("runs only as the child of TestBackfillKilledThenRerun")
	}
	dsn, folder, _ := strings.Cut(spec, "\n")
	pool := openDB(t, dsn, 4)
	if _, err := runLoad(t, pool, sampleMapping(t), folder, backfill.Config{Workers: 3, ChunkItems: 64, WaitForOthers: true}); err != nil {
		t.Fatal(err)
	}
}

// kill -9 of the backfill process at a random point, then a rerun: exact.
func TestBackfillKilledThenRerun(t *testing.T) {
	t.Parallel()
	f := newFaultFixture(t)
	for seed := uint64(1); seed <= 3; seed++ {
		killedRun(t, f, seed)
	}
}

// killedRun starts a backfill process, kills it with SIGKILL at a point
// seed picks, reruns the backfill here and checks it ends exact.
func killedRun(t *testing.T, f *faultFixture, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 11))
	dsn := teststack.Postgres(t)
	pool := openDB(t, dsn, 4)
	backfillPrepare(t, pool, f.m)
	cmd := exec.Command(os.Args[0], "-test.run=^TestBackfillChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+dsn+"\n"+f.w.Folder)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The child spends some time starting; kill it anywhere from before
	// its first file to after its last.
	delay := 100*time.Millisecond + time.Duration(rng.Int64N(int64(f.took)+1))
	time.Sleep(delay)
	_ = cmd.Process.Signal(syscall.SIGKILL)
	werr := cmd.Wait()
	done := count(t, pool, "SELECT count(*) FROM ddb2pg.export_files WHERE status = 'done'")
	t.Logf("seed %d: killed after %v with %d of %d files done (%v)", seed, delay, done, faultExport.Files, werr)
	sum, err := runLoad(t, pool, f.m, f.w.Folder, backfill.Config{Workers: 2, ChunkItems: 64, WaitForOthers: true, Logger: testLogger(t)})
	if err != nil || !sum.Complete() {
		t.Fatalf("seed %d: rerun after kill -9: %v\nchild output:\n%s", seed, err, out.String())
	}
	f.check(t, pool, fmt.Sprintf("seed %d", seed))
	pool.Close()
}

// A failure that is no file's own (here the bookkeeping table vanishes
// under the run) stops the run with a message naming what is done and what
// to do, instead of a placeholder file; the rerun after the fix ends exact.
func TestBackfillStopsOnPermanentClaimError(t *testing.T) {
	t.Parallel()
	f := newFaultFixture(t)
	dsn := teststack.Postgres(t)
	pool := openDB(t, dsn, 4)
	backfillPrepare(t, pool, f.m)
	admin := openDB(t, dsn, 1)
	firstFile := make(chan struct{})
	var once sync.Once
	renamed := make(chan error, 1)
	go func() {
		<-firstFile
		_, err := admin.Exec(context.Background(), "ALTER TABLE ddb2pg.export_files RENAME TO export_files_away")
		renamed <- err
	}()
	_, err := runLoad(t, pool, f.m, f.w.Folder, backfill.Config{Workers: 2, ChunkItems: 64, WaitForOthers: true, Logger: testLogger(t),
		Progress: func(s progress.Snapshot) {
			if s.FilesDone >= 1 {
				once.Do(func() { close(firstFile) })
			}
		}})
	if rerr := <-renamed; rerr != nil {
		t.Fatal(rerr)
	}
	var stopped *backfill.StoppedError
	if !errors.As(err, &stopped) {
		t.Fatalf("run without its bookkeeping table returned %v, want a StoppedError", err)
	}
	t.Logf("the run said: %s", err)
	if msg := err.Error(); !strings.Contains(msg, "42P01") || !strings.Contains(msg, "rerun") || strings.Contains(msg, "(claim)") {
		t.Errorf("message %q does not name the cause and what to do", msg)
	}
	if _, err := admin.Exec(context.Background(), "ALTER TABLE ddb2pg.export_files_away RENAME TO export_files"); err != nil {
		t.Fatal(err)
	}
	sum, err := runLoad(t, pool, f.m, f.w.Folder, backfill.Config{Workers: 2, ChunkItems: 64, WaitForOthers: true, Logger: testLogger(t)})
	if err != nil || !sum.Complete() {
		t.Fatalf("rerun: %v", err)
	}
	f.check(t, pool, "rerun")
}

// waitForLockRequest waits (at most 10 s) until a session holds or waits
// for an ACCESS EXCLUSIVE lock on the bookkeeping's export_files table.
func waitForLockRequest(t *testing.T, db *pgxpool.Pool) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var n int
		if err := db.QueryRow(context.Background(), `SELECT count(*) FROM pg_locks
			WHERE relation = 'ddb2pg.export_files'::regclass AND mode = 'AccessExclusiveLock'`).Scan(&n); err == nil && n > 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Log("the lock was never requested")
}
