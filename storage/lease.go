package storage

import (
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"time"

	"golang.org/x/crypto/blake2b"

	"github.com/lafs/lafs"
)

// Lease record sizes, as storage/lease.py packs them: ">L32s32sL" in an
// immutable container, ">LL32s32s20s" in a mutable one.
const (
	ImmutableLeaseSize = 72
	MutableLeaseSize   = 92
)

// LeaseDuration is how long a lease lasts from its last renewal: Tahoe's
// DEFAULT_RENEWAL_TIME, fixed at 31 days.
const LeaseDuration = 31 * 24 * time.Hour

// Lease owner numbers as Tahoe writes them. In a mutable container owner 0
// marks an empty slot; in an immutable one it is the lease made at upload.
const (
	OwnerUpload = 0 // leases written by allocate (immutable)
	OwnerClient = 1 // leases added by add_lease and mutable writes
)

// Lease is one lease record as stored in a container. In version 2
// containers the secrets are stored as BLAKE2b-256 digests of the secrets
// the client presented; in version 1 containers they are stored as given.
type Lease struct {
	Owner        uint32
	RenewSecret  [32]byte
	CancelSecret [32]byte
	// Expiration is in seconds since the Unix epoch.
	Expiration uint32
	// NodeID is the id of the server that accepted the lease; only mutable
	// containers record it.
	NodeID lafs.NodeID
}

// HashLeaseSecret is how version 2 containers store a lease secret:
// unkeyed BLAKE2b with a 32-byte digest (lease_schema.py).
func HashLeaseSecret(s lafs.Secret) [32]byte {
	return blake2b.Sum256(s[:])
}

// newLease builds the lease record for the given secrets as a container of
// the given schema stores it (hashed reports a version 2 container).
func newLease(owner uint32, secrets lafs.LeaseSecrets, expiration uint32, nodeID lafs.NodeID, hashed bool) Lease {
	l := Lease{Owner: owner, Expiration: expiration, NodeID: nodeID}
	if hashed {
		l.RenewSecret = HashLeaseSecret(secrets.Renew)
		l.CancelSecret = HashLeaseSecret(secrets.Cancel)
	} else {
		l.RenewSecret = secrets.Renew
		l.CancelSecret = secrets.Cancel
	}
	return l
}

// HasRenewSecret reports, in constant time, whether secret is this lease's
// renew secret; hashed says the lease is stored hashed (version 2).
func (l Lease) HasRenewSecret(secret lafs.Secret, hashed bool) bool {
	cand := [32]byte(secret)
	if hashed {
		cand = HashLeaseSecret(secret)
	}
	return subtle.ConstantTimeCompare(cand[:], l.RenewSecret[:]) == 1
}

// ExpiresAt returns the lease's expiration time.
func (l Lease) ExpiresAt() time.Time { return time.Unix(int64(l.Expiration), 0) }

// ParseImmutableLease decodes a 72-byte immutable lease record. NodeID is
// left zero: immutable containers do not record it.
func ParseImmutableLease(b []byte) (Lease, error) {
	if len(b) != ImmutableLeaseSize {
		return Lease{}, fmt.Errorf("%w: immutable lease of %d bytes", ErrCorrupt, len(b))
	}
	var l Lease
	l.Owner = binary.BigEndian.Uint32(b[0:])
	copy(l.RenewSecret[:], b[4:36])
	copy(l.CancelSecret[:], b[36:68])
	l.Expiration = binary.BigEndian.Uint32(b[68:])
	return l, nil
}

// AppendImmutable appends the 72-byte immutable form of the lease to dst.
func (l Lease) AppendImmutable(dst []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, l.Owner)
	dst = append(dst, l.RenewSecret[:]...)
	dst = append(dst, l.CancelSecret[:]...)
	return binary.BigEndian.AppendUint32(dst, l.Expiration)
}

// ParseMutableLease decodes a 92-byte mutable lease record. A record whose
// Owner is 0 is an empty slot.
func ParseMutableLease(b []byte) (Lease, error) {
	if len(b) != MutableLeaseSize {
		return Lease{}, fmt.Errorf("%w: mutable lease of %d bytes", ErrCorrupt, len(b))
	}
	var l Lease
	l.Owner = binary.BigEndian.Uint32(b[0:])
	l.Expiration = binary.BigEndian.Uint32(b[4:])
	copy(l.RenewSecret[:], b[8:40])
	copy(l.CancelSecret[:], b[40:72])
	copy(l.NodeID[:], b[72:92])
	return l, nil
}

// AppendMutable appends the 92-byte mutable form of the lease to dst.
func (l Lease) AppendMutable(dst []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, l.Owner)
	dst = binary.BigEndian.AppendUint32(dst, l.Expiration)
	dst = append(dst, l.RenewSecret[:]...)
	dst = append(dst, l.CancelSecret[:]...)
	return append(dst, l.NodeID[:]...)
}

// expirationFrom returns now + LeaseDuration in Unix seconds, clamped to
// what the 4-byte field holds.
func expirationFrom(now time.Time) uint32 {
	e := now.Add(LeaseDuration).Unix()
	switch {
	case e < 0:
		return 0
	case e > int64(^uint32(0)):
		return ^uint32(0)
	}
	return uint32(e)
}
