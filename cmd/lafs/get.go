package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"github.com/lafs/lafs/cap"
)

const getHelp = `usage: lafs [-d NODEDIR] get [options] REMOTE_FILE [LOCAL_FILE|-]

Retrieve a file from the grid and write it to the local filesystem. If
LOCAL_FILE is omitted or '-', the contents of the file are written to
stdout. REMOTE_FILE is alias:path, CAP/path, a cap, or a path under "tahoe:".

Examples:
 % lafs get FOO |less            # write to stdout
 % lafs get tahoe:FOO |less      # same
 % lafs get FOO bar              # write to local file
 % lafs get tahoe:FOO bar        # same`

// runGet downloads a file, as Tahoe's "tahoe get".
func runGet(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "get", getHelp)
	var sf storeFlags
	sf.register(fs, e)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() < 1 || fs.NArg() > 2 {
		return usagef("%s", getHelp)
	}
	s, err := sf.open(e)
	if err != nil {
		return err
	}
	from := fs.Arg(0)
	p, err := s.resolve(from, defaultAlias)
	if err != nil {
		return err
	}
	p.path = strings.TrimLeft(p.path, "/")
	c, err := typedCap(from, p, useRead)
	if err != nil {
		return err
	}
	if c == nil && p.path == "" {
		c, _ = cap.Parse(p.root) // an alias's, checked by resolve
	}
	if p.path == "" && c != nil && cap.IsDir(c) {
		return isDirSource(p)
	}
	to := fs.Arg(1)
	if to == "" {
		to = "-"
	}
	var save *saveFile
	if to != "-" {
		// Before anything is downloaded: may the target be written?
		if save, err = planSave(to); err != nil {
			return err
		}
	}
	wc, err := s.client()
	if err != nil {
		return err
	}
	resp, err := wc.download(ctx, p, 0)
	if err != nil {
		return failure(err, "Error during GET")
	}
	defer resp.Body.Close()
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") && p.path != "" {
		// A directory answers with its HTML page; so may a file.
		if n, err := wc.info(ctx, p); err == nil && n.isDir() {
			return isDirSource(p)
		}
	}
	var out io.Writer = e.stdout
	if save != nil {
		if err := save.open(); err != nil {
			return err
		}
		defer save.abort()
		out = save
	}
	// On a terminal, a progress line would mix with data sent to stdout.
	pl := newProgressLine(e.stderr, to == "-", transferLine("downloading"))
	pl.setTotals(resp.ContentLength, 0)
	if err := receive(ctx, wc, p, resp, pl.writer(out)); err != nil {
		return err
	}
	pl.finish()
	if save != nil {
		return save.commit()
	}
	return nil
}

// isDirSource is the error of a get of a directory, which would save its
// HTML page.
func isDirSource(p gridPath) error {
	return failf("error: %s is a directory, and lafs get copies one file: lafs cp -r %s LOCAL_DIR copies a directory, lafs ls %s lists it",
		p, shellWord(p.name), shellWord(p.name))
}

// maxResumes bounds how often receive asks again for the rest of a file
// whose transfer was cut.
const maxResumes = 3

// receive copies the body of a download (resp, a GET of p) to w. When the
// transfer is cut, it asks for the rest with a Range request: an
// immutable file (its ETag names its contents) then goes on from where it
// stopped, and a file whose next segment cannot be read gets an error
// status whose text says which segment failed and why, which receive
// returns.
func receive(ctx context.Context, wc *webClient, p gridPath, resp *http.Response, w io.Writer) error {
	total := resp.ContentLength
	etag := resp.Header.Get("ETag")
	var done int64
	for resumes := 0; ; resumes++ {
		n, err := io.Copy(w, resp.Body)
		resp.Body.Close()
		done += n
		var se *saveError
		if errors.As(err, &se) {
			return failf("error: %v", se)
		}
		if err == nil {
			if total >= 0 && done != total {
				return failf("Error during GET: the transfer ended after %d of %d bytes", done, total)
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		cut := fmt.Sprintf("the transfer was cut after %d of %d bytes", done, total)
		if total < 0 {
			cut = fmt.Sprintf("the transfer was cut after %d bytes", done)
		}
		if n == 0 && resumes > 0 || resumes == maxResumes {
			return failf("Error during GET: %s", cut)
		}
		resp, err = wc.download(ctx, p, done)
		var ae *apiError
		switch {
		case errors.As(err, &ae) && ae.code >= 400:
			return failf("Error during GET: %s: %s", cut, downloadFailure(ae))
		case ae != nil:
			return failf("Error during GET: %s", cut)
		case err != nil:
			return failf("Error during GET: %s, and asking for the rest failed: %v", cut, err)
		}
		if resp.StatusCode != http.StatusPartialContent || etag == "" || resp.Header.Get("ETag") != etag ||
			!strings.HasPrefix(resp.Header.Get("Content-Range"), fmt.Sprintf("bytes %d-", done)) {
			// Only the same immutable contents may be pieced together.
			resp.Body.Close()
			return failf("Error during GET: %s", cut)
		}
	}
}

// downloadFailure is the reason an error answer to a download gives: the
// part of Tahoe's text after "The full error message is:" when it has
// one (the rest is advice), or the whole of it.
func downloadFailure(ae *apiError) string {
	text := ae.text
	if _, full, ok := strings.Cut(text, "The full error message is:"); ok {
		text = strings.TrimSpace(full)
	}
	return fmt.Sprintf("%s: %s", ae.status, text)
}

// saveFile is where get saves a download to a local file, as Tahoe's
// open(path, "wb") and cp would, but safely: a file the user may not
// write is refused (never replaced behind its read-only mode); a new file
// gets the mode the umask gives (0666 less the umask); a file replaced
// keeps its mode. The download goes to a temporary file beside the
// target, renamed over it once the whole file has come, so that a failed
// download leaves the old file, or nothing, under the target's name.
// What the target was is checked again at the end: a file that appeared
// there during the download is not replaced, and one that changed is
// checked as at the start. Symbolic links are followed to the file they
// name. A target that is no regular file (a device, a FIFO), or whose
// directory may not be written, is written in place, as Tahoe writes
// every file; so is a file with other hard links or another owner, or
// one the rename may not replace (a sticky directory), from the complete
// temporary file.
type saveFile struct {
	name     string      // the target as the user named it, for messages
	path     string      // the file to write: name with symbolic links followed
	existing bool        // path is a regular file, to be replaced
	fi       fs.FileInfo // an existing file as planSave saw it
	mode     fs.FileMode // an existing file's permission bits, kept
	direct   bool        // write path in place: no temporary file
	f        *os.File    // open: the temporary file, or path when direct
	tmp      string      // the temporary file's name, "" when direct
}

// saveError is a failure to write the local file, as opposed to the
// transfer: it is not worth asking the node for the rest again.
type saveError struct {
	name string
	err  error
}

func (e *saveError) Error() string {
	return fmt.Sprintf("cannot save to %s: %v", quoteLocal(e.name, true), withoutPath(e.err))
}

func (e *saveError) Unwrap() error { return e.err }

// planSave checks, before a download, that get may write the local file
// name, and says why not in words that name it.
func planSave(name string) (*saveFile, error) {
	q := quoteLocal(name, true)
	s := &saveFile{name: name, path: name}
	fi, err := os.Lstat(name)
	if err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		target, err := filepath.EvalSymlinks(name)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, failf("error: %s is a symbolic link to a file that does not exist; not writing through it", q)
		case err != nil:
			return nil, failf("error: cannot follow the symbolic link %s: %v", q, withoutPath(err))
		}
		s.path = target
		fi, err = os.Lstat(target)
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		dir := filepath.Dir(s.path)
		st, err := os.Stat(dir)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, failf("error: cannot save to %s: there is no directory %s", q, quoteLocal(dir, true))
		case err != nil:
			return nil, failf("error: cannot save to %s: %v", q, withoutPath(err))
		case !st.IsDir():
			return nil, failf("error: cannot save to %s: %s is not a directory", q, quoteLocal(dir, true))
		}
		return s, nil
	case err != nil:
		return nil, failf("error: cannot save to %s: %v", q, withoutPath(err))
	case fi.IsDir():
		return nil, failf("error: %s is a directory; lafs get saves one file: name the file to write (%s)",
			q, quoteLocal(filepath.Join(name, "NAME"), true))
	case !fi.Mode().IsRegular():
		s.direct = true
		return s, nil
	}
	if err := s.mayWrite(fi); err != nil {
		return nil, err
	}
	s.existing, s.fi, s.mode = true, fi, fi.Mode().Perm()
	return s, nil
}

// mayWrite refuses to replace the existing file fi (at s.path) unless the
// user may write it, as the kernel decides (mode bits, ACLs, root):
// opening it for writing, without truncating it, asks.
func (s *saveFile) mayWrite(fi fs.FileInfo) error {
	f, err := os.OpenFile(s.path, os.O_WRONLY, 0)
	if errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS) {
		return failf("error: %s is not writable (mode %04o): lafs get does not replace a file you may not write; "+
			"make it writable (chmod u+w) or remove it first", quoteLocal(s.name, true), fi.Mode().Perm())
	}
	if err == nil {
		f.Close()
	}
	return nil
}

// open opens what the download is written to.
func (s *saveFile) open() error {
	if !s.direct {
		// A new file is created 0666 and the umask takes its part; a
		// file to replace gets its old mode at commit.
		perm := fs.FileMode(0o666)
		if s.existing {
			perm = 0o600
		}
		f, err := createTemp(filepath.Dir(s.path), "."+filepath.Base(s.path)+".lafs-", perm)
		switch {
		case err == nil:
			s.f, s.tmp = f, f.Name()
			return nil
		case !s.existing || !errors.Is(err, fs.ErrPermission):
			return failf("error: %v", &saveError{s.name, err})
		}
		// A writable file in a directory the user may not write: in
		// place, as Tahoe and cp do.
		s.direct = true
	}
	f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return failf("error: %v", &saveError{s.name, err})
	}
	s.f = f
	return nil
}

// Write writes to the file; its errors are *saveError.
func (s *saveFile) Write(b []byte) (int, error) {
	n, err := s.f.Write(b)
	if err != nil {
		err = &saveError{s.name, err}
	}
	return n, err
}

// errNoReplace is renameNoReplace's answer where it cannot refuse to
// replace a file atomically.
var errNoReplace = errors.New("no atomic rename without replacing")

// commit ends a complete download: the temporary file, flushed to disk
// and given the mode of the file it replaces, is renamed over it (or
// copied into it, see saveFile), and the directory flushed. The target
// is looked at again first: a file that appeared there meanwhile is not
// replaced, nor one that changed and may no longer be written; the
// download is then kept in the temporary file, which the error names.
func (s *saveFile) commit() error {
	f := s.f
	s.f = nil
	if s.tmp == "" {
		if err := f.Close(); err != nil {
			return failf("error: %v", &saveError{s.name, err})
		}
		return nil
	}
	err := f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return failf("error: %v", &saveError{s.name, err})
	}
	cur, err := os.Lstat(s.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// Absent, at the start or since: a new file, never put over
		// one that comes in the meantime.
		if err := s.chmodTemp(); err != nil {
			return err
		}
		if err := s.renameNew(); err != nil {
			return err
		}
		return s.syncDir()
	case err != nil:
		return failf("error: %v", &saveError{s.name, err})
	case !s.existing:
		return s.keep("it appeared during the download, and lafs get does not replace a file it did not check")
	case changed(s.fi, cur):
		if !cur.Mode().IsRegular() {
			return s.keep("it was replaced during the download by something that is not a regular file")
		}
		if err := s.mayWrite(cur); err != nil {
			return s.keep(fmt.Sprintf("it changed during the download and is now not writable (mode %04o); "+
				"lafs get does not replace a file you may not write", cur.Mode().Perm()))
		}
		s.mode = cur.Mode().Perm()
	}
	if sharedFile(cur) {
		return s.writeInPlace()
	}
	if err := s.chmodTemp(); err != nil {
		return err
	}
	if err := os.Rename(s.tmp, s.path); err != nil {
		if errors.Is(err, fs.ErrPermission) {
			// The directory lets no rename replace the file (a sticky
			// one): write it in place, as Tahoe does.
			return s.writeInPlace()
		}
		return failf("error: %v", &saveError{s.name, linkErr(err)})
	}
	s.tmp = ""
	return s.syncDir()
}

// changed says whether the file now at a path (b) differs from what was
// there before (a): another file, or another mode, size or time.
func changed(a, b fs.FileInfo) bool {
	return !os.SameFile(a, b) || a.Mode() != b.Mode() || a.Size() != b.Size() || !a.ModTime().Equal(b.ModTime())
}

// chmodTemp gives the temporary file the mode of the file it replaces.
func (s *saveFile) chmodTemp() error {
	if !s.existing {
		return nil
	}
	if err := os.Chmod(s.tmp, s.mode); err != nil {
		return failf("error: %v", &saveError{s.name, linkErr(err)})
	}
	return nil
}

// renameNew renames the temporary file to the target, unless a file is
// there: atomically where the system can (renameat2 RENAME_NOREPLACE, or
// a hard link), else after one more look.
func (s *saveFile) renameNew() error {
	err := renameNoReplace(s.tmp, s.path)
	if errors.Is(err, errNoReplace) {
		if err = os.Link(s.tmp, s.path); err == nil {
			os.Remove(s.tmp)
		} else if !errors.Is(err, fs.ErrExist) {
			// No hard links here either: as close as a rename gets.
			if _, lerr := os.Lstat(s.path); errors.Is(lerr, fs.ErrNotExist) {
				err = os.Rename(s.tmp, s.path)
			}
		}
	}
	switch {
	case errors.Is(err, fs.ErrExist):
		return s.keep("it appeared during the download, and lafs get does not replace a file it did not check")
	case err != nil:
		return failf("error: %v", &saveError{s.name, linkErr(err)})
	}
	s.tmp = ""
	return nil
}

// writeInPlace copies the complete temporary file into the target, which
// keeps its owner, mode and links, and removes the temporary file.
func (s *saveFile) writeInPlace() error {
	src, err := os.Open(s.tmp)
	if err != nil {
		return failf("error: %v", &saveError{s.name, linkErr(err)})
	}
	defer src.Close()
	dst, err := os.OpenFile(s.path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return s.keep(fmt.Sprintf("it could not be written in place: %v", withoutPath(err)))
	}
	_, err = io.Copy(dst, src)
	if err == nil {
		err = dst.Sync()
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return s.keep(fmt.Sprintf("writing it in place failed: %v", withoutPath(err)))
	}
	src.Close()
	os.Remove(s.tmp)
	s.tmp = ""
	return nil
}

// keep ends a commit that did not replace the target: the download stays
// in the temporary file, which the error names with why.
func (s *saveFile) keep(why string) error {
	tmp := s.tmp
	s.tmp = ""
	return failf("error: not saved to %s: %s; the download is kept in %s",
		quoteLocal(s.name, true), why, quoteLocal(tmp, true))
}

// syncDir flushes the target's directory, so that the rename lasts.
// Windows cannot flush a directory, and some filesystems refuse to.
func (s *saveFile) syncDir() error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(filepath.Dir(s.path))
	if err != nil {
		return nil // the file is saved; nothing to flush it by
	}
	err = d.Sync()
	d.Close()
	if err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, errors.ErrUnsupported) {
		return failf("error: %s is saved, but flushing its directory failed: %v", quoteLocal(s.name, true), withoutPath(err))
	}
	return nil
}

// linkErr is the system error inside a *os.LinkError, which names both
// paths.
func linkErr(err error) error {
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}

// abort closes the file of a download that did not complete and removes
// the temporary file; after commit it does nothing.
func (s *saveFile) abort() {
	if s.f != nil {
		s.f.Close()
		s.f = nil
	}
	if s.tmp != "" {
		os.Remove(s.tmp)
		s.tmp = ""
	}
}

// createTemp creates a new file in dir named prefix and random digits,
// with perm (less the umask), as os.CreateTemp does with 0600.
func createTemp(dir, prefix string, perm fs.FileMode) (*os.File, error) {
	for tries := 0; ; tries++ {
		name := filepath.Join(dir, prefix+strconv.FormatUint(uint64(rand.Uint32()), 10))
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, perm)
		if errors.Is(err, fs.ErrExist) && tries < 100 {
			continue
		}
		return f, err
	}
}
