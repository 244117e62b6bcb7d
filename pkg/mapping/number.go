package mapping

import (
	"math"
	"math/big"
	"strconv"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
)

// number is a DynamoDB number text split in place by ddbitem.SplitNumber,
// without allocating, carrying the conversions the column types need: the
// value is (-1)^neg × digits × 10^exp, where digits (d1 followed by d2) has
// no leading or trailing zeros. Zero has no digits.
type number struct {
	neg    bool
	d1, d2 string
	exp    int
	// scale is the number of decimal places as written ("1.50" → 2,
	// "1.5E+1" → 0), what PostgreSQL would keep as the display scale.
	scale int
}

// parseNumber splits a DynamoDB number text (ddbitem.SplitNumber); ok is
// false for anything that is not one.
func parseNumber(s string) (n number, ok bool) {
	p, err := ddbitem.SplitNumber(s)
	if err != nil {
		return number{}, false
	}
	return number{neg: p.Neg, d1: p.Int, d2: p.Frac, exp: p.Exp, scale: p.Scale}, true
}

func (n *number) zero() bool   { return n.d1 == "" && n.d2 == "" }
func (n *number) ndigits() int { return len(n.d1) + len(n.d2) }

// intDigits is the number of digits before the decimal point.
func (n *number) intDigits() int { return max(0, n.ndigits()+n.exp) }

// fracDigits is the number of significant decimal places.
func (n *number) fracDigits() int { return max(0, -n.exp) }

func (n *number) digit(i int) byte {
	if i < len(n.d1) {
		return n.d1[i]
	}
	return n.d2[i-len(n.d1)]
}

// uint64Times returns digits × 10^shift when it fits in 63 bits.
func (n *number) uint64Times(shift int) (uint64, bool) {
	if n.ndigits()+shift > 19 {
		return 0, false
	}
	var v uint64
	for i := 0; i < n.ndigits(); i++ {
		v = v*10 + uint64(n.digit(i)-'0')
	}
	for ; shift > 0; shift-- {
		v *= 10
	}
	return v, v <= math.MaxInt64
}

// int64 returns the value if it is an integer within int64.
func (n *number) int64() (v int64, integer, inRange bool) {
	if n.zero() {
		return 0, true, true
	}
	if n.exp < 0 {
		return 0, false, false
	}
	if n.ndigits()+n.exp > 19 {
		return 0, true, false
	}
	var u uint64
	for i := 0; i < n.ndigits(); i++ {
		u = u*10 + uint64(n.digit(i)-'0')
	}
	for k := 0; k < n.exp; k++ {
		if u > math.MaxUint64/10 {
			return 0, true, false
		}
		u *= 10
	}
	switch {
	case !n.neg && u <= math.MaxInt64:
		return int64(u), true, true
	case n.neg && u <= math.MaxInt64:
		return -int64(u), true, true
	case n.neg && u == math.MaxInt64+1:
		return math.MinInt64, true, true
	}
	return 0, true, false
}

// bigTimes returns digits × 10^shift as a big.Int with the number's sign.
func (n *number) bigTimes(shift int, s *scratch) *big.Int {
	if u, ok := n.uint64Times(shift); ok {
		z := s.newInt()
		z.SetUint64(u)
		if n.neg {
			z.Neg(z)
		}
		return z
	}
	b := make([]byte, 0, 1+n.ndigits()+shift)
	if n.neg {
		b = append(b, '-')
	}
	b = append(b, n.d1...)
	b = append(b, n.d2...)
	for ; shift > 0; shift-- {
		b = append(b, '0')
	}
	v, _ := new(big.Int).SetString(string(b), 10)
	return v
}

// PostgreSQL numeric limits: digits before the point and display scale.
const (
	pgMaxIntDigits = 131072
	pgMaxScale     = 16383
)

// numeric converts n for a numeric(p,s) column (precision 0: unconstrained).
// It never rounds: a value that does not fit exactly gives a reason.
func (n *number) numeric(t *Type, s *scratch) (pgtype.Numeric, string) {
	if t.Precision == 0 {
		if n.intDigits() > pgMaxIntDigits || n.fracDigits() > pgMaxScale {
			return pgtype.Numeric{}, "out of PostgreSQL's numeric range"
		}
		if n.zero() {
			return pgtype.Numeric{Int: s.newInt(), Valid: true}, ""
		}
		return pgtype.Numeric{Int: n.bigTimes(0, s), Exp: int32(n.exp), Valid: true}, ""
	}
	if fd := n.fracDigits(); fd > t.Scale {
		return pgtype.Numeric{}, "does not fit " + t.Name + " exactly: " + itoa(fd) + " decimal places, scale is " + itoa(t.Scale)
	}
	if id := n.intDigits(); id > t.Precision-t.Scale {
		return pgtype.Numeric{}, "does not fit " + t.Name + ": " + itoa(id) + " integer digits, at most " + itoa(t.Precision-t.Scale)
	}
	if n.zero() {
		return pgtype.Numeric{Int: s.newInt(), Exp: int32(-t.Scale), Valid: true}, ""
	}
	// Scaled so PostgreSQL shows the column's scale (1.5 → 1.50).
	return pgtype.Numeric{Int: n.bigTimes(n.exp+t.Scale, s), Exp: int32(-t.Scale), Valid: true}, ""
}

// canonical renders n in plain notation with no superfluous zeros, as
// ddbitem.CanonicalNumber does ("1E+2" → "100", "1.50" → "1.5").
func (n *number) canonical() string {
	if n.zero() {
		return "0"
	}
	var b []byte
	if n.neg {
		b = append(b, '-')
	}
	digits := n.d1 + n.d2
	switch {
	case n.exp >= 0:
		b = append(b, digits...)
		for k := 0; k < n.exp; k++ {
			b = append(b, '0')
		}
	case -n.exp >= len(digits):
		b = append(b, "0."...)
		for k := 0; k < -n.exp-len(digits); k++ {
			b = append(b, '0')
		}
		b = append(b, digits...)
	default:
		p := len(digits) + n.exp
		b = append(b, digits[:p]...)
		b = append(b, '.')
		b = append(b, digits[p:]...)
	}
	return string(b)
}

// cmp compares two numbers by value.
func (n *number) cmp(o *number) int {
	sign := func(x *number) int {
		switch {
		case x.zero():
			return 0
		case x.neg:
			return -1
		}
		return 1
	}
	sa, sb := sign(n), sign(o)
	if sa != sb || sa == 0 {
		return cmpInt(sa, sb)
	}
	c := 0
	if ma, mb := n.ndigits()+n.exp, o.ndigits()+o.exp; ma != mb {
		c = cmpInt(ma, mb)
	} else {
		for i := 0; i < max(n.ndigits(), o.ndigits()) && c == 0; i++ {
			var x, y byte = '0', '0'
			if i < n.ndigits() {
				x = n.digit(i)
			}
			if i < o.ndigits() {
				y = o.digit(i)
			}
			c = cmpInt(int(x), int(y))
		}
	}
	return c * sa
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// jsonNumber reports whether s is already a valid JSON number literal, so
// it can be written as is.
func jsonNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		b := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == b {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		b := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == b {
			return false
		}
	}
	return i == len(s)
}

func itoa(i int) string { return strconv.Itoa(i) }

// scratch is memory shared by the values of one item: jsonb text and the
// big.Ints of numeric values, allocated once per item instead of per value.
// A nil or empty scratch falls back to plain allocation.
type scratch struct {
	buf   []byte
	ints  []big.Int
	words []big.Word
}

// newInt returns a zero big.Int, from the arena when it has one left; its
// two preallocated words hold any value up to 64 bits on every platform.
func (s *scratch) newInt() *big.Int {
	if s == nil || len(s.ints) == 0 {
		return new(big.Int)
	}
	z := &s.ints[0]
	s.ints = s.ints[1:]
	z.SetBits(s.words[:0:2])
	s.words = s.words[2:]
	return z
}
