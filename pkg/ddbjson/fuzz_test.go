package ddbjson

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
)

// encodeRecord writes rec back as an export line with ddbitem's marshaller.
func encodeRecord(t *testing.T, rec Record) []byte {
	var b bytes.Buffer
	part := func(name string, it ddbitem.Item) {
		if it == nil {
			return
		}
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		j, err := it.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(strconv.Quote(name))
		b.WriteByte(':')
		b.Write(j)
	}
	b.WriteByte('{')
	if !rec.Incremental {
		part("Item", rec.Item)
	} else {
		b.WriteString(`"Metadata":{"WriteTimestampMicros":{"N":"` + strconv.FormatInt(rec.WriteTimeMicros, 10) + `"}}`)
		part("Keys", rec.Keys)
		part("NewImage", rec.NewImage)
		part("OldImage", rec.OldImage)
	}
	b.WriteByte('}')
	return b.Bytes()
}

func FuzzDecodeExportLine(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json*")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		for _, l := range bytes.Split(b, []byte("\n")) {
			f.Add(l)
		}
	}
	for _, s := range []string{
		`{"Item":{"a":{"S":"a\u0000\ud83d\ude00"},"n":{"N":"-1.5E-3"},"b":{"B":""},"l":{"L":[]},"m":{"M":{}}}}`,
		`{"Metadata":{"WriteTimestampMicros":{"N":"1"}},"Keys":{"k":{"N":"1"}}}`,
		`{"Item":{"a":{"S":"x","N":"1"}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		in := bytes.Clone(b)
		rec, err := DecodeExportLine(b)
		if !bytes.Equal(in, b) {
			t.Fatal("decoder modified its input")
		}
		if err != nil {
			if _, ok := err.(*DecodeError); !ok {
				t.Fatalf("error %T is not *DecodeError: %v", err, err)
			}
			return
		}
		again := encodeRecord(t, rec)
		rec2, err := DecodeExportLine(again)
		if err != nil {
			t.Fatalf("re-decoding %s: %v", again, err)
		}
		if rec2.Incremental != rec.Incremental || rec2.WriteTimeMicros != rec.WriteTimeMicros ||
			!equalItems(rec.Item, rec2.Item) || !equalItems(rec.Keys, rec2.Keys) ||
			!equalItems(rec.NewImage, rec2.NewImage) || !equalItems(rec.OldImage, rec2.OldImage) {
			t.Fatalf("round trip differs:\n%s\n%s", b, again)
		}
		// The attribute-map entry point agrees with the line decoder.
		if !rec.Incremental {
			j, _ := rec.Item.MarshalJSON()
			it, err := DecodeAttributeMap(j)
			if err != nil || !equalItems(it, rec.Item) {
				t.Fatalf("DecodeAttributeMap(%s): %v %v", j, it, err)
			}
		}
	})
}
