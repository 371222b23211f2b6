package storage

import (
	"strings"
	"testing"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/backend/mem"
)

// TestExpiryLeasesOnUploadAndRenewal: an upload, a mutable write and
// add-lease each give a lease of 31 days from their time, which a renewal
// with the same secret extends and another secret adds to.
func TestExpiryLeasesOnUploadAndRenewal(t *testing.T) {
	b := mem.New()
	clk := &clock{t: t0}
	s := newTestServer(t, b, Config{Now: clk.now, NodeID: lafs.NodeID{7}})
	imm, mut := lafs.StorageIndex{1}, lafs.StorageIndex{2}
	putImmutable(t, s, imm, 0, []byte("data"), lease)
	putMutable(t, s, mut, 0, []byte("data"), lease)
	at := func(d time.Duration) uint32 { return uint32(t0.Add(d).Add(LeaseDuration).Unix()) }
	check := func(when string, si lafs.StorageIndex, want ...uint32) {
		t.Helper()
		got, _ := leasesOf(t, b, si, 0)
		var exps []uint32
		for _, l := range got {
			exps = append(exps, l.Expiration)
		}
		if len(exps) != len(want) {
			t.Fatalf("%s: leases %v, want %v", when, exps, want)
		}
		for i := range want {
			if exps[i] != want[i] {
				t.Fatalf("%s: leases %v, want %v", when, exps, want)
			}
		}
	}
	check("after the upload", imm, at(0))
	check("after the mutable write", mut, at(0))
	if got, _ := leasesOf(t, b, imm, 0); got[0].Owner != OwnerUpload || !got[0].HasRenewSecret(lease.Renew, true) {
		t.Errorf("upload lease %+v", got[0])
	}
	if got, _ := leasesOf(t, b, mut, 0); got[0].Owner != OwnerClient || got[0].NodeID != (lafs.NodeID{7}) {
		t.Errorf("mutable lease %+v", got[0])
	}

	clk.t = t0.Add(10 * day)
	for _, si := range []lafs.StorageIndex{imm, mut} {
		if err := s.AddOrRenewLease(bg, si, lease); err != nil {
			t.Fatal(err)
		}
	}
	check("after renewal", imm, at(10*day))
	check("after renewal", mut, at(10*day))

	clk.t = t0.Add(12 * day)
	for _, si := range []lafs.StorageIndex{imm, mut} {
		if err := s.AddOrRenewLease(bg, si, lease2); err != nil {
			t.Fatal(err)
		}
	}
	check("after another client's lease", imm, at(10*day), at(12*day))
	check("after another client's lease", mut, at(10*day), at(12*day))

	clk.t = t0.Add(15 * day)
	putMutable(t, s, mut, 0, []byte("new data"), lease2)
	check("after a write renewing the second lease", mut, at(10*day), at(15*day))

	// An allocation of a share already held renews its lease too.
	clk.t = t0.Add(16 * day)
	res, err := s.AllocateBuckets(bg, imm, lease, up, []lafs.ShareNum{0}, 4)
	if err != nil || len(res.AlreadyHave) != 1 {
		t.Fatalf("allocate of a held share: %+v, %v", res, err)
	}
	check("after a repeated upload", imm, at(16*day), at(12*day))

	// A clock set back never shortens a lease.
	clk.t = t0
	if err := s.AddOrRenewLease(bg, imm, lease); err != nil {
		t.Fatal(err)
	}
	check("after a renewal with the clock set back", imm, at(16*day), at(12*day))
}

func TestExpiryJudge(t *testing.T) {
	now := t0.Add(40 * day)
	l := func(granted time.Time) Lease { return Lease{Expiration: uint32(granted.Add(LeaseDuration).Unix())} }
	cases := []struct {
		name                 string
		cfg                  ExpiryConfig
		lease                Lease
		original, configured bool
	}{
		{"age: 40 days old", ExpiryConfig{}, l(t0), true, true},
		{"age: 31 days to the second", ExpiryConfig{}, l(now.Add(-LeaseDuration)), true, false},
		{"age: 30 days old", ExpiryConfig{}, l(now.Add(-30 * day)), false, false},
		{"override 60 days: 40 days old", ExpiryConfig{OverrideLeaseDuration: 60 * day}, l(t0), true, false},
		{"override 7 days: 8 days old", ExpiryConfig{OverrideLeaseDuration: 7 * day}, l(now.Add(-8 * day)), false, true},
		{"cutoff: before", ExpiryConfig{Mode: ExpireCutoffDate, CutoffDate: now.Add(-5 * day)}, l(now.Add(-6 * day)), false, true},
		{"cutoff: after", ExpiryConfig{Mode: ExpireCutoffDate, CutoffDate: now.Add(-5 * day)}, l(now.Add(-4 * day)), false, false},
		{"cutoff: at", ExpiryConfig{Mode: ExpireCutoffDate, CutoffDate: now.Add(-5 * day)}, l(now.Add(-5 * day)), false, false},
	}
	for _, c := range cases {
		o, g := c.cfg.judge(c.lease, now)
		if o != c.original || g != c.configured {
			t.Errorf("%s: expired by its term %v, by the rule %v; want %v, %v", c.name, o, g, c.original, c.configured)
		}
	}
}

func TestExpiryConfigRejected(t *testing.T) {
	cases := []struct {
		name string
		cfg  CrawlConfig
		want string
	}{
		{"unknown mode", CrawlConfig{Expiry: ExpiryConfig{Mode: "size"}}, `mode "size"`},
		{"cutoff without a date", CrawlConfig{Expiry: ExpiryConfig{Mode: ExpireCutoffDate}}, "cutoff date"},
		{"negative override", CrawlConfig{Expiry: ExpiryConfig{OverrideLeaseDuration: -day}}, "override lease duration"},
		{"fraction above 1", CrawlConfig{Pace: CrawlPace{Fraction: 2}}, "pace"},
		{"negative slow start", CrawlConfig{Pace: CrawlPace{SlowStart: -1}}, "pace"},
	}
	for _, c := range cases {
		_, err := New(mem.New(), Config{Crawl: c.cfg})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error about %s", c.name, err, c.want)
		}
	}
}
