package cap

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/crypt"
)

// Field values for building caps: a 16-byte and a 32-byte value in Tahoe
// base32, and mangled spellings of them.
const (
	k16 = "tpryif5wuwqtijcyksurx4styi"                           // last char 'i': low 2 bits zero
	h32 = "5kv4xhrrmun3aant3wu2omziejnzfv3xyptnxlys64bhao6vm4cq" // last char 'q': low 4 bits zero

	k16Upper   = "TPRYIF5WUWQTIJCYKSURX4STYI"
	k16Bits    = "tpryif5wuwqtijcyksurx4styj" // non-zero unused bits
	k16Short   = "tpryif5wuwqtijcyksurx4sty"
	k16Long    = "tpryif5wuwqtijcyksurx4styia"
	k16BadChar = "tpryif5wuwqtijcyksurx4st1i"
	h32Bits    = "5kv4xhrrmun3aant3wu2omziejnzfv3xyptnxlys64bhao6vm4cr"
	h32Short   = "5kv4xhrrmun3aant3wu2omziejnzfv3xyptnxlys64bhao6vm4c"
	h32Upper   = "5KV4XHRRMUN3AANT3WU2OMZIEJNZFV3XYPTNXLYS64BHAO6VM4CQ"
	h32Padded  = h32 + "===="
	k16Padded  = k16 + "======"
	mutBody    = k16 + ":" + h32
	chkBody    = k16 + ":" + h32 + ":3:10:70000"
	hello      = "nbswy3dp" // "hello"
	maxUint64  = "18446744073709551615"
	overUint64 = "18446744073709551616"
)

func TestParseGood(t *testing.T) {
	tests := []struct {
		in, want string // want "" means in is canonical
		typ      string // %T of the result, or of Dir.File after "dir "
	}{
		// CHK
		{"URI:CHK:" + chkBody, "", "*cap.CHK"},
		{"URI:CHK:" + k16 + ":" + h32 + ":1:1:0", "", "*cap.CHK"},
		{"URI:CHK:" + k16 + ":" + h32 + ":101:256:56", "", "*cap.CHK"},
		{"URI:CHK:" + k16 + ":" + h32 + ":256:256:" + maxUint64, "", "*cap.CHK"},
		{"URI:CHK:" + k16 + ":" + h32 + ":03:010:0070000", "URI:CHK:" + chkBody, "*cap.CHK"},
		{"URI:CHK:" + chkBody + "\n", "URI:CHK:" + chkBody, "*cap.CHK"},
		{"ro.URI:CHK:" + chkBody, "URI:CHK:" + chkBody, "*cap.CHK"},
		{"imm.URI:CHK:" + chkBody, "URI:CHK:" + chkBody, "*cap.CHK"},
		// CHK-Verifier: not anchored at the end.
		{"URI:CHK-Verifier:" + chkBody, "", "*cap.CHKVerifier"},
		{"URI:CHK-Verifier:" + chkBody + ":more:fields", "URI:CHK-Verifier:" + chkBody, "*cap.CHKVerifier"},
		{"URI:CHK-Verifier:" + chkBody + "xyz", "URI:CHK-Verifier:" + chkBody, "*cap.CHKVerifier"},
		{"URI:CHK-Verifier:" + chkBody + "\n\n", "URI:CHK-Verifier:" + chkBody, "*cap.CHKVerifier"},
		{"imm.URI:CHK-Verifier:" + chkBody, "URI:CHK-Verifier:" + chkBody, "*cap.CHKVerifier"},
		// LIT
		{"URI:LIT:", "", "*cap.LIT"},
		{"URI:LIT:" + hello, "", "*cap.LIT"},
		{"URI:LIT:me", "", "*cap.LIT"},       // 1 byte
		{"URI:LIT:mfra", "", "*cap.LIT"},     // 2 bytes
		{"URI:LIT:mfrgg", "", "*cap.LIT"},    // 3 bytes
		{"URI:LIT:mfrggza", "", "*cap.LIT"},  // 4 bytes
		{"URI:LIT:mfrggzdf", "", "*cap.LIT"}, // 5 bytes
		{"URI:LIT:\n", "URI:LIT:", "*cap.LIT"},
		{"imm.URI:LIT:" + hello, "URI:LIT:" + hello, "*cap.LIT"},
		// SDMF: anchored.
		{"URI:SSK:" + mutBody, "", "*cap.MutableWrite"},
		{"URI:SSK-RO:" + mutBody, "", "*cap.MutableRead"},
		{"URI:SSK-Verifier:" + mutBody, "", "*cap.MutableVerifier"},
		{"URI:SSK:" + mutBody + "\n", "URI:SSK:" + mutBody, "*cap.MutableWrite"},
		{"ro.URI:SSK-RO:" + mutBody, "URI:SSK-RO:" + mutBody, "*cap.MutableRead"},
		{"ro.URI:SSK-Verifier:" + mutBody, "URI:SSK-Verifier:" + mutBody, "*cap.MutableVerifier"},
		{"imm.URI:SSK-Verifier:" + mutBody, "URI:SSK-Verifier:" + mutBody, "*cap.MutableVerifier"},
		// MDMF: extension fields accepted and dropped.
		{"URI:MDMF:" + mutBody, "", "*cap.MutableWrite"},
		{"URI:MDMF-RO:" + mutBody, "", "*cap.MutableRead"},
		{"URI:MDMF-Verifier:" + mutBody, "", "*cap.MutableVerifier"},
		{"URI:MDMF:" + mutBody + ":3:131073", "URI:MDMF:" + mutBody, "*cap.MutableWrite"},
		{"URI:MDMF:" + mutBody + ":I COME FROM THE FUTURE", "URI:MDMF:" + mutBody, "*cap.MutableWrite"},
		{"URI:MDMF:" + mutBody + ":\x00\xff\n\n", "URI:MDMF:" + mutBody, "*cap.MutableWrite"},
		{"URI:MDMF-RO:" + mutBody + ":", "URI:MDMF-RO:" + mutBody, "*cap.MutableRead"},
		{"URI:MDMF-Verifier:" + mutBody + ":spoilers!", "URI:MDMF-Verifier:" + mutBody, "*cap.MutableVerifier"},
		{"imm.URI:MDMF-Verifier:" + mutBody, "URI:MDMF-Verifier:" + mutBody, "*cap.MutableVerifier"},
		// Directories.
		{"URI:DIR2:" + mutBody, "", "dir *cap.MutableWrite"},
		{"URI:DIR2-RO:" + mutBody, "", "dir *cap.MutableRead"},
		{"URI:DIR2-Verifier:" + mutBody, "", "dir *cap.MutableVerifier"},
		{"URI:DIR2-MDMF:" + mutBody, "", "dir *cap.MutableWrite"},
		{"URI:DIR2-MDMF-RO:" + mutBody, "", "dir *cap.MutableRead"},
		{"URI:DIR2-MDMF-Verifier:" + mutBody, "", "dir *cap.MutableVerifier"},
		{"URI:DIR2-MDMF:" + mutBody + ":ext", "URI:DIR2-MDMF:" + mutBody, "dir *cap.MutableWrite"},
		{"URI:DIR2-CHK:" + chkBody, "", "dir *cap.CHK"},
		{"URI:DIR2-CHK-Verifier:" + chkBody, "", "dir *cap.CHKVerifier"},
		{"URI:DIR2-CHK-Verifier:" + chkBody + "/junk", "URI:DIR2-CHK-Verifier:" + chkBody, "dir *cap.CHKVerifier"},
		{"URI:DIR2-LIT:", "", "dir *cap.LIT"},
		{"URI:DIR2-LIT:" + hello, "", "dir *cap.LIT"},
		{"ro.URI:DIR2-RO:" + mutBody, "URI:DIR2-RO:" + mutBody, "dir *cap.MutableRead"},
		{"ro.URI:DIR2-MDMF-RO:" + mutBody, "URI:DIR2-MDMF-RO:" + mutBody, "dir *cap.MutableRead"},
		{"imm.URI:DIR2-Verifier:" + mutBody, "URI:DIR2-Verifier:" + mutBody, "dir *cap.MutableVerifier"},
		{"imm.URI:DIR2-CHK:" + chkBody, "URI:DIR2-CHK:" + chkBody, "dir *cap.CHK"},
		{"imm.URI:DIR2-LIT:" + hello, "URI:DIR2-LIT:" + hello, "dir *cap.LIT"},
		// Unknown: kept verbatim, prefix and all.
		{"", "", "*cap.Unknown"},
		{"URI:NEW:whatever", "", "*cap.Unknown"},
		{"lafs://from_the_future", "", "*cap.Unknown"},
		{"I am a cap from the \u263A future.", "", "*cap.Unknown"},
		{"ro.URI:NEW:x", "", "*cap.Unknown"},
		{"imm.URI:NEW:x", "", "*cap.Unknown"},
		{"ro.imm.URI:CHK:" + chkBody, "", "*cap.Unknown"}, // only one prefix is stripped
		{"imm.ro.URI:SSK:" + mutBody, "", "*cap.Unknown"},
		{"URI:CHK", "", "*cap.Unknown"},
		{"URI:LIT", "", "*cap.Unknown"},
		{"uri:CHK:" + chkBody, "", "*cap.Unknown"},
		{" URI:CHK:" + chkBody, "", "*cap.Unknown"},
		{"URI:SSK-RW:" + mutBody, "", "*cap.Unknown"},
		{"URI:DIR2-LIT-Verifier:", "", "*cap.Unknown"},
		{"URI:DIR:" + mutBody, "", "*cap.Unknown"},
		{"x-tahoe-future-test-writeable:foo", "", "*cap.Unknown"},
		{"x-tahoe-future-test-mutable:foo", "", "*cap.Unknown"},
		{"ro.x-tahoe-future-test-mutable:foo", "", "*cap.Unknown"},
	}
	for _, tt := range tests {
		c, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		typ := fmt.Sprintf("%T", c)
		if d, ok := c.(*Dir); ok {
			typ = fmt.Sprintf("dir %T", d.File)
		}
		if typ != tt.typ {
			t.Errorf("Parse(%q) is %s, want %s", tt.in, typ, tt.typ)
		}
		want := tt.want
		if want == "" {
			want = tt.in
		}
		if got := c.String(); got != want {
			t.Errorf("Parse(%q).String() = %q, want %q", tt.in, got, want)
		}
	}
}

func TestParseFields(t *testing.T) {
	c, err := Parse("URI:CHK:" + k16 + ":" + h32 + ":007:0256:00")
	if err != nil {
		t.Fatal(err)
	}
	chk := c.(*CHK)
	if lafs.Base32(chk.Key[:]) != k16 || lafs.Base32(chk.UEBHash[:]) != h32 || chk.K != 7 || chk.N != 256 || chk.Size != 0 {
		t.Errorf("fields: %+v", chk)
	}
	c, _ = Parse("URI:LIT:" + hello)
	if string(c.(*LIT).Data) != "hello" {
		t.Errorf("LIT data %q", c.(*LIT).Data)
	}
	c, _ = Parse("URI:DIR2-MDMF-RO:" + mutBody)
	r := c.(*Dir).File.(*MutableRead)
	if r.Format != MDMF || lafs.Base32(r.ReadKey[:]) != k16 || lafs.Base32(r.Fingerprint[:]) != h32 {
		t.Errorf("fields: %+v", r)
	}
	c, _ = Parse("URI:SSK-Verifier:" + mutBody)
	if v := c.(*MutableVerifier); v.Format != SDMF || v.StorageIndex.String() != k16 {
		t.Errorf("fields: %+v", v)
	}
}

func TestParseBad(t *testing.T) {
	tests := []struct {
		in   string
		want string // a piece of the error message
	}{
		// CHK: fields.
		{"URI:CHK:", "has 1 fields, want 5"},
		{"URI:CHK:" + k16 + ":" + h32 + ":3:10", "has 4 fields, want 5"},
		{"URI:CHK:" + chkBody + ":", "has 6 fields, want 5"},
		{"URI:CHK:" + chkBody + ":1", "has 6 fields, want 5"},
		{"URI:CHK:" + k16Upper + ":" + h32 + ":3:10:1", "key: invalid base32"},
		{"URI:CHK:" + k16Bits + ":" + h32 + ":3:10:1", "key: invalid base32: non-zero trailing bits"},
		{"URI:CHK:" + k16Short + ":" + h32 + ":3:10:1", "key: invalid base32: 25 characters"},
		{"URI:CHK:" + k16Long + ":" + h32 + ":3:10:1", "key: invalid base32: 27 characters"},
		{"URI:CHK:" + k16BadChar + ":" + h32 + ":3:10:1", "key: invalid base32: character '1'"},
		{"URI:CHK:" + k16Padded + ":" + h32 + ":3:10:1", "key: invalid base32"},
		{"URI:CHK:" + h32 + ":" + k16 + ":3:10:1", "key: invalid base32"},
		{"URI:CHK:" + k16 + ":" + h32Bits + ":3:10:1", "UEB hash: invalid base32: non-zero trailing bits"},
		{"URI:CHK:" + k16 + ":" + h32Short + ":3:10:1", "UEB hash: invalid base32"},
		{"URI:CHK:" + k16 + ":" + h32Upper + ":3:10:1", "UEB hash: invalid base32"},
		{"URI:CHK:" + k16 + ":" + h32Padded + ":3:10:1", "UEB hash: invalid base32"},
		{"URI:CHK:" + k16 + ":" + h32 + "::10:1", "k (needed shares): missing"},
		{"URI:CHK:" + k16 + ":" + h32 + ":3::1", "N (total shares): missing"},
		{"URI:CHK:" + k16 + ":" + h32 + ":3:10:", "size: missing"},
		{"URI:CHK:" + k16 + ":" + h32 + ":+3:10:1", "k (needed shares): \"+\" is not a decimal digit"},
		{"URI:CHK:" + k16 + ":" + h32 + ": 3:10:1", "not a decimal digit"},
		{"URI:CHK:" + k16 + ":" + h32 + ":3a:10:1", "not a decimal digit"},
		{"URI:CHK:" + k16 + ":" + h32 + ":3:10:-1", "size: \"-\" is not a decimal digit"},
		{"URI:CHK:" + k16 + ":" + h32 + ":3:10:1e3", "size: \"e\" is not a decimal digit"},
		{"URI:CHK:" + k16 + ":" + h32 + ":3:10:1 ", "not a decimal digit"},
		{"URI:CHK:" + k16 + ":" + h32 + ":\u0663:10:1", "not a decimal digit"}, // Arabic-Indic three
		{"URI:CHK:" + k16 + ":" + h32 + ":0:10:1", "k (needed shares) is 0"},
		{"URI:CHK:" + k16 + ":" + h32 + ":000:10:1", "k (needed shares) is 0"},
		{"URI:CHK:" + k16 + ":" + h32 + ":3:2:1", "N (total shares) 2 is less than k (needed shares) 3"},
		{"URI:CHK:" + k16 + ":" + h32 + ":3:0:1", "less than k"},
		{"URI:CHK:" + k16 + ":" + h32 + ":3:257:1", "N (total shares) is 257, want at most 256"},
		{"URI:CHK:" + k16 + ":" + h32 + ":3:99999999999999999999:1", "does not fit in 64 bits"},
		{"URI:CHK:" + k16 + ":" + h32 + ":3:10:" + overUint64, "size: " + overUint64 + " does not fit in 64 bits"},
		{"URI:CHK:" + chkBody + "\n\n", "size: \"\\n\" is not a decimal digit"},
		{"URI:CHK:" + chkBody + "\r\n", "not a decimal digit"},
		{"ro.URI:CHK:" + chkBody + "x", "not a decimal digit"},
		// CHK-Verifier.
		{"URI:CHK-Verifier:" + k16 + ":" + h32 + ":3:10", "has 4 fields, want 5"},
		{"URI:CHK-Verifier:" + k16 + ":" + h32 + ":3:10:", "size: missing"},
		{"URI:CHK-Verifier:" + k16 + ":" + h32 + ":3:10:x1", "size: missing"},
		{"URI:CHK-Verifier:" + k16Bits + ":" + h32 + ":3:10:1", "storage index: invalid base32"},
		{"URI:CHK-Verifier:" + k16 + ":" + h32Short + ":3:10:1", "UEB hash: invalid base32"},
		{"URI:CHK-Verifier:" + k16 + ":" + h32 + ":0:10:1", "k (needed shares) is 0"},
		{"URI:CHK-Verifier:" + k16 + ":" + h32 + ":3:10x:1", "N (total shares): \"x\""},
		// LIT.
		{"URI:LIT:a", "data: invalid base32: 1 characters"},
		{"URI:LIT:mea", "data: invalid base32: 3 characters"},
		{"URI:LIT:mf", "data: invalid base32: non-zero trailing bits"},
		{"URI:LIT:NBSWY3DP", "data: invalid base32: character 'N'"},
		{"URI:LIT:me======", "data: invalid base32"},
		{"URI:LIT:nbswy3d:", "data: invalid base32: character ':'"},
		{"URI:LIT:nbswy 3dp", "data: invalid base32"},
		{"URI:LIT:\n\n", "data: invalid base32"},
		// SDMF: anchored, two fields.
		{"URI:SSK:" + k16, "has 1 fields, want 2 (write key:fingerprint)"},
		{"URI:SSK:" + mutBody + ":", "has 3 fields, want 2"},
		{"URI:SSK:" + mutBody + ":3:131073", "has 4 fields, want 2"},
		{"URI:SSK:" + k16 + ":", "fingerprint: invalid base32"},
		{"URI:SSK:" + k16Bits + ":" + h32, "write key: invalid base32"},
		{"URI:SSK-RO:" + k16Upper + ":" + h32, "read key: invalid base32"},
		{"URI:SSK-RO:" + k16 + ":" + h32Bits, "fingerprint: invalid base32"},
		{"URI:SSK-Verifier:" + k16Short + ":" + h32, "storage index: invalid base32"},
		{"URI:SSK-Verifier:" + mutBody + "x", "fingerprint: invalid base32"},
		{"URI:SSK:" + h32 + ":" + k16, "write key: invalid base32"},
		// MDMF.
		{"URI:MDMF:" + k16, "has 1 fields, want 2 (write key:fingerprint)"},
		{"URI:MDMF:", "has 1 fields"},
		{"URI:MDMF:" + k16 + ":", "fingerprint: invalid base32"},
		{"URI:MDMF:" + k16 + ":" + h32Short + ":ext", "fingerprint: invalid base32"},
		{"URI:MDMF:" + mutBody + "x:ext", "fingerprint: invalid base32"},
		{"URI:MDMF-RO:" + k16Bits + ":" + h32, "read key: invalid base32"},
		{"URI:MDMF-Verifier:" + k16 + ":" + h32Upper, "fingerprint: invalid base32"},
		// Directories name their own kind.
		{"URI:DIR2:" + k16, "URI:DIR2: has 1 fields"},
		{"URI:DIR2-RO:" + mutBody + ":", "URI:DIR2-RO: has 3 fields"},
		{"URI:DIR2-Verifier:" + k16Bits + ":" + h32, "URI:DIR2-Verifier: storage index"},
		{"URI:DIR2-MDMF:" + k16 + ":" + h32Bits, "URI:DIR2-MDMF: fingerprint"},
		{"URI:DIR2-MDMF-RO:", "URI:DIR2-MDMF-RO: has 1 fields"},
		{"URI:DIR2-MDMF-Verifier:" + k16Upper + ":" + h32, "URI:DIR2-MDMF-Verifier: storage index"},
		{"URI:DIR2-CHK:" + chkBody + ":", "URI:DIR2-CHK: has 6 fields"},
		{"URI:DIR2-CHK:" + k16 + ":" + h32 + ":4:3:1", "URI:DIR2-CHK: N (total shares) 3 is less"},
		{"URI:DIR2-CHK-Verifier:" + k16 + ":" + h32 + ":3:10:", "URI:DIR2-CHK-Verifier: size"},
		{"URI:DIR2-LIT:mf", "URI:DIR2-LIT: data"},
		// The Tahoe test_uri Constraint case: a URL is not a cap.
		{"URI:DIR2:" + k16 + ":" + h32 + "/", "fingerprint"},
	}
	for _, tt := range tests {
		c, err := Parse(tt.in)
		if err == nil {
			t.Errorf("Parse(%q) = %v, want an error", tt.in, c)
			continue
		}
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%q): %v does not wrap ErrInvalid", tt.in, err)
		}
		if errors.Is(err, ErrNotReadOnly) || errors.Is(err, ErrNotImmutable) {
			t.Errorf("Parse(%q): %v is a constraint error", tt.in, err)
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q): %q does not say %q", tt.in, err, tt.want)
		}
		if c != nil {
			t.Errorf("Parse(%q) returned %v with its error", tt.in, c)
		}
		// The error must not echo key material.
		for _, secret := range []string{k16, h32} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("Parse(%q): error %q echoes the cap", tt.in, err)
			}
		}
	}
}

func TestParseConstraints(t *testing.T) {
	type want int
	const (
		ok want = iota
		notRO
		notImm
	)
	tests := []struct {
		in            string
		deepImmutable bool
		want          want
	}{
		{"ro.URI:SSK:" + mutBody, false, notRO},
		{"ro.URI:MDMF:" + mutBody, false, notRO},
		{"ro.URI:DIR2:" + mutBody, false, notRO},
		{"ro.URI:DIR2-MDMF:" + mutBody, false, notRO},
		{"ro.URI:SSK:junk", false, notRO}, // the context is checked before the form
		{"ro.URI:SSK-RO:" + mutBody, false, ok},
		{"ro.URI:MDMF-RO:" + mutBody, false, ok},
		{"ro.URI:DIR2-RO:" + mutBody, false, ok},
		{"ro.URI:DIR2-MDMF-RO:" + mutBody, false, ok},
		{"ro.URI:DIR2-Verifier:" + mutBody, false, ok},
		{"ro.URI:CHK:" + chkBody, false, ok},
		{"ro.URI:LIT:", false, ok},
		{"ro.x-tahoe-future-test-writeable:x", false, notRO},

		{"imm.URI:SSK:" + mutBody, false, notImm},
		{"imm.URI:SSK-RO:" + mutBody, false, notImm},
		{"imm.URI:MDMF:" + mutBody, false, notImm},
		{"imm.URI:MDMF-RO:" + mutBody, false, notImm},
		{"imm.URI:DIR2:" + mutBody, false, notImm},
		{"imm.URI:DIR2-RO:" + mutBody, false, notImm},
		{"imm.URI:DIR2-MDMF:" + mutBody, false, notImm},
		{"imm.URI:DIR2-MDMF-RO:" + mutBody, false, notImm},
		{"imm.URI:DIR2-RO:junk", false, notImm},
		{"imm.URI:SSK-Verifier:" + mutBody, false, ok},
		{"imm.URI:MDMF-Verifier:" + mutBody, false, ok},
		{"imm.URI:DIR2-Verifier:" + mutBody, false, ok},
		{"imm.URI:DIR2-MDMF-Verifier:" + mutBody, false, ok},
		{"imm.URI:DIR2-CHK:" + chkBody, false, ok},
		{"imm.URI:DIR2-CHK-Verifier:" + chkBody, false, ok},
		{"imm.URI:DIR2-LIT:", false, ok},
		{"imm.x-tahoe-future-test-writeable:x", false, notImm},
		{"imm.x-tahoe-future-test-mutable:x", false, notImm},

		// Deep-immutable context: as if every cap carried "imm.".
		{"URI:SSK:" + mutBody, true, notImm},
		{"URI:SSK-RO:" + mutBody, true, notImm},
		{"ro.URI:MDMF-RO:" + mutBody, true, notImm},
		{"URI:DIR2:" + mutBody, true, notImm},
		{"URI:DIR2-MDMF-RO:" + mutBody, true, notImm},
		{"URI:SSK-Verifier:" + mutBody, true, ok},
		{"URI:DIR2-MDMF-Verifier:" + mutBody, true, ok},
		{"URI:CHK:" + chkBody, true, ok},
		{"ro.URI:DIR2-CHK:" + chkBody, true, ok},
		{"URI:LIT:" + hello, true, ok},
		{"URI:NEW:x", true, ok},
		{"x-tahoe-future-test-mutable:x", true, notImm},
	}
	for _, tt := range tests {
		c, err := ParseChild(tt.in, tt.deepImmutable)
		var got want
		switch {
		case err == nil:
			got = ok
			if c == nil {
				t.Errorf("ParseChild(%q, %v) = nil, nil", tt.in, tt.deepImmutable)
			}
			if strings.HasPrefix(tt.in, "ro.") && !c.IsReadOnly() {
				t.Errorf("ParseChild(%q) is not read-only", tt.in)
			}
			if (tt.deepImmutable || strings.HasPrefix(tt.in, "imm.")) && c.IsMutable() {
				if _, unknown := c.(*Unknown); !unknown {
					t.Errorf("ParseChild(%q, %v) is mutable", tt.in, tt.deepImmutable)
				}
			}
		case errors.Is(err, ErrNotReadOnly):
			got = notRO
		case errors.Is(err, ErrNotImmutable):
			got = notImm
		default:
			t.Errorf("ParseChild(%q, %v): unexpected error %v", tt.in, tt.deepImmutable, err)
			continue
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseChild(%q, %v): %v does not wrap ErrInvalid", tt.in, tt.deepImmutable, err)
		}
		if got != tt.want {
			t.Errorf("ParseChild(%q, %v) = %v, %v; want outcome %d", tt.in, tt.deepImmutable, c, err, tt.want)
		}
	}
}

// TestDiminish checks ReadOnly, Verifier, the predicates and the storage
// index for every kind, including that the diminished caps are the ones
// Tahoe's derivations give.
func TestDiminish(t *testing.T) {
	wk := [16]byte{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}
	fp := [32]byte{2}
	rk := crypt.SSKReadKey(wk[:])
	msi := crypt.SSKStorageIndex(rk[:])
	chk := &CHK{Key: [16]byte{3}, UEBHash: [32]byte{4}, K: 3, N: 10, Size: 1000}
	csi := crypt.StorageIndexHash(chk.Key[:])
	chkV := &CHKVerifier{StorageIndex: csi, UEBHash: chk.UEBHash, K: 3, N: 10, Size: 1000}
	lit := &LIT{Data: []byte("hi")}

	type row struct {
		c                      Cap
		ro, v                  string // "" when nil
		mutable, readOnly, ver bool
		si                     string // "" when none
	}
	var rows []row
	for _, f := range []Format{SDMF, MDMF} {
		w := &MutableWrite{Format: f, WriteKey: wk, Fingerprint: fp}
		r := &MutableRead{Format: f, ReadKey: rk, Fingerprint: fp}
		v := &MutableVerifier{Format: f, StorageIndex: msi, Fingerprint: fp}
		rows = append(rows,
			row{w, r.String(), v.String(), true, false, false, msi.String()},
			row{r, r.String(), v.String(), true, true, false, msi.String()},
			row{v, v.String(), v.String(), false, true, true, msi.String()},
			row{&Dir{w}, (&Dir{r}).String(), (&Dir{v}).String(), true, false, false, msi.String()},
			row{&Dir{r}, (&Dir{r}).String(), (&Dir{v}).String(), true, true, false, msi.String()},
			row{&Dir{v}, (&Dir{v}).String(), (&Dir{v}).String(), false, true, true, msi.String()},
		)
	}
	rows = append(rows,
		row{chk, chk.String(), chkV.String(), false, true, false, csi.String()},
		row{chkV, chkV.String(), chkV.String(), false, true, true, csi.String()},
		row{lit, lit.String(), "", false, true, false, ""},
		row{&Dir{chk}, "URI:DIR2-CHK:" + strings.TrimPrefix(chk.String(), "URI:CHK:"),
			"URI:DIR2-CHK-Verifier:" + strings.TrimPrefix(chkV.String(), "URI:CHK-Verifier:"), false, true, false, csi.String()},
		row{&Dir{chkV}, "URI:DIR2-CHK-Verifier:" + strings.TrimPrefix(chkV.String(), "URI:CHK-Verifier:"),
			"URI:DIR2-CHK-Verifier:" + strings.TrimPrefix(chkV.String(), "URI:CHK-Verifier:"), false, true, true, csi.String()},
		row{&Dir{lit}, "URI:DIR2-LIT:nbuq", "", false, true, false, ""},
		row{&Unknown{"URI:NEW:x"}, "", "", true, false, false, ""},
	)
	str := func(c Cap) string {
		if c == nil {
			return ""
		}
		return c.String()
	}
	for _, r := range rows {
		name := r.c.String()
		if got := str(r.c.ReadOnly()); got != r.ro {
			t.Errorf("%s: ReadOnly = %q, want %q", name, got, r.ro)
		}
		if got := str(r.c.Verifier()); got != r.v {
			t.Errorf("%s: Verifier = %q, want %q", name, got, r.v)
		}
		if r.ro == name && r.c.ReadOnly() != r.c {
			t.Errorf("%s: ReadOnly is not the cap itself", name)
		}
		if r.c.IsMutable() != r.mutable || r.c.IsReadOnly() != r.readOnly || IsVerifier(r.c) != r.ver {
			t.Errorf("%s: mutable %v, read-only %v, verifier %v; want %v %v %v", name,
				r.c.IsMutable(), r.c.IsReadOnly(), IsVerifier(r.c), r.mutable, r.readOnly, r.ver)
		}
		si, ok := StorageIndex(r.c)
		if got := si.String(); ok != (r.si != "") || ok && got != r.si {
			t.Errorf("%s: StorageIndex = %s %v, want %q", name, got, ok, r.si)
		}
		if _, isDir := r.c.(*Dir); IsDir(r.c) != isDir {
			t.Errorf("%s: IsDir wrong", name)
		}
		// Every cap but Unknown round-trips, and so do its diminished forms.
		if _, ok := r.c.(*Unknown); ok {
			continue
		}
		for _, d := range []Cap{r.c, r.c.ReadOnly(), r.c.Verifier()} {
			if d == nil {
				continue
			}
			p, err := Parse(d.String())
			if err != nil || p.String() != d.String() {
				t.Errorf("%s: Parse(%s) = %v, %v", name, d, p, err)
			}
		}
	}
}

func TestDirWrapsOnlyFileCaps(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Dir{Unknown}.String did not panic")
		}
	}()
	_ = (&Dir{&Unknown{"x"}}).String()
}

func ExampleParse() {
	c, err := Parse("URI:SSK:ycajgl223yqq5jach2tufqop7e:hjeqjsfvyffomowehx2jonjkxrmltczcpc7qlcvhp7jhj6ohs6wa")
	if err != nil {
		panic(err)
	}
	si, _ := StorageIndex(c)
	fmt.Println(c.ReadOnly())
	fmt.Println(c.Verifier())
	fmt.Println(si)
	// Output:
	// URI:SSK-RO:zmxhq4h5zzqyokowa5url7atza:hjeqjsfvyffomowehx2jonjkxrmltczcpc7qlcvhp7jhj6ohs6wa
	// URI:SSK-Verifier:f6w2ksnfa5dmmkwzkart2j2yhu:hjeqjsfvyffomowehx2jonjkxrmltczcpc7qlcvhp7jhj6ohs6wa
	// f6w2ksnfa5dmmkwzkart2j2yhu
}

func TestKind(t *testing.T) {
	chk := &CHK{K: 3, N: 10, Size: 1000}
	w := &MutableWrite{Format: MDMF}
	for _, tt := range []struct {
		c    Cap
		want string
	}{
		{nil, "no cap"},
		{chk, "URI:CHK"},
		{chk.Verifier(), "URI:CHK-Verifier"},
		{&LIT{Data: []byte("x")}, "URI:LIT"},
		{&MutableWrite{Format: SDMF}, "URI:SSK"},
		{w, "URI:MDMF"},
		{w.ReadOnly(), "URI:MDMF-RO"},
		{w.Verifier(), "URI:MDMF-Verifier"},
		{&Dir{File: &MutableWrite{Format: SDMF}}, "URI:DIR2"},
		{(&Dir{File: w}).ReadOnly(), "URI:DIR2-MDMF-RO"},
		{&Dir{File: chk}, "URI:DIR2-CHK"},
		{&Dir{File: &LIT{}}, "URI:DIR2-LIT"},
		{&Unknown{}, "a cap of an unknown kind"},
	} {
		if got := Kind(tt.c); got != tt.want {
			t.Errorf("Kind(%T) = %q, want %q", tt.c, got, tt.want)
		}
		if tt.c != nil && strings.HasPrefix(tt.want, "URI:") && !strings.HasPrefix(tt.c.String(), tt.want+":") {
			t.Errorf("%T: String %q does not begin with its kind %q", tt.c, tt.c.String(), tt.want)
		}
	}
}
