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
	c := &torControl{conn: conn, r: bufio.NewReader(conn)}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	} else {
		conn.SetDeadline(time.Now().Add(60 * time.Second))
	}
	if err := c.authenticate(); err != nil {
		conn.Close()
		return nil, fmt.Errorf("%w %s: %v", ErrTorControl, endpoint, err)
	}
	conn.SetDeadline(time.Time{})
	return c, nil
}

// Close closes the connection; Tor removes the onion services it added.
func (c *torControl) Close() error { return c.conn.Close() }

// cmd sends one command line and returns the reply lines (without their
// status code and separator), or an error for a reply other than 250.
func (c *torControl) cmd(line string) ([]string, error) {
	if strings.ContainsAny(line, "\r\n") {
		return nil, errors.New("a control command may not contain a line break")
	}
	if _, err := c.conn.Write([]byte(line + "\r\n")); err != nil {
		return nil, err
	}
	var out []string
	for {
		l, err := c.r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		l = strings.TrimRight(l, "\r\n")
		if len(l) < 4 {
			return nil, fmt.Errorf("malformed reply %q", l)
		}
		code, sep, text := l[:3], l[3], l[4:]
		if code != "250" {
			return nil, fmt.Errorf("Tor answered %s %s", code, text)
		}
		if sep == '+' { // a data reply, ended by a lone "."
			for {
				d, err := c.r.ReadString('\n')
				if err != nil {
					return nil, err
				}
				d = strings.TrimRight(d, "\r\n")
				if d == "." {
					break
				}
				text += "\n" + d
			}
		}
		out = append(out, text)
		if sep == ' ' {
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
			cookieFile, err = strconv.Unquote(f)
			if err != nil {
				return fmt.Errorf("malformed COOKIEFILE %s", f)
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
		cookie, err := os.ReadFile(cookieFile)
		if err != nil {
			return fmt.Errorf("reading Tor's cookie: %w", err)
		}
		_, err = c.cmd("AUTHENTICATE " + hex.EncodeToString(cookie))
		return err
	}
	return fmt.Errorf("Tor offers authentication by %s only; lafs needs NULL, SAFECOOKIE or COOKIE (CookieAuthentication 1)", strings.Join(methods, ", "))
}

// safeCookie is SAFECOOKIE authentication: proof of the cookie without
// sending it, and proof that the other side is Tor.
func (c *torControl) safeCookie(cookieFile string) error {
	cookie, err := os.ReadFile(cookieFile)
	if err != nil {
		return fmt.Errorf("reading Tor's cookie: %w", err)
	}
	if len(cookie) != 32 {
		return fmt.Errorf("Tor's cookie file %s holds %d bytes, not 32", cookieFile, len(cookie))
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
			host = v + ".onion"
		}
		if v, ok := strings.CutPrefix(l, "PrivateKey="); ok {
			newKey = v
		}
	}
	if host == ".onion" || host == "" {
		return "", "", fmt.Errorf("%w: ADD_ONION gave no service ID", ErrTorControl)
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
