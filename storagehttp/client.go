package storagehttp

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/nurl"
)

// Client limits, from http_client.py.
const (
	maxCBORAnswer  = 30 << 20 // limited_content's default max_length
	maxErrorAnswer = 10_000   // what decode_cbor reads of an error body
)

// DefaultResponseTimeout is how long a request waits for the answer's
// status and headers once it is sent, as Tahoe's client waits (60 s).
const DefaultResponseTimeout = 60 * time.Second

// Client is a storage server reached over HTTPS; it implements
// lafs.StorageServer. It sends exactly what Tahoe's client sends
// (Authorization, the X-Tahoe-Authorization secrets in Tahoe's order,
// Accept: application/cbor, CBOR bodies, Content-Range and Range), so it
// works against Tahoe's server as well as ours. Connections are kept alive
// and reused; a Client is safe for concurrent use.
type Client struct {
	nurl NURL
	base string // https://host:port
	auth string
	tr   *http.Transport
	hc   *http.Client
}

var _ lafs.StorageServer = (*Client)(nil)

// DialOption configures Dial.
type DialOption func(*dialConfig)

type dialConfig struct {
	dial            func(ctx context.Context, network, addr string) (net.Conn, error)
	responseTimeout time.Duration
	maxIdle         int
}

// WithDialContext sets how connections are made, for instance through Tor
// for a pb+tor NURL or through I2P for a pb+i2p one (which need this
// option). The function gets the
// NURL's host:port and returns a plain connection; TLS runs over it.
func WithDialContext(dial func(ctx context.Context, network, addr string) (net.Conn, error)) DialOption {
	return func(c *dialConfig) { c.dial = dial }
}

// WithResponseTimeout sets how long a request waits for the answer's
// headers once it is sent (DefaultResponseTimeout unless set; 0 means no
// limit). The transfer of a body is bounded only by the request's
// context, so pass one with a deadline where that matters.
func WithResponseTimeout(d time.Duration) DialOption {
	return func(c *dialConfig) { c.responseTimeout = d }
}

// WithMaxIdleConns sets how many idle connections to the server are kept
// for reuse (64 unless set); parallel uploads want at least one per
// request in flight.
func WithMaxIdleConns(n int) DialOption {
	return func(c *dialConfig) { c.maxIdle = n }
}

// Dial returns a client of the storage server n names. It makes no
// connection yet: the first request does, and fails (with an error
// wrapping ErrPin) if the server's certificate is not the one n pins.
func Dial(n NURL, opts ...DialOption) (*Client, error) {
	cfg := dialConfig{responseTimeout: DefaultResponseTimeout, maxIdle: 64}
	for _, o := range opts {
		o(&cfg)
	}
	tlsConf, err := nurl.ClientTLSConfig(n.SPKIHash)
	if err != nil {
		return nil, err
	}
	if err := n.CheckDialer(cfg.dial != nil); err != nil {
		return nil, fmt.Errorf("%w (WithDialContext)", err)
	}
	if cfg.dial == nil {
		d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
		cfg.dial = d.DialContext
	}
	tr := &http.Transport{
		DialTLSContext:        dialTLS(cfg.dial, tlsConf, 30*time.Second),
		ResponseHeaderTimeout: cfg.responseTimeout,
		MaxIdleConnsPerHost:   cfg.maxIdle,
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true, // Tahoe's client asks for no gzip
		// Small: only the request's headers pass through it; share data
		// goes to TLS whole (recordConn.ReadFrom), and net/http flushes
		// the headers first for a body it does not know to be in memory.
		WriteBufferSize: 4 << 10,
		ReadBufferSize:  64 << 10,
		// HTTP/1.1 only, as the protocol is.
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{},
	}
	return &Client{
		nurl: n,
		base: "https://" + n.Address(),
		auth: swissnumAuth([]byte(n.Swissnum)),
		tr:   tr,
		hc:   &http.Client{Transport: tr, CheckRedirect: noRedirects},
	}, nil
}

func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// NURL returns the NURL the client was dialed with.
func (c *Client) NURL() NURL { return c.nurl }

// Close closes the client's idle connections. Requests still running go
// on; a later request opens new ones.
func (c *Client) Close() error {
	c.tr.CloseIdleConnections()
	return nil
}

// secret is one X-Tahoe-Authorization value to send.
type secret struct {
	kind  secretKind
	value []byte
}

// leaseSecrets lists the lease secrets in the order Tahoe's client sends
// them: renew, cancel, upload, write enabler.
func leaseSecrets(l lafs.LeaseSecrets, more ...secret) []secret {
	return append([]secret{{secretLeaseRenew, l.Renew[:]}, {secretLeaseCancel, l.Cancel[:]}}, more...)
}

// request describes one call.
type request struct {
	method, path string
	secrets      []secret
	cbor         []byte // a CBOR body, or
	raw          []byte // raw share data
	header       map[string]string
	// idempotent requests may be sent again on a fresh connection when a
	// kept-alive one turns out closed (as GETs are): writes of the same
	// bytes, a repeated allocation with the same upload secret, a lease.
	idempotent bool
}

func (c *Client) do(ctx context.Context, q request) (*http.Response, error) {
	var body io.Reader
	switch {
	case q.cbor != nil:
		body = bytes.NewReader(q.cbor)
	case q.raw != nil:
		body = bytes.NewReader(q.raw)
	}
	req, err := http.NewRequestWithContext(ctx, q.method, c.base+q.path, body)
	if err != nil {
		return nil, err
	}
	if raw := q.raw; len(raw) > 0 {
		// Share data, which a recordConn writes whole (see ReadFrom);
		// its length is set already.
		req.Body = &rawBody{Reader: bytes.NewReader(raw)}
		req.GetBody = func() (io.ReadCloser, error) { return &rawBody{Reader: bytes.NewReader(raw)}, nil }
	}
	h := req.Header
	h["User-Agent"] = []string{""} // Tahoe's client sends none
	h["Authorization"] = []string{c.auth}
	for _, s := range q.secrets {
		h.Add(headerSecret, secretNames[s.kind]+" "+base64.StdEncoding.EncodeToString(s.value))
	}
	h["Accept"] = []string{mediaCBOR}
	if q.cbor != nil {
		h["Content-Type"] = []string{mediaCBOR}
	}
	for k, v := range q.header {
		h.Set(k, v)
	}
	if q.idempotent {
		h["Idempotency-Key"] = nil // marks the request for net/http; not sent
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("storage server %s: %w", c.nurl.Address(), err)
	}
	return resp, nil
}

// statusError reads the start of an unexpected answer into a StatusError.
func statusError(q request, resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorAnswer))
	msg := strings.TrimSpace(string(b))
	if !utf8.ValidString(msg) || resp.Header.Get("Content-Type") == mediaCBOR {
		msg = ""
	}
	return &StatusError{Method: q.method, Path: q.path, Code: resp.StatusCode, Message: msg}
}

func closeBody(resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // so the connection can be reused
	resp.Body.Close()
}

// call makes a request and expects one of the given codes with an empty
// or ignored body.
func (c *Client) call(ctx context.Context, q request, ok ...int) (int, error) {
	resp, err := c.do(ctx, q)
	if err != nil {
		return 0, err
	}
	defer closeBody(resp)
	for _, code := range ok {
		if resp.StatusCode == code {
			return code, nil
		}
	}
	return 0, statusError(q, resp)
}

// callCBOR makes a request and decodes a CBOR answer with one of the
// given codes, as decode_cbor does: the Content-Type must be CBOR, the
// body at most 30 MiB.
func (c *Client) callCBOR(ctx context.Context, q request, decode func([]byte) error, ok ...int) (int, error) {
	resp, err := c.do(ctx, q)
	if err != nil {
		return 0, err
	}
	defer closeBody(resp)
	found := false
	for _, code := range ok {
		found = found || resp.StatusCode == code
	}
	if !found {
		return 0, statusError(q, resp)
	}
	if t, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); t != mediaCBOR {
		return 0, fmt.Errorf("%w: %s %s: answer is %q, not CBOR", ErrProtocol, q.method, q.path, resp.Header.Get("Content-Type"))
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxCBORAnswer+1))
	if err != nil {
		return 0, fmt.Errorf("storage server %s: %s %s: %w", c.nurl.Address(), q.method, q.path, err)
	}
	if len(b) > maxCBORAnswer {
		return 0, fmt.Errorf("%w: %s %s: answer longer than %d bytes", ErrProtocol, q.method, q.path, maxCBORAnswer)
	}
	if err := decode(b); err != nil {
		return 0, fmt.Errorf("%w: %s %s: %v", ErrProtocol, q.method, q.path, err)
	}
	return resp.StatusCode, nil
}

func immPath(si lafs.StorageIndex, rest ...string) string {
	return "/storage/v1/immutable/" + si.String() + joinPath(rest)
}

func mutPath(si lafs.StorageIndex, rest ...string) string {
	return "/storage/v1/mutable/" + si.String() + joinPath(rest)
}

func joinPath(rest []string) string {
	if len(rest) == 0 {
		return ""
	}
	return "/" + strings.Join(rest, "/")
}

func shareSeg(n lafs.ShareNum) string { return strconv.Itoa(int(n)) }

// Version implements lafs.StorageServer.
func (c *Client) Version(ctx context.Context) (v lafs.ServerVersion, err error) {
	_, err = c.callCBOR(ctx, request{method: http.MethodGet, path: "/storage/v1/version"},
		func(b []byte) (err error) { v, err = decodeVersion(b); return err }, http.StatusOK)
	return v, err
}

// AllocateBuckets implements lafs.StorageServer.
func (c *Client) AllocateBuckets(ctx context.Context, si lafs.StorageIndex, lease lafs.LeaseSecrets, uploadSecret lafs.UploadSecret, shares []lafs.ShareNum, allocatedSize uint64) (res lafs.AllocateResult, err error) {
	q := request{
		method:     http.MethodPost,
		path:       immPath(si),
		secrets:    leaseSecrets(lease, secret{secretUpload, uploadSecret}),
		cbor:       allocateRequest{ShareNumbers: shares, AllocatedSize: allocatedSize}.encode(),
		idempotent: true,
	}
	_, err = c.callCBOR(ctx, q, func(b []byte) (err error) { res, err = decodeAllocateResponse(b); return err }, http.StatusOK)
	return res, err
}

// WriteImmutable implements lafs.StorageServer with one PATCH carrying
// "Content-Range: bytes <first>-<last>/*". A write of no bytes sends
// nothing, since no Content-Range can say "no bytes" (Tahoe's client would
// send "bytes 5-4/*", which its server refuses with 416), and answers a
// WriteResult that is not Done.
func (c *Client) WriteImmutable(ctx context.Context, si lafs.StorageIndex, shnum lafs.ShareNum, uploadSecret lafs.UploadSecret, offset uint64, data []byte) (res lafs.WriteResult, err error) {
	if len(data) == 0 {
		return lafs.WriteResult{}, nil
	}
	q := request{
		method:     http.MethodPatch,
		path:       immPath(si, shareSeg(shnum)),
		secrets:    []secret{{secretUpload, uploadSecret}},
		raw:        data,
		header:     map[string]string{"Content-Range": formatContentRange(offset, offset+uint64(len(data)))},
		idempotent: true,
	}
	code, err := c.callCBOR(ctx, q, func(b []byte) (err error) { res.Required, err = decodeWriteResponse(b); return err },
		http.StatusOK, http.StatusCreated)
	res.Done = code == http.StatusCreated
	return res, err
}

// AbortImmutable implements lafs.StorageServer.
func (c *Client) AbortImmutable(ctx context.Context, si lafs.StorageIndex, shnum lafs.ShareNum, uploadSecret lafs.UploadSecret) error {
	_, err := c.call(ctx, request{
		method:  http.MethodPut,
		path:    immPath(si, shareSeg(shnum), "abort"),
		secrets: []secret{{secretUpload, uploadSecret}},
	}, http.StatusOK)
	return err
}

// ReadImmutable implements lafs.StorageServer with a GET and a Range.
func (c *Client) ReadImmutable(ctx context.Context, si lafs.StorageIndex, shnum lafs.ShareNum, offset, length uint64) ([]byte, error) {
	return c.read(ctx, immPath(si, shareSeg(shnum)), offset, length)
}

// ListImmutable implements lafs.StorageServer.
func (c *Client) ListImmutable(ctx context.Context, si lafs.StorageIndex) ([]lafs.ShareNum, error) {
	return c.list(ctx, immPath(si, "shares"))
}

// AdviseCorruptImmutable implements lafs.StorageServer. The reason is
// made valid UTF-8 and cut to 32757 bytes: the schema allows 32765, but
// Tahoe's server refuses a body over 32768 bytes, which the longer
// reasons make.
func (c *Client) AdviseCorruptImmutable(ctx context.Context, si lafs.StorageIndex, shnum lafs.ShareNum, reason string) error {
	return c.corrupt(ctx, immPath(si, shareSeg(shnum), "corrupt"), reason)
}

// AddOrRenewLease implements lafs.StorageServer.
func (c *Client) AddOrRenewLease(ctx context.Context, si lafs.StorageIndex, lease lafs.LeaseSecrets) error {
	_, err := c.call(ctx, request{
		method:     http.MethodPut,
		path:       "/storage/v1/lease/" + si.String(),
		secrets:    leaseSecrets(lease),
		idempotent: true,
	}, http.StatusNoContent)
	return err
}

// ReadTestWrite implements lafs.StorageServer.
func (c *Client) ReadTestWrite(ctx context.Context, si lafs.StorageIndex, writeEnabler lafs.Secret, lease lafs.LeaseSecrets, tw map[lafs.ShareNum]lafs.TestWriteVectors, read []lafs.ReadVector) (res lafs.ReadTestWriteResult, err error) {
	q := request{
		method:  http.MethodPost,
		path:    mutPath(si, "read-test-write"),
		secrets: leaseSecrets(lease, secret{secretWriteEnabler, writeEnabler[:]}),
		cbor:    rtwRequest{TestWrite: tw, Read: read}.encode(),
	}
	_, err = c.callCBOR(ctx, q, func(b []byte) (err error) { res, err = decodeRTWResponse(b); return err }, http.StatusOK)
	return res, err
}

// ReadMutable implements lafs.StorageServer with a GET and a Range.
func (c *Client) ReadMutable(ctx context.Context, si lafs.StorageIndex, shnum lafs.ShareNum, offset, length uint64) ([]byte, error) {
	return c.read(ctx, mutPath(si, shareSeg(shnum)), offset, length)
}

// ListMutable implements lafs.StorageServer.
func (c *Client) ListMutable(ctx context.Context, si lafs.StorageIndex) ([]lafs.ShareNum, error) {
	return c.list(ctx, mutPath(si, "shares"))
}

// AdviseCorruptMutable implements lafs.StorageServer, as
// AdviseCorruptImmutable does.
func (c *Client) AdviseCorruptMutable(ctx context.Context, si lafs.StorageIndex, shnum lafs.ShareNum, reason string) error {
	return c.corrupt(ctx, mutPath(si, shareSeg(shnum), "corrupt"), reason)
}

func (c *Client) list(ctx context.Context, path string) (s []lafs.ShareNum, err error) {
	_, err = c.callCBOR(ctx, request{method: http.MethodGet, path: path},
		func(b []byte) (err error) { s, err = decodeShareSet(b); return err }, http.StatusOK)
	return s, err
}

func (c *Client) corrupt(ctx context.Context, path, reason string) error {
	reason = strings.ToValidUTF8(reason, "\uFFFD")
	if len(reason) > maxSentReason {
		cut := maxSentReason
		for cut > 0 && !utf8.RuneStart(reason[cut]) {
			cut--
		}
		reason = reason[:cut]
	}
	_, err := c.call(ctx, request{method: http.MethodPost, path: path, cbor: encodeCorruptRequest(reason)}, http.StatusOK)
	return err
}

// maxPrealloc bounds the buffer a read allocates before the bytes arrive.
const maxPrealloc = 64 << 20

// read asks for length bytes at offset with "Range: bytes=<first>-<last>"
// and takes 206 (with a Content-Range that starts at offset and is no
// longer than asked) or 204 (nothing there). A read of no bytes asks for
// one and drops it, so that a missing share is still ErrNotExist.
func (c *Client) read(ctx context.Context, path string, offset, length uint64) ([]byte, error) {
	ask := max(length, 1)
	q := request{method: http.MethodGet, path: path, header: map[string]string{"Range": formatRange(offset, ask)}}
	resp, err := c.do(ctx, q)
	if err != nil {
		return nil, err
	}
	defer closeBody(resp)
	switch resp.StatusCode {
	case http.StatusNoContent:
		return []byte{}, nil
	case http.StatusPartialContent:
	default:
		return nil, statusError(q, resp)
	}
	protoErr := func(format string, args ...any) error {
		return fmt.Errorf("%w: GET %s: %s", ErrProtocol, path, fmt.Sprintf(format, args...))
	}
	if t, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); t != mediaOctetStream {
		return nil, protoErr("answer is %q, not %s", resp.Header.Get("Content-Type"), mediaOctetStream)
	}
	begin, end, err := parseContentRange(resp.Header.Get("Content-Range"))
	if err != nil {
		return nil, protoErr("%v", err)
	}
	n := end - begin
	if begin != offset || n > ask {
		return nil, protoErr("Content-Range %q for %d bytes at %d", resp.Header.Get("Content-Range"), ask, offset)
	}
	if length == 0 {
		return []byte{}, nil
	}
	var buf bytes.Buffer
	buf.Grow(int(min(n, maxPrealloc)))
	got, err := buf.ReadFrom(io.LimitReader(resp.Body, int64(n)))
	if err != nil {
		return nil, fmt.Errorf("storage server %s: GET %s: %w", c.nurl.Address(), path, err)
	}
	if uint64(got) != n {
		return nil, protoErr("body of %d bytes, Content-Range says %d", got, n)
	}
	return buf.Bytes(), nil
}

// DialFirst dials every NURL of a server (one per location it announced)
// and returns a client of the first whose version request succeeds, as
// Tahoe's _pick_a_http_server does; the others are closed. The error,
// when none answers, joins theirs.
func DialFirst(ctx context.Context, nurls []NURL, opts ...DialOption) (*Client, error) {
	if len(nurls) == 0 {
		return nil, fmt.Errorf("%w: no NURLs", ErrNURL)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		c   *Client
		err error
	}
	results := make(chan result, len(nurls))
	for _, n := range nurls {
		go func() {
			c, err := Dial(n, opts...)
			if err == nil {
				if _, err = c.Version(ctx); err != nil {
					c.Close()
					c = nil
				}
			}
			results <- result{c, err}
		}()
	}
	var errs []error
	var winner *Client
	for range nurls {
		r := <-results
		switch {
		case r.err != nil:
			errs = append(errs, r.err)
		case winner == nil:
			winner = r.c
			cancel() // stop the others
		default:
			r.c.Close()
		}
	}
	if winner == nil {
		return nil, errors.Join(errs...)
	}
	return winner, nil
}
