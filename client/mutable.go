package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/mutable"
)

// Errors of mutable files, re-exported from package mutable so that
// callers need only this package: test them with errors.Is.
var (
	// ErrUncoordinatedWrite: another writer changed the file at the same
	// time, and making the change again (up to 4 attempts) did not help.
	ErrUncoordinatedWrite = mutable.ErrUncoordinatedWrite
	// ErrReadOnly: a write through a read cap.
	ErrReadOnly = mutable.ErrReadOnly
	// ErrMutableNoShares: no server holds a share of the mutable file
	// or directory.
	ErrMutableNoShares = mutable.ErrNoShares
	// ErrMutableNotEnoughShares: no version of the mutable file or
	// directory has enough good shares to be read.
	ErrMutableNotEnoughShares = mutable.ErrNotEnoughShares
	// ErrNotEnoughServers: a mutable file could not be written to
	// enough servers.
	ErrNotEnoughServers = mutable.ErrNotEnoughServers
)

// mutableOptions are the options of every mutable file the client opens
// or creates: the client's k and N, its lease secret, and the retry pause.
func (c *Client) mutableOptions() mutable.Options {
	return mutable.Options{
		K:            c.cfg.Params.K,
		N:            c.cfg.Params.N,
		LeaseSecret:  c.cfg.LeaseSecret,
		QueryTimeout: -1, // the client's storage decorator bounds each request
		RetryDelay:   c.cfg.MutableRetryDelay,
	}
}

// createMutable publishes a new mutable file with a fresh key from the
// client's pool.
func (c *Client) createMutable(ctx context.Context, contents []byte, format cap.Format) (*mutable.File, error) {
	switch format {
	case cap.SDMF, cap.MDMF:
	default:
		return nil, fmt.Errorf("client: unknown mutable format %d", format)
	}
	if err := c.waitForServers(ctx); err != nil {
		return nil, err
	}
	keys, err := c.keys.NewKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("making a key for a new mutable file: %w", err)
	}
	defer c.count.start(opPublish, int64(len(contents)))()
	op := c.history.begin(ctx, OpKindPublish, keys.StorageIndex, int64(len(contents)))
	f, err := mutable.Create(ctx, c.cfg.Peers, keys, format, contents, c.mutableOptions())
	return f, op.end(err)
}

// CreateMutable stores contents as a new mutable file of the given format
// (cap.SDMF or cap.MDMF; see MutableFormat for the configured default) and
// returns its write cap (URI:SSK: or URI:MDMF:). Its read cap is
// ReadOnly() of that.
func (c *Client) CreateMutable(ctx context.Context, contents []byte, format cap.Format) (cap.Cap, error) {
	f, err := c.createMutable(ctx, contents, format)
	if err != nil {
		return nil, err
	}
	return f.Cap(), nil
}

// OpenMutable opens the mutable file k names: with its write cap for
// reading and writing, with its read cap for reading only. It finds the
// file's shares and its newest version, and fails (errors.Is
// mutable.ErrNoShares or mutable.ErrNotEnoughShares) when there is none.
func (c *Client) OpenMutable(ctx context.Context, k cap.Cap) (*MutableFile, error) {
	switch k.(type) {
	case *cap.MutableWrite, *cap.MutableRead:
	default:
		return nil, fmt.Errorf("%w: %s is not a mutable file cap", ErrNotFile, cap.Kind(k))
	}
	f, err := mutable.Open(ctx, c.cfg.Peers, k, c.mutableOptions())
	if err != nil {
		return nil, err
	}
	return &MutableFile{f: f, count: &c.count, history: c.history}, nil
}

// MutableFile is an SDMF or MDMF file, opened by OpenMutable. Reads see
// the newest version found; writes publish a new version (one higher
// sequence number) and detect other writers: see Modify. A MutableFile is
// safe for concurrent use; its operations run one at a time.
type MutableFile struct {
	f       *mutable.File
	count   *counters // the client's (counters.go)
	history *History  // the client's (history.go)
}

// Cap is the cap the file was opened with: its write cap when writable.
func (m *MutableFile) Cap() cap.Cap { return m.f.Cap() }

// ReadOnlyCap is the file's read cap, which may be given away to let
// others read the file (and see its later versions) but not change it.
func (m *MutableFile) ReadOnlyCap() cap.Cap { return m.f.Cap().ReadOnly() }

// IsReadOnly reports whether the file was opened with its read cap.
func (m *MutableFile) IsReadOnly() bool { return m.f.IsReadOnly() }

// Format is cap.SDMF or cap.MDMF.
func (m *MutableFile) Format() cap.Format { return m.f.Format() }

// Size is the length of the version last seen (by opening, a read or a
// write).
func (m *MutableFile) Size() int64 { return m.f.Size() }

// Version is the sequence number of the version last seen: 1 for a new
// file, one more for each version published since.
func (m *MutableFile) Version() uint64 { return m.f.Version() }

// Refresh looks for a newer version on the grid.
func (m *MutableFile) Refresh(ctx context.Context) error { return m.f.Refresh(ctx) }

// Read returns the whole contents of the newest version.
func (m *MutableFile) Read(ctx context.Context) ([]byte, error) {
	start := time.Now()
	op := m.history.begin(ctx, OpKindRetrieve, m.f.StorageIndex(), m.Size())
	b, err := m.f.Read(ctx)
	m.count.done(opRetrieve, len(b), err, start)
	op.endSized(int64(len(b)), err)
	return b, err
}

// ReadAt reads len(p) bytes at offset off of the version last seen,
// fetching only the segments that hold them. Like io.ReaderAt it returns
// io.EOF when fewer bytes are left.
func (m *MutableFile) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	defer m.count.start(opRetrieve, m.Size())()
	return m.f.ReadAt(ctx, p, off)
}

// readChunk is how much WriteRange reads at a time: one MDMF segment.
const readChunk = mutable.DefaultSegmentSize

// WriteRange streams length bytes from offset off of the version last
// seen to w (length < 0: to the end), one segment at a time.
func (m *MutableFile) WriteRange(ctx context.Context, w io.Writer, off, length int64) (int64, error) {
	size := m.Size()
	if off < 0 || off > size {
		return 0, fmt.Errorf("offset %d outside the file (size %d)", off, size)
	}
	end := size
	if length >= 0 && off+length < end {
		end = off + length
	}
	defer m.count.start(opRetrieve, size)()
	op := m.history.begin(ctx, OpKindRetrieve, m.f.StorageIndex(), max(end-off, 0))
	defer op.endByBytes()
	w = op.writer(w)
	buf := make([]byte, min(readChunk, max(end-off, 0)))
	var done int64
	for off < end {
		p := buf[:min(int64(len(buf)), end-off)]
		n, err := m.f.ReadAt(ctx, p, off)
		if n > 0 {
			k, werr := w.Write(p[:n])
			done += int64(k)
			if werr != nil {
				return done, werr
			}
		}
		off += int64(n)
		if errors.Is(err, io.EOF) {
			if off < end {
				return done, io.ErrUnexpectedEOF
			}
			break
		}
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// Overwrite replaces the contents with data.
func (m *MutableFile) Overwrite(ctx context.Context, data []byte) error {
	defer m.count.start(opPublish, int64(len(data)))()
	op := m.history.begin(ctx, OpKindPublish, m.f.StorageIndex(), int64(len(data)))
	return op.end(m.f.Overwrite(ctx, data))
}

// WriteAt writes data at offset off, growing the file when it runs past
// the end (a gap between the end and off reads as zeros). An MDMF file is
// updated in place: only the segments written are sent again. An SDMF
// file is read, changed and published whole.
func (m *MutableFile) WriteAt(ctx context.Context, data []byte, off int64) error {
	defer m.count.writeAt(m.f, data, off)()
	op := m.history.begin(ctx, OpKindPublish, m.f.StorageIndex(), max(m.Size(), off+int64(len(data))))
	return op.end(m.f.WriteAt(ctx, data, off))
}

// Modify replaces the contents with what change makes of them, as one
// read-modify-write. If another writer publishes at the same time, the
// newer contents are read and change is called again (up to 4 attempts,
// pausing in between), so change must compute its result from what it is
// given, and may be called more than once. Returning the contents
// unchanged, or nil, publishes nothing (return []byte{} to empty the
// file). A change that returns an error
// stops Modify with that error.
func (m *MutableFile) Modify(ctx context.Context, change func(old []byte) ([]byte, error)) error {
	op := m.history.begin(ctx, OpKindPublish, m.f.StorageIndex(), m.Size())
	err := m.count.modify(ctx, m.f, change)
	return op.endSized(m.f.Size(), err)
}
