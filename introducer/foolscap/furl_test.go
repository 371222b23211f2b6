package foolscap

import (
	"errors"
	"net"
	"reflect"
	"strings"
	"testing"
)

func TestParseFURL(t *testing.T) {
	id := introTubID
	for _, c := range []struct {
		in   string
		want FURL
	}{
		{introFURL, FURL{TubID: id, Hints: []string{"tcp:127.0.0.1:41000"}, Name: introSwiss}},
		{"  " + introFURL + "\n", FURL{TubID: id, Hints: []string{"tcp:127.0.0.1:41000"}, Name: introSwiss}},
		{"pb://" + id + "@/name", FURL{TubID: id, Name: "name"}},
		{"pb://" + id + "@tcp:a:1,b.example:2,tor:c.onion:3/n", FURL{TubID: id, Hints: []string{"tcp:a:1", "b.example:2", "tor:c.onion:3"}, Name: "n"}},
		// Only the first 32 characters of the tub ID count.
		{"pb://" + id + "EXTRA-stuff@tcp:a:1/n", FURL{TubID: id, Hints: []string{"tcp:a:1"}, Name: "n"}},
		{"pb://abc@tcp:a:1/n/m", FURL{TubID: "abc", Hints: []string{"tcp:a:1"}, Name: "n/m"}},
	} {
		got, err := ParseFURL(c.in)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParseFURL(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{
		"",
		"pb://",
		"http://" + id + "@tcp:a:1/n",
		"pb://" + id + "@tcp:a:1/",
		"pb://" + id + "tcp:a:1/n",
		"pb://@tcp:a:1/n",
		"pb://ABCDEFGH@tcp:a:1/n",
		"pb://" + id[:31] + "1@tcp:a:1/n",
		"pb://" + id + "@tcp:a:1,,tcp:b:2/n",
		"pb://" + id + "@,/n",
		"pb://" + id + "@tcp:a:1/secretname#v=1",
		"pb://" + id + "@tcp:a:1/secret\nname",
	} {
		f, err := ParseFURL(in)
		if !errors.Is(err, ErrFURL) {
			t.Errorf("ParseFURL(%q) = %+v, %v; want ErrFURL", in, f, err)
			continue
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("ParseFURL(%q): the error shows the name: %v", in, err)
		}
	}
	f, _ := ParseFURL(introFURL)
	if f.String() != introFURL {
		t.Errorf("String() = %s", f.String())
	}
	if want := "pb://" + id + "@tcp:127.0.0.1:41000/[censored]"; f.Censored() != want {
		t.Errorf("Censored() = %s", f.Censored())
	}
}

func TestCensor(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{introFURL, "pb://" + introTubID + "@tcp:127.0.0.1:41000/[censored]"},
		{"pb://B8apVMHRx6If7JIqatgSilomVso-uJBnofMKI9a3x64@127.0.0.1:41004/6iehp2cv5mbdu3igu6wk5exifzblhc2n#v=1",
			"pb://B8apVMHRx6If7JIqatgSilomVso-uJBnofMKI9a3x64@127.0.0.1:41004/[censored]#v=1"},
		{"pb://t@h/secret/more", "pb://t@h/[censored]"},
		{"pb://t@h/", "pb://t@h/[censored]"},
		{"pb://t@h", "pb://t@h"},
		{"no url here", "no url here"},
		{"x#y", "x#y"},
	} {
		if got := Censor(c.in); got != c.want {
			t.Errorf("Censor(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestParseHint(t *testing.T) {
	for _, c := range []struct {
		in         string
		typ, host  string
		port       int
		hostPort   string
		shouldFail bool
	}{
		{in: "tcp:example.org:3456", typ: "tcp", host: "example.org", port: 3456, hostPort: "example.org:3456"},
		{in: "tcp:127.0.0.1:0", typ: "tcp", host: "127.0.0.1", port: 0, hostPort: "127.0.0.1:0"},
		{in: "tcp:[::1]:80", typ: "tcp", host: "::1", port: 80, hostPort: "[::1]:80"},
		{in: "tcp:[fe80::1%eth0]:80", typ: "tcp", host: "fe80::1%eth0", port: 80},
		{in: "example.org:3456", typ: "tcp", host: "example.org", port: 3456},
		{in: "10.0.0.1:1", typ: "tcp", host: "10.0.0.1", port: 1},
		{in: "tor:abc.onion:80", typ: "tor", host: "abc.onion", port: 80},
		{in: "i2p:abc.i2p", typ: "i2p", host: "abc.i2p", hostPort: "abc.i2p:0"},
		{in: "i2p:abc.i2p:3457", typ: "i2p", host: "abc.i2p", port: 3457, hostPort: "abc.i2p:3457"},
		{in: "future:whatever:1:2", typ: "future"},
		{in: "tcp:example.org:65536", shouldFail: true},
		{in: "tcp:example.org:99999999999999999999", shouldFail: true},
		{in: "tcp:example.org", shouldFail: true},
		{in: "tcp:exa mple.org:1", shouldFail: true},
		{in: "tcp:[::1:80", shouldFail: true},
		{in: "tor:abc.onion", shouldFail: true},
		{in: "", shouldFail: true},
		{in: "noport", shouldFail: true},
		{in: "x:a/b", shouldFail: true},
		{in: "x:a,b", shouldFail: true},
	} {
		h, err := ParseHint(c.in)
		if c.shouldFail {
			if !errors.Is(err, ErrFURL) {
				t.Errorf("ParseHint(%q) = %+v, %v; want ErrFURL", c.in, h, err)
			}
			continue
		}
		if err != nil || h.Raw != c.in || h.Type != c.typ || h.Host != c.host || h.Port != c.port {
			t.Errorf("ParseHint(%q) = %+v, %v", c.in, h, err)
			continue
		}
		if c.hostPort != "" && h.HostPort() != c.hostPort {
			t.Errorf("ParseHint(%q).HostPort() = %q", c.in, h.HostPort())
		}
	}
}

func FuzzParseFURL(f *testing.F) {
	for _, s := range []string{
		introFURL,
		"pb://" + introTubID + "@/n",
		"pb://" + introTubID + "@tcp:a:1,b:2,tor:c.onion:3,i2p:x/n/m",
		"pb://" + introTubID + "xyz@[::1]:1/n",
		"pb://" + introTubID + "@tcp:[fe80::1%eth0]:80/n#v=1",
		"pb://abc@tcp:a:1,,b/n",
		"pb://a/b@c/d",
		" pb://a@h/\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := Censor(s)
		fu, err := ParseFURL(s)
		if err != nil {
			if !errors.Is(err, ErrFURL) {
				t.Fatalf("ParseFURL(%q): %v is no ErrFURL", s, err)
			}
			return
		}
		if fu.TubID == "" || len(fu.TubID) > 32 || strings.Trim(fu.TubID, "abcdefghijklmnopqrstuvwxyz234567") != "" {
			t.Fatalf("ParseFURL(%q): tub ID %q", s, fu.TubID)
		}
		if fu.Name == "" || strings.Contains(s, "#") {
			t.Fatalf("ParseFURL(%q) = %+v", s, fu)
		}
		again, err := ParseFURL(fu.String())
		if err != nil || !reflect.DeepEqual(again, fu) {
			t.Fatalf("ParseFURL(%q) = %+v, but its String %q parses as %+v, %v", s, fu, fu.String(), again, err)
		}
		// Neither censored form shows the name (unless it is in what
		// comes before it anyway).
		before := s[:strings.Index(s, "@")] + "@" + strings.Join(fu.Hints, ",") + "/"
		if !strings.Contains(before, fu.Name) {
			if cs := strings.Replace(fu.Censored(), "[censored]", "", 1); strings.Contains(cs, fu.Name) {
				t.Fatalf("Censored() = %q shows the name %q", fu.Censored(), fu.Name)
			}
			if cs := strings.Replace(c, "[censored]", "", 1); strings.Contains(cs, fu.Name) {
				t.Fatalf("Censor(%q) = %q shows the name %q", s, c, fu.Name)
			}
		}
		for _, raw := range fu.Hints {
			h, err := ParseHint(raw)
			if err != nil {
				if !errors.Is(err, ErrFURL) {
					t.Fatalf("ParseHint(%q): %v is no ErrFURL", raw, err)
				}
				continue
			}
			if h.Raw != raw || h.Type == "" {
				t.Fatalf("ParseHint(%q) = %+v", raw, h)
			}
			if h.Type == "tcp" || h.Type == "tor" {
				if h.Port < 0 || h.Port > 65535 || h.Host == "" {
					t.Fatalf("ParseHint(%q) = %+v", raw, h)
				}
				if host, _, err := net.SplitHostPort(h.HostPort()); err != nil || host != h.Host {
					t.Fatalf("ParseHint(%q).HostPort() = %q: %v", raw, h.HostPort(), err)
				}
			}
		}
	})
}
