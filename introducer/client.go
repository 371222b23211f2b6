package introducer

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/introducer/foolscap"
	"github.com/lafs/lafs/nurl"
)

// Client defaults.
const (
	// DefaultPollWait is how long a poll asks the introducer to wait.
	DefaultPollWait = 60 * time.Second
	// DefaultMinBackoff is the first wait before trying again after a
	// failure; the wait doubles after each further failure.
	DefaultMinBackoff = time.Second
	// DefaultMaxBackoff caps the wait between attempts.
	DefaultMaxBackoff = 30 * time.Second
	// minPollInterval spaces polls, so that an introducer that answers at
	// once, again and again, cannot make us spin.
	minPollInterval = 100 * time.Millisecond
	// requestSlack is how much longer than its wait a poll may take.
	requestSlack = 30 * time.Second
)

// AnnouncementFunc receives a verified announcement that is new or newer
// (by seqnum) than the last one from the same server id.
type AnnouncementFunc func(serverID string, ann Announcement)

// Client is a node's connection to one introducer: it publishes the node's
// announcements (again whenever it reconnects or the introducer restarts),
// and long-polls for storage announcements, checking every signature
// itself, since an introducer is not trusted. It keeps the newest seqnum per
// server id and passes each new or changed announcement to its
// AnnouncementFunc. After a failure it retries with a doubling back-off.
// A Client is safe for concurrent use.
type Client struct {
	nurl     nurl.NURL
	censored string
	base     string
	auth     string
	subHdr   string
	cfg      clientConfig
	tr       *http.Transport
	hc       *http.Client
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	kick     chan struct{} // wakes the publisher
	first    chan struct{} // closed once the first poll ended
	firstOne sync.Once

	mu           sync.Mutex
	closed       bool
	connected    bool
	since        time.Time
	lastReceived time.Time
	lastErr      error
	rejected     int
	lastAttempt  time.Time
	nextAttempt  time.Time
	instance     []byte
	known        map[string]known  // server id -> newest accepted storage announcement
	pub          map[string]Signed // service -> our newest announcement
	sent         map[string]bool   // service -> pub[service] published to this instance
	gen          int               // bumped when sent is reset
}

type known struct {
	seqnum int64
	msg    []byte
}

// ClientOption configures NewClient.
type ClientOption func(*clientConfig)

type clientConfig struct {
	onAnn      AnnouncementFunc
	minBackoff time.Duration
	maxBackoff time.Duration
	pollWait   time.Duration
	myVersion  string
	dial       func(ctx context.Context, network, addr string) (net.Conn, error)
	log        *slog.Logger
	tub        *foolscap.Tub // for Tahoe's introducers (Clients)
	cacheDir   string        // where Clients keeps announcement caches
}

func (c clientConfig) logger() *slog.Logger {
	if c.log == nil {
		return slog.Default()
	}
	return c.log
}

// OnAnnouncement sets the function that receives storage announcements.
// It is called from one goroutine at a time, in the order the
// announcements are accepted, and must not block for long.
func OnAnnouncement(fn AnnouncementFunc) ClientOption {
	return func(c *clientConfig) { c.onAnn = fn }
}

// WithBackoff sets the first and the longest wait between attempts after a
// failure (DefaultMinBackoff and DefaultMaxBackoff unless set).
func WithBackoff(minWait, maxWait time.Duration) ClientOption {
	return func(c *clientConfig) {
		c.minBackoff = max(minWait, time.Millisecond)
		c.maxBackoff = max(maxWait, c.minBackoff)
	}
}

// WithPollWait sets how long each poll asks the introducer to wait for a
// change (DefaultPollWait unless set; the introducer may wait less).
func WithPollWait(d time.Duration) ClientOption {
	return func(c *clientConfig) { c.pollWait = max(d, 0) }
}

// WithMyVersion sets the version the client reports to the introducer's
// status page ("lafs" unless set).
func WithMyVersion(v string) ClientOption { return func(c *clientConfig) { c.myVersion = v } }

// WithDialContext sets how connections are made, for instance through Tor
// (which a pb+tor NURL needs). The function gets the NURL's host:port.
func WithDialContext(dial func(ctx context.Context, network, addr string) (net.Conn, error)) ClientOption {
	return func(c *clientConfig) { c.dial = dial }
}

// WithLogger sets where the client logs (slog.Default unless set).
func WithLogger(l *slog.Logger) ClientOption { return func(c *clientConfig) { c.log = l } }

// NewClient starts a client of the introducer at the NURL u,
// pb://<spki-hash>@<host>:<port>/<swissnum>#v=1 (a "tcp:" before the host
// is accepted too), reporting nickname to its status page. A Foolscap
// fURL (no "#v=1") gets an error wrapping ErrFoolscap. The client connects
// in the background; Status tells how it goes, Close stops it.
func NewClient(u, nickname string, opts ...ClientOption) (*Client, error) {
	n, err := parseNURL(u)
	if err != nil {
		return nil, err
	}
	cfg := clientConfig{
		minBackoff: DefaultMinBackoff,
		maxBackoff: DefaultMaxBackoff,
		pollWait:   DefaultPollWait,
		myVersion:  "lafs",
	}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.log == nil {
		cfg.log = slog.Default()
	}
	if err := n.CheckDialer(cfg.dial != nil); err != nil {
		return nil, fmt.Errorf("%w (WithDialContext)", err)
	}
	if cfg.dial == nil {
		d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
		cfg.dial = d.DialContext
	}
	tlsConf, err := nurl.ClientTLSConfig(n.SPKIHash)
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{
		DialContext:         cfg.dial,
		TLSClientConfig:     tlsConf,
		TLSHandshakeTimeout: 30 * time.Second,
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		// HTTP/1.1 only, as the storage protocol.
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{},
	}
	id := make([]byte, 10)
	rand.Read(id)
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		nurl:     n,
		censored: n.Redacted(),
		base:     "https://" + n.Address(),
		auth:     authorization([]byte(n.Swissnum)),
		subHdr: url.Values{
			"id":         {lafs.Base32(id)},
			"nickname":   {truncateUTF8(nickname, maxSubscriberField)},
			"my-version": {truncateUTF8(cfg.myVersion, maxSubscriberField)},
		}.Encode(),
		cfg:    cfg,
		tr:     tr,
		hc:     &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		ctx:    ctx,
		cancel: cancel,
		kick:   make(chan struct{}, 1),
		first:  make(chan struct{}),
		since:  time.Now(),
		known:  map[string]known{},
		pub:    map[string]Signed{},
		sent:   map[string]bool{},
	}
	c.wg.Add(2)
	go c.pollLoop()
	go c.publishLoop()
	return c, nil
}

// Close stops the client's goroutines, abandoning requests under way, and
// waits for them to end. It is safe to call more than once.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
	c.firstOne.Do(func() { close(c.first) })
	c.tr.CloseIdleConnections()
	return nil
}

// Publish has the client publish s, a signed announcement of this node,
// now if it is connected, else as soon as it connects, and again whenever
// it reconnects. A later call for the same service replaces it: its seqnum
// must be higher. An announcement that does not verify is refused.
func (c *Client) Publish(s Signed) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	service, changed, err := setPublished(c.pub, s)
	if err != nil || !changed {
		return err
	}
	c.sent[service] = false
	c.wake()
	return nil
}

// setPublished makes s the announcement to publish for its service in
// pub, after checking it: a different announcement from the same key
// needs a higher seqnum. It reports whether pub changed.
func setPublished(pub map[string]Signed, s Signed) (service string, changed bool, err error) {
	service, seqnum, err := checkSigned(s)
	if err != nil {
		return "", false, err
	}
	if old, ok := pub[service]; ok {
		if bytes.Equal(old.Msg, s.Msg) && old.Key == s.Key {
			return service, false, nil
		}
		if _, oldSeq, _ := checkSigned(old); oldSeq >= seqnum && old.Key == s.Key {
			return "", false, fmt.Errorf("%w: seqnum %d is not above the %d already published", ErrBadAnnouncement, seqnum, oldSeq)
		}
	}
	pub[service] = s
	return service, true, nil
}

// checkSigned verifies one of our own announcements before it is sent.
func checkSigned(s Signed) (service string, seqnum int64, err error) {
	if err := checkShape(s); err != nil {
		return "", 0, fmt.Errorf("%w: %v", ErrBadAnnouncement, err)
	}
	a, err := Verify(s)
	if err != nil {
		return "", 0, err
	}
	return checkAnnouncement(a)
}

// firstAttempt is closed once the first poll has succeeded or failed.
func (c *Client) firstAttempt() <-chan struct{} { return c.first }

func (c *Client) wake() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// Status is the state of a client's connection to its introducer, for the
// welcome page (Tahoe's introducers.statuses).
type Status struct {
	// Address is the introducer's NURL or fURL with the swissnum
	// censored.
	Address string
	// Protocol is "https" for our introducer protocol, "foolscap" for
	// Tahoe's.
	Protocol string
	// Connected tells whether the last poll succeeded.
	Connected bool
	// Since is when Connected last changed (or the client started).
	Since time.Time
	// LastReceived is when an answer last came (zero if none did).
	LastReceived time.Time
	// LastError is the last failure, of a poll or a publish; nil once a
	// reconnection succeeds. A 401 matches ErrUnauthorized, a certificate
	// that is not the pinned one nurl.ErrPin.
	LastError error
	// Servers counts the storage servers whose announcements were
	// accepted; Rejected the announcements refused (bad signature, bad
	// form), which an honest introducer never relays.
	Servers  int
	Rejected int
	// Hint is the connection hint in use while connected, as Tahoe
	// names it ("tcp:HOST:PORT").
	Hint string
	// LastAttempt is when the client last tried to connect, and
	// NextAttempt when it will try again while it waits after a
	// failure (zero otherwise).
	LastAttempt, NextAttempt time.Time
}

// Summary says in a few words how the connection is, as Tahoe's
// connection status summary does.
func (s Status) Summary() string {
	switch {
	case s.Connected:
		return "connected to " + s.Address
	case s.LastError != nil:
		return "not connected: " + s.LastError.Error()
	}
	return "connecting to " + s.Address
}

// Status returns the state of the connection.
func (c *Client) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Status{
		Address:      c.censored,
		Protocol:     "https",
		Connected:    c.connected,
		Since:        c.since,
		LastReceived: c.lastReceived,
		LastError:    c.lastErr,
		Servers:      len(c.known),
		Rejected:     c.rejected,
		Hint:         "tcp:" + c.nurl.Address(),
		LastAttempt:  c.lastAttempt,
		NextAttempt:  c.nextAttempt,
	}
}
