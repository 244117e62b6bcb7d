package main

import (
	"bytes"
	"errors"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/ddb2pg/ddb2pg/internal/exportgen"
	"github.com/ddb2pg/ddb2pg/internal/teststack"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/ (mistakes/, status goldens)")

// mistake is one thing a new user gets wrong, as typed on the command line.
type mistake struct {
	name string
	args []string
	// stack: the case needs PostgreSQL and DynamoDB Local ($DB and
	// $DYNAMODB in args are replaced by theirs).
	stack bool
	// export: $EXPORT in args is an export of 30 orders (with items lists).
	export bool
	// imds: an instance metadata service that has no role (it answers 404
	// to everything, as the link-local address does behind some proxies)
	// instead of AWS_EC2_METADATA_DISABLED.
	imds bool
	env  []string
}

// mistakes are run by TestMistakes; each has testdata/mistakes/NAME.golden
// with the command, its exit code and its stderr, so every message a user
// sees for a mistake is reviewed in one place.
var mistakes = []mistake{
	// impossible numbers, for every numeric flag of every command
	{name: "backfill-workers-zero", args: []string{"backfill", "--workers", "0"}},
	{name: "backfill-workers-abc", args: []string{"backfill", "--workers", "abc"}},
	{name: "backfill-workers-huge", args: []string{"backfill", "--workers", "99999999999999999999"}},
	{name: "backfill-chunk-items-zero", args: []string{"backfill", "--chunk-items", "0"}},
	{name: "backfill-max-outage-negative", args: []string{"backfill", "--max-outage", "-5s"}},
	{name: "backfill-max-outage-zero", args: []string{"backfill", "--max-outage", "0"}},
	{name: "backfill-max-outage-no-unit", args: []string{"backfill", "--max-outage", "300"}},
	{name: "verify-segments-too-many", args: []string{"verify", "--segments", "2000"}},
	{name: "verify-sample-zero", args: []string{"verify", "--sample", "0"}},
	{name: "verify-max-rcu-negative", args: []string{"verify", "--max-rcu", "-1"}},
	{name: "verify-max-rcu-word", args: []string{"verify", "--max-rcu", "lots"}},
	{name: "verify-recheck-negative", args: []string{"verify", "--recheck", "-1"}},
	{name: "verify-recheck-delay-bad", args: []string{"verify", "--recheck-delay", "1x"}},
	{name: "verify-max-divergence-negative", args: []string{"verify", "--max-divergence", "-3"}},
	{name: "verify-chunk-items-zero", args: []string{"verify", "--chunk-items", "0"}},
	{name: "export-poll-interval-no-unit", args: []string{"export", "--poll-interval", "30"}},
	{name: "export-poll-interval-zero", args: []string{"export", "--poll-interval", "0s"}},
	{name: "stream-poll-interval-no-unit", args: []string{"stream", "--poll-interval", "30"}},
	{name: "stream-poll-interval-zero", args: []string{"stream", "--poll-interval", "0s"}},
	{name: "stream-until-idle-negative", args: []string{"stream", "--until-idle", "-1s"}},
	{name: "stream-refresh-interval-word", args: []string{"stream", "--refresh-interval", "often"}},
	{name: "stream-max-pg-outage-zero", args: []string{"stream", "--max-pg-outage", "0"}},
	{name: "stream-shard-concurrency-zero", args: []string{"stream", "--shard-concurrency", "0"}},
	{name: "stream-chunk-records-zero", args: []string{"stream", "--chunk-records", "0"}},
	{name: "stream-from-word", args: []string{"stream", "--from", "yesterday"}},
	{name: "infer-sample-zero", args: []string{"infer", "--sample", "0"}},
	{name: "infer-sample-abc", args: []string{"infer", "--sample", "abc"}},
	// other values
	{name: "log-level-schema", args: []string{"schema", "--log-level", "verbose"}},
	{name: "log-level-backfill", args: []string{"backfill", "--log-level", "verbose"}},
	{name: "log-format", args: []string{"verify", "--log-format", "yaml"}},
	{name: "progress", args: []string{"backfill", "--progress", "fancy"}},
	{name: "export-wait-maybe", args: []string{"export", "--wait=maybe"}},
	{name: "export-from-not-a-time", args: []string{"export", "--table", "Orders", "--s3-bucket", "acme-exports", "--incremental", "--from", "yesterday", "--to", "2026-01-02T12:00:00Z"}},
	{name: "value-missing", args: []string{"backfill", "--workers"}},
	// typos
	{name: "typo-backfill-maping", args: []string{"backfill", "--maping", "m.yaml"}},
	{name: "typo-schema-mappng", args: []string{"schema", "--mappng", "m.yaml"}},
	{name: "typo-verify-sampel", args: []string{"verify", "--sampel", "10"}},
	{name: "typo-export-tabel", args: []string{"export", "--tabel", "Orders"}},
	{name: "typo-infer-exprot", args: []string{"infer", "--exprot", "x"}},
	{name: "typo-stream-streamarn", args: []string{"stream", "--stream-ar", "arn:aws:dynamodb:..."}},
	{name: "typo-global-loglevel", args: []string{"schema", "--loglevel", "debug"}},
	{name: "unknown-flag-far", args: []string{"backfill", "--frobnicate"}},
	{name: "one-dash-mapping", args: []string{"schema", "-mapping", "m.yaml"}},
	{name: "unknown-shorthand", args: []string{"schema", "-x"}},
	{name: "unknown-shorthand-near-a-flag", args: []string{"export", "-x"}},
	{name: "root-unknown-flag", args: []string{"--maping", "m.yaml"}},
	// YAML's special characters in a mapping
	{name: "mapping-unquoted-star", args: []string{"schema", "--mapping", "testdata/mistakes/unquoted-star.yaml"}},
	{name: "mapping-unquoted-index", args: []string{"schema", "--mapping", "testdata/mistakes/unquoted-index.yaml"}},
	// a path into a list outside for_each, shown by the export's items
	{name: "backfill-path-into-list", export: true, args: []string{"backfill", "--mapping", "testdata/mistakes/path-into-list.yaml",
		"--export", "$EXPORT", "--database-url", "postgres://u@127.0.0.1:1/db", "--progress", "none"}},
	{name: "schema-path-into-list", export: true, args: []string{"schema", "--mapping", "testdata/mistakes/path-into-list.yaml", "--export", "$EXPORT"}},
	// no AWS credentials anywhere
	{name: "no-credentials-verify", args: []string{"verify", "--mapping", sampleMapping, "--database-url", "postgres://u@127.0.0.1:1/db"}},
	{name: "no-credentials-imds-404", imds: true, args: []string{"export", "--table", "Orders", "--s3-bucket", "acme-exports"}},
	{name: "no-credentials-export", args: []string{"export", "--table", "Orders", "--s3-bucket", "acme-exports"}},
	{name: "no-credentials-stream", args: []string{"stream", "--mapping", sampleMapping, "--database-url", "postgres://u@127.0.0.1:1/db"}},
	{name: "no-credentials-infer-s3", args: []string{"infer", "--export", "s3://acme-exports/AWSDynamoDB/01234567890123-abcdefgh"}},
	{name: "no-credentials-half-keys", args: []string{"backfill", "--mapping", sampleMapping, "--database-url", "postgres://u@127.0.0.1:1/db",
		"--export", "s3://acme-exports/AWSDynamoDB/01234567890123-abcdefgh"}, env: []string{"AWS_ACCESS_KEY_ID=AKIDEXAMPLE"}},
	// verify against a table that is not there: said once, no empty report
	{name: "verify-no-such-table", stack: true, args: []string{"verify", "--mapping", sampleMapping, "--database-url", "$DB", "--progress", "none"}},
}

// TestMistakes runs the built CLI on each mistake and compares the exit
// code, stderr and any stdout with testdata/mistakes/NAME.golden (-update
// rewrites them).
// The environment holds no AWS settings and no home directory, so the
// credentials chain finds nothing unless a case gives it something.
func TestMistakes(t *testing.T) {
	t.Parallel()
	for _, c := range mistakes {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			home := t.TempDir()
			env := []string{"HOME=" + home, "AWS_REGION=us-east-1"}
			if c.imds {
				srv := httptest.NewServer(http.NotFoundHandler())
				t.Cleanup(srv.Close)
				env = append(env, "AWS_EC2_METADATA_SERVICE_ENDPOINT="+srv.URL)
			} else {
				env = append(env, "AWS_EC2_METADATA_DISABLED=true")
			}
			args := append([]string(nil), c.args...)
			var subst []string
			if c.stack {
				ddb := teststack.DynamoDB(t)
				db := teststack.Postgres(t)
				env = append(env, "AWS_ACCESS_KEY_ID="+ddb.AccessKey, "AWS_SECRET_ACCESS_KEY="+ddb.SecretKey,
					"AWS_REGION="+ddb.Region, "AWS_ENDPOINT_URL_DYNAMODB="+ddb.Endpoint)
				for i, a := range args {
					args[i] = strings.NewReplacer("$DB", db).Replace(a)
				}
				subst = append(subst, ddb.Endpoint, "$DYNAMODB", db, "$DB")
			}
			if c.export {
				w, err := exportgen.WriteExport(filepath.Join(t.TempDir(), "e"), exportgen.Config{Orders: 30, Files: 2, Seed: 1})
				if err != nil {
					t.Fatal(err)
				}
				for i, a := range args {
					args[i] = strings.ReplaceAll(a, "$EXPORT", w.Folder)
				}
				subst = append(subst, w.Folder, "$EXPORT")
			}
			env = append(env, c.env...)
			code, stdout, stderr := runClean(t, env, args...)
			subst = append(subst, home, "$HOME")
			got := "$ ddb2pg " + strings.Join(c.args, " ") + "\nexit " + strconv.Itoa(code) + "\n" + stable(stderr, subst)
			if stdout != "" {
				got += "--- stdout\n" + stable(stdout, subst)
			}
			golden(t, filepath.Join("testdata", "mistakes", c.name+".golden"), got)
		})
	}
}

// runClean runs the binary with only the basics of this process's
// environment (PATH) and env: no AWS_*, DATABASE_URL or home of the user.
func runClean(t *testing.T, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "TZ=UTC"}, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return code, out.String(), errb.String()
}

var (
	requestID = regexp.MustCompile(`RequestID: [0-9A-Za-z-]+`)
	// DynamoDB Local answers some errors with a CRC32 header the SDK does
	// not agree with; the SDK's warning about it is no message of ours.
	localCRC = regexp.MustCompile(`(?m)^SDK [0-9/]+ [0-9:]+ WARN failed to close HTTP response body, this may affect connection reuse: response did not match expected checksum.*\n`)
)

// stable replaces what changes from run to run (request ids, temporary
// paths, endpoints) with fixed words.
func stable(s string, subst []string) string {
	s = localCRC.ReplaceAllString(s, "")
	s = requestID.ReplaceAllString(s, "RequestID: $$ID")
	return strings.NewReplacer(subst...).Replace(s)
}

// golden compares got with the file, or rewrites it with -update.
func golden(t *testing.T, file, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (go test ./cmd/ddb2pg -update creates it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test ./cmd/ddb2pg -update rewrites it)\n--- got\n%s--- want\n%s", file, got, want)
	}
}
