package export

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ddb2pg/ddb2pg/internal/teststack"
)

func TestMain(m *testing.M) { os.Exit(teststack.Run(m)) }

// uploadTree puts every file below dir into the bucket, keyed by its path
// relative to dir (dir plays the bucket root).
func uploadTree(t *testing.T, client *s3.Client, bucket, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		_, err = client.PutObject(context.Background(), &s3.PutObjectInput{
			Bucket: aws.String(bucket), Key: aws.String(filepath.ToSlash(rel)), Body: bytes.NewReader(b),
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestS3OpenURI opens both real exports by s3:// URI through the default
// AWS configuration, as the CLI does. Not parallel: it sets the environment.
func TestS3OpenURI(t *testing.T) {
	env := teststack.S3(t)
	client := env.Client(t)
	uploadTree(t, client, env.Bucket, "testdata/scylla")
	uploadTree(t, client, env.Bucket, "testdata/awslabs/unicornactiviti-data-export")
	env.Setenv(t)

	ctx := context.Background()
	e, err := Open(ctx, "s3://"+env.Bucket+"/dynamodb-export/AWSDynamoDB/01715685260608-c488b4e1/")
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, e)[scyllaData]; len(got) != 3 {
		t.Fatalf("scylla: %q", got)
	}

	// The incremental export's data files are outside its folder, and its
	// .md5 sidecars are checked.
	e, err = Open(ctx, "s3://"+env.Bucket+"/AWSDynamoDB/01716791487000-6ddcf8cf/manifest-summary.json")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, lines := range readAll(t, e) {
		n += len(lines)
	}
	if n != 15 || !e.Incremental() {
		t.Fatalf("awslabs: %d lines", n)
	}

	_, err = Open(ctx, "s3://"+env.Bucket+"/nothing/AWSDynamoDB/x")
	var me *ManifestError
	var nf *NotFoundError
	if !errors.As(err, &me) || !errors.As(err, &nf) || nf.Key != "nothing/AWSDynamoDB/x/manifest-summary.json" {
		t.Fatalf("missing export: %v", err)
	}
}

// TestS3Store uses an explicit client, so it can run in parallel.
func TestS3Store(t *testing.T) {
	t.Parallel()
	env := teststack.S3(t)
	client := env.Client(t)
	uploadTree(t, client, env.Bucket, "testdata/scylla")
	store := &S3Store{Client: client, Bucket: env.Bucket}
	ctx := context.Background()

	// A copy under another prefix is found by relocation.
	src := "dynamodb-export/AWSDynamoDB/01715685260608-c488b4e1/"
	for _, name := range []string{"manifest-summary.json", "manifest-files.json", "data/uimbi7eofu2b5kzkxe63gsvb6i.json.gz"} {
		_, err := client.CopyObject(ctx, &s3.CopyObjectInput{
			Bucket: aws.String(env.Bucket), CopySource: aws.String(env.Bucket + "/" + src + name),
			Key: aws.String("moved/AWSDynamoDB/01715685260608-c488b4e1/" + name),
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, dir := range []string{src, "moved/AWSDynamoDB/01715685260608-c488b4e1"} {
		e, err := OpenStore(ctx, store, dir)
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		if got := readAll(t, e)[scyllaData]; len(got) != 3 {
			t.Fatalf("%s: %q", dir, got)
		}
	}

	// A listed data file that is missing: NotFoundError naming the key.
	_, err := client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(env.Bucket), Key: aws.String(scyllaData)})
	if err != nil {
		t.Fatal(err)
	}
	e, err := OpenStore(ctx, store, src)
	if err != nil {
		t.Fatal(err)
	}
	err = e.ReadFile(ctx, e.Files()[0], func(int64, []byte) error { return nil })
	var nf *NotFoundError
	var fe *FileError
	if !errors.As(err, &nf) || nf.Key != scyllaData || !errors.As(err, &fe) || fe.File != scyllaData || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("got %v", err)
	}
	if want := "export file " + scyllaData + ": not found: s3://" + env.Bucket + "/" + scyllaData; err.Error() != want {
		t.Fatalf("message %q, want %q", err, want)
	}
}

// TestS3StorePathStyle checks, without MinIO, that a custom endpoint set by
// AWS_ENDPOINT_URL gets path-style requests (a host name endpoint would
// otherwise be addressed as bucket.localhost) and that NoSuchKey becomes a
// NotFoundError. Not parallel: it sets the environment.
func TestS3StorePathStyle(t *testing.T) {
	var mu sync.Mutex
	var paths []string
	requests := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), paths...)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.Host+" "+r.URL.Path)
		mu.Unlock()
		if r.URL.Path == "/bkt/a/key.txt" {
			io.WriteString(w, "hello")
			return
		}
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>a/missing</Key></Error>`)
	}))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.Listener = l
	srv.Start()
	defer srv.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())

	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL":            "http://localhost:" + port,
		"AWS_ENDPOINT_URL_S3":         "",
		"AWS_REGION":                  "", // a custom endpoint defaults it
		"AWS_DEFAULT_REGION":          "",
		"AWS_ACCESS_KEY_ID":           "k",
		"AWS_SECRET_ACCESS_KEY":       "s",
		"AWS_SESSION_TOKEN":           "",
		"AWS_PROFILE":                 "",
		"AWS_CONFIG_FILE":             os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
		"AWS_EC2_METADATA_DISABLED":   "true",
	} {
		t.Setenv(k, v)
	}
	ctx := context.Background()
	store, err := NewS3Store(ctx, "bkt")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := store.Open(ctx, "a/key.txt")
	if err != nil {
		t.Fatalf("get: %v (requests: %q)", err, requests())
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if got := requests(); string(b) != "hello" || len(got) != 1 || got[0] != "localhost:"+port+" /bkt/a/key.txt" {
		t.Fatalf("got %q, requests %q", b, got)
	}

	_, err = store.Open(ctx, "a/missing")
	var nf *NotFoundError
	if !errors.As(err, &nf) || nf.Key != "a/missing" || nf.URL != "s3://bkt/a/missing" {
		t.Fatalf("got %v", err)
	}

	// Without an endpoint or a region there is no guessing.
	t.Setenv("AWS_ENDPOINT_URL", "")
	if _, err := NewS3Store(ctx, "bkt"); err == nil || !strings.Contains(err.Error(), "AWS_REGION") {
		t.Fatalf("got %v", err)
	}
}
