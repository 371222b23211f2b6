package foolscap

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"
)

// testCert makes a self-signed certificate as Foolscap does (RSA when rsaKey).
func testCert(t testing.TB, rsaKey bool) tls.Certificate {
	t.Helper()
	var key any
	var pub any
	if rsaKey {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		key, pub = k, &k.PublicKey
	} else {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		key, pub = k, &k.PublicKey
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "newpb_thingy"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// testTub makes a tub whose ID is above (high) or below the other's, so
// that a test picks who decides.
func testTubPair(t testing.TB, serverDecides bool, opts ...TubOption) (server, client *Tub) {
	t.Helper()
	for {
		a, err := NewTub(testCert(t, false), opts...)
		if err != nil {
			t.Fatal(err)
		}
		b, err := NewTub(testCert(t, false), opts...)
		if err != nil {
			t.Fatal(err)
		}
		if (a.TubID() > b.TubID()) == serverDecides {
			t.Cleanup(func() { a.Close(); b.Close() })
			return a, b
		}
	}
}

// echo is an Object that answers every call with its arguments, and
// remembers the last call.
type echo struct {
	iface string
	calls chan *Call
}

func (e *echo) RemoteInterface() string { return e.iface }

func (e *echo) RemoteCall(ctx context.Context, c *Call) (any, error) {
	if e.calls != nil {
		select {
		case e.calls <- c:
		default: // a test that wants every call gives room for them
		}
	}
	switch c.Method {
	case "fail":
		return nil, &Failure{Type: "test.Boom", Value: "boom"}
	case "panic":
		panic("deliberate")
	case "announce_v2":
		return nil, nil
	case "self":
		return e, nil
	}
	return Tuple(c.Args), nil
}

// equalBytes reports whether v is bytes or text equal to s.
func equalBytes(v any, s string) bool {
	b, ok := Bytes(v)
	return ok && string(b) == s
}

// funcObject is an Object whose calls run f.
type funcObject struct {
	iface string
	f     func(ctx context.Context, c *Call) (any, error)
}

func (o *funcObject) RemoteInterface() string { return o.iface }

func (o *funcObject) RemoteCall(ctx context.Context, c *Call) (any, error) { return o.f(ctx, c) }

// testCtx returns a context that ends with the test or after 20 s, so that
// a bug fails a test instead of hanging it.
func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// served is a tub listening on 127.0.0.1 behind Demux, as a node serves
// one.
type served struct {
	addr  string
	tls   net.Listener  // the TLS side of the port
	errs  chan error    // what ServeConn returned
	conns chan net.Conn // the Foolscap connections, as Demux passed them
	calls chan *Call    // calls of the echo registered as "echo"
	furl  string        // the fURL of that echo
}

// serveTub makes tub listen on a fresh 127.0.0.1 port, registers an echo
// under the name "echo", and stops listening when the test ends.
func serveTub(t testing.TB, tub *Tub) *served {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &served{
		addr:  ln.Addr().String(),
		errs:  make(chan error, 100),
		conns: make(chan net.Conn, 100),
		calls: make(chan *Call, 1000),
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.tls = Demux(ln, func(nc net.Conn) {
		select {
		case s.conns <- nc:
		default:
		}
		if err := tub.ServeConn(ctx, nc); err != nil {
			select {
			case s.errs <- err:
			default:
			}
		}
	})
	t.Cleanup(func() {
		cancel()
		s.tls.Close()
	})
	tub.SetLocation("tcp:" + s.addr)
	s.furl = tub.Register("echo", &echo{iface: "RIEcho.test", calls: s.calls})
	return s
}

// dialPair makes two tubs (serverDecides picks who decides), serves the
// first and dials its echo from the second.
func dialPair(t testing.TB, serverDecides bool, opts ...TubOption) (srv *served, server, client *Tub, ref *RemoteRef) {
	t.Helper()
	server, client = testTubPair(t, serverDecides, opts...)
	srv = serveTub(t, server)
	ref, err := client.Dial(testCtx(t), srv.furl)
	if err != nil {
		t.Fatal(err)
	}
	return srv, server, client, ref
}

// roles runs f in both negotiation roles.
func roles(t *testing.T, f func(t *testing.T, serverDecides bool)) {
	for _, sd := range []bool{true, false} {
		name := "ClientDecides"
		if sd {
			name = "ServerDecides"
		}
		t.Run(name, func(t *testing.T) { f(t, sd) })
	}
}

// valueEqual compares decoded values: bytes by content, big integers by
// value, floats by bits, references by identity.
func valueEqual(a, b any) bool {
	seq := func(x, y []any) bool {
		if len(x) != len(y) {
			return false
		}
		for i := range x {
			if !valueEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	switch a := a.(type) {
	case []any:
		b, ok := b.([]any)
		return ok && seq(a, b)
	case []byte:
		b, ok := b.([]byte)
		return ok && bytes.Equal(a, b)
	case *big.Int:
		b, ok := b.(*big.Int)
		return ok && a.Cmp(b) == 0
	case float64:
		b, ok := b.(float64)
		return ok && math.Float64bits(a) == math.Float64bits(b)
	case List:
		b, ok := b.(List)
		return ok && seq(a, b)
	case Tuple:
		b, ok := b.(Tuple)
		return ok && seq(a, b)
	case Set:
		b, ok := b.(Set)
		return ok && seq(a, b)
	case Dict:
		b, ok := b.(Dict)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !valueEqual(a[i].Key, b[i].Key) || !valueEqual(a[i].Value, b[i].Value) {
				return false
			}
		}
		return true
	case *Failure:
		b, ok := b.(*Failure)
		return ok && reflect.DeepEqual(a, b)
	}
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	if !reflect.TypeOf(a).Comparable() || !reflect.TypeOf(b).Comparable() {
		return false
	}
	return a == b
}

// x parses space-separated hex bytes.
func x(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// cat joins byte slices and strings (written as their raw bytes), the way
// the captures of FOOLSCAP-NOTES.md section 6 are written.
func cat(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		switch p := p.(type) {
		case []byte:
			b = append(b, p...)
		case string:
			b = append(b, p...)
		default:
			panic(fmt.Sprintf("cat: %T", p))
		}
	}
	return b
}

// rawPeer is a Foolscap peer negotiated by hand over a real TLS
// connection, for sending what a Tub never would.
type rawPeer struct {
	tc    *tls.Conn
	br    *bufio.Reader
	tubID string
	opens uint64 // OPENs sent
	dec   *decoder
}

// rawOpts shapes a rawPeer's negotiation.
type rawOpts struct {
	master   int                     // 1: the raw peer decides, -1: the tub decides, 0: either
	hello    func(map[string]string) // edits the raw peer's hello
	decision func(map[string]string) // edits its decision, when it decides
}

// dialRaw connects to the tub served at addr and negotiates by hand. It
// returns the peer and the error that ended the negotiation, if any; the
// peer's connection is closed when the test ends.
func dialRaw(t testing.TB, addr string, server *Tub, o rawOpts) (*rawPeer, error) {
	t.Helper()
	var cert tls.Certificate
	var id string
	for {
		cert = testCert(t, false)
		id = TubIDOf(cert.Certificate[0])
		if o.master == 0 || (id > server.TubID()) == (o.master > 0) {
			break
		}
	}
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(nc, "GET /id/%s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: TLS/1.0\r\nConnection: Upgrade\r\n\r\n", server.TubID())
	resp, err := readBlock(byteReader{nc})
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(string(resp), "HTTP/1.1 101 ") {
		return nil, fmt.Errorf("upgrade refused: %q", resp)
	}
	tc := tls.Client(nc, &tls.Config{
		InsecureSkipVerify:   true,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil },
	})
	p := &rawPeer{tc: tc, br: bufio.NewReader(tc), tubID: id}
	p.dec = &decoder{r: p.br, limits: Limits{}.withDefaults()}
	hello := map[string]string{
		"banana-negotiation-range":  "3 3",
		"initial-vocab-table-range": "0 1",
		"last-connection":           "none 0",
		"my-incarnation":            "0123456789abcdef",
		"my-tub-id":                 id,
	}
	if o.hello != nil {
		o.hello(hello)
	}
	if _, err := tc.Write(formatBlock(hello)); err != nil {
		return p, err
	}
	b, err := readBlock(p.br)
	if err != nil {
		return p, err
	}
	theirs, err := parseBlock(b)
	if err != nil {
		return p, err
	}
	if msg, ok := theirs["error"]; ok {
		return p, fmt.Errorf("refused: %s", msg)
	}
	if id > server.TubID() {
		d := map[string]string{
			"banana-decision-version":   "3",
			"current-connection":        "0123456789abcdef 1",
			"initial-vocab-table-index": "1 " + vocabHash,
		}
		if o.decision != nil {
			o.decision(d)
		}
		_, err := tc.Write(formatBlock(d))
		return p, err
	}
	b, err = readBlock(p.br)
	if err != nil {
		return p, err
	}
	d, err := parseBlock(b)
	if err != nil {
		return p, err
	}
	if msg, ok := d["error"]; ok {
		return p, fmt.Errorf("refused: %s", msg)
	}
	if d["banana-decision-version"] != "3" || d["initial-vocab-table-index"] != "1 "+vocabHash {
		return p, fmt.Errorf("decision %q", b)
	}
	return p, nil
}

// mustDialRaw is dialRaw that fails the test on a refusal.
func mustDialRaw(t testing.TB, addr string, server *Tub, o rawOpts) *rawPeer {
	t.Helper()
	p, err := dialRaw(t, addr, server, o)
	if err != nil {
		t.Fatalf("raw negotiation: %v", err)
	}
	return p
}

// send writes raw bytes.
func (p *rawPeer) send(t testing.TB, b []byte) {
	t.Helper()
	if _, err := p.tc.Write(b); err != nil {
		t.Fatalf("raw write: %v", err)
	}
}

// sendMsg encodes one message with build, numbering its OPENs on from the
// peer's earlier ones, and writes it.
func (p *rawPeer) sendMsg(t testing.TB, build func(e *encoder)) {
	t.Helper()
	e := &encoder{opens: p.opens}
	build(e)
	p.opens = e.opens
	p.send(t, e.buf)
}

// call sends a call of method on clid with positional args.
func (p *rawPeer) call(t testing.TB, req, clid int64, method string, args ...any) {
	t.Helper()
	p.sendMsg(t, func(e *encoder) {
		n := e.open("call")
		e.int(req)
		e.int(clid)
		e.bytes([]byte(method))
		an := e.open("arguments")
		e.int(int64(len(args)))
		for _, a := range args {
			if err := e.value(a); err != nil {
				t.Fatal(err)
			}
		}
		e.close(an)
		e.close(n)
	})
}

// expectClosed reads until the tub hangs up, failing the test if it does
// not within the deadline. It returns what was read.
func (p *rawPeer) expectClosed(t testing.TB) []byte {
	t.Helper()
	p.tc.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(p.br)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the tub did not close the connection (read %x)", b)
	}
	return b
}

func tlsCertWithoutKey(c tls.Certificate) tls.Certificate {
	c.PrivateKey = nil
	return c
}

type x509Cert = x509.Certificate

func parseCert(der []byte) (*x509.Certificate, error) { return x509.ParseCertificate(der) }

// recv receives from ch, failing the test if nothing comes within 10 s.
func recv[T any](t testing.TB, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting")
	}
	var zero T
	return zero
}
