package verify

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
)

// canonJSONSlow is the general path of canonJSON.
func canonJSONSlow(data []byte) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", err
	}
	var sb strings.Builder
	if err := writeCanon(&sb, v); err != nil {
		return "", err
	}
	return sb.String(), nil
}

func TestCanonJSONFastAgrees(t *testing.T) {
	for _, in := range []string{
		`{"a":1.50,"b":[1,{"c":null}]}`, `{"b": [1, {"c": null}], "a": 1.5}`, `{"a": 100000000000000000000}`,
		`{"a":"1"}`, `[]`, `{}`, ` { } `, `[1e2, -0, 0.0, -0.5, 10, 1.0e-3, 0.10]`, `"x<y"`, `"a\"b"`, `"é"`, `"\u2028"`,
		`{"z":1,"a":{"y":true,"b":false},"m":[{"k":"v","a":null}]}`, `{"a":1,"a":2}`, `{"aa":1,"a":2,"b":3}`,
		`1 2`, `{"a":1}x`, `[1,]`, `{"a"}`, `-`, `01`, `1.`, `.5`, `tru`, `nul`, `"unterminated`, `{"a":1,}`,
		`{"zz": {"b": [{"y": 1, "x": {"q": 2, "p": 1.10}}], "a": 1}, "a": [], "m": {}}`, `{"weight": 1.5, "gift": true, "items": [{"price": 3.5, "quantity": 1, "productId": "p-1"}]}`, "\t[1,\n2]\r",
	} {
		slow, serr := canonJSONSlow([]byte(in))
		fast, ok := canonJSONFast([]byte(in))
		if ok && (serr != nil || fast != slow) {
			t.Errorf("%q: fast %q, slow %q (%v)", in, fast, slow, serr)
		}
		got, gerr := canonJSON([]byte(in))
		if got != slow || (gerr == nil) != (serr == nil) {
			t.Errorf("%q: canonJSON %q %v, slow %q %v", in, got, gerr, slow, serr)
		}
	}
}

func TestCanonicalNumberText(t *testing.T) {
	for _, s := range []string{"0", "-0", "1", "-1", "10", "1.5", "1.50", "0.5", "-0.5", "00", "01", "1.", ".5", "1e2", "0.0", "-0.05", "123.456", "+1", "", "-"} {
		d, err := ddbitem.ParseNumber(s)
		want := err == nil && d.String() == s
		if got := canonicalNumberText(s); got != want {
			t.Errorf("canonicalNumberText(%q) = %v, want %v", s, got, want)
		}
	}
}

// TestCanonJSONFastRandom: on random documents the fast path, when it
// answers, agrees with the general path.
func TestCanonJSONFastRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	nums := []string{"0", "-0", "1", "1.50", "10", "1e3", "-2.5E-2", "0.001", "123456789012345678901234567890", "7.0"}
	strs := []string{"a", "b", "aa", "é", "x<y", `q\"q`, "\\u00e9", "k", ""}
	ws := []string{"", " ", "\n", "\t "}
	var gen func(depth int) string
	gen = func(depth int) string {
		w := ws[r.IntN(len(ws))]
		switch k := r.IntN(7); {
		case k == 0 && depth < 4:
			n := r.IntN(4)
			parts := make([]string, n)
			for i := range parts {
				parts[i] = w + `"` + strs[r.IntN(len(strs))] + `"` + w + ":" + gen(depth+1)
			}
			return "{" + strings.Join(parts, ",") + w + "}"
		case k == 1 && depth < 4:
			n := r.IntN(4)
			parts := make([]string, n)
			for i := range parts {
				parts[i] = gen(depth + 1)
			}
			return "[" + w + strings.Join(parts, ",") + "]"
		case k == 2:
			return w + nums[r.IntN(len(nums))] + w
		case k == 3:
			return []string{"true", "false", "null"}[r.IntN(3)]
		default:
			return w + `"` + strs[r.IntN(len(strs))] + `"`
		}
	}
	for range 20000 {
		in := gen(0)
		slow, serr := canonJSONSlow([]byte(in))
		if fast, ok := canonJSONFast([]byte(in)); ok && (serr != nil || fast != slow) {
			t.Fatalf("%q: fast %q, slow %q (%v)", in, fast, slow, serr)
		}
	}
}
