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
)

// Cluster is a PostgreSQL server that one test owns: the test may restart,
// stop or start it without disturbing any other test. It costs a few
// seconds and some memory more than Postgres, so use it only for tests that
// take the server down.
type Cluster struct {
	pgbin, data, sock, logPath string
	port                       int
	cred                       *syscall.Credential

	mu   sync.Mutex
	proc *proc // nil while stopped
}

var (
	templateOnce sync.Once
	templateDir  string
	templateErr  error
)

// PostgresCluster starts a new PostgreSQL cluster of t's own on a free
// loopback port. It is stopped and removed when t ends.
func PostgresCluster(t testing.TB) *Cluster {
	t.Helper()
	c, err := newCluster(uniqueName("cluster", t.Name(), '-', 40))
	if err != nil {
		unavailable(t, "PostgreSQL cluster", err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Logf("teststack: %v", err)
		}
		_ = os.RemoveAll(filepath.Dir(c.data))
	})
	return c
}

// clusterTemplate runs initdb once per test binary; each cluster copies it.
func clusterTemplate() (pgbin string, dir string, err error) {
	deps, err := installDeps("pg")
	if err != nil {
		return "", "", err
	}
	pgbin = deps["PGBIN"]
	templateOnce.Do(func() {
		base, err := workDir()
		if err != nil {
			templateErr = err
			return
		}
		cred, err := pgCredential()
		if err != nil {
			templateErr = err
			return
		}
		root := filepath.Join(base, "cluster-template")
		if err := os.MkdirAll(root, 0o700); err != nil {
			templateErr = fmt.Errorf("creating %s: %w", root, err)
			return
		}
		if cred != nil {
			if err := os.Chown(root, int(cred.Uid), int(cred.Gid)); err != nil {
				templateErr = fmt.Errorf("handing %s to %s: %w", root, pgUser, err)
				return
			}
		}
		data := filepath.Join(root, "data")
		initdb := asUser(exec.Command(filepath.Join(pgbin, "initdb"), "-D", data, "-U", "postgres",
			"-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"), cred)
		if out, err := initdb.CombinedOutput(); err != nil {
			templateErr = fmt.Errorf("initdb: %w\n%s", err, out)
			return
		}
		templateDir = data
	})
	return pgbin, templateDir, templateErr
}

func asUser(cmd *exec.Cmd, cred *syscall.Credential) *exec.Cmd {
	cmd.Dir = "/" // our cwd may be unreadable for pgUser
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	return cmd
}

func newCluster(name string) (*Cluster, error) {
	pgbin, tmpl, err := clusterTemplate()
	if err != nil {
		return nil, err
	}
	base, err := workDir()
	if err != nil {
		return nil, err
	}
	cred, err := pgCredential()
	if err != nil {
		return nil, err
	}
	root := filepath.Join(base, name)
	c := &Cluster{pgbin: pgbin, data: filepath.Join(root, "data"), sock: filepath.Join(root, "sock"),
		logPath: filepath.Join(base, name+".log"), cred: cred}
	if err := os.MkdirAll(c.sock, 0o700); err != nil {
		return nil, fmt.Errorf("creating %s: %w", c.sock, err)
	}
	if cred != nil {
		for _, d := range []string{root, c.sock} {
			if err := os.Chown(d, int(cred.Uid), int(cred.Gid)); err != nil {
				return nil, fmt.Errorf("handing %s to %s: %w", d, pgUser, err)
			}
		}
	}
	// cp -a keeps the owner (pgUser) and the 0700 mode PostgreSQL insists on.
	if out, err := exec.Command("cp", "-a", tmpl, c.data).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("copying the cluster template: %w\n%s", err, out)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		if c.port, err = freePort(); err != nil {
			return nil, err
		}
		if lastErr = c.Start(); lastErr == nil {
			return c, nil
		}
	}
	return nil, lastErr
}

// DSN is the URL of the cluster's "postgres" database.
func (c *Cluster) DSN() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
}

// Database creates a new empty database in the cluster and returns its URL.
func (c *Cluster) Database(t testing.TB, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.DSN())
	if err != nil {
		t.Fatalf("teststack: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"); err != nil {
		t.Fatalf("teststack: creating database %s: %v", name, err)
	}
	u, err := url.Parse(c.DSN())
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// Start starts the stopped server on its port and waits until it accepts
// connections.
func (c *Cluster) Start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.proc != nil {
		return errors.New("teststack: the cluster is already running")
	}
	cmd := asUser(exec.Command(filepath.Join(c.pgbin, "postgres"), "-D", c.data,
		"-c", "listen_addresses=127.0.0.1",
		"-c", "port="+strconv.Itoa(c.port),
		"-c", "unix_socket_directories="+c.sock,
		"-c", "fsync=off",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
		"-c", "shared_buffers=16MB",
		"-c", "max_connections=50"), c.cred)
	p, err := spawn("PostgreSQL cluster", cmd, c.logPath, syscall.SIGQUIT, syscall.SIGINT)
	if err != nil {
		return err
	}
	dsn := c.DSN()
	if err := p.waitReady(func(ctx context.Context) error {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return err
		}
		return conn.Close(ctx)
	}); err != nil {
		_ = p.stop()
		return err
	}
	c.proc = p
	return nil
}

// Stop shuts the server down the way `pg_ctl stop -m fast` does: every
// session is ended (its transaction rolled back) and the server exits.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.proc == nil {
		return nil
	}
	err := c.proc.stop()
	c.proc = nil
	return err
}

// Restart does what `pg_ctl restart -m fast` does: a fast shutdown, then a
// start on the same port. It returns how long the server did not accept
// connections.
func (c *Cluster) Restart() (time.Duration, error) {
	start := time.Now()
	if err := c.Stop(); err != nil {
		return 0, err
	}
	if err := c.Start(); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// RequirePassword makes the server ask user for a password over TCP
// (scram-sha-256, set to password), as a production server does; other
// users stay trusted.
func (c *Cluster) RequirePassword(user, password string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.DSN())
	if err != nil {
		return fmt.Errorf("teststack: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "SET password_encryption = 'scram-sha-256'"); err != nil {
		return fmt.Errorf("teststack: %w", err)
	}
	if _, err := conn.Exec(ctx, "CREATE ROLE "+pgx.Identifier{user}.Sanitize()+" LOGIN PASSWORD "+quoteLiteral(password)); err != nil {
		return fmt.Errorf("teststack: creating role %s: %w", user, err)
	}
	hba := filepath.Join(c.data, "pg_hba.conf")
	old, err := os.ReadFile(hba)
	if err != nil {
		return fmt.Errorf("teststack: %w", err)
	}
	line := fmt.Sprintf("host all %s 127.0.0.1/32 scram-sha-256\n", user)
	if err := os.WriteFile(hba, append([]byte(line), old...), 0o600); err != nil {
		return fmt.Errorf("teststack: %w", err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_reload_conf()"); err != nil {
		return fmt.Errorf("teststack: reloading pg_hba.conf: %w", err)
	}
	time.Sleep(200 * time.Millisecond) // the postmaster rereads it asynchronously
	return nil
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
