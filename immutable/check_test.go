package immutable_test

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/backend"
	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/immutable"
	"github.com/lafs/lafs/internal/tahoevec"
	"github.com/lafs/lafs/internal/testgrid"
)

// uploadTo stores data on g and returns its read cap and verify cap.
func uploadTo(t *testing.T, g lafs.Peers, data []byte) (*cap.CHK, *cap.CHKVerifier) {
	t.Helper()
	res, err := immutable.Upload(context.Background(), g, bytes.NewReader(data), int64(len(data)), opts)
	if err != nil {
		t.Fatal(err)
	}
	c := res.Cap.(*cap.CHK)
	return c, c.Verifier().(*cap.CHKVerifier)
}

// shareHolder returns the index of a server of g that holds share sh of si.
func shareHolder(t *testing.T, g *testgrid.Grid, si lafs.StorageIndex, sh lafs.ShareNum) int {
	t.Helper()
	for i, s := range g.Storage {
		have, err := s.ListImmutable(context.Background(), si)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(have, sh) {
			return i
		}
	}
	t.Fatalf("no server holds share %d", sh)
	return -1
}

// deleteShare removes share sh of si from server i's backend.
func deleteShare(t *testing.T, g *testgrid.Grid, i int, si lafs.StorageIndex, sh lafs.ShareNum) {
	t.Helper()
	if err := g.Backends[i].Delete(context.Background(), backend.Key{SI: si, Share: sh}); err != nil {
		t.Fatal(err)
	}
}

func check(t *testing.T, g lafs.Peers, v *cap.CHKVerifier, o lafs.CheckOptions) *lafs.CheckResult {
	t.Helper()
	r, err := immutable.Check(context.Background(), g.ServersFor(v.StorageIndex), v, opts.LeaseSecret, o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func repair(t *testing.T, g lafs.Peers, v *cap.CHKVerifier, verify bool) *lafs.RepairResult {
	t.Helper()
	r, err := immutable.CheckAndRepair(context.Background(), g, v, immutable.RepairOptions{
		LeaseSecret: opts.LeaseSecret, Check: lafs.CheckOptions{Verify: verify, Repair: true}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestCheckHealthy(t *testing.T) {
	g := testgrid.New(t, 10)
	_, v := uploadTo(t, g, randomData(300<<10, 1))
	for _, verify := range []bool{false, true} {
		r := check(t, g, v, lafs.CheckOptions{Verify: verify})
		if !r.Healthy || !r.Recoverable || r.Summary != "Healthy" || r.GoodShares != 10 || r.Happiness != 10 ||
			r.GoodShareHosts != 10 || len(r.ServersResponding) != 10 || len(r.ShareMap) != 10 || len(r.Corrupt) != 0 ||
			r.SharesNeeded != 3 || r.SharesExpected != 10 || r.RecoverableVersions != 1 || r.UnrecoverableVersions != 0 {
			t.Errorf("verify=%v: %+v", verify, r)
		}
	}
	rr := repair(t, g, v, true)
	if rr.Attempted || rr.Successful || rr.PostRepair != rr.PreRepair {
		t.Errorf("repair of a healthy file: %+v", rr)
	}
}

func TestCheckAndRepairMissingShare(t *testing.T) {
	g := testgrid.New(t, 10)
	data := randomData(1<<20+7, 2)
	c, v := uploadTo(t, g, data)
	i := shareHolder(t, g, v.StorageIndex, 4)
	deleteShare(t, g, i, v.StorageIndex, 4)
	r := check(t, g, v, lafs.CheckOptions{})
	if r.Healthy || !r.Recoverable || r.GoodShares != 9 || r.Summary != "Not Healthy: 9 shares (enc 3-of-10)" {
		t.Fatalf("check: %+v", r)
	}
	rr := repair(t, g, v, false)
	if !rr.Attempted || !rr.Successful || !rr.PostRepair.Healthy || rr.PostRepair.Happiness != 10 {
		t.Fatalf("repair: %+v\npost %+v", rr, rr.PostRepair)
	}
	want := lafs.ShareLocation{Server: g.Servers[i].ID, StorageIndex: v.StorageIndex, Num: 4}
	if len(rr.Placed) != 1 || rr.Placed[0] != want {
		t.Errorf("placed %v, want share 4 back on the server that lost it (the only one holding none)", rr.Placed)
	}
	if r := check(t, g, v, lafs.CheckOptions{Verify: true}); !r.Healthy || len(r.Corrupt) != 0 {
		t.Errorf("verify after repair: %+v", r)
	}
	// Only the new share: three others down, and the file reads.
	for _, sh := range []lafs.ShareNum{0, 1, 2} {
		g.Faults[shareHolder(t, g, v.StorageIndex, sh)].Set(func(f *testgrid.Faults) { f.Offline = true })
	}
	got, err := download(t, g, c)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("download after repair: %v", err)
	}
}

func TestVerifyFindsAndRepairReplacesCorruptShare(t *testing.T) {
	g := testgrid.New(t, 12)
	data := randomData(500<<10, 3)
	c, v := uploadTo(t, g, data)
	// A byte of share 0's last block.
	if n := g.FlipShare(t, v.StorageIndex, 0, false, 0x24+int64(len(data)/3)-10); n != 1 {
		t.Fatalf("damaged %d copies", n)
	}
	bad := shareHolder(t, g, v.StorageIndex, 0)
	if r := check(t, g, v, lafs.CheckOptions{}); !r.Healthy {
		t.Fatalf("a plain check believes the servers: %+v", r)
	}
	r := check(t, g, v, lafs.CheckOptions{Verify: true})
	wantBad := []lafs.ShareLocation{{Server: g.Servers[bad].ID, StorageIndex: v.StorageIndex, Num: 0}}
	if r.Healthy || r.GoodShares != 9 || !slices.Equal(r.Corrupt, wantBad) {
		t.Fatalf("verify: %+v", r)
	}
	if !slices.Contains(g.Faults[bad].Advised(), 0) {
		t.Errorf("the server was not told: advised %v", g.Faults[bad].Advised())
	}
	rr := repair(t, g, v, true)
	if !rr.Attempted || !rr.Successful || rr.PostRepair.GoodShares != 10 {
		t.Fatalf("repair: %+v\npost %+v", rr, rr.PostRepair)
	}
	if len(rr.Placed) != 1 || rr.Placed[0].Num != 0 {
		t.Fatalf("placed %v", rr.Placed)
	}
	// The good copy went to a server holding nothing of the file.
	for i, s := range g.Servers {
		if s.ID == rr.Placed[0].Server {
			have, _ := g.Storage[i].ListImmutable(context.Background(), v.StorageIndex)
			if len(have) != 1 {
				t.Errorf("share 0 placed on a server holding %v", have)
			}
		}
	}
	if r := check(t, g, v, lafs.CheckOptions{Verify: true}); r.GoodShares != 10 || r.Happiness != 10 {
		t.Errorf("verify after repair: %+v", r)
	}
	got, err := download(t, g, c)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("download after repair: %v", err)
	}
}

func TestCheckWithFrozenServer(t *testing.T) {
	g := testgrid.New(t, 10)
	_, v := uploadTo(t, g, randomData(200<<10, 4))
	frozen := shareHolder(t, g, v.StorageIndex, 7)
	g.Faults[frozen].Set(func(f *testgrid.Faults) { f.Delay = time.Hour })
	start := time.Now()
	r := check(t, g, v, lafs.CheckOptions{Verify: true})
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("check with a frozen server took %v", took)
	}
	if r.GoodShares != 9 || len(r.ServersResponding) != 9 || len(r.Report) == 0 {
		t.Errorf("check: %+v", r)
	}
	start = time.Now()
	rr := repair(t, g, v, false)
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("repair with a frozen server took %v", took)
	}
	if !rr.Successful || rr.PostRepair.GoodShares != 10 {
		t.Errorf("repair: %+v\npost %+v", rr, rr.PostRepair)
	}
}

func TestRepairUnrecoverable(t *testing.T) {
	g := testgrid.New(t, 10)
	_, v := uploadTo(t, g, randomData(100<<10, 5))
	for sh := lafs.ShareNum(0); sh < 8; sh++ {
		deleteShare(t, g, shareHolder(t, g, v.StorageIndex, sh), v.StorageIndex, sh)
	}
	r := check(t, g, v, lafs.CheckOptions{})
	if r.Recoverable || r.GoodShares != 2 || r.UnrecoverableVersions != 1 || r.RecoverableVersions != 0 {
		t.Fatalf("check: %+v", r)
	}
	rr := repair(t, g, v, false)
	if !rr.Attempted || rr.Successful || len(rr.Placed) != 0 || rr.PostRepair.GoodShares != 2 {
		t.Errorf("repair: %+v", rr)
	}
}

// TestRepairRebuildsTahoeShares deletes shares of the files a live Tahoe
// 1.20 grid wrote and checks that the repair rebuilds them byte for byte.
func TestRepairRebuildsTahoeShares(t *testing.T) {
	tg := tahoevec.LoadGrid(t)
	ctx := context.Background()
	tested := 0
	for _, o := range tg.Objects {
		if o.Kind != "chk" || tested >= 3 {
			continue
		}
		parsed, err := cap.Parse(o.Cap)
		if err != nil {
			t.Fatal(err)
		}
		v := parsed.(*cap.CHK).Verifier().(*cap.CHKVerifier)
		g := testgrid.New(t, 12)
		orig := map[lafs.ShareNum][]byte{}
		for _, s := range o.Shares {
			data, err := tahoevec.ImmutableShareData(s.Container)
			if err != nil {
				t.Fatal(err)
			}
			sh := lafs.ShareNum(s.ShNum)
			orig[sh] = data
			st := g.Servers[s.ShNum].Storage
			secret := lafs.UploadSecret(bytes.Repeat([]byte{byte(sh)}, 32))
			if _, err := st.AllocateBuckets(ctx, v.StorageIndex, lafs.LeaseSecrets{}, secret, []lafs.ShareNum{sh}, uint64(len(data))); err != nil {
				t.Fatal(err)
			}
			if _, err := st.WriteImmutable(ctx, v.StorageIndex, sh, secret, 0, data); err != nil {
				t.Fatal(err)
			}
		}
		tested++
		for _, sh := range []lafs.ShareNum{1, 9} {
			deleteShare(t, g, int(sh), v.StorageIndex, sh)
		}
		rr := repair(t, g, v, true)
		if !rr.Successful || len(rr.Placed) != 2 {
			t.Fatalf("%s: repair %+v\npost %+v", o.Note, rr, rr.PostRepair)
		}
		for _, l := range rr.Placed {
			for _, s := range g.Servers {
				if s.ID != l.Server {
					continue
				}
				got, err := s.Storage.ReadImmutable(ctx, v.StorageIndex, l.Num, 0, 1<<30)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, orig[l.Num]) {
					t.Errorf("%s: rebuilt share %d differs from Tahoe's (%d vs %d bytes)", o.Note, l.Num, len(got), len(orig[l.Num]))
				}
			}
		}
	}
	if tested == 0 {
		t.Fatal("no CHK objects in tahoe120_grid.json")
	}
}

// TestVerifyWithServerFrozenAfterListing: a server that lists its shares
// and then never answers a read costs a verify seconds: its share is given
// up on once it is late against the others.
func TestVerifyWithServerFrozenAfterListing(t *testing.T) {
	g := testgrid.New(t, 10)
	_, v := uploadTo(t, g, randomData(600<<10, 6))
	slow := shareHolder(t, g, v.StorageIndex, 2)
	g.Faults[slow].Set(func(f *testgrid.Faults) { f.ReadDelay = time.Hour })
	start := time.Now()
	r := check(t, g, v, lafs.CheckOptions{Verify: true})
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("verify with a server frozen after its listing took %v", took)
	}
	if r.GoodShares != 9 || len(r.Corrupt) != 0 || len(r.ServersResponding) != 10 {
		t.Errorf("verify: %+v", r)
	}
}
