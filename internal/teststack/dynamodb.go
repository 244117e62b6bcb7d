package teststack

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
)

// DDBEnv is a DynamoDB Local server, which serves both the DynamoDB and the
// DynamoDB Streams APIs. It runs with -sharedDb: every client sees the same
// tables whatever its credentials and region, so tests must use unique table
// names (UniqueName).
type DDBEnv struct {
	Endpoint  string // http://127.0.0.1:port
	Region    string
	AccessKey string
	SecretKey string
}

var ddbServer = server[DDBEnv]{name: "DynamoDB Local", open: openDynamoDB}

// DynamoDB returns the DynamoDB Local server, started on first use.
func DynamoDB(t testing.TB) DDBEnv {
	t.Helper()
	return ddbServer.get(t)
}

// Client returns a DynamoDB client for the server, with static credentials.
func (e DDBEnv) Client(t testing.TB) *dynamodb.Client {
	t.Helper()
	return dynamodb.New(dynamodb.Options{
		Region:       e.Region,
		BaseEndpoint: aws.String(e.Endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(e.AccessKey, e.SecretKey, ""),
	})
}

// StreamsClient returns a DynamoDB Streams client for the server.
func (e DDBEnv) StreamsClient(t testing.TB) *dynamodbstreams.Client {
	t.Helper()
	return dynamodbstreams.New(dynamodbstreams.Options{
		Region:       e.Region,
		BaseEndpoint: aws.String(e.Endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(e.AccessKey, e.SecretKey, ""),
	})
}

// Setenv sets the standard AWS_* variables for the test, DynamoDB's and
// DynamoDB Streams' endpoints included, so that code under test that loads
// the SDK's default config reaches this server unchanged. Like t.Setenv, it
// cannot be used in parallel tests.
func (e DDBEnv) Setenv(t testing.TB) {
	t.Helper()
	setAWSEnv(t, e.Region, e.AccessKey, e.SecretKey)
	t.Setenv("AWS_ENDPOINT_URL_DYNAMODB", e.Endpoint)
	t.Setenv("AWS_ENDPOINT_URL_DYNAMODB_STREAMS", e.Endpoint)
}

// openDynamoDB returns the stack env's DynamoDB Local, or starts one.
func openDynamoDB() (DDBEnv, error) {
	if endpoint, ok := stackEnv("AWS_ENDPOINT_URL_DYNAMODB"); ok {
		env := DDBEnv{
			Endpoint:  endpoint,
			Region:    os.Getenv("AWS_REGION"),
			AccessKey: os.Getenv("AWS_ACCESS_KEY_ID"),
			SecretKey: os.Getenv("AWS_SECRET_ACCESS_KEY"),
		}
		// DynamoDB Local accepts any credentials; these defaults only keep
		// the SDK from looking for real ones.
		if env.Region == "" {
			env.Region = region
		}
		if env.AccessKey == "" || env.SecretKey == "" {
			env.AccessKey, env.SecretKey = accessKey, secretKey
		}
		return env, nil
	}
	return startDynamoDB()
}

// startDynamoDB starts DynamoDB Local in memory on a free loopback port. It
// has no option to choose its bind address, so it runs through
// scripts/dynamodb-local/LoopbackServer, which binds its Jetty connector to
// 127.0.0.1.
func startDynamoDB() (DDBEnv, error) {
	deps, err := installDeps("ddb")
	if err != nil {
		return DDBEnv{}, err
	}
	dir, launcher := deps["DDBLOCAL_DIR"], deps["DDBLOCAL_LAUNCHER"]
	if launcher == "" {
		return DDBEnv{}, fmt.Errorf("install-deps.sh did not report DDBLOCAL_LAUNCHER")
	}
	base, err := workDir()
	if err != nil {
		return DDBEnv{}, err
	}
	// Its cwd: it drops files into the current directory.
	cwd := filepath.Join(base, "dynamodb")
	if err := os.MkdirAll(cwd, 0o700); err != nil {
		return DDBEnv{}, fmt.Errorf("creating DynamoDB Local dir: %w", err)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			return DDBEnv{}, err
		}
		classpath := strings.Join([]string{filepath.Join(dir, "DynamoDBLocal.jar"), filepath.Join(dir, "DynamoDBLocal_lib", "*"), launcher}, ":")
		cmd := exec.Command("java", "-Djava.library.path="+filepath.Join(dir, "DynamoDBLocal_lib"), "-cp", classpath,
			"LoopbackServer", "-inMemory", "-sharedDb", "-disableTelemetry", "-port", strconv.Itoa(port))
		cmd.Dir = cwd
		p, err := spawn("DynamoDB Local", cmd, filepath.Join(base, "dynamodb.log"), syscall.SIGKILL, syscall.SIGTERM)
		if err != nil {
			return DDBEnv{}, err
		}
		endpoint := "http://127.0.0.1:" + strconv.Itoa(port)
		// Any HTTP answer (an auth error for a bare GET) means it serves.
		lastErr = p.waitReady(func(ctx context.Context) error { return httpReady(ctx, endpoint, false) })
		if lastErr == nil {
			return DDBEnv{Endpoint: endpoint, Region: region, AccessKey: accessKey, SecretKey: secretKey}, nil
		}
		_ = p.stop() // most likely the port was taken meanwhile: try another
	}
	return DDBEnv{}, lastErr
}
