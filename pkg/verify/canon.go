package verify

import (
	"bytes"
	"sort"
	"unicode/utf8"

	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
)

// canonJSONFast produces exactly what canonJSON produces for the common
// case (strict JSON, no duplicate object keys, strings that need no
// re-escaping) without building a generic tree; ok is false when the input
// needs the general path (which also words any error).
func canonJSONFast(data []byte) (string, bool) {
	c := canonizer{in: data, out: make([]byte, 0, len(data))}
	c.ws()
	if !c.value(0) {
		return "", false
	}
	c.ws()
	if c.pos != len(c.in) {
		return "", false // trailing data: the general path decides
	}
	return string(c.out), true
}

type canonizer struct {
	in   []byte
	pos  int
	out  []byte
	tmp  []byte
	mems []member
}

type member struct {
	key        []byte // raw key token contents (no escapes)
	start, end int    // canonical "key":value in out
}

func (c *canonizer) ws() {
	for c.pos < len(c.in) {
		switch c.in[c.pos] {
		case ' ', '\t', '\n', '\r':
			c.pos++
		default:
			return
		}
	}
}

func (c *canonizer) value(depth int) bool {
	if c.pos >= len(c.in) || depth > 1000 {
		return false
	}
	switch ch := c.in[c.pos]; {
	case ch == '{':
		return c.object(depth)
	case ch == '[':
		c.pos++
		c.out = append(c.out, '[')
		c.ws()
		if c.pos < len(c.in) && c.in[c.pos] == ']' {
			c.pos++
			c.out = append(c.out, ']')
			return true
		}
		for {
			c.ws()
			if !c.value(depth + 1) {
				return false
			}
			c.ws()
			if c.pos >= len(c.in) {
				return false
			}
			if c.in[c.pos] == ',' {
				c.pos++
				c.out = append(c.out, ',')
				continue
			}
			if c.in[c.pos] == ']' {
				c.pos++
				c.out = append(c.out, ']')
				return true
			}
			return false
		}
	case ch == '"':
		s, ok := c.str()
		if !ok {
			return false
		}
		c.out = append(c.out, '"')
		c.out = append(c.out, s...)
		c.out = append(c.out, '"')
		return true
	case ch == '-' || (ch >= '0' && ch <= '9'):
		return c.number()
	case ch == 't':
		return c.lit("true")
	case ch == 'f':
		return c.lit("false")
	case ch == 'n':
		return c.lit("null")
	}
	return false
}

func (c *canonizer) lit(s string) bool {
	if !bytes.HasPrefix(c.in[c.pos:], []byte(s)) {
		return false
	}
	c.pos += len(s)
	c.out = append(c.out, s...)
	return true
}

// str reads a string token whose contents json.Marshal would write back
// unchanged: no escapes, no control characters, no <, >, &, valid UTF-8
// without U+2028 / U+2029.
func (c *canonizer) str() ([]byte, bool) {
	c.pos++
	start := c.pos
	ascii := true
	for c.pos < len(c.in) {
		b := c.in[c.pos]
		switch {
		case b == '"':
			s := c.in[start:c.pos]
			c.pos++
			if !ascii && (!utf8.Valid(s) || bytes.Contains(s, []byte("\u2028")) || bytes.Contains(s, []byte("\u2029"))) {
				return nil, false
			}
			return s, true
		case b < 0x20 || b == '\\' || b == '<' || b == '>' || b == '&':
			return nil, false
		case b >= utf8.RuneSelf:
			ascii = false
		}
		c.pos++
	}
	return nil, false
}

func (c *canonizer) number() bool {
	start := c.pos
	i := c.pos
	in := c.in
	if in[i] == '-' {
		i++
	}
	if i >= len(in) {
		return false
	}
	if in[i] == '0' {
		i++
	} else if in[i] >= '1' && in[i] <= '9' {
		for i < len(in) && in[i] >= '0' && in[i] <= '9' {
			i++
		}
	} else {
		return false
	}
	if i < len(in) && in[i] == '.' {
		i++
		ds := i
		for i < len(in) && in[i] >= '0' && in[i] <= '9' {
			i++
		}
		if i == ds {
			return false
		}
	}
	if i < len(in) && (in[i] == 'e' || in[i] == 'E') {
		i++
		if i < len(in) && (in[i] == '+' || in[i] == '-') {
			i++
		}
		ds := i
		for i < len(in) && in[i] >= '0' && in[i] <= '9' {
			i++
		}
		if i == ds {
			return false
		}
	}
	c.pos = i
	tok := in[start:i]
	if canonicalNumberText(tok) {
		c.out = append(c.out, tok...)
		return true
	}
	d, err := ddbitem.ParseNumber(string(tok))
	if err != nil {
		return false
	}
	c.out = append(c.out, d.String()...)
	return true
}

// canonicalNumberText reports whether s (a JSON number token) is already
// in ddbitem.Decimal's canonical form: no exponent, no "-0", no trailing
// fractional zeros (and no bare trailing '.').
func canonicalNumberText[T string | []byte](s T) bool {
	i := 0
	if len(s) > 0 && s[0] == '-' {
		i = 1
	}
	if i >= len(s) {
		return false
	}
	intStart := i
	if s[i] == '0' {
		i++
	} else {
		if s[i] < '1' || s[i] > '9' {
			return false
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	zeroInt := i-intStart == 1 && s[intStart] == '0'
	if i == len(s) {
		return !(zeroInt && intStart == 1) // "-0" is not canonical
	}
	if s[i] != '.' {
		return false
	}
	i++
	fs := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i != len(s) || i == fs || s[i-1] == '0' {
		return false
	}
	return true
}

func (c *canonizer) object(depth int) bool {
	c.pos++
	c.ws()
	objStart := len(c.out)
	c.out = append(c.out, '{')
	if c.pos < len(c.in) && c.in[c.pos] == '}' {
		c.pos++
		c.out = append(c.out, '}')
		return true
	}
	base := len(c.mems)
	for {
		c.ws()
		if c.pos >= len(c.in) || c.in[c.pos] != '"' {
			return false
		}
		k, ok := c.str()
		if !ok {
			return false
		}
		c.ws()
		if c.pos >= len(c.in) || c.in[c.pos] != ':' {
			return false
		}
		c.pos++
		c.ws()
		if len(c.mems) > base {
			c.out = append(c.out, ',')
		}
		ms := len(c.out)
		c.out = append(c.out, '"')
		c.out = append(c.out, k...)
		c.out = append(c.out, '"', ':')
		if !c.value(depth + 1) {
			return false
		}
		c.mems = append(c.mems, member{key: k, start: ms, end: len(c.out)})
		c.ws()
		if c.pos >= len(c.in) {
			return false
		}
		if c.in[c.pos] == ',' {
			c.pos++
			continue
		}
		if c.in[c.pos] == '}' {
			c.pos++
			break
		}
		return false
	}
	mems := c.mems[base:]
	sorted := true
	for i := 1; i < len(mems); i++ {
		switch bytes.Compare(mems[i-1].key, mems[i].key) {
		case 0:
			return false // duplicate key: the general path keeps the last
		case 1:
			sorted = false
		}
	}
	if !sorted {
		sort.Slice(mems, func(i, j int) bool { return bytes.Compare(mems[i].key, mems[j].key) < 0 })
		for i := 1; i < len(mems); i++ {
			if bytes.Equal(mems[i-1].key, mems[i].key) {
				return false
			}
		}
		c.tmp = append(c.tmp[:0], '{')
		for i, m := range mems {
			if i > 0 {
				c.tmp = append(c.tmp, ',')
			}
			c.tmp = append(c.tmp, c.out[m.start:m.end]...)
		}
		c.out = append(c.out[:objStart], c.tmp...)
	}
	c.out = append(c.out, '}')
	c.mems = c.mems[:base]
	return true
}
