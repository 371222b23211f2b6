// Package zfec implements k-of-n erasure coding that is byte-for-byte
// identical to the zfec library used by Tahoe-LAFS (allmydata/codec.py,
// CRSEncoder and CRSDecoder), for every 1 <= k <= n <= 256.
//
// zfec is a systematic Reed-Solomon code over GF(2^8) with primitive
// polynomial x^8+x^4+x^3+x^2+1 (0x11D). Its n x k encoding matrix is
// E = V * T^-1, where V has row 0 = [1, 0, ..., 0] and rows r >= 1 given by
// V[r][c] = 2^((r-1)*c mod 255), and T is the top k x k block of V. Share j
// is the product of row j of E with the k primary blocks, so shares 0..k-1
// are the primary blocks themselves and any k distinct shares determine
// them. The bulk arithmetic is done by github.com/klauspost/reedsolomon,
// configured with zfec's matrix.
package zfec

import (
	"errors"
	"fmt"
	"math/bits"
	"sync"
	"sync/atomic"

	"github.com/klauspost/reedsolomon"
)

// MaxShares is the largest supported n (and k): zfec works in GF(2^8).
const MaxShares = 256

// ErrBadParams is wrapped by the error New returns for k and n outside
// 1 <= k <= n <= MaxShares.
var ErrBadParams = errors.New("zfec: bad parameters")

// ErrBadInput is wrapped by the errors Encode and Decode return for
// malformed arguments: a wrong number of blocks, blocks of unequal length,
// share numbers out of range, or too few distinct share numbers.
var ErrBadInput = errors.New("zfec: bad input")

// Codec encodes and decodes with zfec's k-of-n code. A Codec is immutable
// and safe for concurrent use by multiple goroutines; each call runs on the
// calling goroutine only, so parallelism comes from concurrent calls.
type Codec struct {
	k, n int
	// parity holds rows k..n-1 of zfec's encoding matrix (shared, read-only).
	parity [][]byte
	// gen is the current reedsolomon encoder; nil when n == k.
	gen atomic.Pointer[generation]
}

// generation is a reedsolomon encoder plus an account of the decoding
// patterns whose inverted matrices it has cached. reedsolomon caches every
// inverted matrix it ever builds, so a long-running process decoding from
// many different share subsets would grow without bound; once the estimated
// size of that cache passes inversionCacheBudget, the Codec switches to a
// fresh encoder and lets the old one (and its cache) be collected.
type generation struct {
	rs   reedsolomon.Encoder
	mu   sync.Mutex
	seen map[[4]uint64]struct{}
	cost int
}

const inversionCacheBudget = 8 << 20

var codecs sync.Map // [2]int{k, n} -> *Codec

// shardsPool holds scratch [][]byte of length MaxShares for Encode.
var shardsPool = sync.Pool{New: func() any {
	s := make([][]byte, MaxShares)
	return &s
}}

// New returns a codec for k-of-n: k primary blocks, n shares in total. It
// requires 1 <= k <= n <= 256; otherwise the error wraps ErrBadParams.
// Codecs are cached, so New may return the same *Codec for equal k and n.
func New(k, n int) (*Codec, error) {
	if k < 1 || n < k || n > MaxShares {
		return nil, fmt.Errorf("%w: k=%d, n=%d (need 1 <= k <= n <= %d)", ErrBadParams, k, n, MaxShares)
	}
	key := [2]int{k, n}
	if c, ok := codecs.Load(key); ok {
		return c.(*Codec), nil
	}
	c, err := newCodec(k, n)
	if err != nil {
		return nil, err
	}
	v, _ := codecs.LoadOrStore(key, c)
	return v.(*Codec), nil
}

// newCodec builds an uncached Codec; k and n must be valid.
func newCodec(k, n int) (*Codec, error) {
	c := &Codec{k: k, n: n}
	if n > k {
		c.parity = parityRows(k)[: n-k : n-k]
		g, err := c.newGeneration()
		if err != nil {
			return nil, fmt.Errorf("zfec: building %d-of-%d encoder: %w", k, n, err)
		}
		c.gen.Store(g)
	}
	return c, nil
}

func (c *Codec) newGeneration() (*generation, error) {
	rs, err := reedsolomon.New(c.k, c.n-c.k,
		reedsolomon.WithCustomMatrix(c.parity),
		reedsolomon.WithMaxGoroutines(1))
	if err != nil {
		return nil, err
	}
	return &generation{rs: rs, seen: make(map[[4]uint64]struct{})}, nil
}

// K returns the number of primary blocks, which is also the number of
// shares needed to decode.
func (c *Codec) K() int { return c.k }

// N returns the total number of shares.
func (c *Codec) N() int { return c.n }

// Encode computes the n-k parity blocks (shares k..n-1) of the k primary
// blocks in data, which must all have the same length. parity must hold
// exactly n-k caller-allocated slices, each as long as the data blocks;
// their contents are overwritten. Shares 0..k-1 are the data blocks
// themselves. parity must not overlap data.
func (c *Codec) Encode(data, parity [][]byte) error {
	if len(data) != c.k {
		return fmt.Errorf("%w: got %d data blocks, want k=%d", ErrBadInput, len(data), c.k)
	}
	if len(parity) != c.n-c.k {
		return fmt.Errorf("%w: got %d parity blocks, want n-k=%d", ErrBadInput, len(parity), c.n-c.k)
	}
	size := len(data[0])
	for i, d := range data {
		if len(d) != size {
			return fmt.Errorf("%w: data block %d has %d bytes, data block 0 has %d", ErrBadInput, i, len(d), size)
		}
	}
	for i, p := range parity {
		if len(p) != size {
			return fmt.Errorf("%w: parity block %d has %d bytes, data blocks have %d", ErrBadInput, i, len(p), size)
		}
	}
	if c.n == c.k || size == 0 {
		return nil
	}
	sp := shardsPool.Get().(*[][]byte)
	shards := (*sp)[:c.n]
	copy(shards, data)
	copy(shards[c.k:], parity)
	err := c.gen.Load().rs.Encode(shards)
	clear(shards)
	shardsPool.Put(sp)
	if err != nil {
		return fmt.Errorf("zfec: encode: %w", err)
	}
	return nil
}

// Decode reconstructs the k primary blocks from shares. blocks[i] is the
// share numbered shareNums[i] (0 <= shareNums[i] < n); all blocks must have
// the same length. At least k blocks with distinct share numbers are
// needed; if more are given, the first k distinct share numbers (in the
// order given) are used and a later block repeating an earlier share number
// is ignored. Every given block is still checked for range and length.
//
// The result holds the k primary blocks in order. A result block aliases
// the corresponding input block when that primary share was among those
// used; the others are newly allocated.
func (c *Codec) Decode(blocks [][]byte, shareNums []int) ([][]byte, error) {
	if len(blocks) != len(shareNums) {
		return nil, fmt.Errorf("%w: %d blocks but %d share numbers", ErrBadInput, len(blocks), len(shareNums))
	}
	if len(blocks) < c.k {
		return nil, fmt.Errorf("%w: got %d blocks, need at least k=%d", ErrBadInput, len(blocks), c.k)
	}
	size := len(blocks[0])
	var used [4]uint64 // bit s set when share s is used
	var chosen [MaxShares]int32
	nChosen, dups := 0, 0
	for i, s := range shareNums {
		if s < 0 || s >= c.n {
			return nil, fmt.Errorf("%w: share number %d (block %d) out of range [0, %d)", ErrBadInput, s, i, c.n)
		}
		if len(blocks[i]) != size {
			return nil, fmt.Errorf("%w: block %d (share %d) has %d bytes, block 0 has %d", ErrBadInput, i, s, len(blocks[i]), size)
		}
		if used[s>>6]&(1<<(s&63)) != 0 {
			dups++
			continue
		}
		if nChosen < c.k {
			used[s>>6] |= 1 << (s & 63)
			chosen[nChosen] = int32(i)
			nChosen++
		}
	}
	if nChosen < c.k {
		return nil, fmt.Errorf("%w: only %d distinct share numbers among %d blocks (%d duplicates), need k=%d",
			ErrBadInput, nChosen, len(blocks), dups, c.k)
	}

	out := make([][]byte, c.k)
	missing := c.k
	for _, i := range chosen[:c.k] {
		if s := shareNums[i]; s < c.k {
			out[s] = blocks[i]
			missing--
		}
	}
	if missing == 0 {
		return out, nil
	}
	if size == 0 {
		for i := range out {
			if out[i] == nil {
				out[i] = []byte{}
			}
		}
		return out, nil
	}

	shards := make([][]byte, c.n)
	for _, i := range chosen[:c.k] {
		shards[shareNums[i]] = blocks[i]
	}
	// One allocation for all missing primary blocks, each 64-byte aligned
	// relative to the (page-aligned, when large) buffer start. Zero-length
	// slices with capacity are filled in place by reedsolomon.
	stride := (size + 63) &^ 63
	buf := make([]byte, (missing-1)*stride+size)
	for i, off := 0, 0; i < c.k; i++ {
		if out[i] == nil {
			shards[i] = buf[off : off : off+size]
			off += stride
		}
	}
	rs := c.decoder(used)
	if err := rs.ReconstructData(shards); err != nil {
		return nil, fmt.Errorf("zfec: decode: %w", err)
	}
	for i := range out {
		out[i] = shards[i]
	}
	return out, nil
}

// decoder returns the reedsolomon encoder to decode from the share set
// used, accounting for the inverted matrix it will cache for that set.
func (c *Codec) decoder(used [4]uint64) reedsolomon.Encoder {
	// reedsolomon keys its cache on the rows missing below the highest
	// share used; each of those is a tree node with a child slice of up to
	// n pointers, and the leaf holds a k x k matrix.
	top := 0
	for w := 3; w >= 0; w-- {
		if used[w] != 0 {
			top = 64*w + 63 - bits.LeadingZeros64(used[w])
			break
		}
	}
	cost := c.k*c.k + (top+1-c.k)*(8*c.n+64)
	for {
		g := c.gen.Load()
		g.mu.Lock()
		_, ok := g.seen[used]
		if ok || len(g.seen) == 0 || g.cost+cost <= inversionCacheBudget {
			if !ok {
				g.seen[used] = struct{}{}
				g.cost += cost
			}
			g.mu.Unlock()
			return g.rs
		}
		g.mu.Unlock()
		ng, err := c.newGeneration()
		if err != nil {
			// Cannot happen (the parameters were accepted before); keep
			// using the old encoder rather than fail.
			return g.rs
		}
		c.gen.CompareAndSwap(g, ng)
	}
}
