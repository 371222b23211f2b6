package webapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/backend"
	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/client"
	"github.com/lafs/lafs/dirnode"
	"github.com/lafs/lafs/internal/testgrid"
)

// These tests run the checker and the deep traversals through the web
// API on an in-process grid.

// deepAPI is a web API with its client, its handler and a fake clock for
// the handles' lifetimes.
type deepAPI struct {
	*testAPI
	c     *client.Client
	h     *handler
	clock *fakeClock
}

func newDeepAPI(t *testing.T, opts Options) *deepAPI {
	g := testgrid.New(t, 10)
	c := testClient(t, g)
	opts.TempDir = t.TempDir()
	h := New(c, fakeStatus{g, time.Now()}, opts).(*handler)
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	h.ops.now, h.ops.afterFunc = clock.Now, clock.AfterFunc
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		h.Close()
	})
	return &deepAPI{&testAPI{t, g, srv}, c, h, clock}
}

// fakeClock runs the handles' timers when told to.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c       *fakeClock
	at      time.Time
	f       func()
	stopped bool
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.stopped
	t.stopped = true
	return was
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) stopper {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

// advance moves the clock on, running the timers that come due.
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []*fakeTimer
	for _, t := range c.timers {
		if !t.stopped && !t.at.After(c.now) {
			t.stopped = true
			due = append(due, t)
		}
	}
	c.mu.Unlock()
	for _, t := range due {
		t.f()
	}
}

// tree is a directory tree on the grid:
//
//	root/          SDMF
//	  big.txt      CHK, 2000 bytes, missing two of its shares
//	  lit.txt      LIT
//	  mut.txt      SDMF file
//	  sub/         MDMF
//	    back       -> root (a cycle)
//	    shared/    SDMF
//	      f.txt    CHK, 300 bytes
//	  sub2/        SDMF
//	    shared     -> sub/shared (linked twice)
//	  unknown      a cap from the future
type tree struct {
	root, sub, shared, sub2 cap.Cap
	big, f, mut             cap.Cap
}

func (a *deepAPI) tree() *tree {
	t := a.t
	t.Helper()
	ctx := context.Background()
	var tr tree
	upload := func(data []byte) cap.Cap {
		r, err := a.c.Upload(ctx, bytes.NewReader(data), int64(len(data)), client.UploadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return r.Cap
	}
	root, err := a.c.CreateDir(ctx, cap.SDMF)
	if err != nil {
		t.Fatal(err)
	}
	link := func(d *client.Dir, name string, k cap.Cap) {
		t.Helper()
		if err := d.Set(ctx, name, k, nil, client.ReplaceAny); err != nil {
			t.Fatal(err)
		}
	}
	tr.root = root.Cap()
	tr.big = upload(bytes.Repeat([]byte("big "), 500))
	tr.f = upload(bytes.Repeat([]byte("f"), 300))
	if tr.mut, err = a.c.CreateMutable(ctx, []byte("mutable contents"), cap.SDMF); err != nil {
		t.Fatal(err)
	}
	link(root, "big.txt", tr.big)
	link(root, "lit.txt", upload([]byte("tiny")))
	link(root, "mut.txt", tr.mut)
	unknown, err := dirnode.NewEntry("unknown", "", "URI:NEWKIND:stuff", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := root.SetChildren(ctx, []dirnode.Entry{unknown}, client.ReplaceAny); err != nil {
		t.Fatal(err)
	}
	sub, err := root.Mkdir(ctx, "sub", cap.MDMF, client.ReplaceNone)
	if err != nil {
		t.Fatal(err)
	}
	sub2, err := root.Mkdir(ctx, "sub2", cap.SDMF, client.ReplaceNone)
	if err != nil {
		t.Fatal(err)
	}
	shared, err := sub.Mkdir(ctx, "shared", cap.SDMF, client.ReplaceNone)
	if err != nil {
		t.Fatal(err)
	}
	tr.sub, tr.sub2, tr.shared = sub.Cap(), sub2.Cap(), shared.Cap()
	link(shared, "f.txt", tr.f)
	link(sub, "back", tr.root)
	link(sub2, "shared", tr.shared)
	si, _ := cap.StorageIndex(tr.big)
	if n := a.removeShares(si, 0, 1); n != 2 {
		t.Fatalf("removed %d shares", n)
	}
	return &tr
}

// removeShares deletes shares of si wherever they are.
func (a *deepAPI) removeShares(si lafs.StorageIndex, shares ...lafs.ShareNum) int {
	n := 0
	for _, b := range a.g.Backends {
		for _, sh := range shares {
			if b.Delete(context.Background(), backend.Key{SI: si, Share: sh}) == nil {
				n++
			}
		}
	}
	return n
}

func capPath(c cap.Cap) string { return "/uri/" + url.PathEscape(c.String()) }

// jsonOf parses a JSON reply.
func jsonOf(t *testing.T, r reply) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.body), &m); err != nil {
		t.Fatalf("%d %q is not JSON: %v", r.code, trim([]byte(r.body)), err)
	}
	return m
}

// start starts a slow operation and waits for it to finish.
func (a *deepAPI) start(path, query, handle string) {
	a.t.Helper()
	r := a.do(http.MethodPost, path+"?ophandle="+handle+"&"+query, nil)
	if r.code != http.StatusFound || r.h.Get("Location") != a.srv.URL+"/operations/"+handle+"?output=JSON" && strings.Contains(query, "output=JSON") {
		a.t.Fatalf("POST %s: %d %v %s", query, r.code, r.h.Get("Location"), r.body)
	}
	a.wait(handle)
}

func (a *deepAPI) wait(handle string) {
	a.t.Helper()
	op, ok := a.h.ops.get(handle)
	if !ok {
		a.t.Fatalf("no operation %s", handle)
	}
	select {
	case <-op.done:
	case <-time.After(time.Minute):
		a.t.Fatalf("operation %s did not finish", handle)
	}
}

func TestCheck(t *testing.T) {
	a := newDeepAPI(t, Options{})
	tr := a.tree()
	post := func(path, query string) reply {
		t.Helper()
		return a.do(http.MethodPost, path+"?t=check&"+query, nil)
	}

	// A healthy file, as JSON.
	r := post(capPath(tr.f), "output=JSON")
	m := jsonOf(t, r)
	res := m["results"].(map[string]any)
	if r.h.Get("Content-Type") != "text/plain" || m["summary"] != "Healthy" || res["healthy"] != true || res["count-shares-good"] != 10.0 {
		t.Errorf("check: %s", r.body)
	}
	if si, _ := cap.StorageIndex(tr.f); m["storage-index"] != si.String() {
		t.Errorf("storage index %v", m["storage-index"])
	}

	// The damaged file, reached through its directory, then verified.
	for _, q := range []string{"output=json", "output=JSON&verify=true&add-lease=true"} {
		m = jsonOf(t, post(capPath(tr.root)+"/big.txt", q))
		res = m["results"].(map[string]any)
		if m["summary"] != "Not Healthy: 8 shares (enc 3-of-10)" || res["healthy"] != false || res["recoverable"] != true || len(res["sharemap"].(map[string]any)) != 8 {
			t.Errorf("%s: %v", q, m)
		}
	}

	// LIT files: Tahoe's literal results, with or without repair.
	lit := "/uri/URI:LIT:oruw46jajreviidgnfwgkcq"
	for _, q := range []string{"output=JSON", "output=JSON&repair=true"} {
		if r := post(lit, q); r.body != "{\n \"storage-index\": \"\",\n \"results\": {\n  \"healthy\": true\n }\n}\n" {
			t.Errorf("%s: %q", q, r.body)
		}
	}
	r = post(lit, "return_to=/back")
	r.expect(t, 200, "text/html", `<a href="/back">Return to file.</a>`)

	// The HTML page, with its way back; a directory's.
	r = post(capPath(tr.root)+"/big.txt", "return_to=/uri/somewhere")
	r.expect(t, 200, "text/html", "Not Healthy! : Not Healthy: 8 shares (enc 3-of-10)")
	if !strings.Contains(r.body, `<a href="/uri/somewhere">Return to file/directory.</a>`) || !strings.Contains(r.body, "need 3-of-10, have 8") {
		t.Errorf("page %s", r.body)
	}
	post(capPath(tr.sub), "").expect(t, 200, "text/html", "<title>Tahoe-LAFS - Check Results</title>")
	post(capPath(tr.sub), "output=JSON").expect(t, 200, "text/plain", `"summary": "Healthy"`)

	// Mistakes.
	post(capPath(tr.f), "output=XML").expect(t, 400, textHTMLUTF8, "Unknown output value: 'XML'")
	post(capPath(tr.f), "output=").expect(t, 400, textHTMLUTF8, "Bad Format")
	post(capPath(tr.f), "verify=maybe").expect(t, 400, "text/plain;charset=utf-8", "invalid boolean argument")
	a.do(http.MethodGet, capPath(tr.f)+"?t=check", nil).expect(t, 400, "", "GET file: bad t=check")

	// when_done= redirects once the check is done.
	r = post(capPath(tr.f), "when_done=/done")
	if r.code != http.StatusFound || r.h.Get("Location") != "/done" {
		t.Errorf("when_done: %d %v", r.code, r.h)
	}

	// Repair: the damaged file is made whole.
	m = jsonOf(t, post(capPath(tr.big), "repair=true&output=JSON"))
	pre, postr := m["pre-repair-results"].(map[string]any), m["post-repair-results"].(map[string]any)
	if keys := objectKeys(t, []byte(post(capPath(tr.f), "repair=true&output=JSON").body)); !slices.Equal(keys, []string{"storage-index", "repair-attempted", "repair-successful", "pre-repair-results", "post-repair-results"}) {
		t.Errorf("repair keys %v", keys)
	}
	if m["repair-attempted"] != true || m["repair-successful"] != true || pre["summary"] == "Healthy" || postr["summary"] != "Healthy" {
		t.Errorf("repair: %v", m)
	}
	r = post(capPath(tr.big), "repair=true")
	r.expect(t, 200, "text/html", "No repair necessary")
	if m = jsonOf(t, post(capPath(tr.big), "output=JSON")); m["summary"] != "Healthy" {
		t.Errorf("after repair: %v", m)
	}
}

func TestDeepOperations(t *testing.T) {
	a := newDeepAPI(t, Options{})
	tr := a.tree()
	root := capPath(tr.root)
	wantPaths := []string{"", "unknown", "big.txt", "lit.txt", "mut.txt", "sub", "sub/shared", "sub/shared/f.txt", "sub2"}

	// The manifest: every node once, in Tahoe's order.
	a.start(root, "t=start-manifest&output=JSON", "m1")
	r := a.do(http.MethodGet, "/operations/m1?t=status&output=JSON", nil)
	if r.h.Get("Content-Type") != "text/plain" || strings.HasSuffix(r.body, "\n") {
		t.Errorf("manifest JSON: %v %q", r.h, r.body[len(r.body)-5:])
	}
	if keys := objectKeys(t, []byte(r.body)); !slices.Equal(keys, []string{"stats", "finished", "origin", "manifest", "verifycaps", "storage-index"}) {
		t.Errorf("manifest keys %v", keys)
	}
	var man struct {
		Finished   bool
		Origin     string
		Manifest   [][2]json.RawMessage
		VerifyCaps []string
		SIs        []string `json:"storage-index"`
		Stats      map[string]any
	}
	json.Unmarshal([]byte(r.body), &man)
	var paths []string
	for _, item := range man.Manifest {
		var p []string
		json.Unmarshal(item[0], &p)
		paths = append(paths, strings.Join(p, "/"))
	}
	if !man.Finished || !slices.Equal(paths, wantPaths) || len(man.VerifyCaps) != 7 || len(man.SIs) != 7 {
		t.Errorf("manifest %+v, paths %q", man, paths)
	}
	if si, _ := cap.StorageIndex(tr.root); man.Origin != si.String() {
		t.Errorf("origin %s", man.Origin)
	}
	if man.Stats["count-directories"] != 4.0 || man.Stats["count-files"] != 4.0 || man.Stats["count-unknown"] != 1.0 || man.Stats["size-immutable-files"] != 2300.0 {
		t.Errorf("stats %v", man.Stats)
	}
	r = a.do(http.MethodGet, "/operations/m1?output=text", nil)
	if lines := strings.Split(r.body, "\n"); r.h.Get("Content-Type") != "text/plain" || lines[0] != "finished: yes" || lines[1] != " "+tr.root.String() || len(lines) != 11 {
		t.Errorf("manifest text %q", r.body)
	}
	r = a.do(http.MethodGet, "/operations/m1", nil)
	r.expect(t, 200, "text/html", "<title>Manifest of SI="+man.Origin[:6]+"</title>")
	if !strings.Contains(r.body, `<a href="../file/`+pyQuote(tr.f.String(), "/")+`/f.txt">`) || strings.Contains(r.body, "still running") {
		t.Errorf("manifest page %s", r.body)
	}
	a.do(http.MethodGet, "/operations/m1/extra", nil).expect(t, 404, "", "No Such Resource")

	// Deep stats and size.
	a.start(root, "t=start-deep-stats", "s1")
	r = a.do(http.MethodGet, "/operations/s1?output=HTML", nil) // JSON whatever output= says
	if st := jsonOf(t, r); st["finished"] != true || st["count-mutable-files"] != 1.0 || st["largest-immutable-file"] != 2000.0 || st["api-version"] != 1.0 {
		t.Errorf("deep stats %v", st)
	}
	a.start(root, "t=start-deep-size", "z1")
	size := man.Stats["size-immutable-files"].(float64) + man.Stats["size-directories"].(float64)
	r = a.do(http.MethodGet, "/operations/z1", nil)
	if r.h.Get("Content-Type") != "text/html" || !strings.HasPrefix(r.body, "finished: yes\nsize: ") {
		t.Errorf("deep size %q", r.body)
	}
	if m := jsonOf(t, a.do(http.MethodGet, "/operations/z1?output=JSON", nil)); m["size"].(map[string]any)["size-immutable-files"] != 2300.0 || size <= 2300 {
		t.Errorf("deep size JSON %v", m)
	}

	// The deep check finds the damaged file.
	a.start(root, "t=start-deep-check&output=JSON&verify=true", "c1")
	m := jsonOf(t, a.do(http.MethodGet, "/operations/c1?output=JSON", nil))
	unhealthy := m["list-unhealthy-files"].([]any)
	if m["count-objects-checked"] != 7.0 || m["count-objects-healthy"] != 6.0 || m["count-objects-unhealthy"] != 1.0 || len(unhealthy) != 1 {
		t.Fatalf("deep check %v", m)
	}
	if p := unhealthy[0].([]any)[0].([]any); len(p) != 1 || p[0] != "big.txt" {
		t.Errorf("unhealthy %v", unhealthy)
	}
	bigSI, _ := cap.StorageIndex(tr.big)
	r = a.do(http.MethodGet, "/operations/c1/"+bigSI.String()+"?output=JSON", nil)
	if m := jsonOf(t, r); m["summary"] != "Not Healthy: 8 shares (enc 3-of-10)" {
		t.Errorf("results of big.txt %v", m)
	}
	a.do(http.MethodGet, "/operations/c1/aaaaaaaaaaaaaaaaaaaaaaaaaa", nil).expect(t, 404, textHTMLUTF8, "No detailed results for SI aaaaaaaaaaaaaaaaaaaaaaaaaa")
	r = a.do(http.MethodGet, "/operations/c1?output=html&return_to=/there", nil)
	r.expect(t, 200, "text/html", "<title>Tahoe-LAFS - Deep Check Results</title>")
	for _, want := range []string{"Objects Unhealthy: <span>1</span>", "big.txt: Not Healthy: 8 shares (enc 3-of-10) [SI: " + bigSI.String() + "]",
		`href="../operations/c1/` + bigSI.String() + `?output=html"`, `<a href="/there">Return to file/directory.</a>`, "<td>&lt;root&gt;</td>"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("deep check page lacks %q:\n%s", want, r.body)
		}
	}

	// A deep check with repair mends it.
	a.start(root, "t=start-deep-check&repair=true&output=JSON", "c2")
	r = a.do(http.MethodGet, "/operations/c2?output=JSON", nil)
	m = jsonOf(t, r)
	if m["count-repairs-attempted"] != 1.0 || m["count-repairs-successful"] != 1.0 || m["count-objects-unhealthy-pre-repair"] != 1.0 ||
		m["count-objects-healthy-post-repair"] != 7.0 || len(m["list-unhealthy-files"].([]any)) != 1 {
		t.Errorf("deep check and repair %v", m)
	}
	if keys := objectKeys(t, []byte(r.body)); len(keys) != 16 || keys[len(keys)-1] != "stats" {
		t.Errorf("keys %v", keys)
	}
	r = a.do(http.MethodGet, "/operations/c2/"+bigSI.String(), nil)
	r.expect(t, 200, "text/html", "Repair successful")
	a.do(http.MethodGet, "/operations/c2", nil).expect(t, 200, "text/html", "Repairs Successful: <span>1</span>")
	a.start(root, "t=start-deep-check", "c3")
	if m := jsonOf(t, a.do(http.MethodGet, "/operations/c3?output=JSON", nil)); m["count-objects-healthy"] != 7.0 {
		t.Errorf("after repair %v", m)
	}

	// Mistakes.
	a.do(http.MethodPost, root+"?t=start-manifest", nil).expect(t, 400, "", "slow operation requires ophandle=")
	a.do(http.MethodPost, root+"?t=start-manifest&ophandle=x&retain-for=soon", nil).expect(t, 400, "", "invalid retain-for= argument")
	a.do(http.MethodPost, capPath(tr.f)+"?t=start-manifest&ophandle=x", nil).expect(t, 400, "", "POST to file: bad t=start-manifest")
	a.do(http.MethodGet, "/operations/m1?output=bogus", nil).expect(t, 400, textHTMLUTF8, "Unknown output value")
	a.do(http.MethodGet, "/operations/nope", nil).expect(t, 404, textHTMLUTF8, "unknown/expired handle 'nope'")

	// A form may carry the arguments, and when_done= wins over the
	// status page.
	body, ct := multipartBody(t, "t", "start-manifest", "ophandle", "m2", "when_done", "/next")
	r = a.do(http.MethodPost, root, body, "Content-Type", ct)
	if r.code != http.StatusFound || r.h.Get("Location") != "/next" {
		t.Errorf("form: %d %v", r.code, r.h.Get("Location"))
	}
	a.wait("m2")
}

func TestDeepUnreadable(t *testing.T) {
	a := newDeepAPI(t, Options{})
	tr := a.tree()
	si, _ := cap.StorageIndex(tr.sub)
	a.removeShares(si, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9)
	a.start(capPath(tr.root), "t=start-manifest", "bad")
	r := a.do(http.MethodGet, "/operations/bad?output=JSON", nil)
	r.expect(t, 410, textHTMLUTF8, "UnrecoverableFileError")

	// The stream says so at its end, after the line of the directory.
	r = a.do(http.MethodPost, capPath(tr.root)+"?t=stream-deep-check", nil)
	lines := strings.Split(strings.TrimSuffix(r.body, "\n"), "\n")
	var last map[string]any
	for i, l := range lines {
		if strings.HasPrefix(l, "ERROR: ") {
			if err := json.Unmarshal([]byte(lines[i-1]), &last); err != nil {
				t.Fatal(err)
			}
			if p := last["path"].([]any); len(p) != 1 || p[0] != "sub" {
				t.Errorf("the line before the error: %v", last)
			}
			cr := last["check-results"].(map[string]any)
			if cr["results"].(map[string]any)["recoverable"] != false {
				t.Errorf("check of the unreadable directory: %v", cr)
			}
			if !strings.Contains(l, "UnrecoverableFileError") || strings.Contains(r.body[strings.Index(r.body, "ERROR:"):], "URI:") {
				t.Errorf("error tail %q", r.body[strings.Index(r.body, "ERROR:"):])
			}
			return
		}
	}
	t.Errorf("no error in the stream:\n%s", r.body)
}

func TestStreams(t *testing.T) {
	a := newDeepAPI(t, Options{})
	tr := a.tree()
	stream := func(query string) []map[string]any {
		t.Helper()
		r := a.do(http.MethodPost, capPath(tr.root)+"?"+query, nil)
		if r.code != 200 || r.h.Get("Content-Type") != "text/html" || !strings.HasSuffix(r.body, "\n") {
			t.Fatalf("%s: %d %v %q", query, r.code, r.h, r.body)
		}
		var units []map[string]any
		for _, l := range strings.Split(strings.TrimSuffix(r.body, "\n"), "\n") {
			var u map[string]any
			if err := json.Unmarshal([]byte(l), &u); err != nil {
				t.Fatalf("%s: line %q: %v", query, l, err)
			}
			units = append(units, u)
		}
		return units
	}
	units := stream("t=stream-manifest")
	var paths []string
	for _, u := range units[:len(units)-1] {
		var p []string
		for _, x := range u["path"].([]any) {
			p = append(p, x.(string))
		}
		paths = append(paths, strings.Join(p, "/"))
	}
	if want := []string{"", "unknown", "big.txt", "lit.txt", "mut.txt", "sub", "sub/shared", "sub/shared/f.txt", "sub2"}; !slices.Equal(paths, want) {
		t.Errorf("paths %q", paths)
	}
	if s := units[len(units)-1]; s["type"] != "stats" || s["stats"].(map[string]any)["count-directories"] != 4.0 {
		t.Errorf("last unit %v", s)
	}
	byPath := func(units []map[string]any, path string) map[string]any {
		for _, u := range units {
			var p []string
			if ps, ok := u["path"].([]any); ok {
				for _, x := range ps {
					p = append(p, x.(string))
				}
				if strings.Join(p, "/") == path && u["type"] != "stats" {
					return u
				}
			}
		}
		t.Fatalf("no unit for %q", path)
		return nil
	}
	if u := byPath(units, "mut.txt"); u["type"] != "file" || u["repaircap"] != tr.mut.String() || u["verifycap"] != tr.mut.Verifier().String() {
		t.Errorf("mut.txt %v", u)
	}
	if u := byPath(units, "lit.txt"); u["verifycap"] != "" || u["repaircap"] != "" || u["storage-index"] != "" {
		t.Errorf("lit.txt %v", u)
	}
	if u := byPath(units, "unknown"); u["type"] != "unknown" || u["cap"] != "ro.URI:NEWKIND:stuff" {
		t.Errorf("unknown %v", u)
	}

	units = stream("t=stream-deep-check")
	if cr := byPath(units, "big.txt")["check-results"].(map[string]any); cr["summary"] != "Not Healthy: 8 shares (enc 3-of-10)" {
		t.Errorf("big.txt %v", cr)
	}
	if cr := byPath(units, "lit.txt")["check-results"].(map[string]any); len(cr) != 2 || cr["storage-index"] != "" {
		t.Errorf("lit.txt %v", cr)
	}
	units = stream("t=stream-deep-check&repair=true")
	if crr := byPath(units, "big.txt")["check-and-repair-results"].(map[string]any); crr["repair-successful"] != true {
		t.Errorf("big.txt %v", crr)
	}
	if crr := byPath(units, "unknown")["check-and-repair-results"].(map[string]any); len(crr) != 2 || crr["repair-attempted"] != false {
		t.Errorf("unknown %v", crr)
	}
	units = stream("t=stream-deep-check")
	if cr := byPath(units, "big.txt")["check-results"].(map[string]any); cr["summary"] != "Healthy" {
		t.Errorf("big.txt after repair %v", cr)
	}
}

// hold keeps the operations started from now on from running until the
// returned function is called.
func (a *deepAPI) hold() (release func()) {
	ch := make(chan struct{})
	a.h.ops.mu.Lock()
	a.h.ops.hold = ch
	a.h.ops.mu.Unlock()
	return func() {
		a.h.ops.mu.Lock()
		a.h.ops.hold = nil
		a.h.ops.mu.Unlock()
		close(ch)
	}
}

func TestOperationHandles(t *testing.T) {
	a := newDeepAPI(t, Options{})
	tr := a.tree()
	root := capPath(tr.root)
	post := func(query string) {
		t.Helper()
		if r := a.do(http.MethodPost, root+"?"+query, nil); r.code != http.StatusFound {
			t.Fatalf("%s: %d %s", query, r.code, r.body)
		}
	}
	gone := func(handle string) {
		t.Helper()
		a.do(http.MethodGet, "/operations/"+handle, nil).expect(t, 404, "", "unknown/expired handle")
	}

	// Cancel a running operation: its status so far, then nothing.
	release := a.hold()
	post("t=start-deep-size&ophandle=run")
	op, _ := a.h.ops.get("run")
	a.do(http.MethodGet, "/operations/run?t=cancel", nil).expect(t, 200, "text/html", "finished: no\n") // only POST cancels
	a.do(http.MethodPost, "/operations/run?t=cancel", nil).expect(t, 200, "text/html", "finished: no\n")
	gone("run")
	<-op.done
	release()

	// release-after-complete lets go once the operation has finished.
	release = a.hold()
	post("t=start-manifest&ophandle=rel")
	a.do(http.MethodGet, "/operations/rel?output=JSON&release-after-complete=true", nil).expect(t, 200, "text/plain", `"finished": false`)
	release()
	a.wait("rel")
	a.do(http.MethodGet, "/operations/rel?output=JSON&release-after-complete=true", nil).expect(t, 200, "text/plain", `"finished": true`)
	gone("rel")

	// Lifetimes: four days for results nobody has seen, one day from
	// the last look at them, retain-for= when given (on the POST, or on
	// a GET, which then does not count as a look).
	present := func(handle string) bool {
		_, ok := a.h.ops.get(handle)
		return ok
	}
	post("t=start-deep-stats&ophandle=unseen")
	a.wait("unseen")
	post("t=start-deep-stats&ophandle=seen")
	a.wait("seen")
	a.do(http.MethodGet, "/operations/seen", nil).expect(t, 200, "text/plain", `"finished": true`)
	post("t=start-deep-stats&ophandle=kept&retain-for=600")
	a.wait("kept")
	post("t=start-deep-stats&ophandle=asked")
	a.wait("asked")
	a.do(http.MethodGet, "/operations/asked?retain-for=7200", nil).expect(t, 200, "text/plain", `"finished": true`)
	a.clock.advance(599 * time.Second)
	if !present("kept") {
		t.Error("retain-for=600 expired early")
	}
	a.clock.advance(time.Second)
	gone("kept")
	a.clock.advance(7200*time.Second - 600*time.Second - time.Second)
	if !present("asked") {
		t.Error("retain-for=7200 on a GET expired early")
	}
	a.clock.advance(time.Second)
	gone("asked")
	a.clock.advance(24*time.Hour - 7200*time.Second - time.Second)
	if !present("seen") {
		t.Error("a collected handle expired before a day")
	}
	a.clock.advance(time.Second)
	gone("seen")
	a.clock.advance(3*24*time.Hour - time.Second)
	if !present("unseen") {
		t.Error("an uncollected handle expired before four days")
	}
	a.clock.advance(time.Second)
	gone("unseen")

	// A handle released while its operation runs stops it.
	release = a.hold()
	post("t=start-deep-check&ophandle=short&retain-for=5")
	op, _ = a.h.ops.get("short")
	a.clock.advance(5 * time.Second)
	gone("short")
	select {
	case <-op.done:
	case <-time.After(10 * time.Second):
		t.Error("the operation of an expired handle goes on")
	}
	release()

	// A new operation under a handle in use replaces the old one.
	release = a.hold()
	post("t=start-manifest&ophandle=dup")
	old, _ := a.h.ops.get("dup")
	post("t=start-deep-stats&ophandle=dup")
	<-old.done
	release()
	a.wait("dup")
	a.do(http.MethodGet, "/operations/dup", nil).expect(t, 200, "text/plain", `"api-version": 1`)

	// Close stops what runs.
	release = a.hold()
	post("t=start-deep-check&ophandle=closing")
	op, _ = a.h.ops.get("closing")
	a.h.Close()
	<-op.done
	gone("closing")
	release()
}

func TestOperationsBound(t *testing.T) {
	a := newDeepAPI(t, Options{MaxOperations: 1})
	tr := a.tree()
	a.h.ops.sem <- struct{}{} // the one place is taken
	if r := a.do(http.MethodPost, capPath(tr.root)+"?t=start-deep-size&ophandle=w", nil); r.code != http.StatusFound {
		t.Fatal(r.code)
	}
	op, _ := a.h.ops.get("w")
	select {
	case <-op.done:
		t.Fatal("an operation ran beyond the bound")
	case <-time.After(100 * time.Millisecond):
	}
	a.do(http.MethodGet, "/operations/w", nil).expect(t, 200, "text/html", "finished: no\n")
	<-a.h.ops.sem
	a.wait("w")
	a.do(http.MethodGet, "/operations/w", nil).expect(t, 200, "text/html", "finished: yes\nsize: ")
}

func TestOperationPagesRunning(t *testing.T) {
	a := newDeepAPI(t, Options{})
	tr := a.tree()
	release := a.hold()
	defer release()
	for _, q := range []string{"t=start-manifest&ophandle=pm", "t=start-deep-check&ophandle=pc"} {
		if r := a.do(http.MethodPost, capPath(tr.root)+"?"+q, nil); r.code != http.StatusFound {
			t.Fatal(r.code)
		}
	}
	for _, h := range []string{"pm", "pc"} {
		r := a.do(http.MethodGet, "/operations/"+h, nil)
		for _, want := range []string{`<meta http-equiv="refresh" content="60" />`, `<a href="` + h + `?output=html">Reload</a>`, `action="` + h + `?t=cancel"`} {
			if !strings.Contains(r.body, want) {
				t.Errorf("%s: page lacks %q:\n%s", h, want, r.body)
			}
		}
	}
	m := jsonOf(t, a.do(http.MethodGet, "/operations/pc?output=JSON", nil))
	if m["finished"] != false || len(m["stats"].(map[string]any)) != 0 {
		t.Errorf("running deep check %v", m)
	}
}

func TestLogPath(t *testing.T) {
	q := newRequest(httptest.NewRequest(http.MethodGet, "/uri/URI%3ACHK%3A7cfqv5kg33myqfir6bnbxq2t7m%3Afaztw7e7yekiz47mk7tsavxru4twrapag3labfwxkl5x64dzgc7a%3A3%3A10%3A920/a/URI:NEWKIND:x", nil))
	if got := logPath(q); got != "/uri/<URI:CHK>/a/<cap>" {
		t.Errorf("logPath %q", got)
	}
}
