// Package webapi serves Tahoe-LAFS's web API (docs/frontends/webapi.rst in
// Tahoe's repository) over a client.Client, answering as Tahoe 1.20 does:
// the same paths, status codes, Content-Types, unquoted ETags and JSON, as
// recorded from a live Tahoe node in shared/vectors/tahoe120_webapi.json.
//
// It covers:
//
//   - immutable files: unlinked uploads (PUT /uri, POST /uri?t=upload),
//     downloads with Range, filename= and save= (GET and HEAD on
//     /uri/$CAP, /cap/$CAP, /file/$CAP/NAME, /named/$CAP/NAME, and GET
//     /uri?uri=$CAP), and the t=json, t=uri, t=readonly-uri and t=info
//     views;
//   - mutable files (SDMF, MDMF): creation (PUT /uri?format=, POST
//     /uri?t=upload&format=), reading as above, overwriting (PUT, POST
//     t=upload) and writing at an offset (PUT ?offset=);
//   - directories: creation (t=mkdir, t=mkdir-with-children,
//     t=mkdir-immutable, unlinked or below a directory), paths
//     /uri/$DIRCAP/a/b/c for GET, HEAD, PUT, POST and DELETE (a PUT makes
//     the missing directories of its path), linking (PUT ?t=uri, POST
//     t=uri, t=set_children), unlinking (DELETE, t=unlink), t=rename,
//     t=relink, uploads into a directory (t=upload), the t=json listing,
//     and an HTML page for each directory;
//   - the checker: t=check (verify=, repair=, add-lease=) on files and
//     directories, as JSON or an HTML page;
//   - the deep traversals of a directory: the slow operations started
//     with an ophandle= (t=start-deep-check, t=start-manifest,
//     t=start-deep-size, t=start-deep-stats), whose progress and results
//     /operations/HANDLE shows and which t=cancel stops, and the streams
//     t=stream-manifest and t=stream-deep-check;
//   - the welcome and statistics pages, and /status: the operations
//     under way and the recent ones (opstatus.go).
//
// The slow operations run in the background, a few at a time (see
// Options.MaxOperations); the handler New returns is an io.Closer whose
// Close stops them.
//
// Where Tahoe answers a client's mistake with a 500 (a Python exception
// page), this package gives the fitting 4xx instead: 400 for bad
// arguments and bodies, 403 for a change asked of a read-only or
// immutable directory. webapi_test.go lists every such difference from
// the recording.
//
// A request body that stops arriving is cut after Options.BodyTimeout
// without progress (60 s by default, as Tahoe's web server cuts it) and
// answered 408; one that breaks HTTP's framing (bad chunks, a body short
// of its Content-Length) is answered 400. Either way its spool file goes.
//
// Downloads stream: a file is read segment by segment into the response,
// never held whole in memory. Uploads of immutable files are spooled to a
// temporary file, since convergent encryption reads the data twice; the
// contents of mutable files, which are published from memory, are read
// whole (up to 1 GiB).
package webapi

import (
	"bytes"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/lafs/lafs/client"
	"github.com/lafs/lafs/httpbody"
)

// Options tune the web API.
type Options struct {
	// TempDir is where form uploads are spooled ("" = os.TempDir()).
	// PUT bodies are spooled by the client, in its own TempDir.
	TempDir string
	// Log receives the requests that failed on the server's side
	// (nil = slog.Default()).
	Log *slog.Logger
	// BodyTimeout is how long a request body may make no progress before
	// the request is cut and answered 408, its spool file removed
	// (0 = httpbody.DefaultIdle, 60 s; negative = never).
	BodyTimeout time.Duration
	// MaxOperations bounds the slow operations (t=start-deep-check and
	// the like) that run at once; more wait their turn (0 = 4).
	MaxOperations int
}

// handler is the web API.
type handler struct {
	c       *client.Client
	st      Status
	opts    Options
	log     *slog.Logger
	started time.Time
	count   counters
	ops     *opTable
}

// New returns the web API over the client c. st feeds the welcome and
// statistics pages; it may be nil (they then show no servers). The
// handler is meant for Tahoe's listener (tcp:3456:interface=127.0.0.1):
// like Tahoe's, anyone who can reach it can use every cap they know.
//
// The handler is also an io.Closer: Close stops the slow operations
// running in the background and forgets their handles; call it when the
// node stops.
func New(c *client.Client, st Status, opts Options) http.Handler {
	h := &handler{c: c, st: st, opts: opts, log: opts.Log, started: time.Now(), ops: newOpTable(opts.MaxOperations)}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.opts.BodyTimeout == 0 {
		h.opts.BodyTimeout = httpbody.DefaultIdle
	}
	return h
}

// Close stops the slow operations and forgets their handles. The handler
// still answers requests; operations started afterwards stop at once.
func (h *handler) Close() error {
	h.ops.close()
	return nil
}

// ServeHTTP answers one request. Every response carries Tahoe's
// X-Frame-Options and Referrer-Policy headers.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	if crossSite(r) {
		// A page of another site made the browser send this: refuse, so
		// that no other site can change files through a user's browser.
		http.Error(w, "cross-site request refused", http.StatusForbidden)
		return
	}
	if tag := r.Header.Get(OperationTagHeader); tag != "" {
		r = r.WithContext(client.WithOperationTag(r.Context(), tag)) // for /status (opstatus.go)
	}
	q := newRequest(httpbody.Limit(w, r, h.opts.BodyTimeout))
	q.answer = w.Header()
	defer q.close()
	if err := h.route(w, q); err != nil {
		h.fail(w, q, err)
	}
}

// route finds the resource for the path, as Twisted walks Tahoe's tree.
func (h *handler) route(w http.ResponseWriter, q *request) error {
	segs := q.segs
	for len(segs) > 1 && segs[0] == "" { // "//uri/..." is "/uri/..." to Twisted
		segs = segs[1:]
	}
	switch segs[0] {
	case "":
		return h.serveWelcome(w, q)
	case "uri", "cap":
		return h.serveURI(w, q, segs)
	case "file", "named":
		return h.serveNamed(w, q, segs[1:])
	case "status":
		return h.serveOpStatus(w, q, segs[1:])
	case "statistics":
		if len(segs) == 1 || len(segs) == 2 && segs[1] == "" {
			return h.serveStatistics(w, q)
		}
	case "ui":
		return h.serveUI(w, q, segs[1:])
	case "operations":
		if len(segs) == 1 {
			return unsupportedMethod(q, "HEAD") // Tahoe's /operations has no page of its own
		}
		return h.serveOperation(w, q, segs[1], segs[2:])
	}
	return errNoResource
}

// serveWelcome is GET / (any method renders it, as in Tahoe): the HTML
// welcome page, or with t=json the introducer and server summaries.
func (h *handler) serveWelcome(w http.ResponseWriter, q *request) error {
	t, given := q.queryArg("t")
	if !given {
		t = "html"
	}
	switch strings.ToUpper(t) {
	case "HTML":
		return h.renderHTML(w, welcomePage, h.welcomeData())
	case "JSON":
		return writeJSON(w, "application/json; charset=utf-8", h.welcomeJSON())
	}
	return badFormat(t)
}

// renderHTML renders one of the pages as a complete 200 response.
func (h *handler) renderHTML(w http.ResponseWriter, page func() *template.Template, data any) error {
	b, err := htmlBytes(page, data)
	if err != nil {
		return err
	}
	writeBody(w, http.StatusOK, "text/html", b)
	return nil
}

// htmlBytes renders one of the pages.
func htmlBytes(page func() *template.Template, data any) ([]byte, error) {
	var b bytes.Buffer
	if err := page().Execute(&b, data); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// welcomeData is what the welcome page shows.
type welcomeData struct {
	Node                  NodeInfo
	Introducers           []introducerRow
	IntroducersConnected  int
	Servers               []serverRow
	ServersConnected      int
	Uploads, Downloads    int64
	RenderedAt, StartedAt string
}

type introducerRow struct {
	Summary, Since, LastReceived string
	Connected                    bool
}

type serverRow struct {
	ID, Nickname, Summary, Since, LastReceived, Space, Version string
	Connected                                                  bool
}

func (h *handler) welcomeData() welcomeData {
	now := time.Now()
	d := welcomeData{
		Node:       NodeInfo{Version: "lafs"},
		Uploads:    h.count.filesUploaded.Load(),
		Downloads:  h.count.filesDownloaded.Load(),
		RenderedAt: now.Format(timeFormat),
		StartedAt:  h.started.Format(timeFormat),
	}
	if h.st == nil {
		return d
	}
	d.Node = h.st.Node()
	for _, in := range h.st.Introducers() {
		d.Introducers = append(d.Introducers, introducerRow{introducerSummary(in), ago(in.Since, now), ago(in.LastReceived, now), in.Connected})
		if in.Connected {
			d.IntroducersConnected++
		}
	}
	for _, s := range h.st.Servers() {
		row := serverRow{ID: s.ID, Nickname: s.Nickname, Summary: serverSummary(s), Since: ago(s.Since, now),
			LastReceived: ago(s.LastReceivedData, now), Space: "N/A", Version: s.Version, Connected: s.Connected}
		if !s.LastReceivedData.IsZero() {
			row.Space = abbreviateSize(s.AvailableSpace)
		}
		if s.Connected {
			d.ServersConnected++
		}
		d.Servers = append(d.Servers, row)
	}
	return d
}

const timeFormat = "2006-01-02 15:04:05 MST"

// ago renders how long before now t was, as the welcome page shows it.
func ago(t, now time.Time) string {
	if t.IsZero() {
		return "N/A"
	}
	return now.Sub(t).Round(time.Second).String() + " ago"
}
