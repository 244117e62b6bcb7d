package mapping

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
)

// mustParse parses a mapping given as YAML text or fails the test.
func mustParse(t testing.TB, yml string) *Mapping {
	t.Helper()
	m, err := Parse("test.yaml", []byte(yml))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return m
}

// oneColumn maps the attribute v of items keyed by k into column "v" of the
// given type, plus extra YAML for the column (e.g. "strip_prefix: X").
func oneColumn(t testing.TB, typ, extra string) *Mapping {
	t.Helper()
	if extra != "" {
		extra = ", " + extra
	}
	return mustParse(t, fmt.Sprintf(`version: 1
source: {table: T, key: [k]}
tables:
  - name: t
    primary_key: [k]
    columns:
      - {name: k, from: k, type: text}
      - {name: v, from: v, type: %q%s}
`, typ, extra))
}

// item decodes DynamoDB JSON ({"a":{"S":"x"}}) for tests.
func item(t testing.TB, s string) ddbitem.Item {
	t.Helper()
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		t.Fatalf("item %s: %v", s, err)
	}
	it := ddbitem.Item{}
	for k, v := range raw {
		it[k] = value(t, v)
	}
	return it
}

func value(t testing.TB, raw json.RawMessage) ddbitem.Value {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || len(m) != 1 {
		t.Fatalf("value %s: not a typed value", raw)
	}
	for typ, body := range m {
		str := func() string {
			var s string
			if err := json.Unmarshal(body, &s); err != nil {
				t.Fatalf("value %s: %v", raw, err)
			}
			return s
		}
		strs := func() []string {
			var s []string
			if err := json.Unmarshal(body, &s); err != nil {
				t.Fatalf("value %s: %v", raw, err)
			}
			return s
		}
		bin := func(s string) []byte {
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				t.Fatalf("value %s: %v", raw, err)
			}
			return b
		}
		switch typ {
		case "S":
			return ddbitem.Str(str())
		case "N":
			return ddbitem.Num(str())
		case "B":
			return ddbitem.Bin(bin(str()))
		case "BOOL":
			return ddbitem.Bool(string(body) == "true")
		case "NULL":
			return ddbitem.Null()
		case "SS":
			return ddbitem.StrSet(strs()...)
		case "NS":
			return ddbitem.NumSet(strs()...)
		case "BS":
			var bs [][]byte
			for _, s := range strs() {
				bs = append(bs, bin(s))
			}
			return ddbitem.BinSet(bs...)
		case "L":
			var l []json.RawMessage
			if err := json.Unmarshal(body, &l); err != nil {
				t.Fatalf("value %s: %v", raw, err)
			}
			vs := []ddbitem.Value{}
			for _, e := range l {
				vs = append(vs, value(t, e))
			}
			return ddbitem.ListOf(vs...)
		case "M":
			var mm map[string]json.RawMessage
			if err := json.Unmarshal(body, &mm); err != nil {
				t.Fatalf("value %s: %v", raw, err)
			}
			out := map[string]ddbitem.Value{}
			for k, e := range mm {
				out[k] = value(t, e)
			}
			return ddbitem.MapOf(out)
		}
		t.Fatalf("value %s: unknown type %s", raw, typ)
	}
	return ddbitem.Value{}
}

// render shows a row value as "<Go type> <text>", the form golden files
// and table tests compare.
func render(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case string:
		return "string " + strconv.Quote(x)
	case pgtype.Numeric:
		return "numeric " + numericText(x)
	case time.Time:
		return "time " + x.Format(time.RFC3339Nano)
	case json.RawMessage:
		return "jsonb " + string(x)
	case []byte:
		return "bytes " + base64.StdEncoding.EncodeToString(x)
	case pgtype.UUID:
		return "uuid " + formatUUID(x.Bytes)
	case []pgtype.Numeric:
		parts := make([]string, len(x))
		for i, n := range x {
			parts[i] = numericText(n)
		}
		return "numeric[] [" + strings.Join(parts, " ") + "]"
	case [][]byte:
		parts := make([]string, len(x))
		for i, b := range x {
			parts[i] = base64.StdEncoding.EncodeToString(b)
		}
		return "bytea[] [" + strings.Join(parts, " ") + "]"
	case []string:
		b, _ := json.Marshal(x)
		return "text[] " + string(b)
	}
	return fmt.Sprintf("%T %v", v, v)
}

// numericText prints a pgtype.Numeric exactly, with its scale.
func numericText(n pgtype.Numeric) string {
	if !n.Valid {
		return "NULL"
	}
	s := new(big.Int).Abs(n.Int).String()
	neg := n.Int.Sign() < 0
	if n.Exp > 0 {
		s += strings.Repeat("0", int(n.Exp))
	} else if n.Exp < 0 {
		sc := int(-n.Exp)
		if len(s) <= sc {
			s = strings.Repeat("0", sc-len(s)+1) + s
		}
		s = s[:len(s)-sc] + "." + s[len(s)-sc:]
	}
	if neg {
		s = "-" + s
	}
	return s
}
