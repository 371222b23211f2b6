package webapi

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/client"
	"github.com/lafs/lafs/internal/tahoevec"
	"github.com/lafs/lafs/internal/testgrid"
)

// The test environment: a client and web API over an in-process grid,
// and fake node statuses.

// testClient is a client configured as the recording's: the same
// convergence secret and 3-of-10, happy 7, 1 MiB segments.
func testClient(t testing.TB, g lafs.Peers) *client.Client {
	t.Helper()
	conv, err := lafs.ParseBase32(tahoevec.LoadGrid(t).ConvergenceB32)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(client.Config{
		Params:      lafs.Params{K: 3, Happy: 7, N: 10, SegmentSize: 1 << 20},
		Convergence: conv, LeaseSecret: []byte("lease secret of the web API tests"),
		Peers: g, TempDir: t.TempDir(), MutableRetryDelay: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// fakeStatus reports the test grid's servers as connected, like the
// recording's.
type fakeStatus struct {
	g   *testgrid.Grid
	now time.Time
}

func (f fakeStatus) Node() NodeInfo {
	return NodeInfo{Nickname: "webapi-test", NodeID: "v0-test", Version: "lafs/test"}
}

func (f fakeStatus) Introducers() []IntroducerStatus {
	return []IntroducerStatus{{URL: "pb://tubidtubidtubid@tcp:127.0.0.1:41000/swissnum", Connected: true, Since: f.now}}
}

func (f fakeStatus) Servers() []ServerStatus {
	var out []ServerStatus
	for _, s := range f.g.Servers {
		out = append(out, ServerStatus{ID: s.ID, Nickname: s.Nickname, Connected: true, Since: f.now,
			LastReceivedData: f.now, Version: "tahoe-lafs/1.20.0", AvailableSpace: 74381452800})
	}
	return out
}

func (f fakeStatus) Stats() Stats {
	return Stats{Stats: map[string]float64{
		"cpu_monitor.1min_avg": 0.5, "cpu_monitor.5min_avg": 0.25, "cpu_monitor.15min_avg": 0.125, "cpu_monitor.total": 1.5,
	}}
}

type testAPI struct {
	t   *testing.T
	g   *testgrid.Grid
	srv *httptest.Server
}

func newTestAPI(t *testing.T, st func(*testgrid.Grid) Status) *testAPI {
	g := testgrid.New(t, 10)
	var s Status
	if st != nil {
		s = st(g)
	}
	h := New(testClient(t, g), s, Options{TempDir: t.TempDir()})
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		h.(io.Closer).Close()
	})
	return &testAPI{t, g, srv}
}

type reply struct {
	code int
	h    http.Header
	body string
}

func (a *testAPI) do(method, path string, body io.Reader, headers ...string) reply {
	a.t.Helper()
	req, err := http.NewRequest(method, a.srv.URL+path, body)
	if err != nil {
		a.t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	hc := &http.Client{Transport: &http.Transport{DisableCompression: true}, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatal(err)
	}
	if resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("Referrer-Policy") != "no-referrer" {
		a.t.Errorf("%s %s: security headers missing: %v", method, path, resp.Header)
	}
	return reply{resp.StatusCode, resp.Header, string(b)}
}

func (a *testAPI) put(data string) string {
	a.t.Helper()
	r := a.do(http.MethodPut, "/uri", strings.NewReader(data))
	if r.code != 200 {
		a.t.Fatalf("PUT /uri: %d %s", r.code, r.body)
	}
	return r.body
}

func (r reply) expect(t *testing.T, code int, contentType, bodyPart string) {
	t.Helper()
	if r.code != code || contentType != "" && r.h.Get("Content-Type") != contentType || !strings.Contains(r.body, bodyPart) {
		t.Errorf("got %d %q %q; want %d %q containing %q", r.code, r.h.Get("Content-Type"), trim([]byte(r.body)), code, contentType, bodyPart)
	}
}

type stubStatus struct {
	intro   []IntroducerStatus
	servers []ServerStatus
	stats   Stats
}

func (s stubStatus) Node() NodeInfo                  { return NodeInfo{Nickname: "stub"} }
func (s stubStatus) Introducers() []IntroducerStatus { return s.intro }
func (s stubStatus) Servers() []ServerStatus         { return s.servers }
func (s stubStatus) Stats() Stats                    { return s.stats }

// multipartBody builds a form; fields are name, value pairs, "file" given
// as a file part.
func multipartBody(t *testing.T, fields ...string) (io.Reader, string) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for i := 0; i+1 < len(fields); i += 2 {
		if fields[i] == "file" {
			w, _ := mw.CreateFormFile("file", "f.txt")
			w.Write([]byte(fields[i+1]))
		} else {
			mw.WriteField(fields[i], fields[i+1])
		}
	}
	mw.Close()
	return &b, mw.FormDataContentType()
}
