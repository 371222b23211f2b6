package storagehttp

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// The client's connections gather the TLS records of one write into few
// writes to the socket: crypto/tls writes each record (16 KiB at most) by
// itself, and a share upload's PATCH is many records. A system call per
// 256 KiB instead of one per record saves much of what sending costs the
// client beyond the encryption.

// maxGather bounds how many bytes of records a connection gathers before
// it writes them out.
const maxGather = 256 << 10

// gatherBufs are the buffers connections gather records in, each held
// only during a write.
var gatherBufs = sync.Pool{New: func() any { b := make([]byte, 0, maxGather); return &b }}

// gatherConn is the socket under a client TLS connection. While hold is
// set (by recordConn, around its writes) it gathers what TLS writes;
// otherwise (the handshake, alerts, anything written while reading) it
// writes through.
type gatherConn struct {
	net.Conn
	mu   sync.Mutex
	hold bool
	buf  *[]byte // from gatherBufs, while holding
}

func (g *gatherConn) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.hold {
		return g.Conn.Write(p)
	}
	if g.buf == nil {
		g.buf = gatherBufs.Get().(*[]byte)
	}
	if len(*g.buf)+len(p) > cap(*g.buf) {
		if err := g.flushLocked(); err != nil {
			return 0, err
		}
		if len(p) > cap(*g.buf) {
			return g.Conn.Write(p)
		}
	}
	*g.buf = append(*g.buf, p...)
	return len(p), nil
}

// gather starts or (with on false) ends holding writes back; ending
// writes out what was held.
func (g *gatherConn) gather(on bool) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.hold = on
	if on || g.buf == nil {
		return nil
	}
	err := g.flushLocked()
	gatherBufs.Put(g.buf)
	g.buf = nil
	return err
}

func (g *gatherConn) flushLocked() error {
	b := *g.buf
	*g.buf = b[:0]
	if len(b) == 0 {
		return nil
	}
	_, err := g.Conn.Write(b)
	return err
}

// recordConn is a client TLS connection whose every Write (and ReadFrom)
// goes to the socket in as few writes as it can.
type recordConn struct {
	*tls.Conn
	raw     *gatherConn
	wmu     sync.Mutex  // one write at a time, so that gathering is per write
	writing atomic.Bool // a write (or its flush to the socket) is under way
}

// Close closes the connection. While a write is under way (stuck on a
// stalled server, say) the socket is closed first: TLS's close_notify
// would otherwise wait for the write's flush, for seconds, and net/http
// cancels a request by closing its connection.
func (c *recordConn) Close() error {
	if c.writing.Load() {
		c.raw.Conn.Close()
	}
	return c.Conn.Close()
}

func (c *recordConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.writeLocked(p)
}

func (c *recordConn) writeLocked(p []byte) (int, error) {
	c.writing.Store(true)
	defer c.writing.Store(false)
	c.raw.gather(true)
	n, err := c.Conn.Write(p)
	if ferr := c.raw.gather(false); err == nil {
		err = ferr
	}
	return n, err
}

// rawBody is the body of a request that carries share data.
type rawBody struct{ *bytes.Reader }

func (*rawBody) Close() error { return nil }

// ReadFrom sends a request body. net/http hands a body with a length to it
// as an io.LimitedReader; share data (a rawBody) in it is written whole,
// with no copy, and anything else through a pooled buffer.
func (c *recordConn) ReadFrom(r io.Reader) (int64, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if lr, ok := r.(*io.LimitedReader); ok {
		if b, ok := lr.R.(*rawBody); ok && int64(b.Len()) <= lr.N {
			n, err := b.WriteTo(writerFunc(c.writeLocked))
			lr.N -= n
			return n, err
		}
	}
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	return io.CopyBuffer(writerFunc(c.writeLocked), r, *bp)
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// copyBufs are ReadFrom's buffers for bodies that are not share data.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// dialTLS returns the Transport's DialTLSContext: dial, then a TLS
// handshake with conf (bounded by timeout) over a gatherConn.
func dialTLS(dial func(ctx context.Context, network, addr string) (net.Conn, error), conf *tls.Config, timeout time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		raw, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		cfg := conf.Clone()
		if cfg.ServerName == "" {
			// As net/http does: the host, for SNI (not sent for an IP).
			if host, _, err := net.SplitHostPort(addr); err == nil {
				cfg.ServerName = host
			}
		}
		g := &gatherConn{Conn: raw}
		tc := tls.Client(g, cfg)
		hctx := ctx
		if timeout > 0 {
			var cancel context.CancelFunc
			hctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		if err := tc.HandshakeContext(hctx); err != nil {
			raw.Close()
			return nil, fmt.Errorf("TLS handshake: %w", err)
		}
		return &recordConn{Conn: tc, raw: g}, nil
	}
}
