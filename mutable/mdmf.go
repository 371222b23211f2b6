package mutable

import (
	"encoding/binary"
)

// MDMF share data (version 1), as mutable/layout.py's MDMFSlotWriteProxy
// lays it out:
//
//	0    1   version = 1
//	1    8   seqnum
//	9    32  root hash
//	41   1   k
//	42   1   N
//	43   8   segment size
//	51   8   data length          (signed prefix: bytes 0..58)
//	59   8   offset: encrypted private key
//	67   8   offset: share hash chain
//	75   8   offset: signature
//	83   8   offset: verification key
//	91   8   offset: end of verification key
//	99   8   offset: share data
//	107  8   offset: block hash tree
//	115  8   offset: EOF
//	123      encrypted private key, share hash chain, signature,
//	         verification key, packed back to back, then zeros up to 2167
//	2167     share data: for each segment, salt (16) then block
//	         block hash tree (full flat array), up to EOF
//
// The room before the share data is fixed (Tahoe budgets 1220 bytes for
// the key, 260 for the signature, 292 for the verification key and 272
// for the chain) so that blocks can be written before those are known.

func parseMDMFHeader(b []byte) (*Header, error) {
	if len(b) < mdmfHeaderSize {
		return nil, badShare("MDMF header needs %d bytes, have %d", mdmfHeaderSize, len(b))
	}
	be := binary.BigEndian
	h := &Header{
		Version:     MDMFVersion,
		Seqnum:      be.Uint64(b[1:]),
		RootHash:    [32]byte(b[9:41]),
		K:           int(b[41]),
		N:           int(b[42]),
		SegmentSize: be.Uint64(b[43:]),
		DataLength:  be.Uint64(b[51:]),
	}
	o := &h.Offsets
	for i, p := range []*uint64{&o.EncPrivKey, &o.ShareHashChain, &o.Signature, &o.VerificationKey,
		&o.VerificationKeyEnd, &o.ShareData, &o.BlockHashTree, &o.EOF} {
		*p = be.Uint64(b[mdmfSignedSize+8*i:])
	}
	if !ordered(mdmfHeaderSize, o.EncPrivKey, o.ShareHashChain, o.Signature, o.VerificationKey,
		o.VerificationKeyEnd, o.ShareData, o.BlockHashTree, o.EOF) {
		return nil, badShare("MDMF offsets out of order: %+v", *o)
	}
	return h, nil
}

// mdmfPrefix packs the 59-byte signed prefix.
func (h *Header) mdmfPrefix() []byte {
	b := make([]byte, 0, mdmfHeaderSize)
	b = append(b, MDMFVersion)
	b = binary.BigEndian.AppendUint64(b, h.Seqnum)
	b = append(b, h.RootHash[:]...)
	b = append(b, byte(h.K), byte(h.N))
	b = binary.BigEndian.AppendUint64(b, h.SegmentSize)
	return binary.BigEndian.AppendUint64(b, h.DataLength)
}

func (h *Header) marshalMDMF() []byte {
	o := h.Offsets
	b := h.mdmfPrefix()
	for _, v := range []uint64{o.EncPrivKey, o.ShareHashChain, o.Signature, o.VerificationKey,
		o.VerificationKeyEnd, o.ShareData, o.BlockHashTree, o.EOF} {
		b = binary.BigEndian.AppendUint64(b, v)
	}
	return b
}

// layOutMDMF computes the offsets of an MDMF share with these parts.
func (s *Share) layOutMDMF(g geometry, chainLen int) (Offsets, error) {
	var o Offsets
	o.EncPrivKey = mdmfHeaderSize
	o.ShareHashChain = o.EncPrivKey + uint64(len(s.EncPrivKey))
	o.Signature = o.ShareHashChain + uint64(chainLen)
	o.VerificationKey = o.Signature + uint64(len(s.Signature))
	o.VerificationKeyEnd = o.VerificationKey + uint64(len(s.VerificationKey))
	o.ShareData = mdmfShareDataOffset
	o.BlockHashTree = o.ShareData + g.dataLen()
	o.EOF = o.BlockHashTree + uint64(hashSize*len(s.BlockHashTree))
	if o.VerificationKeyEnd > o.ShareData {
		return o, badShare("MDMF key, chain, signature and verification key take %d bytes, more than the %d reserved",
			o.VerificationKeyEnd-mdmfHeaderSize, mdmfShareDataOffset-mdmfHeaderSize)
	}
	return o, nil
}

// mdmfHead packs bytes [0, ShareData): header, encrypted private key,
// share hash chain, signature, verification key and zero padding.
func (s *Share) mdmfHead(chain []byte) []byte {
	b := make([]byte, s.Offsets.ShareData)
	copy(b, s.Header.marshalMDMF())
	copy(b[s.Offsets.EncPrivKey:], s.EncPrivKey)
	copy(b[s.Offsets.ShareHashChain:], chain)
	copy(b[s.Offsets.Signature:], s.Signature)
	copy(b[s.Offsets.VerificationKey:], s.VerificationKey)
	return b
}
