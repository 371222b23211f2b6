package storagehttp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/nurl"
)

// recorder keeps the headers of the requests it passes on.
type recorder struct {
	h    http.Handler
	mu   sync.Mutex
	reqs []*http.Request
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec.mu.Lock()
	rec.reqs = append(rec.reqs, r.Clone(context.Background()))
	rec.mu.Unlock()
	rec.h.ServeHTTP(w, r)
}

func (rec *recorder) last() *http.Request {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.reqs[len(rec.reqs)-1]
}

func dialTest(t *testing.T, n NURL, opts ...DialOption) *Client {
	t.Helper()
	c, err := Dial(n, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestClientSendsWhatTahoeSends checks the requests of every method,
// header by header, against what http_client.py sends.
func TestClientSendsWhatTahoeSends(t *testing.T) {
	data := []byte("0123456789abcdefghijklmnopqrstuvwxyz")
	s := &fakeServer{
		version: func(context.Context) (lafs.ServerVersion, error) {
			return lafs.ServerVersion{MaximumImmutableShareSize: 1, MaximumMutableShareSize: 2, AvailableSpace: 3, ApplicationVersion: []byte("tahoe-lafs/1.20.0")}, nil
		},
		allocate: func(_ context.Context, _ lafs.StorageIndex, _ lafs.LeaseSecrets, _ []byte, shares []lafs.ShareNum, _ uint64) (lafs.AllocateResult, error) {
			return lafs.AllocateResult{AlreadyHave: shares[:1], Allocated: shares[1:]}, nil
		},
		write: func(_ context.Context, _ lafs.StorageIndex, _ lafs.ShareNum, _ []byte, off uint64, d []byte) (lafs.WriteResult, error) {
			if off == 0 {
				return lafs.WriteResult{Required: []lafs.ByteRange{{Begin: uint64(len(d)), End: 100}}}, nil
			}
			return lafs.WriteResult{Done: true, Required: []lafs.ByteRange{}}, nil
		},
		abort:      func(context.Context, lafs.StorageIndex, lafs.ShareNum, []byte) error { return nil },
		readImm:    shareReader(data, nil),
		readMut:    shareReader(data, nil),
		listImm:    func(context.Context, lafs.StorageIndex) ([]lafs.ShareNum, error) { return []lafs.ShareNum{7, 1}, nil },
		listMut:    func(context.Context, lafs.StorageIndex) ([]lafs.ShareNum, error) { return []lafs.ShareNum{}, nil },
		corruptImm: func(context.Context, lafs.StorageIndex, lafs.ShareNum, string) error { return nil },
		corruptMut: func(context.Context, lafs.StorageIndex, lafs.ShareNum, string) error { return nil },
		lease:      func(context.Context, lafs.StorageIndex, lafs.LeaseSecrets) error { return nil },
		rtw: func(_ context.Context, _ lafs.StorageIndex, _ lafs.Secret, _ lafs.LeaseSecrets, tw map[lafs.ShareNum]lafs.TestWriteVectors, _ []lafs.ReadVector) (lafs.ReadTestWriteResult, error) {
			return lafs.ReadTestWriteResult{Success: true, Data: map[lafs.ShareNum][][]byte{1: {[]byte("x")}}}, nil
		},
	}
	rec := &recorder{h: Handler(s, []byte(testSwissnum))}
	c := dialTest(t, serveTLS(t, rec, newTestCert(t, "a"), testSwissnum))
	ctx := t.Context()
	lease := lafs.LeaseSecrets{Renew: lafs.Secret{1}, Cancel: lafs.Secret{2}}
	auth := swissnumAuth([]byte(testSwissnum))
	b64 := func(b []byte) string { return strings.TrimSpace(encodeB64(b)) }
	leaseHdrs := []string{"lease-renew-secret " + b64(lease.Renew[:]), "lease-cancel-secret " + b64(lease.Cancel[:])}

	check := func(method, path string, secrets []string, extra map[string]string, body []byte) {
		t.Helper()
		r := rec.last()
		if r.Method != method || r.URL.Path != path {
			t.Errorf("request %s %s, want %s %s", r.Method, r.URL.Path, method, path)
		}
		want := http.Header{"Authorization": {auth}, "Accept": {mediaCBOR}}
		if secrets != nil {
			want[headerSecret] = secrets
		}
		for k, v := range extra {
			want[k] = []string{v}
		}
		if body != nil {
			want["Content-Length"] = []string{fmt.Sprint(len(body))}
		} else if method == "PUT" {
			want["Content-Length"] = []string{"0"} // Twisted's Agent sends it too
		}
		if !reflect.DeepEqual(r.Header, want) {
			t.Errorf("%s %s: headers\n %v, want\n %v", method, path, r.Header, want)
		}
	}

	v, err := c.Version(ctx)
	if err != nil || v.AvailableSpace != 3 || string(v.ApplicationVersion) != "tahoe-lafs/1.20.0" {
		t.Fatalf("Version: %+v, %v", v, err)
	}
	check("GET", "/storage/v1/version", nil, nil, nil)

	res, err := c.AllocateBuckets(ctx, testSI, lease, []byte("upload"), []lafs.ShareNum{7, 1, 3}, 100)
	if err != nil || !reflect.DeepEqual(res, lafs.AllocateResult{AlreadyHave: []lafs.ShareNum{1}, Allocated: []lafs.ShareNum{3, 7}}) {
		t.Errorf("AllocateBuckets: %+v, %v", res, err)
	}
	body := allocateRequest{ShareNumbers: []lafs.ShareNum{1, 3, 7}, AllocatedSize: 100}.encode()
	check("POST", "/storage/v1/immutable/"+testSIs, append(leaseHdrs, "upload-secret "+b64([]byte("upload"))),
		map[string]string{"Content-Type": mediaCBOR}, body)

	wr, err := c.WriteImmutable(ctx, testSI, 3, []byte("upload"), 0, data[:10])
	if err != nil || wr.Done || !reflect.DeepEqual(wr.Required, []lafs.ByteRange{{Begin: 10, End: 100}}) {
		t.Errorf("WriteImmutable: %+v, %v", wr, err)
	}
	check("PATCH", "/storage/v1/immutable/"+testSIs+"/3", []string{"upload-secret " + b64([]byte("upload"))},
		map[string]string{"Content-Range": "bytes 0-9/*"}, data[:10])
	wr, err = c.WriteImmutable(ctx, testSI, 3, []byte("upload"), 10, data[10:])
	if err != nil || !wr.Done || len(wr.Required) != 0 {
		t.Errorf("WriteImmutable: %+v, %v", wr, err)
	}
	check("PATCH", "/storage/v1/immutable/"+testSIs+"/3", []string{"upload-secret " + b64([]byte("upload"))},
		map[string]string{"Content-Range": "bytes 10-35/*"}, data[10:])

	if err := c.AbortImmutable(ctx, testSI, 3, []byte("upload")); err != nil {
		t.Error(err)
	}
	check("PUT", "/storage/v1/immutable/"+testSIs+"/3/abort", []string{"upload-secret " + b64([]byte("upload"))}, nil, nil)

	got, err := c.ReadImmutable(ctx, testSI, 3, 5, 10)
	if err != nil || string(got) != "56789abcde" {
		t.Errorf("ReadImmutable: %q, %v", got, err)
	}
	check("GET", "/storage/v1/immutable/"+testSIs+"/3", nil, map[string]string{"Range": "bytes=5-14"}, nil)
	got, err = c.ReadMutable(ctx, testSI, 3, 30, 100)
	if err != nil || string(got) != "uvwxyz" {
		t.Errorf("ReadMutable: %q, %v", got, err)
	}
	check("GET", "/storage/v1/mutable/"+testSIs+"/3", nil, map[string]string{"Range": "bytes=30-129"}, nil)
	got, err = c.ReadMutable(ctx, testSI, 3, 36, 100)
	if err != nil || got == nil || len(got) != 0 {
		t.Errorf("ReadMutable past the end: %q, %v", got, err)
	}
	got, err = c.ReadImmutable(ctx, testSI, 3, 4, 0)
	if err != nil || got == nil || len(got) != 0 {
		t.Errorf("ReadImmutable of nothing: %q, %v", got, err)
	}
	check("GET", "/storage/v1/immutable/"+testSIs+"/3", nil, map[string]string{"Range": "bytes=4-4"}, nil)

	sh, err := c.ListImmutable(ctx, testSI)
	if err != nil || !reflect.DeepEqual(sh, []lafs.ShareNum{1, 7}) {
		t.Errorf("ListImmutable: %v, %v", sh, err)
	}
	check("GET", "/storage/v1/immutable/"+testSIs+"/shares", nil, nil, nil)
	sh, err = c.ListMutable(ctx, testSI)
	if err != nil || sh == nil || len(sh) != 0 {
		t.Errorf("ListMutable: %v, %v", sh, err)
	}
	check("GET", "/storage/v1/mutable/"+testSIs+"/shares", nil, nil, nil)

	if err := c.AdviseCorruptImmutable(ctx, testSI, 7, "bad"); err != nil {
		t.Error(err)
	}
	check("POST", "/storage/v1/immutable/"+testSIs+"/7/corrupt", nil, map[string]string{"Content-Type": mediaCBOR}, encodeCorruptRequest("bad"))
	long := strings.Repeat("é", 20000) + "\xff"
	s.listMut = func(context.Context, lafs.StorageIndex) ([]lafs.ShareNum, error) { return []lafs.ShareNum{3}, nil }
	if err := c.AdviseCorruptMutable(ctx, testSI, 3, long); err != nil {
		t.Error(err)
	}

	if err := c.AddOrRenewLease(ctx, testSI, lease); err != nil {
		t.Error(err)
	}
	check("PUT", "/storage/v1/lease/"+testSIs, leaseHdrs, nil, nil)

	we := lafs.Secret{3}
	tw := map[lafs.ShareNum]lafs.TestWriteVectors{1: {Write: []lafs.WriteVector{{Offset: 0, Data: []byte("x")}}}}
	rv := []lafs.ReadVector{{Offset: 0, Size: 1}}
	rtw, err := c.ReadTestWrite(ctx, testSI, we, lease, tw, rv)
	if err != nil || !rtw.Success || string(rtw.Data[1][0]) != "x" {
		t.Errorf("ReadTestWrite: %+v, %v", rtw, err)
	}
	check("POST", "/storage/v1/mutable/"+testSIs+"/read-test-write", append(leaseHdrs, "write-enabler "+b64(we[:])),
		map[string]string{"Content-Type": mediaCBOR}, rtwRequest{tw, rv}.encode())
}

func encodeB64(b []byte) string { return swissnumAuth(b)[len(authScheme)+1:] }

// TestErrorsCrossTheWire: each lafs sentinel a server returns is the one
// the client's error matches.
func TestErrorsCrossTheWire(t *testing.T) {
	var next error
	s := &fakeServer{lease: func(context.Context, lafs.StorageIndex, lafs.LeaseSecrets) error { return next }}
	c := dialTest(t, serveTLS(t, Handler(s, []byte(testSwissnum), WithErrorLog(discardLog())), newTestCert(t, "a"), testSwissnum))
	for _, e := range statusTable {
		next = fmt.Errorf("deep down: %w", e.err)
		err := c.AddOrRenewLease(t.Context(), testSI, lafs.LeaseSecrets{})
		var se *StatusError
		if !errors.Is(err, e.err) || !errors.As(err, &se) || se.Code != e.code {
			t.Errorf("%v: client got %v", e.err, err)
		}
		if !strings.Contains(err.Error(), "deep down") {
			t.Errorf("%v: message lost: %v", e.err, err)
		}
	}
	next = errors.New("secret internals")
	err := c.AddOrRenewLease(t.Context(), testSI, lafs.LeaseSecrets{})
	var se *StatusError
	if !errors.As(err, &se) || se.Code != 500 || strings.Contains(err.Error(), "secret internals") {
		t.Errorf("internal error: %v", err)
	}
	for _, e := range statusTable {
		if errors.Is(err, e.err) {
			t.Errorf("500 matches %v", e.err)
		}
	}
}

// TestPinning: a server whose certificate is not the pinned one is refused
// before any request is sent.
func TestPinning(t *testing.T) {
	var calls atomic.Int32
	s := &fakeServer{version: func(context.Context) (lafs.ServerVersion, error) {
		calls.Add(1)
		return lafs.ServerVersion{}, nil
	}}
	h := Handler(s, []byte(testSwissnum))
	good := serveTLS(t, h, newTestCert(t, "a"), testSwissnum)
	if _, err := dialTest(t, good).Version(t.Context()); err != nil {
		t.Fatalf("pinned server: %v", err)
	}

	impostor := serveTLS(t, h, newTestCert(t, "b"), testSwissnum)
	impostor.SPKIHash = good.SPKIHash
	_, err := dialTest(t, impostor).Version(t.Context())
	if !errors.Is(err, ErrPin) {
		t.Fatalf("impostor: %v", err)
	}
	if !strings.Contains(err.Error(), spkiHash(t, newTestCert(t, "b").x509)) {
		t.Errorf("error does not say what the server presented: %v", err)
	}
	t.Logf("impostor refused: %v", err)

	// A chain of two certificates is refused even if the first is pinned.
	a, b := newTestCert(t, "a"), newTestCert(t, "b")
	chain := a.tls
	chain.Certificate = [][]byte{a.tls.Certificate[0], b.tls.Certificate[0]}
	n := serveTLS(t, h, &testCert{tls: chain, x509: a.x509}, testSwissnum)
	if _, err := dialTest(t, n).Version(t.Context()); !errors.Is(err, ErrPin) {
		t.Errorf("chain: %v", err)
	}

	// (A certificate that is not self-issued, or whose self-signature is
	// bad, is refused too: nurl's TestVerifyPinned.)
	if calls.Load() != 1 {
		t.Errorf("%d requests reached the handler", calls.Load())
	}

	// The right server with the wrong swissnum: 401.
	wrong := good
	wrong.Swissnum = "nope"
	if _, err := dialTest(t, wrong).Version(t.Context()); !errors.Is(err, lafs.ErrUnauthorized) {
		t.Errorf("wrong swissnum: %v", err)
	}
}

// TestKeepAlive: sequential requests share one connection; parallel ones
// open several and keep them.
func TestKeepAlive(t *testing.T) {
	s := &fakeServer{version: func(context.Context) (lafs.ServerVersion, error) { return lafs.ServerVersion{}, nil },
		readImm: shareReader(make([]byte, 100000), nil)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns atomic.Int32
	cert := newTestCert(t, "a")
	srv := NewServer(Handler(s, []byte(testSwissnum)), cert.tls)
	srv.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	c := dialTest(t, NURL{SPKIHash: spkiHash(t, cert.x509), Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, Swissnum: testSwissnum})
	for range 50 {
		if _, err := c.Version(t.Context()); err != nil {
			t.Fatal(err)
		}
		// A read not taken to its end must not cost the connection either.
		if _, err := c.ReadImmutable(t.Context(), testSI, 0, 0, 5000); err != nil {
			t.Fatal(err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for sequential requests", n)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				if _, err := c.Version(t.Context()); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	// Requests that find every connection busy dial a new one, which is
	// kept even if another frees first; but connections are reused.
	if n := conns.Load(); n > 80 {
		t.Errorf("%d connections for 160 requests from 8 parallel clients", n)
	}
}

func TestContextCancels(t *testing.T) {
	block := make(chan struct{})
	s := &fakeServer{version: func(ctx context.Context) (lafs.ServerVersion, error) {
		select {
		case <-block:
		case <-ctx.Done():
		}
		return lafs.ServerVersion{}, ctx.Err()
	}}
	defer close(block)
	c := dialTest(t, serveTLS(t, Handler(s, []byte(testSwissnum)), newTestCert(t, "a"), testSwissnum))
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if _, err := c.Version(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v", err)
	}
	c2 := dialTest(t, c.NURL(), WithResponseTimeout(100*time.Millisecond))
	if _, err := c2.Version(t.Context()); err == nil {
		t.Error("no timeout")
	}
}

func TestDialTorNeedsDialer(t *testing.T) {
	n := NURL{SPKIHash: hash43, Host: "x.onion", Port: 1, Swissnum: "s", Tor: true}
	if _, err := Dial(n); err == nil {
		t.Error("pb+tor without a dialer")
	}
	var dialed string
	c, err := Dial(n, WithDialContext(func(ctx context.Context, network, addr string) (net.Conn, error) {
		dialed = addr
		return nil, errors.New("no tor here")
	}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Version(t.Context()); err == nil || dialed != "x.onion:1" {
		t.Errorf("dialed %q: %v", dialed, err)
	}
	if _, err := Dial(NURL{SPKIHash: "short"}); !errors.Is(err, ErrNURL) {
		t.Errorf("bad pin: %v", err)
	}
}

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestDialFirst(t *testing.T) {
	s := &fakeServer{version: func(context.Context) (lafs.ServerVersion, error) { return lafs.ServerVersion{AvailableSpace: 7}, nil }}
	good := serveTLS(t, Handler(s, []byte(testSwissnum)), newTestCert(t, "a"), testSwissnum)
	dead := good
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead.Port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	impostor := serveTLS(t, Handler(s, []byte(testSwissnum)), newTestCert(t, "b"), testSwissnum)
	impostor.SPKIHash = good.SPKIHash
	c, err := DialFirst(t.Context(), []NURL{dead, impostor, good})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.NURL() != good {
		t.Errorf("picked %v", c.NURL())
	}
	_, err = DialFirst(t.Context(), []NURL{dead, impostor})
	if !errors.Is(err, ErrPin) {
		t.Errorf("no server: %v", err)
	}
}

// TestHTTP11: the protocol runs on HTTP/1.1, even though both ends could
// speak HTTP/2.
func TestHTTP11(t *testing.T) {
	s := &fakeServer{version: func(context.Context) (lafs.ServerVersion, error) { return lafs.ServerVersion{}, nil }}
	rec := &recorder{h: Handler(s, []byte(testSwissnum))}
	c := dialTest(t, serveTLS(t, rec, newTestCert(t, "a"), testSwissnum))
	if _, err := c.Version(t.Context()); err != nil {
		t.Fatal(err)
	}
	if r := rec.last(); r.Proto != "HTTP/1.1" || r.TLS == nil || r.TLS.NegotiatedProtocol != "http/1.1" || r.TLS.Version != tls.VersionTLS13 {
		t.Errorf("proto %s, ALPN %q", r.Proto, r.TLS.NegotiatedProtocol)
	}
}

// TestSessionResumption: a second connection to a server resumes the
// first's TLS session, and the pin still holds: a resumed session is not
// offered to, nor accepted from, another server.
func TestSessionResumption(t *testing.T) {
	cert := newTestCert(t, "a")
	ln, err := tls.Listen("tcp", "127.0.0.1:0", ServerTLSConfig(cert.tls))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.(*tls.Conn).Handshake()
				c.Write([]byte("x")) // TLS 1.3 sends the ticket after the handshake
				io.Copy(io.Discard, c)
			}()
		}
	}()
	conf, err := nurl.ClientTLSConfig(spkiHash(t, cert.x509))
	if err != nil {
		t.Fatal(err)
	}
	dial := func(conf *tls.Config) (*tls.Conn, error) {
		c, err := tls.Dial("tcp", ln.Addr().String(), conf)
		if err != nil {
			return nil, err
		}
		if _, err := c.Read(make([]byte, 1)); err != nil {
			c.Close()
			return nil, err
		}
		return c, nil
	}
	for i, want := range []bool{false, true, true} {
		c, err := dial(conf)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.ConnectionState().DidResume; got != want {
			t.Errorf("connection %d: resumed %v, want %v", i, got, want)
		}
		c.Close()
	}
	// Another pin, its own cache: the server's session is not resumed,
	// and the full handshake refuses the certificate.
	other, err := nurl.ClientTLSConfig(spkiHash(t, newTestCert(t, "b").x509))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dial(other); !errors.Is(err, ErrPin) {
		t.Errorf("another pin: %v", err)
	}
}
