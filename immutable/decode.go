package immutable

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/crypt"
	"github.com/lafs/lafs/hashtree"
)

// Share is one share of a CHK file as one server holds it.
type Share interface {
	// Num is the share number.
	Num() lafs.ShareNum
	// ReadAt returns up to n bytes of the share data at off; fewer only
	// at the end of the share. Implementations may be called concurrently.
	ReadAt(ctx context.Context, off uint64, n int) ([]byte, error)
}

// corruptionAdviser is a Share that can tell its server that it failed
// its hashes (Tahoe's advise_corrupt_share).
type corruptionAdviser interface {
	AdviseCorrupt(ctx context.Context, reason string) error
}

// ErrNotEnoughShares means fewer than k good shares could be found.
var ErrNotEnoughShares = errors.New("not enough good shares")

// maxUEBLen bounds the URI extension block a share may declare.
const maxUEBLen = 1 << 16

// maxTreesAtOnce bounds the hash trees asked for before the share's
// layout is checked against the UEB: 1 MiB holds those of files up to
// about 1 GiB at the usual segment size.
const maxTreesAtOnce = 1 << 20

// ShareError says which share failed and why.
type ShareError struct {
	Num lafs.ShareNum
	Err error
}

func (e *ShareError) Error() string { return fmt.Sprintf("share %d: %v", e.Num, e.Err) }
func (e *ShareError) Unwrap() error { return e.Err }

// activeShare is a share whose UEB, layout and hash trees have been checked.
type activeShare struct {
	share     Share
	layout    *Layout
	blockTree hashtree.Tree
	// whole is the entire share when the first read brought all of it;
	// blocks are then taken from it.
	whole []byte
	// badBlocks are the segments whose block in this share failed its
	// hash (guarded by the Reader's mutex). Every block is checked, so
	// the share's other blocks can still be used.
	badBlocks map[int]bool
}

// fileInfo is what the first share opened tells of the whole file, all of
// it checked against the cap.
type fileInfo struct {
	ueb      *UEB
	uebBytes []byte // as stored, which hashes to the cap's UEB hash
	geom     Geometry
	ctTree   hashtree.Tree // the crypttext hash tree
}

// smallShareRead is how much the first read of a share asks for when the
// whole share is likely to fit, so that the header, blocks, hashes and UEB
// of a small file's share come in one request.
const smallShareRead = 64 << 10

// firstReadLen is the length of the first read of a share of c.
func firstReadLen(c *cap.CHK) int {
	if c.Size/uint64(c.K) < smallShareRead/2 {
		return smallShareRead
	}
	return MaxHeaderLen
}

// shareReader reads one share, keeping what it read so that later reads
// inside it cost no request.
type shareReader struct {
	s      Share
	chunks []chunk
	size   int64 // the share's length once a read reached its end, else -1
}

type chunk struct {
	off uint64
	b   []byte
}

// fetch reads n bytes at off (fewer at the end) and keeps them.
func (sr *shareReader) fetch(ctx context.Context, off uint64, n int) ([]byte, error) {
	b, err := sr.s.ReadAt(ctx, off, n)
	if err != nil {
		return nil, err
	}
	sr.chunks = append(sr.chunks, chunk{off, b})
	if len(b) < n {
		sr.size = int64(off) + int64(len(b))
	}
	return b, nil
}

// read returns exactly n bytes at off, from what was read already when it
// covers them.
func (sr *shareReader) read(ctx context.Context, off uint64, n int) ([]byte, error) {
	end := off + uint64(n)
	for _, c := range sr.chunks {
		if off >= c.off && end <= c.off+uint64(len(c.b)) {
			return c.b[off-c.off : end-c.off], nil
		}
	}
	if sr.size >= 0 && end > uint64(sr.size) {
		return nil, fmt.Errorf("%w: share truncated: it ends at %d, want %d bytes at %d", ErrCorrupt, sr.size, n, off)
	}
	return readFull(ctx, sr.s, off, n)
}

func readFull(ctx context.Context, s Share, off uint64, n int) ([]byte, error) {
	b, err := s.ReadAt(ctx, off, n)
	if err != nil {
		return nil, err
	}
	if len(b) != n {
		return nil, fmt.Errorf("%w: share truncated: read %d bytes at %d, want %d", ErrCorrupt, len(b), off, n)
	}
	return b, nil
}

// openShare reads and checks a share of the file c: its header, its UEB
// against the cap, its crypttext tree against the UEB (unless known, from
// a share opened before, already holds it), and its block tree through its
// share hash chain against the UEB's share tree root. It takes one request
// for a small share and two otherwise. With known nil it also returns what
// the share tells of the file.
func openShare(ctx context.Context, c *cap.CHK, s Share, known *fileInfo) (*activeShare, *fileInfo, error) {
	sr := &shareReader{s: s, size: -1}
	first := firstReadLen(c)
	head, err := sr.fetch(ctx, 0, first)
	if err != nil {
		return nil, nil, err
	}
	lay, err := ParseLayout(head)
	if err != nil {
		return nil, nil, err
	}
	lenField := lay.lenFieldSize()
	if sr.size < 0 && lay.URIExtension+lenField > uint64(len(head)) {
		if trees := lay.URIExtension - lay.CrypttextHashTree; trees <= maxTreesAtOnce {
			// The hashes and the UEB, which ends the share: asking for up
			// to maxUEBLen bytes of UEB stops at its end.
			if _, err := sr.fetch(ctx, lay.CrypttextHashTree, int(trees+lenField+maxUEBLen)); err != nil {
				return nil, nil, err
			}
		} else if _, err := sr.fetch(ctx, lay.URIExtension, int(lenField+maxUEBLen)); err != nil {
			// Hash trees this large are those of a very large file, or a
			// header that lies: the UEB first, so that the layout is
			// checked against the file's geometry before the trees are
			// asked for.
			return nil, nil, err
		}
	}
	lb, err := sr.read(ctx, lay.URIExtension, int(lenField))
	if err != nil {
		return nil, nil, err
	}
	var uebLen uint64
	if lenField == 4 {
		uebLen = uint64(binary.BigEndian.Uint32(lb))
	} else {
		uebLen = binary.BigEndian.Uint64(lb)
	}
	if uebLen > maxUEBLen {
		return nil, nil, fmt.Errorf("%w: URI extension block of %d bytes", ErrCorrupt, uebLen)
	}
	uebBytes, err := sr.read(ctx, lay.URIExtension+lenField, int(uebLen))
	if err != nil {
		return nil, nil, err
	}
	if crypt.UEBHash(uebBytes) != c.UEBHash {
		return nil, nil, fmt.Errorf("%w: URI extension block does not match the cap's UEB hash", ErrCorrupt)
	}
	info := known
	if info == nil {
		ueb, err := ParseUEB(uebBytes)
		if err != nil {
			return nil, nil, err
		}
		if ueb.K != c.K || ueb.N != c.N || ueb.Size != c.Size {
			// The hash matched, so the uploader itself wrote a UEB that
			// disagrees with the cap: nothing can be trusted.
			return nil, nil, fmt.Errorf("URI extension block (k=%d n=%d size=%d) disagrees with the cap (k=%d n=%d size=%d)",
				ueb.K, ueb.N, ueb.Size, c.K, c.N, c.Size)
		}
		info = &fileInfo{ueb: ueb, uebBytes: uebBytes, geom: ueb.Geometry()}
	}
	g := info.geom
	if err := lay.check(g); err != nil {
		return nil, nil, err
	}
	// Crypttext tree, block tree and share hashes are contiguous.
	trees, err := sr.read(ctx, lay.CrypttextHashTree, int(lay.URIExtension-lay.CrypttextHashTree))
	if err != nil {
		return nil, nil, err
	}
	treeLen := int(lay.BlockHashes - lay.CrypttextHashTree)
	if info.ctTree == nil {
		ct, err := checkTree(trees[:treeLen], g.NumSegments)
		if err != nil {
			return nil, nil, fmt.Errorf("crypttext hash tree: %w", err)
		}
		if ct.Root() != info.ueb.CrypttextRootHash {
			return nil, nil, fmt.Errorf("%w: crypttext hash tree root does not match the UEB", ErrCorrupt)
		}
		info.ctTree = ct
	}
	bt, err := checkTree(trees[treeLen:2*treeLen], g.NumSegments)
	if err != nil {
		return nil, nil, fmt.Errorf("block hash tree: %w", err)
	}
	chain, err := parseShareHashes(trees[2*treeLen:])
	if err != nil {
		return nil, nil, err
	}
	st := hashtree.NewIncomplete(g.N)
	if err := st.SetHashes(map[int]hashtree.Hash{0: info.ueb.ShareRootHash}, nil); err != nil {
		return nil, nil, err
	}
	delete(chain, 0)
	if err := st.SetHashes(chain, map[int]hashtree.Hash{int(s.Num()): bt.Root()}); err != nil {
		return nil, nil, fmt.Errorf("%w: share hash chain: %v", ErrCorrupt, err)
	}
	a := &activeShare{share: s, layout: lay, blockTree: bt}
	if sr.size >= 0 && len(sr.chunks) == 1 {
		a.whole = head
	}
	return a, info, nil
}

// readBlock reads block i of a share and checks it against the share's
// block hash tree.
func (a *activeShare) readBlock(ctx context.Context, g Geometry, i int) ([]byte, error) {
	off := a.layout.Data + uint64(i)*uint64(g.BlockSize)
	n := g.BlockLen(i)
	var b []byte
	if a.whole != nil {
		if end := off + uint64(n); end <= uint64(len(a.whole)) {
			b = a.whole[off:end]
		} else {
			return nil, fmt.Errorf("%w: share truncated: block %d ends past its end", ErrCorrupt, i)
		}
	} else {
		var err error
		if b, err = readFull(ctx, a.share, off, n); err != nil {
			return nil, err
		}
	}
	if crypt.BlockHash(b) != a.blockTree[len(a.blockTree)-a.blockTree.NumLeaves()+i] {
		return nil, fmt.Errorf("%w: block %d fails its hash", ErrCorrupt, i)
	}
	return b, nil
}

// checkTree parses a stored flat hash tree of numLeaves leaves and checks
// that every interior node and padding leaf is what the leaves imply.
func checkTree(b []byte, numLeaves int) (hashtree.Tree, error) {
	if len(b) != 32*hashtree.Size(numLeaves) {
		return nil, fmt.Errorf("%w: %d bytes for %d leaves", ErrCorrupt, len(b), numLeaves)
	}
	stored := make(hashtree.Tree, len(b)/32)
	for i := range stored {
		copy(stored[i][:], b[32*i:])
	}
	first := len(stored) - stored.NumLeaves()
	built := hashtree.New(stored[first : first+numLeaves])
	for i := range built {
		if built[i] != stored[i] {
			return nil, fmt.Errorf("%w: hash tree node %d is wrong", ErrCorrupt, i)
		}
	}
	return built, nil
}
