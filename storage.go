package lafs

import (
	"context"
	"errors"
)

// Errors a StorageServer returns, whichever side of the wire it is on. The
// HTTP protocol maps each to one status code (storagehttp does it in one
// place), so a client sees the same error a local server would give.
var (
	// ErrNotExist: no such share, storage index or upload (404).
	ErrNotExist = errors.New("no such share")
	// ErrUnauthorized: a wrong upload secret or write enabler (401).
	ErrUnauthorized = errors.New("wrong secret")
	// ErrConflict: a write that would change bytes already written (409).
	ErrConflict = errors.New("write conflicts with data already written")
	// ErrBadRequest: a malformed request (400).
	ErrBadRequest = errors.New("bad request")
	// ErrRange: a range the server cannot satisfy, such as a write past the
	// allocated size (416).
	ErrRange = errors.New("range not satisfiable")
	// ErrNoSpace: the server ran out of space (507).
	ErrNoSpace = errors.New("not enough space on the server")
	// ErrNotAllowed: an operation the share's state forbids, such as
	// aborting a finished upload (405).
	ErrNotAllowed = errors.New("operation not allowed on this share")
	// ErrReadOnly: the server accepts no new shares or writes.
	ErrReadOnly = errors.New("server is read-only")
	// ErrCorruptContainer: the server holds a file for the share, but its
	// container is damaged (truncated, extended, or with a header that
	// makes no sense), so the share cannot be served or changed there
	// (410). The error names the share and says what is wrong; asking
	// again will not help, another server's copy might.
	ErrCorruptContainer = errors.New("share container is corrupt")
)

// Secret is a 32-byte secret presented to a storage server: a lease renew or
// cancel secret, or a mutable file's write enabler.
type Secret [32]byte

// UploadSecret is the secret that a client uploading an immutable share
// sends with each of its writes: only the holder may write, or abort, the
// share it allocated. lafs's client makes 32 random bytes; Tahoe's, 20.
type UploadSecret []byte

// LeaseSecrets are the per-server secrets that renew or cancel a lease
// (Tahoe's bucket renewal and cancel secrets).
type LeaseSecrets struct {
	Renew, Cancel Secret
}

// ServerVersion is what a storage server says of itself.
type ServerVersion struct {
	MaximumImmutableShareSize uint64
	MaximumMutableShareSize   uint64
	AvailableSpace            uint64
	ApplicationVersion        []byte
}

// AllocateResult answers an allocation: the shares the server already holds
// complete, and those it made room for and now awaits.
type AllocateResult struct {
	AlreadyHave []ShareNum
	Allocated   []ShareNum
}

// ByteRange is a half-open range [Begin, End) of a share.
type ByteRange struct {
	Begin, End uint64
}

// WriteResult answers an immutable write: Done once every byte of the
// allocated share has arrived (the share is then complete and visible), and
// otherwise the ranges still required.
type WriteResult struct {
	Done     bool
	Required []ByteRange
}

// TestVector is one test of a read-test-write: the Size bytes at Offset
// must equal Specimen (bytes past the end of a share read as absent, so a
// missing share reads as empty). Equality is the only comparison Tahoe has.
type TestVector struct {
	Offset, Size uint64
	Specimen     []byte
}

// WriteVector writes Data at Offset of a mutable share.
type WriteVector struct {
	Offset uint64
	Data   []byte
}

// TestWriteVectors are the tests and writes for one mutable share; when
// NewLength is set and shorter than the share, the share is truncated to it
// after writing (Tahoe never extends this way; a NewLength of 0 deletes the
// share).
type TestWriteVectors struct {
	Test      []TestVector
	Write     []WriteVector
	NewLength *uint64
}

// ReadVector asks for Size bytes at Offset of every share.
type ReadVector struct {
	Offset, Size uint64
}

// ReadTestWriteResult says whether every test passed (and so every write was
// applied) and holds, for every share the server had, the bytes the read
// vectors asked for, read before any write.
type ReadTestWriteResult struct {
	Success bool
	Data    map[ShareNum][][]byte
}

// StorageServer is one storage server, seen from a client: one method per
// operation of Tahoe's HTTP storage protocol (Great Black Swamp). Package
// storage implements it over a backend; storagehttp implements it over
// HTTPS and serves any implementation. Offsets address share data (what the
// client wrote), never the server's container headers.
type StorageServer interface {
	// Version describes the server and its limits.
	Version(ctx context.Context) (ServerVersion, error)

	// AllocateBuckets prepares to receive the given immutable shares of si,
	// each allocatedSize bytes, and adds a lease with the given secrets.
	// Shares already held complete are listed as AlreadyHave; shares with
	// an upload in progress under another upload secret are left out. A
	// repeated call with the same upload secret is idempotent.
	AllocateBuckets(ctx context.Context, si StorageIndex, lease LeaseSecrets, uploadSecret UploadSecret, shares []ShareNum, allocatedSize uint64) (AllocateResult, error)
	// WriteImmutable writes data at offset of a share being uploaded.
	// Rewriting bytes with the same values is allowed; different values
	// give ErrConflict. When the last byte arrives the share becomes
	// visible, complete and durable. Implementations must not keep data
	// after returning (callers reuse their buffers).
	WriteImmutable(ctx context.Context, si StorageIndex, shnum ShareNum, uploadSecret UploadSecret, offset uint64, data []byte) (WriteResult, error)
	// AbortImmutable drops an upload in progress and frees its space.
	AbortImmutable(ctx context.Context, si StorageIndex, shnum ShareNum, uploadSecret UploadSecret) error
	// ReadImmutable returns up to length bytes of a complete share's data
	// at offset: fewer at the end of the share, none past it.
	ReadImmutable(ctx context.Context, si StorageIndex, shnum ShareNum, offset, length uint64) ([]byte, error)
	// ListImmutable lists the complete immutable shares of si (none, not an
	// error, when the server has nothing for it).
	ListImmutable(ctx context.Context, si StorageIndex) ([]ShareNum, error)
	// AdviseCorruptImmutable reports that a share failed its hashes.
	AdviseCorruptImmutable(ctx context.Context, si StorageIndex, shnum ShareNum, reason string) error

	// AddOrRenewLease renews the lease whose renew secret matches, or adds
	// one, on every share of si; ErrNotExist when there is none.
	AddOrRenewLease(ctx context.Context, si StorageIndex, lease LeaseSecrets) error

	// ReadTestWrite is the one way to change mutable shares: if every test
	// of every share passes, every write is applied, atomically as seen by
	// other callers. A new share takes the write enabler; an existing one
	// must be given the same (ErrUnauthorized otherwise). Leases are added
	// or renewed on the shares written.
	ReadTestWrite(ctx context.Context, si StorageIndex, writeEnabler Secret, lease LeaseSecrets, tw map[ShareNum]TestWriteVectors, read []ReadVector) (ReadTestWriteResult, error)
	// ReadMutable returns up to length bytes of a mutable share at offset.
	ReadMutable(ctx context.Context, si StorageIndex, shnum ShareNum, offset, length uint64) ([]byte, error)
	// ListMutable lists the mutable shares of si.
	ListMutable(ctx context.Context, si StorageIndex) ([]ShareNum, error)
	// AdviseCorruptMutable reports that a mutable share failed its checks.
	AdviseCorruptMutable(ctx context.Context, si StorageIndex, shnum ShareNum, reason string) error
}
