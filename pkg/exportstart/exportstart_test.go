package exportstart_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddb2pg/ddb2pg/pkg/exportstart"
)

const (
	tableARN  = "arn:aws:dynamodb:us-east-1:123456789012:table/Orders"
	streamARN = tableARN + "/stream/2026-01-02T03:04:05.678"
	exportID  = "01767323045678-a1b2c3d4"
	exportARN = tableARN + "/export/" + exportID
)

// fakeDynamoDB speaks the DynamoDB JSON 1.0 protocol for the four calls
// exportstart makes: POST / with X-Amz-Target DynamoDB_20120810.<Op>, a JSON
// body, timestamps as epoch seconds, errors as HTTP 400 with __type.
type fakeDynamoDB struct {
	t *testing.T

	pitr       string // ENABLED or DISABLED
	earliest   time.Time
	streamSpec map[string]any // nil: no StreamSpecification at all
	statuses   []string       // DescribeExport answers, in order; the last repeats
	failCode   string
	failMsg    string
	manifest   bool // report ExportManifest once COMPLETED
	tableFound bool
	exportErr  string // when set, ExportTableToPointInTime fails with this __type

	mu       sync.Mutex
	calls    []string
	bodies   map[string][]map[string]any
	describe int
}

func newFake(t *testing.T) *fakeDynamoDB {
	return &fakeDynamoDB{
		t:          t,
		pitr:       "ENABLED",
		earliest:   time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		streamSpec: map[string]any{"StreamEnabled": true, "StreamViewType": "NEW_AND_OLD_IMAGES"},
		statuses:   []string{"IN_PROGRESS", "IN_PROGRESS", "COMPLETED"},
		manifest:   true,
		tableFound: true,
		bodies:     map[string][]map[string]any{},
	}
}

func (f *fakeDynamoDB) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, "DynamoDB_20120810.")
	if r.Method != http.MethodPost || !ok {
		f.t.Errorf("unexpected request %s %s target %q", r.Method, r.URL, target)
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-1.0" {
		f.t.Errorf("%s: Content-Type %q", op, ct)
	}
	raw, _ := io.ReadAll(r.Body)
	var body map[string]any
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if err := dec.Decode(&body); err != nil {
		f.t.Errorf("%s: body %q: %v", op, raw, err)
	}
	f.mu.Lock()
	f.calls = append(f.calls, op)
	f.bodies[op] = append(f.bodies[op], body)
	f.mu.Unlock()

	switch op {
	case "DescribeTable":
		if !f.tableFound {
			reply(w, http.StatusBadRequest, map[string]any{
				"__type":  "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException",
				"message": "Requested resource not found: Table: Orders not found",
			})
			return
		}
		table := map[string]any{"TableName": "Orders", "TableArn": tableARN, "TableStatus": "ACTIVE"}
		if f.streamSpec != nil {
			table["StreamSpecification"] = f.streamSpec
			if f.streamSpec["StreamEnabled"] == true {
				table["LatestStreamArn"] = streamARN
			}
		}
		reply(w, http.StatusOK, map[string]any{"Table": table})
	case "DescribeContinuousBackups":
		p := map[string]any{"PointInTimeRecoveryStatus": f.pitr}
		if f.pitr == "ENABLED" {
			p["EarliestRestorableDateTime"] = f.earliest.Unix()
			p["LatestRestorableDateTime"] = time.Now().Add(-5 * time.Minute).Unix()
		}
		reply(w, http.StatusOK, map[string]any{"ContinuousBackupsDescription": map[string]any{
			"ContinuousBackupsStatus": "ENABLED", "PointInTimeRecoveryDescription": p,
		}})
	case "ExportTableToPointInTime":
		if f.exportErr != "" {
			reply(w, http.StatusBadRequest, map[string]any{
				"__type":  "com.amazonaws.dynamodb.v20120810#" + f.exportErr,
				"message": "Point in time recovery is not yet available for table Orders",
			})
			return
		}
		d := f.description(body, "IN_PROGRESS")
		reply(w, http.StatusOK, map[string]any{"ExportDescription": d})
	case "DescribeExport":
		if body["ExportArn"] != exportARN {
			f.t.Errorf("DescribeExport for %v, want %s", body["ExportArn"], exportARN)
		}
		f.mu.Lock()
		i := min(f.describe, len(f.statuses)-1)
		f.describe++
		f.mu.Unlock()
		start := f.firstBody("ExportTableToPointInTime")
		reply(w, http.StatusOK, map[string]any{"ExportDescription": f.description(start, f.statuses[i])})
	default:
		f.t.Errorf("unexpected operation %s", op)
		reply(w, http.StatusBadRequest, map[string]any{"__type": "com.amazon.coral.service#UnknownOperationException"})
	}
}

// description answers like DynamoDB: the request's bucket and prefix echoed,
// the manifest key and counts only once COMPLETED.
func (f *fakeDynamoDB) description(req map[string]any, status string) map[string]any {
	d := map[string]any{
		"ExportArn":    exportARN,
		"ExportStatus": status,
		"TableArn":     tableARN,
		"S3Bucket":     req["S3Bucket"],
		"ExportFormat": req["ExportFormat"],
		"ExportType":   req["ExportType"],
		"StartTime":    1767323045,
	}
	if p, ok := req["S3Prefix"]; ok {
		d["S3Prefix"] = p
	}
	switch status {
	case "COMPLETED":
		d["EndTime"] = 1767323645
		d["ItemCount"] = 12345
		d["BilledSizeBytes"] = 678901
		if f.manifest {
			key := "AWSDynamoDB/" + exportID + "/manifest-summary.json"
			if p, ok := req["S3Prefix"].(string); ok && p != "" {
				key = p + "/" + key
			}
			d["ExportManifest"] = key
		}
	case "FAILED":
		d["FailureCode"] = f.failCode
		d["FailureMessage"] = f.failMsg
	}
	return d
}

func (f *fakeDynamoDB) firstBody(op string) map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.bodies[op]) == 0 {
		return map[string]any{}
	}
	return f.bodies[op][0]
}

func (f *fakeDynamoDB) called(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.bodies[op])
}

// reply writes a response as DynamoDB does, with the CRC32 of the body in
// X-Amz-Crc32 (the SDK checks it when present).
func reply(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(b)), 10))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// client points the real SDK client at the fake, as `ddb2pg export` would be
// pointed at DynamoDB: the protocol, serialization and error decoding under
// test are the SDK's own.
func client(t *testing.T, f *fakeDynamoDB) *dynamodb.Client {
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return dynamodb.New(dynamodb.Options{
		BaseEndpoint: aws.String(srv.URL),
		Region:       "us-east-1",
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret"}, nil
		}),
		RetryMaxAttempts: 1,
	})
}

var now = time.Date(2026, 1, 2, 12, 0, 0, 0, time.UTC)

func baseRequest() exportstart.Request {
	return exportstart.Request{Table: "Orders", Bucket: "acme-exports", Prefix: "ddb2pg/orders/"}
}

func TestPITROffSaysHowToEnableIt(t *testing.T) {
	f := newFake(t)
	f.pitr = "DISABLED"
	_, _, err := exportstart.Start(context.Background(), client(t, f), baseRequest(), now)
	var pe *exportstart.PreconditionError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v, want *PreconditionError", err)
	}
	if len(pe.Problems) != 1 || pe.Problems[0].Check != "point-in-time recovery" {
		t.Fatalf("problems = %+v", pe.Problems)
	}
	want := "aws dynamodb update-continuous-backups --table-name Orders --point-in-time-recovery-specification PointInTimeRecoveryEnabled=true"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("message lacks the fix %q:\n%s", want, err)
	}
	if n := f.called("ExportTableToPointInTime"); n != 0 {
		t.Errorf("export started %d times despite PITR off", n)
	}
}

func TestStreamMustCarryImages(t *testing.T) {
	enable := "aws dynamodb update-table --table-name Orders --stream-specification StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES"
	disable := "aws dynamodb update-table --table-name Orders --stream-specification StreamEnabled=false"
	cases := []struct {
		name    string
		spec    map[string]any
		ok      bool
		wantMsg []string
	}{
		{"never enabled", nil, false, []string{"stream: off", enable}},
		{"disabled", map[string]any{"StreamEnabled": false}, false, []string{"stream: off", enable}},
		{"keys only", map[string]any{"StreamEnabled": true, "StreamViewType": "KEYS_ONLY"}, false, []string{"KEYS_ONLY", "new ARN", disable, enable}},
		{"old image", map[string]any{"StreamEnabled": true, "StreamViewType": "OLD_IMAGE"}, false, []string{"OLD_IMAGE", disable, enable}},
		{"new image", map[string]any{"StreamEnabled": true, "StreamViewType": "NEW_IMAGE"}, true, nil},
		{"new and old images", map[string]any{"StreamEnabled": true, "StreamViewType": "NEW_AND_OLD_IMAGES"}, true, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFake(t)
			f.streamSpec = c.spec
			info, err := exportstart.Check(context.Background(), client(t, f), baseRequest())
			if c.ok {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				if info.StreamARN != streamARN || info.ARN != tableARN || !info.PITREnabled {
					t.Errorf("info = %+v", info)
				}
				return
			}
			var pe *exportstart.PreconditionError
			if !errors.As(err, &pe) || len(pe.Problems) != 1 || pe.Problems[0].Check != "stream" {
				t.Fatalf("err = %v", err)
			}
			for _, w := range c.wantMsg {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message lacks %q:\n%s", w, err)
				}
			}
			// The disable command must come before the enable one.
			if fix := pe.Problems[0].Fix; len(fix) == 2 && (fix[0] != disable || fix[1] != enable) {
				t.Errorf("fix order = %q", fix)
			}
		})
	}
}

func TestAllProblemsReportedAtOnce(t *testing.T) {
	f := newFake(t)
	f.pitr = "DISABLED"
	f.streamSpec = nil
	_, err := exportstart.Check(context.Background(), client(t, f), baseRequest())
	var pe *exportstart.PreconditionError
	if !errors.As(err, &pe) || len(pe.Problems) != 2 {
		t.Fatalf("err = %v, want both PITR and stream problems", err)
	}
}

func TestTableNotFound(t *testing.T) {
	f := newFake(t)
	f.tableFound = false
	_, _, err := exportstart.Start(context.Background(), client(t, f), baseRequest(), now)
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("err = %v, want ResourceNotFoundException", err)
	}
	if !strings.HasPrefix(err.Error(), "describe table Orders: ") {
		t.Errorf("err = %q, want context first", err)
	}
}

func TestPITRNotReadyYet(t *testing.T) {
	f := newFake(t)
	f.exportErr = "PointInTimeRecoveryUnavailableException"
	_, _, err := exportstart.Start(context.Background(), client(t, f), baseRequest(), now)
	var pe *types.PointInTimeRecoveryUnavailableException
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v, want PointInTimeRecoveryUnavailableException", err)
	}
	if !strings.Contains(err.Error(), "retry in a few minutes") {
		t.Errorf("message = %q", err)
	}
}

func TestFullExportWaitsUntilCompleted(t *testing.T) {
	f := newFake(t)
	api := client(t, f)
	req := baseRequest()
	req.KMSKeyID = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	req.BucketOwner = "210987654321"
	exp, info, err := exportstart.Start(context.Background(), api, req, now)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	if info.Name != "Orders" || exp.Status != "IN_PROGRESS" || exp.ID != exportID {
		t.Fatalf("started %+v (table %+v)", exp, info)
	}
	wantURI := "s3://acme-exports/ddb2pg/orders/AWSDynamoDB/" + exportID
	if exp.URI != wantURI {
		t.Errorf("URI before completion = %s, want %s", exp.URI, wantURI)
	}

	body := f.firstBody("ExportTableToPointInTime")
	for k, want := range map[string]any{
		"TableArn":       tableARN, // from DescribeTable, not the name given
		"S3Bucket":       "acme-exports",
		"S3Prefix":       "ddb2pg/orders", // trailing slash trimmed
		"ExportFormat":   "DYNAMODB_JSON",
		"ExportType":     "FULL_EXPORT",
		"S3SseAlgorithm": "KMS",
		"S3SseKmsKeyId":  req.KMSKeyID,
		"S3BucketOwner":  "210987654321",
	} {
		if body[k] != want {
			t.Errorf("request %s = %v, want %v", k, body[k], want)
		}
	}
	for _, k := range []string{"IncrementalExportSpecification", "ExportTime"} {
		if _, ok := body[k]; ok {
			t.Errorf("full export request carries %s: %v", k, body[k])
		}
	}

	var seen []string
	done, err := exportstart.Wait(context.Background(), api, exp.ARN, exportstart.WaitOptions{
		PollInterval: time.Millisecond,
		Bucket:       "acme-exports", Prefix: "ddb2pg/orders",
		Progress: func(e exportstart.Export, p exportstart.Progress) {
			seen = append(seen, fmt.Sprintf("%d:%s", p.Polls, e.Status))
		},
	})
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if got := strings.Join(seen, ","); got != "1:IN_PROGRESS,2:IN_PROGRESS,3:COMPLETED" {
		t.Errorf("progress = %s", got)
	}
	if done.URI != wantURI || done.ItemCount != 12345 || done.BilledSize != 678901 {
		t.Errorf("completed = %+v", done)
	}
	if got := strings.Join(f.calls, ","); got != "DescribeTable,DescribeContinuousBackups,ExportTableToPointInTime,DescribeExport,DescribeExport,DescribeExport" {
		t.Errorf("calls = %s", got)
	}
}

func TestCallsAreTheDocumentedActions(t *testing.T) {
	f := newFake(t)
	f.statuses = []string{"COMPLETED"}
	api := client(t, f)
	exp, _, err := exportstart.Start(context.Background(), api, baseRequest(), now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exportstart.Wait(context.Background(), api, exp.ARN, exportstart.WaitOptions{PollInterval: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	made := map[string]bool{}
	for _, op := range f.calls {
		made["dynamodb:"+op] = true
	}
	if len(made) != len(exportstart.Actions) {
		t.Errorf("calls made %v, Actions lists %v", made, exportstart.Actions)
	}
	for _, a := range exportstart.Actions {
		if !made[a] {
			t.Errorf("Actions lists %s, which no call used", a)
		}
	}
}

func TestExportFailedCarriesTheReason(t *testing.T) {
	f := newFake(t)
	f.statuses = []string{"IN_PROGRESS", "FAILED"}
	f.failCode = "S3AccessDenied"
	f.failMsg = "Failed to write to S3 bucket: acme-exports"
	api := client(t, f)
	exp, _, err := exportstart.Start(context.Background(), api, baseRequest(), now)
	if err != nil {
		t.Fatal(err)
	}
	_, err = exportstart.Wait(context.Background(), api, exp.ARN, exportstart.WaitOptions{PollInterval: time.Millisecond})
	var fe *exportstart.ExportFailedError
	if !errors.As(err, &fe) {
		t.Fatalf("err = %v, want *ExportFailedError", err)
	}
	if fe.Code != "S3AccessDenied" || fe.Message != f.failMsg || fe.ARN != exportARN {
		t.Errorf("failure = %+v", fe)
	}
	if !strings.Contains(err.Error(), "S3AccessDenied: Failed to write to S3 bucket") {
		t.Errorf("message = %q", err)
	}
}

func TestIncrementalRequestShape(t *testing.T) {
	f := newFake(t)
	f.statuses = []string{"COMPLETED"}
	req := baseRequest()
	req.Format = "ion"
	from := time.Date(2026, 1, 2, 8, 0, 0, 0, time.UTC)
	to := from.Add(2 * time.Hour)
	req.Incremental = &exportstart.Window{From: from, To: to}
	api := client(t, f)
	exp, _, err := exportstart.Start(context.Background(), api, req, now)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	body := f.firstBody("ExportTableToPointInTime")
	if body["ExportType"] != "INCREMENTAL_EXPORT" || body["ExportFormat"] != "ION" {
		t.Errorf("ExportType %v, ExportFormat %v", body["ExportType"], body["ExportFormat"])
	}
	if _, ok := body["ExportTime"]; ok {
		t.Errorf("incremental request carries ExportTime")
	}
	spec, _ := body["IncrementalExportSpecification"].(map[string]any)
	if spec == nil {
		t.Fatalf("no IncrementalExportSpecification in %v", body)
	}
	if spec["ExportViewType"] != "NEW_AND_OLD_IMAGES" {
		t.Errorf("ExportViewType = %v", spec["ExportViewType"])
	}
	for k, want := range map[string]time.Time{"ExportFromTime": from, "ExportToTime": to} {
		n, ok := spec[k].(json.Number)
		if !ok {
			t.Errorf("%s = %#v, want epoch seconds", k, spec[k])
			continue
		}
		if sec, err := n.Float64(); err != nil || int64(sec) != want.Unix() {
			t.Errorf("%s = %s, want %d", k, n, want.Unix())
		}
	}
	done, err := exportstart.Wait(context.Background(), api, exp.ARN, exportstart.WaitOptions{PollInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if done.Type != "INCREMENTAL_EXPORT" || done.URI != "s3://acme-exports/ddb2pg/orders/AWSDynamoDB/"+exportID {
		t.Errorf("done = %+v", done)
	}
}

func TestIncrementalBeforeRecoveryWindow(t *testing.T) {
	f := newFake(t)
	f.earliest = time.Date(2026, 1, 2, 9, 0, 0, 0, time.UTC)
	req := baseRequest()
	from := time.Date(2026, 1, 2, 8, 0, 0, 0, time.UTC)
	req.Incremental = &exportstart.Window{From: from, To: from.Add(time.Hour)}
	_, _, err := exportstart.Start(context.Background(), client(t, f), req, now)
	var pe *exportstart.PreconditionError
	if !errors.As(err, &pe) || pe.Problems[0].Check != "incremental window" {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(err.Error(), "2026-01-02T09:00:00Z") {
		t.Errorf("message does not name the earliest restorable time: %s", err)
	}
}

func TestWaitInterruptedSaysTheExportGoesOn(t *testing.T) {
	f := newFake(t)
	f.statuses = []string{"IN_PROGRESS"}
	ctx, cancel := context.WithCancel(context.Background())
	polls := 0
	_, err := exportstart.Wait(ctx, client(t, f), exportARN, exportstart.WaitOptions{
		PollInterval: time.Millisecond,
		Progress: func(exportstart.Export, exportstart.Progress) {
			if polls++; polls == 2 {
				cancel()
			}
		},
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if !strings.Contains(err.Error(), "aws dynamodb describe-export --export-arn "+exportARN) {
		t.Errorf("message lacks the describe-export hint: %s", err)
	}
}

func TestRequestValidation(t *testing.T) {
	from := now.Add(-3 * time.Hour)
	cases := []struct {
		name  string
		edit  func(*exportstart.Request)
		field string
	}{
		{"no table", func(r *exportstart.Request) { r.Table = "" }, "table"},
		{"no bucket", func(r *exportstart.Request) { r.Bucket = " " }, "s3-bucket"},
		{"bucket as URI", func(r *exportstart.Request) { r.Bucket = "s3://acme-exports/x" }, "s3-bucket"},
		{"bad bucket", func(r *exportstart.Request) { r.Bucket = "-acme" }, "s3-bucket"},
		{"bad owner", func(r *exportstart.Request) { r.BucketOwner = "12345" }, "s3-bucket-owner"},
		{"bad format", func(r *exportstart.Request) { r.Format = "CSV" }, "format"},
		{"from only", func(r *exportstart.Request) { r.Incremental = &exportstart.Window{From: from} }, "from"},
		{"reversed", func(r *exportstart.Request) {
			r.Incremental = &exportstart.Window{From: from, To: from.Add(-time.Hour)}
		}, "from"},
		{"too short", func(r *exportstart.Request) {
			r.Incremental = &exportstart.Window{From: from, To: from.Add(14 * time.Minute)}
		}, "from"},
		{"too long", func(r *exportstart.Request) {
			r.Incremental = &exportstart.Window{From: from.Add(-24 * time.Hour), To: from.Add(time.Second)}
		}, "from"},
		{"future", func(r *exportstart.Request) {
			r.Incremental = &exportstart.Window{From: now.Add(-time.Hour), To: now.Add(time.Minute)}
		}, "to"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFake(t)
			req := baseRequest()
			c.edit(&req)
			_, _, err := exportstart.Start(context.Background(), client(t, f), req, now)
			var re *exportstart.RequestError
			if !errors.As(err, &re) || re.Field != c.field {
				t.Fatalf("err = %v, want RequestError on %s", err, c.field)
			}
			if len(f.calls) != 0 {
				t.Errorf("an invalid request reached AWS: %v", f.calls)
			}
		})
	}
	// The bounds themselves are allowed.
	for _, d := range []time.Duration{exportstart.MinIncrementalWindow, exportstart.MaxIncrementalWindow} {
		req := baseRequest().Normalize()
		req.Incremental = &exportstart.Window{From: now.Add(-d), To: now}
		if err := req.Validate(now); err != nil {
			t.Errorf("window %s: %v", d, err)
		}
	}
}

func TestFolderURI(t *testing.T) {
	cases := []struct {
		bucket, prefix, manifest, want string
	}{
		{"b", "", "", "s3://b/AWSDynamoDB/" + exportID},
		{"b", "p/q", "", "s3://b/p/q/AWSDynamoDB/" + exportID},
		{"b", "/p/q/", "", "s3://b/p/q/AWSDynamoDB/" + exportID},
		{"b", "p", "p/AWSDynamoDB/" + exportID + "/manifest-summary.json", "s3://b/p/AWSDynamoDB/" + exportID},
		{"b", "", "AWSDynamoDB/" + exportID + "/manifest-summary.json", "s3://b/AWSDynamoDB/" + exportID},
	}
	for _, c := range cases {
		got, err := exportstart.FolderURI(c.bucket, c.prefix, exportID, c.manifest)
		if err != nil || got != c.want {
			t.Errorf("FolderURI(%q, %q, %q) = %q, %v; want %q", c.bucket, c.prefix, c.manifest, got, err, c.want)
		}
	}
	if id, err := exportstart.ExportID(exportARN); err != nil || id != exportID {
		t.Errorf("ExportID = %q, %v", id, err)
	}
	for _, bad := range []string{"", "01767323045678-a1b2c3d4", tableARN, exportARN + "/x"} {
		if _, err := exportstart.ExportID(bad); err == nil {
			t.Errorf("ExportID(%q) accepted", bad)
		}
	}
}
