// Package client is the facade of lafs for programs that want a
// Tahoe-LAFS grid as their store. It turns caps into files and directories
// and stores new ones, using the storage servers that a lafs.Peers (the
// storage broker) provides. The web API and the command line use only this
// package.
//
// A Client is made from a Config (a node builds one from its tahoe.cfg and
// private/ files). Through it a program can:
//
//   - store and fetch immutable files (Upload, UploadStream, OpenFile):
//     CHK files, and LIT files for 55 bytes or fewer;
//   - keep mutable files, SDMF or MDMF (CreateMutable, OpenMutable): read,
//     overwrite, write at an offset, or read-modify-write with Modify. A
//     mutable file under a write cap makes a small key-value store: the
//     cap is the key, and every writer who holds it can replace the value;
//   - make and walk directories (CreateDir, OpenDir, Dir, Resolve): list,
//     link, unlink, rename and move children, make subdirectories, and
//     make immutable directories, keeping the link metadata as Tahoe does
//     (docs/specifications/dirnodes.rst);
//   - open whatever a cap names with OpenNode.
//
// Every change to a mutable directory is a read-modify-write of its
// mutable file, published with test-and-set: when another writer changes
// the directory at the same time, the change is made again on top of the
// other writer's, so concurrent updates are never silently lost.
//
// Read-only caps give read-only handles: a directory opened with its read
// cap (or reached through one) never shows its children's write caps.
package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/immutable"
	"github.com/lafs/lafs/mutable"
)

// Config is what a client needs to know.
type Config struct {
	// Params are k, happy, N and the maximum segment size for uploads.
	Params lafs.Params
	// Convergence is the convergence secret (private/convergence).
	Convergence []byte
	// LeaseSecret is the lease secret (private/secret).
	LeaseSecret []byte
	// Peers gives the storage servers.
	Peers lafs.Peers
	// TempDir is where uploads of unknown size are spooled ("" = os.TempDir()).
	TempDir string
	// RequestTimeout bounds each request to a storage server (default
	// 30 s); downloads and uploads give up on requests much slower than
	// the other servers' long before that.
	RequestTimeout time.Duration
	// MutableFormat is the format of new mutable files and directories
	// when a caller asks for the default ([client] mutable.format;
	// the zero value is SDMF, Tahoe's default).
	MutableFormat cap.Format
	// KeyPoolSize is how many RSA keys for new mutable files and
	// directories are made ahead of time, in the background. Making one
	// takes about a tenth of a second; with 0 each is made when needed.
	// A client with a pool must be closed (Close).
	KeyPoolSize int
	// MutableRetryDelay is the first pause before a change to a mutable
	// file or directory is made again after another writer got in the
	// way; later pauses grow (default 1 s, as Tahoe's).
	MutableRetryDelay time.Duration
	// PendingUploads, if set, is a file (in the node's private/) where
	// the secrets of the immutable shares being uploaded are kept while
	// they are, so that after a crash the client aborts what it left
	// half-written on servers (which would otherwise refuse those shares
	// to other uploads for half an hour). A client with one must be
	// closed (Close).
	PendingUploads string
	// Log receives what the client does in the background (nil: the
	// default logger).
	Log *slog.Logger
	// WaitForServers makes uploads and new mutable files and directories
	// wait, within their ctx, until Params.Happy servers are connected,
	// instead of failing at once when fewer are: what a program that has
	// just opened a grid wants (node.OpenClient sets it). It needs Peers
	// that can say when servers connect (a ServerWaiter, as the node's
	// storage broker is); with others it does nothing.
	WaitForServers bool
	// OnClose, if set, is called by Close: to stop what feeds Peers (a
	// node's storage broker and introducer clients).
	OnClose func()
}

// ServerWaiter is a lafs.Peers that can wait until n servers are connected
// (grid.Broker is one).
type ServerWaiter interface {
	WaitConnected(ctx context.Context, n int) error
}

// Client stores and fetches files and directories. It is safe for
// concurrent use.
type Client struct {
	cfg       Config
	keys      *mutable.KeyPool
	downloads *immutable.Downloader
	uploads   *immutable.Uploader
	peers     *peers // Config.Peers, decorated
	stats     storageCounters
	count     counters        // what /statistics shows (counters.go)
	history   *History        // what /status shows (history.go)
	pending   *pendingUploads // nil without Config.PendingUploads
	stop      context.CancelFunc
	// leftovers is closed once the uploads an earlier run left are
	// aborted (or given up on).
	leftovers chan struct{}
	started   time.Time
}

// maxLeftoverWait is how long after the client starts uploads wait for the
// aborting of the uploads an earlier run left, which may be of the same
// file.
const maxLeftoverWait = 10 * time.Second

// New returns a client for cfg, which needs at least Params and Peers.
// With a KeyPoolSize it starts making keys in the background: Close
// stops that.
func New(cfg Config) (*Client, error) {
	if cfg.Peers == nil {
		return nil, errors.New("client: no peers")
	}
	if cfg.Params.SegmentSize == 0 {
		cfg.Params.SegmentSize = lafs.DefaultSegmentSize
	}
	if err := cfg.Params.Validate(); err != nil {
		return nil, err
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = 30 * time.Second
	}
	switch cfg.MutableFormat {
	case cap.SDMF, cap.MDMF:
	default:
		return nil, fmt.Errorf("client: unknown mutable format %d", cfg.MutableFormat)
	}
	if cfg.KeyPoolSize < 0 {
		return nil, fmt.Errorf("client: negative key pool size %d", cfg.KeyPoolSize)
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	c := &Client{
		keys:      mutable.NewKeyPool(cfg.KeyPoolSize),
		stop:      func() {},
		leftovers: make(chan struct{}),
		started:   time.Now(),
	}
	c.count.since = c.started
	c.history = newHistory()
	// Every server's storage goes through the client's decorator
	// (storage.go); the operations below keep no time limits of their own.
	p := &peers{inner: cfg.Peers, c: c, wrap: map[*lafs.Server]*lafs.Server{}}
	cfg.Peers = p
	c.peers = p
	c.cfg = cfg
	c.downloads = immutable.NewDownloader(p, immutable.DownloadOptions{RequestTimeout: -1})
	c.uploads = immutable.NewUploader(p)
	aborting := false
	if cfg.PendingUploads != "" {
		p, left, err := openPendingUploads(cfg.PendingUploads, cfg.Log)
		if err != nil {
			c.keys.Close()
			return nil, fmt.Errorf("client: %w", err)
		}
		c.pending = p
		if len(left) > 0 {
			aborting = true
			var ctx context.Context
			ctx, c.stop = context.WithCancel(context.Background())
			cfg.Log.Info("aborting the uploads an earlier run left unfinished", "shares", len(left))
			go func() {
				p.abortLeftovers(ctx, cfg.Peers, left, 5*time.Minute)
				close(c.leftovers)
			}()
		}
	}
	if !aborting {
		close(c.leftovers)
	}
	return c, nil
}

// Close stops the background work of the client (making RSA keys for its
// key pool, aborting uploads an earlier run left) and writes down the
// uploads in progress. A closed client still works; it makes each new key
// when it needs one.
func (c *Client) Close() error {
	c.keys.Close()
	c.stop()
	if c.pending != nil {
		c.pending.close()
	}
	if c.cfg.OnClose != nil {
		c.cfg.OnClose()
	}
	return nil
}

// waitForServers waits, when Config.WaitForServers asks for it, until
// enough servers are connected for an upload to be happy.
func (c *Client) waitForServers(ctx context.Context) error {
	w, ok := c.peers.inner.(ServerWaiter)
	if !c.cfg.WaitForServers || !ok {
		return nil
	}
	if err := w.WaitConnected(ctx, c.cfg.Params.Happy); err != nil {
		return fmt.Errorf("waiting for %d storage servers: %w", c.cfg.Params.Happy, err)
	}
	return nil
}

// Params returns the client's encoding parameters.
func (c *Client) Params() lafs.Params { return c.cfg.Params }

// MutableFormat returns the format of new mutable files and directories
// when none is asked for (Config.MutableFormat).
func (c *Client) MutableFormat() cap.Format { return c.cfg.MutableFormat }

// UploadOptions change one upload.
type UploadOptions struct {
	// Progress is called as the file is read.
	Progress func(done, total int64)
	// NoConvergence uses a random key instead of the convergence secret.
	NoConvergence bool

	key *[16]byte // the convergent key, computed while spooling
}

// UploadResult says how an immutable upload went: the file's cap, how
// many of its shares found a server and which servers, and what went
// wrong with servers on the way. A file with fewer than SharesTotal shares
// is still recoverable (its placement was happy enough); a repair can add
// the others.
type UploadResult struct {
	Cap cap.Cap
	// SharesPlaced counts the shares written now or found already in
	// place, of SharesTotal (N).
	SharesPlaced, SharesTotal int
	// Happiness is how many servers hold shares such that any K of them
	// recover the file.
	Happiness int
	// Servers names the server (its id) that holds each share.
	Servers map[lafs.ShareNum]string
	// Problems says what went wrong with servers on the way.
	Problems []string
	// LIT says the file was small enough to live in its cap: no server
	// holds anything of it.
	LIT bool
}

// Upload stores the size bytes of r as an immutable file (URI:LIT for 55
// bytes or fewer, URI:CHK otherwise) and says how it went.
func (c *Client) Upload(ctx context.Context, r io.ReaderAt, size int64, o UploadOptions) (*UploadResult, error) {
	opt := immutable.UploadOptions{
		QueryTimeout: -1, // the storage decorator bounds each request
		Params:       c.cfg.Params,
		Convergence:  c.cfg.Convergence,
		LeaseSecret:  c.cfg.LeaseSecret,
		Progress:     o.Progress,
		Key:          o.key,
	}
	if o.NoConvergence {
		opt.Convergence = nil
	} else if opt.Convergence == nil {
		opt.Convergence = []byte{}
	}
	if err := c.waitForServers(ctx); err != nil {
		return nil, err
	}
	if c.pending != nil {
		opt.Recorder = c.pending
		// The uploads of the first seconds after a crash wait for what
		// it left to be aborted: it may be the same file.
		select {
		case <-c.leftovers:
		case <-time.After(time.Until(c.started.Add(maxLeftoverWait))):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	defer c.count.start(opUpload, size)()
	res, err := c.history.upload(ctx, c.uploads, r, size, opt)
	if err != nil {
		return nil, err
	}
	_, lit := res.Cap.(*cap.LIT)
	return &UploadResult{Cap: res.Cap, SharesPlaced: res.SharesPushed + res.SharesExist, SharesTotal: c.cfg.Params.N,
		Happiness: res.Happiness, Servers: res.Servers, Problems: res.Problems, LIT: lit}, nil
}

// UploadStream stores everything read from r. Convergent encryption needs
// two passes over the data, so it is spooled to a temporary file (on disk,
// not in memory) first; the convergent key is computed as it is spooled, so
// that the upload reads the spool only once.
func (c *Client) UploadStream(ctx context.Context, r io.Reader, o UploadOptions) (*UploadResult, error) {
	f, err := os.CreateTemp(c.cfg.TempDir, "lafs-upload-*")
	if err != nil {
		return nil, fmt.Errorf("spooling upload: %w", err)
	}
	os.Remove(f.Name())
	defer f.Close()
	var w io.Writer = f
	var kw *immutable.KeyWriter
	if !o.NoConvergence {
		secret := c.cfg.Convergence
		if secret == nil {
			secret = []byte{}
		}
		if kw, err = immutable.NewKeyWriter(secret, c.cfg.Params); err != nil {
			return nil, fmt.Errorf("convergent key: %w", err)
		}
		w = io.MultiWriter(f, kw)
	}
	bp := spoolBufs.Get().(*[]byte)
	n, err := spool(w, r, *bp)
	spoolBufs.Put(bp)
	if err != nil {
		return nil, fmt.Errorf("spooling upload: %w", err)
	}
	if kw != nil && n > immutable.LITThreshold {
		key, err := kw.Key(f)
		if err != nil {
			return nil, err
		}
		o.key = &key
	}
	return c.Upload(ctx, f, n, o)
}

// spoolBufs are UploadStream's copy buffers: a large one means few
// writes to the spool.
var spoolBufs = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}

// spool copies r to w in writes of len(buf) bytes (but the last).
func spool(w io.Writer, r io.Reader, buf []byte) (int64, error) {
	var total int64
	for {
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return total, werr
			}
			total += int64(n)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// File is an immutable file being read.
type File interface {
	io.ReaderAt
	// Size is the file's length in bytes.
	Size() int64
	// WriteRange streams length bytes from off to w (length < 0: to the end).
	WriteRange(ctx context.Context, w io.Writer, off, length int64) (int64, error)
}

// ErrNotFile is returned when a cap names something that is not a file of
// the kind asked for (an immutable file for OpenFile, a mutable one for
// OpenMutable).
var ErrNotFile = errors.New("not a file cap")

// ErrUnknownCap is returned for caps of a kind this client cannot read.
var ErrUnknownCap = errors.New("unknown cap kind")

// Errors of immutable files, re-exported from package immutable so that
// callers need only this package: test them with errors.Is.
var (
	// ErrNoShares: no server holds a share of the immutable file.
	ErrNoShares = immutable.ErrNoShares
	// ErrNotEnoughShares: fewer than k good shares of the immutable
	// file could be found.
	ErrNotEnoughShares = immutable.ErrNotEnoughShares
	// ErrUnhappy: an upload could not place its shares on enough
	// servers (servers-of-happiness).
	ErrUnhappy = immutable.ErrUnhappy
)

// OpenFile prepares to read the immutable file c (CHK or LIT). Shares are
// found on the grid; reads check every hash. Mutable files are opened
// with OpenMutable, and any cap with OpenNode.
func (c *Client) OpenFile(ctx context.Context, k cap.Cap) (File, error) {
	switch x := k.(type) {
	case *cap.LIT:
		return litFile(x.Data), nil
	case *cap.CHK:
		start := time.Now()
		r, err := c.downloads.Open(ctx, x)
		f, err := c.count.file(r, err, start)
		return c.history.file(x, f, err)
	case *cap.Unknown:
		return nil, fmt.Errorf("%w: %s", ErrUnknownCap, cap.Kind(x))
	case *cap.MutableWrite, *cap.MutableRead:
		return nil, fmt.Errorf("%w: %s is a mutable file (see OpenMutable)", ErrNotFile, cap.Kind(k))
	default:
		return nil, fmt.Errorf("%w: %s", ErrNotFile, cap.Kind(k))
	}
}

// litFile is a LIT file: its data lives in the cap.
type litFile []byte

func (l litFile) Size() int64 { return int64(len(l)) }

func (l litFile) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(l)) {
		return 0, io.EOF
	}
	n := copy(p, l[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (l litFile) WriteRange(ctx context.Context, w io.Writer, off, length int64) (int64, error) {
	if off < 0 || off > int64(len(l)) {
		return 0, fmt.Errorf("offset %d outside the file (size %d)", off, len(l))
	}
	end := int64(len(l))
	if length >= 0 && off+length < end {
		end = off + length
	}
	n, err := w.Write(l[off:end])
	return int64(n), err
}
