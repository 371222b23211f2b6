package webapi

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lafs/lafs/internal/testgrid"
)

// The UI's page and files are served with a strict CSP; others are 404.
func TestUIFiles(t *testing.T) {
	a := newTestAPI(t, nil)
	r := a.do("GET", "/ui", nil)
	if r.code != http.StatusMovedPermanently || r.h.Get("Location") != "/ui/" {
		t.Errorf("/ui: %d %q", r.code, r.h.Get("Location"))
	}
	r = a.do("GET", "/ui/", nil)
	r.expect(t, 200, "text/html; charset=utf-8", `<script src="/ui/app.js">`)
	csp := r.h.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "connect-src 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "http") {
		t.Errorf("CSP %q allows inline code or another site", csp)
	}
	if r.h.Get("X-Content-Type-Options") != "nosniff" {
		t.Error("no nosniff")
	}
	a.do("GET", "/ui/app.js", nil).expect(t, 200, "text/javascript; charset=utf-8", "window.LAFS")
	a.do("GET", "/ui/style.css", nil).expect(t, 200, "text/css; charset=utf-8", ":root")
	for _, p := range []string{"/ui/nope.js", "/ui/../root.go", "/ui/%2e%2e/root.go", "/ui/ui.go", "/ui/a/../app.js"} {
		if r := a.do("GET", p, nil); r.code != 404 {
			t.Errorf("%s: %d", p, r.code)
		}
	}
	if r := a.do("POST", "/ui/", nil); r.code != 405 && r.code != 400 {
		t.Errorf("POST /ui/: %d", r.code)
	}
	// No page of the UI has inline script or style, which the CSP refuses.
	for _, name := range []string{"index.html"} {
		b, err := uiFiles.ReadFile("ui/" + name)
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		if strings.Contains(s, "<script>") || strings.Contains(s, "style=") || strings.Contains(s, " on") && strings.Contains(s, "onclick=") {
			t.Errorf("%s has inline script or style", name)
		}
	}
}

// grid.json gives the encoding, happiness and the servers.
func TestUIGridJSON(t *testing.T) {
	a := newTestAPI(t, func(g *testgrid.Grid) Status { return fakeStatus{g: g, now: time.Now()} })
	r := a.do("GET", "/ui/grid.json", nil)
	if r.code != 200 {
		t.Fatalf("%d %s", r.code, r.body)
	}
	var g struct {
		Encoding  struct{ K, Happy, N int }
		Connected int  `json:"servers_connected"`
		Reachable bool `json:"happiness_reachable"`
		Servers   []struct {
			NodeID    string `json:"nodeid"`
			Connected bool
			Space     *uint64 `json:"available_space"`
		}
		Introducers []struct{ Summary string }
	}
	if err := json.Unmarshal([]byte(r.body), &g); err != nil {
		t.Fatal(err)
	}
	if g.Encoding.K != 3 || g.Encoding.Happy != 7 || g.Encoding.N != 10 || g.Connected != 10 || !g.Reachable || len(g.Servers) != 10 {
		t.Errorf("grid.json %+v", g)
	}
	if r2 := a.do("GET", "/ui/?t=json", nil); r2.body != r.body && !strings.Contains(r2.body, `"happiness_reachable": true`) {
		t.Errorf("/ui/?t=json: %s", r2.body)
	}
	if g.Servers[0].Space == nil || *g.Servers[0].Space != 74381452800 {
		t.Errorf("space %v", g.Servers[0].Space)
	}
	if len(g.Introducers) != 1 || strings.Contains(r.body, "swissnum") {
		t.Errorf("introducers %+v (the swissnum must not show)", g.Introducers)
	}
	// With too few servers connected, happiness is out of reach.
	b := newTestAPI(t, func(*testgrid.Grid) Status {
		return stubStatus{servers: []ServerStatus{{ID: "v0-a", Connected: true}, {ID: "v0-b"}}}
	})
	if r := b.do("GET", "/ui/grid.json", nil); !strings.Contains(r.body, `"happiness_reachable": false`) {
		t.Errorf("grid.json with 1 server: %s", r.body)
	}
}

// A browser's state-changing request made for another site is refused;
// scripts, Tahoe's CLI and the node's own pages are not.
func TestCrossSiteRefused(t *testing.T) {
	a := newTestAPI(t, nil)
	host := strings.TrimPrefix(a.srv.URL, "http://")
	for _, c := range []struct {
		method  string
		headers []string
		want    int
	}{
		{"POST", nil, 200},
		{"POST", []string{"Origin", a.srv.URL}, 200},
		{"POST", []string{"Sec-Fetch-Site", "same-origin", "Origin", a.srv.URL}, 200},
		{"POST", []string{"Origin", "http://evil.example"}, 403},
		{"POST", []string{"Origin", "http://" + host + ".evil.example"}, 403},
		{"POST", []string{"Origin", "null"}, 403},
		{"POST", []string{"Sec-Fetch-Site", "cross-site"}, 403},
		{"POST", []string{"Sec-Fetch-Site", "same-site"}, 403},
		// The node's own forms under Referrer-Policy: no-referrer.
		{"POST", []string{"Sec-Fetch-Site", "same-origin", "Origin", "null"}, 200},
		{"POST", []string{"Sec-Fetch-Site", "none"}, 200},
		{"POST", []string{"Origin", "http://" + host + "/"}, 200},
		// The scheme is not compared: behind a proxy that ends TLS the
		// page is https and the node sees http.
		{"POST", []string{"Origin", "https://" + host}, 200},
		{"PUT", []string{"Origin", "http://evil.example"}, 403},
		{"DELETE", []string{"Sec-Fetch-Site", "cross-site"}, 403},
		{"GET", []string{"Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site"}, 0},
	} {
		path := "/uri?t=mkdir"
		switch c.method {
		case "GET":
			path = "/ui/grid.json"
		case "PUT":
			path = "/uri"
		case "DELETE":
			path = "/uri/URI:DIR2:aaaaaaaaaaaaaaaaaaaaaaaaaa:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb/x"
		}
		r := a.do(c.method, path, nil, c.headers...)
		if c.want != 0 && r.code != c.want || c.want == 0 && r.code == 403 {
			t.Errorf("%s %v: %d %s", c.method, c.headers, r.code, trim([]byte(r.body)))
		}
	}
}

func TestSameHost(t *testing.T) {
	for _, c := range []struct {
		origin, host string
		want         bool
	}{
		{"http://127.0.0.1:3456", "127.0.0.1:3456", true},
		{"http://localhost:3456", "LOCALHOST:3456", true},
		{"http://127.0.0.1", "127.0.0.1:80", true},
		{"http://127.0.0.1", "127.0.0.1", true},
		{"https://node.example", "node.example:443", true},
		{"http://[::1]:3456", "[::1]:3456", true},
		{"http://127.0.0.1:3457", "127.0.0.1:3456", false},
		{"http://127.0.0.1.evil:3456", "127.0.0.1:3456", false},
		{"https://127.0.0.1:3456", "127.0.0.1:3456", true},
	} {
		u, err := url.Parse(c.origin)
		if err != nil {
			t.Fatal(err)
		}
		if got := sameHost(u, c.host); got != c.want {
			t.Errorf("sameHost(%s, %s) = %v", c.origin, c.host, got)
		}
	}
}

// A file's contents are sandboxed: an HTML file on the grid cannot act as
// a page of the node.
func TestDownloadSandboxed(t *testing.T) {
	a := newTestAPI(t, nil)
	cap := a.put("<script>alert(1)</script>")
	r := a.do("GET", "/uri/"+cap+"?filename=x.html", nil)
	if r.code != 200 || r.h.Get("Content-Security-Policy") != "sandbox" || r.h.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("%d %v", r.code, r.h)
	}
}
