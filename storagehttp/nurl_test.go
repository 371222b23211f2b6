package storagehttp

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/lafs/lafs/internal/vectors"
)

// TestSPKIHashVectors checks SPKIHash against Tahoe's
// spki-hash-test-vectors.yaml (RSA-2048, RSA-4096 and Ed25519 keys).
func TestSPKIHashVectors(t *testing.T) {
	var doc struct {
		Vector []struct {
			Hash string `yaml:"expected-hash"`
			SPKI string `yaml:"expected-spki"`
			Cert string `yaml:"certificate"`
		} `yaml:"vector"`
	}
	if err := yaml.Unmarshal(vectors.Read(t, "spki-hash-test-vectors.yaml"), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Vector) == 0 {
		t.Fatal("no vectors")
	}
	for i, v := range doc.Vector {
		block, _ := pem.Decode([]byte(v.Cert))
		if block == nil {
			t.Fatalf("vector %d: no PEM", i)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatalf("vector %d: %v", i, err)
		}
		if got := base64.StdEncoding.EncodeToString(cert.RawSubjectPublicKeyInfo); got != v.SPKI {
			t.Errorf("vector %d: SPKI %s, want %s", i, got, v.SPKI)
		}
		if got := SPKIHash(cert); got != v.Hash {
			t.Errorf("vector %d: hash %s, want %s", i, got, v.Hash)
		}
		// The pin accepts the certificate: it is one self-signed
		// certificate (expired, which does not matter).
		want, err := decodeSPKIHash(v.Hash)
		if err != nil {
			t.Fatal(err)
		}
		if err := verifyPinned([]*x509.Certificate{cert}, want); err != nil {
			t.Errorf("vector %d: %v", i, err)
		}
	}
}

const hash43 = "JIj6ezHkdSBlHhrnezAgIC_mrVQHy4KAFyL-8ZNPGPM"

func TestParseNURL(t *testing.T) {
	for _, c := range []struct {
		in   string
		want NURL
		out  string // String(), if not in
	}{
		{"pb://" + hash43 + "@127.0.0.1:1234/x2bmwqjvkgzt6ck4e3zlwdtb3mvcfmst#v=1",
			NURL{SPKIHash: hash43, Host: "127.0.0.1", Port: 1234, Swissnum: "x2bmwqjvkgzt6ck4e3zlwdtb3mvcfmst"}, ""},
		{"pb://" + hash43 + "@[::1]:80/s#v=1", NURL{SPKIHash: hash43, Host: "::1", Port: 80, Swissnum: "s"}, ""},
		{"pb://" + hash43 + "@example.com/s#v=1", NURL{SPKIHash: hash43, Host: "example.com", Port: 443, Swissnum: "s"},
			"pb://" + hash43 + "@example.com:443/s#v=1"},
		{"pb+tor://" + hash43 + "@abcdefghijklmnop.onion:1234/s#v=1",
			NURL{SPKIHash: hash43, Host: "abcdefghijklmnop.onion", Port: 1234, Swissnum: "s", Tor: true}, ""},
	} {
		n, err := ParseNURL(c.in)
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		if n != c.want {
			t.Errorf("%s: %+v, want %+v", c.in, n, c.want)
		}
		out := c.out
		if out == "" {
			out = c.in
		}
		if n.String() != out {
			t.Errorf("%s: String %s", c.in, n.String())
		}
	}
	for _, in := range []string{
		"",
		"pb://" + hash43 + "@127.0.0.1:1234/s", // a Foolscap fURL
		"pb://" + hash43 + "@127.0.0.1:1234/s#v=2",                    // unknown version
		"https://" + hash43 + "@127.0.0.1:1234/s#v=1",                 // scheme
		"pb+i2p://" + hash43 + "@127.0.0.1:1234/s#v=1",                // scheme
		"pb://127.0.0.1:1234/s#v=1",                                   // no hash
		"pb://" + hash43[:42] + "@127.0.0.1:1234/s#v=1",               // short hash
		"pb://" + hash43 + "=@127.0.0.1:1234/s#v=1",                   // padded hash
		"pb://" + strings.ReplaceAll(hash43, "_", "/") + "@h:1/s#v=1", // not URL-safe
		"pb://" + hash43 + ":pw@127.0.0.1:1234/s#v=1",                 // password
		"pb://" + hash43 + "@h1:1234,h2:5678/s#v=1",                   // several hints
		"pb://" + hash43 + "@127.0.0.1:1234/#v=1",                     // no swissnum
		"pb://" + hash43 + "@127.0.0.1:1234#v=1",                      // no swissnum
		"pb://" + hash43 + "@127.0.0.1:1234/s/t#v=1",                  // two segments
		"pb://" + hash43 + "@127.0.0.1:1234/s?x=1#v=1",                // query
		"pb://" + hash43 + "@127.0.0.1:0/s#v=1",                       // port 0
		"pb://" + hash43 + "@127.0.0.1:65536/s#v=1",                   // port
		"pb://" + hash43 + "@:1234/s#v=1",                             // no host
	} {
		if n, err := ParseNURL(in); err == nil || !errors.Is(err, ErrNURL) {
			t.Errorf("%q: %+v, %v", in, n, err)
		}
	}
}

func FuzzParseNURL(f *testing.F) {
	f.Add("pb://" + hash43 + "@127.0.0.1:1234/s#v=1")
	f.Add("pb+tor://" + hash43 + "@[::1]:1/s%2Fx#v=1")
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseNURL(s)
		if err != nil {
			return
		}
		m, err := ParseNURL(n.String())
		if err != nil || m != n {
			t.Fatalf("%q -> %+v -> %q -> %+v, %v", s, n, n.String(), m, err)
		}
	})
}
