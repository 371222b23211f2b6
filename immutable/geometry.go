package immutable

import (
	"fmt"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/hashtree"
)

// LITThreshold is the largest file that becomes a LIT cap instead of CHK
// shares (Tahoe's URI_LIT_SIZE_THRESHOLD).
const LITThreshold = 55

// Geometry is how a file of a given size is cut into segments and blocks.
type Geometry struct {
	Size          uint64 // plaintext bytes
	K, N          int
	SegmentSize   int    // effective segment size, a multiple of K
	NumSegments   int    // at least 1
	TailSize      int    // real bytes in the last segment
	PaddedTail    int    // TailSize rounded up to a multiple of K
	BlockSize     int    // SegmentSize / K
	TailBlockSize int    // PaddedTail / K
	ShareDataSize uint64 // bytes of blocks in one share: ceil(Size / K)
}

func nextMultiple(n, k uint64) uint64 { return (n + k - 1) / k * k }

// NewGeometry computes the geometry of a CHK file of size bytes with k-of-n
// coding and the given maximum segment size, exactly as Tahoe's encoder does:
// segsize = next_multiple(min(maxSegment, size), k).
func NewGeometry(size uint64, k, n, maxSegment int) (Geometry, error) {
	p := lafs.Params{K: k, N: n, SegmentSize: maxSegment}
	if err := p.Validate(); err != nil {
		return Geometry{}, err
	}
	seg := uint64(maxSegment)
	if size < seg {
		seg = size
	}
	seg = nextMultiple(seg, uint64(k))
	if seg == 0 {
		// An empty file becomes LIT in Tahoe; keep the arithmetic sane anyway.
		seg = uint64(k)
	}
	return geometryWithSegment(size, k, n, seg)
}

// geometryWithSegment computes the geometry for an exact segment size (a
// positive multiple of k), as a UEB records it.
func geometryWithSegment(size uint64, k, n int, seg uint64) (Geometry, error) {
	if seg == 0 || seg%uint64(k) != 0 || seg > 1<<40 {
		return Geometry{}, fmt.Errorf("%w: segment size %d for k=%d", lafs.ErrBadParams, seg, k)
	}
	g := Geometry{Size: size, K: k, N: n, SegmentSize: int(seg)}
	nseg := (size + seg - 1) / seg
	if nseg == 0 {
		nseg = 1
	}
	if nseg > 1<<40 {
		return Geometry{}, fmt.Errorf("%w: %d segments", lafs.ErrBadParams, nseg)
	}
	g.NumSegments = int(nseg)
	tail := size - (nseg-1)*seg
	g.TailSize = int(tail)
	g.PaddedTail = int(nextMultiple(tail, uint64(k)))
	g.BlockSize = int(seg) / k
	g.TailBlockSize = g.PaddedTail / k
	g.ShareDataSize = (size + uint64(k) - 1) / uint64(k)
	return g, nil
}

// SegmentLen is the real (unpadded) length of segment i.
func (g Geometry) SegmentLen(i int) int {
	if i == g.NumSegments-1 {
		return g.TailSize
	}
	return g.SegmentSize
}

// BlockLen is the length of each share's block for segment i.
func (g Geometry) BlockLen(i int) int {
	if i == g.NumSegments-1 {
		return g.TailBlockSize
	}
	return g.BlockSize
}

// NumShareHashes is how many share hash tree entries each share carries:
// the chain for leaf 0 with the leaf included, as Tahoe sizes it.
func (g Geometry) NumShareHashes() int {
	return len(hashtree.NeededHashes(g.N, 0, true))
}
