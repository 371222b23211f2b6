// Package introducer implements server discovery: storage servers publish
// signed announcements to introducers, and clients subscribe to learn of
// them. The announcements are Tahoe's own (introducer/common.py): a JSON
// dictionary signed with the node's Ed25519 key in Tahoe's "v0-" form, so
// they can be relayed and checked unchanged. Tahoe's introducer speaks only
// Foolscap; ours speaks HTTPS with CBOR bodies and a NURL-pinned
// certificate, like the storage protocol (see docs/introducer.md).
//
// Server is the introducer: it keeps the newest announcement of each
// (server id, service) and answers subscribers' long polls. Client is a
// node's connection to one introducer: it publishes the node's
// announcements and passes on the storage announcements it verified;
// Clients merges several. ReadIntroducersYAML reads the introducers of
// private/introducers.yaml.
package introducer

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/lafs/lafs"
)

// ErrBadAnnouncement is wrapped by every error that rejects an announcement.
var ErrBadAnnouncement = errors.New("bad announcement")

// Announcement is a node's announcement of one service, as Tahoe builds it
// (introducer/client.py create_announcement_dict): version 0, nickname,
// app-versions, my-version, oldest-supported, service-name, seqnum, nonce,
// and for storage anonymous-storage-FURL, anonymous-storage-NURLs and
// permutation-seed-base32. Unknown keys are kept.
type Announcement map[string]any

// Signed is an announcement as it travels: the exact JSON bytes, the
// signature "v0-"+base32(sig) and the key "v0-"+base32(pubkey). The key
// string is the announcing node's server id.
type Signed struct {
	Msg []byte
	Sig string
	Key string
}

// NewAnnouncement returns the fields every announcement carries.
func NewAnnouncement(service, nickname, version string, seqnum int64) Announcement {
	nonce := make([]byte, 32)
	rand.Read(nonce)
	return Announcement{
		"version":          0,
		"nickname":         nickname,
		"app-versions":     []any{},
		"my-version":       version,
		"oldest-supported": version,
		"service-name":     service,
		"seqnum":           seqnum,
		"nonce":            lafs.Base32(nonce),
	}
}

// Sign serializes a as UTF-8 JSON and signs it with key, as Tahoe's
// sign_to_foolscap does.
func Sign(a Announcement, key ed25519.PrivateKey) (Signed, error) {
	msg, err := json.Marshal(map[string]any(a))
	if err != nil {
		return Signed{}, fmt.Errorf("announcement: %w", err)
	}
	sig := ed25519.Sign(key, msg)
	return Signed{
		Msg: msg,
		Sig: "v0-" + lafs.Base32(sig),
		Key: ServerID(key.Public().(ed25519.PublicKey)),
	}, nil
}

// ServerID is the id a node with this public key announces under:
// "v0-" + base32(key).
func ServerID(pub ed25519.PublicKey) string { return "v0-" + lafs.Base32(pub) }

// Verify checks the signature of s and returns the announcement it carries.
// Only "v0-" signatures and keys are accepted, as in Tahoe.
func Verify(s Signed) (Announcement, error) {
	if !strings.HasPrefix(s.Sig, "v0-") || !strings.HasPrefix(s.Key, "v0-") {
		return nil, fmt.Errorf("%w: only v0- signatures and keys are recognized", ErrBadAnnouncement)
	}
	pub, err := lafs.ParseBase32Len(s.Key[3:], ed25519.PublicKeySize)
	if err != nil {
		return nil, fmt.Errorf("%w: key: %v", ErrBadAnnouncement, err)
	}
	sig, err := lafs.ParseBase32Len(s.Sig[3:], ed25519.SignatureSize)
	if err != nil {
		return nil, fmt.Errorf("%w: signature: %v", ErrBadAnnouncement, err)
	}
	if !ed25519.Verify(pub, s.Msg, sig) {
		return nil, fmt.Errorf("%w: signature does not verify", ErrBadAnnouncement)
	}
	var a Announcement
	if err := json.Unmarshal(s.Msg, &a); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadAnnouncement, err)
	}
	if _, ok := a["service-name"].(string); !ok {
		return nil, fmt.Errorf("%w: no service-name", ErrBadAnnouncement)
	}
	return a, nil
}

// String returns the value of a string field ("" when absent or not a string).
func (a Announcement) String(key string) string {
	s, _ := a[key].(string)
	return s
}

// Seqnum returns the announcement's sequence number (0 when absent).
func (a Announcement) Seqnum() int64 {
	switch v := a["seqnum"].(type) {
	case float64:
		return int64(v)
	case int64:
		return v
	case int:
		return int64(v)
	case json.Number:
		n, _ := v.Int64()
		return n
	}
	return 0
}

// NURLs returns the anonymous-storage-NURLs of a storage announcement.
func (a Announcement) NURLs() []string {
	var out []string
	switch v := a["anonymous-storage-NURLs"].(type) {
	case []any:
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
	case []string:
		out = append(out, v...)
	}
	return out
}
