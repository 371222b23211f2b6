package webapi

import (
	"math/big"
	"net/http"
	"strings"
	"unicode"
)

// byteRange is an inclusive range of bytes of a file.
type byteRange struct{ first, last int64 }

// parseRange reads a Range header for a file of size bytes exactly as
// Tahoe 1.20's FileDownloader.parse_range_header and render do, and says
// what to answer:
//
//   - 0: ignore the header and send the whole file (200). This is the
//     answer for anything that does not parse: another unit than "bytes",
//     garbage, a reversed range, a range starting at EOF ("bytes=920-" on
//     a 920-byte file parses as 920-919, reversed), "bytes=-0" (the same),
//     and a set in which any range is bad.
//   - http.StatusRequestedRangeNotSatisfiable: the first range starts past
//     the end of the file and ends at or after its start.
//   - http.StatusPartialContent: serve r, the first range clipped to the
//     file. Later ranges are checked but not served (no multipart).
//
// Numbers are read as Python's int() reads them: surrounding white space,
// a sign and "_" between digits are allowed, and they may have up to
// maxIntDigits digits; a longer one makes the header ignored, as Python's
// ValueError does in Tahoe. (Python also takes non-ASCII decimal digits;
// this does not.) A suffix range on an empty file gives Tahoe's odd range
// 0..-1, which the caller turns into "bytes 0--1/0" with no content, as
// Tahoe does.
func parseRange(header string, size int64) (r byteRange, status int) {
	units, set, ok := strings.Cut(header, "=")
	if !ok || units != "bytes" {
		return byteRange{}, 0
	}
	sz := big.NewInt(size)
	end := new(big.Int).Sub(sz, big.NewInt(1)) // the last byte
	var first, last *big.Int
	for _, part := range strings.Split(set, ",") {
		a, b, ok := strings.Cut(pyStrip(part), "-")
		if !ok {
			return byteRange{}, 0
		}
		var f, l *big.Int
		if a == "" {
			n, ok := pyInt(b)
			if !ok {
				return byteRange{}, 0
			}
			f, l = n.Sub(sz, n), end
		} else {
			if f, ok = pyInt(a); !ok {
				return byteRange{}, 0
			}
			l = end
			if b != "" {
				if l, ok = pyInt(b); !ok {
					return byteRange{}, 0
				}
			}
		}
		if l.Cmp(f) < 0 {
			return byteRange{}, 0
		}
		if first == nil {
			first, last = f, l
		}
	}
	if first.Cmp(sz) >= 0 {
		return byteRange{}, http.StatusRequestedRangeNotSatisfiable
	}
	if first.Sign() < 0 {
		first = new(big.Int)
	}
	if last.Cmp(end) > 0 {
		last = end
	}
	// Both now lie in [-1, size), so they fit.
	return byteRange{first.Int64(), last.Int64()}, http.StatusPartialContent
}

// pySpace reports whether Python's str.isspace holds for r.
func pySpace(r rune) bool { return unicode.IsSpace(r) || r >= 0x1c && r <= 0x1f }

// pyStrip is Python's str.strip().
func pyStrip(s string) string { return strings.TrimFunc(s, pySpace) }

// maxIntDigits is the most digits Python's int() reads from a string
// (sys.int_info.default_max_str_digits, Python 3.11 and the security
// releases before it): more raise ValueError, so that no header costs
// the quadratic time of converting a huge number. Leading zeros count,
// underscores and the sign do not.
const maxIntDigits = 4300

// pyInt parses s as Python's int(s) does for ASCII digits, refusing more
// than maxIntDigits digits as Python does. Unlike str.strip, int() does
// not take U+001C..U+001F for white space.
func pyInt(s string) (*big.Int, bool) {
	s = strings.TrimFunc(s, unicode.IsSpace)
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "" || s[0] == '_' || s[len(s)-1] == '_' || strings.Contains(s, "__") {
		return nil, false
	}
	digits := strings.ReplaceAll(s, "_", "")
	if len(digits) > maxIntDigits {
		return nil, false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return nil, false
		}
	}
	n, ok := new(big.Int).SetString(digits, 10)
	if !ok {
		return nil, false
	}
	if neg {
		n.Neg(n)
	}
	return n, true
}
