package storagehttp

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/httpbody"
)

// ErrProtocol is wrapped by the client's errors for answers that break the
// protocol: a body that is not the CBOR the schema asks for, a wrong
// Content-Type or Content-Range, a short body.
var ErrProtocol = errors.New("storage server broke the HTTP storage protocol")

// httpError is a failure of the HTTP layer itself (a bad header, a body of
// the wrong type or size) with the status code Tahoe gives it.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

// statusTable is the one mapping between the lafs error sentinels and
// status codes, read both ways: by the server to answer, by the client to
// turn an answer back into the same sentinel. Tahoe has no read-only
// error (a read-only Tahoe server simply allocates nothing), so
// ErrReadOnly takes 403, which Tahoe never sends. Tahoe does not check
// containers either: one too short for its header raises inside the
// server (500), one truncated past its header is served short or empty.
// ErrCorruptContainer takes 410 Gone, which Tahoe's storage server never
// sends: the share is there by name but its data is lost on this server,
// a condition that lasts, so a client should not retry but read another
// server's copy (as Tahoe's web API answers 410 for a file whose shares
// cannot be recovered). A 500 could not be told apart from other
// failures.
var statusTable = []struct {
	err  error
	code int
}{
	{lafs.ErrBadRequest, http.StatusBadRequest},
	{lafs.ErrUnauthorized, http.StatusUnauthorized},
	{lafs.ErrReadOnly, http.StatusForbidden},
	{lafs.ErrNotExist, http.StatusNotFound},
	{lafs.ErrNotAllowed, http.StatusMethodNotAllowed},
	{lafs.ErrConflict, http.StatusConflict},
	{lafs.ErrCorruptContainer, http.StatusGone},
	{lafs.ErrRange, http.StatusRequestedRangeNotSatisfiable},
	{lafs.ErrNoSpace, http.StatusInsufficientStorage},
}

// statusOf is the server's one error-to-status function: an httpError
// keeps its code, a request body that failed is 400 (408 if it stalled), a
// lafs sentinel (however wrapped) takes its code from statusTable, an
// abandoned request 503, anything else 500.
func statusOf(err error) int {
	var he *httpError
	if errors.As(err, &he) {
		return he.code
	}
	// A request body that broke HTTP's rules is the client's error; one
	// that stalled is cut with 408. Checked before the table: these are
	// wrapped in lafs.ErrBadRequest too.
	var be *httpbody.Error
	if errors.As(err, &be) {
		return be.Status()
	}
	for _, e := range statusTable {
		if errors.Is(err, e.err) {
			return e.code
		}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// sentinelOf is statusTable read the other way, for the client. The
// statuses of a malformed request that have no sentinel of their own (406,
// 413, 415) are bad requests too.
func sentinelOf(code int) error {
	for _, e := range statusTable {
		if e.code == code {
			return e.err
		}
	}
	switch code {
	case http.StatusNotAcceptable, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
		return lafs.ErrBadRequest
	}
	return nil
}

// StatusError is the client's error for an answer with an unexpected
// status code. errors.Is matches it with the lafs sentinel of its code
// (lafs.ErrNotExist for 404, and so on: see statusTable).
type StatusError struct {
	Method, Path string
	Code         int
	// Message is the start of the answer's body, where the server says why.
	Message string
}

func (e *StatusError) Error() string {
	s := fmt.Sprintf("storage server: %s %s: %d %s", e.Method, e.Path, e.Code, http.StatusText(e.Code))
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Unwrap returns the lafs sentinel for the status code, or nil.
func (e *StatusError) Unwrap() error { return sentinelOf(e.Code) }
