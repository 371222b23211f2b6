package immutable

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"runtime"
	"testing"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/internal/tahoevec"
	"github.com/lafs/lafs/internal/testutil"
	"github.com/lafs/lafs/internal/vectors"
)

func encodeBytes(t testing.TB, data, secret []byte, p lafs.Params) (*cap.CHK, *MemoryShares) {
	t.Helper()
	key, err := ConvergentKey(bytes.NewReader(data), uint64(len(data)), secret, p)
	if err != nil {
		t.Fatal(err)
	}
	var m MemoryShares
	c, err := Encode(context.Background(), bytes.NewReader(data), uint64(len(data)), key, p, &m)
	if err != nil {
		t.Fatal(err)
	}
	return c, &m
}

func decodeAll(t testing.TB, c *cap.CHK, shares []Share) ([]byte, error) {
	t.Helper()
	r, err := NewReader(context.Background(), c, shares)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if _, err := r.WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// pick returns k shares chosen at random from all.
func pick(rng *rand.Rand, all []Share, k int) []Share {
	idx := rng.Perm(len(all))[:k]
	out := make([]Share, k)
	for i, j := range idx {
		out[i] = all[j]
	}
	return out
}

// TestHeavyCHKVectors reproduces all 120 CHK caps of Tahoe's test_vectors.yaml
// and decodes each from a random k of its shares.
func TestHeavyCHKVectors(t *testing.T) {
	testutil.Heavy(t)
	rng := rand.New(rand.NewSource(1))
	n := 0
	for _, c := range tahoevec.Cases(t) {
		if c.Kind != "chk" {
			continue
		}
		n++
		data := c.Plaintext()
		p := lafs.Params{K: c.K, N: c.N, SegmentSize: c.SegmentSize}
		got, m := encodeBytes(t, data, c.Convergence, p)
		if got.String() != c.Expected {
			t.Errorf("vector %d (k=%d n=%d len=%d): cap\n got %s\nwant %s", c.Index, c.K, c.N, c.Length, got, c.Expected)
			continue
		}
		back, err := decodeAll(t, got, pick(rng, m.Shares(), c.K))
		if err != nil {
			t.Errorf("vector %d: decode: %v", c.Index, err)
		} else if !bytes.Equal(back, data) {
			t.Errorf("vector %d: decoded plaintext differs", c.Index)
		}
	}
	if n != 120 {
		t.Errorf("found %d CHK vectors, want 120", n)
	}
}

func TestCHKIntermediates(t *testing.T) {
	var file struct {
		Cases []struct {
			Index       int    `json:"vector_index"`
			Expected    string `json:"expected"`
			K           int    `json:"k"`
			N           int    `json:"n"`
			Size        uint64 `json:"size"`
			SegmentSize int    `json:"segment_size"`
			NumSegments int    `json:"num_segments"`
			UEB         string `json:"ueb_bytes_b64"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(vectors.Read(t, "chk_intermediates.json"), &file); err != nil {
		t.Fatal(err)
	}
	cases := tahoevec.Cases(t)
	for _, ic := range file.Cases {
		vc := cases[ic.Index]
		p := lafs.Params{K: vc.K, N: vc.N, SegmentSize: vc.SegmentSize}
		plan, err := NewPlan(uint64(vc.Length), p)
		if err != nil {
			t.Fatal(err)
		}
		if plan.Geometry.SegmentSize != ic.SegmentSize || plan.Geometry.NumSegments != ic.NumSegments {
			t.Errorf("vector %d: geometry %+v", ic.Index, plan.Geometry)
		}
		want, _ := base64.StdEncoding.DecodeString(ic.UEB)
		if int(plan.Layout.uebLen) != len(want) {
			t.Errorf("vector %d: planned UEB length %d, want %d", ic.Index, plan.Layout.uebLen, len(want))
		}
		ueb, err := ParseUEB(want)
		if err != nil {
			t.Fatalf("vector %d: %v", ic.Index, err)
		}
		if !bytes.Equal(ueb.Marshal(), want) {
			t.Errorf("vector %d: UEB does not re-marshal to the same bytes", ic.Index)
		}
		c, _ := encodeBytes(t, vc.Plaintext(), vc.Convergence, p)
		if c.String() != ic.Expected {
			t.Errorf("vector %d: got %s want %s", ic.Index, c, ic.Expected)
		}
	}
}

// TestStoredShares decodes the share files that Tahoe 1.2 stored
// (stored_shares.json) from every 3-of-10 subset of a sample.
func TestStoredShares(t *testing.T) {
	var file struct {
		Immutable struct {
			Cap       string                       `json:"cap"`
			Plaintext []byte                       `json:"plaintext_b64"`
			Shares    map[string]map[string][]byte `json:"shares"`
		} `json:"immutable"`
	}
	if err := json.Unmarshal(vectors.Read(t, "stored_shares.json"), &file); err != nil {
		t.Fatal(err)
	}
	parsed, err := cap.Parse(file.Immutable.Cap)
	if err != nil {
		t.Fatal(err)
	}
	c := parsed.(*cap.CHK)
	var all []Share
	for _, byNum := range file.Immutable.Shares {
		for num, container := range byNum {
			var n int
			fmt.Sscan(num, &n)
			data, err := tahoevec.ImmutableShareData(container)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, ShareBytes(lafs.ShareNum(n), data))
		}
	}
	if len(all) != 10 {
		t.Fatalf("have %d shares", len(all))
	}
	rng := rand.New(rand.NewSource(2))
	for i := 0; i < 20; i++ {
		got, err := decodeAll(t, c, pick(rng, all, 3))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, file.Immutable.Plaintext) {
			t.Fatalf("decoded %q", got)
		}
	}
}

// TestTahoe120GridCHK decodes the CHK files (and immutable directory) a live
// Tahoe 1.20 grid wrote, from many 3-share subsets.
func TestTahoe120GridCHK(t *testing.T) {
	g := tahoevec.LoadGrid(t)
	rng := rand.New(rand.NewSource(3))
	seen := 0
	for _, o := range g.Objects {
		if o.Kind != "chk" && o.Kind != "dir2-chk" {
			continue
		}
		seen++
		parsed, err := cap.Parse(o.Cap)
		if err != nil {
			t.Fatal(err)
		}
		var c *cap.CHK
		switch x := parsed.(type) {
		case *cap.CHK:
			c = x
		default:
			// An immutable directory wraps a CHK cap.
			inner, err := cap.Parse("URI:CHK:" + o.Cap[len("URI:DIR2-CHK:"):])
			if err != nil {
				t.Fatal(err)
			}
			c = inner.(*cap.CHK)
		}
		if c.StorageIndex().String() != o.StorageIndex {
			t.Errorf("%s: storage index %s, Tahoe says %s", o.Note, c.StorageIndex(), o.StorageIndex)
		}
		var all []Share
		for _, s := range o.Shares {
			data, err := tahoevec.ImmutableShareData(s.Container)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, ShareBytes(lafs.ShareNum(s.ShNum), data))
		}
		for i := 0; i < 10; i++ {
			got, err := decodeAll(t, c, pick(rng, all, 3))
			if err != nil {
				t.Fatalf("%s: %v", o.Note, err)
			}
			if o.Kind == "chk" && fmt.Sprintf("%x", sha256.Sum256(got)) != o.PlaintextSHA {
				t.Fatalf("%s: plaintext differs", o.Note)
			}
			if o.Kind == "dir2-chk" && len(got) != int(c.Size) {
				t.Fatalf("%s: %d bytes", o.Note, len(got))
			}
		}
		// Our encoder, given the same convergence secret and Tahoe's
		// defaults, makes the same cap.
		if o.Kind == "chk" {
			secret, err := lafs.ParseBase32(g.ConvergenceB32)
			if err != nil {
				t.Fatal(err)
			}
			ours, _ := encodeBytes(t, o.Plaintext, secret, lafs.DefaultParams)
			if ours.String() != o.Cap {
				t.Errorf("%s: we make %s, Tahoe made %s", o.Note, ours, o.Cap)
			}
		}
	}
	if seen != 3 {
		t.Errorf("saw %d immutable objects, want 3", seen)
	}
}

// TestCorruptionDetected flips one bit at many places in a share and checks
// that the share is refused while the file still decodes from the others,
// and that with only k shares, one corrupt, decoding fails with a clear error.
func TestCorruptionDetected(t *testing.T) {
	data := bytes.Repeat([]byte("corruption test data. "), 20000) // 440 KB, several segments
	p := lafs.Params{K: 3, N: 10, SegmentSize: 64 << 10}
	c, m := encodeBytes(t, data, []byte("secret"), p)
	share0 := m.Bytes(0)
	positions := []int{0, 3, 4, 8, 12, 0x20, 0x24, 100, len(share0) / 2}
	for off := 0; off < len(share0); off += len(share0) / 97 {
		positions = append(positions, off)
	}
	for i := 1; i <= 400 && i < len(share0); i++ { // the whole trailer
		positions = append(positions, len(share0)-i)
	}
	for _, pos := range positions {
		bad := append([]byte(nil), share0...)
		bad[pos] ^= 0x10
		if bytes.Equal(bad, share0) {
			continue
		}
		// With spares, decoding succeeds and the corrupt share is refused
		// or harmless (the informational header fields and unused
		// plaintext tree are not read).
		shares := []Share{ShareBytes(0, bad), ShareBytes(1, m.Bytes(1)), ShareBytes(2, m.Bytes(2)), ShareBytes(5, m.Bytes(5))}
		got, err := decodeAll(t, c, shares)
		if err != nil {
			t.Fatalf("flip at %d: with a spare share: %v", pos, err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("flip at %d: wrong plaintext", pos)
		}
		// Without spares it must fail, unless the flipped byte is one
		// that readers ignore.
		_, err = decodeAll(t, c, shares[:3])
		if err == nil {
			if !ignoredByReaders(share0, pos) {
				t.Fatalf("flip at %d: corrupt share accepted", pos)
			}
			continue
		}
		if !errors.Is(err, ErrNotEnoughShares) || !errors.Is(err, ErrCorrupt) {
			t.Fatalf("flip at %d: error %v should wrap ErrNotEnoughShares and ErrCorrupt", pos, err)
		}
	}
}

// ignoredByReaders reports whether byte pos of a share is one that no
// reader looks at: the informational block and data sizes in the header
// and the unused plaintext hash tree.
func ignoredByReaders(share []byte, pos int) bool {
	l, _ := ParseLayout(share)
	return pos >= 4 && pos < 12 || uint64(pos) >= l.PlaintextHashTree && uint64(pos) < l.CrypttextHashTree
}

func TestTruncatedAndGarbageShares(t *testing.T) {
	data := bytes.Repeat([]byte{7}, 100000)
	c, m := encodeBytes(t, data, nil, lafs.Params{K: 2, N: 4, SegmentSize: 1 << 20})
	s0 := m.Bytes(0)
	for _, bad := range [][]byte{nil, s0[:3], s0[:40], s0[:len(s0)/2], s0[:len(s0)-1], bytes.Repeat([]byte{0xff}, 200)} {
		_, err := decodeAll(t, c, []Share{ShareBytes(0, bad), ShareBytes(1, m.Bytes(1))})
		if !errors.Is(err, ErrNotEnoughShares) {
			t.Errorf("share of %d bytes: err = %v", len(bad), err)
		}
	}
	// A share with the wrong number must fail its hash chain.
	_, err := decodeAll(t, c, []Share{ShareBytes(3, s0), ShareBytes(1, m.Bytes(1))})
	if !errors.Is(err, ErrCorrupt) {
		t.Errorf("renumbered share: err = %v", err)
	}
}

func TestRangesAndSmallParams(t *testing.T) {
	rng := rand.New(rand.NewSource(4))
	for _, p := range []lafs.Params{{K: 1, N: 1, SegmentSize: 1000}, {K: 3, N: 10, SegmentSize: 999}, {K: 7, N: 9, SegmentSize: 4096}} {
		data := make([]byte, 56+rng.Intn(20000))
		rng.Read(data)
		c, m := encodeBytes(t, data, []byte("x"), p)
		r, err := NewReader(context.Background(), c, pick(rng, m.Shares(), p.K))
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 50; i++ {
			off := rng.Intn(len(data))
			n := rng.Intn(len(data) - off + 1)
			buf := make([]byte, n)
			got, err := r.ReadAt(buf, int64(off))
			if got != n || (err != nil && err != io.EOF) || !bytes.Equal(buf, data[off:off+n]) {
				t.Fatalf("%+v ReadAt(%d, %d) = %d, %v", p, n, off, got, err)
			}
			var w bytes.Buffer
			if _, err := r.WriteRange(context.Background(), &w, int64(off), int64(n)); err != nil || !bytes.Equal(w.Bytes(), data[off:off+n]) {
				t.Fatalf("WriteRange(%d, %d): %v", off, n, err)
			}
		}
		if _, err := r.ReadAt(make([]byte, 1), int64(len(data))); err != io.EOF {
			t.Fatalf("read at EOF: %v", err)
		}
	}
}

func TestSizeMismatch(t *testing.T) {
	data := make([]byte, 1000)
	_, err := Encode(context.Background(), bytes.NewReader(data), 2000, [16]byte{}, lafs.DefaultParams, Discard)
	if err == nil {
		t.Error("short input accepted")
	}
	_, err = Encode(context.Background(), bytes.NewReader(data), 500, [16]byte{}, lafs.DefaultParams, Discard)
	if err == nil {
		t.Error("long input accepted")
	}
}

// patternReader yields size bytes of a cheap pattern without holding them.
type patternReader struct{ off, size int64 }

func (p *patternReader) Read(b []byte) (int, error) {
	if p.off >= p.size {
		return 0, io.EOF
	}
	if int64(len(b)) > p.size-p.off {
		b = b[:p.size-p.off]
	}
	for i := range b {
		b[i] = byte((p.off + int64(i)) * 7 >> 3)
	}
	p.off += int64(len(b))
	return len(b), nil
}

// TestHeavyStreamingMemory encodes a 400 MB file and checks that the heap
// never grows beyond a few segments.
func TestHeavyStreamingMemory(t *testing.T) {
	testutil.Heavy(t)
	const size = 400 << 20
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	done := make(chan struct{})
	peak := make(chan uint64)
	go func() {
		var max uint64
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > max {
				max = ms.HeapInuse
			}
			select {
			case <-done:
				peak <- max
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	_, err := Encode(context.Background(), &patternReader{size: size}, size, [16]byte{1}, lafs.DefaultParams, Discard)
	close(done)
	if err != nil {
		t.Fatal(err)
	}
	max := <-peak
	grew := int64(max) - int64(before.HeapInuse)
	t.Logf("400 MB encode: heap in use grew by %.1f MB", float64(grew)/(1<<20))
	if grew > 96<<20 {
		t.Errorf("heap grew by %d MB encoding a 400 MB file", grew>>20)
	}
}

func BenchmarkEncode1MiBSegments(b *testing.B) {
	const size = 64 << 20
	b.SetBytes(size)
	for i := 0; i < b.N; i++ {
		if _, err := Encode(context.Background(), &patternReader{size: size}, size, [16]byte{1}, lafs.DefaultParams, Discard); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	data := make([]byte, 32<<20)
	c, m := encodeBytes(b, data, nil, lafs.DefaultParams)
	shares := m.Shares()[5:8] // parity shares: the hardest decode
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := NewReader(context.Background(), c, shares)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := r.WriteTo(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

// TestLayoutV2 encodes with Tahoe's v2 share layout (64-bit offsets, used
// for shares past 4 GiB) and decodes it; the cap is the same as with v1.
func TestLayoutV2(t *testing.T) {
	data := bytes.Repeat([]byte("v2 layout "), 30000)
	p := lafs.Params{K: 3, N: 7, SegmentSize: 50000}
	v1cap, _ := encodeBytes(t, data, []byte("s"), p)
	plan, err := NewPlan(uint64(len(data)), p)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Layout.Version != 1 {
		t.Fatalf("small file got layout v%d", plan.Layout.Version)
	}
	plan.Layout = newLayout(plan.Geometry, int(plan.Layout.uebLen), 2)
	var m MemoryShares
	c, err := encode(context.Background(), bytes.NewReader(data), plan, v1cap.Key, &m)
	if err != nil {
		t.Fatal(err)
	}
	if c.String() != v1cap.String() {
		t.Errorf("v2 cap %s differs from v1 cap %s", c, v1cap)
	}
	if v := m.Bytes(0)[3]; v != 2 || uint64(len(m.Bytes(0))) != plan.Layout.ShareSize() {
		t.Fatalf("share version byte %d, length %d, planned %d", v, len(m.Bytes(0)), plan.Layout.ShareSize())
	}
	got, err := decodeAll(t, c, m.Shares()[4:])
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("decode v2: %v", err)
	}
	// A share larger than 4 GiB needs v2.
	g, _ := NewGeometry(13<<30, 3, 10, 1<<20)
	if l := NewLayout(g, 400); l.Version != 2 {
		t.Errorf("13 GiB file: layout v%d", l.Version)
	}
}

// Two shares with one bad block each, in different segments, and one
// share to spare: every segment still has k good blocks, and the file
// decodes (a share whose block fails is kept for its other blocks, each
// being checked on its own).
func TestBadBlocksInDifferentShares(t *testing.T) {
	data := bytes.Repeat([]byte("bad blocks here and there. "), 10000) // 270 KB
	p := lafs.Params{K: 3, N: 10, SegmentSize: 64 << 10}
	c, m := encodeBytes(t, data, []byte("secret"), p)
	lay, err := ParseLayout(m.Bytes(0))
	if err != nil {
		t.Fatal(err)
	}
	bs := int(lay.BlockSize)
	bad0 := append([]byte(nil), m.Bytes(0)...)
	bad0[int(lay.Data)+10] ^= 1 // segment 0's block
	bad1 := append([]byte(nil), m.Bytes(1)...)
	bad1[int(lay.Data)+bs+10] ^= 1 // segment 1's block
	shares := []Share{ShareBytes(0, bad0), ShareBytes(1, bad1), ShareBytes(2, m.Bytes(2)), ShareBytes(3, m.Bytes(3))}
	got, err := decodeAll(t, c, shares)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("decode: %v", err)
	}
}

// TestKeyWriter checks that the key computed as a file streams by, before
// its size is known, is its convergent key, for sizes on either side of
// one segment.
func TestKeyWriter(t *testing.T) {
	p := lafs.Params{K: 3, N: 10, SegmentSize: 4096}
	secret := []byte("key writer secret")
	data := make([]byte, 3*4096+5)
	for i := range data {
		data[i] = byte(i * 31)
	}
	for _, size := range []int{56, 1000, 4094, 4095, 4096, 4097, 3*4096 + 5} {
		kw, err := NewKeyWriter(secret, p)
		if err != nil {
			t.Fatal(err)
		}
		for rest := data[:size]; len(rest) > 0; {
			n := min(len(rest), 777)
			kw.Write(rest[:n])
			rest = rest[n:]
		}
		got, err := kw.Key(bytes.NewReader(data[:size]))
		if err != nil {
			t.Fatal(err)
		}
		want, err := ConvergentKey(bytes.NewReader(data[:size]), uint64(size), secret, p)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("size %d: KeyWriter gave %x, ConvergentKey %x", size, got, want)
		}
	}
}
