package exportgen

import (
	"context"
	"iter"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ddb2pg/ddb2pg/pkg/ddbion"
	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
	"github.com/ddb2pg/ddb2pg/pkg/ddbjson"
	"github.com/ddb2pg/ddb2pg/pkg/export"
)

// The line of the developer guide's example, as AWS writes it.
func TestEncodeItemIONLikeAWS(t *testing.T) {
	it := ddbitem.Item{
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
	got, err := EncodeItemION(it)
	if err != nil {
		t.Fatal(err)
	}
	sample, err := os.ReadFile("../../pkg/ddbion/testdata/aws-docs-item.pretty.ion")
	if err != nil {
		t.Fatal(err)
	}
	// The sample is pretty-printed: drop the layout whitespace (no string
	// in it has a run of spaces or a newline) and compare.
	want := strings.Join(strings.Fields(string(sample)), " ")
	for _, p := range []string{"{ ", " }", ": ", ", "} {
		want = strings.ReplaceAll(want, p, strings.TrimSpace(p))
	}
	want = strings.Replace(want, "$ion_1_0{", "$ion_1_0 {", 1)
	if string(got) != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

func TestEncodeIONValues(t *testing.T) {
	for _, c := range []struct {
		v    ddbitem.Value
		want string
	}{
		{ddbitem.Num("-0.0015"), `-1.5d-3`},
		{ddbitem.Num("12.50"), `12.5`},
		{ddbitem.Num("0"), `0.`},
		{ddbitem.Num("-0"), `0.`},
		{ddbitem.Num("1E+2"), `1d2`},
		{ddbitem.Num("99999999999999999999999999999999999999"), `99999999999999999999999999999999999999.`},
		{ddbitem.Bin([]byte("hi")), `{{aGk=}}`},
		{ddbitem.Null(), `null`},
		{ddbitem.Bool(true), `true`},
		{ddbitem.ListOf(), `[]`},
		{ddbitem.MapOf(map[string]ddbitem.Value{"b": ddbitem.Num("1"), "a.b": ddbitem.Str("x\n")}), `{'a.b':"x\n",b:1.}`},
		{ddbitem.NumSet("1", "2.5"), `$dynamodb_NS::[1.,2.5]`},
		{ddbitem.BinSet([]byte{1}), `$dynamodb_BS::[{{AQ==}}]`},
		{ddbitem.StrSet(), `$dynamodb_SS::[]`},
	} {
		got, err := EncodeItemION(ddbitem.Item{"v": c.v})
		if err != nil {
			t.Fatal(err)
		}
		if want := `$ion_1_0 {Item:{v:` + c.want + `}}`; string(got) != want {
			t.Errorf("%v: got %s, want %s", c.v, got, want)
		}
	}
	if _, err := EncodeItemION(ddbitem.Item{"v": ddbitem.Num("abc")}); err == nil {
		t.Error("an invalid number encodes")
	}
	got, err := EncodeRecordION(ddbjson.Record{Incremental: true, WriteTimeMicros: 17,
		Keys: ddbitem.Item{"k": ddbitem.Str("a")}, OldImage: ddbitem.Item{"k": ddbitem.Str("a")}})
	if err != nil || string(got) != `$ion_1_0 {Metadata:{WriteTimestampMicros:17},Keys:{k:"a"},OldImage:{k:"a"}}` {
		t.Errorf("incremental: %s, %v", got, err)
	}
}

// WriteExportION writes the same export as WriteExport, in ION: the
// project's reader opens it, sees outputFormat ION and .ion.gz files, and
// every line decodes (with pkg/ddbion) to the very item WriteExport writes
// as JSON.
func TestWriteExportION(t *testing.T) {
	ctx := context.Background()
	cfg := Config{Orders: 700, Files: 4, Seed: 5, Prefix: "exports/orders", EdgeCases: true, BadItems: 7}
	wj, err := WriteExport(t.TempDir(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	wi, err := WriteExportION(t.TempDir(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if wi.ExportID != wj.ExportID || wi.Items != wj.Items || wi.Stats != wj.Stats || len(wi.Files) != len(wj.Files) {
		t.Fatalf("ION export differs in shape: %+v vs %+v", wi, wj)
	}
	for i, f := range wi.Files {
		if !strings.HasSuffix(f, ".ion.gz") || strings.TrimSuffix(filepath.Base(f), ".ion.gz") != strings.TrimSuffix(filepath.Base(wj.Files[i]), ".json.gz") {
			t.Fatalf("file %d: %s vs %s", i, f, wj.Files[i])
		}
	}
	ej, err := export.Open(ctx, wj.Folder)
	if err != nil {
		t.Fatal(err)
	}
	ei, err := export.Open(ctx, wi.Folder)
	if err != nil {
		t.Fatalf("export.Open(ION): %v", err)
	}
	if ei.Format() != "ION" || ej.Format() != "DYNAMODB_JSON" {
		t.Fatalf("formats %q, %q", ei.Format(), ej.Format())
	}
	if ei.Summary().ItemCount != int64(cfg.Orders) || len(ei.Files()) != cfg.Files {
		t.Fatalf("reader sees %d items, %d files", ei.Summary().ItemCount, len(ei.Files()))
	}
	next, stop := iter.Pull(Orders(cfg))
	defer stop()
	var dec ddbion.Decoder
	n := 0
	for _, f := range ei.Files() {
		if !strings.HasSuffix(f.Key, ".ion.gz") {
			t.Fatalf("data key %s", f.Key)
		}
		err := ei.ReadFile(ctx, f, func(line int64, data []byte) error {
			if !strings.HasPrefix(string(data), "$ion_1_0 {Item:{") {
				t.Fatalf("%s line %d: %.80s", f.Key, line, data)
			}
			rec, err := dec.DecodeExportLine(data)
			if err != nil {
				t.Fatalf("%s line %d: %v", f.Key, line, err)
			}
			want, ok := next()
			if !ok {
				t.Fatal("more lines than orders")
			}
			if !ddbitem.Equal(ddbitem.MapOf(rec.Item), ddbitem.MapOf(want)) {
				t.Fatalf("%s line %d decodes to another item:\n%.300s\n%.300s", f.Key, line, rec.Item, want)
			}
			n++
			return nil
		})
		if err != nil {
			t.Fatalf("ReadFile %s: %v", f.Key, err)
		}
	}
	if n != cfg.Orders {
		t.Errorf("read %d items, want %d", n, cfg.Orders)
	}
}

func TestWriteExportFromItemsION(t *testing.T) {
	items := []ddbitem.Item{{"k": ddbitem.Num("1")}, {"k": ddbitem.Num("2"), "s": ddbitem.StrSet("x")}}
	w, err := WriteExportFromItems(t.TempDir(), ExportOptions{Format: FormatION, ItemsPerFile: 1}, func(yield func(ddbitem.Item) bool) {
		for _, it := range items {
			if !yield(it) {
				return
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	ex, err := export.Open(context.Background(), w.Folder)
	if err != nil {
		t.Fatal(err)
	}
	if ex.Format() != FormatION || len(ex.Files()) != 2 || w.Items != 2 {
		t.Fatalf("format %s, %d files, %d items", ex.Format(), len(ex.Files()), w.Items)
	}
	if _, err := WriteExportFromItems(t.TempDir(), ExportOptions{Format: "CSV"}, nil); err == nil || !strings.Contains(err.Error(), "unknown output format") {
		t.Fatalf("format CSV: %v", err)
	}
}
