package stream

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// storable reports whether s can be stored in a PostgreSQL text column: valid
// UTF-8 without U+0000.
func storable(s string) bool { return utf8.ValidString(s) && !strings.Contains(s, "\x00") }

// Whatever the bytes, DecodeLambdaEvent does not panic; a record either reads
// as a change the engine can apply or carries an error whose text, with the
// keys read, can be recorded as a reject.
func FuzzDecodeLambdaEvent(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(realWorld, "lambda-events", "*.json"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	const seq = `"SequenceNumber":"100000000000000000007"`
	for _, change := range []string{
		`{"Keys":{"id":{"S":"a\u0000\ud83d\ude00"}},"NewImage":{"id":{"S":"a"},"n":{"N":5}},` + seq + `}`,
		`{"Keys":{"id\u0000":{"N":"1"}},"NewImage":{"l":{"L":[{"M":{"x":{"DATE":"1"}}}]}},` + seq + `}`,
		`{"Keys":{"id":{"B":"AA=="}},` + seq + `,"StreamViewType":"NEW_AND_OLD_IMAGES"}`,
		`{"Keys":{"id":{"S":"\xff\xfe"}},"NewImage":{"\xff":{"S":1}},"SequenceNumber":7}`,
	} {
		f.Add([]byte(`{"Records":[{"eventName":"MODIFY","eventSource":"aws:dynamodb","dynamodb":` + change + `}]}`))
	}
	f.Add([]byte(`{"Records":[null,5,"x",{"eventSource":"aws:dynamodb\u0000"}]}`))
	f.Add([]byte(`{"Records":[{"eventSource":"aws:dynamodb","eventID":"\u0000","eventName":"INSERT\u0000","dynamodb":{"SequenceNumber":"1\u0000"}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, err := DecodeLambdaEvent(b)
		if err != nil {
			if len(recs) != 0 {
				t.Fatalf("records with an error: %v", err)
			}
			if !utf8.ValidString(err.Error()) {
				t.Fatalf("event error is not UTF-8: %q", err.Error())
			}
			return
		}
		for i, r := range recs {
			if !storable(r.Keys.String()) {
				t.Fatalf("record %d: keys %q cannot be stored", i, r.Keys.String())
			}
			if r.Err != nil {
				if !storable(r.Err.Error()) || !storable(r.Seq) {
					t.Fatalf("record %d: error %q / seq %q cannot be stored", i, r.Err.Error(), r.Seq)
				}
				continue
			}
			if err := r.Check(); err != nil {
				t.Fatalf("record %d: no Err but Check: %v", i, err)
			}
			if r.EventName != Remove && r.NewImage == nil && (r.StreamViewType == ViewNewImage || r.StreamViewType == ViewNewAndOldImages) {
				t.Fatalf("record %d: %s without NewImage on a %s stream and no Err", i, r.EventName, r.StreamViewType)
			}
		}
	})
}
