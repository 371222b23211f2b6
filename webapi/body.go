package webapi

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// DefaultBodyTimeout is how long a request body may make no progress
// before the web API cuts it: 60 s, as Tahoe's web server (Twisted's
// HTTP channel timeout) does.
const DefaultBodyTimeout = 60 * time.Second

// bodyError is the failure of a read of a request body: the client's
// doing (chunked framing that breaks HTTP/1.1's rules, a body that ends
// before its Content-Length, a connection that went away), or a body that
// made no progress for the body timeout (stalled). classify answers 400,
// or 408 for a stall; neither is a failure of the server.
type bodyError struct {
	err     error
	stalled bool
	idle    time.Duration // the body timeout, for the message
}

func (e *bodyError) Error() string {
	if e.stalled {
		return fmt.Sprintf("the request body made no progress for %v", e.idle)
	}
	return "reading the request body: " + e.err.Error()
}

func (e *bodyError) Unwrap() error { return e.err }

// readFailure is the error for a failed read of what a request sent,
// while reading what: a bodyError keeps its kind (400, or 408 for a
// stall), anything else (a form's framing) is a bad request.
func readFailure(err error, what string) error {
	var be *bodyError
	if errors.As(err, &be) {
		return fmt.Errorf("%s: %w", what, err)
	}
	return badRequest("%s: %v", what, err)
}

// idleBody is a request body that must keep arriving: before each Read it
// moves the connection's read deadline to idle from now, so that a Read
// waiting longer than that for the client fails with a timeout, and the
// handler (and its spool file) is let go. A body arriving slowly but
// steadily is never cut. Its errors other than io.EOF are bodyErrors.
//
// Progress is counted per Read of the body: the bytes of a chunk's size
// line alone, trickled in, do not count. Once the body has ended the
// deadline is the server's again: net/http clears it for its background
// read, which a later deadline would cut (cancelling the request's
// context).
type idleBody struct {
	body      io.ReadCloser
	rc        *http.ResponseController
	idle      time.Duration
	deadlines bool  // the connection takes read deadlines
	ended     bool  // io.EOF was seen, or the body was closed
	err       error // the first error, a *bodyError, returned again
}

// limitBody returns the request to serve: r with a body whose read errors
// are bodyErrors, cut after idle without progress (never when idle is not
// positive). The deadline is set at once too: it also bounds what
// net/http reads of a body that the handler leaves unread, before it
// answers.
func limitBody(w http.ResponseWriter, r *http.Request, idle time.Duration) *http.Request {
	if r.Body == nil || r.Body == http.NoBody {
		// Without a body, net/http's background read is already
		// waiting on the connection: a deadline would cut it.
		return r
	}
	b := &idleBody{body: r.Body, rc: http.NewResponseController(w), idle: idle, deadlines: idle > 0}
	b.arm()
	r = r.WithContext(r.Context()) // a shallow copy, not the server's request
	r.Body = b
	return r
}

// arm moves the read deadline to idle from now, if the connection takes
// deadlines (an httptest.ResponseRecorder does not).
func (b *idleBody) arm() {
	if b.deadlines && b.rc.SetReadDeadline(time.Now().Add(b.idle)) != nil {
		b.deadlines = false
	}
}

// Read reads from the body, failing with a *bodyError if it breaks HTTP's
// rules or makes no progress for the body timeout.
func (b *idleBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.ended {
		return b.body.Read(p)
	}
	b.arm()
	n, err := b.body.Read(p)
	switch {
	case err == nil:
	case err == io.EOF:
		b.ended = true
	case errors.Is(err, http.ErrBodyReadAfterClose):
		// The server read the rest already; its background read may be
		// waiting under the deadline just set.
		b.ended = true
		if b.deadlines {
			b.rc.SetReadDeadline(time.Time{})
		}
	default:
		b.err = &bodyError{err: err, stalled: errors.Is(err, os.ErrDeadlineExceeded), idle: b.idle}
		return n, b.err
	}
	return n, err
}

// Close closes the body. What net/http reads of it then (up to 256 KiB, to
// keep the connection) is bounded by the deadline of the last Read.
func (b *idleBody) Close() error {
	b.ended = true
	return b.body.Close()
}
