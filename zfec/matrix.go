package zfec

import "sync"

// GF(2^8) arithmetic with zfec's primitive polynomial
// x^8+x^4+x^3+x^2+1 (0x11D) and generator alpha = 2. This is only used to
// build the coding matrix; the bulk work is done by klauspost/reedsolomon,
// whose field is the same (it also uses 0x11D; products in a given field do
// not depend on the choice of generator).

var (
	gfExp [510]byte // gfExp[i] = alpha^i, doubled to skip a mod 255 in gfMul
	gfLog [256]int  // gfLog[alpha^i] = i; gfLog[0] unused
)

func init() {
	x := 1
	for i := range 255 {
		gfExp[i] = byte(x)
		gfExp[i+255] = byte(x)
		gfLog[x] = i
		x <<= 1
		if x&0x100 != 0 {
			x ^= 0x11D
		}
	}
}

func gfMul(a, b byte) byte {
	if a == 0 || b == 0 {
		return 0
	}
	return gfExp[gfLog[a]+gfLog[b]]
}

func gfInv(a byte) byte {
	// a != 0 is guaranteed by the callers (pivots are non-zero).
	return gfExp[255-gfLog[a]]
}

// parityRowsCache maps k to the parity rows k..255 of zfec's 256 x k
// encoding matrix (see parityRows).
var parityRowsCache sync.Map // int -> [][]byte

// parityRows returns rows k..255 of zfec's encoding matrix E = V * T^-1 for
// k inputs, where V is the 256 x k matrix with row 0 = [1, 0, ..., 0] and
// row r >= 1 given by V[r][c] = alpha^(((r-1)*c) mod 255), and T is the top
// k x k block of V. Row j of E depends only on k and j, not on n, so the
// parity rows for k-of-n are the first n-k rows of the result.
//
// The result is cached and shared; callers must not modify it.
func parityRows(k int) [][]byte {
	if v, ok := parityRowsCache.Load(k); ok {
		return v.([][]byte)
	}
	rows := buildParityRows(k)
	v, _ := parityRowsCache.LoadOrStore(k, rows)
	return v.([][]byte)
}

func vandermondeRow(r, k int) []byte {
	row := make([]byte, k)
	if r == 0 {
		row[0] = 1
		return row
	}
	for c := range k {
		row[c] = gfExp[((r-1)*c)%255]
	}
	return row
}

func buildParityRows(k int) [][]byte {
	const total = 256
	// Invert T (k x k) by Gauss-Jordan elimination on [T | I]. T is a
	// Vandermonde matrix on the distinct points 0, alpha^0, ...,
	// alpha^(k-2), so it is invertible and a pivot always exists.
	t := make([][]byte, k)
	inv := make([][]byte, k)
	for r := range k {
		t[r] = vandermondeRow(r, k)
		inv[r] = make([]byte, k)
		inv[r][r] = 1
	}
	for col := range k {
		p := col
		for t[p][col] == 0 {
			p++ // cannot run past k: T is invertible
		}
		t[p], t[col] = t[col], t[p]
		inv[p], inv[col] = inv[col], inv[p]
		if f := gfInv(t[col][col]); f != 1 {
			for c := range k {
				t[col][c] = gfMul(f, t[col][c])
				inv[col][c] = gfMul(f, inv[col][c])
			}
		}
		for r := range k {
			f := t[r][col]
			if r == col || f == 0 {
				continue
			}
			lf := gfLog[f]
			trow, irow := t[r], inv[r]
			for c, v := range t[col] {
				if v != 0 {
					trow[c] ^= gfExp[lf+gfLog[v]]
				}
			}
			for c, v := range inv[col] {
				if v != 0 {
					irow[c] ^= gfExp[lf+gfLog[v]]
				}
			}
		}
	}
	// E[j] = V[j] * T^-1 for j = k..255.
	rows := make([][]byte, total-k)
	buf := make([]byte, (total-k)*k)
	for j := k; j < total; j++ {
		out := buf[(j-k)*k : (j-k+1)*k : (j-k+1)*k]
		for i, v := range vandermondeRow(j, k) {
			if v == 0 {
				continue
			}
			lv := gfLog[v]
			for c, w := range inv[i] {
				if w != 0 {
					out[c] ^= gfExp[lv+gfLog[w]]
				}
			}
		}
		rows[j-k] = out
	}
	return rows
}
