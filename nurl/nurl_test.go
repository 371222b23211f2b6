package nurl

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

const hash43 = "JIj6ezHkdSBlHhrnezAgIC_mrVQHy4KAFyL-8ZNPGPM"

func TestParse(t *testing.T) {
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
		{"pb+i2p://" + hash43 + "@abcdefghijklmnop.b32.i2p:3457/s#v=1",
			NURL{SPKIHash: hash43, Host: "abcdefghijklmnop.b32.i2p", Port: 3457, Swissnum: "s", I2P: true}, ""},
	} {
		n, err := Parse(c.in)
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
		"pb+i2p://" + hash43 + "@127.0.0.1:1234/s#v=1",                // not an I2P host
		"pb+xyz://" + hash43 + "@127.0.0.1:1234/s#v=1",                // scheme
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
		"pb://" + hash43 + "@tcp:127.0.0.1:1234/s#v=1",                // a Foolscap hint
	} {
		if n, err := Parse(in); err == nil || !errors.Is(err, ErrNURL) {
			t.Errorf("%q: %+v, %v", in, n, err)
		}
	}
}

func TestRedacted(t *testing.T) {
	n := NURL{SPKIHash: hash43, Host: "::1", Port: 5, Swissnum: "secret", Tor: true}
	if got, want := n.Redacted(), "pb+tor://"+hash43+"@[::1]:5/[censored]#v=1"; got != want {
		t.Errorf("Redacted %q, want %q", got, want)
	}
	if n.Address() != "[::1]:5" {
		t.Errorf("Address %q", n.Address())
	}
}

func FuzzParse(f *testing.F) {
	f.Add("pb://" + hash43 + "@127.0.0.1:1234/s#v=1")
	f.Add("pb+tor://" + hash43 + "@[::1]:1/s%2Fx#v=1")
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Parse(s)
		if err != nil {
			return
		}
		m, err := Parse(n.String())
		if err != nil || m != n {
			t.Fatalf("%q -> %+v -> %q -> %+v, %v", s, n, n.String(), m, err)
		}
		if r := strings.TrimSuffix(n.String(), url.PathEscape(n.Swissnum)+"#v=1") + "[censored]#v=1"; n.Redacted() != r {
			t.Fatalf("%q: Redacted %q, want %q", s, n.Redacted(), r)
		}
	})
}

func TestCheckDialer(t *testing.T) {
	for _, n := range []NURL{{Host: "x.onion", Tor: true}, {Host: "x.b32.i2p", I2P: true}} {
		if err := n.CheckDialer(false); !errors.Is(err, ErrNURL) {
			t.Errorf("%+v without a dialer: %v", n, err)
		}
		if err := n.CheckDialer(true); err != nil {
			t.Errorf("%+v with a dialer: %v", n, err)
		}
	}
	if err := (NURL{Host: "example.com"}).CheckDialer(false); err != nil {
		t.Errorf("a pb NURL: %v", err)
	}
}
