package infer

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
	"github.com/ddb2pg/ddb2pg/pkg/mapping"
)

var rePlainYAML = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// yq writes s as a YAML scalar: bare when that is unambiguous, else as a
// double-quoted (JSON-compatible) string.
func yq(s string) string {
	switch strings.ToLower(s) {
	case "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~":
		return `"` + s + `"`
	}
	if rePlainYAML.MatchString(s) {
		return s
	}
	return `"` + jsonEscape(s) + `"`
}

func (p *proposal) render() []byte {
	var b strings.Builder
	for _, h := range p.header {
		writeComment(&b, "", h)
	}
	b.WriteString("version: 1\nsource:\n")
	fmt.Fprintf(&b, "  table: %s\n", yq(p.source))
	for _, n := range p.keyNote {
		writeComment(&b, "  ", n)
	}
	b.WriteString("  key: [")
	for i, k := range p.key {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(yq(k))
	}
	b.WriteString("]\ntables:\n")
	for i, t := range p.tables {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "  - name: %s\n", yq(t.name))
		for _, c := range t.comments {
			writeComment(&b, "    ", c)
		}
		switch len(t.when) {
		case 0:
		case 1:
			fmt.Fprintf(&b, "    when: %s\n", condText(t.when[0]))
		default:
			b.WriteString("    when:\n")
			for _, w := range t.when {
				fmt.Fprintf(&b, "      - %s\n", condText(w))
			}
		}
		if t.forEach != "" {
			fmt.Fprintf(&b, "    for_each: %s\n", yq(t.forEach))
		}
		b.WriteString("    primary_key: [")
		for i, k := range t.pk {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(yq(k))
		}
		b.WriteString("]\n    columns:\n")
		for _, c := range t.cols {
			fmt.Fprintf(&b, "      - {name: %s, from: %s, type: %s", yq(c.name), yq(c.from), yq(c.typ))
			if c.strip != "" {
				fmt.Fprintf(&b, ", strip_prefix: %s", yq(c.strip))
			}
			b.WriteString("}")
			if c.comment != "" {
				b.WriteString("  # " + oneLine(c.comment))
			}
			b.WriteString("\n")
		}
	}
	return []byte(b.String())
}

func condText(c cond) string {
	return fmt.Sprintf("{attribute: %s, %s: %s}", yq(c.attr), c.op, yq(c.value))
}

func writeComment(b *strings.Builder, indent, text string) {
	text = oneLine(text)
	// wrap at about 100 columns
	for len(text) > 0 {
		line := text
		if len(line) > 96 {
			cut := strings.LastIndexByte(line[:96], ' ')
			if cut <= 0 {
				cut = len(line)
				if i := strings.IndexByte(line[96:], ' '); i >= 0 {
					cut = 96 + i
				}
			}
			line = text[:cut]
		}
		b.WriteString(indent + "# " + strings.TrimSpace(line) + "\n")
		text = strings.TrimSpace(text[len(line):])
	}
}

// storable reports whether a reject is about a value PostgreSQL cannot hold
// at all (no proposal can load it).
func storable(r *mapping.Reject) bool {
	return !strings.Contains(r.Reason, "cannot store") && !strings.Contains(r.Reason, "not valid UTF-8")
}

// downgrade widens a column that rejected a sampled value: to text when
// every value seen is S or N, else to jsonb.
func downgrade(c *column) bool {
	if c.key || c.typ == "jsonb" || c.from == "#index" {
		return false
	}
	textOK := len(c.kinds) > 0
	for _, k := range c.kinds {
		if k != ddbitem.S && k != ddbitem.N {
			textOK = false
		}
	}
	if textOK && c.typ != "text" {
		c.typ = "text"
	} else {
		c.typ = "jsonb"
	}
	c.comment += "; widened to " + c.typ + " (a sampled value did not fit)"
	return true
}

// check parses the proposal and maps every sampled item with it, widening
// columns that reject a value, until the sample maps.
func (p *proposal) check(items []ddbitem.Item) (*Result, error) {
	for round := 0; ; round++ {
		data := p.render()
		m, err := mapping.Parse("proposal.yaml", data)
		if err != nil {
			return nil, fmt.Errorf("internal error: the proposed mapping is invalid: %w\n%s", err, data)
		}
		res := &Result{YAML: data, Mapping: m}
		changed := false
		widened := map[*column]bool{}
		for _, it := range items {
			_, rej := m.Rows(it)
			if rej == nil {
				res.Mapped++
				continue
			}
			if !storable(rej) {
				res.Unstorable++
				continue
			}
			if round < 10 {
				c := p.column(rej.Table, rej.Column)
				if c != nil && widened[c] {
					continue // widened this round already: checked again next round
				}
				if c != nil && downgrade(c) {
					widened[c] = true
					changed = true
					continue
				}
			}
			res.Rejects = append(res.Rejects, rej.Error())
		}
		if !changed {
			return res, nil
		}
	}
}

func (p *proposal) column(tbl, col string) *column {
	for _, t := range p.tables {
		if t.name != tbl {
			continue
		}
		for _, c := range t.cols {
			if c.name == col {
				return c
			}
		}
	}
	return nil
}

func report(items []ddbitem.Item, stats map[string]*stat, p *proposal, conflicts []string, res *Result) string {
	var b strings.Builder
	n := len(items)
	fmt.Fprintf(&b, "ddb2pg infer: %d sampled items, %d attributes, %d tables proposed\n", n, len(stats), len(p.tables))
	for _, k := range p.keyNote {
		fmt.Fprintf(&b, "%s\n", k)
	}
	b.WriteString("\n")
	tw := tabwriter.NewWriter(&b, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "ATTRIBUTE\tTYPES\tPRESENT\tEXAMPLES\tMAPPED TO")
	for _, s := range sortedStats(stats) {
		used := s.used
		sort.Strings(used)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", oneLine(clip(s.name, 40)), s.kindsText(),
			fmtPct(100*float64(s.present)/float64(n)), clip(strings.Join(s.examples, ", "), 60), strings.Join(dedupe(used), ", "))
	}
	tw.Flush()
	if len(conflicts) > 0 {
		b.WriteString("\nconflicts:\n")
		for _, c := range conflicts {
			fmt.Fprintf(&b, "  %s\n", oneLine(c))
		}
	}
	fmt.Fprintf(&b, "\nsample check: %d of %d items map with the proposal", res.Mapped, n)
	if res.Unstorable > 0 {
		fmt.Fprintf(&b, "; %d rejected because PostgreSQL cannot store one of their values (U+0000 or invalid UTF-8)", res.Unstorable)
	}
	b.WriteString("\n")
	for i, r := range res.Rejects {
		if i == 10 {
			fmt.Fprintf(&b, "  ... and %d more\n", len(res.Rejects)-10)
			break
		}
		fmt.Fprintf(&b, "  reject: %s\n", oneLine(r))
	}
	return b.String()
}

func dedupe(s []string) []string {
	var out []string
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}
