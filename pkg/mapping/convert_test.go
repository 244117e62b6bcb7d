package mapping

import (
	"strings"
	"testing"
)

// TestTypeRules runs every type rule through Rows: the value of attribute
// v in column v. want is the rendered Go value, or "reject: <substring of
// the reason>".
func TestTypeRules(t *testing.T) {
	t.Parallel()
	cases := []struct {
		typ, extra, v, want string
	}{
		// text
		{"text", "", `{"S":"hello"}`, `string "hello"`},
		{"text", "", `{"N":"1.50"}`, `string "1.50"`}, // as written
		{"text", "", `{"N":"1E+2"}`, `string "1E+2"`},
		{"text", "", `{"S":"a\u0000b"}`, "reject: U+0000"},
		{"text", "", `{"BOOL":true}`, "reject: a BOOL value cannot go into a text column"},
		{"text", "", `{"NULL":true}`, "NULL"},
		{"text", "", `{"S":""}`, `string ""`},
		{"varchar(3)", "", `{"S":"äbc"}`, `string "äbc"`}, // characters, not bytes
		{"varchar(3)", "", `{"S":"abcd"}`, "reject: 4 characters long; varchar(3) holds 3"},
		{"character varying", "", `{"S":"x"}`, `string "x"`},
		{"text", `strip_prefix: "ORDER#"`, `{"S":"ORDER#o-1"}`, `string "o-1"`},
		{"text", `strip_prefix: "ORDER#"`, `{"S":"o-1"}`, `reject: does not begin with "ORDER#"`},
		{"text", `strip_prefix: "ORDER#"`, `{"N":"1"}`, "reject: needs a string (S), got N"},
		// integers
		{"integer", "", `{"N":"42"}`, "int32 42"},
		{"integer", "", `{"S":"42"}`, "int32 42"},
		{"integer", "", `{"S":"-7"}`, "int32 -7"},
		{"integer", "", `{"N":"1E+2"}`, "int32 100"},
		{"integer", "", `{"N":"42.0"}`, "int32 42"},
		{"integer", "", `{"N":"42.5"}`, "reject: is not an integer"},
		{"integer", "", `{"S":"abc"}`, "reject: is not a number"},
		{"integer", "", `{"N":"2147483647"}`, "int32 2147483647"},
		{"integer", "", `{"N":"2147483648"}`, "reject: out of range for integer"},
		{"int4", "", `{"N":"-2147483648"}`, "int32 -2147483648"},
		{"smallint", "", `{"N":"32767"}`, "int16 32767"},
		{"smallint", "", `{"N":"32768"}`, "reject: out of range for smallint"},
		{"bigint", "", `{"N":"9223372036854775807"}`, "int64 9223372036854775807"},
		{"bigint", "", `{"N":"-9223372036854775808"}`, "int64 -9223372036854775808"},
		{"bigint", "", `{"N":"9223372036854775808"}`, "reject: out of range for bigint"},
		{"int8", "", `{"N":"99999999999999999999999999999999999999"}`, "reject: out of range for bigint"},
		{"bigint", "", `{"N":"9.223372036854775807E+18"}`, "int64 9223372036854775807"},
		{"bigint", "", `{"N":"1E+19"}`, "reject: out of range for bigint"},
		{"bigint", "", `{"N":"-0"}`, "int64 0"},
		{"bigint", "", `{"BOOL":false}`, "reject: cannot go into a bigint column"},
		{"integer", `strip_prefix: "N#"`, `{"S":"N#12"}`, "int32 12"},
		// numeric
		{"numeric", "", `{"N":"12345678901234567890123456789012345678"}`, "numeric 12345678901234567890123456789012345678"},
		{"numeric", "", `{"N":"-0.00000000000000000000000000000000000001"}`, "numeric -0.00000000000000000000000000000000000001"},
		{"numeric", "", `{"N":"1.2345678901234567890123456789012345678E+125"}`, "numeric 123456789012345678901234567890123456780000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"},
		{"numeric", "", `{"N":"1E+2"}`, "numeric 100"},
		{"numeric", "", `{"N":"-0"}`, "numeric 0"},
		{"numeric", "", `{"S":"3.25"}`, "numeric 3.25"},
		{"numeric", "", `{"S":"x"}`, "reject: is not a number"},
		{"numeric(12,2)", "", `{"N":"1.5"}`, "numeric 1.50"},
		{"numeric(12,2)", "", `{"N":"1.005"}`, "reject: does not fit numeric(12,2) exactly: 3 decimal places, scale is 2"},
		{"numeric(12,2)", "", `{"N":"1.500"}`, "numeric 1.50"}, // trailing zeros are no loss
		{"numeric(12,2)", "", `{"N":"9999999999.99"}`, "numeric 9999999999.99"},
		{"numeric(12,2)", "", `{"N":"10000000000"}`, "reject: 11 integer digits, at most 10"},
		{"numeric(12,2)", "", `{"N":"-0"}`, "numeric 0.00"},
		{"numeric(12,2)", "", `{"N":"1.2E+3"}`, "numeric 1200.00"},
		{"numeric(12,2)", "", `{"N":"5E-2"}`, "numeric 0.05"},
		{"decimal(5)", "", `{"N":"12345"}`, "numeric 12345"},
		{"decimal(5)", "", `{"N":"0.5"}`, "reject: scale is 0"},
		{"numeric(38,0)", "", `{"N":"99999999999999999999999999999999999999"}`, "numeric 99999999999999999999999999999999999999"},
		// floating point (the user's explicit choice)
		{"double precision", "", `{"N":"1.5"}`, "float64 1.5"},
		{"float8", "", `{"N":"-0"}`, "float64 -0"},
		{"double precision", "", `{"N":"1E+400"}`, "reject: out of range for double precision"},
		{"double precision", "", `{"N":"1E-400"}`, "reject: too small for double precision"},
		{"double precision", "", `{"S":"1.5"}`, "reject: cannot go into a double precision column (needs N)"},
		{"real", "", `{"N":"0.25"}`, "float32 0.25"},
		{"real", "", `{"N":"1E+39"}`, "reject: out of range for real"},
		// boolean
		{"boolean", "", `{"BOOL":true}`, "bool true"},
		{"bool", "", `{"BOOL":false}`, "bool false"},
		{"boolean", "", `{"S":"true"}`, "reject: needs BOOL"},
		// timestamps
		{"timestamptz", "", `{"S":"2024-05-01T10:00:00Z"}`, "time 2024-05-01T10:00:00Z"},
		{"timestamptz", "", `{"S":"2024-05-01T10:00:00+02:00"}`, "time 2024-05-01T08:00:00Z"},
		{"timestamptz", "", `{"S":"2024-05-01T10:00:00.123456-0130"}`, "time 2024-05-01T11:30:00.123456Z"},
		{"timestamptz", "", `{"S":"2024-05-01 10:00:00"}`, "time 2024-05-01T10:00:00Z"}, // no zone: UTC
		{"timestamptz", "", `{"S":"2024-05-01T10:00"}`, "time 2024-05-01T10:00:00Z"},
		{"timestamptz", "", `{"S":"2024-05-01"}`, "time 2024-05-01T00:00:00Z"},
		{"timestamptz", "", `{"S":"2024-05-01T10:00:00.1234567Z"}`, "reject: finer than a microsecond"},
		{"timestamptz", "", `{"S":"2024-05-01T10:00:00.123456000Z"}`, "time 2024-05-01T10:00:00.123456Z"},
		{"timestamptz", "", `{"S":"2024-02-30"}`, "reject: day out of range"},
		{"timestamptz", "", `{"S":"2023-02-29"}`, "reject: day out of range"},
		{"timestamptz", "", `{"S":"2024-02-29"}`, "time 2024-02-29T00:00:00Z"},
		{"timestamptz", "", `{"S":"2024-05-01T24:00:00Z"}`, "reject: time of day out of range"},
		{"timestamptz", "", `{"S":"May 1st"}`, "reject: is not a timestamp"},
		{"timestamp with time zone", "", `{"N":"1714557600"}`, "time 2024-05-01T10:00:00Z"},
		{"timestamptz", "", `{"N":"1714557600.5"}`, "time 2024-05-01T10:00:00.5Z"},
		{"timestamptz", "format: epoch_millis", `{"N":"1714557600123"}`, "time 2024-05-01T10:00:00.123Z"},
		{"timestamptz", "format: epoch_millis", `{"N":"1714557600123.456"}`, "time 2024-05-01T10:00:00.123456Z"},
		{"timestamptz", "format: epoch_millis", `{"N":"1714557600123.4567"}`, "reject: finer than a microsecond"},
		{"timestamptz", "format: epoch_seconds", `{"N":"-1"}`, "time 1969-12-31T23:59:59Z"},
		{"timestamptz", "", `{"N":"1E+300"}`, "reject: out of range for a timestamp"},
		{"timestamptz", "", `{"N":"-1E+12"}`, "reject: out of range for a timestamp"},
		{"timestamptz", "", `{"BOOL":true}`, "reject: needs S"},
		{"timestamp", "", `{"S":"2024-05-01T10:00:00+02:00"}`, "time 2024-05-01T08:00:00Z"}, // stored as UTC wall clock
		{"timestamp without time zone", "", `{"S":"2024-05-01T10:00:00"}`, "time 2024-05-01T10:00:00Z"},
		{"date", "", `{"S":"2024-05-01"}`, "time 2024-05-01T00:00:00Z"},
		{"date", "", `{"S":"2024-05-01T00:00:00Z"}`, "time 2024-05-01T00:00:00Z"},
		{"date", "", `{"S":"2024-05-01T10:00:00Z"}`, "reject: not a whole day"},
		{"date", "", `{"N":"1714521600"}`, "time 2024-05-01T00:00:00Z"},
		{"date", "format: epoch_millis", `{"N":"1714521600000"}`, "time 2024-05-01T00:00:00Z"},
		{"date", "", `{"N":"1714521601"}`, "reject: not a whole day"},
		// uuid
		{"uuid", "", `{"S":"6ba7b810-9dad-11d1-80b4-00c04fd430c8"}`, "uuid 6ba7b810-9dad-11d1-80b4-00c04fd430c8"},
		{"uuid", "", `{"S":"6BA7B8109DAD11D180B400C04FD430C8"}`, "uuid 6ba7b810-9dad-11d1-80b4-00c04fd430c8"},
		{"uuid", "", `{"S":"{6ba7b810-9dad-11d1-80b4-00c04fd430c8}"}`, "uuid 6ba7b810-9dad-11d1-80b4-00c04fd430c8"},
		{"uuid", "", `{"S":"6ba7b810-9dad-11d1-80b4-00c04fd430c"}`, "reject: is not a UUID"},
		{"uuid", "", `{"S":"6ba7b810x9dad-11d1-80b4-00c04fd430c8"}`, "reject: is not a UUID"},
		// bytea
		{"bytea", "", `{"B":"AAEC"}`, "bytes AAEC"},
		{"bytea", "", `{"B":""}`, "bytes "},
		{"bytea", "", `{"S":"AAEC"}`, "reject: needs B"},
		// jsonb
		{"jsonb", "", `{"S":"x\"y\n"}`, `jsonb "x\"y\n"`},
		{"jsonb", "", `{"S":"<&>"}`, `jsonb "<&>"`},
		{"jsonb", "", `{"N":"12345678901234567890123456789012345678"}`, "jsonb 12345678901234567890123456789012345678"},
		{"jsonb", "", `{"N":"1E+2"}`, "jsonb 1E+2"},
		{"jsonb", "", `{"N":"-0"}`, "jsonb -0"},
		{"jsonb", "", `{"N":"+1.50"}`, "jsonb 1.5"},
		{"jsonb", "", `{"N":".5"}`, "jsonb 0.5"},
		{"jsonb", "", `{"BOOL":true}`, "jsonb true"},
		{"jsonb", "", `{"NULL":true}`, "NULL"}, // a NULL attribute is SQL NULL, not JSON null
		{"jsonb", "", `{"B":"AAEC"}`, `jsonb "AAEC"`},
		{"jsonb", "", `{"SS":["b","a","B"]}`, `jsonb ["B","a","b"]`},
		{"jsonb", "", `{"NS":["10","9","-1.5","1E+1"]}`, `jsonb [-1.5,9,10,1E+1]`},
		{"jsonb", "", `{"BS":["Ag==","AQ==","AQI="]}`, `jsonb ["AQ==","AQI=","Ag=="]`},
		{"jsonb", "", `{"L":[{"N":"1"},{"S":"a"},{"NULL":true},{"L":[]}]}`, `jsonb [1,"a",null,[]]`},
		{"jsonb", "", `{"M":{"b":{"N":"2"},"a":{"M":{"z":{"BOOL":false}}}}}`, `jsonb {"a":{"z":false},"b":2}`},
		{"jsonb", "", `{"M":{}}`, `jsonb {}`},
		{"jsonb", "", `{"M":{"a":{"S":"x\u0000"}}}`, "reject: inside the M value: contains U+0000"},
		{"jsonb", "", `{"M":{"a\u0000":{"S":"x"}}}`, "reject: attribute name contains U+0000"},
		{"jsonb", "", `{"L":[{"S":"ok"},{"SS":["\u0000"]}]}`, "reject: inside the L value: contains U+0000"},
		{"jsonb", "", `{"S":"\u0001"}`, `jsonb "\u0001"`},
		// arrays
		{"text[]", "", `{"SS":["b","a","c"]}`, `text[] ["a","b","c"]`},
		{"text[]", "", `{"NS":["10","9"]}`, `text[] ["9","10"]`},
		{"text[]", "", `{"L":[{"S":"z"},{"S":"a"}]}`, `text[] ["z","a"]`}, // lists keep their order
		{"text[]", "", `{"L":[]}`, `text[] []`},
		{"text[]", "", `{"L":[{"S":"a"},{"NULL":true}]}`, "reject: NULL element"},
		{"text[]", "", `{"L":[{"M":{}}]}`, "reject: a M element cannot go into text[]"},
		{"text[]", "", `{"S":"a"}`, "reject: cannot go into a text[] column"},
		{"bigint[]", "", `{"NS":["10","9","-3"]}`, "[]int64 [-3 9 10]"},
		{"int8[]", "", `{"L":[{"N":"3"},{"S":"1"}]}`, "[]int64 [3 1]"},
		{"bigint[]", "", `{"NS":["1.5"]}`, "reject: is not an integer"},
		{"numeric[]", "", `{"NS":["10","9.5","-3"]}`, "numeric[] [-3 9.5 10]"},
		{"numeric(5,2)[]", "", `{"NS":["1.5","2"]}`, "numeric[] [1.50 2.00]"},
		{"numeric(5,2)[]", "", `{"NS":["1.555"]}`, "reject: does not fit"},
		{"bytea[]", "", `{"BS":["Ag==","AQ=="]}`, "bytea[] [AQ== Ag==]"},
		{"bytea[]", "", `{"L":[{"B":"Ag=="},{"B":"AQ=="}]}`, "bytea[] [Ag== AQ==]"},
	}
	for _, tc := range cases {
		t.Run(tc.typ+" "+tc.extra+" "+tc.v, func(t *testing.T) {
			t.Parallel()
			m := oneColumn(t, tc.typ, tc.extra)
			rows, rej := m.Rows(item(t, `{"k":{"S":"key"},"v":`+tc.v+`}`))
			if want, ok := strings.CutPrefix(tc.want, "reject: "); ok {
				if rej == nil {
					t.Fatalf("got %s, want a reject containing %q", render(rows[0][0][1]), want)
				}
				if !strings.Contains(rej.Error(), want) {
					t.Fatalf("reject %q does not contain %q", rej.Error(), want)
				}
				if rej.Table != "t" || rej.Column != "v" || rej.Path != "v" || rej.Raw == "" {
					t.Errorf("reject %+v: want table t, column v, path v and the raw value", rej)
				}
				return
			}
			if rej != nil {
				t.Fatalf("unexpected reject: %v", rej)
			}
			if got := render(rows[0][0][1]); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestMissingAndRequired(t *testing.T) {
	t.Parallel()
	m := oneColumn(t, "text", "required: true")
	for _, it := range []string{`{"k":{"S":"x"}}`, `{"k":{"S":"x"},"v":{"NULL":true}}`} {
		_, rej := m.Rows(item(t, it))
		if rej == nil || !strings.Contains(rej.Reason, "required value is missing or NULL") {
			t.Errorf("%s: got %v, want a required reject", it, rej)
		}
	}
	// A primary key column is implicitly required.
	_, rej := m.Rows(item(t, `{"v":{"S":"x"}}`))
	if rej == nil || rej.Column != "k" || !strings.Contains(rej.Reason, "primary key") {
		t.Errorf("missing key: got %v", rej)
	}
	// Optional and missing gives NULL.
	m = oneColumn(t, "integer", "")
	rows, rej := m.Rows(item(t, `{"k":{"S":"x"}}`))
	if rej != nil || rows[0][0][1] != nil {
		t.Errorf("optional missing: got %v %v", rows, rej)
	}
}

func TestKeyColumnsCanonical(t *testing.T) {
	t.Parallel()
	yml := `version: 1
source: {table: T, key: [k]}
tables:
  - name: t
    primary_key: [k]
    columns:
      - {name: k, from: k, type: %s}
`
	cases := []struct{ typ, v, want string }{
		{"integer", `{"S":"42"}`, "int32 42"},
		{"integer", `{"S":"042"}`, "reject: not in canonical form"},
		{"integer", `{"N":"42"}`, "int32 42"},
		{"numeric", `{"S":"1.5"}`, "numeric 1.5"},
		{"numeric", `{"S":"1.50"}`, "reject: not in canonical form"},
		{"uuid", `{"S":"6ba7b810-9dad-11d1-80b4-00c04fd430c8"}`, "uuid 6ba7b810-9dad-11d1-80b4-00c04fd430c8"},
		{"uuid", `{"S":"6BA7B810-9DAD-11D1-80B4-00C04FD430C8"}`, "reject: not in canonical form"},
		{"text", `{"N":"1E+2"}`, `string "100"`}, // numbers compare as numbers in keys
		{"text", `{"S":"1E+2"}`, `string "1E+2"`},
	}
	for _, tc := range cases {
		m := mustParse(t, strings.Replace(yml, "%s", tc.typ, 1))
		rows, rej := m.Rows(item(t, `{"k":`+tc.v+`}`))
		if want, ok := strings.CutPrefix(tc.want, "reject: "); ok {
			if rej == nil || !strings.Contains(rej.Reason, want) {
				t.Errorf("%s %s: got %v, want reject %q", tc.typ, tc.v, rej, want)
			}
			continue
		}
		if rej != nil {
			t.Errorf("%s %s: %v", tc.typ, tc.v, rej)
			continue
		}
		if got := render(rows[0][0][0]); got != tc.want {
			t.Errorf("%s %s: got %s, want %s", tc.typ, tc.v, got, tc.want)
		}
	}
}
