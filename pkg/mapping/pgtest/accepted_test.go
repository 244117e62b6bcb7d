package pgtest

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
	"github.com/ddb2pg/ddb2pg/pkg/mapping"
)

// edge values the generator draws from: each is meant to sit on or just
// across some type's boundary.
var (
	edgeNumbers = []string{"0", "-0", "1", "-1", "0.5", "1.005", "1.50", "99.99", "-99.999", "1E+2", "1e-2", "32767", "32768",
		"-32769", "2147483648", "9223372036854775807", "9223372036854775808", "12345678901234567890123456789012345678",
		"-0.00000000000000000000000000000000000001", "9.9999999999999999999999999999999999999E+125", "1E-130", "-1E-130",
		"1714557600", "1714557600123", "1714557600.5", "-62135596800", "1E+15", "3.4E+38", "3.5E+38", "1E-46", "1.7976931348623157E+308",
		"86400", "0.000001", "0.0000001", "+5", ".5", "5.", "007"}
	edgeStrings = []string{"", "a", "abcd", "abcde", "äöü€", "x\u0001y", "tab\there", "quote\"back\\slash", "2024-05-01",
		"2024-05-01T10:00:00Z", "2024-05-01T10:00:00.123456+05:30", "2024-05-01 23:59:59", "2024-02-29", "0001-01-01",
		"9999-12-31T23:59:59.999999Z", "6ba7b810-9dad-11d1-80b4-00c04fd430c8", "{6BA7B810-9DAD-11D1-80B4-00C04FD430C8}",
		"42", "-7", "1.5", "ORDER#1", "ORDER#", "\U0001F600", "null", "{}", "[1,2]", "\u2028"}
)

func genValue(r *rand.Rand, depth int) ddbitem.Value {
	k := r.IntN(12)
	if depth > 3 && k >= 5 {
		k = r.IntN(5)
	}
	pick := func(s []string) string { return s[r.IntN(len(s))] }
	switch k {
	case 0, 1:
		return ddbitem.Str(pick(edgeStrings))
	case 2, 3:
		return ddbitem.Num(pick(edgeNumbers))
	case 4:
		if r.IntN(2) == 0 {
			return ddbitem.Bool(r.IntN(2) == 0)
		}
		b := make([]byte, r.IntN(4))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		return ddbitem.Bin(b)
	case 5:
		m := map[string]ddbitem.Value{}
		for n := r.IntN(4); n > 0; n-- {
			m[pick(edgeStrings)] = genValue(r, depth+1)
		}
		return ddbitem.MapOf(m)
	case 6, 7:
		var l []ddbitem.Value
		for n := r.IntN(4); n > 0; n-- {
			l = append(l, genValue(r, depth+1))
		}
		return ddbitem.ListOf(l...)
	case 8:
		return ddbitem.StrSet(pick(edgeStrings), pick(edgeStrings))
	case 9:
		return ddbitem.NumSet(pick(edgeNumbers), pick(edgeNumbers))
	case 10:
		return ddbitem.BinSet([]byte{byte(r.IntN(256))}, []byte{})
	}
	return ddbitem.Null()
}

// genFor mostly draws values meant for a column type (still on the edges),
// sometimes anything, so that a fair share of items is accepted.
func genFor(r *rand.Rand, typ string) ddbitem.Value {
	if r.IntN(8) == 0 {
		return genValue(r, 0)
	}
	pick := func(s []string) string { return s[r.IntN(len(s))] }
	base, array := strings.CutSuffix(typ, "[]")
	elem := func() ddbitem.Value {
		switch {
		case strings.HasPrefix(base, "text"), strings.HasPrefix(base, "varchar"):
			return ddbitem.Str(pick(edgeStrings))
		case base == "bytea":
			return ddbitem.Bin([]byte{byte(r.IntN(256))})
		case base == "boolean":
			return ddbitem.Bool(r.IntN(2) == 0)
		case base == "timestamptz", base == "timestamp", base == "date":
			if r.IntN(2) == 0 {
				return ddbitem.Str(pick(edgeStrings[8:15]))
			}
			return ddbitem.Num(pick(edgeNumbers))
		case base == "uuid":
			return ddbitem.Str(pick(edgeStrings[15:17]))
		case base == "jsonb":
			return genValue(r, 0)
		}
		return ddbitem.Num(pick(edgeNumbers))
	}
	if !array {
		return elem()
	}
	var l []ddbitem.Value
	for n := r.IntN(3); n > 0; n-- {
		l = append(l, elem())
	}
	switch {
	case r.IntN(2) == 0:
		return ddbitem.ListOf(l...)
	case base == "bytea":
		return ddbitem.BinSet([]byte{1}, []byte{byte(r.IntN(256))})
	case base == "text":
		return ddbitem.StrSet(pick(edgeStrings), pick(edgeStrings))
	}
	return ddbitem.NumSet(pick(edgeNumbers), pick(edgeNumbers))
}

// TestAcceptedRowsLoad: whatever Rows accepts, PostgreSQL accepts. A value
// that passed conversion but failed COPY would fail a whole export file in
// the backfill, so random edge values are converted and every accepted
// item's rows are copied, one transaction per item.
func TestAcceptedRowsLoad(t *testing.T) {
	t.Parallel()
	ctx, conn := connect(t)
	types := []string{"text", "varchar(4)", "smallint", "integer", "bigint", "numeric", "numeric(5,2)", "double precision",
		"real", "boolean", "timestamptz", "timestamp", "date", "uuid", "bytea", "jsonb", "text[]", "bigint[]", "numeric(6,1)[]",
		"bytea[]", "date", "timestamptz"}
	var yml strings.Builder
	yml.WriteString("version: 1\nsource: {table: T, key: [id]}\ntables:\n")
	yml.WriteString("  - name: every_type\n    primary_key: [id]\n    columns:\n      - {name: id, from: id, type: integer}\n      - {name: rest, from: \"*\", type: jsonb}\n")
	for i, typ := range types {
		extra := ""
		if i >= 20 {
			extra = ", format: epoch_millis"
		}
		fmt.Fprintf(&yml, "      - {name: c%d, from: a%d, type: %q%s}\n", i, i, typ, extra)
	}
	yml.WriteString("  - name: elements\n    for_each: list\n    primary_key: [id, n]\n    columns:\n      - {name: id, from: $.id, type: integer}\n      - {name: n, from: \"#index\", type: smallint}\n      - {name: whole, from: \"#value\", type: jsonb}\n")
	for i, typ := range types {
		fmt.Fprintf(&yml, "      - {name: c%d, from: \"a%d\", type: %q}\n", i, i, typ)
	}
	yml.WriteString("  - name: shared_elements\n    shared: true\n    for_each: list\n    primary_key: [v]\n    columns:\n      - {name: v, from: \"#value\", type: text}\n")
	m, err := mapping.Parse("accepted.yaml", []byte(yml.String()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, m.DDL()); err != nil {
		t.Fatal(err)
	}
	seed := uint64(1)
	if s, err := strconv.ParseUint(os.Getenv("ACCEPT_SEED"), 10, 64); err == nil {
		seed = s
	}
	r := rand.New(rand.NewPCG(seed, 2))
	accepted, rejected := 0, 0
	items := 3000
	if n, err := strconv.Atoi(os.Getenv("ACCEPT_ITEMS")); err == nil {
		items = n
	}
	if testing.Short() {
		items = 300
	}
	for id := 0; id < items; id++ {
		it := ddbitem.Item{"id": ddbitem.Num(fmt.Sprint(id))}
		for i, typ := range types {
			if r.IntN(6) == 0 {
				it[fmt.Sprintf("a%d", i)] = genFor(r, typ)
			}
		}
		if r.IntN(4) == 0 {
			it[edgeStrings[r.IntN(len(edgeStrings))]] = genValue(r, 0)
		}
		if r.IntN(2) == 0 {
			var l []ddbitem.Value
			for n := r.IntN(3); n > 0; n-- {
				el := map[string]ddbitem.Value{}
				for i, typ := range types {
					if r.IntN(10) == 0 {
						el[fmt.Sprintf("a%d", i)] = genFor(r, typ)
					}
				}
				l = append(l, ddbitem.MapOf(el))
			}
			it["list"] = ddbitem.ListOf(l...)
		}
		rows, rej := m.Rows(it)
		if rej != nil {
			rejected++
			continue
		}
		accepted++
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for ti, tb := range m.Tables {
			if len(rows[ti]) == 0 || tb.Shared {
				continue // shared rows are upserted by the loader, not copied
			}
			names := make([]string, len(tb.Columns))
			for i, c := range tb.Columns {
				names[i] = c.Name
			}
			src := make([][]any, len(rows[ti]))
			for i, row := range rows[ti] {
				src[i] = row
			}
			if _, err := tx.CopyFrom(ctx, tb.Ident, names, pgx.CopyFromRows(src)); err != nil {
				t.Fatalf("item %v was accepted but COPY into %s failed: %v", it, tb.Name, err)
			}
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d items accepted and loaded, %d rejected", accepted, rejected)
	if accepted < items/20 {
		t.Errorf("only %d of %d random items accepted: the generator no longer exercises loading", accepted, items)
	}
}
