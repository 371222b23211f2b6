package foolscap

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// ErrClosed is wrapped by the error of a call on a connection that was
// lost or closed; the caller reconnects.
var ErrClosed = errors.New("foolscap connection lost")

// Defaults of a connection.
const (
	// DefaultKeepalive is how long a connection may be silent before a
	// PING is sent; after twice as long it is dropped.
	DefaultKeepalive = 2 * time.Minute
	// maxImports bounds the peer's references one connection holds.
	maxImports = 10000
	// inboundQueue is how many inbound calls wait for their turn before the
	// reader stops reading: few, so that a peer that sends calls but does
	// not read the answers cannot make us hold many of its messages.
	inboundQueue = 2
)

// Conn is a negotiated Foolscap connection to another tub. One goroutine
// reads it, answering PINGs and matching answers to calls; another runs
// the calls that arrive, in order. Its references die with it.
type Conn struct {
	tub      *Tub
	nc       net.Conn
	peer     string // the peer's tub ID
	isClient bool
	// peerIncarnation and seq are the peer's incarnation and our number
	// for the connection, when we decided it.
	peerIncarnation string
	seq             int
	keepalive       time.Duration
	dec             decoder

	writeMu sync.Mutex
	opens   uint64 // OPEN tokens sent

	mu      sync.Mutex
	closed  bool
	err     error
	nextReq int64
	pending map[int64]chan result
	exports map[int64]*export // ours, by clid
	byObj   map[Object]int64
	nextCl  int64
	imports map[int64]*RemoteRef // the peer's, by clid

	live    *liveReader
	inbound chan *message
	done    chan struct{}
	wg      sync.WaitGroup
}

type export struct {
	obj   Object
	sent  int64 // my-reference sequences sent, minus those decref'd
	named bool  // registered by name: never freed by decref
}

type result struct {
	v   any
	err error
}

func newConn(t *Tub, nc net.Conn, live *liveReader, br *bufio.Reader, peer string) *Conn {
	c := &Conn{
		tub:       t,
		nc:        nc,
		live:      live,
		peer:      peer,
		keepalive: t.keepalive,
		nextReq:   1,
		pending:   map[int64]chan result{},
		exports:   map[int64]*export{},
		byObj:     map[Object]int64{},
		nextCl:    1,
		imports:   map[int64]*RemoteRef{},
		inbound:   make(chan *message, inboundQueue),
		done:      make(chan struct{}),
	}
	c.dec = decoder{r: br, limits: t.limits, conn: c, pong: c.sendPong}
	return c
}

// start runs the connection's goroutines.
func (c *Conn) start() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return // closed before it started, as by Tub.Close
	}
	c.wg.Add(3)
	go c.readLoop()
	go c.dispatchLoop()
	go c.keepaliveLoop()
}

func (c *Conn) isDone() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// PeerTubID returns the tub ID of the other side.
func (c *Conn) PeerTubID() string { return c.peer }

// RemoteAddr returns the network address of the other side.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// Done is closed when the connection is lost or closed.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err returns why the connection ended (nil while it lives).
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// LastReceived returns when data last arrived.
func (c *Conn) LastReceived() time.Time { return time.Unix(0, c.live.last.Load()) }

// Close drops the connection. Calls waiting for answers fail.
func (c *Conn) Close() error {
	c.fail(fmt.Errorf("%w: closed", ErrClosed))
	return nil
}

// fail ends the connection with err (the first error wins).
func (c *Conn) fail(err error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	if !errors.Is(err, ErrClosed) {
		err = fmt.Errorf("%w: %w", ErrClosed, err)
	}
	c.err = err
	pending := c.pending
	c.pending = nil
	c.mu.Unlock()
	c.nc.Close()
	close(c.done)
	for _, ch := range pending {
		ch <- result{err: err}
	}
	c.tub.forget(c)
}

// send encodes one top-level message with build and writes it.
func (c *Conn) send(build func(e *encoder) error) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	e := &encoder{opens: c.opens, conn: c}
	if err := build(e); err != nil {
		c.unexport(e.exported)
		return err
	}
	select {
	case <-c.done:
		return c.Err()
	default:
	}
	c.nc.SetWriteDeadline(time.Now().Add(c.writeTimeout()))
	if _, err := c.nc.Write(e.buf); err != nil {
		c.fail(fmt.Errorf("writing to tub %s: %w", c.peer, err))
		return c.Err()
	}
	c.opens = e.opens
	return nil
}

func (c *Conn) writeTimeout() time.Duration { return max(2*c.keepalive, time.Minute) }

func (c *Conn) sendPong(n uint64) {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	e := &encoder{}
	if n > 0 {
		e.header(n)
	}
	e.buf = append(e.buf, tokPong)
	c.nc.SetWriteDeadline(time.Now().Add(c.writeTimeout()))
	if _, err := c.nc.Write(e.buf); err != nil {
		go c.fail(fmt.Errorf("writing to tub %s: %w", c.peer, err))
	}
}

func (c *Conn) sendPing() {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	c.nc.SetWriteDeadline(time.Now().Add(c.writeTimeout()))
	if _, err := c.nc.Write([]byte{tokPing}); err != nil {
		go c.fail(fmt.Errorf("writing to tub %s: %w", c.peer, err))
	}
}

// liveReader notes when bytes last arrived, as a sign of life.
type liveReader struct {
	nc   net.Conn
	last atomic.Int64 // unix nanoseconds
}

func newLiveReader(nc net.Conn) *liveReader {
	r := &liveReader{nc: nc}
	r.last.Store(time.Now().UnixNano())
	return r
}

func (r *liveReader) Read(p []byte) (int, error) {
	n, err := r.nc.Read(p)
	if n > 0 {
		r.last.Store(time.Now().UnixNano())
	}
	return n, err
}

func (c *Conn) readLoop() {
	defer c.wg.Done()
	defer close(c.inbound)
	for {
		m, err := c.dec.readMessage()
		if err != nil {
			c.fail(fmt.Errorf("reading from tub %s: %w", c.peer, err))
			return
		}
		switch m.kind {
		case "answer", "error":
			if err := c.answered(m); err != nil {
				c.fail(err)
				return
			}
		case "call":
			select {
			case c.inbound <- m:
			case <-c.done:
				return
			}
		}
	}
}

// answered delivers an answer or error to the call waiting for it.
func (c *Conn) answered(m *message) error {
	if len(m.items) != 2 {
		return protoErr("%s with %d items", m.kind, len(m.items))
	}
	req, ok := m.items[0].(int64)
	if !ok || req <= 0 {
		return protoErr("%s for request %v", m.kind, m.items[0])
	}
	r := result{v: m.items[1]}
	if m.kind == "error" {
		f, ok := m.items[1].(*Failure)
		if !ok {
			f = &Failure{Type: "unknown", Value: fmt.Sprintf("%v", m.items[1])}
		}
		r = result{err: f}
	}
	c.mu.Lock()
	ch, ok := c.pending[req]
	delete(c.pending, req)
	abandoned := req < c.nextReq
	c.mu.Unlock()
	if !ok {
		if abandoned {
			return nil // a call whose caller gave up
		}
		return protoErr("%s for request %d, which was never made", m.kind, req)
	}
	ch <- r
	return nil
}

// dispatchLoop runs the inbound calls one at a time, in arrival order.
func (c *Conn) dispatchLoop() {
	defer c.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-c.done
		cancel()
	}()
	for m := range c.inbound {
		c.serveCall(ctx, m)
	}
}

func (c *Conn) serveCall(ctx context.Context, m *message) {
	if len(m.items) != 4 || m.args == nil {
		c.fail(protoErr("call with %d items", len(m.items)))
		return
	}
	req, ok1 := m.items[0].(int64)
	clid, ok2 := m.items[1].(int64)
	method, ok3 := Bytes(m.items[2])
	if !ok1 || !ok2 || !ok3 || req < 0 {
		c.fail(protoErr("malformed call header"))
		return
	}
	call := &Call{Conn: c, Method: string(method), Args: m.args.pos, Kwargs: m.args.kw}
	var v any
	var err error
	if clid == 0 {
		v, err = c.brokerCall(call)
	} else if obj := c.lookupExport(clid); obj == nil {
		err = violation("no object %d on this connection", clid)
	} else {
		v, err = safeCall(ctx, obj, call)
	}
	if req == 0 {
		return // the caller wants no answer
	}
	if err != nil {
		f := errorToFailure(err)
		c.send(func(e *encoder) error {
			n := e.open("error")
			e.int(req)
			if err := e.value(f); err != nil {
				return err
			}
			e.close(n)
			return nil
		})
		return
	}
	if serr := c.send(func(e *encoder) error {
		n := e.open("answer")
		e.int(req)
		if err := e.value(v); err != nil {
			return err
		}
		e.close(n)
		return nil
	}); serr != nil && !errors.Is(serr, ErrClosed) {
		// The answer could not be encoded: tell the caller so.
		f := errorToFailure(serr)
		c.send(func(e *encoder) error {
			n := e.open("error")
			e.int(req)
			e.value(f)
			e.close(n)
			return nil
		})
	}
}

// safeCall runs one method, turning a panic into an error.
func safeCall(ctx context.Context, obj Object, call *Call) (v any, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("internal error in %s", call.Method)
		}
	}()
	return obj.RemoteCall(ctx, call)
}

// brokerCall serves the methods of object 0, the connection's broker.
func (c *Conn) brokerCall(call *Call) (any, error) {
	switch call.Method {
	case "getReferenceByName":
		if err := call.CheckArgs("name"); err != nil {
			return nil, err
		}
		v, _ := call.Arg(0, "name")
		name, ok := Bytes(v)
		if !ok {
			return nil, violation("getReferenceByName: name is a %T", v)
		}
		obj := c.tub.lookup(string(name))
		if obj == nil {
			return nil, &Failure{Type: "builtins.KeyError", Value: "unable to find reference for name", Parents: []string{"builtins.KeyError", "builtins.LookupError", "builtins.Exception", "builtins.BaseException", "builtins.object"}}
		}
		return namedObject{obj}, nil
	case "decref":
		if err := call.CheckArgs("clid", "count"); err != nil {
			return nil, err
		}
		a, _ := call.Arg(0, "clid")
		b, _ := call.Arg(1, "count")
		clid, ok1 := a.(int64)
		count, ok2 := b.(int64)
		if !ok1 || !ok2 || count < 0 {
			return nil, violation("decref: bad arguments")
		}
		c.decref(clid, count)
		return nil, nil
	case "decgift":
		return nil, nil
	}
	return nil, violation("method %q not defined on the broker", call.Method)
}

// namedObject marks an object sent in answer to getReferenceByName, which
// goes with its fURL and is never freed by decref.
type namedObject struct{ Object }

// export returns the clid for sending obj, whether this is its first
// sending on this connection (which then carries its interface name), and
// its fURL if it is registered by name.
func (c *Conn) export(obj Object) (clid int64, first bool, furl string) {
	named := false
	if n, ok := obj.(namedObject); ok {
		obj, named = n.Object, true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if id, ok := c.byObj[obj]; ok {
		x := c.exports[id]
		x.sent++
		x.named = x.named || named
		return id, false, ""
	}
	id := c.nextCl
	c.nextCl++
	c.exports[id] = &export{obj: obj, sent: 1, named: named}
	c.byObj[obj] = id
	if named {
		furl = c.tub.furlOf(obj)
	}
	return id, true, furl
}

// unexport takes back the exports of a message that was not sent.
func (c *Conn) unexport(uses []exportUse) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, u := range uses {
		x := c.exports[u.clid]
		if x == nil {
			continue
		}
		x.sent--
		if x.sent <= 0 {
			delete(c.exports, u.clid)
			delete(c.byObj, x.obj)
		}
	}
}

func (c *Conn) decref(clid, count int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	x := c.exports[clid]
	if x == nil || x.named {
		return
	}
	x.sent -= count
	if x.sent <= 0 {
		delete(c.exports, clid)
		delete(c.byObj, x.obj)
	}
}

func (c *Conn) lookupExport(clid int64) Object {
	c.mu.Lock()
	defer c.mu.Unlock()
	if x := c.exports[clid]; x != nil {
		return x.obj
	}
	return nil
}

// imported returns the RemoteRef for the peer's object clid.
func (c *Conn) imported(clid int64, iface, furl string) (*RemoteRef, error) {
	if clid <= 0 {
		return nil, protoErr("my-reference with clid %d", clid)
	}
	if furl != "" {
		f, err := ParseFURL(furl)
		if err != nil || f.TubID != c.peer {
			return nil, protoErr("my-reference with a fURL of another tub")
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if r, ok := c.imports[clid]; ok {
		return r, nil
	}
	if len(c.imports) >= maxImports {
		return nil, protoErr("more than %d references from one peer", maxImports)
	}
	r := &RemoteRef{conn: c, clid: clid, iface: iface, furl: furl}
	c.imports[clid] = r
	return r, nil
}

func (c *Conn) keepaliveLoop() {
	defer c.wg.Done()
	tick := time.NewTicker(max(c.keepalive/4, 10*time.Millisecond))
	defer tick.Stop()
	pinged := false
	for {
		select {
		case <-c.done:
			return
		case <-tick.C:
		}
		silent := time.Since(c.LastReceived())
		switch {
		case silent >= 2*c.keepalive:
			c.fail(fmt.Errorf("tub %s silent for %s", c.peer, silent.Round(time.Second)))
			return
		case silent >= c.keepalive && !pinged:
			// Not in this goroutine: a write stuck on a peer that
			// stopped reading must not keep us from dropping it.
			go c.sendPing()
			pinged = true
		case silent < c.keepalive:
			pinged = false
		}
	}
}

// RemoteRef is a reference to an object of the peer.
type RemoteRef struct {
	conn  *Conn
	clid  int64
	iface string
	furl  string
}

// Interface returns the remote interface name the peer gave the object.
func (r *RemoteRef) Interface() string { return r.iface }

// Conn returns the connection the reference lives on.
func (r *RemoteRef) Conn() *Conn { return r.conn }

// Call calls method on the object with positional arguments and waits for
// the answer, ctx's end or the connection's loss. A remote exception is a
// *Failure.
func (r *RemoteRef) Call(ctx context.Context, method string, args ...any) (any, error) {
	return r.conn.call(ctx, r.clid, method, args, nil, true)
}

// CallKw is Call with keyword arguments too.
func (r *RemoteRef) CallKw(ctx context.Context, method string, args []any, kwargs Dict) (any, error) {
	return r.conn.call(ctx, r.clid, method, args, kwargs, true)
}

// CallOnly calls method without asking for an answer.
func (r *RemoteRef) CallOnly(method string, args ...any) error {
	_, err := r.conn.call(context.Background(), r.clid, method, args, nil, false)
	return err
}

func (c *Conn) call(ctx context.Context, clid int64, method string, args []any, kwargs Dict, answer bool) (any, error) {
	var ch chan result
	var req int64
	c.mu.Lock()
	if c.closed {
		err := c.err
		c.mu.Unlock()
		return nil, err
	}
	if answer {
		req = c.nextReq
		c.nextReq++
		ch = make(chan result, 1)
		c.pending[req] = ch
	}
	c.mu.Unlock()
	err := c.send(func(e *encoder) error {
		n := e.open("call")
		e.int(req)
		e.int(clid)
		e.bytes([]byte(method))
		an := e.open("arguments")
		e.int(int64(len(args)))
		for _, a := range args {
			if err := e.value(a); err != nil {
				return err
			}
		}
		for _, kw := range kwargs {
			name, ok := kw.Key.(string)
			if !ok {
				return fmt.Errorf("foolscap: keyword %v is not a string", kw.Key)
			}
			e.bytes([]byte(name))
			if err := e.value(kw.Value); err != nil {
				return err
			}
		}
		e.close(an)
		e.close(n)
		return nil
	})
	if err != nil {
		c.forgetReq(req)
		return nil, fmt.Errorf("calling %s: %w", method, err)
	}
	if !answer {
		return nil, nil
	}
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		c.forgetReq(req)
		return nil, fmt.Errorf("calling %s: %w", method, ctx.Err())
	}
}

func (c *Conn) forgetReq(req int64) {
	c.mu.Lock()
	if c.pending != nil {
		delete(c.pending, req)
	}
	c.mu.Unlock()
}
