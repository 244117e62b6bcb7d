package backfill_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ddb2pg/ddb2pg/internal/exportgen"
	"github.com/ddb2pg/ddb2pg/internal/teststack"
	"github.com/ddb2pg/ddb2pg/pkg/backfill"
	"github.com/ddb2pg/ddb2pg/pkg/ledger"
	"github.com/ddb2pg/ddb2pg/pkg/mapping"
	"github.com/ddb2pg/ddb2pg/pkg/schema"
)

// FuzzBackfillLine: whatever bytes a data line holds, the backfill (decode,
// key, map, write, the reject record, against PostgreSQL) loads the file:
// the line is loaded, skipped as older than what is applied, or recorded as
// a reject that PostgreSQL accepted. Each input is a one-line export newer
// than the one before, in one database. Seeds: testdata/fuzz/FuzzBackfillLine
// and below; `go test -run - -fuzz FuzzBackfillLine -fuzzminimizetime 0 ./pkg/backfill/`
// explores further (minimizing a large input costs thousands of backfills).
func FuzzBackfillLine(f *testing.F) {
	for _, s := range []string{
		`{"Item":{"orderId":{"S":"o-1"},"customerId":{"S":"c-1"},"total":{"N":"1.50"},"items":{"L":[{"M":{"productId":{"S":"p"},"quantity":{"N":"2"}}}]}}}`,
		`{"Item":{"orderId":{"S":"o-1"},"customerId":{"S":"c-1"},"total":{"N":"1.005"}}}`,
		`{"Item":{"orderId":{"S":"o-1"},"customerId":{"S":"c-1"},"total":{"N":5}}}`,
		"{\"Item\":{\"orderId\":{\"S\":\"o-2\"},\"status\":{\"S\":\"\xff\"}}}",
		`{"Item":{"orderId":{"S":"o-3"},"status":{"S":"a\u0000b"}}}`,
		"\x00\xfe\xff",
		`{"Item":{"orderId":{"N":"1E+2"},"customerId":{"S":"c"}}}`,
		`{"Item":{"orderId":{"S":"o-4"}`,
		`{"Metadata":{"WriteTimestampMicros":{"N":"1"}},"Keys":{"orderId":{"S":"o-1"}}}`,
	} {
		f.Add([]byte(s))
	}
	ctx := context.Background()
	m, err := mapping.Load("../../examples/orders/mapping.yaml")
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
	dir := f.TempDir()
	var n atomic.Int64
	f.Fuzz(func(t *testing.T, line []byte) {
		if len(bytes.TrimSpace(line)) == 0 || bytes.ContainsAny(line, "\n\r") {
			t.Skip("a data line holds no line break and is not blank")
		}
		i := n.Add(1)
		w, err := exportgen.WriteExportFromLines(filepath.Join(dir, "e"), exportgen.ExportOptions{Seed: i,
			ExportTime: exportgen.DefaultExportTime.Add(time.Duration(i) * time.Minute)}, seq([][]byte{line}))
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(w.Folder)
		sum, err := runLoad(t, pool, m, w.Folder, backfill.Config{Workers: 1, ChunkItems: 4})
		if err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		st := sum.Status
		if !sum.Complete() || st.Loaded+st.Skipped+st.Rejected != 1 {
			t.Fatalf("line %q: %+v", line, st)
		}
		if got := count(t, pool, `SELECT count(*) FROM ddb2pg.rejects WHERE export_id = $1`, w.ExportID); got != st.Rejected {
			t.Fatalf("line %q: %d rejects recorded, want %d", line, got, st.Rejected)
		}
	})
}
