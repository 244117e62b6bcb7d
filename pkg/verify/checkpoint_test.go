package verify

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ddb2pg/ddb2pg/internal/pgerr"
	"github.com/ddb2pg/ddb2pg/internal/teststack"
	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
	"github.com/ddb2pg/ddb2pg/pkg/mapping"
	"github.com/ddb2pg/ddb2pg/pkg/report"
)

// paced reads Scan pages of 2 items, each taking a while, and counts the
// items each Scan returned; fail, when set, fails every Scan of that
// segment.
type paced struct {
	*dynamodb.Client
	delay time.Duration
	items atomic.Int64
	fail  int32
}

func (c *paced) Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	in.Limit = aws.Int32(2)
	if c.fail > 0 && in.Segment != nil && *in.Segment == c.fail {
		return nil, errors.New("injected failure of segment")
	}
	if err := pgerr.Sleep(ctx, c.delay); err != nil {
		return nil, err
	}
	out, err := c.Client.Scan(ctx, in, opts...)
	if err == nil {
		c.items.Add(int64(len(out.Items)))
	}
	return out, err
}

// injectEveryClass damages the fixture as TestEveryDivergenceClass does.
func injectEveryClass(t *testing.T, f *fixture) {
	f.exec(t, `DELETE FROM orders WHERE id = 'o-01'`)
	f.exec(t, `UPDATE orders SET status = 'SHIPPED' WHERE id = 'o-02'`)
	f.exec(t, `INSERT INTO orders (id, customer_id, status) VALUES ('o-99', 'c-1', 'NEW')`)
	f.exec(t, `DELETE FROM order_items WHERE order_id = 'o-05' AND line = 2`)
	f.exec(t, `INSERT INTO order_items (order_id, line, product_id, quantity) VALUES ('o-04', 7, 'p-1', 1)`)
	f.exec(t, `UPDATE customers SET name = 'Changed' WHERE id = 'c-2'`)
	it := orderItem(6)
	it["customerName"] = ddbitem.Str("Someone Else")
	f.put(t, it)
}

// normalized is a report without what differs between equal runs (when,
// how long, how many segments this process ran).
func normalized(t *testing.T, r *report.Result) string {
	t.Helper()
	c := *r
	c.Timing = report.Timing{}
	c.Parameters.Segments = 0
	c.History = nil // the runs before this one
	b, err := json.MarshalIndent(&c, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const childEnv = "DDB2PG_VERIFY_CHILD"

type childSpec struct {
	DSN, Mapping, Endpoint, Region, AccessKey, SecretKey, Run string
}

// TestVerifyChild is the process TestNamedRunResumesAfterKill kills.
func TestVerifyChild(t *testing.T) {
	spec := os.Getenv(childEnv)
	if spec == "" {
		t.Skip("runs only as the child of TestNamedRunResumesAfterKill")
	}
	var s childSpec
	if err := json.Unmarshal([]byte(spec), &s); err != nil {
		t.Fatal(err)
	}
	m, err := mapping.Load(s.Mapping)
	if err != nil {
		t.Fatal(err)
	}
	ddb := dynamodb.New(dynamodb.Options{Region: s.Region, BaseEndpoint: aws.String(s.Endpoint),
		Credentials: credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, "")})
	pool, err := pgxpool.New(context.Background(), s.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	_, err = Run(context.Background(), m, &paced{Client: ddb, delay: 15 * time.Millisecond}, pool,
		Options{Segments: 2, RunSegments: 6, RunName: s.Run, Resume: true, CheckpointEvery: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
}

func namedOpts(name string) Options {
	return Options{Segments: 2, RunSegments: 6, RunName: name, CheckpointEvery: time.Nanosecond}
}

// kill -9 of a named run at random points, then --resume: the report equals
// an uninterrupted run's, for a clean table and one with every class of
// divergence; and the named run counts as a plain run does.
func TestNamedRunResumesAfterKill(t *testing.T) {
	f := newFixture(t)
	env := teststack.DynamoDB(t)
	dsn := testPostgres(t)
	var mappingPath string
	{
		// the fixture's mapping file, for the child
		mappingPath = f.m.File
		if !filepath.IsAbs(mappingPath) {
			t.Fatalf("mapping path %q", mappingPath)
		}
	}
	_ = dsn
	rng := rand.New(rand.NewPCG(7, 15))
	for _, damaged := range []bool{false, true} {
		if damaged {
			injectEveryClass(t, f)
		}
		plain := f.run(t, Options{Segments: 2})
		ref := f.run(t, namedOpts("ref"))
		if ref.Verdict != plain.Verdict || ref.DivergentRows != plain.DivergentRows || ref.Items != plain.Items {
			dump(t, plain)
			dump(t, ref)
			t.Fatalf("damaged %v: the named run differs from the plain run", damaged)
		}
		for _, name := range ref.TableOrder {
			if *ref.Tables[name] != *plain.Tables[name] {
				t.Errorf("damaged %v: table %s: named %+v, plain %+v", damaged, name, *ref.Tables[name], *plain.Tables[name])
			}
		}
		want := normalized(t, ref)
		for i := range 3 {
			name := "killed-" + string(rune('a'+i))
			if damaged {
				name += "-damaged"
			}
			spec, _ := json.Marshal(childSpec{DSN: f.dsn, Mapping: mappingPath, Endpoint: env.Endpoint, Region: env.Region,
				AccessKey: env.AccessKey, SecretKey: env.SecretKey, Run: name})
			cmd := exec.Command(os.Args[0], "-test.run=^TestVerifyChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), childEnv+"="+string(spec))
			var out strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			delay := 300*time.Millisecond + time.Duration(rng.Int64N(int64(700*time.Millisecond)))
			time.Sleep(delay)
			_ = cmd.Process.Signal(syscall.SIGKILL)
			werr := cmd.Wait()
			var done, items int64
			if err := f.pool.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE done), coalesce(sum(items), 0)::bigint
				FROM ddb2pg.verify_segments s JOIN ddb2pg.verify_runs r USING (run_id) WHERE r.name = $1`, name).Scan(&done, &items); err != nil {
				t.Logf("child output:\n%s", out.String())
				t.Fatal(err)
			}
			t.Logf("%s: killed after %v: %d of 6 segments done, %d items checkpointed (%v)", name, delay, done, items, werr)
			opts := namedOpts(name)
			opts.Resume = true
			res := f.run(t, opts)
			if got := normalized(t, res); got != want {
				t.Fatalf("%s: the resumed report differs from the uninterrupted one:\n%s\nwant:\n%s\nchild output:\n%s", name, got, want, out.String())
			}
		}
	}
}

// Two processes on one run read every item exactly once and return the
// same report.
func TestNamedRunJoin(t *testing.T) {
	f := newFixture(t)
	injectEveryClass(t, f)
	ref := f.run(t, namedOpts("ref"))
	clients := []*paced{{Client: f.ddb, delay: 10 * time.Millisecond}, {Client: f.ddb, delay: 10 * time.Millisecond}}
	results := make([]*report.Result, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pool, err := pgxpool.New(context.Background(), f.dsn)
			if err != nil {
				errs[i] = err
				return
			}
			defer pool.Close()
			opts := namedOpts("joined")
			opts.Join = true
			results[i], errs[i] = Run(context.Background(), f.m, clients[i], pool, opts)
		}()
	}
	wg.Wait()
	for i := range 2 {
		if errs[i] != nil {
			t.Fatalf("process %d: %v", i, errs[i])
		}
		if got, want := normalized(t, results[i]), normalized(t, ref); got != want {
			t.Fatalf("process %d's report differs from a single process's:\n%s\nwant:\n%s", i, got, want)
		}
	}
	a, b := clients[0].items.Load(), clients[1].items.Load()
	t.Logf("items scanned: %d + %d", a, b)
	if a+b != nItems || a == 0 || b == 0 {
		t.Errorf("items scanned by the two processes: %d + %d, want %d in all, both reading", a, b, nItems)
	}
}

// A DynamoDB failure in one segment leaves the run unfinished and NO-GO;
// resumed, the segment is re-read and the run ends GO.
func TestNamedRunSegmentFailure(t *testing.T) {
	f := newFixture(t)
	res, err := Run(context.Background(), f.m, &paced{Client: f.ddb, fail: 4}, f.pool, namedOpts("failing"))
	if err == nil || res.Verdict != report.NOGO || res.Complete {
		t.Fatalf("failed segment: err %v verdict %s complete %v", err, res.Verdict, res.Complete)
	}
	if _, err := Stored(context.Background(), f.pool, "", f.table, "failing"); !errors.Is(err, ErrNoSuchRun) {
		t.Fatalf("the unfinished run has a report: %v", err)
	}
	if _, err := Run(context.Background(), f.m, f.ddb, f.pool, namedOpts("failing")); err == nil || !strings.Contains(err.Error(), "unfinished") {
		t.Fatalf("a new run over an unfinished one: %v", err)
	}
	opts := namedOpts("failing")
	opts.Resume = true
	res = f.run(t, opts)
	if res.Verdict != report.GO || res.Items.Read != nItems || !res.Complete {
		dump(t, res)
		t.Fatalf("resumed: verdict %s, %d items", res.Verdict, res.Items.Read)
	}
	stored, err := Stored(context.Background(), f.pool, "", f.table, "failing")
	if err != nil || normalized(t, stored) != normalized(t, res) {
		t.Fatalf("stored report: %v", err)
	}
	// resumed once more after the end: the report stands, nothing is read
	p := &paced{Client: f.ddb}
	again, err := Run(context.Background(), f.m, p, f.pool, opts)
	if err != nil || normalized(t, again) != normalized(t, res) || p.items.Load() != 0 {
		t.Fatalf("resume of a finished run: %v, %d items scanned", err, p.items.Load())
	}
}

// batchCounting counts BatchGetItem requests (the extra pass's lookups).
type batchCounting struct {
	*dynamodb.Client
	batches atomic.Int64
}

func (c *batchCounting) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	c.batches.Add(1)
	return c.Client.BatchGetItem(ctx, in, opts...)
}

// A clean named run takes the extra pass's shortcut (the merged counts and
// key sums match PostgreSQL) as a plain run does: no item is looked up.
func TestNamedRunExtraPassShortcut(t *testing.T) {
	f := newFixture(t)
	for _, opts := range []Options{{Segments: 2}, namedOpts("shortcut")} {
		c := &batchCounting{Client: f.ddb}
		res, err := Run(context.Background(), f.m, c, f.pool, opts)
		if err != nil || res.Verdict != report.GO {
			t.Fatalf("%q: %v %s", opts.RunName, err, res.Verdict)
		}
		if n := c.batches.Load(); n != 0 {
			t.Errorf("run %q: %d BatchGetItem requests in a clean run's extra pass", opts.RunName, n)
		}
	}
}
