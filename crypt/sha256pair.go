package crypt

//go:generate sh -c "go run sha256pair_gen.go > sha256pair_amd64.s"

// SHA-256 that hashes two messages side by side: where the CPU has the
// x86 SHA extensions, pairWrite2 compresses a block of each of two
// messages in little more than the time of one, since a single message
// leaves the SHA unit waiting on the latency of each round. An upload
// hashes each segment's crypttext twice and each of its blocks once, so
// its hashes come in pairs (see PairHasher).

import (
	"encoding/binary"
	"math/bits"
)

// pairFast reports whether pairWrite2 hashes two messages faster than one
// after the other (the x86 SHA extensions are there). Where it does not,
// the code here is slower than crypto/sha256's, which is used instead.
func pairFast() bool { return usePairSHA }

const (
	sha256Size  = 32 // bytes of a SHA-256 sum
	sha256Block = 64 // bytes of a SHA-256 block
)

var pairIV = [8]uint32{0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19}

// pairDigest is a SHA-256 computation. The zero pairDigest is not ready:
// use newPairDigest or Reset.
type pairDigest struct {
	h   [8]uint32
	x   [sha256Block]byte
	nx  int
	len uint64
}

// newPairDigest returns a pairDigest ready to use.
func newPairDigest() *pairDigest {
	d := new(pairDigest)
	d.Reset()
	return d
}

// Reset makes d a fresh computation.
func (d *pairDigest) Reset() {
	d.h = pairIV
	d.nx = 0
	d.len = 0
}

// fill adds the start of p to d's partial block, compresses that block if
// it is full, and returns the rest of p. Afterwards either d has no partial
// block or p is used up.
func (d *pairDigest) fill(p []byte) []byte {
	if d.nx == 0 {
		return p
	}
	n := copy(d.x[d.nx:], p)
	d.nx += n
	d.len += uint64(n)
	if d.nx == sha256Block {
		pairBlocks(&d.h, d.x[:])
		d.nx = 0
	}
	return p[n:]
}

// tail keeps the end of p (less than a block; d has no partial block).
func (d *pairDigest) tail(p []byte) {
	d.nx = copy(d.x[:], p)
	d.len += uint64(len(p))
}

// Write adds p to the message; it never fails.
func (d *pairDigest) Write(p []byte) (int, error) {
	n := len(p)
	p = d.fill(p)
	if full := len(p) &^ (sha256Block - 1); full > 0 {
		pairBlocks(&d.h, p[:full])
		d.len += uint64(full)
		p = p[full:]
	}
	if len(p) > 0 {
		d.tail(p)
	}
	return n, nil
}

// pairWrite2 adds pa to a's message and pb to b's, compressing the pairBlocks of
// the two side by side where it can. a and b must be different Digests.
func pairWrite2(a *pairDigest, pa []byte, b *pairDigest, pb []byte) {
	pa, pb = a.fill(pa), b.fill(pb)
	if n := min(len(pa), len(pb)) / sha256Block; n > 0 && a.nx == 0 && b.nx == 0 {
		pairBlocks2(&a.h, &b.h, pa[:n*sha256Block], pb[:n*sha256Block])
		a.len += uint64(n * sha256Block)
		b.len += uint64(n * sha256Block)
		pa, pb = pa[n*sha256Block:], pb[n*sha256Block:]
	}
	a.Write(pa)
	b.Write(pb)
}

// Sum appends the hash of the message so far to in; d is unchanged.
func (d *pairDigest) Sum(in []byte) []byte {
	c := *d
	c.Write(c.padding())
	for _, v := range c.h {
		in = binary.BigEndian.AppendUint32(in, v)
	}
	return in
}

// pairSum2 finishes a and b at once (their last pairBlocks side by side) and
// returns their hashes; a and b are unchanged.
func pairSum2(a, b *pairDigest) (sa, sb [sha256Size]byte) {
	ca, cb := *a, *b
	pairWrite2(&ca, ca.padding(), &cb, cb.padding())
	for i := range ca.h {
		binary.BigEndian.PutUint32(sa[4*i:], ca.h[i])
		binary.BigEndian.PutUint32(sb[4*i:], cb.h[i])
	}
	return sa, sb
}

// padding returns the bytes that end d's message.
func (d *pairDigest) padding() []byte {
	n := d.len
	pad := make([]byte, 1+(55-int(n%sha256Block)+sha256Block)%sha256Block+8)
	pad[0] = 0x80
	binary.BigEndian.PutUint64(pad[len(pad)-8:], n<<3)
	return pad
}

// pairBlocksGeneric compresses whole pairBlocks of p into h.
func pairBlocksGeneric(h *[8]uint32, p []byte) {
	var w [64]uint32
	h0, h1, h2, h3, h4, h5, h6, h7 := h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]
	for ; len(p) >= sha256Block; p = p[sha256Block:] {
		for i := 0; i < 16; i++ {
			w[i] = binary.BigEndian.Uint32(p[4*i:])
		}
		for i := 16; i < 64; i++ {
			v1 := w[i-2]
			t1 := bits.RotateLeft32(v1, -17) ^ bits.RotateLeft32(v1, -19) ^ (v1 >> 10)
			v2 := w[i-15]
			t2 := bits.RotateLeft32(v2, -7) ^ bits.RotateLeft32(v2, -18) ^ (v2 >> 3)
			w[i] = t1 + w[i-7] + t2 + w[i-16]
		}
		a, b, c, d, e, f, g, hh := h0, h1, h2, h3, h4, h5, h6, h7
		for i := 0; i < 64; i++ {
			t1 := hh + (bits.RotateLeft32(e, -6) ^ bits.RotateLeft32(e, -11) ^ bits.RotateLeft32(e, -25)) + ((e & f) ^ (^e & g)) + pairK[i] + w[i]
			t2 := (bits.RotateLeft32(a, -2) ^ bits.RotateLeft32(a, -13) ^ bits.RotateLeft32(a, -22)) + ((a & b) ^ (a & c) ^ (b & c))
			hh, g, f, e, d, c, b, a = g, f, e, d+t1, c, b, a, t1+t2
		}
		h0 += a
		h1 += b
		h2 += c
		h3 += d
		h4 += e
		h5 += f
		h6 += g
		h7 += hh
	}
	h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7] = h0, h1, h2, h3, h4, h5, h6, h7
}

var pairK = [64]uint32{
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
}
