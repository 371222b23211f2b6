package storage

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Reading a share file's container in place, for tools (lafs debug
// dump-share, catalog-shares, corrupt-share) that look at the files of a
// storage folder, Tahoe's or ours, without a server and without reading the
// share data, which may be large.

// ContainerKind tells share containers apart.
type ContainerKind int

// Container kinds. (Named ...Kind because the container types themselves
// are ImmutableContainer and MutableContainer.)
const (
	UnknownContainer ContainerKind = iota // neither magic nor a known immutable version
	ImmutableKind
	MutableKind
)

// String names the kind as Tahoe's tools do: "immutable", "mutable",
// "unknown".
func (k ContainerKind) String() string {
	switch k {
	case ImmutableKind:
		return "immutable"
	case MutableKind:
		return "mutable"
	}
	return "unknown"
}

// ContainerKindOf reports the kind of the container whose file starts with
// head (32 bytes are enough) by Tahoe's rule: the magic of a mutable
// container, else the version number of an immutable one (1 or 2), else
// unknown.
func ContainerKindOf(head []byte) ContainerKind {
	if MutableVersion(head) != 0 {
		return MutableKind
	}
	if _, err := ParseImmutableHeader(head); err == nil {
		return ImmutableKind
	}
	return UnknownContainer
}

// ContainerInfo is what a share file's container says of itself.
type ContainerInfo struct {
	Kind ContainerKind
	// Version is the container version (1 or 2); version 2 stores lease
	// secrets hashed.
	Version int
	// Immutable and Mutable are the header of the container, whichever
	// Kind says.
	Immutable ImmutableHeader
	Mutable   MutableHeader
	// DataOffset and DataLength locate the share data in the file: 12 and
	// the bytes before the leases (immutable); 468 and the header's data
	// length (mutable).
	DataOffset, DataLength int64
	// LeaseOffset is where the immutable leases start (just after the share
	// data), or where a mutable container's count of extra leases lies (the
	// end of its data area, which may be longer than the data).
	LeaseOffset int64
	// NumExtraLeases is the number of extra lease records of a mutable
	// container, empty ones included.
	NumExtraLeases uint32
	// Leases are the leases in use, in the file's order.
	Leases []NumberedLease
}

// NumberedLease is a lease with the number Tahoe gives it: an immutable
// container's leases count from 0 in order; a mutable container's count
// its lease slots, the four in the header first (empty ones too), then the
// extra leases.
type NumberedLease struct {
	Num int
	Lease
}

// Hashed reports whether the container stores lease secrets hashed.
func (c *ContainerInfo) Hashed() bool { return c.Version != 1 }

// ReadContainerInfo reads the container header and leases of a share file
// of size bytes through r, leaving the share data unread. It is as lenient
// as Tahoe's tools where the server is strict: an immutable container's
// share data is whatever lies before its leases, whatever the header's
// length field says. A file that is no container, or whose leases or
// extra-lease count lie outside it, is an error wrapping ErrCorrupt.
func ReadContainerInfo(r io.ReaderAt, size int64) (*ContainerInfo, error) {
	head := make([]byte, min(size, MutableHeaderSize))
	if err := readAt(r, head, 0); err != nil {
		return nil, fmt.Errorf("reading the container header: %w", err)
	}
	switch ContainerKindOf(head) {
	case MutableKind:
		return readMutableInfo(r, size, head)
	case ImmutableKind:
		return readImmutableInfo(r, size, head)
	}
	if len(head) < 4 {
		return nil, fmt.Errorf("%w: %d bytes, too short for any container", ErrCorrupt, len(head))
	}
	return nil, fmt.Errorf("%w: neither a mutable container's magic nor an immutable container version (%d)",
		ErrCorrupt, binary.BigEndian.Uint32(head))
}

func readImmutableInfo(r io.ReaderAt, size int64, head []byte) (*ContainerInfo, error) {
	h, err := ParseImmutableHeader(head)
	if err != nil {
		return nil, err
	}
	c := &ContainerInfo{Kind: ImmutableKind, Version: int(h.Version), Immutable: h, DataOffset: ImmutableHeaderSize}
	leases := int64(h.NumLeases) * ImmutableLeaseSize
	if size-leases < ImmutableHeaderSize {
		return nil, fmt.Errorf("%w: header says %s, which do not fit in a file of %d bytes",
			ErrCorrupt, plural(int64(h.NumLeases), "lease"), size)
	}
	c.LeaseOffset = size - leases
	c.DataLength = c.LeaseOffset - ImmutableHeaderSize
	b := make([]byte, leases)
	if err := readAt(r, b, c.LeaseOffset); err != nil {
		return nil, fmt.Errorf("reading the leases: %w", err)
	}
	for i := range int(h.NumLeases) {
		l, err := ParseImmutableLease(b[i*ImmutableLeaseSize : (i+1)*ImmutableLeaseSize])
		if err != nil {
			return nil, err
		}
		c.Leases = append(c.Leases, NumberedLease{Num: i, Lease: l})
	}
	return c, nil
}

func readMutableInfo(r io.ReaderAt, size int64, head []byte) (*ContainerInfo, error) {
	h, err := ParseMutableHeader(head)
	if err != nil {
		return nil, err
	}
	if err := h.check(size); err != nil {
		return nil, err
	}
	c := &ContainerInfo{Kind: MutableKind, Version: h.Version, Mutable: h, DataOffset: MutableDataOffset,
		DataLength: int64(h.DataLength), LeaseOffset: int64(h.ExtraLeaseOffset)}
	slots := make([]byte, MutableLeaseSlots*MutableLeaseSize)
	if err := readAt(r, slots, MutableHeaderSize); err != nil {
		return nil, fmt.Errorf("reading the lease slots: %w", err)
	}
	var count [mutableExtraLeaseCountSz]byte
	if err := readAt(r, count[:], c.LeaseOffset); err != nil {
		return nil, fmt.Errorf("reading the extra lease count: %w", err)
	}
	c.NumExtraLeases = binary.BigEndian.Uint32(count[:])
	extraAt := c.LeaseOffset + mutableExtraLeaseCountSz
	if int64(c.NumExtraLeases) > (size-extraAt)/MutableLeaseSize {
		return nil, fmt.Errorf("%w: %d extra leases in %d bytes", ErrCorrupt, c.NumExtraLeases, size-extraAt)
	}
	extra := make([]byte, int64(c.NumExtraLeases)*MutableLeaseSize)
	if err := readAt(r, extra, extraAt); err != nil {
		return nil, fmt.Errorf("reading the extra leases: %w", err)
	}
	all := append(slots, extra...)
	for i := range MutableLeaseSlots + int(c.NumExtraLeases) {
		l, err := ParseMutableLease(all[i*MutableLeaseSize : (i+1)*MutableLeaseSize])
		if err != nil {
			return nil, err
		}
		if l.Owner != 0 {
			c.Leases = append(c.Leases, NumberedLease{Num: i, Lease: l})
		}
	}
	return c, nil
}

// readAt fills b from r at off. An empty b reads nothing, even at the
// end; a full read that ends at the end is no error.
func readAt(r io.ReaderAt, b []byte, off int64) error {
	if len(b) == 0 {
		return nil
	}
	n, err := r.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}
