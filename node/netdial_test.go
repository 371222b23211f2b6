package node

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestSocksAddr(t *testing.T) {
	for in, want := range map[string]string{
		"tcp:127.0.0.1:9050":            "127.0.0.1:9050",
		"tcp:localhost:9150":            "127.0.0.1:9150",
		"tcp:host=127.0.0.1:port=9050":  "127.0.0.1:9050",
		"tcp:[::1]:9050":                "[::1]:9050",
		"127.0.0.1:9050":                "127.0.0.1:9050",
		"tcp:tor.example.com:9050":      "",
		"tcp:127.0.0.1:0":               "",
		"unix:/var/run/tor/socks":       "",
		"tcp:127.0.0.1:http":            "",
		"tcp:host=127.0.0.1:port=70000": "",
	} {
		got, err := socksAddr(in)
		if (err == nil) != (want != "") || got != want {
			t.Errorf("socksAddr(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// TestHidingRefusals: what lafs cannot do yet, or what would reveal the
// IP address with reveal-IP-address = false, stops the node before it
// starts, with an error naming the setting.
func TestHidingRefusals(t *testing.T) {
	cases := []struct{ cfg, want string }{
		{"[node]\ntub.port = listen:tor\ntub.location = tor:abcdefghijklmnop.onion:3457\n[tor]\nonion.local_port = 3457\n", "needs [tor] onion = true"},
		{"[node]\ntub.port = listen:i2p\ntub.location = i2p:x.i2p\n[i2p]\nsam.port = tcp:127.0.0.1:7656\ndest.port = 3457\ndest.private_key_file = private/i2p.key\n", "needs [i2p] dest = true"},
		{"[i2p]\nlaunch = true\n", "[i2p] launch"},
		{"[i2p]\ni2p.configdir = /var/lib/i2p\n", "i2p.configdir"},
		{"[node]\nreveal-IP-address = false\ntub.port = tcp:3457\ntub.location = tor:x.onion:3457\n[connections]\ntcp = tor\n", "reveal-IP-address = false, but [node] tub.port"},
		{"[node]\nreveal-IP-address = false\ntub.port = tcp:3457:interface=0.0.0.0\ntub.location = tor:x.onion:3457\n[connections]\ntcp = tor\n", "0.0.0.0"},
	}
	for _, c := range cases {
		cfg, err := ParseConfig("tahoe.cfg", []byte(c.cfg))
		if err != nil {
			t.Fatalf("%q: %v", c.cfg, err)
		}
		if err := checkHiding(cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want an error naming %q", c.cfg, err, c.want)
		}
	}
	ok := "[node]\nreveal-IP-address = false\ntub.port = tcp:3457:interface=127.0.0.1\ntub.location = tor:x.onion:3457\n[connections]\ntcp = tor\n"
	cfg, err := ParseConfig("tahoe.cfg", []byte(ok))
	if err != nil {
		t.Fatal(err)
	}
	if err := checkHiding(cfg); err != nil {
		t.Errorf("a loopback listener behind an onion address: %v", err)
	}
}

func TestOutboundRefusals(t *testing.T) {
	for cfgText, want := range map[string]string{
		"[i2p]\nsam.port = bogus\n":                          "sam.port",
		"[tor]\nlaunch = true\ncontrol.port = unix:/c\n":     "launch",
		"[tor]\nsocks.port = bogus\n":                        "socks.port",
		"[connections]\ntcp = tor\n[tor]\nenabled = false\n": "enabled = false",
	} {
		cfg, err := ParseConfig("tahoe.cfg", []byte(cfgText))
		if err != nil {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%q: %v", cfgText, err)
			}
			continue
		}
		if _, err := newOutbound(cfg); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error naming %q", cfgText, err, want)
		}
	}
	cfg, _ := ParseConfig("tahoe.cfg", []byte("[connections]\ntcp = disabled\n[tor]\nenabled = false\n[i2p]\nenabled = false\n"))
	o, err := newOutbound(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{"127.0.0.1:80", "example.com:80", "abcdefghijklmnop.onion:80", "something.i2p:80"} {
		if c, err := o.dial(context.Background(), "tcp", addr); !errors.Is(err, ErrNoRoute) {
			if c != nil {
				c.Close()
			}
			t.Errorf("dial %s with tcp = disabled and no Tor: %v, want ErrNoRoute", addr, err)
		}
	}
	// tcp = i2p reaches no TCP address, and no I2P name that could
	// change the bridge's command.
	cfg, _ = ParseConfig("tahoe.cfg", []byte("[connections]\ntcp = i2p\n[i2p]\nsam.port = tcp:127.0.0.1:1\n"))
	if o, err = newOutbound(cfg); err != nil {
		t.Fatal(err)
	}
	defer o.closeI2P()
	for _, addr := range []string{"127.0.0.1:80", "example.com:80", "a b.i2p:80", "x\nHELLO.i2p:1", "x.i2p:99999"} {
		if c, err := o.dial(context.Background(), "tcp", addr); !errors.Is(err, ErrNoRoute) {
			if c != nil {
				c.Close()
			}
			t.Errorf("dial %q with tcp = i2p: %v, want ErrNoRoute", addr, err)
		}
	}
}
