package immutable

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/crypt"
	"github.com/lafs/lafs/hashtree"
	"github.com/lafs/lafs/zfec"
)

// Share is one share of a CHK file as one server holds it.
type Share interface {
	// Num is the share number.
	Num() int
	// ReadAt returns up to n bytes of the share data at off; fewer only
	// at the end of the share. Implementations may be called concurrently.
	ReadAt(ctx context.Context, off uint64, n int) ([]byte, error)
}

// ErrNotEnoughShares means fewer than k good shares could be found.
var ErrNotEnoughShares = errors.New("not enough good shares")

// maxUEBLen bounds the URI extension block a share may declare.
const maxUEBLen = 1 << 16

// ShareError says which share failed and why.
type ShareError struct {
	Num int
	Err error
}

func (e *ShareError) Error() string { return fmt.Sprintf("share %d: %v", e.Num, e.Err) }
func (e *ShareError) Unwrap() error { return e.Err }

// activeShare is a share whose UEB, layout and hash trees have been checked.
type activeShare struct {
	share     Share
	layout    *Layout
	blockTree hashtree.Tree
}

// Reader reads a CHK file from its shares, checking every hash: the UEB
// against the cap, each share's block hash tree against the share hash tree
// root in the UEB, every block against its share's tree, and every decoded
// segment against the crypttext hash tree. A share that fails any check is
// dropped and another takes its place. A Reader is safe for concurrent use.
type Reader struct {
	cap   *cap.CHK
	geom  Geometry
	ueb   *UEB
	codec *zfec.Codec

	// BlockTimeout bounds each block read; a share whose server takes
	// longer is dropped for another (0: no limit beyond the caller's ctx).
	BlockTimeout time.Duration

	mu      sync.Mutex
	ctTree  hashtree.Tree  // verified crypttext hash tree
	active  []*activeShare // distinct share numbers, at most k in use
	spare   []Share        // candidates not yet opened
	failed  []error        // why shares were dropped
	opening bool
}

// NewReader prepares to read the file c from any k of shares (candidates
// may repeat share numbers, as when several servers hold the same share).
// It opens shares until it holds k good ones.
func NewReader(ctx context.Context, c *cap.CHK, shares []Share) (*Reader, error) {
	codec, err := zfec.New(c.K, c.N)
	if err != nil {
		return nil, fmt.Errorf("cap %s: %w", c, err)
	}
	r := &Reader{cap: c, codec: codec}
	// Primary shares first: decoding them is a copy, not a matrix inversion.
	r.spare = append(r.spare, shares...)
	sort.SliceStable(r.spare, func(i, j int) bool { return r.spare[i].Num() < r.spare[j].Num() })
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.fill(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

// Size is the file's size in bytes.
func (r *Reader) Size() int64 { return int64(r.cap.Size) }

// UEB is the file's verified URI extension block.
func (r *Reader) UEB() *UEB { return r.ueb }

// fill opens spare shares until k distinct good ones are active. r.mu held.
func (r *Reader) fill(ctx context.Context) error {
	for len(r.active) < r.cap.K {
		if len(r.spare) == 0 {
			return r.notEnough()
		}
		s := r.spare[0]
		r.spare = r.spare[1:]
		if s.Num() < 0 || s.Num() >= r.cap.N || r.hasActive(s.Num()) {
			continue
		}
		a, err := r.open(ctx, s)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			r.failed = append(r.failed, &ShareError{s.Num(), err})
			continue
		}
		r.active = append(r.active, a)
	}
	return nil
}

func (r *Reader) hasActive(n int) bool {
	for _, a := range r.active {
		if a.share.Num() == n {
			return true
		}
	}
	return false
}

func (r *Reader) notEnough() error {
	err := fmt.Errorf("%w: %d of %d (storage index %s)", ErrNotEnoughShares, len(r.active), r.cap.K, r.cap.StorageIndex())
	if len(r.failed) > 0 {
		return fmt.Errorf("%w; failures: %w", err, errors.Join(r.failed...))
	}
	return err
}

// drop removes a share that failed and records why. r.mu held.
func (r *Reader) drop(a *activeShare, err error) {
	for i, x := range r.active {
		if x == a {
			r.active = append(r.active[:i], r.active[i+1:]...)
			r.failed = append(r.failed, &ShareError{a.share.Num(), err})
			return
		}
	}
}

func readFull(ctx context.Context, s Share, off uint64, n int) ([]byte, error) {
	b, err := s.ReadAt(ctx, off, n)
	if err != nil {
		return nil, err
	}
	if len(b) != n {
		return nil, fmt.Errorf("%w: share truncated: read %d bytes at %d, want %d", ErrCorrupt, len(b), off, n)
	}
	return b, nil
}

// open reads and checks a share's header, UEB and hash trees. r.mu held.
func (r *Reader) open(ctx context.Context, s Share) (*activeShare, error) {
	head, err := s.ReadAt(ctx, 0, MaxHeaderLen)
	if err != nil {
		return nil, err
	}
	lay, err := ParseLayout(head)
	if err != nil {
		return nil, err
	}
	lenField := lay.lenFieldSize()
	lb, err := readFull(ctx, s, lay.URIExtension, int(lenField))
	if err != nil {
		return nil, err
	}
	var uebLen uint64
	if lenField == 4 {
		uebLen = uint64(binary.BigEndian.Uint32(lb))
	} else {
		uebLen = binary.BigEndian.Uint64(lb)
	}
	if uebLen > maxUEBLen {
		return nil, fmt.Errorf("%w: URI extension block of %d bytes", ErrCorrupt, uebLen)
	}
	uebBytes, err := readFull(ctx, s, lay.URIExtension+lenField, int(uebLen))
	if err != nil {
		return nil, err
	}
	if crypt.UEBHash(uebBytes) != r.cap.UEBHash {
		return nil, fmt.Errorf("%w: URI extension block does not match the cap's UEB hash", ErrCorrupt)
	}
	if r.ueb == nil {
		ueb, err := ParseUEB(uebBytes)
		if err != nil {
			return nil, err
		}
		if ueb.K != r.cap.K || ueb.N != r.cap.N || ueb.Size != r.cap.Size {
			// The hash matched, so the uploader itself wrote a UEB that
			// disagrees with the cap: nothing can be trusted.
			return nil, fmt.Errorf("URI extension block (k=%d n=%d size=%d) disagrees with the cap (k=%d n=%d size=%d)",
				ueb.K, ueb.N, ueb.Size, r.cap.K, r.cap.N, r.cap.Size)
		}
		r.ueb, r.geom = ueb, ueb.Geometry()
	}
	g := r.geom
	if err := lay.check(g); err != nil {
		return nil, err
	}
	// Crypttext tree, block tree and share hashes are contiguous.
	trees, err := readFull(ctx, s, lay.CrypttextHashTree, int(lay.URIExtension-lay.CrypttextHashTree))
	if err != nil {
		return nil, err
	}
	treeLen := int(lay.BlockHashes - lay.CrypttextHashTree)
	if r.ctTree == nil {
		ct, err := checkTree(trees[:treeLen], g.NumSegments)
		if err != nil {
			return nil, fmt.Errorf("crypttext hash tree: %w", err)
		}
		if ct.Root() != r.ueb.CrypttextRootHash {
			return nil, fmt.Errorf("%w: crypttext hash tree root does not match the UEB", ErrCorrupt)
		}
		r.ctTree = ct
	}
	bt, err := checkTree(trees[treeLen:2*treeLen], g.NumSegments)
	if err != nil {
		return nil, fmt.Errorf("block hash tree: %w", err)
	}
	chain, err := parseShareHashes(trees[2*treeLen:])
	if err != nil {
		return nil, err
	}
	st := hashtree.NewIncomplete(g.N)
	if err := st.SetHashes(map[int]hashtree.Hash{0: r.ueb.ShareRootHash}, nil); err != nil {
		return nil, err
	}
	delete(chain, 0)
	if err := st.SetHashes(chain, map[int]hashtree.Hash{s.Num(): bt.Root()}); err != nil {
		return nil, fmt.Errorf("%w: share hash chain: %v", ErrCorrupt, err)
	}
	return &activeShare{share: s, layout: lay, blockTree: bt}, nil
}

// checkTree parses a stored flat hash tree of numLeaves leaves and checks
// that every interior node and padding leaf is what the leaves imply.
func checkTree(b []byte, numLeaves int) (hashtree.Tree, error) {
	if len(b) != 32*hashtree.Size(numLeaves) {
		return nil, fmt.Errorf("%w: %d bytes for %d leaves", ErrCorrupt, len(b), numLeaves)
	}
	stored := make(hashtree.Tree, len(b)/32)
	for i := range stored {
		copy(stored[i][:], b[32*i:])
	}
	first := len(stored) - stored.NumLeaves()
	built := hashtree.New(stored[first : first+numLeaves])
	for i := range built {
		if built[i] != stored[i] {
			return nil, fmt.Errorf("%w: hash tree node %d is wrong", ErrCorrupt, i)
		}
	}
	return built, nil
}

// Segment returns the plaintext of segment i, fetching blocks from k shares
// in parallel and replacing any share that fails or lies.
func (r *Reader) Segment(ctx context.Context, i int) ([]byte, error) {
	g := r.geom
	if i < 0 || i >= g.NumSegments {
		return nil, fmt.Errorf("segment %d out of range (file has %d)", i, g.NumSegments)
	}
	bl := g.BlockLen(i)
	for {
		r.mu.Lock()
		if err := r.fill(ctx); err != nil {
			r.mu.Unlock()
			return nil, fmt.Errorf("segment %d of %d: %w", i, g.NumSegments, err)
		}
		use := append([]*activeShare(nil), r.active[:g.K]...)
		r.mu.Unlock()

		blocks := make([][]byte, g.K)
		nums := make([]int, g.K)
		errs := make([]error, g.K)
		var wg sync.WaitGroup
		for x, a := range use {
			wg.Add(1)
			go func() {
				defer wg.Done()
				nums[x] = a.share.Num()
				off := a.layout.Data + uint64(i)*uint64(g.BlockSize)
				bctx := ctx
				if r.BlockTimeout > 0 {
					var cancel context.CancelFunc
					bctx, cancel = context.WithTimeout(ctx, r.BlockTimeout)
					defer cancel()
				}
				b, err := readFull(bctx, a.share, off, bl)
				if err == nil && crypt.BlockHash(b) != a.blockTree[len(a.blockTree)-a.blockTree.NumLeaves()+i] {
					err = fmt.Errorf("%w: block %d fails its hash", ErrCorrupt, i)
				}
				blocks[x], errs[x] = b, err
			}()
		}
		wg.Wait()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		bad := false
		r.mu.Lock()
		for x, err := range errs {
			if err != nil {
				r.drop(use[x], err)
				bad = true
			}
		}
		r.mu.Unlock()
		if bad {
			continue
		}
		data, err := r.codec.Decode(blocks, nums)
		if err != nil {
			return nil, fmt.Errorf("decoding segment %d: %w", i, err)
		}
		seg := make([]byte, 0, g.K*bl)
		for _, d := range data {
			seg = append(seg, d...)
		}
		seg = seg[:g.SegmentLen(i)]
		if crypt.CrypttextSegmentHash(seg) != r.ctTree[len(r.ctTree)-r.ctTree.NumLeaves()+i] {
			return nil, fmt.Errorf("%w: segment %d decodes to ciphertext that fails its hash", ErrCorrupt, i)
		}
		stream, err := crypt.NewCTRAt(r.cap.Key[:], int64(i)*int64(g.SegmentSize))
		if err != nil {
			return nil, err
		}
		stream.XORKeyStream(seg, seg)
		return seg, nil
	}
}

// ReadAt reads len(p) bytes of plaintext at off, as io.ReaderAt.
func (r *Reader) ReadAt(p []byte, off int64) (int, error) {
	return r.ReadAtContext(context.Background(), p, off)
}

// ReadAtContext is ReadAt with a context.
func (r *Reader) ReadAtContext(ctx context.Context, p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("negative offset %d", off)
	}
	n := 0
	for n < len(p) {
		if off >= r.Size() {
			return n, io.EOF
		}
		i := int(off / int64(r.geom.SegmentSize))
		seg, err := r.Segment(ctx, i)
		if err != nil {
			return n, err
		}
		c := copy(p[n:], seg[off-int64(i)*int64(r.geom.SegmentSize):])
		n += c
		off += int64(c)
	}
	return n, nil
}

// WriteRange streams length bytes of plaintext from off to w, fetching a
// few segments ahead in parallel; length < 0 means to the end of the file.
func (r *Reader) WriteRange(ctx context.Context, w io.Writer, off, length int64) (int64, error) {
	size := r.Size()
	if off < 0 || off > size {
		return 0, fmt.Errorf("offset %d outside the file (size %d)", off, size)
	}
	if length < 0 || off+length > size {
		length = size - off
	}
	if length == 0 {
		return 0, nil
	}
	ss := int64(r.geom.SegmentSize)
	first, last := int(off/ss), int((off+length-1)/ss)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	type result struct {
		seg []byte
		err error
	}
	const ahead = 4
	pending := make(chan chan result, ahead)
	go func() {
		defer close(pending)
		for i := first; i <= last; i++ {
			ch := make(chan result, 1)
			select {
			case pending <- ch:
			case <-ctx.Done():
				return
			}
			go func() {
				seg, err := r.Segment(ctx, i)
				ch <- result{seg, err}
			}()
		}
	}()
	var written int64
	for i := first; i <= last; i++ {
		ch, ok := <-pending
		if !ok {
			return written, ctx.Err()
		}
		res := <-ch
		if res.err != nil {
			return written, res.err
		}
		seg := res.seg
		start := int64(i) * ss
		if i == first {
			seg = seg[off-start:]
			start = off
		}
		if end := off + length; start+int64(len(seg)) > end {
			seg = seg[:end-start]
		}
		n, err := w.Write(seg)
		written += int64(n)
		if err != nil {
			return written, err
		}
	}
	return written, nil
}

// WriteTo streams the whole file to w.
func (r *Reader) WriteTo(w io.Writer) (int64, error) {
	return r.WriteRange(context.Background(), w, 0, -1)
}
