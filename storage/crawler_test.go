package storage

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/backend"
	"github.com/lafs/lafs/backend/disk"
	"github.com/lafs/lafs/backend/mem"
)

// eachBackend runs f on a memory backend, on one that can only be walked
// whole (a memory backend with its WalkPrefix hidden) and on a disk
// backend. open returns the backend; called again it returns the same
// shares, as a restarted node finds them (the disk is closed and opened
// anew).
func eachBackend(t *testing.T, f func(t *testing.T, open func() backend.Backend)) {
	t.Run("mem", func(t *testing.T) {
		m := mem.New()
		f(t, func() backend.Backend { return m })
	})
	t.Run("leasestore", func(t *testing.T) {
		b := &leasesOutside{mem.New(), newMemLeases()}
		f(t, func() backend.Backend { return b })
	})
	t.Run("walk", func(t *testing.T) {
		m := &walkCounter{Backend: mem.New()}
		f(t, func() backend.Backend { return m })
	})
	t.Run("disk", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "storage")
		var cur *disk.Disk
		t.Cleanup(func() {
			if cur != nil {
				cur.Close()
			}
		})
		f(t, func() backend.Backend {
			if cur != nil {
				if err := cur.Close(); err != nil {
					t.Fatal(err)
				}
			}
			d, err := disk.Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			cur = d
			return d
		})
	})
}

// runCycle runs slices until the cycle under way (or a new one) is over.
func runCycle(t *testing.T, s *Server) {
	t.Helper()
	for range 10 * NumPrefixes {
		done, err := s.crawl.slice(bg, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		s.crawl.save()
		if done {
			return
		}
	}
	t.Fatal("the cycle never ends")
}

// putImmutable uploads a whole immutable share.
func putImmutable(t *testing.T, s *Server, si lafs.StorageIndex, sh lafs.ShareNum, data []byte, ls lafs.LeaseSecrets) {
	t.Helper()
	res, err := s.AllocateBuckets(bg, si, ls, up, []lafs.ShareNum{sh}, uint64(len(data)))
	if err != nil || !slices.Contains(res.Allocated, sh) {
		t.Fatalf("allocating share %d of %v: %+v, %v", sh, si, res, err)
	}
	if w, err := s.WriteImmutable(bg, si, sh, up, 0, data); err != nil || !w.Done {
		t.Fatalf("writing share %d of %v: %+v, %v", sh, si, w, err)
	}
}

// putMutable writes a mutable share's data.
func putMutable(t *testing.T, s *Server, si lafs.StorageIndex, sh lafs.ShareNum, data []byte, ls lafs.LeaseSecrets) {
	t.Helper()
	tw := map[lafs.ShareNum]lafs.TestWriteVectors{sh: {Write: []lafs.WriteVector{{Offset: 0, Data: data}}}}
	if res, err := s.ReadTestWrite(bg, si, testWE, ls, tw, nil); err != nil || !res.Success {
		t.Fatalf("writing mutable share %d of %v: %+v, %v", sh, si, res, err)
	}
}

// object reads a whole committed object; nil if there is none.
func object(t *testing.T, b backend.Backend, si lafs.StorageIndex, sh lafs.ShareNum) []byte {
	t.Helper()
	k := backend.Key{SI: si, Share: sh}
	n, err := b.Size(bg, k)
	if errors.Is(err, backend.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, n)
	if _, err := b.ReadAt(bg, k, buf, 0); err != nil && n > 0 {
		t.Fatal(err)
	}
	return buf
}

// leasesOf returns the leases in use of a share; ok is false when there
// is no share.
func leasesOf(t *testing.T, b backend.Backend, si lafs.StorageIndex, sh lafs.ShareNum) (leases []Lease, ok bool) {
	t.Helper()
	c := object(t, b, si, sh)
	if c == nil {
		return nil, false
	}
	if store := leaseStoreOf(b); store != nil {
		if inside, _ := containerLeases(t, c, si, sh); len(inside) != 0 {
			t.Fatalf("share %d of %v: leases %v inside the container of a server with a lease store", sh, si, inside)
		}
		leases, err := store.Leases(bg, backend.Key{SI: si, Share: sh})
		if err != nil {
			t.Fatal(err)
		}
		return leases, true
	}
	return containerLeases(t, c, si, sh)
}

// containerLeases returns the leases inside container c.
func containerLeases(t *testing.T, c []byte, si lafs.StorageIndex, sh lafs.ShareNum) (leases []Lease, ok bool) {
	t.Helper()
	if MutableVersion(c) != 0 {
		m, err := ParseMutableContainer(c)
		if err != nil {
			t.Fatalf("mutable share %d of %v: %v", sh, si, err)
		}
		return m.Leases(), true
	}
	i, err := ParseImmutableContainer(c)
	if err != nil {
		t.Fatalf("immutable share %d of %v: %v", sh, si, err)
	}
	return i.Leases, true
}

var lease2 = lafs.LeaseSecrets{Renew: lafs.Secret{3}, Cancel: lafs.Secret{4}}

// The storage indexes of the expiry scenario.
var (
	siImmOld    = lafs.StorageIndex{0x10, 1} // immutable, one lease from t0
	siImmRenew  = lafs.StorageIndex{0x20, 2} // immutable, leases from t0 and renewAt
	siMutOld    = lafs.StorageIndex{0x30, 3} // mutable, one lease from t0
	siMutRenew  = lafs.StorageIndex{0x40, 4} // mutable, leases from t0 and renewAt
	siMutWrite  = lafs.StorageIndex{0x50, 5} // mutable, rewritten at renewAt
	siUploading = lafs.StorageIndex{0x60, 6} // an upload in progress at crawl time
)

var t0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

// expiryScenario fills a server: shares with leases granted at t0, some
// renewed at renewAt, and at crawlAt an upload still in progress.
func expiryScenario(t *testing.T, s *Server, clk *clock, renewAt, crawlAt time.Time) {
	t.Helper()
	clk.t = t0
	putImmutable(t, s, siImmOld, 0, []byte("old immutable"), lease)
	putImmutable(t, s, siImmRenew, 0, []byte("renewed immutable"), lease)
	putMutable(t, s, siMutOld, 0, []byte("old mutable"), lease)
	putMutable(t, s, siMutRenew, 0, []byte("renewed mutable"), lease)
	putMutable(t, s, siMutWrite, 0, []byte("mutable v1"), lease)
	clk.t = renewAt
	if err := s.AddOrRenewLease(bg, siImmRenew, lease2); err != nil {
		t.Fatal(err)
	}
	if err := s.AddOrRenewLease(bg, siMutRenew, lease2); err != nil {
		t.Fatal(err)
	}
	putMutable(t, s, siMutWrite, 0, []byte("mutable v2"), lease)
	clk.t = crawlAt
	res, err := s.AllocateBuckets(bg, siUploading, lease, up, []lafs.ShareNum{0}, 20)
	if err != nil || len(res.Allocated) != 1 {
		t.Fatalf("allocate: %+v, %v", res, err)
	}
	if _, err := s.WriteImmutable(bg, siUploading, 0, up, 0, make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
}

func TestCrawlExpiry(t *testing.T) {
	type leaseWant map[lafs.StorageIndex][]uint32 // expirations in use; nil: share gone
	exp := func(at time.Time) uint32 { return uint32(at.Add(LeaseDuration).Unix()) }
	cases := []struct {
		name             string
		cfg              ExpiryConfig
		renewAt, crawlAt time.Time
		want             leaseWant
		// deleted, expiredLeases: shares deleted (or that would be) and
		// leases expired by the rule; original: shares gone by the
		// leases' own terms.
		deleted, expiredLeases, original int64
		enabled                          bool
	}{
		{
			name: "age", cfg: ExpiryConfig{Enabled: true, Mode: ExpireAge},
			renewAt: t0.Add(20 * day), crawlAt: t0.Add(40 * day),
			want: leaseWant{siImmOld: nil, siImmRenew: {exp(t0.Add(20 * day))}, siMutOld: nil,
				siMutRenew: {exp(t0.Add(20 * day))}, siMutWrite: {exp(t0.Add(20 * day))}},
			deleted: 2, expiredLeases: 4, original: 2,
		},
		{
			name: "age with an override", cfg: ExpiryConfig{Enabled: true, OverrideLeaseDuration: 5 * day},
			renewAt: t0.Add(11 * day), crawlAt: t0.Add(12 * day),
			want: leaseWant{siImmOld: nil, siImmRenew: {exp(t0.Add(11 * day))}, siMutOld: nil,
				siMutRenew: {exp(t0.Add(11 * day))}, siMutWrite: {exp(t0.Add(11 * day))}},
			deleted: 2, expiredLeases: 4, original: 0,
		},
		{
			name: "age with a longer override keeps all", cfg: ExpiryConfig{Enabled: true, OverrideLeaseDuration: 60 * day},
			renewAt: t0.Add(20 * day), crawlAt: t0.Add(40 * day),
			want: leaseWant{siImmOld: {exp(t0)}, siImmRenew: {exp(t0), exp(t0.Add(20 * day))}, siMutOld: {exp(t0)},
				siMutRenew: {exp(t0), exp(t0.Add(20 * day))}, siMutWrite: {exp(t0.Add(20 * day))}},
			deleted: 0, expiredLeases: 0, original: 2,
		},
		{
			name: "cutoff date", cfg: ExpiryConfig{Enabled: true, Mode: ExpireCutoffDate, CutoffDate: t0.Add(10 * day)},
			renewAt: t0.Add(11 * day), crawlAt: t0.Add(12 * day),
			want: leaseWant{siImmOld: nil, siImmRenew: {exp(t0.Add(11 * day))}, siMutOld: nil,
				siMutRenew: {exp(t0.Add(11 * day))}, siMutWrite: {exp(t0.Add(11 * day))}},
			deleted: 2, expiredLeases: 4, original: 0,
		},
		{
			name: "disabled only counts", cfg: ExpiryConfig{Mode: ExpireAge},
			renewAt: t0.Add(20 * day), crawlAt: t0.Add(40 * day),
			want: leaseWant{siImmOld: {exp(t0)}, siImmRenew: {exp(t0), exp(t0.Add(20 * day))}, siMutOld: {exp(t0)},
				siMutRenew: {exp(t0), exp(t0.Add(20 * day))}, siMutWrite: {exp(t0.Add(20 * day))}},
			deleted: 2, expiredLeases: 4, original: 2,
		},
		{
			name: "immutable shares kept", cfg: ExpiryConfig{Enabled: true, KeepImmutable: true},
			renewAt: t0.Add(20 * day), crawlAt: t0.Add(40 * day),
			want: leaseWant{siImmOld: {exp(t0)}, siImmRenew: {exp(t0), exp(t0.Add(20 * day))}, siMutOld: nil,
				siMutRenew: {exp(t0.Add(20 * day))}, siMutWrite: {exp(t0.Add(20 * day))}},
			deleted: 1, expiredLeases: 2, original: 2,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			eachBackend(t, func(t *testing.T, open func() backend.Backend) {
				b := open()
				clk := &clock{}
				s := newTestServerOn(t, b, Config{Now: clk.now, Crawl: CrawlConfig{Expiry: c.cfg}})
				expiryScenario(t, s, clk, c.renewAt, c.crawlAt)
				runCycle(t, s)

				for si, want := range c.want {
					got, ok := leasesOf(t, b, si, 0)
					if want == nil {
						if ok {
							t.Errorf("%v: share kept with leases %v, want it deleted", si, got)
						}
						continue
					}
					if !ok {
						t.Errorf("%v: share deleted, want it kept with leases expiring %v", si, want)
						continue
					}
					var exps []uint32
					for _, l := range got {
						exps = append(exps, l.Expiration)
					}
					slices.Sort(exps)
					if !slices.Equal(exps, want) {
						t.Errorf("%v: leases expire at %v, want %v", si, exps, want)
					}
				}
				// A kept share is whole and served.
				if data, err := s.ReadImmutable(bg, siImmRenew, 0, 0, 100); err != nil || string(data) != "renewed immutable" {
					t.Errorf("kept immutable share reads %q, %v", data, err)
				}
				// The upload in progress was not touched and completes.
				if w, err := s.WriteImmutable(bg, siUploading, 0, up, 10, make([]byte, 10)); err != nil || !w.Done {
					t.Errorf("finishing the upload in progress: %+v, %v", w, err)
				}
				if got, _ := s.ListImmutable(bg, siUploading); !slices.Equal(got, []lafs.ShareNum{0}) {
					t.Errorf("the upload finished after the crawl lists %v", got)
				}

				st, err := s.Status(bg)
				if err != nil {
					t.Fatal(err)
				}
				last, ok := st.Crawler.LastCycle()
				if !ok || last.Cycle != 0 || st.Crawler.InProgress || st.Crawler.Cycle != 1 {
					t.Fatalf("after one cycle: %+v", st.Crawler)
				}
				r := last.Counts
				if r.Examined.All.Shares != 5 || r.Examined.All.Buckets != 5 || r.Examined.Immutable.Shares != 2 || r.Examined.Mutable.Shares != 3 {
					t.Errorf("examined %+v, want 5 shares in 5 buckets, 2 immutable", r.Examined)
				}
				if r.LeasesExamined.All != 7 || r.LeasesExpired.All != c.expiredLeases {
					t.Errorf("leases examined %d, expired %d; want 7 and %d", r.LeasesExamined.All, r.LeasesExpired.All, c.expiredLeases)
				}
				if r.Configured.All.Shares != c.deleted || r.Configured.All.Buckets != c.deleted {
					t.Errorf("configured rule: %+v, want %d shares and buckets", r.Configured.All, c.deleted)
				}
				if r.Original.All.Shares != c.original {
					t.Errorf("by the leases' own terms %d shares would go, want %d", r.Original.All.Shares, c.original)
				}
				wantActual, wantRemoved := c.deleted, c.expiredLeases
				if !c.cfg.Enabled {
					wantActual, wantRemoved = 0, 0
				}
				if r.Actual.All.Shares != wantActual || r.Actual.All.Buckets != wantActual || r.LeasesRemoved.All != wantRemoved {
					t.Errorf("deleted %+v and removed %d leases, want %d shares and %d leases", r.Actual.All, r.LeasesRemoved.All, wantActual, wantRemoved)
				}
				if r.Actual.All.ShareBytes != r.Actual.Immutable.ShareBytes+r.Actual.Mutable.ShareBytes ||
					r.Examined.All.ShareBytes == 0 || r.Examined.All.DiskBytes != r.Examined.All.ShareBytes {
					t.Errorf("byte counts %+v", r)
				}
				if st.Stats.SharesExpired != wantActual || st.Stats.LeasesExpired != wantRemoved || st.Stats.CrawlCycles != 1 || st.Stats.SharesExamined != 5 {
					t.Errorf("stats %+v", st.Stats)
				}
				if st.Shares != 5-wantActual || st.Buckets != 5-wantActual {
					t.Errorf("status holds %d shares in %d buckets, want %d", st.Shares, st.Buckets, 5-wantActual)
				}
			})
		})
	}
}

func TestCrawlPassesOverCorruptShares(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func() backend.Backend) {
		b := open()
		clk := &clock{t: t0}
		s := newTestServerOn(t, b, Config{Now: clk.now, Crawl: CrawlConfig{Expiry: ExpiryConfig{Enabled: true}}})
		bad := lafs.StorageIndex{0x77}
		put(t, b, bad, 1, []byte("no container"))
		putImmutable(t, s, bad, 2, []byte("fine"), lease)
		clk.t = t0.Add(100 * day)
		runCycle(t, s)
		st, _ := s.Status(bg)
		last, _ := st.Crawler.LastCycle()
		if !slices.Equal(last.Counts.CorruptShares, []ShareRef{{bad, 1}}) || last.Counts.CorruptCount != 1 {
			t.Errorf("corrupt shares %v (%d)", last.Counts.CorruptShares, last.Counts.CorruptCount)
		}
		if got, _ := b.List(bg, bad); !slices.Equal(got, []lafs.ShareNum{1}) {
			t.Errorf("left %v, want the corrupt share 1 kept and share 2 expired", got)
		}
		if last.Counts.Actual.All.Buckets != 0 || last.Counts.Actual.All.Shares != 1 {
			t.Errorf("deleted %+v: the bucket keeps its corrupt share", last.Counts.Actual.All)
		}
	})
}

// spreadSIs are storage indexes in pairs sharing a prefix, across many
// prefixes.
func spreadSIs(n int) []lafs.StorageIndex {
	var out []lafs.StorageIndex
	for i := range n {
		out = append(out, lafs.StorageIndex{byte(i / 2 * 9), byte(i % 2), 0xaa})
	}
	return out
}

func TestCrawlResumesAfterRestart(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func() backend.Backend) {
		state := filepath.Join(t.TempDir(), "crawler.json")
		cfg := Config{Crawl: CrawlConfig{StateFile: state, Pace: CrawlPace{Slice: time.Nanosecond}}}
		sis := spreadSIs(30)
		s1 := newTestServerOn(t, open(), cfg)
		for _, si := range sis {
			putImmutable(t, s1, si, 0, []byte("data"), lease)
		}
		// Slices of a nanosecond stop after every storage index: stop in
		// the middle of a pair, inside a prefix.
		for {
			if _, err := s1.crawl.slice(bg, time.Now()); err != nil {
				t.Fatal(err)
			}
			s1.crawl.save()
			if s1.crawl.status().SoFar.Examined.All.Shares == 13 {
				break
			}
		}
		before := s1.crawl.status()
		if s1.crawl.st.LastBucket == "" || !before.InProgress || before.Cycle != 0 {
			t.Fatalf("not stopped inside a prefix: %+v, last bucket %q", before, s1.crawl.st.LastBucket)
		}
		if before.PercentDone != 100*float64(before.PrefixesDone)/NumPrefixes || before.LastCompletePrefix != crawlPrefixes[before.PrefixesDone-1] {
			t.Errorf("progress %v%% after %d prefixes, last %q", before.PercentDone, before.PrefixesDone, before.LastCompletePrefix)
		}
		if before.TimeLeft < 0 || before.CycleTime < 0 {
			t.Errorf("no estimate after %d prefixes: %v left, %v per cycle", before.PrefixesDone, before.TimeLeft, before.CycleTime)
		}
		s1.Close()

		// The restarted server goes at its own pace: one slice a cycle.
		cfg.Crawl.Pace.Slice = time.Hour
		s2 := newTestServerOn(t, open(), cfg)
		after := s2.crawl.status()
		if !after.InProgress || after.Cycle != 0 || after.PrefixesDone != before.PrefixesDone || after.SoFar.Examined.All.Shares != 13 {
			t.Fatalf("restarted: %+v, want cycle 0 in progress after %d prefixes and 13 shares", after, before.PrefixesDone)
		}
		runCycle(t, s2)
		last, _ := s2.crawl.status().LastCycle()
		if last.Counts.Examined.All.Shares != 30 || last.Counts.Examined.All.Buckets != 30 {
			t.Fatalf("the cycle examined %+v, want each of the 30 shares once", last.Counts.Examined.All)
		}
		// The next cycle is number 1 and starts from the beginning.
		runCycle(t, s2)
		st := s2.crawl.status()
		if len(st.History) != 2 || st.History[1].Cycle != 1 || st.History[1].Counts.Examined.All.Shares != 30 {
			t.Fatalf("history %+v", st.History)
		}
	})
}

func TestCrawlStateUnreadableStartsAfresh(t *testing.T) {
	state := filepath.Join(t.TempDir(), "crawler.json")
	if err := os.WriteFile(state, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	s := newTestServer(t, mem.New(), Config{Logger: newTextLogger(&log), Crawl: CrawlConfig{StateFile: state}})
	if st := s.crawl.status(); st.InProgress || st.Cycle != 0 || len(st.History) != 0 {
		t.Fatalf("status %+v", st)
	}
	if !strings.Contains(log.String(), "starting afresh") {
		t.Errorf("log %q says nothing of the state file", log.String())
	}
	runCycle(t, s)
	b, err := os.ReadFile(state)
	if err != nil || !strings.Contains(string(b), `"last-cycle-finished":0`) {
		t.Fatalf("state file after a cycle: %s, %v", b, err)
	}
}

// walkCounter is a backend that counts the calls of Walk and hides any
// WalkPrefix of the backend it wraps.
type walkCounter struct {
	backend.Backend
	walks atomic.Int64
}

func (w *walkCounter) Walk(ctx context.Context, f func(lafs.StorageIndex) error) error {
	w.walks.Add(1)
	return w.Backend.Walk(ctx, f)
}

// prefixWalkCounter is a walkCounter that passes WalkPrefix through too,
// counting its calls.
type prefixWalkCounter struct {
	*walkCounter
	prefixWalks atomic.Int64
}

func (w *prefixWalkCounter) WalkPrefix(ctx context.Context, prefix string, f func(lafs.StorageIndex) error) error {
	w.prefixWalks.Add(1)
	return w.Backend.(backend.PrefixWalker).WalkPrefix(ctx, prefix, f)
}

var (
	_ backend.PrefixWalker = (*disk.Disk)(nil)
	_ backend.PrefixWalker = (*mem.Mem)(nil)
	_ backend.PrefixWalker = (*prefixWalkCounter)(nil)
)

// TestCrawlWalksPrefixByPrefix checks that the crawler reads a backend
// that can be walked prefix by prefix (disk, mem) only so, keeping no
// index of the whole backend, even across slices that stop inside a
// prefix and a restart; and that it walks another backend whole once per
// cycle, however many slices the cycle takes.
func TestCrawlWalksPrefixByPrefix(t *testing.T) {
	sis := spreadSIs(30)
	for _, wrap := range []struct {
		name   string
		prefix bool
	}{{"WalkPrefix", true}, {"Walk", false}} {
		t.Run(wrap.name, func(t *testing.T) {
			eachBackend(t, func(t *testing.T, open func() backend.Backend) {
				if _, ok := open().(backend.PrefixWalker); !ok {
					t.Skip("already walked whole only")
				}
				state := filepath.Join(t.TempDir(), "crawler.json")
				var wc *walkCounter
				var pc *prefixWalkCounter
				wrapped := func() backend.Backend {
					wc = &walkCounter{Backend: open()}
					if !wrap.prefix {
						return wc
					}
					pc = &prefixWalkCounter{walkCounter: wc}
					return pc
				}
				// Slices of a nanosecond stop after every storage index.
				cfg := Config{Crawl: CrawlConfig{StateFile: state, Pace: CrawlPace{Slice: time.Nanosecond}}}
				s1 := newTestServerOn(t, wrapped(), cfg)
				for _, si := range sis {
					putImmutable(t, s1, si, 0, []byte("data"), lease)
				}
				nSlices := 0
				for s1.crawl.status().SoFar.Examined.All.Shares < 13 {
					if _, err := s1.crawl.slice(bg, time.Now()); err != nil {
						t.Fatal(err)
					}
					nSlices++
				}
				if wrap.prefix && s1.crawl.index != nil {
					t.Errorf("the crawler keeps an index of %d prefixes", len(s1.crawl.index))
				}
				s1.crawl.save()
				s1.Close()
				before := wc.walks.Load()
				var prefixWalks int64
				if pc != nil {
					prefixWalks = pc.prefixWalks.Load()
				}

				s2 := newTestServerOn(t, wrapped(), cfg)
				for {
					done, err := s2.crawl.slice(bg, time.Now())
					if err != nil {
						t.Fatal(err)
					}
					nSlices++
					if wrap.prefix && s2.crawl.index != nil {
						t.Fatalf("the crawler keeps an index of %d prefixes", len(s2.crawl.index))
					}
					if done {
						break
					}
				}
				last, _ := s2.crawl.status().LastCycle()
				if last.Counts.Examined.All.Shares != 30 || last.Counts.Examined.All.Buckets != 30 {
					t.Fatalf("the cycle examined %+v, want each of the 30 shares once", last.Counts.Examined.All)
				}
				if nSlices < 30 {
					t.Fatalf("the cycle took %d slices, want one per storage index at least", nSlices)
				}
				walks := before + wc.walks.Load()
				if wrap.prefix {
					// Each prefix at least once; those with storage
					// indexes again after each slice that stopped in them.
					if n := prefixWalks + pc.prefixWalks.Load(); walks != 0 || n < NumPrefixes || n > NumPrefixes+int64(nSlices) {
						t.Errorf("the cycle called Walk %d times and WalkPrefix %d times, want 0 and %d to %d",
							walks, n, NumPrefixes, NumPrefixes+nSlices)
					}
				} else if before != 1 || walks != 2 {
					t.Errorf("the cycle walked the backend %d times before the restart and %d after, want once each", before, walks-before)
				}
			})
		})
	}
}

func TestCrawlPrefixes(t *testing.T) {
	if len(crawlPrefixes) != NumPrefixes || crawlPrefixes[0] != "22" || crawlPrefixes[NumPrefixes-1] != "zz" {
		t.Fatalf("prefixes %q ... %q", crawlPrefixes[0], crawlPrefixes[NumPrefixes-1])
	}
	seen := map[string]bool{}
	for _, p := range crawlPrefixes {
		seen[p] = true
	}
	for i := range 1 << 16 {
		si := lafs.StorageIndex{byte(i >> 8), byte(i)}
		if p := backend.Prefix(si); !seen[p] || !strings.HasPrefix(si.String(), p) {
			t.Fatalf("storage index %v has prefix %q", si, p)
		}
	}
}

// TestCrawlPaced runs the crawler as a node does, on a fake clock: it
// waits out its slow start, crawls, waits until MinCycle after the start
// of the cycle, and stops with its context, its state saved.
func TestCrawlPaced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		state := filepath.Join(t.TempDir(), "crawler.json")
		pace := CrawlPace{Fraction: 0.1, Slice: time.Second, SlowStart: 6 * time.Minute, MinCycle: 12 * time.Hour}
		s := newTestServer(t, mem.New(), Config{Crawl: CrawlConfig{StateFile: state, Pace: pace, Expiry: ExpiryConfig{Enabled: true}}})
		putImmutable(t, s, lafs.StorageIndex{1}, 0, []byte("x"), lease)
		start := time.Now()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- s.Crawl(ctx) }()
		synctest.Wait()
		st := s.crawl.status()
		if !st.Running || !st.Sleeping || !st.NextWork.Equal(start.Add(6*time.Minute)) || len(st.History) != 0 {
			t.Fatalf("during the slow start: %+v", st)
		}
		if err := s.Crawl(ctx); err == nil {
			t.Fatal("a second Crawl runs beside the first")
		}
		time.Sleep(6*time.Minute + time.Millisecond)
		synctest.Wait()
		st = s.crawl.status()
		if len(st.History) != 1 || st.InProgress || !st.Sleeping || !st.NextWork.Equal(start.Add(6*time.Minute+12*time.Hour)) {
			t.Fatalf("after the first cycle: %+v", st)
		}
		// 31 days on, the lease has expired and the second cycle after
		// that deletes the share.
		time.Sleep(31 * day)
		synctest.Wait()
		if got, _ := s.ListImmutable(bg, lafs.StorageIndex{1}); len(got) != 0 {
			t.Errorf("share with an expired lease still listed: %v", got)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		st = s.crawl.status()
		if st.Running || st.Cycle != 63 || len(st.History) != historyLength {
			t.Fatalf("after 31 days: cycle %d, %d cycles remembered, running %v", st.Cycle, len(st.History), st.Running)
		}
		b, err := os.ReadFile(state)
		if err != nil || !strings.Contains(string(b), `"last-cycle-finished":62`) {
			t.Fatalf("state file: %.200s, %v", b, err)
		}
	})
}
