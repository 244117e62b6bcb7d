package verify

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
	"github.com/ddb2pg/ddb2pg/pkg/ddbjson"
)

// KeyReader reads a key file: one key per line, either a DynamoDB JSON
// attribute map of the key attributes ({"orderId":{"S":"o-1"}}) or, when
// the table's key is a single attribute, its plain value (o-1, or 42 for a
// number key: verify reads a plain value as the key attribute's type).
// Blank lines and lines starting with # are skipped.
type KeyReader struct {
	sc     *bufio.Scanner
	keys   []string
	plainS bool
	line   int
}

// NewKeyReader reads keys from r for a table with the given key attributes;
// plainS says whether plain values are allowed (single S key).
func NewKeyReader(r io.Reader, keyAttrs []string, plainS bool) *KeyReader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	return &KeyReader{sc: sc, keys: keyAttrs, plainS: plainS && len(keyAttrs) == 1}
}

// Next returns the next key as an item holding the key attributes.
func (kr *KeyReader) Next() (ddbitem.Item, error) {
	for kr.sc.Scan() {
		kr.line++
		line := strings.TrimSpace(kr.sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var it ddbitem.Item
		if strings.HasPrefix(line, "{") {
			m, err := ddbjson.DecodeAttributeMap([]byte(line))
			if err != nil {
				return nil, fmt.Errorf("key file line %d: %w", kr.line, err)
			}
			it = ddbitem.Item{}
			for _, k := range kr.keys {
				v, ok := m[k]
				if !ok {
					return nil, fmt.Errorf("key file line %d: no key attribute %s", kr.line, k)
				}
				if v.Kind != ddbitem.S && v.Kind != ddbitem.N && v.Kind != ddbitem.B {
					return nil, fmt.Errorf("key file line %d: key attribute %s has type %s (want S, N or B)", kr.line, k, v.Kind)
				}
				it[k] = v
			}
			if len(m) != len(kr.keys) {
				return nil, fmt.Errorf("key file line %d: %d attributes; the key is %v", kr.line, len(m), kr.keys)
			}
		} else {
			if !kr.plainS {
				return nil, fmt.Errorf("key file line %d: plain values are only for a single string key; write {\"attr\":{\"S\":\"...\"}, ...}", kr.line)
			}
			it = ddbitem.Item{kr.keys[0]: ddbitem.Str(line)}
		}
		return it, nil
	}
	if err := kr.sc.Err(); err != nil {
		return nil, fmt.Errorf("reading key file: %w", err)
	}
	return nil, io.EOF
}
