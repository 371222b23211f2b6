package storage

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/lafs/lafs"
)

func sampleImmutable(version uint32, leases int) []byte {
	c := &ImmutableContainer{Header: ImmutableHeader{Version: version, DataLength: 5}, Data: []byte("hello")}
	for i := range leases {
		c.Leases = append(c.Leases, Lease{Owner: uint32(i), RenewSecret: [32]byte{byte(i)}, Expiration: 99})
	}
	return c.Bytes()
}

func sampleMutable(version, extra int) []byte {
	c := &MutableContainer{Header: MutableHeader{Version: version, WriteEnabler: lafs.Secret{1}}, Data: []byte("mutable data")}
	c.Slots[1] = Lease{Owner: 1, Expiration: 5, NodeID: [20]byte{2}}
	for i := range extra {
		c.ExtraLeases = append(c.ExtraLeases, Lease{Owner: 1, RenewSecret: [32]byte{byte(i)}})
	}
	return c.Bytes()
}

func TestContainerErrors(t *testing.T) {
	for name, b := range map[string][]byte{
		"short":           {0, 0, 0, 2},
		"version 3":       {0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0},
		"too many leases": {0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3},
	} {
		if _, err := ParseImmutableContainer(b); err == nil {
			t.Errorf("immutable %s: parsed", name)
		}
	}
	good := sampleMutable(2, 1)
	corrupt := func(off int, v byte) []byte { b := bytes.Clone(good); b[off] = v; return b }
	for name, b := range map[string][]byte{
		"short":               good[:99],
		"no magic":            corrupt(3, 'x'),
		"data past leases":    corrupt(91, 100),
		"extra offset past":   corrupt(96, 0x10),
		"extra count too big": corrupt(MutableDataOffset+12+3, 9),
		"truncated":           good[:len(good)-1],
	} {
		if _, err := ParseMutableContainer(b); err == nil {
			t.Errorf("mutable %s: parsed", name)
		}
	}
	if MutableVersion(good) != 2 || MutableVersion(sampleMutable(1, 0)) != 1 || MutableVersion(sampleImmutable(2, 1)) != 0 {
		t.Error("MutableVersion does not tell the kinds apart")
	}
}

func FuzzParseImmutableContainer(f *testing.F) {
	f.Add(sampleImmutable(2, 1))
	f.Add(sampleImmutable(1, 3))
	f.Add(sampleImmutable(2, 0))
	f.Add([]byte{0, 0, 0, 2, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff})
	f.Add(append(sampleImmutable(2, 1), make([]byte, ImmutableLeaseSize)...))
	f.Add(sampleImmutable(2, 3)[:ImmutableHeaderSize+5+ImmutableLeaseSize])
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseImmutableContainer(b)
		if err != nil {
			return
		}
		h, _ := ParseImmutableHeader(b)
		lay, _ := h.layout(int64(len(b)))
		out := c.Bytes()
		if !lay.torn(h) {
			// Parsing loses nothing: the encoding is the input.
			if !bytes.Equal(out, b) {
				t.Fatalf("re-encoding %x gives %x", b, out)
			}
			return
		}
		// A torn container re-encodes repaired: the same data and
		// leases, consistent.
		c2, err := ParseImmutableContainer(out)
		if err != nil {
			t.Fatalf("the repaired container does not parse: %v", err)
		}
		if !bytes.Equal(c2.Data, c.Data) || !reflect.DeepEqual(c2.Leases, c.Leases) || !bytes.Equal(c2.Bytes(), out) {
			t.Fatalf("repairing %x changes it: %x", b, out)
		}
		if lay2, _ := c2.Header.layout(int64(len(out))); lay2.torn(c2.Header) ||
			c2.Header.tahoeDataEnd(int64(len(out))) != ImmutableHeaderSize+int64(len(c.Data)) {
			t.Fatalf("the repaired container %x is still torn", out)
		}
	})
}

func FuzzParseMutableContainer(f *testing.F) {
	f.Add(sampleMutable(2, 0))
	f.Add(sampleMutable(1, 2))
	f.Add(sampleMutable(2, 1)[:MutableDataOffset])
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseMutableContainer(b)
		if err != nil {
			return
		}
		// The compact re-encoding parses to the same container.
		c2, err := ParseMutableContainer(c.Bytes())
		if err != nil {
			t.Fatalf("re-encoding does not parse: %v", err)
		}
		c.Header.ExtraLeaseOffset, c2.Header.ExtraLeaseOffset = 0, 0
		if !reflect.DeepEqual(c, c2) && !(len(c.ExtraLeases) == 0 && len(c2.ExtraLeases) == 0 &&
			reflect.DeepEqual(c.Slots, c2.Slots) && bytes.Equal(c.Data, c2.Data) && c.Header == c2.Header) {
			t.Fatalf("re-encoding changes the container:\n%+v\n%+v", c, c2)
		}
	})
}
