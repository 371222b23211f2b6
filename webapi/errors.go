package webapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/client"
	"github.com/lafs/lafs/dirnode"
	"github.com/lafs/lafs/httpbody"
)

// webError is an error whose status and text are known: Tahoe's WebError,
// sent as text/plain;charset=utf-8.
type webError struct {
	code int
	text string
}

func (e *webError) Error() string { return e.text }

func badRequest(format string, a ...any) error {
	return &webError{http.StatusBadRequest, fmt.Sprintf(format, a...)}
}

// pageError is answered with Twisted's small HTML error page
// (twisted.web.resource.ErrorPage), as Tahoe does for errors found while
// walking the path, unsupported methods and missing resources.
type pageError struct {
	code          int
	brief, detail string
	allow         string // the Allow header of a 405
}

func (e *pageError) Error() string { return e.brief + ": " + e.detail }

// errNoResource is Twisted's NoResource, the answer for unknown paths.
var errNoResource = &pageError{http.StatusNotFound, "No Such Resource", "Sorry. No luck finding that resource.", ""}

// Tahoe's texts for directory errors (humanize_exception).
const (
	existingChildText = "There was already a child by that name, and you asked me to not replace it."
	emptyComponent    = "The webapi does not allow empty pathname components, i.e. a double slash"
	unrecoverableText = "UnrecoverableFileError: the directory (or mutable file) could " +
		"not be retrieved, because there were insufficient good shares. " +
		"This might indicate that no servers were connected, " +
		"insufficient servers were connected, the URI was corrupt, or " +
		"that shares have been lost due to server departure, hard drive " +
		"failure, or disk corruption. You should perform a filecheck on " +
		"this object to learn more."
)

// noSuchChild is Tahoe's NoSuchChildError as the render methods answer it:
// 404 text/plain.
func noSuchChild(name string) error {
	return &webError{http.StatusNotFound, "No such child: " + quoteOutputBare(name)}
}

// childError is an error about one child that a request links (its caps
// break one of Tahoe's rules), answered with Tahoe's text that names it.
type childError struct {
	name string
	err  error
}

func (e *childError) Error() string { return fmt.Sprintf("child %q: %v", e.name, e.err) }
func (e *childError) Unwrap() error { return e.err }

// text is humanize_exception's message for the error.
func (e *childError) text() string {
	q := quoteOutput(e.name)
	switch {
	case errors.Is(e.err, cap.ErrNotImmutable):
		return "MustBeDeepImmutableError: a cap passed to this operation for " +
			"the child named " + q + ", needed to be immutable but was not. Either " +
			"the cap is being added to an immutable directory, or it was " +
			"originally retrieved from an immutable directory as an unknown cap."
	case errors.Is(e.err, cap.ErrNotReadOnly):
		return "MustBeReadonlyError: a cap passed to this operation for " +
			"the child named '" + q + "', needed to be read-only but was not. " +
			"The cap is being passed in a read slot (ro_uri), or was retrieved " +
			"from a read slot as an unknown cap."
	case errors.Is(e.err, dirnode.ErrUnknownWriteCap):
		return "MustNotBeUnknownRWError: an operation to add a child named " +
			q + " to a directory was given an unknown cap in a write slot.\n" +
			"Using a webapi server that supports a later version of Tahoe " +
			"may help.\n\n" +
			"If you are using the webapi directly, specifying a readcap in " +
			"the read slot (ro_uri) of the JSON PROPDICT, as well as a " +
			"writecap in the write slot if desired, would also work in this " +
			"case."
	}
	return e.err.Error() // names the child
}

// unsupportedMethod is Twisted's answer when a resource has no handler for
// the method: 405 with Allow for GET, HEAD and POST (the methods Twisted
// says it supports), 501 "Huh?" for anything else.
func unsupportedMethod(q *request, allowed ...string) error {
	switch q.Method {
	case http.MethodGet, http.MethodHead, http.MethodPost:
		plural := ""
		if len(allowed) > 1 {
			plural = "s"
		}
		return &pageError{http.StatusMethodNotAllowed, "Method Not Allowed",
			fmt.Sprintf(`Your browser approached me (at %s) with the method "%s".  I only allow the method%s %s here.`,
				q.RequestURI, q.Method, plural, strings.Join(allowed, ", ")),
			strings.Join(allowed, ", ")}
	}
	return &pageError{http.StatusNotImplemented, "Huh?",
		fmt.Sprintf("I don't know how to treat a %s request.", q.Method), ""}
}

// The texts of Tahoe's humanize_exception for download failures.
const (
	noSharesText = "NoSharesError: no shares could be found. " +
		"Zero shares usually indicates a corrupt URI, or that " +
		"no servers were connected, but it might also indicate " +
		"severe corruption. You should perform a filecheck on " +
		"this object to learn more.\n\nThe full error message is:\n"
	notEnoughSharesText = "NotEnoughSharesError: This indicates that some " +
		"servers were unavailable, or that shares have been " +
		"lost to server departure, hard drive failure, or disk " +
		"corruption. You should perform a filecheck on " +
		"this object to learn more.\n\nThe full error message is:\n"
)

// classify maps an error to its status and text. It is the one place
// where error kinds become HTTP status codes. A code of 0 means the client
// went away and nothing should be sent.
func classify(err error) (int, string) {
	var we *webError
	var ce *childError
	var be *httpbody.Error
	switch {
	case errors.As(err, &we):
		return we.code, we.text
	case errors.As(err, &be) && be.Stalled:
		// The answer may still reach a client that stopped sending (Tahoe
		// closes such a connection without one).
		return http.StatusRequestTimeout, "Request Timeout: " + err.Error()
	case errors.As(err, &be):
		// Broken chunked framing, a body short of its Content-Length:
		// the client's fault, never logged as the server's.
		return http.StatusBadRequest, err.Error()
	case errors.Is(err, context.Canceled):
		return 0, ""
	case errors.As(err, &ce):
		return http.StatusBadRequest, ce.text()
	case errors.Is(err, client.ErrNotWritable):
		// Tahoe: 500, a NotWriteableError exception page.
		return http.StatusForbidden, "NotWriteableError: " + err.Error()
	case errors.Is(err, client.ErrExists):
		return http.StatusConflict, existingChildText
	case errors.Is(err, client.ErrUncoordinatedWrite):
		// Tahoe: 500. The change may or may not have been made; look and
		// try again.
		return http.StatusConflict, "UncoordinatedWriteError: " + err.Error()
	case errors.Is(err, client.ErrNoChild):
		return http.StatusNotFound, err.Error()
	case errors.Is(err, client.ErrMutableNoShares), errors.Is(err, client.ErrMutableNotEnoughShares):
		return http.StatusGone, unrecoverableText
	case errors.Is(err, client.ErrNotDir), errors.Is(err, dirnode.ErrBadEntry):
		return http.StatusBadRequest, err.Error()
	case errors.Is(err, client.ErrNoShares):
		return http.StatusGone, noSharesText + err.Error()
	case errors.Is(err, client.ErrNotEnoughShares):
		return http.StatusGone, notEnoughSharesText + err.Error()
	case errors.Is(err, cap.ErrInvalid), errors.Is(err, client.ErrUnknownCap), errors.Is(err, client.ErrNotFile):
		return http.StatusBadRequest, err.Error()
	case errors.Is(err, client.ErrUnhappy):
		return http.StatusServiceUnavailable, "UploadUnhappinessError: " + err.Error()
	case errors.Is(err, client.ErrNotEnoughServers):
		// Tahoe: 500, a NotEnoughServersError exception page.
		return http.StatusServiceUnavailable, "NotEnoughServersError: " + err.Error()
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout, "timed out: " + err.Error()
	}
	return http.StatusInternalServerError, "Internal Server Error: " + err.Error()
}

// fail answers a request with the error err, unless the client is gone.
// Headers already set for a download (ETag, Accept-Ranges) stay, as in
// Tahoe; those that describe the body that is no longer coming go.
func (h *handler) fail(w http.ResponseWriter, q *request, err error) {
	hd := w.Header()
	for _, k := range []string{"Content-Range", "Content-Encoding", "Content-Disposition", "Location"} {
		hd.Del(k)
	}
	var pe *pageError
	if errors.As(err, &pe) {
		if pe.allow != "" {
			hd.Set("Allow", pe.allow)
		}
		writeErrorPage(w, pe.code, pe.brief, pe.detail)
		return
	}
	code, text := classify(err)
	if code == 0 {
		return
	}
	if code >= 500 && code != http.StatusNotImplemented {
		h.log.Warn("web API request failed", "method", q.Method, "path", logPath(q), "status", code, "err", err)
	}
	writeBody(w, code, "text/plain;charset=utf-8", []byte(text))
}

// logPath is the request's path for the log, every segment that holds a
// cap replaced by the cap's kind: no cap may reach a log line.
func logPath(q *request) string {
	segs := make([]string, len(q.segs))
	for i, s := range q.segs {
		if !strings.Contains(s, "URI") {
			segs[i] = s
			continue
		}
		if c, err := cap.Parse(s); err == nil && !isUnknown(c) {
			segs[i] = "<" + cap.Kind(c) + ">"
		} else {
			segs[i] = "<cap>"
		}
	}
	return "/" + strings.Join(segs, "/")
}

// writeErrorPage writes Twisted's ErrorPage. Unlike Twisted's, the texts
// are escaped: they may hold names taken from the URL.
func writeErrorPage(w http.ResponseWriter, code int, brief, detail string) {
	page := fmt.Sprintf("\n<html>\n  <head><title>%d - %s</title></head>\n  <body>\n    <h1>%s</h1>\n    <p>%s</p>\n  </body>\n</html>\n",
		code, escapeText(brief), escapeText(brief), escapeText(detail))
	writeBody(w, code, "text/html; charset=utf-8", []byte(page))
}

// escapeText escapes what HTML text content must not hold, leaving quotes
// as they are (Tahoe's messages quote names with ').
var escapeText = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace

// writeBody sends a complete response of a known length.
func writeBody(w http.ResponseWriter, code int, contentType string, body []byte) {
	hd := w.Header()
	hd.Set("Content-Type", contentType)
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	w.Write(body)
}
