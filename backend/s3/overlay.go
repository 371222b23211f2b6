package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/lafs/lafs/backend"
)

// overlay holds a committed object's plaintext in memory while it is
// changed in place (WriteAt, Truncate), from the first change until a Sync
// writes it back. ReadAt and Size see it.
type overlay struct {
	mu      sync.Mutex
	data    []byte
	etag    string // the version in the store it replaces
	changes int    // WriteAt and Truncate calls so far
	synced  int    // changes made when Sync last read data
	// reserved is what the overlay counts in Backend.inPlace, at
	// least len(data); guarded by Backend.omu.
	reserved int64
}

func (ov *overlay) size() int64 {
	ov.mu.Lock()
	defer ov.mu.Unlock()
	return int64(len(ov.data))
}

func (ov *overlay) readAt(p []byte, off int64) (int, error) {
	ov.mu.Lock()
	defer ov.mu.Unlock()
	if off >= int64(len(ov.data)) {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	n := copy(p, ov.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// resize sets the overlay's length, with zeros in any new bytes, growing
// its capacity no further than limit (unless n is larger); the caller
// holds mu.
func (ov *overlay) resize(n, limit int64) {
	old := int64(len(ov.data))
	switch {
	case n > int64(cap(ov.data)):
		nd := make([]byte, n, max(n, min(2*int64(cap(ov.data)), limit)))
		copy(nd, ov.data)
		ov.data = nd
	case n > old:
		ov.data = ov.data[:n]
		clear(ov.data[old:])
	default:
		ov.data = ov.data[:n]
	}
}

func (b *Backend) getOverlay(name string) *overlay {
	b.omu.Lock()
	defer b.omu.Unlock()
	return b.overlays[name]
}

func (b *Backend) dropOverlay(name string) {
	b.omu.Lock()
	defer b.omu.Unlock()
	b.forgetOverlay(name)
}

// forgetOverlay removes name's overlay and gives back what it reserved;
// the caller holds omu.
func (b *Backend) forgetOverlay(name string) {
	if ov := b.overlays[name]; ov != nil {
		b.inPlace -= ov.reserved
		delete(b.overlays, name)
	}
}

// reserve makes ov's reservation at least n bytes, within
// MaxInPlaceTotal, before ov grows to n.
func (b *Backend) reserve(name string, ov *overlay, n int64) error {
	b.omu.Lock()
	defer b.omu.Unlock()
	if n <= ov.reserved {
		return nil
	}
	need := n - ov.reserved
	if b.inPlace+need > b.cfg.MaxInPlaceTotal {
		return b.overBudget(name, need)
	}
	b.inPlace += need
	ov.reserved = n
	return nil
}

// loadOverlay returns the overlay of the committed object name, reading
// the object whole into one first.
func (b *Backend) loadOverlay(ctx context.Context, name string) (*overlay, error) {
	if ov := b.getOverlay(name); ov != nil {
		return ov, nil
	}
	// The object's size, as far as known, is reserved before it is read.
	var guess int64
	if m := b.cache.get(name); m != nil {
		guess, _ = m.plain()
	}
	b.omu.Lock()
	if b.inPlace+guess > b.cfg.MaxInPlaceTotal {
		defer b.omu.Unlock()
		return nil, b.overBudget(name, guess)
	}
	b.inPlace += guess
	b.omu.Unlock()
	data, m, err := b.readWhole(ctx, name)
	b.omu.Lock()
	defer b.omu.Unlock()
	b.inPlace -= guess
	if err != nil {
		return nil, err
	}
	if ov := b.overlays[name]; ov != nil {
		return ov, nil
	}
	if b.inPlace+int64(len(data)) > b.cfg.MaxInPlaceTotal {
		return nil, b.overBudget(name, int64(len(data)))
	}
	ov := &overlay{data: data, etag: m.etag, reserved: int64(len(data))}
	b.inPlace += ov.reserved
	b.overlays[name] = ov
	return ov, nil
}

// readWhole returns the plaintext of the object name, which may hold at
// most MaxInPlaceSize bytes, and its meta (which it caches), once more
// from a fresh HEAD if the version cached is gone.
func (b *Backend) readWhole(ctx context.Context, name string) ([]byte, *meta, error) {
	data, m, err := b.readWholeOnce(ctx, name)
	if errors.Is(err, errStale) {
		data, m, err = b.readWholeOnce(ctx, name)
		if errors.Is(err, errStale) {
			err = b.wrap("read", name, fmt.Errorf("the object keeps changing, or the store contradicts itself: %w", err))
		}
	}
	return data, m, err
}

// readWholeOnce reads the object name whole. Its size comes from the
// cache or a HEAD request and is checked against the limit; the GET names
// that version's ETag and must answer with that many bytes. The
// plaintext grows as chunks arrive and are opened, so a store that lies
// about sizes makes nothing large be allocated.
func (b *Backend) readWholeOnce(ctx context.Context, name string) ([]byte, *meta, error) {
	m, err := b.stat(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	size, ok := m.plain()
	if !ok {
		b.cache.dropIf(name, m)
		return nil, nil, b.tampered(name, fmt.Errorf("stored size %d is no sealed size: %w", m.stored, ErrTampered))
	}
	if size > b.cfg.MaxInPlaceSize {
		return nil, nil, b.tooLarge(name, size)
	}
	v := b.cache.version(name)
	body, err := b.fetch(ctx, name, m, 0, m.stored)
	if err != nil {
		return nil, nil, err
	}
	defer closeBody(body)
	mh, err := b.readHeader(name, body, m.stored, m.etag)
	if err != nil {
		return nil, nil, err
	}
	bp := chunkBufs.Get().(*[]byte)
	defer chunkBufs.Put(bp)
	data := make([]byte, 0, min(size, 1<<20))
	last := numChunks(size) - 1
	for i := int64(0); i <= last; i++ {
		c := (*bp)[:min(size-i*chunkSize, chunkSize)+tagSize]
		if _, err := io.ReadFull(body, c); err != nil {
			return nil, nil, b.wrap("read", name, fmt.Errorf("chunk %d: %w", i, err))
		}
		if data, err = mh.s.open(data, i, i == last, c); err != nil {
			return nil, nil, b.tampered(name, err)
		}
	}
	mh.checked = true
	b.cache.putIf(name, mh, v)
	return data, mh, nil
}

// WriteAt writes p at off of a committed object, in memory until Sync: the
// first change reads the object whole. A write that would make the object
// larger than MaxInPlaceSize, or to an object larger than that, fails
// with an error wrapping backend.ErrNoSpace, and changes nothing.
func (b *Backend) WriteAt(ctx context.Context, k backend.Key, p []byte, off int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if off < 0 {
		return fmt.Errorf("s3: negative offset %d", off)
	}
	end := off + int64(len(p))
	if end < off {
		return fmt.Errorf("s3: offset %d overflows", off)
	}
	name := shareName(k)
	if end > b.cfg.MaxInPlaceSize {
		return b.tooLarge(name, end)
	}
	ov, err := b.loadOverlay(ctx, name)
	if err != nil {
		return err
	}
	if err := b.reserve(name, ov, end); err != nil {
		return err
	}
	ov.mu.Lock()
	defer ov.mu.Unlock()
	if end > int64(len(ov.data)) {
		ov.resize(end, b.cfg.MaxInPlaceSize)
	}
	copy(ov.data[off:], p)
	ov.changes++
	return nil
}

// Truncate sets a committed object's size, in memory until Sync; the
// size, and the object's, are bounded as WriteAt's are.
func (b *Backend) Truncate(ctx context.Context, k backend.Key, size int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if size < 0 {
		return fmt.Errorf("s3: negative size %d", size)
	}
	name := shareName(k)
	if size > b.cfg.MaxInPlaceSize {
		return b.tooLarge(name, size)
	}
	ov, err := b.loadOverlay(ctx, name)
	if err != nil {
		return err
	}
	if err := b.reserve(name, ov, size); err != nil {
		return err
	}
	ov.mu.Lock()
	defer ov.mu.Unlock()
	if size < int64(len(ov.data)) {
		// Copy, so that the dropped tail is not kept alive and a later
		// extension starts from zeros.
		ov.data = slices.Clone(ov.data[:size])
	} else {
		ov.resize(size, b.cfg.MaxInPlaceSize)
	}
	ov.changes++
	return nil
}

// errLostUpdate: Sync found the object changed or deleted in the store
// since its in-place changes began; they are dropped.
var errLostUpdate = errors.New("s3: object changed in the store since it was read; in-place changes dropped")

// Sync writes the in-place changes of a committed object back: the whole
// object, sealed under a fresh salt, on condition that the store still
// holds the version they were made to (If-Match). On success the
// overlay is dropped. If the store is unreachable the changes stay in
// memory, seen by reads, for a later Sync to write; if the object changed
// or went away in the store, they are dropped and Sync says so.
func (b *Backend) Sync(ctx context.Context, k backend.Key) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	name := shareName(k)
	ov := b.getOverlay(name)
	if ov == nil {
		_, err := b.stat(ctx, name)
		return err
	}
	ov.mu.Lock()
	if ov.changes == ov.synced {
		ov.mu.Unlock()
		b.dropOverlayIf(name, ov)
		return nil
	}
	s := freshSealer(&b.cfg.SealKey, name)
	sealed := s.sealAll(ov.data)
	etag, changes := ov.etag, ov.changes
	ov.mu.Unlock()

	newETag, err := b.putSealed(ctx, name, sealed, false, etag)
	if err != nil {
		if kind(err) == errPrecondition || errors.Is(err, backend.ErrNotExist) {
			b.omu.Lock()
			if b.overlays[name] == ov {
				b.forgetOverlay(name)
			}
			b.omu.Unlock()
			b.cache.drop(name)
			return fmt.Errorf("%w: %w", errLostUpdate, err)
		}
		return err
	}
	b.cache.put(name, &meta{etag: newETag, stored: int64(len(sealed)), s: s, checked: true})
	ov.mu.Lock()
	ov.etag, ov.synced = newETag, changes
	done := ov.changes == changes
	ov.mu.Unlock()
	if done {
		b.dropOverlayIf(name, ov)
	}
	return nil
}

// dropOverlayIf drops name's overlay if it is ov and holds no changes
// since its last Sync.
func (b *Backend) dropOverlayIf(name string, ov *overlay) {
	b.omu.Lock()
	defer b.omu.Unlock()
	if b.overlays[name] != ov {
		return
	}
	ov.mu.Lock()
	clean := ov.changes == ov.synced
	ov.mu.Unlock()
	if clean {
		b.forgetOverlay(name)
	}
}

// Discard implements backend.Discarder: the in-place changes made to k
// since its last Sync are dropped, and the memory they held given back.
func (b *Backend) Discard(k backend.Key) { b.dropOverlay(shareName(k)) }
