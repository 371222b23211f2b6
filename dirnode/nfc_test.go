package dirnode

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestNFCAgainstPython checks NFC against Python's
// unicodedata.normalize('NFC', s) (testdata/nfc.json, written by
// gen_nfc.py): every code point that decomposes, composes or combines,
// Hangul, and random mixtures of them.
func TestNFCAgainstPython(t *testing.T) {
	b, err := os.ReadFile("testdata/nfc.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Unicode string      `json:"unicode"`
		Cases   [][2]string `json:"cases"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if v.Unicode != unicodeVersion {
		t.Fatalf("vectors are Unicode %s, tables %s: run gen_nfc.py", v.Unicode, unicodeVersion)
	}
	bad := 0
	for _, c := range v.Cases {
		if got := NFC(c[0]); got != c[1] {
			if bad++; bad < 20 {
				t.Errorf("NFC(%+q) = %+q, Python says %+q", c[0], got, c[1])
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
		{"\U0001F600", "\U0001F600"},           // emoji
		{"\u0b47\u0b3e", "\u0b4b"},             // two starters compose
		{"e" + strings.Repeat("\u0301", 3), "\u00e9\u0301\u0301"},
	} {
		if got := NFC(tc[0]); got != tc[1] {
			t.Errorf("NFC(%+q) = %+q, want %+q", tc[0], got, tc[1])
		}
	}
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
