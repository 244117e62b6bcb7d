package verify

import (
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
	"github.com/ddb2pg/ddb2pg/pkg/mapping"
)

func typ(t *testing.T, s string) mapping.Type {
	t.Helper()
	ty, err := mapping.ParseType(s)
	if err != nil {
		t.Fatal(err)
	}
	return ty
}

// TestNormComparesByMeaning: the mapping's value (left) and what
// PostgreSQL returns (right) compare equal exactly when they mean the same.
func TestNormComparesByMeaning(t *testing.T) {
	berlin := time.FixedZone("CET", 3600)
	inst := time.Date(2024, 3, 1, 10, 0, 0, 500, time.UTC)
	num := func(i int64, exp int32) pgtype.Numeric {
		return pgtype.Numeric{Int: big.NewInt(i), Exp: exp, Valid: true}
	}
	for _, c := range []struct {
		typ   string
		a, b  any
		equal bool
	}{
		{"numeric(12,2)", num(105, -1), pgtype.Text{String: "10.50", Valid: true}, true},
		{"numeric(12,2)", num(105, -1), pgtype.Text{String: "10.51", Valid: true}, false},
		{"numeric", num(1, 40), pgtype.Text{String: "1" + strings.Repeat("0", 40), Valid: true}, true},
		{"integer", int32(7), pgtype.Int8{Int64: 7, Valid: true}, true},
		{"bigint", int64(9007199254740993), pgtype.Int8{Int64: 9007199254740992, Valid: true}, false},
		{"timestamptz", inst, pgtype.Timestamptz{Time: inst.In(berlin), Valid: true}, true},
		{"timestamptz", inst, pgtype.Timestamptz{Time: inst.Add(time.Microsecond), Valid: true}, false},
		{"timestamp", time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC), pgtype.Timestamp{Time: time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC), Valid: true}, true},
		{"date", time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), pgtype.Text{String: "2024-03-01", Valid: true}, true},
		{"jsonb", json.RawMessage(`{"a":1.50,"b":[1,{"c":null}]}`), pgtype.Text{String: `{"b": [1, {"c": null}], "a": 1.5}`, Valid: true}, true},
		{"jsonb", json.RawMessage(`{"a":100000000000000000001}`), pgtype.Text{String: `{"a": 100000000000000000000}`, Valid: true}, false},
		{"jsonb", json.RawMessage(`{"a":"1"}`), pgtype.Text{String: `{"a": 1}`, Valid: true}, false},
		{"text[]", []string{"x", "y"}, pgtype.Text{String: `["x", "y"]`, Valid: true}, true},
		{"text[]", []string{"x", "y"}, pgtype.Text{String: `["y", "x"]`, Valid: true}, false},
		{"numeric[]", []pgtype.Numeric{num(15, -1), num(2, 0)}, pgtype.Text{String: `[1.50, 2]`, Valid: true}, true},
		{"bigint[]", []int64{1, 2}, pgtype.Text{String: `[1, 2]`, Valid: true}, true},
		{"bytea[]", [][]byte{{1, 2}}, pgtype.Text{String: `["\\x0102"]`, Valid: true}, true},
		{"bytea", []byte{0xde, 0xad}, []byte{0xde, 0xad}, true},
		{"uuid", pgtype.UUID{Bytes: [16]byte{0xab, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, Valid: true},
			pgtype.Text{String: "ab010203-0405-0607-0809-0a0b0c0d0e0f", Valid: true}, true},
		{"double precision", 0.1, pgtype.Float8{Float64: 0.1, Valid: true}, true},
		{"real", float32(0.1), pgtype.Float8{Float64: float64(float32(0.1)), Valid: true}, true},
		{"boolean", true, pgtype.Bool{Bool: false, Valid: true}, false},
		{"text", "a", pgtype.Text{}, false}, // NULL
		{"text", nil, pgtype.Text{}, true},
		{"text", "", pgtype.Text{Valid: true}, true},
	} {
		ty := typ(t, c.typ)
		sa, na, err := norm(ty, c.a)
		if err != nil {
			t.Errorf("%s %v: %v", c.typ, c.a, err)
			continue
		}
		sb, nb, err := norm(ty, c.b)
		if err != nil {
			t.Errorf("%s %v: %v", c.typ, c.b, err)
			continue
		}
		if got := na == nb && (na || sa == sb); got != c.equal {
			t.Errorf("%s: %v (%q null=%v) vs %v (%q null=%v): equal %v, want %v", c.typ, c.a, sa, na, c.b, sb, nb, got, c.equal)
		}
	}
}

func TestDecimalText(t *testing.T) {
	for _, c := range []struct {
		i    int64
		exp  int
		want string
	}{{105, -1, "10.5"}, {1050, -2, "10.5"}, {100, -2, "1"}, {-5, -3, "-0.005"}, {12, 2, "1200"}, {-120, -1, "-12"},
		{-9223372036854775808, -2, "-92233720368547758.08"}} {
		if got := decimalText(c.i, c.exp); got != c.want {
			t.Errorf("decimalText(%d, %d) = %q, want %q", c.i, c.exp, got, c.want)
		}
		d, err := ddbitem.ParseNumber(fmt.Sprintf("%de%d", c.i, c.exp))
		if err != nil || d.String() != c.want {
			t.Errorf("ParseNumber disagrees for %d e%d: %q %v", c.i, c.exp, d.String(), err)
		}
	}
}
