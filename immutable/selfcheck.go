package immutable

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/crypt"
	"github.com/lafs/lafs/hashtree"
)

// SelfCheck checks that the data of share shnum of a CHK file (the bytes a
// storage server's ReadImmutable serves, not its container) is consistent
// with itself. It is what a storage server can check without the cap,
// after a client reported the share corrupt.
//
// It parses the offset table and the URI extension block and checks the
// layout against the UEB's geometry; checks the crypttext hash tree against
// the UEB's crypttext root; checks every block against the block hash tree
// and that tree, through the share hash chain at leaf shnum, against the
// UEB's share root hash. It cannot check the UEB against the cap's UEB
// hash, nor the crypttext against its hashes (that needs k shares): a
// share made whole by someone who rewrote its UEB passes, as it would
// pass any check a server can make. It is no stricter than a download,
// so that a good share never fails it.
//
// A nil error means the share is consistent; an error wrapping ErrCorrupt
// says what is wrong.
func SelfCheck(shnum lafs.ShareNum, share []byte) error {
	return SelfCheckAt(shnum, bytes.NewReader(share), int64(len(share)))
}

// SelfCheckAt is SelfCheck of a share of size bytes read from r, a block
// at a time, so that a large share need not fit in memory. An error of r
// is returned wrapped, not as ErrCorrupt.
func SelfCheckAt(shnum lafs.ShareNum, r io.ReaderAt, size int64) error {
	c := &selfChecker{r: r, size: size}
	err := c.check(shnum)
	if c.readErr != nil {
		return fmt.Errorf("reading share %d: %w", shnum, c.readErr)
	}
	return err
}

// selfChecker reads the share under check, telling a share too short for
// what its header says (corrupt) from a failing reader (not).
type selfChecker struct {
	r       io.ReaderAt
	size    int64
	readErr error
}

// read returns the n bytes at off, or an error wrapping ErrCorrupt when
// the share ends before them.
func (c *selfChecker) read(off, n uint64) ([]byte, error) {
	if off > uint64(c.size) || n > uint64(c.size)-off {
		return nil, fmt.Errorf("%w: share of %d bytes is too short for %d bytes at %d", ErrCorrupt, c.size, n, off)
	}
	b := make([]byte, n)
	got, err := c.r.ReadAt(b, int64(off))
	if got == len(b) {
		return b, nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	c.readErr = err
	return nil, err
}

func (c *selfChecker) check(shnum lafs.ShareNum) error {
	head, err := c.read(0, min(MaxHeaderLen, uint64(max(c.size, 0))))
	if err != nil {
		return err
	}
	lay, err := ParseLayout(head)
	if err != nil {
		return err
	}
	lenField := lay.lenFieldSize()
	lb, err := c.read(lay.URIExtension, lenField)
	if err != nil {
		return fmt.Errorf("URI extension block length: %w", err)
	}
	var uebLen uint64
	if lenField == 4 {
		uebLen = uint64(binary.BigEndian.Uint32(lb))
	} else {
		uebLen = binary.BigEndian.Uint64(lb)
	}
	if uebLen > maxUEBLen {
		return fmt.Errorf("%w: URI extension block of %d bytes", ErrCorrupt, uebLen)
	}
	uebBytes, err := c.read(lay.URIExtension+lenField, uebLen)
	if err != nil {
		return fmt.Errorf("URI extension block: %w", err)
	}
	ueb, err := ParseUEB(uebBytes)
	if err != nil {
		return err
	}
	if int(shnum) >= ueb.N {
		return fmt.Errorf("%w: share number %d of a file of %d shares", ErrCorrupt, shnum, ueb.N)
	}
	g := ueb.Geometry()
	if err := lay.check(g); err != nil {
		return err
	}
	trees, err := c.read(lay.CrypttextHashTree, lay.URIExtension-lay.CrypttextHashTree)
	if err != nil {
		return fmt.Errorf("hash trees: %w", err)
	}
	treeLen := lay.BlockHashes - lay.CrypttextHashTree
	ct, err := checkTree(trees[:treeLen], g.NumSegments)
	if err != nil {
		return fmt.Errorf("crypttext hash tree: %w", err)
	}
	if ct.Root() != ueb.CrypttextRootHash {
		return fmt.Errorf("%w: crypttext hash tree root does not match the UEB", ErrCorrupt)
	}
	bt, err := checkTree(trees[treeLen:2*treeLen], g.NumSegments)
	if err != nil {
		return fmt.Errorf("block hash tree: %w", err)
	}
	chain, err := parseShareHashes(trees[2*treeLen:])
	if err != nil {
		return err
	}
	st := hashtree.NewIncomplete(g.N)
	if err := st.SetHashes(map[int]hashtree.Hash{0: ueb.ShareRootHash}, nil); err != nil {
		return fmt.Errorf("%w: share hash tree: %v", ErrCorrupt, err)
	}
	delete(chain, 0)
	if err := st.SetHashes(chain, map[int]hashtree.Hash{int(shnum): bt.Root()}); err != nil {
		return fmt.Errorf("%w: share hash chain: %v", ErrCorrupt, err)
	}
	leaves := bt[len(bt)-bt.NumLeaves():]
	for i := range g.NumSegments {
		off := lay.Data + uint64(i)*uint64(g.BlockSize)
		b, err := c.read(off, uint64(g.BlockLen(i)))
		if err != nil {
			return fmt.Errorf("block %d: %w", i, err)
		}
		if crypt.BlockHash(b) != leaves[i] {
			return fmt.Errorf("%w: block %d fails its hash", ErrCorrupt, i)
		}
	}
	return nil
}
