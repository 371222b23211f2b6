package webapi

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/client"
	"github.com/lafs/lafs/internal/testgrid"
	"github.com/lafs/lafs/internal/testutil"
)

// The tests of request bodies that stall, trickle or break HTTP's rules,
// sent over raw TCP to a real server on 127.0.0.1.

// bodyAPI is a web API served with a short body timeout, with the folders
// where it spools uploads (forms) and its client spools PUT bodies, and
// the records it logs at Warn or above.
type bodyAPI struct {
	t        *testing.T
	g        *testgrid.Grid
	srv      *httptest.Server
	formDir  string
	spoolDir string
	idle     time.Duration
	warnings *warnLog
}

func newBodyAPI(t *testing.T, idle time.Duration) *bodyAPI {
	t.Helper()
	g := testgrid.New(t, 10)
	a := &bodyAPI{t: t, g: g, formDir: t.TempDir(), spoolDir: t.TempDir(), idle: idle, warnings: &warnLog{}}
	c, err := client.New(client.Config{
		Params:      lafs.Params{K: 3, Happy: 7, N: 10, SegmentSize: 1 << 20},
		Convergence: []byte("convergence secret of the body tests"),
		LeaseSecret: []byte("lease secret of the body tests"),
		Peers:       g, TempDir: a.spoolDir, MutableRetryDelay: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	a.srv = httptest.NewServer(New(c, nil, Options{TempDir: a.formDir, BodyTimeout: idle, Log: slog.New(a.warnings)}))
	t.Cleanup(a.srv.Close)
	return a
}

// warnLog is a slog.Handler keeping the messages of Warn and above.
type warnLog struct {
	mu   sync.Mutex
	msgs []string
}

func (l *warnLog) Enabled(_ context.Context, lv slog.Level) bool { return lv >= slog.LevelWarn }
func (l *warnLog) WithAttrs([]slog.Attr) slog.Handler            { return l }
func (l *warnLog) WithGroup(string) slog.Handler                 { return l }
func (l *warnLog) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool { fmt.Fprintf(&b, " %s=%v", a.Key, a.Value); return true })
	l.mu.Lock()
	l.msgs = append(l.msgs, b.String())
	l.mu.Unlock()
	return nil
}

func (l *warnLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.msgs...)
}

// dial opens a raw connection to the server.
func (a *bodyAPI) dial() net.Conn {
	a.t.Helper()
	c, err := net.Dial("tcp", a.srv.Listener.Addr().String())
	if err != nil {
		a.t.Fatal(err)
	}
	a.t.Cleanup(func() { c.Close() })
	return c
}

// healthy checks that the server still answers at once.
func (a *bodyAPI) healthy() {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, a.srv.URL+"/?t=json", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("server not healthy: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		a.t.Fatalf("server not healthy: %s", resp.Status)
	}
}

// leftovers lists the spool files still there: those in the form folder,
// and the (unlinked) spool files of PUT bodies this process holds open.
func (a *bodyAPI) leftovers() []string {
	a.t.Helper()
	var out []string
	ents, err := os.ReadDir(a.formDir)
	if err != nil {
		a.t.Fatal(err)
	}
	for _, e := range ents {
		out = append(out, filepath.Join(a.formDir, e.Name()))
	}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return out // not Linux: the form folder is all we can see
	}
	for _, fd := range fds {
		if target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); err == nil && strings.HasPrefix(target, a.spoolDir) {
			out = append(out, target)
		}
	}
	return out
}

// wantNoLeftovers waits a little for the handler to finish cleaning up and
// checks that no spool file is left.
func (a *bodyAPI) wantNoLeftovers() {
	a.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := a.leftovers()
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("spool files left: %v", left)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (a *bodyAPI) wantNoWarnings() {
	a.t.Helper()
	if w := a.warnings.all(); len(w) > 0 {
		a.t.Errorf("logged as server failures: %q", w)
	}
}

// formStart is the start of a multipart form whose file part never ends.
const formBoundary = "b0undary"

var formStart = "--" + formBoundary + "\r\nContent-Disposition: form-data; name=\"t\"\r\n\r\nupload\r\n" +
	"--" + formBoundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f.txt\"\r\n" +
	"Content-Type: application/octet-stream\r\n\r\n" + strings.Repeat("file data ", 100)

// TestStalledBodyIsCut sends request bodies that stop arriving, with the
// connection held open: each is cut after the body timeout with 408 and
// the connection closed, no spool file is left, and the server goes on
// answering. (Before: never cut; 200 such PUTs held their sockets and
// spool files for as long as the clients wished.)
func TestStalledBodyIsCut(t *testing.T) {
	const idle = time.Second
	a := newBodyAPI(t, idle)
	for _, c := range []struct {
		name, head, body string
		code             int
	}{
		{"PUT under Content-Length", "PUT /uri HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n", "abc", 408},
		{"PUT chunked", "PUT /uri HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", "400\r\n" + strings.Repeat("x", 500), 408},
		{"PUT of a mutable file", "PUT /uri?format=MDMF HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n", "abc", 408},
		{"POST form upload", "POST /uri HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=" + formBoundary +
			fmt.Sprintf("\r\nContent-Length: %d\r\n\r\n", len(formStart)+100000), formStart, 408},
		{"POST mkdir-with-children", "POST /uri?t=mkdir-with-children HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n", `{"a": `, 408},
		// Answered without reading the body; net/http then reads what
		// is left of it (up to 256 KiB) before it answers, for no
		// longer than the timeout.
		{"body never read", "PUT /uri/URI:CHK:garbage HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n", "abc", 501},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			conn := a.dial()
			br := bufio.NewReader(conn)
			testutil.SendRaw(t, conn, c.head+c.body)
			start := time.Now()
			resp, body := testutil.ReadAnswer(t, conn, br, idle+10*time.Second)
			took := time.Since(start)
			if resp.StatusCode != c.code {
				t.Errorf("status %s, want %d; %q", resp.Status, c.code, body)
			}
			if took < idle*3/4 {
				t.Errorf("answered after %v, before the timeout of %v", took, idle)
			}
			if !resp.Close {
				t.Errorf("answer without Connection: close")
			}
			testutil.WantClosed(t, conn, br, idle+10*time.Second)
		})
	}
	t.Cleanup(func() {
		if t.Failed() {
			return
		}
		a.wantNoLeftovers()
		a.healthy()
		a.wantNoWarnings()
	})
}

// TestBrokenBodyIs400 sends bodies that break HTTP/1.1's framing: bad
// chunk sizes, and bodies that end (the client closes its side) before
// their Content-Length. Each is the client's error, 400, logged as no
// server failure (before: 500 "spooling upload: invalid byte in chunk
// length", logged).
func TestBrokenBodyIs400(t *testing.T) {
	a := newBodyAPI(t, 30*time.Second)
	for _, c := range []struct {
		name, head, body string
		halfClose        bool
	}{
		{"PUT bad chunk size", "PUT /uri HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", "zz\r\nabc\r\n0\r\n\r\n", false},
		{"PUT huge chunk size", "PUT /uri HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", "fffffffffffffffffffff\r\nabc\r\n", false},
		{"PUT chunk without its CRLF", "PUT /uri HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", "3\r\nabcXY3\r\nabc\r\n0\r\n\r\n", false},
		{"PUT short of Content-Length", "PUT /uri HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n", "abc", true},
		{"PUT mutable, bad chunk size", "PUT /uri?format=SDMF HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", "zz\r\n", false},
		{"PUT mutable, short", "PUT /uri?format=MDMF HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n", "abc", true},
		{"POST form, bad chunk size", "POST /uri HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=" + formBoundary +
			"\r\nTransfer-Encoding: chunked\r\n\r\n", fmt.Sprintf("%x\r\n%s\r\nzz\r\n", len(formStart), formStart), false},
		{"POST form, short", "POST /uri HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=" + formBoundary +
			fmt.Sprintf("\r\nContent-Length: %d\r\n\r\n", len(formStart)+100), formStart, true},
		{"POST children, bad chunk size", "POST /uri?t=mkdir-with-children HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", "2\r\n{}\r\nzz\r\n", false},
		{"POST mkdir, short", "POST /uri?t=mkdir HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n", "", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			conn := a.dial()
			br := bufio.NewReader(conn)
			testutil.SendRaw(t, conn, c.head+c.body)
			if c.halfClose {
				conn.(*net.TCPConn).CloseWrite()
			}
			resp, body := testutil.ReadAnswer(t, conn, br, 20*time.Second)
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("status %s, want 400; %q", resp.Status, body)
			}
			testutil.WantClosed(t, conn, br, 10*time.Second)
		})
	}
	t.Cleanup(func() {
		if t.Failed() {
			return
		}
		a.wantNoLeftovers()
		a.healthy()
		a.wantNoWarnings()
	})
}

// TestSlowBodyIsNotCut trickles bodies in, a byte at a time, for three
// times the body timeout: a body that keeps arriving is never cut,
// however slowly. The connection then stays usable past the timeout
// (keep-alive), and a GET streams for longer than the timeout.
func TestSlowBodyIsNotCut(t *testing.T) {
	const idle = time.Second
	const step = idle / 4
	a := newBodyAPI(t, idle)
	const data = "twelve bytes" // 3 s at 4 bytes a second
	for _, c := range []struct {
		name, head string
		chunked    bool
	}{
		{"Content-Length", fmt.Sprintf("PUT /uri HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", len(data)), false},
		{"chunked", "PUT /uri HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			conn := a.dial()
			br := bufio.NewReader(conn)
			testutil.SendRaw(t, conn, c.head)
			for i := 0; i < len(data); i++ {
				time.Sleep(step)
				if c.chunked {
					testutil.SendRaw(t, conn, "1\r\n"+data[i:i+1]+"\r\n")
				} else {
					testutil.SendRaw(t, conn, data[i:i+1])
				}
			}
			if c.chunked {
				testutil.SendRaw(t, conn, "0\r\n\r\n")
			}
			resp, k := testutil.ReadAnswer(t, conn, br, 20*time.Second)
			if resp.StatusCode != http.StatusOK || !strings.HasPrefix(k, "URI:") {
				t.Fatalf("status %s, %q; want 200 and a cap", resp.Status, k)
			}
			// Idle past the timeout, then the same connection again:
			// GET of the file just stored.
			time.Sleep(idle * 3 / 2)
			testutil.SendRaw(t, conn, "GET /uri/"+k+" HTTP/1.1\r\nHost: x\r\n\r\n")
			resp, got := testutil.ReadAnswer(t, conn, br, 20*time.Second)
			if resp.StatusCode != http.StatusOK || got != data {
				t.Errorf("GET on the kept connection: %s %q, want 200 %q", resp.Status, got, data)
			}
		})
	}
}

// TestBodyTimeoutSparesSlowWork checks that only the body's arrival is
// timed: an upload whose body came at once but whose storing takes longer
// than the body timeout (every storage server answering slowly)
// completes.
func TestBodyTimeoutSparesSlowWork(t *testing.T) {
	const idle = 300 * time.Millisecond
	a := newBodyAPI(t, idle)
	data := strings.Repeat("slow but sure ", 200) // a CHK file, not LIT
	for _, f := range a.g.Faults {
		f.Set(func(f *testgrid.Faults) { f.Delay = idle })
	}
	start := time.Now()
	req, _ := http.NewRequest(http.MethodPut, a.srv.URL+"/uri", strings.NewReader(data))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	took := time.Since(start)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT: %s %q", resp.Status, k)
	}
	if took <= idle {
		t.Errorf("the upload took only %v; the test wants it longer than the timeout (%v)", took, idle)
	}
}
