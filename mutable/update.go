package mutable

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/crypt"
)

// WriteAt writes data at offset off, growing the file if it runs past the
// end (a gap between the end and off reads as zeros), and publishes the
// result as a new version.
//
// An MDMF file is updated in place, as Tahoe's update does: only the
// segments the write touches are read, re-encrypted under fresh salts and
// written again, with every share's new block hash tree, share hash chain,
// root hash and signature; the other blocks stay where they are. That
// needs the block hash trees of all N shares; when some cannot be read,
// and for SDMF files, the whole file is read, changed and published again.
//
// Like Modify, WriteAt starts over (up to 4 attempts) when another writer
// gets in the way; it fails with ErrUncoordinatedWrite if that persists.
func (f *File) WriteAt(ctx context.Context, data []byte, off int64) error {
	if f.IsReadOnly() {
		return ErrReadOnly
	}
	if off < 0 {
		return fmt.Errorf("mutable: negative offset %d", off)
	}
	if err := f.lock(ctx); err != nil {
		return err
	}
	defer f.unlock()
	return f.retry(ctx, func(bool) error {
		m, err := f.refresh(ctx)
		if err != nil {
			return err
		}
		r := f.current()
		if len(data) == 0 && off <= int64(r.v.hdr.DataLength) {
			return nil
		}
		if r.v.hdr.Version == MDMFVersion {
			err := f.update(ctx, m, r, data, uint64(off))
			if !errors.Is(err, errNeedWholeFile) {
				return err
			}
		}
		old, err := r.readAll(ctx)
		if err != nil {
			return err
		}
		return f.overwrite(ctx, m, splice(old, data, uint64(off)))
	})
}

// errNeedWholeFile says an in-place update is not possible.
var errNeedWholeFile = errors.New("in-place update impossible")

// splice writes data over old at off, growing old as needed.
func splice(old, data []byte, off uint64) []byte {
	out := make([]byte, max(uint64(len(old)), off+uint64(len(data))))
	copy(out, old)
	copy(out[off:], data)
	return out
}

// update publishes version r.v with data written at off, rewriting only
// the segments it touches (Tahoe's Publish.update).
func (f *File) update(ctx context.Context, m *serverMap, r *retriever, data []byte, off uint64) error {
	keys, err := f.loadKeys(ctx, m)
	if err != nil {
		return err
	}
	h, g := r.v.hdr, r.g
	if g.segmentSize == 0 {
		return fmt.Errorf("%w: segment size 0", errNeedWholeFile)
	}
	if off > h.DataLength { // fill the gap with zeros
		data = append(make([]byte, off-h.DataLength), data...)
		off = h.DataLength
	}
	end := off + uint64(len(data))
	nh := *h
	nh.Seqnum, nh.DataLength, nh.Offsets = m.highestSeqnum()+1, max(h.DataLength, end), Offsets{}
	ng, err := nh.geometry()
	if err != nil {
		return err
	}
	first, last := int(off/g.segmentSize), ng.numSegments-1
	if end < h.DataLength {
		last = int((end - 1) / g.segmentSize)
	}

	// Every share's old leaves, from its verified block hash tree.
	trees, err := r.allTrees(ctx)
	if err != nil {
		return err
	}
	// The old plaintext of the edge segments the write covers only partly.
	old := map[int][]byte{}
	for _, i := range []int{first, last} {
		start := uint64(i) * g.segmentSize
		covered := off <= start && end >= min(start+g.segmentSize, nh.DataLength)
		if i < g.numSegments && !covered && old[i] == nil {
			if old[i], err = r.segments(ctx, i, i); err != nil {
				return err
			}
		}
	}
	plaintext := func(i int) []byte {
		start := uint64(i) * g.segmentSize
		b := make([]byte, ng.segmentLen(i))
		copy(b, old[i])
		if lo, hi := max(start, off), min(start+uint64(len(b)), end); lo < hi {
			copy(b[lo-start:], data[lo-off:hi-off])
		}
		return b
	}
	rnd := f.randReader()
	segs, err := encodeSegments(&nh, keys.ReadKey, plaintext, first, last, rnd)
	if err != nil {
		return err
	}
	leaves := make([][]crypt.Hash, nh.N)
	for sh := range leaves {
		t := trees[lafs.ShareNum(sh)]
		p := (len(t) + 1) / 2
		leaves[sh] = make([]crypt.Hash, ng.numSegments)
		copy(leaves[sh], t[p-1:p-1+g.numSegments])
		for i := first; i <= last; i++ {
			leaves[sh][i] = segs.leaves[i][sh]
		}
	}
	shares, err := finishShares(nh, keys, leaves, segs, rnd)
	if err != nil {
		return err
	}
	vecs := make([][]lafs.WriteVector, nh.N)
	for sh, s := range shares {
		if vecs[sh], err = s.updateVectors(first, last); err != nil {
			return err
		}
	}
	p := newPublisher(f, keys, m, nh.N, shares[0].Checkstring(), func(sh lafs.ShareNum) ([]lafs.WriteVector, uint64) {
		return vecs[sh], shares[sh].Offsets.EOF
	})
	// Only the shares of this version are updated; no new ones are placed.
	var goal []slotWrite
	for _, rs := range r.v.shares {
		if !r.isBad(rs) {
			goal = append(goal, slotWrite{server: rs.server, rank: rs.rank, shnum: rs.shnum, test: rs.checkstring()})
		}
	}
	if err := p.run(ctx, goal, nh.K, false); err != nil {
		return err
	}
	f.setCurrent(f.newRetriever(p.newVersion(shares, func(sh lafs.ShareNum) []byte { return vecs[sh][0].Data })))
	return nil
}

// allTrees fetches and verifies the block hash tree of every share number
// of the version, or fails with errNeedWholeFile.
func (r *retriever) allTrees(ctx context.Context) (map[lafs.ShareNum][]crypt.Hash, error) {
	out := map[lafs.ShareNum][]crypt.Hash{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, s := range r.v.shares {
		wg.Go(func() {
			t, err := r.blockTree(ctx, s)
			if err != nil {
				r.markBad(ctx, s, err)
				return
			}
			mu.Lock()
			out[s.shnum] = t
			mu.Unlock()
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(out) < r.v.hdr.N {
		err := fmt.Errorf("%w: block hash trees of %d of %d shares", errNeedWholeFile, len(out), r.v.hdr.N)
		if werr := r.wrapChanged(err); werr != err {
			return nil, fmt.Errorf("%w: %w", ErrUncoordinatedWrite, werr)
		}
		return nil, err
	}
	return out, nil
}

// loadKeys returns the file's signing keys, decrypting the private key a
// share holds with the write key the first time.
func (f *File) loadKeys(ctx context.Context, m *serverMap) (*Keys, error) {
	f.mu.Lock()
	k := f.keys
	f.mu.Unlock()
	if k != nil {
		return k, nil
	}
	if f.writeKey == nil {
		return nil, ErrReadOnly
	}
	var errs []error
	for _, rs := range m.shares {
		k, err := f.keysFrom(ctx, rs)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		f.mu.Lock()
		f.keys = k
		f.mu.Unlock()
		return k, nil
	}
	return nil, fmt.Errorf("%w: no share gave the file's private key: %w", ErrNotEnoughShares, errors.Join(errs...))
}

// keysFrom decrypts one share's private key and checks it against the cap.
// The share's own DER encodings are kept, so that new shares carry
// exactly the bytes the cap was derived from.
func (f *File) keysFrom(ctx context.Context, rs *remoteShare) (*Keys, error) {
	enc, err := rs.read(ctx, f.si, rs.hdr.EncPrivKeyRange())
	if err != nil {
		return nil, err
	}
	der := append([]byte(nil), enc...)
	if err := crypt.XORCTR(f.writeKey[:], der); err != nil {
		return nil, err
	}
	if crypt.SSKWriteKey(der) != *f.writeKey {
		return nil, badShare("share %d on %s: encrypted private key does not match the write key", rs.shnum, rs.server.String())
	}
	priv, err := crypt.ParseRSAPrivateKey(der)
	if err != nil {
		return nil, badShare("share %d: private key: %v", rs.shnum, err)
	}
	vk, err := rs.read(ctx, f.si, rs.hdr.VerificationKeyRange())
	if err != nil {
		return nil, err
	}
	k := &Keys{Private: priv, PrivateDER: der, PublicDER: vk, WriteKey: *f.writeKey, ReadKey: f.readKey,
		StorageIndex: f.si, Fingerprint: f.fingerprint}
	return k, nil
}
