package storage

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/backend"
)

// What a server does with a corruption advisory, beyond recording it
// (advise.go): when Config.VerifyShare is set, it checks the share named,
// and a share that fails is moved out of service into quarantine. A share
// that passes stays, so that a client that lies cannot make a server drop
// good shares. Once out of service, a share is no longer listed, read,
// leased or counted, and its share number can be allocated afresh, so that
// a repairer can put a good copy in its place. The quarantined bytes are
// kept for inspection: in Config.QuarantineDir as <si>/<shnum>.<time>
// (the whole container, leases and all), or in memory without one.

// ShareVerifier checks the data of a share (what ReadImmutable or
// ReadMutable serve, size bytes read through share) for consistency with
// itself. kind is "immutable" or "mutable". It returns nil for a good
// share and an error saying what is wrong with a bad one; errors of share
// itself must be returned (wrapped), so that the server can tell a read
// that failed from a share that did. The node passes immutable.SelfCheckAt
// and mutable.SelfCheckAt; package storage knows neither format.
type ShareVerifier func(kind string, shnum lafs.ShareNum, share io.ReaderAt, size int64) error

// QuarantinedShare is a share taken out of service.
type QuarantinedShare struct {
	SI    lafs.StorageIndex
	Share lafs.ShareNum
	// Kind is "immutable", "mutable", or "unknown" for a file that is no
	// container.
	Kind string
	At   time.Time
	// Why is what its check found.
	Why string
	// Path is where its container is kept, when Config.QuarantineDir
	// is set; else Container holds it.
	Path      string
	Container []byte
}

// Quarantined returns the shares this server took out of service since it
// started, oldest first.
func (s *Server) Quarantined() []QuarantinedShare {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]QuarantinedShare(nil), s.quarantined...)
}

// shareAt reads a share's data through its container as an io.ReaderAt,
// keeping the first error of the backend, so that it is not mistaken for
// corruption.
type shareAt struct {
	ctx   context.Context
	b     backend.Backend
	k     backend.Key
	start int64 // where the share data begins in the container
	size  int64 // its length
	err   error
}

func (r *shareAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	if off >= r.size {
		return 0, io.EOF
	}
	want := p
	if int64(len(p)) > r.size-off {
		want = p[:r.size-off]
	}
	n, err := r.b.ReadAt(r.ctx, r.k, want, r.start+off)
	if n == len(want) {
		if len(want) < len(p) {
			return n, io.EOF
		}
		return n, nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		// The container is shorter than its header said: corrupt, and
		// the verifier will see a short read.
		return n, io.ErrUnexpectedEOF
	}
	if r.err == nil {
		r.err = err
	}
	return n, err
}

// verifyAdvised checks share k as the advisory of the given kind asked.
// It returns the reason the share is bad (nil when it is good), or an
// error when it could not tell (the share went away, the backend failed,
// ctx ended). The caller holds si's lock.
func (s *Server) verifyAdvised(ctx context.Context, want shareKind, k backend.Key) (bad error, err error) {
	kind, err := s.shareKindOf(ctx, k)
	switch {
	case kind == kindCorrupt:
		return err, nil
	case err != nil:
		return nil, err
	case kind != want:
		return nil, noShare(want, k)
	}
	r := &shareAt{ctx: ctx, b: s.b, k: k}
	switch kind {
	case kindImmutable:
		_, end, _, err := s.openImmutable(ctx, k)
		if errors.Is(err, lafs.ErrCorruptContainer) {
			return err, nil
		}
		if err != nil {
			return nil, err
		}
		r.start, r.size = ImmutableHeaderSize, end-ImmutableHeaderSize
	case kindMutable:
		m, err := s.openMutable(ctx, k)
		if errors.Is(err, lafs.ErrCorruptContainer) {
			return err, nil
		}
		if err != nil {
			return nil, err
		}
		r.start, r.size = MutableDataOffset, int64(m.h.DataLength)
	}
	verdict := s.cfg.VerifyShare(kindString(kind), k.Share, r, r.size)
	if r.err != nil {
		return nil, s.backendErrf(r.err, "reading %s to check it", shareName(kind, k))
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return verdict, nil
}

// checkAdvised checks the share an advisory named and quarantines it if
// it fails. Checks run one at a time. The share is checked under a read
// lock, so that reads go on meanwhile, and once more under the write lock
// before it is moved, in case a write replaced it in between. Failures to
// check or to move are logged: the advisory itself was taken.
func (s *Server) checkAdvised(ctx context.Context, want shareKind, k backend.Key) {
	select {
	case s.verifying <- struct{}{}:
	case <-ctx.Done():
		return
	}
	defer func() { <-s.verifying }()

	unlock := s.locks.rlock(k.SI)
	bad, err := s.verifyAdvised(ctx, want, k)
	unlock()
	if err != nil {
		s.log.Warn("could not check a share reported corrupt", "si", k.SI, "share", k.Share, "err", err)
		return
	}
	if bad == nil {
		s.log.Info("share reported corrupt passes its self-check; kept", "si", k.SI, "share", k.Share, "kind", kindString(want))
		return
	}
	ctx = context.WithoutCancel(ctx)
	unlock = s.locks.lock(k.SI)
	defer unlock()
	if bad, err = s.verifyAdvised(ctx, want, k); err != nil || bad == nil {
		if err != nil {
			s.log.Warn("could not check a share reported corrupt", "si", k.SI, "share", k.Share, "err", err)
		}
		return
	}
	if err := s.quarantine(ctx, k, bad); err != nil {
		s.log.Error("could not quarantine a corrupt share; it stays in service", "si", k.SI, "share", k.Share, "err", err)
	}
}

// quarantine moves share k out of service: its container is copied to
// the quarantine, then deleted from the backend. The caller holds si's
// write lock.
func (s *Server) quarantine(ctx context.Context, k backend.Key, why error) error {
	kind, _ := s.shareKindOf(ctx, k)
	size, err := s.b.Size(ctx, k)
	if err != nil {
		return s.backendErrf(err, "quarantining %s", shareName(kind, k))
	}
	q := QuarantinedShare{SI: k.SI, Share: k.Share, Kind: kindString(kind), At: s.now(), Why: why.Error()}
	if s.cfg.QuarantineDir != "" {
		if q.Path, err = s.keepFile(ctx, k, size, q.At); err != nil {
			return err
		}
	} else {
		q.Container = make([]byte, size)
		n, err := s.b.ReadAt(ctx, k, q.Container, 0)
		if n < len(q.Container) {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return s.backendErrf(err, "quarantining %s", shareName(kind, k))
		}
	}
	if err := s.b.Delete(ctx, k); err != nil {
		if q.Path != "" {
			os.Remove(q.Path)
		}
		return s.backendErrf(err, "quarantining %s", shareName(kind, k))
	}
	s.mu.Lock()
	s.quarantined = append(s.quarantined, q)
	s.mu.Unlock()
	s.log.Warn("share reported corrupt fails its self-check: quarantined", "si", k.SI, "share", k.Share,
		"kind", q.Kind, "why", q.Why, "kept", q.Path)
	return nil
}

// keepFile copies the container of k, of size bytes, to
// QuarantineDir/<si>/<shnum>.<time>, durably, and returns its path.
func (s *Server) keepFile(ctx context.Context, k backend.Key, size int64, at time.Time) (path string, err error) {
	dir := filepath.Join(s.cfg.QuarantineDir, k.SI.String())
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", s.backendErrf(err, "making the quarantine folder")
	}
	base := strconv.Itoa(int(k.Share)) + "." + at.UTC().Format("20060102T150405.000000Z")
	f, err := os.CreateTemp(dir, base+".tmp*")
	if err != nil {
		return "", s.backendErrf(err, "quarantining %s", shareName(kindNone, k))
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	buf := make([]byte, min(size, 1<<20))
	for off := int64(0); off < size; {
		p := buf[:min(int64(len(buf)), size-off)]
		n, rerr := s.b.ReadAt(ctx, k, p, off)
		if n < len(p) {
			if rerr == nil {
				rerr = io.ErrUnexpectedEOF
			}
			return "", s.backendErrf(rerr, "quarantining %s", shareName(kindNone, k))
		}
		if _, err := f.Write(p); err != nil {
			return "", s.backendErrf(err, "quarantining %s", shareName(kindNone, k))
		}
		off += int64(n)
	}
	if err := f.Sync(); err != nil {
		return "", s.backendErrf(err, "quarantining %s", shareName(kindNone, k))
	}
	if err := f.Close(); err != nil {
		return "", s.backendErrf(err, "quarantining %s", shareName(kindNone, k))
	}
	path = filepath.Join(dir, base)
	for i := 1; ; i++ {
		if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
			break
		}
		path = filepath.Join(dir, base+"-"+strconv.Itoa(i))
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return "", s.backendErrf(err, "quarantining %s", shareName(kindNone, k))
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return path, nil
}
