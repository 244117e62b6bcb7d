package pgtest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ddb2pg/ddb2pg/internal/teststack"
	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
	"github.com/ddb2pg/ddb2pg/pkg/mapping"
)

func TestMain(m *testing.M) { os.Exit(teststack.Run(m)) }

func connect(t *testing.T) (context.Context, *pgx.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	conn, err := pgx.Connect(ctx, teststack.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	// Text output in UTC, so expected values are fixed strings.
	if _, err := conn.Exec(ctx, "SET TimeZone = 'UTC'"); err != nil {
		t.Fatal(err)
	}
	return ctx, conn
}

// roundTrip is one value: a DynamoDB value for a column type, and the text
// PostgreSQL shows for what was stored ("NULL" for SQL NULL).
type roundTrip struct {
	v, want string
}

var hugeNeg = "-0." + strings.Repeat("0", 129) + "15"

// cases lists, per column type, values that must survive COPY and query
// parameters exactly.
var cases = []struct {
	typ, format string
	vals        []roundTrip
}{
	{"text", "", []roundTrip{{`{"S":"héllo \"wörld\"\n"}`, "héllo \"wörld\"\n"}, {`{"N":"1E+2"}`, "1E+2"}, {`{"S":""}`, ""}, {"", "NULL"}}},
	{"varchar(5)", "", []roundTrip{{`{"S":"äbcdé"}`, "äbcdé"}}},
	{"smallint", "", []roundTrip{{`{"N":"-32768"}`, "-32768"}, {`{"S":"32767"}`, "32767"}}},
	{"integer", "", []roundTrip{{`{"S":"42"}`, "42"}, {`{"N":"-2147483648"}`, "-2147483648"}}},
	{"bigint", "", []roundTrip{{`{"N":"9223372036854775807"}`, "9223372036854775807"}, {`{"N":"-9223372036854775808"}`, "-9223372036854775808"}, {`{"N":"1E+18"}`, "1000000000000000000"}}},
	{"numeric", "", []roundTrip{
		{`{"N":"12345678901234567890123456789012345678"}`, "12345678901234567890123456789012345678"},
		{`{"N":"-0.00000000000000000000000000000000000001"}`, "-0.00000000000000000000000000000000000001"},
		{`{"N":"-1.5E-130"}`, hugeNeg},
		{`{"N":"9.9999999999999999999999999999999999999E+125"}`, "99999999999999999999999999999999999999" + strings.Repeat("0", 88)},
		{`{"N":"-0"}`, "0"},
		{`{"N":"1E+2"}`, "100"},
		{`{"N":"18446744073709551616"}`, "18446744073709551616"}, // just past uint64
		{`{"N":"-18446744073709551615"}`, "-18446744073709551615"},
	}},
	{"numeric(12,2)", "", []roundTrip{{`{"N":"1.5"}`, "1.50"}, {`{"N":"-9999999999.99"}`, "-9999999999.99"}, {`{"N":"0"}`, "0.00"}, {`{"S":"7"}`, "7.00"}}},
	{"numeric(38,0)", "", []roundTrip{{`{"N":"-99999999999999999999999999999999999999"}`, "-99999999999999999999999999999999999999"}}},
	{"double precision", "", []roundTrip{{`{"N":"1.5"}`, "1.5"}, {`{"N":"-0"}`, "-0"}, {`{"N":"1.7976931348623157E+308"}`, "1.7976931348623157e+308"}, {`{"N":"0.1"}`, "0.1"}}},
	{"real", "", []roundTrip{{`{"N":"0.25"}`, "0.25"}, {`{"N":"3.4E+38"}`, "3.4e+38"}}},
	{"boolean", "", []roundTrip{{`{"BOOL":true}`, "true"}, {`{"BOOL":false}`, "false"}}},
	{"timestamptz", "", []roundTrip{
		{`{"S":"2024-05-01T10:00:00.123456+02:00"}`, "2024-05-01 08:00:00.123456+00"},
		{`{"S":"2024-05-01"}`, "2024-05-01 00:00:00+00"},
		{`{"N":"1714557600"}`, "2024-05-01 10:00:00+00"},
		{`{"S":"0001-01-01T00:00:00Z"}`, "0001-01-01 00:00:00+00"},
		{`{"S":"9999-12-31T23:59:59.999999Z"}`, "9999-12-31 23:59:59.999999+00"},
		{`{"N":"-1"}`, "1969-12-31 23:59:59+00"},
	}},
	{"timestamptz", "epoch_millis", []roundTrip{{`{"N":"1714557600123.456"}`, "2024-05-01 10:00:00.123456+00"}}},
	{"timestamp", "", []roundTrip{{`{"S":"2024-05-01T10:00:00+02:00"}`, "2024-05-01 08:00:00"}, {`{"S":"2024-05-01T10:00:00.5"}`, "2024-05-01 10:00:00.5"}}},
	{"date", "", []roundTrip{{`{"S":"2024-05-01"}`, "2024-05-01"}, {`{"N":"0"}`, "1970-01-01"}, {`{"S":"0001-01-01"}`, "0001-01-01"}}},
	{"date", "epoch_millis", []roundTrip{{`{"N":"1714521600000"}`, "2024-05-01"}}},
	{"uuid", "", []roundTrip{{`{"S":"6BA7B810-9DAD-11D1-80B4-00C04FD430C8"}`, "6ba7b810-9dad-11d1-80b4-00c04fd430c8"}}},
	{"bytea", "", []roundTrip{{`{"B":"AAEC/w=="}`, `\x000102ff`}, {`{"B":""}`, `\x`}}},
	{"jsonb", "", []roundTrip{
		{`{"M":{"b":{"N":"1.50"},"a":{"L":[{"S":"x\"y"},{"NULL":true},{"BOOL":true}]},"n":{"N":"12345678901234567890123456789012345678"}}}`,
			`{"a": ["x\"y", null, true], "b": 1.50, "n": 12345678901234567890123456789012345678}`},
		{`{"SS":["b","a","B"]}`, `["B", "a", "b"]`},
		{`{"NS":["10","9","-1E-2"]}`, `[-0.01, 9, 10]`},
		{`{"BS":["Ag==","AQ=="]}`, `["AQ==", "Ag=="]`},
		{`{"S":"\u0001é\t"}`, `"\u0001é\t"`},
		{`{"N":"1E+2"}`, `100`},
		{`{"N":"-0"}`, `0`},
		{`{"N":"1.5E-130"}`, "0." + strings.Repeat("0", 129) + "15"},
		{`{"B":"AQI="}`, `"AQI="`},
		{`{"M":{}}`, `{}`},
	}},
	{"text[]", "", []roundTrip{{`{"SS":["b","a"]}`, "{a,b}"}, {`{"L":[{"S":"x y"},{"S":"\""},{"N":"1"}]}`, `{"x y","\"",1}`}, {`{"L":[]}`, "{}"}}},
	{"bigint[]", "", []roundTrip{{`{"NS":["10","-1"]}`, "{-1,10}"}}},
	{"numeric[]", "", []roundTrip{{`{"NS":["1.5","-0.25","12345678901234567890123456789012345678"]}`, "{-0.25,1.5,12345678901234567890123456789012345678}"}}},
	{"numeric(5,2)[]", "", []roundTrip{{`{"L":[{"N":"1.5"},{"N":"-3"}]}`, "{1.50,-3.00}"}}},
	{"bytea[]", "", []roundTrip{{`{"BS":["Ag==","AQ=="]}`, `{"\\x01","\\x02"}`}}},
}

// TestRoundTrip writes every value both ways PostgreSQL accepts rows, COPY
// (binary) and INSERT parameters, into tables the mapping's DDL created,
// and reads them back as text.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	ctx, conn := connect(t)
	for i, c := range cases {
		format := ""
		if c.format != "" {
			format = ", format: " + c.format
		}
		// A mapping per type: Rows rejects an item whole, so values meant
		// for one type must not meet the others' columns.
		var yml strings.Builder
		yml.WriteString("version: 1\nsource: {table: T, key: [k]}\ntables:\n")
		for _, suffix := range []string{"copy", "param"} {
			fmt.Fprintf(&yml, "  - {name: t%d_%s, primary_key: [k], columns: [{name: k, from: k, type: integer}, {name: v, from: v, type: %q%s}]}\n",
				i, suffix, c.typ, format)
		}
		m, err := mapping.Parse("roundtrip.yaml", []byte(yml.String()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, m.DDL()); err != nil {
			t.Fatalf("DDL: %v\n%s", err, m.DDL())
		}
		checkFits(ctx, t, conn, m)
		copyT, paramT := m.Tables[0], m.Tables[1]
		var rows [][]any
		for k, rt := range c.vals {
			it := ddbitem.Item{"k": ddbitem.Num(fmt.Sprint(k))}
			if rt.v != "" {
				it["v"] = decode(t, rt.v)
			}
			out, rej := m.Rows(it)
			if rej != nil {
				t.Fatalf("%s %s: %v", c.typ, rt.v, rej)
			}
			row := out[0][0]
			rows = append(rows, row)
			if _, err := conn.Exec(ctx, "INSERT INTO "+paramT.Ident.Sanitize()+" (k, v) VALUES ($1, $2)", row...); err != nil {
				t.Fatalf("%s %s: INSERT: %v", c.typ, rt.v, err)
			}
		}
		if _, err := conn.CopyFrom(ctx, copyT.Ident, []string{"k", "v"}, pgx.CopyFromRows(rows)); err != nil {
			t.Fatalf("%s: COPY: %v", c.typ, err)
		}
		for _, tb := range []*mapping.Table{copyT, paramT} {
			got := readBack(ctx, t, conn, tb)
			for k, rt := range c.vals {
				if got[k] != rt.want {
					t.Errorf("%s via %s: %s stored as %q, want %q", c.typ, tb.Name, rt.v, got[k], rt.want)
				}
			}
		}
	}
}

// checkFits: tables created from the DDL fit their mapping, so canonical
// type names survive format_type.
func checkFits(ctx context.Context, t *testing.T, conn *pgx.Conn, m *mapping.Mapping) {
	t.Helper()
	for _, tb := range m.Tables {
		rows, err := conn.Query(ctx, `SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, a.atthasdef
			FROM pg_attribute a WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped`, tb.Ident.Sanitize())
		if err != nil {
			t.Fatal(err)
		}
		var cols []mapping.ExistingColumn
		for rows.Next() {
			var c mapping.ExistingColumn
			if err := rows.Scan(&c.Name, &c.DataType, &c.NotNull, &c.HasDefault); err != nil {
				t.Fatal(err)
			}
			cols = append(cols, c)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if err := tb.CheckColumns(cols); err != nil {
			t.Errorf("a table made from the mapping's DDL does not fit it: %v", err)
		}
	}
}

func readBack(ctx context.Context, t *testing.T, conn *pgx.Conn, tb *mapping.Table) map[int]string {
	t.Helper()
	rows, err := conn.Query(ctx, "SELECT k, coalesce(v::text, 'NULL') FROM "+tb.Ident.Sanitize())
	if err != nil {
		t.Fatal(err)
	}
	got := map[int]string{}
	for rows.Next() {
		var k int
		var s string
		if err := rows.Scan(&k, &s); err != nil {
			t.Fatal(err)
		}
		got[k] = s
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

// TestSampleMapping runs the example order mapping end to end: DDL, COPY
// of every table's rows, then deleting one item's rows by KeyValues as the
// stream applier does.
func TestSampleMapping(t *testing.T) {
	t.Parallel()
	ctx, conn := connect(t)
	m, err := mapping.Load("../../../examples/orders/mapping.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, m.DDL()); err != nil {
		t.Fatal(err)
	}
	checkFits(ctx, t, conn, m)
	items := []ddbitem.Item{}
	for i := 0; i < 3; i++ {
		items = append(items, ddbitem.Item{
			"orderId":    ddbitem.Str(fmt.Sprintf("o-%d", i)),
			"customerId": ddbitem.Str(fmt.Sprintf("c-%d", i)),
			"total":      ddbitem.Num("10.5"),
			"createdAt":  ddbitem.Num("1714557600"),
			"extra":      ddbitem.MapOf(map[string]ddbitem.Value{"k": ddbitem.NumSet("2", "1")}),
			"items": ddbitem.ListOf(
				ddbitem.MapOf(map[string]ddbitem.Value{"productId": ddbitem.Str("p"), "quantity": ddbitem.Num("1"), "price": ddbitem.Num("1.5")}),
				ddbitem.MapOf(map[string]ddbitem.Value{"productId": ddbitem.Str("q"), "quantity": ddbitem.Num("2"), "price": ddbitem.Num("3")}),
			),
		})
	}
	perTable := make([][][]any, len(m.Tables))
	for _, it := range items {
		rows, rej := m.Rows(it)
		if rej != nil {
			t.Fatal(rej)
		}
		for ti, r := range rows {
			for _, row := range r {
				perTable[ti] = append(perTable[ti], row)
			}
		}
	}
	for ti, tb := range m.Tables {
		names := make([]string, len(tb.Columns))
		for i, c := range tb.Columns {
			names[i] = c.Name
		}
		if _, err := conn.CopyFrom(ctx, tb.Ident, names, pgx.CopyFromRows(perTable[ti])); err != nil {
			t.Fatalf("COPY %s: %v", tb.Name, err)
		}
	}
	var attrs string
	if err := conn.QueryRow(ctx, `SELECT attrs::text FROM orders WHERE id = 'o-1'`).Scan(&attrs); err != nil {
		t.Fatal(err)
	}
	if attrs != `{"extra": {"k": [1, 2]}}` {
		t.Errorf("attrs = %s", attrs)
	}
	// Delete o-1's rows by its key alone.
	for _, tb := range m.Tables {
		vals, ok, err := m.KeyValues(tb, ddbitem.Item{"orderId": ddbitem.Str("o-1")})
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			continue
		}
		var conds []string
		for i, ci := range tb.KeyColumns {
			conds = append(conds, fmt.Sprintf("%s = $%d", pgx.Identifier{tb.Columns[ci].Name}.Sanitize(), i+1))
		}
		if _, err := conn.Exec(ctx, "DELETE FROM "+tb.Ident.Sanitize()+" WHERE "+strings.Join(conds, " AND "), vals...); err != nil {
			t.Fatal(err)
		}
	}
	for table, want := range map[string]int{"customers": 3, "orders": 2, "order_items": 4} {
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != want {
			t.Errorf("%s: %d rows after deleting o-1, want %d", table, n, want)
		}
	}
}

// decode reads one DynamoDB JSON value ({"S":"x"}) for the cases above.
func decode(t *testing.T, s string) ddbitem.Value {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &m); err != nil || len(m) != 1 {
		t.Fatalf("value %s: %v", s, err)
	}
	for typ, body := range m {
		var str string
		var strs []string
		switch typ {
		case "S", "N", "B":
			json.Unmarshal(body, &str) //nolint:errcheck // shapes are fixed above
		case "SS", "NS", "BS":
			json.Unmarshal(body, &strs) //nolint:errcheck
		}
		switch typ {
		case "S":
			return ddbitem.Str(str)
		case "N":
			return ddbitem.Num(str)
		case "B":
			b, _ := base64.StdEncoding.DecodeString(str)
			return ddbitem.Bin(b)
		case "BOOL":
			return ddbitem.Bool(string(body) == "true")
		case "NULL":
			return ddbitem.Null()
		case "SS":
			return ddbitem.StrSet(strs...)
		case "NS":
			return ddbitem.NumSet(strs...)
		case "BS":
			var bs [][]byte
			for _, s := range strs {
				b, _ := base64.StdEncoding.DecodeString(s)
				bs = append(bs, b)
			}
			return ddbitem.BinSet(bs...)
		case "L":
			var raw []json.RawMessage
			json.Unmarshal(body, &raw) //nolint:errcheck
			l := []ddbitem.Value{}
			for _, r := range raw {
				l = append(l, decode(t, string(r)))
			}
			return ddbitem.ListOf(l...)
		case "M":
			var raw map[string]json.RawMessage
			json.Unmarshal(body, &raw) //nolint:errcheck
			mm := map[string]ddbitem.Value{}
			for k, r := range raw {
				mm[k] = decode(t, string(r))
			}
			return ddbitem.MapOf(mm)
		}
	}
	t.Fatalf("value %s: unknown type", s)
	return ddbitem.Value{}
}
