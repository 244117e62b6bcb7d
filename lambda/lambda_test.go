package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ddb2pg/ddb2pg/internal/teststack"
	"github.com/ddb2pg/ddb2pg/lambda/lambdaenv"
)

func TestMain(m *testing.M) { os.Exit(teststack.Run(m)) }

const testMapping = `version: 1
source:
  table: Orders
  key: [orderId]
tables:
  - name: customers
    primary_key: [id]
    shared: true
    columns:
      - {name: id,    from: customerId,    type: text, required: true}
  - name: orders
    primary_key: [id]
    columns:
      - {name: id,          from: orderId,    type: text}
      - {name: customer_id, from: customerId, type: text}
      - {name: status,      from: status,     type: text}
  - name: order_items
    for_each: items
    primary_key: [order_id, line]
    columns:
      - {name: order_id,   from: $.orderId, type: text}
      - {name: line,       from: "#index",  type: integer}
      - {name: product_id, from: productId, type: text}
      - {name: quantity,   from: quantity,  type: integer}
`

// lambdaRecord renders one record in the exact shape Lambda delivers.
func lambdaRecord(seq int, event, id, status string, products ...string) string {
	keys := fmt.Sprintf(`{"orderId":{"S":%q}}`, id)
	img := ""
	if event != "REMOVE" {
		var items []string
		for i, p := range products {
			items = append(items, fmt.Sprintf(`{"M":{"productId":{"S":%q},"quantity":{"N":"%d"}}}`, p, i+1))
		}
		img = fmt.Sprintf(`,"NewImage":{"orderId":{"S":%q},"customerId":{"S":"c1"},"status":{"S":%q},"items":{"L":[%s]}}`,
			id, status, strings.Join(items, ","))
	}
	return fmt.Sprintf(`{"eventID":"ev%d","eventName":%q,"eventVersion":"1.1","eventSource":"aws:dynamodb","awsRegion":"us-east-1",
 "dynamodb":{"ApproximateCreationDateTime":%d,"Keys":%s%s,"SequenceNumber":"%021d","SizeBytes":100,"StreamViewType":"NEW_AND_OLD_IMAGES"},
 "eventSourceARN":"arn:aws:dynamodb:us-east-1:123456789012:table/Orders/stream/2026-01-01T00:00:00.000"}`,
		seq, event, time.Now().Unix()-5, keys, img, seq)
}

func event(recs ...string) string { return `{"Records":[` + strings.Join(recs, ",") + `]}` }

// runtimeAPI is a minimal Lambda Runtime API: it hands out queued events
// and collects the function's answers.
type runtimeAPI struct {
	mu      sync.Mutex
	queue   []string
	next    int
	answers chan answer
}

type answer struct {
	id   string
	kind string // "response" or "error"
	body string
}

func (r *runtimeAPI) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	const prefix = "/2018-06-01/runtime/"
	path := strings.TrimPrefix(req.URL.Path, prefix)
	switch {
	case req.Method == http.MethodGet && path == "invocation/next":
		for {
			r.mu.Lock()
			if r.next < len(r.queue) {
				ev := r.queue[r.next]
				id := fmt.Sprintf("req-%d", r.next)
				r.next++
				r.mu.Unlock()
				w.Header().Set("Lambda-Runtime-Aws-Request-Id", id)
				w.Header().Set("Lambda-Runtime-Deadline-Ms", fmt.Sprint(time.Now().Add(60*time.Second).UnixMilli()))
				w.Header().Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:ddb2pg")
				w.Header().Set("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
				w.Write([]byte(ev))
				return
			}
			r.mu.Unlock()
			select {
			case <-req.Context().Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	case req.Method == http.MethodPost && strings.HasPrefix(path, "invocation/"):
		rest := strings.TrimPrefix(path, "invocation/")
		id, kind, _ := strings.Cut(rest, "/")
		b, _ := io.ReadAll(req.Body)
		w.WriteHeader(http.StatusAccepted)
		r.answers <- answer{id: id, kind: kind, body: string(b)}
	case req.Method == http.MethodPost && path == "init/error":
		b, _ := io.ReadAll(req.Body)
		w.WriteHeader(http.StatusAccepted)
		r.answers <- answer{id: "init", kind: "init-error", body: string(b)}
	default:
		http.NotFound(w, req)
	}
}

func (r *runtimeAPI) invoke(t *testing.T, ev string) answer {
	t.Helper()
	r.mu.Lock()
	r.queue = append(r.queue, ev)
	r.mu.Unlock()
	select {
	case a := <-r.answers:
		return a
	case <-time.After(60 * time.Second):
		t.Fatal("no answer from the function")
	}
	return answer{}
}

func buildBootstrap(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "bootstrap")
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the bootstrap: %v\n%s", err, out)
	}
	return bin
}

func failures(t *testing.T, a answer) []string {
	t.Helper()
	if a.kind != "response" {
		t.Fatalf("function answered %s: %s", a.kind, a.body)
	}
	var resp events.DynamoDBEventResponse
	if err := json.Unmarshal([]byte(a.body), &resp); err != nil {
		t.Fatalf("response %q: %v", a.body, err)
	}
	var ids []string
	for _, f := range resp.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	return ids
}

func count(t *testing.T, pool *pgxpool.Pool, sql string) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), sql).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// The built bootstrap, driven through the Runtime API, against PostgreSQL.
func TestBootstrapRuntimeAPI(t *testing.T) {
	dsn := teststack.Postgres(t)
	dir := t.TempDir()
	bin := buildBootstrap(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "mapping.yaml"), []byte(testMapping), 0o644); err != nil {
		t.Fatal(err)
	}
	api := &runtimeAPI{answers: make(chan answer, 16)}
	srv := httptest.NewServer(api)
	defer srv.Close()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin)
	cmd.Env = []string{
		"AWS_LAMBDA_RUNTIME_API=" + strings.TrimPrefix(srv.URL, "http://"),
		lambdaenv.DatabaseURL + "=" + dsn,
		lambdaenv.ChunkRecords + "=2",
		"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=y", "AWS_EC2_METADATA_DISABLED=true",
		"AWS_LAMBDA_FUNCTION_NAME=ddb2pg-test", "HOME=" + dir,
	}
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
		}
	}()
	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()

	// 1. A normal batch: insert, modify (shrink), remove, and replays.
	a := api.invoke(t, event(
		lambdaRecord(1, "INSERT", "o1", "new", "p1", "p2", "p3"),
		lambdaRecord(2, "INSERT", "o2", "new", "p1"),
		lambdaRecord(3, "MODIFY", "o1", "paid", "p1"),
		lambdaRecord(4, "REMOVE", "o2", ""),
	))
	if f := failures(t, a); len(f) != 0 {
		t.Fatalf("failures %v", f)
	}
	if count(t, pool, `SELECT count(*) FROM orders`) != 1 || count(t, pool, `SELECT count(*) FROM order_items`) != 1 {
		t.Error("tables after batch 1")
	}
	// Lambda retries a batch from the middle: duplicates are no-ops.
	a = api.invoke(t, event(lambdaRecord(3, "MODIFY", "o1", "paid", "p1"), lambdaRecord(4, "REMOVE", "o2", "")))
	if f := failures(t, a); len(f) != 0 {
		t.Fatalf("failures %v", f)
	}

	// 2. The database goes away in the middle of a batch (a check constraint
	// ends the session on the 'die' row): chunks are 2 records, so records 10 and 11
	// are committed and 12 is the first one reported.
	if _, err := pool.Exec(context.Background(), `
		CREATE FUNCTION die(s text) RETURNS boolean LANGUAGE sql AS
			$$ SELECT CASE WHEN s = 'die' THEN pg_terminate_backend(pg_backend_pid()) ELSE true END $$;
		ALTER TABLE orders ADD CONSTRAINT die CHECK (die(status));`); err != nil {
		t.Fatal(err)
	}
	batch := event(
		lambdaRecord(10, "INSERT", "o10", "new", "p1"),
		lambdaRecord(11, "INSERT", "o11", "new", "p1"),
		lambdaRecord(12, "INSERT", "o12", "new", "p1"),
		lambdaRecord(13, "INSERT", "o13", "die", "p1"),
		lambdaRecord(14, "INSERT", "o14", "new", "p1"),
	)
	a = api.invoke(t, batch)
	if f := failures(t, a); len(f) != 1 || f[0] != fmt.Sprintf("%021d", 12) {
		t.Fatalf("failures %v, want [seq 12]", f)
	}
	if n := count(t, pool, `SELECT count(*) FROM orders WHERE id IN ('o10','o11','o12','o13','o14')`); n != 2 {
		t.Errorf("%d of the batch committed, want 2", n)
	}
	if _, err := pool.Exec(context.Background(), `ALTER TABLE orders DROP CONSTRAINT die`); err != nil {
		t.Fatal(err)
	}
	// Lambda retries from the reported record (the whole batch again here).
	a = api.invoke(t, batch)
	if f := failures(t, a); len(f) != 0 {
		t.Fatalf("retry failures %v", f)
	}
	if n := count(t, pool, `SELECT count(*) FROM orders`); n != 6 {
		t.Errorf("%d orders, want 6", n)
	}

	// 3. A poison image is rejected and does not block the batch.
	a = api.invoke(t, event(
		strings.Replace(lambdaRecord(20, "INSERT", "o20", "new", "p1"), `"quantity":{"N":"1"}`, `"quantity":{"N":"1.5"}`, 1),
		lambdaRecord(21, "INSERT", "o21", "new", "p1"),
	))
	if f := failures(t, a); len(f) != 0 {
		t.Fatalf("failures %v", f)
	}
	if count(t, pool, `SELECT count(*) FROM ddb2pg.rejects WHERE seq = '000000000000000000020'`) != 1 ||
		count(t, pool, `SELECT count(*) FROM orders WHERE id = 'o21'`) != 1 {
		t.Error("poison record not rejected / next record not applied")
	}

	// 4. Events the function must refuse as a whole.
	kinesis, err := os.ReadFile("../testdata/real-world/lambda-events/powertools-ts-kinesis-delivered-dynamodb.json")
	if err != nil {
		t.Fatal(err)
	}
	if a = api.invoke(t, string(kinesis)); a.kind != "error" || !strings.Contains(a.body, "aws:kinesis") {
		t.Errorf("kinesis event: %s %s", a.kind, a.body)
	}
	old := strings.Replace(lambdaRecord(30, "MODIFY", "o1", "x"), "NEW_AND_OLD_IMAGES", "OLD_IMAGE", 1)
	if a = api.invoke(t, event(old)); a.kind != "error" || !strings.Contains(a.body, "OLD_IMAGE") {
		t.Errorf("OLD_IMAGE event: %s %s", a.kind, a.body)
	}

	// Logs: one JSON line per batch; metrics in EMF on stdout.
	time.Sleep(100 * time.Millisecond)
	var batches int
	for _, line := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(line, `"msg":"batch applied"`) {
			batches++
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Errorf("log line is not JSON: %s", line)
			}
			if m["first_seq"] == nil || m["applied"] == nil {
				t.Errorf("log line lacks counts: %s", line)
			}
		}
	}
	if batches < 4 {
		t.Errorf("%d batch log lines, want ≥ 4:\n%s", batches, stderr.String())
	}
	var emf map[string]any
	first, _, _ := strings.Cut(stdout.String(), "\n")
	if err := json.Unmarshal([]byte(first), &emf); err != nil || emf["_aws"] == nil || emf["RecordsApplied"] == nil || emf["ReplicationLag"] == nil {
		t.Errorf("EMF line: %s (%v)", first, err)
	}
}

func TestSettings(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	if _, err := readSettings(env()); err == nil || !strings.Contains(err.Error(), lambdaenv.DatabaseURL) {
		t.Errorf("no database: %v", err)
	}
	if _, err := readSettings(env(lambdaenv.DatabaseURL, "postgres://x", lambdaenv.TTLDeletes, "soft")); err == nil {
		t.Error("soft without a column accepted")
	}
	if _, err := readSettings(env(lambdaenv.DatabaseURL, "postgres://x", lambdaenv.TTLDeletes, "later")); err == nil {
		t.Error("bad TTL mode accepted")
	}
	s, err := readSettings(env(lambdaenv.DatabaseURL, "postgres://x", lambdaenv.Mapping, "/m.yaml", lambdaenv.TTLDeletes, "soft", lambdaenv.SoftDeleteColumn, "deleted_at"))
	if err != nil || s.maxConns != 2 || s.mappingPath != "/m.yaml" {
		t.Errorf("%+v %v", s, err)
	}
	u, err := secretURL(`{"host":"db.example.com","port":5432,"username":"app","password":"p@ss/word","dbname":"orders","engine":"postgres"}`,
		"sslmode=require&connect_timeout=5")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := poolConfig(u, 2)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ConnConfig.Password != "p@ss/word" || cfg.ConnConfig.Host != "db.example.com" || cfg.ConnConfig.Database != "orders" ||
		cfg.ConnConfig.TLSConfig == nil || cfg.MaxConns != 2 || cfg.ConnConfig.DefaultQueryExecMode != pgx.QueryExecModeExec {
		t.Errorf("pool config from secret: %+v", cfg.ConnConfig)
	}
	if _, err := secretURL(`{"host":"h","port":"6432","username":"u","password":"p","dbname":"d"}`, ""); err != nil {
		t.Errorf("string port: %v", err)
	}
	cfg, _ = poolConfig("postgres://u@h/d?default_query_exec_mode=cache_describe", 2)
	if cfg.ConnConfig.DefaultQueryExecMode != pgx.QueryExecModeCacheDescribe {
		t.Error("URL's exec mode overridden")
	}
}

type fakeSecrets struct {
	mu     sync.Mutex
	values []string
	calls  int
}

func (f *fakeSecrets) GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v := f.values[min(f.calls, len(f.values)-1)]
	f.calls++
	return &secretsmanager.GetSecretValueOutput{SecretString: aws.String(v)}, nil
}

// The secret is read once per container and again when authentication fails
// (a rotated password).
func TestSecretRefreshOnAuthFailure(t *testing.T) {
	dsn := teststack.Postgres(t)
	pc, err := pgconn.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	secret := func(user string) string {
		b, _ := json.Marshal(map[string]any{"host": pc.Host, "port": pc.Port, "username": user, "password": "pw", "dbname": pc.Database})
		return string(b)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "mapping.yaml"), []byte(testMapping), 0o644)
	sec := &fakeSecrets{values: []string{secret("rotated_away"), secret(pc.User)}}
	getenv := func(k string) string {
		return map[string]string{lambdaenv.DatabaseSecretARN: "arn:secret", lambdaenv.Mapping: filepath.Join(dir, "mapping.yaml"),
			lambdaenv.DatabaseOptions: "sslmode=disable"}[k]
	}
	var metrics bytes.Buffer
	f, err := newFunction(context.Background(), getenv, slog.New(slog.DiscardHandler), &metrics, nil, sec)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := f.handle(context.Background(), json.RawMessage(event(lambdaRecord(1, "INSERT", "o1", "new", "p1"))))
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("resp %+v err %v", resp, err)
	}
	if sec.calls != 2 {
		t.Errorf("secret read %d times, want 2 (init, then after the auth failure)", sec.calls)
	}
	resp, err = f.handle(context.Background(), json.RawMessage(event(lambdaRecord(2, "MODIFY", "o1", "paid", "p1"))))
	if err != nil || len(resp.BatchItemFailures) != 0 || sec.calls != 2 {
		t.Errorf("second invocation: %+v %v, secret reads %d", resp, err, sec.calls)
	}
}

// newTestFunction is the function as its main builds it, on dsn, with the
// test mapping; its log goes to logs.
func newTestFunction(t *testing.T, dsn string, logs io.Writer, env ...string) *function {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "mapping.yaml"), []byte(testMapping), 0o644); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{lambdaenv.DatabaseURL: dsn, lambdaenv.Mapping: filepath.Join(dir, "mapping.yaml")}
	for i := 0; i+1 < len(env); i += 2 {
		vars[env[i]] = env[i+1]
	}
	f, err := newFunction(context.Background(), func(k string) string { return vars[k] },
		slog.New(slog.NewJSONHandler(logs, nil)), io.Discard, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.pool.Close() })
	return f
}

// Malformed records are rejected one by one: the batch succeeds, its good
// records are applied, each bad one is in ddb2pg.rejects under its sequence
// number with its key.
func TestMalformedRecordsRejectedOneByOne(t *testing.T) {
	dsn := teststack.Postgres(t)
	var logs bytes.Buffer
	f := newTestFunction(t, dsn, &logs)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := f.handle(ctx, json.RawMessage(event(lambdaRecord(1, "INSERT", "o5", "new", "p1")))); err != nil {
		t.Fatal(err)
	}
	noImage := func(r string) string {
		before, _, _ := strings.Cut(r, `,"NewImage"`)
		_, after, _ := strings.Cut(r, `,"SequenceNumber"`)
		return before + `,"SequenceNumber"` + after
	}
	bad := map[int]string{ // seq -> the reason's tail
		3: `attribute "items": [0]: attribute "quantity": DynamoDBAttributeValue: N type should contain a string`,
		4: `attribute "status": unsupported DynamoDB attribute type, DATE`,
		5: "MODIFY record has no NewImage on a NEW_AND_OLD_IMAGES stream",
		6: "MODIFY record has no NewImage on a NEW_AND_OLD_IMAGES stream",
	}
	ev := event(
		lambdaRecord(2, "INSERT", "o2", "new", "p1"),
		strings.Replace(lambdaRecord(3, "INSERT", "o3", "new", "p1"), `"quantity":{"N":"1"}`, `"quantity":{"N":1}`, 1),
		strings.Replace(lambdaRecord(4, "INSERT", "o4", "new", "p1"), `"status":{"S":"new"}`, `"status":{"DATE":"2026-01-01"}`, 1),
		noImage(lambdaRecord(5, "MODIFY", "o5", "paid", "p1")),
		strings.Replace(noImage(lambdaRecord(6, "MODIFY", "o5", "paid", "p1")), `"Keys"`, `"NewImage":null,"Keys"`, 1),
		lambdaRecord(7, "INSERT", "o7", "new", "p1", "p2"),
		strings.Replace(lambdaRecord(8, "INSERT", "o8", "new", "p1"), `"SequenceNumber":"000000000000000000008"`, `"SequenceNumber":"8\u0000\ud800"`, 1),
	)
	resp, err := f.handle(ctx, json.RawMessage(ev))
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("resp %+v, err %v\n%s", resp, err, logs.String())
	}
	if n := count(t, pool, `SELECT count(*) FROM orders WHERE id IN ('o2','o7')`); n != 2 {
		t.Errorf("%d of the good records applied, want 2", n)
	}
	if n := count(t, pool, `SELECT count(*) FROM orders WHERE id IN ('o3','o4')`); n != 0 {
		t.Errorf("%d rows of malformed inserts", n)
	}
	// A MODIFY without an image is o5's newest change, and it is rejected:
	// as for any rejected newest image, the item's rows go (verify then
	// reports it), rather than staying as if current.
	if n := count(t, pool, `SELECT count(*) FROM orders WHERE id = 'o5'`); n != 0 {
		t.Error("o5's rows stayed although its newest change was rejected")
	}
	for seq, reason := range bad {
		var raw, got string
		err := pool.QueryRow(ctx, `SELECT coalesce(raw_value, ''), reason FROM ddb2pg.rejects WHERE seq = $1`,
			fmt.Sprintf("%021d", seq)).Scan(&raw, &got)
		if err != nil {
			t.Errorf("seq %d: no reject: %v", seq, err)
			continue
		}
		if !strings.Contains(got, reason) || !strings.Contains(raw, fmt.Sprintf("o%d", min(seq, 5))) {
			t.Errorf("seq %d: reject raw %q reason %q, want the key and %q", seq, raw, got, reason)
		}
	}
	if n := count(t, pool, `SELECT count(*) FROM ddb2pg.rejects WHERE seq IS NULL AND raw_value LIKE '%o8%' AND reason LIKE '%SequenceNumber%not a decimal integer%'`); n != 1 {
		t.Errorf("%d rejects of the record with a bad sequence number, want 1", n)
	}
	if n := count(t, pool, `SELECT count(*) FROM ddb2pg.rejects`); n != len(bad)+1 {
		t.Errorf("%d rejects, want %d", n, len(bad)+1)
	}
}

// slowStatus makes PostgreSQL take 30 s over an order whose status is 'slow'.
const slowStatus = `
	CREATE FUNCTION slow(s text) RETURNS boolean LANGUAGE sql AS
		$$ SELECT CASE WHEN s = 'slow' THEN (SELECT true FROM pg_sleep(30)) ELSE true END $$;
	ALTER TABLE orders ADD CONSTRAINT slow CHECK (slow(status));`

// A batch cut by the invocation's deadline answers with the partial batch
// response from the first record not committed, not a function error.
func TestDeadlineCutsBatchToPartialResponse(t *testing.T) {
	dsn := teststack.Postgres(t)
	var logs bytes.Buffer
	f := newTestFunction(t, dsn, &logs, lambdaenv.ChunkRecords, "1")
	ctx := context.Background()
	if _, err := f.handle(ctx, json.RawMessage(event(lambdaRecord(1, "INSERT", "o1", "new", "p1")))); err != nil {
		t.Fatal(err)
	}
	if _, err := f.pool.Exec(ctx, slowStatus); err != nil {
		t.Fatal(err)
	}
	dctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	start := time.Now()
	resp, err := f.handle(dctx, json.RawMessage(event(
		lambdaRecord(2, "INSERT", "o2", "new", "p1"),
		lambdaRecord(3, "INSERT", "o3", "new", "p1"),
		lambdaRecord(4, "INSERT", "o4", "slow", "p1"),
		lambdaRecord(5, "INSERT", "o5", "new", "p1"),
	)))
	if err != nil {
		t.Fatalf("function error %v, want a partial batch response\n%s", err, logs.String())
	}
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != fmt.Sprintf("%021d", 4) {
		t.Fatalf("batchItemFailures %+v, want [seq 4]", resp.BatchItemFailures)
	}
	if d := time.Since(start); d > 2500*time.Millisecond {
		t.Errorf("answered after %v: the margin before the deadline is not kept", d)
	}
	if n := count(t, f.pool, `SELECT count(*) FROM orders`); n != 3 {
		t.Errorf("%d orders, want 3 (o1 and the committed o2, o3)", n)
	}
	if !strings.Contains(logs.String(), `"msg":"batch cut by the invocation deadline`) || !strings.Contains(logs.String(), `"failed_seq":"000000000000000000004"`) {
		t.Errorf("log:\n%s", logs.String())
	}
	// Lambda retries from record 4; with PostgreSQL fast again it applies.
	if _, err := f.pool.Exec(ctx, `ALTER TABLE orders DROP CONSTRAINT slow`); err != nil {
		t.Fatal(err)
	}
	resp, err = f.handle(ctx, json.RawMessage(event(
		lambdaRecord(4, "INSERT", "o4", "slow", "p1"),
		lambdaRecord(5, "INSERT", "o5", "new", "p1"),
	)))
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("retry: %+v %v", resp, err)
	}
	if n := count(t, f.pool, `SELECT count(*) FROM orders`); n != 5 {
		t.Errorf("%d orders after the retry, want 5", n)
	}
}

func TestAnswerMargin(t *testing.T) {
	for left, want := range map[time.Duration]time.Duration{
		3 * time.Second: time.Second, 12 * time.Second: 2 * time.Second, 15 * time.Minute: 10 * time.Second,
	} {
		if got := answerMargin(left); got != want {
			t.Errorf("answerMargin(%v) = %v, want %v", left, got, want)
		}
	}
}
