package mutable

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// TestTahoeSharesRoundTrip parses every mutable share Tahoe wrote and packs
// it again: the bytes must be identical.
func TestTahoeSharesRoundTrip(t *testing.T) {
	for _, f := range append(gridFiles(t), oldFiles(t)...) {
		for sh, data := range f.shares {
			s, err := ParseShare(data)
			if err != nil {
				t.Fatalf("%s share %d: %v", f.name, sh, err)
			}
			out, err := s.Marshal()
			if err != nil {
				t.Fatalf("%s share %d: marshal: %v", f.name, sh, err)
			}
			if !bytes.Equal(out, data) {
				t.Errorf("%s share %d: repacked share differs (%d vs %d bytes)", f.name, sh, len(out), len(data))
			}
			if sh == 0 {
				t.Logf("%s: v%d seq %d k=%d n=%d segsize %d datalen %d segs %d offsets %+v",
					f.name, s.Version, s.Seqnum, s.K, s.N, s.SegmentSize, s.DataLength, s.NumSegments(), s.Offsets)
			}
		}
	}
}

// goodShare is a small valid MDMF or SDMF share for the parser tests.
func goodShare(t testing.TB, version byte) []byte {
	t.Helper()
	keys := testKeys(t, 1)[0]
	shares, err := encodeVersion(keys, version, 1, 3, 10, 999, randomBytes(2500, 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := shares[4].Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestParseRejects feeds the parser broken shares.
func TestParseRejects(t *testing.T) {
	be := func(b []byte, off int, v uint64, n int) []byte {
		b = append([]byte(nil), b...)
		for i := n - 1; i >= 0; i-- {
			b[off+i] = byte(v)
			v >>= 8
		}
		return b
	}
	sdmf, mdmf := goodShare(t, SDMFVersion), goodShare(t, MDMFVersion)
	for _, c := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"version 2", append([]byte{2}, sdmf[1:]...)},
		{"short SDMF header", sdmf[:106]},
		{"short MDMF header", mdmf[:122]},
		{"k=0", be(sdmf, 57, 0, 1)},
		{"n<k", be(mdmf, 42, 2, 1)},
		{"segsize not a multiple of k", be(mdmf, 43, 1000, 8)},
		{"SDMF longer than its segment", be(sdmf, 67, 2503, 8)},
		{"MDMF data length beyond the blocks", be(mdmf, 51, 3000, 8)},
		{"huge data length", be(mdmf, 51, 1<<62, 8)},
		{"tiny segments", be(be(mdmf, 43, 3, 8), 51, 1<<40, 8)},
		{"SDMF offsets out of order", be(sdmf, 79, 300, 4)},
		{"MDMF offsets out of order", be(mdmf, 67, 100, 8)},
		{"MDMF EOF past the tree", be(mdmf, 115, uint64(len(mdmf))+32, 8)},
		{"SDMF chain not whole entries", be(sdmf, 83, uint64(binary.BigEndian.Uint32(sdmf[83:]))+1, 4)},
		{"truncated share", mdmf[:len(mdmf)-1]},
		{"huge EOF", be(mdmf, 115, 1<<60, 8)},
	} {
		if _, err := ParseShare(c.b); !errors.Is(err, ErrBadShare) {
			t.Errorf("%s: err = %v", c.name, err)
		}
	}
	for _, b := range [][]byte{sdmf, mdmf} {
		s, err := ParseShare(append(b, "trailing bytes are ignored"...))
		if err != nil {
			t.Fatal(err)
		}
		if out, err := s.Marshal(); err != nil || !bytes.Equal(out, b) {
			t.Errorf("round trip: %v", err)
		}
	}
}

// FuzzParseShare: the parser never panics, and what it accepts packs
// again into a share that parses to the same header.
func FuzzParseShare(f *testing.F) {
	f.Add(goodShare(f, SDMFVersion))
	f.Add(goodShare(f, MDMFVersion))
	for _, tf := range gridFiles(f) {
		f.Add(tf.shares[0])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseShare(b)
		if err != nil {
			if !errors.Is(err, ErrBadShare) {
				t.Fatalf("error %v does not wrap ErrBadShare", err)
			}
			return
		}
		out, err := s.Marshal()
		if err != nil {
			return // e.g. an MDMF head too big for the reserved room
		}
		s2, err := ParseShare(out)
		if err != nil {
			t.Fatalf("repacked share does not parse: %v", err)
		}
		if !bytes.Equal(s2.Signable(), s.Signable()) {
			t.Fatal("repacked share has another signed prefix")
		}
	})
}

// FuzzParseHeader: any prefix parses or fails cleanly, and the ranges of
// a parsed header are sound.
func FuzzParseHeader(f *testing.F) {
	f.Add(goodShare(f, SDMFVersion)[:HeaderSize])
	f.Add(goodShare(f, MDMFVersion)[:HeaderSize])
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseHeader(b)
		if err != nil {
			return
		}
		for i := range h.NumSegments() {
			r := h.BlockRange(i)
			d := h.ShareDataRange()
			if r.Begin < d.Begin || r.End > d.End || r.End < r.Begin {
				t.Fatalf("block %d at %+v outside share data %+v", i, r, d)
			}
		}
		if !bytes.Equal(h.Marshal(), b[:len(h.Marshal())]) {
			t.Fatal("header does not repack to its bytes")
		}
	})
}
