package poll_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ddb2pg/ddb2pg/internal/teststack"
	"github.com/ddb2pg/ddb2pg/pkg/poll"
)

// pgProxy forwards TCP connections on loopback to the real PostgreSQL; cut
// drops every connection and refuses new ones until restore, which is what
// the poller sees of a PostgreSQL restart or failover.
type pgProxy struct {
	t      testing.TB
	addr   string
	target string
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
}

func newPGProxy(t testing.TB, dsn string) (*pgProxy, string) {
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	p := &pgProxy{t: t, target: u.Host}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.cut)
	u.Host = p.addr
	return p, u.String()
}

func (p *pgProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			go func() { io.Copy(s, c); s.Close() }()
			go func() { io.Copy(c, s); c.Close() }()
		}
	}()
}

func (p *pgProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *pgProxy) restore() {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatalf("proxy: listening again on %s: %v", p.addr, err)
	}
	p.serve(ln)
}

// poolThrough is a pool on the test's database through a proxy.
func poolThrough(t *testing.T, dsn string) (*pgProxy, *pgxpool.Pool) {
	t.Helper()
	proxy, pdsn := newPGProxy(t, dsn)
	pool, err := pgxpool.New(context.Background(), pdsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return proxy, pool
}

// waitStatus waits until orders.id has the status in PostgreSQL.
func waitStatus(t *testing.T, pool *pgxpool.Pool, id, status string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	var got string
	for time.Now().Before(deadline) {
		pool.QueryRow(context.Background(), `SELECT status FROM orders WHERE id = $1`, id).Scan(&got)
		if got == status {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: status %q after %s, want %q", id, got, within, status)
}

// Issue 12 defect 7 (the poller's part): PostgreSQL going away while the
// poller idles (re-reading the shard list and the checkpoints) and while it
// applies is ridden out: it reconnects with backoff and goes on.
func TestPostgresOutageIsRiddenOut(t *testing.T) {
	w := newWithDouble(t)
	dsn := teststack.Postgres(t)
	direct, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(direct.Close)
	ref := newPGFor(t, w.m, dsn, nil)
	proxy, pool := poolThrough(t, dsn)
	w.cfg.Engine, w.cfg.DB, w.cfg.Ledger = ref.eng, pool, ref.led
	w.cfg.UntilIdle = 0
	w.cfg.RefreshInterval = 100 * time.Millisecond
	w.d.addShard(w.arn, "A", "")
	w.d.put(w.arn, "A", "INSERT", order("o1", "c1", "before"))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := poll.Run(ctx, w.cfg)
		done <- err
	}()
	waitStatus(t, direct, "o1", "before", 10*time.Second)

	// Idle: the shard list and checkpoints are re-read every 100 ms.
	proxy.cut()
	time.Sleep(1500 * time.Millisecond)
	proxy.restore()
	w.d.put(w.arn, "A", "MODIFY", order("o1", "c1", "after idle outage"))
	waitStatus(t, direct, "o1", "after idle outage", 15*time.Second)

	// Applying: the record arrives while PostgreSQL is away.
	proxy.cut()
	w.d.put(w.arn, "A", "MODIFY", order("o1", "c1", "after apply outage"))
	time.Sleep(1500 * time.Millisecond)
	proxy.restore()
	waitStatus(t, direct, "o1", "after apply outage", 15*time.Second)

	select {
	case err := <-done:
		t.Fatalf("the run ended: %v", err)
	default:
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// An outage longer than MaxOutage is a clear failure, not an endless wait.
func TestPostgresOutageLimit(t *testing.T) {
	w := newWithDouble(t)
	dsn := teststack.Postgres(t)
	ref := newPGFor(t, w.m, dsn, nil)
	proxy, pool := poolThrough(t, dsn)
	w.cfg.Engine, w.cfg.DB, w.cfg.Ledger = ref.eng, pool, ref.led
	w.cfg.UntilIdle = 0
	w.cfg.RefreshInterval = 100 * time.Millisecond
	w.cfg.MaxOutage = time.Second
	w.d.addShard(w.arn, "A", "")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := poll.Run(ctx, w.cfg)
		done <- err
	}()
	w.waitReads(t, "A", 1)
	proxy.cut()
	start := time.Now()
	err := <-done
	var outage *poll.OutageError
	if !errors.As(err, &outage) || !strings.Contains(err.Error(), "PostgreSQL failed for") {
		t.Fatalf("want the outage error, got %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the outage error came after %s", d)
	}
	t.Log(err)
}
