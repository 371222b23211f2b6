package webapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/client"
	"github.com/lafs/lafs/immutable"
	"github.com/lafs/lafs/internal/testgrid"
	"github.com/lafs/lafs/mutable"
)

// These tests cover what the recording does not: the answers Tahoe's code
// gives that were not recorded, and lafs's own choices.

const textPlainUTF8 = "text/plain;charset=utf-8"

func TestFileAnswers(t *testing.T) {
	a := newTestAPI(t, nil)
	data := strings.Repeat("lafs web API test file\n", 10)
	k := a.put(data)
	p := "/uri/" + url.PathEscape(k)

	// Overwriting, unlinking and unknown methods on an immutable file.
	a.do(http.MethodPut, p, strings.NewReader("x")).expect(t, 400, textPlainUTF8, "cannot be changed")
	a.do(http.MethodPut, p+"?replace=false", strings.NewReader("x")).expect(t, 409, textPlainUTF8, "you asked me to not replace it")
	a.do(http.MethodPut, p+"?replace=maybe", strings.NewReader("x")).expect(t, 400, textPlainUTF8, "invalid replace= argument: 'maybe'")
	a.do(http.MethodPut, p+"?offset=5", strings.NewReader("x")).expect(t, 400, textPlainUTF8, "append operation invoked on an immutable cap")
	a.do(http.MethodPut, p+"?offset=x", strings.NewReader("x")).expect(t, 400, textPlainUTF8, "invalid offset= argument: 'x'")
	a.do(http.MethodPut, p+"?t=bogus", strings.NewReader("x")).expect(t, 400, textPlainUTF8, "PUT to a file: bad t=bogus")
	a.do(http.MethodPost, p+"?t=upload", nil).expect(t, 400, textPlainUTF8, "cannot be changed")
	a.do(http.MethodPost, p+"?t=upload&replace=false", nil).expect(t, 409, textPlainUTF8, "not replace")
	a.do(http.MethodPost, p+"?t=bogus", nil).expect(t, 400, textPlainUTF8, "POST to file: bad t=bogus")
	a.do(http.MethodPost, p+"?t=upload&replace=x", nil).expect(t, 400, textPlainUTF8, "invalid boolean argument: b'x'")
	a.do(http.MethodDelete, p, nil).expect(t, 400, textPlainUTF8, "only a directory entry can be unlinked")
	a.do("PROPFIND", p, nil).expect(t, 501, "text/html; charset=utf-8", "I don't know how to treat a PROPFIND request.")

	// Below a file.
	a.do(http.MethodGet, p+"/extra", nil).expect(t, 400, "text/html; charset=utf-8", "<h1>Files have no children named 'extra'</h1>")
	a.do(http.MethodGet, p+"/it's", nil).expect(t, 400, "", `Files have no children named "it's"`)
	a.do(http.MethodGet, p+"/%3Cb%3E", nil).expect(t, 400, "", "named '&lt;b&gt;'")
	a.do(http.MethodPut, p+"/inner", strings.NewReader("x")).expect(t, 409, "", "Cannot create directory 'inner', because its parent is a file, not a directory")

	// Arguments.
	a.do(http.MethodGet, p+"?save=maybe", nil).expect(t, 400, textPlainUTF8, "invalid boolean argument: b'maybe'")
	a.do(http.MethodHead, p+"?t=info", nil).expect(t, 400, textPlainUTF8, "")
	r := a.do(http.MethodGet, p+"?filename=a.txt.gz&save=1", nil)
	if r.h.Get("Content-Type") != "text/plain" || r.h.Get("Content-Encoding") != "gzip" || r.h.Get("Content-Disposition") != `attachment; filename="a.txt.gz"` {
		t.Errorf("filename=a.txt.gz: %v", r.h)
	}
	r = a.do(http.MethodGet, p+`?filename=say+"hi".txt&save=true`, nil)
	if cd := r.h.Get("Content-Disposition"); cd != `attachment; filename="say \"hi\".txt"` {
		t.Errorf("Content-Disposition %q", cd)
	}
	r = a.do(http.MethodGet, p, nil, "If-None-Match", "*")
	if r.code != 304 {
		t.Errorf("If-None-Match *: %d", r.code)
	}
	r = a.do(http.MethodGet, p+"?t=uri", nil, "If-None-Match", "other "+r.h.Get("ETag")+"uri")
	if r.code != 304 {
		t.Errorf("If-None-Match with two tags: %d", r.code)
	}

	// /file and /named.
	named := "/named/" + url.PathEscape(k) + "/sub/report.html?save=true"
	r = a.do(http.MethodGet, named, nil)
	if r.code != 200 || r.body != data || r.h.Get("Content-Type") != "text/html" || r.h.Get("Content-Disposition") != `attachment; filename="report.html"` {
		t.Errorf("GET %s: %d %v", named, r.code, r.h)
	}
	a.do(http.MethodPost, "/file/"+url.PathEscape(k)+"/x", nil).expect(t, 400, "text/html; charset=utf-8", "/file can only be used with GET or HEAD")
	a.do(http.MethodGet, "/file", nil).expect(t, 404, textPlainUTF8, "/file must be followed by a file-cap and a name")
	a.do(http.MethodGet, "/file/not-a-cap/x", nil).expect(t, 400, "", "b'not-a-cap' is not a file-cap")
	a.do(http.MethodGet, "/file/URI%3ADIR2-LIT%3A/x", nil).expect(t, 400, "", "is not a file-cap")

	// t=info links to the raw data relative to the page.
	r = a.do(http.MethodGet, p+"?t=info", nil)
	if want := `href="../file/` + pyQuote(k, "/") + `/@@named=/raw.txt"`; !strings.Contains(r.body, want) {
		t.Errorf("t=info lacks %s:\n%s", want, r.body)
	}
}

func TestGetURIRedirects(t *testing.T) {
	a := newTestAPI(t, nil)
	k := a.put("tiny")
	r := a.do(http.MethodGet, "/uri?uri="+url.QueryEscape(k)+"&filename=a%20b.txt&save=true", nil)
	if want := a.srv.URL + "/uri/" + pyQuote(k, "/") + "?filename=a%20b.txt&save=true"; r.code != 302 || r.h.Get("Location") != want {
		t.Errorf("got %d %q, want 302 %q", r.code, r.h.Get("Location"), want)
	}
	a.do(http.MethodGet, "/uri?uri=not-a-cap", nil).expect(t, 400, textPlainUTF8, "Invalid capability")
	a.do(http.MethodGet, "/uri?uri=URI:CHK:zz", nil).expect(t, 400, textPlainUTF8, "Invalid capability")
	r = a.do(http.MethodGet, "/uri/?uri="+url.QueryEscape(k), nil)
	if r.code != 302 || r.h.Get("Location") != "/uri?uri="+url.QueryEscape(k) {
		t.Errorf("/uri/?uri=: %d %q", r.code, r.h.Get("Location"))
	}
	r = a.do(http.MethodGet, "/cap/"+url.PathEscape(k), nil)
	if r.code != 200 || r.body != "tiny" {
		t.Errorf("/cap/: %d %q", r.code, r.body)
	}
}

func TestUnknownCaps(t *testing.T) {
	a := newTestAPI(t, nil)
	for _, c := range []struct{ cap, json string }{
		{"URI:NEWKIND:x", `["unknown",{}]`},
		{"ro.URI:NEWKIND:x", `["unknown",{"ro_uri":"ro.URI:NEWKIND:x"}]`},
		{"imm.URI:NEWKIND:x", `["unknown",{"ro_uri":"imm.URI:NEWKIND:x","mutable":false}]`},
		{"ro.URI:CHK:zz", `["unknown",{}]`},
		{"URI:CHK-Verifier:lmsdkcpd4seszjp4stnjgrgovy:faztw7e7yekiz47mk7tsavxru4twrapag3labfwxkl5x64dzgc7a:3:10:920", `["unknown",{}]`},
	} {
		r := a.do(http.MethodGet, "/uri/"+url.PathEscape(c.cap)+"?t=json", nil)
		var compact bytes.Buffer
		json.Compact(&compact, []byte(r.body))
		if r.code != 200 || compact.String() != c.json {
			t.Errorf("%s: %d %s, want %s", c.cap, r.code, r.body, c.json)
		}
	}
	a.do(http.MethodGet, "/uri/URI%3ANEWKIND%3Ax?t=info", nil).expect(t, 200, "text/html", "<title>More Info for unknown</title>")
	a.do(http.MethodHead, "/uri/URI%3ANEWKIND%3Ax", nil).expect(t, 400, textPlainUTF8, "")
	r := a.do(http.MethodPost, "/uri/URI%3ANEWKIND%3Ax", nil)
	if r.code != 405 || r.h.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST on an unknown cap: %d Allow %q", r.code, r.h.Get("Allow"))
	}
	a.do(http.MethodGet, "/uri/URI%3ANEWKIND%3Ax/child", nil).expect(t, 404, "", "No Such Resource")
}

func TestDownloadFailures(t *testing.T) {
	a := newTestAPI(t, nil)
	k := a.put(strings.Repeat("x", 1000))
	for i, f := range a.g.Faults {
		if i >= 2 {
			f.Set(func(f *testgrid.Faults) { f.Offline = true })
		}
	}
	p := "/uri/" + url.PathEscape(k)
	a.do(http.MethodGet, p, nil).expect(t, 410, textPlainUTF8, "NotEnoughSharesError: ")
	a.do(http.MethodHead, p, nil).expect(t, 200, "text/plain", "")
	a.do(http.MethodGet, p+"?t=json", nil).expect(t, 200, "text/plain", `"size": 1000`)
	// Uploads need happy=7 servers. (503 once immutable's placement error
	// wraps ErrUnhappy; see TestClassify.)
	r := a.do(http.MethodPut, "/uri", strings.NewReader(strings.Repeat("y", 1000)))
	if r.code < 500 || r.h.Get("Content-Type") != textPlainUTF8 || !strings.Contains(r.body, "unhappy") {
		t.Errorf("unhappy upload: %d %q", r.code, r.body)
	}
}

func TestEmptyFile(t *testing.T) {
	a := newTestAPI(t, nil)
	k := a.put("")
	if k != "URI:LIT:" {
		t.Fatalf("empty file: %q", k)
	}
	r := a.do(http.MethodGet, "/uri/URI%3ALIT%3A", nil, "Range", "bytes=-5")
	// Tahoe's answer, odd as it is.
	if r.code != 206 || r.h.Get("Content-Range") != "bytes 0--1/0" || r.body != "" {
		t.Errorf("suffix range on an empty file: %d %v", r.code, r.h)
	}
	a.do(http.MethodGet, "/uri/URI%3ALIT%3A", nil, "Range", "bytes=0-").expect(t, 200, "text/plain", "")
}

func TestFormUploads(t *testing.T) {
	a := newTestAPI(t, nil)
	data := strings.Repeat("uploaded through the welcome page's form\n", 5)
	want := a.put(data)

	// The welcome page's form: t=upload comes as a field after the file.
	body, ct := multipartBody(t, "file", data, "t", "upload", "format", "chk")
	a.do(http.MethodPost, "/uri", body, "Content-Type", ct).expect(t, 200, "text/html", want)

	body, ct = multipartBody(t, "file", data, "when_done", "/done?cap=%(uri)s")
	r := a.do(http.MethodPost, "/uri?t=upload", body, "Content-Type", ct)
	if loc := a.srv.URL + "/done?cap=" + pyQuote(want, "/"); r.code != 302 || r.h.Get("Location") != loc {
		t.Errorf("when_done: %d %q, want %q", r.code, r.h.Get("Location"), loc)
	}
	body, ct = multipartBody(t, "file", data, "format", "mdmf")
	a.do(http.MethodPost, "/uri", body, "Content-Type", ct).expect(t, 200, "text/html", "URI:MDMF:")
	body, ct = multipartBody(t, "t", "mkdir", "format", "mdmf")
	a.do(http.MethodPost, "/uri", body, "Content-Type", ct).expect(t, 200, "text/html", "URI:DIR2-MDMF:")
	body, ct = multipartBody(t, "file", data)
	a.do(http.MethodPost, "/uri?t=upload&format=bogus", body, "Content-Type", ct).expect(t, 400, textPlainUTF8, "Unknown format: bogus, I know CHK, SDMF, MDMF")
	a.do(http.MethodPost, "/uri?t=upload", strings.NewReader("t=upload"), "Content-Type", "application/x-www-form-urlencoded").
		expect(t, 400, textPlainUTF8, `"file" field`)
	a.do(http.MethodPost, "/uri?t=upload", strings.NewReader("--x\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabc"),
		"Content-Type", "multipart/form-data; boundary=x").expect(t, 400, textPlainUTF8, "EOF")
	a.do(http.MethodPut, "/uri?mutable=true", strings.NewReader(data)).expect(t, 200, "text/html", "URI:SSK:")
	a.do(http.MethodPut, "/uri?mutable=perhaps", strings.NewReader(data)).expect(t, 400, textPlainUTF8, "invalid boolean argument: b'perhaps'")
	a.do(http.MethodPut, "/uri?t=mkdir", nil).expect(t, 200, "text/html", "URI:DIR2:")
	a.do(http.MethodPut, "/uri?t=mkdir&format=chk", nil).expect(t, 400, textPlainUTF8, "format=CHK not accepted for PUT /uri?t=mkdir")
	a.do(http.MethodPost, "/uri?t=mkdir", strings.NewReader(`{"a": []}`)).expect(t, 400, textPlainUTF8, "try t=mkdir-with-children instead")
}

func TestStatusPages(t *testing.T) {
	// Without a Status.
	a := newTestAPI(t, nil)
	a.do(http.MethodGet, "/?t=json", nil).expect(t, 200, "application/json; charset=utf-8", "{\n \"introducers\": {\n  \"statuses\": []\n }")
	a.do(http.MethodGet, "/", nil).expect(t, 200, "text/html", "No storage servers known")
	a.do(http.MethodGet, "/?t=bogus", nil).expect(t, 400, "text/html; charset=utf-8", "Unknown t value: 'bogus'")
	a.do(http.MethodGet, "/?t=", nil).expect(t, 400, "text/html; charset=utf-8", "Unknown t value: ''")
	a.do(http.MethodGet, "/statistics?t=xml", nil).expect(t, 400, "", "Bad Format")
	a.do(http.MethodGet, "/statistics/", nil).expect(t, 200, "text/html", "Operational Statistics")

	// The web API counts its own uploads and downloads.
	k := a.put(strings.Repeat("z", 100))
	a.do(http.MethodGet, "/uri/"+url.PathEscape(k), nil)
	r := a.do(http.MethodGet, "/statistics?t=json", nil)
	var s struct{ Counters map[string]int64 }
	json.Unmarshal([]byte(r.body), &s)
	if s.Counters["uploader.files_uploaded"] != 1 || s.Counters["uploader.bytes_uploaded"] != 100 ||
		s.Counters["downloader.files_downloaded"] != 1 || s.Counters["downloader.bytes_downloaded"] != 100 {
		t.Errorf("counters %v", s.Counters)
	}

	// With one, including a server that is down and odd gauges.
	now := time.Now()
	b := newTestAPI(t, func(g *testgrid.Grid) Status {
		return stubStatus{
			intro: []IntroducerStatus{{URL: "pb://h@example.org:1234/swiss#v=1"}},
			servers: []ServerStatus{{ID: "v0-down", Nickname: "down<1>", LastError: "refused", Since: now},
				{ID: "v0-up", Connected: true, LastReceivedData: now, AvailableSpace: 5e9, Version: "lafs/1"}},
			stats: Stats{Counters: map[string]int64{"uploader.files_uploaded": 7},
				Stats: map[string]float64{"storage_server.latencies.get.99_9_percentile": 0.5, "x.nan": math.NaN()}},
		}
	})
	r = b.do(http.MethodGet, "/?t=json", nil)
	var w welcomeJSON
	if err := json.Unmarshal([]byte(r.body), &w); err != nil {
		t.Fatal(err)
	}
	if w.Introducers.Statuses[0] != "Not connected to tcp:example.org:1234" || w.Servers[0].ConnectionStatus != "failure: refused" ||
		w.Servers[0].AvailableSpace != nil || w.Servers[0].Version != nil || w.Servers[0].LastReceivedData != nil ||
		w.Servers[1].ConnectionStatus != "connected" || *w.Servers[1].AvailableSpace != 5e9 {
		t.Errorf("welcome JSON:\n%s", r.body)
	}
	if strings.Contains(r.body, "swiss") {
		t.Errorf("the introducer's secret is shown:\n%s", r.body)
	}
	b.do(http.MethodGet, "/", nil).expect(t, 200, "text/html", "down&lt;1&gt;")
	r = b.do(http.MethodGet, "/statistics?t=openmetrics", nil)
	for _, line := range []string{
		`tahoe_stats_storage_server_latencies_get{quantile="0.999"} 0.5`,
		"tahoe_stats_x_nan NaN",
		"tahoe_counters_uploader_files_uploaded 7",
		"tahoe_counters_mutable_files_published 0",
	} {
		if !strings.Contains(r.body, line+"\n") {
			t.Errorf("openmetrics lacks %q:\n%s", line, r.body)
		}
	}
	b.do(http.MethodGet, "/statistics?t=json", nil).expect(t, 200, "text/plain", `"x.nan": null`)
}

func TestHelpers(t *testing.T) {
	for in, want := range map[string]string{"json": "b'json'", "it's": `b"it's"`, "a'\"": `b'a\'"'`, "\xff\n": `b'\xff\n'`} {
		if got := pyBytesRepr(in); got != want {
			t.Errorf("pyBytesRepr(%q) = %s, want %s", in, got, want)
		}
	}
	for in, want := range map[string]string{"extra": "'extra'", "it's": `"it's"`, "a\x01": `"a\x01"`, "café": "'café'", "$x": "'$x'", "it's $x": `"it's \$x"`} {
		if got := quoteOutput(in); got != want {
			t.Errorf("quoteOutput(%q) = %s, want %s", in, got, want)
		}
	}
	for in, want := range map[string][2]string{
		"x.txt": {"text/plain", ""}, "page.HTML": {"text/html", ""}, "a.txt.gz": {"text/plain", "gzip"},
		".profile": {"text/plain", ""}, "dir.d/noext": {"text/plain", ""}, "x.diff": {"text/plain", ""},
		"p.png": {"image/png", ""}, "unknown": {"text/plain", ""}, "..png": {"text/plain", ""}, "a..png": {"image/png", ""},
	} {
		if ct, enc := guessType(in); ct != want[0] || enc != want[1] {
			t.Errorf("guessType(%q) = %q %q, want %q", in, ct, enc, want)
		}
	}
	for in, want := range map[string]string{
		"pb://tubid@tcp:127.0.0.1:41000,tcp:other:1/swiss": "tcp:127.0.0.1:41000",
		"pb://hash@example.org:1234/swiss#v=1":             "tcp:example.org:1234",
		"pb://tubid@tor:abc.onion:80/swiss":                "tor:abc.onion:80",
		"nonsense":                                         "",
	} {
		if got := hostHint(in); got != want {
			t.Errorf("hostHint(%q) = %q, want %q", in, got, want)
		}
	}
	if got := unquote("a%2Fb%zz%4", false); got != "a/b%zz%4" {
		t.Errorf("unquote: %q", got)
	}
}

// TestClassify checks the one mapping of error kinds to statuses, for the
// kinds the end-to-end tests cannot easily provoke.
func TestClassify(t *testing.T) {
	for _, c := range []struct {
		err  error
		code int
		text string
	}{
		{fmt.Errorf("placing: %w", immutable.ErrUnhappy), 503, "UploadUnhappinessError: placing: upload unhappy"},
		{fmt.Errorf("x: %w", immutable.ErrNoShares), 410, noSharesText + "x: no shares found"},
		{fmt.Errorf("x: %w", immutable.ErrNotEnoughShares), 410, notEnoughSharesText + "x: not enough good shares"},
		{fmt.Errorf("%w: bad", cap.ErrInvalid), 400, "invalid capability: bad"},
		{fmt.Errorf("x: %w", client.ErrUnknownCap), 400, "x: unknown cap kind"},
		{context.Canceled, 0, ""},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), 504, "timed out: x: context deadline exceeded"},
		{fmt.Errorf("x: %w", mutable.ErrNoShares), 410, unrecoverableText},
		{fmt.Errorf("x: %w", mutable.ErrNotEnoughShares), 410, unrecoverableText},
		{fmt.Errorf("%w: placed 0", mutable.ErrNotEnoughServers), 503, "NotEnoughServersError: not enough servers accepted shares of the mutable file: placed 0"},
		{fmt.Errorf("x: %w", client.ErrNotWritable), 403, "NotWriteableError: x: directory is not writable"},
		{fmt.Errorf("x: %w", client.ErrExists), 409, existingChildText},
		{fmt.Errorf("x: %w", client.ErrUncoordinatedWrite), 409, "UncoordinatedWriteError: x: uncoordinated write: the file was changed by another writer at the same time"},
		{&childError{"sdmf", fmt.Errorf("x: %w", cap.ErrNotImmutable)}, 400, "MustBeDeepImmutableError: a cap passed to this operation for the child named 'sdmf', needed to be immutable but was not. Either the cap is being added to an immutable directory, or it was originally retrieved from an immutable directory as an unknown cap."},
		{errors.New("boom"), 500, "Internal Server Error: boom"},
	} {
		if code, text := classify(c.err); code != c.code || text != c.text {
			t.Errorf("classify(%v) = %d %q, want %d %q", c.err, code, text, c.code, c.text)
		}
	}
}
