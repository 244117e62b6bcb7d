package mapping

import (
	"errors"
	"strings"
	"testing"

	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
)

func TestPathForms(t *testing.T) {
	t.Parallel()
	m := mustParse(t, `version: 1
source: {table: T, key: [id]}
tables:
  - name: t
    primary_key: [id]
    columns:
      - {name: id, from: id, type: text}
      - {name: nested, from: a.b, type: text}
      - {name: indexed, from: "a.list[2].c", type: text}
      - {name: quoted, from: 'x["odd.name"]["#tag"]', type: text}
      - {name: dashed, from: GSI1-PK, type: text}
      - {name: deep_missing, from: a.nope.deeper, type: text}
      - {name: out_of_range, from: "a.list[9]", type: text}
  - name: e
    for_each: a.list
    primary_key: [id, i]
    columns:
      - {name: id, from: $.id, type: text}
      - {name: i, from: "#index", type: bigint}
      - {name: c, from: c, type: text}
      - {name: root, from: $.a.b, type: text}
      - {name: whole, from: "#value", type: jsonb}
`)
	it := item(t, `{"id":{"S":"1"},"GSI1-PK":{"S":"g"},
	  "a":{"M":{"b":{"S":"B"},"list":{"L":[{"M":{"c":{"S":"c0"}}},{"NULL":true},{"M":{"c":{"S":"c2"}}}]}}},
	  "x":{"M":{"odd.name":{"M":{"#tag":{"S":"Q"}}}}}}`)
	rows, rej := m.Rows(it)
	if rej != nil {
		t.Fatal(rej)
	}
	got := []string{}
	for _, v := range rows[0][0] {
		got = append(got, render(v))
	}
	want := []string{`string "1"`, `string "B"`, `string "c2"`, `string "Q"`, `string "g"`, "NULL", "NULL"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if len(rows[1]) != 3 {
		t.Fatalf("for_each rows: %d", len(rows[1]))
	}
	// A NULL element gives a row whose element paths are NULL.
	for i, want := range []string{
		`string "1"|int64 0|string "c0"|string "B"|jsonb {"c":"c0"}`,
		`string "1"|int64 1|NULL|string "B"|NULL`,
		`string "1"|int64 2|string "c2"|string "B"|jsonb {"c":"c2"}`,
	} {
		var got []string
		for _, v := range rows[1][i] {
			got = append(got, render(v))
		}
		if strings.Join(got, "|") != want {
			t.Errorf("element %d: got %s, want %s", i, strings.Join(got, "|"), want)
		}
	}
}

func TestPathThroughWrongType(t *testing.T) {
	t.Parallel()
	m := mustParse(t, `version: 1
source: {table: T, key: [id]}
tables:
  - name: t
    primary_key: [id]
    columns:
      - {name: id, from: id, type: text}
      - {name: v, from: "a.b[1]", type: text}
`)
	for _, tc := range []struct{ a, want string }{
		{`{"S":"x"}`, "a is S, not a map (M)"},
		{`{"M":{"b":{"M":{}}}}`, "a.b is M, not a list (L)"},
		{`{"M":{"b":{"SS":["x"]}}}`, "a.b is SS, not a list (L)"},
	} {
		_, rej := m.Rows(item(t, `{"id":{"S":"1"},"a":`+tc.a+`}`))
		if rej == nil || rej.Reason != tc.want || rej.Path != "a.b[1]" || rej.Column != "v" {
			t.Errorf("%s: got %+v, want reason %q", tc.a, rej, tc.want)
		}
	}
	// NULL on the way is just missing.
	rows, rej := m.Rows(item(t, `{"id":{"S":"1"},"a":{"M":{"b":{"NULL":true}}}}`))
	if rej != nil || rows[0][0][1] != nil {
		t.Errorf("NULL on the path: %v %v", rows, rej)
	}
}

func TestForEachShapes(t *testing.T) {
	t.Parallel()
	m := mustParse(t, `version: 1
source: {table: T, key: [id]}
tables:
  - name: lines
    for_each: items
    primary_key: [id, n]
    columns:
      - {name: id, from: $.id, type: text}
      - {name: n, from: "#index", type: smallint}
      - {name: v, from: "#value", type: text}
`)
	for _, tc := range []struct {
		items string
		rows  int
		rej   string
	}{
		{``, 0, ""},
		{`,"items":{"NULL":true}`, 0, ""},
		{`,"items":{"L":[]}`, 0, ""},
		{`,"items":{"L":[{"S":"a"},{"N":"2"}]}`, 2, ""},
		{`,"items":{"SS":["a"]}`, 0, "for_each needs a list (L), got SS"},
		{`,"items":{"M":{}}`, 0, "for_each needs a list (L), got M"},
	} {
		rows, rej := m.Rows(item(t, `{"id":{"S":"1"}`+tc.items+`}`))
		switch {
		case tc.rej != "":
			if rej == nil || rej.Reason != tc.rej || rej.Path != "items" {
				t.Errorf("%s: got %v, want reject %q", tc.items, rej, tc.rej)
			}
		case rej != nil:
			t.Errorf("%s: %v", tc.items, rej)
		case len(rows[0]) != tc.rows:
			t.Errorf("%s: %d rows, want %d", tc.items, len(rows[0]), tc.rows)
		}
	}
}

func TestWhen(t *testing.T) {
	t.Parallel()
	m := mustParse(t, `version: 1
source: {table: T, key: [PK, SK]}
tables:
  - {name: eq_s, shared: true, when: {attribute: type, equals: order}, primary_key: [p], columns: [{name: p, from: PK, type: text}]}
  - {name: eq_n, shared: true, when: {attribute: v, equals: 10}, primary_key: [p], columns: [{name: p, from: PK, type: text}]}
  - {name: eq_b, shared: true, when: {attribute: flag, equals: true}, primary_key: [p], columns: [{name: p, from: PK, type: text}]}
  - {name: bw, shared: true, when: {attribute: SK, begins_with: "ORDER#"}, primary_key: [p], columns: [{name: p, from: PK, type: text}]}
  - {name: ex, shared: true, when: {attribute: m.x, exists: true}, primary_key: [p], columns: [{name: p, from: PK, type: text}]}
  - {name: nex, shared: true, when: {attribute: gone, exists: false}, primary_key: [p], columns: [{name: p, from: PK, type: text}]}
  - name: all
    shared: true
    when: [{attribute: SK, begins_with: "ORDER#"}, {attribute: type, equals: order}]
    primary_key: [p]
    columns: [{name: p, from: PK, type: text}]
`)
	cases := []struct {
		item string
		want string // tables with rows
	}{
		{`{"type":{"S":"order"},"SK":{"S":"ORDER#1"}}`, "eq_s bw nex all"},
		{`{"type":{"S":"Order"},"SK":{"S":"order#1"}}`, "nex"},
		{`{"v":{"N":"1E+1"},"SK":{"S":"X"}}`, "eq_n nex"},
		{`{"v":{"N":"10.0"},"SK":{"S":"X"}}`, "eq_n nex"},
		{`{"v":{"S":"10"},"SK":{"S":"X"}}`, "eq_n nex"}, // S compares as text
		{`{"v":{"N":"11"},"SK":{"S":"X"}}`, "nex"},
		{`{"flag":{"BOOL":true},"SK":{"S":"X"}}`, "eq_b nex"},
		{`{"flag":{"BOOL":false},"SK":{"S":"X"}}`, "nex"},
		{`{"m":{"M":{"x":{"N":"0"}}},"SK":{"S":"X"}}`, "ex nex"},
		{`{"m":{"M":{"x":{"NULL":true}}},"SK":{"S":"X"}}`, "nex"}, // NULL does not exist
		{`{"m":{"S":"not a map"},"SK":{"S":"X"}}`, "nex"},
		{`{"gone":{"S":""},"SK":{"N":"1"}}`, ""},
	}
	for _, tc := range cases {
		it := item(t, tc.item)
		it["PK"] = ddbitem.Str("p")
		rows, rej := m.Rows(it)
		if rej != nil {
			t.Fatal(rej)
		}
		var got []string
		for ti, r := range rows {
			if len(r) > 0 {
				got = append(got, m.Tables[ti].Name)
			}
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("%s: tables %q, want %q", tc.item, strings.Join(got, " "), tc.want)
		}
	}
}

// TestStar checks "*": every root attribute no table producing rows for
// the item maps, whatever its type, and nothing else.
func TestStar(t *testing.T) {
	t.Parallel()
	m := mustParse(t, `version: 1
source: {table: T, key: [PK, SK]}
tables:
  - name: customers
    when: {attribute: SK, equals: PROFILE}
    primary_key: [id]
    columns:
      - {name: id, from: PK, type: text}
      - {name: name, from: name, type: text}
      - {name: rest, from: "*", type: jsonb}
  - name: orders
    when: {attribute: SK, begins_with: "ORDER#"}
    primary_key: [c, id]
    columns:
      - {name: c, from: PK, type: text}
      - {name: id, from: SK, type: text}
      - {name: total, from: total, type: numeric}
      - {name: rest, from: "*", type: jsonb}
  - name: lines
    when: {attribute: SK, begins_with: "ORDER#"}
    for_each: lines
    primary_key: [c, id, n]
    columns:
      - {name: c, from: $.PK, type: text}
      - {name: id, from: $.SK, type: text}
      - {name: n, from: "#index", type: integer}
      - {name: sku, from: sku, type: text}
      - {name: cur, from: $.currency, type: text}
`)
	// A customer's "total" is kept: only orders maps total, and orders
	// takes no customer item.
	rows, rej := m.Rows(item(t, `{"PK":{"S":"C#1"},"SK":{"S":"PROFILE"},"name":{"S":"n"},"total":{"N":"5"},
		"b":{"B":"AQ=="},"ns":{"NS":["2","1"]},"nul":{"NULL":true},"l":{"L":[{"BOOL":false}]}}`))
	if rej != nil {
		t.Fatal(rej)
	}
	if got, want := render(rows[0][0][2]), `jsonb {"b":"AQ==","l":[false],"ns":[1,2],"nul":null,"total":5}`; got != want {
		t.Errorf("customer *: got %s, want %s", got, want)
	}
	// An order: lines' paths (lines, $.currency) count as mapped.
	rows, rej = m.Rows(item(t, `{"PK":{"S":"C#1"},"SK":{"S":"ORDER#1"},"name":{"S":"kept"},"total":{"N":"5"},
		"currency":{"S":"EUR"},"lines":{"L":[{"M":{"sku":{"S":"x"},"extra":{"S":"not in *"}}}]}}`))
	if rej != nil {
		t.Fatal(rej)
	}
	if got, want := render(rows[1][0][3]), `jsonb {"name":"kept"}`; got != want {
		t.Errorf("order *: got %s, want %s", got, want)
	}
}

func TestDuplicateRowsOfOneItem(t *testing.T) {
	t.Parallel()
	m := mustParse(t, `version: 1
source: {table: T, key: [id]}
tables:
  - name: products
    shared: true
    for_each: items
    primary_key: [sku]
    columns:
      - {name: sku, from: sku, type: text}
      - {name: name, from: name, type: text}
  - name: lines
    for_each: items
    primary_key: [id, sku]
    columns:
      - {name: id, from: $.id, type: text}
      - {name: sku, from: sku, type: text}
`)
	it := item(t, `{"id":{"S":"o"},"items":{"L":[
		{"M":{"sku":{"S":"a"},"name":{"S":"first"}}},
		{"M":{"sku":{"S":"b"},"name":{"S":"b"}}},
		{"M":{"sku":{"S":"a"},"name":{"S":"last"}}}]}}`)
	_, rej := m.Rows(it)
	if rej == nil || rej.Table != "lines" || !strings.Contains(rej.Reason, "elements 0 and 2 give the same primary key (id, sku)") {
		t.Fatalf("got %v, want a duplicate-key reject", rej)
	}
	m.Tables = m.Tables[:1] // the shared table alone keeps the last row per key
	rows, rej := m.Rows(it)
	if rej != nil {
		t.Fatal(rej)
	}
	var got []string
	for _, r := range rows[0] {
		got = append(got, r[0].(string)+"="+r[1].(string))
	}
	if strings.Join(got, " ") != "b=b a=last" {
		t.Errorf("shared dedupe: %v", got)
	}
}

func TestKeyValues(t *testing.T) {
	t.Parallel()
	m, err := Load("../../examples/single-table/mapping.yaml")
	if err != nil {
		t.Fatal(err)
	}
	key := func(pk, sk string) ddbitem.Item {
		return ddbitem.Item{"PK": ddbitem.Str(pk), "SK": ddbitem.Str(sk)}
	}
	cases := []struct {
		table string
		key   ddbitem.Item
		want  string // rendered values, or "-" for no rows possible
	}{
		{"app.customers", key("CUSTOMER#c-1", "PROFILE"), `string "c-1"`},
		{"app.customers", key("CUSTOMER#c-1", "ORDER#o-7"), "-"}, // pinned SK differs
		{"app.customers", key("TENANT#t", "PROFILE"), "-"},       // begins_with on PK fails
		{"app.orders", key("CUSTOMER#c-1", "ORDER#o-7"), `string "c-1"|string "o-7"`},
		{"app.orders", key("CUSTOMER#c-1", "PROFILE"), "-"},
		{"app.order_lines", key("CUSTOMER#c-1", "ORDER#o-7"), `string "c-1"|string "o-7"`},
		{"app.products", key("CUSTOMER#c-1", "ORDER#o-7"), "-"}, // shared: never deleted
		{"app.addresses", key("CUSTOMER#c-1", "ADDRESS#home"), `string "c-1"|string "home"`},
	}
	for _, tc := range cases {
		tb := m.Table(tc.table)
		vals, ok, err := m.KeyValues(tb, tc.key)
		if err != nil {
			t.Fatal(err)
		}
		got := "-"
		if ok {
			var parts []string
			for _, v := range vals {
				parts = append(parts, render(v))
			}
			got = strings.Join(parts, "|")
		}
		if got != tc.want {
			t.Errorf("%s %v: got %s, want %s", tc.table, tc.key, got, tc.want)
		}
		// Whatever KeyValues says must agree with Rows on a full item.
		full := ddbitem.Item{"PK": tc.key["PK"], "SK": tc.key["SK"], "name": ddbitem.Str("n"), "total": ddbitem.Num("1"),
			"lines": ddbitem.ListOf(ddbitem.MapOf(map[string]ddbitem.Value{"sku": ddbitem.Str("s")}))}
		rows, rej := m.Rows(full)
		if rej != nil {
			t.Fatalf("%v: %v", full, rej)
		}
		ti := -1
		for i, x := range m.Tables {
			if x == tb {
				ti = i
			}
		}
		if !tb.Shared && (len(rows[ti]) > 0) != ok {
			t.Errorf("%s %v: KeyValues ok=%v but Rows gives %d rows", tc.table, tc.key, ok, len(rows[ti]))
		}
		for _, r := range rows[ti] {
			for i, ci := range tb.KeyColumns {
				if render(r[ci]) != render(vals[i]) {
					t.Errorf("%s: row key %s, KeyValues %s", tc.table, render(r[ci]), render(vals[i]))
				}
			}
		}
	}
	if _, _, err := m.KeyValues(m.Tables[0], ddbitem.Item{"PK": ddbitem.Str("x")}); err == nil {
		t.Error("missing sort key: want an error")
	}
	if got := m.Table("app.customers").KeyAttrs; len(got) != 1 || got[0] != "PK" {
		t.Errorf("customers KeyAttrs = %v", got)
	}
}

func TestKeyItem(t *testing.T) {
	t.Parallel()
	m := mustParse(t, `version: 1
source: {table: T, key: [a, b]}
tables:
  - {name: t, primary_key: [a, b], columns: [{name: a, from: a, type: bytea}, {name: b, from: b, type: numeric}]}
`)
	it := ddbitem.Item{"a": ddbitem.Bin([]byte{1, 2}), "b": ddbitem.Num("1.50")}
	k, err := m.KeyOf(it)
	if err != nil {
		t.Fatal(err)
	}
	back, err := m.KeyItem(k)
	if err != nil {
		t.Fatal(err)
	}
	k2, _ := m.KeyOf(back)
	if k2 != k {
		t.Errorf("round trip: %s != %s", k2, k)
	}
	vals, ok, err := m.KeyValues(m.Tables[0], back)
	if err != nil || !ok || render(vals[0]) != "bytes AQI=" || render(vals[1]) != "numeric 1.5" {
		t.Errorf("KeyValues: %v %v %v", vals, ok, err)
	}
	for _, bad := range []string{`x`, `[{"S":"a"}]`, `[{"S":"a"},{"BOOL":"x"}]`, `[{"S":"a","N":"1"},{"S":"b"}]`} {
		if _, err := m.KeyItem(ddbitem.Key(bad)); err == nil {
			t.Errorf("KeyItem(%s): want an error", bad)
		}
	}
}

func TestParseType(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"int": "integer", "INT4": "integer", "integer": "integer", "int2": "smallint", "int8": "bigint",
		"float8": "double precision", "double  precision": "double precision", "float": "double precision",
		"float4": "real", "bool": "boolean", "varchar": "varchar", "varchar(20)": "varchar(20)",
		"character varying(20)": "varchar(20)", "timestamp with time zone": "timestamptz",
		"timestamp without time zone": "timestamp", "decimal(12, 2)": "numeric(12,2)", "numeric(7)": "numeric(7,0)",
		"text[]": "text[]", "int8[]": "bigint[]", "numeric(12,2)[]": "numeric(12,2)[]", "bytea[]": "bytea[]",
		"jsonb": "jsonb", "uuid": "uuid", "date": "date",
	} {
		got, err := ParseType(in)
		if err != nil || got.Name != want {
			t.Errorf("ParseType(%q) = %q, %v; want %q", in, got.Name, err, want)
		}
	}
	for _, bad := range []string{"", "json", "money", "varchar(x)", "numeric(1,2,3)", "text[][]", "uuid[]", "numeric(", "timestamp(6)"} {
		if _, err := ParseType(bad); err == nil {
			t.Errorf("ParseType(%q): want an error", bad)
		}
	}
}

func TestCheckColumns(t *testing.T) {
	t.Parallel()
	m, err := Load("../../examples/orders/mapping.yaml")
	if err != nil {
		t.Fatal(err)
	}
	orders := m.Table("orders")
	fits := []ExistingColumn{
		{Name: "id", DataType: "text", NotNull: true},
		{Name: "customer_id", DataType: "text"},
		{Name: "total", DataType: "numeric(12,2)"},
		{Name: "status", DataType: "text"},
		{Name: "created_at", DataType: "timestamp with time zone"},
		{Name: "attrs", DataType: "jsonb", NotNull: true}, // "*" is never NULL
		{Name: "extra", DataType: "integer"},
		{Name: "loaded_at", DataType: "timestamptz", NotNull: true, HasDefault: true},
	}
	if err := orders.CheckColumns(fits); err != nil {
		t.Errorf("fitting table: %v", err)
	}
	bad := []ExistingColumn{
		{Name: "id", DataType: "character varying(20)"},
		{Name: "total", DataType: "numeric(12,3)"},
		{Name: "status", DataType: "text", NotNull: true},
		{Name: "created_at", DataType: "timestamp without time zone"},
		{Name: "attrs", DataType: "json"},
		{Name: "tenant", DataType: "text", NotNull: true},
	}
	err = orders.CheckColumns(bad)
	var ce *ColumnsError
	if !errors.As(err, &ce) {
		t.Fatalf("got %v, want *ColumnsError", err)
	}
	want := []string{
		"id: has type character varying(20), the mapping needs text",
		"customer_id: missing (the mapping needs text)",
		"total: has type numeric(12,3), the mapping needs numeric(12,2)",
		"status: is NOT NULL but the mapping may give NULL (mark the column required: true)",
		"created_at: has type timestamp without time zone, the mapping needs timestamptz",
		"attrs: has type json, the mapping needs jsonb",
		"tenant: is NOT NULL without a default and not mapped, so every insert would fail",
	}
	var got []string
	for _, p := range ce.Problems {
		got = append(got, p.Column+": "+p.Reason)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestFingerprint(t *testing.T) {
	t.Parallel()
	base := `version: 1
source: {table: T, key: [id]}
tables:
  - {name: t, primary_key: [id], columns: [{name: id, from: id, type: %s}]}
`
	fp := func(typ string) string { return mustParse(t, strings.Replace(base, "%s", typ, 1)).Fingerprint() }
	if fp("int4") != fp("integer") {
		t.Error("equivalent spellings must give the same fingerprint")
	}
	reformatted := mustParse(t, "# comment\nversion: 1\nsource:\n  table: T\n  key: [id]\ntables:\n  - name: t\n    primary_key: [id]\n    columns:\n      - name: id\n        from: id\n        type: integer\n")
	if reformatted.Fingerprint() != fp("integer") {
		t.Error("formatting and comments must not change the fingerprint")
	}
	if fp("bigint") == fp("integer") {
		t.Error("a changed type must change the fingerprint")
	}
	if len(fp("text")) != 64 {
		t.Error("fingerprint is hex SHA-256")
	}
}

func TestCreateSQLQuotes(t *testing.T) {
	t.Parallel()
	m := mustParse(t, `version: 1
source: {table: T, key: [id]}
tables:
  - name: 'my schema.Order"s'
    primary_key: ['Id; DROP']
    columns:
      - {name: 'Id; DROP', from: id, type: text, required: true}
      - {name: 'x"y', from: x, type: 'numeric(12,2)'}
`)
	got := m.Tables[0].CreateSQL()
	want := "CREATE TABLE IF NOT EXISTS \"my schema\".\"Order\"\"s\" (\n    \"Id; DROP\" text NOT NULL,\n    \"x\"\"y\" numeric(12,2),\n    PRIMARY KEY (\"Id; DROP\")\n)"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if m.Tables[0].Schema != "my schema" || m.Tables[0].Table != `Order"s` {
		t.Errorf("split: %q %q", m.Tables[0].Schema, m.Tables[0].Table)
	}
	if !strings.Contains(m.DDL(), `CREATE SCHEMA IF NOT EXISTS "my schema";`) {
		t.Errorf("DDL lacks the schema:\n%s", m.DDL())
	}
}

func TestIndexOutOfRange(t *testing.T) {
	t.Parallel()
	m := mustParse(t, `version: 1
source: {table: T, key: [id]}
tables:
  - name: l
    for_each: xs
    primary_key: [id, n]
    columns:
      - {name: id, from: $.id, type: text}
      - {name: n, from: "#index", type: "numeric(1,0)"}
`)
	list := make([]ddbitem.Value, 11)
	rows, rej := m.Rows(ddbitem.Item{"id": ddbitem.Str("a"), "xs": ddbitem.ListOf(list[:10]...)})
	if rej != nil || render(rows[0][9][1]) != "numeric 9" {
		t.Fatalf("10 elements: %v %v", rows, rej)
	}
	_, rej = m.Rows(ddbitem.Item{"id": ddbitem.Str("a"), "xs": ddbitem.ListOf(list...)})
	if rej == nil || rej.Path != "xs[10]" || !strings.Contains(rej.Reason, "position 10 is out of range for numeric(1,0)") {
		t.Fatalf("11 elements: got %v", rej)
	}
}
