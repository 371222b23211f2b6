package node

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseConfig checks that no tahoe.cfg makes the parser panic, that
// every refusal is a *ConfigError, and that a Config it returns answers.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(docsExample))
	f.Add([]byte("[DEFAULT]\nx = %(y)s\ny = %(x)s\n[node]\nnickname = %(x)s\n"))
	f.Add([]byte("[node]\ntub.port = tcp6:interface=\\:\\:1:3456,listen:tor\ntub.location = AUTO,tor:a.onion:1\n"))
	f.Add([]byte("[storage]\nreserved_space = 5GiB\nexpire.mode = cutoff-date\nexpire.cutoff_date = 2009-03-18\n"))
	f.Add([]byte("[s]\na = 1\n  2\n\n\t3\n"))
	for _, name := range []string{"create-node.tahoe.cfg", "create-client.tahoe.cfg", "create-introducer.tahoe.cfg"} {
		if b, err := os.ReadFile(filepath.Join("testdata", name)); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, kind := range []Kind{KindClient, KindIntroducer} {
			c, err := ParseConfigKind("tahoe.cfg", data, kind)
			if err != nil {
				var ce *ConfigError
				if !errors.As(err, &ce) || !errors.Is(err, ErrInvalidConfig) {
					t.Fatalf("error %T %v is not a *ConfigError", err, err)
				}
				_ = ce.Error()
				continue
			}
			_ = c.Node()
			_ = c.Client().Params()
			_ = c.Storage()
			_ = c.GridManagers()
			for _, s := range c.Sections() {
				if _, ok := c.Section(s); !ok {
					t.Fatalf("section %q listed but missing", s)
				}
			}
		}
	})
}

// FuzzParseEndpoint checks the endpoint and hint parsers never panic.
func FuzzParseEndpoint(f *testing.F) {
	for _, s := range []string{"tcp:3456:interface=127.0.0.1", `tcp6:interface=\:\:1:1`, "unix:/x", "tcp:[::1]:1", "tor:a.onion:1", "a:1", "none"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if e, err := ParseEndpoint(s); err == nil && e.IsTCP() && (e.Port < 0 || e.Port > 65535) {
			t.Fatalf("%q: port %d", s, e.Port)
		}
		if h, err := ParseHint(s); err == nil && h.Host != "" {
			_ = h.HostPort()
		}
		_, _, _, _ = decodeFURL(s)
	})
}

// FuzzValues checks the Python value parsers never panic.
func FuzzValues(f *testing.F) {
	for _, s := range []string{"10G", "5Gb", "2 days", "2009-03-18", "2009-03-18T01:02:03.5", "٣", "1_000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if n, err := ParseSize(s); err == nil && n < 0 {
			t.Fatalf("ParseSize(%q) = %d", s, n)
		}
		if d, err := ParseDuration(s); err == nil && d < 0 {
			t.Fatalf("ParseDuration(%q) = %v", s, d)
		}
		_, _ = ParseDate(s)
		_, _ = pyInt(s)
	})
}
