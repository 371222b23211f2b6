package lafs

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func TestBase32Strict(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // hex, or "err"
	}{
		{"", ""},
		{"aa", "00"},
		{"ab", "err"}, // trailing bits set
		{"ae", "01"},
		{"AE", "err"},
		{"a", "err"},
		{"aaa", "err"},
		{"aaaaaa", "err"},
		{"aaaa", "0000"},
		{"aaab", "err"},
		{"aaaq", "0001"},
		{"aaaaaaaa", "0000000000"},
		{"aa=", "err"},
		{"a1", "err"},
		{"mzxw6", "666f6f"},
		{"mzxw6ytb", "666f6f6261"},
	} {
		b, err := ParseBase32(tc.in)
		if tc.want == "err" {
			if err == nil {
				t.Errorf("ParseBase32(%q) = %x, want error", tc.in, b)
			} else if !errors.Is(err, ErrBase32) {
				t.Errorf("ParseBase32(%q): error %v does not wrap ErrBase32", tc.in, err)
			}
			continue
		}
		if err != nil || hex.EncodeToString(b) != tc.want {
			t.Errorf("ParseBase32(%q) = %x, %v; want %s", tc.in, b, err, tc.want)
		}
	}
	// Every byte string has exactly one accepted spelling; round trip all lengths.
	for n := 0; n < 40; n++ {
		b := bytes.Repeat([]byte{0xa5}, n)
		s := Base32(b)
		got, err := ParseBase32(s)
		if err != nil || !bytes.Equal(got, b) {
			t.Fatalf("round trip of %d bytes: %v", n, err)
		}
		if _, err := ParseBase32Len(s, n+1); err == nil {
			t.Fatalf("ParseBase32Len accepted wrong length")
		}
	}
	// Last characters allowed for 16-byte and 32-byte values, as Tahoe's regexes say.
	check := func(n int, allowed string) {
		base := Base32(make([]byte, n))
		for _, c := range "abcdefghijklmnopqrstuvwxyz234567" {
			s := base[:len(base)-1] + string(c)
			_, err := ParseBase32Len(s, n)
			if ok := bytes.ContainsRune([]byte(allowed), c); ok != (err == nil) {
				t.Errorf("%d-byte value ending %q: err=%v, want allowed=%v", n, c, err, ok)
			}
		}
	}
	check(16, "aeimquy4")
	check(32, "aq")
	check(20, "abcdefghijklmnopqrstuvwxyz234567")
}

func TestParseStorageIndex(t *testing.T) {
	var si StorageIndex
	for i := range si {
		si[i] = byte(7 * i)
	}
	got, err := ParseStorageIndex(si.String())
	if err != nil || got != si {
		t.Fatalf("round trip: %v %v", got, err)
	}
	for _, bad := range []string{"", si.String()[:25], strings.ToUpper(si.String()), si.String() + "a"} {
		if _, err := ParseStorageIndex(bad); !errors.Is(err, ErrBase32) {
			t.Errorf("ParseStorageIndex(%q): %v", bad, err)
		}
	}
}
