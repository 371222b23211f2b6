package storage

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/backend"
)

// mshare is an open mutable container (MutableShareFile), read and written
// in place. Its fields follow the writes made through it; the caller holds
// the storage index's lock.
type mshare struct {
	s    *Server
	k    backend.Key
	h    MutableHeader
	size int64
	// draft, when set, holds a new share being composed in memory: it is
	// committed to the server's backend whole, once (see commitDraft), so
	// that a new share costs one durable write instead of one per field.
	draft *draft
}

// shareBytes is where a share's bytes are read and written: the server's
// backend, or a draft in memory.
type shareBytes interface {
	ReadAt(ctx context.Context, k backend.Key, p []byte, off int64) (int, error)
	WriteAt(ctx context.Context, k backend.Key, p []byte, off int64) error
}

// b is where the share's bytes live now.
func (m *mshare) b() shareBytes {
	if m.draft != nil {
		return m.draft
	}
	return m.s.b
}

// draft is a new mutable container composed in memory (of at most about
// draftLimit bytes, as draftMutable's callers ensure), as a backend holds
// one object: writes past its end extend it with zeros.
type draft struct{ b []byte }

func (d *draft) ReadAt(ctx context.Context, k backend.Key, p []byte, off int64) (int, error) {
	if off >= int64(len(d.b)) {
		return 0, io.EOF
	}
	n := copy(p, d.b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (d *draft) WriteAt(ctx context.Context, k backend.Key, p []byte, off int64) error {
	if end := off + int64(len(p)); end > int64(len(d.b)) {
		d.b = append(d.b, make([]byte, end-int64(len(d.b)))...)
	}
	copy(d.b[off:], p)
	return nil
}

// openMutable opens a committed mutable share. ErrNotExist when there is
// no share or it is immutable; lafs.ErrCorruptContainer when the file is
// no container, or the header does not fit the file.
func (s *Server) openMutable(ctx context.Context, k backend.Key) (*mshare, error) {
	size, err := s.b.Size(ctx, k)
	if errors.Is(err, backend.ErrNotExist) {
		return nil, noShare(kindMutable, k)
	}
	if err != nil {
		return nil, s.backendErrf(err, "reading %s", shareName(kindMutable, k))
	}
	var head [MutableHeaderSize]byte
	n, err := s.b.ReadAt(ctx, k, head[:], 0)
	if errors.Is(err, backend.ErrNotExist) {
		return nil, noShare(kindMutable, k)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, s.backendErrf(err, "reading %s", shareName(kindMutable, k))
	}
	switch kind, why := kindOfHead(head[:min(n, mutableMagicSize)]); kind {
	case kindCorrupt:
		return nil, s.corruptErr(kindNone, k, why)
	case kindImmutable:
		return nil, noShare(kindMutable, k)
	}
	h, err := ParseMutableHeader(head[:n])
	if err != nil {
		return nil, s.corruptErr(kindMutable, k, err)
	}
	if err := h.check(size); err != nil {
		return nil, s.corruptErr(kindMutable, k, err)
	}
	return &mshare{s: s, k: k, h: h, size: size}, nil
}

// read is MutableShareFile._read_share_data: reads past the data are
// truncated, reads starting past it are empty.
func (m *mshare) read(ctx context.Context, offset, length uint64) ([]byte, error) {
	return m.s.readClampedFrom(ctx, m.b(), kindMutable, m.k, MutableDataOffset, MutableDataOffset+int64(m.h.DataLength), offset, length)
}

// readv reads every vector, before any write.
func (m *mshare) readv(ctx context.Context, rv []lafs.ReadVector) ([][]byte, error) {
	out := make([][]byte, 0, len(rv))
	for _, r := range rv {
		b, err := m.read(ctx, r.Offset, r.Size)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// testv evaluates test vectors: each read must equal its specimen (the
// only operator is "eq"). A nil share is a missing one, which reads as
// empty (EmptyShare).
func (m *mshare) testv(ctx context.Context, tv []lafs.TestVector) (bool, error) {
	for _, t := range tv {
		var got []byte
		if m != nil {
			var err error
			if got, err = m.read(ctx, t.Offset, t.Size); err != nil {
				return false, err
			}
		}
		if !bytes.Equal(got, t.Specimen) {
			return false, nil
		}
	}
	return true, nil
}

func (m *mshare) writeAt(ctx context.Context, p []byte, off int64) error {
	if len(p) == 0 {
		return nil
	}
	if err := m.b().WriteAt(ctx, m.k, p, off); err != nil {
		return m.s.backendErrf(err, "writing %s", shareName(kindMutable, m.k))
	}
	m.size = max(m.size, off+int64(len(p)))
	return nil
}

func (m *mshare) writeUint64(ctx context.Context, off int64, v uint64) error {
	return m.writeAt(ctx, binary.BigEndian.AppendUint64(nil, v), off)
}

// writeData is MutableShareFile._write_share_data: a write reaching the end
// of the data extends it, moving the extra leases out of the way when the
// data area must grow and filling any gap with zeros.
func (m *mshare) writeData(ctx context.Context, offset uint64, data []byte) error {
	end := offset + uint64(len(data))
	if end > m.s.cfg.MaxMutableShareSize || end < offset {
		return fmt.Errorf("%w: mutable write to byte %d, the limit is %d", lafs.ErrRange, end, m.s.cfg.MaxMutableShareSize)
	}
	extending := end >= m.h.DataLength
	if extending {
		oldSize := m.size
		if MutableDataOffset+end > m.h.ExtraLeaseOffset {
			if err := m.growDataArea(ctx, end); err != nil {
				return err
			}
		}
		if offset > m.h.DataLength {
			// Zero the gap. Beyond the old end of the file the backend
			// has zeros already (a sparse gap is not written out).
			from := int64(MutableDataOffset + m.h.DataLength)
			to := min(int64(MutableDataOffset+offset), oldSize)
			if err := m.zero(ctx, from, to); err != nil {
				return err
			}
		}
	}
	if err := m.writeAt(ctx, data, int64(MutableDataOffset+offset)); err != nil {
		return err
	}
	if extending {
		if err := m.writeUint64(ctx, mutableDataLengthOffset, end); err != nil {
			return err
		}
		m.h.DataLength = end
	}
	return nil
}

// zero writes zeros over [from, to).
func (m *mshare) zero(ctx context.Context, from, to int64) error {
	if from >= to {
		return nil
	}
	buf := make([]byte, min(to-from, 1<<20))
	for at := from; at < to; {
		p := buf[:min(int64(len(buf)), to-at)]
		if err := m.writeAt(ctx, p, at); err != nil {
			return err
		}
		at += int64(len(p))
	}
	return nil
}

// extraLeaseBlock reads the extra lease count and the extra leases.
func (m *mshare) extraLeaseBlock(ctx context.Context) ([]byte, error) {
	var cnt [mutableExtraLeaseCountSz]byte
	elo := int64(m.h.ExtraLeaseOffset)
	if err := m.s.readFullFrom(ctx, m.b(), kindMutable, m.k, cnt[:], elo); err != nil {
		return nil, err
	}
	n := int64(binary.BigEndian.Uint32(cnt[:]))
	if room := (m.size - elo - mutableExtraLeaseCountSz) / MutableLeaseSize; n > room {
		return nil, m.s.corruptErr(kindMutable, m.k, fmt.Errorf("%w: header says %s follow the data, the file has room for %d",
			ErrCorrupt, plural(n, "extra lease"), room))
	}
	block := make([]byte, mutableExtraLeaseCountSz+n*MutableLeaseSize)
	if err := m.s.readFullFrom(ctx, m.b(), kindMutable, m.k, block, elo); err != nil {
		return nil, err
	}
	return block, nil
}

// growDataArea is MutableShareFile._change_container_size: the extra lease
// block moves to the end of the new data area. Containers never shrink.
func (m *mshare) growDataArea(ctx context.Context, newSize uint64) error {
	newELO := MutableDataOffset + newSize
	oldELO := m.h.ExtraLeaseOffset
	if newELO <= oldELO {
		return nil
	}
	block, err := m.extraLeaseBlock(ctx)
	if err != nil {
		return err
	}
	// Tahoe zeroes the old block, then writes the new one, then the
	// offset. Writing the new block first keeps the leases on disk all
	// along; the old block is zeroed where the new one does not cover it.
	if err := m.writeAt(ctx, block, int64(newELO)); err != nil {
		return err
	}
	if err := m.writeUint64(ctx, mutableExtraLeaseOffset, newELO); err != nil {
		return err
	}
	m.h.ExtraLeaseOffset = newELO
	return m.zero(ctx, int64(oldELO), min(int64(oldELO)+int64(len(block)), int64(newELO)))
}

// writev is MutableShareFile.writev: the writes in order, then a
// new length shorter than the data truncates it (a longer one does
// nothing; the container keeps its size).
func (m *mshare) writev(ctx context.Context, tw lafs.TestWriteVectors) error {
	for _, w := range tw.Write {
		if err := m.writeData(ctx, w.Offset, w.Data); err != nil {
			return err
		}
	}
	if tw.NewLength != nil && *tw.NewLength < m.h.DataLength {
		if err := m.writeUint64(ctx, mutableDataLengthOffset, *tw.NewLength); err != nil {
			return err
		}
		m.h.DataLength = *tw.NewLength
	}
	return nil
}

// leaseAt returns the offset of lease record i (4 slots, then the extra
// leases), given the number of extra leases.
func (m *mshare) leaseAt(i int64) int64 {
	if i < MutableLeaseSlots {
		return MutableHeaderSize + i*MutableLeaseSize
	}
	return int64(m.h.ExtraLeaseOffset) + mutableExtraLeaseCountSz + (i-MutableLeaseSlots)*MutableLeaseSize
}

// addOrRenewLease is MutableShareFile.add_or_renew_lease: renew the lease
// whose renew secret matches (only ever extending it); else fill the first
// empty slot; else append an extra lease if avail has room for it
// (lafs.ErrNoSpace otherwise).
func (m *mshare) addOrRenewLease(ctx context.Context, secrets lafs.LeaseSecrets, exp uint32, nodeID lafs.NodeID, avail uint64) error {
	slots := make([]byte, MutableLeaseSlots*MutableLeaseSize)
	if err := m.s.readFullFrom(ctx, m.b(), kindMutable, m.k, slots, MutableHeaderSize); err != nil {
		return err
	}
	extra, err := m.extraLeaseBlock(ctx)
	if err != nil {
		return err
	}
	records := append(slots, extra[mutableExtraLeaseCountSz:]...)
	n := int64(len(records) / MutableLeaseSize)
	empty := int64(-1)
	for i := range n {
		l, err := ParseMutableLease(records[i*MutableLeaseSize : (i+1)*MutableLeaseSize])
		if err != nil {
			return m.s.corruptErr(kindMutable, m.k, err)
		}
		if l.Owner == 0 {
			if empty < 0 {
				empty = i
			}
			continue
		}
		if l.HasRenewSecret(secrets.Renew, m.h.hashed()) {
			if exp > l.Expiration {
				l.Expiration = exp
				return m.writeAt(ctx, l.AppendMutable(nil), m.leaseAt(i))
			}
			return nil
		}
	}
	l := newLease(OwnerClient, secrets, exp, nodeID, m.h.hashed())
	if empty >= 0 {
		return m.writeAt(ctx, l.AppendMutable(nil), m.leaseAt(empty))
	}
	if avail < MutableLeaseSize {
		return fmt.Errorf("%w: no room for a lease on %s", lafs.ErrNoSpace, shareName(kindMutable, m.k))
	}
	extraCount := n - MutableLeaseSlots
	if extraCount >= 1<<32-1 {
		return fmt.Errorf("%w: %s has the most leases a container holds", lafs.ErrNotAllowed, shareName(kindMutable, m.k))
	}
	if err := m.writeAt(ctx, l.AppendMutable(nil), m.leaseAt(n)); err != nil {
		return err
	}
	return m.writeAt(ctx, binary.BigEndian.AppendUint32(nil, uint32(extraCount+1)), int64(m.h.ExtraLeaseOffset))
}

// ReadTestWrite implements lafs.StorageServer as Tahoe's
// slot_testv_and_readv_and_writev, atomically with respect to every other
// operation on si:
//
//  1. every existing share of si must have been created with this write
//     enabler (ErrUnauthorized otherwise, and nothing happens);
//  2. the tests of every share in tw are evaluated, a missing share
//     reading as empty;
//  3. the read vectors are read from every existing share;
//  4. only if every test passed, the writes are applied share by share: a
//     missing share is created (with this write enabler and NodeID), the
//     writes land in order, a NewLength shorter than the data truncates it
//     (a longer one is ignored, as in Tahoe), and a NewLength of 0 deletes
//     the share (creating nothing if it is missing);
//  5. each share still there gets the lease, renewed or added (owner 1).
//
// Departures from Tahoe, each to keep a failure from leaving half a write:
// writes past MaxMutableShareSize (ErrRange) and writes the backend has no
// room for (ErrNoSpace) are refused before anything is written; when a
// lease cannot be added for want of space the writes stand and this is
// only logged (Tahoe answers an error after writing). A read-only server
// refuses writes with lafs.ErrReadOnly (Tahoe ignores readonly for mutable
// shares, its ticket #390).
func (s *Server) ReadTestWrite(ctx context.Context, si lafs.StorageIndex, writeEnabler lafs.Secret, lease lafs.LeaseSecrets, tw map[lafs.ShareNum]lafs.TestWriteVectors, read []lafs.ReadVector) (lafs.ReadTestWriteResult, error) {
	defer s.counters.timed(opWritev)()
	if err := ctx.Err(); err != nil {
		return lafs.ReadTestWriteResult{}, err
	}
	shnums := make([]lafs.ShareNum, 0, len(tw))
	for sh := range tw {
		if err := validShare(sh); err != nil {
			return lafs.ReadTestWriteResult{}, err
		}
		shnums = append(shnums, sh)
	}
	slices.Sort(shnums)

	unlock := s.locks.lock(si)
	defer unlock()

	shares, err := s.collectMutable(ctx, si, writeEnabler, tw)
	if err != nil {
		return lafs.ReadTestWriteResult{}, err
	}
	ok := true
	for _, sh := range shnums {
		pass, err := shares[sh].testv(ctx, tw[sh].Test)
		if err != nil {
			return lafs.ReadTestWriteResult{}, err
		}
		if !pass {
			s.log.Debug("test vector failed", "si", si, "share", sh)
			ok = false
			break
		}
	}
	res := lafs.ReadTestWriteResult{Success: ok, Data: make(map[lafs.ShareNum][][]byte, len(shares))}
	for sh, m := range shares {
		if res.Data[sh], err = m.readv(ctx, read); err != nil {
			return lafs.ReadTestWriteResult{}, err
		}
	}
	if !ok || len(tw) == 0 {
		return res, nil
	}
	if s.cfg.ReadOnly {
		return lafs.ReadTestWriteResult{}, fmt.Errorf("%w: mutable write refused", lafs.ErrReadOnly)
	}
	if err := s.checkMutableWrites(ctx, shares, shnums, tw); err != nil {
		return lafs.ReadTestWriteResult{}, err
	}

	var written []*mshare
	// Should anything below fail, the changes a backend keeps apart
	// until Sync are dropped, so that no later Sync or read sees writes
	// the client was told failed.
	failed := true
	defer func() {
		if d, ok := s.b.(backend.Discarder); ok && failed {
			for _, sh := range shnums {
				d.Discard(backend.Key{SI: si, Share: sh})
			}
		}
	}()
	for _, sh := range shnums {
		v := tw[sh]
		k := backend.Key{SI: si, Share: sh}
		m := shares[sh]
		if v.NewLength != nil && *v.NewLength == 0 {
			if m != nil {
				if err := s.b.Delete(ctx, k); err != nil {
					return lafs.ReadTestWriteResult{}, s.backendErrf(err, "deleting %s", shareName(kindMutable, k))
				}
				s.forgetStored(ctx, k)
				s.log.Debug("mutable share deleted by a zero new length", "si", si, "share", sh)
			}
			continue
		}
		created := m == nil
		if created {
			if newShareSize(v) <= draftLimit {
				m, err = s.draftMutable(ctx, k, writeEnabler)
			} else {
				m, err = s.createMutable(ctx, k, writeEnabler)
			}
			if err != nil {
				return lafs.ReadTestWriteResult{}, err
			}
		}
		if err := m.writev(ctx, v); err != nil {
			if created && m.draft == nil {
				// Leave no half-written new share behind.
				if derr := s.b.Delete(context.WithoutCancel(ctx), k); derr != nil {
					s.log.Warn("removing a failed new share", "si", si, "share", sh, "err", derr)
				}
			}
			return lafs.ReadTestWriteResult{}, err
		}
		written = append(written, m)
	}

	exp := expirationFrom(s.now())
	avail, err := s.availableSpace(ctx)
	if err != nil {
		return lafs.ReadTestWriteResult{}, err
	}
	if s.leasesOutside() {
		if err := s.commitWithStoredLeases(ctx, written, newLease(OwnerClient, lease, exp, s.cfg.NodeID, true)); err != nil {
			return lafs.ReadTestWriteResult{}, err
		}
		failed = false
		return res, nil
	}
	for _, m := range written {
		if err := m.addOrRenewLease(ctx, lease, exp, s.cfg.NodeID, avail); err != nil {
			if !errors.Is(err, lafs.ErrNoSpace) {
				return lafs.ReadTestWriteResult{}, err
			}
			s.log.Warn("no room to add a lease to a mutable share", "si", si, "share", m.k.Share, "err", err)
		}
	}
	// One flush per share for all its writes and its lease; a new share
	// composed in memory is committed whole.
	for _, m := range written {
		var err error
		if m.draft != nil {
			err = s.commitDraft(ctx, m)
		} else {
			err = s.backendErrf(s.b.Sync(ctx, m.k), "writing %s", shareName(kindMutable, m.k))
		}
		if err != nil {
			return lafs.ReadTestWriteResult{}, err
		}
	}
	failed = false
	return res, nil
}

// commitWithStoredLeases finishes ReadTestWrite for a server whose leases
// live in a LeaseStore: each written share's lease l is recorded, then its
// writes are made durable (a new share composed in memory is committed
// whole), so that no share is seen without its lease. Should a new share
// fail to appear, its record is put back as it was.
func (s *Server) commitWithStoredLeases(ctx context.Context, written []*mshare, l Lease) error {
	for _, m := range written {
		before, err := s.cfg.Leases.Leases(ctx, m.k)
		if err != nil {
			return s.backendErrf(err, "reading the leases of %s", shareName(kindMutable, m.k))
		}
		if err := s.setStored(ctx, m.k, kindMutable, m.size, withLease(slices.Clone(before), l)); err != nil {
			return err
		}
		if m.draft != nil {
			if err := s.commitDraft(ctx, m); err != nil {
				s.restoreStored(ctx, m.k, ShareInfo{Mutable: true, Size: m.size}, before)
				return err
			}
			continue
		}
		if err := s.b.Sync(ctx, m.k); err != nil {
			return s.backendErrf(err, "writing %s", shareName(kindMutable, m.k))
		}
	}
	return nil
}

// newShareSize bounds the container a new share's writes make.
func newShareSize(v lafs.TestWriteVectors) uint64 {
	end := uint64(0)
	for _, w := range v.Write {
		end = max(end, addClamp(w.Offset, uint64(len(w.Data))))
	}
	return addClamp(end, MutableDataOffset+4+MutableLeaseSize)
}

// collectMutable opens every share of si, checking the write enabler of
// each (_collect_mutable_shares_for_storage_index). An immutable share
// under si cannot have the write enabler: ErrUnauthorized, as Tahoe's
// reading of it as a mutable container would give. A corrupt container is
// passed over (neither read nor tested) unless tw writes its share, which
// is then lafs.ErrCorruptContainer: its test vectors cannot be judged.
// Tahoe fails on any. The extra leases of a share to be written are
// checked too, so that a bad count is found before anything is written.
func (s *Server) collectMutable(ctx context.Context, si lafs.StorageIndex, we lafs.Secret, tw map[lafs.ShareNum]lafs.TestWriteVectors) (map[lafs.ShareNum]*mshare, error) {
	all, err := s.b.List(ctx, si)
	if err != nil {
		return nil, s.backendErrf(err, "listing the shares of storage index %v", si)
	}
	shares := make(map[lafs.ShareNum]*mshare, len(all))
	for _, sh := range all {
		k := backend.Key{SI: si, Share: sh}
		_, written := tw[sh]
		kind, err := s.shareKindOf(ctx, k)
		if kind == kindCorrupt && !written {
			continue
		}
		if err != nil {
			return nil, err
		}
		switch kind {
		case kindNone:
			continue
		case kindImmutable:
			return nil, fmt.Errorf("%w: %s is immutable", lafs.ErrUnauthorized, shareName(kindImmutable, k))
		}
		m, err := s.openMutable(ctx, k)
		if errors.Is(err, lafs.ErrCorruptContainer) && !written {
			continue
		}
		if err != nil {
			return nil, err
		}
		if subtle.ConstantTimeCompare(m.h.WriteEnabler[:], we[:]) != 1 {
			s.log.Warn("bad write enabler", "si", si, "share", sh, "recorded_by", fmt.Sprintf("%x", m.h.WriteEnablerNodeID))
			return nil, fmt.Errorf("%w: write enabler of %v (recorded by node %x)", lafs.ErrUnauthorized, si, m.h.WriteEnablerNodeID)
		}
		if written {
			if _, err := m.extraLeaseBlock(ctx); err != nil {
				return nil, err
			}
		}
		shares[sh] = m
	}
	return shares, nil
}

// checkMutableWrites refuses, before anything is written, writes past the
// maximum share size and writes the backend has no room for.
func (s *Server) checkMutableWrites(ctx context.Context, shares map[lafs.ShareNum]*mshare, shnums []lafs.ShareNum, tw map[lafs.ShareNum]lafs.TestWriteVectors) error {
	var growth uint64
	for _, sh := range shnums {
		v := tw[sh]
		if v.NewLength != nil && *v.NewLength == 0 {
			continue
		}
		var end uint64
		for _, w := range v.Write {
			e := w.Offset + uint64(len(w.Data))
			if e < w.Offset || e > s.cfg.MaxMutableShareSize {
				return fmt.Errorf("%w: mutable write of %d bytes at %d, the limit is %d", lafs.ErrRange, len(w.Data), w.Offset, s.cfg.MaxMutableShareSize)
			}
			end = max(end, e)
		}
		if m := shares[sh]; m != nil {
			if len(v.Write) > 0 && MutableDataOffset+end > m.h.ExtraLeaseOffset {
				growth = addClamp(growth, MutableDataOffset+end-m.h.ExtraLeaseOffset)
			}
		} else {
			growth = addClamp(growth, MutableDataOffset+mutableExtraLeaseCountSz+end)
		}
	}
	if growth == 0 {
		return nil
	}
	avail, err := s.b.Available(ctx)
	if err != nil {
		return s.backendErrf(err, "measuring the available space")
	}
	if growth > avail {
		return fmt.Errorf("%w: mutable writes need %d bytes, %d available", lafs.ErrNoSpace, growth, avail)
	}
	return nil
}

// draftLimit is the largest new mutable share composed in memory before
// its single commit; larger ones are written in place.
const draftLimit = 16 << 20

// draftMutable starts a new mutable container in memory.
func (s *Server) draftMutable(ctx context.Context, k backend.Key, we lafs.Secret) (*mshare, error) {
	c := newMutableContainer(s.cfg.NodeID, we)
	h, _ := ParseMutableHeader(c)
	return &mshare{s: s, k: k, h: h, size: int64(len(c)), draft: &draft{b: c}}, nil
}

// commitDraft writes a share composed in memory to the backend in one
// staged object: nothing is visible until it is whole and durable.
func (s *Server) commitDraft(ctx context.Context, m *mshare) error {
	buf := m.draft.b[:m.size]
	st, err := s.b.Create(ctx, m.k, int64(len(buf)))
	if err != nil {
		return s.backendErrf(err, "creating %s", shareName(kindMutable, m.k))
	}
	if err := st.WriteAt(buf, 0); err != nil {
		st.Abort()
		return s.backendErrf(err, "creating %s", shareName(kindMutable, m.k))
	}
	if err := st.Commit(ctx); err != nil {
		st.Abort()
		if errors.Is(err, backend.ErrExist) {
			return fmt.Errorf("%w: %s appeared meanwhile", lafs.ErrConflict, shareName(kindMutable, m.k))
		}
		return s.backendErrf(err, "creating %s", shareName(kindMutable, m.k))
	}
	m.draft = nil
	return nil
}

// createMutable writes a new, empty mutable container.
func (s *Server) createMutable(ctx context.Context, k backend.Key, we lafs.Secret) (*mshare, error) {
	c := newMutableContainer(s.cfg.NodeID, we)
	st, err := s.b.Create(ctx, k, int64(len(c)))
	if err != nil {
		return nil, s.backendErrf(err, "creating %s", shareName(kindMutable, k))
	}
	if err := st.WriteAt(c, 0); err != nil {
		st.Abort()
		return nil, s.backendErrf(err, "creating %s", shareName(kindMutable, k))
	}
	if err := st.Commit(ctx); err != nil {
		st.Abort()
		if errors.Is(err, backend.ErrExist) {
			return nil, fmt.Errorf("%w: %s appeared meanwhile", lafs.ErrConflict, shareName(kindMutable, k))
		}
		return nil, s.backendErrf(err, "creating %s", shareName(kindMutable, k))
	}
	h, _ := ParseMutableHeader(c)
	return &mshare{s: s, k: k, h: h, size: int64(len(c))}, nil
}

// ReadMutable implements lafs.StorageServer: up to length bytes of the
// share data at offset (never the container around it).
func (s *Server) ReadMutable(ctx context.Context, si lafs.StorageIndex, shnum lafs.ShareNum, offset, length uint64) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	start := s.counters.clock()
	unlock := s.locks.rlock(si)
	defer unlock()
	m, err := s.openMutable(ctx, backend.Key{SI: si, Share: shnum})
	if err != nil {
		return nil, err
	}
	p, err := m.read(ctx, offset, length)
	if err == nil {
		s.counters.chunks(opReadv, start, len(p))
	}
	return p, err
}

// ListMutable implements lafs.StorageServer: the mutable shares, sorted.
func (s *Server) ListMutable(ctx context.Context, si lafs.StorageIndex) ([]lafs.ShareNum, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	unlock := s.locks.rlock(si)
	defer unlock()
	return s.sharesOfKind(ctx, si, kindMutable)
}
