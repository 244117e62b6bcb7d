package ddbion

import (
	"errors"
	"os"
	"testing"

	"github.com/ddb2pg/ddb2pg/internal/exportgen"
)

// FuzzDecodeIONLine: no input panics or returns an error that is not a
// *DecodeError; whatever decodes is written back as ION by the generator's
// encoder and decodes to the same record.
func FuzzDecodeIONLine(f *testing.F) {
	if b, err := os.ReadFile("testdata/aws-docs-item.pretty.ion"); err == nil {
		f.Add(b)
	}
	for it := range exportgen.Orders(exportgen.Config{Orders: 60, Seed: 3, EdgeCases: true}) {
		if line, err := exportgen.EncodeItemION(it); err == nil {
			f.Add(line)
		}
	}
	for _, s := range []string{
		`$ion_1_0 {Item:{a:"x\0",n:-1.5d-3,i:0x10,b:{{}},l:[],m:{},s:$dynamodb_SS::[],ns:$dynamodb_NS::[1,2.],bs:$dynamodb_BS::[{{AA==}}],z:null,t:true}}`,
		`$ion_1_0 {Metadata:{WriteTimestampMicros:1},Keys:{k:1.},OldImage:{k:1.}}`,
		`$ion_1_0 {Item:{a:1.5e0}}`,
		`{Item:{'a.b':{c:[1,[2,[3]]]}}}`,
		"\xe0\x01\x00\xea\xd3\x80\x81\x80", // binary version marker
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var d Decoder
		rec, err := d.DecodeExportLine(b)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %T %v is not a *DecodeError", err, err)
			}
			return
		}
		line, err := exportgen.EncodeRecordION(rec)
		if err != nil {
			// Only numbers too far outside DynamoDB's range to matter
			// could fail to encode; nothing else may.
			t.Skipf("encode: %v", err)
		}
		again, err := d.DecodeExportLine(line)
		if err != nil {
			t.Fatalf("re-decode of %q: %v (from %q)", line, err, b)
		}
		if !equalRecords(rec, again) {
			t.Fatalf("round trip differs: %q -> %q", b, line)
		}
	})
}
