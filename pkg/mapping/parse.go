package mapping

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"gopkg.in/yaml.v3"
)

// maxNodes bounds the YAML nodes a mapping may expand to (aliases included),
// so a hostile file cannot make validation explode.
const maxNodes = 100_000

// maxIdent is PostgreSQL's identifier limit (NAMEDATALEN-1): longer names
// would be truncated silently by the server.
const maxIdent = 63

type parser struct {
	file  string
	errs  []*Error
	lines []string // the file's text, for hints about YAML's special characters
}

func (p *parser) errAt(n *yaml.Node, format string, args ...any) {
	e := &Error{File: p.file, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	p.errs = append(p.errs, e)
}

// errAtOffset points into a scalar's text, e.g. at the bad part of a path.
func (p *parser) errAtOffset(n *yaml.Node, off int, format string, args ...any) {
	p.errAt(n, format, args...)
	e := p.errs[len(p.errs)-1]
	if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
		off++
	}
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
		e.Column += off
	}
}

func (p *parser) joined() error {
	sort.SliceStable(p.errs, func(i, j int) bool {
		a, b := p.errs[i], p.errs[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	errs := make([]error, len(p.errs))
	for i, e := range p.errs {
		errs[i] = e
	}
	return errors.Join(errs...)
}

var yamlLine = regexp.MustCompile(`^line (\d+): `)

// yamlParserErrors are yaml.v3's parser (not scanner) messages: for these it
// reports a 0-based line (of the enclosing collection, or of the problem).
var yamlParserErrors = []string{"did not find expected key", "did not find expected ',' or '}'",
	"did not find expected ',' or ']'", "did not find expected '-' indicator", "did not find expected node content",
	"did not find expected <document start>"}

func (p *parser) yamlError(err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	e := &Error{File: p.file}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
		for _, pe := range yamlParserErrors {
			if strings.HasPrefix(msg, pe) {
				e.Line++
				break
			}
		}
	}
	e.Msg = "invalid YAML: " + msg
	p.errs = append(p.errs, e)
	p.unquotedHints()
}

// unquotedValue finds a from value that YAML does not read as text: an
// unquoted * (an alias) or #index / #value (a comment), as in from: *.
var unquotedValue = regexp.MustCompile(`^(?:[ \t]*-)?(?:[^#"']*[\s{,])?(from):[ \t]+(\*|#index|#value)(?:$|[\s,}])`)

// unquotedHints adds, for a file YAML could not parse, an error at every
// line with an unquoted * or #-value, saying to quote it: the YAML error
// itself is often reported a line later and in YAML's own terms.
func (p *parser) unquotedHints() {
	for i, line := range p.lines {
		m := unquotedValue.FindStringSubmatchIndex(line)
		if m == nil {
			continue
		}
		key, val := line[m[2]:m[3]], line[m[4]:m[5]]
		p.errs = append(p.errs, &Error{File: p.file, Line: i + 1, Column: m[4] + 1, Msg: unquotedMsg(key, val)})
	}
}

func unquotedMsg(key, val string) string {
	what := "the start of an alias"
	if val[0] == '#' {
		what = "the start of a comment"
	}
	return fmt.Sprintf("%s: %s is not quoted, and YAML reads %c as %s: write %s: %q", key, val, val[0], what, key, val)
}

// decode reads exactly one YAML document. yaml.v3 has panicked on malformed
// input in the past; a panic becomes an error, never a crash.
func (p *parser) decode(data []byte) (root *yaml.Node) {
	defer func() {
		if r := recover(); r != nil {
			p.errs = append(p.errs, &Error{File: p.file, Msg: fmt.Sprintf("invalid YAML: %v", r)})
			root = nil
		}
	}()
	p.lines = strings.Split(string(data), "\n")
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			p.errs = append(p.errs, &Error{File: p.file, Line: 1, Msg: "empty mapping file"})
		} else {
			p.yamlError(err)
		}
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err != io.EOF {
		if err != nil {
			p.yamlError(err)
		} else {
			p.errAt(&extra, "a mapping file holds one YAML document")
		}
		return nil
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		p.errs = append(p.errs, &Error{File: p.file, Line: 1, Msg: "empty mapping file"})
		return nil
	}
	if countNodes(doc.Content[0], 0) > maxNodes {
		p.errAt(doc.Content[0], "mapping too large (over %d YAML nodes, aliases expanded)", maxNodes)
		return nil
	}
	return deref(doc.Content[0])
}

func countNodes(n *yaml.Node, acc int) int {
	if n == nil || acc > maxNodes {
		return acc
	}
	acc++
	if n.Kind == yaml.AliasNode {
		return countNodes(n.Alias, acc)
	}
	for _, c := range n.Content {
		if acc = countNodes(c, acc); acc > maxNodes {
			break
		}
	}
	return acc
}

func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// field is one key of a YAML mapping with its value.
type field struct{ key, val *yaml.Node }

// fields reads a YAML mapping's keys, reporting unknown and repeated ones.
func (p *parser) fields(n *yaml.Node, what string, known ...string) map[string]field {
	out := make(map[string]field, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), deref(n.Content[i+1])
		if k == nil || v == nil {
			continue
		}
		if k.Kind != yaml.ScalarNode {
			p.errAt(k, "%s: keys must be plain names", what)
			continue
		}
		if !slices.Contains(known, k.Value) {
			p.errAt(k, "%s: unknown key %q (known: %s)", what, k.Value, strings.Join(known, ", "))
			continue
		}
		if prev, dup := out[k.Value]; dup {
			p.errAt(k, "%s: %q given twice (first on line %d)", what, k.Value, prev.key.Line)
			continue
		}
		out[k.Value] = field{k, v}
	}
	return out
}

// str reads a string scalar; numbers are accepted as their text (a table
// named 2024), null and collections are not.
func (p *parser) str(f field, what string) (string, bool) {
	v := f.val
	if v.Kind == yaml.ScalarNode && v.Tag == "!!null" && v.Value == "" && f.key.Line > 0 && f.key.Line <= len(p.lines) {
		// key: #index reads as a null and a comment.
		line := p.lines[f.key.Line-1]
		if m := unquotedValue.FindStringSubmatchIndex(line); m != nil && line[m[2]:m[3]] == f.key.Value {
			p.errs = append(p.errs, &Error{File: p.file, Line: f.key.Line, Column: m[4] + 1,
				Msg: fmt.Sprintf("%s must be a string; %s", what, unquotedMsg(f.key.Value, line[m[4]:m[5]]))})
			return "", false
		}
	}
	if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
		p.errAt(v, "%s must be a string", what)
		return "", false
	}
	if v.Tag == "!!bool" {
		p.errAt(v, "%s must be a string (quote it: %q)", what, v.Value)
		return "", false
	}
	return v.Value, true
}

func (p *parser) boolean(f field, what string) (bool, bool) {
	v := f.val
	if v.Kind != yaml.ScalarNode || v.Tag != "!!bool" {
		p.errAt(v, "%s must be true or false", what)
		return false, false
	}
	b, err := strconv.ParseBool(strings.ToLower(v.Value))
	if err != nil {
		// YAML 1.1 spellings yaml.v3 still tags as bool ("yes", "on").
		p.errAt(v, "%s must be true or false", what)
		return false, false
	}
	return b, true
}

// strList reads a list of strings; a single string is a list of one.
func (p *parser) strList(f field, what string) ([]string, []*yaml.Node) {
	v := f.val
	if v.Kind == yaml.ScalarNode {
		s, ok := p.str(f, what)
		if !ok {
			return nil, nil
		}
		return []string{s}, []*yaml.Node{v}
	}
	if v.Kind != yaml.SequenceNode {
		p.errAt(v, "%s must be a list of names", what)
		return nil, nil
	}
	var out []string
	var nodes []*yaml.Node
	for _, e := range v.Content {
		e = deref(e)
		if s, ok := p.str(field{f.key, e}, what+" entry"); ok {
			out = append(out, s)
			nodes = append(nodes, e)
		}
	}
	return out, nodes
}

// ident checks a PostgreSQL identifier. Names are always quoted, so any
// text is allowed as long as the server stores it unchanged.
func identProblem(s string) string {
	switch {
	case s == "":
		return "is empty"
	case len(s) > maxIdent:
		return fmt.Sprintf("is %d bytes long; PostgreSQL identifiers hold at most %d", len(s), maxIdent)
	case strings.IndexByte(s, 0) >= 0:
		return "contains a NUL character"
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	}
	return ""
}

func (p *parser) parse(data []byte) *Mapping {
	root := p.decode(data)
	if root == nil {
		return nil
	}
	if root.Kind != yaml.MappingNode {
		p.errAt(root, "a mapping file is a YAML mapping with version, source and tables")
		return nil
	}
	m := &Mapping{}
	fs := p.fields(root, "mapping", "version", "source", "tables")
	if f, ok := fs["version"]; !ok {
		p.errAt(root, "version is missing (version: 1)")
	} else if f.val.Kind == yaml.ScalarNode && f.val.Tag == "!!str" {
		p.errAt(f.val, "version must be the number 1, not the string %q", f.val.Value)
	} else if f.val.Kind != yaml.ScalarNode || f.val.Tag != "!!int" || f.val.Value != "1" {
		p.errAt(f.val, "version must be 1 (got %s)", nodeText(f.val))
	} else {
		m.Version = 1
	}
	sourceOK := false
	if f, ok := fs["source"]; !ok {
		p.errAt(root, "source is missing (source: {table: T, key: [partitionKey, sortKey]})")
	} else {
		before := len(p.errs)
		p.source(f, &m.Source)
		sourceOK = len(p.errs) == before
	}
	f, ok := fs["tables"]
	switch {
	case !ok:
		p.errAt(root, "tables is missing")
	case f.val.Kind != yaml.SequenceNode || len(f.val.Content) == 0:
		p.errAt(f.val, "tables must be a non-empty list")
	default:
		for _, tn := range f.val.Content {
			before := len(p.errs)
			if t := p.table(deref(tn)); t != nil {
				t.bad = len(p.errs) > before
				m.Tables = append(m.Tables, t)
			}
		}
	}
	// Cross-table checks run even when some tables have errors, so one
	// run reports everything; tables with errors of their own are skipped
	// to avoid follow-on noise.
	p.crossChecks(m, sourceOK && len(m.Source.Key) > 0)
	if len(p.errs) > 0 {
		return nil
	}
	m.compile()
	return m
}

func nodeText(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		return strconv.Quote(n.Value)
	}
	return "a " + map[yaml.Kind]string{yaml.MappingNode: "mapping", yaml.SequenceNode: "list"}[n.Kind]
}

func (p *parser) source(f field, s *Source) {
	if f.val.Kind != yaml.MappingNode {
		p.errAt(f.val, "source must be a mapping with table and key")
		return
	}
	fs := p.fields(f.val, "source", "table", "key")
	if tf, ok := fs["table"]; !ok {
		p.errAt(f.val, "source: table is missing")
	} else if name, ok := p.str(tf, "source table"); ok {
		if name == "" {
			p.errAt(tf.val, "source table is empty")
		}
		s.Table = name
	}
	kf, ok := fs["key"]
	if !ok {
		p.errAt(f.val, "source: key is missing (key: [partitionKey] or [partitionKey, sortKey])")
		return
	}
	keys, nodes := p.strList(kf, "source key")
	if len(keys) == 0 && kf.val.Kind == yaml.SequenceNode {
		p.errAt(kf.val, "source key is empty: name the partition key attribute (and the sort key, if any)")
	}
	if len(keys) > 2 {
		p.errAt(nodes[2], "source key has %d attributes; DynamoDB keys have a partition key and at most a sort key", len(keys))
	}
	for i, k := range keys {
		switch {
		case k == "":
			p.errAt(nodes[i], "source key attribute name is empty")
		case !utf8.ValidString(k):
			p.errAt(nodes[i], "source key attribute name is not valid UTF-8")
		case slices.Contains(keys[:i], k):
			p.errAt(nodes[i], "source key attribute %q given twice", k)
		}
	}
	s.Key = keys
}

func (p *parser) table(n *yaml.Node) *Table {
	if n.Kind != yaml.MappingNode {
		p.errAt(n, "a table must be a mapping with name, primary_key and columns")
		return nil
	}
	t := &Table{Line: n.Line}
	fs := p.fields(n, "table", "name", "primary_key", "shared", "for_each", "when", "columns")
	nameNode := n
	if f, ok := fs["name"]; !ok {
		p.errAt(n, "table: name is missing")
	} else if name, ok := p.str(f, "table name"); ok {
		nameNode = f.val
		t.Name = name
		parts := strings.Split(name, ".")
		if len(parts) > 2 {
			p.errAt(f.val, "table name %q: use \"schema.table\" with at most one dot", name)
		} else {
			for _, part := range parts {
				if prob := identProblem(part); prob != "" && len(parts) == 1 {
					p.errAt(f.val, "table name %q %s", name, prob)
				} else if prob != "" {
					p.errAt(f.val, "table name %q: %q %s", name, part, prob)
				}
			}
			if len(parts) == 2 {
				t.Schema, t.Table = parts[0], parts[1]
				t.Ident = pgx.Identifier{t.Schema, t.Table}
			} else {
				t.Table = name
				t.Ident = pgx.Identifier{t.Table}
			}
		}
	}
	label := "table " + t.Name
	if f, ok := fs["shared"]; ok {
		t.Shared, _ = p.boolean(f, label+": shared")
	}
	if f, ok := fs["for_each"]; ok {
		if s, ok := p.str(f, label+": for_each"); ok {
			t.ForEach = s
			switch s {
			case "*", "#index", "#value":
				p.errAt(f.val, "%s: for_each must be the path of a list attribute, not %q", label, s)
			default:
				fp, err := parsePath(s)
				if err != nil {
					pe := err.(*pathError)
					p.errAtOffset(f.val, pe.off, "%s: for_each %q: %s", label, s, pe.msg)
				}
				fp.root = true // for_each paths always start at the item
				t.forEach = fp
			}
		}
	}
	if f, ok := fs["when"]; ok {
		t.When = p.when(f, label)
	}
	inForEach := t.ForEach != ""
	if f, ok := fs["columns"]; !ok {
		p.errAt(n, "%s: columns is missing", label)
	} else if f.val.Kind != yaml.SequenceNode || len(f.val.Content) == 0 {
		p.errAt(f.val, "%s: columns must be a non-empty list", label)
	} else {
		seen := map[string]int{}
		stars := 0
		for _, cn := range f.val.Content {
			c := p.column(deref(cn), label, inForEach)
			if c == nil {
				continue
			}
			if prev, dup := seen[c.Name]; dup {
				p.errAt(deref(cn), "%s: column %q defined twice (first on line %d)", label, c.Name, prev)
				continue
			}
			seen[c.Name] = c.Line
			if c.src == srcStar {
				if stars++; stars == 2 {
					p.errAt(deref(cn), "%s: only one column may take \"*\"", label)
				}
			}
			t.Columns = append(t.Columns, c)
		}
	}
	if f, ok := fs["primary_key"]; !ok {
		p.errAt(nameNode, "%s: primary_key is missing", label)
	} else {
		pk, nodes := p.strList(f, label+": primary_key")
		if len(pk) == 0 && f.val.Kind == yaml.SequenceNode {
			p.errAt(f.val, "%s: primary_key is empty", label)
		}
		for i, name := range pk {
			if slices.Contains(pk[:i], name) {
				p.errAt(nodes[i], "%s: primary key column %q listed twice", label, name)
				continue
			}
			ci := slices.IndexFunc(t.Columns, func(c *Column) bool { return c.Name == name })
			if ci < 0 {
				p.errAt(nodes[i], "%s: primary key column %q is not a mapped column", label, name)
				continue
			}
			t.PrimaryKey = append(t.PrimaryKey, name)
			t.PKIndexes = append(t.PKIndexes, ci)
			t.Columns[ci].notNull = true
			if t.Columns[ci].src == srcIndex {
				t.pkHasIndex = true
			}
		}
	}
	t.line = nameNode
	return t
}

func (p *parser) when(f field, label string) *When {
	w := &When{}
	var conds []*yaml.Node
	switch f.val.Kind {
	case yaml.MappingNode:
		conds = []*yaml.Node{f.val}
	case yaml.SequenceNode:
		if len(f.val.Content) == 0 {
			p.errAt(f.val, "%s: when is an empty list", label)
		}
		conds = f.val.Content
	default:
		p.errAt(f.val, "%s: when must be a condition ({attribute: A, equals: V}) or a list of them", label)
		return nil
	}
	for _, cn := range conds {
		cn = deref(cn)
		if cn.Kind != yaml.MappingNode {
			p.errAt(cn, "%s: a when condition must be a mapping like {attribute: A, equals: V}", label)
			continue
		}
		c := Condition{Line: cn.Line}
		fs := p.fields(cn, label+": when", "attribute", "equals", "begins_with", "exists")
		if af, ok := fs["attribute"]; !ok {
			p.errAt(cn, "%s: when: attribute is missing", label)
		} else if s, ok := p.str(af, label+": when attribute"); ok {
			c.Attribute = s
			cp, err := parsePath(s)
			if err != nil {
				pe := err.(*pathError)
				p.errAtOffset(af.val, pe.off, "%s: when attribute %q: %s", label, s, pe.msg)
			}
			cp.root = true
			c.path = cp
		}
		n := 0
		if vf, ok := fs["equals"]; ok {
			n++
			c.Op = OpEquals
			if vf.val.Kind != yaml.ScalarNode || vf.val.Tag == "!!null" {
				p.errAt(vf.val, "%s: when equals needs a string, number or boolean", label)
			} else {
				c.Value = vf.val.Value
				if n, ok := parseNumber(c.Value); ok {
					c.num = &n
				}
			}
		}
		if vf, ok := fs["begins_with"]; ok {
			n++
			c.Op = OpBeginsWith
			if s, ok := p.str(vf, label+": when begins_with"); ok {
				if s == "" {
					p.errAt(vf.val, "%s: when begins_with is empty", label)
				}
				c.Value = s
			}
		}
		if vf, ok := fs["exists"]; ok {
			n++
			if b, ok := p.boolean(vf, label+": when exists"); ok {
				c.Op = OpExists
				if !b {
					c.Op = OpNotExists
				}
			}
		}
		if n != 1 {
			p.errAt(cn, "%s: a when condition needs exactly one of equals, begins_with, exists", label)
			continue
		}
		w.Conditions = append(w.Conditions, c)
	}
	return w
}

// timeFormats are the values of a column's format option.
var timeFormats = []string{"epoch_seconds", "epoch_millis"}

func (p *parser) column(n *yaml.Node, label string, inForEach bool) *Column {
	if n.Kind != yaml.MappingNode {
		p.errAt(n, "%s: a column must be a mapping like {name: id, from: attr, type: text}", label)
		return nil
	}
	c := &Column{Line: n.Line}
	fs := p.fields(n, label+": column", "name", "from", "type", "required", "strip_prefix", "format")
	ok := true
	if f, has := fs["name"]; !has {
		p.errAt(n, "%s: column name is missing", label)
		ok = false
	} else if s, good := p.str(f, label+": column name"); good {
		c.Name = s
		if prob := identProblem(s); prob != "" {
			p.errAt(f.val, "%s: column name %q %s", label, s, prob)
		}
	} else {
		ok = false
	}
	clabel := fmt.Sprintf("%s, column %s", label, c.Name)
	typeOK := false
	if f, has := fs["type"]; !has {
		p.errAt(n, "%s: type is missing", clabel)
	} else if s, good := p.str(f, clabel+": type"); good {
		t, err := ParseType(s)
		if err != nil {
			p.errAt(f.val, "%s: %v", clabel, err)
		} else {
			c.Type, typeOK = t, true
		}
	}
	if f, has := fs["required"]; has {
		c.Required, _ = p.boolean(f, clabel+": required")
		c.notNull = c.Required
	}
	if f, has := fs["strip_prefix"]; has {
		if s, good := p.str(f, clabel+": strip_prefix"); good {
			if s == "" {
				p.errAt(f.val, "%s: strip_prefix is empty", clabel)
			}
			c.StripPrefix = s
			if typeOK && (c.Type.Array || c.Type.Kind == KindBool || c.Type.Kind == KindBytea) {
				p.errAt(f.val, "%s: strip_prefix applies to strings, which a %s column does not take", clabel, c.Type.Name)
			}
		}
	}
	if f, has := fs["format"]; has {
		if s, good := p.str(f, clabel+": format"); good {
			c.Format = s
			c.millis = s == "epoch_millis"
			if !slices.Contains(timeFormats, s) {
				p.errAt(f.val, "%s: format must be epoch_seconds or epoch_millis", clabel)
			} else if typeOK && !c.Type.isTime() {
				p.errAt(f.val, "%s: format applies to timestamptz, timestamp and date columns, not %s", clabel, c.Type.Name)
			}
		}
	}
	f, has := fs["from"]
	if !has {
		p.errAt(n, "%s: from is missing (the attribute path, \"*\" or \"#index\")", clabel)
		return nil
	}
	s, good := p.str(f, clabel+": from")
	if !good {
		return nil
	}
	c.From = s
	noOptions := func(what string) {
		if c.StripPrefix != "" || c.Format != "" {
			p.errAt(f.val, "%s: strip_prefix and format do not apply to %s", clabel, what)
		}
	}
	switch s {
	case "*":
		c.src = srcStar
		switch {
		case inForEach:
			p.errAt(f.val, "%s: \"*\" (the unmapped attributes) is not allowed in a for_each table", clabel)
		case typeOK && c.Type.Name != "jsonb":
			p.errAt(f.val, "%s: \"*\" needs type jsonb, not %s", clabel, c.Type.Name)
		}
		noOptions(`"*"`)
	case "#index":
		c.src = srcIndex
		if !inForEach {
			p.errAt(f.val, "%s: \"#index\" is the element position in a for_each table; this table has no for_each", clabel)
		}
		if typeOK && (c.Type.Array || (c.Type.Kind != KindInt2 && c.Type.Kind != KindInt4 && c.Type.Kind != KindInt8 &&
			c.Type.Kind != KindNumeric && c.Type.Kind != KindText)) {
			p.errAt(f.val, "%s: \"#index\" needs an integer, numeric or text column, not %s", clabel, c.Type.Name)
		}
		noOptions(`"#index"`)
	case "#value":
		c.src = srcValue
		if !inForEach {
			p.errAt(f.val, "%s: \"#value\" is the for_each element itself; this table has no for_each", clabel)
		}
	default:
		c.src = srcPath
		cp, err := parsePath(s)
		if err != nil {
			pe := err.(*pathError)
			p.errAtOffset(f.val, pe.off, "%s: from %q: %s", clabel, s, pe.msg)
			return nil
		}
		if cp.root && !inForEach {
			p.errAt(f.val, "%s: \"$.\" marks an item-root path inside a for_each table; here paths already start at the item (write %q)",
				clabel, strings.TrimPrefix(s, "$."))
		}
		c.path = cp
	}
	if !ok || !typeOK {
		return nil
	}
	return c
}

// keyTypes are the column types a key column may have: conversions that
// keep distinct keys distinct, so "DELETE ... WHERE key columns = X" never
// touches another item's rows.
func keyType(t Type) bool {
	if t.Array {
		return false
	}
	switch t.Kind {
	case KindText, KindVarchar, KindInt2, KindInt4, KindInt8, KindNumeric, KindUUID, KindBytea:
		return true
	}
	return false
}

func (p *parser) crossChecks(m *Mapping, keyOK bool) {
	seen := map[string]*Table{}
	for _, t := range m.Tables {
		schema := t.Schema
		if schema == "" {
			schema = "public"
		}
		k := schema + "." + t.Table
		if prev, dup := seen[k]; dup {
			p.errAt(t.line, "table %s defined twice (first on line %d)", t.Name, prev.Line)
		}
		seen[k] = t
		if !t.Shared && !t.bad && keyOK {
			p.keyColumns(m, t)
		}
	}
}

// keyColumns finds a non-shared table's key columns: for each key
// attribute, a column taking exactly that root attribute.
func (p *parser) keyColumns(m *Mapping, t *Table) {
	label := "non-shared table " + t.Name
	inForEach := t.ForEach != ""
	failed := false
	for _, attr := range m.Source.Key {
		best := -1
		for ci, c := range t.Columns {
			if c.src != srcPath || len(c.path.steps) != 1 || c.path.steps[0].name != attr || c.path.root != inForEach {
				continue
			}
			if best < 0 || (slices.Contains(t.PKIndexes, ci) && !slices.Contains(t.PKIndexes, best)) {
				best = ci
			}
		}
		if best < 0 {
			if _, ok := t.PinnedValue(attr); ok {
				continue // every row of this table has the same value there
			}
			from := attr
			if inForEach {
				from = "$." + attr
			}
			p.errAt(t.line, "%s has no column from key attribute %s (from: %s); map it or mark the table shared",
				label, attr, from)
			failed = true
			continue
		}
		c := t.Columns[best]
		if !slices.Contains(t.PKIndexes, best) {
			p.errAt(t.line, "%s: key column %s (from key attribute %s) must be part of the primary key so an item's rows are found by index; add it to primary_key or mark the table shared",
				label, c.Name, attr)
			failed = true
			continue
		}
		if !keyType(c.Type) {
			p.errAt(t.line, "%s: key column %s has type %s; key columns must be text, varchar, smallint, integer, bigint, numeric, uuid or bytea so distinct keys stay distinct",
				label, c.Name, c.Type.Name)
			failed = true
			continue
		}
		c.keyCol = true
		t.KeyColumns = append(t.KeyColumns, best)
		t.KeyAttrs = append(t.KeyAttrs, attr)
	}
	if failed || len(t.KeyColumns) == 0 {
		return
	}
	// The key columns must lead the primary key: an index on (a, b) serves
	// "WHERE a = $1" but not "WHERE b = $1".
	lead := t.PKIndexes[:min(len(t.KeyColumns), len(t.PKIndexes))]
	for _, ci := range t.KeyColumns {
		if !slices.Contains(lead, ci) {
			names := make([]string, len(t.KeyColumns))
			for i, k := range t.KeyColumns {
				names[i] = t.Columns[k].Name
			}
			p.errAt(t.line, "%s: primary_key must start with the key columns (%s) so an item's rows are found by index; reorder primary_key",
				label, strings.Join(names, ", "))
			return
		}
	}
}

// compile fills the lookup structures Rows needs.
func (m *Mapping) compile() {
	m.attrUsers = map[string][]int{}
	use := func(ti int, name string) {
		u := m.attrUsers[name]
		if len(u) == 0 || u[len(u)-1] != ti {
			m.attrUsers[name] = append(u, ti)
		}
	}
	for ti, t := range m.Tables {
		for _, c := range t.Columns {
			if !c.Type.Array && c.Type.Kind == KindNumeric && c.src != srcIndex {
				t.numerics++
			}
			if c.Type.Kind == KindJSONB {
				m.jsonb = true
			}
		}
		if t.ForEach != "" {
			use(ti, t.forEach.steps[0].name)
		}
		for _, c := range t.Columns {
			if c.src == srcPath && (t.ForEach == "" || c.path.root) {
				use(ti, c.path.steps[0].name)
			}
		}
		// An attribute pinned by `equals` is implied by the table itself:
		// repeating it in "*" would add nothing.
		if t.When != nil {
			for _, c := range t.When.Conditions {
				if c.Op == OpEquals && len(c.path.steps) == 1 {
					use(ti, c.path.steps[0].name)
				}
			}
		}
	}
}
