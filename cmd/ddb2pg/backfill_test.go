package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ddb2pg/ddb2pg/internal/exportgen"
	"github.com/ddb2pg/ddb2pg/internal/teststack"
)

func TestMain(m *testing.M) { os.Exit(teststack.Run(m)) }

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// binary builds ddb2pg once per test run: the crash test needs a process to
// kill, and exit codes are a property of the process.
func binary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ddb2pg-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "ddb2pg")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

type result struct {
	code           int
	stdout, stderr string
}

func runBin(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

const sampleMapping = "../../examples/orders/mapping.yaml"

func TestBackfillExitCodes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good, err := exportgen.WriteExport(filepath.Join(dir, "good"), exportgen.Config{Orders: 40, Files: 2, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	bad, err := exportgen.WriteExport(filepath.Join(dir, "bad"), exportgen.Config{Orders: 40, Files: 2, Seed: 2, BadItems: 2})
	if err != nil {
		t.Fatal(err)
	}
	badMapping := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(badMapping, []byte("version: 1\nsource:\n  table: T\n  key: [id]\ntables:\n  - name: t\n    primary_key: [id]\n    columns:\n      - {name: id, from: id, type: txet}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		args     func(db string) []string
		code     int
		inStderr []string
	}{
		{"all loaded", func(db string) []string {
			return []string{"backfill", "--mapping", sampleMapping, "--export", good.Folder, "--database-url", db}
		}, 0, nil},
		{"some rejected", func(db string) []string {
			return []string{"backfill", "--mapping", sampleMapping, "--export", bad.Folder, "--database-url", db}
		}, 3, []string{"2 items were rejected"}},
		{"invalid mapping names the line", func(db string) []string {
			return []string{"backfill", "--mapping", badMapping, "--export", good.Folder, "--database-url", db}
		}, 2, []string{"bad.yaml:9", "txet"}},
		{"missing --export", func(db string) []string {
			return []string{"backfill", "--mapping", sampleMapping, "--database-url", db}
		}, 2, []string{"--export"}},
		{"unknown flag", func(db string) []string { return []string{"backfill", "--frobnicate"} }, 2, []string{"frobnicate"}},
		{"export folder without manifest", func(db string) []string {
			return []string{"backfill", "--mapping", sampleMapping, "--export", dir, "--database-url", db}
		}, 1, []string{"manifest-summary.json"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			db := teststack.Postgres(t)
			r := runBin(t, nil, append(c.args(db), "--progress", "none")...)
			if r.code != c.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, c.code, r.stdout, r.stderr)
			}
			for _, s := range c.inStderr {
				if !strings.Contains(r.stderr, s) {
					t.Errorf("stderr should mention %q:\n%s", s, r.stderr)
				}
			}
		})
	}
}

// kill -9 at random moments, then rerun until done: the tables equal a clean
// run's, with nothing lost and nothing doubled.
func TestBackfillSurvivesKill9(t *testing.T) {
	t.Parallel()
	w, err := exportgen.WriteExport(t.TempDir(), exportgen.Config{Orders: 6000, Files: 12, Seed: 21, EdgeCases: true, BadItems: 3})
	if err != nil {
		t.Fatal(err)
	}
	cleanDB, crashDB := teststack.Postgres(t), teststack.Postgres(t)
	args := func(db string) []string {
		return []string{"backfill", "--mapping", sampleMapping, "--export", w.Folder, "--database-url", db,
			"--progress", "none", "--workers", "2", "--chunk-items", "200"}
	}
	if r := runBin(t, nil, args(cleanDB)...); r.code != 3 {
		t.Fatalf("clean run exit %d: %s", r.code, r.stderr)
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	kills := 0
	for attempt := 0; attempt < 6; attempt++ {
		cmd := exec.Command(binary(t), args(crashDB)...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(time.Duration(50+rng.IntN(600)) * time.Millisecond):
			_ = cmd.Process.Signal(syscall.SIGKILL)
			<-done
			kills++
		}
	}
	t.Logf("killed the backfill %d times", kills)
	r := runBin(t, nil, args(crashDB)...)
	if r.code != 3 || !strings.Contains(r.stdout, "[complete]") {
		t.Fatalf("final run exit %d, want 3 (complete with rejects)\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, tb := range []string{"customers", "orders", "order_items"} {
		if a, b := dumpTable(t, cleanDB, tb), dumpTable(t, crashDB, tb); a != b {
			t.Errorf("table %s after kills differs from the clean run (%d vs %d bytes)", tb, len(b), len(a))
		}
	}
	if a, b := dumpTable(t, cleanDB, "(SELECT item_key, reason FROM ddb2pg.rejects)"), dumpTable(t, crashDB, "(SELECT item_key, reason FROM ddb2pg.rejects)"); a != b {
		t.Errorf("rejects after kills differ from the clean run:\n%s\nvs\n%s", b, a)
	}
}

func dumpTable(t *testing.T, dsn, table string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var s string
	if err := conn.QueryRow(ctx, `SELECT coalesce(string_agg(x::text, E'\n' ORDER BY x::text), '') FROM `+table+` x`).Scan(&s); err != nil {
		t.Fatalf("dumping %s: %v", table, err)
	}
	return s
}

func TestSchemaPrintsAndApplies(t *testing.T) {
	t.Parallel()
	r := runBin(t, nil, "schema", "--mapping", sampleMapping)
	if r.code != 0 || !strings.Contains(r.stdout, `CREATE TABLE IF NOT EXISTS "order_items"`) {
		t.Fatalf("schema: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	db := teststack.Postgres(t)
	if r := runBin(t, nil, "schema", "--mapping", sampleMapping, "--apply", "--database-url", db); r.code != 0 || !strings.Contains(r.stdout, "created table orders") {
		t.Fatalf("schema --apply: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if r := runBin(t, nil, "schema", "--mapping", sampleMapping, "--apply", "--database-url", db); r.code != 0 || !strings.Contains(r.stdout, "exists and fits") {
		t.Fatalf("second schema --apply: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

// Users pre-create tables with their own indexes; a table that fits is used,
// one that does not is refused naming the column.
func TestBackfillUsesOrRefusesExistingTables(t *testing.T) {
	t.Parallel()
	w, err := exportgen.WriteExport(t.TempDir(), exportgen.Config{Orders: 20, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	fits, misfit := teststack.Postgres(t), teststack.Postgres(t)
	exec := func(dsn, sql string) {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	exec(fits, `CREATE TABLE orders (id text PRIMARY KEY, customer_id text, total numeric(12,2), status text,
		created_at timestamptz, attrs jsonb, note text); CREATE INDEX orders_customer ON orders (customer_id)`)
	exec(misfit, `CREATE TABLE orders (id text PRIMARY KEY, customer_id text, total integer, status text, created_at timestamptz, attrs jsonb)`)
	if r := runBin(t, nil, "backfill", "--mapping", sampleMapping, "--export", w.Folder, "--database-url", fits, "--progress", "none"); r.code != 0 {
		t.Fatalf("fitting table: exit %d\n%s", r.code, r.stderr)
	}
	r := runBin(t, nil, "backfill", "--mapping", sampleMapping, "--export", w.Folder, "--database-url", misfit, "--progress", "none")
	if r.code != 1 || !strings.Contains(r.stderr, "orders") || !strings.Contains(r.stderr, "total") {
		t.Fatalf("misfit table: exit %d, want 1 naming orders.total\n%s", r.code, r.stderr)
	}
}
