package webapi

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestParseRange(t *testing.T) {
	const size = 920
	for _, c := range []struct {
		header      string
		size        int64
		status      int
		first, last int64
	}{
		// The recorded cases.
		{"bytes=0-9", size, 206, 0, 9},
		{"bytes=100-199", size, 206, 100, 199},
		{"bytes=900-", size, 206, 900, 919},
		{"bytes=-5", size, 206, 915, 919},
		{"bytes=-5000", size, 206, 0, 919},
		{"bytes=910-5000", size, 206, 910, 919},
		{"bytes=920-", size, 0, 0, 0},
		{"bytes=2000-3000", size, 416, 0, 0},
		{"bytes=10-5", size, 0, 0, 0},
		{"bytes=0-1,5-6", size, 206, 0, 1},
		{"items=0-5", size, 0, 0, 0},
		{"bytes=abc", size, 0, 0, 0},
		{"bytes=-0", size, 0, 0, 0},
		{"bytes=0-", size, 206, 0, 919},
		{"bytes=0-4", 14, 206, 0, 4},
		{"bytes=100-200", 14, 416, 0, 0},
		// Python's int() and str.strip() at work.
		{"bytes= 0 - 9 ", size, 206, 0, 9},
		{"bytes=\t1-2", size, 206, 1, 2},
		{"bytes=+1-+2", size, 206, 1, 2},
		{"bytes=1_0-2_0", size, 206, 10, 20},
		{"bytes=1__0-20", size, 0, 0, 0},
		{"bytes=_1-20", size, 0, 0, 0},
		{"bytes=1_-20", size, 0, 0, 0},
		{"bytes=-+5", size, 206, 915, 919},
		{"bytes=--5", size, 0, 0, 0},
		{"bytes=5--3", size, 0, 0, 0},
		{"bytes=0x10-20", size, 0, 0, 0},
		{"bytes=٣-9", size, 0, 0, 0}, // Python would take the Arabic-Indic 3
		{"bytes=\u00a01\u2000-2", size, 206, 1, 2},
		{"bytes=\x1c1-2\x1c", size, 206, 1, 2}, // str.strip takes \x1c for space...
		{"bytes=1\x1c-2", size, 0, 0, 0},       // ...int() does not
		// Only exact "bytes" before the first "=".
		{"Bytes=0-1", size, 0, 0, 0},
		{"bytes =0-1", size, 0, 0, 0},
		{"bytes", size, 0, 0, 0},
		{"", size, 0, 0, 0},
		{"bytes=", size, 0, 0, 0},
		{"bytes==0-1", size, 0, 0, 0},
		// Every range of a set must parse; only the first is served.
		{"bytes=0-1,abc", size, 0, 0, 0},
		{"bytes=0-1,", size, 0, 0, 0},
		{"bytes=0-1, 5-6", size, 206, 0, 1},
		{"bytes=2000-3000,0-1", size, 416, 0, 0},
		{"bytes=0-1,2000-3000", size, 206, 0, 1},
		// A start past EOF is ignored when the end is left open (the end
		// becomes EOF, before the start), refused when it is given.
		{"bytes=2000-", size, 0, 0, 0},
		{"bytes=919-", size, 206, 919, 919},
		{"bytes=920-920", size, 416, 0, 0},
		// Numbers of any length.
		{"bytes=99999999999999999999-99999999999999999999", size, 416, 0, 0},
		{"bytes=99999999999999999999-1", size, 0, 0, 0},
		{"bytes=-99999999999999999999", size, 206, 0, 919},
		{"bytes=0-99999999999999999999", size, 206, 0, 919},
		// An empty file: Tahoe's 0..-1 for a suffix, nothing else parses.
		{"bytes=-5", 0, 206, 0, -1},
		{"bytes=0-", 0, 0, 0, 0},
		{"bytes=0-0", 0, 416, 0, 0},
	} {
		r, st := parseRange(c.header, c.size)
		if st != c.status || st == http.StatusPartialContent && (r.first != c.first || r.last != c.last) {
			t.Errorf("parseRange(%q, %d) = %d %d-%d, want %d %d-%d", c.header, c.size, st, r.first, r.last, c.status, c.first, c.last)
		}
	}
}

// FuzzParseRange checks that no header makes parseRange panic or answer a
// range outside the file.
func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"bytes=0-9", "bytes=-5", "bytes=900-", "bytes=0-1,5-6", "bytes=-0",
		"items=0-5", "bytes=abc", "bytes= +1_0 - 2_0 ", "bytes=99999999999999999999-", "bytes=-99999999999999999999"} {
		f.Add(s, int64(920))
		f.Add(s, int64(0))
	}
	f.Fuzz(func(t *testing.T, header string, size int64) {
		if size < 0 {
			size = -(size + 1)
		}
		r, st := parseRange(header, size)
		r2, st2 := parseRange(header, size)
		if r != r2 || st != st2 {
			t.Fatalf("not deterministic")
		}
		switch st {
		case 0, http.StatusRequestedRangeNotSatisfiable:
		case http.StatusPartialContent:
			if size == 0 {
				if r.first != 0 || r.last != -1 {
					t.Fatalf("empty file: range %d-%d", r.first, r.last)
				}
				return
			}
			if r.first < 0 || r.first > r.last || r.last >= size {
				t.Fatalf("parseRange(%q, %d) = %d-%d", header, size, r.first, r.last)
			}
		default:
			t.Fatalf("status %d", st)
		}
	})
}

// TestParseRangeDigitLimit checks Python's limit on the digits int()
// reads (4300; leading zeros count, "_" and the sign do not): Tahoe 1.20
// ignores a Range header with a longer number and sends the whole file.
func TestParseRangeDigitLimit(t *testing.T) {
	const size = 920
	nines := func(n int) string { return strings.Repeat("9", n) }
	zeros := func(n int) string { return strings.Repeat("0", n) }
	for _, c := range []struct {
		name        string
		header      string
		status      int
		first, last int64
	}{
		{"4300-digit end", "bytes=0-" + nines(4300), 206, 0, 919},
		{"4301-digit end", "bytes=0-" + nines(4301), 0, 0, 0},
		{"4300-digit start", "bytes=" + nines(4300) + "-", 0, 0, 0}, // parses, then reversed
		{"4300-digit start and end", "bytes=" + nines(4300) + "-" + nines(4300), 416, 0, 0},
		{"4301-digit start and end", "bytes=" + nines(4301) + "-" + nines(4301), 0, 0, 0},
		{"4300-digit suffix", "bytes=-" + nines(4300), 206, 0, 919},
		{"4301-digit suffix", "bytes=-" + nines(4301), 0, 0, 0},
		{"leading zeros count", "bytes=" + zeros(4299) + "5-9", 206, 5, 9},
		{"leading zeros count, 4301", "bytes=" + zeros(4300) + "5-9", 0, 0, 0},
		{"sign does not count", "bytes=+" + zeros(4299) + "5-9", 206, 5, 9},
		{"underscores do not count", "bytes=" + strings.Repeat("0_", 4299) + "5-9", 206, 5, 9},
		{"underscores do not count, 4301", "bytes=" + strings.Repeat("0_", 4300) + "5-9", 0, 0, 0},
		{"white space does not count", "bytes=0-" + strings.Repeat(" ", 100) + nines(4300) + " ", 206, 0, 919},
		{"in a later range", "bytes=0-1," + zeros(4301) + "-2", 0, 0, 0},
		{"900,000 digits", "bytes=0-" + nines(900_000), 0, 0, 0},
	} {
		r, st := parseRange(c.header, size)
		if st != c.status || st == http.StatusPartialContent && (r.first != c.first || r.last != c.last) {
			t.Errorf("%s: parseRange = %d %d-%d, want %d %d-%d", c.name, st, r.first, r.last, c.status, c.first, c.last)
		}
	}
}

// TestHugeRangeIsCheap sends a Range header holding a 900,000-digit number,
// which math/big took about 2 CPU seconds to read (4 under the race
// detector): it is ignored (200, the whole file), and quickly. The bounds
// are loose, for a shared and noisy machine: the request takes about 15 ms
// (300 ms under the race detector), the parse itself well under one.
func TestHugeRangeIsCheap(t *testing.T) {
	a := newTestAPI(t, nil)
	k := a.put("a small file, stored as a LIT cap")
	huge := "bytes=0-" + strings.Repeat("9", 900_000)
	start := time.Now()
	r := a.do(http.MethodGet, "/uri/"+url.PathEscape(k), nil, "Range", huge)
	elapsed := time.Since(start)
	r.expect(t, http.StatusOK, "", "a small file, stored as a LIT cap")
	if r.h.Get("Content-Range") != "" {
		t.Errorf("Content-Range %q on a 200", r.h.Get("Content-Range"))
	}
	if elapsed > 1500*time.Millisecond {
		t.Errorf("GET with a 900,000-digit Range took %v", elapsed)
	}
	start = time.Now()
	for range 3 {
		parseRange(huge, 920)
	}
	if per := time.Since(start) / 3; per > 100*time.Millisecond {
		t.Errorf("parseRange of a 900,000-digit number took %v", per)
	}
}

// BenchmarkParseRangeHuge measures a Range header of a 900,000-digit
// number: a linear scan, no big-number conversion.
func BenchmarkParseRangeHuge(b *testing.B) {
	huge := "bytes=0-" + strings.Repeat("9", 900_000)
	b.SetBytes(int64(len(huge)))
	b.ReportAllocs()
	for b.Loop() {
		parseRange(huge, 920)
	}
}

// BenchmarkParseRangeLongest measures the costliest numbers still read:
// two of 4300 digits.
func BenchmarkParseRangeLongest(b *testing.B) {
	h := "bytes=" + strings.Repeat("9", 4300) + "-" + strings.Repeat("9", 4300)
	b.ReportAllocs()
	for b.Loop() {
		parseRange(h, 920)
	}
}
