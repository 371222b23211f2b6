package immutable

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/cap"
)

// remoteShare is a share on a storage server.
type remoteShare struct {
	server *lafs.Server
	si     lafs.StorageIndex
	num    lafs.ShareNum
}

func (r *remoteShare) Num() lafs.ShareNum { return r.num }

func (r *remoteShare) ReadAt(ctx context.Context, off uint64, n int) ([]byte, error) {
	b, err := r.server.Storage.ReadImmutable(ctx, r.si, r.num, off, uint64(n))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.server.String(), err)
	}
	return b, nil
}

// FindShares asks servers (in permuted order) which shares of si they hold,
// all at once, and returns the shares in the order the answers arrived, so
// that the fastest servers are tried first. It waits at most timeout for
// slow servers once k distinct shares are known.
func FindShares(ctx context.Context, servers []*lafs.Server, si lafs.StorageIndex, k int, timeout time.Duration) []Share {
	type answer struct {
		s      *lafs.Server
		shares []lafs.ShareNum
	}
	ch := make(chan answer, len(servers))
	qctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for _, s := range servers {
		go func() {
			start := time.Now()
			have, err := s.Storage.ListImmutable(qctx, si)
			if err != nil {
				have = nil
			} else {
				s.Latency.Observe(time.Since(start))
			}
			ch <- answer{s, have}
		}()
	}
	var out []Share
	distinct := map[lafs.ShareNum]bool{}
	var grace <-chan time.Time
	for range servers {
		select {
		case a := <-ch:
			for _, sh := range a.shares {
				out = append(out, &remoteShare{a.s, si, sh})
				distinct[sh] = true
			}
			if len(distinct) >= k && grace == nil {
				// Enough to start; give slower servers a moment to offer
				// spares, then go.
				grace = time.After(50 * time.Millisecond)
			}
		case <-grace:
			return out
		case <-qctx.Done():
			return out
		}
	}
	return out
}

// AdviseCorrupt tells the share's server that the share failed its hashes.
func (r *remoteShare) AdviseCorrupt(ctx context.Context, reason string) error {
	return r.server.Storage.AdviseCorruptImmutable(ctx, r.si, r.num, reason)
}

// ErrNoShares means no server holds any share of the file.
var ErrNoShares = errors.New("no shares found")

// DownloadOptions configure a Downloader.
type DownloadOptions struct {
	// RequestTimeout bounds each storage request of a download; a server
	// that takes longer loses its share to another (default 30 s;
	// negative: no bound here, as when the servers' storage bounds each
	// request itself). Late requests are hedged long before that.
	RequestTimeout time.Duration
	// CacheBytes bounds the verified plaintext kept of recently read
	// small files (default 32 MiB; negative: none). Files larger than an
	// eighth of it are not kept.
	CacheBytes int64
	// RememberFor is how long where a file's shares are, and what was
	// checked of them, is remembered after its last use (default 1
	// minute; negative: not at all). A file that runs short of good
	// shares is forgotten at once.
	RememberFor time.Duration
}

// Downloader opens CHK files on a grid. It remembers for a while where the
// shares of recently opened files are (with their checked hash trees) and
// the plaintext of recently read small files, so that reading the same
// file again costs few storage requests or none, and it opens a file only
// once for callers that ask at the same time. It is safe for concurrent
// use.
type Downloader struct {
	peers    lafs.Peers
	opt      DownloadOptions
	segments *segmentCache

	mu      sync.Mutex
	readers *lru[fileKey, *openFile]
	opening map[fileKey]*openFile
}

// openFile is a file opened (or being opened) by a Downloader.
type openFile struct {
	done     chan struct{}
	r        *Reader
	err      error
	quit     bool // the caller who opened it gave up (its context ended)
	lastUsed time.Time
	weight   int64 // the Reader's memory when it was remembered
}

// rememberBytes bounds the memory of the opened files a Downloader
// remembers (their checked hash trees, small shares held whole).
const rememberBytes = 64 << 20

// NewDownloader returns a Downloader of files on the servers that peers
// gives.
func NewDownloader(peers lafs.Peers, opt DownloadOptions) *Downloader {
	if opt.RequestTimeout == 0 {
		opt.RequestTimeout = 30 * time.Second
	}
	if opt.CacheBytes == 0 {
		opt.CacheBytes = 32 << 20
	}
	if opt.RememberFor == 0 {
		opt.RememberFor = time.Minute
	}
	return &Downloader{
		peers: peers, opt: opt, segments: newSegmentCache(opt.CacheBytes),
		readers: newLRU[fileKey](rememberBytes, func(f *openFile) int64 { return f.weight }),
		opening: map[fileKey]*openFile{},
	}
}

// Open finds the shares of the CHK file c and returns a Reader for it.
// Shares are fetched from the fastest servers; a server that fails, is
// late or lies is replaced by another without restarting the download.
func (d *Downloader) Open(ctx context.Context, c *cap.CHK) (*Reader, error) {
	k := keyOf(c)
	for {
		d.mu.Lock()
		d.readers.dropOldest(func(f *openFile) bool { return time.Since(f.lastUsed) >= d.opt.RememberFor })
		if f, ok := d.readers.get(k); ok {
			if time.Since(f.lastUsed) < d.opt.RememberFor && !f.r.exhausted() {
				f.lastUsed = time.Now()
				d.mu.Unlock()
				return f.r, nil
			}
			d.readers.remove(k)
		}
		f, ok := d.opening[k]
		if !ok {
			f = &openFile{done: make(chan struct{})}
			d.opening[k] = f
		}
		d.mu.Unlock()
		if !ok {
			f.r, f.err = d.open(ctx, c)
			f.quit = f.err != nil && ctx.Err() != nil
			d.mu.Lock()
			delete(d.opening, k)
			if f.err == nil && d.opt.RememberFor > 0 {
				f.lastUsed, f.weight = time.Now(), f.r.footprint()
				d.readers.put(k, f)
			}
			d.mu.Unlock()
			close(f.done)
			return f.r, f.err
		}
		select {
		case <-f.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if !f.quit {
			return f.r, f.err
		}
		// The caller we waited for gave up; open it ourselves.
	}
}

func (d *Downloader) open(ctx context.Context, c *cap.CHK) (*Reader, error) {
	si := c.StorageIndex()
	servers := d.peers.ServersFor(si)
	shares := FindShares(ctx, servers, si, c.K, 10*time.Second)
	if len(shares) == 0 {
		return nil, fmt.Errorf("%w: asked %d servers for %s, none holds a share (need %d of %d)", ErrNoShares, len(servers), si, c.K, c.N)
	}
	return newReader(ctx, c, shares, d.opt.RequestTimeout, d.segments)
}

// Open finds the shares of the CHK file c among peers and returns a Reader
// for it, as a Downloader that remembers nothing does; blockTimeout bounds
// each storage request.
func Open(ctx context.Context, peers lafs.Peers, c *cap.CHK, blockTimeout time.Duration) (*Reader, error) {
	d := NewDownloader(peers, DownloadOptions{RequestTimeout: blockTimeout, CacheBytes: -1, RememberFor: -1})
	return d.open(ctx, c)
}
