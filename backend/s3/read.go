package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/minio/minio-go/v7"

	"github.com/lafs/lafs/backend"
)

// errStale: the cached meta of an object names a version that is gone.
var errStale = errors.New("s3: cached object version is gone")

// headFetchLimit is the offset under which a read of an object whose
// header is not cached fetches the header and the chunks it wants in one
// request; further in, it fetches the header alone first.
const headFetchLimit = 4 * chunkSize

// bytesReader returns a reader of p that minio-go can rewind to retry.
func bytesReader(p []byte) *bytes.Reader { return bytes.NewReader(p) }

// ReadAt reads from a committed object as io.ReaderAt does. It fetches
// only the sealed chunks that cover p (a ranged GET naming the version's
// ETag), checks and decrypts them; the object's header (its salt) comes
// from a cache, or from the same request when the read is near the start.
func (b *Backend) ReadAt(ctx context.Context, k backend.Key, p []byte, off int64) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, fmt.Errorf("s3: negative offset %d", off)
	}
	name := shareName(k)
	if ov := b.getOverlay(name); ov != nil {
		return ov.readAt(p, off)
	}
	return b.readAtRetry(ctx, name, p, off)
}

// readAtRetry reads p at off of the object name, once more from its
// header if the version cached is gone.
func (b *Backend) readAtRetry(ctx context.Context, name string, p []byte, off int64) (int, error) {
	n, err := b.readAt(ctx, name, p, off)
	if errors.Is(err, errStale) {
		n, err = b.readAt(ctx, name, p, off)
		if errors.Is(err, errStale) {
			err = b.wrap("read", name, fmt.Errorf("the object keeps changing: %w", err))
		}
	}
	return n, err
}

// eof is what a read of p at or beyond the end returns.
func eof(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return 0, io.EOF
}

// readAt reads p at off of the object name once.
func (b *Backend) readAt(ctx context.Context, name string, p []byte, off int64) (int, error) {
	m := b.cache.get(name)
	if m == nil || m.s == nil {
		if off < headFetchLimit {
			return b.readFromStart(ctx, name, p, off)
		}
		var err error
		if m, err = b.fetchHeader(ctx, name); err != nil {
			return 0, err
		}
	}
	size, ok := m.plain()
	if !ok {
		b.cache.dropIf(name, m)
		return 0, b.tampered(name, fmt.Errorf("stored size %d is no sealed size: %w", m.stored, ErrTampered))
	}
	if size == 0 {
		if !m.checked {
			if err := b.checkEmpty(ctx, name, m); err != nil {
				return 0, err
			}
		}
		return eof(p)
	}
	if len(p) == 0 {
		return 0, nil
	}
	if off >= size {
		return 0, io.EOF
	}
	first, last := off/chunkSize, (min(off+int64(len(p)), size)-1)/chunkSize
	// Fetch only the chunks between the first and the last not cached
	// (small reads only: large ones neither use the cache nor fill it).
	lo, hi := first, last
	var cached map[int64][]byte
	if last-first < cachedReadChunks {
		for ; lo <= hi; lo++ {
			c, ok := b.chunks.get(chunkKey{name, m.s.salt, lo})
			if !ok {
				break
			}
			cached = addChunk(cached, lo, c)
		}
		for ; hi >= lo; hi-- {
			c, ok := b.chunks.get(chunkKey{name, m.s.salt, hi})
			if !ok {
				break
			}
			cached = addChunk(cached, hi, c)
		}
	}
	var body io.Reader
	if lo <= hi {
		rc, err := b.fetch(ctx, name, m, sealedOffset(lo), min(sealedOffset(hi+1), m.stored))
		if err != nil {
			return 0, err
		}
		defer closeBody(rc)
		body = rc
	}
	return b.readChunks(name, m, body, lo, hi, cached, p, off)
}

// fetch fetches the stored bytes [from, to) of the version of the object
// name that m describes. If the store holds another version, or none,
// it drops m from the cache; errStale says to read again from the
// header.
func (b *Backend) fetch(ctx context.Context, name string, m *meta, from, to int64) (io.ReadCloser, error) {
	rc, total, _, err := b.getRange(ctx, name, from, to, m.etag)
	if err != nil {
		if kind(err) == errPrecondition || errors.Is(err, backend.ErrNotExist) {
			b.cache.dropIf(name, m)
		}
		if kind(err) == errPrecondition {
			return nil, errStale
		}
		return nil, err
	}
	if total != m.stored {
		closeBody(rc)
		b.cache.dropIf(name, m)
		return nil, fmt.Errorf("%w: its size was %d bytes, the store now says %d", errStale, m.stored, total)
	}
	return rc, nil
}

// checkEmpty fetches and opens the one chunk of the object name, whose
// meta m (with its header known) gives it the empty size, and notes in
// the cache that m is checked.
func (b *Backend) checkEmpty(ctx context.Context, name string, m *meta) error {
	rc, err := b.fetch(ctx, name, m, int64(headerSize), m.stored)
	if err != nil {
		return err
	}
	defer closeBody(rc)
	if err := b.openEmpty(name, m, rc); err != nil {
		return err
	}
	b.cache.markChecked(name, m)
	return nil
}

// openEmpty reads the empty last chunk (its tag alone) of the object name
// from body and opens it.
func (b *Backend) openEmpty(name string, m *meta, body io.Reader) error {
	c := make([]byte, tagSize)
	if _, err := io.ReadFull(body, c); err != nil {
		return b.wrap("read", name, err)
	}
	if _, err := m.s.open(nil, 0, true, c); err != nil {
		return b.tampered(name, err)
	}
	return nil
}

// cachedReadChunks is the most chunks a read may span to use the chunk
// cache.
const cachedReadChunks = 4

func addChunk(m map[int64][]byte, i int64, c []byte) map[int64][]byte {
	if m == nil {
		m = make(map[int64][]byte, 2)
	}
	m[i] = c
	return m
}

// readFromStart reads p at off (near the start) of an object whose header
// is not cached, fetching the header and the chunks p needs in one
// request, and caches the header.
func (b *Backend) readFromStart(ctx context.Context, name string, p []byte, off int64) (int, error) {
	v := b.cache.version(name)
	last := (off + int64(max(len(p), 1)) - 1) / chunkSize
	body, total, etag, err := b.getRange(ctx, name, 0, sealedOffset(last+1), "")
	if err != nil {
		return 0, err
	}
	defer closeBody(body)
	m, err := b.readHeader(name, body, total, etag)
	if err != nil {
		return 0, err
	}
	size, ok := m.plain()
	if !ok {
		return 0, b.tampered(name, fmt.Errorf("stored size %d is no sealed size: %w", m.stored, ErrTampered))
	}
	if size == 0 {
		if err := b.openEmpty(name, m, body); err != nil {
			return 0, err
		}
		m.checked = true
	}
	b.cache.putIf(name, m, v)
	if size == 0 {
		return eof(p)
	}
	if len(p) == 0 {
		return 0, nil
	}
	if off >= size {
		return 0, io.EOF
	}
	first := off / chunkSize
	if _, err := io.CopyN(io.Discard, body, first*sealedChunk); err != nil {
		return 0, b.wrap("read", name, err)
	}
	return b.readChunks(name, m, body, first, numChunks(size)-1, nil, p, off)
}

// fetchHeader fetches the header of the object name and caches its meta.
func (b *Backend) fetchHeader(ctx context.Context, name string) (*meta, error) {
	v := b.cache.version(name)
	body, total, etag, err := b.getRange(ctx, name, 0, int64(headerSize), "")
	if err != nil {
		return nil, err
	}
	defer closeBody(body)
	m, err := b.readHeader(name, body, total, etag)
	if err != nil {
		return nil, err
	}
	b.cache.putIf(name, m, v)
	return m, nil
}

// readHeader reads an object's header from body and returns its meta.
func (b *Backend) readHeader(name string, body io.Reader, total int64, etag string) (*meta, error) {
	if total < int64(headerSize) {
		return nil, b.tampered(name, fmt.Errorf("%d bytes, shorter than a header: %w", total, ErrTampered))
	}
	h := make([]byte, headerSize)
	if _, err := io.ReadFull(body, h); err != nil {
		return nil, b.wrap("read", name, err)
	}
	salt, err := parseHeader(h)
	if err != nil {
		return nil, b.tampered(name, err)
	}
	return &meta{etag: etag, stored: total, s: newSealer(&b.cfg.SealKey, salt, name)}, nil
}

// chunkBufs holds buffers of one sealed chunk.
var chunkBufs = sync.Pool{New: func() any { p := make([]byte, sealedChunk); return &p }}

// readChunks copies into p the plaintext at off of the object of meta m,
// until p is full or the object ends. The chunks from lo to hi come from
// body (which begins at chunk lo), in order, and are checked and opened
// (and cached, for a small read); the others are in cached.
func (b *Backend) readChunks(name string, m *meta, body io.Reader, lo, hi int64, cached map[int64][]byte, p []byte, off int64) (int, error) {
	size, _ := m.plain()
	end := min(off+int64(len(p)), size)
	first, lastChunk := off/chunkSize, numChunks(size)-1
	keep := (end-1)/chunkSize-first < cachedReadChunks
	bp := chunkBufs.Get().(*[]byte)
	defer chunkBufs.Put(bp)
	buf := *bp
	n := 0
	for i := first; i*chunkSize < end; i++ {
		plain, ok := cached[i]
		if !ok {
			if i < lo || i > hi {
				return n, fmt.Errorf("s3: internal error: chunk %d neither fetched nor cached", i)
			}
			clen := min(size-i*chunkSize, chunkSize)
			c := buf[:clen+tagSize]
			if _, err := io.ReadFull(body, c); err != nil {
				return n, b.wrap("read", name, err)
			}
			var err error
			if plain, err = m.s.open(c[:0], i, i == lastChunk, c); err != nil {
				return n, b.tampered(name, err)
			}
			if keep {
				b.chunks.put(chunkKey{name, m.s.salt, i}, plain)
			}
		}
		from := max(off-i*chunkSize, 0)
		to := min(end-i*chunkSize, int64(len(plain)))
		n += copy(p[n:], plain[from:to])
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// errNoRange: the store answered a ranged GET with the whole object.
var errNoRange = errors.New("s3: the store ignores the Range header of a GET (it sent the whole object, not the bytes asked for); this backend needs ranged reads")

// getRange fetches the stored bytes [from, to) of the object name (fewer
// if the object ends sooner), of version etag if not "". It returns the
// body, the object's whole stored size and its ETag. An answer that is
// not the bytes asked for (no Content-Range, or another range or length)
// is an error.
func (b *Backend) getRange(ctx context.Context, name string, from, to int64, etag string) (io.ReadCloser, int64, string, error) {
	var opts minio.GetObjectOptions
	if err := opts.SetRange(from, to-1); err != nil {
		return nil, 0, "", err
	}
	if etag != "" {
		opts.SetMatchETag(etag)
	}
	body, info, h, err := b.client.GetObject(ctx, b.cfg.Bucket, b.key(name), opts)
	if err != nil {
		return nil, 0, "", b.wrap("get", name, err)
	}
	cr := h.Get("Content-Range")
	if cr == "" {
		body.Close()
		return nil, 0, "", b.wrap("get", name, errNoRange)
	}
	first, last, total, ok := parseContentRange(cr)
	if !ok || first != from || last != min(to, total)-1 || info.Size >= 0 && info.Size != last-first+1 {
		body.Close()
		return nil, 0, "", b.wrap("get", name, fmt.Errorf("the store answered a request for bytes %d-%d with Content-Range %q and %d bytes", from, to-1, cr, info.Size))
	}
	return body, total, trimETag(info.ETag), nil
}

// parseContentRange parses "bytes first-last/total".
func parseContentRange(s string) (first, last, total int64, ok bool) {
	s, found := strings.CutPrefix(s, "bytes ")
	if !found {
		return 0, 0, 0, false
	}
	r, t, found := strings.Cut(s, "/")
	if !found {
		return 0, 0, 0, false
	}
	f, l, found := strings.Cut(r, "-")
	if !found {
		return 0, 0, 0, false
	}
	first, err1 := strconv.ParseInt(f, 10, 64)
	last, err2 := strconv.ParseInt(l, 10, 64)
	total, err3 := strconv.ParseInt(t, 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || first < 0 || last < first || total <= last {
		return 0, 0, 0, false
	}
	return first, last, total, true
}

// closeBody drains a little of what is left of a response body, so that
// its connection can be reused, and closes it.
func closeBody(body io.ReadCloser) {
	io.Copy(io.Discard, io.LimitReader(body, 64<<10))
	body.Close()
}
