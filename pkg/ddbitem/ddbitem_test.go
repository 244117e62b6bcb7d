package ddbitem

import (
	"encoding/json"
	"testing"
	"unsafe"
)

func TestParseNumber(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in    string
		plain string
		isInt bool
	}{
		{"0", "0", true},
		{"-0", "0", true},
		{"0.000", "0", true},
		{"12.50", "12.5", false},
		{"1E+2", "100", true},
		{"1e2", "100", true},
		{"2.5E-3", "0.0025", false},
		{"-1.25e1", "-12.5", false},
		{"+7", "7", true},
		{"007.10", "7.1", false},
		{".5", "0.5", false},
		{"5.", "5", true},
		{"12345678901234567890123456789012345678", "12345678901234567890123456789012345678", true},
		{"9007199254740993", "9007199254740993", true}, // 2^53+1: lossy through float64
		{"1E-130", "0." + zeros(129) + "1", false},
	}
	for _, c := range cases {
		d, err := ParseNumber(c.in)
		if err != nil {
			t.Errorf("ParseNumber(%q): %v", c.in, err)
			continue
		}
		if got := d.String(); got != c.plain {
			t.Errorf("ParseNumber(%q).String() = %q, want %q", c.in, got, c.plain)
		}
		if d.IsInteger() != c.isInt {
			t.Errorf("ParseNumber(%q).IsInteger() = %v", c.in, d.IsInteger())
		}
	}
	for _, bad := range []string{"", "-", "abc", "1e", "1e+", "1.2.3", "0x10", "1 ", " 1", "NaN", "Infinity", "1_000"} {
		if _, err := ParseNumber(bad); err == nil {
			t.Errorf("ParseNumber(%q) accepted a non-number", bad)
		}
	}
}

func zeros(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = '0'
	}
	return string(b)
}

func TestCompareNumbers(t *testing.T) {
	t.Parallel()
	cases := []struct {
		a, b string
		want int
	}{
		{"1", "1.0", 0},
		{"1E+2", "100", 0},
		{"-0", "0", 0},
		{"2", "10", -1},
		{"-2", "-10", 1},
		{"0.1", "0.09", 1},
		{"-1", "0", -1},
		{"123456789012345678901", "123456789012345678900", 1},   // 21 digits
		{"1234567890123456789012", "999999999999999999999", 1},  // 22 vs 21 digits
		{"000000000000000000123", "000000000000000000124", -1},  // zero padded
		{"99999999999999999999999999999999999999", "1E+38", -1}, // 38 nines below 10^38
		{"1", "x", -1}, // non-numbers sort last
		{"x", "y", -1},
	}
	for _, c := range cases {
		if got := CompareNumbers(c.a, c.b); got != c.want {
			t.Errorf("CompareNumbers(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
		if got := CompareNumbers(c.b, c.a); got != -c.want {
			t.Errorf("CompareNumbers(%q, %q) = %d, want %d", c.b, c.a, got, -c.want)
		}
	}
}

func TestKeyOf(t *testing.T) {
	t.Parallel()
	item := Item{"pk": Str("u#1"), "sk": Num("42.0"), "b": Bin([]byte{0, 1}), "m": MapOf(nil)}
	cases := []struct {
		attrs   []string
		want    Key
		wantErr string
	}{
		{[]string{"pk"}, `[{"S":"u#1"}]`, ""},
		{[]string{"pk", "sk"}, `[{"S":"u#1"},{"N":"42"}]`, ""},
		{[]string{"b"}, `[{"B":"AAE="}]`, ""},
		{[]string{"missing"}, "", `key attribute "missing": missing`},
		{[]string{"m"}, "", `key attribute "m": type M cannot be a key (S, N or B)`},
	}
	for _, c := range cases {
		got, err := KeyOf(item, c.attrs)
		if c.wantErr != "" {
			if err == nil || err.Error() != c.wantErr {
				t.Errorf("KeyOf(%v) error %v, want %q", c.attrs, err, c.wantErr)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("KeyOf(%v) = %s, %v; want %s", c.attrs, got, err, c.want)
		}
	}
	// "1.0" and "1" are the same DynamoDB key.
	a, _ := KeyOf(Item{"n": Num("1.0")}, []string{"n"})
	b, _ := KeyOf(Item{"n": Num("1")}, []string{"n"})
	if a != b {
		t.Errorf("keys %s and %s should be equal", a, b)
	}
	// Keys are valid JSON, whatever the string holds.
	k, _ := KeyOf(Item{"s": Str("quote\" backslash\\ \u2028 nul\x00")}, []string{"s"})
	var v any
	if err := json.Unmarshal([]byte(k), &v); err != nil {
		t.Errorf("key %s is not JSON: %v", k, err)
	}
}

func TestEqual(t *testing.T) {
	t.Parallel()
	cases := []struct {
		a, b Value
		want bool
	}{
		{Num("1.0"), Num("1"), true},
		{Num("1"), Str("1"), false},
		{StrSet("b", "a"), StrSet("a", "b"), true},
		{NumSet("10", "2"), NumSet("2.0", "1E+1"), true},
		{BinSet([]byte("y"), []byte("x")), BinSet([]byte("x"), []byte("y")), true},
		{ListOf(Num("1"), Str("a")), ListOf(Str("a"), Num("1")), false},
		{MapOf(map[string]Value{"a": Null()}), MapOf(map[string]Value{"a": Null()}), true},
		{MapOf(map[string]Value{"a": Null()}), MapOf(map[string]Value{"b": Null()}), false},
		{Bool(true), Bool(false), false},
		{Value{}, Null(), false},
	}
	for i, c := range cases {
		if got := Equal(c.a, c.b); got != c.want {
			t.Errorf("case %d: Equal(%s, %s) = %v, want %v", i, c.a, c.b, got, c.want)
		}
	}
}

func TestMarshalJSON(t *testing.T) {
	t.Parallel()
	it := Item{
		"s": Str("x"), "n": Num("1.50"), "b": Bin([]byte("hi")), "t": Bool(true), "z": Null(),
		"l": ListOf(Num("1")), "m": MapOf(map[string]Value{"k": StrSet("a")}), "ns": NumSet("2", "1"), "bs": BinSet([]byte{1}),
	}
	got := it.String()
	want := `{"b":{"B":"aGk="},"bs":{"BS":["AQ=="]},"l":{"L":[{"N":"1"}]},"m":{"M":{"k":{"SS":["a"]}}},"n":{"N":"1.50"},"ns":{"NS":["2","1"]},"s":{"S":"x"},"t":{"BOOL":true},"z":{"NULL":true}}`
	if got != want {
		t.Errorf("MarshalJSON:\n got %s\nwant %s", got, want)
	}
}

// Go maps keep values over 128 bytes out of line, allocating one object per
// entry; an Item's attributes would then cost an allocation each.
func TestValueFitsMapSlot(t *testing.T) {
	if n := unsafe.Sizeof(Value{}); n > 128 {
		t.Fatalf("ddbitem.Value is %d bytes; keep it at most 128 so maps hold it inline", n)
	}
	item := Item{}
	if n := testing.AllocsPerRun(100, func() {
		clear(item)
		item["a"], item["b"], item["c"] = Str("x"), Num("1"), Value{Kind: BOOL, Bool: true}
	}); n != 0 {
		t.Fatalf("refilling a cleared item allocates %v times, want 0", n)
	}
}
