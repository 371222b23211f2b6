// Package client is the facade of lafs for programs: it turns caps into
// files (and, later, directories) and stores new files on the grid, using
// the storage servers that a lafs.Peers (the storage broker) provides. The
// web API and the command line use only this package.
package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/immutable"
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
	// BlockTimeout bounds one block read before a download switches
	// servers (default 30 s).
	BlockTimeout time.Duration
}

// Client stores and fetches files.
type Client struct {
	cfg Config
}

// New returns a client.
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
	if cfg.BlockTimeout == 0 {
		cfg.BlockTimeout = 30 * time.Second
	}
	return &Client{cfg: cfg}, nil
}

// Params returns the client's encoding parameters.
func (c *Client) Params() lafs.Params { return c.cfg.Params }

// UploadOptions change one upload.
type UploadOptions struct {
	// Progress is called as the file is read.
	Progress func(done, total int64)
	// NoConvergence uses a random key instead of the convergence secret.
	NoConvergence bool
}

// Upload stores the size bytes of r as an immutable file and returns its
// cap (URI:LIT for 55 bytes or fewer, URI:CHK otherwise).
func (c *Client) Upload(ctx context.Context, r io.ReaderAt, size int64, o UploadOptions) (cap.Cap, error) {
	opt := immutable.UploadOptions{
		Params:      c.cfg.Params,
		Convergence: c.cfg.Convergence,
		LeaseSecret: c.cfg.LeaseSecret,
		Progress:    o.Progress,
	}
	if o.NoConvergence {
		opt.Convergence = nil
	} else if opt.Convergence == nil {
		opt.Convergence = []byte{}
	}
	res, err := immutable.Upload(ctx, c.cfg.Peers, r, size, opt)
	if err != nil {
		return nil, err
	}
	return res.Cap, nil
}

// UploadStream stores everything read from r. Convergent encryption needs
// two passes over the data, so it is spooled to a temporary file (on disk,
// not in memory) first.
func (c *Client) UploadStream(ctx context.Context, r io.Reader, o UploadOptions) (cap.Cap, error) {
	f, err := os.CreateTemp(c.cfg.TempDir, "lafs-upload-*")
	if err != nil {
		return nil, fmt.Errorf("spooling upload: %w", err)
	}
	os.Remove(f.Name())
	defer f.Close()
	n, err := io.Copy(f, r)
	if err != nil {
		return nil, fmt.Errorf("spooling upload: %w", err)
	}
	return c.Upload(ctx, f, n, o)
}

// File is an immutable file being read.
type File interface {
	io.ReaderAt
	// Size is the file's length in bytes.
	Size() int64
	// WriteRange streams length bytes from off to w (length < 0: to the end).
	WriteRange(ctx context.Context, w io.Writer, off, length int64) (int64, error)
}

// ErrNotFile is returned when a cap names something that is not a file.
var ErrNotFile = errors.New("not a file cap")

// ErrUnknownCap is returned for caps of a kind this client cannot read.
var ErrUnknownCap = errors.New("unknown cap kind")

// OpenFile prepares to read the immutable file c (CHK or LIT). Shares are
// found on the grid; reads check every hash.
func (c *Client) OpenFile(ctx context.Context, k cap.Cap) (File, error) {
	switch x := k.(type) {
	case *cap.LIT:
		return litFile(x.Data), nil
	case *cap.CHK:
		return immutable.Open(ctx, c.cfg.Peers, x, c.cfg.BlockTimeout)
	case *cap.Unknown:
		return nil, fmt.Errorf("%w: %s", ErrUnknownCap, x)
	default:
		return nil, fmt.Errorf("%w: %s", ErrNotFile, k)
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
