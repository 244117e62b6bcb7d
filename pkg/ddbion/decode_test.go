package ddbion

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/ddb2pg/ddb2pg/internal/exportgen"
	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
	"github.com/ddb2pg/ddb2pg/pkg/ddbjson"
)

func decodeItem(t *testing.T, line string) ddbitem.Item {
	t.Helper()
	rec, err := DecodeExportLine([]byte(line))
	if err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	return rec.Item
}

// Every Ion form DynamoDB writes, to the value ddbjson gives for its JSON.
func TestDecodeTypes(t *testing.T) {
	cases := []struct {
		ion  string
		want ddbitem.Value
	}{
		{`"hello"`, ddbitem.Str("hello")},
		{`""`, ddbitem.Str("")},
		{`"a\0b\u00e9\U0001F600"`, ddbitem.Str("a\x00bé😀")},
		{`'''long''' '''string'''`, ddbitem.Str("longstring")},
		{`103.`, ddbitem.Num("103")},
		{`6d2`, ddbitem.Num("600")},
		{`2d3`, ddbitem.Num("2000")},
		{`-1.5d-3`, ddbitem.Num("-0.0015")},
		{`1.50`, ddbitem.Num("1.50")},
		{`0.`, ddbitem.Num("0")},
		{`-0.`, ddbitem.Num("0")},
		{`0d-5`, ddbitem.Num("0.00000")},
		{`-0`, ddbitem.Num("0")},
		{`42`, ddbitem.Num("42")},
		{`-7`, ddbitem.Num("-7")},
		{`0x1F`, ddbitem.Num("31")},
		{`1_000`, ddbitem.Num("1000")},
		{`12345678901234567890123456789012345678`, ddbitem.Num("12345678901234567890123456789012345678")},
		{`1.2345678901234567890123456789012345678d-130`, ddbitem.Num("0." + strings.Repeat("0", 129) + "12345678901234567890123456789012345678")},
		{`9.9999999999999999999999999999999999999d125`, ddbitem.Num("99999999999999999999999999999999999999" + strings.Repeat("0", 88))},
		{`9007199254740993.`, ddbitem.Num("9007199254740993")}, // 2^53+1: lossy through float64
		{`1d300`, ddbitem.Num("1E+300")},
		{`-1.5d-400`, ddbitem.Num("-1.5E-400")},
		{`true`, ddbitem.Bool(true)},
		{`false`, ddbitem.Bool(false)},
		{`null`, ddbitem.Null()},
		{`null.null`, ddbitem.Null()},
		{`{{aGVsbG8=}}`, ddbitem.Bin([]byte("hello"))},
		{`{{}}`, ddbitem.Bin([]byte{})},
		{`[]`, ddbitem.ListOf()},
		{`[1, "a", null, [true], {x:2d1}]`, ddbitem.ListOf(ddbitem.Num("1"), ddbitem.Str("a"), ddbitem.Null(),
			ddbitem.ListOf(ddbitem.Bool(true)), ddbitem.MapOf(map[string]ddbitem.Value{"x": ddbitem.Num("20")}))},
		{`{}`, ddbitem.MapOf(map[string]ddbitem.Value{})},
		{`{'a.b':"x", "quoted name":1., '':null}`, ddbitem.MapOf(map[string]ddbitem.Value{
			"a.b": ddbitem.Str("x"), "quoted name": ddbitem.Num("1"), "": ddbitem.Null()})},
		{`$dynamodb_SS::["a","b"]`, ddbitem.StrSet("a", "b")},
		{`$dynamodb_SS::[]`, ddbitem.StrSet()},
		{`$dynamodb_NS::[1., 2.5, 6d2, 7]`, ddbitem.NumSet("1", "2.5", "600", "7")},
		{`$dynamodb_BS::[{{AQI=}}, {{}}]`, ddbitem.BinSet([]byte{1, 2}, []byte{})},
		{`'$dynamodb_SS'::["q"]`, ddbitem.StrSet("q")},
	}
	for _, c := range cases {
		t.Run(c.ion, func(t *testing.T) {
			it := decodeItem(t, `$ion_1_0 {Item:{v:`+c.ion+`}}`)
			got := it["v"]
			if !ddbitem.Equal(got, c.want) || !sameText(got, c.want) {
				t.Fatalf("got %#v, want %#v", got, c.want)
			}
			// Exact text, not just equal value: the N texts are what
			// ddbjson would hand over for the JSON export.
			if got.Kind == ddbitem.N && got.Str != c.want.Str {
				t.Fatalf("N text %q, want %q", got.Str, c.want.Str)
			}
		})
	}
}

func sameText(a, b ddbitem.Value) bool {
	return a.Str == b.Str && slices.Equal(a.Strs, b.Strs)
}

func TestDecodeWithoutVersionMarker(t *testing.T) {
	it := decodeItem(t, `{Item:{k:"v"}}`)
	if !ddbitem.Equal(ddbitem.MapOf(it), ddbitem.MapOf(ddbitem.Item{"k": ddbitem.Str("v")})) {
		t.Fatalf("got %v", it)
	}
}

func TestDecodeErrors(t *testing.T) {
	cases := []struct {
		line, path, reason string
	}{
		{``, "", "empty line"},
		{"  \n", "", "empty line"},
		{`$ion_1_0`, "", "line holds no ion value"},
		{"\xe0\x01\x00\xea.\x1a\x05\x1e\x0f\am\xfe\xd3J", "", "binary ion is not supported"},
		{`$ion_1_0 [1]`, "", "must be an ion struct"},
		{`$ion_1_0 null.struct`, "", "must be an ion struct"},
		{`$ion_1_0 ann::{Item:{}}`, "", "unexpected annotation"},
		{`$ion_1_0 {Item:{a:1}} {Item:{}}`, "", "after the export line's struct"},
		{`$ion_1_0 {Item:{a:1}} 3`, "", "after the export line's struct"},
		{`$ion_1_0 {Item:{a:1`, "Item", "invalid ion"},
		{`$ion_1_0 {Item:{a:"x}}`, "Item", "invalid ion"},
		{`$ion_1_0 {Item:{a:1}, Item:{a:2}}`, "", `duplicate field "Item"`},
		{`$ion_1_0 {Item:{a:1}, Extra:1}`, "", `unknown field "Extra"`},
		{`$ion_1_0 {}`, "", "neither Item nor Keys"},
		{`$ion_1_0 {Item:[1]}`, "Item", "attribute map must be an ion struct"},
		{`$ion_1_0 {Item:{a:1, a:2}}`, "Item", `duplicate attribute "a"`},
		{`$ion_1_0 {Item:{a:1.5e0}}`, "Item.a", "ion float"},
		{`$ion_1_0 {Item:{a:nan}}`, "Item.a", "ion float"},
		{`$ion_1_0 {Item:{a:2024-01-01T}}`, "Item.a", "timestamp"},
		{`$ion_1_0 {Item:{a:sym}}`, "Item.a", `symbol "sym" is not a DynamoDB value`},
		{`$ion_1_0 {Item:{a:{{"clob"}}}}`, "Item.a", "clob"},
		{`$ion_1_0 {Item:{a:(1 2)}}`, "Item.a", "sexp"},
		{`$ion_1_0 {Item:{a:null.string}}`, "Item.a", "typed null"},
		{`$ion_1_0 {Item:{a:null.int}}`, "Item.a", "typed null"},
		{`$ion_1_0 {Item:{a:$dynamodb_XS::["x"]}}`, "Item.a", "unknown annotation"},
		{`$ion_1_0 {Item:{a:foo::"x"}}`, "Item.a", "unknown annotation"},
		{`$ion_1_0 {Item:{a:$dynamodb_SS::"x"}}`, "Item.a", "must be on a list"},
		{`$ion_1_0 {Item:{a:$dynamodb_SS::null.list}}`, "Item.a", "must be on a list"},
		{`$ion_1_0 {Item:{a:$dynamodb_SS::$dynamodb_NS::[]}}`, "Item.a", "more than one annotation"},
		{`$ion_1_0 {Item:{a:$dynamodb_SS::["x", 1]}}`, "Item.a[1]", "SS members must be strings"},
		{`$ion_1_0 {Item:{a:$dynamodb_SS::["x", null]}}`, "Item.a[1]", "SS members must be strings"},
		{`$ion_1_0 {Item:{a:$dynamodb_NS::[1, "2"]}}`, "Item.a[1]", "NS members must be numbers"},
		{`$ion_1_0 {Item:{a:$dynamodb_NS::[1e0]}}`, "Item.a[0]", "NS members must be numbers"},
		{`$ion_1_0 {Item:{a:$dynamodb_BS::["AQI="]}}`, "Item.a[0]", "BS members must be blobs"},
		{`$ion_1_0 {Item:{a:$dynamodb_SS::[x::"y"]}}`, "Item.a[0]", "unexpected annotation"},
		{`$ion_1_0 {Item:{m:{l:[1, {x:1.5e0}]}}}`, "Item.m.l[1].x", "ion float"},
		{`$ion_1_0 {Item:{'a.b':[sym]}}`, `Item["a.b"][0]`, "symbol"},
		{`$ion_1_0 {Item:{a:1d100000000}}`, "Item.a", "invalid number"},
		{`$ion_1_0 {Item:{a:` + strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1) + `}}`, "Item.a" + strings.Repeat("[0]", MaxDepth), "nesting deeper"},
		{`$ion_1_0 {Item:{}, Keys:{}}`, "", "mixes Item"},
		{`$ion_1_0 {Metadata:{WriteTimestampMicros:1}, NewImage:{}}`, "", "no Keys"},
		{`$ion_1_0 {Keys:{k:1}}`, "", "no Metadata.WriteTimestampMicros"},
		{`$ion_1_0 {Metadata:{Other:1}, Keys:{k:1}}`, "", "no Metadata.WriteTimestampMicros"},
		{`$ion_1_0 {Metadata:{WriteTimestampMicros:-1}, Keys:{k:1}}`, "Metadata.WriteTimestampMicros", "non-negative integer"},
		{`$ion_1_0 {Metadata:{WriteTimestampMicros:1.5}, Keys:{k:1}}`, "Metadata.WriteTimestampMicros", "non-negative integer"},
		{`$ion_1_0 {Metadata:{WriteTimestampMicros:"1"}, Keys:{k:1}}`, "Metadata.WriteTimestampMicros", "expected an ion decimal or int"},
		{`$ion_1_0 {Metadata:{WriteTimestampMicros:1, WriteTimestampMicros:2}, Keys:{k:1}}`, "Metadata", "duplicate field"},
		{`$ion_1_0 {Metadata:[], Keys:{k:1}}`, "Metadata", "must be an ion struct"},
		{`$ion_1_0 {Keys:{k:1.0e0}, Metadata:{WriteTimestampMicros:1}}`, "Keys.k", "ion float"},
		{`$ion_1_0 {$99:{}}`, "", "invalid ion"},
	}
	for _, c := range cases {
		t.Run(c.line, func(t *testing.T) {
			rec, err := DecodeExportLine([]byte(c.line))
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("got %+v, %v; want a *DecodeError", rec, err)
			}
			if de.Path != c.path || !strings.Contains(de.Reason, c.reason) {
				t.Fatalf("got path %q reason %q; want path %q reason containing %q", de.Path, de.Reason, c.path, c.reason)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "dynamodb ion: ") || msg != strings.ToLower(msg[:1])+msg[1:] {
				t.Fatalf("message %q", msg)
			}
		})
	}
}

func TestDecodeErrorMessage(t *testing.T) {
	_, err := DecodeExportLine([]byte(`$ion_1_0 {Item:{items:[{price:1.5e0}]}}`))
	want := "dynamodb ion: attribute Item.items[0].price: ion float is not a DynamoDB value (numbers are exact decimals)"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}

func TestIncrementalLine(t *testing.T) {
	rec, err := DecodeExportLine([]byte(`$ion_1_0 {Metadata:{WriteTimestampMicros:1680109764000000, Extra:[1]},Keys:{pk:"u#1",sk:2.},NewImage:{pk:"u#1",sk:2.,n:1d1},OldImage:{pk:"u#1",sk:2.}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := ddbjson.Record{
		Keys:            ddbitem.Item{"pk": ddbitem.Str("u#1"), "sk": ddbitem.Num("2")},
		NewImage:        ddbitem.Item{"pk": ddbitem.Str("u#1"), "sk": ddbitem.Num("2"), "n": ddbitem.Num("10")},
		OldImage:        ddbitem.Item{"pk": ddbitem.Str("u#1"), "sk": ddbitem.Num("2")},
		WriteTimeMicros: 1680109764000000,
		Incremental:     true,
	}
	if !reflect.DeepEqual(rec, want) {
		t.Fatalf("got %+v\nwant %+v", rec, want)
	}
	// A delete: Keys and OldImage only; the timestamp as an integral decimal.
	rec, err = DecodeExportLine([]byte(`$ion_1_0 {Metadata:{WriteTimestampMicros:1.68010976400000d15},Keys:{pk:"a"},OldImage:{pk:"a"}}`))
	if err != nil || rec.NewImage != nil || rec.OldImage == nil || rec.WriteTimeMicros != 1680109764000000 || !rec.Incremental {
		t.Fatalf("delete: %+v, %v", rec, err)
	}
}

// The developer guide's ION example is the same item as its JSON example.
func TestAWSDocsSample(t *testing.T) {
	ionText, err := os.ReadFile("testdata/aws-docs-item.pretty.ion")
	if err != nil {
		t.Fatal(err)
	}
	jsonText, err := os.ReadFile("testdata/aws-docs-item.pretty.json")
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeExportLine(ionText)
	if err != nil {
		t.Fatal(err)
	}
	want, err := ddbjson.DecodeExportLine(jsonText)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Item) != len(want.Item) || len(got.Item) != 9 {
		t.Fatalf("got %d attributes, want %d", len(got.Item), len(want.Item))
	}
	for name, w := range want.Item {
		g, ok := got.Item[name]
		if !ok || !ddbitem.Equal(g, w) {
			t.Errorf("%s: got %v, want %v", name, g, w)
		}
	}
	// Not only equal values: the very record ddbjson returns.
	if !reflect.DeepEqual(got, want) {
		t.Errorf("records differ:\n%#v\n%#v", got, want)
	}
	// One line as exports carry it.
	line := bytes.Join(bytes.Fields(ionText), []byte(" "))
	if again, err := DecodeExportLine(line); err != nil || !reflect.DeepEqual(again, got) {
		t.Errorf("single-line form: %v", err)
	}
}

func TestDecoderReuse(t *testing.T) {
	var d Decoder
	if _, err := d.DecodeExportLine([]byte(`$ion_1_0 {Item:{a:[[[1]]]}}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := d.DecodeExportLine([]byte(`$ion_1_0 {Item:{a:1.0e0}}`)); err == nil {
		t.Fatal("want error")
	}
	rec, err := d.DecodeExportLine([]byte(`$ion_1_0 {Item:{b:2}}`))
	if err != nil || rec.Item["b"].Str != "2" {
		t.Fatalf("%v %v", rec, err)
	}
}

func equalRecords(a, b ddbjson.Record) bool {
	eq := func(x, y ddbitem.Item) bool {
		if (x == nil) != (y == nil) {
			return false
		}
		return ddbitem.Equal(ddbitem.MapOf(x), ddbitem.MapOf(y))
	}
	return a.Incremental == b.Incremental && a.WriteTimeMicros == b.WriteTimeMicros &&
		eq(a.Item, b.Item) && eq(a.Keys, b.Keys) && eq(a.NewImage, b.NewImage) && eq(a.OldImage, b.OldImage)
}

// Same data, both formats: every generated order (edge cases and the rarer
// shapes sprinkled over the others included) written as ION by the
// generator's encoder decodes back to the very item, and to what ddbjson
// decodes from its JSON line.
func TestSameDataBothFormatsGenerated(t *testing.T) {
	cfg := exportgen.Config{Orders: 2000, Seed: 7, EdgeCases: true, BadItems: 20}
	n := 0
	for it := range exportgen.Orders(cfg) {
		line, err := exportgen.EncodeItemION(it)
		if err != nil {
			t.Fatalf("encode %v: %v", it["orderId"], err)
		}
		got, err := DecodeExportLine(line)
		if err != nil {
			t.Fatalf("decode %v: %v\n%.500s", it["orderId"], err, line)
		}
		if !equalRecords(got, ddbjson.Record{Item: it}) {
			t.Fatalf("%v does not round-trip:\n%.500s", it["orderId"], line)
		}
		j, err := it.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		fromJSON, err := ddbjson.DecodeExportLine(append(append([]byte(`{"Item":`), j...), '}'))
		if err != nil {
			t.Fatal(err)
		}
		if !equalRecords(got, fromJSON) {
			t.Fatalf("%v: ION and JSON decode differently", it["orderId"])
		}
		n++
	}
	if n != cfg.Orders {
		t.Fatalf("%d orders", n)
	}
}

// The same for the JSON corpus of ddbjson (genuine AWS exports with every
// type, an incremental export, a number above 2^53): decode each JSON line,
// write it as ION, decode that: the same record.
func TestSameDataBothFormatsCorpus(t *testing.T) {
	files, _ := filepath.Glob("../ddbjson/testdata/*.json*")
	files = append(files, "testdata/aws-docs-item.pretty.json")
	lines := 0
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var docs [][]byte
		if strings.HasSuffix(name, ".jsonl") {
			sc := bufio.NewScanner(bytes.NewReader(b))
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				if len(bytes.TrimSpace(sc.Bytes())) > 0 {
					docs = append(docs, bytes.Clone(sc.Bytes()))
				}
			}
		} else {
			docs = [][]byte{b}
		}
		for i, doc := range docs {
			want, err := ddbjson.DecodeExportLine(doc)
			if err != nil {
				continue // not an export line (e.g. a bare attribute map)
			}
			line, err := exportgen.EncodeRecordION(want)
			if err != nil {
				t.Fatalf("%s #%d: encode: %v", name, i, err)
			}
			got, err := DecodeExportLine(line)
			if err != nil {
				t.Fatalf("%s #%d: decode: %v\n%s", name, i, err, line)
			}
			if !equalRecords(got, want) {
				t.Fatalf("%s #%d differs:\n%s", name, i, line)
			}
			lines++
		}
	}
	if lines < 10 {
		t.Fatalf("only %d corpus lines checked", lines)
	}
	t.Logf("%d corpus lines", lines)
}
