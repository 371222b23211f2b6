// Package nurl parses and formats NURLs, the URLs that locate a Tahoe-LAFS
// HTTPS service (the storage protocol, and lafs's introducer) and pin its
// certificate, and makes the TLS configurations on both ends of such a
// connection: the server's, and the client's that checks the server's
// certificate against the NURL's SPKI hash instead of a CA.
//
// It follows Tahoe-LAFS's storage/http_common.py (get_spki_hash),
// storage/http_client.py (_TLSContextFactory, the client's pin check),
// protocol_switch.py and storage/http_server.py (build_nurl), and
// docs/specifications/url.rst (the NURL grammar).
package nurl

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// ErrNURL is wrapped by every error of Parse, and by the errors for a pin
// that is not an SPKI hash.
var ErrNURL = errors.New("invalid NURL")

// NURL locates a service that speaks HTTPS and pins its identity:
// pb://<spki-hash>@<host>:<port>/<swissnum>#v=1, or pb+tor:// for an onion
// service, or pb+i2p:// for an I2P destination (a lafs extension: Tahoe
// 1.20 announces no NURLs for I2P, and its clients pass over them). The "#v=1" fragment is what tells it from a Foolscap fURL. A
// NURL names one location; a server with several announces several NURLs
// (Tahoe's anonymous-storage-NURLs), one per location hint, and a client
// uses the first that answers.
type NURL struct {
	// SPKIHash is the server certificate's SPKIHash: 43 characters of
	// unpadded base64url.
	SPKIHash string
	// Host is a DNS name, an IP address (without brackets) or an onion
	// address; Port its TCP port.
	Host string
	Port int
	// Swissnum is the secret that authorizes a client to use the server,
	// the same as in the server's Foolscap fURL.
	Swissnum string
	// Tor marks a pb+tor:// NURL, which must be reached through Tor.
	Tor bool
	// I2P marks a pb+i2p:// NURL, whose host is a .i2p name reached
	// through I2P.
	I2P bool
}

// Parse parses a NURL as Tahoe's client takes it (scheme pb or pb+tor, or
// lafs's pb+i2p,
// fragment exactly v=1, the SPKI hash as user, the swissnum as the one
// path segment). A missing port means 443, as it does for Tahoe, which
// reaches https://host/ then. Several comma-separated location hints, as
// fURLs may have, are refused: Tahoe never puts them in a NURL.
func Parse(s string) (NURL, error) {
	bad := func(format string, args ...any) (NURL, error) {
		return NURL{}, fmt.Errorf("%w %q: %s", ErrNURL, s, fmt.Sprintf(format, args...))
	}
	u, err := url.Parse(s)
	if err != nil {
		return bad("%v", err)
	}
	var n NURL
	switch u.Scheme {
	case "pb":
	case "pb+tor":
		n.Tor = true
	case "pb+i2p":
		n.I2P = true
	default:
		return bad("scheme is not pb, pb+tor or pb+i2p")
	}
	if u.Fragment != "v=1" {
		return bad("no #v=1 fragment (a Foolscap fURL is not a NURL)")
	}
	if u.Opaque != "" || u.RawQuery != "" || u.ForceQuery {
		return bad("unexpected form")
	}
	if u.User == nil || u.User.Username() == "" {
		return bad("no SPKI hash before '@'")
	}
	if _, has := u.User.Password(); has {
		return bad("unexpected ':' in the SPKI hash")
	}
	n.SPKIHash = u.User.Username()
	if _, err := decodeSPKIHash(n.SPKIHash); err != nil {
		return bad("%v", err)
	}
	if strings.Contains(u.Host, ",") {
		return bad("several location hints; a NURL has one (announce one NURL per location)")
	}
	n.Host = u.Hostname()
	if !validHost(n.Host, strings.HasPrefix(u.Host, "[")) {
		return bad("bad host %q", u.Host)
	}
	if n.I2P && !strings.HasSuffix(strings.ToLower(n.Host), ".i2p") {
		return bad("a pb+i2p NURL's host must be a .i2p name")
	}
	n.Port = 443
	if p := u.Port(); p != "" {
		port, err := strconv.Atoi(p)
		if err != nil || port < 1 || port > 65535 {
			return bad("bad port %q", p)
		}
		n.Port = port
	}
	swiss, ok := strings.CutPrefix(u.Path, "/")
	if !ok || swiss == "" || strings.Contains(swiss, "/") {
		return bad("path must be one segment, the swissnum")
	}
	n.Swissnum = swiss
	return n, nil
}

// String formats n as Tahoe's build_nurl does.
func (n NURL) String() string {
	return n.format(url.PathEscape(n.Swissnum))
}

// Redacted is n with its swissnum replaced by "[censored]", for logs and
// status pages.
func (n NURL) Redacted() string {
	return n.format("[censored]")
}

func (n NURL) format(path string) string {
	scheme := "pb"
	switch {
	case n.Tor:
		scheme = "pb+tor"
	case n.I2P:
		scheme = "pb+i2p"
	}
	return scheme + "://" + n.SPKIHash + "@" + n.Address() + "/" + path + "#v=1"
}

// CheckDialer returns an error (wrapping ErrNURL) when n must be reached
// through Tor or I2P but the caller has no dialer of its own (haveDial
// false): the default dialer would ask the DNS for an .onion or .i2p
// name, and never reach it.
func (n NURL) CheckDialer(haveDial bool) error {
	switch {
	case haveDial:
	case n.Tor:
		return fmt.Errorf("%w %s: a pb+tor NURL needs a Tor dialer", ErrNURL, n.Redacted())
	case n.I2P:
		return fmt.Errorf("%w %s: a pb+i2p NURL needs an I2P dialer", ErrNURL, n.Redacted())
	}
	return nil
}

// Address is the host:port to connect to.
func (n NURL) Address() string {
	return net.JoinHostPort(n.Host, strconv.Itoa(n.Port))
}

// validHost takes a DNS name (or IPv4 address), or in brackets an IPv6
// address.
func validHost(h string, bracketed bool) bool {
	if bracketed {
		a, err := netip.ParseAddr(h)
		return err == nil && a.Is6()
	}
	if h == "" {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}
