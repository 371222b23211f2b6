package immutable

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"math/bits"
	"reflect"
	"slices"
	"testing"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/crypt"
	"github.com/lafs/lafs/hashtree"
)

// fuzzFile is a file encoded for the fuzzers' seeds: its geometry and its
// first share's data.
type fuzzFile struct {
	geom  Geometry
	share []byte
}

// fuzzFiles encodes a few files of different shapes: one segment or
// several, a short tail or a full one, 1-of-1 to 7-of-13.
func fuzzFiles(tb testing.TB) []fuzzFile {
	tb.Helper()
	var out []fuzzFile
	for _, c := range []struct {
		size int
		p    lafs.Params
	}{
		{LITThreshold + 1, lafs.DefaultParams},
		{1000, lafs.Params{K: 1, N: 1, SegmentSize: 1 << 20}},
		{300_000, lafs.Params{K: 3, N: 10, SegmentSize: 128 << 10}},
		{256 << 10, lafs.Params{K: 2, N: 5, SegmentSize: 128 << 10}},
		{70_001, lafs.Params{K: 7, N: 13, SegmentSize: 4096}},
	} {
		data := bytes.Repeat([]byte("fuzz seed "), c.size/10+1)[:c.size]
		var m MemoryShares
		if _, err := Encode(context.Background(), bytes.NewReader(data), uint64(c.size), [16]byte{1}, c.p, &m); err != nil {
			tb.Fatal(err)
		}
		g, err := NewGeometry(uint64(c.size), c.p.K, c.p.N, c.p.SegmentSize)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, fuzzFile{g, m.Bytes(0)})
	}
	return out
}

// shareUEB returns the UEB bytes at the end of a share's data.
func shareUEB(tb testing.TB, share []byte) []byte {
	tb.Helper()
	l, err := ParseLayout(share)
	if err != nil {
		tb.Fatal(err)
	}
	at := l.URIExtension + l.lenFieldSize()
	var n uint64
	if l.Version == 1 {
		n = uint64(binary.BigEndian.Uint32(share[l.URIExtension:]))
	} else {
		n = binary.BigEndian.Uint64(share[l.URIExtension:])
	}
	return share[at : at+n]
}

// FuzzParseUEB: ParseUEB never panics and rejects only with ErrCorrupt;
// what it accepts describes a file whose segments cover it exactly, and
// marshals back to the same fields (Marshal sorts them by key) and parses
// again to the same UEB.
func FuzzParseUEB(f *testing.F) {
	for _, ff := range fuzzFiles(f) {
		ueb := shareUEB(f, ff.share)
		f.Add(ueb)
		// As Tahoe before 1.3 wrote it, with the plaintext hashes.
		u, err := ParseUEB(ueb)
		if err != nil {
			f.Fatal(err)
		}
		u.Extra = map[string][]byte{"plaintext_hash": make([]byte, 32), "plaintext_root_hash": bytes.Repeat([]byte{1}, 32)}
		f.Add(u.Marshal())
	}
	f.Add([]byte("codec_name:3:crs,"))
	f.Fuzz(func(t *testing.T, b []byte) {
		u, err := ParseUEB(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		checkUEBGeometry(t, u)
		if got, want := u.Marshal(), sortedFields(t, b); !bytes.Equal(got, want) {
			t.Fatalf("UEB %q marshals to %q", want, got)
		}
		u2, err := ParseUEB(u.Marshal())
		if err != nil {
			t.Fatalf("marshalled UEB does not parse: %v", err)
		}
		if !reflect.DeepEqual(u, u2) {
			t.Fatalf("marshalled UEB parses to\n%+v, not\n%+v", u2, u)
		}
	})
}

// checkUEBGeometry checks that the parameters of a parsed UEB agree with
// each other: k-of-n coding as zfec does it, segments of whole blocks
// that cover the file exactly, and a tail padded to a multiple of k.
func checkUEBGeometry(t *testing.T, u *UEB) {
	t.Helper()
	if u.CodecName != "crs" || u.K < 1 || u.N < u.K || u.N > 256 {
		t.Fatalf("accepted codec %q with k=%d n=%d", u.CodecName, u.K, u.N)
	}
	if u.SegmentSize < 1 || u.SegmentSize%u.K != 0 || u.NumSegments < 1 {
		t.Fatalf("accepted %d segments of %d bytes for k=%d", u.NumSegments, u.SegmentSize, u.K)
	}
	g := u.Geometry()
	if g.Size != u.Size || g.K != u.K || g.N != u.N || g.SegmentSize != u.SegmentSize ||
		g.NumSegments != u.NumSegments || g.PaddedTail != u.TailSegmentSize {
		t.Fatalf("UEB %+v has geometry %+v", u, g)
	}
	// (NumSegments-1) full segments and the tail make the file.
	hi, lo := bits.Mul64(uint64(u.NumSegments-1), uint64(u.SegmentSize))
	sum, carry := bits.Add64(lo, uint64(g.TailSize), 0)
	if hi != 0 || carry != 0 || sum != u.Size {
		t.Fatalf("%d segments of %d bytes and a tail of %d do not make %d bytes", u.NumSegments, u.SegmentSize, g.TailSize, u.Size)
	}
	if g.TailSize < 0 || g.TailSize > u.SegmentSize || g.TailSize == 0 && u.Size != 0 {
		t.Fatalf("tail of %d bytes for segments of %d and a file of %d", g.TailSize, u.SegmentSize, u.Size)
	}
	if p := u.TailSegmentSize; p%u.K != 0 || p < g.TailSize || p-g.TailSize >= u.K {
		t.Fatalf("tail of %d bytes padded to %d for k=%d", g.TailSize, p, u.K)
	}
	if g.BlockSize*u.K != u.SegmentSize || g.TailBlockSize*u.K != u.TailSegmentSize {
		t.Fatalf("blocks of %d and %d bytes for segments of %d and %d, k=%d",
			g.BlockSize, g.TailBlockSize, u.SegmentSize, u.TailSegmentSize, u.K)
	}
}

// sortedFields returns the fields of a UEB that ParseUEB accepted, sorted
// by key: what Marshal must give.
func sortedFields(t *testing.T, b []byte) []byte {
	t.Helper()
	type field struct{ key, raw []byte }
	var fs []field
	for rest := b; len(rest) > 0; {
		colon := bytes.IndexByte(rest, ':')
		_, r, err := crypt.ParseNetstring(rest[colon+1:])
		if err != nil {
			t.Fatalf("accepted UEB %q: %v", b, err)
		}
		n := len(rest) - len(r)
		fs = append(fs, field{rest[:colon], rest[:n]})
		rest = r
	}
	slices.SortFunc(fs, func(a, b field) int { return bytes.Compare(a.key, b.key) })
	var out []byte
	for _, f := range fs {
		out = append(out, f.raw...)
	}
	return out
}

// FuzzParseLayout: ParseLayout never panics and rejects only with
// ErrCorrupt; what it accepts has its sections in order after the header,
// within int64, and the same header again from Header. check, which the
// reader calls next on the same bytes, does not panic, and what it passes
// has the section sizes the geometry implies.
func FuzzParseLayout(f *testing.F) {
	files := fuzzFiles(f)
	for _, ff := range files {
		f.Add(ff.share[:MaxHeaderLen])
		f.Add(ff.share[:headerLen(1)])
		v2 := newLayout(ff.geom, len(shareUEB(f, ff.share)), 2)
		f.Add(v2.Header())
	}
	f.Add([]byte{0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := ParseLayout(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if l.Version != 1 && l.Version != 2 {
			t.Fatalf("accepted layout version %d", l.Version)
		}
		if h := l.Header(); !bytes.Equal(h, b[:len(h)]) {
			t.Fatalf("header %x becomes %x", b[:len(h)], h)
		}
		prev := headerLen(l.Version)
		for _, off := range []uint64{l.Data, l.PlaintextHashTree, l.CrypttextHashTree, l.BlockHashes, l.ShareHashes, l.URIExtension} {
			if off < prev || off > math.MaxInt64/2 {
				t.Fatalf("accepted sections out of order: %+v", l)
			}
			prev = off
		}
		for _, ff := range files {
			g := ff.geom
			if l.check(g) != nil {
				continue
			}
			segHashes := uint64(hashtree.Size(g.NumSegments)) * 32
			if l.Data != headerLen(l.Version) || l.PlaintextHashTree-l.Data < g.ShareDataSize ||
				l.BlockHashes-l.CrypttextHashTree != segHashes || l.ShareHashes-l.BlockHashes != segHashes ||
				(l.URIExtension-l.ShareHashes)%34 != 0 {
				t.Fatalf("layout %+v passes the check for geometry %+v", l, g)
			}
		}
	})
}
