package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ddb2pg/ddb2pg/internal/teststack"
	"github.com/ddb2pg/ddb2pg/lambda/lambdaenv"
)

// The built bootstrap under AWS's Lambda Runtime Interface Emulator
// (aws-lambda-rie, built into the cache by scripts/install-deps.sh rie). The
// emulator serves the Runtime API on 127.0.0.1:9001 unless told otherwise:
// each test gives it free loopback ports for both its invoke endpoint
// (--runtime-interface-emulator-address) and its Runtime API
// (--runtime-api-address), so these tests may run alongside others.
// The in-test Runtime API server (TestBootstrapRuntimeAPI, the TLS tests)
// stays for what the emulator does not show: the exact Runtime API exchange
// (which endpoint the function posts its answer or error to, init errors) and
// a deadline header of the test's choosing.

var rieOnce struct {
	sync.Once
	bin string
	err error
}

// rieBin returns the emulator's path, installing it on first use; without it
// the test fails under CI or `make test`, and is skipped otherwise.
func rieBin(t *testing.T) string {
	t.Helper()
	rieOnce.Do(func() {
		var stdout, stderr bytes.Buffer
		cmd := exec.Command("bash", filepath.Join("..", "scripts", "install-deps.sh"), "rie")
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			rieOnce.err = fmt.Errorf("scripts/install-deps.sh rie: %w\n%s", err, stderr.String())
			return
		}
		sc := bufio.NewScanner(&stdout)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "RIE_BIN="); ok {
				rieOnce.bin = v
			}
		}
		if rieOnce.bin == "" {
			rieOnce.err = errors.New("scripts/install-deps.sh rie did not report RIE_BIN")
		}
	})
	if rieOnce.err != nil {
		if os.Getenv("CI") != "" || os.Getenv("DDB2PG_TEST_STACK") == "1" {
			t.Fatalf("the Lambda Runtime Interface Emulator is not available: %v", rieOnce.err)
		}
		t.Skipf("the Lambda Runtime Interface Emulator is not available, skipping (set CI=1 to fail instead): %v", rieOnce.err)
	}
	return rieOnce.bin
}

// emulator is one aws-lambda-rie process running the bootstrap.
type emulator struct {
	url string
	out *lockedBuffer // the function's stdout and stderr (the emulator prints both)
	log *lockedBuffer // the emulator's own log
}

func loopbackPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startEmulator runs bootstrap (from its directory, as /var/task) under the
// emulator with env as the function's whole environment. The emulator is
// stopped when the test ends (it kills the function's process).
func startEmulator(t *testing.T, bootstrap string, env ...string) *emulator {
	t.Helper()
	bin := rieBin(t)
	for attempt := 1; ; attempt++ {
		invokePort, apiPort := loopbackPort(t), loopbackPort(t)
		e := &emulator{url: fmt.Sprintf("http://127.0.0.1:%d/2015-03-31/functions/function/invocations", invokePort),
			out: &lockedBuffer{}, log: &lockedBuffer{}}
		cmd := exec.Command(bin,
			"--runtime-interface-emulator-address", fmt.Sprintf("127.0.0.1:%d", invokePort),
			"--runtime-api-address", fmt.Sprintf("127.0.0.1:%d", apiPort),
			"--log-level", "info", bootstrap)
		cmd.Dir = filepath.Dir(bootstrap)
		cmd.Env = env
		cmd.Stdout, cmd.Stderr = e.out, e.log
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting %s: %v", bin, err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		stop := func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				<-exited
			}
		}
		err := waitListening(invokePort, exited)
		if err == nil {
			// The port may have been another process's, taken between
			// loopbackPort and the bind: then ours has failed and exits at once.
			select {
			case <-exited:
				err = errors.New("the emulator exited")
			case <-time.After(300 * time.Millisecond):
			}
		}
		if err != nil {
			stop()
			if attempt < 3 { // a port taken in the meantime
				continue
			}
			t.Fatalf("the emulator did not start: %v\n%s", err, e.log.String())
		}
		t.Cleanup(func() {
			stop()
			if t.Failed() {
				t.Logf("function output:\n%s\nemulator log:\n%s", e.out.String(), e.log.String())
			}
		})
		return e
	}
}

func waitListening(port int, exited <-chan struct{}) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return errors.New("the emulator exited")
		default:
		}
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("not listening after 30s")
}

// invoke sends one event; it returns the function's response body, or fails
// the test on a function error (which the emulator answers with the error
// document and status 200, as Lambda's Invoke API does).
func (e *emulator) invoke(t *testing.T, payload string) (body string, funcErr bool) {
	t.Helper()
	resp, err := http.Post(e.url, "application/json", strings.NewReader(payload))
	if err != nil {
		t.Fatalf("invoking through the emulator: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("emulator answered %s: %s", resp.Status, b)
	}
	var doc map[string]json.RawMessage
	if json.Unmarshal(b, &doc) == nil && doc["errorMessage"] != nil && doc["errorType"] != nil {
		return string(b), true
	}
	return string(b), false
}

// batchFailures invokes and returns the partial batch response's identifiers.
func (e *emulator) batchFailures(t *testing.T, payload string) []string {
	t.Helper()
	body, funcErr := e.invoke(t, payload)
	if funcErr {
		t.Fatalf("function error: %s", body)
	}
	var resp events.DynamoDBEventResponse
	if err := json.Unmarshal([]byte(body), &resp); err != nil || resp.BatchItemFailures == nil {
		t.Fatalf("response %q is not a partial batch response: %v", body, err)
	}
	ids := []string{}
	for _, f := range resp.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	return ids
}

// logLines returns the function's JSON log lines with message msg.
func (e *emulator) logLines(t *testing.T, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(e.out.String(), "\n") {
		if !strings.HasPrefix(line, "{") || !strings.Contains(line, `"msg":`) {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Errorf("log line is not JSON: %s", line)
			continue
		}
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// The real bootstrap, invoked through AWS's emulator with real event JSON:
// a batch with malformed records applies its good records, a batch cut by
// the deadline answers with the partial batch response, a Kinesis-delivered
// event is a function error, and each batch logs one JSON line.
func TestBootstrapUnderEmulator(t *testing.T) {
	dsn := teststack.Postgres(t)
	dir := t.TempDir()
	bin := buildBootstrap(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "mapping.yaml"), []byte(testMapping), 0o644); err != nil {
		t.Fatal(err)
	}
	const timeout = 12 // seconds, the function's configured timeout (the batch is cut 2 s before)
	e := startEmulator(t, bin,
		lambdaenv.DatabaseURL+"="+dsn,
		lambdaenv.ChunkRecords+"=1",
		fmt.Sprintf("AWS_LAMBDA_FUNCTION_TIMEOUT=%d", timeout),
		"AWS_LAMBDA_FUNCTION_NAME=ddb2pg-rie",
		"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=y", "AWS_EC2_METADATA_DISABLED=true",
		"HOME="+dir,
	)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	seq := func(n int) string { return fmt.Sprintf("%021d", n) }

	// 1. Good records around malformed ones: all good ones are applied, each
	// bad one is rejected under its sequence number.
	ev := event(
		lambdaRecord(1, "INSERT", "o1", "new", "p1", "p2"),
		strings.Replace(lambdaRecord(2, "INSERT", "o2", "new", "p1"), `"quantity":{"N":"1"}`, `"quantity":{"N":1}`, 1),
		strings.Replace(lambdaRecord(3, "INSERT", "o3", "new", "p1"), `"status":{"S":"new"}`, `"status":{"SX":"new"}`, 1),
		lambdaRecord(4, "INSERT", "o4", "new", "p1"),
	)
	if f := e.batchFailures(t, ev); len(f) != 0 {
		t.Fatalf("batchItemFailures %v", f)
	}
	if n := count(t, pool, `SELECT count(*) FROM orders WHERE id IN ('o1','o4')`); n != 2 {
		t.Errorf("%d of 2 good records applied", n)
	}
	if n := count(t, pool, `SELECT count(*) FROM order_items WHERE order_id = 'o1'`); n != 2 {
		t.Errorf("%d items of o1, want 2", n)
	}
	if n := count(t, pool, fmt.Sprintf(`SELECT count(*) FROM ddb2pg.rejects WHERE seq IN ('%s','%s') AND reason LIKE 'unreadable stream record:%%'`,
		seq(2), seq(3))); n != 2 {
		t.Errorf("%d rejects of the malformed records, want 2", n)
	}
	lines := e.logLines(t, "batch applied")
	if len(lines) != 1 || lines[0]["records"] != 4.0 || lines[0]["applied"] != 2.0 || lines[0]["rejected"] != 2.0 ||
		lines[0]["first_seq"] != seq(1) || lines[0]["last_seq"] != seq(4) {
		t.Errorf("batch log lines %v, want one with records 4, applied 2, rejected 2", lines)
	}
	if len(lines) == 1 {
		// why, counted by reason, in the same line
		byReason, _ := lines[0]["rejects_by_reason"].(map[string]any)
		var total float64
		for reason, n := range byReason {
			if !strings.Contains(reason, "unreadable stream record") {
				t.Errorf("rejects_by_reason has %q", reason)
			}
			total += n.(float64)
		}
		if total != 2 {
			t.Errorf("rejects_by_reason %v, want 2 rejects in all", lines[0]["rejects_by_reason"])
		}
	}

	// 2. PostgreSQL takes 30 s over record 7: the deadline cuts the batch, the
	// response names record 7, records 5 and 6 stay committed.
	if _, err := pool.Exec(ctx, slowStatus); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	f := e.batchFailures(t, event(
		lambdaRecord(5, "INSERT", "o5", "new", "p1"),
		lambdaRecord(6, "INSERT", "o6", "new", "p1"),
		lambdaRecord(7, "INSERT", "o7", "slow", "p1"),
		lambdaRecord(8, "INSERT", "o8", "new", "p1"),
	))
	if len(f) != 1 || f[0] != seq(7) {
		t.Fatalf("batchItemFailures %v, want [%s]", f, seq(7))
	}
	if d := time.Since(start); d > timeout*time.Second {
		t.Errorf("answered after %v, the timeout is %ds", d, timeout)
	}
	if n := count(t, pool, `SELECT count(*) FROM orders WHERE id IN ('o5','o6','o7','o8')`); n != 2 {
		t.Errorf("%d of the cut batch committed, want 2", n)
	}
	if cut := e.logLines(t, "batch cut by the invocation deadline; Lambda retries from the first record not committed"); len(cut) != 1 ||
		cut[0]["failed_seq"] != seq(7) || cut[0]["committed"] != 2.0 {
		t.Errorf("deadline log lines %v", cut)
	}
	// Lambda retries from record 7; PostgreSQL is fast again.
	if _, err := pool.Exec(ctx, `ALTER TABLE orders DROP CONSTRAINT slow`); err != nil {
		t.Fatal(err)
	}
	if f := e.batchFailures(t, event(lambdaRecord(7, "INSERT", "o7", "slow", "p1"), lambdaRecord(8, "INSERT", "o8", "new", "p1"))); len(f) != 0 {
		t.Fatalf("retry: batchItemFailures %v", f)
	}
	if n := count(t, pool, `SELECT count(*) FROM orders`); n != 6 {
		t.Errorf("%d orders, want 6", n)
	}

	// 3. A DynamoDB change delivered through Kinesis is a function error.
	kinesis, err := os.ReadFile("../testdata/real-world/lambda-events/powertools-ts-kinesis-delivered-dynamodb.json")
	if err != nil {
		t.Fatal(err)
	}
	if body, funcErr := e.invoke(t, string(kinesis)); !funcErr || !strings.Contains(body, "aws:kinesis") {
		t.Errorf("kinesis event: function error %v, body %s", funcErr, body)
	}

	// Metrics: one EMF line per applied batch, on stdout.
	var emf int
	for _, line := range strings.Split(e.out.String(), "\n") {
		if strings.Contains(line, `"_aws"`) && strings.Contains(line, `"FunctionName":"ddb2pg-rie"`) {
			emf++
		}
	}
	if emf < 3 {
		t.Errorf("%d EMF lines, want one per batch (≥ 3)", emf)
	}
}
