package teststack

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

// A restart ends the sessions, keeps the data, and serves the same URL again.
func TestClusterRestart(t *testing.T) {
	t.Parallel()
	c := PostgresCluster(t)
	dsn := c.Database(t, "restart")
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE TABLE kept (n int); INSERT INTO kept VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	down, err := c.Restart()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("restart took %v", down)
	if err := conn.Ping(ctx); err == nil {
		t.Fatal("a session survived the fast shutdown")
	}
	conn2, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("reconnecting after the restart: %v", err)
	}
	defer conn2.Close(ctx)
	var n int
	if err := conn2.QueryRow(ctx, "SELECT n FROM kept").Scan(&n); err != nil || n != 1 {
		t.Fatalf("data after the restart: %d, %v", n, err)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := pgx.Connect(ctx, dsn); err == nil {
		t.Fatal("connected to a stopped cluster")
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
}
