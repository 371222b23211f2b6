package storage

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/crypt"
)

// The mutable share container (storage/mutable.py, mutable_schema.py):
//
//	0    32   magic: "Tahoe mutable container v1\n" + 75 09 44 03 8e (v1), or
//	          "Tahoe mutable container v2\n" + tagged_hash(...)[:5] (v2)
//	32   20   write enabler nodeid (the server's id)
//	52   32   write enabler, in clear in both versions
//	84   8    share data length
//	92   8    offset of the extra lease count (the end of the container's
//	          data area, which never shrinks)
//	100  368  4 lease slots of 92 bytes; owner 0 marks an empty slot
//	468  ...  share data
//	then 4    number of extra leases, then the extra leases (92 bytes each)
//
// Version 2 stores BLAKE2b-256 digests of the lease secrets.

// Mutable container geometry.
const (
	MutableHeaderSize = 100 // magic, nodeid, write enabler, data length, extra lease offset
	MutableLeaseSlots = 4
	MutableDataOffset = MutableHeaderSize + MutableLeaseSlots*MutableLeaseSize // 468

	mutableDataLengthOffset  = 84
	mutableExtraLeaseOffset  = 92
	mutableMagicSize         = 32
	mutableExtraLeaseCountSz = 4
)

// Mutable container versions.
const (
	MutableV1 = 1 // lease secrets in clear
	MutableV2 = 2 // lease secrets as BLAKE2b-256; what lafs and Tahoe 1.20 write
)

// DefaultMaxMutableShareSize is Tahoe's MAX_MUTABLE_SHARE_SIZE (69105 TB,
// "kind of arbitrary"), announced as maximum-mutable-share-size.
const DefaultMaxMutableShareSize uint64 = 69105 * 1000 * 1000 * 1000 * 1000

var mutableMagic = [3][mutableMagicSize]byte{
	1: magicFor(1, []byte{0x75, 0x09, 0x44, 0x03, 0x8e}),
	2: magicFor(2, nil),
}

// magicFor builds the magic of a mutable container version: the text, then
// five bytes that v1 fixed and later versions derive from the text.
func magicFor(version int, tail []byte) (m [mutableMagicSize]byte) {
	text := fmt.Appendf(nil, "Tahoe mutable container v%d\n", version)
	if tail == nil {
		h := crypt.TaggedHash(crypt.TagMutableContainerHead, text)
		tail = h[:5]
	}
	copy(m[:], append(text, tail...))
	return m
}

// MutableMagic returns the 32-byte magic that starts a mutable container
// of the given version, 1 or 2 (any other version gets version 2's).
func MutableMagic(version int) [32]byte {
	if version != MutableV1 {
		version = MutableV2
	}
	return mutableMagic[version]
}

// MutableVersion returns the mutable container version whose magic starts
// head, or 0 when head is not a mutable container (so, by Tahoe's rule,
// an immutable one if anything).
func MutableVersion(head []byte) int {
	for v := MutableV1; v <= MutableV2; v++ {
		if len(head) >= mutableMagicSize && bytes.Equal(head[:mutableMagicSize], mutableMagic[v][:]) {
			return v
		}
	}
	return 0
}

// MutableHeader is the first 100 bytes of a mutable container.
type MutableHeader struct {
	Version            int
	WriteEnablerNodeID lafs.NodeID
	WriteEnabler       lafs.Secret
	DataLength         uint64
	ExtraLeaseOffset   uint64
}

// ParseMutableHeader decodes the first 100 bytes of b.
func ParseMutableHeader(b []byte) (MutableHeader, error) {
	if len(b) < MutableHeaderSize {
		return MutableHeader{}, fmt.Errorf("%w: %d bytes, less than the %d-byte mutable container header", ErrCorrupt, len(b), MutableHeaderSize)
	}
	h := MutableHeader{Version: MutableVersion(b)}
	if h.Version == 0 {
		return MutableHeader{}, fmt.Errorf("%w: no mutable container magic", ErrCorrupt)
	}
	copy(h.WriteEnablerNodeID[:], b[32:52])
	copy(h.WriteEnabler[:], b[52:84])
	h.DataLength = binary.BigEndian.Uint64(b[mutableDataLengthOffset:])
	h.ExtraLeaseOffset = binary.BigEndian.Uint64(b[mutableExtraLeaseOffset:])
	return h, nil
}

// Append appends the 100-byte header to dst (a Version other than 1 is
// written as 2).
func (h MutableHeader) Append(dst []byte) []byte {
	m := MutableMagic(h.Version)
	dst = append(dst, m[:]...)
	dst = append(dst, h.WriteEnablerNodeID[:]...)
	dst = append(dst, h.WriteEnabler[:]...)
	dst = binary.BigEndian.AppendUint64(dst, h.DataLength)
	return binary.BigEndian.AppendUint64(dst, h.ExtraLeaseOffset)
}

// hashed reports whether the container stores lease secrets hashed.
func (h MutableHeader) hashed() bool { return h.Version != MutableV1 }

// check validates the header's geometry against a file of fileSize bytes:
// the data lies within the data area, and the extra lease count fits.
// Bytes past the extra leases are let be (nothing reads them).
func (h MutableHeader) check(fileSize int64) error {
	if h.ExtraLeaseOffset < MutableDataOffset {
		return fmt.Errorf("%w: header puts the end of the data area at byte %d, inside the header and lease slots (%d bytes)",
			ErrCorrupt, h.ExtraLeaseOffset, MutableDataOffset)
	}
	if h.ExtraLeaseOffset > uint64(fileSize) || uint64(fileSize)-h.ExtraLeaseOffset < mutableExtraLeaseCountSz {
		return fmt.Errorf("%w: header says the data area ends at byte %d and the lease count follows (at least %d bytes in all), the file holds %d",
			ErrCorrupt, h.ExtraLeaseOffset, addClamp(h.ExtraLeaseOffset, mutableExtraLeaseCountSz), fileSize)
	}
	if h.DataLength > h.ExtraLeaseOffset-MutableDataOffset {
		return fmt.Errorf("%w: header says %d bytes of share data, the data area holds %d",
			ErrCorrupt, h.DataLength, h.ExtraLeaseOffset-MutableDataOffset)
	}
	return nil
}

// newMutableContainer returns the bytes Tahoe writes for a new, empty
// mutable container: the header, four empty lease slots and a zero extra
// lease count.
func newMutableContainer(nodeID lafs.NodeID, we lafs.Secret) []byte {
	h := MutableHeader{Version: MutableV2, WriteEnablerNodeID: nodeID, WriteEnabler: we, ExtraLeaseOffset: MutableDataOffset}
	b := h.Append(make([]byte, 0, MutableDataOffset+mutableExtraLeaseCountSz))
	b = append(b, make([]byte, MutableLeaseSlots*MutableLeaseSize)...)
	return binary.BigEndian.AppendUint32(b, 0)
}

// MutableContainer is a whole mutable container, for tools and tests; the
// server itself reads and writes containers in place.
type MutableContainer struct {
	Header MutableHeader
	// Slots are the four lease slots; a slot whose Owner is 0 is empty.
	Slots       [MutableLeaseSlots]Lease
	Data        []byte
	ExtraLeases []Lease
}

// ParseMutableContainer decodes a whole mutable container. Data aliases b.
// It fails, without panicking, on anything malformed.
func ParseMutableContainer(b []byte) (*MutableContainer, error) {
	h, err := ParseMutableHeader(b)
	if err != nil {
		return nil, err
	}
	if err := h.check(int64(len(b))); err != nil {
		return nil, err
	}
	c := &MutableContainer{Header: h}
	for i := range c.Slots {
		off := MutableHeaderSize + i*MutableLeaseSize
		if c.Slots[i], err = ParseMutableLease(b[off : off+MutableLeaseSize]); err != nil {
			return nil, err
		}
	}
	c.Data = b[MutableDataOffset : MutableDataOffset+h.DataLength]
	rest := b[h.ExtraLeaseOffset:]
	n := uint64(binary.BigEndian.Uint32(rest))
	rest = rest[mutableExtraLeaseCountSz:]
	if n > uint64(len(rest))/MutableLeaseSize {
		return nil, fmt.Errorf("%w: %d extra leases in %d bytes", ErrCorrupt, n, len(rest))
	}
	for i := range n {
		l, err := ParseMutableLease(rest[i*MutableLeaseSize : (i+1)*MutableLeaseSize])
		if err != nil {
			return nil, err
		}
		c.ExtraLeases = append(c.ExtraLeases, l)
	}
	return c, nil
}

// Leases returns the leases in use: the occupied slots, then the extra
// leases that are not empty.
func (c *MutableContainer) Leases() []Lease {
	var out []Lease
	for _, l := range c.Slots {
		if l.Owner != 0 {
			out = append(out, l)
		}
	}
	for _, l := range c.ExtraLeases {
		if l.Owner != 0 {
			out = append(out, l)
		}
	}
	return out
}

// Bytes encodes the container compactly: the header with DataLength and
// ExtraLeaseOffset set from Data, the slots, the data, the extra leases.
func (c *MutableContainer) Bytes() []byte {
	h := c.Header
	h.DataLength = uint64(len(c.Data))
	h.ExtraLeaseOffset = MutableDataOffset + h.DataLength
	out := make([]byte, 0, int(h.ExtraLeaseOffset)+mutableExtraLeaseCountSz+MutableLeaseSize*len(c.ExtraLeases))
	out = h.Append(out)
	for _, l := range c.Slots {
		out = l.AppendMutable(out)
	}
	out = append(out, c.Data...)
	out = binary.BigEndian.AppendUint32(out, uint32(len(c.ExtraLeases)))
	for _, l := range c.ExtraLeases {
		out = l.AppendMutable(out)
	}
	return out
}

// Hashed reports whether the container stores lease secrets hashed (v2).
func (c *MutableContainer) Hashed() bool { return c.Header.hashed() }
