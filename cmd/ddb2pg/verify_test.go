package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/jackc/pgx/v5"

	"github.com/ddb2pg/ddb2pg/internal/teststack"
	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
	"github.com/ddb2pg/ddb2pg/pkg/mapping"
	"github.com/ddb2pg/ddb2pg/pkg/pgwrite"
)

// runVerify runs the verify command and returns its exit code and output.
func runVerify(t *testing.T, args ...string) (int, string) {
	t.Helper()
	globals = globalFlags{logLevel: "warn", logFormat: "text"}
	cmd := newVerifyCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	if len(args) == 0 || args[0] != "report" {
		args = append(args, "--progress", "none")
	}
	cmd.SetArgs(args)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.ExecuteContext(context.Background())
	var ee *exitError
	var ue usageError
	if err != nil {
		t.Logf("verify: %v", err)
	}
	switch {
	case err == nil:
		return exitOK, out.String()
	case errors.As(err, &ee):
		return ee.code, out.String()
	case errors.As(err, &ue):
		return exitUsage, out.String()
	}
	return exitFailed, out.String()
}

func TestVerifyCommand(t *testing.T) {
	ctx := context.Background()
	env := teststack.DynamoDB(t)
	env.Setenv(t)
	ddb := env.Client(t)
	dsn := teststack.Postgres(t)
	table := teststack.UniqueName(t, "Orders")
	dir := t.TempDir()
	mp := filepath.Join(dir, "mapping.yaml")
	yaml := fmt.Sprintf(`version: 1
source: {table: %s, key: [orderId]}
tables:
  - name: orders
    primary_key: [id]
    columns:
      - {name: id, from: orderId, type: text}
      - {name: total, from: total, type: "numeric(12,2)"}
`, table)
	if err := os.WriteFile(mp, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := mapping.Load(mp)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ddb.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("orderId"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("orderId"), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	}); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, m.DDL()); err != nil {
		t.Fatal(err)
	}
	ins := pgwrite.For(m)[0].Insert
	for i := range 10 {
		it := ddbitem.Item{"orderId": ddbitem.Str(fmt.Sprintf("o-%d", i)), "total": ddbitem.Num(fmt.Sprintf("%d.25", i))}
		if _, err := ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: it.AttributeValues()}); err != nil {
			t.Fatal(err)
		}
		rows, rej := m.Rows(it)
		if rej != nil {
			t.Fatal(rej)
		}
		if _, err := conn.Exec(ctx, ins, rows[0][0]...); err != nil {
			t.Fatal(err)
		}
	}
	htmlPath, jsonPath, mdPath := filepath.Join(dir, "r.html"), filepath.Join(dir, "r.json"), filepath.Join(dir, "r.md")
	args := []string{"--mapping", mp, "--database-url", dsn, "--segments", "2", "--recheck", "0",
		"--report", htmlPath, "--json", jsonPath, "--markdown", mdPath}

	code, out := runVerify(t, args...)
	if code != exitOK || !strings.Contains(out, "verdict: GO") {
		t.Fatalf("clean: exit %d\n%s", code, out)
	}
	var doc struct {
		Verdict       string `json:"verdict"`
		DivergentRows int64  `json:"divergent_rows"`
		Tables        map[string]struct {
			ExpectedRows int64 `json:"expected_rows"`
			Mismatched   int64 `json:"mismatched"`
		} `json:"tables"`
	}
	readJSON := func() {
		b, err := os.ReadFile(jsonPath)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
	}
	readJSON()
	if doc.Verdict != "GO" || doc.Tables["orders"].ExpectedRows != 10 {
		t.Fatalf("JSON report: %+v", doc)
	}
	for _, p := range []string{htmlPath, mdPath} {
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(b, []byte("GO")) {
			t.Fatalf("%s: %v", p, err)
		}
	}

	if _, err := conn.Exec(ctx, `UPDATE orders SET total = 99 WHERE id = 'o-3'`); err != nil {
		t.Fatal(err)
	}
	code, out = runVerify(t, args...)
	readJSON()
	if code != exitPartial || doc.Verdict != "NO-GO" || doc.Tables["orders"].Mismatched != 1 || !strings.Contains(out, "o-3") {
		t.Fatalf("damaged: exit %d %+v\n%s", code, doc, out)
	}
	// a named run is rendered again, identically, from the bookkeeping
	code, _ = runVerify(t, append(args, "--run", "damaged")...)
	if code != exitPartial {
		t.Fatalf("named run: exit %d", code)
	}
	first, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	again := filepath.Join(dir, "again.json")
	code, out = runVerify(t, "report", "--mapping", mp, "--database-url", dsn, "--run", "damaged", "--json", again)
	second, err := os.ReadFile(again)
	if code != exitPartial || err != nil || !bytes.Equal(first, second) || !strings.Contains(out, "verdict: NO-GO") {
		t.Fatalf("verify report: exit %d (%v)\n%s\nfirst:\n%s\nagain:\n%s", code, err, out, first, second)
	}
	if code, _ := runVerify(t, "report", "--mapping", mp, "--database-url", dsn, "--run", "nonesuch"); code != exitFailed {
		t.Fatalf("verify report of an unknown run: exit %d", code)
	}
	if code, _ := runVerify(t, "--mapping", mp, "--database-url", dsn, "--changed-since", "yesterday"); code != exitUsage {
		t.Fatalf("--changed-since yesterday: exit %d", code)
	}
	// no GO full run since the damage... the first clean run was GO: last-full
	// starts there and finds nothing applied since (no bookkeeping of items)
	code, out = runVerify(t, "--mapping", mp, "--database-url", dsn, "--changed-since", "last-full")
	if code != exitFailed || !strings.Contains(out, "INCOMPLETE") {
		t.Fatalf("--changed-since last-full without item bookkeeping: exit %d\n%s", code, out)
	}

	code, _ = runVerify(t, append(args, "--max-divergence", "1")...)
	if code != exitOK {
		t.Fatalf("within --max-divergence: exit %d", code)
	}

	// DynamoDB unreachable: error, never GO
	t.Setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:1")
	t.Setenv("AWS_MAX_ATTEMPTS", "1")
	code, _ = runVerify(t, args...)
	readJSON()
	if code != exitFailed || doc.Verdict != "NO-GO" {
		t.Fatalf("unreachable DynamoDB: exit %d verdict %s", code, doc.Verdict)
	}

	if code, _ := runVerify(t, "--mapping", mp, "--database-url", dsn, "--sample", "3", "--keys", "x"); code != exitUsage {
		t.Fatalf("--sample with --keys: exit %d", code)
	}
}
