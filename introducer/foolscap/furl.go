package foolscap

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
)

// ErrFURL is wrapped by every error about a malformed fURL or hint.
var ErrFURL = errors.New("bad fURL")

// FURL is a parsed Foolscap URL, pb://TUBID@HINTS/NAME.
type FURL struct {
	// TubID is the first 32 characters of the tub ID: the base32 SHA-1
	// of the tub's certificate.
	TubID string
	// Hints are the connection hints as written, possibly none.
	Hints []string
	// Name is the object's secret name (the swissnum).
	Name string
}

// furlRE is foolscap/furl.py's AUTH_STURDYREF_RE.
var furlRE = regexp.MustCompile(`^pb://([^@]+)@([^/]*)/(.+)$`)

// ParseFURL parses a fURL as Foolscap's decode_furl does: only the first 32
// characters of the tub ID count, and no hint may be empty. A NURL (with a
// "#v=1" fragment) is not a fURL.
func ParseFURL(s string) (FURL, error) {
	s = strings.TrimSpace(s)
	m := furlRE.FindStringSubmatch(s)
	if m == nil || strings.Contains(s, "#") {
		return FURL{}, fmt.Errorf("%w: %q is not a fURL (pb://TUBID@HINTS/NAME)", ErrFURL, Censor(s))
	}
	tubID := m[1]
	if len(tubID) > 32 {
		tubID = tubID[:32]
	}
	if tubID == "" || strings.Trim(tubID, "abcdefghijklmnopqrstuvwxyz234567") != "" {
		return FURL{}, fmt.Errorf("%w: %q is not a valid tub ID", ErrFURL, m[1])
	}
	f := FURL{TubID: tubID, Name: m[3]}
	if m[2] != "" {
		f.Hints = strings.Split(m[2], ",")
		for _, h := range f.Hints {
			if h == "" {
				return FURL{}, fmt.Errorf("%w: %q has an empty connection hint", ErrFURL, Censor(s))
			}
		}
	}
	return f, nil
}

// String formats the fURL.
func (f FURL) String() string {
	return "pb://" + f.TubID + "@" + strings.Join(f.Hints, ",") + "/" + f.Name
}

// Censored is the fURL with its name replaced by "[censored]", for logs.
func (f FURL) Censored() string {
	return "pb://" + f.TubID + "@" + strings.Join(f.Hints, ",") + "/[censored]"
}

// Censor replaces the secret name of anything that looks like a fURL or
// NURL with "[censored]", keeping a "#" fragment.
func Censor(s string) string {
	rest, frag, _ := strings.Cut(s, "#")
	// Everything after the first "/" past the scheme is the name, which
	// may itself hold a "/".
	if k := strings.Index(rest, "://"); k >= 0 {
		if i := strings.IndexByte(rest[k+3:], '/'); i >= 0 {
			rest = rest[:k+3+i+1] + "[censored]"
		}
	}
	if frag != "" {
		rest += "#" + frag
	}
	return rest
}

// Hint is a parsed Foolscap connection hint from tub.location or a fURL,
// such as "tcp:example.org:3456".
type Hint struct {
	// Raw is the hint as written.
	Raw string
	// Type is "tcp" (also for legacy "HOST:PORT" hints), "tor", "i2p", or
	// another TYPE from a "TYPE:..." hint.
	Type string
	// Host and Port are set for tcp, tor and i2p hints. Host has no
	// brackets around an IPv6 address. An i2p hint may have no port
	// (Port 0): the destination's default.
	Host string
	Port int
}

// Patterns from foolscap/connections/tcp.py.
const (
	dottedQuadRE = `\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}`
	colonHexRE   = `\[[A-Fa-f0-9:]+(?:` + dottedQuadRE + `|%[a-zA-Z0-9.]+)?\]`
	dnsNameRE    = `[A-Za-z.0-9\-]+`
)

var (
	oldStyleHint = regexp.MustCompile(`^(` + dottedQuadRE + `|` + dnsNameRE + `):(\d+)$`)
	newStyleHint = regexp.MustCompile(`^tcp:(` + dottedQuadRE + `|` + colonHexRE + `|` + dnsNameRE + `):(\d+)$`)
	torHint      = regexp.MustCompile(`^tor:([^:]+):(\d+)$`)
	i2pHint      = regexp.MustCompile(`^i2p:([A-Za-z.0-9\-]+)(?::(\d{1,5}))?$`) // foolscap/connections/i2p.py
	anyHint      = regexp.MustCompile(`^[A-Za-z0-9]+:[^,/]*$`)
)

// ParseHint parses one connection hint as Foolscap reads it: "tcp:HOST:PORT"
// (HOST a DNS name, dotted quad or [IPv6]), legacy "HOST:PORT" (read as tcp),
// "tor:HOST:PORT", "i2p:HOST[:PORT]", or any other "TYPE:..." without "," or "/", kept opaque
// (Foolscap ignores hint types it does not know).
func ParseHint(s string) (Hint, error) {
	h := Hint{Raw: s}
	var m []string
	switch {
	case oldStyleHint.MatchString(s):
		m = oldStyleHint.FindStringSubmatch(s)
		h.Type = "tcp"
	case strings.HasPrefix(s, "tcp:"):
		if m = newStyleHint.FindStringSubmatch(s); m == nil {
			return h, fmt.Errorf("%w: hint %q: want tcp:HOST:PORT", ErrFURL, s)
		}
		h.Type = "tcp"
	case strings.HasPrefix(s, "tor:"):
		if m = torHint.FindStringSubmatch(s); m == nil {
			return h, fmt.Errorf("%w: hint %q: want tor:HOST:PORT", ErrFURL, s)
		}
		h.Type = "tor"
	case strings.HasPrefix(s, "i2p:"):
		if m = i2pHint.FindStringSubmatch(s); m == nil {
			return h, fmt.Errorf("%w: hint %q: want i2p:HOST[:PORT]", ErrFURL, s)
		}
		h.Type = "i2p"
		if m[2] == "" {
			m[2] = "0"
		}
	case anyHint.MatchString(s):
		h.Type = s[:strings.IndexByte(s, ':')]
		return h, nil
	default:
		return h, fmt.Errorf("%w: hint %q: a hint is TYPE:... (like tcp:HOST:PORT) without ',' or '/'", ErrFURL, s)
	}
	h.Host = strings.TrimSuffix(strings.TrimPrefix(m[1], "["), "]")
	port, err := strconv.Atoi(m[2])
	if err != nil || port > 65535 {
		return h, fmt.Errorf("%w: hint %q: port out of range 0-65535", ErrFURL, s)
	}
	h.Port = port
	return h, nil
}

// HostPort returns "host:port" for a tcp, tor or i2p hint, with brackets around
// an IPv6 address.
func (h Hint) HostPort() string {
	return net.JoinHostPort(h.Host, strconv.Itoa(h.Port))
}
