package node

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/lafs/lafs/introducer/foolscap"
)

// Endpoint is a parsed Twisted server endpoint description ("strports"
// string) such as "tcp:3456:interface=127.0.0.1", as web.port and tub.port
// (section "node") and [sftpd] port hold them.
type Endpoint struct {
	// Raw is the description: as written, except that a bare port number
	// in web.port or tub.port reads as "tcp:PORT", as Tahoe reads it.
	Raw string
	// Type is the endpoint type: "tcp", "tcp6", "ssl", "unix", "systemd",
	// "onion", "i2p", "tor"; "listen:tor" or "listen:i2p" in tub.port; or
	// EndpointDisabled.
	Type string
	// Port is the port to listen on for tcp, tcp6 and ssl (0 lets the
	// kernel choose).
	Port int
	// Interface is the address to listen on for tcp, tcp6 and ssl; empty
	// means every interface.
	Interface string
}

// EndpointDisabled is the Type ParseEndpoint gives "none" and "disabled".
const EndpointDisabled = "disabled"

// ErrEndpoint is wrapped by every error from ParseEndpoint and ParseHint.
var ErrEndpoint = errors.New("bad endpoint")

// IsTCP reports whether e listens on a TCP port of its own (tcp or tcp6).
func (e Endpoint) IsTCP() bool { return e.Type == "tcp" || e.Type == "tcp6" }

// String returns the description as written.
func (e Endpoint) String() string { return e.Raw }

// endpointArgs is the shape of each type's Twisted parser: its positional
// parameter names in order and how many are required.
var endpointArgs = map[string]struct {
	params   []string
	required int
}{
	"tcp":  {[]string{"port", "interface", "backlog"}, 1},
	"tcp6": {[]string{"port", "backlog", "interface"}, 1},
	"ssl": {[]string{"port", "privateKey", "certKey", "sslmethod", "interface",
		"backlog", "extraCertChain", "dhParameters"}, 1},
	"unix": {[]string{"address", "mode", "backlog", "lockfile"}, 1},
}

// opaqueEndpoints are endpoint types whose arguments are left to whoever
// implements them: systemd (inherited sockets) and the types that plugins
// (txtorcon, txi2p) add to Twisted.
var opaqueEndpoints = map[string]bool{"systemd": true, "onion": true, "tor": true, "i2p": true}

// ParseEndpoint parses a server endpoint description with Twisted's syntax:
// fields separated by ":", "key=value" fields as keywords, "\" escaping the
// next character. "none" (in any case) and "disabled" give an Endpoint of
// Type EndpointDisabled; whether that is allowed is the caller's question.
// tcp, tcp6, ssl and unix have their arguments checked as Twisted checks
// them; the port must be 0-65535.
func ParseEndpoint(s string) (Endpoint, error) {
	e := Endpoint{Raw: s}
	if strings.EqualFold(s, "none") || s == "disabled" {
		e.Type = EndpointDisabled
		return e, nil
	}
	args, kw, err := twistedParse(s)
	if err != nil {
		return e, err
	}
	e.Type = args[0]
	args = args[1:]
	if opaqueEndpoints[e.Type] {
		return e, nil
	}
	shape, ok := endpointArgs[e.Type]
	if !ok {
		return e, fmt.Errorf("%w: %q: unknown endpoint type %q (want tcp:PORT[:interface=ADDR])", ErrEndpoint, s, e.Type)
	}
	if len(args) > len(shape.params) {
		return e, fmt.Errorf("%w: %q: too many arguments for %s", ErrEndpoint, s, e.Type)
	}
	vals := map[string]string{}
	for i, a := range args {
		vals[shape.params[i]] = a
	}
	for k, v := range kw {
		if !contains(shape.params, k) {
			return e, fmt.Errorf("%w: %q: %s takes no argument %q", ErrEndpoint, s, e.Type, k)
		}
		if _, dup := vals[k]; dup {
			return e, fmt.Errorf("%w: %q: %s given twice", ErrEndpoint, s, k)
		}
		vals[k] = v
	}
	for _, p := range shape.params[:shape.required] {
		if _, ok := vals[p]; !ok {
			return e, fmt.Errorf("%w: %q: %s needs a %s", ErrEndpoint, s, e.Type, p)
		}
	}
	if p, ok := vals["port"]; ok {
		if e.Port, err = parsePort(p); err != nil {
			return e, fmt.Errorf("%w: %q: %v", ErrEndpoint, s, err)
		}
	}
	if b, ok := vals["backlog"]; ok {
		if _, err := pyInt(b); err != nil {
			return e, fmt.Errorf("%w: %q: backlog: %v", ErrEndpoint, s, err)
		}
	}
	e.Interface = vals["interface"]
	return e, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// parsePort reads a port number as Twisted does (Python int()) and checks
// its range.
func parsePort(s string) (int, error) {
	n, err := pyInt(s)
	if err != nil {
		return 0, fmt.Errorf("port: %v", err)
	}
	if n < 0 || n > 65535 {
		return 0, fmt.Errorf("port %d out of range 0-65535", n)
	}
	return int(n), nil
}

// twistedParse splits an endpoint description as Twisted's
// endpoints._parse does: on ":" and, until the next ":", on the first "=",
// with "\" escaping any character.
func twistedParse(s string) (args []string, kw map[string]string, err error) {
	kw = map[string]string{}
	var cur strings.Builder
	var field []string
	seenEq := false
	flush := func() {
		field = append(field, cur.String())
		cur.Reset()
		if len(field) == 1 {
			args = append(args, field[0])
		} else {
			kw[field[0]] = field[1]
		}
		field = nil
		seenEq = false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			if i+1 == len(s) {
				return nil, nil, fmt.Errorf("%w: %q ends in a lone backslash", ErrEndpoint, s)
			}
			i++
			cur.WriteByte(s[i])
		case c == ':':
			flush()
		case c == '=' && !seenEq:
			field = append(field, cur.String())
			cur.Reset()
			seenEq = true
		default:
			cur.WriteByte(c)
		}
	}
	flush()
	if len(args) == 0 || args[0] == "" {
		return nil, nil, fmt.Errorf("%w: %q has no endpoint type", ErrEndpoint, s)
	}
	return args, kw, nil
}

// Hint is a parsed Foolscap connection hint from tub.location or a FURL,
// such as "tcp:example.org:3456" (foolscap.Hint).
type Hint = foolscap.Hint

// ParseHint parses one connection hint as Foolscap reads it
// (foolscap.ParseHint); its errors wrap ErrEndpoint.
func ParseHint(s string) (Hint, error) {
	h, err := foolscap.ParseHint(s)
	if err != nil {
		return h, fmt.Errorf("%w: %v", ErrEndpoint, err)
	}
	return h, nil
}

func joinHostPort(host string, port int) string {
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return host + ":" + strconv.Itoa(port)
}
