package main

// The CLI's one client of a node's web API: every verb that works on the
// grid's files makes its requests here. It builds the URLs (caps quoted as
// Tahoe's CLI quotes them), speaks as Tahoe's CLI does (the same Accept,
// so that errors come as plain text), parses the t=json answers into the
// types of webjson.go, and turns whatever goes wrong into an error that
// names the method and the path as the user gave it. Never the URL: it
// holds the cap of the path's root (an alias's write cap, say), which the
// user did not type.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"syscall"
)

// webClient makes the calls of one command to a node's web API.
type webClient struct {
	base string // the web API, ending in "/"
	hc   *http.Client
	// notRunning is what errors add when the node refuses connections:
	// how to start it.
	notRunning string
}

func newWebClient(base string) *webClient { return &webClient{base: base, hc: httpClient} }

// answer is a successful answer to a call.
type answer struct {
	code   int
	status string // the status line, "201 Created"
	header http.Header
	text   string // the body without surrounding white space: a cap, mostly
}

// apiError is an error answer of the web API.
type apiError struct {
	method string
	at     string // what the call was about, as messages name it
	code   int
	status string // the status line, "404 Not Found"
	text   string // the answer as text, without the URL it was asked at
}

func (e *apiError) Error() string { return e.message(e.method + " " + e.at) }

// message is the answer as Tahoe's format_http_error shows it after the
// verb's own words: "PREFIX: 404 Not Found", then the answer's text (Tahoe
// prints the body's Python repr; HTML pages are reduced to their text).
func (e *apiError) message(prefix string) string {
	if e.text == "" {
		return fmt.Sprintf("%s: %s", prefix, e.status)
	}
	return fmt.Sprintf("%s: %s\n%s", prefix, e.status, e.text)
}

// failure turns an error answer into the verb's failure (exit code 1),
// with the verb's words before it as Tahoe's CLI has them ("Error during
// GET"). Other errors are returned as they are.
func failure(err error, prefix string) error {
	var ae *apiError
	if errors.As(err, &ae) {
		return failf("%s", ae.message(prefix))
	}
	return err
}

// isStatus reports whether err is an error answer with that status code.
func isStatus(err error, code int) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.code == code
}

// requestError is a call that got no answer, or whose answer broke off.
type requestError struct {
	method, at string
	err        error  // never a *url.Error, whose text holds the URL
	hint       string // a line of advice, or ""
}

func (e *requestError) Error() string {
	msg := fmt.Sprintf("talking to the node's web API: %s %s: %v", e.method, e.at, e.err)
	if e.hint != "" {
		msg += "\n" + e.hint
	}
	return msg
}

func (e *requestError) Unwrap() error { return e.err }

// noAnswer is the error of a call that went wrong on the way: net/http's
// errors name the URL, so only what they wrap is kept.
func noAnswer(method, at string, err error) error {
	for {
		ue, ok := err.(*url.Error)
		if !ok {
			break
		}
		err = ue.Err
	}
	return &requestError{method: method, at: at, err: err}
}

// pyQuote percent-encodes s as Python's urllib.parse.quote(s, safe="/"):
// letters, digits, "_.-~" and "/" are kept, every other byte is %XX. It
// is how Tahoe's CLI puts caps and names into URLs.
func pyQuote(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '_', c == '.', c == '-', c == '~', c == '/':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// query makes a query string of name, value pairs, in order, the values
// escaped.
func query(kv ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(kv[i] + "=" + url.QueryEscape(kv[i+1]))
	}
	return b.String()
}

// url is the web API URL of p, BASE/uri/$ROOT[/path] (BASE/uri for a
// path without a root), with the query q.
func (c *webClient) url(p gridPath, q string) string {
	u := c.base + "uri"
	if p.root != "" {
		u += "/" + pyQuote(p.root)
		if p.path != "" || p.slash {
			u += "/" + pyQuote(p.path)
		}
	}
	if q != "" {
		u += "?" + q
	}
	return u
}

// send makes one call about p and returns the answer if it is a success
// (2xx), for the caller to read and close; an error answer is read and
// returned as an *apiError. size is the body's length, -1 if unknown;
// header holds more request headers as name, value pairs.
func (c *webClient) send(ctx context.Context, method string, p gridPath, q string, body io.Reader, size int64, header ...string) (*http.Response, error) {
	resp, err := c.roundTrip(ctx, method, c.url(p, q), p.String(), body, size, header...)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, nil
	}
	return nil, errorAnswer(method, p, resp)
}

// errorAnswer reads and closes an error answer to a call about p, and
// returns it as an *apiError.
func errorAnswer(method string, p gridPath, resp *http.Response) error {
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	text := answerText(resp, b)
	if p.root != "" {
		text = scrub(text, resp.Request.URL, p)
	} else {
		text = hideCaps(text, p.name)
	}
	return &apiError{method: method, at: p.String(), code: resp.StatusCode, status: resp.Status, text: text}
}

// roundTrip makes one HTTP request; at is what messages call it.
func (c *webClient) roundTrip(ctx context.Context, method, u, at string, body io.Reader, size int64, header ...string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, noAnswer(method, at, err)
	}
	if body != nil && size >= 0 {
		req.ContentLength = size
	}
	req.Header.Set("User-Agent", "lafs/"+Version+" (tahoe-client)")
	req.Header.Set("Accept", "text/plain, application/octet-stream")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		err = noAnswer(method, at, err)
		if errors.Is(err, syscall.ECONNREFUSED) && c.notRunning != "" {
			err.(*requestError).hint = c.notRunning
		}
		return nil, err
	}
	return resp, nil
}

// call makes a call with a small body (nil for none) and reads the whole
// answer.
func (c *webClient) call(ctx context.Context, method string, p gridPath, q string, body []byte) (*answer, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	resp, err := c.send(ctx, method, p, q, r, int64(len(body)))
	if err != nil {
		return nil, err
	}
	return readAnswer(method, p, resp)
}

// readAnswer reads and closes a successful answer.
func readAnswer(method string, p gridPath, resp *http.Response) (*answer, error) {
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, noAnswer(method, p.String(), fmt.Errorf("reading the answer: %w", err))
	}
	return &answer{code: resp.StatusCode, status: resp.Status, header: resp.Header, text: strings.TrimSpace(string(b))}, nil
}

// getJSON returns p's t=json answer as it came.
func (c *webClient) getJSON(ctx context.Context, p gridPath) ([]byte, error) {
	resp, err := c.send(ctx, http.MethodGet, p, "t=json", nil, 0)
	if err != nil {
		return nil, err
	}
	return readAnswerBytes(http.MethodGet, p, resp)
}

// info returns what p is: its t=json answer, parsed.
func (c *webClient) info(ctx context.Context, p gridPath) (*nodeJSON, error) {
	b, err := c.getJSON(ctx, p)
	if err != nil {
		return nil, err
	}
	n, err := parseNode(b)
	if err != nil {
		return nil, failf("error: could not parse the web API's JSON for %s: %v", p, err)
	}
	return n, nil
}

// download GETs a file, from byte offset on (a Range request) if offset >
// 0. The caller reads and closes the answer.
func (c *webClient) download(ctx context.Context, p gridPath, offset int64) (*http.Response, error) {
	if offset > 0 {
		return c.send(ctx, http.MethodGet, p, "", nil, 0, "Range", fmt.Sprintf("bytes=%d-", offset))
	}
	return c.send(ctx, http.MethodGet, p, "", nil, 0)
}

// upload PUTs a file's contents at p (a new unlinked file if p has no
// root); the answer's text is the file's cap.
func (c *webClient) upload(ctx context.Context, p gridPath, q string, body io.Reader, size int64) (*answer, error) {
	resp, err := c.send(ctx, http.MethodPut, p, q, body, size)
	if err != nil {
		return nil, err
	}
	return readAnswer(http.MethodPut, p, resp)
}

// mkdir makes a directory at p (an unlinked one if p has no root), with
// the query q (t=mkdir and more), and returns its cap.
func (c *webClient) mkdir(ctx context.Context, p gridPath, q string) (string, error) {
	a, err := c.call(ctx, http.MethodPost, p, q, nil)
	if err != nil {
		return "", err
	}
	return a.text, nil
}

// mkdirWith makes a directory holding children at p (an unlinked one if p
// has no root) and returns its cap: t=mkdir-with-children, or with
// immutable t=mkdir-immutable.
func (c *webClient) mkdirWith(ctx context.Context, p gridPath, children map[string]newChild, immutable bool) (string, error) {
	body, err := json.Marshal(children)
	if err != nil {
		return "", err
	}
	t := "mkdir-with-children"
	if immutable {
		t = "mkdir-immutable"
	}
	a, err := c.call(ctx, http.MethodPost, p, "t="+t, body)
	if err != nil {
		return "", err
	}
	return a.text, nil
}

// setChildren adds children to the directory at p (t=set_children).
func (c *webClient) setChildren(ctx context.Context, p gridPath, children map[string]newChild) error {
	body, err := json.Marshal(children)
	if err != nil {
		return err
	}
	_, err = c.call(ctx, http.MethodPost, p, "t=set_children", body)
	return err
}

// link PUTs the cap s at p (t=uri), with more of the query in q
// ("replace=only-files").
func (c *webClient) link(ctx context.Context, p gridPath, s, q string) (*answer, error) {
	if q != "" {
		q = "t=uri&" + q
	} else {
		q = "t=uri"
	}
	return c.call(ctx, http.MethodPut, p, q, []byte(s))
}

// unlink DELETEs the link at p.
func (c *webClient) unlink(ctx context.Context, p gridPath) (*answer, error) {
	return c.call(ctx, http.MethodDelete, p, "", nil)
}

// check runs the grid's checker on p (t=check&output=JSON) and reports
// whether it found the object healthy, as backup asks: a check that fails
// on the node's side, or whose answer is not a check's, counts as
// unhealthy, as in Tahoe.
func (c *webClient) check(ctx context.Context, p gridPath) (bool, error) {
	b, err := c.checkResults(ctx, p, checkOptions{})
	var ae *apiError
	if errors.As(err, &ae) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	r, err := parseCheckResults(b)
	if err != nil {
		return false, nil
	}
	return r.Results.Healthy, nil
}

// checkOptions are the options of a check or deep check: the web API's
// verify=, repair= and add-lease= (Tahoe's CheckOptions).
type checkOptions struct {
	verify, repair, addLease bool
}

// query is the query of a check of kind t ("check", "stream-deep-check"),
// its arguments in the order Tahoe's CLI gives them.
func (o checkOptions) query(t string) string {
	q := "t=" + t
	if t == "check" {
		q += "&output=JSON"
	}
	for _, f := range []struct {
		on   bool
		name string
	}{{o.verify, "verify"}, {o.repair, "repair"}, {o.addLease, "add-lease"}} {
		if f.on {
			q += "&" + f.name + "=true"
		}
	}
	return q
}

// checkResults runs the grid's checker on p (POST t=check&output=JSON,
// with o's options) and returns the JSON answer as it came: a check's
// results (parseCheckResults), or with o.repair a check-and-repair's
// (parseCheckAndRepair). An answer other than 200 OK is an error, as in
// Tahoe's CLI.
func (c *webClient) checkResults(ctx context.Context, p gridPath, o checkOptions) ([]byte, error) {
	resp, err := c.send(ctx, http.MethodPost, p, o.query("check"), nil, 0)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, errorAnswer(http.MethodPost, p, resp)
	}
	return readAnswerBytes(http.MethodPost, p, resp)
}

// readAnswerBytes reads and closes a successful answer, as it came.
func readAnswerBytes(method string, p gridPath, resp *http.Response) ([]byte, error) {
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, noAnswer(method, p.String(), fmt.Errorf("reading the answer: %w", err))
	}
	return b, nil
}

// streamDeepCheck starts a deep check of the directory at p and
// everything below it (POST t=stream-deep-check, with o's options): the
// answer comes as it goes, a JSON unit a line (deepUnit), the last one
// the walk's stats. The caller reads and closes the stream.
func (c *webClient) streamDeepCheck(ctx context.Context, p gridPath, o checkOptions) (*lineStream, error) {
	return c.stream(ctx, p, o.query("stream-deep-check"))
}

// streamManifest starts a walk of the directory at p and everything below
// it (POST t=stream-manifest): a JSON unit a line for each object
// (deepUnit, without check results), the last one the walk's stats.
func (c *webClient) streamManifest(ctx context.Context, p gridPath) (*lineStream, error) {
	return c.stream(ctx, p, "t=stream-manifest")
}

func (c *webClient) stream(ctx context.Context, p gridPath, q string) (*lineStream, error) {
	resp, err := c.send(ctx, http.MethodPost, p, q, nil, 0)
	if err != nil {
		return nil, err
	}
	return &lineStream{body: resp.Body, r: bufio.NewReader(resp.Body), at: p.String()}, nil
}

// lineStream is an answer that comes a line at a time (the web API's
// t=stream-* walks). Errors reading it name the path, never the URL.
type lineStream struct {
	body io.ReadCloser
	r    *bufio.Reader
	at   string
}

// errUnterminated is what lineStream.line returns with a last line that
// has no newline: the answer broke off in the middle of it.
var errUnterminated = errors.New("the answer ended in the middle of a line")

// line returns the next line, without its "\n"; io.EOF at the end of the
// answer. A last piece without a newline comes with errUnterminated.
func (s *lineStream) line() ([]byte, error) {
	b, err := s.r.ReadBytes('\n')
	switch {
	case err == nil:
		return b[:len(b)-1], nil
	case errors.Is(err, io.EOF) && len(b) == 0:
		return nil, io.EOF
	case errors.Is(err, io.EOF):
		return b, errUnterminated
	}
	return nil, s.failed(err)
}

// Read reads the answer's bytes as they come (for --raw).
func (s *lineStream) Read(b []byte) (int, error) {
	n, err := s.r.Read(b)
	if err != nil && !errors.Is(err, io.EOF) {
		err = s.failed(err)
	}
	return n, err
}

func (s *lineStream) failed(err error) error {
	return noAnswer(http.MethodPost, s.at, fmt.Errorf("reading the answer: %w", err))
}

// Close closes the answer; a walk still going on the node's side stops.
func (s *lineStream) Close() error { return s.body.Close() }

// startDeepStats starts counting the objects below the directory at p
// (POST t=start-deep-stats) as the operation handle names it, for
// operationStatus to ask about. The node's redirect to the operation's
// page is taken as the success it is, not followed.
func (c *webClient) startDeepStats(ctx context.Context, p gridPath, handle string) error {
	nc := *c
	hc := *c.hc
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	nc.hc = &hc
	resp, err := nc.roundTrip(ctx, http.MethodPost, nc.url(p, query("t", "start-deep-stats", "ophandle", handle)), p.String(), nil, 0)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusFound {
		return errorAnswer(http.MethodPost, p, resp)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.Body.Close()
}

// operationStatus returns the JSON status of the operation the handle
// names (GET operations/HANDLE?t=status&output=JSON), as it came; once it
// says the operation finished, the node forgets it (release-after-complete).
func (c *webClient) operationStatus(ctx context.Context, handle string) ([]byte, error) {
	p := operationPath(handle)
	u := c.base + "operations/" + pyQuote(handle) + "?t=status&output=JSON&release-after-complete=true"
	resp, err := c.roundTrip(ctx, http.MethodGet, u, p.String(), nil, 0)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, errorAnswer(http.MethodGet, p, resp)
	}
	return readAnswerBytes(http.MethodGet, p, resp)
}

// cancelOperation asks the node to stop the operation the handle names
// (POST operations/HANDLE?t=cancel).
func (c *webClient) cancelOperation(ctx context.Context, handle string) error {
	p := operationPath(handle)
	resp, err := c.roundTrip(ctx, http.MethodPost, c.base+"operations/"+pyQuote(handle)+"?t=cancel", p.String(), nil, 0)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return errorAnswer(http.MethodPost, p, resp)
	}
	return resp.Body.Close()
}

// operationPath is how messages name an operation: by its handle, which
// is no cap.
func operationPath(handle string) gridPath { return gridPath{name: "operations/" + handle} }

var (
	htmlHead  = regexp.MustCompile(`(?is)<head.*?</head>`)
	htmlTag   = regexp.MustCompile(`(?s)<[^>]*>`)
	blankRuns = regexp.MustCompile(`[ \t\r]*\n[ \t\r\n]*`)
)

// answerText is an error answer's text: plain text as it is, HTML without
// its markup, trimmed and limited to a few KiB.
func answerText(resp *http.Response, body []byte) string {
	if len(body) > 8<<10 {
		body = body[:8<<10]
	}
	s := string(body)
	ct := strings.ToLower(resp.Header.Get("Content-Type"))
	if strings.Contains(ct, "html") || strings.HasPrefix(strings.TrimSpace(strings.ToLower(s)), "<") {
		s = htmlHead.ReplaceAllString(s, "")
		s = html.UnescapeString(htmlTag.ReplaceAllString(s, "\n"))
		s = blankRuns.ReplaceAllString(s, "\n")
	}
	return strings.TrimSpace(s)
}

// scrub takes out of an error answer's text the URL it was asked at
// (Twisted's error pages quote it), and the cap of the path's root unless
// the user typed it: the path as the user named it stands in their place.
func scrub(text string, u *url.URL, p gridPath) string {
	name := p.String()
	for _, s := range []string{u.String(), u.RequestURI(), u.EscapedPath(), u.Path} {
		if s != "" {
			text = strings.ReplaceAll(text, s, name)
		}
	}
	if !strings.Contains(p.name, p.root) {
		text = strings.ReplaceAll(text, pyQuote(p.root), name)
		text = strings.ReplaceAll(text, p.root, name)
	}
	return hideCaps(text, p.name)
}

// capToken is a cap as it may appear in text: plain, or percent-encoded
// once or twice as in URLs ("URI%3ADIR2%3A..."), with its "ro." or "imm."
// prefix; it has at least one character after its kind, so that the name
// of a kind alone ("URI:CHK:") is no cap.
var capToken = regexp.MustCompile(`(?:(?:ro|imm)\.)?URI(?::|%3[Aa]|%253[Aa])[A-Za-z0-9][A-Za-z0-9-]*` +
	`(?::|%3[Aa]|%253[Aa])[A-Za-z0-9]+(?:(?::|%3[Aa]|%253[Aa])[A-Za-z0-9]*)*`)

// hiddenCap stands in messages for a cap that hideCaps took out.
const hiddenCap = "(a cap)"

// hideCaps replaces every cap in text by hiddenCap, except those found
// in typed (what the user typed: a cap the user gave may be shown back).
func hideCaps(text string, typed ...string) string {
	if !strings.Contains(text, "URI") {
		return text
	}
	return capToken.ReplaceAllStringFunc(text, func(tok string) string {
		plain := tok
		for strings.Contains(plain, "%") {
			u, err := url.PathUnescape(plain)
			if err != nil || u == plain {
				break
			}
			plain = u
		}
		for _, t := range typed {
			if t != "" && strings.Contains(t, plain) {
				return tok
			}
		}
		return hiddenCap
	})
}
