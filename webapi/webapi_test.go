package webapi

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lafs/lafs/internal/testgrid"
	"github.com/lafs/lafs/internal/vectors"
)

// recording is tahoe120_webapi.json, the parts these tests use.
type recording struct {
	BaseURL string            `json:"base_url"`
	Caps    map[string]string `json:"caps"`
	Inputs  struct {
		CHKBody []byte `json:"chk_body_b64"`
	} `json:"inputs"`
	Exchanges []exchange `json:"exchanges"`
}

type exchange struct {
	Name, Group, Note string
	Request           struct {
		Method   string
		Path     string
		Headers  [][2]string
		BodyText *string `json:"body_text"`
		BodyB64  []byte  `json:"body_b64"`
	}
	Response struct {
		Status      int
		Headers     [][2]string
		BodyKind    string            `json:"body_kind"`
		BodyJSON    json.RawMessage   `json:"body_json"`
		BodyLines   []json.RawMessage `json:"body_jsonlines"`
		BodyLength  int               `json:"body_length"`
		BodyText    *string           `json:"body_text"`
		HTMLTitle   string            `json:"html_title"`
		Disposition string            `json:"content_disposition_raw_utf8"`
		BodyEndsNL  *bool             `json:"body_ends_with_newline"`
	}
}

func (e exchange) header(name string) (string, bool) {
	for _, h := range e.Response.Headers {
		if strings.EqualFold(h[0], name) {
			return h[1], true
		}
	}
	return "", false
}

// differences are the recorded exchanges this web API deliberately answers
// otherwise than Tahoe 1.20 did: the status it gives, and why.
var differences = map[string]struct {
	status int
	why    string
}{
	// Tahoe's 500s (Python exceptions) for a client's mistakes.
	"post_uri_upload_nofile":      {400, "Tahoe: 500 KeyError 'file'. A form without a file field is the client's mistake."},
	"post_uri_no_t":               {400, "Tahoe: 500 TypeError (no form to read the file from). Same answer as a form without a file."},
	"get_chk_save_only":           {200, `Tahoe: 500 TypeError (its default name "unknown" is a str where bytes are needed). We send the file with filename="unknown", as Tahoe's code means to.`},
	"wrong_method_delete_filecap": {400, "Tahoe: 500 AssertionError. A bare file cap has no directory entry to unlink."},

	"put_mdmf_offset_garbage":  {400, "Tahoe: 500 ValueError. offset= that is not a number is the client's mistake."},
	"put_mdmf_offset_past_end": {400, "Tahoe: 500 AssertionError. Writing past the end would leave a gap; refused with a clear message."},
	"post_chk_upload":          {400, "Tahoe: 500 AssertionError. An immutable file named by its cap cannot be changed."},
	"put_chk_overwrite":        {400, "Tahoe: 500 AssertionError. An immutable file named by its cap cannot be changed."},
	"delete_dir_self":          {400, "Tahoe: 500 AssertionError. A bare directory cap has no directory entry to unlink."},

	// Bad JSON in a request body.
	"post_mkdir_with_children_badjson": {400, "Tahoe: 500 JSONDecodeError. Bad JSON is the client's mistake."},
	"post_set_children_badjson":        {400, "Tahoe: 500 JSONDecodeError. Bad JSON is the client's mistake."},

	// Writes into directories that cannot be changed: 403.
	"put_into_readonly_dir":      {403, "Tahoe: 500 NotWriteableError. A read-only cap does not grant writing."},
	"post_mkdir_in_readonly_dir": {403, "Tahoe: 500 NotWriteableError. A read-only cap does not grant writing."},
	"delete_in_readonly_dir":     {403, "Tahoe: 500 NotWriteableError. A read-only cap does not grant writing."},
	"put_into_immutable_dir":     {403, "Tahoe: 500 NotWriteableError. An immutable directory cannot be changed."},
	"post_relink_to_readonly":    {403, "Tahoe: 500 NotWriteableError. An immutable directory cannot be changed."},
}

// variableBody names the exchanges whose text depends on the grid: the
// text is compared up to the grid's own words.
var variableBody = map[string]string{
	"get_missing_chk": noSharesText,
}

func loadRecording(t *testing.T) *recording {
	t.Helper()
	var rec recording
	if err := json.Unmarshal(vectors.Read(t, "tahoe120_webapi.json"), &rec); err != nil {
		t.Fatalf("tahoe120_webapi.json: %v", err)
	}
	return &rec
}

// replayed are the groups of tahoe120_webapi.json that TestTahoeRecording
// replays; "cli" belongs to the CLI's tests.
var replayed = map[string]bool{"welcome": true, "immutable": true, "mutable": true, "directories": true, "errors": true, "check": true}

// TestTahoeRecording replays every exchange of the groups welcome,
// immutable, mutable, directories, check and errors of
// tahoe120_webapi.json, in the recorded order, against a real in-process
// grid, and compares status, the headers that matter and the bodies.
// Mutable and directory caps differ from Tahoe's (they are random): they
// are mapped by the place they appear in (see capTrans), requests are
// rewritten with ours, and the mapping must stay one-to-one throughout.
// The check group's answers hold what depends on the grid (server IDs,
// directory sizes): they are compared by shape (see compareCheckJSON).
//
// Slow operations are held before they start from their POST until the
// poll the recording made while Tahoe's was still running, so that it
// finds ours running too; the poll after it waits for the operation to
// finish.
func TestTahoeRecording(t *testing.T) {
	rec := loadRecording(t)
	g := testgrid.New(t, 10)
	c := testClient(t, g)
	var mu sync.Mutex
	var lastURI string
	api := New(c, fakeStatus{g, time.Now()}, Options{TempDir: t.TempDir()})
	ops := api.(*handler).ops
	defer api.(*handler).Close()
	var hold chan struct{} // holds the slow operations from starting
	release := func() {
		if hold != nil {
			close(hold)
			hold = nil
			ops.mu.Lock()
			ops.hold = nil
			ops.mu.Unlock()
		}
	}
	defer release()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		lastURI = r.RequestURI
		mu.Unlock()
		api.ServeHTTP(w, r)
	}))
	defer srv.Close()
	hc := &http.Client{
		Transport:     &http.Transport{DisableCompression: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	tr := newCapTrans()
	for _, role := range []string{"missing_chk", "missing_ssk", "missing_mdmf", "missing_dir"} {
		tr.same(rec.Caps[role])
	}

	seen := map[string]bool{}
	for _, e := range rec.Exchanges {
		if !replayed[e.Group] {
			continue
		}
		seen[e.Name] = true
		if strings.HasPrefix(e.Name, "post_start_") {
			release()
			hold = make(chan struct{})
			ops.mu.Lock()
			ops.hold = hold
			ops.mu.Unlock()
		}
		if handle, ok := strings.CutPrefix(e.Request.Path, "/operations/"); ok && !strings.HasSuffix(e.Name, "_in_progress") {
			handle, _, _ = strings.Cut(handle, "?")
			if op, ok := ops.get(handle); ok {
				select {
				case <-op.done:
				case <-time.After(time.Minute):
					t.Fatalf("%s: the operation did not finish", e.Name)
				}
			}
		}
		t.Run(e.Name, func(t *testing.T) {
			var body []byte
			if e.Request.BodyText != nil {
				b, err := tr.rewrite(*e.Request.BodyText)
				if err != nil {
					t.Fatalf("request body: %v", err)
				}
				body = []byte(b)
			} else {
				body = e.Request.BodyB64
			}
			path, err := tr.rewrite(e.Request.Path)
			if err != nil {
				t.Fatalf("request path: %v", err)
			}
			req, err := http.NewRequest(e.Request.Method, srv.URL+path, bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range e.Request.Headers {
				if !strings.EqualFold(h[0], "Content-Length") {
					req.Header.Set(h[0], h[1])
				}
			}
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("Referrer-Policy") != "no-referrer" {
				t.Errorf("X-Frame-Options %q, Referrer-Policy %q", resp.Header.Get("X-Frame-Options"), resp.Header.Get("Referrer-Policy"))
			}
			mu.Lock()
			if lastURI != path {
				t.Errorf("request sent as %q, meant %q", lastURI, path)
			}
			mu.Unlock()
			if d, ok := differences[e.Name]; ok {
				checkDifference(t, e, resp, got, d.status)
				return
			}
			compareExchange(t, rec, tr, srv.URL, e, resp, got)
		})
		if strings.HasSuffix(e.Name, "_in_progress") || strings.HasPrefix(e.Name, "post_start_") && e.Response.Status != http.StatusFound {
			release()
		}
	}
	for name := range differences {
		if !seen[name] {
			t.Errorf("differences lists %s, which is not in the recording's groups", name)
		}
	}
	for _, role := range []string{"sdmf", "sdmf_ro", "mdmf", "mdmf_ro", "dir", "dir_ro", "dir_mdmf", "dir_with_children", "dir_immutable", "dir_immutable_empty"} {
		if _, ok := tr.rec2our[rec.Caps[role]]; !ok && !strings.HasPrefix(rec.Caps[role], "URI:DIR2-CHK:") && rec.Caps[role] != "URI:DIR2-LIT:" {
			t.Errorf("the replay never met the recording's %s cap", role)
		}
	}
}

// checkDifference checks a deliberate difference: the status we chose,
// and a plain-text explanation for every error.
func checkDifference(t *testing.T, e exchange, resp *http.Response, body []byte, status int) {
	t.Helper()
	if resp.StatusCode == e.Response.Status {
		t.Errorf("status %d is what Tahoe sent: remove %s from differences", resp.StatusCode, e.Name)
	}
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d; body %q", resp.StatusCode, status, body)
	}
	if status >= 400 {
		if ct := resp.Header.Get("Content-Type"); ct != "text/plain;charset=utf-8" {
			t.Errorf("Content-Type %q", ct)
		}
		if status == 501 && !bytes.Contains(body, []byte("not supported yet")) {
			t.Errorf("501 body %q does not say what is not supported", body)
		}
		t.Logf("%d %s", status, body)
	}
	if e.Name == "get_chk_save_only" {
		if cd := resp.Header.Get("Content-Disposition"); cd != `attachment; filename="unknown"` {
			t.Errorf("Content-Disposition %q", cd)
		}
	}
}

// TestConvergentCaps checks that the test client makes the very caps the
// recording's Tahoe client made, which the replay relies on.
func TestConvergentCaps(t *testing.T) {
	rec := loadRecording(t)
	g := testgrid.New(t, 10)
	srv := httptest.NewServer(New(testClient(t, g), nil, Options{}))
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/uri", bytes.NewReader(rec.Inputs.CHKBody))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != rec.Caps["chk"] {
		t.Fatalf("PUT /uri gave %q, Tahoe %q", b, rec.Caps["chk"])
	}
}
