package main

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ddb2pg/ddb2pg/internal/teststack"
)

// The function's sessions run with short lock and idle-in-transaction
// timeouts, so that a frozen sandbox cannot hold locks for long; the
// database URL (or DDB2PG_DATABASE_OPTIONS) may set its own.
func TestPoolSessionTimeouts(t *testing.T) {
	t.Parallel()
	dsn := teststack.Postgres(t)
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	cases := []struct {
		name, dsn      string
		wantLock, idle string
	}{
		{"defaults", dsn, "10s", "1min"},
		{"URL parameter", dsn + sep + "lock_timeout=3s", "3s", "1min"},
	}
	for _, c := range cases {
		cfg, err := poolConfig(c.dsn, 1)
		if err != nil {
			t.Fatal(err)
		}
		pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		var lock, idle string
		err = pool.QueryRow(context.Background(), "SELECT current_setting('lock_timeout'), current_setting('idle_in_transaction_session_timeout')").Scan(&lock, &idle)
		pool.Close()
		if err != nil {
			t.Fatal(err)
		}
		if lock != c.wantLock || idle != c.idle {
			t.Errorf("%s: lock_timeout %s, idle_in_transaction_session_timeout %s; want %s, %s", c.name, lock, idle, c.wantLock, c.idle)
		}
	}
}

// Through a pooler that refuses unknown startup parameters (PgBouncer
// without ignore_startup_parameters), empty values send neither setting.
func TestPoolSessionTimeoutsOptOut(t *testing.T) {
	t.Parallel()
	u, err := secretURL(`{"host":"db.example.com","port":6432,"username":"app","password":"p","dbname":"orders"}`,
		"lock_timeout=&idle_in_transaction_session_timeout=")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := poolConfig(u, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"lock_timeout", "idle_in_transaction_session_timeout"} {
		if v, ok := cfg.ConnConfig.RuntimeParams[name]; ok {
			t.Errorf("%s=%q is sent although the options set it empty", name, v)
		}
	}
}
