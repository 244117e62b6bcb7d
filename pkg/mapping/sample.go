package mapping

import (
	"errors"
	"fmt"

	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
)

// CheckSample refuses what a sample of the source's items shows cannot
// work: a column (of a table without for_each, or a "$." column) whose
// from: path continues into an attribute of a value that is a list (L) in
// most of the sampled items that have it, e.g. from: items.sku where items
// is a list. Loaded as is, every such item would be rejected; a list's
// elements become rows of a table with for_each. It returns nil when the
// sample shows no such column, else the *Error values joined, each at the
// column's line. Items the table's when does not select are not counted.
func (m *Mapping) CheckSample(items []ddbitem.Item) error {
	var errs []error
	for _, t := range m.Tables {
		for _, c := range t.Columns {
			if c.src != srcPath || (t.ForEach != "" && !c.path.root) || len(c.path.steps) < 2 {
				continue
			}
			var lists, others, at int
			for _, it := range items {
				if !t.matches(it) {
					continue
				}
				_, found, rerr := resolveItem(it, c.path.steps)
				switch {
				case rerr != nil && rerr.got == ddbitem.L && !c.path.steps[rerr.at].isIndex:
					lists++
					at = rerr.at
				case rerr != nil || found:
					others++
				}
			}
			if lists == 0 || lists <= others {
				continue
			}
			list := path{steps: c.path.steps[:at]}
			rest := path{steps: c.path.steps[at:]}
			errs = append(errs, &Error{File: m.File, Line: c.Line, Msg: fmt.Sprintf(
				"table %s, column %s: from %s reaches into a list: %s is a list (L) in %d of the %d sampled items that have it; "+
					"map its elements with a table that has for_each: %s (and from: %s), or take one element, e.g. from: %s[0].%s",
				t.Name, c.Name, c.From, list.display(), lists, lists+others, list.display(), rest.display(), list.display(), rest.display())})
		}
	}
	return errors.Join(errs...)
}
