package introducer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/lafs/lafs/introducer/foolscap"
)

// Tahoe's introducer protocol over Foolscap (introducer/interfaces.py).
const (
	// foolscapV2 is the key of get_version's answer that says an
	// introducer speaks this protocol.
	foolscapV2 = "http://allmydata.org/tahoe/protocols/introducer/v2"
	// subscriberInterface is the remote interface a subscriber claims;
	// Tahoe's introducer checks it.
	subscriberInterface = "RIIntroducerSubscriberClient_v2.tahoe.allmydata.com"
	// publisherInterface is the introducer's own.
	publisherInterface = "RIIntroducerPublisherAndSubscriberService_v2.tahoe.allmydata.com"
	// foolscapCallTimeout bounds each call to the introducer.
	foolscapCallTimeout = 2 * time.Minute
)

// FoolscapClient is a node's connection to a Tahoe introducer, which
// speaks only Foolscap: it publishes the node's announcements (again after
// each reconnection), subscribes to storage announcements and checks each
// one's signature itself, keeping the newest seqnum per server. After a
// failure or a lost connection it reconnects with a doubling back-off. It
// behaves as Client does for an HTTPS introducer.
type FoolscapClient struct {
	furl     foolscap.FURL
	censored string
	tub      *foolscap.Tub
	nickname string
	cfg      clientConfig
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	kick     chan struct{}
	first    chan struct{} // closed when the first attempt ends
	// deliverMu is held while announcements are passed on, so that
	// none is after Close returns.
	deliverMu sync.Mutex

	mu        sync.Mutex
	closed    bool
	connected bool
	since     time.Time
	lastErr   error
	rejected  int
	lastTry   time.Time
	nextTry   time.Time
	conn      *foolscap.Conn
	known     map[string]known
	pub       map[string]Signed
}

// NewFoolscapClient starts a client of the Tahoe introducer at the fURL
// furl, connecting through tub (the node's Foolscap identity), and
// reporting nickname to the introducer's status page. It connects in the
// background; Status tells how it goes, Close stops it.
func NewFoolscapClient(tub *foolscap.Tub, furl, nickname string, opts ...ClientOption) (*FoolscapClient, error) {
	f, err := foolscap.ParseFURL(furl)
	if err != nil {
		return nil, fmt.Errorf("introducer: %w", err)
	}
	cfg := clientConfig{minBackoff: DefaultMinBackoff, maxBackoff: DefaultMaxBackoff, myVersion: "lafs"}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.log == nil {
		cfg.log = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &FoolscapClient{
		furl:     f,
		censored: f.Censored(),
		tub:      tub,
		nickname: nickname,
		cfg:      cfg,
		ctx:      ctx,
		cancel:   cancel,
		kick:     make(chan struct{}, 1),
		first:    make(chan struct{}),
		since:    time.Now(),
		known:    map[string]known{},
		pub:      map[string]Signed{},
	}
	c.wg.Add(1)
	go c.run()
	return c, nil
}

// Close stops the client and waits for its goroutine. It is safe to call
// more than once.
func (c *FoolscapClient) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	c.deliverMu.Lock()
	c.deliverMu.Unlock()
	c.wg.Wait()
	return nil
}

// Publish has the client publish s now if connected, else once connected,
// and again after every reconnection. A later call for the same service
// replaces it: its seqnum must be higher.
func (c *FoolscapClient) Publish(s Signed) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	if _, changed, err := setPublished(c.pub, s); err != nil || !changed {
		return err
	}
	select {
	case c.kick <- struct{}{}:
	default:
	}
	return nil
}

// Status returns the state of the connection.
func (c *FoolscapClient) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := Status{
		Address:   c.censored,
		Protocol:  "foolscap",
		Connected: c.connected,
		Since:     c.since,
		LastError: c.lastErr,
		Servers:   len(c.known),
		Rejected:  c.rejected,
	}
	st.LastAttempt, st.NextAttempt = c.lastTry, c.nextTry
	if c.conn != nil {
		st.LastReceived = c.conn.LastReceived()
		st.Hint = c.hintOf(c.conn.RemoteAddr())
	}
	return st
}

// hintOf names the fURL's hint that a connection to addr came by: the
// tcp hint with its port (and host, when that is an address), else
// "tcp:" and the address.
func (c *FoolscapClient) hintOf(addr net.Addr) string {
	ta, ok := addr.(*net.TCPAddr)
	if !ok {
		return ""
	}
	var best string
	for _, raw := range c.furl.Hints {
		h, err := foolscap.ParseHint(raw)
		if err != nil || h.Type != "tcp" || h.Port != ta.Port {
			continue
		}
		if ip := net.ParseIP(h.Host); ip != nil && ip.Equal(ta.IP) {
			return raw
		}
		if best == "" {
			best = raw
		}
	}
	if best != "" {
		return best
	}
	return "tcp:" + ta.String()
}

// firstAttempt is closed once the first connection attempt has succeeded
// or failed.
func (c *FoolscapClient) firstAttempt() <-chan struct{} { return c.first }

func (c *FoolscapClient) run() {
	defer c.wg.Done()
	backoff := c.cfg.minBackoff
	firstDone := false
	for c.ctx.Err() == nil {
		start := time.Now()
		c.mu.Lock()
		c.lastTry, c.nextTry = start, time.Time{}
		c.mu.Unlock()
		conn, err := c.session(func() {
			if !firstDone {
				firstDone = true
				close(c.first)
			}
		})
		if conn != nil {
			// A session ends with its connection, so that the next one
			// starts afresh: the introducer keys subscriptions by
			// connection and would otherwise feed two.
			conn.Close()
		}
		if c.ctx.Err() != nil {
			break
		}
		c.lost(err)
		if !firstDone {
			firstDone = true
			close(c.first)
		}
		if time.Since(start) > c.cfg.maxBackoff {
			backoff = c.cfg.minBackoff // it worked for a while
		}
		c.mu.Lock()
		c.nextTry = time.Now().Add(backoff)
		c.mu.Unlock()
		t := time.NewTimer(backoff)
		select {
		case <-c.ctx.Done():
			t.Stop()
		case <-t.C:
		}
		backoff = min(2*backoff, c.cfg.maxBackoff)
	}
	if !firstDone {
		close(c.first)
	}
}

// lost records the end of a connection or a failed attempt.
func (c *FoolscapClient) lost(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lastErr = err
	c.conn = nil
	if c.connected {
		c.connected, c.since = false, time.Now()
		c.cfg.log.Warn("lost the introducer", "introducer", c.censored, "err", err)
	} else {
		c.cfg.log.Debug("introducer unreachable", "introducer", c.censored, "err", err)
	}
}

// session connects, subscribes and publishes, then serves until the
// connection is lost or the client closed; connected is called once the
// introducer answered get_version. It returns the connection it used,
// which the caller closes.
func (c *FoolscapClient) session(connected func()) (*foolscap.Conn, error) {
	ctx, cancel := context.WithTimeout(c.ctx, foolscapCallTimeout)
	ref, err := c.tub.Dial(ctx, c.furl.String())
	if err != nil {
		cancel()
		return nil, err
	}
	conn := ref.Conn()
	v, err := ref.Call(ctx, "get_version")
	cancel()
	if err != nil {
		return conn, fmt.Errorf("get_version: %w", err)
	}
	ver, ok := v.(foolscap.Dict)
	if !ok {
		return conn, fmt.Errorf("%w: get_version answered a %T", ErrProtocol, v)
	}
	if _, ok := ver.Get(foolscapV2); !ok {
		return conn, fmt.Errorf("%w: the introducer does not speak Tahoe's introducer protocol v2", ErrProtocol)
	}
	c.mu.Lock()
	c.conn = conn
	c.connected, c.since, c.lastErr = true, time.Now(), nil
	c.mu.Unlock()
	c.cfg.log.Info("connected to the introducer", "introducer", c.censored)
	connected()

	// The introducer answers subscribe_v2 only once we have answered its
	// first announce_v2, which the connection serves meanwhile.
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		ctx, cancel := context.WithTimeout(c.ctx, foolscapCallTimeout)
		defer cancel()
		info := foolscap.Dict{
			{Key: []byte("version"), Value: int64(0)},
			{Key: []byte("nickname"), Value: truncateUTF8(c.nickname, maxSubscriberField)},
			{Key: []byte("app-versions"), Value: foolscap.List{}},
			{Key: []byte("my-version"), Value: []byte(truncateUTF8(c.cfg.myVersion, maxSubscriberField))},
			{Key: []byte("oldest-supported"), Value: []byte(truncateUTF8(c.cfg.myVersion, maxSubscriberField))},
		}
		if _, err := ref.Call(ctx, "subscribe_v2", &subscriberObject{c}, []byte(StorageService), info); err != nil && c.ctx.Err() == nil {
			c.cfg.log.Warn("subscribing to the introducer failed", "introducer", c.censored, "err", err)
			conn.Close()
		}
	}()

	sent := map[string][]byte{}
	canary := &canaryObject{}
	for {
		c.mu.Lock()
		var todo []Signed
		for service, s := range c.pub {
			if !bytes.Equal(sent[service], s.Msg) {
				todo = append(todo, s)
			}
		}
		c.mu.Unlock()
		for _, s := range todo {
			ctx, cancel := context.WithTimeout(c.ctx, foolscapCallTimeout)
			_, err := ref.Call(ctx, "publish_v2", foolscap.Tuple{s.Msg, []byte(s.Sig), []byte(s.Key)}, canary)
			cancel()
			if err != nil {
				if c.ctx.Err() != nil {
					return conn, err
				}
				var f *foolscap.Failure
				if errors.As(err, &f) {
					// The introducer refused it; it will again.
					c.cfg.log.Warn("the introducer refused our announcement", "introducer", c.censored, "err", err)
					c.mu.Lock()
					c.lastErr = fmt.Errorf("publishing: %w", err)
					c.mu.Unlock()
				} else {
					return conn, fmt.Errorf("publishing: %w", err)
				}
			}
			service, _, _ := checkSigned(s)
			sent[service] = s.Msg
		}
		select {
		case <-c.ctx.Done():
			return conn, c.ctx.Err()
		case <-conn.Done():
			return conn, conn.Err()
		case <-c.kick:
		}
	}
}

// deliver checks the announcements of one announce_v2 call and passes on
// the new ones.
func (c *FoolscapClient) deliver(anns []any) error {
	c.deliverMu.Lock()
	defer c.deliverMu.Unlock()
	if c.ctx.Err() != nil {
		return nil // closed: nothing more is passed on
	}
	rejected := 0
	var lastErr error
	for _, a := range anns {
		s, err := signedFromFoolscap(a)
		if err == nil {
			c.mu.Lock()
			old, seen := c.known[s.Key]
			c.mu.Unlock()
			if seen && bytes.Equal(old.msg, s.Msg) {
				continue
			}
			var ann Announcement
			var seqnum int64
			ann, seqnum, err = verifyRelayed(s, StorageService)
			if err == nil {
				if seen && seqnum <= old.seqnum {
					continue
				}
				c.mu.Lock()
				c.known[s.Key] = known{seqnum, bytes.Clone(s.Msg)}
				c.mu.Unlock()
				if c.cfg.onAnn != nil {
					c.cfg.onAnn(s.Key, ann)
				}
				continue
			}
		}
		rejected++
		lastErr = err
	}
	if rejected > 0 {
		c.mu.Lock()
		c.rejected += rejected
		c.mu.Unlock()
		c.cfg.log.Warn("introducer relayed announcements that do not verify; ignored them",
			"introducer", c.censored, "count", rejected, "err", lastErr)
	}
	return nil
}

// signedFromFoolscap reads Tahoe's announcement tuple (msg, sig, key),
// three byte strings.
func signedFromFoolscap(v any) (Signed, error) {
	items, ok := foolscap.Items(v)
	if !ok || len(items) != 3 {
		return Signed{}, fmt.Errorf("%w: not a (msg, sig, key) tuple", ErrBadAnnouncement)
	}
	msg, ok1 := foolscap.Bytes(items[0])
	sig, ok2 := foolscap.Bytes(items[1])
	key, ok3 := foolscap.Bytes(items[2])
	if !ok1 || !ok2 || !ok3 {
		return Signed{}, fmt.Errorf("%w: a (msg, sig, key) tuple of other than bytes", ErrBadAnnouncement)
	}
	if len(msg) > MaxAnnouncementSize {
		return Signed{}, fmt.Errorf("%w: longer than %d bytes", ErrBadAnnouncement, MaxAnnouncementSize)
	}
	return Signed{Msg: bytes.Clone(msg), Sig: string(sig), Key: string(key)}, nil
}

// subscriberObject receives the introducer's announce_v2 calls.
type subscriberObject struct{ c *FoolscapClient }

func (s *subscriberObject) RemoteInterface() string { return subscriberInterface }

func (s *subscriberObject) RemoteCall(ctx context.Context, call *foolscap.Call) (any, error) {
	if call.Method != "announce_v2" {
		return nil, fmt.Errorf("no method %q", call.Method)
	}
	if err := call.CheckArgs("announcements"); err != nil {
		return nil, err
	}
	v, _ := call.Arg(0, "announcements")
	items, ok := foolscap.Items(v)
	if !ok {
		return nil, fmt.Errorf("announce_v2: announcements is a %T, not a set", v)
	}
	return nil, s.c.deliver(items)
}

// canaryObject is the reference a publish_v2 carries; Tahoe's introducer
// only holds it.
type canaryObject struct{}

func (canaryObject) RemoteInterface() string { return "" }

func (canaryObject) RemoteCall(ctx context.Context, call *foolscap.Call) (any, error) {
	return nil, fmt.Errorf("no method %q", call.Method)
}
