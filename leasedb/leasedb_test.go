package leasedb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/backend"
	"github.com/lafs/lafs/backend/mem"
	"github.com/lafs/lafs/storage"
)

var ctx = context.Background()

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// env is a backend in memory and the path of an index beside it.
type env struct {
	m    *mem.Mem
	path string
	// rebuilds collects the final progress report of every rebuild.
	rebuilds []RebuildProgress
	reports  int
}

func newEnv(t *testing.T) *env {
	return &env{m: mem.New(), path: filepath.Join(t.TempDir(), "leasedb.sqlite")}
}

func (e *env) options() Options {
	return Options{Progress: func(p RebuildProgress) {
		e.reports++
		if p.Done {
			e.rebuilds = append(e.rebuilds, p)
		}
	}}
}

// open opens the store and fails the test on error.
func (e *env) open(t *testing.T) *Store {
	t.Helper()
	s, err := Open(ctx, e.path, e.m, e.m, e.options())
	must(t, err)
	return s
}

// lastRebuild returns the final report of the last rebuild, failing the
// test if there were not want rebuilds in all.
func (e *env) lastRebuild(t *testing.T, want int) RebuildProgress {
	t.Helper()
	if len(e.rebuilds) != want {
		t.Fatalf("%d rebuilds, want %d", len(e.rebuilds), want)
	}
	if want == 0 {
		return RebuildProgress{}
	}
	return e.rebuilds[want-1]
}

func key(i int, n lafs.ShareNum) backend.Key {
	var si lafs.StorageIndex
	si[0], si[1], si[15] = byte(i), byte(i>>8), 0x5a
	return backend.Key{SI: si, Share: n}
}

// putShare commits a share container of size bytes under k.
func putShare(t testing.TB, b backend.Backend, k backend.Key, size int) {
	t.Helper()
	st, err := b.Create(ctx, k, int64(size))
	must(t, err)
	must(t, st.WriteAt(bytes.Repeat([]byte{byte(k.Share)}, size), 0))
	must(t, st.Commit(ctx))
}

// lease returns a lease that differs with seed.
func lease(seed int) storage.Lease {
	l := storage.Lease{Owner: storage.OwnerClient, Expiration: uint32(1_800_000_000 + seed)}
	for i := range l.RenewSecret {
		l.RenewSecret[i] = byte(seed + i)
		l.CancelSecret[i] = byte(seed*3 + i)
	}
	for i := range l.NodeID {
		l.NodeID[i] = byte(seed*7 + i)
	}
	return l
}

// wantLeases checks that s has want for k.
func wantLeases(t testing.TB, s *Store, k backend.Key, want []storage.Lease, when string) {
	t.Helper()
	got, err := s.Leases(ctx, k)
	if err != nil {
		t.Errorf("%s: Leases(%s): %v", when, shareName(k), err)
		return
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s: Leases(%s) = %d leases %v\nwant %d %v", when, shareName(k), len(got), got, len(want), want)
	}
}

func stats(t testing.TB, s *Store) Stats {
	t.Helper()
	st, err := s.Stats(ctx)
	must(t, err)
	return st
}

// fill stores n shares (those not there yet) with records: share i has
// i%3 leases, and is mutable when i is odd.
func fill(t testing.TB, b backend.Backend, s *Store, n int) {
	t.Helper()
	for i := range n {
		k := key(i, lafs.ShareNum(i%4))
		if _, err := b.Size(ctx, k); errors.Is(err, backend.ErrNotExist) {
			putShare(t, b, k, 100+i)
		}
		must(t, s.SetLeases(ctx, k, storage.ShareInfo{Mutable: i%2 == 1, Size: int64(100 + i)}, leasesOf(i)))
	}
}

func leasesOf(i int) []storage.Lease {
	var ls []storage.Lease
	for j := range i % 3 {
		ls = append(ls, lease(i*10+j))
	}
	return ls
}

// check verifies that s holds what fill stored.
func check(t testing.TB, s *Store, n int, when string) {
	t.Helper()
	for i := range n {
		wantLeases(t, s, key(i, lafs.ShareNum(i%4)), leasesOf(i), when)
	}
	st := stats(t, s)
	var leases, bytes int64
	for i := range n {
		leases += int64(i % 3)
		bytes += int64(100 + i)
	}
	if st.Shares != int64(n) || st.MutableShares != int64(n/2) || st.ImmutableShares != int64(n-n/2) ||
		st.UnknownShares != 0 || st.Leases != leases || st.Bytes != bytes || st.SharesWithoutRecord != 0 {
		t.Errorf("%s: Stats = %+v, want %d shares (%d mutable), %d leases, %d bytes", when, st, n, n/2, leases, bytes)
	}
}

// removeIndex deletes the index file and its companions.
func removeIndex(t testing.TB, path string) {
	t.Helper()
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(path + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	e := newEnv(t)
	s := e.open(t)
	defer s.Close()
	if p := e.lastRebuild(t, 1); p.Shares != 0 || p.Records != 0 {
		t.Errorf("rebuild of an empty store: %+v", p)
	}
	if fi, err := os.Stat(e.path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("index file: %v, %v; want mode 0600", fi.Mode(), err)
	}

	k1, k2, k3 := key(1, 0), key(1, 3), key(2, 0)
	wantLeases(t, s, k1, nil, "no record")
	l1 := []storage.Lease{lease(1), lease(2)}
	must(t, s.SetLeases(ctx, k1, storage.ShareInfo{Size: 1000}, l1))
	must(t, s.SetLeases(ctx, k2, storage.ShareInfo{Mutable: true, Size: 2000}, nil))
	must(t, s.SetLeases(ctx, k3, storage.ShareInfo{Mutable: true, Size: 3000}, []storage.Lease{lease(3)}))
	wantLeases(t, s, k1, l1, "after SetLeases")
	wantLeases(t, s, k2, nil, "after SetLeases of none")
	wantLeases(t, s, k3, []storage.Lease{lease(3)}, "after SetLeases")
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if fi, err := os.Stat(e.path + suffix); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("index file%s: %v, %v; want mode 0600", suffix, fi.Mode(), err)
		}
	}

	// The record in the store is the authority.
	rec, err := e.m.GetRecord(ctx, "leases/"+k1.SI.String()+"/0")
	must(t, err)
	info, got, err := storage.ParseLeaseRecord(rec)
	if err != nil || info != (storage.ShareInfo{Size: 1000}) || !slices.Equal(got, l1) {
		t.Errorf("record of k1: %+v %v %v", info, got, err)
	}
	if _, err := e.m.GetRecord(ctx, "leases/"+k2.SI.String()+"/3"); err != nil {
		t.Errorf("record of a share with no leases: %v", err)
	}

	l1b := []storage.Lease{lease(2), lease(4), lease(1)}
	must(t, s.SetLeases(ctx, k1, storage.ShareInfo{Size: 1000}, l1b))
	wantLeases(t, s, k1, l1b, "after replacing leases")

	st := stats(t, s)
	if st.Shares != 3 || st.MutableShares != 2 || st.ImmutableShares != 1 || st.Leases != 4 || st.Bytes != 6000 ||
		st.SharesWithoutRecord != 0 || st.RebuildReason != "the index is missing" || st.LastRebuild.IsZero() {
		t.Errorf("Stats = %+v", st)
	}

	must(t, s.DeleteLeases(ctx, k1))
	wantLeases(t, s, k1, nil, "after DeleteLeases")
	if _, err := e.m.GetRecord(ctx, "leases/"+k1.SI.String()+"/0"); !errors.Is(err, backend.ErrNotExist) {
		t.Errorf("record after DeleteLeases: %v", err)
	}
	must(t, s.DeleteLeases(ctx, k1))
	if st := stats(t, s); st.Shares != 2 || st.Leases != 1 {
		t.Errorf("Stats after DeleteLeases = %+v", st)
	}

	// The epoch of the index and of the store agree.
	epoch, err := e.m.GetRecord(ctx, EpochRecord)
	must(t, err)
	meta, err := readMeta(ctx, s.r)
	must(t, err)
	if meta["epoch"] != string(epoch) || len(epoch) != 32 || meta["clean"] != "0" {
		t.Errorf("index meta %v, store epoch %q", meta, epoch)
	}

	must(t, s.Close())
	must(t, s.Close())
	if _, err := s.Leases(ctx, k2); !errors.Is(err, ErrClosed) {
		t.Errorf("Leases after Close: %v", err)
	}
	if err := s.SetLeases(ctx, k2, storage.ShareInfo{}, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("SetLeases after Close: %v", err)
	}
}

func TestCleanReopen(t *testing.T) {
	e := newEnv(t)
	s := e.open(t)
	fill(t, e.m, s, 20)
	must(t, s.Close())
	s = e.open(t)
	defer s.Close()
	e.lastRebuild(t, 1) // only the first Open's
	check(t, s, 20, "after a clean reopen")
}

func TestIndexDeleted(t *testing.T) {
	e := newEnv(t)
	s := e.open(t)
	fill(t, e.m, s, 30)
	must(t, s.Close())
	removeIndex(t, e.path)

	s = e.open(t)
	defer s.Close()
	if p := e.lastRebuild(t, 2); p.Shares != 30 || p.Records != 30 || p.Orphans != 0 || p.Unreadable != 0 {
		t.Errorf("rebuild: %+v", p)
	}
	check(t, s, 30, "after rebuilding a deleted index")
	if st := stats(t, s); st.RebuildReason != "the index is missing" {
		t.Errorf("RebuildReason = %q", st.RebuildReason)
	}
}

func TestIndexUnreadable(t *testing.T) {
	for _, tc := range []struct {
		name, reason string
		spoil        func(t *testing.T, path string)
	}{
		{"junk", "unreadable", func(t *testing.T, path string) {
			removeIndex(t, path)
			must(t, os.WriteFile(path, bytes.Repeat([]byte("not a database\n"), 1000), 0o600))
		}},
		{"empty", "unreadable", func(t *testing.T, path string) {
			removeIndex(t, path)
			must(t, os.WriteFile(path, nil, 0o644))
		}},
		{"schema", `schema version "99"`, func(t *testing.T, path string) {
			db, err := openDB(ctx, "file:"+path)
			must(t, err)
			defer db.Close()
			must(t, setMeta(ctx, db, "schema", "99"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			s := e.open(t)
			fill(t, e.m, s, 10)
			must(t, s.Close())
			tc.spoil(t, e.path)

			s = e.open(t)
			defer s.Close()
			e.lastRebuild(t, 2)
			check(t, s, 10, "after rebuilding a spoiled index")
			if st := stats(t, s); !strings.Contains(st.RebuildReason, tc.reason) {
				t.Errorf("RebuildReason = %q, want it to mention %q", st.RebuildReason, tc.reason)
			}
			if fi, err := os.Stat(e.path); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("index file: %v, %v; want mode 0600", fi.Mode(), err)
			}
		})
	}
}

func TestIndexRestoredFromCopy(t *testing.T) {
	e := newEnv(t)
	s := e.open(t)
	fill(t, e.m, s, 10)
	must(t, s.Close())
	old, err := os.ReadFile(e.path)
	must(t, err)

	// The node runs on: more shares, leases changed, a share deleted.
	s = e.open(t)
	fill(t, e.m, s, 20)
	k := key(3, 3)
	must(t, s.SetLeases(ctx, k, storage.ShareInfo{Mutable: true, Size: 103}, []storage.Lease{lease(99)}))
	must(t, s.Close())

	removeIndex(t, e.path)
	must(t, os.WriteFile(e.path, old, 0o600))
	s = e.open(t)
	defer s.Close()
	e.lastRebuild(t, 2)
	wantLeases(t, s, k, []storage.Lease{lease(99)}, "after restoring an old index")
	if st := stats(t, s); st.Shares != 20 || !strings.Contains(st.RebuildReason, "epoch") {
		t.Errorf("Stats = %+v", st)
	}
}

func TestStoreEpochMissing(t *testing.T) {
	e := newEnv(t)
	s := e.open(t)
	fill(t, e.m, s, 5)
	must(t, s.Close())
	must(t, e.m.DeleteRecord(ctx, EpochRecord))
	s = e.open(t)
	defer s.Close()
	e.lastRebuild(t, 2)
	check(t, s, 5, "after the store lost its epoch")
}

func TestUncleanClose(t *testing.T) {
	e := newEnv(t)
	s := e.open(t)
	fill(t, e.m, s, 10)
	// A crash after the record was written, before the index was.
	k := key(5, 1)
	must(t, e.m.PutRecord(ctx, recordName(k), storage.AppendLeaseRecord(nil, storage.ShareInfo{Mutable: true, Size: 105}, []storage.Lease{lease(7)})))
	s.closeUnclean()

	s = e.open(t)
	defer s.Close()
	e.lastRebuild(t, 2)
	wantLeases(t, s, k, []storage.Lease{lease(7)}, "after a crash")
	if st := stats(t, s); st.RebuildReason != "the index was not closed cleanly" {
		t.Errorf("RebuildReason = %q", st.RebuildReason)
	}
}

// failingRecords is a RecordStore whose writes fail while fail is set.
type failingRecords struct {
	backend.RecordStore
	fail atomic.Bool
}

var errInjected = errors.New("injected failure")

func (f *failingRecords) PutRecord(ctx context.Context, name string, data []byte) error {
	if f.fail.Load() {
		return errInjected
	}
	return f.RecordStore.PutRecord(ctx, name, data)
}

func (f *failingRecords) DeleteRecord(ctx context.Context, name string) error {
	if f.fail.Load() {
		return errInjected
	}
	return f.RecordStore.DeleteRecord(ctx, name)
}

// TestFailedWrite: a write to the store that failed may have landed, so
// the index is not marked clean at Close and is rebuilt at the next Open.
func TestFailedWrite(t *testing.T) {
	e := newEnv(t)
	fr := &failingRecords{RecordStore: e.m}
	s, err := Open(ctx, e.path, fr, e.m, e.options())
	must(t, err)
	fill(t, e.m, s, 5)
	fr.fail.Store(true)
	if err := s.SetLeases(ctx, key(1, 1), storage.ShareInfo{}, nil); !errors.Is(err, errInjected) {
		t.Errorf("SetLeases with the store failing: %v", err)
	}
	fr.fail.Store(false)
	must(t, s.Close())
	s = e.open(t)
	defer s.Close()
	e.lastRebuild(t, 2)
	check(t, s, 5, "after a failed write")
}

func TestOrphanRecords(t *testing.T) {
	e := newEnv(t)
	s := e.open(t)
	fill(t, e.m, s, 10)
	// Records written before a crash that came before their shares
	// were committed.
	var orphans []string
	for i := 100; i < 105; i++ {
		k := key(i, 2)
		must(t, s.SetLeases(ctx, k, storage.ShareInfo{Size: 10}, []storage.Lease{lease(i)}))
		orphans = append(orphans, recordName(k))
	}
	must(t, s.Close())
	removeIndex(t, e.path)

	s = e.open(t)
	defer s.Close()
	if p := e.lastRebuild(t, 2); p.Orphans != 5 || p.Records != 15 || p.Shares != 10 {
		t.Errorf("rebuild: %+v", p)
	}
	for _, name := range orphans {
		if _, err := e.m.GetRecord(ctx, name); !errors.Is(err, backend.ErrNotExist) {
			t.Errorf("orphan record %s: %v, want it removed", name, err)
		}
	}
	check(t, s, 10, "after removing orphans")
}

func TestShareWithoutRecord(t *testing.T) {
	e := newEnv(t)
	s := e.open(t)
	fill(t, e.m, s, 4)
	k := key(50, 7)
	putShare(t, e.m, k, 777)
	must(t, s.Rebuild(ctx))
	defer s.Close()
	if p := e.lastRebuild(t, 2); p.Shares != 5 || p.Records != 4 {
		t.Errorf("rebuild: %+v", p)
	}
	wantLeases(t, s, k, nil, "a share without a record")
	st := stats(t, s)
	if st.Shares != 5 || st.SharesWithoutRecord != 1 || st.UnknownShares != 1 || st.Bytes != 100+101+102+103+777 ||
		st.RebuildReason != "requested" {
		t.Errorf("Stats = %+v", st)
	}
	// Its first lease gives it a record and a kind.
	must(t, s.SetLeases(ctx, k, storage.ShareInfo{Size: 777}, []storage.Lease{lease(1)}))
	if st := stats(t, s); st.SharesWithoutRecord != 0 || st.UnknownShares != 0 || st.ImmutableShares != 3 {
		t.Errorf("Stats after SetLeases = %+v", st)
	}
}

func TestUnreadableRecord(t *testing.T) {
	e := newEnv(t)
	s := e.open(t)
	fill(t, e.m, s, 6)
	k := key(2, 2) // a share fill made
	junk := []byte("\x07 not a lease record")
	must(t, e.m.PutRecord(ctx, recordName(k), junk))
	odd := "leases/" + k.SI.String() + "/007"
	must(t, e.m.PutRecord(ctx, odd, []byte("odd")))
	must(t, s.Rebuild(ctx))
	defer s.Close()

	if p := e.lastRebuild(t, 2); p.Unreadable != 2 || p.Orphans != 0 || p.Records != 7 {
		t.Errorf("rebuild: %+v", p)
	}
	for name, want := range map[string][]byte{recordName(k): junk, odd: []byte("odd")} {
		if got, err := e.m.GetRecord(ctx, name); err != nil || !bytes.Equal(got, want) {
			t.Errorf("unreadable record %s after rebuild: %q, %v; want it kept", name, got, err)
		}
	}
	if _, err := s.Leases(ctx, k); !errors.Is(err, ErrUnreadableRecord) {
		t.Errorf("Leases of a share with an unreadable record: %v, want %v", err, ErrUnreadableRecord)
	}
	wantLeases(t, s, key(1, 1), leasesOf(1), "a neighbour of an unreadable record")
	st := stats(t, s)
	if st.Shares != 6 || st.UnreadableRecords != 1 || st.UnknownShares != 1 || st.SharesWithoutRecord != 0 {
		t.Errorf("Stats = %+v", st)
	}
}

func TestProgress(t *testing.T) {
	const n = 1100
	e := newEnv(t)
	// What fill stores, straight into the store.
	for i := range n {
		k := key(i, lafs.ShareNum(i%4))
		putShare(t, e.m, k, 100+i)
		must(t, e.m.PutRecord(ctx, recordName(k), storage.AppendLeaseRecord(nil,
			storage.ShareInfo{Mutable: i%2 == 1, Size: int64(100 + i)}, leasesOf(i))))
	}
	s := e.open(t)
	defer s.Close()
	// 2200 items: reports at 1000 and 2000 at least, and the last.
	if e.reports < 3 {
		t.Errorf("%d progress reports for %d items", e.reports, 2*n)
	}
	if p := e.lastRebuild(t, 1); p.Shares != n || p.Records != n || !p.Done {
		t.Errorf("last report: %+v", p)
	}
	check(t, s, n, "after a large rebuild")
}

// cancelingRecords cancels a context after reading some records.
type cancelingRecords struct {
	backend.RecordStore
	after  int
	cancel context.CancelFunc
	reads  int
}

func (c *cancelingRecords) GetRecord(ctx context.Context, name string) ([]byte, error) {
	if name != EpochRecord {
		if c.reads++; c.reads == c.after {
			c.cancel()
		}
	}
	return c.RecordStore.GetRecord(ctx, name)
}

func TestInterruptedRebuild(t *testing.T) {
	e := newEnv(t)
	s := e.open(t)
	fill(t, e.m, s, 40)
	for i := 100; i < 110; i++ {
		must(t, s.SetLeases(ctx, key(i, 0), storage.ShareInfo{}, nil)) // orphans to be
	}
	must(t, s.Close())
	removeIndex(t, e.path)

	for _, after := range []int{1, 7, 33} {
		cctx, cancel := context.WithCancel(ctx)
		cr := &cancelingRecords{RecordStore: e.m, after: after, cancel: cancel}
		_, err := Open(cctx, e.path, cr, e.m, e.options())
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Open canceled after %d records: %v", after, err)
		}
	}
	s = e.open(t)
	defer s.Close()
	check(t, s, 40, "after interrupted rebuilds")
	if st := stats(t, s); !strings.Contains(st.RebuildReason, "did not finish") {
		t.Errorf("RebuildReason = %q", st.RebuildReason)
	}
	var left []string
	must(t, e.m.WalkRecords(ctx, "leases/", func(name string) error { left = append(left, name); return nil }))
	if len(left) != 40 {
		t.Errorf("%d records left, want 40", len(left))
	}
}

func TestRebuildFailed(t *testing.T) {
	e := newEnv(t)
	s := e.open(t)
	defer s.Close()
	fill(t, e.m, s, 5)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Rebuild(cctx); err == nil {
		t.Fatal("Rebuild with a canceled context succeeded")
	}
	if _, err := s.Leases(ctx, key(1, 1)); !errors.Is(err, ErrIncomplete) {
		t.Errorf("Leases after a failed Rebuild: %v, want %v", err, ErrIncomplete)
	}
	must(t, s.Rebuild(ctx))
	check(t, s, 5, "after a second Rebuild")
}

func TestConcurrent(t *testing.T) {
	e := newEnv(t)
	s := e.open(t)
	const workers, each = 8, 30
	var wg sync.WaitGroup
	for g := range workers {
		wg.Go(func() {
			for i := range each {
				k := key(g*each+i, lafs.ShareNum(g))
				ls := []storage.Lease{lease(g*each + i)}
				if err := s.SetLeases(ctx, k, storage.ShareInfo{Mutable: g%2 == 0, Size: int64(i)}, ls); err != nil {
					t.Error(err)
					return
				}
				if got, err := s.Leases(ctx, k); err != nil || !slices.Equal(got, ls) {
					t.Errorf("Leases(%s) = %v, %v", shareName(k), got, err)
				}
				if _, err := s.Stats(ctx); err != nil {
					t.Error(err)
				}
				if i%5 == 4 {
					if err := s.DeleteLeases(ctx, k); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	want := workers * (each - each/5)
	if st := stats(t, s); st.Shares != int64(want) || st.Leases != int64(want) {
		t.Errorf("Stats = %+v, want %d shares and leases", st, want)
	}
	must(t, s.Close())
}

func TestRecordName(t *testing.T) {
	k := key(300, 12)
	name := recordName(k)
	if !backend.ValidRecordName(name) {
		t.Fatalf("recordName = %q, not a valid record name", name)
	}
	if got, ok := parseRecordName(name); !ok || got != k {
		t.Errorf("parseRecordName(%q) = %v, %v", name, got, ok)
	}
	si := k.SI.String()
	for _, bad := range []string{
		"leases/" + si, "leases/" + si + "/", "leases/" + si + "/01", "leases/" + si + "/-1",
		"leases/" + si + "/65536", "leases/" + si + "/1/2", "leases/" + si[:25] + "/1", "other/" + si + "/1",
		"leases/" + strings.ToUpper(si) + "/1",
	} {
		if got, ok := parseRecordName(bad); ok {
			t.Errorf("parseRecordName(%q) = %v, want refused", bad, got)
		}
	}
}

func ExampleOpen() {
	m := mem.New() // a backend.Backend that is also a backend.RecordStore
	dir, _ := os.MkdirTemp("", "leasedb")
	defer os.RemoveAll(dir)
	s, err := Open(context.Background(), filepath.Join(dir, "leasedb.sqlite"), m, m, Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	st, _ := s.Stats(context.Background())
	fmt.Println(st.Shares, st.RebuildReason)
	// Output: 0 the index is missing
}
