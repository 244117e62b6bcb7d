package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ddb2pg/ddb2pg/internal/exportgen"
	"github.com/ddb2pg/ddb2pg/pkg/mapping"
	"github.com/ddb2pg/ddb2pg/pkg/pgwrite"
)

const benchMapping = "scripts/bench/mapping.yaml"

var benchTables = []string{"customers", "orders", "order_items", "products"}

func init() { register(suite{name: "backfill", run: benchBackfill}) }

// benchBackfill compares the backfill with the floor (psql \copy of the same
// final rows from CSV into the same tables) and with the per-item approach
// (one transaction per item, one INSERT per row), and reports peak RSS at
// two export sizes.
func benchBackfill(ctx context.Context, o *options) ([]measure, error) {
	admin, err := pgx.Connect(ctx, o.databaseURL)
	if err != nil {
		return nil, err
	}
	defer admin.Close(ctx)
	// Durability as in production: a per-item approach pays a WAL flush per
	// commit there, and so must it here.
	restore, err := durable(ctx, admin)
	if err != nil {
		return nil, err
	}
	defer restore()

	big, err := cachedExport(o, o.orders, o.files)
	if err != nil {
		return nil, err
	}
	small, err := cachedExport(o, o.orders/4, o.files/4)
	if err != nil {
		return nil, err
	}
	var ms []measure

	// Warm-up, not measured: a cluster fresh from initdb has no WAL segments
	// to recycle, so the first ~200 MB of WAL it writes are new 16 MB files,
	// zero-filled and fsynced on the way, which a server in service never
	// pays. Whichever load ran first would pay it (here the backfill, while
	// the floor after it recycled its segments); both now meet a server in
	// steady state.
	dbW, err := freshDB(ctx, admin, o.databaseURL, "bench_warmup")
	if err != nil {
		return nil, err
	}
	if _, _, err := runBackfill(o, dbW, big.Folder); err != nil {
		return nil, err
	}
	if _, err := admin.Exec(ctx, "DROP DATABASE bench_warmup WITH (FORCE)"); err != nil {
		return nil, err
	}

	// 1. The backfill itself, as an operator runs it.
	dbA, err := freshDB(ctx, admin, o.databaseURL, "bench_backfill")
	if err != nil {
		return nil, err
	}
	wall, rss, err := runBackfill(o, dbA, big.Folder)
	if err != nil {
		return nil, err
	}
	rows, err := countRows(ctx, dbA)
	if err != nil {
		return nil, err
	}
	ms = append(ms, measure{name: fmt.Sprintf("backfill %d orders (%d rows, %d files)", o.orders, rows, o.files), value: wall.Seconds(), unit: "s"})

	// 2. The floor: psql \copy of the same final rows.
	floor, err := copyFloor(ctx, admin, o.databaseURL, dbA)
	if err != nil {
		return nil, err
	}
	ms = append(ms, measure{name: "floor: psql \\copy of the same rows", value: floor.Seconds(), unit: "s"})
	ratio := wall.Seconds() / floor.Seconds()
	ms = append(ms, measure{name: "backfill time / floor time", value: ratio, unit: "x", target: "<= 1.5", ok: boolp(ratio <= 1.5)})

	// 3. The per-item approach on a prefix of the same items.
	perItem, n, err := perItemRate(ctx, admin, o.databaseURL, 3000)
	if err != nil {
		return nil, err
	}
	rate := float64(o.orders) / wall.Seconds()
	ms = append(ms,
		measure{name: "backfill items/s", value: rate, unit: "items/s"},
		measure{name: fmt.Sprintf("per-item approach items/s (%d items)", n), value: perItem, unit: "items/s"},
		measure{name: "backfill items/s / per-item items/s", value: rate / perItem, unit: "x", target: ">= 50", ok: boolp(rate/perItem >= 50)})

	// 4. Memory: peak RSS, and how it grows with the export.
	dbS, err := freshDB(ctx, admin, o.databaseURL, "bench_backfill_small")
	if err != nil {
		return nil, err
	}
	_, rssSmall, err := runBackfill(o, dbS, small.Folder)
	if err != nil {
		return nil, err
	}
	mib := float64(rss) / 1024
	ms = append(ms,
		measure{name: fmt.Sprintf("peak RSS, %d orders", o.orders), value: mib, unit: "MiB", target: "<= 256", ok: boolp(mib <= 256)},
		measure{name: fmt.Sprintf("peak RSS, %d orders", o.orders/4), value: float64(rssSmall) / 1024, unit: "MiB"},
		measure{name: "peak RSS growth for 4x the export", value: float64(rss) / float64(rssSmall), unit: "x", target: "flat (<= 1.5)", ok: boolp(float64(rss)/float64(rssSmall) <= 1.5)})
	return ms, nil
}

// durable turns on fsync and synchronous commit for the run (both reload
// without a restart) and returns how to put back what was there.
func durable(ctx context.Context, conn *pgx.Conn) (func(), error) {
	settings := []string{"fsync", "synchronous_commit", "full_page_writes"}
	old := map[string]string{}
	for _, s := range settings {
		var v string
		if err := conn.QueryRow(ctx, "SELECT current_setting($1)", s).Scan(&v); err != nil {
			return nil, err
		}
		old[s] = v
		if _, err := conn.Exec(ctx, fmt.Sprintf("ALTER SYSTEM SET %s = on", s)); err != nil {
			return nil, fmt.Errorf("enabling %s (the bench needs a superuser): %w", s, err)
		}
	}
	if _, err := conn.Exec(ctx, "SELECT pg_reload_conf()"); err != nil {
		return nil, err
	}
	time.Sleep(200 * time.Millisecond)
	// A setting given on the server's command line wins over ALTER SYSTEM:
	// check that durability really is on rather than report a wrong baseline.
	for _, s := range settings {
		var v string
		if err := conn.QueryRow(ctx, "SELECT current_setting($1)", s).Scan(&v); err != nil {
			return nil, err
		}
		if v != "on" {
			return nil, fmt.Errorf("%s is still %q (set on the server's command line?): the bench needs a durable server (STACK_PG_DURABLE=1 scripts/stack.sh)", s, v)
		}
	}
	return func() {
		for _, s := range settings {
			_, _ = conn.Exec(context.Background(), fmt.Sprintf("ALTER SYSTEM SET %s = %s", s, pgx.Identifier{old[s]}.Sanitize()))
		}
		_, _ = conn.Exec(context.Background(), "SELECT pg_reload_conf()")
	}, nil
}

func cachedExport(o *options, orders, files int) (*exportgen.Written, error) {
	dir := filepath.Join(o.cache, "bench", fmt.Sprintf("orders-%d-files-%d-seed-1", orders, files))
	cfg := exportgen.Config{Orders: orders, Files: max(files, 1), Seed: 1, EdgeCases: true, Prefix: "bench"}
	marker := filepath.Join(dir, "complete")
	if _, err := os.Stat(marker); err == nil {
		// Regenerating is deterministic; only the folder path is needed.
		matches, _ := filepath.Glob(filepath.Join(dir, "bench", "AWSDynamoDB", "*", "manifest-summary.json"))
		if len(matches) == 1 {
			return &exportgen.Written{Folder: filepath.Dir(matches[0])}, nil
		}
	}
	_ = os.RemoveAll(dir)
	fmt.Fprintf(os.Stderr, "bench: generating an export of %d orders in %s\n", orders, dir)
	w, err := exportgen.WriteExport(dir, cfg)
	if err != nil {
		return nil, err
	}
	return w, os.WriteFile(marker, nil, 0o644)
}

func freshDB(ctx context.Context, admin *pgx.Conn, base, name string) (string, error) {
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		return "", err
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", err
	}
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("DATABASE_URL must be a postgres:// URL: %w", err)
	}
	u.Path = "/" + name
	return u.String(), nil
}

// runBackfill runs the binary and returns its wall time and peak RSS (KiB).
func runBackfill(o *options, db, folder string) (time.Duration, int64, error) {
	cmd := exec.Command(o.bin, "backfill", "--mapping", benchMapping, "--export", folder, "--database-url", db, "--progress", "none", "--log-level", "warn")
	cmd.Stderr = os.Stderr
	start := time.Now()
	out, err := cmd.Output()
	wall := time.Since(start)
	var ee *exec.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 3) {
		return 0, 0, fmt.Errorf("backfill: %v\n%s", err, out)
	}
	ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	var rss int64
	if ru != nil {
		rss = ru.Maxrss
	}
	return wall, rss, nil
}

func countRows(ctx context.Context, db string) (int64, error) {
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	var total int64
	for _, t := range benchTables {
		var n int64
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+t).Scan(&n); err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// copyFloor exports the backfilled tables to CSV and times psql \copy
// loading them into the same (empty, same DDL) tables of a fresh database.
func copyFloor(ctx context.Context, admin *pgx.Conn, base, from string) (time.Duration, error) {
	m, err := mapping.Load(benchMapping)
	if err != nil {
		return 0, err
	}
	dbF, err := freshDB(ctx, admin, base, "bench_floor")
	if err != nil {
		return 0, err
	}
	src, err := pgx.Connect(ctx, from)
	if err != nil {
		return 0, err
	}
	defer src.Close(ctx)
	dst, err := pgx.Connect(ctx, dbF)
	if err != nil {
		return 0, err
	}
	defer dst.Close(ctx)
	dir, err := os.MkdirTemp("", "ddb2pg-floor-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	var script strings.Builder
	for _, t := range m.Tables {
		if _, err := dst.Exec(ctx, t.CreateSQL()); err != nil {
			return 0, err
		}
		path := filepath.Join(dir, t.Name+".csv")
		f, err := os.Create(path)
		if err != nil {
			return 0, err
		}
		cols := pgwrite.For(&mapping.Mapping{Tables: []*mapping.Table{t}})[0].QuotedColumns()
		_, err = src.PgConn().CopyTo(ctx, f, "COPY "+t.Ident.Sanitize()+" ("+cols+") TO STDOUT WITH (FORMAT csv)")
		f.Close()
		if err != nil {
			return 0, err
		}
		fmt.Fprintf(&script, "\\copy %s (%s) from '%s' with (format csv)\n", t.Ident.Sanitize(), cols, path)
	}
	// Nothing but the load may run on the server while it is timed: the
	// backfilled database is dropped first, or autovacuum could pick its
	// freshly loaded tables up meanwhile.
	src.Close(ctx)
	if _, err := admin.Exec(ctx, "DROP DATABASE "+pgx.Identifier{dbName(from)}.Sanitize()+" WITH (FORCE)"); err != nil {
		return 0, err
	}
	scriptPath := filepath.Join(dir, "load.sql")
	if err := os.WriteFile(scriptPath, []byte(script.String()), 0o644); err != nil {
		return 0, err
	}
	cmd := exec.Command("psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dbF, "-f", scriptPath)
	cmd.Stderr = os.Stderr
	start := time.Now()
	if out, err := cmd.Output(); err != nil {
		return 0, fmt.Errorf("psql \\copy: %v\n%s", err, out)
	}
	took := time.Since(start)
	// Likewise for the per-item run that comes next.
	dst.Close(ctx)
	if _, err := admin.Exec(ctx, "DROP DATABASE bench_floor WITH (FORCE)"); err != nil {
		return 0, err
	}
	return took, nil
}

// dbName is the database a postgres:// URL names.
func dbName(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return ""
	}
	return strings.TrimPrefix(u.Path, "/")
}

// perItemRate loads the first n items the way a hand-written script would:
// for each item a transaction, and one INSERT per row.
func perItemRate(ctx context.Context, admin *pgx.Conn, base string, n int) (float64, int, error) {
	m, err := mapping.Load(benchMapping)
	if err != nil {
		return 0, 0, err
	}
	db, err := freshDB(ctx, admin, base, "bench_per_item")
	if err != nil {
		return 0, 0, err
	}
	pool, err := pgxpool.New(ctx, db)
	if err != nil {
		return 0, 0, err
	}
	defer pool.Close()
	for _, t := range m.Tables {
		if _, err := pool.Exec(ctx, t.CreateSQL()); err != nil {
			return 0, 0, err
		}
	}
	tables := pgwrite.For(m)
	done := 0
	start := time.Now()
	for item := range exportgen.Orders(exportgen.Config{Orders: n, Seed: 1, EdgeCases: true}) {
		rows, rej := m.Rows(item)
		if rej != nil {
			continue
		}
		tx, err := pool.Begin(ctx)
		if err != nil {
			return 0, 0, err
		}
		for ti, rt := range tables {
			for _, row := range rows[ti] {
				if _, err := tx.Exec(ctx, rt.Upsert, row...); err != nil {
					_ = tx.Rollback(ctx)
					return 0, 0, fmt.Errorf("per-item insert into %s: %w", rt.T.Name, err)
				}
			}
		}
		if err := tx.Commit(ctx); err != nil {
			return 0, 0, err
		}
		done++
	}
	return float64(done) / time.Since(start).Seconds(), done, nil
}
