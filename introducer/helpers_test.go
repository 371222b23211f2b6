package introducer

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/introducer/foolscap"
	"github.com/lafs/lafs/nurl"
)

var (
	certMu    sync.Mutex
	certCache = map[string]tls.Certificate{}
)

// testCert returns the self-signed certificate called name, made once per
// test binary.
func testCert(t testing.TB, name string) tls.Certificate {
	t.Helper()
	certMu.Lock()
	defer certMu.Unlock()
	if c, ok := certCache[name]; ok {
		return c
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "newpb_thingy"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	x, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	c := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: x}
	certCache[name] = c
	return c
}

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// testIntro is an introducer served over real TLS on 127.0.0.1, which can
// be stopped and started again on the same address. A memory one
// (newMemIntro) is served over TLS on in-memory connections instead, for
// tests in a synctest bubble; its clients dial with ti.dial.
type testIntro struct {
	t        testing.TB
	Server   *Server
	handler  http.Handler
	cert     tls.Certificate
	swissnum string
	addr     string
	mem      bool
	mu       sync.Mutex
	hs       *http.Server
	ln       *memListener // a memory introducer's listener while started
	// tub serves Foolscap on the same port (not for memory introducers);
	// each start makes a new one, as a restarted process would.
	tub *foolscap.Tub
}

// startIntro starts an introducer with its own certificate.
func startIntro(t testing.TB, opts ...ServerOption) *testIntro {
	t.Helper()
	ti := newIntro(t, "intro", "swiss-"+lafs.Base32(randBytes(10)), opts...)
	ti.start()
	return ti
}

// newIntro makes an introducer on a free port without starting it.
func newIntro(t testing.TB, certName, swissnum string, opts ...ServerOption) *testIntro {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return makeIntro(t, certName, swissnum, addr, false, opts)
}

// newMemIntro makes a memory introducer without starting it. Call it in
// the synctest bubble of the test.
func newMemIntro(t testing.TB, certName, swissnum string, opts ...ServerOption) *testIntro {
	t.Helper()
	return makeIntro(t, certName, swissnum, certName+".mem:1", true, opts)
}

// startMemIntro starts a memory introducer with its own certificate.
func startMemIntro(t testing.TB, opts ...ServerOption) *testIntro {
	t.Helper()
	ti := newMemIntro(t, "intro", "swiss-mem", opts...)
	ti.start()
	return ti
}

func makeIntro(t testing.TB, certName, swissnum, addr string, mem bool, opts []ServerOption) *testIntro {
	t.Helper()
	opts = append([]ServerOption{WithServerLogger(quietLog())}, opts...)
	srv := NewServer([]byte(swissnum), opts...)
	ti := &testIntro{t: t, Server: srv, handler: srv.Handler(), cert: testCert(t, certName), swissnum: swissnum, addr: addr, mem: mem}
	t.Cleanup(func() {
		ti.stop()
		srv.Close()
	})
	return ti
}

func (ti *testIntro) start() {
	ti.t.Helper()
	ti.mu.Lock()
	defer ti.mu.Unlock()
	var ln net.Listener
	var err error
	if ti.mem {
		ti.ln = newMemListener(ti.addr)
		ln = ti.ln
	}
	for i := 0; ln == nil && i < 50; i++ { // the port may linger for a moment after a stop
		if ln, err = net.Listen("tcp", ti.addr); err != nil {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if err != nil {
		ti.t.Fatal(err)
	}
	if !ti.mem {
		tub, err := foolscap.NewTub(ti.cert, foolscap.WithLogger(quietLog()))
		if err != nil {
			ti.t.Fatal(err)
		}
		tub.SetLocation("tcp:" + ti.addr)
		tub.Register(ti.swissnum, ti.Server.FoolscapService())
		ti.tub = tub
		ln = foolscap.Demux(ln, func(c net.Conn) { tub.ServeConn(context.Background(), c) })
	}
	conf := nurl.ServerTLSConfig(ti.cert)
	if ti.mem {
		// A net.Pipe has no buffer, and a TLS 1.3 server writes its
		// session tickets while the client writes its Finished: both
		// would wait for ever. So a memory introducer gives no tickets
		// (and its clients make a full handshake every time).
		conf.SessionTicketsDisabled = true
	}
	// As node serves it: HTTP/1.1 only, no write timeout.
	hs := &http.Server{
		Handler:      ti.handler,
		TLSConfig:    conf,
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
		ErrorLog:     log.New(io.Discard, "", 0),
	}
	ti.hs = hs
	go hs.ServeTLS(ln, "", "")
}

func (ti *testIntro) stop() {
	ti.mu.Lock()
	defer ti.mu.Unlock()
	if ti.hs != nil {
		ti.hs.Close()
		ti.hs = nil
	}
	if ti.tub != nil {
		ti.tub.Close()
		ti.tub = nil
	}
	ti.ln = nil
}

// FURL is the introducer's fURL, for Tahoe's nodes.
func (ti *testIntro) FURL() string {
	return foolscap.FURL{TubID: foolscap.TubIDOf(ti.cert.Certificate[0]), Hints: []string{"tcp:" + ti.addr}, Name: ti.swissnum}.String()
}

// newTub makes a Foolscap tub with the named certificate.
func newTub(t testing.TB, certName string) *foolscap.Tub {
	t.Helper()
	tub, err := foolscap.NewTub(testCert(t, certName), foolscap.WithLogger(quietLog()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tub.Close() })
	return tub
}

// newFoolscapClient starts a Foolscap client and closes it at the end of
// the test.
func newFoolscapClient(t testing.TB, tub *foolscap.Tub, furl string, opts ...ClientOption) *FoolscapClient {
	t.Helper()
	c, err := NewFoolscapClient(tub, furl, "tester", fast(opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// dial connects to a memory introducer, as WithDialContext wants; it is
// refused while the introducer is stopped.
func (ti *testIntro) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	ti.mu.Lock()
	ln := ti.ln
	ti.mu.Unlock()
	if ln == nil || addr != ti.addr {
		return nil, refused(addr)
	}
	return ln.connect(ctx)
}

// spkiHash is the pin of cert.
func spkiHash(t testing.TB, cert *x509.Certificate) string {
	t.Helper()
	h, err := nurl.SPKIHash(cert)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// NURL is the introducer's NURL.
func (ti *testIntro) NURL() string {
	return "pb://" + spkiHash(ti.t, ti.cert.Leaf) + "@" + ti.addr + "/" + ti.swissnum + "#v=1"
}

// httpClient is a plain HTTPS client pinned to the introducer.
func (ti *testIntro) httpClient(t testing.TB) *http.Client {
	t.Helper()
	conf, err := nurl.ClientTLSConfig(spkiHash(t, ti.cert.Leaf))
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{TLSClientConfig: conf}
	t.Cleanup(tr.CloseIdleConnections)
	if ti.mem {
		// No timeout: the bubble's fake clock may pass minutes, and a
		// request that never ends is a deadlock the bubble reports.
		tr.DialContext = ti.dial
		return &http.Client{Transport: tr}
	}
	return &http.Client{Transport: tr, Timeout: 20 * time.Second}
}

// do makes a raw request with the right swissnum unless auth is given.
func (ti *testIntro) do(t testing.TB, method, path string, body []byte, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, "https://"+ti.addr+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", authorization([]byte(ti.swissnum)))
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	resp, err := ti.httpClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// testNode is a storage node that signs announcements.
type testNode struct {
	key  ed25519.PrivateKey
	nick string
}

func newNode(nick string) *testNode {
	_, key, _ := ed25519.GenerateKey(nil)
	return &testNode{key: key, nick: nick}
}

func (n *testNode) id() string { return ServerID(n.key.Public().(ed25519.PublicKey)) }

// storageAnn signs a storage announcement with seqnum seq.
func (n *testNode) storageAnn(t testing.TB, seq int64) Signed {
	t.Helper()
	a := NewAnnouncement(StorageService, n.nick, "lafs/test", seq)
	a["anonymous-storage-FURL"] = "pb://" + lafs.Base32(randBytes(20)) + "@tcp:127.0.0.1:1/" + lafs.Base32(randBytes(20))
	a["anonymous-storage-NURLs"] = []string{"pb://" + strings.Repeat("A", 43) + "@127.0.0.1:1/s#v=1"}
	a["permutation-seed-base32"] = lafs.Base32(randBytes(32))
	s, err := Sign(a, n.key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fast are client options for tests: short back-offs, quiet.
func fast(extra ...ClientOption) []ClientOption {
	return append([]ClientOption{WithBackoff(10*time.Millisecond, 50*time.Millisecond), WithPollWait(10 * time.Second), WithLogger(quietLog())}, extra...)
}

// recorder collects what an AnnouncementFunc receives.
type recorder struct {
	mu   sync.Mutex
	got  []received
	last map[string]Announcement
	ch   chan struct{}
}

type received struct {
	id  string
	ann Announcement
}

func newRecorder() *recorder {
	return &recorder{last: map[string]Announcement{}, ch: make(chan struct{}, 1000)}
}

func (r *recorder) fn(id string, ann Announcement) {
	r.mu.Lock()
	r.got = append(r.got, received{id, ann})
	r.last[id] = ann
	r.mu.Unlock()
	select {
	case r.ch <- struct{}{}:
	default:
	}
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

func (r *recorder) seqnum(id string) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if a, ok := r.last[id]; ok {
		return a.Seqnum()
	}
	return -1
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// newTestClient starts a client and closes it at the end of the test.
func newTestClient(t testing.TB, nurl string, opts ...ClientOption) *Client {
	t.Helper()
	c, err := NewClient(nurl, "tester", fast(opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
