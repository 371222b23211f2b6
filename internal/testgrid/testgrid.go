// Package testgrid is an in-process grid for tests: N real storage servers
// (package storage over in-memory backends) seen through lafs.Peers, with
// faults to inject per server: offline, corrupt reads, slow answers.
package testgrid

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/backend"
	"github.com/lafs/lafs/backend/mem"
	"github.com/lafs/lafs/grid"
	"github.com/lafs/lafs/memgrid"
	"github.com/lafs/lafs/storage"
)

// Grid is a set of in-memory storage servers.
type Grid struct {
	Servers []*lafs.Server
	Faults  []*Faults
	Storage []*storage.Server
	// Backends hold the servers' share containers, for tests that damage
	// shares in place.
	Backends []*mem.Mem
}

// Faults are what a server does wrong; change them at any time.
type Faults struct {
	mu         sync.Mutex
	Offline    bool          // every call fails
	Corrupt    bool          // immutable reads come back with a flipped bit
	Delay      time.Duration // every call waits this long first
	ReadDelay  time.Duration // share reads wait this long first
	WriteDelay time.Duration // immutable share writes wait this long first
	Declines   bool          // allocations are refused
	FailNext   int           // so many calls fail (as offline), then it works
	// VanishAfterWrites: after so many immutable share writes the server
	// goes offline (0: never), for a server lost in the middle of an upload.
	VanishAfterWrites int

	writes int // immutable share writes the server accepted

	advised  []lafs.ShareNum // immutable shares the server was told are corrupt
	requests int             // calls the server received
}

// Requests is how many calls the server received.
func (f *Faults) Requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests
}

// Set changes the faults under the lock.
func (f *Faults) Set(change func(f *Faults)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(f)
}

func (f *Faults) get() Faults {
	f.mu.Lock()
	defer f.mu.Unlock()
	return Faults{Offline: f.Offline, Corrupt: f.Corrupt, Delay: f.Delay, ReadDelay: f.ReadDelay, WriteDelay: f.WriteDelay, Declines: f.Declines}
}

// Advised lists the immutable shares that clients told the server are
// corrupt, in the order the advisories came.
func (f *Faults) Advised() []lafs.ShareNum {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]lafs.ShareNum(nil), f.advised...)
}

// New starts n servers: a memgrid.Grid whose servers' storage goes
// through the faults.
func New(t testing.TB, n int) *Grid {
	m := memgrid.New(n)
	g := &Grid{Storage: m.Storage, Backends: m.Backends}
	for i, s := range m.Servers() {
		f := &Faults{}
		g.Faults = append(g.Faults, f)
		c := *s
		c.ID = fmt.Sprintf("v0-test-server-%02d", i)
		c.Nickname = fmt.Sprintf("s%d", i)
		c.Storage = &faulty{StorageServer: s.Storage, f: f}
		g.Servers = append(g.Servers, &c)
	}
	return g
}

// ServersFor implements lafs.Peers: every server not offline, permuted.
func (g *Grid) ServersFor(si lafs.StorageIndex) []*lafs.Server {
	var up []*lafs.Server
	for i, s := range g.Servers {
		if !g.Faults[i].get().Offline {
			up = append(up, s)
		}
	}
	return grid.Permute(si, up)
}

// ErrOffline is what an offline server answers.
var ErrOffline = fmt.Errorf("test server offline")

type faulty struct {
	lafs.StorageServer
	f *Faults
}

func (s *faulty) check(ctx context.Context) error {
	s.f.mu.Lock()
	s.f.requests++
	failNow := s.f.FailNext > 0
	if failNow {
		s.f.FailNext--
	}
	s.f.mu.Unlock()
	if failNow {
		return ErrOffline
	}
	f := s.f.get()
	if err := wait(ctx, f.Delay); err != nil {
		return err
	}
	if f.Offline {
		return ErrOffline
	}
	return nil
}

func (s *faulty) Version(ctx context.Context) (lafs.ServerVersion, error) {
	if err := s.check(ctx); err != nil {
		return lafs.ServerVersion{}, err
	}
	return s.StorageServer.Version(ctx)
}

func (s *faulty) AllocateBuckets(ctx context.Context, si lafs.StorageIndex, l lafs.LeaseSecrets, up lafs.UploadSecret, sh []lafs.ShareNum, size uint64) (lafs.AllocateResult, error) {
	if err := s.check(ctx); err != nil {
		return lafs.AllocateResult{}, err
	}
	if s.f.get().Declines {
		return lafs.AllocateResult{}, lafs.ErrNoSpace
	}
	return s.StorageServer.AllocateBuckets(ctx, si, l, up, sh, size)
}

func (s *faulty) WriteImmutable(ctx context.Context, si lafs.StorageIndex, sh lafs.ShareNum, up lafs.UploadSecret, off uint64, data []byte) (lafs.WriteResult, error) {
	if err := s.check(ctx); err != nil {
		return lafs.WriteResult{}, err
	}
	if err := wait(ctx, s.f.get().WriteDelay); err != nil {
		return lafs.WriteResult{}, err
	}
	s.f.mu.Lock()
	vanish := s.f.VanishAfterWrites > 0 && s.f.writes >= s.f.VanishAfterWrites
	if vanish {
		s.f.Offline = true
	} else {
		s.f.writes++
	}
	s.f.mu.Unlock()
	if vanish {
		return lafs.WriteResult{}, ErrOffline
	}
	return s.StorageServer.WriteImmutable(ctx, si, sh, up, off, data)
}

func wait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *faulty) ReadImmutable(ctx context.Context, si lafs.StorageIndex, sh lafs.ShareNum, off, n uint64) ([]byte, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if err := wait(ctx, s.f.get().ReadDelay); err != nil {
		return nil, err
	}
	b, err := s.StorageServer.ReadImmutable(ctx, si, sh, off, n)
	if err == nil && s.f.get().Corrupt && len(b) > 0 {
		b = append([]byte(nil), b...)
		b[len(b)/2] ^= 0x40
	}
	return b, err
}

func (s *faulty) ListImmutable(ctx context.Context, si lafs.StorageIndex) ([]lafs.ShareNum, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	return s.StorageServer.ListImmutable(ctx, si)
}

func (s *faulty) ReadTestWrite(ctx context.Context, si lafs.StorageIndex, we lafs.Secret, l lafs.LeaseSecrets, tw map[lafs.ShareNum]lafs.TestWriteVectors, rv []lafs.ReadVector) (lafs.ReadTestWriteResult, error) {
	if err := s.check(ctx); err != nil {
		return lafs.ReadTestWriteResult{}, err
	}
	return s.StorageServer.ReadTestWrite(ctx, si, we, l, tw, rv)
}

func (s *faulty) AdviseCorruptImmutable(ctx context.Context, si lafs.StorageIndex, sh lafs.ShareNum, reason string) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	s.f.mu.Lock()
	s.f.advised = append(s.f.advised, sh)
	s.f.mu.Unlock()
	return s.StorageServer.AdviseCorruptImmutable(ctx, si, sh, reason)
}

func (s *faulty) ReadMutable(ctx context.Context, si lafs.StorageIndex, sh lafs.ShareNum, off, n uint64) ([]byte, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if err := wait(ctx, s.f.get().ReadDelay); err != nil {
		return nil, err
	}
	return s.StorageServer.ReadMutable(ctx, si, sh, off, n)
}

func (s *faulty) ListMutable(ctx context.Context, si lafs.StorageIndex) ([]lafs.ShareNum, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	return s.StorageServer.ListMutable(ctx, si)
}

// FlipShare inverts the byte at offset off of the share data of share sh
// of si (off counts from the start of the share, as share layouts do;
// mutable says which kind of container holds it) wherever servers hold
// it, and returns how many copies it damaged.
func (g *Grid) FlipShare(t testing.TB, si lafs.StorageIndex, sh lafs.ShareNum, mutable bool, off int64) int {
	t.Helper()
	ctx := context.Background()
	start := int64(storage.ImmutableHeaderSize)
	if mutable {
		start = storage.MutableDataOffset
	}
	n := 0
	for _, b := range g.Backends {
		k := backend.Key{SI: si, Share: sh}
		p := make([]byte, 1)
		if _, err := b.ReadAt(ctx, k, p, start+off); err != nil {
			continue
		}
		p[0] ^= 0xff
		if err := b.WriteAt(ctx, k, p, start+off); err != nil {
			t.Fatal(err)
		}
		n++
	}
	return n
}

func (s *faulty) AbortImmutable(ctx context.Context, si lafs.StorageIndex, sh lafs.ShareNum, up lafs.UploadSecret) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	return s.StorageServer.AbortImmutable(ctx, si, sh, up)
}

func (s *faulty) AddOrRenewLease(ctx context.Context, si lafs.StorageIndex, l lafs.LeaseSecrets) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	return s.StorageServer.AddOrRenewLease(ctx, si, l)
}

func (s *faulty) AdviseCorruptMutable(ctx context.Context, si lafs.StorageIndex, sh lafs.ShareNum, reason string) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	return s.StorageServer.AdviseCorruptMutable(ctx, si, sh, reason)
}
