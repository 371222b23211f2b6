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
// stores them as given. Readers must not trust the length field: the share
// data ends where the leases begin, file size - 72 × lease count.

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
		return ImmutableHeader{}, fmt.Errorf("%w: immutable header of %d bytes", ErrCorrupt, len(b))
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
// begin, which is also where its share data ends.
func (h ImmutableHeader) leaseOffset(fileSize int64) (int64, error) {
	leases := int64(h.NumLeases) * ImmutableLeaseSize
	if fileSize-leases < ImmutableHeaderSize {
		return 0, fmt.Errorf("%w: %d leases do not fit in an immutable container of %d bytes", ErrCorrupt, h.NumLeases, fileSize)
	}
	return fileSize - leases, nil
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
