package mapping

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
)

// Rows holds an item's rows: Rows[i] are the rows for Mapping.Tables[i]
// (none when the table's `when` does not match or its for_each list is
// missing or empty).
type Rows [][]Row

// Row is one row's values aligned with Table.Columns, ready for pgx (COPY
// and query parameters alike). SQL NULL is nil. By column type:
//
//	text, varchar       string
//	smallint            int16
//	integer             int32
//	bigint              int64
//	numeric             pgtype.Numeric (exact; numeric(p,s) carries scale s)
//	double precision    float64
//	real                float32
//	boolean             bool
//	timestamptz         time.Time (UTC)
//	timestamp           time.Time (UTC wall clock)
//	date                time.Time (midnight UTC)
//	uuid                pgtype.UUID
//	bytea               []byte (never nil)
//	jsonb               json.RawMessage (JSON text)
//	text[]              []string
//	bigint[]            []int64
//	numeric[]           []pgtype.Numeric
//	bytea[]             [][]byte
//
// Values may share memory with the item (strings, binaries) and with each
// other's backing arrays; treat them as read-only.
type Row []any

// itemConv is the state of converting one item.
type itemConv struct {
	m       *Mapping
	item    ddbitem.Item
	s       scratch
	matched []bool
	star    json.RawMessage
	starErr *Reject
	starOK  bool
}

// Rows converts an item into the rows of every table. Either every row of
// every table converts, or the item is rejected whole with the first
// problem found. An item that no table's `when` matches gives no rows at
// all. Rows is safe for concurrent use.
func (m *Mapping) Rows(item ddbitem.Item) (Rows, *Reject) {
	var matchedBuf [16]bool
	var listsBuf [16][]ddbitem.Value
	matched, lists := matchedBuf[:], listsBuf[:]
	if len(m.Tables) > len(matchedBuf) {
		matched, lists = make([]bool, len(m.Tables)), make([][]ddbitem.Value, len(m.Tables))
	}
	cv := itemConv{m: m, item: item, matched: matched}
	nRows, nVals, nNums := 0, 0, 0
	for ti, t := range m.Tables {
		if !t.matches(item) {
			continue
		}
		matched[ti] = true
		if t.ForEach == "" {
			nRows++
			nVals += len(t.Columns)
			nNums += t.numerics
			continue
		}
		v, found, rerr := resolveItem(item, t.forEach.steps)
		if rerr != nil {
			return nil, t.pathReject(nil, t.forEach, -1, item, rerr)
		}
		if !found {
			continue
		}
		if v.Kind != ddbitem.L {
			return nil, &Reject{Table: t.Name, Path: t.forEach.display(), Raw: v.String(),
				Reason: "for_each needs a list (L), got " + v.Kind.String()}
		}
		lists[ti] = v.List
		nRows += len(v.List)
		nVals += len(v.List) * len(t.Columns)
		nNums += len(v.List) * t.numerics
	}
	if nNums > 0 {
		cv.s.ints = make([]big.Int, nNums)
		cv.s.words = make([]big.Word, 2*nNums)
	}
	if m.jsonb {
		cv.s.buf = make([]byte, 0, 512)
	}
	out := make(Rows, len(m.Tables))
	rowArena := make([]Row, nRows)
	valArena := make([]any, nVals)
	for ti, t := range m.Tables {
		if !matched[ti] {
			continue
		}
		nc := len(t.Columns)
		if t.ForEach == "" {
			row := Row(valArena[:nc:nc])
			valArena = valArena[nc:]
			if rej := cv.fill(t, row, ddbitem.Value{}, -1); rej != nil {
				return nil, rej
			}
			rowArena[0] = row
			out[ti] = rowArena[:1:1]
			rowArena = rowArena[1:]
			continue
		}
		list := lists[ti]
		if len(list) == 0 {
			continue
		}
		rows := rowArena[:len(list):len(list)]
		rowArena = rowArena[len(list):]
		for i, elem := range list {
			row := Row(valArena[:nc:nc])
			valArena = valArena[nc:]
			if rej := cv.fill(t, row, elem, i); rej != nil {
				return nil, rej
			}
			rows[i] = row
		}
		if len(rows) > 1 && !t.pkHasIndex {
			var rej *Reject
			if rows, rej = t.dedupe(rows, list); rej != nil {
				return nil, rej
			}
		}
		out[ti] = rows
	}
	return out, nil
}

// matches evaluates the table's `when` against the item.
func (t *Table) matches(item ddbitem.Item) bool {
	if t.When == nil {
		return true
	}
	for i := range t.When.Conditions {
		if !t.When.Conditions[i].holds(item) {
			return false
		}
	}
	return true
}

// holds evaluates one condition. A path that runs into a value of the wrong
// type simply does not match: filters route items, they do not reject them.
func (c *Condition) holds(item ddbitem.Item) bool {
	v, found, rerr := resolveItem(item, c.path.steps)
	if rerr != nil {
		found = false
	}
	switch c.Op {
	case OpExists:
		return found
	case OpNotExists:
		return !found
	case OpBeginsWith:
		return found && v.Kind == ddbitem.S && strings.HasPrefix(v.Str, c.Value)
	case OpEquals:
		if !found {
			return false
		}
		switch v.Kind {
		case ddbitem.S:
			return v.Str == c.Value
		case ddbitem.N:
			if c.num == nil {
				return false
			}
			n, ok := parseNumber(v.Str)
			return ok && n.cmp(c.num) == 0
		case ddbitem.BOOL:
			return strconv.FormatBool(v.Bool) == c.Value
		}
	}
	return false
}

// fill computes one row. elem and idx are the for_each element and its
// position (idx -1 for a table without for_each).
func (cv *itemConv) fill(t *Table, row Row, elem ddbitem.Value, idx int) *Reject {
	for ci, c := range t.Columns {
		var v ddbitem.Value
		switch c.src {
		case srcStar:
			star, rej := cv.starObject(t, c)
			if rej != nil {
				return rej
			}
			row[ci] = star
			continue
		case srcIndex:
			row[ci] = indexValue(c, idx)
			if row[ci] == nil {
				return &Reject{Table: t.Name, Column: c.Name, Path: t.forEach.display() + "[" + strconv.Itoa(idx) + "]",
					Reason: "position " + strconv.Itoa(idx) + " is out of range for " + c.Type.Name}
			}
			continue
		case srcValue:
			v = elem
		case srcPath:
			var found bool
			var rerr *resolveError
			if idx >= 0 && !c.path.root {
				v, found, rerr = resolve(elem, c.path.steps)
			} else {
				v, found, rerr = resolveItem(cv.item, c.path.steps)
			}
			if rerr != nil {
				return t.pathReject(c, c.path, idx, cv.item, rerr)
			}
			if !found {
				v = ddbitem.Value{}
			}
		}
		if v.IsNull() {
			if c.notNull {
				reason := "required value is missing or NULL"
				if !c.Required {
					reason = "primary key column needs a value; it is missing or NULL"
				}
				return &Reject{Table: t.Name, Column: c.Name, Path: t.valuePath(c, idx), Raw: rawOf(v), Reason: reason}
			}
			row[ci] = nil
			continue
		}
		val, bad := convert(c, v, &cv.s)
		if bad != nil {
			r := &Reject{Table: t.Name, Column: c.Name, Path: t.valuePath(c, idx), Raw: v.String(), Reason: bad.reason}
			if bad.inner {
				r.Raw = bad.v.String()
				r.Reason = "inside the " + v.Kind.String() + " value: " + bad.reason
			}
			return r
		}
		row[ci] = val
	}
	return nil
}

func rawOf(v ddbitem.Value) string {
	if v.Kind == ddbitem.KindInvalid {
		return ""
	}
	return v.String()
}

// indexValue converts a for_each position for a #index column (nil: out of
// range for the type, e.g. position 40000 for smallint).
func indexValue(c *Column, idx int) any {
	switch c.Type.Kind {
	case KindInt2:
		if idx > math.MaxInt16 {
			return nil
		}
		return int16(idx)
	case KindInt4:
		return int32(idx)
	case KindInt8:
		return int64(idx)
	case KindNumeric:
		n, _ := parseNumber(strconv.Itoa(idx))
		v, r := n.numeric(&c.Type, nil)
		if r != "" {
			return nil
		}
		return v
	}
	return strconv.Itoa(idx)
}

// starObject builds the "*" object once per item: every root attribute
// that no table producing rows for this item maps. Attributes mapped only
// by tables whose `when` does not match this item are kept, so nothing is
// lost in a single-table design.
func (cv *itemConv) starObject(t *Table, c *Column) (json.RawMessage, *Reject) {
	if cv.starOK {
		return cv.star, nil
	}
	if cv.starErr != nil {
		return nil, cv.starErr
	}
	start := len(cv.s.buf)
	b, bad := appendStarObject(cv.s.buf, cv.item, cv.m.attrUsers, cv.matched)
	cv.s.buf = b
	if bad != nil {
		// Name the attribute: try the unmapped ones one by one (failure
		// path only).
		r := &Reject{Table: t.Name, Column: c.Name, Path: "*", Raw: bad.v.String(), Reason: bad.reason}
		names := slices.Sorted(maps.Keys(cv.item))
		for _, name := range names {
			v := cv.item[name]
			if mapped(cv.m.attrUsers, cv.matched, name) {
				continue
			}
			if _, r1 := appendJSONString(nil, name); r1 != "" {
				r.Path, r.Raw, r.Reason = "*", strconv.Quote(name), "attribute name "+r1
				break
			}
			if _, b := appendJSON(nil, v); b != nil {
				r.Path, r.Raw, r.Reason = path{steps: []step{{name: name}}}.display(), v.String(), b.reason
				if b.inner {
					r.Raw = b.v.String()
					r.Reason = "inside the " + v.Kind.String() + " value: " + b.reason
				}
				break
			}
		}
		cv.starErr = r
		return nil, cv.starErr
	}
	cv.star = json.RawMessage(b[start:len(b):len(b)])
	cv.starOK = true
	return cv.star, nil
}

// mapped reports whether a table producing rows for the item (matched)
// maps attr.
func mapped(attrUsers map[string][]int, matched []bool, attr string) bool {
	for _, ti := range attrUsers[attr] {
		if matched[ti] {
			return true
		}
	}
	return false
}

// valuePath renders where a column's value is in the item, e.g.
// "items[2].price".
func (t *Table) valuePath(c *Column, idx int) string {
	switch {
	case c.src == srcStar:
		return "*"
	case idx < 0 || (c.src == srcPath && c.path.root):
		return c.path.display()
	}
	b := []byte(t.forEach.display())
	b = append(b, '[')
	b = strconv.AppendInt(b, int64(idx), 10)
	b = append(b, ']')
	if c.src == srcPath {
		b = appendSteps(b, c.path.steps, false)
	}
	return string(b)
}

// display renders a path as a location in the item (no "$.").
func (p path) display() string { return string(appendSteps(nil, p.steps, true)) }

// pathReject reports a path that went through a value of the wrong type.
func (t *Table) pathReject(c *Column, p path, idx int, item ddbitem.Item, rerr *resolveError) *Reject {
	r := &Reject{Table: t.Name}
	loc := p.display()
	if c != nil {
		r.Column = c.Name
		loc = t.valuePath(c, idx)
	}
	r.Path = loc
	prefix := path{steps: p.steps[:rerr.at]}
	want := "a map (M)"
	if p.steps[rerr.at].isIndex {
		want = "a list (L)"
	}
	r.Reason = fmt.Sprintf("%s is %s, not %s", prefixName(prefix, t, c, idx), rerr.got, want)
	return r
}

func prefixName(p path, t *Table, c *Column, idx int) string {
	if c != nil && idx >= 0 && !c.path.root {
		b := []byte(t.forEach.display())
		b = append(b, '[')
		b = strconv.AppendInt(b, int64(idx), 10)
		b = append(b, ']')
		return string(appendSteps(b, p.steps, false))
	}
	if len(p.steps) == 0 {
		return "the item"
	}
	return p.display()
}

// dedupe handles rows of one item with the same primary key: a shared
// table keeps the last (later elements win, as later items do); a
// non-shared table cannot hold both, so the item is rejected.
func (t *Table) dedupe(rows []Row, list []ddbitem.Value) ([]Row, *Reject) {
	keys := make([]string, len(rows))
	for i, r := range rows {
		keys[i] = t.pkString(r)
	}
	var seen map[string]int
	if len(rows) > 8 {
		seen = make(map[string]int, len(rows))
	}
	find := func(i int) int {
		if seen != nil {
			if j, ok := seen[keys[i]]; ok {
				return j
			}
			seen[keys[i]] = i
			return -1
		}
		for j := 0; j < i; j++ {
			if keys[j] == keys[i] {
				return j
			}
		}
		return -1
	}
	drop := make([]bool, len(rows))
	dups := 0
	for i := range rows {
		j := find(i)
		if j < 0 {
			continue
		}
		if !t.Shared {
			return nil, &Reject{Table: t.Name, Path: t.forEach.display() + "[" + strconv.Itoa(i) + "]", Raw: list[i].String(),
				Reason: fmt.Sprintf("elements %d and %d give the same primary key (%s); add a \"#index\" column to the primary key or mark the table shared",
					j, i, strings.Join(t.PrimaryKey, ", "))}
		}
		drop[j] = true
		dups++
		if seen != nil {
			seen[keys[i]] = i
		}
	}
	if dups == 0 {
		return rows, nil
	}
	out := rows[:0]
	for i, r := range rows {
		if !drop[i] {
			out = append(out, r)
		}
	}
	return out[:len(out):len(out)], nil
}

// pkString renders a row's primary key values so equal keys (as
// PostgreSQL compares them) give equal strings.
func (t *Table) pkString(r Row) string {
	var b []byte
	for _, ci := range t.PKIndexes {
		b = appendKeyPart(b, r[ci])
		b = append(b, 0)
	}
	return string(b)
}

func appendKeyPart(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, 'N')
	case string:
		return append(append(b, 's'), x...)
	case int16:
		return strconv.AppendInt(append(b, 'i'), int64(x), 10)
	case int32:
		return strconv.AppendInt(append(b, 'i'), int64(x), 10)
	case int64:
		return strconv.AppendInt(append(b, 'i'), x, 10)
	case pgtype.Numeric:
		// Normalise so 1.5 and 1.50 compare equal, as in PostgreSQL.
		n, _ := parseNumber(x.Int.String() + "E" + strconv.Itoa(int(x.Exp)))
		return append(append(b, 'n'), n.canonical()...)
	case float64:
		if x == 0 {
			x = 0 // -0 equals 0
		}
		return strconv.AppendFloat(append(b, 'f'), x, 'g', -1, 64)
	case float32:
		if x == 0 {
			x = 0
		}
		return strconv.AppendFloat(append(b, 'f'), float64(x), 'g', -1, 32)
	case bool:
		return strconv.AppendBool(append(b, 'b'), x)
	case time.Time:
		return strconv.AppendInt(append(b, 't'), x.UnixMicro(), 10)
	case pgtype.UUID:
		return append(append(b, 'u'), x.Bytes[:]...)
	case []byte:
		return append(append(b, 'x'), x...)
	}
	return fmt.Appendf(append(b, '?'), "%v", v)
}

// KeyValues returns the values of t's key columns (aligned with
// t.KeyColumns) for the item with the given key attributes — an item or
// just its key, e.g. a stream REMOVE's Keys. They are what
// "DELETE FROM t WHERE key columns = ..." needs to remove the item's rows.
//
// ok is false when an item with this key can have no rows in t: t is
// shared, a `when` condition on a key attribute fails, or a key value does
// not convert (such an item would have been rejected). err is set only
// when a key attribute is missing or not S, N or B.
func (m *Mapping) KeyValues(t *Table, key ddbitem.Item) (vals []any, ok bool, err error) {
	for _, a := range m.Source.Key {
		switch v := key[a]; v.Kind {
		case ddbitem.S, ddbitem.N, ddbitem.B:
		default:
			// ddbitem.KeyOf words the problem (missing, wrong type).
			_, err := ddbitem.KeyOf(key, m.Source.Key)
			return nil, false, err
		}
	}
	if t.Shared {
		return nil, false, nil
	}
	if t.When != nil {
		for i := range t.When.Conditions {
			c := &t.When.Conditions[i]
			if len(c.path.steps) == 1 && isKeyAttr(m.Source.Key, c.path.steps[0].name) && !c.holds(key) {
				return nil, false, nil
			}
		}
	}
	vals = make([]any, len(t.KeyColumns))
	for i, ci := range t.KeyColumns {
		c := t.Columns[ci]
		v := key[t.KeyAttrs[i]]
		val, bad := convert(c, v, nil)
		if bad != nil {
			return nil, false, nil
		}
		vals[i] = val
	}
	return vals, true, nil
}

func isKeyAttr(keys []string, name string) bool {
	for _, k := range keys {
		if k == name {
			return true
		}
	}
	return false
}

// KeyItem turns a canonical key back into an item holding just the key
// attributes, for KeyValues when only the stored key is known.
func (m *Mapping) KeyItem(k ddbitem.Key) (ddbitem.Item, error) {
	var parts []map[string]string
	if err := json.Unmarshal([]byte(k), &parts); err != nil {
		return nil, fmt.Errorf("parsing key %s: %w", k, err)
	}
	if len(parts) != len(m.Source.Key) {
		return nil, fmt.Errorf("key %s has %d attributes, the source key %d", k, len(parts), len(m.Source.Key))
	}
	item := make(ddbitem.Item, len(parts))
	for i, p := range parts {
		if len(p) != 1 {
			return nil, fmt.Errorf("key %s: attribute %d is not a single typed value", k, i)
		}
		for typ, s := range p {
			switch typ {
			case "S":
				item[m.Source.Key[i]] = ddbitem.Str(s)
			case "N":
				item[m.Source.Key[i]] = ddbitem.Num(s)
			case "B":
				b, err := base64.StdEncoding.DecodeString(s)
				if err != nil {
					return nil, fmt.Errorf("key %s: %w", k, err)
				}
				item[m.Source.Key[i]] = ddbitem.Bin(b)
			default:
				return nil, fmt.Errorf("key %s: type %q cannot be a key", k, typ)
			}
		}
	}
	return item, nil
}
