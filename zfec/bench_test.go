package zfec

import (
	"fmt"
	"testing"
)

// A segment of segSize bytes is k blocks of segSize/k bytes; throughput
// (MB/s) is of the segment, i.e. of the input to Encode or the output of
// Decode.

var benchParams = []struct{ k, n int }{{3, 10}, {25, 100}}

var benchSegSizes = []int{128 << 10, 1 << 20}

func BenchmarkEncode(b *testing.B) {
	for _, p := range benchParams {
		for _, seg := range benchSegSizes {
			b.Run(fmt.Sprintf("%d-of-%d/%dKiB", p.k, p.n, seg>>10), func(b *testing.B) {
				c, err := New(p.k, p.n)
				if err != nil {
					b.Fatal(err)
				}
				size := seg / p.k
				data := randomBlocks(newRand(7), p.k, size)
				parity := makeBlocks(p.n-p.k, size)
				b.SetBytes(int64(p.k * size))
				b.ReportAllocs()
				for b.Loop() {
					if err := c.Encode(data, parity); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, seg := range benchSegSizes {
		b.Run(fmt.Sprintf("3-of-10/parity-only/%dKiB", seg>>10), func(b *testing.B) {
			c, err := New(3, 10)
			if err != nil {
				b.Fatal(err)
			}
			size := seg / 3
			data := randomBlocks(newRand(8), 3, size)
			sh := encodeAll(b, c, data)
			nums := []int{9, 5, 7}
			blocks := [][]byte{sh[9], sh[5], sh[7]}
			b.SetBytes(int64(3 * size))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Decode(blocks, nums); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
