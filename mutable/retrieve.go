package mutable

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/crypt"
	"github.com/lafs/lafs/hashtree"
	"github.com/lafs/lafs/zfec"
)

// batchBytes bounds the blocks read from one share in one request.
const batchBytes = 1 << 20

// retriever reads one version of the file (Tahoe's Retrieve): it fetches
// blocks from k shares, checks every block against its share's block hash
// tree, that tree against the share hash chain and the chain against the
// signed root hash, and decodes and decrypts. It remembers the trees it
// verified and the shares that failed, so later reads of the same version
// cost only blocks.
type retriever struct {
	f *File
	v *version
	g geometry

	mu      sync.Mutex
	trees   map[*remoteShare][]crypt.Hash // verified block hash trees
	bad     map[*remoteShare]error
	changed bool // a share was found replaced by another version
}

func (f *File) newRetriever(v *version) *retriever {
	g, _ := v.hdr.geometry() // a parsed header has a sound geometry
	return &retriever{f: f, v: v, g: g, trees: map[*remoteShare][]crypt.Hash{}, bad: map[*remoteShare]error{}}
}

// readAll returns the whole version.
func (r *retriever) readAll(ctx context.Context) ([]byte, error) {
	if r.g.numSegments == 0 {
		return []byte{}, nil
	}
	return r.segments(ctx, 0, r.g.numSegments-1)
}

// readAt reads into p from offset off, as io.ReaderAt.
func (r *retriever) readAt(ctx context.Context, p []byte, off int64) (int, error) {
	size := int64(r.v.hdr.DataLength)
	if off < 0 {
		return 0, fmt.Errorf("mutable: negative offset %d", off)
	}
	if off >= size {
		return 0, io.EOF
	}
	n := min(int64(len(p)), size-off)
	if n == 0 {
		return 0, nil
	}
	seg := int64(r.g.segmentSize)
	first, last := int(off/seg), int((off+n-1)/seg)
	data, err := r.segments(ctx, first, last)
	if err != nil {
		return 0, err
	}
	copy(p[:n], data[off-int64(first)*seg:])
	if n < int64(len(p)) {
		return int(n), io.EOF
	}
	return int(n), nil
}

// segments returns the plaintext of segments first..last.
func (r *retriever) segments(ctx context.Context, first, last int) ([]byte, error) {
	per := max(1, batchBytes/int(r.g.blockSize+r.g.saltSize+1))
	var out []byte
	for a := first; a <= last; a += per {
		b := min(last, a+per-1)
		pt, err := r.batch(ctx, a, b)
		if err != nil {
			return nil, err
		}
		out = append(out, pt...)
	}
	return out, nil
}

// fetched is what one share gave for a batch of segments.
type fetched struct {
	blocks [][]byte
	salts  [][SaltSize]byte
}

// batch reads segments a..b from k shares, replacing any share that fails
// with another of the same version, and giving a read that is late
// against what the servers usually take (see readLateFactor) a twin on
// another share; then it decodes and decrypts them.
func (r *retriever) batch(ctx context.Context, a, b int) ([]byte, error) {
	k := r.v.hdr.K
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // the reads that lost
	type result struct {
		s    *remoteShare
		f    *fetched
		err  error
		took time.Duration
	}
	results := make(chan result, len(r.v.shares))
	got := map[lafs.ShareNum]*fetched{}
	tried := map[*remoteShare]bool{}
	busy := map[lafs.ShareNum]bool{}
	lateAt := map[*remoteShare]time.Time{} // the reads under way
	hedged := map[*remoteShare]bool{}
	var servers []*lafs.Server
	for _, s := range r.v.shares {
		servers = append(servers, s.server)
	}
	late := max(readLateMin, readLateFactor*usualOf(servers))
	var lastErr error
	launch := func() bool {
		for _, slow := range []bool{false, true} {
			for _, s := range r.v.shares {
				if got[s.shnum] != nil || busy[s.shnum] || tried[s] || r.isBad(s) || s.server.Latency.Demoted() != slow {
					continue
				}
				tried[s], busy[s.shnum], lateAt[s] = true, true, time.Now().Add(late)
				go func() {
					start := time.Now()
					fctx, cancel := r.f.opts.bound(ctx)
					defer cancel()
					f, err := r.fetch(fctx, s, a, b)
					results <- result{s, f, err, time.Since(start)}
				}()
				return true
			}
		}
		return false
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for len(got) < k {
		for len(lateAt)+len(got) < k && launch() {
		}
		if len(lateAt) == 0 {
			err := fmt.Errorf("%w: have %d of %d shares for segments %d..%d of seq %d; last failure: %v",
				ErrNotEnoughShares, len(got), k, a, b, r.v.hdr.Seqnum, lastErr)
			return nil, r.wrapChanged(err)
		}
		var next time.Time
		for s, t := range lateAt {
			if !hedged[s] && (next.IsZero() || t.Before(next)) {
				next = t
			}
		}
		if next.IsZero() {
			timer.Stop()
		} else {
			timer.Reset(time.Until(next))
		}
		select {
		case res := <-results:
			delete(lateAt, res.s)
			delete(busy, res.s.shnum)
			if res.err != nil {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				if errors.Is(res.err, context.DeadlineExceeded) {
					res.s.server.Latency.Demote(demoteFor)
				}
				lastErr = res.err
				r.markBad(ctx, res.s, res.err)
				continue
			}
			res.s.server.Latency.Observe(res.took)
			got[res.s.shnum] = res.f
		case <-timer.C:
			now := time.Now()
			for s, t := range lateAt {
				if !hedged[s] && !now.Before(t) {
					hedged[s] = true
					launch()
				}
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	for s := range lateAt {
		if hedged[s] {
			s.server.Latency.Demote(demoteFor)
		}
	}
	return r.decode(got, a, b)
}

// decode turns k shares' blocks of segments a..b into plaintext.
func (r *retriever) decode(got map[lafs.ShareNum]*fetched, a, b int) ([]byte, error) {
	h := r.v.hdr
	codec, err := zfec.New(h.K, h.N)
	if err != nil {
		return nil, err
	}
	nums := make([]int, 0, len(got))
	for sh := range got {
		nums = append(nums, int(sh))
	}
	slices.Sort(nums)
	var out []byte
	for seg := a; seg <= b; seg++ {
		blocks := make([][]byte, len(nums))
		for i, sh := range nums {
			blocks[i] = got[lafs.ShareNum(sh)].blocks[seg-a]
		}
		prim, err := codec.Decode(blocks, nums)
		if err != nil {
			return nil, err
		}
		start := len(out)
		for _, p := range prim {
			out = append(out, p...)
		}
		out = out[:start+int(r.g.segmentLen(seg))]
		salt := h.Salt
		if h.Version == MDMFVersion {
			salt = got[lafs.ShareNum(nums[0])].salts[seg-a]
		}
		key := crypt.SSKDataKey(salt[:], r.f.readKey[:])
		if err := crypt.XORCTR(key[:], out[start:]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// fetch reads segments a..b of one share in one request and verifies
// every block.
func (r *retriever) fetch(ctx context.Context, s *remoteShare, a, b int) (*fetched, error) {
	tree, err := r.blockTree(ctx, s)
	if err != nil {
		return nil, err
	}
	base := s.hdr.BlockRange(a).Begin
	buf, err := s.read(ctx, r.f.si, Range{base, s.hdr.BlockRange(b).End})
	if err != nil {
		return nil, err
	}
	p := (len(tree) + 1) / 2
	out := &fetched{}
	for seg := a; seg <= b; seg++ {
		rg := s.hdr.BlockRange(seg)
		blk := buf[rg.Begin-base : rg.End-base]
		salt := s.hdr.Salt
		if r.g.saltSize > 0 {
			salt = [SaltSize]byte(blk)
			blk = blk[SaltSize:]
		}
		if blockHash(s.hdr.Version, salt, blk) != tree[p-1+seg] {
			return nil, badShare("share %d on %s: block %d does not match its hash", s.shnum, s.server.String(), seg)
		}
		out.blocks = append(out.blocks, blk)
		out.salts = append(out.salts, salt)
	}
	return out, nil
}

// blockTree returns a share's block hash tree, verified: every node
// against its children, and its root, through the share hash chain,
// against the root hash the signature covers.
func (r *retriever) blockTree(ctx context.Context, s *remoteShare) ([]crypt.Hash, error) {
	r.mu.Lock()
	t := r.trees[s]
	r.mu.Unlock()
	if t != nil {
		return t, nil
	}
	cb, err := s.read(ctx, r.f.si, s.hdr.ShareHashChainRange())
	if err != nil {
		return nil, err
	}
	tb, err := s.read(ctx, r.f.si, s.hdr.BlockHashTreeRange())
	if err != nil {
		return nil, err
	}
	chain, err := ParseHashChain(cb)
	if err != nil {
		return nil, err
	}
	if t, err = parseHashes(tb); err != nil {
		return nil, err
	}
	if err := verifyTrees(s.hdr, int(s.shnum), chain, t); err != nil {
		return nil, fmt.Errorf("share %d on %s: %w", s.shnum, s.server.String(), err)
	}
	r.mu.Lock()
	r.trees[s] = t
	r.mu.Unlock()
	return t, nil
}

// verifyTrees checks a share's full block hash tree and its share hash
// chain against the header's root hash.
func verifyTrees(h *Header, shnum int, chain HashChain, bht []crypt.Hash) error {
	if len(bht) != hashtree.Size(h.NumSegments()) {
		return badShare("block hash tree of %d hashes for %d segments", len(bht), h.NumSegments())
	}
	p := (len(bht) + 1) / 2
	for i := 0; i < p-1; i++ {
		if bht[i] != crypt.MerkleInternalHash(bht[2*i+1], bht[2*i+2]) {
			return badShare("block hash tree node %d does not match its children", i)
		}
	}
	st := hashtree.NewIncomplete(h.N)
	if err := st.SetHashes(map[int]crypt.Hash{0: h.RootHash}, nil); err != nil {
		return err
	}
	if err := st.SetHashes(chain, map[int]crypt.Hash{shnum: bht[0]}); err != nil {
		return badShare("share hash chain: %v", err)
	}
	return nil
}

func (r *retriever) isBad(s *remoteShare) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bad[s] != nil
}

// markBad stops using a share. If it failed its hashes, its server is
// told, unless it failed only because a newer version replaced it.
func (r *retriever) markBad(ctx context.Context, s *remoteShare, err error) {
	r.mu.Lock()
	r.bad[s] = err
	r.mu.Unlock()
	if !errors.Is(err, ErrBadShare) {
		return
	}
	want := s.hdr.Signable()
	now, rerr := s.server.Storage.ReadMutable(ctx, r.f.si, s.shnum, 0, uint64(len(want)))
	if rerr == nil && !bytes.Equal(now, want) {
		r.mu.Lock()
		r.changed = true // replaced, not corrupt
		r.mu.Unlock()
		return
	}
	r.f.adviseCorrupt(s, err)
}

// wrapChanged adds ErrUncoordinatedWrite to err if shares of the version
// were replaced while it was being read, as Tahoe's Retrieve reports a
// prefix that changed: reading again will find the new version.
func (r *retriever) wrapChanged(err error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.changed {
		return fmt.Errorf("%w (%w: the version changed while it was read)", err, ErrUncoordinatedWrite)
	}
	return err
}
