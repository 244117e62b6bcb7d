package mapping

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// CreateSQL returns the table's CREATE TABLE IF NOT EXISTS statement:
// quoted identifiers, canonical types, NOT NULL for required columns and
// the primary key. It does not create the schema (see DDL).
func (t *Table) CreateSQL() string { return t.createSQL(false) }

func (t *Table) createSQL(comments bool) string {
	var sb strings.Builder
	sb.WriteString("CREATE TABLE IF NOT EXISTS ")
	sb.WriteString(t.Ident.Sanitize())
	sb.WriteString(" (\n")
	for _, c := range t.Columns {
		sb.WriteString("    ")
		sb.WriteString(quoteIdent(c.Name))
		sb.WriteByte(' ')
		sb.WriteString(c.Type.Name)
		if c.Required {
			sb.WriteString(" NOT NULL")
		}
		sb.WriteByte(',')
		if comments {
			// %q escapes newlines, so a path cannot end the comment.
			fmt.Fprintf(&sb, " -- from %q", c.From)
		}
		sb.WriteByte('\n')
	}
	sb.WriteString("    PRIMARY KEY (")
	for i, name := range t.PrimaryKey {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(quoteIdent(name))
	}
	sb.WriteString(")\n)")
	return sb.String()
}

func quoteIdent(s string) string { return pgx.Identifier{s}.Sanitize() }

// DDL returns the SQL that creates every mapped table: CREATE SCHEMA IF NOT
// EXISTS for each schema used, then each table in mapping order, commented.
func (m *Mapping) DDL() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "-- ddb2pg mapping %q for DynamoDB table %q, key %q\n", m.File, m.Source.Table, m.Source.Key)
	fmt.Fprintf(&sb, "-- fingerprint %s\n", m.Fingerprint())
	var schemas []string
	for _, t := range m.Tables {
		if t.Schema != "" && !slices.Contains(schemas, t.Schema) {
			schemas = append(schemas, t.Schema)
		}
	}
	slices.Sort(schemas)
	if len(schemas) > 0 {
		sb.WriteByte('\n')
	}
	for _, s := range schemas {
		fmt.Fprintf(&sb, "CREATE SCHEMA IF NOT EXISTS %s;\n", quoteIdent(s))
	}
	for _, t := range m.Tables {
		sb.WriteString("\n-- ")
		sb.WriteString(t.describe())
		sb.WriteString("\n")
		sb.WriteString(t.createSQL(true))
		sb.WriteString(";\n")
	}
	return sb.String()
}

// describe says in words how the table gets its rows.
func (t *Table) describe() string {
	var parts []string
	if t.ForEach != "" {
		parts = append(parts, fmt.Sprintf("one row per element of %q", t.ForEach))
	} else {
		parts = append(parts, "one row per item")
	}
	if t.When != nil {
		var conds []string
		for _, c := range t.When.Conditions {
			switch c.Op {
			case OpEquals:
				conds = append(conds, fmt.Sprintf("%q = %q", c.Attribute, c.Value))
			case OpBeginsWith:
				conds = append(conds, fmt.Sprintf("%q begins with %q", c.Attribute, c.Value))
			case OpExists:
				conds = append(conds, fmt.Sprintf("%q exists", c.Attribute))
			case OpNotExists:
				conds = append(conds, fmt.Sprintf("%q does not exist", c.Attribute))
			}
		}
		parts = append(parts, "where "+strings.Join(conds, " and "))
	}
	if t.Shared {
		parts = append(parts, "shared: rows are upserted by many items and never deleted")
	}
	return "table " + strconv.Quote(t.Name) + ": " + strings.Join(parts, "; ")
}

// ExistingColumn describes a column of an existing table, as read from
// pg_attribute: DataType is format_type(atttypid, atttypmod).
type ExistingColumn struct {
	Name       string
	DataType   string
	NotNull    bool
	HasDefault bool
}

// CheckColumns reports whether an existing table fits the mapping: every
// mapped column exists with the same type (equivalent spellings such as
// int4 = integer are the same type; varchar(n) and text are not), a NOT
// NULL column is only fed values that are never NULL, and no unmapped
// column is NOT NULL without a default. Extra nullable columns are fine.
// The error is a *ColumnsError listing each problem.
func (t *Table) CheckColumns(existing []ExistingColumn) error {
	byName := make(map[string]*ExistingColumn, len(existing))
	for i := range existing {
		byName[existing[i].Name] = &existing[i]
	}
	var probs []ColumnProblem
	mapped := map[string]bool{}
	for _, c := range t.Columns {
		mapped[c.Name] = true
		e, ok := byName[c.Name]
		if !ok {
			probs = append(probs, ColumnProblem{c.Name, "missing (the mapping needs " + c.Type.Name + ")"})
			continue
		}
		if et, err := ParseType(e.DataType); err != nil || et.Name != c.Type.Name {
			probs = append(probs, ColumnProblem{c.Name, fmt.Sprintf("has type %s, the mapping needs %s", e.DataType, c.Type.Name)})
		}
		if e.NotNull && c.mayBeNull() {
			probs = append(probs, ColumnProblem{c.Name, "is NOT NULL but the mapping may give NULL (mark the column required: true)"})
		}
	}
	for _, e := range existing {
		if !mapped[e.Name] && e.NotNull && !e.HasDefault {
			probs = append(probs, ColumnProblem{e.Name, "is NOT NULL without a default and not mapped, so every insert would fail"})
		}
	}
	if len(probs) > 0 {
		return &ColumnsError{Table: t.Name, Problems: probs}
	}
	return nil
}

// mayBeNull reports whether Rows can give NULL for c.
func (c *Column) mayBeNull() bool {
	return (c.src == srcPath || c.src == srcValue) && !c.notNull
}

// canonical is the mapping's meaning as JSON, for the fingerprint: no
// comments, spellings normalised (types, paths).
type canonical struct {
	Version int              `json:"version"`
	Table   string           `json:"source_table"`
	Key     []string         `json:"source_key"`
	Tables  []canonicalTable `json:"tables"`
}

type canonicalTable struct {
	Name       string     `json:"name"`
	PrimaryKey []string   `json:"primary_key"`
	Shared     bool       `json:"shared"`
	ForEach    string     `json:"for_each"`
	When       [][]string `json:"when"`
	Columns    [][]string `json:"columns"`
}

func (m *Mapping) computeFingerprint() string {
	c := canonical{Version: m.Version, Table: m.Source.Table, Key: m.Source.Key}
	for _, t := range m.Tables {
		ct := canonicalTable{Name: t.Name, PrimaryKey: t.PrimaryKey, Shared: t.Shared}
		if t.ForEach != "" {
			ct.ForEach = t.forEach.display()
		}
		if t.When != nil {
			for _, w := range t.When.Conditions {
				ct.When = append(ct.When, []string{w.path.display(), strconv.Itoa(int(w.Op)), w.Value})
			}
		}
		for _, col := range t.Columns {
			from := col.From
			if col.src == srcPath {
				from = col.path.String()
			}
			format := col.Format
			if format == "" && col.Type.isTime() {
				format = "epoch_seconds" // the default, spelled out or not
			}
			ct.Columns = append(ct.Columns, []string{col.Name, from, col.Type.Name,
				strconv.FormatBool(col.Required), col.StripPrefix, format})
		}
		c.Tables = append(c.Tables, ct)
	}
	b, _ := json.Marshal(c)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
