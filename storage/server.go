package storage

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/backend"
)

// Config configures a Server. The zero value is usable: no reserved
// space, Tahoe's limits, the system clock and no logging.
type Config struct {
	// NodeID is the node's 20-byte Foolscap tubid. Tahoe writes it into
	// every mutable container (as the write enabler's nodeid) and every
	// mutable lease, and clients derive lease secrets and write enablers
	// from it.
	NodeID lafs.NodeID
	// ReservedSpace is kept free: immutable allocations and new leases
	// may not eat into it (Tahoe's [storage]reserved_space).
	ReservedSpace uint64
	// ReadOnly accepts no new immutable shares and no mutable writes, and
	// announces no available space ([storage]readonly).
	ReadOnly bool
	// MaxImmutableShareSize caps allocations. Zero means Tahoe's rule:
	// the available space is the limit.
	MaxImmutableShareSize uint64
	// MaxMutableShareSize caps mutable share data; zero means
	// DefaultMaxMutableShareSize.
	MaxMutableShareSize uint64
	// ApplicationVersion is announced by Version; nil means "lafs".
	ApplicationVersion []byte
	// Now is the clock (lease expirations, upload timeouts, advisory
	// names); nil means time.Now.
	Now func() time.Time
	// AdvisoryDir is where corruption advisories are written, one file
	// each, as Tahoe writes storage/corruption-advisories/. Empty means
	// advisories are only logged.
	AdvisoryDir string
	// Logger receives the server's log; nil discards it.
	Logger *slog.Logger
	// VerifyShare, when set, checks a share a corruption advisory names,
	// in the background; one that fails is taken out of service
	// (quarantine.go). Without it advisories are only recorded.
	VerifyShare ShareVerifier
	// QuarantineDir is where the containers of shares taken out of
	// service are kept for inspection, as <si>/<shnum>.<time>; empty
	// keeps none (Quarantined lists them either way).
	QuarantineDir string
	// QuarantineMaxBytes caps what QuarantineDir holds: past it the
	// oldest containers are deleted. Zero means
	// DefaultQuarantineMaxBytes; negative keeps none.
	QuarantineMaxBytes int64
	// QuarantineMaxAge is how long a container stays in QuarantineDir;
	// zero means DefaultQuarantineMaxAge.
	QuarantineMaxAge time.Duration
	// Crawl configures the crawler and lease expirer that Crawl runs.
	Crawl CrawlConfig
	// Leases, when set, keeps the leases outside the containers (see
	// LeaseStore), as a server on an object store must; nil keeps them
	// inside, in Tahoe's format.
	Leases LeaseStore
}

// uploadTimeout is how long an upload may sit without a write before it is
// aborted (BucketWriter's 30-minute timer).
const uploadTimeout = 30 * time.Minute

// Server is a storage server over a backend: it implements
// lafs.StorageServer. All methods are safe for concurrent use.
type Server struct {
	b      backend.Backend
	cfg    Config
	now    func() time.Time
	log    *slog.Logger
	appVer []byte

	locks siLocks // serialize the operations on one storage index

	mu       sync.Mutex
	uploads  map[backend.Key]*upload  // immutable uploads in progress
	promised uint64                   // sum of their allocated sizes
	corrupt  map[backend.Key]struct{} // the shares found corrupt (corruptErr)

	quarantined []QuarantinedShare // the latest, guarded by mu
	checks      checkQueue         // advisory checks (advise.go)
	qdir        quarantineDir      // what QuarantineDir holds (quarantine_dir.go)
	crawl       *crawler
	crawlCounts crawlCounts
	counters    counters // Tahoe's counts and latencies (counters.go)
}

var _ lafs.StorageServer = (*Server)(nil)

// New returns a server storing shares in b.
func New(b backend.Backend, cfg Config) (*Server, error) {
	if b == nil {
		return nil, errors.New("storage: nil backend")
	}
	s := &Server{
		b: b, cfg: cfg, now: cfg.Now, log: cfg.Logger,
		uploads: make(map[backend.Key]*upload),
		corrupt: make(map[backend.Key]struct{}),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.cfg.MaxMutableShareSize == 0 {
		s.cfg.MaxMutableShareSize = DefaultMaxMutableShareSize
	}
	s.appVer = []byte("lafs")
	if cfg.ApplicationVersion != nil {
		s.appVer = append([]byte(nil), cfg.ApplicationVersion...)
	}
	if cfg.AdvisoryDir != "" {
		if err := os.MkdirAll(cfg.AdvisoryDir, 0o700); err != nil {
			return nil, fmt.Errorf("storage: corruption advisory folder: %w", err)
		}
	}
	if s.cfg.QuarantineMaxBytes == 0 {
		s.cfg.QuarantineMaxBytes = DefaultQuarantineMaxBytes
	}
	if s.cfg.QuarantineMaxAge <= 0 {
		s.cfg.QuarantineMaxAge = DefaultQuarantineMaxAge
	}
	s.checks.init()
	if cfg.QuarantineDir != "" {
		if err := os.MkdirAll(cfg.QuarantineDir, 0o700); err != nil {
			return nil, fmt.Errorf("storage: quarantine folder: %w", err)
		}
		if err := s.loadQuarantine(); err != nil {
			return nil, err
		}
	}
	var err error
	if s.crawl, err = newCrawler(s, cfg.Crawl); err != nil {
		return nil, err
	}
	return s, nil
}

// Status is the state of a storage server, for its status page.
type Status struct {
	// ReservedSpace is kept free ([storage]reserved_space).
	ReservedSpace uint64
	// AvailableSpace is what new shares may take: the backend's room
	// less the reserved space (and the quarantine's copies the backend
	// does not see), 0 when read-only (Tahoe's disk_avail).
	AvailableSpace uint64
	// Allocated is what uploads in progress were promised.
	Allocated uint64
	// ReadOnly says no new shares are accepted.
	ReadOnly bool
	// Buckets and Shares are the storage indexes and shares held, as the
	// last finished crawl cycle counted them; -1 before one finished.
	Buckets, Shares int64
	Stats           Stats
	// Quarantine is what the checks of corruption advisories took out
	// of service, and what they have yet to check.
	Quarantine QuarantineStatus
	Crawler    CrawlerStatus
}

// Status returns the server's state: space, counts, and what the crawler
// is doing and found.
func (s *Server) Status(ctx context.Context) (Status, error) {
	avail, err := s.availableSpace(ctx)
	if err != nil {
		return Status{}, err
	}
	s.mu.Lock()
	promised := s.promised
	s.mu.Unlock()
	st := Status{
		ReservedSpace:  s.cfg.ReservedSpace,
		AvailableSpace: avail,
		Allocated:      promised,
		ReadOnly:       s.cfg.ReadOnly,
		Buckets:        -1,
		Shares:         -1,
		Stats:          s.Stats(),
		Quarantine:     s.quarantineStatus(),
		Crawler:        s.crawl.status(),
	}
	if last, ok := st.Crawler.LastCycle(); ok {
		st.Buckets, st.Shares = last.Counts.Examined.All.Buckets, last.Counts.Examined.All.Shares
		// What the cycle deleted is no longer held.
		st.Buckets -= last.Counts.Actual.All.Buckets
		st.Shares -= last.Counts.Actual.All.Shares
	}
	return st, nil
}

// Close aborts every upload in progress, as Tahoe does when its storage
// service stops, and stops the checks of corruption advisories, waiting
// for the one under way. The server stays usable, but advisories are
// only recorded from then on.
func (s *Server) Close() error {
	s.checks.stop()
	s.qdir.stopTimer()
	s.mu.Lock()
	ups := make([]*upload, 0, len(s.uploads))
	for _, u := range s.uploads {
		ups = append(ups, u)
	}
	s.mu.Unlock()
	var errs []error
	for _, u := range ups {
		u.mu.Lock()
		errs = append(errs, s.dropUpload(u))
		u.mu.Unlock()
	}
	return errors.Join(errs...)
}

// availableSpace is Tahoe's get_available_space: nothing when read-only,
// else what the backend has less the reserved space.
func (s *Server) availableSpace(ctx context.Context) (uint64, error) {
	if s.cfg.ReadOnly {
		return 0, nil
	}
	avail, err := s.b.Available(ctx)
	if err != nil {
		return 0, s.backendErrf(err, "measuring the available space")
	}
	// The quarantine's copies that the backend does not see count as
	// used (see quarantineDir).
	used := s.cfg.ReservedSpace + s.qdir.unseenBytes()
	if avail < used {
		return 0, nil
	}
	return avail - used, nil
}

// maxImmutable is the largest allocation accepted given avail.
func (s *Server) maxImmutable(avail uint64) uint64 {
	if m := s.cfg.MaxImmutableShareSize; m != 0 && m < avail {
		return m
	}
	return avail
}

// Version implements lafs.StorageServer. Like Tahoe it announces the
// available space (0 when read-only) as the largest immutable share too.
func (s *Server) Version(ctx context.Context) (lafs.ServerVersion, error) {
	if err := ctx.Err(); err != nil {
		return lafs.ServerVersion{}, err
	}
	avail, err := s.availableSpace(ctx)
	if err != nil {
		return lafs.ServerVersion{}, err
	}
	return lafs.ServerVersion{
		MaximumImmutableShareSize: s.maxImmutable(avail),
		MaximumMutableShareSize:   s.cfg.MaxMutableShareSize,
		AvailableSpace:            avail,
		ApplicationVersion:        append([]byte(nil), s.appVer...),
	}, nil
}

// shareKind is what a committed object under a storage index holds.
type shareKind int

const (
	kindNone      shareKind = iota // no object
	kindImmutable                  // an immutable container
	kindMutable                    // a mutable container
	// kindCorrupt is a file under a share's name that is no container:
	// too short for a header, or beginning with neither kind's. Tahoe
	// writes nothing else there, so it is a container of unknown kind,
	// corrupted, or one of a version this server does not know
	// (errFutureContainer).
	kindCorrupt
)

// errFutureContainer marks a file under a share's name that begins as a
// container of a version this server does not know would: an immutable
// version up to 255, or a mutable magic naming another version. It may be
// a later Tahoe's, so it is never taken out of service (quarantine.go),
// though it cannot be served.
var errFutureContainer = errors.New("container of a version this server does not know")

// futureHead reports whether head, no container this server reads, looks
// like one of another version (errFutureContainer).
func futureHead(head []byte) bool {
	const mutablePrefix = "Tahoe mutable container v"
	if len(head) >= len(mutablePrefix) && string(head[:len(mutablePrefix)]) == mutablePrefix {
		digits := head[len(mutablePrefix):]
		n := 0
		for n < len(digits) && n < 4 && digits[n] >= '0' && digits[n] <= '9' {
			n++
		}
		return n > 0 && n < len(digits) && digits[n] == '\n' && string(digits[:n]) != "1" && string(digits[:n]) != "2"
	}
	if len(head) < 4 {
		return false
	}
	v := binary.BigEndian.Uint32(head)
	return v > ImmutableV2 && v <= 255
}

// kindOfHead tells a container's kind from its first bytes (up to
// mutableMagicSize of them): a mutable container's magic, else an
// immutable container's version. For kindCorrupt the error (wrapping
// ErrCorrupt) says what is wrong.
func kindOfHead(head []byte) (shareKind, error) {
	if MutableVersion(head) != 0 {
		return kindMutable, nil
	}
	if len(head) < ImmutableHeaderSize {
		return kindCorrupt, fmt.Errorf("%w: the file holds %d bytes, too few for any container header", ErrCorrupt, len(head))
	}
	if _, err := ParseImmutableHeader(head); err != nil {
		if futureHead(head) {
			return kindCorrupt, fmt.Errorf("%w: %w: the file begins as a container of another version", ErrCorrupt, errFutureContainer)
		}
		return kindCorrupt, fmt.Errorf("%w: neither a mutable container's magic nor an immutable container's version (1 or 2) begins the file", ErrCorrupt)
	}
	return kindImmutable, nil
}

// shareKindOf reads enough of a committed object to tell its kind. A
// kindCorrupt object comes with the error that says why (counted, see
// corruptErr); callers that pass over corrupt shares look at the kind
// before the error.
func (s *Server) shareKindOf(ctx context.Context, k backend.Key) (shareKind, error) {
	var head [mutableMagicSize]byte
	n, err := s.b.ReadAt(ctx, k, head[:], 0)
	switch {
	case errors.Is(err, backend.ErrNotExist):
		return kindNone, nil
	case err != nil && !errors.Is(err, io.EOF):
		return kindNone, s.backendErrf(err, "reading %s", shareName(kindNone, k))
	}
	kind, why := kindOfHead(head[:n])
	if why != nil {
		return kind, s.corruptErr(kindNone, k, why)
	}
	return kind, nil
}

// sharesOfKind lists the committed shares of si of one kind, sorted. A
// file of neither kind is in neither list; a container of the kind is
// listed whatever its state past the first bytes (reading it tells).
func (s *Server) sharesOfKind(ctx context.Context, si lafs.StorageIndex, want shareKind) ([]lafs.ShareNum, error) {
	all, err := s.b.List(ctx, si)
	if err != nil {
		return nil, s.backendErrf(err, "listing the shares of storage index %v", si)
	}
	out := []lafs.ShareNum{}
	for _, sh := range all {
		kind, err := s.shareKindOf(ctx, backend.Key{SI: si, Share: sh})
		if kind == kindCorrupt {
			continue
		}
		if err != nil {
			return nil, err
		}
		if kind == want {
			out = append(out, sh)
		}
	}
	return out, nil
}

// readFull reads len(p) bytes at off of a committed object of the given
// kind; a short read means the container is truncated.
func (s *Server) readFull(ctx context.Context, kind shareKind, k backend.Key, p []byte, off int64) error {
	return s.readFullFrom(ctx, s.b, kind, k, p, off)
}

// readFullFrom is readFull from backend b.
func (s *Server) readFullFrom(ctx context.Context, b shareBytes, kind shareKind, k backend.Key, p []byte, off int64) error {
	n, err := b.ReadAt(ctx, k, p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		return s.corruptErr(kind, k, fmt.Errorf("%w: the file ends before byte %d", ErrCorrupt, off+int64(len(p))))
	}
	return s.backendErrf(err, "reading %s", shareName(kind, k))
}

// readClamped reads up to length bytes at offset of the region
// [start, end) of an object of the given kind: fewer at its end, none
// past it.
func (s *Server) readClamped(ctx context.Context, kind shareKind, k backend.Key, start, end int64, offset, length uint64) ([]byte, error) {
	return s.readClampedFrom(ctx, s.b, kind, k, start, end, offset, length)
}

// readClampedFrom is readClamped from backend b.
func (s *Server) readClampedFrom(ctx context.Context, b shareBytes, kind shareKind, k backend.Key, start, end int64, offset, length uint64) ([]byte, error) {
	size := uint64(end - start)
	if offset >= size || length == 0 {
		return []byte{}, nil
	}
	n := min(length, size-offset)
	p := make([]byte, n)
	if err := s.readFullFrom(ctx, b, kind, k, p, start+int64(offset)); err != nil {
		return nil, err
	}
	return p, nil
}

// validShare rejects share numbers no file can have (N is at most 256).
func validShare(sh lafs.ShareNum) error {
	if int(sh) >= lafs.MaxShares {
		return fmt.Errorf("%w: share number %d (at most %d)", lafs.ErrBadRequest, sh, lafs.MaxShares-1)
	}
	return nil
}

// addClamp returns a+b, saturated at math.MaxInt64, for offsets that are
// compared with object sizes.
func addClamp(a, b uint64) uint64 {
	if a > math.MaxInt64 || b > math.MaxInt64-a {
		return math.MaxInt64
	}
	return a + b
}

// siLocks is a keyed read-write mutex: one lock per storage index, made on
// demand and dropped when unused.
type siLocks struct {
	mu sync.Mutex
	m  map[lafs.StorageIndex]*siLock
}

type siLock struct {
	sync.RWMutex
	refs int
	// writes counts the times the lock was taken for writing, so that
	// a reader that let go of it in between can tell whether anything
	// may have changed (the advisory checks, quarantine.go).
	writes atomic.Uint64
}

func (l *siLocks) get(si lafs.StorageIndex) *siLock {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = make(map[lafs.StorageIndex]*siLock)
	}
	k := l.m[si]
	if k == nil {
		k = new(siLock)
		l.m[si] = k
	}
	k.refs++
	return k
}

func (l *siLocks) put(si lafs.StorageIndex, k *siLock) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if k.refs--; k.refs == 0 {
		delete(l.m, si)
	}
}

// lock takes si's lock for writing; call the result to release it.
func (l *siLocks) lock(si lafs.StorageIndex) func() {
	k := l.get(si)
	k.Lock()
	k.writes.Add(1)
	return func() { k.Unlock(); l.put(si, k) }
}

// rlock takes si's lock for reading; call the result to release it.
func (l *siLocks) rlock(si lafs.StorageIndex) func() {
	k := l.get(si)
	k.RLock()
	return func() { k.RUnlock(); l.put(si, k) }
}
