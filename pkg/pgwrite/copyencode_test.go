package pgwrite

import (
	"context"
	"encoding/json"
	"math"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/ddb2pg/ddb2pg/internal/teststack"
	"github.com/ddb2pg/ddb2pg/pkg/mapping"
)

func num(t *testing.T, s string, exp int32) pgtype.Numeric {
	t.Helper()
	i, ok := new(big.Int).SetString(s, 10)
	if !ok {
		t.Fatalf("bad int %q", s)
	}
	return pgtype.Numeric{Int: i, Exp: exp, Valid: true}
}

// TestCopyTextMatchesBinary writes rows of every value type mapping.Row
// holds through pgx's binary CopyFrom and through the text encoder, and
// checks PostgreSQL stores the same values.
func TestCopyTextMatchesBinary(t *testing.T) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, teststack.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)

	cols := []struct{ name, typ string }{
		{"id", "integer"}, {"s", "text"}, {"v", "varchar(50)"}, {"i2", "smallint"}, {"i8", "bigint"},
		{"n", "numeric"}, {"n2", "numeric(12,2)"}, {"f8", "double precision"}, {"f4", "real"}, {"b", "boolean"},
		{"tz", "timestamptz"}, {"ts", "timestamp"}, {"d", "date"}, {"u", "uuid"}, {"by", "bytea"}, {"j", "jsonb"},
		{"sa", "text[]"}, {"ia", "bigint[]"}, {"na", "numeric[]"}, {"ba", "bytea[]"},
	}
	var defs, names []string
	var mcols []*mapping.Column
	for _, c := range cols {
		defs = append(defs, c.name+" "+c.typ)
		names = append(names, c.name)
		base := c.typ
		if i := strings.IndexAny(base, "(["); i >= 0 {
			base = base[:i]
		}
		mcols = append(mcols, &mapping.Column{Name: c.name, Type: mapping.Type{Name: c.typ, Base: base}})
	}
	for _, tb := range []string{"bin", "txt"} {
		if _, err := conn.Exec(ctx, "CREATE TEMP TABLE "+tb+" ("+strings.Join(defs, ", ")+")"); err != nil {
			t.Fatal(err)
		}
	}

	ts := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v.UTC()
	}
	nasty := "tab\there\nnewline\r\\back\\\\slash \\N \"quote\" 'apos' ünïcödé 😀 {a,b} NULL , \\."
	rows := [][]any{
		{int32(1), nasty, "plain", int16(-32768), int64(math.MaxInt64),
			num(t, "-123456789012345678901234567890123456789", -5), num(t, "12340", -2), 1.0 / 3, float32(0.1), true,
			ts("2024-02-29T23:59:59.123456789Z"), ts("1999-12-31T00:00:00Z"), ts("2024-01-02T00:00:00Z"),
			pgtype.UUID{Bytes: [16]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0xff}, Valid: true},
			[]byte{0, 0xff, '\\', '\n', 'x'}, json.RawMessage(`{"a":"tab\there \\ \"q\" \n \u00e9 😀","b":[1,2.50,null,true],"c":{}}`),
			[]string{"a", "", "NULL", `q"uo,te`, `back\slash`, "tab\tnl\n", "{}", " sp "}, []int64{-1, 0, math.MinInt64},
			[]pgtype.Numeric{num(t, "150", -2), num(t, "0", 0), num(t, "-5", 3), num(t, "7", -10)},
			[][]byte{{}, {0}, {0xde, 0xad, 0xbe, 0xef}}},
		{int32(2), "", "", int16(0), int64(math.MinInt64),
			num(t, "0", -3), num(t, "5", 0), -0.0, float32(-1e30), false,
			ts("0001-01-01T00:00:00Z"), ts("2024-06-01T12:34:56.000001Z"), ts("9999-12-31T00:00:00Z"),
			pgtype.UUID{Valid: true}, []byte{}, json.RawMessage(`"just a string \\N"`),
			[]string{}, []int64{}, []pgtype.Numeric{}, [][]byte{}},
		{int32(3), nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil},
		{int32(4), "x", "y", int16(7), int64(7),
			num(t, "1", 30), num(t, "-99", -2), 1e300, float32(math.MaxFloat32), true,
			ts("1970-01-01T00:00:00.999999Z").Add(-2 * time.Second), ts("2000-01-01T00:00:00.5Z"), ts("1970-01-01T00:00:00Z"),
			pgtype.UUID{Bytes: [16]byte{0xff, 0xee, 0xdd, 0xcc, 0xbb, 0xaa, 0x99, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0}, Valid: true},
			[]byte("\\x00"), json.RawMessage(`[]`),
			[]string{`\`, `"`, `\N`}, []int64{42}, []pgtype.Numeric{num(t, "-1", -1)}, [][]byte{[]byte(`"\`)}},
		{int32(5), "z", "z", int16(1), int64(1),
			num(t, "123456789012345678901234567890", 0), num(t, "1", -2), 5e-324, float32(1e-45), false,
			time.Date(0, 3, 1, 1, 2, 3, 4000, time.UTC), time.Date(-44, 3, 15, 0, 0, 0, 0, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
			pgtype.UUID{Valid: true}, []byte{1}, json.RawMessage(`{"deep":{"x":[{"y":"\u0001\t"}]}}`),
			[]string{"only"}, []int64{1, 2, 3}, []pgtype.Numeric{num(t, "1", 2)}, [][]byte{{0x0a}}},
		{int32(6), "w", "w", int16(1), int64(1),
			num(t, "1", 0), num(t, "1", 0), 0.0, float32(0), true,
			time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(12345, 6, 7, 8, 9, 10, 0, time.UTC), time.Date(20000, 1, 1, 0, 0, 0, 0, time.UTC),
			pgtype.UUID{Valid: true}, []byte{1}, json.RawMessage(`1.5e10`),
			[]string{"x"}, []int64{1}, []pgtype.Numeric{num(t, "1", 0)}, [][]byte{{0}}},
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"bin"}, names, pgx.CopyFromRows(rows)); err != nil {
		t.Fatalf("binary copy: %v", err)
	}
	var buf []byte
	n, err := copyRows(ctx, tx, newCopyText("txt", names, mcols), pgx.Identifier{"txt"}, names, rows, &buf)
	if err != nil {
		t.Fatalf("text copy: %v\n%s", err, buf)
	}
	if n != int64(len(rows)) {
		t.Fatalf("text copy wrote %d rows, want %d", n, len(rows))
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	dump := func(tb string) []string {
		r, err := conn.Query(ctx, "SELECT x::text FROM "+tb+" x ORDER BY id")
		if err != nil {
			t.Fatal(err)
		}
		out, err := pgx.CollectRows(r, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	bin, txt := dump("bin"), dump("txt")
	if len(bin) != len(rows) || len(txt) != len(rows) {
		t.Fatalf("got %d and %d rows", len(bin), len(txt))
	}
	for i := range bin {
		if bin[i] != txt[i] {
			t.Errorf("row %d differs:\nbinary: %s\ntext:   %s", i+1, bin[i], txt[i])
		}
	}
	// Also check the floats bit for bit (::text rounds real/double less
	// than exactly on old servers).
	var diff int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM bin b JOIN txt t USING (id)
		WHERE b.f8::float8 IS DISTINCT FROM t.f8 OR b.f4 IS DISTINCT FROM t.f4 OR b.n IS DISTINCT FROM t.n
		OR b.tz IS DISTINCT FROM t.tz`).Scan(&diff); err != nil {
		t.Fatal(err)
	}
	if diff != 0 {
		t.Errorf("%d rows differ in float, numeric or timestamptz values", diff)
	}
}

func TestCopyTextUnsupportedFallsBack(t *testing.T) {
	ct := newCopyText("x", []string{"a"}, []*mapping.Column{{Name: "a"}})
	if _, err := ct.appendRows(nil, [][]any{{struct{}{}}}); err == nil {
		t.Fatal("want errUnsupported")
	}
}

// Sort keys order rows by primary key: text bytewise, integers as numbers
// (negative ones first), composite keys column by column.
func TestAppendSortKeyOrders(t *testing.T) {
	t.Parallel()
	ct := &copyText{kinds: make([]mapping.Kind, 2)}
	key := func(vals ...any) string { return string(appendSortKey(nil, vals, []int{0, 1}, ct)) }
	ordered := [][]any{
		{"a", int32(-5)},
		{"a", int32(0)},
		{"a", int32(2)},
		{"a", int32(10)},
		{"ab", int32(-1)},
		{"b", int32(1)},
	}
	for i := 1; i < len(ordered); i++ {
		if a, b := key(ordered[i-1]...), key(ordered[i]...); a >= b {
			t.Errorf("key of %v (%q) sorts at or after the key of %v (%q)", ordered[i-1], a, ordered[i], b)
		}
	}
	if a, b := key(int64(-1), "x"), key(int64(1), "x"); a >= b {
		t.Errorf("bigint -1 sorts at or after 1")
	}
}
