package zfec

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
)

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x7a666563)) }

func randomBlocks(rng *rand.Rand, count, size int) [][]byte {
	blocks := makeBlocks(count, size)
	for _, b := range blocks {
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
	}
	return blocks
}

// referenceEncode computes parity with plain table arithmetic, independent
// of klauspost/reedsolomon.
func referenceEncode(k, n int, data [][]byte) [][]byte {
	rows := parityRows(k)[:n-k]
	out := makeBlocks(n-k, len(data[0]))
	for j, row := range rows {
		for c, coef := range row {
			for t, v := range data[c] {
				out[j][t] ^= gfMul(coef, v)
			}
		}
	}
	return out
}

func TestMatrixBasics(t *testing.T) {
	// Field sanity: alpha has order 255 and 0x11D reduces alpha^8.
	if gfExp[8] != 0x1D || gfExp[255] != 1 || gfMul(0x80, 2) != 0x1D {
		t.Fatalf("GF tables wrong: alpha^8=%#x", gfExp[8])
	}
	for a := 1; a < 256; a++ {
		if gfMul(byte(a), gfInv(byte(a))) != 1 {
			t.Fatalf("inverse of %d wrong", a)
		}
	}
	// k = 1: every parity row is [1] (shares are copies).
	for _, row := range parityRows(1) {
		if len(row) != 1 || row[0] != 1 {
			t.Fatalf("k=1 row %v", row)
		}
	}
	// 2-of-3, worked by hand: V = [[1,0],[1,1],[1,2]], T^-1 = [[1,0],[1,1]],
	// so E[2] = [1^2, 2] = [3, 2].
	if r := parityRows(2)[0]; r[0] != 3 || r[1] != 2 {
		t.Fatalf("2-of-3 parity row %v, want [3 2]", r)
	}
	// The example from python zfec: Encoder(2,3).encode([b"ab", b"cd"])[2] == b"en".
	c, _ := New(2, 3)
	p := makeBlocks(1, 2)
	if err := c.Encode([][]byte{[]byte("ab"), []byte("cd")}, p); err != nil || string(p[0]) != "en" {
		t.Fatalf("2-of-3 parity %q, %v; want \"en\"", p[0], err)
	}
}

func TestMatchesReference(t *testing.T) {
	rng := newRand(2)
	for _, kn := range [][2]int{{1, 2}, {2, 4}, {3, 10}, {13, 29}, {40, 200}, {128, 256}, {200, 256}} {
		k, n := kn[0], kn[1]
		c, err := New(k, n)
		if err != nil {
			t.Fatal(err)
		}
		for _, size := range []int{1, 15, 16, 33, 64, 1000, 65536 + 3} {
			if cost := (n - k) * k * size; cost > 50<<20 || raceEnabled && cost > 1<<20 {
				continue
			}
			data := randomBlocks(rng, k, size)
			got := encodeAll(t, c, data)[k:]
			want := referenceEncode(k, n, data)
			for j := range want {
				if !bytes.Equal(got[j], want[j]) {
					t.Fatalf("%d-of-%d size %d: share %d differs from reference", k, n, size, k+j)
				}
			}
		}
	}
}

func TestNewBadParams(t *testing.T) {
	for _, kn := range [][2]int{{0, 0}, {0, 1}, {-1, 3}, {2, 1}, {1, 257}, {257, 257}, {3, -3}} {
		if c, err := New(kn[0], kn[1]); !errors.Is(err, ErrBadParams) || c != nil {
			t.Errorf("New(%d, %d) = %v, %v; want ErrBadParams", kn[0], kn[1], c, err)
		}
	}
	for _, kn := range [][2]int{{1, 1}, {1, 256}, {256, 256}, {255, 256}, {3, 10}} {
		c, err := New(kn[0], kn[1])
		if err != nil || c.K() != kn[0] || c.N() != kn[1] {
			t.Errorf("New(%d, %d) = %v, %v", kn[0], kn[1], c, err)
		}
		if c2, _ := New(kn[0], kn[1]); c2 != c {
			t.Errorf("New(%d, %d) not cached", kn[0], kn[1])
		}
	}
}

func TestEncodeBadInput(t *testing.T) {
	c, _ := New(3, 5)
	d := func(sizes ...int) [][]byte {
		var bs [][]byte
		for _, s := range sizes {
			bs = append(bs, make([]byte, s))
		}
		return bs
	}
	for _, tc := range []struct {
		name         string
		data, parity [][]byte
	}{
		{"too few data", d(4, 4), d(4, 4)},
		{"too many data", d(4, 4, 4, 4), d(4, 4)},
		{"nil data", nil, d(4, 4)},
		{"too few parity", d(4, 4, 4), d(4)},
		{"too many parity", d(4, 4, 4), d(4, 4, 4)},
		{"unequal data", d(4, 5, 4), d(4, 4)},
		{"short parity", d(4, 4, 4), d(4, 3)},
		{"nil parity block", d(4, 4, 4), [][]byte{nil, make([]byte, 4)}},
	} {
		if err := c.Encode(tc.data, tc.parity); !errors.Is(err, ErrBadInput) {
			t.Errorf("%s: err = %v, want ErrBadInput", tc.name, err)
		}
	}
	// n == k: no parity expected.
	c1, _ := New(2, 2)
	if err := c1.Encode(d(3, 3), nil); err != nil {
		t.Errorf("2-of-2 Encode: %v", err)
	}
	if err := c1.Encode(d(3, 3), d(3)); !errors.Is(err, ErrBadInput) {
		t.Errorf("2-of-2 Encode with parity: %v", err)
	}
}

func TestDecodeBadInput(t *testing.T) {
	c, _ := New(3, 5)
	data := randomBlocks(newRand(3), 3, 8)
	sh := encodeAll(t, c, data)
	for _, tc := range []struct {
		name   string
		blocks [][]byte
		nums   []int
	}{
		{"mismatched counts", [][]byte{sh[0], sh[1], sh[2]}, []int{0, 1}},
		{"too few", [][]byte{sh[0], sh[1]}, []int{0, 1}},
		{"none", nil, nil},
		{"negative share", [][]byte{sh[0], sh[1], sh[2]}, []int{0, 1, -1}},
		{"share == n", [][]byte{sh[0], sh[1], sh[2]}, []int{0, 1, 5}},
		{"huge share", [][]byte{sh[0], sh[1], sh[2]}, []int{0, 1, 1 << 40}},
		{"duplicate", [][]byte{sh[0], sh[1], sh[1]}, []int{0, 1, 1}},
		{"duplicates only", [][]byte{sh[4], sh[4], sh[4], sh[4]}, []int{4, 4, 4, 4}},
		{"unequal lengths", [][]byte{sh[0], sh[1], sh[2][:7]}, []int{0, 1, 2}},
		{"bad extra block", [][]byte{sh[0], sh[1], sh[2], sh[3][:1]}, []int{0, 1, 2, 3}},
		{"bad extra share", [][]byte{sh[0], sh[1], sh[2], sh[3]}, []int{0, 1, 2, 9}},
	} {
		got, err := c.Decode(tc.blocks, tc.nums)
		if !errors.Is(err, ErrBadInput) || got != nil {
			t.Errorf("%s: Decode = %v, %v; want ErrBadInput", tc.name, got, err)
		}
	}
}

func TestDecodeExtraAndDuplicates(t *testing.T) {
	c, _ := New(3, 7)
	data := randomBlocks(newRand(4), 3, 100)
	sh := encodeAll(t, c, data)
	// Duplicates are skipped; the first k distinct shares are used.
	nums := []int{6, 6, 4, 6, 1, 0, 2}
	blocks := [][]byte{sh[6], sh[6], sh[4], sh[6], sh[1], sh[0], sh[2]}
	got, err := c.Decode(blocks, nums)
	if err != nil {
		t.Fatal(err)
	}
	for i := range data {
		if !bytes.Equal(got[i], data[i]) {
			t.Fatalf("block %d wrong", i)
		}
	}
	// Block 1 was used (as one of 6, 4, 1), so it is aliased, not copied.
	if &got[1][0] != &sh[1][0] {
		t.Error("primary block 1 was not aliased")
	}
	// Later blocks beyond the first k distinct are not used: garbage there
	// (of the right length) does not matter.
	junk := make([]byte, 100)
	got, err = c.Decode([][]byte{sh[5], sh[3], sh[0], junk}, []int{5, 3, 0, 1})
	if err != nil {
		t.Fatal(err)
	}
	for i := range data {
		if !bytes.Equal(got[i], data[i]) {
			t.Fatalf("block %d wrong", i)
		}
	}
	// Decoding does not modify its inputs.
	shCopy := encodeAll(t, c, data)
	for i := range sh {
		if !bytes.Equal(sh[i], shCopy[i]) {
			t.Fatalf("share %d modified", i)
		}
	}
}

func TestEdgeCases(t *testing.T) {
	rng := newRand(5)
	// n == k: Encode is a no-op and Decode reorders.
	c, _ := New(4, 4)
	data := randomBlocks(rng, 4, 9)
	if err := c.Encode(data, [][]byte{}); err != nil {
		t.Fatal(err)
	}
	checkDecode(t, c, data, []int{3, 1, 0, 2}, data)
	// k == 1: every share is a copy.
	c, _ = New(1, 256)
	data = randomBlocks(rng, 1, 33)
	sh := encodeAll(t, c, data)
	for j := range sh {
		if !bytes.Equal(sh[j], data[0]) {
			t.Fatalf("1-of-256 share %d is not a copy", j)
		}
		checkDecode(t, c, sh, []int{j}, data)
	}
	// Zero-length blocks.
	for _, kn := range [][2]int{{1, 1}, {1, 3}, {3, 10}, {255, 256}} {
		c, _ := New(kn[0], kn[1])
		data := makeBlocks(kn[0], 0)
		sh := encodeAll(t, c, data)
		checkDecode(t, c, sh, seq(kn[1]-kn[0], kn[1]), data)
		got, err := c.Decode(sh[kn[1]-kn[0]:], seq(kn[1]-kn[0], kn[1]))
		if err != nil || len(got) != kn[0] || got[0] == nil {
			t.Fatalf("%v zero length: %v %v", kn, got, err)
		}
	}
}

func TestConcurrent(t *testing.T) {
	c, _ := New(7, 20)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := newRand(uint64(100 + g))
			for range 50 {
				data := randomBlocks(rng, 7, 1+rng.IntN(5000))
				sh := encodeAll(t, c, data)
				checkDecode(t, c, sh, rng.Perm(20)[:7], data)
			}
		}()
	}
	wg.Wait()
}

// TestInversionCacheReset decodes from many share subsets, enough to push
// reedsolomon's inverted-matrix cache over budget, and checks the Codec
// moves to a fresh encoder while still decoding correctly.
func TestInversionCacheReset(t *testing.T) {
	c, err := newCodec(50, 256)
	if err != nil {
		t.Fatal(err)
	}
	rng := newRand(6)
	data := randomBlocks(rng, 50, 64)
	sh := encodeAll(t, c, data)
	first := c.gen.Load()
	for range 60 {
		checkDecode(t, c, sh, rng.Perm(256)[:50], data)
		g := c.gen.Load()
		g.mu.Lock()
		cost := g.cost
		g.mu.Unlock()
		if cost > inversionCacheBudget {
			t.Fatalf("cache cost %d over budget", cost)
		}
	}
	if c.gen.Load() == first {
		t.Error("encoder was never replaced")
	}
}

// FuzzDecode encodes fuzzer data, then decodes from fuzzer-chosen share
// numbers (possibly out of range, duplicated, or with a shortened block).
// It must never panic, must succeed when given k good distinct shares, and
// must then return the original data.
func FuzzDecode(f *testing.F) {
	f.Add(uint8(2), uint8(1), []byte("hello, world"), []byte{6, 0, 5, 0})
	f.Add(uint8(0), uint8(0), []byte{}, []byte{4, 0})
	f.Add(uint8(2), uint8(7), []byte("abcdefghi"), []byte{10, 0, 9, 0, 8, 1})
	f.Add(uint8(100), uint8(155), bytes.Repeat([]byte{7}, 303), bytes.Repeat([]byte{200, 0, 150, 0}, 60))
	f.Fuzz(func(t *testing.T, kb, extra uint8, payload, picks []byte) {
		k := 1 + int(kb)
		n := k + int(extra)
		if n > MaxShares {
			n = MaxShares
		}
		c, err := New(k, n)
		if err != nil {
			t.Fatal(err)
		}
		size := len(payload) / k
		data := make([][]byte, k)
		for i := range data {
			data[i] = payload[i*size : (i+1)*size : (i+1)*size]
		}
		sh := encodeAll(t, c, data)
		// Coding is bytewise, so decoding shares truncated to a common
		// length must yield the data truncated to that length.
		var blocks [][]byte
		var nums []int
		outOfRange := false
		lengths := map[int]bool{}
		seen := map[int]bool{}
		for i := 0; i+1 < len(picks); i += 2 {
			s := int(picks[i]) - 4
			nums = append(nums, s)
			b := make([]byte, size)
			if s < 0 || s >= n {
				outOfRange = true
			} else {
				b = sh[s]
				seen[s] = true
			}
			if picks[i+1]&1 != 0 && size > 0 {
				b = b[:size-1]
			}
			lengths[len(b)] = true
			blocks = append(blocks, b)
		}
		wantErr := outOfRange || len(lengths) > 1 || len(seen) < k
		got, err := c.Decode(blocks, nums)
		if err != nil {
			if !errors.Is(err, ErrBadInput) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			if !wantErr {
				t.Fatalf("%d-of-%d: Decode from %v failed: %v", k, n, nums, err)
			}
			return
		}
		if wantErr {
			t.Fatalf("%d-of-%d: Decode from %v accepted bad input", k, n, nums)
		}
		if len(got) != k {
			t.Fatalf("Decode returned %d blocks", len(got))
		}
		for i := range data {
			if !bytes.Equal(got[i], data[i][:len(blocks[0])]) {
				t.Fatalf("%d-of-%d: Decode from %v: block %d wrong", k, n, nums, i)
			}
		}
	})
}
