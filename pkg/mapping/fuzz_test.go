package mapping

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
)

// FuzzParse: the mapping parser must never panic, whatever the bytes, and
// a mapping it accepts must render DDL and a fingerprint.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/bad/*.yaml")
	files = append(files, "../../examples/orders/mapping.yaml", "../../examples/single-table/mapping.yaml")
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("a: &a [*a]"))
	f.Add([]byte("version: 1\nsource: {table: T, key: [k]}\ntables: &t [{name: t, primary_key: [k], columns: [{name: k, from: k, type: text}]}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse("fuzz.yaml", data)
		if err != nil {
			if len(Errors(err)) == 0 {
				t.Fatalf("error without *Error: %v", err)
			}
			return
		}
		_ = m.DDL()
		if len(m.Fingerprint()) != 64 {
			t.Fatal("bad fingerprint")
		}
		for _, tb := range m.Tables {
			if !tb.Shared && len(tb.KeyColumns) == 0 && len(m.Source.Key) > 0 {
				if _, ok := tb.PinnedValue(m.Source.Key[0]); !ok {
					t.Fatalf("non-shared table %s without key columns", tb.Name)
				}
			}
		}
	})
}

// fuzzMappings are the mappings random items are converted with: the two
// examples and one with a column of every type.
var fuzzMappings = func() []string {
	var cols, elemCols strings.Builder
	types := []string{"text", "varchar(4)", "smallint", "integer", "bigint", "numeric", "numeric(5,2)", "double precision",
		"real", "boolean", "timestamptz", "timestamp", "date", "uuid", "bytea", "jsonb", "text[]", "bigint[]", "numeric(6,1)[]", "bytea[]"}
	for i, typ := range types {
		extra := ""
		if i%5 == 0 && (typ == "text" || typ == "integer") {
			extra = `, strip_prefix: "A"`
		}
		if typ == "date" {
			extra = ", format: epoch_millis"
		}
		cols.WriteString("      - {name: c" + itoa(i) + ", from: " + fuzzNames[i%len(fuzzNames)] + `, type: "` + typ + `"` + extra + "}\n")
		elemCols.WriteString("      - {name: c" + itoa(i) + ", from: " + fuzzNames[(i+3)%len(fuzzNames)] + `, type: "` + typ + `"}` + "\n")
	}
	all := `version: 1
source: {table: T, key: [orderId]}
tables:
  - name: every_type
    primary_key: [id]
    columns:
      - {name: id, from: orderId, type: text}
      - {name: rest, from: "*", type: jsonb}
` + cols.String() + `  - name: elements
    for_each: items
    primary_key: [id, n]
    columns:
      - {name: id, from: $.orderId, type: text}
      - {name: n, from: "#index", type: integer}
      - {name: whole, from: "#value", type: jsonb}
` + elemCols.String() + `  - name: shared_elements
    for_each: items
    shared: true
    primary_key: [p]
    columns:
      - {name: p, from: productId, type: text}
`
	var out []string
	for _, f := range []string{"../../examples/orders/mapping.yaml", "../../examples/single-table/mapping.yaml"} {
		data, err := os.ReadFile(f)
		if err != nil {
			panic(err)
		}
		out = append(out, string(data))
	}
	return append(out, all)
}()

var fuzzNames = []string{"orderId", "customerId", "total", "status", "createdAt", "items", "productId", "quantity",
	"price", "PK", "SK", "name", "lines", "sku", "qty", "x", "y"}

// genItem turns fuzz bytes into an item, so the fuzzer explores item
// shapes rather than a decoder.
type gen struct{ b []byte }

func (g *gen) next() byte {
	if len(g.b) == 0 {
		return 0
	}
	c := g.b[0]
	g.b = g.b[1:]
	return c
}

func (g *gen) str() string {
	n := int(g.next() % 12)
	switch g.next() % 8 {
	case 0:
		return fuzzNames[int(g.next())%len(fuzzNames)]
	case 1:
		return []string{"CUSTOMER#c-1", "ORDER#o-1", "PROFILE", "ADDRESS#a", "2024-05-01", "2024-05-01T10:00:00Z",
			"6ba7b810-9dad-11d1-80b4-00c04fd430c8", "A42", "42", "1E+2", "\x00", "\xff"}[int(g.next())%12]
	}
	if n > len(g.b) {
		n = len(g.b)
	}
	s := string(g.b[:n])
	g.b = g.b[n:]
	return s
}

func (g *gen) num() string {
	switch g.next() % 4 {
	case 0:
		return []string{"0", "-0", "1", "-1", "1.5", "1.005", "1E+2", "1e-130", "9.9999999999999999999999999999999999999E+125",
			"12345678901234567890123456789012345678", "1714557600000", "32768", "9223372036854775808", ".5", "+3", "1E+100000", "x"}[int(g.next())%17]
	}
	var sb strings.Builder
	n := int(g.next() % 24)
	for i := 0; i < n; i++ {
		sb.WriteByte("0123456789.-+E"[int(g.next())%14])
	}
	return sb.String()
}

func (g *gen) value(depth int) ddbitem.Value {
	k := g.next() % 11
	if depth > 4 && k >= 5 {
		k %= 5
	}
	switch k {
	case 0:
		return ddbitem.Str(g.str())
	case 1:
		return ddbitem.Num(g.num())
	case 2:
		return ddbitem.Bin([]byte(g.str()))
	case 3:
		return ddbitem.Bool(g.next()%2 == 0)
	case 4:
		return ddbitem.Null()
	case 5:
		m := map[string]ddbitem.Value{}
		for n := int(g.next() % 5); n > 0; n-- {
			m[g.str()] = g.value(depth + 1)
		}
		return ddbitem.MapOf(m)
	case 6:
		var l []ddbitem.Value
		for n := int(g.next() % 5); n > 0; n-- {
			l = append(l, g.value(depth+1))
		}
		return ddbitem.ListOf(l...)
	case 7:
		var s []string
		for n := int(g.next()%4) + 1; n > 0; n-- {
			s = append(s, g.str())
		}
		return ddbitem.StrSet(s...)
	case 8:
		var s []string
		for n := int(g.next()%4) + 1; n > 0; n-- {
			s = append(s, g.num())
		}
		return ddbitem.NumSet(s...)
	case 9:
		var s [][]byte
		for n := int(g.next()%3) + 1; n > 0; n-- {
			s = append(s, []byte(g.str()))
		}
		return ddbitem.BinSet(s...)
	}
	// A list of maps, the for_each shape.
	var l []ddbitem.Value
	for n := int(g.next() % 4); n > 0; n-- {
		m := map[string]ddbitem.Value{}
		for k := int(g.next() % 6); k > 0; k-- {
			m[fuzzNames[int(g.next())%len(fuzzNames)]] = g.value(depth + 2)
		}
		l = append(l, ddbitem.MapOf(m))
	}
	return ddbitem.ListOf(l...)
}

func genItem(data []byte) ddbitem.Item {
	g := &gen{b: data}
	it := ddbitem.Item{}
	for n := int(g.next() % 12); n > 0 && len(g.b) > 0; n-- {
		name := fuzzNames[int(g.next())%len(fuzzNames)]
		if g.next()%8 == 0 {
			name = g.str()
		}
		it[name] = g.value(0)
	}
	return it
}

// FuzzRows: random items never panic; Rows either gives well-formed rows
// for every table or a Reject that says why.
func FuzzRows(f *testing.F) {
	var ms []*Mapping
	for _, y := range fuzzMappings {
		ms = append(ms, mustParse(f, y))
	}
	f.Add([]byte{})
	f.Add([]byte("\x05\x00\x01\x00\x05\x06\x04\x0a\x05\x02\x01\x00\x03\x07\x0a\x01\x02"))
	f.Add([]byte("orderId-items-total-customerId-and-more-bytes-for-the-generator-0123456789"))
	f.Fuzz(func(t *testing.T, data []byte) {
		it := genItem(data)
		for _, m := range ms {
			checkRows(t, m, it)
		}
	})
}

func checkRows(t *testing.T, m *Mapping, it ddbitem.Item) {
	rows, rej := m.Rows(it)
	if rej != nil {
		if rej.Reason == "" || rej.Table == "" || rej.Error() == "" {
			t.Fatalf("reject without table or reason: %+v", rej)
		}
		return
	}
	if len(rows) != len(m.Tables) {
		t.Fatalf("%d tables of rows for %d tables", len(rows), len(m.Tables))
	}
	for ti, tb := range m.Tables {
		for _, r := range rows[ti] {
			if len(r) != len(tb.Columns) {
				t.Fatalf("table %s: row of %d values for %d columns", tb.Name, len(r), len(tb.Columns))
			}
			for _, ci := range tb.PKIndexes {
				if r[ci] == nil {
					t.Fatalf("table %s: NULL primary key column %s", tb.Name, tb.Columns[ci].Name)
				}
			}
			for ci, v := range r {
				checkValue(t, tb.Columns[ci], v)
			}
		}
		if tb.Shared || len(rows[ti]) == 0 {
			continue
		}
		// The rows of a non-shared table are found again from the key alone.
		vals, ok, err := m.KeyValues(tb, it)
		if err != nil || !ok {
			t.Fatalf("table %s has rows but KeyValues says %v %v", tb.Name, ok, err)
		}
		for _, r := range rows[ti] {
			for i, ci := range tb.KeyColumns {
				if render(r[ci]) != render(vals[i]) {
					t.Fatalf("table %s: key column %s is %s in the row, %s from KeyValues", tb.Name, tb.Columns[ci].Name, render(r[ci]), render(vals[i]))
				}
			}
		}
	}
}

func checkValue(t *testing.T, c *Column, v any) {
	if v == nil {
		if c.notNull || c.src == srcStar || c.src == srcIndex {
			t.Fatalf("column %s: NULL", c.Name)
		}
		return
	}
	switch x := v.(type) {
	case string:
		if textProblem(x) != "" {
			t.Fatalf("column %s: bad text %q", c.Name, x)
		}
		if c.Type.Length > 0 && utf8.RuneCountInString(x) > c.Type.Length {
			t.Fatalf("column %s: %q too long", c.Name, x)
		}
	case json.RawMessage:
		if !json.Valid(x) || strings.Contains(string(x), `\u0000`) {
			t.Fatalf("column %s: bad jsonb %s", c.Name, x)
		}
	case pgtype.Numeric:
		if !x.Valid || x.Int == nil || (c.Type.Precision > 0 && x.Exp != int32(-c.Type.Scale)) {
			t.Fatalf("column %s: bad numeric %+v", c.Name, x)
		}
	case []pgtype.Numeric:
		for _, n := range x {
			checkValue(t, &Column{Name: c.Name, Type: Type{Precision: c.Type.Precision, Scale: c.Type.Scale}}, n)
		}
	case []byte:
		if x == nil {
			t.Fatalf("column %s: nil bytes", c.Name)
		}
	}
}

// FuzzNumber: mapping's number (canonical text, comparison) agrees with
// ddbitem's Decimal for every text ddbitem.SplitNumber accepts.
func FuzzNumber(f *testing.F) {
	for _, s := range []string{"0", "-0", "1.50", "1E+2", "0.0012", "10.0E-1", "+.5", "5.", "", ".", "1e", "-00100.00100e-3", "1E+100001"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := parseNumber(s)
		d, err := ddbitem.ParseNumber(s)
		if ok != (err == nil) {
			t.Fatalf("%q: parseNumber ok=%v, ddbitem err=%v", s, ok, err)
		}
		if !ok {
			return
		}
		if n.d1+n.d2 != d.Digits || (!d.IsZero() && (n.exp != d.Exp || n.neg != d.Neg)) {
			t.Fatalf("%q: got %+v, ddbitem %+v", s, n, d)
		}
		if len(s) < 200 && n.canonical() != d.String() {
			t.Fatalf("%q: canonical %q, ddbitem %q", s, n.canonical(), d.String())
		}
		dd, _ := ddbitem.ParseNumber(d.String())
		var m number
		m, _ = parseNumber(dd.String())
		if n.cmp(&m) != 0 {
			t.Fatalf("%q: cmp with its canonical form != 0", s)
		}
	})
}
