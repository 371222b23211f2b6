//go:build amd64 && !purego

package crypt

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// usePairSHA is whether the SHA extensions (and the SSE4.1 and AVX the code
// around them uses) are there.
var usePairSHA = cpu.X86.HasAVX && cpu.X86.HasSSE41 && cpu.X86.HasSSSE3 && pairHasSHA()

// pairHasSHA reports CPUID.(EAX=7,ECX=0):EBX bit 29.
func pairHasSHA() bool

//go:noescape
func pairBlockSHA(h0 *[8]uint32, p0 *byte, n int)

//go:noescape
func pairBlock2SHA(h0, h1 *[8]uint32, p0, p1 *byte, n int)

// pairBlocks compresses the whole blocks of p into h.
func pairBlocks(h *[8]uint32, p []byte) {
	if n := len(p) / sha256Block; n > 0 && usePairSHA {
		pairBlockSHA(h, unsafe.SliceData(p), n)
		return
	}
	pairBlocksGeneric(h, p)
}

// pairBlocks2 compresses pa into ha and pb into hb; len(pa) == len(pb), a
// multiple of sha256Block.
func pairBlocks2(ha, hb *[8]uint32, pa, pb []byte) {
	if n := len(pa) / sha256Block; n > 0 && usePairSHA {
		pairBlock2SHA(ha, hb, unsafe.SliceData(pa), unsafe.SliceData(pb), n)
		return
	}
	pairBlocks(ha, pa)
	pairBlocks(hb, pb)
}
