package lafs

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// Server is a storage server as a client knows it: its identity, the seeds
// that feed its lease secrets and its place in each permuted list, what it
// announced, and the connection to it.
type Server struct {
	// ID names the server: "v0-" + base32 of its Ed25519 public key for
	// announced servers, or the key under which servers.yaml lists it.
	ID       string
	Nickname string
	// NodeID is the server's 20-byte Foolscap tub id: lease secrets and
	// mutable write enablers derive from it.
	NodeID NodeID
	// PermutationSeed orders the server in each storage index's permuted
	// list (Tahoe's permutation-seed-base32, decoded).
	PermutationSeed []byte
	// MaxImmutableShareSize is the largest immutable share the server
	// takes (from its version); 0 means unknown, taken as no limit.
	MaxImmutableShareSize uint64
	// Storage is the connection to the server.
	Storage StorageServer
	// Latency is what the client has learned of the server's speed; it
	// outlives reconnections. May be nil.
	Latency *Latency
}

// NodeID is a server's raw 20-byte Foolscap tub id, the SHA-1 of its TLS
// certificate (Tahoe's nodeid): every server has one, whether it speaks
// Foolscap or only HTTPS. Lease secrets and mutable write enablers derive
// from it, and a server writes it into the mutable containers and leases
// it keeps.
type NodeID [20]byte

// Peers is the client's view of the grid: the storage servers it can use
// now. ServersFor returns them in Tahoe's permuted order for si, so that
// every client looks for a file's shares on the same servers first.
type Peers interface {
	ServersFor(si StorageIndex) []*Server
}

// Latency is what a client has learned of how fast one server answers. It
// is shared by every download and upload that uses the server, so that one
// that found the server much slower than its peers steers the others away
// from it for a while. A nil *Latency knows nothing and remembers nothing.
type Latency struct {
	mu           sync.Mutex
	typical      time.Duration // moving average of answer times
	demotedUntil time.Time
}

// Observe records how long one answer took.
func (l *Latency) Observe(d time.Duration) {
	if l == nil || d < 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.typical == 0 {
		l.typical = d
		return
	}
	l.typical += (d - l.typical) / 8
}

// Typical is the server's usual answer time (0 when unknown).
func (l *Latency) Typical() time.Duration {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.typical
}

// Demote marks the server as one to use last, for the duration d.
func (l *Latency) Demote(d time.Duration) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if until := time.Now().Add(d); until.After(l.demotedUntil) {
		l.demotedUntil = until
	}
}

// Demoted reports whether the server was found too slow recently.
func (l *Latency) Demoted() bool {
	if l == nil {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return time.Now().Before(l.demotedUntil)
}

// String names the server for messages: its nickname and the start of its
// id, as Tahoe's short names ("server \"s3\" (v0-xgru5adv)").
func (s *Server) String() string {
	id := s.ID
	if rest, ok := strings.CutPrefix(id, "v0-"); ok && len(rest) > 8 {
		id = "v0-" + rest[:8]
	}
	if s.Nickname != "" {
		return fmt.Sprintf("server %q (%s)", s.Nickname, id)
	}
	return "server " + id
}
