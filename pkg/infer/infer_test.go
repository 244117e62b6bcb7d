package infer

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ddb2pg/ddb2pg/internal/exportgen"
	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
	"github.com/ddb2pg/ddb2pg/pkg/export"
	"github.com/ddb2pg/ddb2pg/pkg/mapping"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func golden(t *testing.T, name string, got string) {
	t.Helper()
	file := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test ./pkg/infer -run %s -update)", err, t.Name())
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file; rerun with -update and review the diff.\n--- got ---\n%s", file, got)
	}
}

func sampleOf(t *testing.T, folder string, n int) []ddbitem.Item {
	t.Helper()
	exp, err := export.Open(context.Background(), folder)
	if err != nil {
		t.Fatal(err)
	}
	items, err := SampleExport(context.Background(), exp, n)
	if err != nil {
		t.Fatal(err)
	}
	return items
}

// checkLoads parses the proposal afresh and maps every sampled item: only
// values PostgreSQL cannot store may reject.
func checkLoads(t *testing.T, res *Result, items []ddbitem.Item) *mapping.Mapping {
	t.Helper()
	m, err := mapping.Parse("proposal.yaml", res.YAML)
	if err != nil {
		t.Fatalf("proposal does not parse: %v\n%s", err, res.YAML)
	}
	for _, it := range items {
		if _, rej := m.Rows(it); rej != nil && storable(rej) {
			t.Errorf("sampled item rejected: %v", rej)
		}
	}
	if len(res.Rejects) > 0 {
		t.Errorf("rejects left: %v", res.Rejects)
	}
	return m
}

func TestInferDemoCorpus(t *testing.T) {
	w, err := exportgen.WriteExport(t.TempDir(), exportgen.Config{Orders: 500, Seed: 1, EdgeCases: true})
	if err != nil {
		t.Fatal(err)
	}
	items := sampleOf(t, w.Folder, DefaultSample)
	if len(items) != 500 {
		t.Fatalf("sampled %d items, want all 500", len(items))
	}
	res, err := Infer(items, Options{SourceTable: "Orders"})
	if err != nil {
		t.Fatal(err)
	}
	m := checkLoads(t, res, items)
	if got := strings.Join(m.Source.Key, ","); got != "orderId" {
		t.Errorf("key %s, want orderId", got)
	}
	if m.Table("orders") == nil || m.Table("orders_items") == nil || m.Table("orders_items").ForEach != "items" {
		t.Errorf("want orders and a for_each child orders_items:\n%s", res.YAML)
	}
	for _, want := range []string{"conflicts:", "total is S in 1 and N in 499"} {
		if !strings.Contains(res.Report, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	golden(t, "orders.yaml.golden", string(res.YAML))
	golden(t, "orders.report.golden", res.Report)
}

func singleTableItems() []ddbitem.Item {
	var items []ddbitem.Item
	S, N := ddbitem.Str, ddbitem.Num
	for c := 1; c <= 40; c++ {
		pk := fmt.Sprintf("CUSTOMER#c-%d", c)
		prof := ddbitem.Item{"PK": S(pk), "SK": S("PROFILE"), "name": S(fmt.Sprintf("Customer %d", c)),
			"email": S(fmt.Sprintf("c%d@example.com", c)), "since": S(fmt.Sprintf("2024-0%d-1%d", c%9+1, c%10)),
			"tier": S([]string{"gold", "silver"}[c%2]), "order id": S("weird name"), "#tag": N(fmt.Sprint(c))}
		if c%7 == 0 {
			prof["newsletter"] = ddbitem.Bool(true)
		}
		items = append(items, prof)
		for _, label := range []string{"home", "work"}[:1+c%2] {
			items = append(items, ddbitem.Item{"PK": S(pk), "SK": S("ADDRESS#" + label), "street": S(fmt.Sprintf("%d Main St", c)),
				"city": S("Paris"), "postcode": S(fmt.Sprintf("750%02d", c)), "country": S("FR")})
		}
		for o := 1; o <= c%4; o++ {
			var lines []ddbitem.Value
			for l := 0; l <= o%3; l++ {
				lines = append(lines, ddbitem.MapOf(map[string]ddbitem.Value{"sku": S(fmt.Sprintf("SKU-%d", l+o)),
					"qty": N(fmt.Sprint(l + 1)), "unitPrice": N(fmt.Sprintf("%d.%02d", 3+l, o*7))}))
			}
			ord := ddbitem.Item{"PK": S(pk), "SK": S(fmt.Sprintf("ORDER#o-%d-%d", c, o)), "total": N(fmt.Sprintf("%d.5", 10*o)),
				"status": S("PLACED"), "placedAt": N(fmt.Sprint(1714557600000 + int64(c*1000+o))),
				"tags": ddbitem.StrSet("a", "b"), "gift": ddbitem.Bool(o%2 == 0), "lines": ddbitem.ListOf(lines...)}
			if o == 3 {
				ord["total"] = S("n/a") // a conflict: N and S
			}
			items = append(items, ord)
		}
	}
	// A tenant profile: a second PK prefix with the same SK constant.
	items = append(items, ddbitem.Item{"PK": S("TENANT#t-1"), "SK": S("PROFILE"), "name": S("Acme")})
	return items
}

func seqOf(items []ddbitem.Item) iter.Seq[ddbitem.Item] {
	return func(yield func(ddbitem.Item) bool) {
		for _, it := range items {
			if !yield(it) {
				return
			}
		}
	}
}

func TestInferSingleTable(t *testing.T) {
	all := singleTableItems()
	w, err := exportgen.WriteExportFromItems(t.TempDir(), exportgen.ExportOptions{Table: "App", ItemsPerFile: 37, Seed: 3}, seqOf(all))
	if err != nil {
		t.Fatal(err)
	}
	items := sampleOf(t, w.Folder, DefaultSample)
	if len(items) != len(all) {
		t.Fatalf("sampled %d of %d", len(items), len(all))
	}
	res, err := Infer(items, Options{SourceTable: "App", TableName: "app"})
	if err != nil {
		t.Fatal(err)
	}
	m := checkLoads(t, res, items)
	if got := strings.Join(m.Source.Key, ","); got != "PK,SK" {
		t.Errorf("key %s, want PK,SK", got)
	}
	for _, name := range []string{"app_order", "app_order_lines", "app_address", "app_customer_profile", "app_tenant_profile"} {
		if m.Table(name) == nil || m.Table(name).When == nil {
			t.Errorf("no table %s with a when filter:\n%s", name, res.YAML)
		}
	}
	for _, want := range []string{`strip_prefix: "ORDER#"`, `{attribute: SK, begins_with: "ORDER#"}`, `from: "[\"order id\"]"`, `from: "[\"#tag\"]"`} {
		if !strings.Contains(string(res.YAML), want) {
			t.Errorf("proposal lacks %s", want)
		}
	}
	// every item has rows somewhere
	for _, it := range items {
		rows, _ := m.Rows(it)
		n := 0
		for _, r := range rows {
			n += len(r)
		}
		if n == 0 {
			t.Errorf("item %v has no rows", it["PK"])
		}
	}
	golden(t, "single-table.yaml.golden", string(res.YAML))
	golden(t, "single-table.report.golden", res.Report)
}

func TestInferSampleSpreadsOverFiles(t *testing.T) {
	w, err := exportgen.WriteExport(t.TempDir(), exportgen.Config{Orders: 400, Files: 4, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	exp, err := export.Open(context.Background(), w.Folder)
	if err != nil {
		t.Fatal(err)
	}
	// which file holds which order
	fileOf := map[string]int{}
	for i, f := range exp.Files() {
		_ = exp.ReadFile(context.Background(), f, func(_ int64, data []byte) error {
			id := string(data)
			if j := strings.Index(id, `"orderId":{"S":"`); j >= 0 {
				fileOf[id[j+16:j+26]] = i
			}
			return nil
		})
	}
	items, err := SampleExport(context.Background(), exp, 40)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 40 {
		t.Fatalf("sampled %d, want 40", len(items))
	}
	per := map[int]int{}
	for _, it := range items {
		per[fileOf[it["orderId"].Str]]++
	}
	for i := range exp.Files() {
		if per[i] < 5 {
			t.Errorf("file %d gave %d items: %v", i, per[i], per)
		}
	}
}

func TestInferKey(t *testing.T) {
	S := ddbitem.Str
	var items []ddbitem.Item
	for i := range 20 {
		items = append(items, ddbitem.Item{"userId": S(fmt.Sprint("u", i)), "accountId": S(fmt.Sprint("a", i)), "n": ddbitem.Num("1")})
	}
	_, err := Infer(items, Options{})
	var ke *KeyError
	if !errors.As(err, &ke) || !strings.Contains(err.Error(), "--key") {
		t.Fatalf("want a KeyError asking for --key, got %v", err)
	}
	res, err := Infer(items, Options{Key: []string{"accountId"}})
	if err != nil {
		t.Fatal(err)
	}
	checkLoads(t, res, items)
	if _, err := Infer(items, Options{Key: []string{"nope"}}); !errors.As(err, &ke) {
		t.Errorf("unknown --key: %v", err)
	}
}

func TestInferTypesAndNames(t *testing.T) {
	S, N := ddbitem.Str, ddbitem.Num
	var items []ddbitem.Item
	for i := range 10 {
		items = append(items, ddbitem.Item{
			"id": S(fmt.Sprint("x", i)), "small": N(fmt.Sprint(i)), "big": N(fmt.Sprint(int64(i) * 1e12)),
			"huge": N("123456789012345678901234567890"), "dec": N("1.25"), "when": S("2024-05-01T10:00:00Z"),
			"day": S("2024-05-01"), "ok": ddbitem.Bool(true), "nums": ddbitem.NumSet("1", "2"),
			"strs": ddbitem.StrSet("a"), "m": ddbitem.MapOf(map[string]ddbitem.Value{"a": S("b")}),
			"fineTSValue":                  S("2024-05-01T10:00:00.1234567Z"), // finer than microseconds: widened
			strings.Repeat("VeryLong", 10): S("v"), "very_long" + strings.Repeat("x", 60): S("w"),
		})
	}
	res, err := Infer(items, Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := checkLoads(t, res, items)
	want := map[string]string{"small": "integer", "big": "bigint", "huge": "numeric", "dec": "numeric", "when": "timestamptz",
		"day": "date", "ok": "boolean", "nums": "numeric[]", "strs": "text[]", "m": "jsonb", "fine_ts_value": "text"}
	got := map[string]string{}
	for _, c := range m.Tables[0].Columns {
		got[c.Name] = c.Type.Name
		if len(c.Name) > 63 {
			t.Errorf("column name %q too long", c.Name)
		}
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("column %s: type %q, want %q", k, got[k], v)
		}
	}
	for in, out := range map[string]string{"orderId": "order_id", "HTTPStatus": "http_status", "gift message": "gift_message",
		"2fa": "c_2fa", "备注": "col", "utm.source": "utm_source", "PK": "pk"} {
		if got := snake(in); got != out {
			t.Errorf("snake(%q) = %q, want %q", in, got, out)
		}
	}
}

// The decoder follows the export's format: the same data exported as ION
// gives the same proposal.
func TestInferIONSameAsJSON(t *testing.T) {
	cfg := exportgen.Config{Orders: 80, Files: 2, Seed: 5, EdgeCases: true}
	j, err := exportgen.WriteExport(filepath.Join(t.TempDir(), "json"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	i, err := exportgen.WriteExportION(filepath.Join(t.TempDir(), "ion"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	a, err := Infer(sampleOf(t, j.Folder, 1000), Options{SourceTable: "Orders"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Infer(sampleOf(t, i.Folder, 1000), Options{SourceTable: "Orders"})
	if err != nil {
		t.Fatal(err)
	}
	if string(a.YAML) != string(b.YAML) {
		t.Errorf("ION proposal differs from JSON:\n%s\n---\n%s", a.YAML, b.YAML)
	}
}
