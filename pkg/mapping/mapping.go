// Package mapping is ddb2pg's one mapping engine: it parses and validates the
// YAML contract (version 1) and turns a DynamoDB item into the rows of each
// mapped PostgreSQL table. The backfill, the stream applier and verify all
// call it, so they can never disagree about what a row should be.
//
// Conversion never loses data silently: a value that does not fit its column
// exactly rejects the whole item, with the table, column, raw value and
// reason (see Reject). docs/mapping.md is the user-facing reference.
package mapping

import (
	"fmt"
	"os"

	"github.com/jackc/pgx/v5"
	"gopkg.in/yaml.v3"

	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
)

// Mapping is a parsed, validated mapping file.
type Mapping struct {
	// File is the name the mapping was parsed under (for messages).
	File    string
	Version int
	Source  Source
	Tables  []*Table

	// attrUsers maps a root attribute to the tables whose paths use it, for
	// "*" columns: an attribute is left out of "*" only when a table that
	// produces rows for the item maps it.
	attrUsers   map[string][]int
	jsonb       bool // some column is jsonb: Rows presizes a text buffer
	fingerprint string
}

// Source names the DynamoDB table and its key.
type Source struct {
	Table string
	// Key is the partition key attribute, then the sort key attribute if any.
	Key []string
}

// Table is one mapped PostgreSQL table.
type Table struct {
	// Name is the table name as written ("orders" or "sales.orders").
	Name string
	// Schema and Table are Name split at the dot; Schema "" means the
	// connection's search_path decides.
	Schema, Table string
	// Ident quotes the name safely: Ident.Sanitize().
	Ident pgx.Identifier
	// PrimaryKey lists the primary key column names in order.
	PrimaryKey []string
	// Shared tables receive the same row from many items; they are only
	// ever upserted, never deleted from.
	Shared bool
	// ForEach is the list attribute path giving one row per element ("" for
	// one row per item).
	ForEach string
	// When filters the items that have rows in this table (nil: all).
	When    *When
	Columns []*Column
	// PKIndexes are indexes into Columns of the primary key, in PK order.
	PKIndexes []int
	// KeyColumns (non-shared tables) are indexes into Columns of the columns
	// that hold the item's key attributes, in Source.Key order; a key
	// attribute pinned by an `equals` condition in When has no key column.
	// They lead the primary key, so "the rows of item X" is an index lookup.
	KeyColumns []int
	// KeyAttrs names, for each KeyColumns entry, the source key attribute
	// the column holds.
	KeyAttrs []string
	// Line is the line of the table in the mapping file.
	Line int

	forEach path

	pkHasIndex bool       // a #index column is in the PK: rows of one item cannot collide
	numerics   int        // numeric (non-array) columns, for the big.Int arena
	bad        bool       // the table had errors of its own (parsing only)
	line       *yaml.Node // the table's name, for cross-table errors
}

// Column is one mapped column.
type Column struct {
	Name string
	// From is the source path as written: "a.b", "$.a", "*", "#index",
	// "#value".
	From     string
	Type     Type
	Required bool
	// StripPrefix is removed from string values; a value without it
	// rejects the item.
	StripPrefix string
	// Format is "epoch_seconds" or "epoch_millis" (time types from N).
	Format string
	// Line is the column's line in the mapping file.
	Line int

	src     source
	path    path
	millis  bool
	notNull bool // required or part of the primary key
	keyCol  bool // a key column: an S value must convert injectively
}

// When is a table's item filter: every condition must hold.
type When struct {
	Conditions []Condition
}

// Op is a condition's test.
type Op uint8

const (
	OpEquals Op = iota + 1
	OpBeginsWith
	OpExists
	OpNotExists
)

// Condition is one test on an item attribute.
type Condition struct {
	// Attribute is a path from the item root.
	Attribute string
	Op        Op
	// Value is the YAML scalar compared with (equals) or the prefix
	// (begins_with).
	Value string
	Line  int

	path path
	num  *number // Value as a number, when it is one (equals)
}

// Load reads and parses a mapping file.
func Load(file string) (*Mapping, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading mapping: %w", err)
	}
	return Parse(file, data)
}

// Parse parses and validates a mapping. The error, if any, joins one *Error
// per problem found (see Errors), each naming its line and column.
func Parse(file string, data []byte) (*Mapping, error) {
	p := &parser{file: file}
	m := p.parse(data)
	if len(p.errs) > 0 {
		return nil, p.joined()
	}
	m.File = file
	m.fingerprint = m.computeFingerprint()
	return m, nil
}

// KeyOf returns the item's canonical key.
func (m *Mapping) KeyOf(item ddbitem.Item) (ddbitem.Key, error) {
	return ddbitem.KeyOf(item, m.Source.Key)
}

// Fingerprint identifies the mapping's meaning (not its formatting or
// comments): a hex SHA-256 that changes whenever rows could change.
func (m *Mapping) Fingerprint() string { return m.fingerprint }

// PinnedValue returns the value a `when: {attribute: attr, equals: V}`
// condition pins the root attribute attr to in this table.
func (t *Table) PinnedValue(attr string) (string, bool) {
	if t.When == nil {
		return "", false
	}
	for _, c := range t.When.Conditions {
		if c.Op == OpEquals && len(c.path.steps) == 1 && c.path.steps[0].name == attr {
			return c.Value, true
		}
	}
	return "", false
}

// Table returns the table with the given name as written, or nil.
func (m *Mapping) Table(name string) *Table {
	for _, t := range m.Tables {
		if t.Name == name {
			return t
		}
	}
	return nil
}
