package storagehttp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/httpbody"
)

// Request body limits, from http_server.py's read_encoded calls.
const (
	maxAllocateBody = 8192      // allocate_buckets: max_size=8192
	maxCorruptBody  = 32768     // advise_corrupt_share: max_size=32768
	defaultMaxRTW   = 256 << 20 // read-test-write: Tahoe allows 2^48
)

// Transfer sizes of share data between the HTTP body and the storage
// server.
const (
	readChunk  = 1 << 20 // bytes per ReadImmutable/ReadMutable call
	writeChunk = 1 << 20 // largest WriteImmutable call a PATCH makes
	// PATCH bodies of at least poolMin bytes are read into pooled
	// writeChunk buffers, which the storage server must not keep (the
	// io.Writer rule); smaller ones into buffers of their own size.
	poolMin = 64 << 10
)

var writeBufs = sync.Pool{New: func() any { return new([writeChunk]byte) }}

// HandlerOption configures Handler.
type HandlerOption func(*handler)

// WithMaxMutableBody sets the largest read-test-write body the handler
// takes (default 256 MiB; Tahoe's limit, 2^48, is none in practice). The
// whole body is held in memory while it is decoded and applied.
func WithMaxMutableBody(n int64) HandlerOption {
	return func(h *handler) { h.maxRTW = n }
}

// WithErrorLog sets where the handler reports internal errors (status 500)
// and aborted streams; the default is slog.Default().
func WithErrorLog(l *slog.Logger) HandlerOption {
	return func(h *handler) { h.log = l }
}

type handler struct {
	s           lafs.StorageServer
	auth        [32]byte // SHA-256 of the expected Authorization value
	maxRTW      int64
	log         *slog.Logger
	bodyTimeout time.Duration
}

// Handler serves s over Tahoe's HTTP storage protocol, to clients that
// present swissnum (the ASCII swissnum of the NURL, as bytes). It answers
// as Tahoe 1.20's server does, status codes included: a path it does not
// know, or whose storage index is not 26 characters of canonical base32,
// gets 404 before any authorization; a missing or wrong Authorization 401;
// a wrong set of X-Tahoe-Authorization secrets 400; then each endpoint's
// own checks. Serve it over TLS (NewServer) at the address of the NURL.
//
// s must not keep the data slice of a WriteImmutable call after it
// returns: the handler reuses its buffers.
func Handler(s lafs.StorageServer, swissnum []byte, opts ...HandlerOption) http.Handler {
	h := &handler{
		s:           s,
		auth:        sha256.Sum256([]byte(swissnumAuth(swissnum))),
		maxRTW:      defaultMaxRTW,
		log:         slog.Default(),
		bodyTimeout: httpbody.DefaultIdle,
	}
	for _, o := range opts {
		o(h)
	}
	return h
}

// endpoint identifies one operation of the protocol.
type endpoint int

const (
	epVersion endpoint = iota
	epLease
	epAllocate
	epImmShares
	epWrite
	epImmRead
	epAbort
	epImmCorrupt
	epRTW
	epMutShares
	epMutRead
	epMutCorrupt
)

// endpoints gives each operation its method and required secrets.
var endpoints = map[endpoint]struct {
	method  string
	secrets secretSet
}{
	epVersion:    {http.MethodGet, 0},
	epLease:      {http.MethodPut, setOf(secretLeaseRenew, secretLeaseCancel)},
	epAllocate:   {http.MethodPost, setOf(secretLeaseRenew, secretLeaseCancel, secretUpload)},
	epImmShares:  {http.MethodGet, 0},
	epWrite:      {http.MethodPatch, setOf(secretUpload)},
	epImmRead:    {http.MethodGet, 0},
	epAbort:      {http.MethodPut, setOf(secretUpload)},
	epImmCorrupt: {http.MethodPost, 0},
	epRTW:        {http.MethodPost, setOf(secretLeaseRenew, secretLeaseCancel, secretWriteEnabler)},
	epMutShares:  {http.MethodGet, 0},
	epMutRead:    {http.MethodGet, 0},
	epMutCorrupt: {http.MethodPost, 0},
}

// call is one routed request.
type call struct {
	si      lafs.StorageIndex
	shnum   uint64 // as in the path; may exceed any ShareNum
	secrets secrets
}

// share returns the share number of the path, or ErrNotExist for a
// number no share can have (Tahoe takes any unsigned integer there and
// then finds nothing).
func (c *call) share() (lafs.ShareNum, error) {
	if c.shnum > math.MaxUint16 {
		return 0, fmt.Errorf("%w: share number %d", lafs.ErrNotExist, c.shnum)
	}
	return lafs.ShareNum(c.shnum), nil
}

// route matches a path as Tahoe's werkzeug rules do, returning the
// endpoints the path names (one per method).
func route(path string, c *call) []endpoint {
	rest, ok := strings.CutPrefix(path, "/storage/v1/")
	if !ok {
		return nil
	}
	seg := strings.Split(rest, "/")
	if len(seg) == 1 {
		if seg[0] == "version" {
			return []endpoint{epVersion}
		}
		return nil
	}
	// Tahoe's StorageIndexConverter: [a-z2-7]{26} that si_a2b decodes.
	b, err := lafs.ParseBase32Len(seg[1], len(c.si))
	if err != nil {
		return nil
	}
	copy(c.si[:], b)
	isNum := func(s string) bool {
		if s == "" {
			return false
		}
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		}
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			n = math.MaxUint64 // a valid but enormous number
		}
		c.shnum = n
		return true
	}
	switch {
	case seg[0] == "lease" && len(seg) == 2:
		return []endpoint{epLease}
	case seg[0] == "immutable" && len(seg) == 2:
		return []endpoint{epAllocate}
	case seg[0] == "immutable" && len(seg) == 3 && seg[2] == "shares":
		return []endpoint{epImmShares}
	case seg[0] == "immutable" && len(seg) == 3 && isNum(seg[2]):
		return []endpoint{epWrite, epImmRead}
	case seg[0] == "immutable" && len(seg) == 4 && isNum(seg[2]) && seg[3] == "abort":
		return []endpoint{epAbort}
	case seg[0] == "immutable" && len(seg) == 4 && isNum(seg[2]) && seg[3] == "corrupt":
		return []endpoint{epImmCorrupt}
	case seg[0] == "mutable" && len(seg) == 3 && seg[2] == "read-test-write":
		return []endpoint{epRTW}
	case seg[0] == "mutable" && len(seg) == 3 && seg[2] == "shares":
		return []endpoint{epMutShares}
	case seg[0] == "mutable" && len(seg) == 3 && isNum(seg[2]):
		return []endpoint{epMutRead}
	case seg[0] == "mutable" && len(seg) == 4 && isNum(seg[2]) && seg[3] == "corrupt":
		return []endpoint{epMutCorrupt}
	}
	return nil
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Before anything else, so that even the body of a request refused
	// unread (404, 401) cannot hold the connection.
	r = httpbody.Limit(w, r, h.bodyTimeout)
	var c call
	eps := route(r.URL.Path, &c)
	if eps == nil {
		h.fail(w, r, &httpError{http.StatusNotFound, "not found"})
		return
	}
	method := r.Method
	if method == http.MethodHead {
		method = http.MethodGet
	}
	ep, found := endpoint(-1), false
	var allow []string
	for _, e := range eps {
		m := endpoints[e].method
		allow = append(allow, m)
		if m == http.MethodGet {
			allow = append(allow, http.MethodHead)
		}
		if m == method {
			ep, found = e, true
		}
	}
	if !found {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		h.fail(w, r, &httpError{http.StatusMethodNotAllowed, "method not allowed"})
		return
	}
	if err := checkAuthorization(r, h.auth); err != nil {
		h.fail(w, r, err)
		return
	}
	s, err := extractSecrets(r.Header.Values(headerSecret), endpoints[ep].secrets)
	if err != nil {
		h.fail(w, r, &httpError{http.StatusBadRequest, err.Error()})
		return
	}
	c.secrets = s
	switch ep {
	case epVersion:
		err = h.version(w, r)
	case epLease:
		err = h.lease(w, r, &c)
	case epAllocate:
		err = h.allocate(w, r, &c)
	case epImmShares:
		err = h.shares(w, r, &c, h.s.ListImmutable)
	case epWrite:
		err = h.write(w, r, &c)
	case epImmRead:
		err = h.read(w, r, &c, h.s.ReadImmutable)
	case epAbort:
		err = h.abort(w, r, &c)
	case epImmCorrupt:
		err = h.corrupt(w, r, &c, h.s.ListImmutable, h.s.AdviseCorruptImmutable)
	case epRTW:
		err = h.readTestWrite(w, r, &c)
	case epMutShares:
		err = h.shares(w, r, &c, h.s.ListMutable)
	case epMutRead:
		err = h.read(w, r, &c, h.s.ReadMutable)
	case epMutCorrupt:
		err = h.corrupt(w, r, &c, h.s.ListMutable, h.s.AdviseCorruptMutable)
	}
	if err != nil {
		h.fail(w, r, err)
	}
}

// fail answers with the status statusOf gives err and a plain-text reason.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := statusOf(err)
	msg := err.Error()
	if code == http.StatusInternalServerError {
		h.log.Error("storagehttp: internal error", "method", r.Method, "path", r.URL.Path, "err", err)
		msg = "internal server error"
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	io.WriteString(w, msg+"\n")
}

var errNotAcceptable = &httpError{http.StatusNotAcceptable, "only application/cbor is offered"}

// sendCBOR answers with a CBOR body.
func sendCBOR(w http.ResponseWriter, code int, body []byte) {
	w.Header().Set("Content-Type", mediaCBOR)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	w.Write(body)
}

// readCBOR reads a request body of at most max bytes, as read_encoded
// does: a Content-Type other than CBOR is 415, a larger body 413.
func readCBOR(r *http.Request, max int64) ([]byte, error) {
	if t := requestMediaType(r.Header); t != mediaCBOR {
		return nil, &httpError{http.StatusUnsupportedMediaType, fmt.Sprintf("unsupported Content-Type %q", t)}
	}
	tooLarge := &httpError{http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", max)}
	if r.ContentLength > max {
		return nil, tooLarge
	}
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength))
	}
	n, err := buf.ReadFrom(io.LimitReader(r.Body, max+1))
	if err != nil {
		// An *httpbody.Error: 400, or 408 for a stall.
		return nil, fmt.Errorf("%w: reading body: %w", lafs.ErrBadRequest, err)
	}
	if n > max {
		return nil, tooLarge
	}
	return buf.Bytes(), nil
}

// badBody wraps a decoding error as a bad request.
func badBody(err error) error {
	return fmt.Errorf("%w: %w", lafs.ErrBadRequest, err)
}

func leaseOf(s secrets) lafs.LeaseSecrets {
	var l lafs.LeaseSecrets
	copy(l.Renew[:], s[secretLeaseRenew])
	copy(l.Cancel[:], s[secretLeaseCancel])
	return l
}

func (h *handler) version(w http.ResponseWriter, r *http.Request) error {
	if !acceptsCBOR(r.Header) {
		return errNotAcceptable
	}
	v, err := h.s.Version(r.Context())
	if err != nil {
		return err
	}
	sendCBOR(w, http.StatusOK, encodeVersion(v))
	return nil
}

func (h *handler) lease(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := h.s.AddOrRenewLease(r.Context(), c.si, leaseOf(c.secrets)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *handler) allocate(w http.ResponseWriter, r *http.Request, c *call) error {
	body, err := readCBOR(r, maxAllocateBody)
	if err != nil {
		return err
	}
	req, err := decodeAllocateRequest(body)
	if err != nil {
		return badBody(err)
	}
	if !acceptsCBOR(r.Header) {
		return errNotAcceptable
	}
	res, err := h.s.AllocateBuckets(r.Context(), c.si, leaseOf(c.secrets), c.secrets[secretUpload], req.ShareNumbers, req.AllocatedSize)
	if err != nil {
		return err
	}
	sendCBOR(w, http.StatusOK, encodeAllocateResponse(res))
	return nil
}

func (h *handler) shares(w http.ResponseWriter, r *http.Request, c *call, list func(context.Context, lafs.StorageIndex) ([]lafs.ShareNum, error)) error {
	if !acceptsCBOR(r.Header) {
		return errNotAcceptable
	}
	s, err := list(r.Context(), c.si)
	if err != nil {
		return err
	}
	sendCBOR(w, http.StatusOK, encodeShareSet(s))
	return nil
}

// write takes a PATCH: the Content-Range (the last one, as Twisted's
// getHeader gives it) says where the body goes; the body is handed to the
// storage server in pieces of at most writeChunk bytes, so a large PATCH
// never sits whole in memory. The buffers are reused: WriteImmutable must
// not keep the data it is given past its return, as io.Writer must not.
// 201 answers the write that completes the share, 200 any other, both with
// the ranges still required.
func (h *handler) write(w http.ResponseWriter, r *http.Request, c *call) error {
	cr := r.Header.Values("Content-Range")
	if len(cr) == 0 {
		return &httpError{http.StatusRequestedRangeNotSatisfiable, "missing Content-Range"}
	}
	begin, end, err := parseContentRange(cr[len(cr)-1])
	if err != nil {
		return &httpError{http.StatusRequestedRangeNotSatisfiable, err.Error()}
	}
	if !acceptsCBOR(r.Header) {
		return errNotAcceptable
	}
	shnum, err := c.share()
	if err != nil {
		return err
	}
	ctx := r.Context()
	upload := c.secrets[secretUpload]
	var res lafs.WriteResult
	var buf []byte
	if end-begin >= poolMin {
		p := writeBufs.Get().(*[writeChunk]byte)
		defer writeBufs.Put(p)
		buf = p[:]
	} else {
		buf = make([]byte, end-begin)
	}
	for off := begin; off < end; {
		n := min(end-off, uint64(len(buf)))
		if _, err := io.ReadFull(r.Body, buf[:n]); err != nil {
			if be := (*httpbody.Error)(nil); errors.As(err, &be) {
				// Broken or stalled: 400 or 408. The pieces written so
				// far stay; the client may send them again.
				return fmt.Errorf("%w: reading the data for bytes %d-%d: %w", lafs.ErrBadRequest, begin, end-1, err)
			}
			return fmt.Errorf("%w: body shorter than its Content-Range %d-%d: %v", lafs.ErrBadRequest, begin, end-1, err)
		}
		if res.Done {
			// An earlier piece completed the share (the rest had come
			// before). The rest must still agree with what is there.
			have, err := h.s.ReadImmutable(ctx, c.si, shnum, off, n)
			if err != nil {
				return err
			}
			if !bytes.Equal(have, buf[:n]) {
				return fmt.Errorf("%w: bytes at %d differ", lafs.ErrConflict, off)
			}
		} else if res, err = h.s.WriteImmutable(ctx, c.si, shnum, upload, off, buf[:n]); err != nil {
			return err
		}
		off += n
	}
	code := http.StatusOK
	if res.Done {
		code = http.StatusCreated
	}
	sendCBOR(w, code, encodeWriteResponse(res.Required))
	return nil
}

func (h *handler) abort(w http.ResponseWriter, r *http.Request, c *call) error {
	shnum, err := c.share()
	if err != nil {
		return err
	}
	if err := h.s.AbortImmutable(r.Context(), c.si, shnum, c.secrets[secretUpload]); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// corrupt takes a corruption advisory. As in Tahoe, an unknown share is 404
// before the body is looked at.
func (h *handler) corrupt(w http.ResponseWriter, r *http.Request, c *call,
	list func(context.Context, lafs.StorageIndex) ([]lafs.ShareNum, error),
	advise func(context.Context, lafs.StorageIndex, lafs.ShareNum, string) error) error {
	shnum, err := c.share()
	if err != nil {
		return err
	}
	have, err := list(r.Context(), c.si)
	if err != nil {
		return err
	}
	found := false
	for _, n := range have {
		found = found || n == shnum
	}
	if !found {
		return fmt.Errorf("%w: share %d of %s", lafs.ErrNotExist, shnum, c.si)
	}
	body, err := readCBOR(r, maxCorruptBody)
	if err != nil {
		return err
	}
	reason, err := decodeCorruptRequest(body)
	if err != nil {
		return badBody(err)
	}
	if err := advise(r.Context(), c.si, shnum, reason); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (h *handler) readTestWrite(w http.ResponseWriter, r *http.Request, c *call) error {
	body, err := readCBOR(r, h.maxRTW)
	if err != nil {
		return err
	}
	req, err := decodeRTWRequest(body)
	if err != nil {
		return badBody(err)
	}
	if !acceptsCBOR(r.Header) {
		return errNotAcceptable
	}
	var we lafs.Secret
	copy(we[:], c.secrets[secretWriteEnabler])
	res, err := h.s.ReadTestWrite(r.Context(), c.si, we, leaseOf(c.secrets), req.TestWrite, req.Read)
	if err != nil {
		return err
	}
	sendCBOR(w, http.StatusOK, encodeRTWResponse(res))
	return nil
}

// readFunc is ReadImmutable or ReadMutable.
type readFunc func(ctx context.Context, si lafs.StorageIndex, shnum lafs.ShareNum, offset, length uint64) ([]byte, error)

// read answers a share read as Tahoe's read_range does. Without a Range:
// 200 and the whole share. With one: 206 and the bytes of the range that
// exist, with "Content-Range: bytes first-last/*"; 204 if none do (the
// range starts at or past the end, or the share is empty); 416 for a
// Range it does not take. A missing share is 404 whatever the Range. The
// share is read and sent readChunk bytes at a time.
func (h *handler) read(w http.ResponseWriter, r *http.Request, c *call, read readFunc) error {
	shnum, err := c.share()
	if err != nil {
		return err
	}
	ctx := r.Context()
	rd := func(off, n uint64) ([]byte, error) { return read(ctx, c.si, shnum, off, n) }
	w.Header().Set("Content-Type", mediaOctetStream)

	ranges := r.Header.Values("Range")
	if len(ranges) == 0 {
		first, err := rd(0, readChunk)
		if err != nil {
			return err
		}
		if len(first) < readChunk {
			w.Header().Set("Content-Length", strconv.Itoa(len(first)))
		}
		w.WriteHeader(http.StatusOK)
		h.stream(w, r, rd, first, uint64(len(first)), math.MaxUint64, len(first) < readChunk)
		return nil
	}

	begin, end, perr := parseRange(ranges[len(ranges)-1])
	if perr != nil {
		// Tahoe finds the share before it looks at the Range.
		if _, err := rd(0, 1); err != nil {
			return err
		}
		return &httpError{http.StatusRequestedRangeNotSatisfiable, perr.Error()}
	}
	want := end - begin
	first, err := rd(begin, min(want, readChunk))
	if err != nil {
		return err
	}
	if len(first) == 0 {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	total := uint64(len(first))
	if total == min(want, readChunk) && total < want {
		if total, err = h.available(rd, begin, total, want); err != nil {
			return err
		}
	}
	w.Header().Set("Content-Range", formatContentRange(begin, begin+total))
	w.Header().Set("Content-Length", strconv.FormatUint(total, 10))
	w.WriteHeader(http.StatusPartialContent)
	h.stream(w, r, rd, first, begin+uint64(len(first)), begin+total, false)
	return nil
}

// available returns how many of the want bytes at begin the share holds,
// knowing that it holds at least have of them: one probe of the last byte,
// and if that is missing a binary search for the end of the share.
func (h *handler) available(rd func(off, n uint64) ([]byte, error), begin, have, want uint64) (uint64, error) {
	probe := func(off uint64) (bool, error) {
		b, err := rd(off, 1)
		return len(b) > 0, err
	}
	ok, err := probe(begin + want - 1)
	if err != nil || ok {
		return want, err
	}
	lo, hi := begin+have, begin+want-1 // byte lo-1 exists, byte hi does not
	for lo < hi {
		mid := lo + (hi-lo)/2
		if ok, err = probe(mid); err != nil {
			return 0, err
		}
		if ok {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo - begin, nil
}

// stream writes first, then reads and writes from off until end (or,
// when end is MaxUint64, until the share ends), unless done. Once the
// status is sent an error can only cut the answer short, which the client
// sees as a broken body.
func (h *handler) stream(w http.ResponseWriter, r *http.Request, rd func(off, n uint64) ([]byte, error), first []byte, off, end uint64, done bool) {
	if _, err := w.Write(first); err != nil {
		return
	}
	for !done && off < end {
		n := min(end-off, readChunk)
		b, err := rd(off, n)
		if err == nil && len(b) == 0 && end != math.MaxUint64 {
			err = errors.New("share ended early")
		}
		if err != nil {
			h.log.Warn("storagehttp: share read failed while streaming", "path", r.URL.Path, "offset", off, "err", err)
			panic(http.ErrAbortHandler)
		}
		if uint64(len(b)) > n {
			b = b[:n]
		}
		if _, err := w.Write(b); err != nil {
			return
		}
		off += uint64(len(b))
		done = uint64(len(b)) < n && end == math.MaxUint64
	}
}
