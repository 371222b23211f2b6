package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/backend"
	"github.com/lafs/lafs/internal/s3test"
)

// The tests here meet a store that misbehaves: it lies in its answers,
// loses them, ignores headers or never ends a listing. The backend must
// fail cleanly (no panic, no endless loop, no huge allocation) or, where
// the store did what was asked, succeed.

// hostile is a transport through which a test changes requests and
// answers: while fn is set, it carries every request instead of inner.
type hostile struct {
	inner http.RoundTripper
	mu    sync.Mutex
	fn    func(req *http.Request, next http.RoundTripper) (*http.Response, error)
}

func newHostile(t testing.TB) *hostile {
	tr, err := minio.DefaultTransport(false)
	must(t, err)
	return &hostile{inner: tr}
}

func (h *hostile) set(fn func(req *http.Request, next http.RoundTripper) (*http.Response, error)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fn = fn
}

func (h *hostile) RoundTrip(req *http.Request) (*http.Response, error) {
	h.mu.Lock()
	fn := h.fn
	h.mu.Unlock()
	if fn == nil {
		return h.inner.RoundTrip(req)
	}
	return fn(req, h.inner)
}

// hostileConfig returns a configuration on the shared server whose
// requests go through a hostile transport.
func hostileConfig(t testing.TB) (Config, *hostile) {
	cfg := testConfig(t, s3test.Shared(t))
	h := newHostile(t)
	cfg.Transport = h
	return cfg, h
}

// xmlAnswer is a 200 answer to req with an XML body, as a store gives.
func xmlAnswer(req *http.Request, body string) *http.Response {
	return &http.Response{
		Status: "200 OK", StatusCode: http.StatusOK,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"application/xml"}},
		Body:          io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}
}

// timeout returns a context that ends after d, for calls that must not
// loop.
func timeout(t testing.TB, d time.Duration) context.Context {
	c, cancel := context.WithTimeout(ctx, d)
	t.Cleanup(cancel)
	return c
}

// TestInPlaceLimit changes committed objects in place up to
// MaxInPlaceSize and beyond: a write or truncation past the limit, even a
// sparse one, is refused with ErrNoSpace naming the limit and changes
// nothing (nothing is read into memory); an object larger than the limit
// cannot be changed in place at all.
func TestInPlaceLimit(t *testing.T) {
	srv := s3test.Shared(t)
	cfg := testConfig(t, srv)
	if c, _, err := normalize(cfg); err != nil || c.MaxInPlaceSize != DefaultMaxInPlaceSize {
		t.Fatalf("normalize: MaxInPlaceSize %d, %v; want the default %d", c.MaxInPlaceSize, err, DefaultMaxInPlaceSize)
	}
	bad := cfg
	bad.MaxInPlaceSize = -1
	if _, _, err := normalize(bad); err == nil {
		t.Errorf("a negative MaxInPlaceSize is accepted")
	}
	b := openConfig(t, cfg)
	k := testKeyOf(20, 0)
	data := pattern(1, 1000)
	put(t, b, k, data)

	wantLimit := func(what string, err error, limit int64) {
		t.Helper()
		if !errors.Is(err, backend.ErrNoSpace) || !strings.Contains(err.Error(), strconv.FormatInt(limit, 10)) {
			t.Errorf("%s: %v; want ErrNoSpace naming the limit %d", what, err, limit)
		}
	}
	// One byte just past the limit, far beyond the object's end: before
	// the limit, this held the limit's bytes in memory.
	wantLimit("sparse WriteAt past the default limit", b.WriteAt(ctx, k, []byte("x"), DefaultMaxInPlaceSize), DefaultMaxInPlaceSize)
	wantLimit("WriteAt far beyond the limit", b.WriteAt(ctx, k, []byte("x"), 1<<50), DefaultMaxInPlaceSize)
	wantLimit("Truncate past the default limit", b.Truncate(ctx, k, DefaultMaxInPlaceSize+1), DefaultMaxInPlaceSize)
	if b.getOverlay(shareName(k)) != nil {
		t.Errorf("a refused change read the object into memory")
	}
	wantBytes(t, b, k, data, "after refused changes")

	// A small limit: a change up to it is fine, one byte more is not.
	const limit = 3 * chunkSize
	small := cfg
	small.StagingDir = t.TempDir()
	small.MaxInPlaceSize = limit
	bs := openConfig(t, small)
	must(t, bs.WriteAt(ctx, k, []byte("y"), limit-1))
	wantLimit("WriteAt past a small limit", bs.WriteAt(ctx, k, []byte("zz"), limit-1), limit)
	wantLimit("Truncate past a small limit", bs.Truncate(ctx, k, limit+1), limit)
	must(t, bs.Sync(ctx, k))
	want := make([]byte, limit)
	copy(want, data)
	want[limit-1] = 'y'
	wantBytes(t, bs, k, want, "after a change up to the limit")

	// An object larger than the limit is never read into memory.
	big := testKeyOf(20, 1)
	bigData := pattern(2, limit+1)
	put(t, b, big, bigData)
	wantLimit("WriteAt to an object over the limit", bs.WriteAt(ctx, big, []byte("x"), 0), limit)
	wantLimit("Truncate of an object over the limit", bs.Truncate(ctx, big, 0), limit)
	if bs.getOverlay(shareName(big)) != nil {
		t.Errorf("an object over the limit was read into memory")
	}
	wantBytes(t, bs, big, bigData, "an object over the limit, after refused changes")
}

// TestLyingContentRange has the store claim, in the Content-Range of
// every GET, that objects are 2^60 bytes: reads and in-place changes fail
// with an error (before, the whole read allocated what the store said
// and panicked), and work again once the store tells the truth.
func TestLyingContentRange(t *testing.T) {
	cfg, h := hostileConfig(t)
	b := openConfig(t, cfg)
	k := testKeyOf(21, 0)
	data := pattern(3, 500)
	put(t, b, k, data)
	lie := func(req *http.Request, next http.RoundTripper) (*http.Response, error) {
		resp, err := next.RoundTrip(req)
		if err == nil && req.Method == http.MethodGet {
			if cr := resp.Header.Get("Content-Range"); cr != "" {
				resp.Header.Set("Content-Range", cr[:strings.LastIndex(cr, "/")+1]+strconv.FormatInt(1<<60, 10))
			}
		}
		return resp, err
	}
	h.set(lie)
	name := shareName(k)
	for _, c := range []struct {
		what string
		op   func() error
	}{
		{"WriteAt", func() error { return b.WriteAt(ctx, k, []byte("x"), 0) }},
		{"Truncate", func() error { return b.Truncate(ctx, k, 10) }},
		{"ReadAt", func() error { _, err := b.ReadAt(ctx, k, make([]byte, 10), 0); return err }},
	} {
		b.cache.drop(name)
		err := func() (err error) {
			defer func() {
				if r := recover(); r != nil {
					err = fmt.Errorf("panic: %v", r)
				}
			}()
			return c.op()
		}()
		if err == nil || strings.HasPrefix(err.Error(), "panic") {
			t.Errorf("%s with a lying Content-Range: %v, want an error", c.what, err)
		}
	}
	h.set(nil)
	b.cache.drop(name)
	must(t, b.WriteAt(ctx, k, []byte("x"), 0))
	must(t, b.Sync(ctx, k))
	data[0] = 'x'
	wantBytes(t, b, k, data, "once the store tells the truth")
}

// TestIgnoredRange has the store ignore the Range header of GETs (it
// answers 200 with the whole object): reads fail saying so, not that the
// object keeps changing.
func TestIgnoredRange(t *testing.T) {
	cfg, h := hostileConfig(t)
	b := openConfig(t, cfg)
	k := testKeyOf(22, 0)
	put(t, b, k, pattern(4, 20*chunkSize))
	whole := rawObject(t, s3test.Shared(t), b, shareName(k)).get()
	// The Range header is signed: the answer is changed instead.
	noRange := func(req *http.Request, next http.RoundTripper) (*http.Response, error) {
		resp, err := next.RoundTrip(req)
		if err != nil || req.Method != http.MethodGet || resp.StatusCode != http.StatusPartialContent {
			return resp, err
		}
		resp.Body.Close()
		resp.StatusCode, resp.Status = http.StatusOK, "200 OK"
		resp.Header.Del("Content-Range")
		resp.Header.Set("Content-Length", strconv.Itoa(len(whole)))
		resp.ContentLength = int64(len(whole))
		resp.Body = io.NopCloser(bytes.NewReader(whole))
		return resp, nil
	}
	h.set(noRange)
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, errNoRange) || strings.Contains(err.Error(), "keeps changing") {
			t.Errorf("%s from a store ignoring Range: %v, want errNoRange", what, err)
		}
	}
	name := shareName(k)
	for _, off := range []int64{0, 10 * chunkSize} {
		b.cache.drop(name)
		_, err := b.ReadAt(ctx, k, make([]byte, 100), off)
		check(fmt.Sprintf("ReadAt at %d, nothing cached", off), err)
	}
	h.set(nil)
	p := make([]byte, 100)
	_, err := b.ReadAt(ctx, k, p, 0) // the header is cached now
	must(t, err)
	h.set(noRange)
	_, err = b.ReadAt(ctx, k, p, 10*chunkSize)
	check("ReadAt with the header cached", err)
	check("WriteAt", b.WriteAt(ctx, k, []byte("x"), 0))
}

// TestCutToEmpty has the store cut a share down to its header and 16
// bytes, the size of an empty object: Size, reads and in-place writes
// find it tampered (before, it read as an empty object, since nothing
// opened its "last chunk"). A real empty object reads as empty, and its
// chunk is opened once.
func TestCutToEmpty(t *testing.T) {
	srv := s3test.Shared(t)
	cfg := testConfig(t, srv)
	b := openConfig(t, cfg)
	k := testKeyOf(23, 0)
	put(t, b, k, pattern(5, 5000))
	r := rawObject(t, srv, b, shareName(k))
	r.put(r.get()[:headerSize+tagSize])
	fresh := func() *Backend { return reopen(t, cfg) }

	_, err := fresh().Size(ctx, k)
	wantTampered(t, "Size", err)
	_, err = fresh().ReadAt(ctx, k, make([]byte, 10), 0)
	wantTampered(t, "ReadAt at 0", err)
	_, err = fresh().ReadAt(ctx, k, nil, 0)
	wantTampered(t, "ReadAt of nothing at 0", err)
	_, err = fresh().ReadAt(ctx, k, make([]byte, 10), 2*headFetchLimit)
	wantTampered(t, "ReadAt past the end", err)
	wantTampered(t, "WriteAt", fresh().WriteAt(ctx, k, []byte("x"), 0))
	wantTampered(t, "Truncate", fresh().Truncate(ctx, k, 0))
	// The header known first (read from the cache of a HEAD, then
	// fetched), the empty chunk opened after.
	f := fresh()
	if _, err := f.fetchHeader(ctx, shareName(k)); err != nil {
		t.Fatal(err)
	}
	_, err = f.ReadAt(ctx, k, make([]byte, 10), 0)
	wantTampered(t, "ReadAt with the header cached", err)

	// A real empty object, read by a backend with nothing cached.
	e := testKeyOf(23, 1)
	put(t, b, e, nil)
	tr, err := minio.DefaultTransport(false)
	must(t, err)
	c := &counter{inner: tr, n: map[string]int{}}
	ce := cfg
	ce.StagingDir = t.TempDir()
	ce.Transport = c
	be := openConfig(t, ce)
	c.take()
	for i := range 2 {
		if n, err := be.Size(ctx, e); n != 0 || err != nil {
			t.Fatalf("Size of an empty object: %d, %v", n, err)
		}
		if n, err := be.ReadAt(ctx, e, make([]byte, 5), 0); n != 0 || err != io.EOF {
			t.Fatalf("ReadAt of an empty object: %d, %v", n, err)
		}
		want := map[string]int{"HEAD": 1, "GET": 1}
		if i > 0 {
			want = map[string]int{}
		}
		if got := c.take(); !maps.Equal(got, want) {
			t.Errorf("Size and ReadAt of an empty object, time %d: requests %v, want %v", i+1, got, want)
		}
	}
	wantBytes(t, be, e, nil, "an empty object")
}

// TestTamperedIsCorrupt checks that ErrTampered is a backend.ErrCorrupt,
// as is every failed authentication (TestTampered and TestCutToEmpty
// check each with wantTampered); here the Size of an object whose stored
// size no sealed object has.
func TestTamperedIsCorrupt(t *testing.T) {
	if !errors.Is(ErrTampered, backend.ErrCorrupt) {
		t.Fatalf("ErrTampered is not a backend.ErrCorrupt")
	}
	if errors.Is(backend.ErrCorrupt, ErrTampered) || errors.Is(backend.ErrNotExist, ErrTampered) {
		t.Errorf("other errors match ErrTampered")
	}
	srv := s3test.Shared(t)
	cfg := testConfig(t, srv)
	b := openConfig(t, cfg)
	k := testKeyOf(24, 0)
	put(t, b, k, pattern(6, 3000))
	r := rawObject(t, srv, b, shareName(k))
	r.put(r.get()[:headerSize+10])
	_, err := reopen(t, cfg).Size(ctx, k)
	wantTampered(t, "Size of an object of no sealed size", err)
	_, err = reopen(t, cfg).ReadAt(ctx, k, make([]byte, 10), 0)
	wantTampered(t, "ReadAt of an object of no sealed size", err)
	_, err = reopen(t, cfg).ReadAt(ctx, k, make([]byte, 10), 2*headFetchLimit)
	wantTampered(t, "ReadAt far in of an object of no sealed size", err)
	wantTampered(t, "WriteAt of an object of no sealed size", reopen(t, cfg).WriteAt(ctx, k, []byte("x"), 0))
	r.put([]byte("short"))
	_, err = reopen(t, cfg).ReadAt(ctx, k, make([]byte, 10), 0)
	wantTampered(t, "ReadAt of an object shorter than a header", err)
	// A record far larger than a record may be.
	rr := rawObject(t, srv, b, recordName("big"))
	rr.put(make([]byte, sealedSize(backend.MaxRecordSize)+1))
	_, err = b.GetRecord(ctx, "big")
	wantTampered(t, "GetRecord of an oversized record", err)
}

// loseOnce is a transport that sends the first request that match
// selects and then, as a connection lost after the store did the
// request would, reports a network error instead of the answer; minio-go
// sends the request again.
type loseOnce struct {
	inner http.RoundTripper
	mu    sync.Mutex
	match func(*http.Request) bool
	lost  int
}

func (l *loseOnce) arm(match func(*http.Request) bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.match, l.lost = match, 0
}

func (l *loseOnce) RoundTrip(req *http.Request) (*http.Response, error) {
	// The answer is lost only once the request was sent whole (its
	// body closed by the transport), as when a connection drops after
	// the store did the request; minio-go then reuses the body.
	sent := make(chan struct{})
	if req.Body != nil && req.Body != http.NoBody {
		req = req.Clone(req.Context())
		req.Body = &closeSignal{ReadCloser: req.Body, done: sent}
	} else {
		close(sent)
	}
	resp, err := l.inner.RoundTrip(req)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err == nil && l.match != nil && l.match(req) && resp.StatusCode/100 == 2 {
		l.match = nil
		l.lost++
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		select {
		case <-sent:
		case <-time.After(10 * time.Second):
		}
		return nil, errors.New("connection reset by peer (test)")
	}
	return resp, err
}

// closeSignal closes done when the body is closed.
type closeSignal struct {
	io.ReadCloser
	done chan struct{}
	once sync.Once
}

func (c *closeSignal) Close() error {
	err := c.ReadCloser.Close()
	c.once.Do(func() { close(c.done) })
	return err
}

func (l *loseOnce) lostOne() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lost == 1
}

// TestLostResponse loses the answer to a conditional write that the store
// did: a Commit's PUT or completion (If-None-Match: *) and a Sync's
// (If-Match). minio-go sends it again and the store refuses it (412, or
// no such upload); the backend sees that the object is the one it wrote,
// and succeeds (before, Commit said ErrExist and Sync a lost update).
// The ETag it keeps is right: a further change syncs.
func TestLostResponse(t *testing.T) {
	srv := s3test.Shared(t)
	cfg := testConfig(t, srv)
	cfg.PartSize = MinPartSize
	tr, err := minio.DefaultTransport(false)
	must(t, err)
	lose := &loseOnce{inner: tr}
	cfg.Transport = lose
	b := openConfig(t, cfg)
	shares := func(req *http.Request) bool { return strings.Contains(req.URL.Path, "/"+sharesDir) }
	isPut := func(req *http.Request) bool {
		return shares(req) && req.Method == http.MethodPut && !req.URL.Query().Has("uploadId")
	}
	complete := func(req *http.Request) bool {
		return shares(req) && req.Method == http.MethodPost && req.URL.Query().Has("uploadId")
	}
	create := func(req *http.Request) bool { return req.Header.Get("If-None-Match") == "*" }
	replace := func(req *http.Request) bool { return req.Header.Get("If-Match") != "" }
	small, large := 1000, 2*MinPartSize+5
	for i, c := range []struct {
		what  string
		size  int
		sync  bool
		match func(*http.Request) bool
	}{
		{"Commit's PUT", small, false, func(r *http.Request) bool { return isPut(r) && create(r) }},
		{"Commit's completion", large, false, func(r *http.Request) bool { return complete(r) && create(r) }},
		{"Sync's PUT", small, true, func(r *http.Request) bool { return isPut(r) && replace(r) }},
		{"Sync's completion", large, true, func(r *http.Request) bool { return complete(r) && replace(r) }},
	} {
		k := testKeyOf(25, lafs.ShareNum(i))
		data := pattern(i, c.size)
		if c.sync {
			put(t, b, k, pattern(i+10, c.size))
			must(t, b.WriteAt(ctx, k, data[:10], 0))
			copy(data[10:], pattern(i+10, c.size)[10:])
		}
		lose.arm(c.match)
		if c.sync {
			if err := b.Sync(ctx, k); err != nil {
				t.Errorf("%s lost: Sync: %v", c.what, err)
				continue
			}
		} else {
			st, err := b.Create(ctx, k, int64(len(data)))
			must(t, err)
			must(t, st.WriteAt(data, 0))
			if err := st.Commit(ctx); err != nil {
				t.Errorf("%s lost: Commit: %v", c.what, err)
				continue
			}
		}
		if !lose.lostOne() {
			t.Fatalf("%s: no answer was lost", c.what)
		}
		lose.arm(nil)
		wantBytes(t, reopen(t, cfg), k, data, c.what+" lost")
		must(t, b.WriteAt(ctx, k, []byte("again"), 3))
		must(t, b.Sync(ctx, k))
		copy(data[3:], "again")
		wantBytes(t, reopen(t, cfg), k, data, c.what+" lost, then a further change")
	}
	b.wg.Wait()
	wantNoUploads(t, srv, b)

	// A refused write that is not ours is still refused.
	k := testKeyOf(25, 9)
	put(t, b, k, pattern(1, 100))
	st, err := b.Create(ctx, k, 100)
	must(t, err)
	must(t, st.WriteAt(pattern(2, 100), 0))
	if err := st.Commit(ctx); !errors.Is(err, backend.ErrExist) {
		t.Errorf("Commit over another object: %v, want ErrExist", err)
	}
}

// TestEndlessListings has the store list without end: incomplete
// uploads whose markers do not move, or move forever; a storage index
// with ever more keys; the same page of keys again and again. Open, List
// and Walk stop with an error (before, they looped until the context
// ended).
func TestEndlessListings(t *testing.T) {
	const limit = 20 * time.Second
	uploads := func(next func(page int) (string, string)) func(*http.Request, http.RoundTripper) (*http.Response, error) {
		page := 0
		var mu sync.Mutex
		return func(req *http.Request, rt http.RoundTripper) (*http.Response, error) {
			if req.Method != http.MethodGet || !req.URL.Query().Has("uploads") {
				return rt.RoundTrip(req)
			}
			mu.Lock()
			page++
			km, im := next(page)
			mu.Unlock()
			return xmlAnswer(req, `<?xml version="1.0" encoding="UTF-8"?><ListMultipartUploadsResult><Bucket>b</Bucket>`+
				`<NextKeyMarker>`+km+`</NextKeyMarker><NextUploadIdMarker>`+im+`</NextUploadIdMarker>`+
				`<MaxUploads>1000</MaxUploads><IsTruncated>true</IsTruncated></ListMultipartUploadsResult>`), nil
		}
	}
	for _, c := range []struct {
		what string
		next func(page int) (string, string)
		want string
	}{
		{"markers that do not move", func(int) (string, string) { return "k", "u" }, "same page"},
		{"markers that move forever", func(p int) (string, string) { return fmt.Sprintf("k%08d", p), "u" }, "does not end"},
	} {
		cfg, h := hostileConfig(t)
		h.set(uploads(c.next))
		_, err := Open(timeout(t, limit), cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) || errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Open with incomplete uploads listed with %s: %v, want an error saying %q", c.what, err, c.want)
		}
	}

	cfg, h := hostileConfig(t)
	b := openConfig(t, cfg)
	si := testKeyOf(26, 0).SI
	dir := b.key(siDir(si))
	// keys answers a ListObjectsV2 request with a page of keys (made by
	// page from the page's number) and a continuation token.
	keys := func(page func(n int) []string) func(*http.Request, http.RoundTripper) (*http.Response, error) {
		var mu sync.Mutex
		n := 0
		return func(req *http.Request, rt http.RoundTripper) (*http.Response, error) {
			if req.Method != http.MethodGet || req.URL.Query().Get("list-type") != "2" {
				return rt.RoundTrip(req)
			}
			mu.Lock()
			n++
			ks := page(n)
			mu.Unlock()
			var sb strings.Builder
			sb.WriteString(`<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>b</Name><MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated>`)
			fmt.Fprintf(&sb, "<NextContinuationToken>t%d</NextContinuationToken><KeyCount>%d</KeyCount>", n, len(ks))
			for _, k := range ks {
				fmt.Fprintf(&sb, "<Contents><Key>%s</Key><Size>56</Size></Contents>", k)
			}
			sb.WriteString(`</ListBucketResult>`)
			return xmlAnswer(req, sb.String()), nil
		}
	}
	h.set(keys(func(n int) []string {
		ks := make([]string, 1000)
		for i := range ks {
			ks[i] = fmt.Sprintf("%sx%08d", dir, n*1000+i)
		}
		return ks
	}))
	if _, err := b.List(timeout(t, limit), si); err == nil || !strings.Contains(err.Error(), "more than 1024") {
		t.Errorf("List of a storage index with ever more keys: %v, want an error saying more than 1024", err)
	}
	h.set(keys(func(int) []string { return []string{dir + "0", dir + "1"} }))
	if _, err := b.List(timeout(t, limit), si); err == nil || !strings.Contains(err.Error(), "out of order") {
		t.Errorf("List of the same page again and again: %v, want an error saying out of order", err)
	}
	err := b.Walk(timeout(t, limit), func(lafs.StorageIndex) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "out of order") {
		t.Errorf("Walk of the same page again and again: %v, want an error saying out of order", err)
	}

	// Keys that name no share are ignored.
	h.set(func(req *http.Request, rt http.RoundTripper) (*http.Response, error) {
		if req.Method != http.MethodGet || req.URL.Query().Get("list-type") != "2" {
			return rt.RoundTrip(req)
		}
		var sb strings.Builder
		sb.WriteString(`<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>b</Name><IsTruncated>false</IsTruncated>`)
		for _, k := range []string{"0", "007", "1", "1/x", "2", "70000", "x"} {
			fmt.Fprintf(&sb, "<Contents><Key>%s%s</Key><Size>56</Size></Contents>", dir, k)
		}
		sb.WriteString(`</ListBucketResult>`)
		return xmlAnswer(req, sb.String()), nil
	})
	got, err := b.List(ctx, si)
	if err != nil || !slices.Equal(got, []lafs.ShareNum{0, 1, 2}) {
		t.Errorf("List with keys of no share: %v, %v; want [0 1 2]", got, err)
	}
}

// TestInPlaceTotal: the objects changed in place at once hold at most
// MaxInPlaceTotal bytes in all, whatever each may hold: a change past it
// fails with backend.ErrNoSpace, and a Sync gives the memory back.
func TestInPlaceTotal(t *testing.T) {
	srv := s3test.Shared(t)
	b, err := Open(ctx, Config{
		Endpoint: srv.Endpoint, Bucket: srv.Bucket, Prefix: s3test.Prefix(), PathStyle: true,
		AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, StagingDir: t.TempDir(), NodeID: "total", SealKey: [32]byte{7},
		MaxInPlaceSize: 3 << 20, MaxInPlaceTotal: 4 << 20,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	keys := []backend.Key{{SI: lafs.StorageIndex{1}}, {SI: lafs.StorageIndex{2}}, {SI: lafs.StorageIndex{3}}}
	for _, k := range keys {
		st, err := b.Create(ctx, k, 1)
		if err != nil {
			t.Fatal(err)
		}
		st.WriteAt([]byte("x"), 0)
		if err := st.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.WriteAt(ctx, keys[0], []byte("y"), 2<<20); err != nil {
		t.Fatalf("a 2 MiB change: %v", err)
	}
	if err := b.WriteAt(ctx, keys[1], []byte("y"), 2<<20); !errors.Is(err, backend.ErrNoSpace) {
		t.Fatalf("a second 2 MiB change beside the first: %v, want ErrNoSpace", err)
	}
	if err := b.WriteAt(ctx, keys[2], []byte("y"), 1<<20); err != nil {
		t.Fatalf("a 1 MiB change within the total: %v", err)
	}
	if err := b.Sync(ctx, keys[0]); err != nil {
		t.Fatal(err)
	}
	if err := b.WriteAt(ctx, keys[1], []byte("y"), 2<<20); err != nil {
		t.Fatalf("after a Sync gave the memory back: %v", err)
	}
	b.omu.Lock()
	held := b.inPlace
	b.omu.Unlock()
	if held <= 2<<20 || held > 4<<20 {
		t.Errorf("the overlays hold %d bytes", held)
	}
	for _, k := range keys[1:] {
		if err := b.Sync(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	b.omu.Lock()
	defer b.omu.Unlock()
	if b.inPlace != 0 || len(b.overlays) != 0 {
		t.Errorf("after every Sync the overlays hold %d bytes in %d objects", b.inPlace, len(b.overlays))
	}
}
