package dirnode

import (
	"slices"
	"sort"
	"sync"
	"unicode/utf8"
)

//go:generate python3 gen_nfc.py

// This file is Unicode Normalization Form C (UAX #15), which Tahoe applies
// to every child name (unicodedata.normalize('NFC', name)). The module has
// no golang.org/x/text, so the tables in nfc_tables.go are generated from
// Python's unicodedata, the very database Tahoe uses.

// Hangul syllables are composed and decomposed arithmetically.
const (
	hangulSBase  = 0xAC00
	hangulLBase  = 0x1100
	hangulVBase  = 0x1161
	hangulTBase  = 0x11A7
	hangulLCount = 19
	hangulVCount = 21
	hangulTCount = 28
	hangulNCount = hangulVCount * hangulTCount
	hangulSCount = hangulLCount * hangulNCount
)

// nfcQuickLimit: no code point below it decomposes, combines or composes
// with a neighbour, so a string of only such runes is already NFC.
const nfcQuickLimit = 0x300

// NFC returns s in Unicode Normalization Form C, as Python's
// unicodedata.normalize('NFC', s) does. Invalid UTF-8 bytes are kept as
// they are (callers reject them first).
func NFC(s string) string {
	quick := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			quick = false
			break
		}
	}
	if quick {
		return s
	}
	quick = true
	for _, r := range s {
		if r >= nfcQuickLimit {
			quick = false
			break
		}
	}
	if quick {
		return s
	}
	// Normalise the valid UTF-8 runs between invalid bytes.
	var out []byte
	var run []rune
	flush := func() {
		if len(run) > 0 {
			out = append(out, nfcRunes(run)...)
			run = run[:0]
		}
	}
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			flush()
			out = append(out, s[i])
		} else {
			run = append(run, r)
		}
		i += size
	}
	flush()
	return string(out)
}

// nfcRunes normalises a sequence of valid code points.
func nfcRunes(in []rune) string {
	// Canonical decomposition.
	buf := make([]rune, 0, len(in)+8)
	for _, r := range in {
		switch {
		case r >= hangulSBase && r < hangulSBase+hangulSCount:
			si := r - hangulSBase
			buf = append(buf, hangulLBase+si/hangulNCount, hangulVBase+(si%hangulNCount)/hangulTCount)
			if t := si % hangulTCount; t != 0 {
				buf = append(buf, hangulTBase+t)
			}
		default:
			if d, ok := decompositions()[r]; ok {
				for _, x := range d {
					buf = append(buf, x)
				}
			} else {
				buf = append(buf, r)
			}
		}
	}
	// Canonical ordering: a stable sort of each run of non-starters by
	// combining class (a sort, not insertion, so that a hostile name of
	// many marks costs n log n).
	type mark struct {
		r   rune
		ccc int
	}
	var run []mark
	for i := 0; i < len(buf); {
		if combiningClass(buf[i]) == 0 {
			i++
			continue
		}
		j := i
		run = run[:0]
		for ; j < len(buf); j++ {
			c := combiningClass(buf[j])
			if c == 0 {
				break
			}
			run = append(run, mark{buf[j], c})
		}
		if len(run) > 1 {
			slices.SortStableFunc(run, func(a, b mark) int { return a.ccc - b.ccc })
			for k, m := range run {
				buf[i+k] = m.r
			}
		}
		i = j
	}
	// Canonical composition (the algorithm of UAX #15's sample code).
	if len(buf) == 0 {
		return ""
	}
	starter := 0
	last := combiningClass(buf[0])
	if last != 0 {
		last = 256 // the text begins with a non-starter: nothing to compose with
	}
	n := 1
	for i := 1; i < len(buf); i++ {
		r := buf[i]
		c := combiningClass(r)
		if comp, ok := compose(buf[starter], r); ok && (last < c || last == 0) {
			buf[starter] = comp
			continue
		}
		if c == 0 {
			starter = n
		}
		last = c
		buf[n] = r
		n++
	}
	return string(buf[:n])
}

// combiningClass returns the canonical combining class of r.
func combiningClass(r rune) int {
	if r < nfcQuickLimit {
		return 0
	}
	i := sort.Search(len(cccRanges), func(i int) bool { return cccRanges[i][1] >= r })
	if i < len(cccRanges) && cccRanges[i][0] <= r {
		return int(cccRanges[i][2])
	}
	return 0
}

// The tables are built on first use, not at the start of every process.
var (
	decompositions = sync.OnceValue(decompositionTable)
	compositions   = sync.OnceValue(compositionTable)
)

// compose returns the primary composite of a and b, if there is one.
func compose(a, b rune) (rune, bool) {
	if a >= hangulLBase && a < hangulLBase+hangulLCount && b >= hangulVBase && b < hangulVBase+hangulVCount {
		return hangulSBase + ((a-hangulLBase)*hangulVCount+(b-hangulVBase))*hangulTCount, true
	}
	if a >= hangulSBase && a < hangulSBase+hangulSCount && (a-hangulSBase)%hangulTCount == 0 &&
		b > hangulTBase && b < hangulTBase+hangulTCount {
		return a + (b - hangulTBase), true
	}
	c, ok := compositions()[uint64(a)<<21|uint64(b)]
	return c, ok
}
