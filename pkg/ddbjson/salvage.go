package ddbjson

import (
	"bytes"
	"encoding/json"
	"slices"
	"unicode/utf8"

	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
)

// Salvaged is what Salvage could read of a line that does not decode.
type Salvaged struct {
	// Keys are the item's key attributes; nil when not readable.
	Keys ddbitem.Item
	// WriteTimeMicros is an incremental export's Metadata.WriteTimestampMicros;
	// 0 when not readable.
	WriteTimeMicros int64
}

// Salvage reads the key attributes attrs (and, of an incremental export's
// change, its write time) of a data line that does not decode (a value of
// the wrong type, bytes that are not UTF-8, a line cut short), so that its
// reject can name the item. It looks for the key in the line's "Item" (a
// full export) or "Keys", "NewImage", "OldImage" (a change), in that order
// of appearance, and takes the first of them in which every key attribute
// appears once and decodes exactly (valid UTF-8, the right JSON types, read
// up to where the line breaks). What is not readable is left zero: a guess
// is never returned.
func Salvage(line []byte, attrs []string) Salvaged {
	var out Salvaged
	if len(attrs) == 0 {
		return out
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return out
	}
	seenMeta := false
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return out
		}
		switch t {
		case "Item", "Keys", "NewImage", "OldImage":
			if out.Keys != nil {
				var skip json.RawMessage
				if err := dec.Decode(&skip); err != nil {
					return out
				}
				continue
			}
			it, ok := salvageMap(dec, attrs)
			out.Keys = it
			if !ok {
				return out
			}
		case "Metadata":
			var meta map[string]json.RawMessage
			if err := dec.Decode(&meta); err != nil {
				return out
			}
			raw, ok := meta["WriteTimestampMicros"]
			if seenMeta || !ok || !utf8.Valid(raw) {
				out.WriteTimeMicros = 0
				seenMeta = true
				continue
			}
			seenMeta = true
			m, err := DecodeAttributeMap(slices.Concat([]byte(`{"w":`), raw, []byte("}")))
			if err != nil || m["w"].Kind != ddbitem.N {
				continue
			}
			if us, err := micros(m["w"].Str); err == nil && us > 0 {
				out.WriteTimeMicros = us
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return out
			}
		}
	}
	return out
}

// salvageMap reads one attribute map from dec and returns its key
// attributes when all are readable; ok is false when dec cannot go on.
func salvageMap(dec *json.Decoder, attrs []string) (_ ddbitem.Item, ok bool) {
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, false
	}
	found := make(map[string]json.RawMessage, len(attrs))
	result := func() ddbitem.Item {
		if len(found) != len(attrs) {
			return nil
		}
		it := make(ddbitem.Item, len(attrs))
		for a, raw := range found {
			if raw == nil || !utf8.Valid(raw) {
				return nil
			}
			name, _ := json.Marshal(a)
			m, err := DecodeAttributeMap(slices.Concat([]byte("{"), name, []byte(":"), raw, []byte("}")))
			if err != nil {
				return nil
			}
			it[a] = m[a]
		}
		return it
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return result(), false
		}
		name, _ := t.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return result(), false
		}
		if slices.Contains(attrs, name) {
			if _, dup := found[name]; dup {
				found[name] = nil // twice: which one is the key?
				continue
			}
			found[name] = slices.Clone(raw)
		}
	}
	if _, err := dec.Token(); err != nil {
		return result(), false
	}
	return result(), true
}
