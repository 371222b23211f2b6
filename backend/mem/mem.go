// Package mem is a backend.Backend in memory, for tests and for throwaway
// servers. It keeps every object as a byte slice under a mutex, stages new
// objects invisibly until Commit, and can enforce a capacity so that tests
// can see how the storage server behaves when the disk fills up.
//
// Bytes are copied in and out: no caller slice is ever retained or exposed.
package mem

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/backend"
)

// DefaultCapacity is the capacity of a backend made by New: 1 TiB, more
// than any test stores, yet small enough that a server which trusts
// Available never tries to hold an absurd (sparse) object in memory.
const DefaultCapacity uint64 = 1 << 40

// Mem is an in-memory backend.Backend. The zero value is not usable; call
// New or NewWithCapacity. All methods are safe for concurrent use.
type Mem struct {
	mu      sync.Mutex
	objects map[backend.Key][]byte
	// byPrefix indexes the committed objects: for each prefix, the
	// storage indexes with objects and their share numbers.
	byPrefix map[string]map[lafs.StorageIndex]map[lafs.ShareNum]struct{}
	capacity uint64
	used     uint64            // bytes held by committed and staged objects
	staged   int               // staged objects not yet committed or aborted
	records  map[string][]byte // the backend.RecordStore (records.go)
}

var (
	_ backend.Backend      = (*Mem)(nil)
	_ backend.PrefixWalker = (*Mem)(nil)
)

// New returns an empty backend whose capacity is DefaultCapacity.
func New() *Mem { return NewWithCapacity(DefaultCapacity) }

// NewWithCapacity returns an empty backend that holds at most bytes bytes,
// counting the bytes of committed and staged objects. A write that would
// exceed it fails with an error wrapping backend.ErrNoSpace and changes
// nothing.
func NewWithCapacity(bytes uint64) *Mem {
	return &Mem{
		objects:  make(map[backend.Key][]byte),
		byPrefix: make(map[string]map[lafs.StorageIndex]map[lafs.ShareNum]struct{}),
		capacity: bytes,
	}
}

// Used returns the bytes held by committed and staged objects.
func (m *Mem) Used() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.used
}

// NumStaged returns how many staged objects are neither committed nor
// aborted, so that tests can check that nothing was left behind.
func (m *Mem) NumStaged() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.staged
}

// indexAdd notes a new committed object; the caller holds m.mu.
func (m *Mem) indexAdd(k backend.Key) {
	p := backend.Prefix(k.SI)
	sis := m.byPrefix[p]
	if sis == nil {
		sis = make(map[lafs.StorageIndex]map[lafs.ShareNum]struct{})
		m.byPrefix[p] = sis
	}
	shares := sis[k.SI]
	if shares == nil {
		shares = make(map[lafs.ShareNum]struct{})
		sis[k.SI] = shares
	}
	shares[k.Share] = struct{}{}
}

// indexRemove notes that a committed object is gone; the caller holds
// m.mu.
func (m *Mem) indexRemove(k backend.Key) {
	p := backend.Prefix(k.SI)
	sis := m.byPrefix[p]
	delete(sis[k.SI], k.Share)
	if len(sis[k.SI]) > 0 {
		return
	}
	delete(sis, k.SI)
	if len(sis) == 0 {
		delete(m.byPrefix, p)
	}
}

// grow accounts for n more bytes; the caller holds m.mu.
func (m *Mem) grow(n uint64) error {
	if n > m.capacity-m.used {
		return fmt.Errorf("mem: %d more bytes, %d available: %w", n, m.capacity-m.used, backend.ErrNoSpace)
	}
	m.used += n
	return nil
}

func notExist(k backend.Key) error {
	return fmt.Errorf("mem: %v/%d: %w", k.SI, k.Share, backend.ErrNotExist)
}

// List implements backend.Backend.
func (m *Mem) List(ctx context.Context, si lafs.StorageIndex) ([]lafs.ShareNum, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []lafs.ShareNum{}
	for n := range m.byPrefix[backend.Prefix(si)][si] {
		out = append(out, n)
	}
	slices.Sort(out)
	return out, nil
}

// Size implements backend.Backend.
func (m *Mem) Size(ctx context.Context, k backend.Key) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.objects[k]
	if !ok {
		return 0, notExist(k)
	}
	return int64(len(b)), nil
}

// ReadAt implements backend.Backend.
func (m *Mem) ReadAt(ctx context.Context, k backend.Key, p []byte, off int64) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, fmt.Errorf("mem: negative offset %d", off)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.objects[k]
	if !ok {
		return 0, notExist(k)
	}
	if off >= int64(len(b)) {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// writeInto writes p at off of b, growing it (with zeros in any gap) and
// accounting for the growth; the caller holds m.mu.
func (m *Mem) writeInto(b []byte, p []byte, off int64) ([]byte, error) {
	if off < 0 {
		return b, fmt.Errorf("mem: negative offset %d", off)
	}
	end := off + int64(len(p))
	if end < off {
		return b, fmt.Errorf("mem: offset %d overflows", off)
	}
	if end > int64(len(b)) {
		if err := m.grow(uint64(end - int64(len(b)))); err != nil {
			return b, err
		}
		b = extend(b, end)
	}
	copy(b[off:], p)
	return b, nil
}

// extend returns b lengthened to n bytes, the new bytes zero.
func extend(b []byte, n int64) []byte {
	if n <= int64(cap(b)) {
		old := len(b)
		b = b[:n]
		clear(b[old:])
		return b
	}
	nb := make([]byte, n, max(n, 2*int64(cap(b))))
	copy(nb, b)
	return nb
}

// WriteAt implements backend.Backend.
func (m *Mem) WriteAt(ctx context.Context, k backend.Key, p []byte, off int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.objects[k]
	if !ok {
		return notExist(k)
	}
	b, err := m.writeInto(b, p, off)
	m.objects[k] = b
	return err
}

// Sync implements backend.Backend: memory has nothing to flush, but the
// object must exist.
func (m *Mem) Sync(ctx context.Context, k backend.Key) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.objects[k]; !ok {
		return notExist(k)
	}
	return nil
}

// Truncate implements backend.Backend.
func (m *Mem) Truncate(ctx context.Context, k backend.Key, size int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if size < 0 {
		return fmt.Errorf("mem: negative size %d", size)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.objects[k]
	if !ok {
		return notExist(k)
	}
	old := int64(len(b))
	switch {
	case size > old:
		if err := m.grow(uint64(size - old)); err != nil {
			return err
		}
		b = extend(b, size)
	case size < old:
		m.used -= uint64(old - size)
		// Copy, so that the dropped tail is not kept alive and a later
		// extension starts from zeros.
		b = slices.Clone(b[:size])
	}
	m.objects[k] = b
	return nil
}

// Delete implements backend.Backend.
func (m *Mem) Delete(ctx context.Context, k backend.Key) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.objects[k]
	if !ok {
		return notExist(k)
	}
	m.used -= uint64(len(b))
	delete(m.objects, k)
	m.indexRemove(k)
	return nil
}

// Available implements backend.Backend: the capacity less the bytes held.
func (m *Mem) Available(ctx context.Context) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.capacity - m.used, nil
}

// Walk implements backend.Backend. The storage indexes are visited in
// ascending byte order; f runs without the backend's lock held, so it may
// call the backend. Staged objects are kept apart until Commit, so they
// never appear.
func (m *Mem) Walk(ctx context.Context, f func(si lafs.StorageIndex) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	var sis []lafs.StorageIndex
	for _, p := range m.byPrefix {
		for si := range p {
			sis = append(sis, si)
		}
	}
	m.mu.Unlock()
	return visit(ctx, sis, f)
}

// WalkPrefix implements backend.PrefixWalker. It looks only at the
// storage indexes of prefix (the backend keeps an index by prefix) and
// visits them in ascending byte order, without the lock held while f
// runs.
func (m *Mem) WalkPrefix(ctx context.Context, prefix string, f func(si lafs.StorageIndex) error) error {
	if !backend.IsPrefix(prefix) {
		return fmt.Errorf("mem: %q is not a storage index prefix", prefix)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	sis := make([]lafs.StorageIndex, 0, len(m.byPrefix[prefix]))
	for si := range m.byPrefix[prefix] {
		sis = append(sis, si)
	}
	m.mu.Unlock()
	return visit(ctx, sis, f)
}

// visit calls f for each of sis in ascending byte order, stopping at the
// first error of f or once ctx is done.
func visit(ctx context.Context, sis []lafs.StorageIndex, f func(si lafs.StorageIndex) error) error {
	slices.SortFunc(sis, func(a, b lafs.StorageIndex) int {
		return slices.Compare(a[:], b[:])
	})
	for _, si := range sis {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := f(si); err != nil {
			return err
		}
	}
	return nil
}

// Create implements backend.Backend. The staged object counts against the
// capacity as its bytes are written, not at Create.
func (m *Mem) Create(ctx context.Context, k backend.Key, size int64) (backend.Staged, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if size < 0 {
		return nil, fmt.Errorf("mem: negative size %d", size)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.staged++
	// Room for the whole object up front (bounded, since the size is only
	// a promise), so that sequential writes do not copy it again and again.
	return &staged{m: m, k: k, limit: size, b: make([]byte, 0, min(size, 64<<20))}, nil
}

// errFinished is returned by a staged object's WriteAt after Commit or Abort.
var errFinished = errors.New("mem: staged object already committed or aborted")

// staged is an object being written; its bytes count against the capacity.
type staged struct {
	m     *Mem
	k     backend.Key
	limit int64
	b     []byte // guarded by m.mu
	done  bool   // guarded by m.mu
}

// WriteAt implements backend.Staged.
func (s *staged) WriteAt(p []byte, off int64) error {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	if s.done {
		return errFinished
	}
	if off < 0 || off > s.limit || int64(len(p)) > s.limit-off {
		return fmt.Errorf("mem: write of %d bytes at %d past staged size %d", len(p), off, s.limit)
	}
	b, err := s.m.writeInto(s.b, p, off)
	s.b = b
	return err
}

// ReadAt reads back bytes already written to the staged object, as
// io.ReaderAt does (bytes never written read as zero up to the furthest
// write). The storage server uses it to check that a rewrite of an
// immutable share's bytes repeats them exactly.
func (s *staged) ReadAt(p []byte, off int64) (int, error) {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	if s.done {
		return 0, errFinished
	}
	if off < 0 {
		return 0, fmt.Errorf("mem: negative offset %d", off)
	}
	if off >= int64(len(s.b)) {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	n := copy(p, s.b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// finish releases the staged object; the caller holds m.mu.
func (s *staged) finish() {
	s.done = true
	s.m.staged--
}

// Commit implements backend.Staged. On ErrExist the committed object is
// kept and this staged one is discarded.
func (s *staged) Commit(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	if s.done {
		return errFinished
	}
	s.finish()
	if _, ok := s.m.objects[s.k]; ok {
		s.m.used -= uint64(len(s.b))
		s.b = nil
		return fmt.Errorf("mem: %v/%d: %w", s.k.SI, s.k.Share, backend.ErrExist)
	}
	if s.b == nil {
		s.b = []byte{}
	}
	s.m.objects[s.k] = s.b
	s.m.indexAdd(s.k)
	s.b = nil
	return nil
}

// Abort implements backend.Staged. Aborting an object already committed or
// aborted does nothing.
func (s *staged) Abort() error {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	if s.done {
		return nil
	}
	s.finish()
	s.m.used -= uint64(len(s.b))
	s.b = nil
	return nil
}
