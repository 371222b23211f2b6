package storagehttp

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/backend/disk"
	"github.com/lafs/lafs/internal/testutil"
	"github.com/lafs/lafs/storage"
)

// The tests of request bodies that stall, trickle or break HTTP's rules,
// sent over raw TLS connections to a real HTTPS storage server on
// 127.0.0.1.

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

// bodyServer is a storage server on disk served over HTTPS with a short
// body timeout.
type bodyServer struct {
	t        *testing.T
	dir      string // the storage folder
	nurl     NURL
	client   *Client
	log      *warnLog
	incoming string
}

var (
	bodyLease  = lafs.LeaseSecrets{Renew: lafs.Secret{1}, Cancel: lafs.Secret{2}}
	bodyUpload = bytes.Repeat([]byte{9}, 32)
)

func newBodyServer(t *testing.T, s lafs.StorageServer, idle time.Duration) *bodyServer {
	t.Helper()
	b := &bodyServer{t: t, log: &warnLog{}}
	if s == nil {
		b.dir = t.TempDir()
		d, err := disk.Open(b.dir)
		if err != nil {
			t.Fatal(err)
		}
		srv, err := storage.New(d, storage.Config{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			srv.Close()
			d.Close()
		})
		s = srv
		b.incoming = filepath.Join(b.dir, "shares", "incoming")
	}
	h := Handler(s, []byte(testSwissnum), WithBodyTimeout(idle), WithErrorLog(slog.New(b.log)))
	b.nurl = serveTLS(t, h, newTestCert(t, "a"), testSwissnum)
	b.client = dialTest(t, b.nurl)
	return b
}

// dial opens a raw TLS connection to the server.
func (b *bodyServer) dial() (*tls.Conn, *bufio.Reader) {
	b.t.Helper()
	c, err := tls.Dial("tcp", fmt.Sprintf("%s:%d", b.nurl.Host, b.nurl.Port), &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
	if err != nil {
		b.t.Fatal(err)
	}
	b.t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

// head is the start of a request with the swissnum, the secrets of the
// kinds named (upload-secret, lease-renew-secret, lease-cancel-secret,
// write-enabler; a "lease" stands for both lease secrets) and the extra
// header lines.
func head(method, path string, secrets []string, extra ...string) string {
	h := method + " " + path + " HTTP/1.1\r\nHost: x\r\nAuthorization: " + swissnumAuth([]byte(testSwissnum)) + "\r\n"
	for _, kind := range secrets {
		switch kind {
		case "lease":
			h += headerSecret + ": lease-renew-secret " + base64.StdEncoding.EncodeToString(bodyLease.Renew[:]) + "\r\n"
			h += headerSecret + ": lease-cancel-secret " + base64.StdEncoding.EncodeToString(bodyLease.Cancel[:]) + "\r\n"
		case "upload-secret":
			h += headerSecret + ": upload-secret " + base64.StdEncoding.EncodeToString(bodyUpload) + "\r\n"
		default:
			h += headerSecret + ": " + kind + " " + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{3}, 32)) + "\r\n"
		}
	}
	for _, e := range extra {
		h += e + "\r\n"
	}
	return h + "\r\n"
}

// The secrets of each kind of request.
var (
	patchSecrets    = []string{"upload-secret"}
	allocateSecrets = []string{"lease", "upload-secret"}
	rtwSecrets      = []string{"lease", "write-enabler"}
)

func (b *bodyServer) healthy() {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := b.client.Version(ctx); err != nil {
		b.t.Fatalf("server not healthy: %v", err)
	}
}

func (b *bodyServer) wantNoErrorsLogged() {
	b.t.Helper()
	if m := b.log.all(); len(m) > 0 {
		b.t.Errorf("logged as server failures: %q", m)
	}
}

// incomingFiles lists what the storage folder holds in incoming/.
func (b *bodyServer) incomingFiles() []string {
	b.t.Helper()
	ents, err := os.ReadDir(b.incoming)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		b.t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// allocate allocates shares of size bytes of si through the client.
func (b *bodyServer) allocate(si lafs.StorageIndex, size uint64, shares ...lafs.ShareNum) {
	b.t.Helper()
	res, err := b.client.AllocateBuckets(context.Background(), si, bodyLease, bodyUpload, shares, size)
	if err != nil || len(res.Allocated) != len(shares) {
		b.t.Fatalf("allocate: %+v, %v", res, err)
	}
}

// TestStalledBodyIsCut sends request bodies that stop arriving, the
// connection held open: each is cut after the body timeout with 408 (or
// the request's own answer, when the body is never read) and the
// connection closed. A cut write leaves the upload as it was: written
// again in full, the share completes, and nothing stays in incoming/.
// (Before: never cut; a PATCH whose body stalled held its connection and
// goroutine for as long as the client wished.)
func TestStalledBodyIsCut(t *testing.T) {
	const idle = time.Second
	b := newBodyServer(t, nil, idle)
	si := lafs.StorageIndex{7, 7, 7}
	b.allocate(si, 100, 5)
	data := bytes.Repeat([]byte("0123456789"), 10)
	for _, c := range []struct {
		name, req string
		code      int
	}{
		{"PATCH under Content-Length",
			head("PATCH", "/storage/v1/immutable/"+si.String()+"/5", patchSecrets, "Content-Range: bytes 0-99/*", "Content-Length: 100") + string(data[:10]),
			http.StatusRequestTimeout},
		{"PATCH chunked",
			head("PATCH", "/storage/v1/immutable/"+si.String()+"/5", patchSecrets, "Content-Range: bytes 0-99/*", "Transfer-Encoding: chunked") + "64\r\n" + string(data[:10]),
			http.StatusRequestTimeout},
		{"allocate",
			head("POST", "/storage/v1/immutable/"+lafs.StorageIndex{8}.String(), allocateSecrets, "Content-Type: application/cbor", "Content-Length: 50") + "\xa2",
			http.StatusRequestTimeout},
		{"read-test-write",
			head("POST", "/storage/v1/mutable/"+lafs.StorageIndex{9}.String()+"/read-test-write", rtwSecrets, "Content-Type: application/cbor", "Content-Length: 500") + "\xa2",
			http.StatusRequestTimeout},
		{"never read: wrong swissnum",
			strings.Replace(head("PATCH", "/storage/v1/immutable/"+si.String()+"/5", patchSecrets, "Content-Range: bytes 0-99/*", "Content-Length: 100"), "Tahoe-LAFS ", "Tahoe-LAFS x", 1) + "abc",
			http.StatusUnauthorized},
		{"never read: advisory for a missing share",
			head("POST", "/storage/v1/immutable/"+si.String()+"/3/corrupt", nil, "Content-Type: application/cbor", "Content-Length: 100") + "\xa1",
			http.StatusNotFound},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			conn, br := b.dial()
			testutil.SendRaw(t, conn, c.req)
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
		b.healthy()
		b.wantNoErrorsLogged()
		// The cut writes stored none of their pieces; the whole share
		// now goes in one write.
		res, err := b.client.WriteImmutable(context.Background(), si, 5, bodyUpload, 0, data)
		if err != nil || !res.Done {
			t.Fatalf("writing the share after the cut writes: %+v, %v", res, err)
		}
		got, err := b.client.ReadImmutable(context.Background(), si, 5, 0, 100)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("share read back: %q, %v", got, err)
		}
		if left := b.incomingFiles(); len(left) > 0 {
			t.Errorf("left in incoming/: %v", left)
		}
	})
}

// TestBrokenBodyIs400 sends bodies that break HTTP/1.1's framing (bad
// chunk sizes) or end before their Content-Length (the client closes its
// side): each is a bad request, 400, logged as no server failure, and the
// connection is closed.
func TestBrokenBodyIs400(t *testing.T) {
	b := newBodyServer(t, nil, 30*time.Second)
	si := lafs.StorageIndex{6, 6, 6}
	b.allocate(si, 100, 1, 2, 3, 4)
	patch := func(shnum int, extra ...string) string {
		return head("PATCH", fmt.Sprintf("/storage/v1/immutable/%s/%d", si, shnum), patchSecrets, append([]string{"Content-Range: bytes 0-99/*"}, extra...)...)
	}
	for _, c := range []struct {
		name, req string
		halfClose bool
	}{
		{"PATCH bad chunk size", patch(1, "Transfer-Encoding: chunked") + "zz\r\nabc\r\n0\r\n\r\n", false},
		{"PATCH huge chunk size", patch(2, "Transfer-Encoding: chunked") + "fffffffffffffffffffff\r\nabc\r\n", false},
		{"PATCH short of Content-Length", patch(3, "Content-Length: 100") + "abc", true},
		{"PATCH chunked, ends early", patch(4, "Transfer-Encoding: chunked") + "3\r\nabc\r\n", true},
		{"allocate bad chunk size", head("POST", "/storage/v1/immutable/"+lafs.StorageIndex{8}.String(), allocateSecrets, "Content-Type: application/cbor", "Transfer-Encoding: chunked") + "zz\r\n", false},
		{"allocate short of Content-Length", head("POST", "/storage/v1/immutable/"+lafs.StorageIndex{8}.String(), allocateSecrets, "Content-Type: application/cbor", "Content-Length: 50") + "\xa2", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			conn, br := b.dial()
			testutil.SendRaw(t, conn, c.req)
			if c.halfClose {
				conn.CloseWrite()
			}
			resp, body := testutil.ReadAnswer(t, conn, br, 20*time.Second)
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("status %s, want 400; %q", resp.Status, body)
			}
			testutil.WantClosed(t, conn, br, 10*time.Second)
		})
	}
	t.Cleanup(func() {
		if !t.Failed() {
			b.healthy()
			b.wantNoErrorsLogged()
		}
	})
}

// TestSlowBodyIsNotCut trickles a PATCH body in, a byte at a time, for
// three times the body timeout: a body that keeps arriving is never cut.
// The connection then stays usable past the timeout (keep-alive).
func TestSlowBodyIsNotCut(t *testing.T) {
	const idle = time.Second
	const step = idle / 4
	b := newBodyServer(t, nil, idle)
	si := lafs.StorageIndex{5, 5, 5}
	const data = "twelve bytes" // 3 s at 4 bytes a second
	b.allocate(si, uint64(len(data)), 0, 1)
	for _, c := range []struct {
		name    string
		shnum   int
		chunked bool
	}{{"Content-Length", 0, false}, {"chunked", 1, true}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			conn, br := b.dial()
			framing := fmt.Sprintf("Content-Length: %d", len(data))
			if c.chunked {
				framing = "Transfer-Encoding: chunked"
			}
			testutil.SendRaw(t, conn, head("PATCH", fmt.Sprintf("/storage/v1/immutable/%s/%d", si, c.shnum), patchSecrets,
				fmt.Sprintf("Content-Range: bytes 0-%d/*", len(data)-1), framing))
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
			resp, body := testutil.ReadAnswer(t, conn, br, 20*time.Second)
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("status %s, want 201; %q", resp.Status, body)
			}
			time.Sleep(idle * 3 / 2)
			testutil.SendRaw(t, conn, head("GET", fmt.Sprintf("/storage/v1/immutable/%s/%d", si, c.shnum), nil))
			resp, got := testutil.ReadAnswer(t, conn, br, 20*time.Second)
			if resp.StatusCode != http.StatusOK || got != data {
				t.Errorf("read on the kept connection: %s %q, want 200 %q", resp.Status, got, data)
			}
		})
	}
}

// TestBodyTimeoutSparesSlowWork checks that only the arrival of a body is
// timed: a request whose body came at once but whose work takes longer
// than the body timeout is answered (its context not cancelled), and a
// share read more slowly than the timeout is sent whole.
func TestBodyTimeoutSparesSlowWork(t *testing.T) {
	const idle = 300 * time.Millisecond
	share := bytes.Repeat([]byte("a large share, read slowly. "), 32<<20/28)
	s := &fakeServer{
		allocate: func(ctx context.Context, si lafs.StorageIndex, _ lafs.LeaseSecrets, _ []byte, shares []lafs.ShareNum, _ uint64) (lafs.AllocateResult, error) {
			select {
			case <-time.After(3 * idle):
			case <-ctx.Done():
				return lafs.AllocateResult{}, fmt.Errorf("allocate cut short: %w", ctx.Err())
			}
			return lafs.AllocateResult{Allocated: shares}, nil
		},
		readImm: shareReader(share, nil),
	}
	b := newBodyServer(t, s, idle)
	res, err := b.client.AllocateBuckets(context.Background(), lafs.StorageIndex{4}, bodyLease, bodyUpload, []lafs.ShareNum{1}, 10)
	if err != nil || len(res.Allocated) != 1 {
		t.Fatalf("slow allocate: %+v, %v", res, err)
	}

	conn, br := b.dial()
	testutil.SendRaw(t, conn, head("GET", "/storage/v1/immutable/"+lafs.StorageIndex{4}.String()+"/1", nil))
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("read: %s", resp.Status)
	}
	first := make([]byte, 1024)
	if _, err := io.ReadFull(resp.Body, first); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * idle) // the server's writes wait meanwhile
	rest, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("slow read cut after %d bytes: %v", 1024+len(rest), err)
	}
	if got := append(first, rest...); !bytes.Equal(got, share) {
		t.Errorf("slow read: %d bytes, want %d", len(got), len(share))
	}
}
