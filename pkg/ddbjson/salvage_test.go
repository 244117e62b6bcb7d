package ddbjson

import (
	"testing"
)

func TestSalvage(t *testing.T) {
	attrs := []string{"pk", "sk"}
	for _, c := range []struct {
		name, line string
		keys       string // Keys.String(), "" for nil
		micros     int64
	}{
		{"wrong type elsewhere", `{"Item":{"pk":{"S":"a"},"sk":{"N":"1"},"x":{"N":5}}}`, `{"pk":{"S":"a"},"sk":{"N":"1"}}`, 0},
		{"cut short after the key", `{"Item":{"pk":{"S":"a"},"sk":{"N":"1"},"x":{"S":"ab`, `{"pk":{"S":"a"},"sk":{"N":"1"}}`, 0},
		{"cut short inside the key", `{"Item":{"pk":{"S":"a"},"sk":{"N":"1`, "", 0},
		{"not UTF-8 elsewhere", "{\"Item\":{\"pk\":{\"S\":\"a\"},\"x\":{\"S\":\"\xff\"},\"sk\":{\"S\":\"b\"}}}", `{"pk":{"S":"a"},"sk":{"S":"b"}}`, 0},
		{"not UTF-8 in the key", "{\"Item\":{\"pk\":{\"S\":\"a\xff\"},\"sk\":{\"S\":\"b\"}}}", "", 0},
		{"key attribute twice", `{"Item":{"pk":{"S":"a"},"pk":{"S":"b"},"sk":{"S":"c"}}}`, "", 0},
		{"key attribute missing", `{"Item":{"pk":{"S":"a"}}}`, "", 0},
		{"key of the wrong type", `{"Item":{"pk":{"S":1},"sk":{"S":"c"}}}`, "", 0},
		{"a change", `{"Metadata":{"WriteTimestampMicros":{"N":"1716790450778514"}},"Keys":{"pk":{"S":"a"},"sk":{"S":"b"}},"NewImage":{"pk":{"S":"a"},"sk":{"S":"b"},"x":{"BOOL":"no"}}}`,
			`{"pk":{"S":"a"},"sk":{"S":"b"}}`, 1716790450778514},
		{"a change with a bad time", `{"Metadata":{"WriteTimestampMicros":{"N":"soon"}},"Keys":{"pk":{"S":"a"},"sk":{"S":"b"}}}`, `{"pk":{"S":"a"},"sk":{"S":"b"}}`, 0},
		{"not JSON", "\x00\xff", "", 0},
	} {
		got := Salvage([]byte(c.line), attrs)
		keys := ""
		if got.Keys != nil {
			keys = got.Keys.String()
		}
		if keys != c.keys || got.WriteTimeMicros != c.micros {
			t.Errorf("%s: got keys %s, micros %d; want %s, %d", c.name, keys, got.WriteTimeMicros, c.keys, c.micros)
		}
	}
}
