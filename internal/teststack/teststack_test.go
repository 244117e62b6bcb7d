package teststack

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { os.Exit(Run(m)) }

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

func TestUniqueName(t *testing.T) {
	valid := regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`)
	seen := map[string]bool{}
	for _, prefix := range []string{"t", "", "Orders_Table", strings.Repeat("x", 100)} {
		name := UniqueName(t, prefix)
		if !valid.MatchString(name) {
			t.Errorf("UniqueName(%q) = %q: not a valid bucket/table name", prefix, name)
		}
		if seen[name] {
			t.Errorf("UniqueName(%q) = %q twice", prefix, name)
		}
		seen[name] = true
	}
	if got := uniqueName("t", "TestX/sub case#01", '_', 63); !regexp.MustCompile(`^t_testx_sub_case_01_[0-9a-f]{8}$`).MatchString(got) {
		t.Errorf("uniqueName = %q", got)
	}
}

func TestWithDatabase(t *testing.T) {
	got, err := withDatabase("postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "t_x")
	if err != nil || got != "postgres://postgres@127.0.0.1:5432/t_x?sslmode=disable" {
		t.Errorf("withDatabase(url) = %q, %v", got, err)
	}
	got, err = withDatabase("host=127.0.0.1 dbname=postgres", "t_x")
	if err != nil || got != "host=127.0.0.1 dbname=postgres dbname=t_x" {
		t.Errorf("withDatabase(keywords) = %q, %v", got, err)
	}
}

func TestPostgres(t *testing.T) {
	var dbName string
	t.Run("use", func(t *testing.T) {
		dsn := Postgres(t)
		conn, err := pgx.Connect(ctx(t), dsn)
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		// Left open on purpose: the drop must end it (WITH (FORCE)).
		if err := conn.QueryRow(ctx(t), "SELECT current_database()").Scan(&dbName); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := conn.QueryRow(ctx(t), "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").Scan(&n); err != nil || n != 0 {
			t.Fatalf("new database has %d tables (%v), want 0", n, err)
		}
		if _, err := conn.Exec(ctx(t), "CREATE TABLE t (id int PRIMARY KEY, v text)"); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx(t), "INSERT INTO t VALUES (1, 'one')"); err != nil {
			t.Fatal(err)
		}
		var v string
		if err := conn.QueryRow(ctx(t), "SELECT v FROM t WHERE id = 1").Scan(&v); err != nil || v != "one" {
			t.Fatalf("read back %q, %v", v, err)
		}
		var version string
		if err := conn.QueryRow(ctx(t), "SHOW server_version_num").Scan(&version); err != nil || !strings.HasPrefix(version, "15") {
			t.Errorf("server_version_num = %q, %v; want PostgreSQL 15", version, err)
		}
	})
	if dbName == "" {
		t.Fatal("subtest did not get a database")
	}
	var exists bool
	if err := postgresServer.v.admin.QueryRow(ctx(t), "SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)", dbName).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Errorf("database %s still exists after its test ended", dbName)
	}
}

// Parallel tests each get their own database, and creating them at once works.
func TestPostgresParallel(t *testing.T) {
	var mu sync.Mutex
	names := map[string]bool{}
	for i := range 6 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			conn, err := pgx.Connect(ctx(t), Postgres(t))
			if err != nil {
				t.Fatalf("connect: %v", err)
			}
			defer conn.Close(context.Background())
			var name string
			if err := conn.QueryRow(ctx(t), "SELECT current_database()").Scan(&name); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if names[name] {
				t.Errorf("database %s handed out twice", name)
			}
			names[name] = true
		})
	}
}

func TestS3(t *testing.T) {
	env := S3(t)
	client := env.Client(t)
	if _, err := client.PutObject(ctx(t), &s3.PutObjectInput{
		Bucket: aws.String(env.Bucket),
		Key:    aws.String("dir/hello.txt"),
		Body:   strings.NewReader("hello, export"),
	}); err != nil {
		t.Fatalf("put: %v", err)
	}
	if got := getObject(t, client, env.Bucket, "dir/hello.txt"); got != "hello, export" {
		t.Errorf("get = %q", got)
	}

	// Code under test builds its client from the SDK's default config only.
	env.Setenv(t)
	cfg, err := config.LoadDefaultConfig(ctx(t))
	if err != nil {
		t.Fatalf("default config: %v", err)
	}
	if got := getObject(t, s3.NewFromConfig(cfg), env.Bucket, "dir/hello.txt"); got != "hello, export" {
		t.Errorf("get through the default config = %q", got)
	}

	if other := S3(t); other.Bucket == env.Bucket {
		t.Errorf("two S3 calls gave the same bucket %s", env.Bucket)
	}
}

func getObject(t *testing.T, client *s3.Client, bucket, key string) string {
	t.Helper()
	out, err := client.GetObject(ctx(t), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("get %s/%s: %v", bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("read %s/%s: %v", bucket, key, err)
	}
	return string(b)
}

func TestDynamoDBStream(t *testing.T) {
	env := DynamoDB(t)
	db := env.Client(t)
	table := UniqueName(t, "orders")
	created, err := db.CreateTable(ctx(t), &dynamodb.CreateTableInput{
		TableName: aws.String(table),
		AttributeDefinitions: []ddbtypes.AttributeDefinition{
			{AttributeName: aws.String("pk"), AttributeType: ddbtypes.ScalarAttributeTypeS},
			{AttributeName: aws.String("sk"), AttributeType: ddbtypes.ScalarAttributeTypeS},
		},
		KeySchema: []ddbtypes.KeySchemaElement{
			{AttributeName: aws.String("pk"), KeyType: ddbtypes.KeyTypeHash},
			{AttributeName: aws.String("sk"), KeyType: ddbtypes.KeyTypeRange},
		},
		BillingMode: ddbtypes.BillingModePayPerRequest,
		StreamSpecification: &ddbtypes.StreamSpecification{
			StreamEnabled:  aws.Bool(true),
			StreamViewType: ddbtypes.StreamViewTypeNewAndOldImages,
		},
	})
	if err != nil {
		t.Fatalf("create table: %v", err)
	}
	streamArn := aws.ToString(created.TableDescription.LatestStreamArn)
	if streamArn == "" {
		t.Fatal("table has no stream ARN")
	}
	if _, err := db.PutItem(ctx(t), &dynamodb.PutItemInput{
		TableName: aws.String(table),
		Item: map[string]ddbtypes.AttributeValue{
			"pk":    &ddbtypes.AttributeValueMemberS{Value: "CUSTOMER#1"},
			"sk":    &ddbtypes.AttributeValueMemberS{Value: "ORDER#1"},
			"total": &ddbtypes.AttributeValueMemberN{Value: "12.50"},
		},
	}); err != nil {
		t.Fatalf("put item: %v", err)
	}

	// Read the record through a client built from the default config, as the
	// stream applier will.
	env.Setenv(t)
	cfg, err := config.LoadDefaultConfig(ctx(t))
	if err != nil {
		t.Fatalf("default config: %v", err)
	}
	streams := dynamodbstreams.NewFromConfig(cfg)
	desc, err := streams.DescribeStream(ctx(t), &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(streamArn)})
	if err != nil {
		t.Fatalf("describe stream: %v", err)
	}
	if len(desc.StreamDescription.Shards) == 0 {
		t.Fatal("stream has no shards")
	}
	it, err := streams.GetShardIterator(ctx(t), &dynamodbstreams.GetShardIteratorInput{
		StreamArn:         aws.String(streamArn),
		ShardId:           desc.StreamDescription.Shards[0].ShardId,
		ShardIteratorType: streamtypes.ShardIteratorTypeTrimHorizon,
	})
	if err != nil {
		t.Fatalf("get shard iterator: %v", err)
	}
	recs, err := env.StreamsClient(t).GetRecords(ctx(t), &dynamodbstreams.GetRecordsInput{ShardIterator: it.ShardIterator})
	if err != nil {
		t.Fatalf("get records: %v", err)
	}
	if len(recs.Records) != 1 {
		t.Fatalf("got %d stream records, want 1", len(recs.Records))
	}
	r := recs.Records[0]
	if r.EventName != streamtypes.OperationTypeInsert {
		t.Errorf("event %s, want INSERT", r.EventName)
	}
	// DynamoDB (Local too) stores numbers normalized: 12.50 comes back 12.5.
	total, ok := r.Dynamodb.NewImage["total"].(*streamtypes.AttributeValueMemberN)
	if !ok || total.Value != "12.5" {
		t.Errorf("new image total = %#v, want N 12.5", r.Dynamodb.NewImage["total"])
	}
	if aws.ToString(r.Dynamodb.SequenceNumber) == "" {
		t.Error("record has no sequence number")
	}
}

// Every server the tests start listens on loopback only: read the kernel's
// table of listening sockets for each server's port (no traffic is sent).
func TestServersListenOnLoopbackOnly(t *testing.T) {
	ports := map[string]string{}
	pg, err := url.Parse(Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	ports["PostgreSQL"] = pg.Port()
	s3u, _ := url.Parse(S3(t).Endpoint)
	ports["MinIO"] = s3u.Port()
	ddbu, _ := url.Parse(DynamoDB(t).Endpoint)
	ports["DynamoDB Local"] = ddbu.Port()
	for name, port := range ports {
		addrs := listening(t, port)
		if len(addrs) == 0 {
			t.Errorf("%s: nothing listens on port %s", name, port)
		}
		for _, a := range addrs {
			if !a.IsLoopback() {
				t.Errorf("%s listens on %s port %s, not only on loopback", name, a, port)
			}
		}
	}
}

// listening returns the local addresses of sockets listening on port, from
// /proc/net/tcp and tcp6.
func listening(t *testing.T, port string) []net.IP {
	t.Helper()
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%04X", p)
	var out []net.IP
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			fields := strings.Fields(line)
			if len(fields) < 4 || fields[3] != "0A" { // 0A: LISTEN
				continue
			}
			host, hexPort, ok := strings.Cut(fields[1], ":")
			if !ok || hexPort != want {
				continue
			}
			raw, err := hex.DecodeString(host)
			if err != nil {
				t.Fatal(err)
			}
			// The kernel prints each 32-bit word in host (little-endian) order.
			for i := 0; i+4 <= len(raw); i += 4 {
				raw[i], raw[i+1], raw[i+2], raw[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
			}
			out = append(out, net.IP(raw))
		}
	}
	return out
}
