package webapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/lafs/lafs/cap"
)

// These tests cover directories and mutable files beyond the recording.

const textHTMLUTF8 = "text/html; charset=utf-8"

// mkdir makes an unlinked directory and returns its cap.
func (a *testAPI) mkdir(query string) string {
	a.t.Helper()
	r := a.do(http.MethodPost, "/uri?t=mkdir"+query, nil)
	if r.code != 200 || !strings.HasPrefix(r.body, "URI:DIR2") {
		a.t.Fatalf("mkdir: %d %s", r.code, r.body)
	}
	return r.body
}

// listing returns a directory's t=json, parsed.
func (a *testAPI) listing(path string) (kind string, props map[string]any) {
	a.t.Helper()
	r := a.do(http.MethodGet, path+"?t=json", nil)
	if r.code != 200 {
		a.t.Fatalf("GET %s?t=json: %d %s", path, r.code, r.body)
	}
	var v []json.RawMessage
	if err := json.Unmarshal([]byte(r.body), &v); err != nil || len(v) != 2 {
		a.t.Fatalf("t=json %q: %v", r.body, err)
	}
	json.Unmarshal(v[0], &kind)
	json.Unmarshal(v[1], &props)
	return kind, props
}

func children(props map[string]any) map[string]any {
	kids, _ := props["children"].(map[string]any)
	return kids
}

func roCap(t *testing.T, s string) string {
	t.Helper()
	c, err := cap.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return c.ReadOnly().String()
}

func TestDirectoryPaths(t *testing.T) {
	a := newTestAPI(t, nil)
	dir := a.mkdir("")
	p := "/uri/" + url.PathEscape(dir)
	body := strings.Repeat("deep file\n", 10)

	// A PUT makes the directories of its path.
	a.do(http.MethodPut, p+"/a/b/c.txt", strings.NewReader(body)).expect(t, 201, "text/html", "URI:CHK:")
	a.do(http.MethodGet, p+"/a/b/c.txt", nil).expect(t, 200, "text/plain", body)
	a.do(http.MethodGet, p+"/a/b/", nil).expect(t, 200, "text/html", "c.txt")
	if _, props := a.listing(p + "/a"); children(props)["b"] == nil {
		t.Errorf("a lists %v", props)
	}
	// PUT ?t=mkdir of an existing directory returns it.
	r := a.do(http.MethodPut, p+"/a/b?t=mkdir", nil)
	b := a.do(http.MethodGet, p+"/a/b?t=uri", nil)
	if r.code != 200 || r.body != b.body || r.h.Get("Content-Type") != "text/plain" {
		t.Errorf("PUT t=mkdir of an existing dir: %d %q, want %q", r.code, r.body, b.body)
	}

	// Empty segments: "X/" is X, a final "//" is refused.
	a.do(http.MethodGet, p+"/a//b/?t=uri", nil).expect(t, 200, "text/plain", "URI:DIR2:")
	a.do(http.MethodGet, p+"/a//", nil).expect(t, 400, textHTMLUTF8, "does not allow empty pathname components")

	// Below a file, below an unknown child.
	a.do(http.MethodPut, p+"/a/b/c.txt/d", strings.NewReader("x")).expect(t, 409, textHTMLUTF8, "Unable to create directory 'c.txt': a file was in the way")
	a.do(http.MethodPost, p+"/a/b/c.txt/d?t=check", nil).expect(t, 400, textHTMLUTF8, "Files have no children named 'd'")
	a.do(http.MethodPost, p+"?t=set_children", strings.NewReader(`{"future": ["unknown", {"ro_uri": "URI:NEWKIND:x"}]}`)).expect(t, 200, "text/html", "Okay so I did it.")
	a.do(http.MethodGet, p+"/future/x", nil).expect(t, 404, textHTMLUTF8, "No Such Resource")
	a.do(http.MethodPut, p+"/future/x", strings.NewReader("x")).expect(t, 409, textHTMLUTF8, "a file was in the way")

	// Unknown children: t=json shows their caps; DELETE unlinks them.
	r = a.do(http.MethodGet, p+"/future?t=json", nil)
	if !strings.Contains(r.body, `"ro_uri": "ro.URI:NEWKIND:x"`) || strings.Contains(r.body, "rw_uri") {
		t.Errorf("unknown child t=json: %s", r.body)
	}
	a.do(http.MethodDelete, p+"/future", nil).expect(t, 200, "text/html", "ro.URI:NEWKIND:x")
	a.do(http.MethodDelete, p+"/future", nil).expect(t, 404, textHTMLUTF8, "No such child: future")

	// PUT with Content-Range is not supported; bad t=.
	a.do(http.MethodPut, p+"/new.txt", strings.NewReader("x"), "Content-Range", "bytes 0-0/1").expect(t, 501, textPlainUTF8, "Content-Range in PUT not yet supported")
	a.do(http.MethodPut, p+"/new.txt?t=bogus", strings.NewReader("x")).expect(t, 404, textHTMLUTF8, "No such child: new.txt")
	a.do(http.MethodPut, p+"/a/b/c.txt?t=bogus", strings.NewReader("x")).expect(t, 400, textPlainUTF8, "PUT to a file: bad t=bogus")
	a.do(http.MethodPut, p+"?t=bogus", strings.NewReader("x")).expect(t, 400, textPlainUTF8, "PUT to a directory")
	a.do(http.MethodGet, p+"/nope.txt/x", nil).expect(t, 404, textHTMLUTF8, "No such child: nope.txt")
}

func TestDirectoryLinks(t *testing.T) {
	a := newTestAPI(t, nil)
	dir := a.mkdir("&format=MDMF")
	if !strings.HasPrefix(dir, "URI:DIR2-MDMF:") {
		t.Fatalf("format=MDMF made %s", dir)
	}
	p := "/uri/" + url.PathEscape(dir)
	lit := "URI:LIT:nbswy3dp"
	sub := a.mkdir("")

	// PUT ?t=uri links a cap; replace=only-files keeps directories.
	a.do(http.MethodPut, p+"/sub?t=uri", strings.NewReader(sub)).expect(t, 200, "text/html", sub)
	a.do(http.MethodPut, p+"/f?t=uri", strings.NewReader(lit)).expect(t, 200, "text/html", lit)
	a.do(http.MethodPut, p+"/sub?t=uri&replace=only-files", strings.NewReader(lit)).expect(t, 409, textPlainUTF8, "There was already a child")
	a.do(http.MethodPut, p+"/f?t=uri&replace=only-files", strings.NewReader(lit)).expect(t, 200, "text/html", lit)
	a.do(http.MethodPut, p+"/g?t=uri&replace=sometimes", strings.NewReader(lit)).expect(t, 400, textPlainUTF8, "invalid replace= argument: 'sometimes'")
	a.do(http.MethodPut, p+"/g?t=uri", strings.NewReader("URI:NEWKIND:x")).expect(t, 400, textPlainUTF8, "MustNotBeUnknownRWError: an operation to add a child named 'g'")
	// ... and replaces a directory link with another cap.
	other := a.mkdir("")
	a.do(http.MethodPut, p+"/sub?t=uri", strings.NewReader(other)).expect(t, 200, "text/html", other)
	a.do(http.MethodGet, p+"/sub?t=uri", nil).expect(t, 200, "text/plain", other)

	// set_children: metadata kept as given (plus Tahoe's own), bad caps refused.
	a.do(http.MethodPost, p+"?t=set_children", strings.NewReader(`{"m": ["filenode", {"ro_uri": "`+lit+`", "metadata": {"k": 1}}]}`)).
		expect(t, 200, "text/html", "Okay so I did it.")
	r := a.do(http.MethodGet, p+"/m?t=json", nil)
	if !strings.Contains(r.body, `"k": 1`) || !strings.Contains(r.body, `"linkcrtime"`) {
		t.Errorf("set_children metadata: %s", r.body)
	}
	a.do(http.MethodPost, p+"?t=set_children", strings.NewReader(`{"x": ["filenode", {"ro_uri": "URI:SSK:zz"}]}`)).expect(t, 400, textPlainUTF8, "invalid capability")
	a.do(http.MethodPost, p+"?t=set_children", strings.NewReader(`{"x": ["filenode"]}`)).expect(t, 400, textPlainUTF8, "want [TYPE, PROPDICT]")
	a.do(http.MethodPost, p+"?t=set_children", strings.NewReader(`{"x": ["filenode", {"ro_uri": "ro.`+strings.Replace(dir, "URI:", "URI:", 1)+`"}]}`)).
		expect(t, 400, textPlainUTF8, "MustBeReadonlyError")

	// t=uri by POST, t=unlink with when_done.
	a.do(http.MethodPost, p+"?t=uri&name=h&uri="+url.QueryEscape(lit), nil).expect(t, 200, "text/html", lit)
	a.do(http.MethodPost, p+"?t=uri&name=h", nil).expect(t, 400, textPlainUTF8, "set-uri requires a uri")
	r = a.do(http.MethodPost, p+"?t=unlink&name=h&when_done=/done", nil)
	if r.code != 302 || r.h.Get("Location") != "/done" {
		t.Errorf("unlink with when_done: %d %q", r.code, r.h.Get("Location"))
	}
	a.do(http.MethodPost, p+"?t=unlink&name=h", nil).expect(t, 404, textPlainUTF8, "No such child: h")

	// mkdir names, replace.
	a.do(http.MethodPost, p+"?t=mkdir&name=a/b", nil).expect(t, 400, textPlainUTF8, "name= may not contain a slash")
	a.do(http.MethodPost, p+"?t=mkdir&name=f&replace=false", nil).expect(t, 409, textPlainUTF8, "There was already a child")
	a.do(http.MethodPost, p+"?t=mkdir-immutable&name=imm", strings.NewReader(`{"x": ["filenode", {"ro_uri": "`+lit+`"}]}`)).expect(t, 200, "text/html", "URI:DIR2-LIT:")
	a.do(http.MethodPost, p+"?t=mkdir-with-children&name=kids&format=mdmf", strings.NewReader(`{"x": ["filenode", {"ro_uri": "`+lit+`", "metadata": {"a": "b"}}]}`)).
		expect(t, 200, "text/html", "URI:DIR2-MDMF:")
	r = a.do(http.MethodGet, p+"/kids/x?t=json", nil)
	if !strings.Contains(r.body, `"metadata": {`+"\n"+`   "a": "b"`+"\n"+`  }`) {
		t.Errorf("mkdir-with-children metadata: %s", r.body)
	}

	// Relinking into a path that does not exist, rename of the same name.
	a.do(http.MethodPost, p+"?t=relink&from_name=f&to_dir="+url.QueryEscape(dir)+"/nowhere", nil).expect(t, 404, textPlainUTF8, "no such child")
	a.do(http.MethodPost, p+"?t=relink&from_name=f&to_dir=not-a-cap", nil).expect(t, 400, textPlainUTF8, "to_dir is not a directory")
	a.do(http.MethodPost, p+"?t=relink&to_name=x", nil).expect(t, 400, textPlainUTF8, "from_name= is required")
	a.do(http.MethodPost, p+"?t=rename&from_name=zz&to_name=zz", nil).expect(t, 200, "text/html", "thing moved")

	// The checker's operations (see deep_test.go).
	a.do(http.MethodPost, p+"?t=check", nil).expect(t, 200, "text/html", "<title>Tahoe-LAFS - Check Results</title>")
	a.do(http.MethodPost, p+"?t=start-manifest", nil).expect(t, 400, textPlainUTF8, "slow operation requires ophandle=")
	a.do(http.MethodPost, p+"?t=start-manifest&ophandle=x", nil).expect(t, 302, "", "/operations/x")

	// The rename form and the info page.
	a.do(http.MethodGet, p+"?t=rename-form&name=f", nil).expect(t, 200, "text/html", `name="from_name" readonly="true" value="f"`)
	a.do(http.MethodGet, p+"?t=info", nil).expect(t, 200, "text/html", "Directory writecap</th><td><tt>"+dir)
}

func TestDirectoryReadOnly(t *testing.T) {
	a := newTestAPI(t, nil)
	dir := a.mkdir("")
	p := "/uri/" + url.PathEscape(dir)
	a.do(http.MethodPost, p+"?t=mkdir&name=sub", nil).expect(t, 200, "text/html", "URI:DIR2:")
	m := a.do(http.MethodPut, p+"/sub/m.txt?format=SDMF", strings.NewReader("mutable")).body
	if !strings.HasPrefix(m, "URI:SSK:") {
		t.Fatalf("mutable child: %s", m)
	}
	ro := roCap(t, dir)
	rp := "/uri/" + url.PathEscape(ro)

	// Nothing read through the read cap shows a write cap.
	for _, path := range []string{rp, rp + "?t=json", rp + "/sub", rp + "/sub?t=json", rp + "/sub/m.txt?t=json", rp + "/sub/m.txt?t=uri", rp + "?t=info", rp + "/sub?t=uri"} {
		r := a.do(http.MethodGet, path, nil)
		if r.code != 200 {
			t.Errorf("GET %s: %d %s", path, r.code, r.body)
		}
		for _, w := range []string{"URI:DIR2:", "URI:SSK:", "rw_uri"} {
			if strings.Contains(r.body, w) {
				t.Errorf("GET %s shows %s:\n%s", path, w, r.body)
			}
		}
	}
	a.do(http.MethodGet, rp, nil).expect(t, 200, "text/html", "No upload forms: directory is read-only")
	a.do(http.MethodGet, rp+"/sub/m.txt", nil).expect(t, 200, "text/plain", "mutable")

	// Changes through it are refused with 403, before anything is stored.
	for _, c := range []struct{ method, path string }{
		{http.MethodPut, rp + "/x.txt"},
		{http.MethodPut, rp + "/sub/x.txt?format=MDMF"},
		{http.MethodPut, rp + "/sub/m.txt?t=uri"},
		{http.MethodPost, rp + "?t=mkdir&name=x"},
		{http.MethodPost, rp + "/sub?t=unlink&name=m.txt"},
		{http.MethodPost, rp + "?t=rename&from_name=sub&to_name=x"},
		{http.MethodDelete, rp + "/sub"},
	} {
		a.do(c.method, c.path, strings.NewReader("URI:LIT:nbswy3dp")).expect(t, 403, textPlainUTF8, "NotWriteableError")
	}
	// A path that would make a directory in it: the error page.
	a.do(http.MethodPut, rp+"/new/x.txt", strings.NewReader("x")).expect(t, 403, textHTMLUTF8, "NotWriteableError")
	// A mutable file reached through it is read-only too.
	a.do(http.MethodPut, rp+"/sub/m.txt", strings.NewReader("x")).expect(t, 400, textPlainUTF8, "replace or update requested with read-only cap")
	a.do(http.MethodGet, p+"/sub/m.txt", nil).expect(t, 200, "text/plain", "mutable")

	// Immutable directories carry an ETag.
	imm := a.do(http.MethodPost, "/uri?t=mkdir-immutable", strings.NewReader(`{"a": ["filenode", {"ro_uri": "URI:LIT:nbswy3dp"}], "b": ["filenode", {"ro_uri": "URI:LIT:mfrggzdf"}], "c": ["filenode", {"ro_uri": "URI:LIT:mnxw2zlu"}]}`)).body
	ip := "/uri/" + url.PathEscape(imm)
	r := a.do(http.MethodGet, ip+"?t=json", nil)
	etag := r.h.Get("ETag")
	if !strings.HasPrefix(imm, "URI:DIR2-CHK:") || !strings.HasPrefix(etag, "DIR:") || !strings.HasSuffix(etag, "-json") {
		t.Fatalf("immutable dir %s: ETag %q", imm, etag)
	}
	if r := a.do(http.MethodGet, ip+"?t=json", nil, "If-None-Match", etag); r.code != 304 {
		t.Errorf("If-None-Match: %d", r.code)
	}
	a.do(http.MethodGet, ip, nil).expect(t, 200, "text/html", "(immutable)")
	a.do(http.MethodPost, ip+"?t=mkdir&name=x", nil).expect(t, 403, textPlainUTF8, "an immutable directory cannot be changed")
}

func TestMutableFileAnswers(t *testing.T) {
	a := newTestAPI(t, nil)
	dir := a.mkdir("")
	p := "/uri/" + url.PathEscape(dir)
	data := strings.Repeat("0123456789", 20)
	k := a.do(http.MethodPut, p+"/m.txt?format=MDMF", strings.NewReader(data)).body
	if !strings.HasPrefix(k, "URI:MDMF:") {
		t.Fatalf("PUT format=MDMF: %s", k)
	}
	// PUT onto an existing mutable child writes the file, keeping its cap.
	a.do(http.MethodPut, p+"/m.txt", strings.NewReader(data+"!")).expect(t, 200, "text/html", k)
	a.do(http.MethodPut, p+"/m.txt?offset=5", strings.NewReader("#####")).expect(t, 200, "text/html", k)
	want := data[:5] + "#####" + data[10:] + "!"
	a.do(http.MethodGet, p+"/m.txt", nil).expect(t, 200, "text/plain", want)
	a.do(http.MethodGet, "/uri/"+url.PathEscape(k), nil, "Range", "bytes=3-12").expect(t, 206, "text/plain", want[3:13])
	r := a.do(http.MethodHead, "/uri/"+url.PathEscape(k)+"?filename=x.html", nil)
	if r.code != 200 || r.h.Get("Content-Length") != fmt.Sprint(len(want)) || r.h.Get("Content-Type") != "text/html" || r.h.Get("ETag") != "" {
		t.Errorf("HEAD: %d %v", r.code, r.h)
	}
	a.do(http.MethodGet, "/named/"+url.PathEscape(k)+"/copy.txt", nil).expect(t, 200, "text/plain", want)
	a.do(http.MethodPut, p+"/m.txt?offset=9999", strings.NewReader("x")).expect(t, 400, textPlainUTF8, "past the end of the file (201 bytes)")
	a.do(http.MethodPut, p+"/m.txt?replace=false", strings.NewReader("x")).expect(t, 409, textPlainUTF8, "There was already a child")

	// t=json of the child: the file's size and the link's metadata.
	r = a.do(http.MethodGet, p+"/m.txt?t=json", nil)
	for _, part := range []string{`"format": "MDMF"`, `"size": 201`, `"rw_uri": "` + k, `"linkcrtime"`} {
		if !strings.Contains(r.body, part) {
			t.Errorf("t=json lacks %s:\n%s", part, r.body)
		}
	}
	a.do(http.MethodGet, "/uri/"+url.PathEscape(k)+"?t=info", nil).expect(t, 200, "text/html", "More Info for mutable file (mdmf) (SI=")
	a.do(http.MethodGet, "/uri/"+url.PathEscape(k)+"?t=readonly-uri", nil).expect(t, 200, "text/plain", "URI:MDMF-RO:")

	// POST t=upload to a directory onto the existing mutable child.
	body, ct := multipartBody(t, "file", "from a form", "name", "m.txt")
	a.do(http.MethodPost, p+"?t=upload", body, "Content-Type", ct).expect(t, 200, "text/html", k)
	a.do(http.MethodGet, p+"/m.txt", nil).expect(t, 200, "text/plain", "from a form")
	body, ct = multipartBody(t, "file", "no name")
	a.do(http.MethodPost, p+"?t=upload&name=+", body, "Content-Type", ct).expect(t, 400, textPlainUTF8, "upload requires a name")

	// A mutable file with no shares.
	missing := "/uri/URI%3ASSK%3Aq6hru6aoq3sq5ksswfl5r4eeau%3Akanl6hwtqw5vritz77s2j44zg3pl34ont6etjs4pcjckzbihmz5a"
	a.do(http.MethodHead, missing, nil).expect(t, 410, textPlainUTF8, "")
	r = a.do(http.MethodGet, missing+"?t=json", nil)
	if r.code != 200 || strings.Contains(r.body, "size") {
		t.Errorf("t=json of a missing mutable file: %d %s", r.code, r.body)
	}
}

// TestConcurrentPuts links children into one directory from many requests
// at once: every one of them is there afterwards.
func TestConcurrentPuts(t *testing.T) {
	a := newTestAPI(t, nil)
	dir := a.mkdir("")
	p := "/uri/" + url.PathEscape(dir)
	var wg sync.WaitGroup
	for i := range 5 {
		wg.Go(func() {
			for {
				r := a.do(http.MethodPut, fmt.Sprintf("%s/f%d?t=uri", p, i), strings.NewReader("URI:LIT:nbswy3dp"))
				if r.code == 409 && strings.HasPrefix(r.body, "UncoordinatedWriteError") {
					continue // told so; linking the same cap again is harmless
				}
				if r.code != 200 {
					t.Errorf("PUT f%d: %d %s", i, r.code, r.body)
				}
				return
			}
		})
	}
	wg.Wait()
	if _, props := a.listing(p); len(children(props)) != 5 {
		t.Errorf("%d children: %v", len(children(props)), props)
	}
}

func TestQuoteOutputBare(t *testing.T) {
	for in, want := range map[string]string{
		"no-such-child": "no-such-child",
		"a b\nc":        "a b\nc",
		"it's":          `"it's"`,
		`"quoted"`:      `'"quoted"'`,
		"tab\there":     `"tab\x09here"`,
		"café":          "café",
	} {
		if got := quoteOutputBare(in); got != want {
			t.Errorf("quoteOutputBare(%q) = %q, want %q", in, got, want)
		}
	}
}
