package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/client"
	"github.com/lafs/lafs/internal/testgrid"
	"github.com/lafs/lafs/webapi"
)

// testNode is the web API of a client node for the CLI's tests to run
// against: the real web API and client over an in-process grid of ten
// storage servers (newTestNode), or the web API of a grid of real node
// processes (the heavy tests). dir is a node directory whose node.url
// names it.
type testNode struct {
	t    *testing.T
	grid *testgrid.Grid // nil for a grid of processes
	base string         // the web API, ending in "/"
	dir  string

	mu sync.Mutex
	// hook, when set, has each request to answer, with the web API as
	// next.
	hook func(w http.ResponseWriter, r *http.Request, next http.Handler)
	// requests are the requests made, as "METHOD /path t=T".
	requests []string
}

// newTestNode starts the web API of a client of a new in-process grid
// (k=3, happy=7, N=10, 128 KiB segments).
func newTestNode(t *testing.T) *testNode {
	g := testgrid.New(t, 10)
	c, err := client.New(client.Config{
		Params:      lafs.Params{K: 3, Happy: 7, N: 10, SegmentSize: 128 << 10},
		Convergence: []byte("CLI test convergence secret"), LeaseSecret: []byte("CLI test lease secret"),
		Peers: g, TempDir: t.TempDir(), MutableRetryDelay: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	n := &testNode{t: t, grid: g}
	api := webapi.New(c, nil, webapi.Options{TempDir: t.TempDir()})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.mu.Lock()
		n.requests = append(n.requests, r.Method+" "+r.URL.Path+" t="+r.URL.Query().Get("t"))
		hook := n.hook
		n.mu.Unlock()
		if hook != nil {
			hook(w, r, api)
			return
		}
		api.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	n.base = srv.URL + "/"
	n.dir = newNodeDir(t, n.base, nil)
	return n
}

// newNodeDir makes a node directory whose node.url is base, with aliases.
func newNodeDir(t *testing.T, base string, aliases map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "private"), 0o700)
	os.WriteFile(filepath.Join(dir, "node.url"), []byte(base+"\n"), 0o644)
	for name, c := range aliases {
		if err := addAliasLine(dir, name, c); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// setHook sets the hook that has each request to answer (nil: none).
func (n *testNode) setHook(h func(w http.ResponseWriter, r *http.Request, next http.Handler)) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.hook = h
}

// run runs lafs with this node's directory.
func (n *testNode) run(stdin []byte, args ...string) (string, string, int) {
	n.t.Helper()
	return runCmd(n.t, stdin, append([]string{"-d", n.dir}, args...)...)
}

// alias adds an alias to the node directory.
func (n *testNode) alias(name, c string) {
	n.t.Helper()
	if err := addAliasLine(n.dir, name, c); err != nil {
		n.t.Fatal(err)
	}
}

// call makes a web API call (path below the base, caps quoted) and fails
// the test unless it succeeds.
func (n *testNode) call(method, path, body string) string {
	n.t.Helper()
	req, _ := http.NewRequest(method, n.base+path, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		n.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		n.t.Fatalf("%s %s: %s %s", method, path, resp.Status, b)
	}
	return string(b)
}

// mkdir makes an unlinked mutable directory and returns its write cap.
func (n *testNode) mkdir() string {
	n.t.Helper()
	return strings.TrimSpace(n.call("POST", "uri?t=mkdir", ""))
}

// get returns the contents of the file at a cap[/path].
func (n *testNode) get(c string) string {
	n.t.Helper()
	return n.call("GET", "uri/"+pyQuote(c), "")
}

// info returns the t=json of a cap[/path].
func (n *testNode) info(c string) *nodeJSON {
	n.t.Helper()
	node, err := parseNode([]byte(n.call("GET", "uri/"+pyQuote(c)+"?t=json", "")))
	if err != nil {
		n.t.Fatal(err)
	}
	return node
}

// list returns a directory's children.
func (n *testNode) list(c string) map[string]nodeJSON { return n.info(c).Info.Children }

// walk calls f for everything under a directory, by path ("a/b").
func (n *testNode) walk(dircap string, f func(path string, child nodeJSON)) {
	var walk func(prefix, c string)
	walk = func(prefix, c string) {
		for name, ch := range n.list(c) {
			f(prefix+name, ch)
			if ch.isDir() {
				walk(prefix+name+"/", ch.Info.readCap())
			}
		}
	}
	walk("", dircap)
}

// tree lists a grid directory as readTree lists a local one: "dir/" and
// `file "contents"` lines, sorted.
func (n *testNode) tree(dircap string) []string {
	n.t.Helper()
	var out []string
	n.walk(dircap, func(path string, ch nodeJSON) {
		if ch.isDir() {
			out = append(out, path+"/")
		} else {
			out = append(out, fmt.Sprintf("%s %q", path, n.get(ch.Info.readCap())))
		}
	})
	slices.Sort(out)
	return out
}

// resetLog forgets the requests made so far.
func (n *testNode) resetLog() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.requests = nil
}

// log returns the requests made so far.
func (n *testNode) log() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.requests)
}

// count counts the requests made so far with that method and t=: those
// at a path below /uri/ (about an object) and those at /uri itself (of a
// new unlinked one).
func (n *testNode) count(method, t string) (below, unlinked int) {
	for _, r := range n.log() {
		m, rest, _ := strings.Cut(r, " ")
		path, q, _ := strings.Cut(rest, " ")
		if m != method || q != "t="+t {
			continue
		}
		if path == "/uri" {
			unlinked++
		} else {
			below++
		}
	}
	return below, unlinked
}

// dirChanges counts the requests made so far that change a directory
// (one publish each on a mutable directory), other than making one.
func (n *testNode) dirChanges() int {
	changes := 0
	for _, r := range n.log() {
		m, rest, _ := strings.Cut(r, " ")
		path, q, _ := strings.Cut(rest, " ")
		if path == "/uri" {
			continue
		}
		switch {
		case m == "PUT", m == "DELETE", m == "POST" && q != "t=check":
			changes++
		}
	}
	return changes
}
