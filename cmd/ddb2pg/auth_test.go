package main

import (
	"net/url"
	"strings"
	"testing"

	"github.com/ddb2pg/ddb2pg/internal/teststack"
)

// TestWrongPasswordIsReportedAsSuch: a server that refuses the password
// (and, like most local servers, has no TLS) is reported as an
// authentication failure naming the user, not as "server refused TLS
// connection" — pgx's sslmode=prefer fallback puts that first.
func TestWrongPasswordIsReportedAsSuch(t *testing.T) {
	t.Parallel()
	c := teststack.PostgresCluster(t)
	if err := c.RequirePassword("app", "right"); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(c.DSN())
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Del("sslmode") // the default, prefer: TLS first, then plain
	u.RawQuery = q.Encode()
	u.User = url.UserPassword("app", "wrong")
	r := runBin(t, nil, "schema", "--mapping", sampleMapping, "--apply", "--database-url", u.String())
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\n%s", r.code, r.stderr)
	}
	for _, s := range []string{`password authentication failed for user "app"`, "check the user name and password"} {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("stderr should say %q:\n%s", s, r.stderr)
		}
	}
	if strings.Contains(r.stderr, "TLS") || strings.Contains(r.stderr, "wrong") {
		t.Errorf("stderr leads with TLS or leaks the password:\n%s", r.stderr)
	}
	u.User = url.UserPassword("app", "right")
	if r := runBin(t, nil, "schema", "--mapping", sampleMapping, "--database-url", u.String()); r.code != 0 {
		t.Fatalf("right password: exit %d\n%s", r.code, r.stderr)
	}
}
