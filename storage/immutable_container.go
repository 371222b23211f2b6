package storage

import (
	"encoding/binary"
	"fmt"
	"math"
)

// The immutable share container (storage/immutable.py, immutable_schema.py):
//
//	0x00  uint32  container version, 1 or 2
//	0x04  uint32  share data length, min(allocated size, 2^32-1); unreliable
//	0x08  uint32  number of leases
//	0x0c  share data
//	then  72-byte leases (lease.go), found from the end of the file
//
// Version 2 stores BLAKE2b-256 digests of the lease secrets; version 1
// stores them as given. Tahoe finds the leases from the end of the file:
// they begin at file size - 72 × lease count, where the share data ends.
// The length field holds the allocated size, saturated at 2^32-1 (and, by
// an older comment of Tahoe's, perhaps taken modulo 2^32); Tahoe 1.20
// ignores it.
//
// Adding a lease is two writes (the record appended, then the count) and
// removing leases three (the records kept, the count, the file cut after
// them), and a crash may land between any two of them, or, since the
// share files are written back in the kernel's own time, keep any subset
// of them. Tahoe's rule misreads every such torn state: some lease
// records become share data or the reverse, because the count and the
// size change in separate writes. This server reads them by the length
// field instead, which no lease change touches and which below 2^32-1 is
// exact: the share data is the length field's bytes, and the leases in
// use are the first min(count, records) whole 72-byte records after it
// (see ImmutableHeader.layout). The writes keep that reading right at
// every step (immutable.go, expirer.go), and the next lease change of the
// share, or the lease expirer, writes the container back into the state
// Tahoe's rule reads. A container whose size agrees with neither rule was
// truncated, extended or had its header damaged: it is corrupt.
//
// A share of 4 GiB or more saturates the length field, which then says
// nothing, and Tahoe's rule alone reads the container: no torn state can
// be told from a good one there. So for such containers no lease change
// touches the count or the size: an expired lease record is overwritten
// with a copy of a kept lease, and a new lease takes the place of the
// record that expires first, each in one 72-byte write.

// ImmutableHeaderSize is the size of an immutable container's header.
const ImmutableHeaderSize = 12

// Immutable container versions.
const (
	ImmutableV1 = 1 // lease secrets in clear
	ImmutableV2 = 2 // lease secrets as BLAKE2b-256; what lafs and Tahoe 1.20 write
)

// ImmutableHeader is the 12-byte header of an immutable container.
type ImmutableHeader struct {
	Version uint32
	// DataLength is informational: Tahoe writes the allocated size
	// (saturated at 2^32-1) when it creates the file and never again.
	DataLength uint32
	NumLeases  uint32
}

// ParseImmutableHeader decodes the first 12 bytes of b, which must name
// version 1 or 2.
func ParseImmutableHeader(b []byte) (ImmutableHeader, error) {
	if len(b) < ImmutableHeaderSize {
		return ImmutableHeader{}, fmt.Errorf("%w: %d bytes, less than the %d-byte immutable container header", ErrCorrupt, len(b), ImmutableHeaderSize)
	}
	h := ImmutableHeader{
		Version:    binary.BigEndian.Uint32(b[0:]),
		DataLength: binary.BigEndian.Uint32(b[4:]),
		NumLeases:  binary.BigEndian.Uint32(b[8:]),
	}
	if h.Version != ImmutableV1 && h.Version != ImmutableV2 {
		return ImmutableHeader{}, fmt.Errorf("%w: immutable container version %d", ErrCorrupt, h.Version)
	}
	return h, nil
}

// Append appends the 12-byte header to dst.
func (h ImmutableHeader) Append(dst []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, h.Version)
	dst = binary.BigEndian.AppendUint32(dst, h.DataLength)
	return binary.BigEndian.AppendUint32(dst, h.NumLeases)
}

// hashed reports whether the container stores lease secrets hashed.
func (h ImmutableHeader) hashed() bool { return h.Version != ImmutableV1 }

// immLayout is where the parts of an immutable container lie.
type immLayout struct {
	size    int64 // the container's size
	dataEnd int64 // where the share data ends and the lease records begin
	leases  int64 // the lease records in use, from dataEnd
}

// torn reports whether the container's lease region is as an interrupted
// lease change leaves it (see the comment at the top of the file): its
// header's count or its size disagrees with the leases in use. Such a
// container is read correctly here, but Tahoe's rule misreads it; the
// next lease change repairs it.
func (l immLayout) torn(h ImmutableHeader) bool {
	return l.leases != int64(h.NumLeases) || l.size != l.dataEnd+l.leases*ImmutableLeaseSize
}

// tahoeDataEnd is where Tahoe's rule puts the end of the share data of a
// container of fileSize bytes: file size - 72 × lease count. It may be
// less than the header's size, for a file too short for its leases.
func (h ImmutableHeader) tahoeDataEnd(fileSize int64) int64 {
	return fileSize - int64(h.NumLeases)*ImmutableLeaseSize
}

// layout finds the share data and the leases of a container of fileSize
// bytes. A consistent container is read by Tahoe's rule: its leases are
// the last 72 × count bytes, and its share data as long as the header
// says where the length field can say it (below 2^32-1 bytes). Failing
// that, where the length field is exact and whole lease records follow
// the share data, the container is in a torn state (see the comment at
// the top of the file) and its leases in use are the first min(count,
// records) records. Anything else was truncated, extended or its header
// damaged: an error wrapping ErrCorrupt.
func (h ImmutableHeader) layout(fileSize int64) (immLayout, error) {
	leases := int64(h.NumLeases) * ImmutableLeaseSize
	if end := fileSize - leases; end >= ImmutableHeaderSize {
		n := uint64(end - ImmutableHeaderSize)
		if n == uint64(h.DataLength) || n >= math.MaxUint32 && (h.DataLength == math.MaxUint32 || h.DataLength == uint32(n)) {
			return immLayout{size: fileSize, dataEnd: end, leases: int64(h.NumLeases)}, nil
		}
	}
	if h.DataLength < math.MaxUint32 {
		end := ImmutableHeaderSize + int64(h.DataLength)
		// Whole records, and fewer than a length field could hide:
		// a share of 4 GiB or more whose length field was taken
		// modulo 2^32 is no torn one.
		if region := fileSize - end; region >= 0 && region%ImmutableLeaseSize == 0 && region < math.MaxUint32 {
			return immLayout{size: fileSize, dataEnd: end, leases: min(region/ImmutableLeaseSize, int64(h.NumLeases))}, nil
		}
	}
	atLeast := ""
	if h.DataLength == math.MaxUint32 {
		atLeast = "at least "
	}
	return immLayout{}, fmt.Errorf("%w: header says %s%d bytes of share data and %s (%s%d bytes in all), the file holds %d",
		ErrCorrupt, atLeast, h.DataLength, plural(int64(h.NumLeases), "lease"), atLeast,
		ImmutableHeaderSize+int64(h.DataLength)+leases, fileSize)
}

// plural is "1 lease", "2 leases".
func plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// newImmutableHeader is the header of a new container for a share of
// allocated bytes, before any lease is added.
func newImmutableHeader(allocated uint64) ImmutableHeader {
	return ImmutableHeader{Version: ImmutableV2, DataLength: uint32(min(allocated, math.MaxUint32))}
}

// ImmutableContainer is a whole immutable container, for tools and tests;
// the server itself reads and writes containers in place.
type ImmutableContainer struct {
	Header ImmutableHeader
	Data   []byte
	Leases []Lease
}

// ParseImmutableContainer decodes a whole immutable container. Data aliases
// b. It fails, without panicking, on anything malformed. A container in a
// torn state (an interrupted lease change) is read as the server reads
// it: Header is as found, Leases are the leases in use, and Bytes gives
// the container repaired.
func ParseImmutableContainer(b []byte) (*ImmutableContainer, error) {
	h, err := ParseImmutableHeader(b)
	if err != nil {
		return nil, err
	}
	lay, err := h.layout(int64(len(b)))
	if err != nil {
		return nil, err
	}
	end := lay.dataEnd
	c := &ImmutableContainer{Header: h, Data: b[ImmutableHeaderSize:end]}
	for off := end; off < end+lay.leases*ImmutableLeaseSize; off += ImmutableLeaseSize {
		l, err := ParseImmutableLease(b[off : off+ImmutableLeaseSize])
		if err != nil {
			return nil, err
		}
		c.Leases = append(c.Leases, l)
	}
	return c, nil
}

// Bytes encodes the container: the header as given but for the lease
// count, which is set from Leases, then the data and the leases.
func (c *ImmutableContainer) Bytes() []byte {
	h := c.Header
	h.NumLeases = uint32(len(c.Leases))
	out := make([]byte, 0, ImmutableHeaderSize+len(c.Data)+ImmutableLeaseSize*len(c.Leases))
	out = h.Append(out)
	out = append(out, c.Data...)
	for _, l := range c.Leases {
		out = l.AppendImmutable(out)
	}
	return out
}

// Hashed reports whether the container stores lease secrets hashed (v2).
func (c *ImmutableContainer) Hashed() bool { return c.Header.hashed() }
