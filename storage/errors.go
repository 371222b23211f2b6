package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"syscall"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/backend"
)

// ErrCorrupt is wrapped by the errors of the container parsers
// (ParseImmutableHeader, ParseMutableContainer and the rest) for bytes
// that are no valid container. It is lafs.ErrCorruptContainer, so that the
// server's errors about a corrupt share match the sentinel every
// lafs.StorageServer returns for one.
var ErrCorrupt = lafs.ErrCorruptContainer

// shareName names share k in errors and logs as a client knows it: by
// kind when known, number and storage index in base32, such as "immutable
// share 3 of storage index aaaa…". Never by the path of a file.
func shareName(kind shareKind, k backend.Key) string {
	prefix := ""
	switch kind {
	case kindImmutable:
		prefix = "immutable "
	case kindMutable:
		prefix = "mutable "
	}
	return fmt.Sprintf("%sshare %d of storage index %v", prefix, k.Share, k.SI)
}

// noShare is the error for a share of the given kind that the server does
// not hold.
func noShare(kind shareKind, k backend.Key) error {
	return fmt.Errorf("%w: no %s", lafs.ErrNotExist, shareName(kind, k))
}

// pathlessError is an error of the backend, or of the server's own files,
// as the server returns it: its text says what the server was doing and
// which lafs sentinel applies, but not what the backend said, which names
// files on the server's disk (and would reach clients through the HTTP
// protocol's error texts). errors.Is and errors.As still find the
// sentinel and the backend's error in its chain.
type pathlessError struct {
	msg      string
	sentinel error // a lafs sentinel, or nil
	cause    error
}

func (e *pathlessError) Error() string { return e.msg }

// Unwrap returns the lafs sentinel, if any, and the backend's error.
func (e *pathlessError) Unwrap() []error {
	if e.sentinel == nil {
		return []error{e.cause}
	}
	return []error{e.sentinel, e.cause}
}

// backendErrf turns err, met while doing what format and args say
// ("reading immutable share 3 of storage index …"), into the error the
// server returns: lafs.ErrNoSpace and lafs.ErrNotExist for the backend's
// sentinels, and a text without the backend's (see pathlessError). err
// itself, paths and all, goes to the server's log. A nil err gives nil.
func (s *Server) backendErrf(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	what := fmt.Sprintf(format, args...)
	var sentinel error
	level := slog.LevelError
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		level = slog.LevelDebug
	case errors.Is(err, backend.ErrNoSpace):
		sentinel, level = lafs.ErrNoSpace, slog.LevelWarn
	case errors.Is(err, backend.ErrNotExist):
		sentinel, level = lafs.ErrNotExist, slog.LevelDebug
	}
	s.log.Log(context.Background(), level, "storage backend error", "while", what, "err", err)
	msg := what
	if d := errDetail(err); d != "" {
		msg += ": " + d
	}
	if sentinel != nil {
		msg = sentinel.Error() + ": " + msg
	} else {
		msg = "storage: " + msg
	}
	return &pathlessError{msg: msg, sentinel: sentinel, cause: err}
}

// errDetail is what err says that names no file: the context's error, or
// the operation of an *fs.PathError and the system's error number
// ("read: input/output error"); "" when there is neither.
func errDetail(err error) string {
	switch {
	case errors.Is(err, context.Canceled):
		return context.Canceled.Error()
	case errors.Is(err, context.DeadlineExceeded):
		return context.DeadlineExceeded.Error()
	}
	var d string
	var pe *fs.PathError
	if errors.As(err, &pe) {
		d = pe.Op
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		if d != "" {
			d += ": "
		}
		d += errno.Error()
	}
	return d
}

// corruptErr returns the error for share k, whose container is corrupt as
// why (an error wrapping ErrCorrupt) says. The share is counted and
// logged the first time it is found.
func (s *Server) corruptErr(kind shareKind, k backend.Key, why error) error {
	name := shareName(kind, k)
	s.mu.Lock()
	_, seen := s.corrupt[k]
	if !seen {
		s.corrupt[k] = struct{}{}
	}
	s.mu.Unlock()
	if !seen {
		s.log.Error("corrupt share container", "share", name, "why", why)
	}
	return fmt.Errorf("%s: %w", name, why)
}

// Stats are what a storage server counts while it runs, for the node's
// status pages.
type Stats struct {
	// CorruptContainers is how many share containers the server found
	// corrupt since it started (truncated, extended, or with a header
	// that makes no sense), each counted once however often it is asked
	// for. A container is found when a request touches it: a read, a
	// write, a lease, or a listing for one too damaged to show its kind.
	CorruptContainers int
	// QuarantinedShares is how many shares failed their self-check after
	// a corruption advisory and were taken out of service (quarantine.go).
	QuarantinedShares int
	// The lease checker's work (crawler.go, expirer.go): cycles finished,
	// shares examined, shares deleted because their leases expired and
	// their bytes, and expired leases removed.
	CrawlCycles, SharesExamined, SharesExpired, BytesExpired, LeasesExpired int64
}

// Stats returns the server's counts.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	st := Stats{CorruptContainers: len(s.corrupt)}
	s.mu.Unlock()
	s.qdir.mu.Lock()
	st.QuarantinedShares = int(s.qdir.taken)
	s.qdir.mu.Unlock()
	c := &s.crawlCounts
	st.CrawlCycles = c.cycles.Load()
	st.SharesExamined = c.sharesExamined.Load()
	st.SharesExpired = c.sharesDeleted.Load()
	st.BytesExpired = c.bytesDeleted.Load()
	st.LeasesExpired = c.leasesRemoved.Load()
	return st
}
