package main

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// One parser per kind of flag value. Each refuses a value with a message
// that names the value and what is allowed; flagError prefixes the flag's
// name, so every command says `--workers: "abc" is not a whole number` the
// same way. A flag's default is never checked against its range: 0 in a
// default may mean "pick for me" (--workers: the CPU count), while a 0 the
// user types is refused.

// noMax marks a range without an upper bound.
const noMax = math.MaxInt64

// intValue is a whole-number flag within [min, max].
type intValue struct {
	set      func(int64)
	get      func() int64
	min, max int64
}

func (v *intValue) Set(s string) error {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
			return fmt.Errorf("%s is out of range (%s)", s, intRange(v.min, v.max))
		}
		return fmt.Errorf("%q is not a whole number (%s)", s, intRange(v.min, v.max))
	}
	if n < v.min || n > v.max {
		return fmt.Errorf("%d is out of range (%s)", n, intRange(v.min, v.max))
	}
	v.set(n)
	return nil
}

func (v *intValue) String() string {
	if v.get == nil { // pflag's zero-value probe
		return "0"
	}
	return strconv.FormatInt(v.get(), 10)
}

func (v *intValue) Type() string { return "int" }

func intRange(min, max int64) string {
	if max == noMax {
		return fmt.Sprintf("allowed: %d or more", min)
	}
	return fmt.Sprintf("allowed: %d to %d", min, max)
}

// intFlag defines an int flag accepting only [min, max].
func intFlag(f *pflag.FlagSet, p *int, name string, def int, min, max int64, usage string) {
	*p = def
	f.Var(&intValue{set: func(n int64) { *p = int(n) }, get: func() int64 { return int64(*p) }, min: min, max: max}, name, usage)
}

// int64Flag defines an int64 flag accepting only [min, max].
func int64Flag(f *pflag.FlagSet, p *int64, name string, def int64, min, max int64, usage string) {
	*p = def
	f.Var(&intValue{set: func(n int64) { *p = n }, get: func() int64 { return *p }, min: min, max: max}, name, usage)
}

// floatValue is a non-negative number flag (a rate).
type floatValue struct{ p *float64 }

func (v *floatValue) Set(s string) error {
	n, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
		return fmt.Errorf("%q is not a number (allowed: 0 or more)", s)
	}
	if n < 0 {
		return fmt.Errorf("%s is out of range (allowed: 0 or more)", s)
	}
	*v.p = n
	return nil
}

func (v *floatValue) String() string {
	if v.p == nil {
		return "0"
	}
	return strconv.FormatFloat(*v.p, 'g', -1, 64)
}

func (v *floatValue) Type() string { return "float" }

// nonNegativeFloatFlag defines a float64 flag accepting 0 or more.
func nonNegativeFloatFlag(f *pflag.FlagSet, p *float64, name string, def float64, usage string) {
	*p = def
	f.Var(&floatValue{p}, name, usage)
}

// durationValue is a duration flag of at least min (0 allowed only when
// zeroOK), e.g. 30s, 5m, 1h30m.
type durationValue struct {
	p      *time.Duration
	zeroOK bool
}

func (v *durationValue) Set(s string) error {
	s = strings.TrimSpace(s)
	d, err := time.ParseDuration(s)
	if err != nil {
		if _, numErr := strconv.ParseFloat(s, 64); numErr == nil {
			return fmt.Errorf("%q needs a unit, like %ss or %sm", s, s, s)
		}
		return fmt.Errorf("%q is not a duration (like 30s, 5m or 1h30m)", s)
	}
	switch {
	case d < 0:
		return fmt.Errorf("%s is negative (%s)", s, v.allowed())
	case d == 0 && !v.zeroOK:
		return fmt.Errorf("%s is out of range (%s)", s, v.allowed())
	}
	*v.p = d
	return nil
}

func (v *durationValue) allowed() string {
	if v.zeroOK {
		return "allowed: 0 or more"
	}
	return "allowed: more than 0, like 1s"
}

func (v *durationValue) String() string {
	if v.p == nil {
		return "0s"
	}
	return v.p.String()
}

func (v *durationValue) Type() string { return "duration" }

// durationFlag defines a duration flag; zeroOK says whether 0 has a meaning
// (e.g. "no limit"); negative durations are always refused.
func durationFlag(f *pflag.FlagSet, p *time.Duration, name string, def time.Duration, zeroOK bool, usage string) {
	*p = def
	f.Var(&durationValue{p: p, zeroOK: zeroOK}, name, usage)
}

// choiceValue is a flag taking one of a fixed set of words.
type choiceValue struct {
	p       *string
	choices []string
}

func (v *choiceValue) Set(s string) error {
	for _, c := range v.choices {
		if strings.EqualFold(s, c) {
			*v.p = c
			return nil
		}
	}
	return fmt.Errorf("%q is not one of %s", s, orList(v.choices))
}

func (v *choiceValue) String() string {
	if v.p == nil {
		return ""
	}
	return *v.p
}

func (v *choiceValue) Type() string { return "string" }

// choiceFlag defines a string flag accepting only the given words (any case).
func choiceFlag(f *pflag.FlagSet, p *string, name, def string, choices []string, usage string) {
	*p = def
	f.Var(&choiceValue{p: p, choices: choices}, name, usage)
}

func orList(words []string) string {
	switch len(words) {
	case 0:
		return ""
	case 1:
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

// levelValue is --log-level: slog's level names (any case, with an offset
// such as warn+2 as slog accepts).
type levelValue struct{ p *string }

func (v *levelValue) Set(s string) error {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return fmt.Errorf("%q is not a log level (debug, info, warn or error)", s)
	}
	*v.p = s
	return nil
}

func (v *levelValue) String() string {
	if v.p == nil {
		return ""
	}
	return *v.p
}

func (v *levelValue) Type() string { return "string" }

// flagError rewrites pflag's parse errors so they name the flag first and
// say what is wrong in words; an unknown flag gets the closest known one.
func flagError(cmd *cobra.Command, err error) error {
	var inv *pflag.InvalidValueError
	var none *pflag.NotExistError
	var need *pflag.ValueRequiredError
	switch {
	case errors.As(err, &inv):
		cause := errors.Unwrap(inv)
		var ne *strconv.NumError
		if errors.As(cause, &ne) && ne.Func == "ParseBool" {
			cause = fmt.Errorf("%q is not true or false", inv.GetValue())
		}
		return usageError{fmt.Errorf("--%s: %v", inv.GetFlag().Name, cause)}
	case errors.As(err, &need):
		return usageError{fmt.Errorf("%s needs a value (see %s --help)", strings.TrimPrefix(err.Error(), "flag needs an argument: "), cmd.CommandPath())}
	case errors.As(err, &none):
		// -mapping (one dash, as Go's flag package takes it) reaches pflag
		// as the shorthands m, a, p...: the group is the name meant.
		name, dashes := none.GetSpecifiedName(), "--"
		if group := none.GetSpecifiedShortnames(); group != "" {
			name, dashes = group, "-"
		}
		if s := closestFlag(cmd, name); s != "" {
			return usageError{fmt.Errorf("unknown flag %s%s: did you mean --%s?", dashes, name, s)}
		}
		return usageError{fmt.Errorf("unknown flag %s%s (see %s --help)", dashes, name, cmd.CommandPath())}
	}
	return usageError{err}
}

// closestFlag returns the command's flag nearest to name: within two edits
// (one for a name of two or three letters, none for one letter), or the only
// flag name starts with; "" when none is close.
func closestFlag(cmd *cobra.Command, name string) string {
	best, bestD := "", min(2, len(name)/2)+1
	var prefixed []string
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		if d := editDistance(strings.ToLower(name), f.Name); d < bestD {
			best, bestD = f.Name, d
		}
		if len(name) >= 3 && strings.HasPrefix(f.Name, name) {
			prefixed = append(prefixed, f.Name)
		}
	})
	if best == "" && len(prefixed) == 1 {
		return prefixed[0]
	}
	return best
}

// editDistance is the Levenshtein distance between a and b (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
