package crypt

import (
	"bytes"
	"crypto/sha256"
	"math/rand/v2"
	"testing"
)

// TestPairDigestMatchesSHA256 checks pairDigest against crypto/sha256,
// written in pieces of every kind.
func TestPairDigestMatchesSHA256(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 5000)
	for i := range buf {
		buf[i] = byte(r.Uint32())
	}
	for _, impl := range implementations(t) {
		usePairSHA = impl == "sha"
		for n := 0; n < 300; n++ {
			for _, chunk := range []int{1, 7, 63, 64, 65, 1000} {
				d := newPairDigest()
				for p := buf[:n]; len(p) > 0; {
					c := min(chunk, len(p))
					d.Write(p[:c])
					p = p[c:]
				}
				want := sha256.Sum256(buf[:n])
				if got := d.Sum(nil); !bytes.Equal(got, want[:]) {
					t.Fatalf("%s: length %d in chunks of %d: got %x, want %x", impl, n, chunk, got, want)
				}
			}
		}
	}
}

// TestPairWrite2MatchesSHA256 checks two messages hashed side by side, in
// random pieces, against crypto/sha256.
func TestPairWrite2MatchesSHA256(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	buf := make([]byte, 20000)
	for i := range buf {
		buf[i] = byte(r.Uint32())
	}
	for _, impl := range implementations(t) {
		usePairSHA = impl == "sha"
		for trial := 0; trial < 2000; trial++ {
			a, b := newPairDigest(), newPairDigest()
			var ma, mb []byte
			for step := 0; step < 1+r.IntN(4); step++ {
				pa := buf[r.IntN(1000):][:r.IntN(3000)]
				pb := buf[r.IntN(1000):][:r.IntN(3000)]
				if r.IntN(3) == 0 {
					pb = pa
				}
				pairWrite2(a, pa, b, pb)
				ma, mb = append(ma, pa...), append(mb, pb...)
			}
			wa, wb := sha256.Sum256(ma), sha256.Sum256(mb)
			sa, sb := pairSum2(a, b)
			if sa != wa || sb != wb {
				t.Fatalf("%s: trial %d: pairSum2 gave %x %x, want %x %x", impl, trial, sa, sb, wa, wb)
			}
			if got := a.Sum(nil); !bytes.Equal(got, wa[:]) {
				t.Fatalf("%s: trial %d: Sum gave %x, want %x", impl, trial, got, wa)
			}
		}
	}
}

// implementations lists the code to test: with the SHA extensions (where
// there) and without.
func implementations(t *testing.T) []string {
	was := usePairSHA
	t.Cleanup(func() { usePairSHA = was })
	if !usePairSHA {
		return []string{"generic"}
	}
	return []string{"sha", "generic"}
}

func BenchmarkPairDigest(b *testing.B) {
	buf := make([]byte, 128<<10)
	b.SetBytes(int64(len(buf)))
	d := newPairDigest()
	for b.Loop() {
		d.Write(buf)
	}
}

func BenchmarkPairWrite2(b *testing.B) {
	buf := make([]byte, 128<<10)
	b.SetBytes(2 * int64(len(buf)))
	d, e := newPairDigest(), newPairDigest()
	for b.Loop() {
		pairWrite2(d, buf, e, buf)
	}
}

func BenchmarkSHA256Stdlib(b *testing.B) {
	buf := make([]byte, 128<<10)
	b.SetBytes(int64(len(buf)))
	d := sha256.New()
	for b.Loop() {
		d.Write(buf)
	}
}

// FuzzPairWrite2 checks two messages of any bytes and lengths, written
// in two pieces each, against crypto/sha256.
func FuzzPairWrite2(f *testing.F) {
	f.Add([]byte("abc"), []byte(""), uint16(1), uint16(0))
	f.Add(bytes.Repeat([]byte{7}, 200), bytes.Repeat([]byte{9}, 129), uint16(64), uint16(65))
	f.Fuzz(func(t *testing.T, ma, mb []byte, ca, cb uint16) {
		ia, ib := int(ca)%(len(ma)+1), int(cb)%(len(mb)+1)
		a, b := newPairDigest(), newPairDigest()
		pairWrite2(a, ma[:ia], b, mb[:ib])
		pairWrite2(a, ma[ia:], b, mb[ib:])
		sa, sb := pairSum2(a, b)
		if sa != sha256.Sum256(ma) || sb != sha256.Sum256(mb) {
			t.Fatalf("pairSum2 of %d and %d bytes differs from crypto/sha256", len(ma), len(mb))
		}
	})
}
