package mutable

import (
	"encoding/binary"
	"math"
)

// SDMF share data (version 0), as mutable/layout.py packs it:
//
//	0    1   version = 0
//	1    8   seqnum
//	9    32  root hash
//	41   16  salt (the IV of the one segment)
//	57   1   k
//	58   1   N
//	59   8   segment size
//	67   8   data length          (signed prefix: bytes 0..74)
//	75   4   offset: signature
//	79   4   offset: share hash chain
//	83   4   offset: block hash tree
//	87   4   offset: share data
//	91   8   offset: encrypted private key
//	99   8   offset: EOF
//	107      verification key, signature, share hash chain,
//	         block hash tree, share data (one block), encrypted private key

func parseSDMFHeader(b []byte) (*Header, error) {
	if len(b) < sdmfHeaderSize {
		return nil, badShare("SDMF header needs %d bytes, have %d", sdmfHeaderSize, len(b))
	}
	be := binary.BigEndian
	h := &Header{
		Version:     SDMFVersion,
		Seqnum:      be.Uint64(b[1:]),
		RootHash:    [32]byte(b[9:41]),
		Salt:        [SaltSize]byte(b[41:57]),
		K:           int(b[57]),
		N:           int(b[58]),
		SegmentSize: be.Uint64(b[59:]),
		DataLength:  be.Uint64(b[67:]),
	}
	o := &h.Offsets
	o.Signature = uint64(be.Uint32(b[75:]))
	o.ShareHashChain = uint64(be.Uint32(b[79:]))
	o.BlockHashTree = uint64(be.Uint32(b[83:]))
	o.ShareData = uint64(be.Uint32(b[87:]))
	o.EncPrivKey = be.Uint64(b[91:])
	o.EOF = be.Uint64(b[99:])
	o.VerificationKey, o.VerificationKeyEnd = sdmfHeaderSize, o.Signature
	if !ordered(sdmfHeaderSize, o.Signature, o.ShareHashChain, o.BlockHashTree, o.ShareData, o.EncPrivKey, o.EOF) {
		return nil, badShare("SDMF offsets out of order: %+v", *o)
	}
	return h, nil
}

// ordered reports whether vs never decreases.
func ordered(vs ...uint64) bool {
	for i := 1; i < len(vs); i++ {
		if vs[i] < vs[i-1] {
			return false
		}
	}
	return true
}

// sdmfPrefix packs the 75-byte signed prefix.
func (h *Header) sdmfPrefix() []byte {
	b := make([]byte, 0, sdmfHeaderSize)
	b = append(b, SDMFVersion)
	b = binary.BigEndian.AppendUint64(b, h.Seqnum)
	b = append(b, h.RootHash[:]...)
	b = append(b, h.Salt[:]...)
	b = append(b, byte(h.K), byte(h.N))
	b = binary.BigEndian.AppendUint64(b, h.SegmentSize)
	return binary.BigEndian.AppendUint64(b, h.DataLength)
}

func (h *Header) marshalSDMF() []byte {
	o := h.Offsets
	b := h.sdmfPrefix()
	for _, v := range []uint64{o.Signature, o.ShareHashChain, o.BlockHashTree, o.ShareData} {
		b = binary.BigEndian.AppendUint32(b, uint32(v))
	}
	b = binary.BigEndian.AppendUint64(b, o.EncPrivKey)
	return binary.BigEndian.AppendUint64(b, o.EOF)
}

// layOutSDMF computes the offsets of an SDMF share with these parts.
func (s *Share) layOutSDMF(g geometry, chainLen int) (Offsets, error) {
	var o Offsets
	o.VerificationKey = sdmfHeaderSize
	o.VerificationKeyEnd = o.VerificationKey + uint64(len(s.VerificationKey))
	o.Signature = o.VerificationKeyEnd
	o.ShareHashChain = o.Signature + uint64(len(s.Signature))
	o.BlockHashTree = o.ShareHashChain + uint64(chainLen)
	o.ShareData = o.BlockHashTree + uint64(hashSize*len(s.BlockHashTree))
	o.EncPrivKey = o.ShareData + g.dataLen()
	o.EOF = o.EncPrivKey + uint64(len(s.EncPrivKey))
	if o.ShareData > math.MaxUint32 {
		return o, badShare("SDMF share parts of %d bytes do not fit 32-bit offsets", o.ShareData)
	}
	return o, nil
}

// sdmfHead packs bytes [0, ShareData): header, verification key,
// signature, share hash chain and block hash tree.
func (s *Share) sdmfHead(chain []byte) []byte {
	b := make([]byte, 0, s.Offsets.ShareData)
	b = append(b, s.Header.marshalSDMF()...)
	b = append(b, s.VerificationKey...)
	b = append(b, s.Signature...)
	b = append(b, chain...)
	return append(b, marshalHashes(s.BlockHashTree)...)
}

func slice(b []byte, r Range) []byte { return b[r.Begin:r.End:r.End] }
