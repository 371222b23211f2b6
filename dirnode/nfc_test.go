package dirnode

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// nfcVectors is testdata/nfc.json.
type nfcVectors struct {
	Python  string      `json:"python"`
	Unicode string      `json:"unicode"`
	Cases   [][2]string `json:"cases"`
	Older   []struct {
		Python  string `json:"python"`
		Unicode string `json:"unicode"`
		Differ  []struct {
			Case       int    `json:"case"`
			NFC        string `json:"nfc"`
			Unassigned []rune `json:"unassigned"`
		} `json:"differ"`
	} `json:"older"`
}

func pythonNFC(t testing.TB) *nfcVectors {
	b, err := os.ReadFile("testdata/nfc.json")
	if err != nil {
		t.Fatal(err)
	}
	var v nfcVectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return &v
}

// TestNFCAgainstPython checks NFC against Python's
// unicodedata.normalize('NFC', s) (testdata/nfc.json, written by
// testdata/gen_nfc.py): every code point that decomposes, composes or
// combines, Hangul, random mixtures of them, and long runs of marks. The
// answers are those of a Python with norm's Unicode version; the file also
// records where an older Python, on which Tahoe runs too, answers
// differently, and each such case must hold a code point that the older
// Unicode database does not have.
func TestNFCAgainstPython(t *testing.T) {
	v := pythonNFC(t)
	// A newer Go can build norm from other tables (Go 1.27 builds
	// x/text v0.44.0's Unicode 17): then names would no longer come out as
	// Tahoe writes them. Follow on purpose, with new vectors, or not at all.
	if v.Unicode != norm.Version {
		t.Fatalf("golang.org/x/text/unicode/norm is Unicode %s, the vectors (Python %s) Unicode %s: "+
			"build with a Go that gives norm Unicode %s, or move to Unicode %s on purpose "+
			"(testdata/gen_nfc.py under a Python that has it)", norm.Version, v.Python, v.Unicode, v.Unicode, norm.Version)
	}
	bad := 0
	for _, c := range v.Cases {
		if got := NFC(c[0]); got != c[1] {
			if bad++; bad < 20 {
				t.Errorf("NFC(%+q) = %+q, Python %s says %+q", c[0], got, v.Python, c[1])
			}
		}
		// NFC is idempotent.
		if got := NFC(c[1]); got != c[1] {
			t.Errorf("NFC(NFC(%+q)) = %+q", c[0], got)
		}
	}
	if len(v.Cases) < 5000 {
		t.Errorf("only %d cases", len(v.Cases))
	}
	t.Logf("%d of %d cases as Python %s (Unicode %s) normalises them", len(v.Cases)-bad, len(v.Cases), v.Python, v.Unicode)
	if len(v.Older) == 0 {
		t.Errorf("no older Python's answers recorded")
	}
	for _, o := range v.Older {
		for _, d := range o.Differ {
			if d.Case < 0 || d.Case >= len(v.Cases) {
				t.Fatalf("Python %s: no case %d", o.Python, d.Case)
			}
			in := v.Cases[d.Case][0]
			var why []string
			for _, r := range d.Unassigned {
				if strings.ContainsRune(in, r) {
					why = append(why, fmt.Sprintf("U+%04X (class %d)", r, norm.NFC.PropertiesString(string(r)).CCC()))
				}
			}
			if len(why) == 0 {
				t.Errorf("case %d: Python %s (Unicode %s) says %+q, not %+q, and knows every code point of %+q",
					d.Case, o.Python, o.Unicode, d.NFC, v.Cases[d.Case][1], in)
				continue
			}
			if d.NFC == v.Cases[d.Case][1] {
				t.Errorf("case %d: recorded as differing on Python %s, but the same", d.Case, o.Python)
			}
			t.Logf("case %d differs on Python %s: Unicode %s lacks %s", d.Case, o.Python, o.Unicode, strings.Join(why, ", "))
		}
		t.Logf("Python %s (Unicode %s) answers %d of the %d cases differently, each for a code point it lacks",
			o.Python, o.Unicode, len(o.Differ), len(v.Cases))
	}
}

func TestNFC(t *testing.T) {
	for _, tc := range [][2]string{
		{"", ""},
		{"plain ascii/\x00\x7f", "plain ascii/\x00\x7f"},
		{"caf\u00e9", "caf\u00e9"},
		{"cafe\u0301", "caf\u00e9"},
		{"\u212b", "\u00c5"},                   // singleton
		{"\u1100\u1161\u11a8", "\uac01"},       // Hangul LVT
		{"\uac00\u11a8", "\uac01"},             // Hangul LV + T
		{"a\u0327\u0301", "\u00e1\u0327"},      // acute not blocked by cedilla
		{"e\u0301\u0327", "\u0229\u0301"},      // reordered, then composed
		{"\u0301a", "\u0301a"},                 // leading mark
		{"\u0344", "\u0308\u0301"},             // excluded from composition
		{"\U0001D15E", "\U0001D157\U0001D165"}, // composition exclusion
		{"x\xffe\u0301", "x\xff\u00e9"},        // invalid bytes kept
		{"\xf6\u0343\xc3", "\xf6\u0313\xc3"},   // (norm alone misreads this)
		{"\U0001F600", "\U0001F600"},           // emoji
		{"\u0b47\u0b3e", "\u0b4b"},             // two starters compose
		{"e" + strings.Repeat("\u0301", 3), "\u00e9\u0301\u0301"},
		{"a\u034f\u0301", "a\u034f\u0301"},                                            // CGJ kept, and blocks
		{"a" + strings.Repeat("\u0301", 31), "\u00e1" + strings.Repeat("\u0301", 30)}, // no CGJ added
		{"e" + strings.Repeat("\u0301", 31) + "\xff" + strings.Repeat("\u0301", 31) + "\u034f",
			"\u00e9" + strings.Repeat("\u0301", 30) + "\xff" + strings.Repeat("\u0301", 31) + "\u034f"},
		{"\U00010EFD", "\U00010EFD"},              // new in Unicode 15
		{"a\U00010EFD\u0301", "\u00e1\U00010EFD"}, // Python 3.11: unchanged
	} {
		if got := NFC(tc[0]); got != tc[1] {
			t.Errorf("NFC(%+q) = %+q, want %+q", tc[0], got, tc[1])
		}
	}
}

// FuzzNFC checks our own normalisation of long runs of marks (nfcLong)
// against norm wherever norm's answer is exact, that is, wherever it
// inserted no CGJ; and that NFC is idempotent and adds no CGJ.
func FuzzNFC(f *testing.F) {
	for _, c := range pythonNFC(f).Cases {
		f.Add(c[0])
	}
	f.Add("x\xffe\u0301\xc3")
	f.Add("a\u034f\u0301")
	f.Fuzz(func(t *testing.T, s string) {
		got := NFC(s)
		if again := NFC(got); again != got {
			t.Errorf("NFC(NFC(%+q)) = %+q, not %+q", s, again, got)
		}
		if strings.Count(got, cgj) != strings.Count(s, cgj) {
			t.Errorf("NFC(%+q) = %+q adds a CGJ", s, got)
		}
		if !utf8.ValidString(s) {
			return // norm misreads some invalid bytes
		}
		want := norm.NFC.String(s)
		if strings.Count(want, cgj) != strings.Count(s, cgj) {
			return // norm breaks up a long run of marks
		}
		if got != want {
			t.Errorf("NFC(%+q) = %+q, norm says %+q", s, got, want)
		}
		if long := nfcLong(s); long != want {
			t.Errorf("nfcLong(%+q) = %+q, norm says %+q", s, long, want)
		}
	})
}

// TestNFCLongMarks: a name of many combining marks is normalised in
// n log n time (checked by running at all within the test timeout).
func TestNFCLongMarks(t *testing.T) {
	s := "a" + strings.Repeat("\u0301\u0327\u0323", 100000)
	got := NFC(s)
	// Sorted: cedillas (202), dots below (220), acutes (230); then a and
	// the first dot below compose (the cedillas do not block it).
	want := "\u1ea1" + strings.Repeat("\u0327", 100000) + strings.Repeat("\u0323", 99999) + strings.Repeat("\u0301", 100000)
	if got != want {
		t.Fatalf("%d runes, not the expected order", utf8.RuneCountInString(got))
	}
}

func BenchmarkNFCASCII(b *testing.B) {
	for i := 0; i < b.N; i++ {
		NFC("an ordinary file name.txt")
	}
}

func BenchmarkNFCAccented(b *testing.B) {
	for i := 0; i < b.N; i++ {
		NFC("r\u00e9sum\u00e9 fran\u00e7ais.txt")
	}
}
