package storage

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/backend"
)

// LeaseStore keeps the leases of shares outside their containers. A
// server on a local disk needs none: it keeps Tahoe's leases inside the
// containers, as Tahoe does, and a Tahoe storage folder is served as it
// is. A server on an object store, where renewing a lease in place would
// mean rewriting the whole share, keeps them in a LeaseStore (package
// leasedb: records in the bucket beside the shares, indexed in a local
// SQLite database). Config.Leases chooses.
//
// With a LeaseStore, containers are written with no lease inside them
// (an immutable container with a lease count of 0, a mutable one with
// four empty slots and no extra leases), and any lease found inside a
// container is ignored. The server calls the store with the storage index
// locked, so calls for one share never overlap.
type LeaseStore interface {
	// Leases returns the leases of share k, or none (and no error) if
	// it has no record.
	Leases(ctx context.Context, k backend.Key) ([]Lease, error)
	// SetLeases replaces the leases of share k with leases, and records
	// what the share is for accounting. It is durable when it returns.
	// An empty leases still keeps a record of the share.
	SetLeases(ctx context.Context, k backend.Key, info ShareInfo, leases []Lease) error
	// DeleteLeases removes the record of share k, when the share is
	// deleted; no error if there is none.
	DeleteLeases(ctx context.Context, k backend.Key) error
}

// ErrLeasesUnknown is wrapped by the errors of a LeaseStore whose record
// of a share cannot be read (altered, or unparsable): the share's leases
// are unknown, so the expirer passes the share over, and an upload of it
// takes it as held.
var ErrLeasesUnknown = errors.New("the share's leases cannot be read")

// StoredLeaseReader is an optional interface of a LeaseStore that answers
// Leases from an index kept beside the records: StoredLeases reads the
// record itself. The lease expirer asks it before acting on an expiry the
// index reports, so that an index behind its records (another copy of the
// node renewed a lease) never gets a share deleted.
type StoredLeaseReader interface {
	StoredLeases(ctx context.Context, k backend.Key) ([]Lease, error)
}

// errLeaseLimit: a share has the most leases a LeaseStore record holds.
var errLeaseLimit = errors.New("the most leases a share may hold")

// ShareInfo is what a LeaseStore records of a share besides its leases.
type ShareInfo struct {
	Mutable bool
	// Size is the size of the share's container in bytes.
	Size int64
}

// AppendLeaseRecord appends the encoding of a share's record in a
// LeaseStore: a version byte (1), a kind byte (0 immutable, 1 mutable),
// the container size (8 bytes, big-endian), the lease count (4 bytes),
// then each lease as a mutable container stores it (92 bytes: owner,
// expiration, renew and cancel secrets, node ID).
func AppendLeaseRecord(b []byte, info ShareInfo, leases []Lease) []byte {
	b = append(b, 1, 0)
	if info.Mutable {
		b[len(b)-1] = 1
	}
	b = appendUint64(b, uint64(info.Size))
	b = appendUint32(b, uint32(len(leases)))
	for _, l := range leases {
		b = l.AppendMutable(b)
	}
	return b
}

// ParseLeaseRecord decodes what AppendLeaseRecord encodes.
func ParseLeaseRecord(b []byte) (ShareInfo, []Lease, error) {
	const head = 1 + 1 + 8 + 4
	if len(b) < head {
		return ShareInfo{}, nil, fmt.Errorf("lease record: %d bytes, too short", len(b))
	}
	if b[0] != 1 {
		return ShareInfo{}, nil, fmt.Errorf("lease record: unknown version %d", b[0])
	}
	if b[1] > 1 {
		return ShareInfo{}, nil, fmt.Errorf("lease record: unknown share kind %d", b[1])
	}
	info := ShareInfo{Mutable: b[1] == 1, Size: int64(beUint64(b[2:10]))}
	if info.Size < 0 {
		return ShareInfo{}, nil, fmt.Errorf("lease record: negative size")
	}
	n := uint64(beUint32(b[10:14]))
	if uint64(len(b)-head) != n*MutableLeaseSize {
		return ShareInfo{}, nil, fmt.Errorf("lease record: %d bytes for %d leases", len(b)-head, n)
	}
	leases := make([]Lease, 0, n)
	for i := uint64(0); i < n; i++ {
		off := head + i*MutableLeaseSize
		l, err := ParseMutableLease(b[off : off+MutableLeaseSize])
		if err != nil {
			return ShareInfo{}, nil, fmt.Errorf("lease record: %w", err)
		}
		leases = append(leases, l)
	}
	return info, leases, nil
}

func appendUint64(b []byte, v uint64) []byte {
	return append(b, byte(v>>56), byte(v>>48), byte(v>>40), byte(v>>32), byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

func appendUint32(b []byte, v uint32) []byte {
	return append(b, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

func beUint64(b []byte) uint64 {
	return uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 |
		uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7])
}

func beUint32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// maxStoredLeases is the most leases a LeaseStore record holds for one
// share: every renewal rewrites the share's whole record (92 bytes a
// lease), so it is kept small, well under backend.MaxRecordSize.
const maxStoredLeases = 1000

// leasesOutside reports whether the server keeps leases in a LeaseStore.
func (s *Server) leasesOutside() bool { return s.cfg.Leases != nil }

// addOrRenewStored is add_or_renew_lease over the LeaseStore: the lease of
// share k whose renew secret matches l's is renewed (only ever extended),
// else l is added. l is as newLease makes it for a hashed container. size
// is the share's container size; the caller holds k.SI's lock.
func (s *Server) addOrRenewStored(ctx context.Context, k backend.Key, kind shareKind, size int64, l Lease) error {
	leases, err := s.cfg.Leases.Leases(ctx, k)
	if err != nil {
		return s.backendErrf(err, "reading the leases of %s", shareName(kind, k))
	}
	leases = withLease(leases, l)
	if len(leases) > maxStoredLeases {
		return fmt.Errorf("%w: %w: %s has %d", lafs.ErrNotAllowed, errLeaseLimit, shareName(kind, k), maxStoredLeases)
	}
	return s.setStored(ctx, k, kind, size, leases)
}

// withLease returns leases with l renewed in it or added to it: a lease
// with l's (hashed) renew secret takes l's expiration if later, and the
// owner and node ID of l.
func withLease(leases []Lease, l Lease) []Lease {
	for i, old := range leases {
		if subtle.ConstantTimeCompare(old.RenewSecret[:], l.RenewSecret[:]) == 1 {
			if l.Expiration > old.Expiration {
				leases[i].Expiration = l.Expiration
			}
			leases[i].NodeID = l.NodeID
			return leases
		}
	}
	return append(leases, l)
}

// setStored replaces share k's leases in the LeaseStore.
func (s *Server) setStored(ctx context.Context, k backend.Key, kind shareKind, size int64, leases []Lease) error {
	info := ShareInfo{Mutable: kind == kindMutable, Size: size}
	return s.backendErrf(s.cfg.Leases.SetLeases(ctx, k, info, leases), "recording the leases of %s", shareName(kind, k))
}

// forgetStored removes share k's record from the LeaseStore, if the
// server has one, once the share itself is gone. A failure is logged, not
// returned: the share is gone, and a record left behind is an orphan that
// the next rebuild of the lease index removes.
func (s *Server) forgetStored(ctx context.Context, k backend.Key) {
	if !s.leasesOutside() {
		return
	}
	if err := s.cfg.Leases.DeleteLeases(context.WithoutCancel(ctx), k); err != nil {
		s.log.Warn("removing the lease record of a deleted share", "si", k.SI, "share", k.Share, "err", err)
	}
}

// restoreStored puts share k's record back as it was before a change
// whose share write then failed: before, or no record if before is
// empty. A failure leaves an extra lease (or an orphan record), never a
// missing one, and is logged.
func (s *Server) restoreStored(ctx context.Context, k backend.Key, info ShareInfo, before []Lease) {
	ctx = context.WithoutCancel(ctx)
	if _, err := s.b.Size(ctx, k); err == nil {
		// The share is there after all (the commit's answer was lost,
		// or another upload's landed): its record stays.
		return
	}
	var err error
	if len(before) == 0 {
		err = s.cfg.Leases.DeleteLeases(ctx, k)
	} else {
		err = s.cfg.Leases.SetLeases(ctx, k, info, before)
	}
	if err != nil {
		s.log.Warn("putting back the lease record of a share whose write failed", "si", k.SI, "share", k.Share, "err", err)
	}
}
