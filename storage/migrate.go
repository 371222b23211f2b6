package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/backend"
)

// Shares is where a server keeps its shares: a backend, and the
// LeaseStore that holds their leases (nil: inside the containers, in
// Tahoe's format).
type Shares struct {
	Backend backend.Backend
	Leases  LeaseStore
}

// MigrateProgress is what Migrate has done so far.
type MigrateProgress struct {
	Buckets int64 // storage indexes done
	Shares  int64 // shares copied
	Present int64 // shares found already at the destination (an earlier run's)
	Failed  int64 // shares not copied (corrupt, or a different share in place)
	Bytes   int64 // bytes of containers copied
	Elapsed time.Duration
}

// Migrate copies every share of from to to, with its leases moved from
// where from keeps them to where to does (Tahoe's containers or a
// LeaseStore). It is for a stopped node, whose destination is empty or
// holds an unfinished run's copies: nothing else may change either side
// meanwhile. It may be run again after an interruption: a share already
// at the destination is not copied again (an immutable share of the same
// size; a mutable share only if its container is the same, byte for
// byte), only its leases are merged in when to has a LeaseStore; a share
// that differs (a mutable share written since the earlier run) is
// replaced. A share that cannot be copied (a corrupt container) is
// reported through failed, and the rest carries on. Lease secrets that a
// version 1 container keeps in clear are stored hashed, as version 2 keeps
// them. progress, if not nil, is called after each storage index.
func Migrate(ctx context.Context, from, to Shares, progress func(MigrateProgress), failed func(k backend.Key, err error)) (MigrateProgress, error) {
	start := time.Now()
	var p MigrateProgress
	err := from.Backend.Walk(ctx, func(si lafs.StorageIndex) error {
		shares, err := from.Backend.List(ctx, si)
		if err != nil {
			return fmt.Errorf("listing the shares of storage index %v: %w", si, err)
		}
		for _, sh := range shares {
			k := backend.Key{SI: si, Share: sh}
			n, copied, err := CopyShare(ctx, from, to, k)
			switch {
			case err != nil && ctx.Err() != nil:
				return ctx.Err()
			case errors.Is(err, ErrCorrupt), errors.Is(err, backend.ErrCorrupt), errors.Is(err, ErrLeasesUnknown):
				p.Failed++
				if failed != nil {
					failed(k, err)
				}
			case err != nil:
				return err
			case copied:
				p.Shares++
				p.Bytes += n
			default:
				p.Present++
			}
		}
		p.Buckets++
		p.Elapsed = time.Since(start)
		if progress != nil {
			progress(p)
		}
		return nil
	})
	p.Elapsed = time.Since(start)
	return p, err
}

// copyChunk is how much of a share's data CopyShare holds at a time.
const copyChunk = 1 << 20

// CopyShare copies share k from from to to, as Migrate does for each
// share, and returns the bytes of the container written and whether it
// wrote one (false: the same share was there already, and only its
// leases were merged). A different container already at the destination
// is replaced. A container that is not one is an error wrapping
// ErrCorrupt.
func CopyShare(ctx context.Context, from, to Shares, k backend.Key) (int64, bool, error) {
	src, err := readShareLayout(ctx, from, k)
	if err != nil {
		return 0, false, err
	}
	out := src.rewritten(to.Leases == nil)
	size := out.size()

	have, err := to.Backend.Size(ctx, k)
	if errors.Is(err, backend.ErrCorrupt) {
		have, err = -1, nil // a damaged copy: replaced below
	}
	switch {
	case err == nil:
		same := have == size
		if same && src.mutable {
			same, err = out.sameAs(ctx, from.Backend, to.Backend, k)
			if errors.Is(err, backend.ErrCorrupt) {
				same, err = false, nil
			}
			if err != nil {
				return 0, false, fmt.Errorf("comparing share %d of storage index %v with its copy: %w", k.Share, k.SI, err)
			}
		}
		if same {
			if to.Leases != nil {
				return 0, false, mergeStoredLeases(ctx, to.Leases, k, src.mutable, size, src.leases)
			}
			return 0, false, nil
		}
		// An earlier run's copy, out of date since.
		if err := to.Backend.Delete(ctx, k); err != nil && !errors.Is(err, backend.ErrNotExist) {
			return 0, false, fmt.Errorf("replacing the out-of-date copy of share %d of storage index %v: %w", k.Share, k.SI, err)
		}
	case !errors.Is(err, backend.ErrNotExist):
		return 0, false, fmt.Errorf("share %d of storage index %v at the destination: %w", k.Share, k.SI, err)
	}

	st, err := to.Backend.Create(ctx, k, size)
	if err != nil {
		return 0, false, fmt.Errorf("creating share %d of storage index %v: %w", k.Share, k.SI, err)
	}
	if err := out.write(ctx, from.Backend, k, st); err != nil {
		st.Abort()
		return 0, false, fmt.Errorf("copying share %d of storage index %v: %w", k.Share, k.SI, err)
	}
	// The leases are recorded before the share appears, as the server
	// does.
	if to.Leases != nil {
		if err := mergeStoredLeases(ctx, to.Leases, k, src.mutable, size, src.leases); err != nil {
			st.Abort()
			return 0, false, err
		}
	}
	if err := st.Commit(ctx); err != nil {
		st.Abort()
		return 0, false, fmt.Errorf("completing share %d of storage index %v: %w", k.Share, k.SI, err)
	}
	return size, true, nil
}

// mergeStoredLeases adds leases to share k's record in ls.
func mergeStoredLeases(ctx context.Context, ls LeaseStore, k backend.Key, mutable bool, size int64, leases []Lease) error {
	have, err := ls.Leases(ctx, k)
	if err != nil {
		return fmt.Errorf("reading the leases of share %d of storage index %v: %w", k.Share, k.SI, err)
	}
	for _, l := range leases {
		have = withLease(have, l)
	}
	if err := ls.SetLeases(ctx, k, ShareInfo{Mutable: mutable, Size: size}, have); err != nil {
		return fmt.Errorf("recording the leases of share %d of storage index %v: %w", k.Share, k.SI, err)
	}
	return nil
}

// shareLayout is a share container as Migrate reads it: where its data
// lies, and its leases (hashed).
type shareLayout struct {
	mutable bool
	imm     ImmutableHeader
	mut     MutableHeader
	// dataStart and dataEnd bound what is copied as it is: an immutable
	// container's share data, a mutable container's whole data area.
	dataStart, dataEnd int64
	leases             []Lease
}

// readShareLayout reads the header and leases of share k.
func readShareLayout(ctx context.Context, sh Shares, k backend.Key) (*shareLayout, error) {
	b := sh.Backend
	size, err := b.Size(ctx, k)
	if err != nil {
		return nil, fmt.Errorf("share %d of storage index %v: %w", k.Share, k.SI, err)
	}
	head := make([]byte, min(size, MutableHeaderSize))
	if err := readBackend(ctx, b, k, head, 0); err != nil {
		return nil, fmt.Errorf("reading share %d of storage index %v: %w", k.Share, k.SI, err)
	}
	kind, why := kindOfHead(head[:min(len(head), mutableMagicSize)])
	if why != nil {
		return nil, fmt.Errorf("share %d of storage index %v: %w", k.Share, k.SI, why)
	}
	l := &shareLayout{mutable: kind == kindMutable}
	var inside []Lease
	hashed := true
	if l.mutable {
		l.mut, err = ParseMutableHeader(head)
		if err == nil {
			err = l.mut.check(size)
		}
		if err != nil {
			return nil, fmt.Errorf("share %d of storage index %v: %w", k.Share, k.SI, err)
		}
		l.dataStart, l.dataEnd = MutableDataOffset, int64(l.mut.ExtraLeaseOffset)
		hashed = l.mut.hashed()
		if sh.Leases == nil {
			info, err := ReadContainerInfo(backend.ReaderAt(ctx, b, k), size)
			if err != nil {
				return nil, fmt.Errorf("share %d of storage index %v: %w", k.Share, k.SI, err)
			}
			for _, nl := range info.Leases {
				inside = append(inside, nl.Lease)
			}
		}
	} else {
		l.imm, _ = ParseImmutableHeader(head)
		lay, err := l.imm.layout(size)
		if err != nil {
			return nil, fmt.Errorf("share %d of storage index %v: %w", k.Share, k.SI, err)
		}
		l.dataStart, l.dataEnd = ImmutableHeaderSize, lay.dataEnd
		hashed = l.imm.hashed()
		if sh.Leases == nil && lay.leases > 0 {
			recs := make([]byte, lay.leases*ImmutableLeaseSize)
			if err := readBackend(ctx, b, k, recs, lay.dataEnd); err != nil {
				return nil, fmt.Errorf("reading the leases of share %d of storage index %v: %w", k.Share, k.SI, err)
			}
			for i := int64(0); i < lay.leases; i++ {
				ls, _ := ParseImmutableLease(recs[i*ImmutableLeaseSize : (i+1)*ImmutableLeaseSize])
				inside = append(inside, ls)
			}
		}
	}
	if sh.Leases != nil {
		if l.leases, err = sh.Leases.Leases(ctx, k); err != nil {
			return nil, fmt.Errorf("reading the leases of share %d of storage index %v: %w", k.Share, k.SI, err)
		}
		return l, nil
	}
	for _, ls := range inside {
		if !hashed {
			ls.RenewSecret = HashLeaseSecret(ls.RenewSecret)
			ls.CancelSecret = HashLeaseSecret(ls.CancelSecret)
		}
		l.leases = append(l.leases, ls)
	}
	return l, nil
}

// rewrittenShare is the container CopyShare writes: src's data with the
// leases inside (in Tahoe's format, version 2) or none.
type rewrittenShare struct {
	src    *shareLayout
	head   []byte // header (and, for mutable containers, lease slots)
	tail   []byte // after the data: immutable leases, or the extra lease block
	inside bool
}

func (l *shareLayout) rewritten(leasesInside bool) *rewrittenShare {
	r := &rewrittenShare{src: l, inside: leasesInside}
	var kept []Lease
	if leasesInside {
		kept = l.leases
	}
	if l.mutable {
		h := l.mut
		if leasesInside {
			h.Version = MutableV2 // the secrets are hashed now
		}
		r.head = h.Append(nil)
		for i := range MutableLeaseSlots {
			var s Lease
			if i < len(kept) {
				s = kept[i]
			}
			r.head = s.AppendMutable(r.head)
		}
		extra := kept[min(len(kept), MutableLeaseSlots):]
		r.tail = binary.BigEndian.AppendUint32(nil, uint32(len(extra)))
		for _, s := range extra {
			r.tail = s.AppendMutable(r.tail)
		}
		return r
	}
	h := l.imm
	h.NumLeases = uint32(len(kept))
	if leasesInside {
		h.Version = ImmutableV2
	}
	r.head = h.Append(nil)
	for _, s := range kept {
		r.tail = s.AppendImmutable(r.tail)
	}
	return r
}

func (r *rewrittenShare) size() int64 {
	return int64(len(r.head)) + (r.src.dataEnd - r.src.dataStart) + int64(len(r.tail))
}

// write writes the container to st, copying the data from b a chunk at a
// time.
func (r *rewrittenShare) write(ctx context.Context, b backend.Backend, k backend.Key, st backend.Staged) error {
	if err := st.WriteAt(r.head, 0); err != nil {
		return err
	}
	off := int64(len(r.head))
	buf := make([]byte, min(copyChunk, r.src.dataEnd-r.src.dataStart))
	for at := r.src.dataStart; at < r.src.dataEnd; {
		p := buf[:min(int64(len(buf)), r.src.dataEnd-at)]
		if err := readBackend(ctx, b, k, p, at); err != nil {
			return err
		}
		if err := st.WriteAt(p, off); err != nil {
			return err
		}
		at += int64(len(p))
		off += int64(len(p))
	}
	if len(r.tail) > 0 {
		return st.WriteAt(r.tail, off)
	}
	return nil
}

// sameAs reports whether the object k of dst holds exactly the container
// write would write, reading both a chunk at a time.
func (r *rewrittenShare) sameAs(ctx context.Context, src, dst backend.Backend, k backend.Key) (bool, error) {
	cmp := &comparingStaged{ctx: ctx, b: dst, k: k, same: true}
	if err := r.write(ctx, src, k, cmp); err != nil {
		return false, err
	}
	return cmp.same, cmp.err
}

// comparingStaged is a backend.Staged that compares what is written with
// an object already there instead of writing it.
type comparingStaged struct {
	ctx  context.Context
	b    backend.Backend
	k    backend.Key
	buf  []byte
	same bool
	err  error
}

func (c *comparingStaged) WriteAt(p []byte, off int64) error {
	if !c.same || c.err != nil {
		return nil
	}
	if cap(c.buf) < len(p) {
		c.buf = make([]byte, len(p))
	}
	got := c.buf[:len(p)]
	if err := readBackend(c.ctx, c.b, c.k, got, off); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			c.same = false
			return nil
		}
		c.err = err
		return nil
	}
	c.same = bytes.Equal(got, p)
	return nil
}

func (c *comparingStaged) Commit(context.Context) error { return nil }
func (c *comparingStaged) Abort() error                 { return nil }

// readBackend fills p from k at off.
func readBackend(ctx context.Context, b backend.Backend, k backend.Key, p []byte, off int64) error {
	n, err := b.ReadAt(ctx, k, p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return err
}
