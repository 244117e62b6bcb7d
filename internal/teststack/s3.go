package teststack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// S3Env is a MinIO server and a bucket of one test's own.
type S3Env struct {
	Endpoint  string // http://127.0.0.1:port
	Region    string
	AccessKey string
	SecretKey string
	Bucket    string
}

var s3Server = server[S3Env]{name: "MinIO (S3)", open: openS3} // without Bucket

// S3 returns the MinIO server with a new, empty bucket for this test. The
// bucket and its objects are removed when the test has finished.
func S3(t testing.TB) S3Env {
	t.Helper()
	env := s3Server.get(t)
	env.Bucket = UniqueName(t, "t")
	client := env.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(env.Bucket)}); err != nil {
		t.Fatalf("teststack: creating bucket %s: %v", env.Bucket, err)
	}
	t.Cleanup(func() {
		// Tests may leave large exports behind; a shared stack would keep
		// them for the whole run. Failing to remove them is no test failure.
		if err := removeBucket(client, env.Bucket); err != nil {
			t.Logf("teststack: removing bucket %s: %v", env.Bucket, err)
		}
	})
	return env
}

// Client returns an S3 client for the server: static credentials, path-style
// addressing (MinIO has no per-bucket host names).
func (e S3Env) Client(t testing.TB) *s3.Client {
	t.Helper()
	return s3.New(s3.Options{
		Region:       e.Region,
		BaseEndpoint: aws.String(e.Endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(e.AccessKey, e.SecretKey, ""),
		UsePathStyle: true,
	})
}

// Setenv sets the standard AWS_* variables for the test, so that code under
// test that loads the SDK's default config reaches this server unchanged. The
// SDK addresses an IP endpoint path-style by itself. Like t.Setenv, it cannot
// be used in parallel tests.
func (e S3Env) Setenv(t testing.TB) {
	t.Helper()
	setAWSEnv(t, e.Region, e.AccessKey, e.SecretKey)
	t.Setenv("AWS_ENDPOINT_URL_S3", e.Endpoint)
}

// setAWSEnv sets credentials and region and shuts out whatever the developer's
// own AWS setup would add (profiles, session tokens, a global endpoint, IMDS).
func setAWSEnv(t testing.TB, region, accessKey, secretKey string) {
	t.Helper()
	for k, v := range map[string]string{
		"AWS_REGION":                  region,
		"AWS_DEFAULT_REGION":          region,
		"AWS_ACCESS_KEY_ID":           accessKey,
		"AWS_SECRET_ACCESS_KEY":       secretKey,
		"AWS_SESSION_TOKEN":           "",
		"AWS_PROFILE":                 "",
		"AWS_ENDPOINT_URL":            "",
		"AWS_CONFIG_FILE":             os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
		"AWS_EC2_METADATA_DISABLED":   "true",
	} {
		t.Setenv(k, v)
	}
}

// removeBucket deletes all objects of bucket, then the bucket.
func removeBucket(client *s3.Client, bucket string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pages := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("listing objects: %w", err)
		}
		if len(page.Contents) == 0 {
			continue
		}
		ids := make([]types.ObjectIdentifier, 0, len(page.Contents))
		for _, o := range page.Contents {
			ids = append(ids, types.ObjectIdentifier{Key: o.Key})
		}
		out, err := client.DeleteObjects(ctx, &s3.DeleteObjectsInput{
			Bucket: aws.String(bucket),
			Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
		})
		if err != nil {
			return fmt.Errorf("deleting objects: %w", err)
		}
		if len(out.Errors) > 0 {
			return fmt.Errorf("deleting object %s: %s", aws.ToString(out.Errors[0].Key), aws.ToString(out.Errors[0].Message))
		}
	}
	if _, err := client.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)}); err != nil {
		return fmt.Errorf("deleting bucket: %w", err)
	}
	return nil
}

// openS3 returns the stack env's MinIO, or starts one.
func openS3() (S3Env, error) {
	if endpoint, ok := stackEnv("AWS_ENDPOINT_URL_S3"); ok {
		env := S3Env{
			Endpoint:  endpoint,
			Region:    os.Getenv("AWS_REGION"),
			AccessKey: os.Getenv("AWS_ACCESS_KEY_ID"),
			SecretKey: os.Getenv("AWS_SECRET_ACCESS_KEY"),
		}
		if env.Region == "" {
			env.Region = region
		}
		if env.AccessKey == "" || env.SecretKey == "" {
			return S3Env{}, errors.New("AWS_ENDPOINT_URL_S3 is set but AWS_ACCESS_KEY_ID or AWS_SECRET_ACCESS_KEY is not")
		}
		return env, nil
	}
	return startMinIO()
}

// startMinIO starts MinIO on a free loopback port with its data in the work dir.
func startMinIO() (S3Env, error) {
	deps, err := installDeps("minio")
	if err != nil {
		return S3Env{}, err
	}
	base, err := workDir()
	if err != nil {
		return S3Env{}, err
	}
	data := filepath.Join(base, "minio")
	if err := os.MkdirAll(data, 0o700); err != nil {
		return S3Env{}, fmt.Errorf("creating MinIO data dir: %w", err)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			return S3Env{}, err
		}
		consolePort, err := freePort()
		if err != nil {
			return S3Env{}, err
		}
		cmd := exec.Command(deps["MINIO_BIN"], "server", data, "--quiet",
			"--address", "127.0.0.1:"+strconv.Itoa(port),
			"--console-address", "127.0.0.1:"+strconv.Itoa(consolePort))
		cmd.Env = append(os.Environ(),
			"MINIO_ROOT_USER="+accessKey,
			"MINIO_ROOT_PASSWORD="+secretKey,
			"MINIO_BROWSER=off",
			"MINIO_UPDATE=off",
			"MINIO_CI_CD=1",
		)
		p, err := spawn("MinIO", cmd, filepath.Join(base, "minio.log"), syscall.SIGKILL, syscall.SIGTERM)
		if err != nil {
			return S3Env{}, err
		}
		endpoint := "http://127.0.0.1:" + strconv.Itoa(port)
		lastErr = p.waitReady(func(ctx context.Context) error {
			return httpReady(ctx, endpoint+"/minio/health/ready", true)
		})
		if lastErr == nil {
			return S3Env{Endpoint: endpoint, Region: region, AccessKey: accessKey, SecretKey: secretKey}, nil
		}
		_ = p.stop() // most likely a port was taken meanwhile: try others
	}
	return S3Env{}, lastErr
}

// httpReady succeeds when url answers over HTTP; with need200, only with 200.
func httpReady(ctx context.Context, url string, need200 bool) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if need200 && resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}
