//go:build !amd64 || purego

package crypt

// usePairSHA is false: there is no assembly here.
var usePairSHA = false

// pairBlocks compresses the whole blocks of p into h.
func pairBlocks(h *[8]uint32, p []byte) { pairBlocksGeneric(h, p) }

// pairBlocks2 compresses pa into ha and pb into hb.
func pairBlocks2(ha, hb *[8]uint32, pa, pb []byte) {
	pairBlocksGeneric(ha, pa)
	pairBlocksGeneric(hb, pb)
}
