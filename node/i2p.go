package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// samAddrOf reads [i2p] sam.port (Tahoe's client endpoint form,
// tcp:127.0.0.1:7656, the default when unset) as host:port; the host must
// be an IP address (or localhost), so that reaching I2P needs no name
// lookup.
func samAddrOf(cfg *Config) (string, error) {
	p := cfg.I2P().SAMPort
	if p == "" {
		p = DefaultSAMPort
	}
	a, err := socksAddr(p)
	if err != nil {
		return "", fmt.Errorf("%s: [i2p] sam.port: %w", cfg.File(), err)
	}
	return a, nil
}

// i2pRoute reaches .i2p addresses through I2P's SAM bridge, in one
// session with a transient destination (so that the node's outbound
// streams do not carry the destination it serves on), made at the first
// use and made again when it ends.
type i2pRoute struct {
	sam  string // the bridge, host:port
	opts []string

	mu       sync.Mutex
	sess     *samSession
	creating chan struct{} // closed when the session being made is done
	lastErr  error         // why the last attempt failed
	closed   bool
	stop     context.CancelFunc // ends an attempt under way, at close
}

// session returns the route's session, making it if there is none. The
// session is made under the route's own context (bounded by
// samCreateTimeout, ended by close), not the caller's: a caller that
// gives up waiting does not end an attempt others wait for.
func (r *i2pRoute) session(ctx context.Context) (*samSession, error) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, net.ErrClosed
	}
	if r.sess != nil && r.sess.alive() {
		s := r.sess
		r.mu.Unlock()
		return s, nil
	}
	if r.sess != nil {
		r.sess.Close()
		r.sess = nil
	}
	ch := r.creating
	if ch == nil {
		ch = make(chan struct{})
		r.creating = ch
		actx, cancel := context.WithTimeout(context.Background(), samCreateTimeout)
		r.stop = cancel
		go func() {
			defer cancel()
			s, err := openSAMSession(actx, r.sam, "", 0, r.opts)
			r.mu.Lock()
			r.creating, r.lastErr = nil, err
			if err == nil {
				if r.closed {
					s.Close()
				} else {
					r.sess = s
				}
			}
			r.mu.Unlock()
			close(ch)
		}()
	}
	r.mu.Unlock()
	select {
	case <-ch:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.closed:
		return nil, net.ErrClosed
	case r.sess != nil:
		return r.sess, nil
	case r.lastErr != nil:
		return nil, r.lastErr
	}
	return nil, fmt.Errorf("%w %s: no session", ErrSAM, r.sam)
}

// dial opens a stream to host:port, a .i2p name (port 0 for none).
func (r *i2pRoute) dial(ctx context.Context, host, port string) (net.Conn, error) {
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return nil, fmt.Errorf("%w: port %q", ErrNoRoute, port)
	}
	if !validI2PHost(host) {
		return nil, fmt.Errorf("%w: %q is not an I2P host name", ErrNoRoute, host)
	}
	for attempt := 0; ; attempt++ {
		s, err := r.session(ctx)
		if err != nil {
			return nil, fmt.Errorf("through I2P: %w", err)
		}
		c, err := s.dial(ctx, host, p)
		if err != nil && attempt == 0 && (errors.Is(err, ErrSAMSession) || !s.alive()) {
			// The bridge lost the session (it restarted): make it
			// again, once.
			s.Close()
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("through I2P: %w", err)
		}
		return c, nil
	}
}

func (r *i2pRoute) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	if r.stop != nil {
		r.stop()
	}
	if r.sess != nil {
		r.sess.Close()
	}
}

// i2pListener is the node's I2P destination as a net.Listener: it keeps
// a SAM session with the destination's key open (making it again when it
// ends, after a pause that grows to a minute) and accepts the streams to
// it.
type i2pListener struct {
	sam  string
	key  string
	port int
	opts []string
	b32  string
	log  *slog.Logger

	conns  chan net.Conn
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	mu   sync.Mutex
	sess *samSession
}

// newI2PListener starts serving the destination whose private key is
// key, at I2P port port, through the bridge at sam.
func newI2PListener(sam, key string, port int, opts []string, log *slog.Logger) (*i2pListener, error) {
	b32, err := i2pKeyAddress(key)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &i2pListener{sam: sam, key: key, port: port, opts: opts, b32: b32, log: log,
		conns: make(chan net.Conn, 16), ctx: ctx, cancel: cancel, done: make(chan struct{})}
	go l.run()
	return l, nil
}

func (l *i2pListener) run() {
	defer close(l.done)
	pause := time.Second
	for l.ctx.Err() == nil {
		s, err := openSAMSession(l.ctx, l.sam, l.key, l.port, l.opts)
		if err != nil {
			if l.ctx.Err() != nil {
				return
			}
			l.log.Warn("I2P destination: no session; trying again", "i2p", l.b32, "err", err, "in", pause)
			select {
			case <-time.After(pause):
			case <-l.ctx.Done():
				return
			}
			pause = min(2*pause, time.Minute)
			continue
		}
		l.mu.Lock()
		l.sess = s
		l.mu.Unlock()
		l.log.Info("I2P destination published", "i2p", l.b32, "port", l.port)
		began := time.Now()
		l.acceptAll(s)
		s.Close()
		if l.ctx.Err() != nil {
			return
		}
		<-s.done
		// A session that lasted starts the pauses afresh; one the
		// bridge dropped at once waits longer each time.
		if time.Since(began) > time.Minute {
			pause = time.Second
		}
		l.log.Warn("I2P destination: the session ended; making it again", "i2p", l.b32, "err", s.err, "in", pause)
		select {
		case <-time.After(pause):
		case <-l.ctx.Done():
			return
		}
		pause = min(2*pause, time.Minute)
	}
}

// acceptAll hands the session's streams to Accept until the session
// ends or the listener closes.
func (l *i2pListener) acceptAll(s *samSession) {
	for {
		c, err := s.accept(l.ctx)
		if err != nil {
			if l.ctx.Err() != nil || !s.alive() || errors.Is(err, ErrSAMSession) {
				return
			}
			l.log.Warn("I2P destination: accepting a stream", "err", err)
			select {
			case <-time.After(time.Second):
			case <-l.ctx.Done():
				return
			case <-s.done:
				return
			}
			continue
		}
		select {
		case l.conns <- c:
		case <-l.ctx.Done():
			c.Close()
			return
		}
	}
}

// Accept waits for the next stream to the destination.
func (l *i2pListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.ctx.Done():
		return nil, net.ErrClosed
	}
}

// Close ends the session and stops accepting.
func (l *i2pListener) Close() error {
	l.cancel()
	l.mu.Lock()
	if l.sess != nil {
		l.sess.Close()
	}
	l.mu.Unlock()
	<-l.done
	for {
		select {
		case c := <-l.conns:
			c.Close()
		default:
			return nil
		}
	}
}

// Addr is the destination's name and port.
func (l *i2pListener) Addr() net.Addr { return i2pAddr{l.b32, l.port} }

// startI2P opens the node's I2P destination when [i2p] dest = true, as
// Tahoe does: through the SAM bridge of sam.port, with the key of
// dest.private_key_file, at I2P port dest.port. Its session is made in
// the background (building tunnels takes a while) and made again should
// the bridge restart; the listener serves the tub.port entry listen:i2p.
// An i2p: hint of tub.location that names another destination than the
// key's is an error: the node would announce an address it does not
// serve.
func (n *Node) startI2P() error {
	c := n.Config.I2P()
	served := false
	for _, ep := range n.Config.Node().TubListeners {
		served = served || ep.Type == "listen:i2p"
	}
	if !c.Dest || !served {
		// As in Tahoe, the destination is made only for a tub.port
		// that serves it.
		return nil
	}
	b, err := os.ReadFile(n.path(c.DestPrivateKeyFile))
	if err != nil {
		return fmt.Errorf("[i2p] dest.private_key_file: %w", err)
	}
	key := strings.TrimSpace(string(b))
	b32, err := i2pKeyAddress(key)
	if err != nil {
		return fmt.Errorf("[i2p] dest.private_key_file: %w", err)
	}
	for _, h := range n.Config.Node().Location {
		rest, ok := strings.CutPrefix(h, "i2p:")
		if !ok {
			continue
		}
		if hh, _, _ := strings.Cut(rest, ":"); !strings.EqualFold(hh, b32) {
			return fmt.Errorf("%s: [node] tub.location names %s, but the key of [i2p] dest.private_key_file is that of %s", n.Config.File(), hh, b32)
		}
	}
	sam, err := samAddrOf(n.Config)
	if err != nil {
		return err
	}
	port, _ := strconv.Atoi(c.DestPort)
	l, err := newI2PListener(sam, key, port, c.SAMOptions, n.Log.With("service", "i2p"))
	if err != nil {
		return err
	}
	n.i2pListener = l
	n.addCloser(func() { l.Close() })
	return nil
}

// closeI2P ends the outbound I2P session, if there is one.
func (o *outbound) closeI2P() {
	if o.i2p != nil {
		o.i2p.close()
	}
}
