package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lafs/lafs"
)

// quarantineDir keeps account of the containers in Config.QuarantineDir,
// those this server put there and those an earlier run left, and deletes
// the oldest once they are too many, too large in all or too old. A timer
// deletes each as it comes of age.
type quarantineDir struct {
	mu    sync.Mutex
	files []qfile // oldest first
	bytes int64   // their sizes in all
	// unseen is the bytes of the files copied there rather than moved
	// out of the backend: the backend's free space does not count them,
	// so the server subtracts them from it (availableSpace).
	unseen  int64
	taken   int64 // shares taken out of service since the server started
	timer   *time.Timer
	stopped bool
}

// qfile is a container kept in the quarantine.
type qfile struct {
	path   string
	size   int64
	at     time.Time
	unseen bool // copied, not moved (see quarantineDir.unseen)
}

// unseenBytes returns the bytes the quarantine holds that the backend's
// free space does not count.
func (q *quarantineDir) unseenBytes() uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return uint64(max(q.unseen, 0))
}

// add counts f, just put in the quarantine, and deletes what the limits
// say.
func (q *quarantineDir) add(s *Server, f qfile) {
	q.mu.Lock()
	i, _ := slices.BinarySearchFunc(q.files, f.at, func(e qfile, t time.Time) int { return e.at.Compare(t) })
	q.files = slices.Insert(q.files, i, f)
	q.bytes += f.size
	if f.unseen {
		q.unseen += f.size
	}
	q.mu.Unlock()
	s.pruneQuarantine()
}

// discard deletes f, a copy made for a quarantine that did not happen
// (nil: none).
func (q *quarantineDir) discard(f *qfile) {
	if f != nil {
		os.Remove(f.path)
	}
}

// stopTimer stops the deletions by age, for good.
func (q *quarantineDir) stopTimer() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.stopped = true
	if q.timer != nil {
		q.timer.Stop()
	}
}

// pruneQuarantine deletes the containers in the quarantine older than
// Config.QuarantineMaxAge, then the oldest while they hold more than
// Config.QuarantineMaxBytes or number more than maxQuarantineFiles, and
// sets the timer for the next to come of age.
func (s *Server) pruneQuarantine() {
	q := &s.qdir
	q.mu.Lock()
	defer q.mu.Unlock()
	cutoff := s.now().Add(-s.cfg.QuarantineMaxAge)
	n := 0
	for n < len(q.files) {
		f := q.files[n]
		if !f.at.Before(cutoff) && q.bytes <= max(s.cfg.QuarantineMaxBytes, 0) && len(q.files)-n <= maxQuarantineFiles {
			break
		}
		if err := os.Remove(f.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.log.Warn("could not delete a quarantined container", "path", f.path, "err", err)
		} else {
			s.log.Info("quarantined container deleted", "path", f.path, "size", f.size, "since", f.at)
		}
		os.Remove(filepath.Dir(f.path)) // if empty
		q.bytes -= f.size
		if f.unseen {
			q.unseen -= f.size
		}
		n++
	}
	q.files = append(q.files[:0], q.files[n:]...)
	if q.timer != nil {
		q.timer.Stop()
		q.timer = nil
	}
	if len(q.files) > 0 && !q.stopped {
		wait := q.files[0].at.Add(s.cfg.QuarantineMaxAge).Sub(s.now())
		q.timer = time.AfterFunc(max(wait, time.Second), s.pruneQuarantine)
	}
}

// loadQuarantine counts what Config.QuarantineDir holds, as an earlier
// run left it (<si>/<shnum>.<time>, the time from the name or else the
// file's), removes the partial copies a crash left, and prunes it.
func (s *Server) loadQuarantine() error {
	root := s.cfg.QuarantineDir
	dirs, err := os.ReadDir(root)
	if err != nil {
		return fmt.Errorf("storage: quarantine folder: %w", err)
	}
	_, moved := s.b.(ShareMover)
	var files []qfile
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		if _, err := lafs.ParseStorageIndex(d.Name()); err != nil {
			continue
		}
		ents, err := os.ReadDir(filepath.Join(root, d.Name()))
		if err != nil {
			return fmt.Errorf("storage: quarantine folder: %w", err)
		}
		for _, e := range ents {
			path := filepath.Join(root, d.Name(), e.Name())
			if strings.Contains(e.Name(), ".tmp") {
				os.Remove(path) // a copy a crash cut short (older versions)
				continue
			}
			fi, err := e.Info()
			if err != nil || !fi.Mode().IsRegular() {
				continue
			}
			f := qfile{path: path, size: fi.Size(), at: fi.ModTime(), unseen: !moved}
			if _, stamp, ok := strings.Cut(e.Name(), "."); ok {
				stamp, _, _ = strings.Cut(stamp, "-")
				if t, err := time.Parse(quarantineTimeFormat, stamp); err == nil {
					f.at = t
				}
			}
			files = append(files, f)
		}
	}
	slices.SortFunc(files, func(a, b qfile) int { return a.at.Compare(b.at) })
	q := &s.qdir
	q.mu.Lock()
	q.files = files
	for _, f := range files {
		q.bytes += f.size
		if f.unseen {
			q.unseen += f.size
		}
	}
	q.mu.Unlock()
	s.pruneQuarantine()
	return nil
}

// syncDir flushes a folder's entries, as far as the system can; errors
// are ignored (the file in it was flushed, and only its name may be lost).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
