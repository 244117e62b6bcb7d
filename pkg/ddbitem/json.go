package ddbitem

import (
	"encoding/base64"
	"encoding/json"
	"sort"
	"strings"
)

// MarshalJSON writes v in DynamoDB JSON ({"S":"x"}, {"N":"1"}, ...), the
// format of exports and of the low-level API. Map keys are sorted so the
// output is deterministic.
func (v Value) MarshalJSON() ([]byte, error) {
	var sb strings.Builder
	writeJSON(&sb, v)
	return []byte(sb.String()), nil
}

// MarshalJSON writes the item as a DynamoDB JSON attribute map.
func (it Item) MarshalJSON() ([]byte, error) {
	var sb strings.Builder
	writeMap(&sb, it)
	return []byte(sb.String()), nil
}

// String renders the item in DynamoDB JSON.
func (it Item) String() string {
	b, _ := it.MarshalJSON()
	return string(b)
}

func writeString(sb *strings.Builder, s string) {
	b, _ := json.Marshal(s)
	sb.Write(b)
}

func writeMap(sb *strings.Builder, m map[string]Value) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	sb.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			sb.WriteByte(',')
		}
		writeString(sb, k)
		sb.WriteByte(':')
		writeJSON(sb, m[k])
	}
	sb.WriteByte('}')
}

func writeJSON(sb *strings.Builder, v Value) {
	sb.WriteString(`{"`)
	sb.WriteString(v.Kind.String())
	sb.WriteString(`":`)
	switch v.Kind {
	case S, N:
		writeString(sb, v.Str)
	case B:
		writeString(sb, base64.StdEncoding.EncodeToString(v.Bin))
	case BOOL:
		if v.Bool {
			sb.WriteString("true")
		} else {
			sb.WriteString("false")
		}
	case NULL, KindInvalid:
		sb.WriteString("true")
	case M:
		writeMap(sb, v.Map)
	case L:
		sb.WriteByte('[')
		for i, e := range v.List {
			if i > 0 {
				sb.WriteByte(',')
			}
			writeJSON(sb, e)
		}
		sb.WriteByte(']')
	case SS, NS:
		sb.WriteByte('[')
		for i, s := range v.Strs {
			if i > 0 {
				sb.WriteByte(',')
			}
			writeString(sb, s)
		}
		sb.WriteByte(']')
	case BS:
		sb.WriteByte('[')
		for i, b := range v.Bins {
			if i > 0 {
				sb.WriteByte(',')
			}
			writeString(sb, base64.StdEncoding.EncodeToString(b))
		}
		sb.WriteByte(']')
	}
	sb.WriteByte('}')
}
