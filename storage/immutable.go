package storage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/backend"
)

// upload is an immutable share being written (Tahoe's BucketWriter): a
// staged container whose header went out at allocation and whose lease is
// appended when the last byte arrives.
type upload struct {
	key    backend.Key
	secret lafs.UploadSecret
	size   uint64
	lease  Lease // as the container will store it (v2: hashed)

	mu        sync.Mutex // serializes writes; guards the fields below
	staged    backend.Staged
	written   rangeSet
	chunks    map[chunk][sha256.Size]byte // only when staged cannot be read back
	lastWrite time.Time
	done      bool // committed or aborted
}

// chunk is one earlier write, for backends whose staged objects cannot be
// read back: a rewrite must then repeat an earlier write exactly.
type chunk struct{ off, n uint64 }

// maxAllocation is the largest share whose container size fits an int64.
const maxAllocation = math.MaxInt64 - ImmutableHeaderSize - ImmutableLeaseSize

// AllocateBuckets implements lafs.StorageServer, as Tahoe's
// allocate_buckets with the HTTP server's bookkeeping of upload secrets:
//
//   - every complete immutable share of si is listed in AlreadyHave, asked
//     for or not, and gets the lease (renewed if the renew secret matches,
//     else added with owner 0);
//   - a share whose container is corrupt is neither listed nor allocated
//     (its file is in the way), so the client places it elsewhere; Tahoe
//     fails the whole call there;
//   - a share with an upload in progress is listed in Allocated when the
//     upload secret is the same (a retried call), left out otherwise;
//   - a new share is allocated while its size fits in the available space
//     less the reserved space less what uploads in progress were promised;
//     the rest are left out. A read-only server allocates nothing.
//
// Tahoe's code leaves an in-progress share out even for the same upload
// secret; the protocol specification (and lafs) lists it, so that a retry
// after a lost response sees the same answer.
func (s *Server) AllocateBuckets(ctx context.Context, si lafs.StorageIndex, lease lafs.LeaseSecrets, uploadSecret lafs.UploadSecret, shares []lafs.ShareNum, allocatedSize uint64) (lafs.AllocateResult, error) {
	defer s.counters.timed(opAllocate)()
	if err := ctx.Err(); err != nil {
		return lafs.AllocateResult{}, err
	}
	if len(uploadSecret) == 0 {
		return lafs.AllocateResult{}, fmt.Errorf("%w: empty upload secret", lafs.ErrBadRequest)
	}
	var want [lafs.MaxShares]bool
	for _, sh := range shares {
		if err := validShare(sh); err != nil {
			return lafs.AllocateResult{}, err
		}
		want[sh] = true
	}
	s.expireUploads()

	unlock := s.locks.lock(si)
	defer unlock()
	now := s.now()
	avail, err := s.availableSpace(ctx)
	if err != nil {
		return lafs.AllocateResult{}, err
	}
	existing, err := s.b.List(ctx, si)
	if err != nil {
		return lafs.AllocateResult{}, s.backendErrf(err, "listing the shares of storage index %v", si)
	}
	res := lafs.AllocateResult{AlreadyHave: []lafs.ShareNum{}, Allocated: []lafs.ShareNum{}}
	taken := make(map[lafs.ShareNum]bool, len(existing))
	for _, sh := range existing {
		taken[sh] = true
		k := backend.Key{SI: si, Share: sh}
		kind, err := s.shareKindOf(ctx, k)
		if kind == kindCorrupt {
			continue
		}
		if err != nil {
			return lafs.AllocateResult{}, err
		}
		if kind != kindImmutable {
			continue
		}
		err = s.renewImmutable(ctx, k, OwnerUpload, lease, now, avail)
		if errors.Is(err, lafs.ErrCorruptContainer) {
			continue
		}
		if errors.Is(err, errLeaseLimit) || errors.Is(err, ErrLeasesUnknown) {
			// The share is here all the same: the upload need not
			// send it again.
			s.log.Warn("a share an upload asks for is held, but its lease cannot be renewed", "si", si, "share", sh, "err", err)
			err = nil
		}
		if err != nil {
			return lafs.AllocateResult{}, err
		}
		res.AlreadyHave = append(res.AlreadyHave, sh)
	}

	for i := range want {
		sh := lafs.ShareNum(i)
		if !want[i] || taken[sh] {
			continue
		}
		k := backend.Key{SI: si, Share: sh}
		s.mu.Lock()
		u := s.uploads[k]
		s.mu.Unlock()
		if u != nil {
			if subtle.ConstantTimeCompare(u.secret, uploadSecret) == 1 {
				res.Allocated = append(res.Allocated, sh)
			}
			continue
		}
		if s.cfg.ReadOnly || allocatedSize > maxAllocation ||
			s.cfg.MaxImmutableShareSize != 0 && allocatedSize > s.cfg.MaxImmutableShareSize {
			continue
		}
		ok, err := s.startUpload(ctx, k, uploadSecret, allocatedSize, lease, now, avail)
		if err != nil {
			return lafs.AllocateResult{}, err
		}
		if ok {
			res.Allocated = append(res.Allocated, sh)
		}
	}
	s.log.Debug("allocate_buckets", "si", si, "already_have", res.AlreadyHave, "allocated", res.Allocated, "size", allocatedSize)
	return res, nil
}

// startUpload promises size bytes of avail to a new upload and stages its
// container. It reports false, without error, when there is no room.
func (s *Server) startUpload(ctx context.Context, k backend.Key, secret lafs.UploadSecret, size uint64, lease lafs.LeaseSecrets, now time.Time, avail uint64) (bool, error) {
	s.mu.Lock()
	if s.promised > avail || avail-s.promised < size {
		s.mu.Unlock()
		return false, nil
	}
	s.promised += size
	s.mu.Unlock()
	unpromise := func() {
		s.mu.Lock()
		s.promised -= size
		s.mu.Unlock()
	}

	room := uint64(ImmutableLeaseSize)
	if s.leasesOutside() {
		room = 0
	}
	st, err := s.b.Create(ctx, k, int64(ImmutableHeaderSize+size+room))
	if err == nil {
		err = st.WriteAt(newImmutableHeader(size).Append(nil), 0)
		if err != nil {
			st.Abort()
		}
	}
	if err != nil {
		unpromise()
		if errors.Is(err, backend.ErrNoSpace) {
			s.log.Warn("no space for a new share", "si", k.SI, "share", k.Share, "err", err)
			return false, nil
		}
		return false, s.backendErrf(err, "creating %s", shareName(kindImmutable, k))
	}
	u := &upload{
		key:       k,
		secret:    bytes.Clone(secret),
		size:      size,
		lease:     newLease(OwnerUpload, lease, expirationFrom(now), lafs.NodeID{}, true),
		staged:    st,
		lastWrite: now,
	}
	if _, ok := st.(io.ReaderAt); !ok {
		u.chunks = make(map[chunk][sha256.Size]byte)
	}
	s.mu.Lock()
	s.uploads[k] = u
	s.mu.Unlock()
	return true, nil
}

// findUpload returns the upload in progress for a share, checking the
// secret as the HTTP server does: ErrUnauthorized for another secret,
// ErrNotExist when there is no upload.
func (s *Server) findUpload(si lafs.StorageIndex, sh lafs.ShareNum, secret lafs.UploadSecret) (*upload, error) {
	k := backend.Key{SI: si, Share: sh}
	s.mu.Lock()
	u := s.uploads[k]
	s.mu.Unlock()
	if u == nil {
		return nil, fmt.Errorf("%w: no upload of %s in progress", lafs.ErrNotExist, shareName(kindImmutable, k))
	}
	if subtle.ConstantTimeCompare(u.secret, secret) != 1 {
		return nil, fmt.Errorf("%w: upload secret for %s", lafs.ErrUnauthorized, shareName(kindImmutable, k))
	}
	return u, nil
}

// forget removes a finished upload and releases its promised space; the
// caller holds u.mu and has set u.done.
func (s *Server) forget(u *upload) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.uploads[u.key] == u {
		delete(s.uploads, u.key)
		s.promised -= u.size
	}
}

// dropUpload aborts an upload in progress; the caller holds u.mu.
func (s *Server) dropUpload(u *upload) error {
	if u.done {
		return nil
	}
	u.done = true
	s.forget(u)
	s.counters.count(opAbort, 1)
	s.counters.addBytes(0)
	s.log.Info("aborting share upload", "si", u.key.SI, "share", u.key.Share)
	return s.backendErrf(u.staged.Abort(), "dropping the upload of %s", shareName(kindImmutable, u.key))
}

// expireUploads aborts the uploads that have had no write for
// uploadTimeout, as BucketWriter's timer does. Uploads busy writing are
// skipped: they are not idle.
func (s *Server) expireUploads() {
	now := s.now()
	s.mu.Lock()
	var idle []*upload
	for _, u := range s.uploads {
		idle = append(idle, u)
	}
	s.mu.Unlock()
	for _, u := range idle {
		if !u.mu.TryLock() {
			continue
		}
		if now.Sub(u.lastWrite) > uploadTimeout {
			if err := s.dropUpload(u); err != nil {
				s.log.Warn("aborting an idle upload", "si", u.key.SI, "share", u.key.Share, "err", err)
			}
		}
		u.mu.Unlock()
	}
}

// WriteImmutable implements lafs.StorageServer (BucketWriter.write and,
// on the last byte, close). A write overlapping bytes already written must
// repeat them (ErrConflict otherwise, and nothing is written); a write past
// the allocated size is ErrRange. When the backend runs out of space the
// upload is aborted, leaving no partial share, and the error is
// lafs.ErrNoSpace.
func (s *Server) WriteImmutable(ctx context.Context, si lafs.StorageIndex, shnum lafs.ShareNum, uploadSecret lafs.UploadSecret, offset uint64, data []byte) (lafs.WriteResult, error) {
	if err := ctx.Err(); err != nil {
		return lafs.WriteResult{}, err
	}
	start := s.counters.clock()
	u, err := s.findUpload(si, shnum, uploadSecret)
	if err != nil {
		return lafs.WriteResult{}, err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.done {
		return lafs.WriteResult{}, fmt.Errorf("%w: the upload of %s is over", lafs.ErrNotExist, shareName(kindImmutable, u.key))
	}
	now := s.now()
	if now.Sub(u.lastWrite) > uploadTimeout {
		s.dropUpload(u)
		return lafs.WriteResult{}, fmt.Errorf("%w: the upload of %s timed out", lafs.ErrNotExist, shareName(kindImmutable, u.key))
	}
	end := offset + uint64(len(data))
	if end < offset || end > u.size {
		return lafs.WriteResult{}, fmt.Errorf("%w: write of %d bytes at %d, share is %d bytes", lafs.ErrRange, len(data), offset, u.size)
	}
	if err := u.checkRewrite(offset, data); err != nil {
		if errors.Is(err, lafs.ErrConflict) {
			return lafs.WriteResult{}, err
		}
		return lafs.WriteResult{}, s.backendErrf(err, "reading back the upload of %s", shareName(kindImmutable, u.key))
	}
	if err := u.staged.WriteAt(data, int64(ImmutableHeaderSize+offset)); err != nil {
		return lafs.WriteResult{}, s.failUpload(u, err)
	}
	u.written.add(offset, end)
	if u.chunks != nil {
		u.chunks[chunk{offset, uint64(len(data))}] = sha256.Sum256(data)
	}
	u.lastWrite = now
	s.counters.chunks(opWrite, start, len(data))
	if !u.written.covers(u.size) {
		return lafs.WriteResult{Required: u.written.missing(u.size)}, nil
	}
	if err := s.finishUpload(context.WithoutCancel(ctx), u); err != nil {
		return lafs.WriteResult{}, err
	}
	return lafs.WriteResult{Done: true, Required: []lafs.ByteRange{}}, nil
}

// failUpload handles a backend error while writing an upload: out of
// space, the upload is aborted so that no broken share stays behind.
func (s *Server) failUpload(u *upload, err error) error {
	if errors.Is(err, backend.ErrNoSpace) {
		s.log.Warn("out of space during an upload; aborting it", "si", u.key.SI, "share", u.key.Share, "err", err)
		if aerr := s.dropUpload(u); aerr != nil {
			s.log.Warn("aborting upload", "err", aerr)
		}
	}
	return s.backendErrf(err, "writing %s", shareName(kindImmutable, u.key))
}

// checkRewrite reports ErrConflict if data, to be written at offset,
// differs from bytes already written there (BucketWriter.write compares
// with what is on disk). When the backend's staged objects cannot be read
// back, an overlapping write must repeat an earlier write exactly. Other
// errors are the staged object's, unmapped.
func (u *upload) checkRewrite(offset uint64, data []byte) error {
	over := u.written.overlaps(offset, offset+uint64(len(data)))
	if len(over) == 0 {
		return nil
	}
	conflict := fmt.Errorf("%w: %s, bytes %d-%d", lafs.ErrConflict, shareName(kindImmutable, u.key), offset, offset+uint64(len(data)))
	ra, ok := u.staged.(io.ReaderAt)
	if !ok {
		if h, ok := u.chunks[chunk{offset, uint64(len(data))}]; ok && h == sha256.Sum256(data) {
			return nil
		}
		return conflict
	}
	buf := make([]byte, min(64<<10, len(data)))
	for _, r := range over {
		for at := r.Begin; at < r.End; {
			p := buf[:min(uint64(len(buf)), r.End-at)]
			if n, err := ra.ReadAt(p, int64(ImmutableHeaderSize+at)); n < len(p) {
				if err == nil || errors.Is(err, io.EOF) {
					err = io.ErrUnexpectedEOF
				}
				return fmt.Errorf("reading back bytes %d-%d: %w", at, at+uint64(len(p)), err)
			}
			if !bytes.Equal(p, data[at-offset:at-offset+uint64(len(p))]) {
				return conflict
			}
			at += uint64(len(p))
		}
	}
	return nil
}

// finishUpload appends the lease, counts it in the header and commits the
// container (BucketWriter.close); the caller holds u.mu. On failure the
// upload is aborted.
func (s *Server) finishUpload(ctx context.Context, u *upload) error {
	start := s.counters.clock()
	unlock := s.locks.lock(u.key.SI)
	defer unlock()
	var err error
	leaseBytes := int64(ImmutableLeaseSize)
	if s.leasesOutside() {
		// The lease is recorded before the share appears, so that no
		// share is ever seen without its lease; should the commit fail,
		// the record is put back as it was.
		leaseBytes = 0
		var before []Lease
		if before, err = s.cfg.Leases.Leases(ctx, u.key); err != nil {
			err = fmt.Errorf("reading the leases: %w", err)
		} else if err = s.setStored(ctx, u.key, kindImmutable, int64(ImmutableHeaderSize+u.size), withLease(slices.Clone(before), u.lease)); err == nil {
			if err = u.staged.Commit(ctx); err != nil && !errors.Is(err, backend.ErrExist) {
				s.restoreStored(ctx, u.key, ShareInfo{Size: int64(ImmutableHeaderSize + u.size)}, before)
			}
		}
	} else {
		h := newImmutableHeader(u.size)
		h.NumLeases = 1
		err = u.staged.WriteAt(u.lease.AppendImmutable(nil), int64(ImmutableHeaderSize+u.size))
		if err == nil {
			err = u.staged.WriteAt(h.Append(nil), 0)
		}
		if err == nil {
			err = u.staged.Commit(ctx)
		}
	}
	if err != nil {
		if aerr := s.dropUpload(u); aerr != nil {
			s.log.Warn("aborting upload", "err", aerr)
		}
		if errors.Is(err, backend.ErrExist) {
			return fmt.Errorf("%w: %s appeared during the upload", lafs.ErrConflict, shareName(kindImmutable, u.key))
		}
		return s.backendErrf(err, "completing %s", shareName(kindImmutable, u.key))
	}
	u.done = true
	s.forget(u)
	s.counters.count(opClose, 1)
	s.counters.done(opClose, start)
	s.counters.addBytes(int64(ImmutableHeaderSize+u.size) + leaseBytes)
	s.log.Debug("share upload complete", "si", u.key.SI, "share", u.key.Share, "size", u.size)
	return nil
}

// AbortImmutable implements lafs.StorageServer as the HTTP server does:
// ErrUnauthorized for another upload's secret; with no upload in
// progress, ErrNotAllowed if the share is complete, else ErrNotExist.
func (s *Server) AbortImmutable(ctx context.Context, si lafs.StorageIndex, shnum lafs.ShareNum, uploadSecret lafs.UploadSecret) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	u, err := s.findUpload(si, shnum, uploadSecret)
	if err == nil {
		u.mu.Lock()
		defer u.mu.Unlock()
		if !u.done {
			return s.dropUpload(u)
		}
		err = fmt.Errorf("%w: no upload of %s in progress", lafs.ErrNotExist, shareName(kindImmutable, u.key))
	}
	if !errors.Is(err, lafs.ErrNotExist) {
		return err
	}
	defer s.counters.timed(opGet)()
	unlock := s.locks.rlock(si)
	defer unlock()
	k := backend.Key{SI: si, Share: shnum}
	kind, kerr := s.shareKindOf(ctx, k)
	if kerr != nil && kind != kindCorrupt {
		return kerr
	}
	if kind == kindImmutable {
		return fmt.Errorf("%w: %s is complete", lafs.ErrNotAllowed, shareName(kindImmutable, k))
	}
	return err
}

// openImmutable returns the header of a complete immutable share and
// where its parts lie. ErrNotExist when there is no such share or it is
// mutable; lafs.ErrCorruptContainer when the file is no container, or the
// header does not fit the file. A container in a torn state (an
// interrupted lease change, see immutable_container.go) is no error.
func (s *Server) openImmutable(ctx context.Context, k backend.Key) (ImmutableHeader, immLayout, error) {
	size, err := s.b.Size(ctx, k)
	if errors.Is(err, backend.ErrNotExist) {
		return ImmutableHeader{}, immLayout{}, noShare(kindImmutable, k)
	}
	if err != nil {
		return ImmutableHeader{}, immLayout{}, s.backendErrf(err, "reading %s", shareName(kindImmutable, k))
	}
	kind, err := s.shareKindOf(ctx, k)
	if err != nil {
		return ImmutableHeader{}, immLayout{}, err
	}
	if kind != kindImmutable {
		return ImmutableHeader{}, immLayout{}, noShare(kindImmutable, k)
	}
	var head [ImmutableHeaderSize]byte
	if err := s.readFull(ctx, kindImmutable, k, head[:], 0); err != nil {
		return ImmutableHeader{}, immLayout{}, err
	}
	h, err := ParseImmutableHeader(head[:])
	if err != nil {
		return ImmutableHeader{}, immLayout{}, s.corruptErr(kindImmutable, k, err)
	}
	lay, err := h.layout(size)
	if err != nil {
		return ImmutableHeader{}, immLayout{}, s.corruptErr(kindImmutable, k, err)
	}
	return h, lay, nil
}

// ReadImmutable implements lafs.StorageServer (ShareFile.read_share_data):
// the share data ends where the leases begin. Where Tahoe serves what a
// truncated or extended container holds, this server checks that the
// header's length field agrees and answers lafs.ErrCorruptContainer if
// not; a container whose lease region alone is torn (see
// immutable_container.go) is served.
func (s *Server) ReadImmutable(ctx context.Context, si lafs.StorageIndex, shnum lafs.ShareNum, offset, length uint64) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	start := s.counters.start(opGet)
	unlock := s.locks.rlock(si)
	defer unlock()
	k := backend.Key{SI: si, Share: shnum}
	_, lay, err := s.openImmutable(ctx, k)
	s.counters.done(opGet, start)
	if err != nil {
		return nil, err
	}
	start = s.counters.clock()
	p, err := s.readClamped(ctx, kindImmutable, k, ImmutableHeaderSize, lay.dataEnd, offset, length)
	if err == nil {
		s.counters.chunks(opRead, start, len(p))
	}
	return p, err
}

// ListImmutable implements lafs.StorageServer: the complete immutable
// shares, sorted; uploads in progress are not listed.
func (s *Server) ListImmutable(ctx context.Context, si lafs.StorageIndex) ([]lafs.ShareNum, error) {
	defer s.counters.timed(opGet)()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	unlock := s.locks.rlock(si)
	defer unlock()
	return s.sharesOfKind(ctx, si, kindImmutable)
}

// leaseBatch is how many lease records are read at a time.
const leaseBatch = 512

// repairTornImmutable writes a container found in a torn state back into
// one that Tahoe's rule reads as this server does: the count of the
// leases in use, and the file cut after them. Each write alone, and both,
// leave the same reading (immutable_container.go), so a crash in the
// middle does no harm. The caller holds si's write lock; lay becomes the
// repaired layout.
func (s *Server) repairTornImmutable(ctx context.Context, k backend.Key, h *ImmutableHeader, lay *immLayout) error {
	if !lay.torn(*h) {
		return nil
	}
	what := fmt.Sprintf("repairing the lease region of %s", shareName(kindImmutable, k))
	s.log.Warn("immutable share container with a torn lease region (an interrupted lease change): repairing it",
		"si", k.SI, "share", k.Share, "lease_count", h.NumLeases, "leases_in_use", lay.leases, "size", lay.size)
	fixed := *h
	fixed.NumLeases = uint32(lay.leases)
	if err := s.b.WriteAt(ctx, k, fixed.Append(nil), 0); err != nil {
		return s.backendErrf(err, "%s", what)
	}
	end := lay.dataEnd + lay.leases*ImmutableLeaseSize
	if err := s.b.Truncate(ctx, k, end); err != nil {
		return s.backendErrf(err, "%s", what)
	}
	if err := s.b.Sync(ctx, k); err != nil {
		return s.backendErrf(err, "%s", what)
	}
	*h, lay.size = fixed, end
	return nil
}

// renewImmutable adds or renews a lease of a committed immutable share,
// in its container or in the LeaseStore. The caller holds k.SI's lock.
func (s *Server) renewImmutable(ctx context.Context, k backend.Key, owner uint32, secrets lafs.LeaseSecrets, now time.Time, avail uint64) error {
	if !s.leasesOutside() {
		return s.addOrRenewImmutableLease(ctx, k, owner, secrets, now, avail)
	}
	_, lay, err := s.openImmutable(ctx, k)
	if err != nil {
		return err
	}
	return s.addOrRenewStored(ctx, k, kindImmutable, lay.size, newLease(owner, secrets, expirationFrom(now), lafs.NodeID{}, true))
}

// addOrRenewImmutableLease is ShareFile.add_or_renew_lease: renew the
// lease whose renew secret matches (only ever extending it), or append a
// new one if avail has room for it (lafs.ErrNoSpace otherwise). A torn
// container is repaired first. The caller holds si's lock.
//
// A new lease is two writes, the record appended and then the count, made
// durable together; a crash between them, or one that keeps only the
// second, leaves a torn container whose leases in use are the old ones
// (immutable_container.go).
//
// A share of 4 GiB or more (its length field saturated) is read by
// Tahoe's rule alone, which every change of the count or the size alone
// misreads: there a new lease takes the place of the lease that expires
// first, in one 72-byte write, and the count and the size stay as they
// are. That never shortens the share's life (the new lease outlives the
// one it replaces, by any expiry rule), though the holder of a lease
// replaced while still valid finds it gone at its next renewal, and adds
// it again.
func (s *Server) addOrRenewImmutableLease(ctx context.Context, k backend.Key, owner uint32, secrets lafs.LeaseSecrets, now time.Time, avail uint64) error {
	h, lay, err := s.openImmutable(ctx, k)
	if err != nil {
		return err
	}
	if err := s.repairTornImmutable(ctx, k, &h, &lay); err != nil {
		return err
	}
	lo, size := lay.dataEnd, lay.size
	exp := expirationFrom(now)
	victim, victimExp := int64(-1), uint32(0)
	buf := make([]byte, ImmutableLeaseSize*min(leaseBatch, int64(h.NumLeases)))
	for i := int64(0); i < int64(h.NumLeases); {
		n := min(leaseBatch, int64(h.NumLeases)-i)
		p := buf[:n*ImmutableLeaseSize]
		if err := s.readFull(ctx, kindImmutable, k, p, lo+i*ImmutableLeaseSize); err != nil {
			return err
		}
		for j := range n {
			l, err := ParseImmutableLease(p[j*ImmutableLeaseSize : (j+1)*ImmutableLeaseSize])
			if err != nil {
				return s.corruptErr(kindImmutable, k, err)
			}
			if !l.HasRenewSecret(secrets.Renew, h.hashed()) {
				if victim < 0 || l.Expiration < victimExp {
					victim, victimExp = i+j, l.Expiration
				}
				continue
			}
			if exp > l.Expiration {
				l.Expiration = exp
				if err := s.b.WriteAt(ctx, k, l.AppendImmutable(nil), lo+(i+j)*ImmutableLeaseSize); err != nil {
					return s.backendErrf(err, "renewing a lease of %s", shareName(kindImmutable, k))
				}
				return s.backendErrf(s.b.Sync(ctx, k), "renewing a lease of %s", shareName(kindImmutable, k))
			}
			return nil
		}
		i += n
	}
	if h.DataLength == math.MaxUint32 {
		return s.replaceImmutableLease(ctx, k, h, lo, victim, victimExp, newLease(owner, secrets, exp, lafs.NodeID{}, h.hashed()), now)
	}
	if avail < ImmutableLeaseSize {
		return fmt.Errorf("%w: no room for a lease on %s", lafs.ErrNoSpace, shareName(kindImmutable, k))
	}
	if h.NumLeases == math.MaxUint32 {
		return fmt.Errorf("%w: %s has the most leases a container holds", lafs.ErrNotAllowed, shareName(kindImmutable, k))
	}
	l := newLease(owner, secrets, exp, lafs.NodeID{}, h.hashed())
	if err := s.b.WriteAt(ctx, k, l.AppendImmutable(nil), size); err != nil {
		return s.backendErrf(err, "adding a lease to %s", shareName(kindImmutable, k))
	}
	h.NumLeases++
	if err := s.b.WriteAt(ctx, k, h.Append(nil), 0); err != nil {
		return s.backendErrf(err, "adding a lease to %s", shareName(kindImmutable, k))
	}
	return s.backendErrf(s.b.Sync(ctx, k), "adding a lease to %s", shareName(kindImmutable, k))
}

// replaceImmutableLease puts l in place of lease record victim (which
// expires at victimExp) of a container whose length field is saturated,
// in one write, leaving the count and the size as they are (see
// addOrRenewImmutableLease). A container with no lease record has no
// place for one: lafs.ErrNotAllowed.
func (s *Server) replaceImmutableLease(ctx context.Context, k backend.Key, h ImmutableHeader, lo, victim int64, victimExp uint32, l Lease, now time.Time) error {
	if victim < 0 {
		return fmt.Errorf("%w: %s is a share of 4 GiB or more with no lease record, and a lease cannot be added to one safely", lafs.ErrNotAllowed, shareName(kindImmutable, k))
	}
	if int64(victimExp) > now.Unix() {
		s.log.Warn("share of 4 GiB or more: a new lease takes the place of the one that expires first, still valid",
			"si", k.SI, "share", k.Share, "leases", h.NumLeases, "replaced_expiration", victimExp)
	}
	if err := s.b.WriteAt(ctx, k, l.AppendImmutable(nil), lo+victim*ImmutableLeaseSize); err != nil {
		return s.backendErrf(err, "adding a lease to %s", shareName(kindImmutable, k))
	}
	return s.backendErrf(s.b.Sync(ctx, k), "adding a lease to %s", shareName(kindImmutable, k))
}
