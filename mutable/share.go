package mutable

import (
	"encoding/binary"
	"maps"
	"slices"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/crypt"
	"github.com/lafs/lafs/hashtree"
)

// Share is one whole mutable share: the data a client writes into a slot,
// in either format. Marshal packs it byte for byte as Tahoe does;
// ParseShare reads it back.
type Share struct {
	Header
	VerificationKey []byte // RSA public key, SubjectPublicKeyInfo DER
	Signature       []byte // RSA-PSS-SHA256 (salt 32) over Header.Signable()
	ShareHashChain  HashChain
	BlockHashTree   []crypt.Hash     // the full flat tree, hashtree.Tree's layout
	Salts           [][SaltSize]byte // MDMF: one per segment (SDMF: unused, see Header.Salt)
	Blocks          [][]byte         // one per segment, without salt
	EncPrivKey      []byte           // PKCS#8 DER private key, AES-CTR under the write key
}

// Marshal packs the share, first computing its offsets into s.Offsets.
// It checks that the blocks, salts and block hash tree fit the header's
// geometry.
func (s *Share) Marshal() ([]byte, error) {
	head, err := s.marshalHead()
	if err != nil {
		return nil, err
	}
	g, _ := s.geometry()
	out := make([]byte, 0, s.Offsets.EOF)
	out = append(out, head...)
	for i := 0; i < g.numSegments; i++ {
		if err := s.checkBlock(g, i); err != nil {
			return nil, err
		}
		if g.saltSize > 0 {
			out = append(out, s.Salts[i][:]...)
		}
		out = append(out, s.Blocks[i]...)
	}
	return append(out, s.marshalTail()...), nil
}

// updateVectors are the writes that turn an MDMF share of the previous
// version into s when only segments first..last changed: the head (header,
// key, chain, signature, verification key), those blocks with their salts,
// and the block hash tree. Only s.Blocks[first..last] need be set.
func (s *Share) updateVectors(first, last int) ([]lafs.WriteVector, error) {
	if s.Version != MDMFVersion {
		return nil, badShare("only MDMF shares are updated in place")
	}
	head, err := s.marshalHead()
	if err != nil {
		return nil, err
	}
	g, _ := s.geometry()
	vs := []lafs.WriteVector{{Offset: 0, Data: head}}
	if first <= last {
		var blocks []byte
		for i := first; i <= last; i++ {
			if err := s.checkBlock(g, i); err != nil {
				return nil, err
			}
			blocks = append(blocks, s.Salts[i][:]...)
			blocks = append(blocks, s.Blocks[i]...)
		}
		vs = append(vs, lafs.WriteVector{Offset: s.Offsets.ShareData + g.blockOffset(first), Data: blocks})
	}
	return append(vs, lafs.WriteVector{Offset: s.Offsets.BlockHashTree, Data: s.marshalTail()}), nil
}

// marshalHead lays the share out and packs everything before its blocks.
func (s *Share) marshalHead() ([]byte, error) {
	if s.K < 1 || s.N < s.K || s.N > 255 {
		return nil, badShare("encoding parameters k=%d n=%d", s.K, s.N)
	}
	g, err := s.geometry()
	if err != nil {
		return nil, err
	}
	if len(s.Blocks) != g.numSegments || (g.saltSize > 0 && len(s.Salts) != g.numSegments) {
		return nil, badShare("%d blocks and %d salts for %d segments", len(s.Blocks), len(s.Salts), g.numSegments)
	}
	if len(s.BlockHashTree) != hashtree.Size(g.numSegments) {
		return nil, badShare("block hash tree of %d hashes for %d segments", len(s.BlockHashTree), g.numSegments)
	}
	for i := range s.ShareHashChain {
		if i < 0 || i > 0xffff {
			return nil, badShare("share hash chain index %d", i)
		}
	}
	chain := s.ShareHashChain.Marshal()
	if s.Version == MDMFVersion {
		s.Offsets, err = s.layOutMDMF(g, len(chain))
	} else {
		s.Offsets, err = s.layOutSDMF(g, len(chain))
	}
	if err != nil {
		return nil, err
	}
	if s.Version == MDMFVersion {
		return s.mdmfHead(chain), nil
	}
	return s.sdmfHead(chain), nil
}

// marshalTail packs what follows the blocks: SDMF's encrypted private
// key, MDMF's block hash tree.
func (s *Share) marshalTail() []byte {
	if s.Version == MDMFVersion {
		return marshalHashes(s.BlockHashTree)
	}
	return append([]byte(nil), s.EncPrivKey...)
}

func (s *Share) checkBlock(g geometry, i int) error {
	if uint64(len(s.Blocks[i])) != g.blockLen(i) {
		return badShare("block %d is %d bytes, want %d", i, len(s.Blocks[i]), g.blockLen(i))
	}
	return nil
}

// ParseShare parses whole share data. Bytes after the EOF offset are
// ignored (Tahoe leaves them when a share shrinks). The Share's byte
// slices alias b.
func ParseShare(b []byte) (*Share, error) {
	h, err := ParseHeader(b)
	if err != nil {
		return nil, err
	}
	if uint64(len(b)) < h.Offsets.EOF {
		return nil, badShare("share is %d bytes, its offsets say %d", len(b), h.Offsets.EOF)
	}
	s := &Share{Header: *h}
	s.VerificationKey = slice(b, h.VerificationKeyRange())
	s.Signature = slice(b, h.SignatureRange())
	s.EncPrivKey = slice(b, h.EncPrivKeyRange())
	if s.ShareHashChain, err = ParseHashChain(slice(b, h.ShareHashChainRange())); err != nil {
		return nil, err
	}
	if s.BlockHashTree, err = parseHashes(slice(b, h.BlockHashTreeRange())); err != nil {
		return nil, err
	}
	g, _ := h.geometry()
	s.Blocks = make([][]byte, g.numSegments)
	if g.saltSize > 0 {
		s.Salts = make([][SaltSize]byte, g.numSegments)
	}
	for i := range s.Blocks {
		blk := slice(b, h.BlockRange(i))
		if g.saltSize > 0 {
			s.Salts[i] = [SaltSize]byte(blk)
			blk = blk[SaltSize:]
		}
		s.Blocks[i] = blk
	}
	return s, nil
}

// SegmentSalt is the salt that keys segment seg: the file's one salt for
// SDMF, the segment's own for MDMF.
func (s *Share) SegmentSalt(seg int) [SaltSize]byte {
	if s.Version == MDMFVersion {
		return s.Salts[seg]
	}
	return s.Salt
}

// blockHash is the block hash tree leaf of a block: block_hash(block) for
// SDMF, block_hash(salt || block) for MDMF.
func blockHash(version byte, salt [SaltSize]byte, block []byte) crypt.Hash {
	if version == MDMFVersion {
		h := crypt.NewTaggedHasher(crypt.TagBlock)
		h.Write(salt[:])
		h.Write(block)
		return crypt.Hash(h.Sum(nil))
	}
	return crypt.BlockHash(block)
}

// HashChain is a share hash chain: the share hash tree nodes, by index,
// that prove one share's block-tree root against the root hash. Tahoe's
// mutable chains leave out the share's own leaf.
type HashChain map[int]crypt.Hash

// Marshal serialises the chain as Tahoe does: ">H32s" entries sorted by index.
func (c HashChain) Marshal() []byte {
	out := make([]byte, 0, len(c)*chainEntrySize)
	for _, i := range slices.Sorted(maps.Keys(c)) {
		h := c[i]
		out = binary.BigEndian.AppendUint16(out, uint16(i))
		out = append(out, h[:]...)
	}
	return out
}

// ParseHashChain reads a serialised chain; a repeated index keeps the last
// hash, as Python's dict() does.
func ParseHashChain(b []byte) (HashChain, error) {
	if len(b)%chainEntrySize != 0 {
		return nil, badShare("share hash chain of %d bytes", len(b))
	}
	c := make(HashChain, len(b)/chainEntrySize)
	for ; len(b) > 0; b = b[chainEntrySize:] {
		c[int(binary.BigEndian.Uint16(b))] = crypt.Hash(b[2:chainEntrySize])
	}
	return c, nil
}

// parseHashes splits a block hash tree into its hashes.
func parseHashes(b []byte) ([]crypt.Hash, error) {
	if len(b)%hashSize != 0 {
		return nil, badShare("block hash tree of %d bytes", len(b))
	}
	out := make([]crypt.Hash, len(b)/hashSize)
	for i := range out {
		out[i] = crypt.Hash(b[i*hashSize:])
	}
	return out, nil
}

func marshalHashes(hs []crypt.Hash) []byte {
	out := make([]byte, 0, len(hs)*hashSize)
	for _, h := range hs {
		out = append(out, h[:]...)
	}
	return out
}
