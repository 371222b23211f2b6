package immutable

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/lafs/lafs/hashtree"
)

// Layout locates the sections of one share's data (Tahoe's immutable share
// layout v1 or v2, immutable/layout.py). Offsets count from the start of the
// share data, not of the server's container file.
type Layout struct {
	Version            int // 1: 32-bit fields, header 0x24; 2: 64-bit, header 0x44
	BlockSize          uint64
	DataSize           uint64
	Data               uint64
	PlaintextHashTree  uint64 // unused; zeros
	CrypttextHashTree  uint64
	BlockHashes        uint64
	ShareHashes        uint64
	URIExtension       uint64 // where the UEB length prefix starts
	uebLen             uint64 // for writers: the UEB length
	segmentHashesBytes uint64
	shareHashesBytes   uint64
}

// headerLen is the size of the offset table of a layout version.
func headerLen(version int) uint64 {
	if version == 1 {
		return 0x24
	}
	return 0x44
}

// lenFieldSize is the size of the UEB length prefix.
func (l *Layout) lenFieldSize() uint64 {
	if l.Version == 1 {
		return 4
	}
	return 8
}

// NewLayout computes the layout of every share of a file with geometry g
// whose UEB is uebLen bytes long. Like Tahoe it uses v1 unless a size or
// offset reaches 2^32.
func NewLayout(g Geometry, uebLen int) *Layout {
	l := newLayout(g, uebLen, 1)
	if l.BlockSize >= 1<<32 || l.DataSize >= 1<<32 || l.URIExtension >= 1<<32 {
		l = newLayout(g, uebLen, 2)
	}
	return l
}

func newLayout(g Geometry, uebLen, version int) *Layout {
	p := uint64(hashtree.Size(g.NumSegments))
	l := &Layout{
		Version:            version,
		BlockSize:          uint64(g.BlockSize),
		DataSize:           g.ShareDataSize,
		uebLen:             uint64(uebLen),
		segmentHashesBytes: p * 32,
		shareHashesBytes:   uint64(g.NumShareHashes()) * 34,
	}
	x := headerLen(version)
	l.Data = x
	x += l.DataSize
	l.PlaintextHashTree = x
	x += l.segmentHashesBytes
	l.CrypttextHashTree = x
	x += l.segmentHashesBytes
	l.BlockHashes = x
	x += l.segmentHashesBytes
	l.ShareHashes = x
	x += l.shareHashesBytes
	l.URIExtension = x
	return l
}

// ShareSize is the number of bytes of one share: what to allocate on a server.
func (l *Layout) ShareSize() uint64 {
	return l.URIExtension + l.lenFieldSize() + l.uebLen
}

// Header returns the offset table that starts every share.
func (l *Layout) Header() []byte {
	if l.Version == 1 {
		b := make([]byte, 0x24)
		for i, v := range []uint64{1, l.BlockSize, l.DataSize, l.Data, l.PlaintextHashTree,
			l.CrypttextHashTree, l.BlockHashes, l.ShareHashes, l.URIExtension} {
			binary.BigEndian.PutUint32(b[4*i:], uint32(v))
		}
		return b
	}
	b := make([]byte, 0x44)
	binary.BigEndian.PutUint32(b, 2)
	for i, v := range []uint64{l.BlockSize, l.DataSize, l.Data, l.PlaintextHashTree,
		l.CrypttextHashTree, l.BlockHashes, l.ShareHashes, l.URIExtension} {
		binary.BigEndian.PutUint64(b[4+8*i:], v)
	}
	return b
}

// MaxHeaderLen is enough bytes from the start of a share to parse its header.
const MaxHeaderLen = 0x44

// ParseLayout reads a share's offset table from its first bytes (at least
// 0x24 for v1, 0x44 for v2). It checks that the sections come in order; the
// caller checks them against the geometry from the UEB.
func ParseLayout(b []byte) (*Layout, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("%w: share of %d bytes has no header", ErrCorrupt, len(b))
	}
	l := &Layout{Version: int(binary.BigEndian.Uint32(b))}
	var f []uint64
	switch l.Version {
	case 1:
		if len(b) < 0x24 {
			return nil, fmt.Errorf("%w: v1 header needs 36 bytes, have %d", ErrCorrupt, len(b))
		}
		for i := 1; i < 9; i++ {
			f = append(f, uint64(binary.BigEndian.Uint32(b[4*i:])))
		}
	case 2:
		if len(b) < 0x44 {
			return nil, fmt.Errorf("%w: v2 header needs 68 bytes, have %d", ErrCorrupt, len(b))
		}
		for i := 0; i < 8; i++ {
			f = append(f, binary.BigEndian.Uint64(b[4+8*i:]))
		}
	default:
		if l.Version > 2 && l.Version < 256 {
			// Perhaps a layout of the future, as Tahoe would say.
			return nil, fmt.Errorf("%w: %w %d", ErrCorrupt, ErrIncompatible, l.Version)
		}
		return nil, fmt.Errorf("%w: share layout version %#x", ErrCorrupt, l.Version)
	}
	l.BlockSize, l.DataSize, l.Data, l.PlaintextHashTree = f[0], f[1], f[2], f[3]
	l.CrypttextHashTree, l.BlockHashes, l.ShareHashes, l.URIExtension = f[4], f[5], f[6], f[7]
	prev := headerLen(l.Version)
	for _, off := range f[2:] {
		if off < prev || off > math.MaxInt64/2 {
			return nil, fmt.Errorf("%w: share section offsets out of order", ErrCorrupt)
		}
		prev = off
	}
	return l, nil
}

// check verifies that the sections of a parsed layout have the sizes the
// geometry implies, so later reads can trust the offsets.
func (l *Layout) check(g Geometry) error {
	want := newLayout(g, 0, l.Version)
	// The data section may have been sized by an older uploader
	// differently only in the informational fields, which readers since
	// Tahoe 1.3 ignore; the hash tree sections must be exactly sized.
	if l.Data != headerLen(l.Version) {
		return fmt.Errorf("%w: data starts at %d, want %d", ErrCorrupt, l.Data, headerLen(l.Version))
	}
	if l.PlaintextHashTree-l.Data < g.ShareDataSize {
		return fmt.Errorf("%w: data section of %d bytes cannot hold %d bytes of blocks", ErrCorrupt, l.PlaintextHashTree-l.Data, g.ShareDataSize)
	}
	if l.BlockHashes-l.CrypttextHashTree != want.segmentHashesBytes ||
		l.ShareHashes-l.BlockHashes != want.segmentHashesBytes {
		return fmt.Errorf("%w: hash tree sections are %d and %d bytes, want %d for %d segments", ErrCorrupt,
			l.BlockHashes-l.CrypttextHashTree, l.ShareHashes-l.BlockHashes, want.segmentHashesBytes, g.NumSegments)
	}
	n := l.URIExtension - l.ShareHashes
	if n%34 != 0 || n/34 > 64 {
		return fmt.Errorf("%w: share hash section of %d bytes", ErrCorrupt, n)
	}
	return nil
}

// parseShareHashes reads the share hash entries (uint16 index, 32-byte hash).
func parseShareHashes(b []byte) (map[int]hashtree.Hash, error) {
	if len(b)%34 != 0 {
		return nil, fmt.Errorf("%w: share hash section of %d bytes", ErrCorrupt, len(b))
	}
	m := make(map[int]hashtree.Hash, len(b)/34)
	for ; len(b) > 0; b = b[34:] {
		i := int(binary.BigEndian.Uint16(b))
		var h hashtree.Hash
		copy(h[:], b[2:34])
		if old, dup := m[i]; dup && old != h {
			return nil, fmt.Errorf("%w: share hash %d given twice", ErrCorrupt, i)
		}
		m[i] = h
	}
	return m, nil
}

// marshalShareHashes writes share hash entries in ascending index order.
func marshalShareHashes(t hashtree.Tree, indexes []int) []byte {
	b := make([]byte, 0, 34*len(indexes))
	for _, i := range indexes {
		b = binary.BigEndian.AppendUint16(b, uint16(i))
		b = append(b, t[i][:]...)
	}
	return b
}
