package leasedb_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/backend"
	"github.com/lafs/lafs/backend/mem"
	"github.com/lafs/lafs/backend/s3"
	"github.com/lafs/lafs/internal/s3test"
	"github.com/lafs/lafs/leasedb"
	"github.com/lafs/lafs/storage"
)

// gcBackend is a backend that is also a RecordStore, as backend/s3 and
// backend/mem are.
type gcBackend interface {
	backend.Backend
	backend.RecordStore
}

// clock is a settable clock shared by the server and the index.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// runGCScenario is the proof over b: shares get leases of
// different ages, the node's lease index is deleted, the node starts again
// and rebuilds it from the store, and one crawl with expiry enabled then
// deletes exactly the shares whose leases all expired, and the expired
// leases of the others, and nothing else.
func runGCScenario(t *testing.T, b gcBackend) {
	ctx := context.Background()
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "leasedb.sqlite")
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := &clock{t: t0}
	day := 24 * time.Hour

	open := func(expire bool) (*storage.Server, *leasedb.Store) {
		t.Helper()
		idx, err := leasedb.Open(ctx, dbPath, b, b, leasedb.Options{Now: clk.now})
		if err != nil {
			t.Fatal(err)
		}
		cfg := storage.Config{Now: clk.now, Leases: idx, NodeID: lafs.NodeID{9},
			Crawl: storage.CrawlConfig{Pace: storage.CrawlPace{Fraction: 1}, Expiry: storage.ExpiryConfig{Enabled: expire, Mode: storage.ExpireAge}}}
		s, err := storage.New(b, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return s, idx
	}
	s, idx := open(false)
	secrets := func(n byte) lafs.LeaseSecrets {
		return lafs.LeaseSecrets{Renew: lafs.Secret{n, 1}, Cancel: lafs.Secret{n, 2}}
	}
	we := lafs.Secret{0xee}
	putImm := func(si lafs.StorageIndex, ls lafs.LeaseSecrets) {
		t.Helper()
		res, err := s.AllocateBuckets(ctx, si, ls, []byte("up"), []lafs.ShareNum{0, 1}, 100)
		if err != nil || len(res.Allocated) != 2 {
			t.Fatalf("allocate: %+v, %v", res, err)
		}
		for _, sh := range res.Allocated {
			if w, err := s.WriteImmutable(ctx, si, sh, []byte("up"), 0, make([]byte, 100)); err != nil || !w.Done {
				t.Fatalf("write: %+v, %v", w, err)
			}
		}
	}
	putMut := func(si lafs.StorageIndex, ls lafs.LeaseSecrets) {
		t.Helper()
		tw := map[lafs.ShareNum]lafs.TestWriteVectors{0: {Write: []lafs.WriteVector{{Data: []byte("mutable")}}}}
		if res, err := s.ReadTestWrite(ctx, si, we, ls, tw, nil); err != nil || !res.Success {
			t.Fatalf("writev: %+v, %v", res, err)
		}
	}
	var (
		immOld   = lafs.StorageIndex{0x10, 1} // one lease from day 0: deleted
		immKept  = lafs.StorageIndex{0x20, 2} // leases from day 0 and day 20: the old one removed
		mutOld   = lafs.StorageIndex{0x30, 3} // one lease from day 0: deleted
		mutKept  = lafs.StorageIndex{0x40, 4} // renewed on day 20: kept
		immFresh = lafs.StorageIndex{0x50, 5} // uploaded on day 20: kept
	)
	putImm(immOld, secrets(1))
	putImm(immKept, secrets(2))
	putMut(mutOld, secrets(3))
	putMut(mutKept, secrets(4))
	clk.set(t0.Add(20 * day))
	if err := s.AddOrRenewLease(ctx, immKept, secrets(5)); err != nil {
		t.Fatal(err)
	}
	if err := s.AddOrRenewLease(ctx, mutKept, secrets(4)); err != nil {
		t.Fatal(err)
	}
	putImm(immFresh, secrets(6))
	s.Close()
	if err := idx.Close(); err != nil {
		t.Fatal(err)
	}

	// The node loses its local state: the index goes.
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(dbPath + suffix)
	}
	clk.set(t0.Add(40 * day))
	s, idx = open(true)
	defer idx.Close()
	defer s.Close()
	st, err := idx.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Shares != 8 || st.Leases != 10 || st.RebuildReason == "" {
		t.Fatalf("rebuilt index: %+v, want 8 shares with 10 leases", st)
	}

	crawlCtx, stop := context.WithCancel(ctx)
	crawled := make(chan error, 1)
	go func() { crawled <- s.Crawl(crawlCtx) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, err := s.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := status.Crawler.LastCycle(); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the crawler never finished a cycle")
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	<-crawled

	want := map[lafs.StorageIndex][]lafs.ShareNum{immKept: {0, 1}, mutKept: {0}, immFresh: {0, 1}}
	for _, si := range []lafs.StorageIndex{immOld, immKept, mutOld, mutKept, immFresh} {
		got, err := b.List(ctx, si)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want[si]) {
			t.Errorf("%v: shares %v after GC, want %v", si, got, want[si])
		}
		for _, sh := range got {
			ls, err := idx.Leases(ctx, backend.Key{SI: si, Share: sh})
			if err != nil || len(ls) != 1 {
				t.Errorf("%v/%d: leases %+v (%v) after GC, want the one from day 20", si, sh, ls, err)
			}
		}
	}
	// The deleted shares' records are gone from the store too.
	var names []string
	b.WalkRecords(ctx, "leases/", func(name string) error { names = append(names, name); return nil })
	if len(names) != 5 {
		t.Errorf("%d lease records after GC, want 5: %v", len(names), names)
	}
	if st, _ := idx.Stats(ctx); st.Shares != 5 || st.Leases != 5 {
		t.Errorf("index after GC: %+v, want 5 shares with 5 leases", st)
	}
}

func TestGCAfterRebuildMem(t *testing.T) { runGCScenario(t, mem.New()) }

// TestGCAfterRebuildS3 runs the scenario over a real S3 server: the shares
// and the lease records live in the bucket, the index alone on the node.
func TestGCAfterRebuildS3(t *testing.T) {
	srv := s3test.Start(t)
	b, err := s3.Open(context.Background(), s3.Config{
		Endpoint: srv.Endpoint, Bucket: srv.Bucket, Prefix: s3test.Prefix(), PathStyle: true,
		AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, SealKey: [32]byte{1, 2, 3},
		StagingDir: filepath.Join(t.TempDir(), "staging"), NodeID: "gc-test",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	runGCScenario(t, b)
}
