package decode

import (
	"strings"
	"testing"
)

func TestFor(t *testing.T) {
	t.Parallel()
	line := map[string]string{
		"DYNAMODB_JSON": `{"Item":{"id":{"S":"a"},"n":{"N":"1.50"}}}`,
		"ION":           `$ion_1_0 {Item:{id:"a",n:1.50}}`,
		"":              `{"Item":{"id":{"S":"a"},"n":{"N":"1.50"}}}`,
	}
	for format, l := range line {
		newDec, err := For(format)
		if err != nil {
			t.Fatalf("%q: %v", format, err)
		}
		rec, err := newDec().DecodeExportLine([]byte(l))
		if err != nil {
			t.Fatalf("%q: %v", format, err)
		}
		if rec.Item["id"].Str != "a" || rec.Item["n"].Str != "1.50" {
			t.Errorf("%q: decoded %v", format, rec.Item)
		}
	}
	if _, err := For("CSV"); err == nil || !strings.Contains(err.Error(), `"CSV"`) {
		t.Errorf("For(CSV) = %v, want an error naming the format", err)
	}
}
