package immutable

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"hash"
	"io"
	"runtime"
	"sync"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/crypt"
	"github.com/lafs/lafs/hashtree"
	"github.com/lafs/lafs/zfec"
)

// Sink receives the share data that encoding produces. WriteShare writes
// data at off within share shnum's data (the layout of Layout); the encoder
// may call it concurrently for different shares but never for the same
// share at once. It must not keep data after returning.
type Sink interface {
	WriteShare(ctx context.Context, shnum lafs.ShareNum, off uint64, data []byte) error
}

// Plan is what an uploader needs before encoding starts: the geometry and
// share layout of the file, and so the size to allocate for each share.
type Plan struct {
	Geometry Geometry
	Layout   *Layout
}

// NewPlan computes the plan of a CHK file of size bytes (size > LITThreshold
// for a real upload) with parameters p.
func NewPlan(size uint64, p lafs.Params) (Plan, error) {
	g, err := NewGeometry(size, p.K, p.N, p.SegmentSize)
	if err != nil {
		return Plan{}, err
	}
	return Plan{Geometry: g, Layout: NewLayout(g, len(newUEB(g).Marshal()))}, nil
}

// ConvergentKey reads the whole plaintext (size bytes) from r and returns
// its convergent key for the convergence secret and parameters p: Tahoe's
// tagged hash over the plaintext with k, n and the effective segment size in
// the tag. The same file, secret and parameters always give the same key.
func ConvergentKey(r io.Reader, size uint64, secret []byte, p lafs.Params) ([16]byte, error) {
	g, err := NewGeometry(size, p.K, p.N, p.SegmentSize)
	if err != nil {
		return [16]byte{}, err
	}
	h := crypt.NewConvergenceHasher(secret, p.K, p.N, g.SegmentSize)
	n, err := io.Copy(h, r)
	if err != nil {
		return [16]byte{}, fmt.Errorf("reading plaintext for convergent key: %w", err)
	}
	if uint64(n) != size {
		return [16]byte{}, fmt.Errorf("plaintext is %d bytes, expected %d", n, size)
	}
	return crypt.ConvergenceKey(h), nil
}

// KeyWriter computes a file's convergent key from the plaintext written to
// it, for a caller that sees the whole file go by before the upload (as
// when it spools the file): the upload then makes no pass of its own over
// the file for the key (see UploadOptions.Key). The file's size need not be
// known in advance.
type KeyWriter struct {
	secret []byte
	p      lafs.Params
	h      hash.Hash // tagged for files of at least one full segment
	n      uint64
}

// NewKeyWriter returns a KeyWriter for the convergence secret and
// parameters p (those the upload will use).
func NewKeyWriter(secret []byte, p lafs.Params) (*KeyWriter, error) {
	// Files of p.SegmentSize bytes or more all have this segment size.
	g, err := NewGeometry(uint64(p.SegmentSize), p.K, p.N, p.SegmentSize)
	if err != nil {
		return nil, err
	}
	return &KeyWriter{secret: secret, p: p, h: crypt.NewConvergenceHasher(secret, p.K, p.N, g.SegmentSize)}, nil
}

// Write hashes b; it never fails.
func (w *KeyWriter) Write(b []byte) (int, error) {
	w.n += uint64(len(b))
	return w.h.Write(b)
}

// Key returns the convergent key of the bytes written. A file shorter than
// a segment has its own size in the hash's tag, so its key is computed
// again from r, which must hold the same bytes (that is at most one
// segment read).
func (w *KeyWriter) Key(r io.ReaderAt) ([16]byte, error) {
	if w.n < uint64(w.p.SegmentSize) {
		return ConvergentKey(io.NewSectionReader(r, 0, int64(w.n)), w.n, w.secret, w.p)
	}
	return crypt.ConvergenceKey(w.h), nil
}

// RandomKey returns a fresh random AES key, for uploads without convergence.
func RandomKey() ([16]byte, error) {
	var k [16]byte
	_, err := rand.Read(k[:])
	return k, err
}

// LIT returns the LIT cap of a small file's contents.
func LIT(data []byte) *cap.LIT { return &cap.LIT{Data: append([]byte(nil), data...)} }

// chunkBytes is about how much of each share's data the encoder puts
// together, from consecutive segments, before it writes it to the sink: a
// few large writes (each an HTTP request to a server) cost the client and
// the servers much less than one per block, and blocks encoded in place
// need no copying to be put together.
const chunkBytes = 1 << 20

// chunkSets is how many chunks are in use at once: one being written
// while the next is encoded.
const chunkSets = 2

// shareChunk is the share data of consecutive segments: each share's blocks
// side by side in its own buffer, as they lie in the share, after room for
// the share's header (written with the file's first chunk).
type shareChunk struct {
	first, segs int
	bufs        [][]byte
}

// block returns share sh's block of segment i, which is in the chunk.
func (c *shareChunk) block(g Geometry, head, sh, i int) []byte {
	pos := head + (i-c.first)*g.BlockSize
	return c.bufs[sh][pos : pos+g.BlockLen(i)]
}

// data returns share sh's bytes in the chunk and where they go in the
// share: from the header on for the first chunk, else from the first
// block on.
func (c *shareChunk) data(g Geometry, lay *Layout, sh int) (uint64, []byte) {
	head := int(lay.Data)
	last := c.first + c.segs - 1
	end := head + (c.segs-1)*g.BlockSize + g.BlockLen(last)
	if c.first == 0 {
		return 0, c.bufs[sh][:end]
	}
	return lay.Data + uint64(c.first)*uint64(g.BlockSize), c.bufs[sh][head:end]
}

// segmentJob is one segment on its way through the pipeline.
type segmentJob struct {
	index  int
	plain  *[]byte     // plaintext, given back to its pool once encrypted
	ch     *shareChunk // where its blocks go
	blocks []crypt.Hash
	err    error
	done   chan struct{}
}

// Encode encrypts the plaintext read from r (exactly size bytes) with key,
// erasure-codes it with parameters p and writes every share to sink, then
// returns the file's cap. Segments are encrypted, encoded and hashed by
// parallel workers while the next are read; the blocks of a few
// consecutive segments are written together, in order, while the next are
// encoded. Memory stays bounded whatever the size: two chunks of about
// N x max(1 MiB, block size) (20 MiB for 3-of-10), and a plaintext segment
// per worker.
func Encode(ctx context.Context, r io.Reader, size uint64, key [16]byte, p lafs.Params, sink Sink) (*cap.CHK, error) {
	plan, err := NewPlan(size, p)
	if err != nil {
		return nil, err
	}
	return encode(ctx, r, plan, key, sink)
}

func encode(ctx context.Context, r io.Reader, plan Plan, key [16]byte, sink Sink) (*cap.CHK, error) {
	g, lay := plan.Geometry, plan.Layout
	codec, err := zfec.New(g.K, g.N)
	if err != nil {
		return nil, err
	}
	header := lay.Header()
	if uint64(len(header)) != lay.Data {
		return nil, fmt.Errorf("internal error: header is %d bytes, data starts at %d", len(header), lay.Data)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	workers := runtime.GOMAXPROCS(0)
	perChunk := min(max(1, chunkBytes/g.BlockSize), g.NumSegments)
	plainPool := sync.Pool{New: func() any {
		b := make([]byte, g.SegmentSize)
		return &b
	}}
	// The chunks' buffers, made as first needed; nil means not yet.
	free := make(chan *shareChunk, chunkSets)
	for range chunkSets {
		free <- nil
	}
	newChunk := func() *shareChunk {
		c := &shareChunk{bufs: make([][]byte, g.N)}
		for sh := range c.bufs {
			c.bufs[sh] = make([]byte, len(header)+perChunk*g.BlockSize)
		}
		return c
	}

	jobs := make(chan *segmentJob)
	ordered := make(chan *segmentJob, chunkSets*perChunk+workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				j.err = encodeSegment(codec, key, g, len(header), j, &plainPool)
				close(j.done)
			}
		}()
	}
	// Reader: fills segment buffers in order and hands them to workers.
	readErr := make(chan error, 1)
	go func() {
		defer close(ordered)
		defer close(jobs)
		readErr <- readSegments(ctx, r, g, perChunk, header, &plainPool, free, newChunk, ordered, jobs)
	}()
	// The writes of the chunk before, while they are under way.
	var sending chan error
	waitSent := func() error {
		if sending == nil {
			return nil
		}
		err := <-sending
		sending = nil
		return err
	}
	defer func() {
		cancel()
		waitSent()
		wg.Wait()
	}()

	crypttextHasher := crypt.NewPairHasher(crypt.TagCrypttext)
	segHashes := make([]crypt.Hash, 0, g.NumSegments)
	blockHashes := make([][]crypt.Hash, g.N)
	for sh := range blockHashes {
		blockHashes[sh] = make([]crypt.Hash, 0, g.NumSegments)
	}
	for j := range ordered {
		select {
		case <-j.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if j.err != nil {
			return nil, j.err
		}
		segHashes = append(segHashes, hashCrypttext(g, len(header), j, crypttextHasher))
		for sh := range blockHashes {
			blockHashes[sh] = append(blockHashes[sh], j.blocks[sh])
		}
		if c := j.ch; j.index == c.first+c.segs-1 {
			// The chunk is complete: it is written while the next is
			// encoded, once the one before is written.
			if err := waitSent(); err != nil {
				return nil, err
			}
			sending = make(chan error, 1)
			go func() {
				err := forEachShare(ctx, g.N, func(sh int) error {
					off, data := c.data(g, lay, sh)
					return sink.WriteShare(ctx, lafs.ShareNum(sh), off, data)
				})
				free <- c
				sending <- err
			}()
		}
	}
	if err := waitSent(); err != nil {
		return nil, err
	}
	if err := <-readErr; err != nil {
		return nil, err
	}
	if len(segHashes) != g.NumSegments {
		return nil, errors.New("encoding stopped early")
	}
	// One byte more than size means the reader lied about the size.
	var probe [1]byte
	if n, _ := r.Read(probe[:]); n > 0 {
		return nil, fmt.Errorf("plaintext is longer than the %d bytes declared", g.Size)
	}

	ueb := newUEB(g)
	ueb.CrypttextHash = crypttextHasher.Sum()
	ctTree := hashtree.New(segHashes)
	ueb.CrypttextRootHash = ctTree.Root()
	blockTrees := make([]hashtree.Tree, g.N)
	roots := make([]crypt.Hash, g.N)
	for sh := range blockTrees {
		blockTrees[sh] = hashtree.New(blockHashes[sh])
		roots[sh] = blockTrees[sh].Root()
	}
	shareTree := hashtree.New(roots)
	ueb.ShareRootHash = shareTree.Root()
	uebBytes := ueb.Marshal()
	if uint64(len(uebBytes)) != lay.uebLen {
		return nil, fmt.Errorf("internal error: UEB is %d bytes, planned %d", len(uebBytes), lay.uebLen)
	}

	// Trailer of each share: plaintext tree placeholder, crypttext tree,
	// block tree, share hash chain, UEB; all contiguous from PlaintextHashTree.
	ctBytes := treeBytes(ctTree)
	err = forEachShare(ctx, g.N, func(sh int) error {
		t := make([]byte, 0, lay.ShareSize()-lay.PlaintextHashTree)
		t = append(t, make([]byte, lay.segmentHashesBytes)...)
		t = append(t, ctBytes...)
		t = append(t, treeBytes(blockTrees[sh])...)
		t = append(t, marshalShareHashes(shareTree, hashtree.NeededHashes(g.N, sh, true))...)
		if lay.Version == 1 {
			t = append(t, byte(len(uebBytes)>>24), byte(len(uebBytes)>>16), byte(len(uebBytes)>>8), byte(len(uebBytes)))
		} else {
			var l [8]byte
			for i := range l {
				l[7-i] = byte(uint64(len(uebBytes)) >> (8 * i))
			}
			t = append(t, l[:]...)
		}
		t = append(t, uebBytes...)
		return sink.WriteShare(ctx, lafs.ShareNum(sh), lay.PlaintextHashTree, t)
	})
	if err != nil {
		return nil, err
	}
	return &cap.CHK{Key: key, UEBHash: crypt.UEBHash(uebBytes), K: g.K, N: g.N, Size: g.Size}, nil
}

// readSegments reads the plaintext segment by segment, assigns each a
// place in a chunk and hands it to the workers (jobs) and, in order, to
// the writer (ordered).
func readSegments(ctx context.Context, r io.Reader, g Geometry, perChunk int, header []byte, pool *sync.Pool, free chan *shareChunk, newChunk func() *shareChunk, ordered, jobs chan<- *segmentJob) error {
	var c *shareChunk
	for i := 0; i < g.NumSegments; i++ {
		if c == nil || i == c.first+c.segs {
			select {
			case c = <-free:
			case <-ctx.Done():
				return ctx.Err()
			}
			if c == nil {
				c = newChunk()
			}
			c.first, c.segs = i, min(perChunk, g.NumSegments-i)
			if i == 0 {
				for _, b := range c.bufs {
					copy(b, header)
				}
			}
		}
		buf := pool.Get().(*[]byte)
		n := g.SegmentLen(i)
		if _, err := io.ReadFull(r, (*buf)[:n]); err != nil {
			pool.Put(buf)
			return fmt.Errorf("reading segment %d of plaintext: %w", i, err)
		}
		j := &segmentJob{index: i, plain: buf, ch: c, done: make(chan struct{})}
		select {
		case ordered <- j:
		case <-ctx.Done():
			pool.Put(buf)
			return ctx.Err()
		}
		select {
		case jobs <- j:
		case <-ctx.Done():
			j.err = ctx.Err()
			close(j.done)
			return ctx.Err()
		}
	}
	return nil
}

// encodeSegment encrypts one segment into its chunk's data blocks (the
// padding of the last segment is zeros, not encrypted), erasure-codes them
// into its check blocks there and hashes every block.
func encodeSegment(codec *zfec.Codec, key [16]byte, g Geometry, head int, j *segmentJob, pool *sync.Pool) error {
	stream, err := crypt.NewCTRAt(key[:], int64(j.index)*int64(g.SegmentSize))
	if err != nil {
		pool.Put(j.plain)
		return err
	}
	blocks := make([][]byte, g.N)
	for sh := range blocks {
		blocks[sh] = j.ch.block(g, head, sh, j.index)
	}
	plain := (*j.plain)[:g.SegmentLen(j.index)]
	for _, b := range blocks[:g.K] {
		m := min(len(plain), len(b))
		stream.XORKeyStream(b[:m], plain[:m])
		clear(b[m:])
		plain = plain[m:]
	}
	pool.Put(j.plain)
	j.plain = nil
	if err := codec.Encode(blocks[:g.K], blocks[g.K:]); err != nil {
		return fmt.Errorf("encoding segment %d: %w", j.index, err)
	}
	// The blocks of a segment have one length: hashed two by two.
	j.blocks = make([]crypt.Hash, g.N)
	for sh := 0; sh+1 < g.N; sh += 2 {
		j.blocks[sh], j.blocks[sh+1] = crypt.BlockHashPair(blocks[sh], blocks[sh+1])
	}
	if g.N%2 == 1 {
		j.blocks[g.N-1] = crypt.BlockHash(blocks[g.N-1])
	}
	return nil
}

// hashCrypttext feeds segment j's crypttext (its data blocks, less the
// padding) to the file's crypttext hash h and returns the segment's
// crypttext hash, computing the two side by side: the same bytes.
func hashCrypttext(g Geometry, head int, j *segmentJob, h *crypt.PairHasher) crypt.Hash {
	seg := crypt.NewPairHasher(crypt.TagCrypttextSegment)
	left := g.SegmentLen(j.index)
	for sh := 0; sh < g.K && left > 0; sh++ {
		b := j.ch.block(g, head, sh, j.index)
		b = b[:min(len(b), left)]
		crypt.WritePair(h, b, seg, b)
		left -= len(b)
	}
	return seg.Sum()
}

// forEachShare calls f for shares 0..n-1 concurrently and returns the first error.
func forEachShare(ctx context.Context, n int, f func(sh int) error) error {
	if n == 1 {
		return f(0)
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for sh := 0; sh < n; sh++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[sh] = f(sh)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return ctx.Err()
}

func treeBytes(t hashtree.Tree) []byte {
	b := make([]byte, 0, 32*len(t))
	for _, h := range t {
		b = append(b, h[:]...)
	}
	return b
}
