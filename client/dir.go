package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/dirnode"
	"github.com/lafs/lafs/mutable"
)

// Errors of directories. ErrNoChild and ErrExists are package dirnode's,
// so errors.Is matches either name.
var (
	// ErrNoChild: the directory has no child of that name.
	ErrNoChild = dirnode.ErrNoChild
	// ErrExists: a child of that name exists and the caller asked not to
	// replace it (ReplaceNone, or ReplaceOnlyFiles and it is a directory).
	ErrExists = dirnode.ErrExists
	// ErrNotDir: a cap or a path names something that is not a directory
	// that can be listed (a file, an unknown cap, a directory verify cap).
	ErrNotDir = errors.New("not a directory")
	// ErrNotWritable: a change was asked of a directory opened with its
	// read-only cap, or of an immutable directory. Tahoe's
	// NotWriteableError.
	ErrNotWritable = errors.New("directory is not writable")
)

// Replace says what linking a child does when the name is taken. The zero
// value, ReplaceAny, replaces whatever is there, as Tahoe does by default.
type Replace = dirnode.Replace

// The choices of Replace, Tahoe's replace= values true, false and
// only-files.
const (
	ReplaceAny       = dirnode.ReplaceAny
	ReplaceNone      = dirnode.ReplaceNone
	ReplaceOnlyFiles = dirnode.ReplaceOnlyFiles
)

// Dir is a directory: a mutable one (URI:DIR2, URI:DIR2-MDMF, or their
// read-only -RO forms) or an immutable one (URI:DIR2-CHK, URI:DIR2-LIT).
// Its children are links: a name, the child's caps and the link's
// metadata (dirnode.Entry).
//
// A Dir made by Client.Dir does no I/O until it is used; every method
// reads the newest version of a mutable directory, and every change is a
// read-modify-write with test-and-set (see Client). A Dir opened with a
// read-only cap, or an immutable one, refuses changes with ErrNotWritable,
// and the entries it lists never hold write caps. A Dir is safe for
// concurrent use.
type Dir struct {
	c        *Client
	cap      *cap.Dir
	writeKey []byte // the write key of a writable mutable directory, else nil

	mu      sync.Mutex
	file    *mutable.File   // a mutable directory's file, once opened
	entries []dirnode.Entry // an immutable directory's entries, once read
	loaded  bool
}

// Dir returns a handle on the directory k names, without touching the
// grid: a directory that does not exist fails only when it is used. k
// must be a directory cap other than a verify cap.
func (c *Client) Dir(k cap.Cap) (*Dir, error) {
	d, ok := k.(*cap.Dir)
	if !ok {
		return nil, fmt.Errorf("%w: %s is not a directory cap", ErrNotDir, cap.Kind(k))
	}
	dir := &Dir{c: c, cap: d}
	switch f := d.File.(type) {
	case *cap.MutableWrite:
		dir.writeKey = append([]byte(nil), f.WriteKey[:]...)
	case *cap.MutableRead, *cap.CHK, *cap.LIT:
	default:
		return nil, fmt.Errorf("%w: %s is a verify cap, which cannot be listed", ErrNotDir, cap.Kind(k))
	}
	return dir, nil
}

// OpenDir opens the directory k names and reads it once, so that a
// directory that cannot be read fails here (errors.Is
// mutable.ErrNoShares, mutable.ErrNotEnoughShares, immutable.ErrNoShares,
// ...).
func (c *Client) OpenDir(ctx context.Context, k cap.Cap) (*Dir, error) {
	d, err := c.Dir(k)
	if err != nil {
		return nil, err
	}
	if d.cap.IsMutable() {
		_, _, err = d.openFile(ctx)
	} else {
		_, err = d.immutableEntries(ctx)
	}
	if err != nil {
		return nil, err
	}
	return d, nil
}

// Cap is the cap the directory was opened with.
func (d *Dir) Cap() cap.Cap { return d.cap }

// ReadOnlyCap is the directory's read cap (the cap itself when it is
// read-only or immutable).
func (d *Dir) ReadOnlyCap() cap.Cap { return d.cap.ReadOnly() }

// IsReadOnly reports whether the directory cannot be changed through this
// handle: it was opened with a read-only cap, or it is immutable.
func (d *Dir) IsReadOnly() bool { return d.writeKey == nil }

// IsMutable reports whether the directory can change (by someone holding
// its write cap): false for immutable directories.
func (d *Dir) IsMutable() bool { return d.cap.IsMutable() }

// Format is the format of a mutable directory's file, SDMF or MDMF. For
// an immutable directory it is meaningless (SDMF).
func (d *Dir) Format() cap.Format {
	switch f := d.cap.File.(type) {
	case *cap.MutableWrite:
		return f.Format
	case *cap.MutableRead:
		return f.Format
	}
	return cap.SDMF
}

// ReadOnly returns a read-only view of the directory: a handle opened with
// its read cap, which lists no write caps and refuses changes.
func (d *Dir) ReadOnly() *Dir {
	if d.writeKey == nil {
		return d
	}
	ro, _ := d.c.Dir(d.cap.ReadOnly()) // the read cap of a directory is a directory cap
	return ro
}

// Writable returns nil if the directory can be changed through this
// handle, else an error wrapping ErrNotWritable that says why (it was
// opened with its read-only cap, or it is immutable).
func (d *Dir) Writable() error { return d.writable() }

func (d *Dir) writable() error {
	switch {
	case !d.cap.IsMutable():
		return fmt.Errorf("%w: an immutable directory cannot be changed", ErrNotWritable)
	case d.writeKey == nil:
		return fmt.Errorf("%w: the directory was opened with its read-only cap", ErrNotWritable)
	}
	return nil
}

// openFile opens a mutable directory's file on first use. opened is true
// when this call opened it: the version just found has not been read yet
// and is the newest, so it can be read without asking the servers again.
func (d *Dir) openFile(ctx context.Context) (f *mutable.File, opened bool, err error) {
	d.mu.Lock()
	f = d.file
	d.mu.Unlock()
	if f != nil {
		return f, false, nil
	}
	f, err = mutable.Open(ctx, d.c.cfg.Peers, d.cap, d.c.mutableOptions())
	if err != nil {
		return nil, false, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.file != nil { // another call opened it meanwhile
		return d.file, false, nil
	}
	d.file = f
	return f, true, nil
}

// immutableEntries reads an immutable directory once: it never changes.
func (d *Dir) immutableEntries(ctx context.Context) ([]dirnode.Entry, error) {
	d.mu.Lock()
	if d.loaded {
		defer d.mu.Unlock()
		return d.entries, nil
	}
	d.mu.Unlock()
	var data []byte
	switch f := d.cap.File.(type) {
	case *cap.LIT:
		data = f.Data
	case *cap.CHK:
		r, err := d.c.OpenFile(ctx, f)
		if err != nil {
			return nil, err
		}
		var b bytes.Buffer
		if _, err := r.WriteRange(ctx, &b, 0, -1); err != nil {
			return nil, err
		}
		data = b.Bytes()
	}
	entries, err := dirnode.Unpack(data, nil, true)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.entries, d.loaded = entries, true
	return entries, nil
}

// List returns the directory's children in the order they are stored
// (Tahoe stores them sorted by name), each with its caps and the
// metadata of its link. Through a read-only handle no entry holds a
// write cap. The entries are the caller's to change.
func (d *Dir) List(ctx context.Context) ([]dirnode.Entry, error) {
	if !d.cap.IsMutable() {
		entries, err := d.immutableEntries(ctx)
		if err != nil {
			return nil, err
		}
		out := make([]dirnode.Entry, len(entries))
		for i, e := range entries {
			e.Metadata = e.Metadata.Clone()
			out[i] = e
		}
		return out, nil
	}
	f, opened, err := d.openFile(ctx)
	if err != nil {
		return nil, err
	}
	var data []byte
	start := time.Now()
	op := d.c.history.begin(ctx, OpKindRetrieve, f.StorageIndex(), f.Size())
	if opened {
		data, err = readCurrent(ctx, f)
	} else {
		data, err = f.Read(ctx)
	}
	d.c.count.done(opRetrieve, len(data), err, start)
	op.endSized(int64(len(data)), err)
	if err != nil {
		return nil, err
	}
	return dirnode.Unpack(data, d.writeKey, false)
}

// readCurrent reads the version of f last seen, without asking the
// servers for a newer one.
func readCurrent(ctx context.Context, f *mutable.File) ([]byte, error) {
	buf := make([]byte, f.Size())
	if len(buf) == 0 {
		return buf, nil
	}
	n, err := f.ReadAt(ctx, buf, 0)
	if n == len(buf) && (err == nil || errors.Is(err, io.EOF)) {
		return buf, nil
	}
	if err == nil {
		err = io.ErrUnexpectedEOF
	}
	return nil, err
}

// Get returns the child named name (compared after NFC normalisation, as
// Tahoe does), or an error wrapping ErrNoChild.
func (d *Dir) Get(ctx context.Context, name string) (dirnode.Entry, error) {
	entries, err := d.List(ctx)
	if err != nil {
		return dirnode.Entry{}, err
	}
	if i := dirnode.Find(entries, name); i >= 0 {
		return entries[i], nil
	}
	return dirnode.Entry{}, fmt.Errorf("%w: %q", ErrNoChild, dirnode.NFC(name))
}

// Child opens the child named name (see OpenNode). Children of a
// read-only directory open read-only.
func (d *Dir) Child(ctx context.Context, name string) (Node, error) {
	e, err := d.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	return d.c.OpenNode(ctx, e.Cap())
}

// Lookup follows a slash-separated path of child names from d and returns
// the entry of the last one: its caps and the metadata of the link that
// leads to it. Empty path components are skipped; an empty path returns
// an entry for d itself, with no name and no metadata. A component that
// is missing fails with ErrNoChild, one that is not a directory but has
// more path below it with ErrNotDir.
func (d *Dir) Lookup(ctx context.Context, path string) (dirnode.Entry, error) {
	parts := splitPath(path)
	if len(parts) == 0 {
		e := dirnode.Entry{Read: d.cap.ReadOnly()}
		if d.writeKey != nil {
			e.Write = d.cap
		}
		return e, nil
	}
	cur := d
	for i, p := range parts {
		e, err := cur.Get(ctx, p)
		if err != nil {
			return dirnode.Entry{}, fmt.Errorf("%s: %w", strings.Join(parts[:i+1], "/"), err)
		}
		if i == len(parts)-1 {
			return e, nil
		}
		if e.Kind() != dirnode.KindDir {
			return dirnode.Entry{}, fmt.Errorf("%s: %w", strings.Join(parts[:i+1], "/"), ErrNotDir)
		}
		if cur, err = d.c.Dir(e.Cap()); err != nil {
			return dirnode.Entry{}, err
		}
	}
	panic("unreachable")
}

// splitPath splits a slash-separated path, dropping empty components.
func splitPath(path string) []string {
	var parts []string
	for _, p := range strings.Split(path, "/") {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return parts
}

// Resolve follows path from the directory dirCap names (see Dir.Lookup)
// and returns the entry found there; OpenNode opens it.
func (c *Client) Resolve(ctx context.Context, dirCap cap.Cap, path string) (dirnode.Entry, error) {
	d, err := c.Dir(dirCap)
	if err != nil {
		return dirnode.Entry{}, err
	}
	return d.Lookup(ctx, path)
}
