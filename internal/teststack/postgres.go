package teststack

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pgServer is the PostgreSQL server of this test binary: from the stack env or
// started here.
type pgServer struct {
	adminDSN string        // the server's "postgres" database
	admin    *pgxpool.Pool // creates and drops the tests' databases
	createMu sync.Mutex    // one CREATE DATABASE at a time from this binary
}

var postgresServer = server[*pgServer]{name: "PostgreSQL", open: openPostgres}

// Postgres returns the DSN (a postgres:// URL) of a new, empty database that
// only this test uses. The database is dropped, with any connections still
// open to it, when the test and its subtests have finished.
func Postgres(t testing.TB) string {
	t.Helper()
	pgSrv := postgresServer.get(t)
	name := uniqueName("t", t.Name(), '_', 63)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := pgSrv.createDatabase(ctx, name); err != nil {
		t.Fatalf("teststack: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		// FORCE ends the sessions a test left open (a pool it did not close).
		// A database left behind only costs disk in a throwaway cluster, so a
		// failure here is logged, not a test failure.
		if _, err := pgSrv.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Logf("teststack: dropping database %s: %v", name, err)
		}
	})
	dsn, err := withDatabase(pgSrv.adminDSN, name)
	if err != nil {
		t.Fatalf("teststack: %v", err)
	}
	return dsn
}

// createDatabase creates an empty database. It copies template0, which no one
// can connect to, so a session on template1 (another package's test, psql)
// cannot make it fail with "source database is being accessed by other users".
// Other errors of concurrency (another binary's CREATE/DROP DATABASE on the
// same server) are retried.
func (s *pgServer) createDatabase(ctx context.Context, name string) error {
	s.createMu.Lock()
	defer s.createMu.Unlock()
	sql := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize() + " TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"
	for attempt := 1; ; attempt++ {
		_, err := s.admin.Exec(ctx, sql)
		if err == nil {
			return nil
		}
		var pgErr *pgconn.PgError
		retryable := errors.As(err, &pgErr) &&
			(pgErr.Code == "55006" || pgErr.Code == "40P01" || pgErr.Code == "40001" || pgErr.Code == "53300")
		if !retryable || attempt == 20 {
			return fmt.Errorf("creating database %s: %w", name, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("creating database %s: %w (after %v)", name, ctx.Err(), err)
		case <-time.After(time.Duration(attempt) * 50 * time.Millisecond):
		}
	}
}

// withDatabase returns dsn with its database replaced by name.
func withDatabase(dsn, name string) (string, error) {
	if !strings.Contains(dsn, "://") {
		// keyword=value form: a later keyword overrides an earlier one.
		return dsn + " dbname=" + name, nil
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("parsing DATABASE_URL: %w", err)
	}
	u.Path = "/" + name
	u.RawPath = ""
	return u.String(), nil
}

// openPostgres connects to the stack env's server, or starts one.
func openPostgres() (*pgServer, error) {
	dsn, ok := stackEnv("DATABASE_URL")
	if !ok {
		var err error
		if dsn, err = startPostgres(); err != nil {
			return nil, err
		}
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parsing PostgreSQL DSN: %w", err)
	}
	cfg.MaxConns = 4
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connecting to PostgreSQL at %s: %w", dsn, err)
	}
	onStop(pool.Close)
	return &pgServer{adminDSN: dsn, admin: pool}, nil
}

// startPostgres creates a throwaway cluster in the work dir, starts it on a
// free loopback port and returns the DSN of its "postgres" database.
func startPostgres() (string, error) {
	deps, err := installDeps("pg")
	if err != nil {
		return "", err
	}
	pgbin := deps["PGBIN"]
	base, err := workDir()
	if err != nil {
		return "", err
	}
	cred, err := pgCredential()
	if err != nil {
		return "", err
	}
	root := filepath.Join(base, "pg")
	data, sock := filepath.Join(root, "data"), filepath.Join(root, "sock")
	if err := os.MkdirAll(sock, 0o700); err != nil {
		return "", fmt.Errorf("creating PostgreSQL dirs: %w", err)
	}
	if cred != nil {
		for _, d := range []string{root, sock} {
			if err := os.Chown(d, int(cred.Uid), int(cred.Gid)); err != nil {
				return "", fmt.Errorf("handing %s to %s: %w", d, pgUser, err)
			}
		}
	}
	asPG := func(cmd *exec.Cmd) *exec.Cmd {
		cmd.Dir = "/" // our cwd may be unreadable for pgUser
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		return cmd
	}
	initdb := asPG(exec.Command(filepath.Join(pgbin, "initdb"), "-D", data, "-U", "postgres",
		"-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"))
	if out, err := initdb.CombinedOutput(); err != nil {
		return "", fmt.Errorf("initdb: %w\n%s", err, out)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			return "", err
		}
		// Throwaway cluster: durability off for speed; 200 connections because
		// parallel tests each open pools. Same settings as scripts/stack.sh.
		cmd := asPG(exec.Command(filepath.Join(pgbin, "postgres"), "-D", data,
			"-c", "listen_addresses=127.0.0.1",
			"-c", "port="+strconv.Itoa(port),
			"-c", "unix_socket_directories="+sock,
			"-c", "fsync=off",
			"-c", "synchronous_commit=off",
			"-c", "full_page_writes=off",
			"-c", "max_connections=200"))
		// If the test binary dies: SIGQUIT, PostgreSQL's immediate shutdown.
		// To stop: SIGINT, its fast shutdown, which ends open sessions.
		p, err := spawn("PostgreSQL", cmd, filepath.Join(base, "postgres.log"), syscall.SIGQUIT, syscall.SIGINT)
		if err != nil {
			return "", err
		}
		dsn := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
		lastErr = p.waitReady(func(ctx context.Context) error {
			conn, err := pgx.Connect(ctx, dsn)
			if err != nil {
				return err
			}
			return conn.Close(ctx)
		})
		if lastErr == nil {
			return dsn, nil
		}
		_ = p.stop() // most likely the port was taken meanwhile: try another
	}
	return "", lastErr
}
