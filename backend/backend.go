// Package backend is the persistence under a storage server: it stores the
// bytes of share containers and knows nothing of their formats, which
// package storage owns. Implementations: backend/disk (Tahoe's on-disk
// layout, so a Tahoe storage folder is served as it is) and backend/mem (in
// memory, for tests); backend/backendtest is the suite every one passes.
//
// The interface fits object stores without ranged writes too: new objects
// are staged (Create) and become visible whole on Commit, and the in-place
// WriteAt that leases and mutable shares need may be done by
// read-modify-write.
package backend

import (
	"context"
	"errors"
	"slices"

	"github.com/lafs/lafs"
)

// ErrNotExist: no such object.
var ErrNotExist = errors.New("backend: object does not exist")

// ErrExist: Commit found a complete object already in place.
var ErrExist = errors.New("backend: object already exists")

// ErrNoSpace: the backend is out of space. Implementations wrap it (for
// disks, around ENOSPC/EDQUOT) so that callers can answer "no space".
var ErrNoSpace = errors.New("backend: no space left")

// ErrCorrupt: an object (or record) is not what the backend stored: it
// fails the backend's own integrity check, as a sealed object altered in
// an object store does. Retrying does not help, unlike a transient
// failure of the store.
var ErrCorrupt = errors.New("backend: object corrupt or altered")

// Key names one share container: a storage index and a share number.
type Key struct {
	SI    lafs.StorageIndex
	Share lafs.ShareNum
}

// Backend stores share containers. Every method may be called concurrently;
// callers serialize writes to the same key.
type Backend interface {
	// List returns the share numbers with a committed object under si,
	// in ascending order (empty when none).
	List(ctx context.Context, si lafs.StorageIndex) ([]lafs.ShareNum, error)
	// Size returns the size of a committed object, or ErrNotExist.
	Size(ctx context.Context, k Key) (int64, error)
	// ReadAt reads into p from offset off of a committed object, as
	// io.ReaderAt does: n < len(p) only at the end (with io.EOF).
	ReadAt(ctx context.Context, k Key, p []byte, off int64) (n int, err error)
	// WriteAt writes p at off of a committed object in place, extending it
	// if needed; a gap left by extending reads as zeros. It need not be
	// atomic with respect to crashes, nor durable before Sync.
	WriteAt(ctx context.Context, k Key, p []byte, off int64) error
	// Truncate sets a committed object's size; durable after Sync.
	Truncate(ctx context.Context, k Key, size int64) error
	// Sync makes the WriteAt and Truncate calls made so far to a
	// committed object durable (ErrNotExist if there is none), so that
	// several writes cost one flush. A disk that filled up may be
	// reported here.
	Sync(ctx context.Context, k Key) error
	// Create stages a new object of up to size bytes. It is invisible to
	// List, Size and ReadAt until Commit; a crash before Commit leaves no
	// trace that Open of the backend does not clean away.
	Create(ctx context.Context, k Key, size int64) (Staged, error)
	// Delete removes a committed object (ErrNotExist if none).
	Delete(ctx context.Context, k Key) error
	// Available returns the bytes that can still be stored.
	Available(ctx context.Context) (uint64, error)
	// Walk calls f once for every storage index that has committed
	// objects, for crawlers (lease expiry, statistics). It lists exactly
	// what List would: a staged object (created, not yet committed) never
	// makes its storage index appear, so a crawler never touches an upload
	// in progress. Objects committed or deleted during the walk may or may
	// not be seen. f may call the backend. Walk stops at the first error
	// f returns, or once ctx is done, and returns that error.
	Walk(ctx context.Context, f func(si lafs.StorageIndex) error) error
}

// PrefixWalker is an optional interface of a Backend that can list the
// storage indexes of one prefix without walking the rest, as a disk lists
// one of Tahoe's prefix folders (shares/<prefix>/). A crawler that finds
// it walks the backend prefix by prefix, holding one prefix's storage
// indexes at a time instead of all of them.
type PrefixWalker interface {
	// WalkPrefix is Walk restricted to the storage indexes whose prefix
	// (see Prefix) is prefix, with the same guarantees: only committed
	// objects count, never staged ones; f may call the backend; it stops
	// at the first error of f or once ctx is done. The order is
	// unspecified. Over all the NumPrefixes prefixes it lists what Walk
	// does. A prefix that Prefixes does not list is an error.
	WalkPrefix(ctx context.Context, prefix string, f func(si lafs.StorageIndex) error) error
}

// Discarder is an optional interface of a Backend that keeps in-place
// changes (WriteAt, Truncate) apart until Sync, as an object store's
// backend does in memory. A caller whose series of changes failed part
// way calls Discard, so that neither reads nor a later Sync see the
// changes made to k since its last Sync. (A disk backend writes in place
// at once, and has nothing to discard.)
type Discarder interface {
	Discard(k Key)
}

// NumPrefixes is how many prefixes there are: the values of the first 10
// bits of a storage index.
const NumPrefixes = 1 << 10

// Prefix returns the prefix of si: the first two characters of its base32
// name, which encode its first 10 bits, as Tahoe names its prefix folders
// (shares/<prefix>/<si>).
func Prefix(si lafs.StorageIndex) string { return lafs.Base32(si[:2])[:2] }

// prefixes are all the prefixes, sorted as strings.
var prefixes = func() []string {
	out := make([]string, NumPrefixes)
	for i := range out {
		v := uint16(i) << 6
		out[i] = Prefix(lafs.StorageIndex{byte(v >> 8), byte(v)})
	}
	slices.Sort(out)
	return out
}()

// Prefixes returns the NumPrefixes prefixes, sorted as strings (Tahoe's
// crawlers take them in that order). The slice is the caller's.
func Prefixes() []string { return slices.Clone(prefixes) }

// IsPrefix reports whether p is a prefix: two characters of Tahoe's
// lower-case base32 alphabet.
func IsPrefix(p string) bool {
	_, found := slices.BinarySearch(prefixes, p)
	return found
}

// Staged is a new object being written.
type Staged interface {
	// WriteAt writes p at off within the staged object.
	WriteAt(p []byte, off int64) error
	// Commit makes the object durable and visible, whole, under its key;
	// ErrExist if a committed object is already there (it is kept).
	Commit(ctx context.Context) error
	// Abort discards the staged object.
	Abort() error
}
