package foolscap

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Negotiation constants (foolscap/negotiate.py).
const (
	bananaVersion   = 3 // the one version every current Foolscap speaks
	vocabTable      = 1
	maxBlock        = 4096
	negotiationTime = 30 * time.Second
)

// vocabHash is the first four hex digits of SHA-1 over the vocabulary
// words joined by NUL bytes, which the deciding side sends and the other
// checks.
var vocabHash = func() string {
	sum := sha1.Sum([]byte(strings.Join(vocab, "\x00")))
	return hex.EncodeToString(sum[:])[:4]
}()

var tubIDEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// TubIDOf returns the tub ID of a certificate: the lower-case base32 of
// the SHA-1 of its DER.
func TubIDOf(certDER []byte) string {
	sum := sha1.Sum(certDER)
	return strings.ToLower(tubIDEncoding.EncodeToString(sum[:]))
}

// readBlock reads an RFC 822 style block ending in an empty line, at most
// maxBlock bytes, one byte at a time so that nothing after it is consumed.
func readBlock(r io.ByteReader) ([]byte, error) {
	var b []byte
	for !bytes.HasSuffix(b, []byte("\r\n\r\n")) {
		c, err := r.ReadByte()
		if err != nil {
			if err == io.EOF && len(b) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		b = append(b, c)
		if len(b) > maxBlock {
			return nil, protoErr("negotiation block longer than %d bytes", maxBlock)
		}
	}
	return b[:len(b)-4], nil
}

// byteReader reads a net.Conn one byte at a time.
type byteReader struct{ r io.Reader }

func (b byteReader) ReadByte() (byte, error) {
	var p [1]byte
	if _, err := io.ReadFull(b.r, p[:]); err != nil {
		return 0, err
	}
	return p[0], nil
}

// parseBlock parses "key: value" lines: keys lower-cased, leading spaces of
// values dropped.
func parseBlock(b []byte) (map[string]string, error) {
	m := map[string]string{}
	for _, line := range strings.Split(string(b), "\r\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return nil, protoErr("negotiation line %q has no ':'", line)
		}
		m[strings.ToLower(strings.TrimSpace(k))] = strings.TrimLeft(v, " ")
	}
	return m, nil
}

// formatBlock writes a block with its keys sorted.
func formatBlock(m map[string]string) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %s\r\n", k, m[k])
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// tlsConfig returns the TLS configuration of either role. Foolscap checks
// no certificate chain: a tub is whoever holds the key of the certificate
// whose hash is its ID. want, when set, is the tub ID the peer must have.
func (t *Tub) tlsConfig(want string) *tls.Config {
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true,
		Certificates:       []tls.Certificate{t.cert},
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return &t.cert, nil
		},
		ClientAuth: tls.RequireAnyClientCert,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 {
				return errors.New("the peer shows no certificate")
			}
			if want != "" && TubIDOf(raw[0]) != want {
				return fmt.Errorf("the peer's certificate is of tub %s, not %s", TubIDOf(raw[0]), want)
			}
			return nil
		},
	}
	return cfg
}

// hello returns our hello block.
func (t *Tub) hello(peer string, isClient bool) map[string]string {
	h := map[string]string{
		"banana-negotiation-range":  fmt.Sprintf("%d %d", bananaVersion, bananaVersion),
		"initial-vocab-table-range": fmt.Sprintf("0 %d", vocabTable),
		"my-tub-id":                 t.tubID,
		"my-incarnation":            t.incarnation,
	}
	if isClient {
		h["last-connection"] = t.lastConnection(peer)
	}
	return h
}

// negotiateClient runs the client side on nc, a new connection to a hint
// of the tub target at host. claim, if not nil, is asked just before the
// connection would become the peer's: one attempt among several parallel
// ones (one per hint) wins, and the others give up.
func (t *Tub) negotiateClient(ctx context.Context, nc net.Conn, host, target string, claim func() bool) (*Conn, error) {
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	nc.SetDeadline(time.Now().Add(negotiationTime))
	req := "GET /id/" + target + " HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: TLS/1.0\r\nConnection: Upgrade\r\n\r\n"
	if _, err := io.WriteString(nc, req); err != nil {
		return nil, err
	}
	resp, err := readBlock(byteReader{nc})
	if err != nil {
		return nil, fmt.Errorf("reading the upgrade answer: %w", err)
	}
	status, _, _ := strings.Cut(string(resp), "\r\n")
	if f := strings.Fields(status); len(f) < 2 || f[1] != "101" {
		return nil, protoErr("the server refused the connection: %q", truncate(status, 200))
	}
	if !strings.Contains(string(resp), "Upgrade: TLS/1.0") {
		return nil, protoErr("the upgrade answer does not switch to TLS")
	}
	tc := tls.Client(nc, t.tlsConfig(target))
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, fmt.Errorf("TLS with tub %s: %w", target, err)
	}
	return t.negotiateTLS(ctx, tc, target, true, claim)
}

// negotiateServer runs the server side on nc, whose first bytes are
// Foolscap's upgrade request.
func (t *Tub) negotiateServer(ctx context.Context, nc net.Conn) (*Conn, error) {
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	nc.SetDeadline(time.Now().Add(negotiationTime))
	req, err := readBlock(byteReader{nc})
	if err != nil {
		return nil, fmt.Errorf("reading the upgrade request: %w", err)
	}
	refuse := func(msg string) error {
		io.WriteString(nc, "HTTP/1.1 500 Internal Server Error: "+msg+"\r\n\r\n")
		return protoErr("%s", msg)
	}
	line, _, _ := strings.Cut(string(req), "\r\n")
	f := strings.Fields(line)
	if len(f) != 3 || f[0] != "GET" || !strings.HasPrefix(f[1], "/id/") {
		return nil, refuse("not right")
	}
	if id := strings.TrimPrefix(f[1], "/id/"); id != t.tubID {
		return nil, refuse("unknown TubID " + truncate(id, 64))
	}
	if !strings.Contains(string(req), "Upgrade: TLS/1.0\r\n") && !strings.HasSuffix(string(req), "Upgrade: TLS/1.0") {
		return nil, refuse("secure Tubs require encryption")
	}
	if _, err := io.WriteString(nc, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: TLS/1.0, PB/1.0\r\nConnection: Upgrade\r\n\r\n"); err != nil {
		return nil, err
	}
	tc := tls.Server(nc, t.tlsConfig(""))
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, fmt.Errorf("TLS: %w", err)
	}
	return t.negotiateTLS(ctx, tc, "", false, nil)
}

// negotiateTLS exchanges hellos over the TLS connection, makes or takes
// the decision, and starts the connection.
func (t *Tub) negotiateTLS(ctx context.Context, tc *tls.Conn, target string, isClient bool, claim func() bool) (c *Conn, err error) {
	if claim == nil {
		claim = func() bool { return true }
	}
	certs := tc.ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return nil, protoErr("the peer shows no certificate")
	}
	peer := TubIDOf(certs[0].Raw)
	live := newLiveReader(tc)
	br := bufio.NewReaderSize(live, 32<<10)
	defer func() {
		if err != nil {
			// Tell the peer why, as Foolscap does, then hang up.
			tc.Write(formatBlock(map[string]string{"banana-decision-version": "1", "error": truncate(err.Error(), 500)}))
			tc.Close()
		}
	}()
	if _, err := tc.Write(formatBlock(t.hello(peer, isClient))); err != nil {
		return nil, err
	}
	b, err := readBlock(br)
	if err != nil {
		return nil, fmt.Errorf("reading the hello of tub %s: %w", peer, err)
	}
	offer, err := parseBlock(b)
	if err != nil {
		return nil, err
	}
	if msg, ok := offer["error"]; ok {
		return nil, fmt.Errorf("%w: tub %s refused: %s", ErrProtocol, peer, truncate(msg, 500))
	}
	if offer["my-tub-id"] != peer {
		return nil, protoErr("the hello claims tub %q, the certificate is of tub %s", truncate(offer["my-tub-id"], 64), peer)
	}
	if isClient && peer != target {
		return nil, protoErr("connected to the wrong tub %s", peer)
	}
	if peer == t.tubID {
		return nil, protoErr("connected to ourselves")
	}
	if err := checkRange(offer["banana-negotiation-range"], bananaVersion, "banana version"); err != nil {
		return nil, err
	}
	if t.tubID > peer {
		// We are the master: we decide.
		vr := offer["initial-vocab-table-range"]
		if vr == "" {
			vr = "0 0"
		}
		if err := checkRange(vr, vocabTable, "initial vocab table"); err != nil {
			return nil, err
		}
		// Decide, and take the connection as this peer's at once, so that
		// parallel offers (one per hint) are judged against each other.
		if !claim() {
			return nil, errLostRace
		}
		c = newConn(t, tc, live, br, peer)
		seq, old, err := t.decide(c, offer)
		if err != nil {
			return nil, err
		}
		decision := map[string]string{
			"banana-decision-version":   strconv.Itoa(bananaVersion),
			"current-connection":        fmt.Sprintf("%s %d", t.incarnation, seq),
			"initial-vocab-table-index": fmt.Sprintf("%d %s", vocabTable, vocabHash),
		}
		if _, err := tc.Write(formatBlock(decision)); err != nil {
			c.fail(err)
			return nil, err
		}
		if old != nil {
			old.fail(fmt.Errorf("%w: replaced by a new connection", ErrClosed))
		}
		tc.SetDeadline(time.Time{})
		c.start()
		return c, nil
	} else {
		b, err := readBlock(br)
		if err != nil {
			return nil, fmt.Errorf("reading the decision of tub %s: %w", peer, err)
		}
		d, err := parseBlock(b)
		if err != nil {
			return nil, err
		}
		if msg, ok := d["error"]; ok {
			return nil, fmt.Errorf("%w: tub %s refused: %s", ErrProtocol, peer, truncate(msg, 500))
		}
		if d["banana-decision-version"] != strconv.Itoa(bananaVersion) {
			return nil, protoErr("tub %s decided banana version %q", peer, truncate(d["banana-decision-version"], 20))
		}
		if d["initial-vocab-table-index"] != fmt.Sprintf("%d %s", vocabTable, vocabHash) {
			return nil, protoErr("tub %s decided vocab table %q", peer, truncate(d["initial-vocab-table-index"], 40))
		}
		if cc := d["current-connection"]; cc != "" {
			t.setLastConnection(peer, cc)
		}
	}
	if !claim() {
		return nil, errLostRace
	}
	tc.SetDeadline(time.Time{})
	c = newConn(t, tc, live, br, peer)
	if err := t.adopt(c); err != nil {
		return nil, err
	}
	c.start()
	return c, nil
}

// errLostRace ends an attempt over one hint when another hint's attempt
// won.
var errLostRace = errors.New("foolscap: another connection hint won")

// checkRange checks that a "min max" range includes want.
func checkRange(s string, want int, what string) error {
	f := strings.Fields(s)
	if len(f) != 2 {
		return protoErr("no valid %s range in %q", what, truncate(s, 40))
	}
	lo, err1 := strconv.Atoi(f[0])
	hi, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || lo > want || hi < want {
		return protoErr("%s range %q does not include %d", what, truncate(s, 40), want)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
