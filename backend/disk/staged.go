package disk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/lafs/lafs/backend"
)

// retries bounds the loops that recreate a directory removed by a
// concurrent Delete, Commit or Abort between creating it and using it.
const retries = 100

// Create stages a new object as shares/incoming/<si>.<shnum> (mode 0600).
// It fails if that key already has an object staged.
func (d *Disk) Create(ctx context.Context, k backend.Key, size int64) (backend.Staged, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if size < 0 {
		return nil, fmt.Errorf("backend/disk: negative size %d", size)
	}
	name := filepath.Join(d.incoming, k.SI.String()+"."+strconv.Itoa(int(k.Share)))
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, filePerm)
	if errors.Is(err, fs.ErrNotExist) {
		// Someone removed incoming/ from under a running server.
		if err := os.MkdirAll(d.incoming, dirPerm); err != nil {
			return nil, fmt.Errorf("backend/disk: %w", mapNoSpace(err))
		}
		f, err = os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, filePerm)
	}
	switch {
	case err == nil:
		return &staged{d: d, k: k, size: size, name: name, f: f}, nil
	case errors.Is(err, fs.ErrExist):
		return nil, fmt.Errorf("backend/disk: share %d of %s is already being written: %w", k.Share, k.SI, err)
	default:
		return nil, fmt.Errorf("backend/disk: %w", mapNoSpace(err))
	}
}

// mapNoSpace wraps backend.ErrNoSpace around ENOSPC and EDQUOT only: in
// the steps of an upload ENOENT does not mean that the object is missing.
func mapNoSpace(err error) error {
	if isNoSpace(err) {
		return fmt.Errorf("%w: %w", backend.ErrNoSpace, err)
	}
	return err
}

// staged is an object being written under incoming/. Commit and Abort each
// finish it; later calls to WriteAt or Commit fail, and Abort does nothing.
type staged struct {
	d    *Disk
	k    backend.Key
	size int64
	name string // the file under incoming/

	mu sync.Mutex
	f  *os.File // nil once finished
}

var errFinished = errors.New("backend/disk: staged object already committed or aborted")

// WriteAt writes p at off, which must lie within the size given to Create.
func (s *staged) WriteAt(p []byte, off int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return errFinished
	}
	if off < 0 || off > s.size || int64(len(p)) > s.size-off {
		return fmt.Errorf("backend/disk: write of %d bytes at %d exceeds the staged size %d", len(p), off, s.size)
	}
	if _, err := s.f.WriteAt(p, off); err != nil {
		return fmt.Errorf("backend/disk: %w", mapNoSpace(err))
	}
	return nil
}

// ReadAt reads back what was written so far, as io.ReaderAt does; the file
// ends at the furthest byte written. It is not part of backend.Staged, but
// lets the storage server check that a rewrite repeats the bytes exactly
// (backend/mem offers it too).
func (s *staged) ReadAt(p []byte, off int64) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return 0, errFinished
	}
	n, err := s.f.ReadAt(p, off)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("backend/disk: %w", err)
	}
	return n, err
}

// Commit fsyncs the staged file, hard-links it to shares/<prefix>/<si>/<shnum>
// (creating any folder on the way), fsyncs that folder and then each parent
// whose new entry is not yet durable, and removes the incoming name. The
// file is durable before any name of it is, so a crash never shows a
// partial share; folder changes are all made before the first folder
// fsync, so that a journaling file system flushes them at once. A folder
// made by a concurrent commit is synced here too unless that commit has
// already done it, so success always means durable. A link never replaces an existing
// file, so of two commits to one key exactly one wins; the other gets
// backend.ErrExist. Unless ctx is already done (then the staged object may
// still be committed or aborted), Commit finishes the staged object whatever
// its outcome: on failure the staged bytes are discarded.
func (s *staged) Commit(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return errFinished
	}
	err := s.commit(ctx)
	s.finish()
	if err != nil {
		return fmt.Errorf("backend/disk: commit of share %d of %s: %w", s.k.Share, s.k.SI, err)
	}
	return nil
}

func (s *staged) commit(ctx context.Context) error {
	d := s.d
	if d.j != nil && s.size <= d.j.max {
		return s.commitJournaled(ctx)
	}
	if d.j != nil {
		if err := d.j.checkpointIfKey(s.k); err != nil {
			return err
		}
	}
	err := s.f.Sync()
	if cerr := s.f.Close(); err == nil {
		err = cerr // NFS and others may report a full disk only on close
	}
	s.f = nil
	if err != nil {
		return mapNoSpace(err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	final, err := s.link()
	if err != nil {
		return err
	}
	dir := filepath.Dir(final)
	if err := d.syncChain(dir, filepath.Dir(dir)); err != nil {
		os.Remove(final) // not durable: take it back
		return mapNoSpace(err)
	}
	return nil
}

// commitJournaled commits through the journal: the object's bytes go
// into the log, and once the log is durable the staged file is linked
// into place, with no fsync of it or of its folders.
func (s *staged) commitJournaled(ctx context.Context) error {
	d := s.d
	data, err := io.ReadAll(io.NewSectionReader(s.f, 0, s.size))
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	s.f = nil
	if err != nil {
		return mapNoSpace(err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	gen, pos, err := d.j.startCreate(s.k, data)
	if err != nil {
		return err
	}
	err = d.j.wait(gen, pos)
	if err == nil {
		_, err = s.link()
	}
	if ferr := d.j.finishCreate(s.k, err == nil); err == nil {
		err = ferr
	}
	return err
}

// link hard-links the staged file to shares/<prefix>/<si>/<shnum>, making
// the folders it needs, and returns that name.
func (s *staged) link() (string, error) {
	d := s.d
	siName := s.k.SI.String()
	prefix := filepath.Join(d.shares, siName[:2])
	dir := filepath.Join(prefix, siName)
	final := filepath.Join(dir, strconv.Itoa(int(s.k.Share)))
	for range retries {
		err := d.mkdir(prefix)
		if err == nil {
			err = d.mkdir(dir)
		}
		if err == nil {
			err = os.Link(s.name, final)
		}
		switch {
		case err == nil:
			return final, nil
		case errors.Is(err, fs.ErrExist):
			return "", fmt.Errorf("%w: %w", backend.ErrExist, err)
		case errors.Is(err, fs.ErrNotExist):
			if _, serr := os.Lstat(s.name); serr != nil {
				return "", fmt.Errorf("staged file gone (was the storage folder opened twice?): %w", serr)
			}
			continue // a concurrent Delete removed a folder it emptied
		default:
			removeEmpty(dir, d.shares) // folders made for nothing
			return "", mapNoSpace(err)
		}
	}
	return "", fmt.Errorf("%s keeps vanishing", dir)
}

// mkdir makes dir (mode 0700) unless it exists, noting a new one as
// unsynced.
func (d *Disk) mkdir(dir string) error {
	d.mkdirMu.Lock()
	err := os.Mkdir(dir, dirPerm)
	if err == nil {
		d.unsynced.Store(dir, struct{}{})
	}
	d.mkdirMu.Unlock()
	if err == nil {
		return nil
	}
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	return err
}

// syncChain fsyncs dir (shares/<prefix>/<si>, which got a new entry), then
// prefix if dir's own entry in it is not known durable, then shares/ if
// prefix's is not.
func (d *Disk) syncChain(dir, prefix string) error {
	if err := syncDir(dir); err != nil {
		return err
	}
	for _, c := range [][2]string{{dir, prefix}, {prefix, d.shares}} {
		child, parent := c[0], c[1]
		if _, ok := d.unsynced.Load(child); !ok {
			continue
		}
		if err := syncDir(parent); err != nil {
			return err
		}
		d.unsynced.Delete(child)
	}
	return nil
}

// Abort discards the staged object; after Commit or Abort it does nothing.
func (s *staged) Abort() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	return s.finish()
}

// finish closes the staged file if it is open and removes its incoming
// name.
func (s *staged) finish() error {
	if s.f != nil {
		s.f.Close()
		s.f = nil
	}
	err := os.Remove(s.name)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("backend/disk: %w", err)
	}
	return nil
}
