package mapping

import (
	"time"
)

// PostgreSQL's earliest timestamp (4714-11-24 00:00 UTC BC) in Unix
// microseconds; the latest is beyond what int64 Unix microseconds reach.
const pgMinUnixMicro = -210866803200000000

// parseTimestamp reads RFC 3339 / ISO 8601 text: YYYY-MM-DD, optionally
// followed by T (or t or a space) hh:mm[:ss[.fraction]] and a zone (Z,
// ±hh:mm, ±hhmm, ±hh). Text without a zone is UTC. Fractions finer than a
// microsecond are rejected rather than rounded, as PostgreSQL would.
func parseTimestamp(s string) (time.Time, string) {
	const bad = "is not a timestamp (RFC 3339, ISO 8601 or YYYY-MM-DD)"
	i := 0
	num := func(width int) (int, bool) {
		if i+width > len(s) {
			return 0, false
		}
		v := 0
		for k := 0; k < width; k++ {
			c := s[i+k]
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		i += width
		return v, true
	}
	lit := func(c byte) bool {
		if i < len(s) && s[i] == c {
			i++
			return true
		}
		return false
	}
	year, ok1 := num(4)
	ok2 := lit('-')
	month, ok3 := num(2)
	ok4 := lit('-')
	day, ok5 := num(2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5) {
		return time.Time{}, bad
	}
	if month < 1 || month > 12 {
		return time.Time{}, bad + ": month out of range"
	}
	if day < 1 || day > daysIn(year, month) {
		return time.Time{}, bad + ": day out of range"
	}
	var hour, minute, sec, nsec int
	offset := 0
	if i < len(s) {
		if c := s[i]; c != 'T' && c != 't' && c != ' ' {
			return time.Time{}, bad
		}
		i++
		var ok bool
		if hour, ok = num(2); !ok || !lit(':') {
			return time.Time{}, bad
		}
		if minute, ok = num(2); !ok {
			return time.Time{}, bad
		}
		if lit(':') {
			if sec, ok = num(2); !ok {
				return time.Time{}, bad
			}
			if lit('.') {
				digits := 0
				for i < len(s) && s[i] >= '0' && s[i] <= '9' {
					if digits == 9 {
						return time.Time{}, bad + ": more than 9 fractional digits"
					}
					nsec = nsec*10 + int(s[i]-'0')
					digits++
					i++
				}
				if digits == 0 {
					return time.Time{}, bad
				}
				for k := digits; k < 9; k++ {
					nsec *= 10
				}
			}
		}
		if hour > 23 || minute > 59 || sec > 59 {
			return time.Time{}, bad + ": time of day out of range"
		}
		if i < len(s) {
			switch s[i] {
			case 'Z', 'z':
				i++
			case '+', '-':
				sign := 1
				if s[i] == '-' {
					sign = -1
				}
				i++
				oh, ok := num(2)
				if !ok {
					return time.Time{}, bad
				}
				om := 0
				if i < len(s) {
					lit(':')
					if om, ok = num(2); !ok {
						return time.Time{}, bad
					}
				}
				if oh > 23 || om > 59 {
					return time.Time{}, bad + ": zone offset out of range"
				}
				offset = sign * (oh*3600 + om*60)
			default:
				return time.Time{}, bad
			}
		}
		if i != len(s) {
			return time.Time{}, bad
		}
	}
	if nsec%1000 != 0 {
		return time.Time{}, "has fractional seconds finer than a microsecond, which PostgreSQL would round"
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	if offset != 0 {
		t = t.Add(-time.Duration(offset) * time.Second)
	}
	return t, ""
}

func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// epochTime converts an epoch number (seconds or milliseconds) exactly.
func epochTime(n *number, millis bool) (time.Time, string) {
	shift := 6 // to microseconds
	if millis {
		shift = 3
	}
	if n.zero() {
		return time.Unix(0, 0).UTC(), ""
	}
	e := n.exp + shift
	if e < 0 {
		return time.Time{}, "has a fraction finer than a microsecond, which PostgreSQL would round"
	}
	u, ok := n.uint64Times(e)
	if !ok {
		return time.Time{}, "is out of range for a timestamp"
	}
	micros := int64(u)
	if n.neg {
		micros = -micros
	}
	if micros < pgMinUnixMicro {
		return time.Time{}, "is out of range for a timestamp"
	}
	return time.UnixMicro(micros).UTC(), ""
}
