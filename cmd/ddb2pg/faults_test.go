package main

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ddb2pg/ddb2pg/internal/exportgen"
	"github.com/ddb2pg/ddb2pg/internal/teststack"
)

// startBin starts ddb2pg and returns a function that waits for its result.
func startBin(t *testing.T, args ...string) func() result {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return func() result {
		err := cmd.Wait()
		var ee *exec.ExitError
		code := 0
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return result{code, out.String(), errb.String()}
	}
}

// waitFilesDone polls the database until n export files are done.
func waitFilesDone(t *testing.T, dsn string, n int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		var done int
		conn, err := pgx.Connect(ctx, dsn)
		if err == nil {
			err = conn.QueryRow(ctx, "SELECT count(*) FROM ddb2pg.export_files WHERE status = 'done'").Scan(&done)
			conn.Close(ctx)
		}
		cancel()
		if err == nil && done >= n {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%d files were not done within 2 minutes", n)
}

// `ddb2pg backfill` as users run it: a fast restart of PostgreSQL in the
// middle of the load is ridden out (exit 3: complete, with the export's
// rejected items); an outage past --max-outage ends it with exit 1 and what
// to do, and the rerun completes. Both end with a clean run's tables.
func TestBackfillCommandRidesOutRestartAndOutage(t *testing.T) {
	t.Parallel()
	w, err := exportgen.WriteExport(t.TempDir(), exportgen.Config{Orders: 3000, Files: 8, Seed: 31, EdgeCases: true, BadItems: 2})
	if err != nil {
		t.Fatal(err)
	}
	args := func(db string, extra ...string) []string {
		return append([]string{"backfill", "--mapping", sampleMapping, "--export", w.Folder, "--database-url", db,
			"--progress", "none", "--workers", "2", "--chunk-items", "200"}, extra...)
	}
	clean := teststack.Postgres(t)
	if r := runBin(t, nil, args(clean)...); r.code != 3 {
		t.Fatalf("clean run exit %d: %s", r.code, r.stderr)
	}
	same := func(db, what string) {
		t.Helper()
		for _, tb := range []string{"customers", "orders", "order_items", "(SELECT item_key, reason FROM ddb2pg.rejects)"} {
			if a, b := dumpTable(t, clean, tb), dumpTable(t, db, tb); a != b {
				t.Errorf("%s: %s differs from the clean run (%d vs %d bytes)", what, tb, len(b), len(a))
			}
		}
	}
	cluster := teststack.PostgresCluster(t)

	restarted := cluster.Database(t, "restarted")
	wait := startBin(t, args(restarted)...)
	waitFilesDone(t, restarted, 1)
	if _, err := cluster.Restart(); err != nil {
		t.Fatal(err)
	}
	if r := wait(); r.code != 3 || !strings.Contains(r.stdout, "[complete]") {
		t.Fatalf("backfill through a restart: exit %d, want 3 (complete with rejects)\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	same(restarted, "through a restart")

	down := cluster.Database(t, "down")
	wait = startBin(t, args(down, "--max-outage", "2s")...)
	waitFilesDone(t, down, 1)
	if err := cluster.Stop(); err != nil {
		t.Fatal(err)
	}
	r := wait()
	if r.code != 1 || !strings.Contains(r.stderr, "PostgreSQL was unavailable") || !strings.Contains(r.stderr, "rerun the same backfill") {
		t.Fatalf("backfill through an outage past --max-outage: exit %d, want 1 with what to do\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if err := cluster.Start(); err != nil {
		t.Fatal(err)
	}
	if r := runBin(t, nil, args(down)...); r.code != 3 || !strings.Contains(r.stdout, "[complete]") {
		t.Fatalf("rerun after the outage: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	same(down, "rerun after an outage")
}
