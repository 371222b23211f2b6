package foolscap

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Tub is a node's Foolscap identity and its connections to other tubs: at
// most one live connection per peer tub, which every reference to that
// tub shares. A Tub is safe for concurrent use.
type Tub struct {
	cert        tls.Certificate
	tubID       string
	incarnation string
	keepalive   time.Duration
	limits      Limits
	log         *slog.Logger
	dial        func(ctx context.Context, network, addr string) (net.Conn, error)
	dialSet     bool // dial came from WithDialer

	mu        sync.Mutex
	closed    bool
	location  []string
	names     map[string]Object
	furls     map[Object]string
	conns     map[string]*Conn // the live connection to each peer tub
	all       map[*Conn]bool
	dialing   map[string]*sync.Mutex
	masterSeq map[string]int
	lastConn  map[string]string // peer -> the decision we last accepted
	accepting sync.WaitGroup
	inbound   int // connections ServeConn is negotiating
	maxConns  int
}

// DefaultMaxConns bounds a tub's connections, live and negotiating; an
// inbound connection beyond it is refused at once.
const DefaultMaxConns = 10000

// WithMaxConns sets the bound on connections (DefaultMaxConns unless set).
func WithMaxConns(n int) TubOption { return func(t *Tub) { t.maxConns = max(n, 1) } }

// TubOption configures NewTub.
type TubOption func(*Tub)

// WithKeepalive sets how long a connection may be silent before a PING,
// and half how long before it is dropped (DefaultKeepalive unless set).
func WithKeepalive(d time.Duration) TubOption {
	return func(t *Tub) { t.keepalive = max(d, 10*time.Millisecond) }
}

// WithLimits sets the limits on what peers send (see Limits).
func WithLimits(l Limits) TubOption { return func(t *Tub) { t.limits = l.withDefaults() } }

// WithLogger sets where the tub logs (slog.Default unless set).
func WithLogger(l *slog.Logger) TubOption { return func(t *Tub) { t.log = l } }

// WithDialer sets how the tub opens TCP connections.
func WithDialer(dial func(ctx context.Context, network, addr string) (net.Conn, error)) TubOption {
	return func(t *Tub) { t.dial, t.dialSet = dial, true }
}

// NewTub returns a tub with the given certificate and key (a node's
// private/node.pem); its tub ID is the certificate's SHA-1.
func NewTub(cert tls.Certificate, opts ...TubOption) (*Tub, error) {
	if len(cert.Certificate) == 0 || cert.PrivateKey == nil {
		return nil, errors.New("foolscap: the tub's certificate has no certificate or no key")
	}
	if _, err := x509.ParseCertificate(cert.Certificate[0]); err != nil {
		return nil, fmt.Errorf("foolscap: the tub's certificate: %w", err)
	}
	inc := make([]byte, 8)
	rand.Read(inc)
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	t := &Tub{
		cert:        cert,
		tubID:       TubIDOf(cert.Certificate[0]),
		incarnation: hex.EncodeToString(inc),
		keepalive:   DefaultKeepalive,
		limits:      Limits{}.withDefaults(),
		log:         slog.Default(),
		dial:        d.DialContext,
		names:       map[string]Object{},
		furls:       map[Object]string{},
		conns:       map[string]*Conn{},
		all:         map[*Conn]bool{},
		dialing:     map[string]*sync.Mutex{},
		masterSeq:   map[string]int{},
		lastConn:    map[string]string{},
		maxConns:    DefaultMaxConns,
	}
	for _, o := range opts {
		o(t)
	}
	return t, nil
}

// TubID returns the tub's ID.
func (t *Tub) TubID() string { return t.tubID }

// SetLocation sets the connection hints of the fURLs the tub gives out
// (tub.location, such as "tcp:example.org:3456").
func (t *Tub) SetLocation(hints ...string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.location = append([]string(nil), hints...)
	for obj, f := range t.furls {
		if p, err := ParseFURL(f); err == nil {
			t.furls[obj] = FURL{TubID: t.tubID, Hints: t.location, Name: p.Name}.String()
		}
	}
}

// Register makes obj reachable by peers under name (its swissnum) and
// returns its fURL.
func (t *Tub) Register(name string, obj Object) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := FURL{TubID: t.tubID, Hints: t.location, Name: name}.String()
	t.names[name] = obj
	t.furls[obj] = f
	return f
}

// Unregister makes the object registered under name unreachable by name.
func (t *Tub) Unregister(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if obj, ok := t.names[name]; ok {
		delete(t.furls, obj)
		delete(t.names, name)
	}
}

func (t *Tub) lookup(name string) Object {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.names[name]
}

func (t *Tub) furlOf(obj Object) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.furls[obj]
}

// decide judges, as the deciding side, an offer to connect from c's peer,
// by Foolscap's rules (negotiate.py compareOfferAndExisting) when a
// connection to that peer exists already: the new one replaces it only if
// the peer shows that it knows the old one is gone (another incarnation of
// the peer, or the peer remembers our last decision to it). Otherwise the
// offer is a duplicate, such as a parallel connection over a second hint,
// and is refused. An accepted c becomes the peer's connection at once,
// numbered seq; old, if any, is the connection it replaces, for the caller
// to drop once the decision is sent.
func (t *Tub) decide(c *Conn, offer map[string]string) (seq int, old *Conn, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return 0, nil, fmt.Errorf("%w: the tub is closed", ErrClosed)
	}
	if old = t.conns[c.peer]; old != nil && !old.isDone() && !acceptOffer(offer, old, t.incarnation) {
		return 0, nil, protoErr("Duplicate connection")
	}
	t.masterSeq[c.peer]++
	seq = t.masterSeq[c.peer]
	c.peerIncarnation, c.seq = offer["my-incarnation"], seq
	t.conns[c.peer] = c
	t.all[c] = true
	return seq, old, nil
}

// acceptOffer reports whether an offer should replace the connection
// existing (Foolscap's compareOfferAndExisting).
func acceptOffer(offer map[string]string, existing *Conn, ours string) bool {
	last, ok := offer["last-connection"]
	if offer["my-incarnation"] == "" || !ok {
		return false // a peer too old to tell
	}
	if offer["my-incarnation"] != existing.peerIncarnation {
		return true // the peer restarted: the existing connection is stale
	}
	f := strings.Fields(last)
	if len(f) != 2 || f[0] == "none" {
		return false // a parallel first attempt
	}
	if f[0] != ours {
		return true // it heard last from a past life of ours
	}
	n, err := strconv.Atoi(f[1])
	return err == nil && n == existing.seq // it knows the existing one, and still reconnects
}

func (t *Tub) lastConnection(peer string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s, ok := t.lastConn[peer]; ok {
		return s
	}
	return "none 0"
}

func (t *Tub) setLastConnection(peer, cc string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lastConn[peer] = cc
}

// adopt makes c the live connection to its peer, dropping an older one:
// the deciding side chose the new connection, and Foolscap keeps one.
func (t *Tub) adopt(c *Conn) error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return fmt.Errorf("%w: the tub is closed", ErrClosed)
	}
	old := t.conns[c.peer]
	t.conns[c.peer] = c
	t.all[c] = true
	t.mu.Unlock()
	if old != nil {
		old.fail(fmt.Errorf("%w: replaced by a new connection", ErrClosed))
	}
	return nil
}

// forget drops a lost connection from the tables.
func (t *Tub) forget(c *Conn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.conns[c.peer] == c {
		delete(t.conns, c.peer)
	}
	delete(t.all, c)
}

// Close drops every connection; later dials fail.
func (t *Tub) Close() error {
	t.mu.Lock()
	t.closed = true
	conns := make([]*Conn, 0, len(t.all))
	for c := range t.all {
		conns = append(conns, c)
	}
	t.mu.Unlock()
	for _, c := range conns {
		c.Close()
		c.wg.Wait()
	}
	t.accepting.Wait()
	return nil
}

// Dial connects to the tub of the fURL s (or uses the live connection to
// it) and returns a reference to the object it names.
func (t *Tub) Dial(ctx context.Context, s string) (*RemoteRef, error) {
	f, err := ParseFURL(s)
	if err != nil {
		return nil, err
	}
	c, err := t.Connect(ctx, f)
	if err != nil {
		return nil, err
	}
	v, err := c.call(ctx, 0, "getReferenceByName", nil, Dict{{"name", []byte(f.Name)}}, true)
	if err != nil {
		return nil, fmt.Errorf("getting %s: %w", f.Censored(), err)
	}
	ref, ok := v.(*RemoteRef)
	if !ok {
		c.fail(protoErr("getReferenceByName answered a %T", v))
		return nil, c.Err()
	}
	return ref, nil
}

// Connect returns the live connection to the tub of f, making one if there
// is none: every tcp hint is dialled at once, and the first TCP connection
// to open is negotiated (the next one if that fails). Hints of other
// kinds are ignored, as Foolscap ignores hints it does not know.
func (t *Tub) Connect(ctx context.Context, f FURL) (*Conn, error) {
	if f.TubID == t.tubID {
		return nil, fmt.Errorf("foolscap: %s is this tub's own fURL", f.Censored())
	}
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil, fmt.Errorf("%w: the tub is closed", ErrClosed)
	}
	if c := t.conns[f.TubID]; c != nil {
		t.mu.Unlock()
		return c, nil
	}
	m := t.dialing[f.TubID]
	if m == nil {
		m = &sync.Mutex{}
		t.dialing[f.TubID] = m
	}
	t.mu.Unlock()
	m.Lock()
	defer m.Unlock()
	t.mu.Lock()
	c := t.conns[f.TubID]
	t.mu.Unlock()
	if c != nil {
		return c, nil
	}
	return t.connect(ctx, f)
}

func (t *Tub) connect(ctx context.Context, f FURL) (*Conn, error) {
	var hints []Hint
	for _, raw := range f.Hints {
		h, err := ParseHint(raw)
		switch {
		case err != nil:
		case h.Type == "tcp":
			hints = append(hints, h)
		case h.Type == "tor" && t.dialSet && strings.HasSuffix(strings.ToLower(h.Host), ".onion"):
			// Dialled like the others, through the dialer given with
			// WithDialer, which must send .onion addresses through Tor
			// (or refuse them); the default dialer would ask the DNS.
			hints = append(hints, h)
		case h.Type == "i2p" && t.dialSet && strings.HasSuffix(strings.ToLower(h.Host), ".i2p"):
			// Likewise through the dialer, which must send .i2p
			// addresses through I2P (or refuse them).
			hints = append(hints, h)
		}
	}
	if len(hints) == 0 {
		return nil, fmt.Errorf("foolscap: %s has no tcp, onion or I2P connection hint this node can use", f.Censored())
	}
	// Every hint is tried at once, through the negotiation, as Foolscap
	// does, so that one that accepts TCP and then stalls delays nothing.
	// The first to finish wins; the others stop.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var once sync.Once
	claim := func() bool {
		won := false
		once.Do(func() { won = true })
		return won
	}
	type result struct {
		c   *Conn
		err error
	}
	results := make(chan result, len(hints))
	for _, h := range hints {
		go func() {
			nc, err := t.dial(ctx, "tcp", h.HostPort())
			if err != nil {
				results <- result{nil, err}
				return
			}
			c, err := t.negotiateClient(ctx, nc, h.Host, f.TubID, claim)
			if err != nil {
				nc.Close()
			}
			results <- result{c, err}
		}()
	}
	var errs []error
	var conn *Conn
	for range hints {
		r := <-results
		switch {
		case r.err == nil:
			conn = r.c
			cancel() // the other attempts stop
		case errors.Is(r.err, errLostRace):
		case conn == nil:
			errs = append(errs, r.err)
		}
	}
	if conn != nil {
		return conn, nil
	}
	return nil, fmt.Errorf("connecting to tub %s: %w", f.TubID, errors.Join(errs...))
}

// ServeConn negotiates a connection that a listener accepted and whose
// first bytes are Foolscap's (see Demux), then serves it in the
// background. It returns once the negotiation ends.
func (t *Tub) ServeConn(ctx context.Context, nc net.Conn) error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		nc.Close()
		return fmt.Errorf("%w: the tub is closed", ErrClosed)
	}
	if len(t.all)+t.inbound >= t.maxConns {
		t.mu.Unlock()
		nc.Close()
		t.log.Warn("foolscap: refused a connection: too many connections", "remote", nc.RemoteAddr(), "max", t.maxConns)
		return fmt.Errorf("foolscap: refused a connection from %s: the tub has its maximum of %d connections", nc.RemoteAddr(), t.maxConns)
	}
	t.inbound++
	t.accepting.Add(1)
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		t.inbound--
		t.mu.Unlock()
		t.accepting.Done()
	}()
	c, err := t.negotiateServer(ctx, nc)
	if err != nil {
		nc.Close()
		t.log.Debug("foolscap: refused a connection", "remote", nc.RemoteAddr(), "err", err)
		return err
	}
	t.log.Debug("foolscap: connection", "peer", c.peer, "remote", nc.RemoteAddr())
	return nil
}

// Demux splits the connections of ln between TLS (returned as a listener,
// for an HTTPS server) and Foolscap, whose connections start with a
// plaintext upgrade request: those go to foolscap, each in its own
// goroutine. This is how one port serves both, as Tahoe's does. A
// connection that sends nothing within 30 s is dropped.
func Demux(ln net.Listener, foolscap func(net.Conn)) net.Listener {
	d := &demux{Listener: ln, conns: make(chan net.Conn), done: make(chan struct{}), fool: foolscap,
		sorting: make(chan struct{}, maxSorting)}
	go d.loop()
	return d
}

// maxSorting bounds the connections Demux waits on for their first byte;
// more are closed at once.
const maxSorting = 1000

type demux struct {
	net.Listener
	conns   chan net.Conn
	done    chan struct{}
	once    sync.Once
	fool    func(net.Conn)
	sorting chan struct{} // a token per connection being sorted
	err     error
}

func (d *demux) loop() {
	defer d.once.Do(func() { close(d.done) })
	var delay time.Duration
	for {
		nc, err := d.Listener.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				d.err = err
				return
			}
			// Out of file descriptors and the like: wait and go on, as
			// http.Server does.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			time.Sleep(delay)
			continue
		}
		delay = 0
		select {
		case d.sorting <- struct{}{}:
			go d.sort(nc)
		default:
			nc.Close()
		}
	}
}

// sort peeks at the first byte: 0x16 starts a TLS handshake.
func (d *demux) sort(nc net.Conn) {
	nc.SetReadDeadline(time.Now().Add(negotiationTime))
	br := bufio.NewReaderSize(nc, 1024)
	first, err := br.Peek(1)
	<-d.sorting
	if err != nil {
		nc.Close()
		return
	}
	nc.SetReadDeadline(time.Time{})
	pc := &peekedConn{Conn: nc, r: br}
	if first[0] == 0x16 {
		select {
		case d.conns <- pc:
		case <-d.done:
			nc.Close()
		}
		return
	}
	d.fool(pc)
}

func (d *demux) Accept() (net.Conn, error) {
	select {
	case c := <-d.conns:
		return c, nil
	case <-d.done:
		if d.err != nil {
			return nil, d.err
		}
		return nil, net.ErrClosed
	}
}

func (d *demux) Close() error {
	err := d.Listener.Close()
	return err
}

// peekedConn is a connection whose first bytes were read ahead.
type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (p *peekedConn) Read(b []byte) (int, error) { return p.r.Read(b) }
