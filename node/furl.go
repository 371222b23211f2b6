package node

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/introducer/foolscap"
	"github.com/lafs/lafs/nurl"
)

// swissnumSize is the size of a new swissnum: Foolscap's Tub.NAMEBITS, 160
// bits, written in base32 (32 characters).
const swissnumSize = 20

// ServiceURLs are the addresses of one of a node's services (its storage
// server, or an introducer's introduction service). Both kinds of URL carry
// the same swissnum, the secret that grants access.
type ServiceURLs struct {
	// FURL is the Foolscap URL: pb://TUBID@HINTS/SWISSNUM.
	FURL string
	// NURLs are the HTTPS URLs, one per tcp or tor location hint:
	// pb://SPKIHASH@HOST:PORT/SWISSNUM#v=1 (pb+tor:// for onions).
	NURLs []string
	// Swissnum is the service's secret name.
	Swissnum string
}

// LoadOrCreateStorageURLs is LoadOrCreateServiceURLs for the storage
// server: private/storage.furl, as Tahoe keeps it, and private/storage.nurl.
func LoadOrCreateStorageURLs(basedir string, id *Identity, hints []string) (*ServiceURLs, error) {
	return LoadOrCreateServiceURLs(basedir, "storage", id, hints)
}

// LoadOrCreateServiceURLs gives the node's service named service a fURL
// and NURLs at the given location hints (tub.location with AUTO already
// replaced), as Foolscap's registerReference(furlFile=...) does: the
// swissnum is kept from private/SERVICE.furl if that exists (which must
// then name this node's tub ID) or else made new; then the fURL is written
// to private/SERVICE.furl and the NURLs, one a line, to private/SERVICE.nurl
// (both 0600, a newline after each URL). Tahoe writes only the fURL file.
func LoadOrCreateServiceURLs(basedir, service string, id *Identity, hints []string) (*ServiceURLs, error) {
	priv, err := privateDir(basedir)
	if err != nil {
		return nil, err
	}
	furlPath := filepath.Join(priv, service+".furl")
	old, err := readTrimmed(furlPath)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	var swissnum string
	if old != "" {
		tubID, _, name, err := decodeFURL(old)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", furlPath, err)
		}
		if tubID != id.TubID {
			return nil, fmt.Errorf("%w: %s holds a fURL for tub %s, not this node's tub %s", ErrIdentity, furlPath, tubID, id.TubID)
		}
		swissnum = name
	} else {
		b := make([]byte, swissnumSize)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		swissnum = lafs.Base32(b)
	}
	u := &ServiceURLs{Swissnum: swissnum}
	if u.FURL, err = FormatFURL(id.TubID, hints, swissnum); err != nil {
		return nil, err
	}
	if u.NURLs, err = FormatNURLs(id.SPKIHash, hints, swissnum); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(furlPath, []byte(u.FURL+"\n"), secretFileMode); err != nil {
		return nil, err
	}
	var nurls strings.Builder
	for _, n := range u.NURLs {
		nurls.WriteString(n + "\n")
	}
	if err := writeFileAtomic(filepath.Join(priv, service+".nurl"), []byte(nurls.String()), secretFileMode); err != nil {
		return nil, err
	}
	return u, nil
}

// splitHints splits each entry of hints at commas and checks every hint.
func splitHints(hints []string) ([]Hint, error) {
	var out []Hint
	for _, hs := range hints {
		for _, s := range strings.Split(hs, ",") {
			h, err := ParseHint(s)
			if err != nil {
				return nil, err
			}
			out = append(out, h)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no location hints: the node has no address to publish", ErrEndpoint)
	}
	return out, nil
}

// FormatFURL returns a Foolscap URL, pb://TUBID@HINT,HINT/SWISSNUM, as
// Foolscap's Tub.buildURL writes it. Each hint must parse (ParseHint).
func FormatFURL(tubID string, hints []string, swissnum string) (string, error) {
	hs, err := splitHints(hints)
	if err != nil {
		return "", err
	}
	raw := make([]string, len(hs))
	for i, h := range hs {
		raw[i] = h.Raw
	}
	return "pb://" + tubID + "@" + strings.Join(raw, ",") + "/" + swissnum, nil
}

// FormatNURLs returns the NURLs of an HTTPS service as Tahoe's
// protocol_switch.py builds them: for each "tcp:HOST:PORT" hint
// pb://SPKIHASH@HOST:PORT/SWISSNUM#v=1, and for each "tor:HOST.onion:PORT"
// hint the same with scheme pb+tor. Legacy HOST:PORT hints give none, as
// in Tahoe. An "i2p:HOST.i2p:PORT" hint gives a pb+i2p NURL, which Tahoe
// 1.20 does not make (it has no I2P for HTTPS storage; its clients pass
// over such NURLs) but lafs reaches through I2P; an i2p hint without a
// port, or whose host is not a .i2p name, gives none. Duplicates are dropped; order follows hints.
func FormatNURLs(spkiHash string, hints []string, swissnum string) ([]string, error) {
	hs, err := splitHints(hints)
	if err != nil {
		return nil, err
	}
	var out []string
	seen := map[string]bool{}
	for _, h := range hs {
		tor, i2p := false, false
		switch {
		case strings.HasPrefix(h.Raw, "tcp:"):
		case strings.HasPrefix(h.Raw, "tor:"):
			if !strings.HasSuffix(h.Host, ".onion") {
				return nil, fmt.Errorf("%w: %q: a tor hint's host must be a .onion name", ErrEndpoint, h.Raw)
			}
			tor = true
		case h.Type == "i2p":
			if h.Port == 0 || !strings.HasSuffix(strings.ToLower(h.Host), ".i2p") {
				continue
			}
			i2p = true
		default:
			continue
		}
		n := nurl.NURL{SPKIHash: spkiHash, Host: h.Host, Port: h.Port, Swissnum: swissnum, Tor: tor, I2P: i2p}.String()
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out, nil
}

// decodeFURL splits a fURL as Foolscap's decode_furl does (foolscap.ParseFURL).
func decodeFURL(furl string) (tubID string, hints []string, name string, err error) {
	f, err := foolscap.ParseFURL(furl)
	if err != nil {
		return "", nil, "", fmt.Errorf("%w: %v", ErrEndpoint, err)
	}
	return f.TubID, f.Hints, f.Name, nil
}
