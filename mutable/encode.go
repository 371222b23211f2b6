package mutable

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"io"
	"runtime"
	"sync"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/crypt"
	"github.com/lafs/lafs/hashtree"
	"github.com/lafs/lafs/zfec"
)

// DefaultSegmentSize is Tahoe's maximum MDMF segment size
// (DEFAULT_MUTABLE_MAX_SEGMENT_SIZE, 128 KiB), rounded up to a multiple of
// k for each file.
const DefaultSegmentSize = 128 << 10

// pssOptions are the signature parameters of every Tahoe mutable file:
// RSA-PSS with SHA-256 and MGF1-SHA-256, salt length 32 (crypto/rsa.py).
var pssOptions = &rsa.PSSOptions{SaltLength: 32, Hash: crypto.SHA256}

// sign signs a signed prefix; rnd supplies the 32 bytes of PSS salt.
func sign(priv *rsa.PrivateKey, signable []byte, rnd io.Reader) ([]byte, error) {
	d := sha256.Sum256(signable)
	return rsa.SignPSS(rnd, priv, crypto.SHA256, d[:], pssOptions)
}

// verify checks a signature over a signed prefix.
func verify(pub *rsa.PublicKey, signable, sig []byte) error {
	d := sha256.Sum256(signable)
	if err := rsa.VerifyPSS(pub, crypto.SHA256, d[:], sig, pssOptions); err != nil {
		return badShare("signature does not verify")
	}
	return nil
}

// newHeader is the header of a new version of len(plaintext) bytes, its
// root hash still unknown. segsize is MDMF's maximum segment size.
func newHeader(version byte, seqnum uint64, k, n int, segsize int, datalen uint64) (Header, error) {
	if k < 1 || n < k || n > 255 {
		return Header{}, fmt.Errorf("%w: k=%d n=%d (mutable files need 1 <= k <= n <= 255)", lafs.ErrBadParams, k, n)
	}
	h := Header{Version: version, Seqnum: seqnum, K: k, N: n, DataLength: datalen}
	if version == MDMFVersion {
		if segsize < 1 {
			return Header{}, fmt.Errorf("%w: segment size %d", lafs.ErrBadParams, segsize)
		}
		h.SegmentSize = nextMultiple(uint64(segsize), uint64(k))
	} else {
		h.SegmentSize = nextMultiple(datalen, uint64(k)) // SDMF: one segment
	}
	return h, nil
}

func nextMultiple(n, k uint64) uint64 { return (n + k - 1) / k * k }

// segments is the encoded form of some segments of a version.
type segments struct {
	salts  map[int][SaltSize]byte
	blocks map[int][][]byte // segment -> block of each share
	leaves map[int][]crypt.Hash
}

// encodeSegments encrypts and erasure-codes segments first..last of the
// plaintext of the version h describes: segment i is
// plaintext[i*segsize:...], at most segsize bytes. Fresh salts come from
// rnd, in segment order, before any work is done (SDMF uses h.Salt).
func encodeSegments(h *Header, readKey [16]byte, plaintext func(seg int) []byte, first, last int, rnd io.Reader) (*segments, error) {
	g, err := h.geometry()
	if err != nil {
		return nil, err
	}
	codec, err := zfec.New(h.K, h.N)
	if err != nil {
		return nil, err
	}
	out := &segments{salts: map[int][SaltSize]byte{}, blocks: map[int][][]byte{}, leaves: map[int][]crypt.Hash{}}
	for i := first; i <= last; i++ {
		salt := h.Salt
		if h.Version == MDMFVersion {
			if _, err := io.ReadFull(rnd, salt[:]); err != nil {
				return nil, fmt.Errorf("salt: %w", err)
			}
		}
		out.salts[i] = salt
	}
	var mu sync.Mutex
	var firstErr error
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), last-first+1) {
		wg.Go(func() {
			for i := range work {
				blocks, leaves, err := encodeSegment(h, g, codec, readKey, out.salts[i], plaintext(i), i)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				out.blocks[i], out.leaves[i] = blocks, leaves
				mu.Unlock()
			}
		})
	}
	for i := first; i <= last; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	return out, firstErr
}

// encodeSegment encrypts one segment under its salt, pads it to k equal
// pieces, computes the N blocks and their block-hash-tree leaves.
func encodeSegment(h *Header, g geometry, codec *zfec.Codec, readKey [16]byte, salt [SaltSize]byte, pt []byte, seg int) ([][]byte, []crypt.Hash, error) {
	if uint64(len(pt)) != g.segmentLen(seg) {
		return nil, nil, fmt.Errorf("mutable: segment %d has %d bytes, want %d", seg, len(pt), g.segmentLen(seg))
	}
	bs := int(g.blockLen(seg))
	buf := make([]byte, h.N*bs)
	copy(buf, pt)
	key := crypt.SSKDataKey(salt[:], readKey[:])
	if err := crypt.XORCTR(key[:], buf[:len(pt)]); err != nil {
		return nil, nil, err
	}
	blocks := make([][]byte, h.N)
	for i := range blocks {
		blocks[i] = buf[i*bs : (i+1)*bs : (i+1)*bs]
	}
	if err := codec.Encode(blocks[:h.K], blocks[h.K:]); err != nil {
		return nil, nil, err
	}
	leaves := make([]crypt.Hash, h.N)
	for i, b := range blocks {
		leaves[i] = blockHash(h.Version, salt, b)
	}
	return blocks, leaves, nil
}

// finishShares builds the N shares of a version from the block-hash-tree
// leaves of every share (leaves[shnum][seg]): block hash trees, share hash
// tree, root hash, chains and signature (whose PSS salt comes from rnd).
// Blocks and salts are taken from segs where it has them; an in-place
// update leaves the others nil.
func finishShares(h Header, keys *Keys, leaves [][]crypt.Hash, segs *segments, rnd io.Reader) ([]*Share, error) {
	g, err := h.geometry()
	if err != nil {
		return nil, err
	}
	bhts := make([]hashtree.Tree, h.N)
	roots := make([]crypt.Hash, h.N)
	for sh := range bhts {
		if len(leaves[sh]) != g.numSegments {
			return nil, fmt.Errorf("mutable: share %d has %d leaves for %d segments", sh, len(leaves[sh]), g.numSegments)
		}
		bhts[sh] = hashtree.New(leaves[sh])
		roots[sh] = bhts[sh].Root()
	}
	st := hashtree.New(roots)
	h.RootHash = st.Root()
	sig, err := sign(keys.Private, h.Signable(), rnd)
	if err != nil {
		return nil, fmt.Errorf("mutable: signing: %w", err)
	}
	enc := keys.EncryptedPrivateKey()
	shares := make([]*Share, h.N)
	for sh := range shares {
		s := &Share{Header: h, VerificationKey: keys.PublicDER, Signature: sig, EncPrivKey: enc,
			BlockHashTree: bhts[sh], ShareHashChain: HashChain{}, Blocks: make([][]byte, g.numSegments)}
		for _, i := range st.NeededHashes(sh, false) {
			s.ShareHashChain[i] = st[i]
		}
		if h.Version == MDMFVersion {
			s.Salts = make([][SaltSize]byte, g.numSegments)
		}
		for seg, blocks := range segs.blocks {
			s.Blocks[seg] = blocks[sh]
			if s.Salts != nil {
				s.Salts[seg] = segs.salts[seg]
			}
		}
		shares[sh] = s
	}
	return shares, nil
}

// encodeVersion encodes a whole new version of a file: every segment,
// every share. rnd supplies the salts, then the PSS salt (crypto/rand if
// nil).
func encodeVersion(keys *Keys, version byte, seqnum uint64, k, n, segsize int, plaintext []byte, rnd io.Reader) ([]*Share, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	h, err := newHeader(version, seqnum, k, n, segsize, uint64(len(plaintext)))
	if err != nil {
		return nil, err
	}
	if version == SDMFVersion {
		// One salt for the file, even an empty one (Tahoe's _add_dummy_salts).
		if _, err := io.ReadFull(rnd, h.Salt[:]); err != nil {
			return nil, fmt.Errorf("salt: %w", err)
		}
	}
	g, err := h.geometry()
	if err != nil {
		return nil, err
	}
	seg := func(i int) []byte {
		off := uint64(i) * g.segmentSize
		return plaintext[off : off+g.segmentLen(i)]
	}
	segs, err := encodeSegments(&h, keys.ReadKey, seg, 0, g.numSegments-1, rnd)
	if err != nil {
		return nil, err
	}
	leaves := make([][]crypt.Hash, n)
	for sh := range leaves {
		leaves[sh] = make([]crypt.Hash, g.numSegments)
		for i := range leaves[sh] {
			leaves[sh][i] = segs.leaves[i][sh]
		}
	}
	return finishShares(h, keys, leaves, segs, rnd)
}
