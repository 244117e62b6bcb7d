// Package teststack gives integration tests real servers to talk to: a
// PostgreSQL 15 database, a MinIO bucket and a DynamoDB Local endpoint, all on
// loopback.
//
// When the environment written by scripts/stack.sh is present
// (DDB2PG_TEST_STACK=1 with DATABASE_URL, AWS_ENDPOINT_URL_S3,
// AWS_ENDPOINT_URL_DYNAMODB), its servers are reused: that is what `make test`
// does, so that all test binaries share one stack. Otherwise each component is
// started on first use, once per test binary, from the binaries that
// scripts/install-deps.sh resolves (installing them if needed), and stopped by
// Run when the tests end. Those processes also die with the test binary if it
// is killed, so a timed-out test leaves nothing running.
//
// Every test gets its own database and bucket, so tests can run in parallel
// and in several packages at once against the same servers. DynamoDB Local is
// one shared database: use UniqueName for table names.
//
// Use it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(teststack.Run(m)) }
//
// A component that cannot be had fails the test when CI is set or when a stack
// env is expected (DDB2PG_TEST_STACK=1), and skips it with the reason otherwise.
package teststack

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Credentials and region of the servers this package starts itself. MinIO and
// DynamoDB Local share them so that one set of AWS_* variables serves both.
// DynamoDB Local only accepts alphanumeric access keys.
const (
	accessKey = "ddb2pg"
	secretKey = "ddb2pgsecret"
	region    = "us-east-1"
)

// Run runs the tests, then stops whatever servers this test binary started.
// Its result is the exit code for os.Exit.
func Run(m *testing.M) int {
	code := m.Run()
	if err := stopAll(); err != nil {
		fmt.Fprintf(os.Stderr, "teststack: stopping servers: %v\n", err)
	}
	return code
}

// stackEnv returns the value of key when scripts/stack.sh's environment is in
// force. DDB2PG_TEST_STACK=1 is required so that a DATABASE_URL that merely
// happens to be set (a real database!) is never used to create and drop
// databases.
func stackEnv(key string) (string, bool) {
	if os.Getenv("DDB2PG_TEST_STACK") != "1" {
		return "", false
	}
	v := os.Getenv(key)
	return v, v != ""
}

// server is a component started on first use and shared by every test of
// the binary.
type server[T any] struct {
	name string // for messages: "PostgreSQL", "MinIO (S3)", ...
	open func() (T, error)
	once sync.Once
	v    T
	err  error
}

// get starts the server on first use and returns it; a server that could
// not be started ends the test (see unavailable).
func (s *server[T]) get(t testing.TB) T {
	t.Helper()
	s.once.Do(func() {
		start := time.Now()
		s.v, s.err = s.open()
		if s.err == nil {
			t.Logf("teststack: %s ready in %v", s.name, time.Since(start).Round(time.Millisecond))
		}
	})
	if s.err != nil {
		unavailable(t, s.name, s.err)
	}
	return s.v
}

// unavailable ends a test whose component could not be had: a failure in CI
// or under `make test`, where it must never silently pass, a skip otherwise.
func unavailable(t testing.TB, component string, err error) {
	t.Helper()
	if os.Getenv("CI") != "" || os.Getenv("DDB2PG_TEST_STACK") == "1" {
		t.Fatalf("teststack: %s is not available: %v", component, err)
	}
	t.Skipf("teststack: %s is not available, skipping (set CI=1 to fail instead): %v", component, err)
}

// UniqueName returns a name that no other test, test binary or run uses:
// prefix, the test's name and random hex, lower case, of [a-z0-9-] only and at
// most 63 characters. It suits DynamoDB table names and S3 bucket names.
func UniqueName(t testing.TB, prefix string) string {
	t.Helper()
	return uniqueName(prefix, t.Name(), '-', 63)
}

// uniqueName builds prefix<sep>testname<sep>random from [a-z0-9] and sep,
// cut to max characters.
func uniqueName(prefix, testName string, sep byte, max int) string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("teststack: reading random bytes: %v", err))
	}
	suffix := string(sep) + hex.EncodeToString(b[:])
	clean := func(s string) string {
		var out strings.Builder
		lastSep := true // no leading separator
		for _, r := range strings.ToLower(s) {
			if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
				out.WriteRune(r)
				lastSep = false
			} else if !lastSep {
				out.WriteByte(sep)
				lastSep = true
			}
		}
		return strings.TrimRight(out.String(), string(sep))
	}
	head := clean(prefix)
	if name := clean(testName); name != "" {
		if head != "" {
			head += string(sep)
		}
		head += name
	}
	if head == "" {
		head = "t"
	}
	if len(head) > max-len(suffix) {
		head = strings.TrimRight(head[:max-len(suffix)], string(sep))
	}
	return head + suffix
}

// repoRoot finds the repository root by walking up from the working directory
// (a package directory under `go test`) to the directory holding go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding the repository root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("finding the repository root: no go.mod above the working directory")
		}
		dir = parent
	}
}
