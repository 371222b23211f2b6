package zfec

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"testing"
)

// golden mirrors testdata/golden.json, written by testdata/gen_golden.sh
// from Tahoe's zfec (Debian python3-zfec); see testdata/gen_golden.py.
type golden struct {
	Generator string `json:"generator"`
	Cases     []struct {
		K      int      `json:"k"`
		N      int      `json:"n"`
		Len    int      `json:"len"`
		Input  string   `json:"input"`
		All    string   `json:"all"`
		Parity []string `json:"parity"`
	} `json:"cases"`
	Sweep struct {
		N      int      `json:"n"`
		Len    int      `json:"len"`
		Parity []string `json:"parity"`
	} `json:"sweep"`
}

func loadGolden(t testing.TB) *golden {
	t.Helper()
	b, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Cases) == 0 || len(g.Sweep.Parity) != MaxShares {
		t.Fatalf("golden.json: %d cases, %d sweep entries", len(g.Cases), len(g.Sweep.Parity))
	}
	return &g
}

// goldenInput returns the k input blocks of length size for a golden case,
// derived exactly as gen_golden.py does: the concatenation of
// SHA256(seed + ":" + i) for i = 0, 1, ..., with
// seed = "lafs-zfec-golden:k:n:size", cut into k blocks.
func goldenInput(k, n, size int) [][]byte {
	seed := fmt.Sprintf("lafs-zfec-golden:%d:%d:%d", k, n, size)
	buf := make([]byte, 0, k*size+sha256.Size)
	for i := 0; len(buf) < k*size; i++ {
		h := sha256.Sum256([]byte(seed + ":" + strconv.Itoa(i)))
		buf = append(buf, h[:]...)
	}
	blocks := make([][]byte, k)
	for c := range blocks {
		blocks[c] = buf[c*size : (c+1)*size : (c+1)*size]
	}
	return blocks
}

func sha256Hex(bs ...[]byte) string {
	h := sha256.New()
	for _, b := range bs {
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func makeBlocks(count, size int) [][]byte {
	buf := make([]byte, count*size)
	blocks := make([][]byte, count)
	for i := range blocks {
		blocks[i] = buf[i*size : (i+1)*size : (i+1)*size]
	}
	return blocks
}

func encodeAll(t testing.TB, c *Codec, data [][]byte) [][]byte {
	t.Helper()
	parity := makeBlocks(c.N()-c.K(), len(data[0]))
	if err := c.Encode(data, parity); err != nil {
		t.Fatalf("%d-of-%d: Encode: %v", c.K(), c.N(), err)
	}
	return append(append([][]byte(nil), data...), parity...)
}

func TestGoldenEncode(t *testing.T) {
	g := loadGolden(t)
	for _, gc := range g.Cases {
		c, err := New(gc.K, gc.N)
		if err != nil {
			t.Fatal(err)
		}
		data := goldenInput(gc.K, gc.N, gc.Len)
		if got := sha256Hex(data...); got != gc.Input {
			t.Fatalf("k=%d n=%d len=%d: input digest %s, golden %s (PRNG differs from gen_golden.py)",
				gc.K, gc.N, gc.Len, got, gc.Input)
		}
		shares := encodeAll(t, c, data)
		if got := sha256Hex(shares...); got != gc.All {
			t.Errorf("k=%d n=%d len=%d: output digest %s, zfec %s", gc.K, gc.N, gc.Len, got, gc.All)
		}
		if gc.Parity != nil && len(gc.Parity) != gc.N-gc.K {
			t.Fatalf("k=%d n=%d: %d parity digests", gc.K, gc.N, len(gc.Parity))
		}
		for j, want := range gc.Parity {
			if got := sha256Hex(shares[gc.K+j])[:len(want)]; got != want {
				t.Errorf("k=%d n=%d len=%d: share %d digest %s, zfec %s", gc.K, gc.N, gc.Len, gc.K+j, got, want)
			}
		}
	}
}

// TestGoldenSweep checks every k against zfec with n = 256, then every
// (k, n) pair: its parity must be the first n-k parity blocks for n = 256.
// With -short or -race it samples k and n.
func TestGoldenSweep(t *testing.T) {
	g := loadGolden(t)
	size := g.Sweep.Len
	sample := testing.Short() || raceEnabled
	for k := 1; k <= MaxShares; k++ {
		if sample && k > 8 && k < 250 && k%23 != 0 {
			continue
		}
		c, err := newCodec(k, g.Sweep.N)
		if err != nil {
			t.Fatal(err)
		}
		data := goldenInput(k, g.Sweep.N, size)
		full := encodeAll(t, c, data)[k:]
		if got := sha256Hex(full...); got != g.Sweep.Parity[k-1] {
			t.Fatalf("k=%d n=%d: parity digest %s, zfec %s", k, g.Sweep.N, got, g.Sweep.Parity[k-1])
		}
		nStep := 1
		if sample {
			nStep = 17
		}
		for n := k; n < MaxShares; n += nStep {
			c, err := newCodec(k, n)
			if err != nil {
				t.Fatal(err)
			}
			parity := encodeAll(t, c, data)[k:]
			for j := range parity {
				if !bytes.Equal(parity[j], full[j]) {
					t.Fatalf("k=%d n=%d: share %d differs from the same share for n=256", k, n, k+j)
				}
			}
		}
	}
}

// TestGoldenDecode decodes every golden (k, n) from several subsets of k
// shares: random ones in random order, the last k shares, and (where
// there are enough) parity shares only.
func TestGoldenDecode(t *testing.T) {
	g := loadGolden(t)
	rng := newRand(1)
	done := map[[2]int]bool{}
	for _, gc := range g.Cases {
		key := [2]int{gc.K, gc.N}
		if done[key] || gc.Len != 7 && gc.Len != 1021 {
			continue
		}
		if gc.Len == 1021 {
			done[key] = true
		}
		c, err := New(gc.K, gc.N)
		if err != nil {
			t.Fatal(err)
		}
		data := goldenInput(gc.K, gc.N, gc.Len)
		shares := encodeAll(t, c, data)
		var subsets [][]int
		for range 8 {
			subsets = append(subsets, rng.Perm(gc.N)[:gc.K])
		}
		subsets = append(subsets, seq(gc.N-gc.K, gc.N))
		if gc.N-gc.K >= gc.K {
			subsets = append(subsets, seq(gc.K, 2*gc.K), seq(gc.N-gc.K, gc.N))
			p := rng.Perm(gc.N - gc.K)[:gc.K]
			for i := range p {
				p[i] += gc.K
			}
			subsets = append(subsets, p)
		}
		for _, sub := range subsets {
			checkDecode(t, c, shares, sub, data)
		}
	}
}

func seq(lo, hi int) []int {
	s := make([]int, 0, hi-lo)
	for i := lo; i < hi; i++ {
		s = append(s, i)
	}
	return s
}

func checkDecode(t testing.TB, c *Codec, shares [][]byte, nums []int, want [][]byte) {
	t.Helper()
	blocks := make([][]byte, len(nums))
	for i, s := range nums {
		blocks[i] = shares[s]
	}
	got, err := c.Decode(blocks, nums)
	if err != nil {
		t.Fatalf("%d-of-%d: Decode from %v: %v", c.K(), c.N(), nums, err)
	}
	if len(got) != c.K() {
		t.Fatalf("%d-of-%d: Decode returned %d blocks", c.K(), c.N(), len(got))
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("%d-of-%d: Decode from %v: block %d wrong", c.K(), c.N(), nums, i)
		}
	}
}
