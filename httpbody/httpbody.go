// Package httpbody makes a server's request bodies keep arriving: a body
// that makes no progress for a while is cut, so that a stalled client
// cannot hold a handler, its socket and its spool file for as long as it
// wishes, and every failure to read a body is typed, so that a server can
// answer the client's fault (broken chunked framing, a body shorter than
// its Content-Length) with 400 and a stall with 408, and not log them as
// its own failures. The web API and the HTTP storage protocol both use it.
package httpbody

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// DefaultIdle is how long a request body may make no progress before it
// is cut: 60 s, as Tahoe's web server (Twisted's HTTP channel timeout)
// does.
const DefaultIdle = 60 * time.Second

// Error is the failure of a read of a request body: the client's doing
// (chunked framing that breaks HTTP/1.1's rules, a body that ends before
// its Content-Length, a connection that went away), or a body that made
// no progress for the idle limit (Stalled). Servers answer 400, or 408 for
// a stall; neither is a failure of the server.
type Error struct {
	Err     error
	Stalled bool
	Idle    time.Duration // the idle limit, for the message
}

func (e *Error) Error() string {
	if e.Stalled {
		return fmt.Sprintf("the request body made no progress for %v", e.Idle)
	}
	return "reading the request body: " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Status is the HTTP status for a failure to read a request body: 408 for
// a stall, 400 otherwise.
func (e *Error) Status() int {
	if e.Stalled {
		return http.StatusRequestTimeout
	}
	return http.StatusBadRequest
}

// idleBody is a request body that must keep arriving: before each Read it
// moves the connection's read deadline to idle from now, so that a Read
// waiting longer than that for the client fails with a timeout, and the
// handler (and its spool file) is let go. A body arriving slowly but
// steadily is never cut. Its errors other than io.EOF are *Errors.
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
	err       error // the first error, a *Error, returned again
}

// Limit returns the request to serve: r with a body whose read errors
// are *Errors, cut after idle without progress (never when idle is not
// positive). The deadline is set at once too: it also bounds what
// net/http reads of a body that the handler leaves unread, before it
// answers.
func Limit(w http.ResponseWriter, r *http.Request, idle time.Duration) *http.Request {
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

// Read reads from the body, failing with an *Error if it breaks HTTP's
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
		b.err = &Error{Err: err, Stalled: errors.Is(err, os.ErrDeadlineExceeded), Idle: b.idle}
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
