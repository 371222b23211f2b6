package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/backend"
	"github.com/lafs/lafs/backend/mem"
	"github.com/lafs/lafs/storage/storagetest"
)

func newTestServer(t *testing.T, b *mem.Mem, cfg Config) *Server {
	t.Helper()
	s, err := New(b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) lafs.StorageServer {
		return newTestServer(t, mem.New(), Config{NodeID: [20]byte{1, 2, 3}, AdvisoryDir: t.TempDir()})
	})
}

var (
	bg    = context.Background()
	lease = lafs.LeaseSecrets{Renew: lafs.Secret{1}, Cancel: lafs.Secret{2}}
	up    = []byte("upload secret")
)

// clock is a settable Config.Now.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestDiskFullMidUpload(t *testing.T) {
	b := mem.NewWithCapacity(10_000)
	s := newTestServer(t, b, Config{})
	si := lafs.StorageIndex{1}
	res, err := s.AllocateBuckets(bg, si, lease, up, []lafs.ShareNum{0}, 4000)
	if err != nil || len(res.Allocated) != 1 {
		t.Fatalf("allocate: %+v, %v", res, err)
	}
	if _, err := s.WriteImmutable(bg, si, 0, up, 0, make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	// Someone else fills the disk.
	put(t, b, lafs.StorageIndex{9}, 0, make([]byte, 7000))
	_, err = s.WriteImmutable(bg, si, 0, up, 1000, make([]byte, 3000))
	if !errors.Is(err, lafs.ErrNoSpace) {
		t.Fatalf("write on a full disk: %v, want ErrNoSpace", err)
	}
	if got, _ := s.ListImmutable(bg, si); len(got) != 0 {
		t.Fatalf("broken share listed: %v", got)
	}
	if _, err := s.WriteImmutable(bg, si, 0, up, 1000, make([]byte, 3000)); !errors.Is(err, lafs.ErrNotExist) {
		t.Fatalf("write to the aborted upload: %v", err)
	}
	if b.NumStaged() != 0 || b.Used() != 7000 {
		t.Fatalf("after the failure: %d staged, %d bytes used (want 0 and 7000)", b.NumStaged(), b.Used())
	}
	// The promise is released too: the space can be allocated again.
	if err := b.Delete(bg, backend.Key{SI: lafs.StorageIndex{9}}); err != nil {
		t.Fatal(err)
	}
	res, err = s.AllocateBuckets(bg, si, lease, up, []lafs.ShareNum{0}, 9000)
	if err != nil || len(res.Allocated) != 1 {
		t.Fatalf("allocate after freeing: %+v, %v", res, err)
	}
}

func TestReservedSpace(t *testing.T) {
	b := mem.NewWithCapacity(100_000)
	s := newTestServer(t, b, Config{ReservedSpace: 60_000})
	v, _ := s.Version(bg)
	if v.AvailableSpace != 40_000 || v.MaximumImmutableShareSize != 40_000 {
		t.Fatalf("version %+v", v)
	}
	si := lafs.StorageIndex{1}
	res, err := s.AllocateBuckets(bg, si, lease, up, []lafs.ShareNum{0}, 50_000)
	if err != nil || len(res.Allocated) != 0 {
		t.Fatalf("allocation into the reserve: %+v, %v", res, err)
	}
	// As many as fit, counting space promised to uploads in progress.
	res, err = s.AllocateBuckets(bg, si, lease, up, []lafs.ShareNum{0, 1, 2, 3}, 15_000)
	if err != nil || !slices.Equal(res.Allocated, []lafs.ShareNum{0, 1}) {
		t.Fatalf("allocate 4 × 15000 in 40000: %+v, %v", res, err)
	}
	res, _ = s.AllocateBuckets(bg, lafs.StorageIndex{2}, lease, up, []lafs.ShareNum{0}, 15_000)
	if len(res.Allocated) != 0 {
		t.Fatalf("promised space allocated twice: %+v", res)
	}
	if err := s.AbortImmutable(bg, si, 1, up); err != nil {
		t.Fatal(err)
	}
	res, _ = s.AllocateBuckets(bg, lafs.StorageIndex{2}, lease, up, []lafs.ShareNum{0}, 15_000)
	if len(res.Allocated) != 1 {
		t.Fatalf("aborting released no space: %+v", res)
	}
}

func TestReadOnly(t *testing.T) {
	b := mem.New()
	rw := newTestServer(t, b, Config{})
	si, msi := lafs.StorageIndex{1}, lafs.StorageIndex{2}
	rw.AllocateBuckets(bg, si, lease, up, []lafs.ShareNum{0}, 3)
	rw.WriteImmutable(bg, si, 0, up, 0, []byte("abc"))
	we := lafs.Secret{5}
	write := map[lafs.ShareNum]lafs.TestWriteVectors{0: {Write: []lafs.WriteVector{{Data: []byte("m")}}}}
	if _, err := rw.ReadTestWrite(bg, msi, we, lease, write, nil); err != nil {
		t.Fatal(err)
	}

	ro := newTestServer(t, b, Config{ReadOnly: true})
	if v, _ := ro.Version(bg); v.AvailableSpace != 0 || v.MaximumImmutableShareSize != 0 {
		t.Fatalf("read-only version %+v", v)
	}
	res, err := ro.AllocateBuckets(bg, si, lease, up, []lafs.ShareNum{0, 1}, 3)
	if err != nil || !slices.Equal(res.AlreadyHave, []lafs.ShareNum{0}) || len(res.Allocated) != 0 {
		t.Fatalf("read-only allocate: %+v, %v", res, err)
	}
	if _, err := ro.ReadTestWrite(bg, msi, we, lease, write, nil); !errors.Is(err, lafs.ErrReadOnly) {
		t.Fatalf("read-only mutable write: %v", err)
	}
	// Reads, tests and renewals still work; a new lease needs space (Tahoe).
	if got, err := ro.ReadImmutable(bg, si, 0, 0, 10); err != nil || string(got) != "abc" {
		t.Fatalf("read-only read: %q, %v", got, err)
	}
	if err := ro.AddOrRenewLease(bg, si, lease); err != nil {
		t.Fatalf("read-only renewal: %v", err)
	}
	if err := ro.AddOrRenewLease(bg, si, lafs.LeaseSecrets{Renew: lafs.Secret{42}}); !errors.Is(err, lafs.ErrNoSpace) {
		t.Fatalf("read-only new lease: %v, want ErrNoSpace as Tahoe", err)
	}
}

func TestMaxShareSizes(t *testing.T) {
	b := mem.New()
	s := newTestServer(t, b, Config{MaxImmutableShareSize: 100, MaxMutableShareSize: 1000})
	if v, _ := s.Version(bg); v.MaximumImmutableShareSize != 100 || v.MaximumMutableShareSize != 1000 {
		t.Fatalf("version %+v", v)
	}
	res, _ := s.AllocateBuckets(bg, lafs.StorageIndex{1}, lease, up, []lafs.ShareNum{0}, 101)
	if len(res.Allocated) != 0 {
		t.Fatalf("allocated past the maximum: %+v", res)
	}
	si, we := lafs.StorageIndex{2}, lafs.Secret{1}
	_, err := s.ReadTestWrite(bg, si, we, lease, map[lafs.ShareNum]lafs.TestWriteVectors{
		0: {Write: []lafs.WriteVector{{Offset: 0, Data: []byte("ok")}}},
		1: {Write: []lafs.WriteVector{{Offset: 999, Data: []byte("xx")}}},
	}, nil)
	if !errors.Is(err, lafs.ErrRange) {
		t.Fatalf("mutable write past the maximum: %v", err)
	}
	if got, _ := s.ListMutable(bg, si); len(got) != 0 {
		t.Fatalf("refused call wrote shares %v", got)
	}
	_, err = s.ReadTestWrite(bg, si, we, lease, map[lafs.ShareNum]lafs.TestWriteVectors{
		0: {Write: []lafs.WriteVector{{Offset: 1 << 63, Data: []byte("x")}, {Offset: ^uint64(0), Data: []byte("x")}}},
	}, nil)
	if !errors.Is(err, lafs.ErrRange) {
		t.Fatalf("mutable write at a huge offset: %v", err)
	}
}

func TestImmutableContainerBytes(t *testing.T) {
	b := mem.New()
	clk := &clock{time.Unix(1_700_000_000, 0)}
	s := newTestServer(t, b, Config{Now: clk.now})
	si := lafs.StorageIndex{1}
	s.AllocateBuckets(bg, si, lease, up, []lafs.ShareNum{3}, 5)
	clk.t = clk.t.Add(10 * time.Minute) // the lease dates from the allocation
	if _, err := s.WriteImmutable(bg, si, 3, up, 0, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	exp0 := uint32(1_700_000_000 + 31*86400)
	want := &ImmutableContainer{
		Header: ImmutableHeader{Version: 2, DataLength: 5},
		Data:   []byte("hello"),
		Leases: []Lease{{Owner: 0, RenewSecret: HashLeaseSecret(lease.Renew), CancelSecret: HashLeaseSecret(lease.Cancel), Expiration: exp0}},
	}
	if got := get(t, b, si, 3); !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("container %x\nwant      %x", got, want.Bytes())
	}
	// Allocating again renews (owner-0 lease kept); another client adds.
	other := lafs.LeaseSecrets{Renew: lafs.Secret{7}, Cancel: lafs.Secret{8}}
	s.AllocateBuckets(bg, si, lease, []byte("x"), []lafs.ShareNum{3}, 5)
	s.AllocateBuckets(bg, si, other, []byte("x"), []lafs.ShareNum{3}, 5)
	clk.t = clk.t.Add(time.Hour)
	s.AddOrRenewLease(bg, si, other)
	s.AddOrRenewLease(bg, si, lafs.LeaseSecrets{Renew: lafs.Secret{9}})
	c, err := ParseImmutableContainer(get(t, b, si, 3))
	if err != nil {
		t.Fatal(err)
	}
	exp := func(h int) uint32 { return exp0 + 600 + uint32((h-1)*3600) }
	var got []string
	for _, l := range c.Leases {
		got = append(got, fmt.Sprintf("owner %d exp %d", l.Owner, l.Expiration))
	}
	wantL := []string{
		fmt.Sprintf("owner 0 exp %d", exp(1)), // renewed by the second allocate
		fmt.Sprintf("owner 0 exp %d", exp(2)), // added by allocate, renewed by add_lease
		fmt.Sprintf("owner 1 exp %d", exp(2)),
	}
	if !slices.Equal(got, wantL) || string(c.Data) != "hello" {
		t.Fatalf("leases %q, want %q", got, wantL)
	}
}

func TestMutableContainerBytes(t *testing.T) {
	b := mem.New()
	clk := &clock{time.Unix(1_700_000_000, 0)}
	id := [20]byte{0xaa, 0xbb}
	s := newTestServer(t, b, Config{Now: clk.now, NodeID: id})
	si, we := lafs.StorageIndex{1}, lafs.Secret{3}
	rtw := func(tw lafs.TestWriteVectors, l lafs.LeaseSecrets) {
		t.Helper()
		res, err := s.ReadTestWrite(bg, si, we, l, map[lafs.ShareNum]lafs.TestWriteVectors{0: tw}, nil)
		if err != nil || !res.Success {
			t.Fatalf("ReadTestWrite: %+v, %v", res, err)
		}
	}
	rtw(lafs.TestWriteVectors{Write: []lafs.WriteVector{{Data: []byte("abcdef")}}}, lease)
	want := &MutableContainer{
		Header: MutableHeader{Version: 2, WriteEnablerNodeID: id, WriteEnabler: we},
		Data:   []byte("abcdef"),
	}
	want.Slots[0] = Lease{Owner: 1, Expiration: uint32(1_700_000_000 + 31*86400), RenewSecret: HashLeaseSecret(lease.Renew), CancelSecret: HashLeaseSecret(lease.Cancel), NodeID: id}
	if got := get(t, b, si, 0); !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("new container\n%x\nwant\n%x", got, want.Bytes())
	}
	// Six more leases: three fill the slots, three are extra leases.
	for i := range 6 {
		s.AddOrRenewLease(bg, si, lafs.LeaseSecrets{Renew: lafs.Secret{byte(10 + i)}})
	}
	// Truncate, then write past the end: the gap reads as zeros, the
	// extra leases move behind the grown data.
	four := uint64(4)
	rtw(lafs.TestWriteVectors{NewLength: &four}, lease)
	rtw(lafs.TestWriteVectors{Write: []lafs.WriteVector{{Offset: 10, Data: []byte("XYZ")}}}, lease)
	raw := get(t, b, si, 0)
	c, err := ParseMutableContainer(raw)
	if err != nil {
		t.Fatal(err)
	}
	if string(c.Data) != "abcd\x00\x00\x00\x00\x00\x00XYZ" {
		t.Fatalf("data %q", c.Data)
	}
	if c.Header.ExtraLeaseOffset != MutableDataOffset+13 || len(raw) != MutableDataOffset+13+4+3*MutableLeaseSize {
		t.Fatalf("extra lease offset %d, size %d", c.Header.ExtraLeaseOffset, len(raw))
	}
	leases := c.Leases()
	if len(leases) != 7 || len(c.ExtraLeases) != 3 {
		t.Fatalf("%d leases, %d extra", len(leases), len(c.ExtraLeases))
	}
	for i, l := range leases[1:] {
		if l.Owner != 1 || l.NodeID != id || !l.HasRenewSecret(lafs.Secret{byte(10 + i)}, true) {
			t.Fatalf("lease %d: %+v", i+1, l)
		}
	}
	// A write inside the data leaves the length alone.
	rtw(lafs.TestWriteVectors{Write: []lafs.WriteVector{{Offset: 1, Data: []byte("B")}}}, lease)
	if got, _ := s.ReadMutable(bg, si, 0, 0, 100); string(got) != "aBcd\x00\x00\x00\x00\x00\x00XYZ" {
		t.Fatalf("after an inner write: %q", got)
	}
}

func TestUploadTimeout(t *testing.T) {
	clk := &clock{time.Unix(1_700_000_000, 0)}
	b := mem.New()
	s := newTestServer(t, b, Config{Now: clk.now})
	si := lafs.StorageIndex{1}
	s.AllocateBuckets(bg, si, lease, up, []lafs.ShareNum{0, 1}, 10)
	clk.t = clk.t.Add(29 * time.Minute)
	if _, err := s.WriteImmutable(bg, si, 0, up, 0, []byte("a")); err != nil {
		t.Fatal(err)
	}
	clk.t = clk.t.Add(29 * time.Minute)
	if _, err := s.WriteImmutable(bg, si, 0, up, 1, []byte("b")); err != nil {
		t.Fatalf("a write resets the timer: %v", err)
	}
	if _, err := s.WriteImmutable(bg, si, 1, up, 0, []byte("a")); !errors.Is(err, lafs.ErrNotExist) {
		t.Fatalf("write to an upload idle for 58 minutes: %v", err)
	}
	clk.t = clk.t.Add(31 * time.Minute)
	res, _ := s.AllocateBuckets(bg, si, lease, []byte("another"), []lafs.ShareNum{0}, 10)
	if !slices.Equal(res.Allocated, []lafs.ShareNum{0}) || b.NumStaged() != 1 {
		t.Fatalf("idle upload not expired: %+v, %d staged", res, b.NumStaged())
	}
}

func TestCorruptionAdvisoryFile(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2024, 5, 1, 12, 3, 4, 123456789, time.UTC)
	s := newTestServer(t, mem.New(), Config{AdvisoryDir: dir, Now: func() time.Time { return now }})
	si := lafs.StorageIndex{1}
	s.AllocateBuckets(bg, si, lease, up, []lafs.ShareNum{2}, 1)
	s.WriteImmutable(bg, si, 2, up, 0, []byte("x"))
	if err := s.AdviseCorruptImmutable(bg, si, 2, "hash mismatch"); err != nil {
		t.Fatal(err)
	}
	name := "2024-05-01T120304.123456--" + si.String() + "-2"
	path := filepath.Join(dir, name)
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := "report: Share Corruption\ntype: immutable\nstorage_index: " + si.String() + "\nshare_number: 2\n\nhash mismatch\n\n"
	if string(got) != want {
		t.Fatalf("report %q, want %q", got, want)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("report mode %v", fi.Mode())
	}
	if CorruptionReportName(time.Date(2024, 5, 1, 12, 3, 4, 0, time.UTC), si, 0) != "2024-05-01T120304--"+si.String()+"-0" {
		t.Fatal("whole seconds are written without a fraction, as Python's isoformat")
	}
	if err := s.AdviseCorruptImmutable(bg, si, 2, ""); !errors.Is(err, lafs.ErrBadRequest) {
		t.Fatalf("empty reason: %v", err)
	}
}

// opaque hides the staged objects' ReadAt, as a backend may not have one.
type opaque struct{ *mem.Mem }

type opaqueStaged struct{ backend.Staged }

func (o opaque) Create(ctx context.Context, k backend.Key, size int64) (backend.Staged, error) {
	st, err := o.Mem.Create(ctx, k, size)
	return opaqueStaged{st}, err
}

func TestRewriteWithoutReadBack(t *testing.T) {
	s, err := New(opaque{mem.New()}, Config{})
	if err != nil {
		t.Fatal(err)
	}
	si := lafs.StorageIndex{1}
	s.AllocateBuckets(bg, si, lease, up, []lafs.ShareNum{0}, 10)
	if _, err := s.WriteImmutable(bg, si, 0, up, 0, []byte("01234")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WriteImmutable(bg, si, 0, up, 0, []byte("01234")); err != nil {
		t.Fatalf("exact repeat: %v", err)
	}
	if _, err := s.WriteImmutable(bg, si, 0, up, 0, []byte("0123X")); !errors.Is(err, lafs.ErrConflict) {
		t.Fatalf("changed repeat: %v", err)
	}
	// Without read-back an overlap that is not an exact repeat is refused.
	if _, err := s.WriteImmutable(bg, si, 0, up, 3, []byte("3456")); !errors.Is(err, lafs.ErrConflict) {
		t.Fatalf("overlap: %v", err)
	}
	if w, err := s.WriteImmutable(bg, si, 0, up, 5, []byte("56789")); err != nil || !w.Done {
		t.Fatalf("completing: %+v, %v", w, err)
	}
}

func TestRangeSet(t *testing.T) {
	for _, c := range []struct {
		adds    [][2]uint64
		want    string
		missing string
	}{
		{nil, "[]", "[{0 10}]"},
		{[][2]uint64{{2, 4}}, "[{2 4}]", "[{0 2} {4 10}]"},
		{[][2]uint64{{2, 4}, {4, 6}}, "[{2 6}]", "[{0 2} {6 10}]"},
		{[][2]uint64{{6, 8}, {0, 2}, {3, 4}}, "[{0 2} {3 4} {6 8}]", "[{2 3} {4 6} {8 10}]"},
		{[][2]uint64{{6, 8}, {0, 2}, {1, 7}}, "[{0 8}]", "[{8 10}]"},
		{[][2]uint64{{5, 5}, {0, 10}}, "[{0 10}]", "[]"},
		{[][2]uint64{{8, 20}}, "[{8 20}]", "[{0 8}]"},
	} {
		var r rangeSet
		for _, a := range c.adds {
			r.add(a[0], a[1])
		}
		if got := fmt.Sprint([]lafs.ByteRange(r)); got != c.want {
			t.Errorf("%v: %s, want %s", c.adds, got, c.want)
		}
		if got := fmt.Sprint(r.missing(10)); got != c.missing {
			t.Errorf("%v: missing %s, want %s", c.adds, got, c.missing)
		}
		if r.covers(10) != (c.missing == "[]") {
			t.Errorf("%v: covers(10) = %v", c.adds, r.covers(10))
		}
	}
}

func BenchmarkWriteImmutable(b *testing.B) {
	s, _ := New(mem.New(), Config{})
	chunk := make([]byte, 128<<10)
	const chunks = 8
	b.SetBytes(int64(len(chunk) * chunks))
	b.ReportAllocs()
	for i := range b.N {
		si := lafs.StorageIndex{byte(i), byte(i >> 8), byte(i >> 16), byte(i >> 24)}
		s.AllocateBuckets(bg, si, lease, up, []lafs.ShareNum{0}, uint64(len(chunk)*chunks))
		for j := range chunks {
			if _, err := s.WriteImmutable(bg, si, 0, up, uint64(j*len(chunk)), chunk); err != nil {
				b.Fatal(err)
			}
		}
	}
}
