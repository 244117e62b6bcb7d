package ledger_test

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ddb2pg/ddb2pg/internal/teststack"
	"github.com/ddb2pg/ddb2pg/pkg/ledger"
)

func TestStorable(t *testing.T) {
	t.Parallel()
	long3 := strings.Repeat("€", 30_000) // 90,000 bytes
	for _, c := range []struct {
		name, in, want string
	}{
		{"plain", `{"S":"ok"}`, `{"S":"ok"}`},
		{"multi-byte", "grüße €", "grüße €"},
		{"not UTF-8", "a\xffb\xc3", `a\xFFb\xC3`},
		{"U+0000", "a\x00b", `a\u0000b`},
		{"escape-like text stays", `\xFF`, `\xFF`},
		{"long multi-byte", long3, long3[:ledger.MaxRawValue-len(ledger.TruncatedMark)-(ledger.MaxRawValue-len(ledger.TruncatedMark))%3] + ledger.TruncatedMark},
		{"long escaped, cut between escapes", strings.Repeat("\xff", 20_000), strings.Repeat(`\xFF`, (ledger.MaxRawValue-len(ledger.TruncatedMark))/4) + ledger.TruncatedMark},
	} {
		got := ledger.Storable(c.in)
		if got != c.want {
			t.Errorf("%s: got %.60q… (%d bytes), want %.60q… (%d bytes)", c.name, got, len(got), c.want, len(c.want))
		}
		if !utf8.ValidString(got) || strings.IndexByte(got, 0) >= 0 || len(got) > ledger.MaxRawValue {
			t.Errorf("%s: not storable: %d bytes", c.name, len(got))
		}
		if again := ledger.Storable(got); again != got {
			t.Errorf("%s: Storable of its own result changed it", c.name)
		}
	}
}

// Whatever bytes a reject is made of, PostgreSQL accepts it, on both ways
// of recording (a file's COPY, the stream's insert).
func TestRejectsOfAnyBytesAreAccepted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, teststack.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	led, _ := ledger.New("")
	if err := led.Ensure(ctx, pool); err != nil {
		t.Fatal(err)
	}
	nasty := "\x00\xff" + strings.Repeat("€", 30_000) + "\xc3"
	p := ledger.Problem{PGTable: "t\x00", PGColumn: "c\xff", Path: nasty, Raw: nasty, Reason: nasty}
	fileRej := ledger.NewReject(ledger.Source{Table: "T\xff", ExportID: "e", FileKey: "f\x00", Line: 3}, `["k\u0000"]`, p)
	streamRej := ledger.NewReject(ledger.Source{Table: "T", Stream: true, ShardID: "shard\xff", Seq: "0001"}, "", p)
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if err := led.ReplaceFileRejects(ctx, tx, "e", "f\x00", []ledger.Reject{fileRej}); err != nil {
		t.Fatal(err)
	}
	for i, want := range []int{1, 0} { // the same record again is not recorded twice
		if n, err := led.InsertRejects(ctx, tx, []ledger.Reject{streamRej, streamRej}); err != nil || n != want {
			t.Fatalf("insert %d: %d recorded, %v; want %d", i, n, err, want)
		}
	}
	var origins string
	if err := tx.QueryRow(ctx, `SELECT string_agg(origin, ' | ' ORDER BY id) FROM ddb2pg.rejects`).Scan(&origins); err != nil {
		t.Fatal(err)
	}
	if want := `export e file f\u0000 line 3 | stream shard\xFF seq 0001`; origins != want {
		t.Errorf("origins %q, want %q", origins, want)
	}
}

// Bookkeeping written before stream rejects were unique may hold a
// record's reject several times: Ensure keeps the first and from then on
// records each record once.
func TestEnsureDedupesEarlierStreamRejects(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, teststack.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	led, _ := ledger.New("")
	if err := led.Ensure(ctx, pool); err != nil {
		t.Fatal(err)
	}
	// As an older ddb2pg left it: no unique index, one record's reject
	// three times, another's once, a file's rejects without seq.
	if _, err := pool.Exec(ctx, `DROP INDEX ddb2pg.rejects_stream_record_idx;
		INSERT INTO ddb2pg.rejects (source_table, reason, origin, seq, shard_id) VALUES
			('T', 'first', 'stream s seq 7', '7', 's'), ('T', 'again', 'stream s seq 7', '7', 's'),
			('T', 'again', 'stream s seq 7', '7', 's'), ('T', 'other', 'stream seq 7', '7', NULL);
		INSERT INTO ddb2pg.rejects (source_table, reason, origin, export_id, file_key, line) VALUES
			('T', 'file', 'export e file f line 1', 'e', 'f', 1), ('T', 'file', 'export e file f line 1', 'e', 'f', 1)`); err != nil {
		t.Fatal(err)
	}
	if err := led.Ensure(ctx, pool); err != nil {
		t.Fatal(err)
	}
	var got string
	if err := pool.QueryRow(ctx, `SELECT string_agg(reason, ',' ORDER BY id) FROM ddb2pg.rejects`).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != "first,other,file,file" {
		t.Errorf("rejects after Ensure: %s", got)
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	r := ledger.NewReject(ledger.Source{Table: "T", Stream: true, ShardID: "s", Seq: "7"}, "", ledger.Problem{Reason: "again"})
	if n, err := led.InsertRejects(ctx, tx, []ledger.Reject{r}); err != nil || n != 0 {
		t.Errorf("the same record again: %d recorded, %v", n, err)
	}
}
