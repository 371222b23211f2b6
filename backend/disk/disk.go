// Package disk stores share containers in a local folder laid out exactly as
// Tahoe-LAFS lays out its storage directory (allmydata/storage/server.py), so
// a Tahoe storage folder is served as it is and ours can be handed back:
//
//	BASEDIR/storage/shares/<prefix>/<si>/<shnum>  committed shares
//	BASEDIR/storage/shares/incoming/              uploads in progress
//
// <si> is the storage index in Tahoe's base32 (26 characters), <prefix> its
// first two characters (the first 10 bits), and <shnum> the share number in
// decimal. Immutable and mutable containers share the scheme; this package
// never looks inside them.
//
// New objects are written as incoming/<si>.<shnum> and moved into place by
// Commit: fsync the file, hard-link it to its final name (which fails,
// instead of replacing, when a share is already there), fsync the folders
// whose entries changed, then drop the incoming name. (Tahoe stages at
// incoming/<prefix>/<si>/<shnum>; one flat folder spares two mkdirs and
// two rmdirs per share, and nothing but this package reads incoming/.) Open
// wipes incoming/, as Tahoe does at start, so a crash mid-upload leaves
// nothing visible.
//
// No lock is held across calls. Directories come and go concurrently (Delete
// and Commit remove the ones they empty, relying on rmdir refusing a
// non-empty directory, as Tahoe does), so the steps that create a file in a
// directory retry when it vanishes under them.
package disk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/backend"
)

// Permissions of what the backend creates.
const (
	dirPerm  = 0o700
	filePerm = 0o600
)

// Disk is a backend.Backend over a Tahoe storage directory. Its methods are
// safe for concurrent use; callers serialize writes to one key, as
// backend.Backend requires.
type Disk struct {
	shares   string // <dir>/shares
	incoming string // <dir>/shares/incoming

	// unsynced holds the folders Commit made whose entry in their parent
	// is not yet known durable: the parent needs an fsync, by whichever
	// commit gets there first. A folder not in it is durable (it was
	// there at Open, or its maker synced its parent). mkdirMu orders each
	// Mkdir with its note, so that a commit finding a folder already there
	// also finds the note if one is due.
	unsynced sync.Map // folder path → struct{}
	mkdirMu  sync.Mutex

	// j is the journal of small changes (nil where there is none); see
	// journal.go. direct holds the keys written in place outside it
	// since their last Sync.
	j              *journal
	direct         sync.Map // backend.Key → struct{}
	replayProblems []error
}

var _ backend.Backend = (*Disk)(nil)

// Open opens the Tahoe storage directory dir (BASEDIR/storage), creating dir,
// dir/shares and dir/shares/incoming when missing, and removes everything
// left under incoming/ by uploads that never finished.
func Open(dir string) (*Disk, error) {
	d := &Disk{shares: filepath.Join(dir, "shares")}
	d.incoming = filepath.Join(d.shares, "incoming")
	if err := os.MkdirAll(d.incoming, dirPerm); err != nil {
		return nil, fmt.Errorf("backend/disk: %w", mapNoSpace(err))
	}
	if haveJournal {
		// Lock first: incoming/ may be another process's.
		var err error
		if d.j, err = lockJournal(d, filepath.Join(dir, journalName)); err != nil {
			return nil, err
		}
	}
	if err := d.cleanIncoming(); err != nil {
		d.Close()
		return nil, err
	}
	if d.j != nil {
		var err error
		if d.replayProblems, err = d.j.recover(); err != nil {
			d.Close()
			return nil, err
		}
	}
	return d, nil
}

// cleanIncoming removes what uploads that never finished left in incoming/.
func (d *Disk) cleanIncoming() error {
	ents, err := os.ReadDir(d.incoming)
	if err != nil {
		return fmt.Errorf("backend/disk: %w", err)
	}
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(d.incoming, e.Name())); err != nil {
			return fmt.Errorf("backend/disk: cleaning incoming: %w", err)
		}
	}
	return nil
}

// ReplayProblems returns the changes that Open found in the journal but
// could not make (a folder in a share's way, a full disk), each with its
// share; Open made the others and went on. A server logs them.
func (d *Disk) ReplayProblems() []error { return d.replayProblems }

// Close flushes the journal and closes it; the Disk must not be used
// after. (Not closing is safe: the next Open replays the journal.)
func (d *Disk) Close() error {
	if d.j == nil {
		return nil
	}
	return d.j.close()
}

// siDir is shares/<prefix>/<si> under root (d.shares or d.incoming).
func siDir(root string, si lafs.StorageIndex) string {
	s := si.String()
	return filepath.Join(root, s[:2], s)
}

func (d *Disk) path(k backend.Key) string {
	return filepath.Join(siDir(d.shares, k.SI), strconv.Itoa(int(k.Share)))
}

// mapErr wraps the backend's sentinel errors around an error of the file
// system met at path, a committed object's name: ErrNoSpace around ENOSPC
// and EDQUOT, ErrNotExist around ENOENT and when path is not a regular file
// (a folder with a share's name is no share).
func mapErr(path string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w: %w", backend.ErrNotExist, err)
	case isNoSpace(err):
		return fmt.Errorf("%w: %w", backend.ErrNoSpace, err)
	}
	if fi, serr := os.Lstat(path); serr == nil && !fi.Mode().IsRegular() {
		return fmt.Errorf("%w: %w", backend.ErrNotExist, err)
	}
	return err
}

// shareNum parses a share file's name: a decimal number in canonical form
// (no sign, no leading zeros) that fits a ShareNum. Tahoe accepts any
// ^[0-9]+$, but a name such as "007" could not be found again by its number.
func shareNum(name string) (lafs.ShareNum, bool) {
	n, err := strconv.ParseUint(name, 10, 16)
	if err != nil || strconv.FormatUint(n, 10) != name {
		return 0, false
	}
	return lafs.ShareNum(n), true
}

// isFile reports whether the entry e of dir is a regular file, or a
// symbolic link to one (Size and ReadAt follow links).
func isFile(dir string, e fs.DirEntry) bool {
	if e.Type()&fs.ModeSymlink != 0 {
		fi, err := os.Stat(filepath.Join(dir, e.Name()))
		return err == nil && fi.Mode().IsRegular()
	}
	return e.Type().IsRegular()
}

// List returns the share numbers of the files named by a number in si's
// folder, ascending; anything else there (folders, other names, names with
// leading zeros) is ignored.
func (d *Disk) List(ctx context.Context, si lafs.StorageIndex) ([]lafs.ShareNum, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(siDir(d.shares, si))
	if errors.Is(err, fs.ErrNotExist) {
		return []lafs.ShareNum{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("backend/disk: %w", err)
	}
	out := []lafs.ShareNum{}
	for _, e := range ents {
		if n, ok := shareNum(e.Name()); ok && isFile(siDir(d.shares, si), e) {
			out = append(out, n)
		}
	}
	// ReadDir sorts by name, which is not numeric order ("10" < "2").
	slices.Sort(out)
	return out, nil
}

// stat returns the FileInfo of a committed object, which must be a regular
// file.
func (d *Disk) stat(k backend.Key) (fs.FileInfo, error) {
	fi, err := os.Stat(d.path(k))
	if err != nil {
		return nil, fmt.Errorf("backend/disk: %w", mapErr(d.path(k), err))
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("backend/disk: %s is not a regular file: %w", d.path(k), backend.ErrNotExist)
	}
	return fi, nil
}

// Size returns the size of the file of a committed object.
func (d *Disk) Size(ctx context.Context, k backend.Key) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	fi, err := d.stat(k)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// ReadAt reads from a committed object as io.ReaderAt does.
func (d *Disk) ReadAt(ctx context.Context, k backend.Key, p []byte, off int64) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, fmt.Errorf("backend/disk: negative offset %d", off)
	}
	path := d.path(k)
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("backend/disk: %w", mapErr(path, err))
	}
	defer f.Close()
	n, err := f.ReadAt(p, off)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("backend/disk: %w", mapErr(path, err))
	}
	return n, err
}

// openCommitted opens a committed object for writing.
func (d *Disk) openCommitted(k backend.Key) (*os.File, error) {
	f, err := os.OpenFile(d.path(k), os.O_WRONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("backend/disk: %w", mapErr(d.path(k), err))
	}
	return f, nil
}

// WriteAt writes p at off of a committed object; Sync makes it durable.
func (d *Disk) WriteAt(ctx context.Context, k backend.Key, p []byte, off int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if off < 0 {
		return fmt.Errorf("backend/disk: negative offset %d", off)
	}
	if err := d.beforeChange(k, len(p)); err != nil {
		return err
	}
	f, err := d.openCommitted(k)
	if err != nil {
		return err
	}
	_, err = f.WriteAt(p, off)
	if err := closeFile(f, err); err != nil {
		return err
	}
	return d.afterChange(recWrite, k, off, p)
}

// beforeChange prepares an in-place change of n bytes to k: one too large
// for the journal is made outside it (after a checkpoint if the log holds
// records of k) and fsynced by Sync.
func (d *Disk) beforeChange(k backend.Key, n int) error {
	if d.j == nil || int64(n) <= d.j.max {
		return nil
	}
	if err := d.j.checkpointIfKey(k); err != nil {
		return err
	}
	d.direct.Store(k, struct{}{})
	return nil
}

// afterChange logs an in-place change made to k's file, unless it was made
// outside the journal.
func (d *Disk) afterChange(kind byte, k backend.Key, off int64, data []byte) error {
	if d.j == nil || int64(len(data)) > d.j.max {
		return nil
	}
	return d.j.logChange(kind, k, off, data)
}

// Truncate sets a committed object's size; Sync makes it durable.
func (d *Disk) Truncate(ctx context.Context, k backend.Key, size int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if size < 0 {
		return fmt.Errorf("backend/disk: negative size %d", size)
	}
	f, err := d.openCommitted(k)
	if err != nil {
		return err
	}
	if err := closeFile(f, f.Truncate(size)); err != nil {
		return err
	}
	return d.afterChange(recTruncate, k, size, nil)
}

// Sync makes the WriteAt and Truncate calls before it durable: one flush
// of the journal that they share with other changes, or an fsync of the
// object where there is no journal or they were too large for it.
func (d *Disk) Sync(ctx context.Context, k backend.Key) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f, err := d.openCommitted(k)
	if err != nil {
		return err
	}
	if _, direct := d.direct.LoadAndDelete(k); direct || d.j == nil {
		if err := f.Sync(); err != nil {
			if direct {
				d.direct.Store(k, struct{}{}) // a retry must fsync again
			}
			return closeFile(f, err)
		}
	}
	if err := closeFile(f, nil); err != nil {
		return err
	}
	if d.j != nil {
		return d.j.syncKey(k)
	}
	return nil
}

// closeFile closes f, a committed object open for writing, returning the
// first of err and the error of closing, mapped.
func closeFile(f *os.File, err error) error {
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("backend/disk: %w", mapErr(f.Name(), err))
	}
	return nil
}

// Delete removes a committed object, then its storage index's folder and
// the prefix folder if that left them empty (as Tahoe does).
func (d *Disk) Delete(ctx context.Context, k backend.Key) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// os.Remove would also remove an empty directory with a share's name.
	if _, err := d.stat(k); err != nil {
		return err
	}
	if d.j != nil {
		// Durable before the file goes (see logDelete).
		if err := d.j.logDelete(k); err != nil {
			return err
		}
	}
	if err := os.Remove(d.path(k)); err != nil {
		return fmt.Errorf("backend/disk: %w", mapErr(d.path(k), err))
	}
	removeEmpty(siDir(d.shares, k.SI), d.shares)
	return nil
}

// removeEmpty removes dir and then its parents up to, not including, stop,
// while they are empty. rmdir refuses a directory that is not empty (and
// anything that is not a directory), so a concurrent writer's file is safe.
func removeEmpty(dir, stop string) {
	for dir != stop && len(dir) > len(stop) {
		if rmdir(dir) != nil {
			return
		}
		dir = filepath.Dir(dir)
	}
}

// Available returns the bytes free to unprivileged users of the file
// system holding the shares (statfs f_bavail × f_bsize). Space reserved by
// configuration is for the caller to subtract.
func (d *Disk) Available(ctx context.Context) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	n, err := available(d.shares)
	if err != nil {
		return 0, fmt.Errorf("backend/disk: free space of %s: %w", d.shares, err)
	}
	return n, nil
}

// Walk calls f, in the order of the base32 names, for every storage index
// whose folder shares/<prefix>/<si> holds at least one share. It skips
// incoming/ (where uploads are staged) and every name that is not a
// two-character prefix folder holding strictly valid base32 storage
// indexes that begin with it. Folders removed during the walk are skipped.
func (d *Disk) Walk(ctx context.Context, f func(si lafs.StorageIndex) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	prefixes, err := os.ReadDir(d.shares)
	if err != nil {
		return fmt.Errorf("backend/disk: %w", err)
	}
	for _, p := range prefixes {
		if !p.IsDir() || !backend.IsPrefix(p.Name()) {
			continue // incoming/ is no prefix
		}
		if err := d.walkPrefix(ctx, p.Name(), f); err != nil {
			return err
		}
	}
	return nil
}

var _ backend.PrefixWalker = (*Disk)(nil)

// WalkPrefix calls f, in the order of the base32 names, for every storage
// index whose folder shares/<prefix>/<si> holds at least one share,
// reading that one prefix folder only. A prefix without a folder (or whose
// folder is no directory, which Walk passes over too) is empty; names in
// the folder that are not valid storage indexes beginning with prefix are
// skipped, as Walk skips them.
func (d *Disk) WalkPrefix(ctx context.Context, prefix string, f func(si lafs.StorageIndex) error) error {
	if !backend.IsPrefix(prefix) {
		return fmt.Errorf("backend/disk: %q is not a storage index prefix", prefix)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	fi, err := os.Lstat(filepath.Join(d.shares, prefix))
	if errors.Is(err, fs.ErrNotExist) || err == nil && !fi.IsDir() {
		return nil
	}
	if err != nil {
		return fmt.Errorf("backend/disk: %w", err)
	}
	return d.walkPrefix(ctx, prefix, f)
}

// walkPrefix walks the prefix folder shares/<prefix>; a missing one is
// empty.
func (d *Disk) walkPrefix(ctx context.Context, prefix string, f func(si lafs.StorageIndex) error) error {
	dir := filepath.Join(d.shares, prefix)
	sis, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("backend/disk: %w", err)
	}
	for _, e := range sis {
		if err := ctx.Err(); err != nil {
			return err
		}
		si, ok := parseSI(prefix, e.Name())
		if !ok || !e.IsDir() {
			continue
		}
		has, err := hasShares(filepath.Join(dir, e.Name()))
		if err != nil {
			return fmt.Errorf("backend/disk: %w", err)
		}
		if !has {
			continue
		}
		if err := f(si); err != nil {
			return err
		}
	}
	return nil
}

// parseSI parses a storage index folder's name, which must begin with
// prefix and be the one spelling lafs.StorageIndex.String gives (so upper
// case, wrong lengths and stray low bits in the last character are
// refused).
func parseSI(prefix, name string) (lafs.StorageIndex, bool) {
	si, err := lafs.ParseStorageIndex(name)
	return si, err == nil && name[:2] == prefix
}

// hasShares reports whether dir holds a share file; a missing dir holds none.
func hasShares(dir string) (bool, error) {
	f, err := os.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	for {
		ents, err := f.ReadDir(64)
		for _, e := range ents {
			if _, ok := shareNum(e.Name()); ok && isFile(dir, e) {
				return true, nil
			}
		}
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, err
		}
	}
}
