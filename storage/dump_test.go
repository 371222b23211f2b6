package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// containerInfo reads b's container as a tool would a file.
func containerInfo(b []byte) (*ContainerInfo, error) {
	return ReadContainerInfo(bytes.NewReader(b), int64(len(b)))
}

func TestReadContainerInfoImmutable(t *testing.T) {
	for _, version := range []uint32{1, 2} {
		for leases := range 3 {
			b := sampleImmutable(version, leases)
			c, err := containerInfo(b)
			if err != nil {
				t.Fatalf("v%d, %d leases: %v", version, leases, err)
			}
			want, _ := ParseImmutableContainer(b)
			if c.Kind != ImmutableKind || c.Version != int(version) || c.Hashed() != want.Hashed() ||
				c.DataOffset != ImmutableHeaderSize || c.DataLength != int64(len(want.Data)) ||
				c.LeaseOffset != ImmutableHeaderSize+int64(len(want.Data)) || c.Immutable != want.Header {
				t.Errorf("v%d, %d leases: %+v", version, leases, c)
			}
			if len(c.Leases) != leases {
				t.Fatalf("v%d: %d leases, want %d", version, len(c.Leases), leases)
			}
			for i, l := range c.Leases {
				if l.Num != i || l.Lease != want.Leases[i] {
					t.Errorf("v%d lease %d: %+v, want %+v", version, i, l, want.Leases[i])
				}
			}
		}
	}
	// Tahoe's tools ignore the header's length field; so does this.
	b := sampleImmutable(2, 1)
	binary.BigEndian.PutUint32(b[4:], 1000)
	if _, err := ParseImmutableContainer(b); err == nil {
		t.Fatal("the server's parser accepts a wrong length field")
	}
	if c, err := containerInfo(b); err != nil || c.DataLength != 5 {
		t.Errorf("a wrong length field: %+v %v", c, err)
	}
}

func TestReadContainerInfoMutable(t *testing.T) {
	for _, version := range []int{1, 2} {
		b := sampleMutable(version, 2)
		// Empty the first extra lease: it keeps its number, is not listed.
		first := MutableDataOffset + len("mutable data") + mutableExtraLeaseCountSz
		binary.BigEndian.PutUint32(b[first:], 0)
		c, err := containerInfo(b)
		if err != nil {
			t.Fatalf("v%d: %v", version, err)
		}
		want, _ := ParseMutableContainer(b)
		if c.Kind != MutableKind || c.Version != version || c.Mutable != want.Header || c.Hashed() != want.Hashed() ||
			c.DataOffset != MutableDataOffset || c.DataLength != int64(len(want.Data)) ||
			c.LeaseOffset != int64(want.Header.ExtraLeaseOffset) || c.NumExtraLeases != 2 {
			t.Errorf("v%d: %+v", version, c)
		}
		// Slot 1 and extra lease 1, which is lease number 4+1.
		if len(c.Leases) != 2 || c.Leases[0].Num != 1 || c.Leases[0].Lease != want.Slots[1] ||
			c.Leases[1].Num != 5 || c.Leases[1].Lease != want.ExtraLeases[1] {
			t.Errorf("v%d: leases %+v", version, c.Leases)
		}
	}
}

func TestReadContainerInfoErrors(t *testing.T) {
	mut := sampleMutable(2, 1)
	setExtraCount := func(n uint32) []byte {
		b := bytes.Clone(mut)
		binary.BigEndian.PutUint32(b[MutableDataOffset+len("mutable data"):], n)
		return b
	}
	for name, b := range map[string][]byte{
		"empty":               {},
		"short":               {0, 0},
		"version 3":           {0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0},
		"leases past start":   {0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3},
		"huge lease count":    {0, 0, 0, 1, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff},
		"mutable header only": mut[:MutableHeaderSize],
		"mutable truncated":   mut[:len(mut)-1],
		"extra count too big": setExtraCount(2),
		"extra count huge":    setExtraCount(0xffffffff),
	} {
		c, err := containerInfo(b)
		if err == nil {
			t.Errorf("%s: read %+v", name, c)
		} else if !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, not ErrCorrupt", name, err)
		}
	}
	if ContainerKindOf([]byte("Tahoe mutable container v3\n....")) != UnknownContainer ||
		ContainerKindOf(mut) != MutableKind || ContainerKindOf(sampleImmutable(1, 0)) != ImmutableKind {
		t.Error("ContainerKindOf does not tell the kinds apart")
	}
	if UnknownContainer.String() != "unknown" || MutableKind.String() != "mutable" || ImmutableKind.String() != "immutable" {
		t.Error("ContainerKind names")
	}
}

// FuzzReadContainerInfo checks that any bytes read without panicking, and
// that what the server's own parsers accept reads the same.
func FuzzReadContainerInfo(f *testing.F) {
	f.Add(sampleImmutable(2, 1))
	f.Add(sampleImmutable(1, 3))
	f.Add(sampleMutable(2, 0))
	f.Add(sampleMutable(1, 2))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := containerInfo(b)
		if err != nil {
			return
		}
		if c.DataOffset+c.DataLength > int64(len(b)) || c.DataLength < 0 {
			t.Fatalf("share data [%d, +%d) outside %d bytes", c.DataOffset, c.DataLength, len(b))
		}
		switch c.Kind {
		case ImmutableKind:
			// A torn container (immutable_container.go) is read
			// differently by design.
			if ic, err := ParseImmutableContainer(b); err == nil && bytes.Equal(ic.Bytes(), b) && len(ic.Leases) != len(c.Leases) {
				t.Fatalf("%d leases, the server's parser finds %d", len(c.Leases), len(ic.Leases))
			}
		case MutableKind:
			mc, err := ParseMutableContainer(b)
			if err != nil {
				t.Fatalf("read, but the server's parser says %v", err)
			}
			if len(mc.Leases()) != len(c.Leases) || int64(len(mc.Data)) != c.DataLength {
				t.Fatalf("%d leases, the server's parser finds %d", len(c.Leases), len(mc.Leases()))
			}
		default:
			t.Fatalf("read a container of kind %v", c.Kind)
		}
	})
}
