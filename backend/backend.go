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

	"github.com/lafs/lafs"
)

// ErrNotExist: no such object.
var ErrNotExist = errors.New("backend: object does not exist")

// ErrExist: Commit found a complete object already in place.
var ErrExist = errors.New("backend: object already exists")

// ErrNoSpace: the backend is out of space. Implementations wrap it (for
// disks, around ENOSPC/EDQUOT) so that callers can answer "no space".
var ErrNoSpace = errors.New("backend: no space left")

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
	// Walk calls f for every storage index that has committed objects,
	// for crawlers (lease expiry, statistics).
	Walk(ctx context.Context, f func(si lafs.StorageIndex) error) error
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
