package main

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ddb2pg/ddb2pg/internal/pgerr"
	"github.com/ddb2pg/ddb2pg/internal/teststack"
)

// withQuery returns dsn with the query parameters added.
func withQuery(t *testing.T, dsn string, kv ...string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	for i := 0; i < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	// %20, not +, for spaces: pgx reads the query as a URI's.
	u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
	return u.String()
}

func show(t *testing.T, pool *pgxpool.Pool, name string) string {
	t.Helper()
	var v string
	if err := pool.QueryRow(context.Background(), "SHOW "+name).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// The CLI's sessions run with lock_timeout and
// idle_in_transaction_session_timeout, unless the URL chooses otherwise.
func TestSessionTimeouts(t *testing.T) {
	t.Parallel()
	dsn := teststack.Postgres(t)
	cases := []struct {
		name           string
		query          []string
		wantLock, idle string
	}{
		{"defaults", nil, "30s", "5min"},
		{"URL parameter", []string{"lock_timeout", "5s"}, "5s", "5min"},
		{"URL options", []string{"options", "-c idle_in_transaction_session_timeout=1min"}, "30s", "1min"},
		{"empty: the server's setting", []string{"lock_timeout", "", "idle_in_transaction_session_timeout", ""}, "0", "0"},
	}
	for _, c := range cases {
		pool, err := openPool(context.Background(), withQuery(t, dsn, c.query...), 1)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := show(t, pool, "lock_timeout"); got != c.wantLock {
			t.Errorf("%s: lock_timeout %s, want %s", c.name, got, c.wantLock)
		}
		if got := show(t, pool, "idle_in_transaction_session_timeout"); got != c.idle {
			t.Errorf("%s: idle_in_transaction_session_timeout %s, want %s", c.name, got, c.idle)
		}
		pool.Close()
	}
}

// A product session that stops in the middle of a transaction (a frozen
// Lambda sandbox, a stalled process) loses its locks when the idle timeout
// ends it, and a session waiting on a lock held by anyone else gives up at
// lock_timeout with an error the retry policy waits out.
func TestSessionTimeoutsReleaseLocks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := teststack.Postgres(t)
	setup, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer setup.Close(ctx)
	if _, err := setup.Exec(ctx, "CREATE TABLE held (id int PRIMARY KEY, n int); INSERT INTO held VALUES (1, 0)"); err != nil {
		t.Fatal(err)
	}

	// The frozen one: locks the row, then never comes back.
	frozen, err := openPool(ctx, withQuery(t, dsn, "idle_in_transaction_session_timeout", "500ms"), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer frozen.Close()
	tx, err := frozen.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SELECT * FROM held WHERE id = 1 FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	waiter, err := openPool(ctx, dsn, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer waiter.Close()
	start := time.Now()
	if _, err := waiter.Exec(ctx, "UPDATE held SET n = n + 1 WHERE id = 1"); err != nil {
		t.Fatalf("the waiter did not get the lock: %v", err)
	}
	if waited := time.Since(start); waited > 10*time.Second {
		t.Errorf("the waiter waited %v for a lock of an idle session with a 500ms timeout", waited)
	}
	_, err = tx.Exec(ctx, "SELECT 1")
	if err == nil || !pgerr.IsUnavailable(err) {
		t.Errorf("the frozen session's next statement: %v, want its session ended", err)
	}
	_ = tx.Rollback(ctx)

	// A lock held by a session without timeouts: the product's waiter
	// gives up at its lock_timeout instead of waiting forever.
	holder, err := setup.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback(ctx) //nolint:errcheck
	if _, err := holder.Exec(ctx, "SELECT * FROM held WHERE id = 1 FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	short, err := openPool(ctx, withQuery(t, dsn, "lock_timeout", "200ms"), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer short.Close()
	start = time.Now()
	_, err = short.Exec(ctx, "UPDATE held SET n = n + 1 WHERE id = 1")
	if !pgerr.IsLockTimeout(err) || !pgerr.IsOutage(err) {
		t.Fatalf("waiting on a held lock: %v, want a lock timeout", err)
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Errorf("gave up after %v with lock_timeout 200ms", waited)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatal("the lock wait ended by a client deadline, not the server's lock_timeout")
	}
}
