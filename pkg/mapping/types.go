package mapping

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgtype"
)

// Kind is a column type's base type as a small integer: Type carries it so
// code that depends on the type (Rows' conversions, the writer's COPY
// encoder) switches on it instead of comparing names, and a typo does not
// compile. An array column has its element's Kind (see Type.Array).
type Kind uint8

const (
	KindText Kind = iota + 1
	KindVarchar
	KindInt2
	KindInt4
	KindInt8
	KindNumeric
	KindFloat8
	KindFloat4
	KindBool
	KindTimestamptz
	KindTimestamp
	KindDate
	KindUUID
	KindBytea
	KindJSONB
)

// Type is a column's PostgreSQL type, normalised: aliases ("int4",
// "timestamp with time zone", "decimal(12,2)") all become one canonical Name
// ("integer", "timestamptz", "numeric(12,2)").
type Type struct {
	// Name is the canonical spelling used in DDL and comparisons, e.g.
	// "numeric(12,2)", "varchar(20)", "text[]".
	Name string
	// Base is Name without modifiers or "[]": "numeric", "varchar", "text".
	Base string
	// Precision and Scale are numeric's modifiers; Precision 0 means an
	// unconstrained numeric.
	Precision, Scale int
	// Length is varchar's maximum length in characters; 0 means unlimited.
	Length int
	// Array says the column is an array of Base.
	Array bool
	// OID is the PostgreSQL type OID (of the array type for arrays).
	OID uint32
	// Kind is Base as an enum.
	Kind Kind
}

type baseInfo struct {
	name     string
	kind     Kind
	oid      uint32
	arrayOID uint32 // 0: no array form is supported
}

var bases = map[string]baseInfo{
	"text":             {"text", KindText, pgtype.TextOID, pgtype.TextArrayOID},
	"varchar":          {"varchar", KindVarchar, pgtype.VarcharOID, 0},
	"smallint":         {"smallint", KindInt2, pgtype.Int2OID, 0},
	"integer":          {"integer", KindInt4, pgtype.Int4OID, 0},
	"bigint":           {"bigint", KindInt8, pgtype.Int8OID, pgtype.Int8ArrayOID},
	"numeric":          {"numeric", KindNumeric, pgtype.NumericOID, pgtype.NumericArrayOID},
	"double precision": {"double precision", KindFloat8, pgtype.Float8OID, 0},
	"real":             {"real", KindFloat4, pgtype.Float4OID, 0},
	"boolean":          {"boolean", KindBool, pgtype.BoolOID, 0},
	"timestamptz":      {"timestamptz", KindTimestamptz, pgtype.TimestamptzOID, 0},
	"timestamp":        {"timestamp", KindTimestamp, pgtype.TimestampOID, 0},
	"date":             {"date", KindDate, pgtype.DateOID, 0},
	"uuid":             {"uuid", KindUUID, pgtype.UUIDOID, 0},
	"bytea":            {"bytea", KindBytea, pgtype.ByteaOID, pgtype.ByteaArrayOID},
	"jsonb":            {"jsonb", KindJSONB, pgtype.JSONBOID, 0},
}

// aliases maps accepted spellings (including format_type's output, so an
// existing table's columns parse with the same function) to a base name.
var aliases = map[string]string{
	"character varying":           "varchar",
	"int2":                        "smallint",
	"int":                         "integer",
	"int4":                        "integer",
	"int8":                        "bigint",
	"decimal":                     "numeric",
	"float8":                      "double precision",
	"float":                       "double precision",
	"float4":                      "real",
	"bool":                        "boolean",
	"timestamp with time zone":    "timestamptz",
	"timestamp without time zone": "timestamp",
}

// ParseType parses a column type as written in a mapping or as PostgreSQL's
// format_type prints it. Only the types ddb2pg can convert to without silent
// loss are accepted.
func ParseType(s string) (Type, error) {
	norm := strings.ToLower(strings.Join(strings.Fields(s), " "))
	if norm == "" {
		return Type{}, fmt.Errorf("empty type")
	}
	var t Type
	if rest, ok := strings.CutSuffix(norm, "[]"); ok {
		t.Array = true
		norm = strings.TrimSpace(rest)
	}
	name, mods := norm, ""
	if i := strings.IndexByte(norm, '('); i >= 0 {
		if !strings.HasSuffix(norm, ")") {
			return Type{}, fmt.Errorf("unknown type %q", s)
		}
		name, mods = strings.TrimSpace(norm[:i]), norm[i+1:len(norm)-1]
	}
	if a, ok := aliases[name]; ok {
		name = a
	}
	b, ok := bases[name]
	if !ok {
		return Type{}, fmt.Errorf("unknown type %q (supported: %s)", s, supportedTypes)
	}
	t.Base, t.Kind, t.OID = b.name, b.kind, b.oid
	if mods != "" {
		parts := strings.Split(mods, ",")
		nums := make([]int, len(parts))
		for i, p := range parts {
			n, err := strconv.Atoi(strings.TrimSpace(p))
			if err != nil {
				return Type{}, fmt.Errorf("type %q: bad modifier %q", s, strings.TrimSpace(p))
			}
			nums[i] = n
		}
		switch {
		case b.kind == KindNumeric && len(nums) <= 2:
			t.Precision = nums[0]
			if len(nums) == 2 {
				t.Scale = nums[1]
			}
			if t.Precision < 1 || t.Precision > 1000 {
				return Type{}, fmt.Errorf("type %q: precision must be between 1 and 1000", s)
			}
			// PostgreSQL 15 allows a scale outside 0..p; ddb2pg does not,
			// as rounding to tens or beyond the precision would lose data.
			if t.Scale < 0 || t.Scale > t.Precision {
				return Type{}, fmt.Errorf("type %q: scale must be between 0 and the precision", s)
			}
		case b.kind == KindVarchar && len(nums) == 1:
			t.Length = nums[0]
			if t.Length < 1 || t.Length > 10485760 {
				return Type{}, fmt.Errorf("type %q: length must be between 1 and 10485760", s)
			}
		default:
			// e.g. timestamptz(3) would round fractional seconds silently.
			return Type{}, fmt.Errorf("type %q: modifiers are not supported for %s", s, b.name)
		}
	}
	switch {
	case t.Precision > 0:
		t.Name = fmt.Sprintf("numeric(%d,%d)", t.Precision, t.Scale)
	case t.Length > 0:
		t.Name = fmt.Sprintf("varchar(%d)", t.Length)
	default:
		t.Name = b.name
	}
	if t.Array {
		if b.arrayOID == 0 {
			return Type{}, fmt.Errorf("type %q: arrays are supported for text, bigint, numeric and bytea only", s)
		}
		t.OID = b.arrayOID
		t.Name += "[]"
	}
	return t, nil
}

const supportedTypes = "text, varchar(n), smallint, integer, bigint, numeric, numeric(p,s), double precision, real, " +
	"boolean, timestamptz, timestamp, date, uuid, bytea, jsonb, text[], bigint[], numeric[], bytea[]"

// String returns the canonical name.
func (t Type) String() string { return t.Name }

// isTime reports whether a format option applies to t.
func (t Type) isTime() bool {
	return !t.Array && (t.Kind == KindTimestamptz || t.Kind == KindTimestamp || t.Kind == KindDate)
}

// String is the kind's canonical base type name ("integer", "timestamptz").
func (k Kind) String() string {
	switch k {
	case KindText:
		return "text"
	case KindVarchar:
		return "varchar"
	case KindInt2:
		return "smallint"
	case KindInt4:
		return "integer"
	case KindInt8:
		return "bigint"
	case KindNumeric:
		return "numeric"
	case KindFloat8:
		return "double precision"
	case KindFloat4:
		return "real"
	case KindBool:
		return "boolean"
	case KindTimestamptz:
		return "timestamptz"
	case KindTimestamp:
		return "timestamp"
	case KindDate:
		return "date"
	case KindUUID:
		return "uuid"
	case KindBytea:
		return "bytea"
	case KindJSONB:
		return "jsonb"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}
