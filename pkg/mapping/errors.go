package mapping

import (
	"errors"
	"fmt"
	"strings"
)

// Error is one problem in a mapping file, at a line and column (1-based;
// 0 when unknown).
type Error struct {
	File         string
	Line, Column int
	Msg          string
}

func (e *Error) Error() string {
	switch {
	case e.Line > 0 && e.Column > 0:
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
	case e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Errors returns the *Error values in err (as Parse returns them joined).
func Errors(err error) []*Error {
	var out []*Error
	var walk func(error)
	walk = func(err error) {
		if err == nil {
			return
		}
		if e, ok := err.(*Error); ok {
			out = append(out, e)
			return
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		var e *Error
		if errors.As(err, &e) {
			out = append(out, e)
		}
	}
	walk(err)
	return out
}

// Reject says why an item cannot be written: the first value that does not
// convert. The whole item is rejected, never part of it.
type Reject struct {
	// Table and Column name where the value was going ("" when the
	// problem is not one column's, e.g. a for_each value that is no list).
	Table, Column string
	// Path is where the value is in the item, e.g. "items[3].price".
	Path string
	// Raw is the offending value in DynamoDB JSON ("" when absent).
	Raw string
	// Reason says what is wrong, e.g. "1.005 does not fit numeric(12,2)
	// exactly".
	Reason string
}

func (r *Reject) Error() string {
	var sb strings.Builder
	sb.WriteString("table ")
	sb.WriteString(r.Table)
	if r.Column != "" {
		sb.WriteString(", column ")
		sb.WriteString(r.Column)
	}
	if r.Path != "" {
		sb.WriteString(" (from ")
		sb.WriteString(r.Path)
		sb.WriteString(")")
	}
	if r.Raw != "" {
		sb.WriteString(": value ")
		sb.WriteString(r.Raw)
	}
	sb.WriteString(": ")
	sb.WriteString(r.Reason)
	return sb.String()
}

// ColumnsError says why an existing table does not fit its mapping.
type ColumnsError struct {
	Table    string
	Problems []ColumnProblem
}

// ColumnProblem is one column's misfit.
type ColumnProblem struct {
	Column string
	Reason string
}

func (e *ColumnsError) Error() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "table %s does not fit the mapping:", e.Table)
	for i, p := range e.Problems {
		if i > 0 {
			sb.WriteByte(';')
		}
		fmt.Fprintf(&sb, " column %s: %s", p.Column, p.Reason)
	}
	return sb.String()
}
