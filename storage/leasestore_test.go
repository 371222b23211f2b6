package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/backend"
	"github.com/lafs/lafs/backend/mem"
	"github.com/lafs/lafs/storage/storagetest"
)

// memLeases is a LeaseStore in memory: a second, simple implementation
// beside package leasedb's, for the server's own tests. It keeps records
// encoded, as a real store does, so that the encoding is exercised too.
type memLeases struct {
	mu      sync.Mutex
	records map[backend.Key][]byte
}

func newMemLeases() *memLeases { return &memLeases{records: map[backend.Key][]byte{}} }

func (m *memLeases) Leases(ctx context.Context, k backend.Key) ([]Lease, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.records[k]
	if !ok {
		return nil, nil
	}
	_, leases, err := ParseLeaseRecord(r)
	return leases, err
}

func (m *memLeases) SetLeases(ctx context.Context, k backend.Key, info ShareInfo, leases []Lease) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.records[k] = AppendLeaseRecord(nil, info, leases)
	return nil
}

func (m *memLeases) DeleteLeases(ctx context.Context, k backend.Key) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.records, k)
	return nil
}

// info returns the ShareInfo recorded for k.
func (m *memLeases) info(k backend.Key) (ShareInfo, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.records[k]
	if !ok {
		return ShareInfo{}, false
	}
	info, _, _ := ParseLeaseRecord(r)
	return info, true
}

// leasesOutside is a memory backend whose server keeps its leases in a
// memLeases: newTestServerOn gives the server the store, and leasesOf
// reads the leases from it (and checks that the container holds none).
type leasesOutside struct {
	*mem.Mem
	store *memLeases
}

// leaseStoreOf returns the LeaseStore a test server on b uses, if any.
func leaseStoreOf(b backend.Backend) *memLeases {
	if lo, ok := b.(*leasesOutside); ok {
		return lo.store
	}
	return nil
}

func TestConformanceLeaseStore(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) lafs.StorageServer {
		b := &leasesOutside{mem.New(), newMemLeases()}
		return newTestServerOn(t, b, Config{NodeID: [20]byte{1, 2, 3}, AdvisoryDir: t.TempDir()})
	})
}

// TestLeaseStoreRecords: with a LeaseStore, containers carry no lease and
// the store holds each share's leases, kind and container size; a
// deleted share's record goes with it.
func TestLeaseStoreRecords(t *testing.T) {
	b := &leasesOutside{mem.New(), newMemLeases()}
	clk := &clock{t: t0}
	s := newTestServerOn(t, b, Config{Now: clk.now, NodeID: lafs.NodeID{7}})
	imm, mut := lafs.StorageIndex{1}, lafs.StorageIndex{2}
	putImmutable(t, s, imm, 0, []byte("immutable data"), lease)
	putMutable(t, s, mut, 0, []byte("mutable data"), lease)

	for _, c := range []struct {
		si      lafs.StorageIndex
		mutable bool
	}{{imm, false}, {mut, true}} {
		k := backend.Key{SI: c.si}
		raw := object(t, b, c.si, 0)
		info, ok := b.store.info(k)
		if !ok || info.Mutable != c.mutable || info.Size != int64(len(raw)) {
			t.Errorf("%v: recorded %+v (%v), want mutable %v and size %d", c.si, info, ok, c.mutable, len(raw))
		}
		if c.mutable {
			mc, err := ParseMutableContainer(raw)
			if err != nil || len(mc.Leases()) != 0 {
				t.Errorf("mutable container holds leases %v (%v)", mc.Leases(), err)
			}
		} else {
			ic, err := ParseImmutableContainer(raw)
			if err != nil || len(ic.Leases) != 0 || !bytes.Equal(ic.Data, []byte("immutable data")) {
				t.Errorf("immutable container %+v (%v), want the data and no lease", ic, err)
			}
		}
	}

	// Growing a mutable share updates its recorded size.
	putMutable(t, s, mut, 0, bytes.Repeat([]byte("x"), 1000), lease)
	if info, _ := b.store.info(backend.Key{SI: mut}); info.Size != int64(len(object(t, b, mut, 0))) {
		t.Errorf("after growing, recorded size %d, container %d", info.Size, len(object(t, b, mut, 0)))
	}
	// Deleting it by a zero new length removes the record.
	zero := uint64(0)
	tw := map[lafs.ShareNum]lafs.TestWriteVectors{0: {NewLength: &zero}}
	if res, err := s.ReadTestWrite(bg, mut, testWE, lease, tw, nil); err != nil || !res.Success {
		t.Fatalf("deleting the mutable share: %+v, %v", res, err)
	}
	if _, ok := b.store.info(backend.Key{SI: mut}); ok {
		t.Error("the deleted mutable share's lease record is still there")
	}
	// Too many leases are refused, not stored.
	ls, _ := b.store.Leases(bg, backend.Key{SI: imm})
	for len(ls) < maxStoredLeases {
		ls = append(ls, Lease{Owner: OwnerClient, RenewSecret: [32]byte{byte(len(ls)), byte(len(ls) >> 8), 9}, Expiration: 1})
	}
	b.store.SetLeases(bg, backend.Key{SI: imm}, ShareInfo{Size: 1}, ls)
	if err := s.AddOrRenewLease(bg, imm, lafs.LeaseSecrets{Renew: lafs.Secret{9, 9}}); err == nil {
		t.Error("a lease past the most a record holds was accepted")
	}
}

// failingCommit is a memory backend whose commits fail, to see that a
// lease recorded before a failed commit is taken back.
type failingCommit struct{ *leasesOutside }

type failingStaged struct{ backend.Staged }

func (f failingCommit) Create(ctx context.Context, k backend.Key, size int64) (backend.Staged, error) {
	st, err := f.leasesOutside.Create(ctx, k, size)
	return failingStaged{st}, err
}

func (f failingStaged) Commit(ctx context.Context) error {
	f.Staged.Abort()
	return backend.ErrNoSpace
}

func TestLeaseStoreFailedCommitLeavesNoRecord(t *testing.T) {
	lo := &leasesOutside{mem.New(), newMemLeases()}
	b := failingCommit{lo}
	s := newTestServerOn(t, b, Config{Leases: lo.store})
	si := lafs.StorageIndex{3}
	res, err := s.AllocateBuckets(bg, si, lease, up, []lafs.ShareNum{0}, 4)
	if err != nil || len(res.Allocated) != 1 {
		t.Fatalf("allocate: %+v, %v", res, err)
	}
	if _, err := s.WriteImmutable(bg, si, 0, up, 0, []byte("data")); err == nil {
		t.Fatal("the upload completed though its commit failed")
	}
	if _, ok := lo.store.info(backend.Key{SI: si}); ok {
		t.Error("a failed upload left a lease record")
	}
	tw := map[lafs.ShareNum]lafs.TestWriteVectors{1: {Write: []lafs.WriteVector{{Data: []byte("m")}}}}
	if _, err := s.ReadTestWrite(bg, si, testWE, lease, tw, nil); err == nil {
		t.Fatal("a new mutable share whose commit failed was reported written")
	}
	if _, ok := lo.store.info(backend.Key{SI: si, Share: 1}); ok {
		t.Error("a failed new mutable share left a lease record")
	}
	if got, _ := lo.List(bg, si); !slices.Equal(got, nil) && len(got) != 0 {
		t.Errorf("shares %v after failed commits", got)
	}
}

// TestLeaseStoreExpiry: the expirer reads leases from the store, removes
// the expired ones there, and deletes a share whose leases all expired
// together with its record.
func TestLeaseStoreExpiry(t *testing.T) {
	b := &leasesOutside{mem.New(), newMemLeases()}
	clk := &clock{}
	s := newTestServerOn(t, b, Config{Now: clk.now, Crawl: CrawlConfig{Expiry: ExpiryConfig{Enabled: true, Mode: ExpireAge}}})
	expiryScenario(t, s, clk, t0.Add(20*day), t0.Add(40*day))
	runCycle(t, s)
	for _, si := range []lafs.StorageIndex{siImmOld, siMutOld} {
		if _, ok := b.store.info(backend.Key{SI: si}); ok {
			t.Errorf("%v: the record of a share deleted by the expirer is still there", si)
		}
	}
	for _, si := range []lafs.StorageIndex{siImmRenew, siMutRenew, siMutWrite} {
		ls, _ := b.store.Leases(bg, backend.Key{SI: si})
		if len(ls) != 1 || ls[0].Expiration != uint32(t0.Add(20*day).Add(LeaseDuration).Unix()) {
			t.Errorf("%v: leases %+v, want only the one renewed on day 20", si, ls)
		}
	}
	// The upload in progress at crawl time has its record once complete.
	if w, err := s.WriteImmutable(bg, siUploading, 0, up, 10, make([]byte, 10)); err != nil || !w.Done {
		t.Fatalf("finishing the upload: %+v, %v", w, err)
	}
	if ls, _ := b.store.Leases(bg, backend.Key{SI: siUploading}); len(ls) != 1 {
		t.Errorf("the finished upload has leases %+v", ls)
	}
}

// unreadableLeases is a memLeases whose record of one share cannot be
// read.
type unreadableLeases struct {
	*memLeases
	bad *backend.Key
}

func (u unreadableLeases) Leases(ctx context.Context, k backend.Key) ([]Lease, error) {
	if u.bad != nil && k == *u.bad {
		return nil, errors.New("record unreadable")
	}
	return u.memLeases.Leases(ctx, k)
}

// TestLeaseStoreUnreadableRecordKeepsShare: a share whose leases cannot be
// read is neither deleted nor allowed to stop the crawl; the others are
// judged as usual.
func TestLeaseStoreUnreadableRecordKeepsShare(t *testing.T) {
	b := &leasesOutside{mem.New(), newMemLeases()}
	clk := &clock{t: t0}
	store := unreadableLeases{memLeases: b.store, bad: new(backend.Key)}
	s := newTestServerOn(t, b, Config{Now: clk.now, Leases: store, Crawl: CrawlConfig{Expiry: ExpiryConfig{Enabled: true, Mode: ExpireAge}}})
	expiryScenario(t, s, clk, t0.Add(20*day), t0.Add(40*day))
	*store.bad = backend.Key{SI: siImmOld}
	runCycle(t, s)
	if got, _ := b.List(bg, siImmOld); len(got) != 1 {
		t.Errorf("the share with the unreadable record: %v, want it kept", got)
	}
	if got, _ := b.List(bg, siMutOld); len(got) != 0 {
		t.Errorf("the expired mutable share: %v, want it deleted", got)
	}
}

// discardingBackend records the keys whose in-place changes were
// discarded.
type discardingBackend struct {
	*leasesOutside
	mu        sync.Mutex
	discarded []backend.Key
}

func (d *discardingBackend) Discard(k backend.Key) {
	d.mu.Lock()
	d.discarded = append(d.discarded, k)
	d.mu.Unlock()
}

// failingLeases is a memLeases whose SetLeases fails while fail is set.
type failingLeases struct {
	*memLeases
	fail bool
}

func (f *failingLeases) SetLeases(ctx context.Context, k backend.Key, info ShareInfo, leases []Lease) error {
	if f.fail {
		return errors.New("store down")
	}
	return f.memLeases.SetLeases(ctx, k, info, leases)
}

// TestMutableWriteFailureDiscards: a mutable write that fails after its
// shares were changed in place (here, its lease cannot be recorded) has
// the backend discard those changes, for a backend that keeps them apart
// until Sync; one that succeeds discards nothing.
func TestMutableWriteFailureDiscards(t *testing.T) {
	lo := &leasesOutside{mem.New(), newMemLeases()}
	b := &discardingBackend{leasesOutside: lo}
	store := &failingLeases{memLeases: lo.store}
	s := newTestServerOn(t, b, Config{Leases: store})
	si := lafs.StorageIndex{9}
	tw := map[lafs.ShareNum]lafs.TestWriteVectors{
		0: {Write: []lafs.WriteVector{{Data: []byte("zero")}}},
		1: {Write: []lafs.WriteVector{{Data: []byte("one")}}},
	}
	if res, err := s.ReadTestWrite(bg, si, testWE, lease, tw, nil); err != nil || !res.Success {
		t.Fatalf("first write: %+v, %v", res, err)
	}
	if len(b.discarded) != 0 {
		t.Fatalf("a write that succeeded discarded %v", b.discarded)
	}
	store.fail = true
	if _, err := s.ReadTestWrite(bg, si, testWE, lease, tw, nil); err == nil {
		t.Fatal("a write whose lease could not be recorded succeeded")
	}
	if !slices.Equal(b.discarded, []backend.Key{{SI: si, Share: 0}, {SI: si, Share: 1}}) {
		t.Errorf("discarded %v, want both shares", b.discarded)
	}
}

// TestLeaseLimitDoesNotBlockUploads: a share whose lease record is full
// (or unreadable) is still reported held to an upload, whose other
// shares are allocated as usual.
func TestLeaseLimitDoesNotBlockUploads(t *testing.T) {
	b := &leasesOutside{mem.New(), newMemLeases()}
	s := newTestServerOn(t, b, Config{})
	si := lafs.StorageIndex{0x21}
	putImmutable(t, s, si, 0, []byte("data"), lease)
	var full []Lease
	for i := range maxStoredLeases {
		full = append(full, Lease{Owner: OwnerClient, RenewSecret: [32]byte{byte(i), byte(i >> 8), 7}, Expiration: 1})
	}
	b.store.SetLeases(bg, backend.Key{SI: si}, ShareInfo{Size: 16}, full)
	res, err := s.AllocateBuckets(bg, si, lease2, up, []lafs.ShareNum{0, 1}, 4)
	if err != nil || !slices.Equal(res.AlreadyHave, []lafs.ShareNum{0}) || !slices.Equal(res.Allocated, []lafs.ShareNum{1}) {
		t.Fatalf("allocate beside a full lease record: %+v, %v", res, err)
	}
}

// staleIndex is a memLeases whose Leases answers an older state than its
// records (another copy of the node renewed a lease), and whose
// StoredLeases reads the records.
type staleIndex struct {
	*memLeases
	old map[backend.Key][]Lease
}

func (s *staleIndex) Leases(ctx context.Context, k backend.Key) ([]Lease, error) {
	if ls, ok := s.old[k]; ok {
		return ls, nil
	}
	return s.memLeases.Leases(ctx, k)
}

func (s *staleIndex) StoredLeases(ctx context.Context, k backend.Key) ([]Lease, error) {
	return s.memLeases.Leases(ctx, k)
}

// TestExpiryChecksRecordsBeforeDeleting: the expirer does not delete a
// share whose index says its leases expired while its record holds a
// lease renewed since.
func TestExpiryChecksRecordsBeforeDeleting(t *testing.T) {
	b := &leasesOutside{mem.New(), newMemLeases()}
	clk := &clock{t: t0}
	store := &staleIndex{memLeases: b.store, old: map[backend.Key][]Lease{}}
	s := newTestServerOn(t, b, Config{Now: clk.now, Leases: store, Crawl: CrawlConfig{Expiry: ExpiryConfig{Enabled: true, Mode: ExpireAge}}})
	putImmutable(t, s, siImmOld, 0, []byte("renewed elsewhere"), lease)
	k := backend.Key{SI: siImmOld}
	store.old[k], _ = b.store.Leases(bg, k) // the index stays at day 0
	clk.t = t0.Add(20 * day)
	if err := s.AddOrRenewLease(bg, siImmOld, lease); err != nil {
		t.Fatal(err)
	}
	clk.t = t0.Add(40 * day)
	runCycle(t, s)
	if got, _ := b.List(bg, siImmOld); len(got) != 1 {
		t.Fatal("the expirer deleted a share whose record holds a valid lease")
	}
}

// TestMigrateUnreadableLeases: a share whose lease record cannot be read
// is reported failed, and the others are copied.
func TestMigrateUnreadableLeases(t *testing.T) {
	src := &leasesOutside{mem.New(), newMemLeases()}
	s := newTestServerOn(t, src, Config{})
	putImmutable(t, s, lafs.StorageIndex{0x31}, 0, []byte("fine"), lease)
	putImmutable(t, s, lafs.StorageIndex{0x32}, 0, []byte("unreadable"), lease)
	bad := backend.Key{SI: lafs.StorageIndex{0x32}}
	store := unreadableLeases{memLeases: src.store, bad: &bad}
	var failed []backend.Key
	p, err := Migrate(bg, Shares{Backend: src, Leases: &wrapUnknown{store}}, Shares{Backend: mem.New()}, nil, func(k backend.Key, err error) { failed = append(failed, k) })
	if err != nil || p.Shares != 1 || p.Failed != 1 || !slices.Equal(failed, []backend.Key{bad}) {
		t.Fatalf("%+v, %v, failed %v", p, err, failed)
	}
}

// wrapUnknown makes unreadableLeases' errors wrap ErrLeasesUnknown, as
// leasedb's do.
type wrapUnknown struct{ unreadableLeases }

func (w *wrapUnknown) Leases(ctx context.Context, k backend.Key) ([]Lease, error) {
	ls, err := w.unreadableLeases.Leases(ctx, k)
	if err != nil {
		err = fmt.Errorf("%w: %v", ErrLeasesUnknown, err)
	}
	return ls, err
}

// corruptCopy is a memory backend in which one object fails its
// integrity check until it is deleted.
type corruptCopy struct {
	*mem.Mem
	bad *backend.Key
}

func (c corruptCopy) Size(ctx context.Context, k backend.Key) (int64, error) {
	if c.bad != nil && k == *c.bad {
		return 0, fmt.Errorf("sealed object: %w", backend.ErrCorrupt)
	}
	return c.Mem.Size(ctx, k)
}

func (c corruptCopy) Delete(ctx context.Context, k backend.Key) error {
	if c.bad != nil && k == *c.bad {
		*c.bad = backend.Key{SI: lafs.StorageIndex{0xff}}
	}
	return c.Mem.Delete(ctx, k)
}

// TestMigrateReplacesDamagedCopy: a copy at the destination that fails
// its integrity check is replaced, not reported on every run.
func TestMigrateReplacesDamagedCopy(t *testing.T) {
	src := mem.New()
	s := newTestServerOn(t, src, Config{})
	si := lafs.StorageIndex{0x41}
	putImmutable(t, s, si, 0, []byte("data"), lease)
	dst := corruptCopy{Mem: mem.New(), bad: &backend.Key{SI: si}}
	st, _ := dst.Mem.Create(bg, backend.Key{SI: si}, 3)
	st.WriteAt([]byte("bad"), 0)
	st.Commit(bg)
	p, err := Migrate(bg, Shares{Backend: src}, Shares{Backend: dst}, nil, nil)
	if err != nil || p.Shares != 1 || p.Failed != 0 {
		t.Fatalf("%+v, %v; want the damaged copy replaced", p, err)
	}
	s2 := newTestServerOn(t, dst.Mem, Config{})
	if got, err := s2.ReadImmutable(bg, si, 0, 0, 10); err != nil || string(got) != "data" {
		t.Fatalf("the copy reads %q, %v", got, err)
	}
}
