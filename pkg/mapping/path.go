package mapping

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
)

// source says where a column's value comes from.
type source uint8

const (
	srcPath  source = iota + 1 // an attribute path (item root or for_each element)
	srcStar                    // "*": the unmapped root attributes as one object
	srcIndex                   // "#index": the element's position
	srcValue                   // "#value": the for_each element itself
)

// step is one segment of a path: an attribute name or a list index.
type step struct {
	name    string
	index   int
	isIndex bool
}

// path is a parsed attribute path. root is set for "$."-paths, which start
// at the item even inside a for_each table.
type path struct {
	root  bool
	steps []step
}

// pathError carries the byte offset in the path text, so the YAML error can
// point at the exact column.
type pathError struct {
	off int
	msg string
}

func (e *pathError) Error() string { return e.msg }

// parsePath parses `a`, `a.b`, `a[2].b`, `$.a`, and `["any name"]` segments
// for attribute names that contain '.', '[', ']', '"' or spaces.
func parsePath(s string) (path, error) {
	var p path
	i := 0
	if strings.HasPrefix(s, "$.") {
		p.root = true
		i = 2
	} else if s == "$" {
		return p, &pathError{0, `"$" alone is not a path; use "$.attribute"`}
	}
	if i == len(s) {
		return p, &pathError{i, "empty path"}
	}
	first := true
	for i < len(s) {
		switch {
		case s[i] == '[':
			j := i + 1
			if j < len(s) && s[j] == '"' {
				name, n, err := quotedName(s[j:])
				if err != nil {
					return p, &pathError{j, err.Error()}
				}
				j += n
				if j >= len(s) || s[j] != ']' {
					return p, &pathError{j, `expected "]" after quoted name`}
				}
				p.steps = append(p.steps, step{name: name})
				i = j + 1
				break
			}
			if first {
				return p, &pathError{i, "a path must start with an attribute name"}
			}
			k := j
			for k < len(s) && s[k] >= '0' && s[k] <= '9' {
				k++
			}
			if k == j || k >= len(s) || s[k] != ']' {
				return p, &pathError{i, `expected "[N]" with a non-negative integer index or ["name"]`}
			}
			n, err := strconv.Atoi(s[j:k])
			if err != nil || n > 1<<20 {
				return p, &pathError{j, "index too large"}
			}
			p.steps = append(p.steps, step{index: n, isIndex: true})
			i = k + 1
		case s[i] == '.' && !first:
			i++
			if i < len(s) && s[i] == '[' && i+1 < len(s) && s[i+1] == '"' {
				continue // a.["b.c"] is read as a["b.c"]
			}
			fallthrough
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(`.[]"`, rune(s[j])) && s[j] > ' ' {
				j++
			}
			if j == i {
				if i < len(s) {
					return p, &pathError{i, fmt.Sprintf("unexpected %q in path", s[i])}
				}
				return p, &pathError{i, "path ends with an empty segment"}
			}
			name := s[i:j]
			if first && (name[0] == '$' || name[0] == '#' || name == "*") {
				return p, &pathError{i, fmt.Sprintf(`%q: attribute names starting with "$" or "#" (or "*") must be written ["%s"]`, name, name)}
			}
			p.steps = append(p.steps, step{name: name})
			i = j
		}
		first = false
		if i < len(s) && s[i] != '.' && s[i] != '[' {
			return p, &pathError{i, fmt.Sprintf("unexpected %q in path (use [\"...\"] for names with spaces or punctuation)", s[i])}
		}
	}
	return p, nil
}

// quotedName reads a JSON string at the start of s, returning it and the
// number of bytes it used.
func quotedName(s string) (string, int, error) {
	for j := 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case '"':
			var name string
			if err := json.Unmarshal([]byte(s[:j+1]), &name); err != nil {
				return "", 0, fmt.Errorf("bad quoted name %s", s[:j+1])
			}
			if name == "" {
				return "", 0, fmt.Errorf("empty attribute name")
			}
			return name, j + 1, nil
		}
	}
	return "", 0, fmt.Errorf("unterminated quoted name")
}

// plainName reports whether a name can be written without quoting.
func plainName(s string, first bool) bool {
	if s == "" || (first && (s[0] == '$' || s[0] == '#' || s == "*")) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || strings.IndexByte(`.[]"`, s[i]) >= 0 {
			return false
		}
	}
	return true
}

// appendSteps renders steps in path syntax (first: whether the first step
// starts the path, so needs no dot).
func appendSteps(b []byte, steps []step, first bool) []byte {
	for _, st := range steps {
		switch {
		case st.isIndex:
			b = append(b, '[')
			b = strconv.AppendInt(b, int64(st.index), 10)
			b = append(b, ']')
		case plainName(st.name, first):
			if !first {
				b = append(b, '.')
			}
			b = append(b, st.name...)
		default:
			q, _ := json.Marshal(st.name)
			b = append(b, '[')
			b = append(b, q...)
			b = append(b, ']')
		}
		first = false
	}
	return b
}

// String renders p canonically.
func (p path) String() string {
	var b []byte
	if p.root {
		b = append(b, "$."...)
	}
	return string(appendSteps(b, p.steps, true))
}

// resolveError says a path went through a value of the wrong type (an
// attribute of a string, an index of a map): the item does not have the shape
// the mapping expects, which is reported rather than read as missing.
type resolveError struct {
	at  int // steps consumed before the failing one
	got ddbitem.Kind
}

// resolve follows steps from v. found is false when an attribute or index is
// absent or a value on the way is NULL.
func resolve(v ddbitem.Value, steps []step) (ddbitem.Value, bool, *resolveError) {
	for i, st := range steps {
		if v.IsNull() {
			return ddbitem.Value{}, false, nil
		}
		if st.isIndex {
			if v.Kind != ddbitem.L {
				return ddbitem.Value{}, false, &resolveError{i, v.Kind}
			}
			if st.index >= len(v.List) {
				return ddbitem.Value{}, false, nil
			}
			v = v.List[st.index]
			continue
		}
		if v.Kind != ddbitem.M {
			return ddbitem.Value{}, false, &resolveError{i, v.Kind}
		}
		var ok bool
		if v, ok = v.Map[st.name]; !ok {
			return ddbitem.Value{}, false, nil
		}
	}
	if v.IsNull() {
		return v, false, nil
	}
	return v, true, nil
}

// resolveItem follows steps from the item root without building a map Value.
func resolveItem(item ddbitem.Item, steps []step) (ddbitem.Value, bool, *resolveError) {
	v, ok := item[steps[0].name]
	if !ok {
		return ddbitem.Value{}, false, nil
	}
	v, found, rerr := resolve(v, steps[1:])
	if rerr != nil {
		rerr.at++
	}
	return v, found, rerr
}
