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

// RandomKey returns a fresh random AES key, for uploads without convergence.
func RandomKey() ([16]byte, error) {
	var k [16]byte
	_, err := rand.Read(k[:])
	return k, err
}

// LIT returns the LIT cap of a small file's contents.
func LIT(data []byte) *cap.LIT { return &cap.LIT{Data: append([]byte(nil), data...)} }

// segmentJob is one segment on its way through the pipeline.
type segmentJob struct {
	index   int
	buf     []byte   // segment buffer: plaintext, then ciphertext, padded
	parity  [][]byte // n-k check blocks
	segHash crypt.Hash
	blocks  []crypt.Hash // block hash per share
	err     error
	done    chan struct{}
}

// Encode encrypts the plaintext read from r (exactly size bytes) with key,
// erasure-codes it with parameters p and writes every share to sink, then
// returns the file's cap. Segments are encrypted, encoded and hashed by
// parallel workers while the next are read, and written in order; memory
// stays bounded by a few segments whatever the size.
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
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// Header first, to every share.
	header := lay.Header()
	if err := forEachShare(ctx, g.N, func(sh int) error { return sink.WriteShare(ctx, lafs.ShareNum(sh), 0, header) }); err != nil {
		return nil, err
	}

	workers := runtime.GOMAXPROCS(0)
	inFlight := 2*workers + 1
	pool := sync.Pool{New: func() any {
		b := make([]byte, g.SegmentSize+(g.N-g.K)*g.BlockSize)
		return &b
	}}

	jobs := make(chan *segmentJob)
	ordered := make(chan *segmentJob, inFlight)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				j.err = encodeSegment(codec, key, g, j)
				close(j.done)
			}
		}()
	}
	// Reader: fills segment buffers in order and hands them to workers.
	readErr := make(chan error, 1)
	go func() {
		defer close(ordered)
		defer close(jobs)
		readErr <- readSegments(ctx, r, g, &pool, ordered, jobs)
	}()
	defer func() {
		cancel()
		wg.Wait()
	}()

	crypttextHasher := crypt.NewCrypttextHasher()
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
		if err := writeSegment(ctx, sink, g, lay, j, crypttextHasher); err != nil {
			return nil, err
		}
		segHashes = append(segHashes, j.segHash)
		for sh := range blockHashes {
			blockHashes[sh] = append(blockHashes[sh], j.blocks[sh])
		}
		pool.Put(&j.buf)
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
	crypttextHasher.Sum(ueb.CrypttextHash[:0])
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

// readSegments reads the plaintext segment by segment and hands each to the
// workers (jobs) and, in order, to the writer (ordered).
func readSegments(ctx context.Context, r io.Reader, g Geometry, pool *sync.Pool, ordered, jobs chan<- *segmentJob) error {
	for i := 0; i < g.NumSegments; i++ {
		buf := *pool.Get().(*[]byte)
		n := g.SegmentLen(i)
		if _, err := io.ReadFull(r, buf[:n]); err != nil {
			pool.Put(&buf)
			return fmt.Errorf("reading segment %d of plaintext: %w", i, err)
		}
		j := &segmentJob{index: i, buf: buf, done: make(chan struct{})}
		select {
		case ordered <- j:
		case <-ctx.Done():
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

// encodeSegment encrypts, erasure-codes and hashes one segment in place.
func encodeSegment(codec *zfec.Codec, key [16]byte, g Geometry, j *segmentJob) error {
	n := g.SegmentLen(j.index)
	seg := j.buf[:g.SegmentSize]
	stream, err := crypt.NewCTRAt(key[:], int64(j.index)*int64(g.SegmentSize))
	if err != nil {
		return err
	}
	stream.XORKeyStream(seg[:n], seg[:n])
	j.segHash = crypt.CrypttextSegmentHash(seg[:n])
	padded := g.SegmentSize
	bs := g.BlockLen(j.index)
	if j.index == g.NumSegments-1 {
		padded = g.PaddedTail
		clear(seg[n:padded])
	}
	data := make([][]byte, g.K)
	for c := range data {
		data[c] = seg[c*bs : (c+1)*bs]
	}
	parityArea := j.buf[g.SegmentSize:]
	j.parity = make([][]byte, g.N-g.K)
	for c := range j.parity {
		j.parity[c] = parityArea[c*bs : (c+1)*bs]
	}
	_ = padded
	if err := codec.Encode(data, j.parity); err != nil {
		return fmt.Errorf("encoding segment %d: %w", j.index, err)
	}
	j.blocks = make([]crypt.Hash, g.N)
	for sh := 0; sh < g.N; sh++ {
		j.blocks[sh] = crypt.BlockHash(j.block(g, sh))
	}
	return nil
}

// block returns share sh's block of the job's segment.
func (j *segmentJob) block(g Geometry, sh int) []byte {
	bs := g.BlockLen(j.index)
	if sh < g.K {
		return j.buf[sh*bs : (sh+1)*bs]
	}
	return j.parity[sh-g.K]
}

// writeSegment feeds the crypttext hash and writes each share's block.
func writeSegment(ctx context.Context, sink Sink, g Geometry, lay *Layout, j *segmentJob, h hash.Hash) error {
	// The whole-file hash runs while the blocks travel.
	hashed := make(chan struct{})
	go func() {
		h.Write(j.buf[:g.SegmentLen(j.index)])
		close(hashed)
	}()
	off := lay.Data + uint64(j.index)*uint64(g.BlockSize)
	err := forEachShare(ctx, g.N, func(sh int) error {
		return sink.WriteShare(ctx, lafs.ShareNum(sh), off, j.block(g, sh))
	})
	<-hashed
	return err
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
