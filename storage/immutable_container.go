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
// stores them as given. The share data ends where the leases begin, file
// size - 72 × lease count, which is how Tahoe finds it. The length field
// holds the allocated size, saturated at 2^32-1 (and, by an older
// comment of Tahoe's, perhaps taken modulo 2^32). Tahoe 1.20 ignores it;
// lafs checks that it agrees with where the data ends, which is how a
// truncated or extended container shows.

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

// leaseOffset returns where the leases of a container of fileSize bytes
// begin, which is also where its share data ends. The leases must fit
// after the header, and the share data must be as long as the header
// says where the length field can say it (below 2^32-1 bytes); else the
// container was truncated, extended or its header damaged.
func (h ImmutableHeader) leaseOffset(fileSize int64) (int64, error) {
	leases := int64(h.NumLeases) * ImmutableLeaseSize
	if end := fileSize - leases; end >= ImmutableHeaderSize {
		n := uint64(end - ImmutableHeaderSize)
		if n == uint64(h.DataLength) || n >= math.MaxUint32 && (h.DataLength == math.MaxUint32 || h.DataLength == uint32(n)) {
			return end, nil
		}
	}
	atLeast := ""
	if h.DataLength == math.MaxUint32 {
		atLeast = "at least "
	}
	return 0, fmt.Errorf("%w: header says %s%d bytes of share data and %s (%s%d bytes in all), the file holds %d",
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
// b. It fails, without panicking, on anything malformed.
func ParseImmutableContainer(b []byte) (*ImmutableContainer, error) {
	h, err := ParseImmutableHeader(b)
	if err != nil {
		return nil, err
	}
	end, err := h.leaseOffset(int64(len(b)))
	if err != nil {
		return nil, err
	}
	c := &ImmutableContainer{Header: h, Data: b[ImmutableHeaderSize:end]}
	for off := end; off < int64(len(b)); off += ImmutableLeaseSize {
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
