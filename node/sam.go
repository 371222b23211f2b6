package node

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrSAM is wrapped by the errors of I2P's SAM bridge.
var ErrSAM = errors.New("I2P SAM bridge")

// DefaultSAMPort is where I2P's SAM bridge is looked for when [i2p]
// sam.port is not set: Tahoe's default, and I2P's.
const DefaultSAMPort = "tcp:127.0.0.1:7656"

// Limits on what the SAM bridge may send, and how long it may take.
const (
	maxSAMLine = 64 << 10
	// samTimeout bounds a command's reply. SESSION CREATE waits for the
	// session's tunnels, which takes minutes on a busy network.
	samTimeout       = 60 * time.Second
	samCreateTimeout = 5 * time.Minute
)

// i2pB64 is I2P's base64: the standard alphabet with '-' for '+' and '~'
// for '/', padded.
var i2pB64 = base64.NewEncoding("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-~")

// i2pB32 is the alphabet of .b32.i2p names: lower case, unpadded.
var i2pB32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// i2pDestination returns the Destination that begins the binary form of
// a Destination or of a private key (a Destination followed by its
// private keys): 256 bytes of public key, 128 of signing key, and a
// certificate (type, 2-byte length, payload).
func i2pDestination(b []byte) ([]byte, error) {
	const fixed = 256 + 128
	if len(b) < fixed+3 {
		return nil, fmt.Errorf("an I2P destination of %d bytes is too short", len(b))
	}
	n := fixed + 3 + int(binary.BigEndian.Uint16(b[fixed+1:]))
	if len(b) < n {
		return nil, fmt.Errorf("an I2P destination's certificate runs past its end")
	}
	return b[:n], nil
}

// i2pB32Address is the .b32.i2p name of a Destination: the base32 of its
// SHA-256.
func i2pB32Address(dest []byte) string {
	h := sha256.Sum256(dest)
	return i2pB32.EncodeToString(h[:]) + ".b32.i2p"
}

// i2pKeyAddress returns the .b32.i2p name of an I2P private key as the
// SAM bridge writes it (I2P base64), which Tahoe keeps in
// [i2p] dest.private_key_file.
func i2pKeyAddress(key string) (string, error) {
	b, err := i2pB64.DecodeString(strings.TrimSpace(key))
	if err != nil {
		return "", fmt.Errorf("an I2P private key that is not I2P base64: %v", err)
	}
	dest, err := i2pDestination(b)
	if err != nil {
		return "", err
	}
	if len(b) == len(dest) {
		return "", errors.New("an I2P destination where its private key was expected")
	}
	return i2pB32Address(dest), nil
}

// validI2PHost reports whether h can be named to the SAM bridge: an I2P
// host name (letters, digits, '-', '.') ending in .i2p. Anything else could
// change the command it is put in.
func validI2PHost(h string) bool {
	if len(h) > 255 || !strings.HasSuffix(h, ".i2p") || len(h) == len(".i2p") {
		return false
	}
	for _, r := range h {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

// validSAMOption reports whether kv is an I2CP option that can go into a
// SAM command: KEY=VALUE, with no space, quote or line break, and a
// dotted KEY (inbound.length, i2cp.leaseSetType), so that it cannot be
// one of SAM's own (ID, DESTINATION, STYLE, FROM_PORT).
func validSAMOption(kv string) bool {
	k, v, ok := strings.Cut(kv, "=")
	if !ok || k == "" || v == "" || !strings.Contains(k, ".") || strings.HasPrefix(k, ".") {
		return false
	}
	for _, r := range kv {
		if r <= ' ' || r == '"' || r >= 0x7f {
			return false
		}
	}
	return true
}

// samConn is one connection to the SAM bridge (the SAM v3 protocol, as
// I2P's and i2pd's bridges speak it), after HELLO.
type samConn struct {
	conn    net.Conn
	r       *bufio.Reader
	version string // the version the bridge chose, e.g. "3.1"
}

// dialSAM connects to the SAM bridge at addr (host:port) and says HELLO.
func dialSAM(ctx context.Context, addr string) (*samConn, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %v", ErrSAM, addr, err)
	}
	c := &samConn{conn: conn, r: bufio.NewReaderSize(conn, 4096)}
	reply, err := c.cmd(ctx, "HELLO VERSION MIN=3.1 MAX=3.3", "HELLO REPLY", samTimeout)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("%w %s: %v", ErrSAM, addr, err)
	}
	c.version = reply["VERSION"]
	if !strings.HasPrefix(c.version, "3.") {
		conn.Close()
		return nil, fmt.Errorf("%w %s: it speaks SAM version %q, not 3", ErrSAM, addr, c.version)
	}
	return c, nil
}

// Close closes the connection.
func (c *samConn) Close() error { return c.conn.Close() }

// atLeast32 reports whether the bridge speaks SAM 3.2 or later, which has
// ports (FROM_PORT, TO_PORT).
func (c *samConn) atLeast32() bool {
	minor, err := strconv.Atoi(strings.TrimPrefix(c.version, "3."))
	return err == nil && minor >= 2
}

// readLine reads one line, without its line end, refusing lines longer
// than maxSAMLine.
func (c *samConn) readLine() (string, error) {
	var line []byte
	for {
		part, err := c.r.ReadSlice('\n')
		line = append(line, part...)
		if len(line) > maxSAMLine {
			return "", fmt.Errorf("a reply line longer than %d bytes", maxSAMLine)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF && len(line) == 0 {
			return "", errors.New("the bridge closed the connection")
		}
		if err != nil {
			return "", err
		}
		return strings.TrimRight(string(line), "\r\n"), nil
	}
}

// cmd sends one command line and reads its reply, which must begin with
// want ("SESSION STATUS"), within timeout and before ctx ends (then it
// is an error, whatever was read). A RESULT other than OK is an error
// with the bridge's RESULT and MESSAGE.
func (c *samConn) cmd(ctx context.Context, line, want string, timeout time.Duration) (map[string]string, error) {
	if strings.ContainsAny(line, "\r\n") {
		return nil, errors.New("a SAM command may not contain a line break")
	}
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	c.conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { c.conn.SetDeadline(time.Now()) })
	args, err := c.exchange(line, want)
	stop()
	c.conn.SetDeadline(time.Time{})
	// Once ctx has ended the connection may hold a deadline in the past,
	// set after the line above: the command fails, and the caller closes
	// the connection.
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return args, err
}

// exchange is cmd without its deadlines.
func (c *samConn) exchange(line, want string) (map[string]string, error) {
	if _, err := c.conn.Write([]byte(line + "\n")); err != nil {
		return nil, err
	}
	words := strings.Fields(line)
	verb := strings.Join(words[:min(2, len(words))], " ")
	for {
		l, err := c.readLine()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", verb, err)
		}
		if strings.HasPrefix(l, "PING") {
			// Answered on the connection that owns the session; a
			// PING here is skipped.
			continue
		}
		rest, ok := strings.CutPrefix(l, want)
		if !ok || (rest != "" && rest[0] != ' ') {
			return nil, fmt.Errorf("%s: an unexpected reply %q", verb, clip(l, 80))
		}
		args, err := parseSAMArgs(rest)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", verb, err)
		}
		// Every reply has a RESULT but DEST REPLY, which has one only
		// when it fails.
		if r := args["RESULT"]; r != "OK" && (r != "" || want != "DEST REPLY") {
			msg := fmt.Sprintf("%s: %s", verb, samResult(r))
			if m := args["MESSAGE"]; m != "" {
				msg += " (" + clip(m, 200) + ")"
			}
			return nil, fmt.Errorf("%w: %s", errSAMResult(r), msg)
		}
		return args, nil
	}
}

// Errors for the RESULTs a caller may act on.
var (
	// ErrI2PUnreachable is wrapped when I2P cannot reach a destination
	// (RESULT CANT_REACH_PEER, PEER_NOT_FOUND, TIMEOUT) or the bridge
	// cannot resolve its name (KEY_NOT_FOUND).
	ErrI2PUnreachable = errors.New("I2P destination unreachable")
	// ErrSAMSession is wrapped when the bridge no longer knows the
	// session (RESULT INVALID_ID): it must be created again.
	ErrSAMSession = errors.New("no such SAM session")
)

func errSAMResult(r string) error {
	switch r {
	case "CANT_REACH_PEER", "PEER_NOT_FOUND", "TIMEOUT", "KEY_NOT_FOUND":
		return ErrI2PUnreachable
	case "INVALID_ID":
		return ErrSAMSession
	}
	return ErrSAM
}

func samResult(s string) string {
	if s == "" {
		return "no RESULT"
	}
	return s
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// parseSAMArgs parses the KEY=VALUE pairs of a reply; a VALUE may be
// quoted, with \" and \\ escapes. A KEY without '=' has the value "".
func parseSAMArgs(s string) (map[string]string, error) {
	out := map[string]string{}
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return out, nil
		}
		i := strings.IndexAny(s, "= \t")
		if i < 0 {
			out[s] = ""
			return out, nil
		}
		key := s[:i]
		if s[i] != '=' {
			out[key] = ""
			s = s[i:]
			continue
		}
		s = s[i+1:]
		if !strings.HasPrefix(s, `"`) {
			j := strings.IndexAny(s, " \t")
			if j < 0 {
				j = len(s)
			}
			out[key], s = s[:j], s[j:]
			continue
		}
		var v strings.Builder
		j := 1
		for ; j < len(s) && s[j] != '"'; j++ {
			if s[j] == '\\' && j+1 < len(s) {
				j++
			}
			v.WriteByte(s[j])
		}
		if j >= len(s) {
			return nil, errors.New("an unterminated quoted value")
		}
		out[key], s = v.String(), s[j+1:]
	}
}

// samGenerateKey asks the bridge at addr for a new destination (Ed25519,
// as Tahoe's txi2p asks) and returns its private key, in the form Tahoe
// keeps in [i2p] dest.private_key_file, and its .b32.i2p name.
func samGenerateKey(ctx context.Context, addr string) (key, b32 string, err error) {
	c, err := dialSAM(ctx, addr)
	if err != nil {
		return "", "", err
	}
	defer c.Close()
	reply, err := c.cmd(ctx, "DEST GENERATE SIGNATURE_TYPE=7", "DEST REPLY", samTimeout)
	if err != nil {
		return "", "", fmt.Errorf("%w %s: %v", ErrSAM, addr, err)
	}
	key = reply["PRIV"]
	if b32, err = i2pKeyAddress(key); err != nil {
		return "", "", fmt.Errorf("%w %s: DEST GENERATE: %v", ErrSAM, addr, err)
	}
	return key, b32, nil
}

// samSession is a SAM STREAM session: an I2P destination that lives as
// long as the connection that created it (ctrl).
type samSession struct {
	addr    string // the bridge, host:port
	id      string
	b32     string // the destination's .b32.i2p name
	port    int    // its I2P port (FROM_PORT), 0 for none
	version string
	ctrl    *samConn
	done    chan struct{} // closed when the session ends
	err     error         // why, once done is closed

	mu     sync.Mutex
	closed bool
}

// openSAMSession creates a STREAM session on the bridge at addr with the
// private key key ("" for a new, transient destination), the I2P port
// port (0 for none; SAM 3.2 and later) and the I2CP options opts
// (KEY=VALUE, e.g. inbound.length=1). It returns once the bridge says the
// session is ready, which takes as long as building its tunnels.
func openSAMSession(ctx context.Context, addr, key string, port int, opts []string) (*samSession, error) {
	for _, o := range opts {
		if !validSAMOption(o) {
			return nil, fmt.Errorf("%w: the I2CP option %q is not KEY=VALUE without spaces or quotes", ErrSAM, o)
		}
	}
	dest := "TRANSIENT SIGNATURE_TYPE=7"
	if key != "" {
		key = strings.TrimSpace(key)
		if _, err := i2pKeyAddress(key); err != nil {
			return nil, err
		}
		dest = key
	}
	c, err := dialSAM(ctx, addr)
	if err != nil {
		return nil, err
	}
	var idb [8]byte
	rand.Read(idb[:])
	s := &samSession{addr: addr, id: "lafs-" + hex.EncodeToString(idb[:]), version: c.version, ctrl: c, done: make(chan struct{})}
	line := "SESSION CREATE STYLE=STREAM ID=" + s.id + " DESTINATION=" + dest
	if port != 0 && c.atLeast32() {
		line += " FROM_PORT=" + strconv.Itoa(port)
		s.port = port
	}
	if len(opts) > 0 {
		line += " " + strings.Join(opts, " ")
	}
	reply, err := c.cmd(ctx, line, "SESSION STATUS", samCreateTimeout)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("%w %s: %v", ErrSAM, addr, err)
	}
	if s.b32, err = i2pKeyAddress(reply["DESTINATION"]); err != nil {
		c.Close()
		return nil, fmt.Errorf("%w %s: SESSION CREATE: %v", ErrSAM, addr, err)
	}
	go s.keepAlive()
	return s, nil
}

// keepAlive answers the bridge's PINGs on the session's connection and
// notes when the connection, and so the session, ends.
func (s *samSession) keepAlive() {
	var err error
	for {
		var l string
		if l, err = s.ctrl.readLine(); err != nil {
			break
		}
		if rest, ok := strings.CutPrefix(l, "PING"); ok {
			s.ctrl.conn.SetWriteDeadline(time.Now().Add(samTimeout))
			if _, err = s.ctrl.conn.Write([]byte("PONG" + rest + "\n")); err != nil {
				break
			}
		}
	}
	s.ctrl.Close()
	s.mu.Lock()
	if s.closed {
		err = net.ErrClosed
	}
	s.mu.Unlock()
	s.err = fmt.Errorf("%w %s: the session ended: %v", ErrSAM, s.addr, err)
	close(s.done)
}

// alive reports whether the session still exists (and is not being
// closed).
func (s *samSession) alive() bool {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return false
	}
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// Close ends the session.
func (s *samSession) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return s.ctrl.Close()
}

// dial opens a stream to host (a .i2p name), at I2P port port where the
// bridge has ports.
func (s *samSession) dial(ctx context.Context, host string, port int) (net.Conn, error) {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if !validI2PHost(host) {
		return nil, fmt.Errorf("%w: %q is not an I2P host name", ErrNoRoute, host)
	}
	c, err := dialSAM(ctx, s.addr)
	if err != nil {
		return nil, err
	}
	// The name, not the full destination: i2pd resolves .b32.i2p names
	// itself, and a full destination makes it write to its address book.
	line := "STREAM CONNECT ID=" + s.id + " DESTINATION=" + host + " SILENT=false"
	if port != 0 && c.atLeast32() {
		line += " TO_PORT=" + strconv.Itoa(port)
	}
	if _, err := c.cmd(ctx, line, "STREAM STATUS", samCreateTimeout); err != nil {
		c.Close()
		return nil, fmt.Errorf("%w %s: %w", ErrSAM, s.addr, err)
	}
	return &i2pConn{Conn: c.conn, r: c.r, local: i2pAddr{s.b32, s.port}, remote: i2pAddr{host, port}}, nil
}

// accept waits for a stream to the session and returns it. The bridge
// first sends the peer's destination, then the stream's bytes.
func (s *samSession) accept(ctx context.Context) (net.Conn, error) {
	c, err := dialSAM(ctx, s.addr)
	if err != nil {
		return nil, err
	}
	if _, err := c.cmd(ctx, "STREAM ACCEPT ID="+s.id+" SILENT=false", "STREAM STATUS", samTimeout); err != nil {
		c.Close()
		return nil, fmt.Errorf("%w %s: %w", ErrSAM, s.addr, err)
	}
	// Wait for a peer, for as long as it takes, until ctx or the session
	// ends: then the connection is closed (which, unlike a deadline,
	// nothing undoes).
	waited := make(chan struct{})
	watch := make(chan struct{})
	go func() {
		defer close(watch)
		select {
		case <-ctx.Done():
			c.Close()
		case <-s.done:
			c.Close()
		case <-waited:
		}
	}()
	line, err := c.readLine()
	close(waited)
	<-watch
	if err == nil && (ctx.Err() != nil || !s.alive()) {
		err = errors.New("the wait was ended")
	}
	if err != nil {
		c.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if !s.alive() {
			return nil, fmt.Errorf("%w %s: STREAM ACCEPT: the session ended", ErrSAMSession, s.addr)
		}
		return nil, fmt.Errorf("%w %s: STREAM ACCEPT: %v", ErrSAM, s.addr, err)
	}
	fields := strings.Fields(line)
	if len(fields) == 0 {
		c.Close()
		return nil, fmt.Errorf("%w %s: STREAM ACCEPT: no peer destination", ErrSAM, s.addr)
	}
	b, err := i2pB64.DecodeString(fields[0])
	var dest []byte
	if err == nil {
		dest, err = i2pDestination(b)
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("%w %s: STREAM ACCEPT: the peer's destination: %v", ErrSAM, s.addr, err)
	}
	peerPort := 0
	if args, err := parseSAMArgs(strings.Join(fields[1:], " ")); err == nil {
		peerPort, _ = strconv.Atoi(args["FROM_PORT"])
	}
	return &i2pConn{Conn: c.conn, r: c.r, local: i2pAddr{s.b32, s.port}, remote: i2pAddr{i2pB32Address(dest), peerPort}}, nil
}

// i2pAddr is the address of one end of an I2P stream.
type i2pAddr struct {
	host string // a .i2p name
	port int
}

func (a i2pAddr) Network() string { return "i2p" }
func (a i2pAddr) String() string  { return net.JoinHostPort(a.host, strconv.Itoa(a.port)) }

// i2pConn is a stream through the SAM bridge: the bridge's connection,
// read through the reader that read its status lines.
type i2pConn struct {
	net.Conn
	r             *bufio.Reader
	local, remote i2pAddr
}

func (c *i2pConn) Read(p []byte) (int, error) { return c.r.Read(p) }
func (c *i2pConn) LocalAddr() net.Addr        { return c.local }
func (c *i2pConn) RemoteAddr() net.Addr       { return c.remote }
