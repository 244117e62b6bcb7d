// Package infer proposes a mapping (docs/mapping.md) from a sample of an
// export's items: the key, typed columns for common scalar attributes, child
// tables for lists of maps, jsonb for maps and rare attributes ("*"), one
// table per entity in single-table designs. The proposal is checked against
// its own sample with the mapping engine before it is returned.
package infer

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
	"github.com/ddb2pg/ddb2pg/pkg/mapping"
)

// Options steer the proposal.
type Options struct {
	// SourceTable is the DynamoDB table name (source.table).
	SourceTable string
	// TableName names the root table (single-table designs: the prefix of
	// every entity table). Default: the source table's name in snake_case.
	TableName string
	// Key forces the source key (partition key [, sort key]).
	Key []string
	// Origin describes where the sample came from, for the header comment.
	Origin string
}

// Result is a proposal.
type Result struct {
	// YAML is the proposed mapping file.
	YAML []byte
	// Report describes every attribute seen, for stderr.
	Report string
	// Mapping is YAML parsed.
	Mapping *mapping.Mapping
	// Mapped, Unstorable count the sample items that map, and those rejected
	// only because PostgreSQL cannot store one of their values.
	Mapped, Unstorable int
	// Rejects lists any other rejects left (none expected).
	Rejects []string
}

// KeyError says the key cannot be told from the data: pass Options.Key.
type KeyError struct{ Msg string }

func (e *KeyError) Error() string { return e.Msg }

// Column presence below this share of items goes to the "*" column.
const commonShare = 0.5

// maxChildColumns caps the element attributes of a child table; past it the
// whole element is kept in one jsonb column.
const maxChildColumns = 60

var (
	reTimestamp = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?$`)
	reDate      = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
	rePrefix    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*#`)
)

// stat is what was seen of one attribute.
type stat struct {
	name     string
	present  int // items holding it (NULL included)
	kinds    map[ddbitem.Kind]int
	examples []string

	intOnly, int32Only, int64Only bool // N values
	tsOnly, dateOnly              bool // S values

	listElems map[ddbitem.Kind]int // kinds of L elements
	elemMaps  []ddbitem.Item       // M elements of L values
	used      []string             // table.column using it
}

func (s *stat) nonNull() []ddbitem.Kind {
	var out []ddbitem.Kind
	for k := range s.kinds {
		if k != ddbitem.NULL {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

func (s *stat) kindsText() string {
	var parts []string
	ks := make([]ddbitem.Kind, 0, len(s.kinds))
	for k := range s.kinds {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	for _, k := range ks {
		parts = append(parts, fmt.Sprintf("%s×%d", k, s.kinds[k]))
	}
	return strings.Join(parts, " ")
}

func collect(items []ddbitem.Item, keepElems bool) map[string]*stat {
	stats := map[string]*stat{}
	for _, it := range items {
		for name, v := range it {
			s := stats[name]
			if s == nil {
				s = &stat{name: name, kinds: map[ddbitem.Kind]int{}, intOnly: true, int32Only: true, int64Only: true,
					tsOnly: true, dateOnly: true, listElems: map[ddbitem.Kind]int{}}
				stats[name] = s
			}
			s.present++
			s.kinds[v.Kind]++
			if v.Kind != ddbitem.NULL && len(s.examples) < 3 {
				ex := example(v)
				if !slices.Contains(s.examples, ex) {
					s.examples = append(s.examples, ex)
				}
			}
			switch v.Kind {
			case ddbitem.N:
				i32, i64, isInt := numClass(v.Str)
				s.intOnly = s.intOnly && isInt
				s.int64Only = s.int64Only && i64
				s.int32Only = s.int32Only && i32
			case ddbitem.S:
				s.dateOnly = s.dateOnly && reDate.MatchString(v.Str)
				s.tsOnly = s.tsOnly && (reTimestamp.MatchString(v.Str) || reDate.MatchString(v.Str))
			case ddbitem.L:
				for _, e := range v.List {
					s.listElems[e.Kind]++
					if e.Kind == ddbitem.M && keepElems {
						s.elemMaps = append(s.elemMaps, ddbitem.Item(e.Map))
					}
				}
			}
		}
	}
	return stats
}

func numClass(n string) (i32, i64, isInt bool) {
	d, err := ddbitem.ParseNumber(n)
	if err != nil || !d.IsInteger() {
		return false, false, false
	}
	if d.IsZero() {
		return true, true, true
	}
	if len(d.Digits)+d.Exp > 19 {
		return false, false, true
	}
	s := d.Digits + strings.Repeat("0", d.Exp)
	if d.Neg {
		s = "-" + s
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return false, false, true
	}
	return v >= -1<<31 && v < 1<<31, true, true
}

// example renders a value shortly for comments and the report.
func example(v ddbitem.Value) string {
	var s string
	switch v.Kind {
	case ddbitem.S:
		s = strconv.Quote(clip(v.Str, 32))
	case ddbitem.N:
		s = v.Str
	case ddbitem.BOOL:
		s = strconv.FormatBool(v.Bool)
	default:
		s = clip(v.String(), 48)
	}
	return oneLine(s)
}

func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}

// oneLine keeps s printable on one line (comments, report).
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f || r == utf8.RuneError || r == 0x2028 || r == 0x2029 || r == 0x85 {
			return '?'
		}
		return r
	}, s)
}

func sortedStats(m map[string]*stat) []*stat {
	out := make([]*stat, 0, len(m))
	for _, s := range m {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// ---- the proposal model ----

type cond struct{ attr, op, value string }

type column struct {
	name, from, typ, strip string
	comment                string
	kinds                  []ddbitem.Kind // for downgrades
	key                    bool
	st                     *stat
}

type table struct {
	name     string
	comments []string
	when     []cond
	forEach  string
	pk       []string
	cols     []*column
}

type proposal struct {
	source  string
	key     []string
	keyNote []string
	header  []string
	tables  []*table
}

// Infer proposes a mapping for items.
func Infer(items []ddbitem.Item, opt Options) (*Result, error) {
	if len(items) == 0 {
		return nil, fmt.Errorf("no items to infer a mapping from")
	}
	stats := collect(items, false)
	key, keyNote, err := chooseKey(items, stats, opt.Key)
	if err != nil {
		return nil, err
	}
	src := opt.SourceTable
	if src == "" {
		src = "Table"
	}
	base := opt.TableName
	if base == "" {
		base = snake(src)
	}
	p := &proposal{source: src, key: key, keyNote: keyNote}
	p.header = append(p.header,
		"Proposed by `ddb2pg infer`"+origin(opt.Origin, len(items))+".",
		"Review names, types and required flags before loading; see docs/mapping.md.")
	var conflicts []string
	if st := detectSingleTable(items, stats, key); st != nil {
		p.header = append(p.header, st.note)
		for _, g := range st.groups {
			name := g.name
			if opt.TableName != "" {
				name = opt.TableName + "_" + name
			}
			p.tables = append(p.tables, buildEntity(name, g.items, g.keyCols, g.when,
				fmt.Sprintf("%d of %d sampled items (%s)", len(g.items), len(items), g.desc), stats, &conflicts)...)
		}
	} else {
		var kcs []keyCol
		for _, k := range key {
			kcs = append(kcs, keyCol{attr: k, name: snake(k), typ: scalarType(stats[k]), st: stats[k]})
		}
		p.tables = buildEntity(base, items, kcs, nil, fmt.Sprintf("one row per item (%d sampled)", len(items)), stats, &conflicts)
	}
	res, err := p.check(items)
	if err != nil {
		return nil, err
	}
	res.Report = report(items, stats, p, conflicts, res)
	return res, nil
}

func origin(o string, n int) string {
	if o == "" {
		return fmt.Sprintf(" from %d sampled items", n)
	}
	return fmt.Sprintf(" from %d items sampled from %s", n, o)
}

// ---- key ----

func idLike(name string) bool {
	l := strings.ToLower(name)
	switch l {
	case "id", "pk", "sk", "key", "hashkey", "rangekey", "partitionkey", "sortkey", "gsi1pk", "gsi1sk":
		return true
	}
	return strings.HasSuffix(l, "id") || strings.HasSuffix(l, "_key") || strings.HasSuffix(l, "key")
}

func keyValue(v ddbitem.Value) string {
	switch v.Kind {
	case ddbitem.N:
		if c, err := ddbitem.CanonicalNumber(v.Str); err == nil {
			return "N" + c
		}
		return "N" + v.Str
	case ddbitem.B:
		return "B" + string(v.Bin)
	}
	return "S" + v.Str
}

func chooseKey(items []ddbitem.Item, stats map[string]*stat, forced []string) ([]string, []string, error) {
	n := len(items)
	if len(forced) > 0 {
		if len(forced) > 2 {
			return nil, nil, &KeyError{"--key takes one or two attributes (partition key [, sort key])"}
		}
		var note []string
		for _, k := range forced {
			s := stats[k]
			if s == nil {
				return nil, nil, &KeyError{fmt.Sprintf("--key %s: no sampled item has this attribute", k)}
			}
			if s.present < n {
				note = append(note, fmt.Sprintf("warning: key attribute %s is missing from %d sampled items", k, n-s.present))
			}
		}
		return forced, append([]string{"key: from --key"}, note...), nil
	}
	// Candidates: present in every item, one scalar key type.
	var cands []*stat
	for _, s := range sortedStats(stats) {
		ks := s.nonNull()
		if s.present != n || len(ks) != 1 || s.kinds[ddbitem.NULL] > 0 {
			continue
		}
		if ks[0] != ddbitem.S && ks[0] != ddbitem.N && ks[0] != ddbitem.B {
			continue
		}
		if ks[0] == ddbitem.S && s.tsOnly {
			continue // timestamps are unique by accident, not keys
		}
		cands = append(cands, s)
	}
	distinct := func(attrs ...string) int {
		seen := make(map[string]struct{}, n)
		for _, it := range items {
			k := ""
			for _, a := range attrs {
				k += keyValue(it[a]) + "\x00"
			}
			seen[k] = struct{}{}
		}
		return len(seen)
	}
	var singles []string
	for _, c := range cands {
		if distinct(c.name) == n {
			singles = append(singles, c.name)
		}
	}
	pick := func(opts []string, pref func(string) bool) ([]string, bool) {
		if len(opts) == 1 {
			return opts, true
		}
		var p []string
		for _, o := range opts {
			if pref(o) {
				p = append(p, o)
			}
		}
		if len(p) == 1 {
			return p, true
		}
		return nil, false
	}
	if len(singles) > 0 {
		if k, ok := pick(singles, idLike); ok {
			note := []string{fmt.Sprintf("key: %s is present in every sampled item with unique values", k[0])}
			if len(singles) > 1 {
				note = append(note, fmt.Sprintf("(other unique attributes: %s; pass --key to choose another)", strings.Join(without(singles, k[0]), ", ")))
			}
			return k, note, nil
		}
		return nil, nil, &KeyError{fmt.Sprintf("cannot tell the key from the data: %s are each present in every sampled item with unique values; pass --key", strings.Join(singles, ", "))}
	}
	if len(cands) > 30 {
		cands = cands[:30]
	}
	counts := map[string]int{}
	for _, c := range cands {
		counts[c.name] = distinct(c.name)
	}
	var pairs [][2]string
	for i := range cands {
		for j := i + 1; j < len(cands); j++ {
			a, b := cands[i].name, cands[j].name
			if distinct(a, b) != n {
				continue
			}
			if counts[b] < counts[a] {
				a, b = b, a // the partition key repeats more
			}
			pairs = append(pairs, [2]string{a, b})
		}
	}
	names := make([]string, len(pairs))
	for i, p := range pairs {
		names[i] = p[0] + "," + p[1]
	}
	if k, ok := pick(names, func(s string) bool {
		a, b, _ := strings.Cut(s, ",")
		return idLike(a) && idLike(b)
	}); ok {
		a, b, _ := strings.Cut(k[0], ",")
		return []string{a, b}, []string{fmt.Sprintf("key: %s and %s are present in every sampled item and unique together (no single attribute is)", a, b)}, nil
	}
	if len(pairs) == 0 {
		return nil, nil, &KeyError{"cannot tell the key from the data: no attribute or pair of attributes is present in every sampled item with unique values; pass --key"}
	}
	return nil, nil, &KeyError{fmt.Sprintf("cannot tell the key from the data: the pairs %s are each unique; pass --key", strings.Join(names, "; "))}
}

func without(s []string, x string) []string {
	var out []string
	for _, v := range s {
		if v != x {
			out = append(out, v)
		}
	}
	return out
}

// ---- single-table designs ----

type keyCol struct {
	attr, name, typ, strip string
	st                     *stat
}

type group struct {
	name, desc string
	items      []ddbitem.Item
	when       []cond
	keyCols    []keyCol
}

type singleTable struct {
	note   string
	groups []*group
}

func prefixOf(v ddbitem.Value) string {
	if v.Kind != ddbitem.S {
		return ""
	}
	return rePrefix.FindString(v.Str)
}

func detectSingleTable(items []ddbitem.Item, stats map[string]*stat, key []string) *singleTable {
	pk := key[0]
	pkUsable := true
	for _, it := range items {
		if prefixOf(it[pk]) == "" {
			pkUsable = false
			break
		}
	}
	sk := ""
	skUsable := false
	if len(key) == 2 {
		sk = key[1]
		skUsable = true
		somePrefixed := false
		consts := map[string]bool{}
		for _, it := range items {
			v := it[sk]
			if v.Kind != ddbitem.S {
				skUsable = false
				break
			}
			if prefixOf(v) != "" {
				somePrefixed = true
			} else {
				consts[v.Str] = true
			}
		}
		if len(consts) > 10 || (!somePrefixed && !pkUsable) {
			skUsable = false
		}
	}
	if !pkUsable && !skUsable {
		return nil
	}
	type gk struct {
		pkp, skl string
		skConst  bool
	}
	byKey := map[gk]*group{}
	var order []gk
	for _, it := range items {
		var k gk
		if pkUsable {
			k.pkp = prefixOf(it[pk])
		}
		if skUsable {
			if p := prefixOf(it[sk]); p != "" {
				k.skl = p
			} else {
				k.skl, k.skConst = it[sk].Str, true
			}
		}
		g := byKey[k]
		if g == nil {
			g = &group{}
			byKey[k] = g
			order = append(order, k)
		}
		g.items = append(g.items, it)
	}
	// names
	base := func(k gk) string {
		switch {
		case k.skl != "" && !k.skConst:
			return snake(strings.TrimSuffix(k.skl, "#"))
		case k.skl != "" && k.pkp != "":
			return snake(strings.TrimSuffix(k.pkp, "#")) + "_" + snake(k.skl)
		case k.skl != "":
			return snake(k.skl)
		}
		return snake(strings.TrimSuffix(k.pkp, "#"))
	}
	seen := map[string]int{}
	for _, k := range order {
		seen[base(k)]++
	}
	sort.SliceStable(order, func(i, j int) bool {
		a, b := byKey[order[i]], byKey[order[j]]
		if len(a.items) != len(b.items) {
			return len(a.items) > len(b.items)
		}
		return base(order[i]) < base(order[j])
	})
	names := newNamer()
	var descs []string
	for _, k := range order {
		g := byKey[k]
		name := base(k)
		if seen[name] > 1 && k.pkp != "" {
			name = snake(strings.TrimSuffix(k.pkp, "#")) + "_" + name
		}
		g.name = names.take(name)
		var d []string
		if k.pkp != "" {
			g.when = append(g.when, cond{pk, "begins_with", k.pkp})
			d = append(d, pk+"="+k.pkp+"…")
			g.keyCols = append(g.keyCols, keyCol{attr: pk, name: snake(strings.TrimSuffix(k.pkp, "#")) + "_id", typ: "text", strip: k.pkp})
		} else {
			g.keyCols = append(g.keyCols, keyCol{attr: pk, name: snake(pk), typ: scalarType(stats[pk]), st: stats[pk]})
		}
		switch {
		case sk == "":
		case !skUsable:
			g.keyCols = append(g.keyCols, keyCol{attr: sk, name: snake(sk), typ: scalarType(stats[sk]), st: stats[sk]})
		case k.skConst:
			g.when = append(g.when, cond{sk, "equals", k.skl})
			d = append(d, sk+"="+k.skl)
		default:
			g.when = append(g.when, cond{sk, "begins_with", k.skl})
			d = append(d, sk+"="+k.skl+"…")
			g.keyCols = append(g.keyCols, keyCol{attr: sk, name: snake(strings.TrimSuffix(k.skl, "#")) + "_id", typ: "text", strip: k.skl})
		}
		g.desc = strings.Join(d, ", ")
		descs = append(descs, fmt.Sprintf("%s (%d)", g.desc, len(g.items)))
	}
	return &singleTable{
		note: "Single-table design: key values carry PREFIX# patterns, so each entity gets its own tables, selected with `when` and keyed by the key values without their prefix: " + strings.Join(descs, "; ") + ".",
		groups: func() []*group {
			out := make([]*group, len(order))
			for i, k := range order {
				out[i] = byKey[k]
			}
			return out
		}(),
	}
}

// ---- tables ----

// scalarType is the key column type for a key attribute.
func scalarType(s *stat) string {
	if s == nil {
		return "text"
	}
	ks := s.nonNull()
	if len(ks) == 1 {
		switch ks[0] {
		case ddbitem.N:
			if s.int64Only {
				return "bigint"
			}
			return "numeric"
		case ddbitem.B:
			return "bytea"
		}
	}
	return "text"
}

// typeFor chooses a column type from what was seen; conflict is set when the
// attribute had several types.
func typeFor(s *stat) (typ, conflict string) {
	ks := s.nonNull()
	if len(ks) == 0 {
		return "jsonb", ""
	}
	if len(ks) > 1 {
		var parts []string
		for _, k := range ks {
			parts = append(parts, fmt.Sprintf("%s in %d", k, s.kinds[k]))
		}
		if len(ks) == 2 && ks[0] == ddbitem.S && ks[1] == ddbitem.N {
			return "text", fmt.Sprintf("%s is %s values: mapped as text", s.name, strings.Join(parts, " and "))
		}
		return "jsonb", fmt.Sprintf("%s is %s values: mapped as jsonb", s.name, strings.Join(parts, " and "))
	}
	switch ks[0] {
	case ddbitem.N:
		switch {
		case s.int32Only:
			return "integer", ""
		case s.int64Only:
			return "bigint", ""
		}
		return "numeric", ""
	case ddbitem.S:
		switch {
		case s.dateOnly:
			return "date", ""
		case s.tsOnly:
			return "timestamptz", ""
		}
		return "text", ""
	case ddbitem.BOOL:
		return "boolean", ""
	case ddbitem.B:
		return "bytea", ""
	case ddbitem.SS:
		return "text[]", ""
	case ddbitem.NS:
		return "numeric[]", ""
	case ddbitem.BS:
		return "bytea[]", ""
	case ddbitem.L:
		el := map[ddbitem.Kind]bool{}
		for k := range s.listElems {
			el[k] = true
		}
		if len(el) == 1 && el[ddbitem.S] {
			return "text[]", ""
		}
		if len(el) == 1 && el[ddbitem.N] {
			return "numeric[]", ""
		}
	}
	return "jsonb", ""
}

// childList reports whether s is a list of maps worth a child table.
func childList(s *stat) bool {
	ks := s.nonNull()
	return len(ks) == 1 && ks[0] == ddbitem.L && s.listElems[ddbitem.M] > 0 && len(s.listElems) == 1
}

func comment(s *stat, n int, unit string) string {
	pct := 100 * float64(s.present) / float64(n)
	c := fmt.Sprintf("%s; in %s of %d %s", s.kindsText(), fmtPct(pct), n, unit)
	if len(s.examples) > 0 {
		c += ", e.g. " + strings.Join(s.examples[:min(2, len(s.examples))], ", ")
	}
	return c
}

func fmtPct(p float64) string {
	if p == 100 || p == 0 {
		return fmt.Sprintf("%.0f%%", p)
	}
	return fmt.Sprintf("%.1f%%", p)
}

// buildEntity proposes the root table of an entity (items) and a child
// table per list-of-maps attribute.
func buildEntity(name string, items []ddbitem.Item, keys []keyCol, when []cond, desc string, global map[string]*stat, conflicts *[]string) []*table {
	n := len(items)
	stats := collect(items, true)
	root := &table{name: name, when: when, comments: []string{desc}}
	cols := newNamer()
	keyAttr := map[string]bool{}
	var keyCols []*column
	for _, k := range keys {
		keyAttr[k.attr] = true
		c := &column{name: cols.take(k.name), from: pathOf(k.attr, false), typ: k.typ, strip: k.strip, key: true}
		if s := stats[k.attr]; s != nil {
			c.comment = "key; " + comment(s, n, "items")
			use(global, k.attr, name+"."+c.name+" (key)")
		}
		root.cols = append(root.cols, c)
		root.pk = append(root.pk, c.name)
		keyCols = append(keyCols, c)
	}
	for _, w := range when {
		if w.op == "equals" && !keyAttr[w.attr] {
			keyAttr[w.attr] = true // pinned: the same value in every row
			root.comments = append(root.comments, fmt.Sprintf("%s needs no column: `when` pins it to %s", w.attr, w.value))
		}
	}
	var children []*table
	var rare []string
	for _, s := range sortedStats(stats) {
		if keyAttr[s.name] {
			continue
		}
		if childList(s) && float64(s.present) >= 1 {
			children = append(children, buildChild(root, keyCols, keys, s, conflicts))
			use(global, s.name, children[len(children)-1].name+" (for_each)")
			continue
		}
		if float64(s.present) < commonShare*float64(n) {
			rare = append(rare, s.name)
			continue
		}
		typ, conflict := typeFor(s)
		if conflict != "" {
			*conflicts = append(*conflicts, name+": "+conflict)
		}
		c := &column{name: cols.take(snake(s.name)), from: pathOf(s.name, false), typ: typ, kinds: s.nonNull(), comment: comment(s, n, "items"), st: s}
		if conflict != "" {
			c.comment += "; conflict: " + conflict
		}
		use(global, s.name, name+"."+c.name)
		root.cols = append(root.cols, c)
	}
	star := &column{name: cols.take("attrs"), from: "*", typ: "jsonb", comment: "every attribute not mapped above"}
	if len(rare) > 0 {
		star.comment = "every attribute not mapped above, e.g. the rare " + clip(strings.Join(rare, ", "), 120)
		for _, r := range rare {
			use(global, r, name+"."+star.name+" (*)")
		}
	}
	root.cols = append(root.cols, star)
	return append([]*table{root}, children...)
}

func buildChild(parent *table, keyCols []*column, keys []keyCol, s *stat, conflicts *[]string) *table {
	name := parent.name + "_" + snake(s.name)
	if len(name) > 63 {
		name = truncate(name, 63)
	}
	t := &table{name: name, when: parent.when, forEach: pathOf(s.name, false),
		comments: []string{fmt.Sprintf("one row per element of %s (%d elements in %d items)", s.name, len(s.elemMaps), s.present)}}
	cols := newNamer()
	for i, kc := range keyCols {
		c := &column{name: cols.take(kc.name), from: pathOf(keys[i].attr, true), typ: kc.typ, strip: kc.strip, key: true, comment: "the item's key"}
		t.cols = append(t.cols, c)
		t.pk = append(t.pk, c.name)
	}
	line := &column{name: cols.take("line"), from: "#index", typ: "integer", comment: "0-based position in the list"}
	t.cols = append(t.cols, line)
	t.pk = append(t.pk, line.name)
	es := collect(s.elemMaps, false)
	all := sortedStats(es)
	if len(all) > maxChildColumns {
		t.cols = append(t.cols, &column{name: cols.take("element"), from: "#value", typ: "jsonb",
			comment: fmt.Sprintf("the whole element: %d different attributes seen", len(all))})
		return t
	}
	for _, e := range all {
		typ, conflict := typeFor(e)
		if conflict != "" {
			*conflicts = append(*conflicts, name+": "+conflict)
		}
		c := &column{name: cols.take(snake(e.name)), from: pathOf(e.name, false), typ: typ, kinds: e.nonNull(), comment: comment(e, len(s.elemMaps), "elements"), st: e}
		if conflict != "" {
			c.comment += "; conflict: " + conflict
		}
		t.cols = append(t.cols, c)
	}
	return t
}

// pathOf writes an attribute name as a path, quoting it when needed.
func pathOf(attr string, root bool) string {
	plain := attr != "" && attr[0] != '$' && attr[0] != '#' && attr != "*"
	for i := 0; plain && i < len(attr); i++ {
		if attr[i] <= ' ' || strings.IndexByte(`.[]"`, attr[i]) >= 0 {
			plain = false
		}
	}
	p := attr
	if !plain {
		p = `["` + jsonEscape(attr) + `"]`
	}
	if root {
		return "$." + p
	}
	return p
}

func jsonEscape(s string) string {
	q := strconv.QuoteToASCII(s) // Go escapes; make them JSON
	var sb strings.Builder
	for _, r := range s {
		switch {
		case r == '"':
			sb.WriteString(`\"`)
		case r == '\\':
			sb.WriteString(`\\`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&sb, `\u%04x`, r)
		default:
			sb.WriteRune(r)
		}
	}
	_ = q
	return sb.String()
}

// ---- names ----

// snake turns an attribute name into a lower-case identifier.
func snake(s string) string {
	var sb strings.Builder
	rs := []rune(s)
	prevUnderscore := true
	for i, r := range rs {
		switch {
		case r >= 'A' && r <= 'Z':
			lowerBefore := i > 0 && ((rs[i-1] >= 'a' && rs[i-1] <= 'z') || (rs[i-1] >= '0' && rs[i-1] <= '9'))
			upperRun := i > 0 && rs[i-1] >= 'A' && rs[i-1] <= 'Z' && i+1 < len(rs) && rs[i+1] >= 'a' && rs[i+1] <= 'z'
			if (lowerBefore || upperRun) && !prevUnderscore {
				sb.WriteByte('_')
			}
			sb.WriteRune(r + ('a' - 'A'))
			prevUnderscore = false
		case (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9'):
			sb.WriteRune(r)
			prevUnderscore = false
		default:
			if !prevUnderscore {
				sb.WriteByte('_')
				prevUnderscore = true
			}
		}
	}
	out := strings.TrimRight(sb.String(), "_")
	if out == "" {
		out = "col"
	} else if out[0] >= '0' && out[0] <= '9' {
		out = "c_" + out
	}
	return truncate(out, 63)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.TrimRight(s[:n], "_")
}

type namer map[string]bool

func newNamer() namer { return namer{} }

// take returns name, or name_2, name_3 ... when taken, within 63 bytes.
func (nm namer) take(name string) string {
	cand := name
	for i := 2; nm[cand]; i++ {
		suf := "_" + strconv.Itoa(i)
		cand = truncate(name, 63-len(suf)) + suf
	}
	nm[cand] = true
	return cand
}

func use(global map[string]*stat, attr, where string) {
	if s := global[attr]; s != nil {
		s.used = append(s.used, where)
	}
}
