package storagehttp

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// The Range and Content-Range grammar, as Tahoe's server accepts it through
// werkzeug's parse_range_header and parse_content_range_header, narrowed
// as http_server.py narrows it: one range, in bytes, with an explicit end.

// plainIntRE is werkzeug's _plain_int: optional minus, ASCII digits.
var plainIntRE = regexp.MustCompile(`^-?[0-9]+$`)

// pyInt is an integer of any size, as Python has them, kept as its decimal
// digits: comparing two costs no more than reading them, whatever their
// length (a header can hold 64 KiB of digits).
type pyInt struct {
	neg    bool
	digits string // no leading zeros; "0" for zero
}

// plainInt parses what werkzeug's _plain_int parses (after trimming white
// space).
func plainInt(s string) (pyInt, bool) {
	s = strings.TrimSpace(s)
	if !plainIntRE.MatchString(s) {
		return pyInt{}, false
	}
	var n pyInt
	if s[0] == '-' {
		n.neg, s = true, s[1:]
	}
	n.digits = strings.TrimLeft(s, "0")
	if n.digits == "" {
		n.digits, n.neg = "0", false
	}
	return n, true
}

// cmp compares a and b as numbers: -1, 0 or +1.
func (a pyInt) cmp(b pyInt) int {
	if a.neg != b.neg {
		if a.neg {
			return -1
		}
		return 1
	}
	c := len(a.digits) - len(b.digits)
	if c == 0 {
		c = strings.Compare(a.digits, b.digits)
	}
	if a.neg {
		c = -c
	}
	switch {
	case c < 0:
		return -1
	case c > 0:
		return 1
	}
	return 0
}

// uint64 returns n (which must not be negative), or the largest uint64 if
// n is larger, and whether it fitted.
func (n pyInt) uint64() (uint64, bool) {
	v, err := strconv.ParseUint(n.digits, 10, 64)
	if err != nil {
		return math.MaxUint64, false
	}
	return v, true
}

// incSat is n+1 for n >= 0, saturating at the largest uint64.
func incSat(n pyInt) uint64 {
	v, ok := n.uint64()
	if !ok || v == math.MaxUint64 {
		return math.MaxUint64
	}
	return v + 1
}

// parseRange parses a request's Range header into the half-open range
// [begin, end). It accepts exactly what Tahoe's read_range accepts: units
// "bytes" (in any case), one range, an explicit end, begin <= last.
// Anything else, including "bytes=5-" and "bytes=-5", is an error (416).
// Values beyond 2^64-1 saturate, which keeps their meaning for any share.
func parseRange(v string) (begin, end uint64, err error) {
	bad := func(why string) (uint64, uint64, error) {
		return 0, 0, fmt.Errorf("unsupported Range %q: %s", v, why)
	}
	units, spec, ok := strings.Cut(v, "=")
	if !ok {
		return bad("no '='")
	}
	if strings.ToLower(strings.TrimSpace(units)) != "bytes" {
		return bad("units are not bytes")
	}
	if strings.Contains(spec, ",") {
		return bad("only one range is supported")
	}
	spec = strings.TrimSpace(spec)
	if strings.HasPrefix(spec, "-") {
		return bad("suffix ranges are not supported")
	}
	first, last, ok := strings.Cut(spec, "-")
	if !ok {
		return bad("no '-'")
	}
	b, ok := plainInt(first)
	if !ok {
		return bad("bad first byte")
	}
	if strings.TrimSpace(last) == "" {
		return bad("open-ended ranges are not supported")
	}
	l, ok := plainInt(last)
	if !ok {
		return bad("bad last byte")
	}
	if b.neg || b.cmp(l) > 0 {
		return bad("last byte before first byte")
	}
	begin, _ = b.uint64()
	return begin, incSat(l), nil
}

// formatRange is the Range header Tahoe's client sends for length bytes at
// offset (length > 0): "bytes=<first>-<last>", last inclusive.
func formatRange(offset, length uint64) string {
	last := offset + length - 1
	if last < offset { // overflow: ask for everything from offset
		last = math.MaxUint64
	}
	return fmt.Sprintf("bytes=%d-%d", offset, last)
}

// parseContentRange parses the Content-Range of an immutable write into
// [begin, end), as werkzeug's parse_content_range_header and then
// write_share_data take it: units exactly "bytes", "first-last", and a
// total length that is "*" or a number (which is not otherwise checked).
func parseContentRange(v string) (begin, end uint64, err error) {
	bad := func(why string) (uint64, uint64, error) {
		return 0, 0, fmt.Errorf("unsupported Content-Range %q: %s", v, why)
	}
	// Python's v.strip().split(None, 1): units, then the rest after the
	// first run of white space.
	s := strings.TrimSpace(v)
	i := strings.IndexFunc(s, unicode.IsSpace)
	if i < 0 {
		return bad("no range")
	}
	units, def := s[:i], strings.TrimLeftFunc(s[i:], unicode.IsSpace)
	if units != "bytes" {
		return bad("units are not bytes")
	}
	rng, length, ok := strings.Cut(def, "/")
	if !ok {
		return bad("no '/'")
	}
	var total *pyInt
	if length != "*" {
		t, ok := plainInt(length)
		if !ok {
			return bad("bad total length")
		}
		total = &t
	}
	first, last, ok := strings.Cut(rng, "-")
	if !ok {
		return bad("no '-'")
	}
	b, ok1 := plainInt(first)
	l, ok2 := plainInt(last)
	if !ok1 || !ok2 {
		return bad("bad first or last byte")
	}
	if b.neg || b.cmp(l) > 0 || total != nil && b.cmp(*total) >= 0 {
		return bad("not a valid byte range")
	}
	lv, fits := l.uint64()
	if !fits || lv == math.MaxUint64 {
		return bad("range beyond 2^64")
	}
	begin, _ = b.uint64()
	return begin, lv + 1, nil
}

// formatContentRange is "bytes <first>-<last>/*" for [begin, end), end >
// begin: what Tahoe's client sends with a write and its server sends with a
// partial read (the total length is never given).
func formatContentRange(begin, end uint64) string {
	return fmt.Sprintf("bytes %d-%d/*", begin, end-1)
}
