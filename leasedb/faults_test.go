package leasedb

import (
	"context"
	"errors"
	"testing"

	"github.com/lafs/lafs/backend"
	"github.com/lafs/lafs/backend/mem"
	"github.com/lafs/lafs/storage"
)

// TestIndexBehindStore: when the index write of a SetLeases fails after
// the record reached the store (a full local disk), the share's leases
// are read from the store from then on, not from the stale index, and the
// next good write brings the index back.
func TestIndexBehindStore(t *testing.T) {
	e := newEnv(t)
	s := e.open(t)
	defer s.Close()
	k := key(1, 0)
	putShare(t, e.m, k, 10)
	must(t, s.SetLeases(ctx, k, storage.ShareInfo{Size: 10}, []storage.Lease{lease(1)}))
	w := s.w
	s.w = s.r // query_only: the index write fails, as on a full disk
	if err := s.SetLeases(ctx, k, storage.ShareInfo{Size: 10}, []storage.Lease{lease(2)}); err == nil {
		t.Fatal("SetLeases succeeded with an index that cannot be written")
	}
	s.w = w
	wantLeases(t, s, k, []storage.Lease{lease(2)}, "after the index write failed")
	must(t, s.SetLeases(ctx, k, storage.ShareInfo{Size: 10}, []storage.Lease{lease(2), lease(3)}))
	if s.isStale(k) {
		t.Error("a good write left the share stale")
	}
	wantLeases(t, s, k, []storage.Lease{lease(2), lease(3)}, "after a good write")
}

// corruptBackend is a memory backend in which some objects and records
// fail their integrity check, and reads of records may fail for a while.
type corruptBackend struct {
	*memBackend
	corruptShare  backend.Key
	corruptRecord string
	failReads     bool
}

type memBackend = mem.Mem

func (c *corruptBackend) Size(ctx context.Context, k backend.Key) (int64, error) {
	if k == c.corruptShare {
		return 0, errCorruptTest
	}
	return c.memBackend.Size(ctx, k)
}

func (c *corruptBackend) GetRecord(ctx context.Context, name string) ([]byte, error) {
	if c.failReads {
		return nil, errors.New("503 slow down")
	}
	if name == c.corruptRecord {
		return nil, errCorruptTest
	}
	return c.memBackend.GetRecord(ctx, name)
}

var errCorruptTest = errors.Join(errors.New("object failed authentication"), backend.ErrCorrupt)

// TestRebuildPassesOverCorruptObjects: a share container and a record
// that fail their integrity check, and an altered epoch record, do not
// keep the index from being rebuilt (and the node from starting); the
// share is indexed with its record kept, reported unreadable.
func TestRebuildPassesOverCorruptObjects(t *testing.T) {
	e := newEnv(t)
	s := e.open(t)
	fill(t, e.m, s, 6)
	must(t, s.Close())
	removeIndex(t, e.path)
	c := &corruptBackend{memBackend: e.m, corruptShare: key(2, 2), corruptRecord: recordName(key(3, 3))}
	must(t, e.m.PutRecord(ctx, EpochRecord, []byte("x")))
	// The epoch record, too, reads as altered.
	c2 := &epochCorrupt{c}
	s, err := Open(ctx, e.path, c2, c2, e.options())
	if err != nil {
		t.Fatalf("one bad object kept the index from opening: %v", err)
	}
	defer s.Close()
	if p := e.lastRebuild(t, 2); p.Unreadable != 2 {
		t.Errorf("rebuild reported %d unreadable, want 2 (a container and a record)", p.Unreadable)
	}
	if _, err := s.Leases(ctx, key(3, 3)); !errors.Is(err, ErrUnreadableRecord) {
		t.Errorf("the share of the altered record: %v, want ErrUnreadableRecord", err)
	}
	if _, err := c.memBackend.GetRecord(ctx, recordName(key(3, 3))); err != nil {
		t.Errorf("the altered record was not kept: %v", err)
	}
	wantLeases(t, s, key(4, 0), leasesOf(4), "a sound share")
}

// epochCorrupt makes the epoch record read as altered.
type epochCorrupt struct{ *corruptBackend }

func (e *epochCorrupt) GetRecord(ctx context.Context, name string) ([]byte, error) {
	if name == EpochRecord {
		return nil, errCorruptTest
	}
	return e.corruptBackend.GetRecord(ctx, name)
}

// TestRebuildFailsOnStoreErrors: a record that cannot be read for a
// failure of the store (not an integrity failure) fails the rebuild, so
// that the next start tries again, rather than marking it unreadable for
// good.
func TestRebuildFailsOnStoreErrors(t *testing.T) {
	e := newEnv(t)
	s := e.open(t)
	fill(t, e.m, s, 3)
	must(t, s.Close())
	removeIndex(t, e.path)
	c := &corruptBackend{memBackend: e.m}
	c.failReads = true
	if s, err := Open(ctx, e.path, c, c, e.options()); err == nil {
		s.Close()
		t.Fatal("a rebuild met a failing store and succeeded")
	}
	c.failReads = false
	s, err := Open(ctx, e.path, c, c, e.options())
	must(t, err)
	defer s.Close()
	check(t, s, 3, "after the store recovered")
	if st := stats(t, s); st.UnreadableRecords != 0 {
		t.Errorf("%d records marked unreadable after a transient failure", st.UnreadableRecords)
	}
}
