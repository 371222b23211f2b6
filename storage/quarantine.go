package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/backend"
)

// What a server does with a corruption advisory, beyond recording it
// (advise.go): when Config.VerifyShare is set, it checks the share named,
// in the background, and a share whose data fails the check is moved out
// of service into quarantine. A share that passes stays, so that a client
// that lies cannot make a server drop good shares; so does a share whose
// data cannot be found to be checked (a file too short for any header), a
// container of a version this server does not know, and a share the
// verifier finds of a format it does not know. Once out of service, a
// share is no longer listed, read, leased or counted, and its share
// number can be allocated afresh, so that a repairer can put a good copy
// in its place.
//
// The containers taken out of service are kept for inspection in
// Config.QuarantineDir, as <si>/<shnum>.<time>: moved there when the
// backend can (ShareMover, the disk backend on the same file system),
// else copied when there is room; the oldest go once the folder holds
// more than Config.QuarantineMaxBytes or they are older than
// Config.QuarantineMaxAge. Without a folder, and for containers too large
// for it, only what was found is kept (Quarantined).

// ErrShareIncompatible is what a ShareVerifier's error wraps for a share
// of a format the verifier does not know (perhaps a later one): such a
// share is not known to be corrupt, and it is kept.
var ErrShareIncompatible = errors.New("share of a format the verifier does not know")

// ShareVerifier checks the data of a share (what ReadImmutable or
// ReadMutable serve, size bytes read through share) for consistency with
// itself. kind is "immutable" or "mutable". It returns nil for a good
// share; an error wrapping ErrShareIncompatible for a share of a format it
// does not know (such shares are kept); and otherwise an error saying
// what is wrong with a bad one. Errors of share itself must be returned
// (wrapped), so that the server can tell a read that failed from a share
// that did. The node passes immutable.SelfCheckAt and mutable.SelfCheckAt;
// package storage knows neither format.
type ShareVerifier func(kind string, shnum lafs.ShareNum, share io.ReaderAt, size int64) error

// ShareMover is an optional interface of a Backend whose objects are
// files. The server uses it to move a share's container into
// Config.QuarantineDir without copying it.
type ShareMover interface {
	// MoveShare moves the committed object k to the new file path
	// (whose folder exists), durably, without copying it: the object
	// is no longer in the backend, and its bytes are in path. When
	// path is on another file system it returns an error wrapping
	// errors.ErrUnsupported and leaves the object; backend.ErrNotExist
	// when there is no object.
	MoveShare(ctx context.Context, k backend.Key, path string) error
}

// Defaults of Config.QuarantineMaxBytes and Config.QuarantineMaxAge.
const (
	DefaultQuarantineMaxBytes int64 = 1 << 30
	DefaultQuarantineMaxAge         = 30 * 24 * time.Hour
)

const (
	// maxQuarantineFiles caps the files QuarantineDir holds, however
	// small.
	maxQuarantineFiles = 10000
	// maxQuarantineRecords is how many of the latest quarantined shares
	// Quarantined lists.
	maxQuarantineRecords = 10000
	// maxCheckTries is how many times a share that fails its check is
	// checked again because it changed meanwhile.
	maxCheckTries = 3
	// quarantineTimeFormat is the time in a quarantined file's name.
	quarantineTimeFormat = "20060102T150405.000000Z"
)

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
	// Size is the size of its container.
	Size int64
	// Path is where its container is kept, when Config.QuarantineDir is
	// set and it fits; empty when it was deleted. The file goes when the
	// quarantine's limits say.
	Path string
}

// QuarantineStatus is the state of a server's quarantine.
type QuarantineStatus struct {
	// Shares is how many shares were taken out of service since the
	// server started.
	Shares int64
	// Files and Bytes are what Config.QuarantineDir holds.
	Files int
	Bytes int64
	// ChecksPending counts the advisories whose check is waiting or
	// under way.
	ChecksPending int
}

// Quarantined returns the latest shares this server took out of service
// since it started (up to 10000), oldest first.
func (s *Server) Quarantined() []QuarantinedShare {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]QuarantinedShare(nil), s.quarantined...)
}

// quarantineStatus returns the quarantine's counts.
func (s *Server) quarantineStatus() QuarantineStatus {
	st := QuarantineStatus{ChecksPending: s.checks.pending()}
	q := &s.qdir
	q.mu.Lock()
	st.Shares, st.Files, st.Bytes = q.taken, len(q.files), q.bytes
	q.mu.Unlock()
	return st
}

// shareAt reads a share's data through its container as an io.ReaderAt,
// keeping the first error of the backend, so that it is not mistaken for
// corruption. Each read holds the storage index's lock for reading, and
// only while it reads, so that a long check holds up no writer.
type shareAt struct {
	ctx   context.Context
	b     backend.Backend
	k     backend.Key
	lock  *siLock
	start int64 // where the share data begins in the container
	size  int64 // its length
	err   error
}

func (r *shareAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	if err := r.ctx.Err(); err != nil {
		if r.err == nil {
			r.err = err
		}
		return 0, err
	}
	if off >= r.size {
		return 0, io.EOF
	}
	want := p
	if int64(len(p)) > r.size-off {
		want = p[:r.size-off]
	}
	r.lock.RLock()
	n, err := r.b.ReadAt(r.ctx, r.k, want, r.start+off)
	r.lock.RUnlock()
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

// span is where a share's data may lie in its container, and as which
// kind of share it is to be checked there.
type span struct {
	kind        shareKind
	start, size int64
}

// checkVerdict is what the check of an advised share found: bad, or kept
// for the reason given.
type checkVerdict struct {
	bad  error
	kept string
}

// checkSpans finds where the data of share k, which an advisory says is
// of kind want, may lie: where the server reads it and, if elsewhere,
// where Tahoe's rule finds it. A container whose header does not fit its
// file gives the spans its header's fields give, clamped to the file. A
// container whose first bytes are damaged, so that its kind is unclear,
// gives the spans of both kinds, want's first: the advisory's word for
// the kind is no proof of it. kept is set instead for a share that is to
// stay without a check. The caller holds si's lock for reading.
func (s *Server) checkSpans(ctx context.Context, want shareKind, k backend.Key) (spans []span, kept string, err error) {
	kind, kerr := s.shareKindOf(ctx, k)
	switch {
	case kind == kindNone:
		return nil, "", noShare(want, k)
	case kind == kindCorrupt && errors.Is(kerr, errFutureContainer):
		return nil, "its container is of a version this server does not know", nil
	case kind == kindCorrupt:
	case kerr != nil:
		return nil, "", kerr
	case kind != want:
		return nil, "", noShare(want, k)
	}
	size, err := s.b.Size(ctx, k)
	if err != nil {
		return nil, "", s.backendErrf(err, "reading %s", shareName(kind, k))
	}
	if kind != kindCorrupt {
		return s.kindSpans(ctx, kind, kind, k, size, nil)
	}
	other := kindMutable
	if want == kindMutable {
		other = kindImmutable
	}
	// Each kind the file is long enough to be gives its spans; one whose
	// header fields give no place for the data leaves the share as it is,
	// since its data cannot be shown bad under that reading.
	for _, as := range []shareKind{want, other} {
		if as == other && size < containerHeaderSize(as) {
			continue
		}
		var why string
		spans, why, err = s.kindSpans(ctx, as, kind, k, size, spans)
		if err != nil {
			return nil, "", err
		}
		if why != "" && size >= containerHeaderSize(as) {
			return nil, why, nil
		}
		if why != "" {
			kept = why
		}
	}
	if len(spans) == 0 {
		return nil, kept, nil
	}
	return spans, "", nil
}

// containerHeaderSize is the least size of a container of kind with room
// for its share data's place.
func containerHeaderSize(kind shareKind) int64 {
	if kind == kindMutable {
		return MutableDataOffset
	}
	return ImmutableHeaderSize
}

// kindSpans appends to spans where the data of share k may lie read as a
// share of kind as; kind is what the file's first bytes say it is
// (kindCorrupt when they are damaged), size its size. kept is set when
// no span was found for as.
func (s *Server) kindSpans(ctx context.Context, as, kind shareKind, k backend.Key, size int64, spans []span) (_ []span, kept string, err error) {
	found := len(spans)
	add := func(start, n int64) {
		sp := span{as, start, max(0, min(n, size-start))}
		if !slices.Contains(spans, sp) {
			spans = append(spans, sp)
		}
	}
	head := make([]byte, MutableHeaderSize)
	switch as {
	case kindImmutable:
		if kind == kindImmutable {
			h, lay, err := s.openImmutable(ctx, k)
			if err == nil {
				add(ImmutableHeaderSize, lay.dataEnd-ImmutableHeaderSize)
				if end := h.tahoeDataEnd(size); end >= ImmutableHeaderSize {
					add(ImmutableHeaderSize, end-ImmutableHeaderSize)
				}
				return spans, "", nil
			}
			if !errors.Is(err, lafs.ErrCorruptContainer) {
				return nil, "", err
			}
		}
		if size < ImmutableHeaderSize {
			return spans, "the file is too short for an immutable container header: there is no share data to check", nil
		}
		if err := s.readFull(ctx, kind, k, head[:ImmutableHeaderSize], 0); err != nil {
			return nil, "", err
		}
		// The fields of a header whose version may be damaged.
		h := ImmutableHeader{Version: ImmutableV2}
		h.DataLength = uint32(head[4])<<24 | uint32(head[5])<<16 | uint32(head[6])<<8 | uint32(head[7])
		h.NumLeases = uint32(head[8])<<24 | uint32(head[9])<<16 | uint32(head[10])<<8 | uint32(head[11])
		if h.DataLength < math.MaxUint32 {
			add(ImmutableHeaderSize, int64(h.DataLength))
		}
		if end := h.tahoeDataEnd(size); end >= ImmutableHeaderSize {
			add(ImmutableHeaderSize, end-ImmutableHeaderSize)
		}
	case kindMutable:
		if kind == kindMutable {
			m, err := s.openMutable(ctx, k)
			if err == nil {
				return append(spans, span{kindMutable, MutableDataOffset, int64(m.h.DataLength)}), "", nil
			}
			if !errors.Is(err, lafs.ErrCorruptContainer) {
				return nil, "", err
			}
		}
		if size < MutableDataOffset {
			return spans, "the file is too short for a mutable container header: there is no share data to check", nil
		}
		if err := s.readFull(ctx, kind, k, head, 0); err != nil {
			return nil, "", err
		}
		var n uint64
		for _, b := range head[mutableDataLengthOffset : mutableDataLengthOffset+8] {
			n = n<<8 | uint64(b)
		}
		add(MutableDataOffset, int64(min(n, math.MaxInt64)))
	}
	if len(spans) == found {
		return spans, "its header gives no place for the share data: there is none to check", nil
	}
	return spans, "", nil
}

// verifyAdvised checks share k as the advisory of the given kind asked.
// It returns the share's verdict: bad only when its data fails the check
// wherever it may lie (checkSpans). The error is set when the server
// could not tell (the share went away, the backend failed, ctx ended).
// pin is si's lock, which the caller holds no part of.
func (s *Server) verifyAdvised(ctx context.Context, want shareKind, k backend.Key, pin *siLock) (checkVerdict, error) {
	pin.RLock()
	spans, kept, err := s.checkSpans(ctx, want, k)
	pin.RUnlock()
	if err != nil || kept != "" {
		return checkVerdict{kept: kept}, err
	}
	var bad error
	for i, sp := range spans {
		r := &shareAt{ctx: ctx, b: s.b, k: k, lock: pin, start: sp.start, size: sp.size}
		verdict := s.cfg.VerifyShare(kindString(sp.kind), k.Share, r, r.size)
		if r.err != nil {
			if ctx.Err() != nil {
				return checkVerdict{}, ctx.Err()
			}
			return checkVerdict{}, s.backendErrf(r.err, "reading %s to check it", shareName(want, k))
		}
		if err := ctx.Err(); err != nil {
			return checkVerdict{}, err
		}
		switch {
		case verdict == nil && i == 0:
			return checkVerdict{kept: "it passes its self-check"}, nil
		case verdict == nil && sp.kind != want:
			return checkVerdict{kept: fmt.Sprintf("its container's header is damaged, and its data passes the self-check of %s share (%d bytes at %d)", kindArticle(sp.kind), sp.size, sp.start)}, nil
		case verdict == nil:
			return checkVerdict{kept: fmt.Sprintf("its data passes its self-check where Tahoe finds it (%d bytes at %d), though not where its header says", sp.size, sp.start)}, nil
		case errors.Is(verdict, ErrShareIncompatible) && sp.kind == want:
			// A layout the verifier does not know is no proof of
			// damage; but data the verifier does not know as a share
			// of the kind the advisory did not name is simply not
			// one (a damaged header is checked as both kinds).
			return checkVerdict{kept: "the verifier does not know its format: " + verdict.Error()}, nil
		case bad == nil:
			bad = verdict
		}
	}
	return checkVerdict{bad: bad}, nil
}

// kindArticle is "an immutable" or "a mutable".
func kindArticle(kind shareKind) string {
	if kind == kindImmutable {
		return "an immutable"
	}
	return "a mutable"
}

// checkAdvised checks the share an advisory named and quarantines it if
// it fails. It runs in the background (advise.go), one check at a time.
// The check reads the share holding si's lock only for each read, so that
// reads and writes go on meanwhile; before the share is moved, under the
// write lock, the lock's count of writers tells whether anything may have
// changed since the check began, in which case the share is checked
// again. Failures to check or to move are logged: the advisory itself
// was taken.
func (s *Server) checkAdvised(ctx context.Context, want shareKind, k backend.Key) {
	pin := s.locks.get(k.SI)
	defer s.locks.put(k.SI, pin)
	for range maxCheckTries {
		gen := pin.writes.Load()
		v, err := s.verifyAdvised(ctx, want, k, pin)
		if err != nil {
			s.log.Warn("could not check a share reported corrupt", "si", k.SI, "share", k.Share, "err", err)
			return
		}
		if v.bad == nil {
			s.log.Info("share reported corrupt is kept", "si", k.SI, "share", k.Share, "kind", kindString(want), "why", v.kept)
			return
		}
		copied, err := s.copyToQuarantine(ctx, k, pin)
		if err != nil {
			s.log.Warn("could not copy a corrupt share to the quarantine", "si", k.SI, "share", k.Share, "err", err)
			if ctx.Err() != nil {
				return
			}
		}
		pin.Lock()
		changed := pin.writes.Load() != gen
		pin.writes.Add(1)
		if !changed && ctx.Err() == nil {
			err = s.quarantine(ctx, k, v.bad, copied)
		}
		pin.Unlock()
		switch {
		case changed || ctx.Err() != nil:
			s.qdir.discard(copied)
			if ctx.Err() != nil {
				return
			}
			continue
		case err != nil:
			s.qdir.discard(copied)
			s.log.Error("could not quarantine a corrupt share; it stays in service", "si", k.SI, "share", k.Share, "err", err)
		}
		return
	}
	s.log.Warn("share reported corrupt kept changing while it was checked; it stays in service", "si", k.SI, "share", k.Share)
}

// quarantine moves share k out of service: its container is moved or
// (copied before, as copied says) kept in the quarantine when there is
// one, else deleted. The caller holds si's write lock.
func (s *Server) quarantine(ctx context.Context, k backend.Key, why error, copied *qfile) error {
	kind, _ := s.shareKindOf(ctx, k)
	size, err := s.b.Size(ctx, k)
	if err != nil {
		return s.backendErrf(err, "quarantining %s", shareName(kind, k))
	}
	q := QuarantinedShare{SI: k.SI, Share: k.Share, Kind: kindString(kind), At: s.now(), Why: why.Error(), Size: size}
	mover, canMove := s.b.(ShareMover)
	var kept *qfile
	switch {
	case copied != nil && copied.size == size:
		kept = copied
	case canMove && s.cfg.QuarantineDir != "" && size <= s.cfg.QuarantineMaxBytes:
		path, err := s.quarantinePath(k, q.At)
		if err != nil {
			return err
		}
		err = mover.MoveShare(ctx, k, path)
		switch {
		case err == nil:
			kept = &qfile{path: path, size: size, at: q.At}
		case errors.Is(err, errors.ErrUnsupported):
			s.log.Warn("the quarantine folder is on another file system than the shares: a corrupt share's container is not kept",
				"si", k.SI, "share", k.Share)
		default:
			return s.backendErrf(err, "quarantining %s", shareName(kind, k))
		}
	}
	if copied != nil && kept != copied {
		s.qdir.discard(copied)
	}
	if kept == nil || kept == copied {
		if err := s.b.Delete(ctx, k); err != nil {
			return s.backendErrf(err, "quarantining %s", shareName(kind, k))
		}
	}
	s.forgetStored(ctx, k)
	if kept != nil {
		q.Path = kept.path
		s.qdir.add(s, *kept)
	}
	s.mu.Lock()
	if len(s.quarantined) >= maxQuarantineRecords {
		s.quarantined = append(s.quarantined[:0], s.quarantined[1:]...)
	}
	s.quarantined = append(s.quarantined, q)
	s.mu.Unlock()
	s.qdir.mu.Lock()
	s.qdir.taken++
	s.qdir.mu.Unlock()
	s.log.Warn("share reported corrupt fails its self-check: quarantined", "si", k.SI, "share", k.Share,
		"kind", q.Kind, "why", q.Why, "kept", q.Path)
	return nil
}

// quarantinePath makes QuarantineDir/<si> and returns a name there, not
// yet taken, for share k taken out at at: <shnum>.<time>.
func (s *Server) quarantinePath(k backend.Key, at time.Time) (string, error) {
	dir := filepath.Join(s.cfg.QuarantineDir, k.SI.String())
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", s.backendErrf(err, "making the quarantine folder")
	}
	base := strconv.Itoa(int(k.Share)) + "." + at.UTC().Format(quarantineTimeFormat)
	path := filepath.Join(dir, base)
	for i := 1; ; i++ {
		if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
			return path, nil
		}
		path = filepath.Join(dir, base+"-"+strconv.Itoa(i))
	}
}

// copyToQuarantine copies the container of k into the quarantine, for a
// backend that cannot move it there (no ShareMover), when it fits the
// quarantine's limits and the space the server may use. It returns nil
// when no copy is to be made. Reads hold pin for reading, one at a time.
func (s *Server) copyToQuarantine(ctx context.Context, k backend.Key, pin *siLock) (_ *qfile, err error) {
	if _, ok := s.b.(ShareMover); ok || s.cfg.QuarantineDir == "" {
		return nil, nil
	}
	pin.RLock()
	size, err := s.b.Size(ctx, k)
	pin.RUnlock()
	if err != nil {
		return nil, s.backendErrf(err, "quarantining %s", shareName(kindNone, k))
	}
	avail, err := s.availableSpace(ctx)
	if err != nil {
		return nil, err
	}
	if size > s.cfg.QuarantineMaxBytes || uint64(size) > avail {
		s.log.Warn("no room to keep a corrupt share's container", "si", k.SI, "share", k.Share, "size", size)
		return nil, nil
	}
	at := s.now()
	path, err := s.quarantinePath(k, at)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, s.backendErrf(err, "quarantining %s", shareName(kindNone, k))
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(path)
		}
	}()
	r := &shareAt{ctx: ctx, b: s.b, k: k, lock: pin, size: size}
	if _, err := io.Copy(f, io.NewSectionReader(r, 0, size)); err != nil {
		return nil, s.backendErrf(err, "quarantining %s", shareName(kindNone, k))
	}
	if err := f.Sync(); err != nil {
		return nil, s.backendErrf(err, "quarantining %s", shareName(kindNone, k))
	}
	if err := f.Close(); err != nil {
		return nil, s.backendErrf(err, "quarantining %s", shareName(kindNone, k))
	}
	syncDir(filepath.Dir(path))
	return &qfile{path: path, size: size, at: at, unseen: true}, nil
}
