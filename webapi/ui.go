package webapi

import (
	"embed"
	"io/fs"
	"mime"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/lafs/lafs/pyjson"
)

// The browser UI: a single page at /ui/, hand-written JavaScript and CSS
// committed as served (ui/), embedded in the binary. It uses only the web
// API's own JSON (directory t=json, /status, /storage, t=check, the
// ophandles) and /ui/grid.json below, so scripts and the UI see one API;
// Tahoe's HTML pages stay as they are.

//go:embed ui
var uiFiles embed.FS

// uiCSP is the UI's Content-Security-Policy: nothing from outside the
// node, no inline script or style, no framing.
const uiCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
	"connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// serveUI answers /ui/...: the page, its files, and grid.json.
func (h *handler) serveUI(w http.ResponseWriter, q *request, segs []string) error {
	name := strings.Join(segs, "/")
	if len(segs) == 0 {
		http.Redirect(w, q.Request, "/ui/", http.StatusMovedPermanently)
		return nil
	}
	if q.Method != http.MethodGet && q.Method != http.MethodHead {
		return unsupportedMethod(q, "GET", "HEAD")
	}
	hd := w.Header()
	hd.Set("Content-Security-Policy", uiCSP)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	hd.Set("Cross-Origin-Resource-Policy", "same-origin")
	if t, _ := q.queryArg("t"); name == "grid.json" || name == "" && strings.EqualFold(t, "json") {
		// The page's JSON twin: what its grid view shows.
		hd.Set("Cache-Control", "no-store")
		return writeJSON(w, "application/json; charset=utf-8", h.gridJSON())
	}
	if name == "" {
		name = "index.html"
	}
	if strings.Contains(name, "..") || path.Clean(name) != name {
		return errNoResource
	}
	b, err := fs.ReadFile(uiFiles, "ui/"+name)
	if err != nil {
		return errNoResource
	}
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = "application/octet-stream"
	}
	if strings.HasPrefix(ct, "text/") && !strings.Contains(ct, "charset") {
		ct += "; charset=utf-8"
	}
	hd.Set("Cache-Control", "no-cache")
	writeBody(w, http.StatusOK, ct, b)
	return nil
}

// gridJSON is what the UI's grid page shows: this client's encoding
// parameters, whether the connected servers can reach happiness, and the
// welcome page's introducers and servers with their details.
func (h *handler) gridJSON() *pyjson.Object {
	p := h.c.Params()
	var servers []ServerStatus
	var intros []IntroducerStatus
	node := NodeInfo{}
	if h.st != nil {
		servers, intros, node = h.st.Servers(), h.st.Introducers(), h.st.Node()
	}
	connected := 0
	srv := []any{}
	now := time.Now()
	for _, s := range servers {
		if s.Connected {
			connected++
		}
		o := obj(
			"nodeid", s.ID,
			"nickname", s.Nickname,
			"connected", s.Connected,
			"connection_status", serverSummary(s),
			"since", unixOrNil(s.Since),
			"last_received_data", unixOrNil(s.LastReceivedData),
			"version", s.Version,
			"available_space", spaceOrNil(s),
		)
		srv = append(srv, o)
	}
	in := []any{}
	for _, x := range intros {
		in = append(in, obj(
			"summary", introducerSummary(x),
			"connected", x.Connected,
			"since", unixOrNil(x.Since),
			"last_received", unixOrNil(x.LastReceived),
		))
	}
	return obj(
		"node", obj("nickname", node.Nickname, "nodeid", node.NodeID, "version", node.Version),
		"encoding", obj("k", p.K, "happy", p.Happy, "n", p.N, "segment_size", p.SegmentSize),
		"servers_connected", connected,
		"happiness_reachable", connected >= p.Happy,
		"introducers", in,
		"servers", srv,
		"now", float64(now.UnixMilli())/1000,
	)
}

func unixOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return float64(t.UnixMilli()) / 1000
}

// spaceOrNil is the server's available space, null until it said.
func spaceOrNil(s ServerStatus) any {
	if s.LastReceivedData.IsZero() {
		return nil
	}
	return s.AvailableSpace
}

// crossSite reports whether a browser made r for another site: a
// state-changing request (not GET, HEAD or OPTIONS) whose Sec-Fetch-Site
// says so, or, from a browser too old to send that header, whose Origin
// names another host (or is "null", which such a browser sends from a
// sandboxed page). Modern browsers send Sec-Fetch-Site: same-origin on the
// node's own forms even where Origin is "null" (as it is under
// Referrer-Policy: no-referrer), so the header decides when present.
// Scripts and Tahoe's CLI send neither header.
func crossSite(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		return site != "same-origin" && site != "none"
	}
	origin := r.Header.Get("Origin")
	switch origin {
	case "":
		return false
	case "null":
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return true
	}
	return !sameHost(u, r.Host)
}

// sameHost reports whether the origin u names host (a Host header), with
// the scheme's default port filled in on both sides.
func sameHost(u *url.URL, host string) bool {
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	h, p, err := net.SplitHostPort(host)
	if err != nil {
		h, p = host, "80"
		if u.Scheme == "https" {
			p = "443"
		}
	}
	return strings.EqualFold(strings.Trim(u.Hostname(), "[]"), strings.Trim(h, "[]")) && port == p
}
