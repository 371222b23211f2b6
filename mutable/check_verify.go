package mutable

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/crypt"
)

const (
	// verifyParallel bounds the shares verified at once (perServerReads
	// those of one server).
	verifyParallel = 8
	// maxHeadBytes bounds what may precede a share's data: Tahoe's MDMF
	// shares reserve 2167 bytes, SDMF shares need about 1000.
	maxHeadBytes = 1 << 20
)

// errChanged says a share was rewritten between the servermap and its
// verification: it is not corrupt, only no longer the version seen.
var errChanged = errors.New("the share changed while it was checked (another writer?)")

// verifyAll reads every good share of every version whole and checks it
// (see verifyShare), a few at a time. Shares that fail move to the bad
// ones; shares whose server failed mid-way, or that another writer
// changed, are set aside as unverified.
func (c *checker) verifyAll(ctx context.Context) error {
	shares := c.m.shares
	errs := make([]error, len(shares))
	perServer := map[*lafs.Server]chan struct{}{}
	for _, rs := range shares {
		if perServer[rs.server] == nil {
			perServer[rs.server] = make(chan struct{}, perServerReads)
		}
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(verifyParallel, len(shares)) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < len(shares); i = int(next.Add(1) - 1) {
				sem := perServer[shares[i].server]
				select {
				case sem <- struct{}{}:
				case <-ctx.Done():
					errs[i] = ctx.Err()
					continue
				}
				errs[i] = c.judge(ctx, shares[i])
				<-sem
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	var good, unverified []*remoteShare
	for i, rs := range shares {
		switch err := errs[i]; {
		case err == nil:
			good = append(good, rs)
		case errors.Is(err, ErrBadShare):
			rs.err = err
			c.m.bad = append(c.m.bad, rs)
		default:
			c.unverified[rs] = err
			good = append(good, rs)
			unverified = append(unverified, rs)
		}
	}
	noteCapped(c, unverified, func(rs *remoteShare) string {
		return fmt.Sprintf("share %d on %s could not be verified: %v", rs.shnum, rs.server.String(), c.unverified[rs])
	}, shareServer, "shares could not be verified")
	c.m.shares = good
	slices.SortFunc(c.m.bad, func(a, b *remoteShare) int {
		if a.rank != b.rank {
			return a.rank - b.rank
		}
		return int(a.shnum) - int(b.shnum)
	})
	return nil
}

// judge verifies one share (verifyShare). A share that fails is read
// again from its start: if another writer replaced it meanwhile (with a
// new version, perhaps shorter, so that reads ran past its end), it is
// not corrupt, and judge returns errChanged.
func (c *checker) judge(ctx context.Context, rs *remoteShare) error {
	err := c.verifyShare(ctx, rs)
	if !errors.Is(err, ErrBadShare) {
		return err
	}
	n := uint64(mdmfHeaderSize)
	if rs.hdr.Version == SDMFVersion {
		n = sdmfHeaderSize
	}
	rctx, cancel := c.ask(ctx)
	defer cancel()
	now, rerr := rs.server.Storage.ReadMutable(rctx, c.f.si, rs.shnum, 0, n)
	switch {
	case errors.Is(rerr, lafs.ErrNotExist):
		return errChanged
	case rerr != nil:
		// No verdict: not bad, unless it is the same share.
		return fmt.Errorf("it looked bad (%s), but reading its header again failed: %w", reason(err), rerr)
	case !bytes.Equal(now, rs.head[:n]):
		return errChanged
	}
	return err
}

// verifyShare reads one share whole and checks everything in it against
// the cap: the verification key against the fingerprint, the signature
// over the signed prefix, the share hash chain against the signed root
// hash, the block hash tree against the chain, every block (with its
// salt, for MDMF) against the tree, and, when the write key is known, the
// encrypted private key against it (as Tahoe's verifier does). It fails
// with ErrBadShare for a bad share.
func (c *checker) verifyShare(ctx context.Context, rs *remoteShare) error {
	h := rs.hdr
	read := func(r Range) ([]byte, error) { return c.readRange(ctx, rs, r) }
	if h.Offsets.ShareData > maxHeadBytes {
		return badShare("%d bytes before the share data", h.Offsets.ShareData)
	}
	// Everything before the share data in one read: the header, the key,
	// signature and chain (and SDMF's block hash tree, MDMF's private key).
	head, err := read(Range{0, h.Offsets.ShareData})
	if err != nil {
		return err
	}
	hdrLen := min(len(head), len(rs.head), mdmfHeaderSize)
	if h.Version == SDMFVersion {
		hdrLen = min(hdrLen, sdmfHeaderSize)
	}
	if !bytes.Equal(head[:hdrLen], rs.head[:hdrLen]) {
		return errChanged
	}
	part := func(r Range) ([]byte, error) {
		if r.End <= uint64(len(head)) {
			return head[r.Begin:r.End], nil
		}
		return read(r)
	}
	vk, err := part(h.VerificationKeyRange())
	if err != nil {
		return err
	}
	if crypt.SSKPubkeyFingerprint(vk) != c.f.fingerprint {
		return badShare("verification key does not match the cap's fingerprint")
	}
	sig, err := part(h.SignatureRange())
	if err != nil {
		return err
	}
	if err := c.sigs.verify(vk, h.Signable(), sig); err != nil {
		return err
	}
	cb, err := part(h.ShareHashChainRange())
	if err != nil {
		return err
	}
	chain, err := ParseHashChain(cb)
	if err != nil {
		return err
	}
	tb, err := part(h.BlockHashTreeRange())
	if err != nil {
		return err
	}
	tree, err := parseHashes(tb)
	if err != nil {
		return err
	}
	if err := verifyTrees(h, int(rs.shnum), chain, tree); err != nil {
		return err
	}
	if c.f.writeKey != nil {
		enc, err := part(h.EncPrivKeyRange())
		if err != nil {
			return err
		}
		der := append([]byte(nil), enc...)
		if err := crypt.XORCTR(c.f.writeKey[:], der); err != nil {
			return err
		}
		if crypt.SSKWriteKey(der) != *c.f.writeKey {
			return badShare("invalid private key: it does not match the write key")
		}
	}
	return c.verifyBlocks(ctx, rs, tree)
}

// verifyBlocks reads a share's blocks, a batch at a time, and checks each
// against the (verified) block hash tree.
func (c *checker) verifyBlocks(ctx context.Context, rs *remoteShare, tree []crypt.Hash) error {
	h := rs.hdr
	g, err := h.geometry()
	if err != nil {
		return err
	}
	leaves := (len(tree) + 1) / 2
	per := max(1, batchBytes/int(g.blockSize+g.saltSize+1))
	for a := 0; a < g.numSegments; a += per {
		b := min(g.numSegments-1, a+per-1)
		base := h.BlockRange(a).Begin
		buf, err := c.readRange(ctx, rs, Range{base, h.BlockRange(b).End})
		if err != nil {
			return err
		}
		for seg := a; seg <= b; seg++ {
			r := h.BlockRange(seg)
			blk := buf[r.Begin-base : r.End-base]
			salt := h.Salt
			if g.saltSize > 0 {
				salt = [SaltSize]byte(blk)
				blk = blk[SaltSize:]
			}
			if blockHash(h.Version, salt, blk) != tree[leaves-1+seg] {
				return badShare("block %d does not match its hash", seg)
			}
		}
	}
	return nil
}

// readRange reads exactly the bytes of r from a share, each request
// bounded by the check's timeout. A share too short for r is bad.
func (c *checker) readRange(ctx context.Context, rs *remoteShare, r Range) ([]byte, error) {
	if r.Len() == 0 {
		return nil, nil
	}
	var out []byte
	for off := r.Begin; off < r.End; {
		n := min(r.End-off, batchBytes)
		rctx, cancel := c.ask(ctx)
		b, err := rs.server.Storage.ReadMutable(rctx, c.f.si, rs.shnum, off, n)
		cancel()
		if errors.Is(err, lafs.ErrNotExist) {
			return nil, errChanged // deleted since it was listed
		}
		if err != nil {
			return nil, fmt.Errorf("reading %d bytes at %d: %w", n, off, err)
		}
		if uint64(len(b)) < n {
			return nil, badShare("share ends at %d, its offsets say %d", off+uint64(len(b)), r.End)
		}
		if out == nil && n == r.Len() {
			return b[:n:n], nil
		}
		out = append(out, b[:n]...)
		off += n
	}
	return out, nil
}
