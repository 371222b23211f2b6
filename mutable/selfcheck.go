package mutable

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/crypt"
)

// SelfCheck checks that the data of mutable share shnum (the bytes a
// storage server's ReadMutable serves, not its container) is consistent
// with itself: what a storage server can check without the cap, after a
// client reported the share corrupt.
//
// It parses the header (every offset against the segment geometry),
// verifies the RSA signature over the signed prefix with the verification
// key the share carries, checks the block hash tree node by node and its
// root, through the share hash chain at leaf shnum, against the signed
// root hash, and every block (MDMF: with its salt) against its leaf. It
// cannot check that the key is the one the file's cap names, nor the
// encrypted private key, nor the plaintext: a share someone re-signed with
// a key of their own passes. It is no stricter than a download, so that a
// good share never fails it.
//
// A nil error means the share is consistent; an error wrapping
// ErrBadShare says what is wrong. A share of a plausible future format
// (its version byte just above MDMF's) cannot be judged: the error then
// wraps ErrIncompatible, and not ErrBadShare, so that a server keeps it.
func SelfCheck(shnum lafs.ShareNum, share []byte) error {
	return SelfCheckAt(shnum, bytes.NewReader(share), int64(len(share)))
}

// SelfCheckAt is SelfCheck of a share of size bytes read from r, a block
// at a time, so that a large share need not fit in memory. An error of r
// is returned wrapped, not as ErrBadShare.
func SelfCheckAt(shnum lafs.ShareNum, r io.ReaderAt, size int64) error {
	c := &selfChecker{r: r, size: size}
	err := c.check(shnum)
	if c.readErr != nil {
		return fmt.Errorf("reading share %d: %w", shnum, c.readErr)
	}
	return err
}

// selfChecker reads the share under check, telling a share too short for
// what its header says (bad) from a failing reader (not).
type selfChecker struct {
	r       io.ReaderAt
	size    int64
	readErr error
}

// read returns the bytes of rg, or an error wrapping ErrBadShare when the
// share ends before them.
func (c *selfChecker) read(rg Range) ([]byte, error) {
	if rg.End < rg.Begin || rg.End > uint64(max(c.size, 0)) {
		return nil, badShare("share of %d bytes is too short for bytes %d-%d", c.size, rg.Begin, rg.End)
	}
	b := make([]byte, rg.Len())
	n, err := c.r.ReadAt(b, int64(rg.Begin))
	if n == len(b) {
		return b, nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	c.readErr = err
	return nil, err
}

func (c *selfChecker) check(shnum lafs.ShareNum) error {
	head, err := c.read(Range{0, min(HeaderSize, uint64(max(c.size, 0)))})
	if err != nil {
		return err
	}
	if futureVersion(head) {
		return fmt.Errorf("share %d: %w (version %d)", shnum, ErrIncompatible, head[0])
	}
	h, err := ParseHeader(head)
	if err != nil {
		return err
	}
	if int(shnum) >= h.N {
		return badShare("share number %d with N=%d", shnum, h.N)
	}
	if h.Offsets.EOF > uint64(c.size) {
		return badShare("share is %d bytes, its offsets say %d", c.size, h.Offsets.EOF)
	}
	vk, err := c.read(h.VerificationKeyRange())
	if err != nil {
		return err
	}
	sig, err := c.read(h.SignatureRange())
	if err != nil {
		return err
	}
	pub, err := crypt.ParseRSAPublicKey(vk)
	if err != nil {
		return badShare("verification key: %v", err)
	}
	if err := verify(pub, h.Signable(), sig); err != nil {
		return err
	}
	cb, err := c.read(h.ShareHashChainRange())
	if err != nil {
		return err
	}
	chain, err := ParseHashChain(cb)
	if err != nil {
		return err
	}
	tb, err := c.read(h.BlockHashTreeRange())
	if err != nil {
		return err
	}
	tree, err := parseHashes(tb)
	if err != nil {
		return err
	}
	if err := verifyTrees(h, int(shnum), chain, tree); err != nil {
		return err
	}
	p := (len(tree) + 1) / 2
	g, _ := h.geometry()
	for seg := range g.numSegments {
		blk, err := c.read(h.BlockRange(seg))
		if err != nil {
			return err
		}
		salt := h.Salt
		if g.saltSize > 0 {
			salt = [SaltSize]byte(blk)
			blk = blk[SaltSize:]
		}
		if blockHash(h.Version, salt, blk) != tree[p-1+seg] {
			return badShare("block %d does not match its hash", seg)
		}
	}
	return nil
}
