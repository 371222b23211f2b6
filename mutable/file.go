package mutable

import (
	"bytes"
	"context"
	cryptorand "crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/cap"
)

// Errors of mutable file operations.
var (
	// ErrUncoordinatedWrite means another writer changed the file while
	// this one was publishing: a test-and-set write found shares other
	// than the ones the servermap promised. The write did not happen, or
	// not everywhere; read the file again before deciding what to do
	// (Modify does this by itself). Tahoe's UncoordinatedWriteError.
	ErrUncoordinatedWrite = errors.New("uncoordinated write: the file was changed by another writer at the same time")
	// ErrNoShares means no server holds any share of the file.
	ErrNoShares = errors.New("no shares of the mutable file were found")
	// ErrNotEnoughShares means shares were found, but not k good ones of
	// any one version (Tahoe's UnrecoverableFileError and
	// NotEnoughSharesError).
	ErrNotEnoughShares = errors.New("not enough good shares to recover the mutable file")
	// ErrNotEnoughServers means a publish could place fewer than k shares.
	ErrNotEnoughServers = errors.New("not enough servers accepted shares of the mutable file")
	// ErrReadOnly means a write was asked of a file opened with a read cap.
	ErrReadOnly = errors.New("mutable file is read-only: opened without its write cap")
)

// Options configure how a File is created and written.
type Options struct {
	// K and N are the encoding parameters of a new file (default 3 and
	// 10). Later versions keep those of the version they replace.
	K, N int
	// SegmentSize is the maximum MDMF segment size (default 128 KiB),
	// rounded up to a multiple of K.
	SegmentSize int
	// LeaseSecret is the client's lease secret (private/secret), from
	// which the lease renew and cancel secrets of every write derive.
	LeaseSecret []byte
	// QueryTimeout bounds each server's answers (default 30 s; negative:
	// no bound here, as when the caller's storage servers bound each
	// request themselves).
	QueryTimeout time.Duration
	// RetryDelay is the first pause of Modify and WriteAt after an
	// uncoordinated write; it grows by a factor of e for each of up to 4
	// attempts, with jitter, as Tahoe's BackoffAgent (default 1 s).
	RetryDelay time.Duration

	rand io.Reader // salts and PSS salts; crypto/rand if nil (tests replay Tahoe's)
}

func (o Options) withDefaults() Options {
	if o.K == 0 && o.N == 0 {
		o.K, o.N = 3, 10
	}
	if o.SegmentSize == 0 {
		o.SegmentSize = DefaultSegmentSize
	}
	if o.QueryTimeout == 0 {
		o.QueryTimeout = 30 * time.Second
	}
	if o.RetryDelay == 0 {
		o.RetryDelay = time.Second
	}
	return o
}

// maxAttempts is how often Modify tries before giving up (BackoffAgent).
const maxAttempts = 4

// File is a mutable file (SDMF or MDMF) on a grid, opened with a write
// cap or a read cap. Its operations are serialized, as Tahoe's
// MutableFileNode serializes them; a File is safe for concurrent use.
type File struct {
	peers       lafs.Peers
	opts        Options
	cap         cap.Cap
	format      cap.Format
	si          lafs.StorageIndex
	readKey     [16]byte
	writeKey    *[16]byte // nil when read-only
	fingerprint [32]byte

	sem  chan struct{} // one operation at a time
	mu   sync.Mutex    // guards the fields below
	keys *Keys         // once the private key is known
	cur  *retriever    // the version last seen, and what was verified of it
}

func newFile(peers lafs.Peers, c cap.Cap, opts Options) (*File, error) {
	if d, ok := c.(*cap.Dir); ok {
		c = d.File
	}
	f := &File{peers: peers, opts: opts.withDefaults(), cap: c, sem: make(chan struct{}, 1)}
	switch c := c.(type) {
	case *cap.MutableWrite:
		f.format, f.fingerprint, f.readKey = c.Format, c.Fingerprint, c.ReadKey()
		wk := c.WriteKey
		f.writeKey = &wk
	case *cap.MutableRead:
		f.format, f.fingerprint, f.readKey = c.Format, c.Fingerprint, c.ReadKey
	default:
		return nil, fmt.Errorf("%w: %T is not a mutable file's write or read cap", cap.ErrInvalid, c)
	}
	f.si, _ = cap.StorageIndex(c)
	return f, nil
}

// Create publishes a new mutable file with the given contents (version 1)
// and returns it, opened with its write cap. keys come from a fresh RSA
// key (see KeyPool); format chooses SDMF or MDMF.
func Create(ctx context.Context, peers lafs.Peers, keys *Keys, format cap.Format, contents []byte, opts Options) (*File, error) {
	f, err := newFile(peers, keys.WriteCap(format), opts)
	if err != nil {
		return nil, err
	}
	f.keys = keys
	o := f.opts
	// A new key means a new storage index: nobody else can be writing it,
	// so every server is written at once (each write still tests that its
	// slot is empty).
	m := &serverMap{si: f.si, servers: peers.ServersFor(f.si), failed: map[*lafs.Server]error{}, fresh: true}
	cur, err := f.publish(ctx, m, o.K, o.N, contents)
	if err != nil {
		return nil, err
	}
	f.setCurrent(cur)
	return f, nil
}

// Open opens the mutable file c names (a write or read cap, or a
// directory cap, whose file is opened): it finds the file's shares and
// the newest version that can be recovered, and fails with ErrNoShares
// or ErrNotEnoughShares when there is none.
func Open(ctx context.Context, peers lafs.Peers, c cap.Cap, opts Options) (*File, error) {
	f, err := newFile(peers, c, opts)
	if err != nil {
		return nil, err
	}
	if err := f.Refresh(ctx); err != nil {
		return nil, err
	}
	return f, nil
}

// Cap is the file's cap: its write cap when writable, else its read cap
// (for a directory cap, the cap of the directory's file).
func (f *File) Cap() cap.Cap { return f.cap }

// Format says whether the file is SDMF or MDMF.
func (f *File) Format() cap.Format { return f.format }

// IsReadOnly reports whether the file was opened without its write cap.
func (f *File) IsReadOnly() bool { return f.writeKey == nil }

// StorageIndex is where the file's shares are stored.
func (f *File) StorageIndex() lafs.StorageIndex { return f.si }

// Size is the length of the version last seen (by Open, Refresh, a read or
// a write).
func (f *File) Size() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cur == nil {
		return 0
	}
	return int64(f.cur.v.hdr.DataLength)
}

// Version is the sequence number of the version last seen: 1 for a new
// file, one more for each version published since.
func (f *File) Version() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cur == nil {
		return 0
	}
	return f.cur.v.hdr.Seqnum
}

// randReader is where salts and signature salts come from.
func (f *File) randReader() io.Reader {
	if f.opts.rand != nil {
		return f.opts.rand
	}
	return cryptorand.Reader
}

func (f *File) current() *retriever {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cur
}

func (f *File) setCurrent(r *retriever) {
	f.mu.Lock()
	f.cur = r
	f.mu.Unlock()
}

// lock serializes operations, giving up if ctx ends first.
func (f *File) lock(ctx context.Context) error {
	select {
	case f.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (f *File) unlock() { <-f.sem }

// Refresh asks every server for the file's shares again and makes the
// newest recoverable version the current one.
func (f *File) Refresh(ctx context.Context) error {
	if err := f.lock(ctx); err != nil {
		return err
	}
	defer f.unlock()
	_, err := f.refresh(ctx)
	return err
}

func (f *File) refresh(ctx context.Context) (*serverMap, error) {
	m, err := f.updateServerMap(ctx)
	if err != nil {
		return nil, err
	}
	v, err := m.best()
	if err != nil {
		return m, err
	}
	f.setCurrent(f.newRetriever(v))
	return m, nil
}

// Read returns the whole contents of the newest recoverable version.
func (f *File) Read(ctx context.Context) ([]byte, error) {
	if err := f.lock(ctx); err != nil {
		return nil, err
	}
	defer f.unlock()
	if _, err := f.refresh(ctx); err != nil {
		return nil, err
	}
	b, err := f.current().readAll(ctx)
	if errors.Is(err, ErrNotEnoughShares) {
		// Shares vanished since the servermap found them: look again
		// once, as Tahoe's download_best_version does.
		if _, rerr := f.refresh(ctx); rerr != nil {
			return nil, errors.Join(err, rerr)
		}
		b, err = f.current().readAll(ctx)
	}
	return b, err
}

// ReadAt reads len(p) bytes at offset off of the version last seen,
// fetching only the segments that hold them; like io.ReaderAt it returns
// io.EOF when fewer bytes are left. If that version can no longer be
// recovered (it was replaced), it reads the newest one instead.
func (f *File) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	if err := f.lock(ctx); err != nil {
		return 0, err
	}
	defer f.unlock()
	if f.current() == nil {
		if _, err := f.refresh(ctx); err != nil {
			return 0, err
		}
	}
	n, err := f.current().readAt(ctx, p, off)
	if errors.Is(err, ErrNotEnoughShares) {
		if _, rerr := f.refresh(ctx); rerr != nil {
			return 0, errors.Join(err, rerr)
		}
		n, err = f.current().readAt(ctx, p, off)
	}
	return n, err
}

// Overwrite replaces the contents with a new version (seqnum one higher
// than any seen). It fails with ErrUncoordinatedWrite if another writer
// publishes at the same time.
func (f *File) Overwrite(ctx context.Context, contents []byte) error {
	if f.IsReadOnly() {
		return ErrReadOnly
	}
	if err := f.lock(ctx); err != nil {
		return err
	}
	defer f.unlock()
	m, err := f.updateServerMap(ctx)
	if err != nil {
		return err
	}
	return f.overwrite(ctx, m, contents)
}

// overwrite publishes contents as the next version after what m found,
// keeping the encoding of the version it replaces.
func (f *File) overwrite(ctx context.Context, m *serverMap, contents []byte) error {
	k, n := f.opts.K, f.opts.N
	if v, err := m.best(); err == nil {
		k, n = v.hdr.K, v.hdr.N
	} else if len(m.shares) > 0 {
		return fmt.Errorf("not replacing a file none of whose versions is recoverable: %w", err)
	}
	if _, err := f.loadKeys(ctx, m); err != nil {
		return err
	}
	cur, err := f.publish(ctx, m, k, n, contents)
	if err != nil {
		return err
	}
	f.setCurrent(cur)
	return nil
}

// Modify applies modifier to the contents of the newest version and
// publishes the result, as Tahoe's modify does: if another writer gets in
// the way (ErrUncoordinatedWrite) it waits, reads again and calls
// modifier again with the new contents, up to 4 attempts. modifier must
// therefore be idempotent: it should see whether its change is already
// there. Returning nil or the old contents unchanged publishes nothing.
func (f *File) Modify(ctx context.Context, modifier func(old []byte) ([]byte, error)) error {
	if f.IsReadOnly() {
		return ErrReadOnly
	}
	if err := f.lock(ctx); err != nil {
		return err
	}
	defer f.unlock()
	return f.retry(ctx, func(first bool) error {
		m, err := f.refresh(ctx)
		if err != nil {
			return err
		}
		old, err := f.current().readAll(ctx)
		if err != nil {
			return err
		}
		nw, err := modifier(old)
		if err != nil {
			return err
		}
		if nw == nil || bytes.Equal(nw, old) {
			if first {
				return nil
			}
			// After a collision, publish again even without a change,
			// so that the versions on the grid converge (Tahoe #551).
			nw = old
		}
		return f.overwrite(ctx, m, nw)
	})
}

// retry runs attempt until it does not fail with ErrUncoordinatedWrite,
// backing off between attempts.
func (f *File) retry(ctx context.Context, attempt func(first bool) error) error {
	delay := float64(f.opts.RetryDelay)
	for i := 0; ; i++ {
		err := attempt(i == 0)
		if !errors.Is(err, ErrUncoordinatedWrite) || i+1 == maxAttempts {
			return err
		}
		delay *= 2.718281828459045
		d := time.Duration(delay * (1 + 0.11962656492*rand.NormFloat64()))
		select {
		case <-time.After(max(d, 0)):
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		}
	}
}

// bound returns ctx limited by QueryTimeout, unless that is negative.
func (o Options) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if o.QueryTimeout < 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, o.QueryTimeout)
}
