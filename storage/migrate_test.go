package storage

import (
	"bytes"
	"slices"
	"testing"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/backend"
	"github.com/lafs/lafs/backend/mem"
)

// TestMigrateRoundTrip: shares and leases move from containers (Tahoe's
// format) to a lease store and back; a second run copies nothing again;
// the server on each side serves the same data and leases.
func TestMigrateRoundTrip(t *testing.T) {
	clk := &clock{t: t0}
	disk1 := mem.New()
	s1 := newTestServerOn(t, disk1, Config{Now: clk.now, NodeID: lafs.NodeID{7}})
	imm, mut, big := lafs.StorageIndex{0x11}, lafs.StorageIndex{0x22}, lafs.StorageIndex{0x33}
	putImmutable(t, s1, imm, 0, []byte("immutable data"), lease)
	putImmutable(t, s1, imm, 3, []byte("immutable data 3"), lease)
	putMutable(t, s1, mut, 1, []byte("mutable data"), lease)
	bigData := bytes.Repeat([]byte("0123456789abcdef"), 3*copyChunk/16+7)
	putImmutable(t, s1, big, 0, bigData, lease)
	clk.t = t0.Add(day)
	for range 6 { // past the mutable container's four slots
		l := lafs.LeaseSecrets{Renew: newTestSecret(), Cancel: newTestSecret()}
		for _, si := range []lafs.StorageIndex{imm, mut} {
			if err := s1.AddOrRenewLease(bg, si, l); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A corrupt container is reported and passed over.
	corrupt := backend.Key{SI: lafs.StorageIndex{0x44}}
	st, _ := disk1.Create(bg, corrupt, 5)
	st.WriteAt([]byte("junk!"), 0)
	st.Commit(bg)

	obj := &leasesOutside{mem.New(), newMemLeases()}
	from, to := Shares{Backend: disk1}, Shares{Backend: obj, Leases: obj.store}
	var failures []backend.Key
	p, err := Migrate(bg, from, to, nil, func(k backend.Key, err error) { failures = append(failures, k) })
	if err != nil {
		t.Fatal(err)
	}
	if p.Shares != 4 || p.Present != 0 || p.Failed != 1 || !slices.Equal(failures, []backend.Key{corrupt}) {
		t.Fatalf("first run: %+v, failures %v", p, failures)
	}
	if p, err = Migrate(bg, from, to, nil, nil); err != nil || p.Shares != 0 || p.Present != 4 {
		t.Fatalf("second run: %+v, %v", p, err)
	}
	s2 := newTestServerOn(t, obj, Config{Now: clk.now, NodeID: lafs.NodeID{7}})
	compare := func(label string, a, b *Server, ba, bb backend.Backend) {
		t.Helper()
		for _, c := range []struct {
			si lafs.StorageIndex
			sh lafs.ShareNum
		}{{imm, 0}, {imm, 3}, {big, 0}} {
			x, err1 := a.ReadImmutable(bg, c.si, c.sh, 0, 1<<30)
			y, err2 := b.ReadImmutable(bg, c.si, c.sh, 0, 1<<30)
			if err1 != nil || err2 != nil || !bytes.Equal(x, y) {
				t.Errorf("%s: immutable %v/%d reads %d bytes (%v), before %d (%v)", label, c.si, c.sh, len(y), err2, len(x), err1)
			}
		}
		x, _ := a.ReadMutable(bg, mut, 1, 0, 100)
		y, err := b.ReadMutable(bg, mut, 1, 0, 100)
		if err != nil || !bytes.Equal(x, y) {
			t.Errorf("%s: mutable reads %q (%v), before %q", label, y, err, x)
		}
		for _, si := range []lafs.StorageIndex{imm, mut} {
			sh := lafs.ShareNum(0)
			if si == mut {
				sh = 1
			}
			la, _ := leasesOf(t, ba, si, sh)
			lb, _ := leasesOf(t, bb, si, sh)
			if len(la) != 7 || len(la) != len(lb) {
				t.Fatalf("%s: %v has %d leases, before %d", label, si, len(lb), len(la))
			}
			for i := range la {
				if la[i].RenewSecret != lb[i].RenewSecret || la[i].Expiration != lb[i].Expiration {
					t.Errorf("%s: lease %d of %v is %+v, before %+v", label, i, si, lb[i], la[i])
				}
			}
		}
	}
	compare("to the lease store", s1, s2, disk1, obj)

	// Renewing an existing lease on the new side still matches it.
	if err := s2.AddOrRenewLease(bg, imm, lease); err != nil {
		t.Fatal(err)
	}
	if ls, _ := leasesOf(t, obj, imm, 0); len(ls) != 7 {
		t.Errorf("renewing the upload's lease after migration gives %d leases, want 7", len(ls))
	}

	// And back into Tahoe's containers.
	disk2 := mem.New()
	if p, err := Migrate(bg, to, Shares{Backend: disk2}, nil, nil); err != nil || p.Shares != 4 {
		t.Fatalf("back: %+v, %v", p, err)
	}
	s3 := newTestServerOn(t, disk2, Config{Now: clk.now, NodeID: lafs.NodeID{7}})
	compare("back into containers", s2, s3, obj, disk2)
	if ls, _ := leasesOf(t, disk2, imm, 0); !ls[0].HasRenewSecret(lease.Renew, true) {
		t.Error("the upload's lease no longer matches its secret")
	}
}

// TestMigrateHashesVersion1Leases: a version 1 container's clear lease
// secrets are stored hashed, and still match the client's secret.
func TestMigrateHashesVersion1Leases(t *testing.T) {
	src := mem.New()
	k := backend.Key{SI: lafs.StorageIndex{0x55}}
	c := &ImmutableContainer{Header: ImmutableHeader{Version: ImmutableV1, DataLength: 4}, Data: []byte("data"),
		Leases: []Lease{newLease(OwnerUpload, lease, 2000000000, lafs.NodeID{}, false)}}
	st, _ := src.Create(bg, k, int64(len(c.Bytes())))
	st.WriteAt(c.Bytes(), 0)
	st.Commit(bg)
	obj := &leasesOutside{mem.New(), newMemLeases()}
	if _, err := Migrate(bg, Shares{Backend: src}, Shares{Backend: obj, Leases: obj.store}, nil, nil); err != nil {
		t.Fatal(err)
	}
	ls, _ := obj.store.Leases(bg, k)
	if len(ls) != 1 || !ls[0].HasRenewSecret(lease.Renew, true) {
		t.Fatalf("leases %+v do not match the client's secret hashed", ls)
	}
}

func newTestSecret() (s lafs.Secret) {
	secretCounter++
	s[0], s[1], s[31] = byte(secretCounter), byte(secretCounter>>8), 0x5e
	return s
}

var secretCounter int

// TestMigrateResumeReplacesChangedMutable: a mutable share written again
// (with data of the same length) after an earlier, unfinished run copied
// it is copied again, not taken for already present; unchanged shares
// are left alone.
func TestMigrateResumeReplacesChangedMutable(t *testing.T) {
	src := mem.New()
	s := newTestServerOn(t, src, Config{NodeID: lafs.NodeID{7}})
	mut, imm := lafs.StorageIndex{0x66}, lafs.StorageIndex{0x77}
	putMutable(t, s, mut, 0, []byte("first version"), lease)
	putImmutable(t, s, imm, 0, []byte("immutable"), lease)
	obj := &leasesOutside{mem.New(), newMemLeases()}
	to := Shares{Backend: obj, Leases: obj.store}
	if p, err := Migrate(bg, Shares{Backend: src}, to, nil, nil); err != nil || p.Shares != 2 {
		t.Fatalf("first run: %+v, %v", p, err)
	}
	putMutable(t, s, mut, 0, []byte("other version"), lease)
	p, err := Migrate(bg, Shares{Backend: src}, to, nil, nil)
	if err != nil || p.Shares != 1 || p.Present != 1 {
		t.Fatalf("second run: %+v, %v; want the mutable share copied again and the immutable one present", p, err)
	}
	s2 := newTestServerOn(t, obj, Config{NodeID: lafs.NodeID{7}})
	if got, err := s2.ReadMutable(bg, mut, 0, 0, 100); err != nil || string(got) != "other version" {
		t.Fatalf("the copy reads %q, %v", got, err)
	}
}
