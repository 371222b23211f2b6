package node

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// forbiddenTubPorts are the tub.port entries node.py refuses
// (PortAssignmentRequired).
var forbiddenTubPorts = map[string]bool{"0": true, "tcp:0": true, "tcp:port=0": true, "tcp:0:interface=127.0.0.1": true}

func (d *decoder) decodeNode(n *NodeConfig) {
	const sec = "node"
	n.Nickname = d.str(sec, "nickname", "<unspecified>")
	n.WebStatic = d.str(sec, "web.static", "public_html")
	n.TempDir = d.str(sec, "tempdir", "tmp")
	n.LogGathererFURL = d.str(sec, "log_gatherer.furl", "")
	n.RevealIPAddress = d.boolean(sec, "reveal-ip-address", true)
	n.KeepaliveTimeout = 240 * time.Second
	if v := d.str(sec, "timeout.keepalive", ""); v != "" {
		n.KeepaliveTimeout = time.Duration(d.integer(sec, "timeout.keepalive", 0, 0, 1<<31)) * time.Second
	}
	if v := d.str(sec, "timeout.disconnect", ""); v != "" {
		n.DisconnectTimeout = time.Duration(d.integer(sec, "timeout.disconnect", 0, 0, 1<<31)) * time.Second
	}

	if w := d.str(sec, "web.port", ""); w != "" {
		n.WebPort = w
		spec := w
		if r, _ := utf8.DecodeRuneInString(w); isPyDigit(r) {
			spec = "tcp:" + w // webish.py: Twisted warns about bare port numbers
		}
		e, err := ParseEndpoint(spec)
		switch {
		case err != nil:
			d.failKey(sec, "web.port", "%v", err)
		case e.Type == EndpointDisabled:
			d.failKey(sec, "web.port", "%q is not an endpoint; leave web.port empty to run no web server", w)
		}
		n.Web = e
	}

	port, portSet := d.get(sec, "tub.port")
	loc, locSet := d.get(sec, "tub.location")
	portOff := portSet && port == "disabled"
	locOff := locSet && loc == "disabled"
	switch {
	case portSet && port == "":
		d.failKey(sec, "tub.port", "must not be empty (write \"disabled\" to not listen, or leave it out to pick a port)")
	case locSet && loc == "":
		d.failKey(sec, "tub.location", "must not be empty (write \"disabled\" to not listen, or leave it out for AUTO)")
	case portOff && !locOff:
		d.failKey(sec, "tub.port", "tub.port is disabled, but not tub.location")
	case locOff && !portOff:
		d.failKey(sec, "tub.location", "tub.location is disabled, but not tub.port")
	}
	n.TubPort, n.TubLocation = port, loc
	if portOff && locOff {
		n.TubDisabled = true
		return
	}
	if portSet && port != "" {
		n.TubListeners = d.decodeTubPort(port)
	}
	if !locSet {
		loc = "AUTO"
	}
	n.Location = strings.Split(loc, ",")
	for _, h := range n.Location {
		if h == "AUTO" {
			if !n.RevealIPAddress {
				d.failKey(sec, "tub.location", "reveal-IP-address = false, but tub.location uses AUTO (which it does when absent)")
			}
			if len(n.TubListeners) > 0 && !n.TubListeners[0].IsTCP() {
				d.failKey(sec, "tub.location", "AUTO needs tub.port's first endpoint to be TCP, to know its port")
			}
			continue
		}
		hint, err := ParseHint(h)
		if err != nil {
			d.failKey(sec, "tub.location", "%v", err)
		} else if hint.Type == "tcp" && !n.RevealIPAddress {
			d.failKey(sec, "tub.location", "reveal-IP-address = false, but tub.location includes the tcp hint %q", h)
		}
	}
}

func isPyDigit(r rune) bool { _, ok := pyDigit(r); return ok }

// decodeTubPort parses tub.port as node.py does: a bare number is tcp:N;
// entries are separated by commas; listen:tor and listen:i2p are
// placeholders for the onion service and I2P destination.
func (d *decoder) decodeTubPort(port string) []Endpoint {
	if digits, ok := pyDigits(port); ok {
		n, err := pyInt(digits)
		if err != nil {
			d.failKey("node", "tub.port", "%v", err)
			return nil
		}
		port = fmt.Sprintf("tcp:%d", n)
	}
	var out []Endpoint
	for _, p := range strings.Split(port, ",") {
		if forbiddenTubPorts[p] {
			d.failKey("node", "tub.port", "%q: tub.port may not be 0; name a port, or leave tub.port out to have one picked and kept in client.port", p)
			return nil
		}
		if p == "listen:tor" || p == "listen:i2p" {
			out = append(out, Endpoint{Raw: p, Type: p})
			continue
		}
		e, err := ParseEndpoint(p)
		switch {
		case err != nil:
			d.failKey("node", "tub.port", "%v", err)
		case e.Type == EndpointDisabled:
			d.failKey("node", "tub.port", "%q may only stand alone (with tub.location = disabled)", p)
		case e.IsTCP() && e.Port == 0:
			d.failKey("node", "tub.port", "%q: tub.port may not be 0", p)
		}
		out = append(out, e)
	}
	return out
}

func (d *decoder) decodeConnections(revealIP bool) ConnectionsConfig {
	tcp := strings.ToLower(d.str("connections", "tcp", "tcp"))
	switch tcp {
	case "tcp", "disabled":
	case "tor", "i2p":
		if !d.boolean(tcp, "enabled", true) {
			d.failKey("connections", "tcp", "uses %s, but [%s] enabled = false", tcp, tcp)
		}
	default:
		d.failKey("connections", "tcp", "unknown handler type %q (want tcp, tor, i2p or disabled)", tcp)
	}
	if !revealIP && tcp == "tcp" {
		d.failKey("connections", "tcp", "reveal-IP-address = false, but tcp = tcp (the default) would reveal it; use tor or disabled")
	}
	return ConnectionsConfig{TCP: tcp}
}

func (d *decoder) decodeTor(n NodeConfig) TorConfig {
	const sec = "tor"
	t := TorConfig{
		Enabled:             d.boolean(sec, "enabled", true),
		SocksPort:           d.str(sec, "socks.port", ""),
		ControlPort:         d.str(sec, "control.port", ""),
		Launch:              d.boolean(sec, "launch", false),
		Executable:          d.str(sec, "tor.executable", ""),
		Onion:               d.boolean(sec, "onion", false),
		OnionPrivateKeyFile: d.str(sec, "onion.private_key_file", ""),
	}
	if v := d.str(sec, "onion.local_port", ""); v != "" {
		t.OnionLocalPort = int(d.integer(sec, "onion.local_port", 0, 1, 65535))
	}
	if v := d.str(sec, "onion.external_port", ""); v != "" {
		t.OnionExternalPort = int(d.integer(sec, "onion.external_port", 0, 1, 65535))
	}
	if t.Onion {
		if !t.Launch && t.ControlPort == "" {
			d.failKey(sec, "onion", "onion = true, but there is neither launch = true nor control.port")
		}
		for _, k := range []string{"onion.local_port", "onion.external_port", "onion.private_key_file"} {
			if d.str(sec, k, "") == "" {
				d.failKey(sec, "onion", "onion = true, but %s is missing", k)
			}
		}
	}
	for _, e := range n.TubListeners {
		if e.Type == "listen:tor" && d.str(sec, "onion.local_port", "") == "" {
			d.failKey("node", "tub.port", "listen:tor needs [tor] onion.local_port")
		}
	}
	return t
}

func (d *decoder) decodeI2P(n NodeConfig) I2PConfig {
	const sec = "i2p"
	c := I2PConfig{
		Enabled:            d.boolean(sec, "enabled", true),
		SAMPort:            d.str(sec, "sam.port", ""),
		Launch:             d.boolean(sec, "launch", false),
		Executable:         d.str(sec, "i2p.executable", ""),
		ConfigDir:          d.str(sec, "i2p.configdir", ""),
		Dest:               d.boolean(sec, "dest", false),
		DestPort:           d.str(sec, "dest.port", ""),
		DestPrivateKeyFile: d.str(sec, "dest.private_key_file", ""),
		SAMOptions:         strings.Fields(d.str(sec, "lafs.sam-options", "")),
	}
	for _, o := range c.SAMOptions {
		if !validSAMOption(o) {
			d.failKey(sec, "lafs.sam-options", "%q is not an I2CP option KEY=VALUE", o)
		}
	}
	if c.DestPort != "" {
		d.integer(sec, "dest.port", 0, 1, 65535)
	}
	if c.SAMPort != "" && c.Launch && (c.Enabled || c.Dest) {
		d.failKey(sec, "launch", "must not set both sam.port and launch")
	}
	if c.Dest {
		switch {
		case c.SAMPort == "" && !c.Launch && c.ConfigDir == "":
			d.failKey(sec, "dest", "dest = true, but there is neither sam.port nor launch = true nor i2p.configdir")
		case c.Launch:
			d.failKey(sec, "launch", "launch = true with dest = true is not implemented (Tahoe neither)")
		}
		for _, k := range []string{"dest.port", "dest.private_key_file"} {
			if d.str(sec, k, "") == "" {
				d.failKey(sec, "dest", "dest = true, but %s is missing", k)
			}
		}
	}
	for _, e := range n.TubListeners {
		if e.Type != "listen:i2p" {
			continue
		}
		for _, k := range []string{"dest.private_key_file", "dest.port", "sam.port"} {
			if _, ok := d.get(sec, k); !ok {
				d.failKey("node", "tub.port", "listen:i2p needs [i2p] %s", k)
			}
		}
	}
	return c
}
