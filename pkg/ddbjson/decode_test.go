package ddbjson

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
)

func equalItems(a, b ddbitem.Item) bool {
	if (a == nil) != (b == nil) {
		return false
	}
	return ddbitem.Equal(ddbitem.MapOf(a), ddbitem.MapOf(b))
}

func TestDecodeAttributeMapTypes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want ddbitem.Value
	}{
		{"S", `{"S":"hello"}`, ddbitem.Str("hello")},
		{"S empty", `{"S":""}`, ddbitem.Str("")},
		{"S escapes", `{"S":"a\"b\\c\/d\b\f\n\r\t\u00e9\u20ac\ud83d\ude00"}`, ddbitem.Str("a\"b\\c/d\b\f\n\r\t\u00e9\u20ac\U0001F600")},
		{"S utf8 raw", `{"S":"héllo €😀"}`, ddbitem.Str("héllo €😀")},
		{"S keeps NUL", `{"S":"a\u0000b"}`, ddbitem.Str("a\x00b")},
		{"N int", `{"N":"42"}`, ddbitem.Num("42")},
		{"N negative fraction", `{"N":"-12.50"}`, ddbitem.Num("-12.50")},
		{"N 38 digits", `{"N":"12345678901234567890123456789012345678"}`, ddbitem.Num("12345678901234567890123456789012345678")},
		{"N above 2^53", `{"N":"4851973137566368817"}`, ddbitem.Num("4851973137566368817")},
		{"N exponent", `{"N":"1E+2"}`, ddbitem.Num("1E+2")},
		{"N small exponent", `{"N":"9.9999999999999999999999999999999999999E+125"}`, ddbitem.Num("9.9999999999999999999999999999999999999E+125")},
		{"N negative exponent", `{"N":"1e-130"}`, ddbitem.Num("1e-130")},
		{"B", `{"B":"aGVsbG8="}`, ddbitem.Bin([]byte("hello"))},
		{"B empty", `{"B":""}`, ddbitem.Bin([]byte{})},
		{"BOOL true", `{"BOOL":true}`, ddbitem.Bool(true)},
		{"BOOL false", `{"BOOL":false}`, ddbitem.Bool(false)},
		{"NULL", `{"NULL":true}`, ddbitem.Null()},
		{"M", `{"M":{"a":{"S":"x"},"b":{"N":"1"}}}`, ddbitem.MapOf(map[string]ddbitem.Value{"a": ddbitem.Str("x"), "b": ddbitem.Num("1")})},
		{"M empty", `{"M":{}}`, ddbitem.MapOf(map[string]ddbitem.Value{})},
		{"L", `{"L":[{"S":"x"},{"N":"2"},{"NULL":true}]}`, ddbitem.ListOf(ddbitem.Str("x"), ddbitem.Num("2"), ddbitem.Null())},
		{"L empty", `{"L":[]}`, ddbitem.ListOf()},
		{"SS", `{"SS":["b","a"]}`, ddbitem.StrSet("b", "a")},
		{"NS", `{"NS":["3","2.5","-1e3"]}`, ddbitem.NumSet("3", "2.5", "-1e3")},
		{"BS", `{"BS":["aXMgZmFzdA==","c2N5bGxhZGI="]}`, ddbitem.BinSet([]byte("is fast"), []byte("scylladb"))},
		{"SS empty accepted", `{"SS":[]}`, ddbitem.StrSet()},
		{"nested", `{"M":{"l":{"L":[{"M":{"deep":{"L":[{"NS":["1"]},{"BS":["AA=="]}]}}}]}}}`,
			ddbitem.MapOf(map[string]ddbitem.Value{"l": ddbitem.ListOf(ddbitem.MapOf(map[string]ddbitem.Value{
				"deep": ddbitem.ListOf(ddbitem.NumSet("1"), ddbitem.BinSet([]byte{0})),
			}))})},
		{"whitespace", " {\n \"S\" :\t\"x\" \r\n} ", ddbitem.Str("x")},
		{"escaped descriptor", `{"\u0053":"x"}`, ddbitem.Str("x")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := DecodeAttributeMap([]byte(`{"a":` + tt.in + `}`))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			v, ok := got["a"]
			if !ok || len(got) != 1 {
				t.Fatalf("got %v, want one attribute a", got)
			}
			if !ddbitem.Equal(v, tt.want) {
				t.Fatalf("got %s, want %s", v, tt.want)
			}
			// Numbers are kept as their text, not normalised.
			if v.Kind == ddbitem.N && v.Str != tt.want.Str {
				t.Fatalf("number text %q, want %q", v.Str, tt.want.Str)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		in       string
		path     string
		contains string
	}{
		{"unknown descriptor", `{"Item":{"a":{"X":"1"}}}`, "Item.a", `unknown type descriptor "X"`},
		{"lowercase descriptor", `{"Item":{"a":{"s":"1"}}}`, "Item.a", `unknown type descriptor "s"`},
		{"two descriptors", `{"Item":{"a":{"S":"x","N":"1"}}}`, "Item.a", `more than one type descriptor`},
		{"two same descriptors", `{"Item":{"a":{"S":"x","S":"y"}}}`, "Item.a", `more than one type descriptor`},
		{"no descriptor", `{"Item":{"a":{}}}`, "Item.a", `no type descriptor`},
		{"value not object", `{"Item":{"a":"x"}}`, "Item.a", `must be an object`},
		{"S number", `{"Item":{"a":{"S":1}}}`, "Item.a", `S must hold a JSON string, got number`},
		{"N number", `{"Item":{"a":{"N":1}}}`, "Item.a", `N must hold a JSON string, got number`},
		{"N not a number", `{"Item":{"items":{"L":[{"M":{}},{"M":{}},{"M":{"price":{"N":"abc"}}}]}}}`, "Item.items[2].price", `invalid number`},
		{"N empty", `{"Item":{"a":{"N":""}}}`, "Item.a", `invalid number`},
		{"N spaces", `{"Item":{"a":{"N":" 1"}}}`, "Item.a", `invalid number`},
		{"N NaN", `{"Item":{"a":{"N":"NaN"}}}`, "Item.a", `invalid number`},
		{"NS bad member", `{"Item":{"a":{"NS":["1","x"]}}}`, "Item.a[1]", `invalid number`},
		{"NS not strings", `{"Item":{"a":{"NS":[1]}}}`, "Item.a[0]", `must hold a JSON string`},
		{"SS not array", `{"Item":{"a":{"SS":"x"}}}`, "Item.a", `SS must hold a JSON array`},
		{"B bad base64", `{"Item":{"a":{"B":"!!!"}}}`, "Item.a", `invalid base64`},
		{"B missing padding", `{"Item":{"a":{"B":"aGVsbG8"}}}`, "Item.a", `invalid base64`},
		{"B non-canonical", `{"Item":{"a":{"B":"aGVsbG9="}}}`, "Item.a", `invalid base64`},
		{"B line break", `{"Item":{"a":{"B":"aGVs\nbG8="}}}`, "Item.a", `line break`},
		{"BS bad member", `{"Item":{"a":{"BS":["aGVsbG8=","%%"]}}}`, "Item.a[1]", `invalid base64`},
		{"BOOL string", `{"Item":{"a":{"BOOL":"true"}}}`, "Item.a", `expected true or false, got string`},
		{"NULL false", `{"Item":{"a":{"NULL":false}}}`, "Item.a", `NULL must be true`},
		{"NULL null", `{"Item":{"a":{"NULL":null}}}`, "Item.a", `expected true or false, got null`},
		{"L not array", `{"Item":{"a":{"L":{}}}}`, "Item.a", `L must hold a JSON array`},
		{"L bad element", `{"Item":{"a":{"L":[{"S":"x"},{"Q":1}]}}}`, "Item.a[1]", `unknown type descriptor "Q"`},
		{"M not object", `{"Item":{"a":{"M":[]}}}`, "Item.a", `attribute map must be a JSON object`},
		{"M nested error", `{"Item":{"a":{"M":{"b.c":{"M":{"d":{"BOOL":1}}}}}}}`, `Item.a["b.c"].d`, `expected true or false`},
		{"duplicate attribute", `{"Item":{"a":{"S":"x"},"a":{"S":"y"}}}`, "Item", `duplicate attribute "a"`},
		{"trailing garbage", `{"Item":{"a":{"S":"x"}}} x`, "", `after the end of the document`},
		{"two documents", `{"Item":{}}{"Item":{}}`, "", `after the end of the document`},
		{"truncated", `{"Item":{"a":{"S":"x"}`, "Item", `unexpected end of input`},
		{"unterminated string", `{"Item":{"a":{"S":"x`, "Item.a", `unterminated string`},
		{"control char", "{\"Item\":{\"a\":{\"S\":\"x\ty\"}}}", "Item.a", `control character`},
		{"invalid utf8", "{\"Item\":{\"a\":{\"S\":\"x\xffy\"}}}", "Item.a", `invalid utf-8`},
		{"lone surrogate", `{"Item":{"a":{"S":"\ud800x"}}}`, "Item.a", `unpaired surrogate`},
		{"lone low surrogate", `{"Item":{"a":{"S":"\udc00"}}}`, "Item.a", `unpaired surrogate`},
		{"bad escape", `{"Item":{"a":{"S":"\x"}}}`, "Item.a", `bad escape`},
		{"missing colon", `{"Item":{"a" {"S":"x"}}}`, "Item", `expected ':'`},
		{"missing comma", `{"Item":{"a":{"S":"x"} "b":{"S":"y"}}}`, "Item", `expected ',' or '}'`},
		{"not an object", `[1]`, "", `must be a JSON object`},
		{"empty line", ``, "", `empty line`},
		{"unknown field", `{"Item":{},"Extra":1}`, "", `unknown field "Extra"`},
		{"duplicate Item", `{"Item":{},"Item":{}}`, "", `duplicate field "Item"`},
		{"item and keys", `{"Item":{},"Keys":{}}`, "", `mixes Item`},
		{"neither", `{}`, "", `neither Item nor Keys`},
		{"no keys", `{"Metadata":{"WriteTimestampMicros":{"N":"1"}},"NewImage":{}}`, "", `no Keys`},
		{"no timestamp", `{"Metadata":{},"Keys":{}}`, "", `no Metadata.WriteTimestampMicros`},
		{"timestamp string", `{"Metadata":{"WriteTimestampMicros":{"S":"1"}},"Keys":{}}`, "Metadata.WriteTimestampMicros", `must be a number`},
		{"timestamp fraction", `{"Metadata":{"WriteTimestampMicros":{"N":"1.5"}},"Keys":{}}`, "Metadata.WriteTimestampMicros", `non-negative integer`},
		{"timestamp bad", `{"Metadata":{"WriteTimestampMicros":{"N":"x"}},"Keys":{}}`, "Metadata.WriteTimestampMicros", `invalid number`},
		{"metadata bad skip", `{"Metadata":{"Other":[1,tru]},"Keys":{}}`, "Metadata.Other[1]", `expected true or false`},
		{"keys error path", `{"Metadata":{"WriteTimestampMicros":{"N":"1"}},"Keys":{"id":{"N":"?"}}}`, "Keys.id", `invalid number`},
		{"new image error path", `{"Metadata":{"WriteTimestampMicros":{"N":"1"}},"Keys":{},"NewImage":{"x":{"Z":1}}}`, "NewImage.x", `unknown type descriptor "Z"`},
		{"too deep", `{"Item":{"a":` + strings.Repeat(`{"L":[`, MaxDepth+1) + strings.Repeat(`]}`, MaxDepth+1) + `}}`, "", `nesting deeper than`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := DecodeExportLine([]byte(tt.in))
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("got %v, want *DecodeError", err)
			}
			if tt.name != "too deep" && de.Path != tt.path {
				t.Errorf("path %q, want %q (error: %v)", de.Path, tt.path, err)
			}
			if !strings.Contains(de.Reason, tt.contains) {
				t.Errorf("reason %q, want it to contain %q", de.Reason, tt.contains)
			}
			msg := err.Error()
			if msg != strings.ToLower(msg[:1])+msg[1:] || (tt.path != "" && !strings.Contains(msg, tt.path)) {
				t.Errorf("message %q should be lowercase and name the path %q", msg, tt.path)
			}
		})
	}
}

func TestDecodeErrorMessage(t *testing.T) {
	t.Parallel()
	_, err := DecodeExportLine([]byte(`{"Item":{"items":{"L":[{"M":{}},{"M":{}},{"M":{"price":{"N":"12,5"}}}]}}}`))
	want := `dynamodb json: attribute Item.items[2].price: invalid number: "12,5" is not a number: unexpected ",5"`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}

func TestDecodeAttributeMapPaths(t *testing.T) {
	t.Parallel()
	_, err := DecodeAttributeMap([]byte(`{"items":{"L":[{"S":"x"},{"N":"x"}]}}`))
	var de *DecodeError
	if !errors.As(err, &de) || de.Path != "items[1]" {
		t.Fatalf("got %v, want path items[1]", err)
	}
	if _, err := DecodeAttributeMap([]byte(`  `)); err == nil {
		t.Fatal("empty document accepted")
	}
	if _, err := DecodeAttributeMap([]byte(`{"a":{"S":"x"}} {}`)); err == nil {
		t.Fatal("trailing document accepted")
	}
	it, err := DecodeAttributeMap([]byte(`{}`))
	if err != nil || it == nil || len(it) != 0 {
		t.Fatalf("empty map: %v %v", it, err)
	}
}

// The decoder copies the line once, so the caller may reuse its buffer.
func TestDecodeDoesNotAliasInput(t *testing.T) {
	t.Parallel()
	buf := []byte(`{"Item":{"id":{"S":"abc"},"n":{"N":"12"},"ss":{"SS":["q"]}}}`)
	rec, err := DecodeExportLine(buf)
	if err != nil {
		t.Fatal(err)
	}
	for i := range buf {
		buf[i] = 'z'
	}
	want := ddbitem.Item{"id": ddbitem.Str("abc"), "n": ddbitem.Num("12"), "ss": ddbitem.StrSet("q")}
	if !equalItems(rec.Item, want) {
		t.Fatalf("got %v after overwriting the input, want %v", rec.Item, want)
	}
}

func TestIncrementalLine(t *testing.T) {
	t.Parallel()
	in := `{"Metadata":{"WriteTimestampMicros":{"N":"1716790750722614"},"Future":{"x":[1,-2.5e3,null,"s",true,{}]}},"Keys":{"name":{"S":"Chant8058"}},"OldImage":{"name":{"S":"Chant8058"},"v":{"N":"1"}},"NewImage":{"name":{"S":"Chant8058"},"v":{"N":"2"}}}`
	rec, err := DecodeExportLine([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if !rec.Incremental || rec.WriteTimeMicros != 1716790750722614 || rec.Item != nil {
		t.Fatalf("got %+v", rec)
	}
	if !equalItems(rec.Keys, ddbitem.Item{"name": ddbitem.Str("Chant8058")}) ||
		!equalItems(rec.OldImage, ddbitem.Item{"name": ddbitem.Str("Chant8058"), "v": ddbitem.Num("1")}) ||
		!equalItems(rec.NewImage, ddbitem.Item{"name": ddbitem.Str("Chant8058"), "v": ddbitem.Num("2")}) {
		t.Fatalf("got %+v", rec)
	}

	// Insert: NewImage only; delete: OldImage only; NEW_IMAGE-view delete: neither.
	for _, tc := range []struct {
		in       string
		old, new bool
	}{
		{`{"Metadata":{"WriteTimestampMicros":{"N":"1"}},"Keys":{"k":{"S":"a"}},"NewImage":{"k":{"S":"a"}}}`, false, true},
		{`{"Metadata":{"WriteTimestampMicros":{"N":"1"}},"Keys":{"k":{"S":"a"}},"OldImage":{"k":{"S":"a"}}}`, true, false},
		{`{"Keys":{"k":{"S":"a"}},"Metadata":{"WriteTimestampMicros":{"N":"1.7E+1"}}}`, false, false},
	} {
		rec, err := DecodeExportLine([]byte(tc.in))
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if (rec.OldImage != nil) != tc.old || (rec.NewImage != nil) != tc.new {
			t.Fatalf("%s: got %+v", tc.in, rec)
		}
	}
	rec, _ = DecodeExportLine([]byte(`{"Keys":{"k":{"S":"a"}},"Metadata":{"WriteTimestampMicros":{"N":"1.7E+1"}}}`))
	if rec.WriteTimeMicros != 17 {
		t.Fatalf("exponent timestamp: got %d", rec.WriteTimeMicros)
	}
}

func readLines(t *testing.T, path string) [][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines [][]byte
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, bytes.Clone(sc.Bytes()))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

func TestRealWorldSamples(t *testing.T) {
	t.Parallel()

	t.Run("artie big number", func(t *testing.T) {
		t.Parallel()
		b, err := os.ReadFile("testdata/artie-reader-item-big-number.json")
		if err != nil {
			t.Fatal(err)
		}
		rec, err := DecodeExportLine(b)
		if err != nil {
			t.Fatal(err)
		}
		want := ddbitem.Item{
			"account_id":    ddbitem.Str("account-9825"),
			"user_id":       ddbitem.Str("user_id_1"),
			"is_null":       ddbitem.Null(),
			"sample_list":   ddbitem.ListOf(ddbitem.Str("item1"), ddbitem.Num("2")),
			"flag":          ddbitem.Bool(false),
			"string_set":    ddbitem.StrSet("value2", "value44", "value55", "value66", "value1"),
			"random_number": ddbitem.Num("4851973137566368817"),
			"number_set":    ddbitem.NumSet("3", "2", "1"),
			"b":             ddbitem.Bin([]byte("hello world")),
			"bs":            ddbitem.BinSet([]byte("hello"), []byte("world")),
			"sample_map":    ddbitem.MapOf(map[string]ddbitem.Value{"key1": ddbitem.Str("value1"), "key2": ddbitem.Num("2")}),
		}
		if !equalItems(rec.Item, want) {
			t.Fatalf("got  %v\nwant %v", rec.Item, want)
		}
		// Exactly the text: 4851973137566368817 is not representable in float64.
		if got := rec.Item["random_number"].Str; got != "4851973137566368817" {
			t.Fatalf("number text %q", got)
		}
		// Set members keep their order as received.
		if got := rec.Item["number_set"].Strs; strings.Join(got, ",") != "3,2,1" {
			t.Fatalf("NS order %v", got)
		}
	})

	t.Run("aws docs item", func(t *testing.T) {
		t.Parallel()
		b, err := os.ReadFile("testdata/aws-docs-item.pretty.json")
		if err != nil {
			t.Fatal(err)
		}
		rec, err := DecodeExportLine(b)
		if err != nil {
			t.Fatal(err)
		}
		want := ddbitem.Item{
			"Authors":         ddbitem.StrSet("Author1", "Author2"),
			"Dimensions":      ddbitem.Str("8.5 x 11.0 x 1.5"),
			"ISBN":            ddbitem.Str("333-3333333333"),
			"Id":              ddbitem.Num("103"),
			"InPublication":   ddbitem.Bool(false),
			"PageCount":       ddbitem.Num("600"),
			"Price":           ddbitem.Num("2000"),
			"ProductCategory": ddbitem.Str("Book"),
			"Title":           ddbitem.Str("Book 103 Title"),
		}
		if !equalItems(rec.Item, want) || rec.Incremental {
			t.Fatalf("got %v", rec.Item)
		}
	})

	t.Run("scylla export data file", func(t *testing.T) {
		t.Parallel()
		lines := readLines(t, "testdata/scylla-every-type.jsonl")
		want := []ddbitem.Item{
			{"id": ddbitem.Str("bar"), "baz": ddbitem.Num("0")},
			{
				"id": ddbitem.Str("K3TXQk84Si"),
				"a":  ddbitem.Bool(false),
				"b":  ddbitem.Null(),
				"c":  ddbitem.StrSet("8gfX8dh0xa", "fRjHZJ2Ce9"),
				"d":  ddbitem.NumSet("3", "2"),
				"e":  ddbitem.ListOf(ddbitem.Num("1"), ddbitem.Str("Dsb87qc6Es")),
				"f": ddbitem.MapOf(map[string]ddbitem.Value{
					"h": ddbitem.Null(), "i": ddbitem.Bool(true), "g": ddbitem.Num("9"),
				}),
				"j": ddbitem.Bin([]byte("hello")),
				"k": ddbitem.BinSet([]byte("is fast"), []byte("scylladb")),
			},
			{"id": ddbitem.Str("foo"), "bar": ddbitem.Num("42")},
		}
		if len(lines) != len(want) {
			t.Fatalf("%d lines, want %d", len(lines), len(want))
		}
		for i, l := range lines {
			rec, err := DecodeExportLine(l)
			if err != nil {
				t.Fatalf("line %d: %v", i+1, err)
			}
			if !equalItems(rec.Item, want[i]) {
				t.Fatalf("line %d: got %v\nwant %v", i+1, rec.Item, want[i])
			}
		}
	})

	t.Run("awslabs incremental data file", func(t *testing.T) {
		t.Parallel()
		lines := readLines(t, "testdata/awslabs-incremental-dwue3hrux4z7dme7t4cvkxpz7e.jsonl")
		type shape struct {
			key      string
			ts       int64
			old, new bool
			newLen   int // activities in NewImage
		}
		want := []shape{
			{"Chant1436", 1716790510740060, true, false, 0},
			{"Chant8058", 1716790750722614, true, true, 2},
			{"Gwyn6741", 1716790630721048, true, false, 0},
			{"Olwen4734", 1716790390720026, false, true, 1},
			{"Sparkles2411", 1716790930745023, true, true, 3},
		}
		if len(lines) != len(want) {
			t.Fatalf("%d lines", len(lines))
		}
		for i, l := range lines {
			rec, err := DecodeExportLine(l)
			if err != nil {
				t.Fatalf("line %d: %v", i+1, err)
			}
			w := want[i]
			if !rec.Incremental || rec.WriteTimeMicros != w.ts || (rec.OldImage != nil) != w.old || (rec.NewImage != nil) != w.new {
				t.Fatalf("line %d: got %+v", i+1, rec)
			}
			if !equalItems(rec.Keys, ddbitem.Item{"name": ddbitem.Str(w.key)}) {
				t.Fatalf("line %d: keys %v", i+1, rec.Keys)
			}
			if w.new {
				acts := rec.NewImage["activities"]
				if acts.Kind != ddbitem.L || len(acts.List) != w.newLen {
					t.Fatalf("line %d: activities %v", i+1, acts)
				}
				if acts.List[0].Map["timestamp"].Kind != ddbitem.S {
					t.Fatalf("line %d: %v", i+1, acts.List[0])
				}
			}
		}
	})
}

// After any call, success or error, a Decoder's scratch holds no values
// (it is pooled: leftovers would keep items alive and leak into later ones).
func TestDecoderScratchIsClean(t *testing.T) {
	t.Parallel()
	var d Decoder
	for _, in := range []string{
		`{"Item":{"a":{"M":{"b":{"L":[{"SS":["x"]},{"BS":["AA=="]},{"M":{"c":{"S":"y"}}}]}}}}}`,
		`{"Item":{"a":{"M":{"b":{"L":[{"SS":["x"]},{"BS":["AA=="]},{"M":{"c":{"Q":"y"}}}]}}}}}`,
		`{"Item":{"a":{"L":[{"NS":["1","x"]}]}}}`,
		`{"Item":{"a":{"L":[{"BS":["AA==","!"]}]}}}`,
	} {
		d.DecodeExportLine([]byte(in))
		if len(d.kvs) != 0 || len(d.vals) != 0 || len(d.strs) != 0 || len(d.bins) != 0 || d.data != nil || d.s != "" {
			t.Fatalf("%s: scratch left: %d %d %d %d", in, len(d.kvs), len(d.vals), len(d.strs), len(d.bins))
		}
		for _, e := range d.kvs[:cap(d.kvs)] {
			if e.k != "" || e.v.Kind != 0 {
				t.Fatalf("%s: kvs not cleared", in)
			}
		}
		for _, v := range d.vals[:cap(d.vals)] {
			if v.Kind != 0 {
				t.Fatalf("%s: vals not cleared", in)
			}
		}
		for _, s := range d.strs[:cap(d.strs)] {
			if s != "" {
				t.Fatalf("%s: strs not cleared", in)
			}
		}
		for _, b := range d.bins[:cap(d.bins)] {
			if b != nil {
				t.Fatalf("%s: bins not cleared", in)
			}
		}
	}
}

// A Decoder that reuses recycled maps decodes every line exactly as a fresh
// one does, and strings the caller took from an earlier item survive the
// recycling.
func TestRecycleReusesMapsWithoutLeaks(t *testing.T) {
	t.Parallel()
	var lines [][]byte
	for _, name := range []string{"order-item.json", "scylla-every-type.jsonl", "artie-reader-item-big-number.json"} {
		data, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
			lines = append(lines, l)
		}
	}
	// Small and large maps, nested in lists, alternating with the above.
	lines = append(lines,
		[]byte(`{"Item":{"a":{"M":{"x":{"S":"1"}}},"l":{"L":[{"M":{"y":{"N":"2"},"z":{"NULL":true}}},{"S":"s"}]}}}`),
		[]byte(`{"Item":{"k1":{"S":"a"},"k2":{"S":"b"},"k3":{"S":"c"},"k4":{"S":"d"},"k5":{"S":"e"},"k6":{"S":"f"},"k7":{"S":"g"},"k8":{"S":"h"},"k9":{"S":"i"},"k10":{"SS":["p","q"]}}}`))
	var d Decoder
	type kept struct {
		want ddbitem.Item
		str  string
	}
	var prev []kept
	for round := range 3 {
		for i, l := range lines {
			want, err := DecodeExportLine(l)
			if err != nil {
				continue // an incremental line without an Item, say
			}
			got, err := d.DecodeExportLine(l)
			if err != nil {
				t.Fatalf("round %d line %d: %v", round, i, err)
			}
			if !equalItems(got.Item, want.Item) {
				t.Fatalf("round %d line %d: recycled decoder gave %v, want %v", round, i, got.Item, want.Item)
			}
			var k kept
			k.want = want.Item
			for _, v := range got.Item {
				if v.Kind == ddbitem.S {
					k.str = v.Str
				}
			}
			prev = append(prev, k)
			d.RecycleLast()
			if len(got.Item) != 0 {
				t.Fatalf("round %d line %d: a recycled item still holds %d attributes", round, i, len(got.Item))
			}
		}
	}
	for i, k := range prev {
		found := k.str == ""
		for _, v := range k.want {
			if v.Kind == ddbitem.S && v.Str == k.str {
				found = true
			}
		}
		if !found {
			t.Errorf("item %d: string %q taken before recycling changed", i, k.str)
		}
	}
}

// An item its caller kept (decoded without RecycleLast after it) is never
// handed back by a later RecycleLast.
func TestRecycleLastOnlyTakesTheLastItem(t *testing.T) {
	t.Parallel()
	var d Decoder
	kept, err := d.DecodeExportLine([]byte(`{"Item":{"id":{"S":"a"},"m":{"M":{"x":{"N":"1"}}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.DecodeExportLine([]byte(`{"Item":{"id":{"S":"b"},"m":{"M":{"y":{"N":"2"}}}}}`)); err != nil {
		t.Fatal(err)
	}
	d.RecycleLast()
	d.RecycleLast() // twice is harmless
	if _, err := d.DecodeExportLine([]byte(`{"Item":{"id":{"S":"c"},"m":{"M":{"z":{"N":"3"}}}}}`)); err != nil {
		t.Fatal(err)
	}
	want := ddbitem.Item{"id": ddbitem.Str("a"), "m": ddbitem.Value{Kind: ddbitem.M, Map: map[string]ddbitem.Value{"x": ddbitem.Num("1")}}}
	if !equalItems(kept.Item, want) {
		t.Fatalf("a kept item changed under later decodes: %v", kept.Item)
	}
}
