package ledger_test

import (
	"context"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
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

// A stream record's reject is recorded once, also when two transactions
// record it at the same time, and beside rejects recorded before (or by an
// older ddb2pg, which records every delivery): those stay, and more can be
// added the old way.
func TestStreamRejectRecordedOnce(t *testing.T) {
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
	if _, err := pool.Exec(ctx, `INSERT INTO ddb2pg.rejects (source_table, reason, origin, seq, shard_id) VALUES
		('T', 'old', 'stream s seq 7', '7', 's'), ('T', 'old', 'stream s seq 7', '7', 's')`); err != nil {
		t.Fatal(err)
	}
	if err := led.Ensure(ctx, pool); err != nil {
		t.Fatal(err)
	}
	rec := func(seq string) ledger.Reject {
		return ledger.NewReject(ledger.Source{Table: "T", Stream: true, ShardID: "s", Seq: seq}, "", ledger.Problem{Reason: "new"})
	}
	insert := func(tx pgx.Tx, r ledger.Reject) int {
		n, err := led.InsertRejects(ctx, tx, []ledger.Reject{r, r})
		if err != nil {
			t.Error(err)
		}
		return n
	}
	// Recorded before: not again.
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := insert(tx, rec("7")); n != 0 {
		t.Errorf("a record recorded before: %d recorded again", n)
	}
	_ = tx.Rollback(ctx)
	// Two transactions at once: the second waits for the first and then
	// records nothing.
	tx1, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := insert(tx1, rec("8")); n != 1 {
		t.Errorf("first transaction recorded %d", n)
	}
	second := make(chan int)
	go func() {
		tx2, err := pool.Begin(ctx)
		if err != nil {
			t.Error(err)
			second <- -1
			return
		}
		defer tx2.Rollback(ctx)
		n := insert(tx2, rec("8"))
		if err := tx2.Commit(ctx); err != nil {
			t.Error(err)
		}
		second <- n
	}()
	time.Sleep(200 * time.Millisecond)
	if err := tx1.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if n := <-second; n != 0 {
		t.Errorf("the second transaction recorded %d", n)
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM ddb2pg.rejects WHERE seq = '8'`).Scan(&n); err != nil || n != 1 {
		t.Errorf("%d rejects of seq 8 (%v), want 1", n, err)
	}
	// An older ddb2pg records every delivery, with COPY: still possible.
	if _, err := pool.CopyFrom(ctx, pgx.Identifier{"ddb2pg", "rejects"}, []string{"source_table", "reason", "origin", "seq", "shard_id"},
		pgx.CopyFromRows([][]any{{"T", "old", "stream s seq 8", "8", "s"}})); err != nil {
		t.Errorf("an older ddb2pg's reject: %v", err)
	}
}
