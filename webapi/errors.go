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
	"github.com/lafs/lafs/immutable"
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

// notSupported answers (501) what lafs cannot do yet: mutable files,
// directories, checking. The text says what is missing.
func notSupported(what string) error {
	return &webError{http.StatusNotImplemented, what + " not supported yet by the lafs web API"}
}

var (
	errMutable   = notSupported("Mutable files (SDMF and MDMF) are")
	errDirectory = notSupported("Directories are")
)

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
	switch {
	case errors.As(err, &we):
		return we.code, we.text
	case errors.Is(err, context.Canceled):
		return 0, ""
	case errors.Is(err, immutable.ErrNoShares):
		return http.StatusGone, noSharesText + err.Error()
	case errors.Is(err, immutable.ErrNotEnoughShares):
		return http.StatusGone, notEnoughSharesText + err.Error()
	case errors.Is(err, cap.ErrInvalid), errors.Is(err, client.ErrUnknownCap), errors.Is(err, client.ErrNotFile):
		return http.StatusBadRequest, err.Error()
	case errors.Is(err, immutable.ErrUnhappy):
		return http.StatusServiceUnavailable, "UploadUnhappinessError: " + err.Error()
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
		h.log.Warn("web API request failed", "method", q.Method, "path", q.URL.Path, "status", code, "err", err)
	}
	writeBody(w, code, "text/plain;charset=utf-8", []byte(text))
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
