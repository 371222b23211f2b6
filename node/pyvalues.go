package node

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// This file reproduces the small Python value parsers that Tahoe applies to
// tahoe.cfg values, so that a value means here what it means there:
// str.strip, int(), ConfigParser.getboolean, util/abbreviate.py
// parse_abbreviated_size and util/time_format.py parse_duration and
// parse_date. Python's \d and int() accept every Unicode decimal digit
// (category Nd), and its \s and str.strip() a slightly wider set of spaces
// than Go's unicode.IsSpace; both are copied.

// pyIsSpace reports whether Python's str.isspace() holds for r.
func pyIsSpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', 0x1c, 0x1d, 0x1e, 0x1f, ' ',
		0x85, 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000:
		return true
	}
	return r >= 0x2000 && r <= 0x200a
}

// pyStrip is Python's str.strip().
func pyStrip(s string) string { return strings.TrimFunc(s, pyIsSpace) }

// pyRStrip is Python's str.rstrip().
func pyRStrip(s string) string { return strings.TrimRightFunc(s, pyIsSpace) }

// pyDigit returns the value of a Unicode decimal digit (category Nd), as
// Python's int() and re's \d see it. Nd digits come in runs of ten, 0 to 9.
func pyDigit(r rune) (int, bool) {
	if r >= '0' && r <= '9' {
		return int(r - '0'), true
	}
	if r < 0x80 || !unicode.IsDigit(r) {
		return 0, false
	}
	start := r
	for unicode.IsDigit(start - 1) {
		start--
	}
	return int(r-start) % 10, true
}

// pyDigits converts a run of Unicode decimal digits to ASCII; ok is false if
// s is empty or holds anything else.
func pyDigits(s string) (string, bool) {
	if s == "" {
		return "", false
	}
	var b strings.Builder
	for _, r := range s {
		d, ok := pyDigit(r)
		if !ok {
			return "", false
		}
		b.WriteByte(byte('0' + d))
	}
	return b.String(), true
}

// leadingDigits splits s after its longest prefix of Unicode decimal digits.
func leadingDigits(s string) (digits, rest string) {
	for i, r := range s {
		if _, ok := pyDigit(r); !ok {
			return s[:i], s[i:]
		}
	}
	return s, ""
}

var errPyInt = errors.New("invalid literal for int() with base 10")

// pyInt parses s as Python's int(s) does: surrounding whitespace, an
// optional sign, decimal digits with single underscores between them.
// Values outside int64 are refused (Python would accept them).
func pyInt(s string) (int64, error) {
	// int() strips ASCII whitespace and non-ASCII str.isspace() characters,
	// which leaves out \x1c-\x1f: exactly Go's unicode.IsSpace.
	t := strings.TrimFunc(s, unicode.IsSpace)
	neg := false
	if t != "" && (t[0] == '+' || t[0] == '-') {
		neg = t[0] == '-'
		t = t[1:]
	}
	if t == "" || t[0] == '_' || t[len(t)-1] == '_' || strings.Contains(t, "__") {
		return 0, fmt.Errorf("%w: %q", errPyInt, s)
	}
	digits, ok := pyDigits(strings.ReplaceAll(t, "_", ""))
	if !ok {
		return 0, fmt.Errorf("%w: %q", errPyInt, s)
	}
	if neg {
		digits = "-" + digits
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("integer %q out of range", s)
	}
	return n, nil
}

// pyBool is ConfigParser.getboolean: 1/yes/true/on and 0/no/false/off, in
// any case.
func pyBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "1", "yes", "true", "on":
		return true, nil
	case "0", "no", "false", "off":
		return false, nil
	}
	return false, fmt.Errorf("not a boolean: %q (want true/false, yes/no, on/off or 1/0)", s)
}

// sizeMultipliers is the table of util/abbreviate.py parse_abbreviated_size.
var sizeMultipliers = map[string]uint64{
	"": 1, "I": 1,
	"K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
	"KI": 1 << 10, "MI": 1 << 20, "GI": 1 << 30, "TI": 1 << 40, "PI": 1 << 50, "EI": 1 << 60,
}

// ParseSize parses a size as Tahoe's parse_abbreviated_size does (for
// [storage] reserved_space): decimal digits and an optional suffix matching
// [KMGTPE]?I?B? in any case, with no space between. K..E are powers of 1000,
// Ki..Ei powers of 1024, and a bare "I" or "B" counts 1: "10G", "5Gb",
// "1000000", "2KiB" and "7i" are all sizes; "10 G" and "1.5G" are not,
// although docs/configuration.rst shows "100 M". The empty string is 0.
// Sizes beyond math.MaxInt64 saturate (reserving more than any disk holds
// means the same thing).
func ParseSize(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	num, suffix := leadingDigits(strings.ToUpper(s))
	digits, ok := pyDigits(num)
	mult, known := sizeMultipliers[strings.TrimSuffix(suffix, "B")]
	if !ok || !known {
		return 0, fmt.Errorf("unparseable size %q (want digits and an optional K, M, G, T, P or E, then optional i and B)", s)
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || n > math.MaxInt64/mult {
		return math.MaxInt64, nil
	}
	return int64(n * mult), nil
}

// durationUnits are util/time_format.py's ParseDurationUnitFormat values.
var durationUnits = []struct {
	name string
	d    time.Duration
}{
	{"s", time.Second}, {"second", time.Second}, {"seconds", time.Second},
	{"day", 24 * time.Hour}, {"days", 24 * time.Hour},
	{"mo", 31 * 24 * time.Hour}, {"month", 31 * 24 * time.Hour}, {"months", 31 * 24 * time.Hour},
	{"year", 365 * 24 * time.Hour}, {"years", 365 * 24 * time.Hour},
}

// ParseDuration parses a duration as Tahoe's parse_duration does (for
// [storage] expire.override_lease_duration): a number and a unit, one of
// s, second(s), day(s), mo, month(s), year(s), in any case, with optional
// spaces. A month is 31 days and a year 365 days. Durations beyond what a
// time.Duration holds (292 years) saturate.
func ParseDuration(s string) (time.Duration, error) {
	num, rest := leadingDigits(pyStrip(s))
	// Tahoe lower-cases the unit to look it up, so a unit that its
	// case-insensitive regular expression accepts but that lower-cases
	// to no table entry ("ſ" for s) is refused there too.
	unit := strings.ToLower(pyStrip(rest))
	digits, ok := pyDigits(num)
	if ok {
		for _, u := range durationUnits {
			if unit != u.name {
				continue
			}
			n, err := strconv.ParseInt(digits, 10, 64)
			if err != nil || n > math.MaxInt64/int64(u.d) {
				return math.MaxInt64, nil
			}
			return time.Duration(n) * u.d, nil
		}
	}
	return 0, fmt.Errorf("unparseable duration %q (want a number and one of s, second, seconds, day, days, mo, month, months, year, years)", s)
}

// ParseDate parses a date as Tahoe's parse_date does (for [storage]
// expire.cutoff_date): YYYY-MM-DD, giving UTC midnight at the start of that
// day. Like Tahoe it appends "T00:00:00" and matches an ISO-8601 prefix, so
// anything after a complete timestamp is ignored, and a day or time of day
// beyond its usual range rolls over (2009-03-45 is 2009-04-14); only the
// year (1-9999) and month (1-12) are range-checked.
func ParseDate(s string) (time.Time, error) {
	fail := func() (time.Time, error) {
		return time.Time{}, fmt.Errorf("unparseable date %q (want YYYY-MM-DD)", s)
	}
	t := []rune(s + "T00:00:00")
	// (\d{4})-(\d{2})-(\d{2})[T_ ](\d{2}):(\d{2}):(\d{2})(\.\d+)?
	const layout = "dddd-dd-ddTdd:dd:dd"
	if len(t) < len(layout) {
		return fail()
	}
	var n [6]int64
	field := 0
	for i, c := range layout {
		r := t[i]
		switch {
		case c == 'd':
			d, ok := pyDigit(r)
			if !ok {
				return fail()
			}
			n[field] = n[field]*10 + int64(d)
			if i+1 < len(layout) && layout[i+1] != 'd' {
				field++
			}
		case c == 'T':
			if r != 'T' && r != '_' && r != ' ' {
				return fail()
			}
		case r != c:
			return fail()
		}
	}
	year, month := n[0], n[1]
	if year < 1 || year > 9999 || month < 1 || month > 12 {
		return fail()
	}
	first := time.Date(int(year), time.Month(month), 1, 0, 0, 0, 0, time.UTC).Unix()
	secs := first + (n[2]-1)*86400 + n[3]*3600 + n[4]*60 + n[5]
	rest := t[len(layout):]
	if len(rest) >= 2 && rest[0] == '.' {
		frac, _ := leadingDigits(string(rest[1:]))
		if digits, ok := pyDigits(frac); ok {
			f, err := strconv.ParseFloat("0."+digits, 64)
			if err == nil {
				// Python: int(timegm(...) + float(".ddd")), truncating toward zero.
				secs = int64(math.Trunc(float64(secs) + f))
			}
		}
	}
	return time.Unix(secs, 0).UTC(), nil
}
