package ddbitem

import (
	"fmt"
	"strconv"
	"strings"
)

// Decimal is a parsed DynamoDB number: sign, significant digits without
// leading or trailing zeros, and the power of ten of the last digit, so the
// value is (-1)^Neg * Digits * 10^Exp. Zero has Digits "" and Exp 0.
type Decimal struct {
	Neg    bool
	Digits string
	Exp    int
}

// NumberError says why a text is not a DynamoDB number.
type NumberError struct {
	Text   string
	Reason string
}

func (e *NumberError) Error() string {
	return fmt.Sprintf("%q is not a number: %s", e.Text, e.Reason)
}

// ParseNumber parses decimal text as DynamoDB writes it: an optional sign,
// digits with an optional fraction, an optional exponent ("1E+2", "6d2" is
// not accepted here: Ion's form is converted by its decoder). It never goes
// through float64.
func ParseNumber(s string) (Decimal, error) {
	p, err := SplitNumber(s)
	if err != nil {
		return Decimal{}, err
	}
	digits := p.Int + p.Frac // no copy unless both are there
	if digits == "" {
		return Decimal{}, nil
	}
	return Decimal{Neg: p.Neg, Digits: digits, Exp: p.Exp}, nil
}

// NumberParts is a number text split in place, without allocating: the
// value is (-1)^Neg × digits × 10^Exp, where digits (Int followed by Frac,
// both substrings of the text) has no leading or trailing zeros. Zero has
// no digits and no sign. Scale is the number of decimal places as written
// ("1.50" → 2, "1.5E+1" → 0), what PostgreSQL keeps as a numeric's scale.
type NumberParts struct {
	Neg        bool
	Int, Frac  string
	Exp, Scale int
}

// maxExponent bounds exponents so arithmetic on them cannot overflow; far
// beyond anything DynamoDB (10^-130 .. 10^126) stores.
const maxExponent = 100_000

// SplitNumber reads the syntax ParseNumber accepts, for callers on a hot
// path that need no Decimal. Errors are *NumberError.
func SplitNumber(s string) (NumberParts, error) {
	var n NumberParts
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		n.Neg = s[i] == '-'
		i++
	}
	a := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	intp := s[a:i]
	var frac string
	if i < len(s) && s[i] == '.' {
		i++
		b := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		frac = s[b:i]
	}
	if intp == "" && frac == "" {
		return NumberParts{}, &NumberError{s, "no digits"}
	}
	e := 0
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		eneg := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			eneg = s[i] == '-'
			i++
		}
		b := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			if e > maxExponent {
				return NumberParts{}, &NumberError{s, "exponent out of range"}
			}
			e = e*10 + int(s[i]-'0')
			i++
		}
		if i == b {
			return NumberParts{}, &NumberError{s, "empty exponent"}
		}
		if eneg {
			e = -e
		}
	}
	if i != len(s) {
		return NumberParts{}, &NumberError{s, fmt.Sprintf("unexpected %q", s[i:])}
	}
	n.Scale = max(0, len(frac)-e)
	n.Exp = e - len(frac)
	intp = strings.TrimLeft(intp, "0")
	if intp == "" {
		frac = strings.TrimLeft(frac, "0")
	}
	if t := strings.TrimRight(frac, "0"); len(t) != len(frac) {
		n.Exp += len(frac) - len(t)
		frac = t
	}
	if frac == "" {
		t := strings.TrimRight(intp, "0")
		n.Exp += len(intp) - len(t)
		intp = t
	}
	if intp == "" && frac == "" {
		return NumberParts{Scale: n.Scale}, nil // zero, sign dropped as PostgreSQL does
	}
	n.Int, n.Frac = intp, frac
	return n, nil
}

// IsZero reports whether d is zero.
func (d Decimal) IsZero() bool { return d.Digits == "" }

// IsInteger reports whether d has no fractional part.
func (d Decimal) IsInteger() bool { return d.Exp >= 0 }

// magnitude is the power of ten of the leading digit, plus one.
func (d Decimal) magnitude() int { return len(d.Digits) + d.Exp }

// String renders d in plain notation without exponent ("-12.5", "100", "0.001").
func (d Decimal) String() string {
	if d.IsZero() {
		return "0"
	}
	var sb strings.Builder
	if d.Neg {
		sb.WriteByte('-')
	}
	switch {
	case d.Exp >= 0:
		sb.WriteString(d.Digits)
		sb.WriteString(strings.Repeat("0", d.Exp))
	case -d.Exp >= len(d.Digits):
		sb.WriteString("0.")
		sb.WriteString(strings.Repeat("0", -d.Exp-len(d.Digits)))
		sb.WriteString(d.Digits)
	default:
		p := len(d.Digits) + d.Exp
		sb.WriteString(d.Digits[:p])
		sb.WriteByte('.')
		sb.WriteString(d.Digits[p:])
	}
	return sb.String()
}

// Cmp compares two decimals by value: -1, 0 or +1.
func (d Decimal) Cmp(o Decimal) int {
	switch {
	case d.IsZero() && o.IsZero():
		return 0
	case d.IsZero():
		if o.Neg {
			return 1
		}
		return -1
	case o.IsZero():
		if d.Neg {
			return -1
		}
		return 1
	case d.Neg != o.Neg:
		if d.Neg {
			return -1
		}
		return 1
	}
	c := cmpAbs(d, o)
	if d.Neg {
		return -c
	}
	return c
}

func cmpAbs(a, b Decimal) int {
	if ma, mb := a.magnitude(), b.magnitude(); ma != mb {
		if ma < mb {
			return -1
		}
		return 1
	}
	n := max(len(a.Digits), len(b.Digits))
	for i := 0; i < n; i++ {
		var x, y byte = '0', '0'
		if i < len(a.Digits) {
			x = a.Digits[i]
		}
		if i < len(b.Digits) {
			y = b.Digits[i]
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

// CompareNumbers compares two decimal texts by value. A text that does not
// parse sorts after every number, and among such texts bytewise, so the order
// is total.
func CompareNumbers(a, b string) int {
	da, ea := ParseNumber(a)
	db, eb := ParseNumber(b)
	switch {
	case ea != nil && eb != nil:
		return strings.Compare(a, b)
	case ea != nil:
		return 1
	case eb != nil:
		return -1
	}
	return da.Cmp(db)
}

// CanonicalNumber returns the plain-notation form of a number text, the form
// keys are compared in (DynamoDB treats "1.0" and "1" as the same key).
func CanonicalNumber(s string) (string, error) {
	d, err := ParseNumber(s)
	if err != nil {
		return "", err
	}
	return d.String(), nil
}

// CheckedNum is Num for text from outside (an SDK response, a Streams API
// record, a Lambda event): the one number rule every attribute-value family
// applies, so a value that is not a DynamoDB number is refused the same way
// whichever way it arrived. Errors are *NumberError.
func CheckedNum(s string) (Value, error) {
	if _, err := SplitNumber(s); err != nil {
		return Value{}, err
	}
	return Num(s), nil
}

// CheckedNumSet is NumSet for text from outside (see CheckedNum).
func CheckedNumSet(ns ...string) (Value, error) {
	for _, n := range ns {
		if _, err := SplitNumber(n); err != nil {
			return Value{}, err
		}
	}
	return NumSet(ns...), nil
}

// ParseMicros reads an export line's WriteTimestampMicros: a non-negative
// integer number of microseconds in any DynamoDB number spelling
// ("1700000000000000", "1.7E15", an Ion decimal converted to text), within
// int64. Both export decoders use it, so JSON and ION lines agree.
func ParseMicros(s string) (int64, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 {
		return n, nil
	}
	dec, err := ParseNumber(s)
	if err != nil || !dec.IsInteger() || dec.Neg {
		return 0, &NumberError{Text: s, Reason: "not a non-negative integer number of microseconds"}
	}
	n, err := strconv.ParseInt(dec.String(), 10, 64)
	if err != nil {
		return 0, &NumberError{Text: s, Reason: "out of range for microseconds (int64)"}
	}
	return n, nil
}
