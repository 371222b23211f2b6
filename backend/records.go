package backend

import (
	"context"
	"io"
)

// RecordStore is an optional interface of a Backend that keeps small named
// records beside the share containers, in the same store, so that they
// survive the loss of the node's local state with the shares. A lease
// store (package leasedb) keeps the leases of an object store's shares
// there.
//
// Names are non-empty, slash-separated paths of the characters
// [a-z0-9._-] (for example "leases/<si>/<shnum>"); a name is never the
// prefix of another name followed by a slash. Records are small (at most
// MaxRecordSize bytes) and are written whole: a Put replaces the previous
// record at once, never leaving a mixture of the two.
type RecordStore interface {
	// PutRecord stores data under name, replacing any record there;
	// durable when it returns.
	PutRecord(ctx context.Context, name string, data []byte) error
	// GetRecord returns the record stored under name, or ErrNotExist.
	GetRecord(ctx context.Context, name string) ([]byte, error)
	// DeleteRecord removes the record under name; no error if none.
	DeleteRecord(ctx context.Context, name string) error
	// WalkRecords calls f with the name of every record whose name
	// begins with prefix ("" for all), in ascending order of name.
	// Records put or deleted during the walk may or may not be seen. f
	// may call the store. It stops at the first error of f, or once ctx
	// is done, and returns that error.
	WalkRecords(ctx context.Context, prefix string, f func(name string) error) error
}

// MaxRecordSize is the largest record a RecordStore must accept.
const MaxRecordSize = 1 << 20

// ValidRecordName reports whether name is a valid record name: non-empty
// segments of [a-z0-9._-], separated by single slashes, with no segment
// "." or "..", at most 512 bytes in all.
func ValidRecordName(name string) bool {
	if name == "" || len(name) > 512 {
		return false
	}
	seg := 0
	for i := 0; i <= len(name); i++ {
		if i == len(name) || name[i] == '/' {
			s := name[seg:i]
			if s == "" || s == "." || s == ".." {
				return false
			}
			seg = i + 1
			continue
		}
		c := name[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// ReaderAt returns an io.ReaderAt over the committed object k of b,
// whose reads carry ctx, for code that reads objects as files (the share
// tools, Migrate).
func ReaderAt(ctx context.Context, b Backend, k Key) io.ReaderAt {
	return objectReader{ctx, b, k}
}

type objectReader struct {
	ctx context.Context
	b   Backend
	k   Key
}

func (r objectReader) ReadAt(p []byte, off int64) (int, error) { return r.b.ReadAt(r.ctx, r.k, p, off) }
