package apply_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ddb2pg/ddb2pg/internal/exportgen"
	"github.com/ddb2pg/ddb2pg/internal/teststack"
	"github.com/ddb2pg/ddb2pg/pkg/apply"
	"github.com/ddb2pg/ddb2pg/pkg/ledger"
	"github.com/ddb2pg/ddb2pg/pkg/mapping"
	"github.com/ddb2pg/ddb2pg/pkg/schema"
	"github.com/ddb2pg/ddb2pg/pkg/stream"
)

// FuzzLambdaRecord: whatever a Lambda event's DynamoDB Streams record holds
// (any JSON: bad types, bytes that are not UTF-8 escaped in any way, U+0000,
// huge values), decoding, mapping and applying it against PostgreSQL ends
// with the record applied, skipped as not newer than what is applied, or
// recorded as a reject PostgreSQL accepted; the batch never fails. Only
// what is not a stream record of this function is out of scope: JSON that
// is not an object, another eventSource, a KEYS_ONLY or OLD_IMAGE stream
// (configuration, refused for the whole batch by design). Seeds:
// testdata/fuzz/FuzzLambdaRecord and below.
func FuzzLambdaRecord(f *testing.F) {
	rec := func(name, seq, keys, newImage, view string) string {
		s := `{"eventID":"1","eventName":"` + name + `","eventSource":"aws:dynamodb","awsRegion":"eu-west-1",` +
			`"dynamodb":{"SequenceNumber":"` + seq + `","StreamViewType":"` + view + `"`
		if keys != "" {
			s += `,"Keys":` + keys
		}
		if newImage != "" {
			s += `,"NewImage":` + newImage
		}
		return s + `}}`
	}
	for _, s := range []string{
		rec("MODIFY", "100000000000000000001", `{"orderId":{"S":"o1"}}`,
			`{"orderId":{"S":"o1"},"customerId":{"S":"c1"},"total":{"N":"1.5"},"items":{"L":[{"M":{"productId":{"S":"p"},"quantity":{"N":"1"}}}]}}`, "NEW_AND_OLD_IMAGES"),
		rec("INSERT", "100000000000000000002", `{"orderId":{"S":"o2"}}`, `{"orderId":{"S":"o2"},"total":{"N":"1.005"}}`, "NEW_IMAGE"),
		rec("INSERT", "100000000000000000003", `{"orderId":{"S":"o3"}}`, `{"orderId":{"S":"o3"},"status":{"S":"a\u0000b\udfff"}}`, "NEW_IMAGE"),
		rec("MODIFY", "100000000000000000004", `{"orderId":{"S":"o1"}}`, "", "NEW_AND_OLD_IMAGES"),
		rec("REMOVE", "100000000000000000005", `{"orderId":{"S":"o1"}}`, "", "NEW_AND_OLD_IMAGES"),
		rec("UPSERT", "100000000000000000006", `{"orderId":{"S":"o4"}}`, `{"orderId":{"S":"o4"}}`, "NEW_IMAGE"),
		rec("INSERT", "not a number", `{"orderId":{"S":"o5"}}`, `{"orderId":{"S":"o5"}}`, "NEW_IMAGE"),
		rec("INSERT", "100000000000000000007", ``, `{"orderId":{"S":"o6"}}`, "NEW_IMAGE"),
		rec("INSERT", "100000000000000000008", `{"orderId":{"N":"1E+400"}}`, `{"orderId":{"N":"1E+400"}}`, "NEW_IMAGE"),
	} {
		f.Add([]byte(s))
	}
	ctx := context.Background()
	dir := f.TempDir()
	path := filepath.Join(dir, "mapping.yaml")
	if err := os.WriteFile(path, []byte(exportgen.MappingYAML("Orders")), 0o644); err != nil {
		f.Fatal(err)
	}
	m, err := mapping.Load(path)
	if err != nil {
		f.Fatal(err)
	}
	pool, err := pgxpool.New(ctx, teststack.Postgres(f))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(pool.Close)
	led, _ := ledger.New("")
	if err := led.Ensure(ctx, pool); err != nil {
		f.Fatal(err)
	}
	if _, err := schema.Ensure(ctx, pool, m); err != nil {
		f.Fatal(err)
	}
	eng, err := apply.New(apply.Config{Mapping: m, Ledger: led})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, record []byte) {
		var probe struct {
			EventSource any `json:"eventSource"`
			Change      any `json:"dynamodb"`
		}
		if !json.Valid(record) || bytes.TrimSpace(record)[0] != '{' || json.Unmarshal(record, &probe) != nil {
			t.Skip("not a JSON object: Lambda never delivers it as a stream record")
		}
		if src, ok := probe.EventSource.(string); ok && src != "" && src != stream.LambdaEventSource {
			t.Skip("another event source: refused for the whole batch by design")
		}
		change, _ := probe.Change.(map[string]any)
		switch v, _ := change["StreamViewType"].(string); v {
		case "", stream.ViewKeysOnly, stream.ViewOldImage:
			t.Skip("KEYS_ONLY or OLD_IMAGE (or not said): the engine's configuration decides, for the whole batch")
		}
		event := append(append([]byte(`{"Records":[`), record...), "]}"...)
		recs, err := stream.DecodeLambdaEvent(event)
		if err != nil {
			t.Fatalf("record %q: the whole event fails: %v", record, err)
		}
		var before int64
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM ddb2pg.rejects`).Scan(&before); err != nil {
			t.Fatal(err)
		}
		res := eng.Apply(ctx, pool, recs, nil)
		if res.Err != nil || res.Committed != 1 || res.Applied+res.Skipped+res.Rejected != 1 {
			t.Fatalf("record %q: %+v", record, res)
		}
		var after int64
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM ddb2pg.rejects`).Scan(&after); err != nil {
			t.Fatal(err)
		}
		if after-before != int64(res.Rejected) {
			t.Fatalf("record %q: %d rejects recorded, want %d", record, after-before, res.Rejected)
		}
	})
}
