package mutable

import (
	"errors"
	"fmt"

	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/crypt"
	"github.com/lafs/lafs/hashtree"
)

// Share format versions: the first byte of every mutable share.
const (
	SDMFVersion = 0 // one segment (Tahoe's SDMF_VERSION)
	MDMFVersion = 1 // many segments, each with its own salt (MDMF_VERSION)
)

// Sizes of the fixed parts of the two layouts (mutable/layout.py).
const (
	SaltSize = 16 // an SDMF IV or an MDMF segment salt
	hashSize = 32

	sdmfSignedSize      = 75  // ">BQ32s16s BBQQ"
	sdmfCheckstringSize = 57  // ">BQ32s16s"
	sdmfHeaderSize      = 107 // signed prefix + ">LLLLQQ"
	mdmfSignedSize      = 59  // ">BQ32sBBQQ"
	mdmfCheckstringSize = 41  // ">BQ32s"
	mdmfHeaderSize      = 123 // signed prefix + ">QQQQQQQQ"

	// HeaderSize is enough bytes to parse the header of either format.
	HeaderSize = mdmfHeaderSize

	chainEntrySize = 2 + hashSize // ">H32s"

	// MDMF reserves room for these between its header and its share data,
	// so that the share data can be written before their sizes are known.
	mdmfPrivateKeyRoom      = 1220
	mdmfSignatureRoom       = 260
	mdmfVerificationKeyRoom = 292
	mdmfShareHashChainRoom  = chainEntrySize * 8 // log2(256) entries
	mdmfShareDataOffset     = mdmfHeaderSize + mdmfPrivateKeyRoom + mdmfSignatureRoom +
		mdmfVerificationKeyRoom + mdmfShareHashChainRoom // 2167

	// maxOffset bounds every offset and length a header may state, far
	// above any share a server stores, so that arithmetic cannot overflow.
	maxOffset = 1 << 56
	// maxSegments bounds the segment count a header may imply.
	maxSegments = 1 << 32

	// The parts of a share whose lengths only the (unsigned) offsets
	// state are bounded, so that a hostile header cannot make a reader ask
	// for more: far above what Tahoe's RSA-2048 keys need (a 294-byte
	// verification key, a 256-byte signature, an encrypted private key of
	// about 1220 bytes), enough for RSA keys of 16384 bits and more.
	maxVerificationKeyBytes = 16 << 10
	maxSignatureBytes       = 8 << 10
	maxPrivKeyBytes         = 64 << 10

	// maxFutureVersion is the highest share version a future format may
	// plausibly have: a share whose version byte is above MDMFVersion and
	// at most this is taken for a format this client does not know
	// (ErrIncompatible) rather than for garbage.
	maxFutureVersion = 7
)

// ErrBadShare is wrapped by every error about malformed or unverifiable
// share data: a layout that does not parse, a hash or signature that does
// not verify. Another share can be used instead.
var ErrBadShare = errors.New("bad mutable share")

// ErrIncompatible is wrapped by the errors about a share of a format this
// client does not know: its version byte is not SDMF's or MDMF's but a
// plausible future one (2 to 7). Such a share may be good, perhaps a newer
// version written by a newer client, so a checker lists it as
// incompatible rather than corrupt, does not report it to its server and
// does not repair over it. ParseHeader's error for it wraps ErrBadShare
// as well (it cannot be read here); SelfCheck's wraps only
// ErrIncompatible, so that a storage server keeps the share.
var ErrIncompatible = errors.New("mutable share of a format this client does not know")

func badShare(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadShare, fmt.Sprintf(format, args...))
}

// Header is the start of a mutable share: the signed prefix (version,
// sequence number, share-tree root hash, SDMF salt, encoding parameters and
// lengths) and the offsets of the share's parts.
type Header struct {
	Version     byte // SDMFVersion or MDMFVersion
	Seqnum      uint64
	RootHash    crypt.Hash // root of the share hash tree
	Salt        [SaltSize]byte
	K, N        int // 1 <= K <= N <= 255
	SegmentSize uint64
	DataLength  uint64
	Offsets     Offsets
}

// Offsets locate the parts of a share; both formats have them all, though
// in a different order. For SDMF the verification key starts right after
// the header and ends at the signature.
type Offsets struct {
	EncPrivKey         uint64
	ShareHashChain     uint64
	Signature          uint64
	VerificationKey    uint64
	VerificationKeyEnd uint64
	ShareData          uint64
	BlockHashTree      uint64
	EOF                uint64
}

// Range is a half-open byte range [Begin, End) of a share.
type Range struct{ Begin, End uint64 }

// Len is the number of bytes in r.
func (r Range) Len() uint64 { return r.End - r.Begin }

// Format is the cap format the share's version byte stands for.
func (h *Header) Format() cap.Format {
	if h.Version == MDMFVersion {
		return cap.MDMF
	}
	return cap.SDMF
}

// ParseHeader parses the header at the start of share data: HeaderSize
// bytes are always enough (an SDMF header needs only 107). It checks that
// the parameters make sense and that the offsets are in order and agree
// with the segment geometry, so that every Range it reports is sound.
func ParseHeader(b []byte) (*Header, error) {
	if len(b) == 0 {
		return nil, badShare("empty share")
	}
	var h *Header
	var err error
	switch b[0] {
	case SDMFVersion:
		h, err = parseSDMFHeader(b)
	case MDMFVersion:
		h, err = parseMDMFHeader(b)
	default:
		if futureVersion(b) {
			return nil, fmt.Errorf("%w: %w (version %d)", ErrBadShare, ErrIncompatible, b[0])
		}
		return nil, badShare("unknown share version %d", b[0])
	}
	if err != nil {
		return nil, err
	}
	if err := h.check(); err != nil {
		return nil, err
	}
	return h, nil
}

// futureVersion reports whether b, the start of a share, looks like a
// share of a future format: a version byte just above the known ones, and
// at least a header's worth of bytes.
func futureVersion(b []byte) bool {
	return len(b) >= HeaderSize && b[0] > MDMFVersion && b[0] <= maxFutureVersion
}

// Signable returns the signed prefix, the bytes the RSA signature covers.
func (h *Header) Signable() []byte {
	if h.Version == MDMFVersion {
		return h.mdmfPrefix()[:mdmfSignedSize]
	}
	return h.sdmfPrefix()
}

// Checkstring returns the leading bytes that test-and-set writes compare:
// version, sequence number, root hash and (SDMF) salt.
func (h *Header) Checkstring() []byte {
	if h.Version == MDMFVersion {
		return h.Signable()[:mdmfCheckstringSize]
	}
	return h.Signable()[:sdmfCheckstringSize]
}

// Marshal returns the header bytes, offsets included.
func (h *Header) Marshal() []byte {
	if h.Version == MDMFVersion {
		return h.marshalMDMF()
	}
	return h.marshalSDMF()
}

// NumSegments is the number of segments: 0 for an empty file, 1 for any
// other SDMF file.
func (h *Header) NumSegments() int {
	g, err := h.geometry()
	if err != nil {
		return 0
	}
	return g.numSegments
}

// The parts of a share, as byte ranges of the share data.

// VerificationKeyRange is where the RSA public key (SPKI DER) lies.
func (h *Header) VerificationKeyRange() Range {
	return Range{h.Offsets.VerificationKey, h.Offsets.VerificationKeyEnd}
}

// SignatureRange is where the signature of the signed prefix lies.
func (h *Header) SignatureRange() Range {
	if h.Version == MDMFVersion {
		return Range{h.Offsets.Signature, h.Offsets.VerificationKey}
	}
	return Range{h.Offsets.Signature, h.Offsets.ShareHashChain}
}

// ShareHashChainRange is where the share hash chain lies.
func (h *Header) ShareHashChainRange() Range {
	if h.Version == MDMFVersion {
		return Range{h.Offsets.ShareHashChain, h.Offsets.Signature}
	}
	return Range{h.Offsets.ShareHashChain, h.Offsets.BlockHashTree}
}

// BlockHashTreeRange is where the block hash tree (full flat array) lies.
func (h *Header) BlockHashTreeRange() Range {
	if h.Version == MDMFVersion {
		return Range{h.Offsets.BlockHashTree, h.Offsets.EOF}
	}
	return Range{h.Offsets.BlockHashTree, h.Offsets.ShareData}
}

// EncPrivKeyRange is where the encrypted RSA private key lies.
func (h *Header) EncPrivKeyRange() Range {
	if h.Version == MDMFVersion {
		return Range{h.Offsets.EncPrivKey, h.Offsets.ShareHashChain}
	}
	return Range{h.Offsets.EncPrivKey, h.Offsets.EOF}
}

// ShareDataRange is where the blocks (MDMF: each after its salt) lie.
func (h *Header) ShareDataRange() Range {
	if h.Version == MDMFVersion {
		return Range{h.Offsets.ShareData, h.Offsets.BlockHashTree}
	}
	return Range{h.Offsets.ShareData, h.Offsets.EncPrivKey}
}

// BlockRange is where segment seg's block lies, its salt first for MDMF.
// seg must be below NumSegments.
func (h *Header) BlockRange(seg int) Range {
	g, _ := h.geometry()
	begin := h.Offsets.ShareData + g.blockOffset(seg)
	return Range{begin, begin + g.saltSize + g.blockLen(seg)}
}

// check validates parameters and offsets. The format-specific parsers have
// already checked their own offset order.
func (h *Header) check() error {
	if h.K < 1 || h.N < h.K {
		return badShare("encoding parameters k=%d n=%d", h.K, h.N)
	}
	g, err := h.geometry()
	if err != nil {
		return err
	}
	o := h.Offsets
	if o.EOF > maxOffset {
		return badShare("share claims %d bytes", o.EOF)
	}
	if got := h.ShareDataRange().Len(); got != g.dataLen() {
		return badShare("share data is %d bytes, want %d for %d segments", got, g.dataLen(), g.numSegments)
	}
	if got, want := h.BlockHashTreeRange().Len(), uint64(hashSize*hashtree.Size(g.numSegments)); got != want {
		return badShare("block hash tree is %d bytes, want %d", got, want)
	}
	if h.ShareHashChainRange().Len()%chainEntrySize != 0 {
		return badShare("share hash chain of %d bytes", h.ShareHashChainRange().Len())
	}
	// A chain holds nodes of the share hash tree, which has no more.
	if n := h.ShareHashChainRange().Len() / chainEntrySize; n > uint64(hashtree.Size(h.N)) {
		return badShare("share hash chain of %d entries for %d shares", n, h.N)
	}
	if n := h.VerificationKeyRange().Len(); n > maxVerificationKeyBytes {
		return badShare("verification key of %d bytes", n)
	}
	if n := h.SignatureRange().Len(); n > maxSignatureBytes {
		return badShare("signature of %d bytes", n)
	}
	if n := h.EncPrivKeyRange().Len(); n > maxPrivKeyBytes {
		return badShare("encrypted private key of %d bytes", n)
	}
	return nil
}

// geometry is the segment and block arithmetic of one version.
type geometry struct {
	numSegments   int
	segmentSize   uint64 // plaintext bytes in every segment but the last
	tailDataSize  uint64 // plaintext bytes in the last segment
	blockSize     uint64 // bytes in each block of a full segment
	tailBlockSize uint64 // bytes in each block of the last segment
	saltSize      uint64 // 16 for MDMF (a salt before each block), 0 for SDMF
}

func newGeometry(version byte, k int, segsize, datalen uint64) (geometry, error) {
	g := geometry{segmentSize: segsize}
	if version == MDMFVersion {
		g.saltSize = SaltSize
	}
	if segsize > maxOffset || datalen > maxOffset {
		return g, badShare("segment size %d, data length %d", segsize, datalen)
	}
	if segsize%uint64(k) != 0 {
		return g, badShare("segment size %d is not a multiple of k=%d", segsize, k)
	}
	g.blockSize = segsize / uint64(k)
	if datalen == 0 {
		return g, nil
	}
	if segsize == 0 {
		return g, badShare("%d bytes in segments of 0", datalen)
	}
	n := (datalen + segsize - 1) / segsize
	if version == SDMFVersion && n != 1 {
		return g, badShare("SDMF data length %d exceeds segment size %d", datalen, segsize)
	}
	if n > maxSegments {
		return g, badShare("%d segments", n)
	}
	g.numSegments = int(n)
	g.tailDataSize = datalen - (n-1)*segsize
	g.tailBlockSize = (g.tailDataSize + uint64(k) - 1) / uint64(k)
	return g, nil
}

func (h *Header) geometry() (geometry, error) {
	return newGeometry(h.Version, h.K, h.SegmentSize, h.DataLength)
}

// blockLen is the length of segment seg's blocks (without salt).
func (g geometry) blockLen(seg int) uint64 {
	if seg == g.numSegments-1 {
		return g.tailBlockSize
	}
	return g.blockSize
}

// segmentLen is the plaintext length of segment seg.
func (g geometry) segmentLen(seg int) uint64 {
	if seg == g.numSegments-1 {
		return g.tailDataSize
	}
	return g.segmentSize
}

// blockOffset is where segment seg's salt and block start in the share data.
func (g geometry) blockOffset(seg int) uint64 {
	return uint64(seg) * (g.blockSize + g.saltSize)
}

// dataLen is the length of the share data region.
func (g geometry) dataLen() uint64 {
	if g.numSegments == 0 {
		return 0
	}
	return g.blockOffset(g.numSegments-1) + g.saltSize + g.tailBlockSize
}
