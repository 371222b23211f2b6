package node

import (
	"errors"
	"testing"
)

func TestParseEndpoint(t *testing.T) {
	good := []struct {
		in   string
		want Endpoint
	}{
		{"tcp:3456", Endpoint{Type: "tcp", Port: 3456}},
		{"tcp:3456:interface=127.0.0.1", Endpoint{Type: "tcp", Port: 3456, Interface: "127.0.0.1"}},
		{"tcp:port=3456:interface=127.0.0.1", Endpoint{Type: "tcp", Port: 3456, Interface: "127.0.0.1"}},
		{"tcp:interface=127.0.0.1:3456", Endpoint{Type: "tcp", Port: 3456, Interface: "127.0.0.1"}},
		{"tcp:3456:127.0.0.1", Endpoint{Type: "tcp", Port: 3456, Interface: "127.0.0.1"}},
		{"tcp:3456:backlog=10", Endpoint{Type: "tcp", Port: 3456}},
		{"tcp:0", Endpoint{Type: "tcp"}},
		{`tcp6:interface=2600\:3c01\:f03c\:91ff\:fe93\:d272:3456`, Endpoint{Type: "tcp6", Port: 3456, Interface: "2600:3c01:f03c:91ff:fe93:d272"}},
		{"tcp:3456:interface=a=b", Endpoint{Type: "tcp", Port: 3456, Interface: "a=b"}},
		{"ssl:3456:privateKey=mykey.pem:certKey=cert.pem", Endpoint{Type: "ssl", Port: 3456}},
		{"unix:/var/run/tahoe.sock", Endpoint{Type: "unix"}},
		{"systemd:domain=INET:index=0", Endpoint{Type: "systemd"}},
		{"onion:3456", Endpoint{Type: "onion"}},
		{"none", Endpoint{Type: EndpointDisabled}},
		{"None", Endpoint{Type: EndpointDisabled}},
		{"disabled", Endpoint{Type: EndpointDisabled}},
	}
	for _, c := range good {
		got, err := ParseEndpoint(c.in)
		c.want.Raw = c.in
		if err != nil || got != c.want {
			t.Errorf("ParseEndpoint(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{"", "3456", "TCP:3456", "tcp", "tcp:", "tcp:x", "tcp:-1", "tcp:65536",
		"tcp:1:2:3:4", "tcp:3456:iface=x", "tcp:3456:port=3456", "tcp:3456:backlog=x", "unix",
		"ssl", "http:80", `tcp:3456\`, ":3456", "Disabled"} {
		if got, err := ParseEndpoint(in); !errors.Is(err, ErrEndpoint) {
			t.Errorf("ParseEndpoint(%q) = %+v, %v; want an ErrEndpoint", in, got, err)
		}
	}
}

func TestParseHint(t *testing.T) {
	good := []struct {
		in        string
		typ, host string
		port      int
		hostPort  string
	}{
		{"tcp:example.org:3456", "tcp", "example.org", 3456, "example.org:3456"},
		{"tcp:123.45.67.89:8098", "tcp", "123.45.67.89", 8098, "123.45.67.89:8098"},
		{"tcp:[2001:db8::1]:3456", "tcp", "2001:db8::1", 3456, "[2001:db8::1]:3456"},
		{"tcp:unreachable.example.org:0", "tcp", "unreachable.example.org", 0, "unreachable.example.org:0"},
		{"example.org:3456", "tcp", "example.org", 3456, "example.org:3456"},
		{"10.0.0.1:80", "tcp", "10.0.0.1", 80, "10.0.0.1:80"},
		{"type:123", "tcp", "type", 123, "type:123"}, // Foolscap reads it as legacy too
		{"tor:ualhejtq2p7ohfbb.onion:29212", "tor", "ualhejtq2p7ohfbb.onion", 29212, "ualhejtq2p7ohfbb.onion:29212"},
		{"i2p:c2ng2pbrmxmlwpijn", "i2p", "c2ng2pbrmxmlwpijn", 0, ""},
		{"i2p:abc.b32.i2p:3457", "i2p", "abc.b32.i2p", 3457, "abc.b32.i2p:3457"},
		{"systemd:fd=3", "systemd", "", 0, ""},
	}
	for _, c := range good {
		h, err := ParseHint(c.in)
		if err != nil || h.Raw != c.in || h.Type != c.typ || h.Host != c.host || h.Port != c.port {
			t.Errorf("ParseHint(%q) = %+v, %v", c.in, h, err)
			continue
		}
		if c.hostPort != "" && h.HostPort() != c.hostPort {
			t.Errorf("%q: HostPort %q", c.in, h.HostPort())
		}
	}
	for _, in := range []string{"", "AUTO", "tcp:host", "tcp:host:port", "tcp:ho st:1", "tcp:a:1:2", "tcp:[::1:1",
		"tcp:h:65536", "tor:x", "tor:a:b:1", " tcp:a:1", "x/y:1", "a:b,c", ":1"} {
		if h, err := ParseHint(in); !errors.Is(err, ErrEndpoint) {
			t.Errorf("ParseHint(%q) = %+v, %v; want an ErrEndpoint", in, h, err)
		}
	}
}
