package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/jackc/pgx/v5"

	"github.com/ddb2pg/ddb2pg/lambda/lambdaenv"
)

// The function connects with TLS exactly as the URL (or the secret plus
// DDB2PG_DATABASE_OPTIONS) says: sslmode=verify-full with a CA bundle works,
// and a server whose certificate does not chain to that CA, or does not name
// the host connected to, is refused with the TLS error in what the function
// reports. The server is a private PostgreSQL cluster with ssl=on whose
// pg_hba.conf rejects every TCP connection without TLS.
func TestTLSVerifyFull(t *testing.T) {
	srv := startTLSPostgres(t)
	dir := t.TempDir()
	mappingPath := filepath.Join(dir, "mapping.yaml")
	if err := os.WriteFile(mappingPath, []byte(testMapping), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	verifyFull := func(ca string) string {
		return "sslmode=verify-full&sslrootcert=" + ca
	}
	url := func(host, db, query string) string {
		return fmt.Sprintf("postgres://postgres@%s/%s?%s", net.JoinHostPort(host, strconv.Itoa(srv.port)), db, query)
	}
	secretJSON := func(host, db string) string {
		b, _ := json.Marshal(map[string]any{"host": host, "port": srv.port, "username": "postgres", "password": "unused", "dbname": db, "engine": "postgres"})
		return string(b)
	}

	// run builds the function from env and hands it one batch.
	run := func(t *testing.T, env map[string]string, sec SecretsAPI) (events.DynamoDBEventResponse, error, string) {
		t.Helper()
		env[lambdaenv.Mapping] = mappingPath
		var logs, metrics bytes.Buffer
		log := slog.New(slog.NewJSONHandler(&logs, nil))
		f, err := newFunction(ctx, func(k string) string { return env[k] }, log, &metrics, nil, sec)
		if err != nil {
			return events.DynamoDBEventResponse{}, err, logs.String()
		}
		defer f.pool.Close()
		resp, err := f.handle(ctx, json.RawMessage(event(lambdaRecord(1, "INSERT", "o1", "new", "p1", "p2"))))
		if err == nil && len(resp.BatchItemFailures) == 0 {
			// The function's own session is encrypted (pg_hba.conf refuses
			// plain TCP anyway; this says so from the server's side).
			var ssl bool
			if err := f.pool.QueryRow(ctx, `SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()`).Scan(&ssl); err != nil || !ssl {
				t.Errorf("the function's session: ssl=%v err=%v", ssl, err)
			}
		}
		return resp, err, logs.String()
	}
	applied := func(t *testing.T, db string, resp events.DynamoDBEventResponse, err error, logs string) {
		t.Helper()
		if err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("batch not applied: resp %+v err %v\nlogs:\n%s", resp, err, logs)
		}
		if n := srv.count(t, db, `SELECT count(*) FROM order_items WHERE order_id = 'o1'`); n != 2 {
			t.Errorf("%d order_items rows, want 2", n)
		}
	}
	// refused: the batch must not be applied, the invocation must fail (an
	// error, or the first record reported for a retry), and what the function
	// says must carry the TLS verification error.
	refused := func(t *testing.T, db string, resp events.DynamoDBEventResponse, err error, logs string, want ...string) {
		t.Helper()
		if err == nil && (len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != fmt.Sprintf("%021d", 1)) {
			t.Fatalf("untrusted server accepted: resp %+v\nlogs:\n%s", resp, logs)
		}
		t.Logf("refused: error %v, batchItemFailures %+v", err, resp.BatchItemFailures)
		said := logs
		if err != nil {
			said += "\n" + err.Error()
		}
		for _, w := range want {
			if !strings.Contains(said, w) {
				t.Errorf("the function's report lacks %q:\nerror: %v\nlogs:\n%s", w, err, logs)
			}
		}
		if n := srv.count(t, db, `SELECT count(*) FROM pg_tables WHERE tablename = 'orders'`); n != 0 {
			t.Error("the function wrote to an untrusted server")
		}
	}

	t.Run("plain TCP is refused by the server", func(t *testing.T) {
		c, err := pgx.Connect(ctx, url("127.0.0.1", "postgres", "sslmode=disable"))
		if err == nil {
			c.Close(ctx)
			t.Fatal("pg_hba.conf accepted a connection without TLS: the other cases would prove nothing")
		}
	})
	t.Run("URL verify-full by IP", func(t *testing.T) {
		db := srv.createDB(t)
		resp, err, logs := run(t, map[string]string{lambdaenv.DatabaseURL: url("127.0.0.1", db, verifyFull(srv.ca))}, nil)
		applied(t, db, resp, err, logs)
	})
	t.Run("URL verify-full by name", func(t *testing.T) {
		db := srv.createDB(t)
		resp, err, logs := run(t, map[string]string{lambdaenv.DatabaseURL: url("localhost", db, verifyFull(srv.ca))}, nil)
		applied(t, db, resp, err, logs)
	})
	t.Run("URL verify-full with an unrelated CA", func(t *testing.T) {
		db := srv.createDB(t)
		resp, err, logs := run(t, map[string]string{lambdaenv.DatabaseURL: url("127.0.0.1", db, verifyFull(srv.otherCA))}, nil)
		refused(t, db, resp, err, logs, "x509: certificate signed by unknown authority")
	})
	t.Run("URL verify-full with a name the certificate lacks", func(t *testing.T) {
		if !srv.alt {
			t.Skip("127.0.0.2 is not a local address here")
		}
		db := srv.createDB(t)
		resp, err, logs := run(t, map[string]string{lambdaenv.DatabaseURL: url("127.0.0.2", db, verifyFull(srv.ca))}, nil)
		refused(t, db, resp, err, logs, "x509: certificate is valid for", "not 127.0.0.2")
		// The same server and CA with verify-ca (no name check) works: the
		// refusal above was the name.
		resp, err, logs = run(t, map[string]string{lambdaenv.DatabaseURL: url("127.0.0.2", db, "sslmode=verify-ca&sslrootcert="+srv.ca)}, nil)
		applied(t, db, resp, err, logs)
	})
	t.Run("secret with DDB2PG_DATABASE_OPTIONS verify-full", func(t *testing.T) {
		db := srv.createDB(t)
		sec := &fakeSecrets{values: []string{secretJSON("127.0.0.1", db)}}
		resp, err, logs := run(t, map[string]string{lambdaenv.DatabaseSecretARN: "arn:secret",
			lambdaenv.DatabaseOptions: verifyFull(srv.ca)}, sec)
		applied(t, db, resp, err, logs)
	})
	t.Run("secret with DDB2PG_DATABASE_OPTIONS and an unrelated CA", func(t *testing.T) {
		db := srv.createDB(t)
		sec := &fakeSecrets{values: []string{secretJSON("127.0.0.1", db)}}
		resp, err, logs := run(t, map[string]string{lambdaenv.DatabaseSecretARN: "arn:secret",
			lambdaenv.DatabaseOptions: verifyFull(srv.otherCA)}, sec)
		refused(t, db, resp, err, logs, "x509: certificate signed by unknown authority")
	})
	t.Run("bootstrap through the Runtime API", func(t *testing.T) {
		bin := buildBootstrap(t, dir)
		start := func(t *testing.T, dsn string) (*runtimeAPI, *lockedBuffer) {
			api := &runtimeAPI{answers: make(chan answer, 4)}
			hs := httptest.NewServer(api)
			t.Cleanup(hs.Close)
			stderr := new(lockedBuffer)
			cmd := exec.Command(bin)
			cmd.Env = []string{
				"AWS_LAMBDA_RUNTIME_API=" + strings.TrimPrefix(hs.URL, "http://"),
				lambdaenv.DatabaseURL + "=" + dsn,
				"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=y", "AWS_EC2_METADATA_DISABLED=true",
				"AWS_LAMBDA_FUNCTION_NAME=ddb2pg-test", "HOME=" + dir,
			}
			cmd.Stdout, cmd.Stderr = io.Discard, stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				cmd.Process.Kill()
				cmd.Wait()
				if t.Failed() {
					t.Logf("stderr:\n%s", stderr.String())
				}
			})
			return api, stderr
		}
		ev := event(lambdaRecord(1, "INSERT", "o1", "new", "p1", "p2"))

		db := srv.createDB(t)
		api, _ := start(t, url("127.0.0.1", db, verifyFull(srv.ca)))
		if f := failures(t, api.invoke(t, ev)); len(f) != 0 {
			t.Fatalf("failures %v", f)
		}
		if n := srv.count(t, db, `SELECT count(*) FROM order_items WHERE order_id = 'o1'`); n != 2 {
			t.Errorf("%d order_items rows, want 2", n)
		}

		db = srv.createDB(t)
		api, stderr := start(t, url("127.0.0.1", db, verifyFull(srv.otherCA)))
		a := api.invoke(t, ev)
		// The log line is written before the answer, but reaches us through a pipe.
		for end := time.Now().Add(5 * time.Second); time.Now().Before(end) && !strings.Contains(stderr.String(), "x509"); {
			time.Sleep(20 * time.Millisecond)
		}
		said := a.body + "\n" + stderr.String()
		switch {
		case a.kind == "error":
		case a.kind == "response" && strings.Contains(a.body, fmt.Sprintf("%021d", 1)):
		default:
			t.Errorf("untrusted server: answer %s %s", a.kind, a.body)
		}
		if !strings.Contains(said, "x509: certificate signed by unknown authority") {
			t.Errorf("the function's report lacks the TLS error:\nanswer: %s\nstderr:\n%s", a.body, stderr.String())
		}
		if n := srv.count(t, db, `SELECT count(*) FROM pg_tables WHERE tablename = 'orders'`); n != 0 {
			t.Error("the function wrote to an untrusted server")
		}
	})
}

// lockedBuffer is a bytes.Buffer a child process may write while the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// tlsPostgres is a private PostgreSQL cluster with TLS on.
type tlsPostgres struct {
	port    int
	sock    string // unix socket dir: the test's own, TLS-free way in
	ca      string // the CA that signed the server certificate
	otherCA string // an unrelated CA
	alt     bool   // also listening on 127.0.0.2 (not in the certificate)
	dbs     int
}

func (s *tlsPostgres) connect(t *testing.T, db string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, fmt.Sprintf("host=%s port=%d user=postgres dbname=%s sslmode=disable", s.sock, s.port, db))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (s *tlsPostgres) createDB(t *testing.T) string {
	t.Helper()
	s.dbs++
	name := fmt.Sprintf("tls%d", s.dbs)
	c := s.connect(t, "postgres")
	defer c.Close(context.Background())
	if _, err := c.Exec(context.Background(), "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	return name
}

func (s *tlsPostgres) count(t *testing.T, db, sql string) int {
	t.Helper()
	c := s.connect(t, db)
	defer c.Close(context.Background())
	var n int
	if err := c.QueryRow(context.Background(), sql).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// tlsUnavailable skips when PostgreSQL cannot be had here, but fails in CI.
func tlsUnavailable(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") != "" || os.Getenv("DDB2PG_TEST_STACK") == "1" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format+" (set CI=1 to fail instead)", args...)
}

// startTLSPostgres initdb's and starts a cluster with ssl=on on a free
// loopback port, run as the unprivileged user teststack uses when we are root,
// and stops it when the test ends.
func startTLSPostgres(t *testing.T) *tlsPostgres {
	t.Helper()
	pgbin := os.Getenv("PGBIN")
	if pgbin == "" {
		pgbin = "/usr/lib/postgresql/15/bin" // scripts/install-deps.sh's default
	}
	if _, err := os.Stat(filepath.Join(pgbin, "initdb")); err != nil {
		tlsUnavailable(t, "PostgreSQL server binaries: %v", err)
	}
	var cred *syscall.Credential
	parent := os.TempDir()
	if os.Geteuid() == 0 {
		// PostgreSQL refuses to run as root: run it as teststack's user.
		u, err := user.Lookup("ddb2pg")
		if err != nil {
			out, addErr := exec.Command("useradd", "--system", "--user-group", "--no-create-home",
				"--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", "ddb2pg").CombinedOutput()
			if u, err = user.Lookup("ddb2pg"); err != nil {
				tlsUnavailable(t, "creating the PostgreSQL user: %v: %s", addErr, out)
			}
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
		parent = "/tmp" // TMPDIR may be under /root, which that user cannot enter
	}
	// teststack's prefix and owner.pid: if this binary is killed, the next
	// teststack user sweeps the directory away.
	base, err := os.MkdirTemp(parent, "ddb2pg-teststack-tls-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.WriteFile(filepath.Join(base, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(base, 0o711); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(base, "pg")
	sock := filepath.Join(root, "sock")
	if err := os.MkdirAll(sock, 0o700); err != nil {
		t.Fatal(err)
	}

	// Certificates: a CA, a server certificate it signs for 127.0.0.1 and
	// localhost, and an unrelated CA.
	ca, caKey := newCA(t, "ddb2pg test CA")
	other, _ := newCA(t, "unrelated test CA")
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(3),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1"), net.IPv6loopback},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(srvKey)
	if err != nil {
		t.Fatal(err)
	}
	s := &tlsPostgres{sock: sock, ca: filepath.Join(base, "ca.pem"), otherCA: filepath.Join(base, "other-ca.pem")}
	certFile, keyFile := filepath.Join(root, "server.crt"), filepath.Join(root, "server.key")
	for _, f := range []struct {
		path, typ string
		der       []byte
		mode      os.FileMode
	}{
		{s.ca, "CERTIFICATE", ca.Raw, 0o644},
		{s.otherCA, "CERTIFICATE", other.Raw, 0o644},
		{certFile, "CERTIFICATE", srvDER, 0o644},
		{keyFile, "PRIVATE KEY", keyDER, 0o600},
	} {
		if err := os.WriteFile(f.path, pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der}), f.mode); err != nil {
			t.Fatal(err)
		}
	}
	if cred != nil {
		for _, p := range []string{root, sock, certFile, keyFile} {
			if err := os.Chown(p, int(cred.Uid), int(cred.Gid)); err != nil {
				t.Fatal(err)
			}
		}
	}
	asPG := func(cmd *exec.Cmd) *exec.Cmd {
		cmd.Dir = "/"
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		return cmd
	}
	data := filepath.Join(root, "data")
	if out, err := asPG(exec.Command(filepath.Join(pgbin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions")).CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	// TCP only with TLS; the socket (the test's own checks) without.
	hba := "local all all trust\nhostssl all all 127.0.0.0/8 trust\nhostssl all all ::1/128 trust\nhostnossl all all all reject\n"
	if err := os.WriteFile(filepath.Join(data, "pg_hba.conf"), []byte(hba), 0o600); err != nil {
		t.Fatal(err)
	}
	listen := "127.0.0.1"
	if l, err := net.Listen("tcp", "127.0.0.2:0"); err == nil {
		l.Close()
		listen += ",127.0.0.2"
		s.alt = true
	}
	logPath := filepath.Join(base, "postgres.log")
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s.port = l.Addr().(*net.TCPAddr).Port
		l.Close()
		cmd := asPG(exec.Command(filepath.Join(pgbin, "postgres"), "-D", data,
			"-c", "listen_addresses="+listen,
			"-c", "port="+strconv.Itoa(s.port),
			"-c", "unix_socket_directories="+sock,
			"-c", "ssl=on",
			"-c", "ssl_cert_file="+certFile,
			"-c", "ssl_key_file="+keyFile,
			"-c", "fsync=off",
			"-c", "max_connections=50"))
		stop, exited, err := startPG(cmd, logPath)
		if err != nil {
			t.Fatal(err)
		}
		lastErr = waitPG(s, exited)
		if lastErr == nil {
			t.Cleanup(func() { stop(); logIfFailed(t, logPath) })
			return s
		}
		stop()
	}
	b, _ := os.ReadFile(logPath)
	t.Fatalf("PostgreSQL with TLS did not start: %v\n%s", lastErr, b)
	return nil
}

func logIfFailed(t *testing.T, logPath string) {
	if t.Failed() {
		b, _ := os.ReadFile(logPath)
		t.Logf("postgres.log:\n%s", b)
	}
}

// startPG starts PostgreSQL with a parent-death signal from a thread that
// lives until it is stopped (Linux sends the signal when the forking thread
// exits), and returns the function that stops it.
func startPG(cmd *exec.Cmd, logPath string) (stop func(), exited chan struct{}, err error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, err
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr.Pdeathsig = syscall.SIGQUIT
	cmd.SysProcAttr.Setpgid = true
	started, release := make(chan error), make(chan struct{})
	exited = make(chan struct{})
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		err := cmd.Start()
		started <- err
		if err != nil {
			return
		}
		<-release
	}()
	if err := <-started; err != nil {
		logFile.Close()
		return nil, nil, err
	}
	go func() {
		cmd.Wait()
		logFile.Close()
		close(exited)
	}()
	done := false
	return func() {
		if done {
			return
		}
		done = true
		cmd.Process.Signal(syscall.SIGINT) // fast shutdown
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		close(release)
	}, exited, nil
}

// waitPG waits until the server answers on its socket, or has exited (most
// likely its port was taken meanwhile: the caller tries another).
func waitPG(s *tlsPostgres, exited <-chan struct{}) error {
	dsn := fmt.Sprintf("host=%s port=%d user=postgres dbname=postgres sslmode=disable", s.sock, s.port)
	deadline := time.Now().Add(time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c, err := pgx.Connect(ctx, dsn)
		cancel()
		if err == nil {
			c.Close(context.Background())
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("PostgreSQL exited: %w", err)
		default:
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func newCA(t *testing.T, name string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}
