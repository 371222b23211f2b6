package node

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// torControl is a connection to Tor's control port (Tor's control-spec):
// enough of it to authenticate and to add and remove onion services, as
// Tahoe (through txtorcon) does for [tor] onion = true.
type torControl struct {
	conn net.Conn
	r    *bufio.Reader
}

// ErrTorControl is wrapped by the errors of Tor's control port.
var ErrTorControl = errors.New("tor control port")

// dialTorControl connects to Tor's control port at endpoint (Tahoe's
// client endpoint form: tcp:HOST:PORT, or unix:PATH) and authenticates,
// with SAFECOOKIE, COOKIE or no authentication, whichever Tor offers
// (a control port that wants a password is refused: set
// CookieAuthentication 1).
func dialTorControl(ctx context.Context, endpoint string) (*torControl, error) {
	network, addr := "tcp", ""
	if p, ok := strings.CutPrefix(endpoint, "unix:"); ok {
		network, addr = "unix", p
		if i := strings.Index(addr, ":"); i >= 0 { // unix:PATH:timeout=...
			addr = addr[:i]
		}
	} else {
		a, err := socksAddr(endpoint) // the same tcp:HOST:PORT rules
		if err != nil {
			return nil, fmt.Errorf("%w %s: %v", ErrTorControl, endpoint, err)
		}
		addr = a
	}
	d := net.Dialer{Timeout: 10 * time.Second}
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %v", ErrTorControl, endpoint, err)
	}
	c := &torControl{conn: conn, r: bufio.NewReaderSize(conn, 4096)}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	if err := c.authenticate(); err != nil {
		conn.Close()
		return nil, fmt.Errorf("%w %s: %v", ErrTorControl, endpoint, err)
	}
	return c, nil
}

// Close closes the connection; Tor removes the onion services it added.
func (c *torControl) Close() error { return c.conn.Close() }

// Limits on what the control port may send: a reply line, and a reply.
const (
	maxControlLine  = 64 << 10
	maxControlReply = 1 << 20
	controlTimeout  = 60 * time.Second
)

// readLine reads one reply line, without its line end, refusing lines
// longer than maxControlLine.
func (c *torControl) readLine() (string, error) {
	var line []byte
	for {
		part, err := c.r.ReadSlice('\n')
		line = append(line, part...)
		if len(line) > maxControlLine {
			return "", fmt.Errorf("a reply line longer than %d bytes", maxControlLine)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			return "", err
		}
		return strings.TrimRight(string(line), "\r\n"), nil
	}
}

// cmd sends one command line and returns the reply lines (without their
// status code and separator), or an error for a reply other than 250,
// after reading the whole reply, so that the next command reads its own.
// Each command must be answered within controlTimeout.
func (c *torControl) cmd(line string) ([]string, error) {
	if strings.ContainsAny(line, "\r\n") {
		return nil, errors.New("a control command may not contain a line break")
	}
	c.conn.SetDeadline(time.Now().Add(controlTimeout))
	defer c.conn.SetDeadline(time.Time{})
	if _, err := c.conn.Write([]byte(line + "\r\n")); err != nil {
		return nil, err
	}
	var out []string
	var failure error
	total := 0
	for {
		l, err := c.readLine()
		if err != nil {
			return nil, err
		}
		total += len(l)
		if total > maxControlReply {
			return nil, fmt.Errorf("a reply longer than %d bytes", maxControlReply)
		}
		if len(l) < 4 || l[0] < '0' || l[0] > '9' || l[1] < '0' || l[1] > '9' || l[2] < '0' || l[2] > '9' ||
			(l[3] != ' ' && l[3] != '-' && l[3] != '+') {
			return nil, fmt.Errorf("malformed reply line %.80q", l)
		}
		code, sep, text := l[:3], l[3], l[4:]
		if sep == '+' { // a data reply, ended by a lone "."
			for {
				d, err := c.readLine()
				if err != nil {
					return nil, err
				}
				if total += len(d); total > maxControlReply {
					return nil, fmt.Errorf("a reply longer than %d bytes", maxControlReply)
				}
				if d == "." {
					break
				}
				text += "\n" + d
			}
		}
		if code != "250" && failure == nil {
			failure = fmt.Errorf("Tor answered %s %.200s", code, text)
		}
		out = append(out, text)
		if sep == ' ' {
			if failure != nil {
				return nil, failure
			}
			return out, nil
		}
	}
}

// authenticate authenticates the connection as PROTOCOLINFO says.
func (c *torControl) authenticate() error {
	lines, err := c.cmd("PROTOCOLINFO 1")
	if err != nil {
		return err
	}
	var methods []string
	cookieFile := ""
	for _, l := range lines {
		rest, ok := strings.CutPrefix(l, "AUTH METHODS=")
		if !ok {
			continue
		}
		m, after, _ := strings.Cut(rest, " ")
		methods = strings.Split(m, ",")
		if f, ok := strings.CutPrefix(after, "COOKIEFILE="); ok {
			cookieFile, err = unquoteControl(f)
			if err != nil {
				return fmt.Errorf("malformed COOKIEFILE %.200s", f)
			}
		}
	}
	has := func(m string) bool {
		for _, x := range methods {
			if x == m {
				return true
			}
		}
		return false
	}
	switch {
	case has("NULL"):
		_, err = c.cmd("AUTHENTICATE")
		return err
	case has("SAFECOOKIE") && cookieFile != "":
		return c.safeCookie(cookieFile)
	case has("COOKIE") && cookieFile != "":
		// Plain COOKIE sends the cookie to whoever listens: only a file
		// that is a Tor cookie (32 bytes) is sent, never another one a
		// fake control port names.
		cookie, err := readCookie(cookieFile)
		if err != nil {
			return err
		}
		_, err = c.cmd("AUTHENTICATE " + hex.EncodeToString(cookie))
		return err
	}
	return fmt.Errorf("Tor offers authentication by %s only; lafs needs NULL, SAFECOOKIE or COOKIE (CookieAuthentication 1)", strings.Join(methods, ", "))
}

// safeCookie is SAFECOOKIE authentication: proof of the cookie without
// sending it, and proof that the other side is Tor.
func (c *torControl) safeCookie(cookieFile string) error {
	cookie, err := readCookie(cookieFile)
	if err != nil {
		return err
	}
	clientNonce := make([]byte, 32)
	rand.Read(clientNonce)
	lines, err := c.cmd("AUTHCHALLENGE SAFECOOKIE " + hex.EncodeToString(clientNonce))
	if err != nil {
		return err
	}
	var serverHash, serverNonce []byte
	for _, f := range strings.Fields(strings.Join(lines, " ")) {
		if v, ok := strings.CutPrefix(f, "SERVERHASH="); ok {
			serverHash, _ = hex.DecodeString(v)
		}
		if v, ok := strings.CutPrefix(f, "SERVERNONCE="); ok {
			serverNonce, _ = hex.DecodeString(v)
		}
	}
	if len(serverHash) != 32 || len(serverNonce) != 32 {
		return errors.New("malformed AUTHCHALLENGE reply")
	}
	mac := func(key string) []byte {
		h := hmac.New(sha256.New, []byte(key))
		h.Write(cookie)
		h.Write(clientNonce)
		h.Write(serverNonce)
		return h.Sum(nil)
	}
	if !hmac.Equal(serverHash, mac("Tor safe cookie authentication server-to-controller hash")) {
		return errors.New("the control port does not know Tor's cookie: not our Tor")
	}
	_, err = c.cmd("AUTHENTICATE " + hex.EncodeToString(mac("Tor safe cookie authentication controller-to-server hash")))
	return err
}

// readCookie reads Tor's authentication cookie: a regular file of exactly
// 32 bytes, read no further.
func readCookie(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading Tor's cookie: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading Tor's cookie: %w", err)
	}
	if !fi.Mode().IsRegular() || fi.Size() != 32 {
		return nil, fmt.Errorf("%s is no Tor cookie file (a regular file of 32 bytes)", path)
	}
	cookie := make([]byte, 32)
	if _, err := io.ReadFull(f, cookie); err != nil {
		return nil, fmt.Errorf("reading Tor's cookie: %w", err)
	}
	return cookie, nil
}

// unquoteControl reads a quoted string of the control protocol: double
// quotes around it, backslash escapes inside (\\, \", \', \n, \r, \t and
// octal \NNN), as Tor writes them.
func unquoteControl(q string) (string, error) {
	if len(q) < 2 || q[0] != '"' || q[len(q)-1] != '"' {
		return "", errors.New("not a quoted string")
	}
	q = q[1 : len(q)-1]
	var b strings.Builder
	for i := 0; i < len(q); i++ {
		ch := q[i]
		if ch == '"' {
			return "", errors.New("an unescaped quote inside")
		}
		if ch != '\\' {
			b.WriteByte(ch)
			continue
		}
		i++
		if i == len(q) {
			return "", errors.New("a lone backslash at the end")
		}
		switch e := q[i]; e {
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case '\\', '"', '\'':
			b.WriteByte(e)
		default:
			if e < '0' || e > '7' || i+3 > len(q) {
				return "", fmt.Errorf("unknown escape \\%c", e)
			}
			v, err := strconv.ParseUint(q[i:i+3], 8, 8)
			if err != nil {
				return "", fmt.Errorf("bad octal escape: %v", err)
			}
			b.WriteByte(byte(v))
			i += 2
		}
	}
	return b.String(), nil
}

// validServiceID reports whether id is a v3 onion service ID: 56
// characters of base32's lower-case alphabet.
func validServiceID(id string) bool {
	if len(id) != 56 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !('a' <= c && c <= 'z' || '2' <= c && c <= '7') {
			return false
		}
	}
	return true
}

// addOnion adds an onion service forwarding externalPort to
// 127.0.0.1:localPort, with key ("ED25519-V3:..." as Tahoe keeps it in
// onion.private_key_file, or "NEW:ED25519-V3" for a new one). It returns
// the service's host name (xxx.onion) and, for a new key, the key. The
// service lasts as long as this connection.
func (c *torControl) addOnion(key string, externalPort, localPort int) (host, newKey string, err error) {
	if strings.ContainsAny(key, " \r\n") || !strings.Contains(key, ":") {
		return "", "", errors.New("malformed onion key (want TYPE:BLOB, as ADD_ONION takes it)")
	}
	lines, err := c.cmd(fmt.Sprintf("ADD_ONION %s Port=%d,127.0.0.1:%d", key, externalPort, localPort))
	if err != nil {
		return "", "", fmt.Errorf("%w: adding the onion service: %v", ErrTorControl, err)
	}
	for _, l := range lines {
		if v, ok := strings.CutPrefix(l, "ServiceID="); ok {
			if !validServiceID(v) {
				return "", "", fmt.Errorf("%w: ADD_ONION gave a malformed service ID", ErrTorControl)
			}
			host = v + ".onion"
		}
		if v, ok := strings.CutPrefix(l, "PrivateKey="); ok {
			newKey = v
		}
	}
	if host == "" {
		return "", "", fmt.Errorf("%w: ADD_ONION gave no service ID", ErrTorControl)
	}
	if strings.HasPrefix(key, "NEW:") && !strings.HasPrefix(newKey, "ED25519-V3:") {
		return "", "", fmt.Errorf("%w: ADD_ONION gave no ED25519-V3 key for the new service", ErrTorControl)
	}
	return host, newKey, nil
}

// delOnion removes the onion service host (xxx.onion).
func (c *torControl) delOnion(host string) error {
	_, err := c.cmd("DEL_ONION " + strings.TrimSuffix(host, ".onion"))
	return err
}

// socksListener asks Tor where its SOCKS port listens (the first one).
func (c *torControl) socksListener() (string, error) {
	lines, err := c.cmd("GETINFO net/listeners/socks")
	if err != nil {
		return "", err
	}
	for _, l := range lines {
		v, ok := strings.CutPrefix(l, "net/listeners/socks=")
		if !ok {
			continue
		}
		for _, f := range strings.Fields(v) {
			if a, err := strconv.Unquote(f); err == nil && !strings.HasPrefix(a, "unix:") {
				return a, nil
			}
		}
	}
	return "", errors.New("Tor has no TCP SOCKS port")
}
