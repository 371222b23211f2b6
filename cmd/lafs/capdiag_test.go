package main

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/cap"
)

// everyKindOfCap returns a cap of each kind Tahoe 1.20 knows, made of
// random keys, with the base32 fields that hold key material.
func everyKindOfCap(t *testing.T) map[string][]string {
	t.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	var k16 [16]byte
	var h32 [32]byte
	fill := func(b []byte) {
		for i := range b {
			b[i] = byte(r.Uint32())
		}
	}
	fill(k16[:])
	fill(h32[:])
	lit := make([]byte, 40)
	fill(lit)
	chk := &cap.CHK{Key: k16, UEBHash: h32, K: 3, N: 10, Size: 123456}
	files := []cap.Cap{chk, chk.Verifier(), &cap.LIT{Data: lit}}
	for _, f := range []cap.Format{cap.SDMF, cap.MDMF} {
		w := &cap.MutableWrite{Format: f, WriteKey: k16, Fingerprint: h32}
		files = append(files, w, w.ReadOnly(), w.Verifier())
	}
	out := map[string][]string{}
	for _, f := range files {
		for _, c := range []cap.Cap{f, &cap.Dir{File: f}} {
			s := c.String()
			if _, err := cap.Parse(s); err != nil {
				t.Fatalf("made a bad cap %s: %v", cap.Kind(c), err)
			}
			var secrets []string
			for _, field := range strings.Split(s, ":")[2:] {
				if len(field) >= 20 {
					secrets = append(secrets, field)
				}
			}
			out[s] = secrets
		}
	}
	if len(out) != 18 {
		t.Fatalf("%d kinds of caps, want 18", len(out))
	}
	return out
}

// Every well-formed cap passes; every change that makes cap.Parse refuse
// it (or no longer know its kind) gets a diagnosis, which never shows the
// key material of the cap.
func TestCapProblemMutations(t *testing.T) {
	for s, secrets := range everyKindOfCap(t) {
		if p := capProblem(s); p != "" {
			t.Errorf("%s: a valid cap is diagnosed: %s", cap.Kind(mustParse(t, s)), p)
		}
		var variants []string
		for i := 4; i < len(s); i++ {
			variants = append(variants,
				s[:i],                        // cut short
				s[:i]+s[i+1:],                // a character lost
				s[:i]+"0"+s[i+1:],            // a character base32 has not
				s[:i]+"x"+s[i:],              // a character added
				s[:i]+"\n"+s[i:],             // broken across lines
				s[:i]+strings.ToUpper(s[i:]), // shouted
			)
		}
		for _, v := range variants {
			c, err := cap.Parse(v)
			_, unknown := c.(*cap.Unknown)
			p := capProblem(v)
			if (err == nil && !unknown) != (p == "") {
				t.Errorf("%q: parse error %v, unknown %v, but diagnosis %q", v, err, unknown, p)
				continue
			}
			for _, sec := range secrets {
				for j := 0; j+8 <= len(sec); j++ {
					if strings.Contains(p, sec[j:j+8]) {
						t.Errorf("the diagnosis of %q shows key material: %s", v, p)
						break
					}
				}
			}
		}
	}
}

func TestCapProblemWords(t *testing.T) {
	key := strings.Repeat("a", 26)
	hash := strings.Repeat("c", 51) + "a"
	for _, tt := range []struct{ in, want string }{
		{"URI:CHK:" + key + ":" + hash + ":3:10:100", ""},
		{"URI:CKH:" + key + ":" + hash + ":3:10:100", "there is no kind URI:\"CKH\" (did you mean URI:CHK?)"},
		{"URI:chk:" + key + ":" + hash + ":3:10:100", "kinds are written in capitals (URI:CHK)"},
		{"URI:DIR3:" + key + ":" + hash, "did you mean URI:DIR2?"},
		{"URI:WHATEVER:x", "no kind of cap this version knows"},
		{"URI::" + key, "nothing names its kind"},
		{"URI:CHK", "URI:CHK (an immutable file's read cap) needs key:UEB hash:k:N:size after it, and nothing follows"},
		{"URI:NEW", "has no ':' after its kind"},
		{"URI:CHK:", "needs key:UEB hash:k:N:size after it, and nothing follows"},
		{"URI:CHK:" + key + ":" + hash + ":3:10", "it has 4 fields after its kind where 5 are needed (key:UEB hash:k:N:size): is the end missing?"},
		{"URI:CHK:" + key + ":" + hash + ":3:10:100:7", "it has 6 fields after its kind where 5 are needed"},
		{"URI:CHK:" + key[1:] + ":" + hash + ":3:10:100", "the key (field 1 of 5: key:UEB hash:k:N:size) is 25 characters long; it must be 26 (is a character missing?)"},
		{"URI:CHK:" + key + ":" + hash[:40] + ":3:10:100", "the UEB hash (field 2 of 5: key:UEB hash:k:N:size) is 40 characters long; it must be 52 (was the cap cut short"},
		{"URI:CHK:" + key + "aa:" + hash + ":3:10:100", "is 28 characters long; it must be 26 (were characters added"},
		{"URI:CHK:" + "0" + key[1:] + ":" + hash + ":3:10:100", `has "0" at character 1, which base32 never uses; it uses a-z and 2-7 (base32 has no 0, 1, 8 or 9`},
		{"URI:CHK:" + strings.ToUpper(key) + ":" + hash + ":3:10:100", "the key (field 1 of 5: key:UEB hash:k:N:size) is in upper case"},
		{"URI:CHK:" + key[:25] + "b:" + hash + ":3:10:100", `ends in "b", which cannot end base32 of this length`},
		{"URI:CHK:" + key + ":" + hash + ":x:10:100", `the k (field 3 of 5: key:UEB hash:k:N:size) is "x", not a number`},
		{"URI:CHK:" + key + ":" + hash + "::10:100", "the k (field 3 of 5: key:UEB hash:k:N:size) is empty"},
		{"URI:CHK:" + key + ":" + hash + ":0:10:100", "k (the number of shares needed) is 0"},
		{"URI:CHK:" + key + ":" + hash + ":10:3:100", "N (the number of shares, 3) is less than k (the number needed, 10): are they swapped?"},
		{"URI:CHK:" + key + ":" + hash + ":3:300:100", "N (the number of shares) is 300; it can be at most 256"},
		{"URI:CHK:" + key + ":" + hash + ":3:10:99999999999999999999999", "the size (field 5 of 5: key:UEB hash:k:N:size) is too large a number"},
		{"URI:SSK:" + key + ":" + hash + ":extra", "it has 3 fields after its kind where 2 are needed (write key:fingerprint)"},
		{"URI:MDMF:" + key + ":" + hash + ":extra", ""},
		{"URI:DIR2:" + key + "\n:" + hash, "white space in it (was it broken across lines"},
		{"URI:DIR2:" + key + ":" + hash + "\n", ""},
		{"URI:LIT:abc", "the data is 3 characters long, which no base32 text is"},
		{"ro.URI:SSK:" + key + ":" + hash, `the "ro." prefix marks a read-only cap, and URI:SSK is a write cap`},
		{"imm.URI:MDMF-RO:" + key + ":" + hash, `the "imm." prefix marks an immutable object's cap, and URI:MDMF-RO is not one`},
	} {
		got := capProblem(tt.in)
		if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
			t.Errorf("capProblem(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// Whatever the text, capProblem does not fail, and finds a problem
// exactly when cap.Parse refuses the text or does not know its kind.
func FuzzCapProblem(f *testing.F) {
	f.Add("URI:CHK:" + strings.Repeat("a", 26) + ":" + strings.Repeat("b", 52) + ":3:10:100")
	f.Add("URI:DIR2-MDMF:" + strings.Repeat("a", 26) + ":" + strings.Repeat("b", 52) + ":x")
	f.Add("URI:CHK-Verifier:" + strings.Repeat("a", 26) + ":" + strings.Repeat("b", 52) + ":3:10:100junk")
	f.Add("URI:LIT:")
	f.Add("ro.URI:X:y")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := cap.Parse(s)
		_, unknown := c.(*cap.Unknown)
		if p := capProblem(s); (err == nil && !unknown) != (p == "") {
			t.Errorf("%q: parse error %v, unknown %v, diagnosis %q", s, err, unknown, p)
		}
	})
}

func TestHideCaps(t *testing.T) {
	w := "URI:DIR2:" + lafs.Base32(make([]byte, 16)) + ":" + lafs.Base32(make([]byte, 32))
	other := "URI:CHK:" + lafs.Base32(make([]byte, 16)) + ":" + lafs.Base32(make([]byte, 32)) + ":3:10:5"
	for _, tt := range []struct {
		text  string
		typed []string
		want  string
	}{
		{"no caps at all: URI:CHK: is a kind", nil, "no caps at all: URI:CHK: is a kind"},
		{"at " + w + "/sub: gone", nil, "at (a cap)/sub: gone"},
		{"at /uri/" + pyQuote(w) + "/sub", nil, "at /uri/(a cap)/sub"},
		{"at /uri/" + strings.ReplaceAll(pyQuote(w), "%", "%25"), nil, "at /uri/(a cap)"},
		{"ro." + other + " and imm." + other, nil, "(a cap) and (a cap)"},
		{"typed " + w + " and not " + other, []string{"ls", w + "/x"}, "typed " + w + " and not (a cap)"},
		{"typed, quoted: " + pyQuote(w), []string{w}, "typed, quoted: " + pyQuote(w)},
		{"unknown kinds too: URI:NEWKIND:abc", nil, "unknown kinds too: (a cap)"},
	} {
		if got := hideCaps(tt.text, tt.typed...); got != tt.want {
			t.Errorf("hideCaps(%q, %q) = %q, want %q", tt.text, tt.typed, got, tt.want)
		}
	}
}
