package ddbjson

import (
	"bytes"
	"encoding/json"
	"slices"
	"unicode/utf8"

	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
)

// SalvageKeys reads the key attributes attrs of a data line that does not
// decode (a value of the wrong type, bytes that are not UTF-8, a line cut
// short), so that its reject can name the item. It looks in the line's
// "Item" (a full export) or "Keys", "NewImage", "OldImage" (a change of an
// incremental export), in that order of appearance, and returns the first
// of them in which every key attribute appears once and decodes exactly
// (valid UTF-8, the right JSON types, read up to where the line breaks).
// It returns nil when no key is readable: a guess is never returned.
func SalvageKeys(line []byte, attrs []string) ddbitem.Item {
	if len(attrs) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil
		}
		switch t {
		case "Item", "Keys", "NewImage", "OldImage":
			it, ok := salvageMap(dec, attrs)
			if it != nil {
				return it
			}
			if !ok {
				return nil
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil
			}
		}
	}
	return nil
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
