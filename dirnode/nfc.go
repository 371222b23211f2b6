package dirnode

import (
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// This file is Unicode Normalization Form C (UAX #15), which Tahoe applies
// to every child name (unicodedata.normalize('NFC', name)). The work and
// the tables are golang.org/x/text/unicode/norm's, Unicode 15.0.0: the
// database of Python 3.12, so names come out as Tahoe on Python 3.12 writes
// them (and on 3.13, whose Unicode 15.1.0 gives every code point the same
// class, NFD and NFC). Tahoe on Python 3.11 (Unicode 14.0.0) differs only
// on names holding one of the ten combining marks new in Unicode 15
// (U+10EFD..U+10EFF, U+11F41, U+11F42, U+1E08F, U+1E4EC..U+1E4EF), which
// it takes for unassigned starters (testdata/nfc.json records each such
// case); Python 3.14 (Unicode 16.0.0) only on names holding code points
// new in Unicode 16.
//
// norm's tables are compiled-in constants, and what it builds at run time
// it builds on first use, so a process that never normalises a name (most
// CLI commands) pays nothing for them.

// cgj is U+034F COMBINING GRAPHEME JOINER. norm inserts one after every 30
// non-starters in a row (UAX #15's Stream-Safe Text Format); Python does
// not, and a run of marks that long in a name is ours to normalise.
const cgj = "\u034f"

// NFC returns s in Unicode Normalization Form C, as Python 3.12's
// unicodedata.normalize('NFC', s) does. Invalid UTF-8 bytes are kept as
// they are (callers reject them first), and nothing composes across them.
func NFC(s string) string {
	// Most names are ASCII or Latin-1: no code point below U+0300
	// decomposes in NFC or combines with a neighbour, so such a name is
	// NFC already, and this is several times faster than asking norm.
	quick := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			quick = false
			break
		}
	}
	if !quick {
		quick = true
		for _, r := range s {
			if r >= 0x300 {
				quick = false
				break
			}
		}
	}
	if quick {
		return s
	}
	if utf8.ValidString(s) {
		return nfcValid(s)
	}
	// The valid runs between invalid bytes are normalised apart: norm
	// misreads some of them (it leaves "\xf6\u0343" alone).
	var out strings.Builder
	start := 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			out.WriteString(nfcValid(s[start:i]))
			out.WriteByte(s[i])
			start = i + 1
		}
		i += size
	}
	out.WriteString(nfcValid(s[start:]))
	return out.String()
}

// nfcValid is NFC for valid UTF-8.
func nfcValid(s string) string {
	out := norm.NFC.String(s)
	// NFC never removes a CGJ (a starter that neither decomposes nor
	// composes), so more of them means that norm inserted some.
	if n := strings.Count(out, cgj); n == 0 || n == strings.Count(s, cgj) {
		return out
	}
	return nfcLong(s)
}

// nfcRune is a code point, its canonical combining class, and whether it
// may compose with a code point before it.
type nfcRune struct {
	r    rune
	ccc  uint8
	back bool
}

// nfcLong is NFC for valid UTF-8 with a run of more than 30 non-starters:
// UAX #15's canonical decomposition, ordering and composition, done here
// with norm's data for each code point but without the Stream-Safe Text
// Format.
func nfcLong(s string) string {
	var run []nfcRune
	for i := 0; i < len(s); {
		_, size := utf8.DecodeRuneInString(s[i:])
		// Canonical decomposition, a code point at a time (none holds
		// more than a few non-starters, so norm inserts no CGJ here).
		d := norm.NFD.String(s[i : i+size])
		for j := 0; j < len(d); {
			p := norm.NFC.PropertiesString(d[j:])
			r, _ := utf8.DecodeRuneInString(d[j:])
			run = append(run, nfcRune{r, p.CCC(), !p.BoundaryBefore()})
			j += p.Size()
		}
		i += size
	}
	return nfcRunes(run)
}

// nfcRunes orders and composes a canonically decomposed sequence of valid
// code points.
func nfcRunes(buf []nfcRune) string {
	if len(buf) == 0 {
		return ""
	}
	// Canonical ordering: a stable sort of each run of non-starters by
	// combining class (a sort, not insertion, so that a hostile name of
	// many marks costs n log n).
	for i := 0; i < len(buf); {
		if buf[i].ccc == 0 {
			i++
			continue
		}
		j := i + 1
		for j < len(buf) && buf[j].ccc != 0 {
			j++
		}
		slices.SortStableFunc(buf[i:j], func(a, b nfcRune) int { return int(a.ccc) - int(b.ccc) })
		i = j
	}
	// Canonical composition (the algorithm of UAX #15's sample code).
	starter := 0
	last := int(buf[0].ccc)
	if last != 0 {
		last = 256 // the text begins with a non-starter: nothing to compose with
	}
	n := 1
	for i := 1; i < len(buf); i++ {
		c := int(buf[i].ccc)
		if buf[i].back && (last < c || last == 0) {
			if comp, ok := compose(buf[starter].r, buf[i].r); ok {
				buf[starter].r = comp
				continue
			}
		}
		if c == 0 {
			starter = n
		}
		last = c
		buf[n] = buf[i]
		n++
	}
	out := make([]byte, 0, n*3)
	for _, x := range buf[:n] {
		out = utf8.AppendRune(out, x.r)
	}
	return string(out)
}

// compose returns the primary composite of a and b, if there is one,
// where a is the last starter (composed so far) and b a code point that
// nothing blocks from it. It asks norm for NFC(a b): a decomposes to its
// starter and the marks composed into it, which sort no later than b, so
// norm composes them back into a and then tries a with b, as here.
func compose(a, b rune) (rune, bool) {
	var buf [2 * utf8.UTFMax]byte
	p := norm.NFC.Append(nil, utf8.AppendRune(utf8.AppendRune(buf[:0], a), b)...)
	r, size := utf8.DecodeRune(p)
	return r, size == len(p) && r != utf8.RuneError
}
