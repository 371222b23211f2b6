// Package storagetest is the conformance suite for lafs.StorageServer: the
// semantics of Tahoe-LAFS's storage server (src/allmydata/storage/server.py)
// as its HTTP protocol exposes them
// (docs/specifications/http-storage-node-protocol.rst). It runs against the
// local server of package storage and against the same server reached over
// HTTPS through storagehttp, so it uses nothing but the interface and
// checks errors only with errors.Is and the lafs sentinels.
package storagetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/lafs/lafs"
)

// Run runs the suite. newServer returns a fresh, empty, writable server
// with plenty of space; it is called once per subtest.
func Run(t *testing.T, newServer func(t *testing.T) lafs.StorageServer) {
	for _, tc := range []struct {
		name string
		f    func(*testing.T, *fixture)
	}{
		{"Version", testVersion},
		{"Immutable/RoundTrip", testRoundTrip},
		{"Immutable/OutOfOrderWritesAndRequired", testOutOfOrder},
		{"Immutable/IdempotentAllocate", testIdempotentAllocate},
		{"Immutable/AlreadyHave", testAlreadyHave},
		{"Immutable/RewriteSameOrConflict", testRewrite},
		{"Immutable/WritePastAllocatedSize", testWritePastEnd},
		{"Immutable/UploadSecrets", testUploadSecrets},
		{"Immutable/Abort", testAbort},
		{"Immutable/ListSorted", testListSorted},
		{"Immutable/ReadRanges", testImmutableReadRanges},
		{"Immutable/BadInput", testImmutableBadInput},
		{"Lease/AddAndRenew", testLeases},
		{"Mutable/CreateAndRead", testMutableCreate},
		{"Mutable/FailedTestAppliesNothing", testMutableFailedTest},
		{"Mutable/ReadVectorsBeforeWrites", testMutableReadBeforeWrite},
		{"Mutable/WrongWriteEnabler", testMutableWrongWE},
		{"Mutable/Truncate", testMutableTruncate},
		{"Mutable/ZeroLengthDeletes", testMutableDelete},
		{"Mutable/GapReadsAsZeros", testMutableGap},
		{"Mutable/ListSortedAndKinds", testMutableList},
		{"Mutable/ConcurrentTestAndSet", testMutableRace},
		{"CorruptionAdvisory", testAdvise},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.f(t, &fixture{t: t, s: newServer(t), ctx: t.Context()})
		})
	}
}

// fixture is one subtest's server and helpers.
type fixture struct {
	t   *testing.T
	s   lafs.StorageServer
	ctx context.Context
}

func newSI() (si lafs.StorageIndex) {
	rand.Read(si[:])
	return si
}

func newSecret() (s lafs.Secret) {
	rand.Read(s[:])
	return s
}

// newUpload returns a fresh upload secret.
func newUpload() []byte {
	b := make([]byte, 16)
	rand.Read(b)
	return b
}

func newLease() lafs.LeaseSecrets {
	return lafs.LeaseSecrets{Renew: newSecret(), Cancel: newSecret()}
}

// pattern returns n bytes that differ from share to share and byte to byte.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) ^ seed ^ byte(i>>8)
	}
	return b
}

// sameSet compares share numbers as sets: AllocateResult's lists are sets
// on the wire, in no particular order.
func sameSet(got, want []lafs.ShareNum) bool {
	return slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want)))
}

func wantErr(t *testing.T, err, target error, what string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: error %v, want %v", what, err, target)
	}
}

func must(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func (f *fixture) allocate(si lafs.StorageIndex, secret []byte, size uint64, shares ...lafs.ShareNum) lafs.AllocateResult {
	f.t.Helper()
	res, err := f.s.AllocateBuckets(f.ctx, si, newLease(), secret, shares, size)
	must(f.t, err, "AllocateBuckets")
	return res
}

func (f *fixture) write(si lafs.StorageIndex, sh lafs.ShareNum, secret []byte, off uint64, data []byte) lafs.WriteResult {
	f.t.Helper()
	res, err := f.s.WriteImmutable(f.ctx, si, sh, secret, off, data)
	must(f.t, err, fmt.Sprintf("WriteImmutable(share %d, %d bytes at %d)", sh, len(data), off))
	return res
}

// upload stores complete immutable shares of si, each pattern(size, shnum).
func (f *fixture) upload(si lafs.StorageIndex, size int, shares ...lafs.ShareNum) {
	f.t.Helper()
	secret := newUpload()
	res := f.allocate(si, secret, uint64(size), shares...)
	if !sameSet(res.Allocated, shares) {
		f.t.Fatalf("allocated %v, want %v", res.Allocated, shares)
	}
	for _, sh := range shares {
		if w := f.write(si, sh, secret, 0, pattern(size, byte(sh))); !w.Done {
			f.t.Fatalf("share %d not done after writing it whole: %+v", sh, w)
		}
	}
}

func (f *fixture) readImm(si lafs.StorageIndex, sh lafs.ShareNum, off, n uint64) []byte {
	f.t.Helper()
	b, err := f.s.ReadImmutable(f.ctx, si, sh, off, n)
	must(f.t, err, "ReadImmutable")
	return b
}

func (f *fixture) readMut(si lafs.StorageIndex, sh lafs.ShareNum, off, n uint64) []byte {
	f.t.Helper()
	b, err := f.s.ReadMutable(f.ctx, si, sh, off, n)
	must(f.t, err, "ReadMutable")
	return b
}

func (f *fixture) rtw(si lafs.StorageIndex, we lafs.Secret, tw map[lafs.ShareNum]lafs.TestWriteVectors, read ...lafs.ReadVector) lafs.ReadTestWriteResult {
	f.t.Helper()
	res, err := f.s.ReadTestWrite(f.ctx, si, we, newLease(), tw, read)
	must(f.t, err, "ReadTestWrite")
	return res
}

// create writes new mutable shares holding data, testing that they are empty.
func (f *fixture) create(si lafs.StorageIndex, we lafs.Secret, data []byte, shares ...lafs.ShareNum) {
	f.t.Helper()
	tw := map[lafs.ShareNum]lafs.TestWriteVectors{}
	for _, sh := range shares {
		tw[sh] = lafs.TestWriteVectors{
			Test:  []lafs.TestVector{{Offset: 0, Size: 1, Specimen: []byte{}}},
			Write: []lafs.WriteVector{{Offset: 0, Data: data}},
		}
	}
	if res := f.rtw(si, we, tw); !res.Success {
		f.t.Fatalf("creating mutable shares %v failed its tests", shares)
	}
}

func testVersion(t *testing.T, f *fixture) {
	v, err := f.s.Version(f.ctx)
	must(t, err, "Version")
	if v.AvailableSpace == 0 || v.MaximumImmutableShareSize == 0 || v.MaximumMutableShareSize == 0 {
		t.Fatalf("version announces no room: %+v", v)
	}
}

func testRoundTrip(t *testing.T, f *fixture) {
	si := newSI()
	const size = 70_000
	f.upload(si, size, 0, 1)
	for _, sh := range []lafs.ShareNum{0, 1} {
		if got := f.readImm(si, sh, 0, size); !bytes.Equal(got, pattern(size, byte(sh))) {
			t.Fatalf("share %d reads back %d bytes that differ", sh, len(got))
		}
	}
	if got := f.readImm(si, 1, 1000, 10); !bytes.Equal(got, pattern(size, 1)[1000:1010]) {
		t.Fatalf("partial read: %x", got)
	}
}

func testOutOfOrder(t *testing.T, f *fixture) {
	si, secret := newSI(), newUpload()
	data := pattern(30, 9)
	f.allocate(si, secret, 30, 4)
	w := f.write(si, 4, secret, 10, data[10:20])
	if w.Done || !slices.Equal(w.Required, []lafs.ByteRange{{Begin: 0, End: 10}, {Begin: 20, End: 30}}) {
		t.Fatalf("after the middle: %+v", w)
	}
	shares, err := f.s.ListImmutable(f.ctx, si)
	must(t, err, "ListImmutable")
	if len(shares) != 0 {
		t.Fatalf("incomplete share listed: %v", shares)
	}
	if _, err := f.s.ReadImmutable(f.ctx, si, 4, 0, 30); !errors.Is(err, lafs.ErrNotExist) {
		t.Fatalf("incomplete share readable: %v", err)
	}
	w = f.write(si, 4, secret, 20, data[20:])
	if w.Done || !slices.Equal(w.Required, []lafs.ByteRange{{Begin: 0, End: 10}}) {
		t.Fatalf("after the end: %+v", w)
	}
	if w = f.write(si, 4, secret, 0, data[:10]); !w.Done || len(w.Required) != 0 {
		t.Fatalf("after the start: %+v", w)
	}
	if got := f.readImm(si, 4, 0, 30); !bytes.Equal(got, data) {
		t.Fatalf("read %x, want %x", got, data)
	}
}

func testIdempotentAllocate(t *testing.T, f *fixture) {
	si, secret := newSI(), newUpload()
	first := f.allocate(si, secret, 100, 0, 1, 2)
	if !sameSet(first.Allocated, []lafs.ShareNum{0, 1, 2}) || len(first.AlreadyHave) != 0 {
		t.Fatalf("first allocation: %+v", first)
	}
	f.write(si, 1, secret, 0, pattern(50, 1))
	again := f.allocate(si, secret, 100, 0, 1, 2)
	if !sameSet(again.Allocated, first.Allocated) || len(again.AlreadyHave) != 0 {
		t.Fatalf("repeated allocation %+v, first %+v", again, first)
	}
	other := f.allocate(si, newUpload(), 100, 0, 1, 2, 3)
	if !sameSet(other.Allocated, []lafs.ShareNum{3}) || len(other.AlreadyHave) != 0 {
		t.Fatalf("allocation under another upload secret: %+v (want only share 3)", other)
	}
	// The first upload is unharmed.
	w := f.write(si, 1, secret, 50, pattern(100, 1)[50:])
	if !w.Done {
		t.Fatalf("finishing share 1: %+v", w)
	}
}

func testAlreadyHave(t *testing.T, f *fixture) {
	si := newSI()
	f.upload(si, 64, 2, 5)
	res := f.allocate(si, newUpload(), 64, 5, 7)
	if !sameSet(res.AlreadyHave, []lafs.ShareNum{2, 5}) || !sameSet(res.Allocated, []lafs.ShareNum{7}) {
		t.Fatalf("got %+v, want already-have [2 5] (all held, asked or not), allocated [7]", res)
	}
}

func testRewrite(t *testing.T, f *fixture) {
	si, secret := newSI(), newUpload()
	data := pattern(40, 3)
	f.allocate(si, secret, 40, 0)
	f.write(si, 0, secret, 10, data[10:20])
	f.write(si, 0, secret, 10, data[10:20])
	f.write(si, 0, secret, 5, data[5:15]) // overlapping, same bytes
	bad := bytes.Clone(data[5:25])
	bad[7]++ // byte 12, inside what was written
	_, err := f.s.WriteImmutable(f.ctx, si, 0, secret, 5, bad)
	wantErr(t, err, lafs.ErrConflict, "overlapping write of other bytes")
	_, err = f.s.WriteImmutable(f.ctx, si, 0, secret, 10, pattern(10, 99))
	wantErr(t, err, lafs.ErrConflict, "rewrite of other bytes")
	// The failed writes changed nothing: the rest completes the share.
	f.write(si, 0, secret, 0, data[:10])
	if w := f.write(si, 0, secret, 0, data); !w.Done {
		t.Fatalf("rewriting everything: %+v", w)
	}
	if got := f.readImm(si, 0, 0, 40); !bytes.Equal(got, data) {
		t.Fatalf("read %x, want %x", got, data)
	}
}

func testWritePastEnd(t *testing.T, f *fixture) {
	si, secret := newSI(), newUpload()
	f.allocate(si, secret, 10, 0)
	_, err := f.s.WriteImmutable(f.ctx, si, 0, secret, 5, make([]byte, 6))
	wantErr(t, err, lafs.ErrRange, "write past the allocated size")
	_, err = f.s.WriteImmutable(f.ctx, si, 0, secret, 1<<62, []byte{1})
	wantErr(t, err, lafs.ErrRange, "write at a huge offset")
	if w := f.write(si, 0, secret, 0, make([]byte, 10)); !w.Done {
		t.Fatalf("share not done: %+v", w)
	}
}

func testUploadSecrets(t *testing.T, f *fixture) {
	si, secret := newSI(), newUpload()
	_, err := f.s.WriteImmutable(f.ctx, si, 0, secret, 0, []byte{1})
	wantErr(t, err, lafs.ErrNotExist, "write without an allocation")
	f.allocate(si, secret, 10, 0)
	_, err = f.s.WriteImmutable(f.ctx, si, 0, newUpload(), 0, make([]byte, 10))
	wantErr(t, err, lafs.ErrUnauthorized, "write with another upload secret")
	err = f.s.AbortImmutable(f.ctx, si, 0, newUpload())
	wantErr(t, err, lafs.ErrUnauthorized, "abort with another upload secret")
	_, err = f.s.WriteImmutable(f.ctx, si, 1, secret, 0, []byte{1})
	wantErr(t, err, lafs.ErrNotExist, "write to a share not allocated")
	err = f.s.AbortImmutable(f.ctx, si, 1, secret)
	wantErr(t, err, lafs.ErrNotExist, "abort of a share not allocated")
	if w := f.write(si, 0, secret, 0, make([]byte, 10)); !w.Done {
		t.Fatalf("the rightful upload: %+v", w)
	}
}

func testAbort(t *testing.T, f *fixture) {
	si, secret := newSI(), newUpload()
	f.allocate(si, secret, 20, 0, 1)
	f.write(si, 0, secret, 0, pattern(10, 0))
	must(t, f.s.AbortImmutable(f.ctx, si, 0, secret), "AbortImmutable")
	_, err := f.s.WriteImmutable(f.ctx, si, 0, secret, 10, pattern(10, 0))
	wantErr(t, err, lafs.ErrNotExist, "write after abort")
	_, err = f.s.ReadImmutable(f.ctx, si, 0, 0, 20)
	wantErr(t, err, lafs.ErrNotExist, "read after abort")
	// The share can be allocated again, by anyone, and share 1 is untouched.
	other := newUpload()
	if res := f.allocate(si, other, 20, 0, 1); !sameSet(res.Allocated, []lafs.ShareNum{0}) {
		t.Fatalf("reallocating after abort: %+v", res)
	}
	if w := f.write(si, 0, other, 0, pattern(20, 5)); !w.Done {
		t.Fatalf("new upload: %+v", w)
	}
	if w := f.write(si, 1, secret, 0, pattern(20, 1)); !w.Done {
		t.Fatalf("share 1: %+v", w)
	}
	if got := f.readImm(si, 0, 0, 20); !bytes.Equal(got, pattern(20, 5)) {
		t.Fatalf("share 0 holds %x", got)
	}
	// A finished share cannot be aborted.
	err = f.s.AbortImmutable(f.ctx, si, 0, other)
	wantErr(t, err, lafs.ErrNotAllowed, "abort of a finished share")
	if got := f.readImm(si, 0, 0, 20); !bytes.Equal(got, pattern(20, 5)) {
		t.Fatalf("finished share damaged: %x", got)
	}
}

func testListSorted(t *testing.T, f *fixture) {
	si := newSI()
	got, err := f.s.ListImmutable(f.ctx, si)
	must(t, err, "ListImmutable of an unknown storage index")
	if len(got) != 0 {
		t.Fatalf("unknown storage index lists %v", got)
	}
	f.upload(si, 16, 9, 0, 200, 3, 17)
	got, err = f.s.ListImmutable(f.ctx, si)
	must(t, err, "ListImmutable")
	if want := []lafs.ShareNum{0, 3, 9, 17, 200}; !slices.Equal(got, want) {
		t.Fatalf("listed %v, want %v", got, want)
	}
}

func testImmutableReadRanges(t *testing.T, f *fixture) {
	si := newSI()
	data := pattern(100, 0)
	f.upload(si, 100, 0)
	for _, c := range []struct{ off, n, from, to uint64 }{
		{0, 100, 0, 100}, {0, 1000, 0, 100}, {90, 20, 90, 100}, {99, 1, 99, 100},
		{100, 10, 100, 100}, {5000, 10, 100, 100}, {10, 0, 10, 10}, {0, 1 << 40, 0, 100},
	} {
		if got := f.readImm(si, 0, c.off, c.n); !bytes.Equal(got, data[c.from:c.to]) {
			t.Errorf("read %d at %d: %d bytes, want %d", c.n, c.off, len(got), c.to-c.from)
		}
	}
	_, err := f.s.ReadImmutable(f.ctx, si, 1, 0, 10)
	wantErr(t, err, lafs.ErrNotExist, "read of a missing share")
	_, err = f.s.ReadImmutable(f.ctx, newSI(), 0, 0, 10)
	wantErr(t, err, lafs.ErrNotExist, "read of an unknown storage index")
}

func testImmutableBadInput(t *testing.T, f *fixture) {
	si, secret := newSI(), newUpload()
	res := f.allocate(si, secret, 1<<62, 0)
	if len(res.Allocated) != 0 {
		t.Fatalf("allocated an absurd size: %+v", res)
	}
	_, err := f.s.AllocateBuckets(f.ctx, si, newLease(), secret, []lafs.ShareNum{256}, 10)
	wantErr(t, err, lafs.ErrBadRequest, "share number 256")
	_, err = f.s.ReadImmutable(f.ctx, si, 300, 1<<62, 1<<62)
	wantErr(t, err, lafs.ErrNotExist, "read of share 300")
	if res := f.allocate(si, secret, 10); len(res.Allocated)+len(res.AlreadyHave) != 0 {
		t.Fatalf("allocating no shares: %+v", res)
	}
}

func testLeases(t *testing.T, f *fixture) {
	err := f.s.AddOrRenewLease(f.ctx, newSI(), newLease())
	wantErr(t, err, lafs.ErrNotExist, "lease on an unknown storage index")
	// An upload in progress is no share yet.
	si := newSI()
	f.allocate(si, newUpload(), 10, 0)
	err = f.s.AddOrRenewLease(f.ctx, si, newLease())
	wantErr(t, err, lafs.ErrNotExist, "lease on an upload in progress")
	si = newSI()
	f.upload(si, 10, 0, 1)
	lease := newLease()
	must(t, f.s.AddOrRenewLease(f.ctx, si, lease), "adding a lease to immutable shares")
	must(t, f.s.AddOrRenewLease(f.ctx, si, lease), "renewing it")
	must(t, f.s.AddOrRenewLease(f.ctx, si, newLease()), "adding another")
	msi, we := newSI(), newSecret()
	f.create(msi, we, []byte("mutable"), 0, 1)
	for range 6 { // more leases than a mutable container has slots
		must(t, f.s.AddOrRenewLease(f.ctx, msi, newLease()), "adding a lease to mutable shares")
	}
	must(t, f.s.AddOrRenewLease(f.ctx, msi, lease), "adding a lease to mutable shares")
	must(t, f.s.AddOrRenewLease(f.ctx, msi, lease), "renewing it")
	if got := f.readMut(msi, 1, 0, 100); string(got) != "mutable" {
		t.Fatalf("leases changed the mutable data: %q", got)
	}
	if got := f.readImm(si, 1, 0, 100); !bytes.Equal(got, pattern(10, 1)) {
		t.Fatalf("leases changed the immutable data: %x", got)
	}
}

func testMutableCreate(t *testing.T, f *fixture) {
	si, we := newSI(), newSecret()
	f.create(si, we, []byte("hello, world"), 0, 3)
	if got := f.readMut(si, 3, 0, 100); string(got) != "hello, world" {
		t.Fatalf("read %q", got)
	}
	if got := f.readMut(si, 0, 7, 5); string(got) != "world" {
		t.Fatalf("partial read %q", got)
	}
	// Update with the old contents as checkstring.
	res := f.rtw(si, we, map[lafs.ShareNum]lafs.TestWriteVectors{3: {
		Test:  []lafs.TestVector{{Offset: 0, Size: 5, Specimen: []byte("hello")}},
		Write: []lafs.WriteVector{{Offset: 0, Data: []byte("HELLO")}, {Offset: 12, Data: []byte("!")}},
	}})
	if !res.Success {
		t.Fatal("update with the right checkstring failed")
	}
	if got := f.readMut(si, 3, 0, 100); string(got) != "HELLO, world!" {
		t.Fatalf("after update %q", got)
	}
	_, err := f.s.ReadMutable(f.ctx, si, 1, 0, 10)
	wantErr(t, err, lafs.ErrNotExist, "read of a missing mutable share")
}

func testMutableFailedTest(t *testing.T, f *fixture) {
	si, we := newSI(), newSecret()
	f.create(si, we, []byte("original"), 0)
	// Share 0's test fails, so neither share 0 nor the new share 1 is written.
	res := f.rtw(si, we, map[lafs.ShareNum]lafs.TestWriteVectors{
		0: {Test: []lafs.TestVector{{Offset: 0, Size: 8, Specimen: []byte("otherwse")}},
			Write: []lafs.WriteVector{{Offset: 0, Data: []byte("CHANGED!")}}},
		1: {Test: []lafs.TestVector{{Offset: 0, Size: 1, Specimen: []byte{}}},
			Write: []lafs.WriteVector{{Offset: 0, Data: []byte("new")}}},
	}, lafs.ReadVector{Offset: 0, Size: 4})
	if res.Success {
		t.Fatal("a failing test vector succeeded")
	}
	if got := res.Data[0]; len(got) != 1 || string(got[0]) != "orig" {
		t.Fatalf("read data of a failed call: %v", res.Data)
	}
	if got := f.readMut(si, 0, 0, 100); string(got) != "original" {
		t.Fatalf("failed call wrote share 0: %q", got)
	}
	shares, err := f.s.ListMutable(f.ctx, si)
	must(t, err, "ListMutable")
	if !slices.Equal(shares, []lafs.ShareNum{0}) {
		t.Fatalf("failed call created shares: %v", shares)
	}
	// Creating over an existing share fails its emptiness test.
	res = f.rtw(si, we, map[lafs.ShareNum]lafs.TestWriteVectors{0: {
		Test:  []lafs.TestVector{{Offset: 0, Size: 1, Specimen: []byte{}}},
		Write: []lafs.WriteVector{{Offset: 0, Data: []byte("x")}},
	}})
	if res.Success {
		t.Fatal("an emptiness test passed on a share with data")
	}
}

func testMutableReadBeforeWrite(t *testing.T, f *fixture) {
	si, we := newSI(), newSecret()
	f.create(si, we, []byte("0123456789"), 1, 2)
	res := f.rtw(si, we, map[lafs.ShareNum]lafs.TestWriteVectors{
		1: {Write: []lafs.WriteVector{{Offset: 0, Data: []byte("abcdefghij")}}},
		5: {Write: []lafs.WriteVector{{Offset: 0, Data: []byte("new share")}}},
	}, lafs.ReadVector{Offset: 0, Size: 3}, lafs.ReadVector{Offset: 8, Size: 10})
	if !res.Success {
		t.Fatal("call without tests failed")
	}
	want := map[lafs.ShareNum][]string{1: {"012", "89"}, 2: {"012", "89"}}
	if len(res.Data) != len(want) {
		t.Fatalf("read data for shares %v, want those held before the call (1, 2)", res.Data)
	}
	for sh, w := range want {
		got := res.Data[sh]
		if len(got) != 2 || string(got[0]) != w[0] || string(got[1]) != w[1] {
			t.Fatalf("share %d read %q, want %q (read before the writes)", sh, got, w)
		}
	}
	if got := f.readMut(si, 1, 0, 10); string(got) != "abcdefghij" {
		t.Fatalf("write not applied: %q", got)
	}
	if got := f.readMut(si, 5, 0, 100); string(got) != "new share" {
		t.Fatalf("new share: %q", got)
	}
}

func testMutableWrongWE(t *testing.T, f *fixture) {
	si, we := newSI(), newSecret()
	f.create(si, we, []byte("mine"), 0)
	// Writing another share number still needs the enabler of the
	// shares already there.
	_, err := f.s.ReadTestWrite(f.ctx, si, newSecret(), newLease(),
		map[lafs.ShareNum]lafs.TestWriteVectors{1: {Write: []lafs.WriteVector{{Offset: 0, Data: []byte("theirs")}}}}, nil)
	wantErr(t, err, lafs.ErrUnauthorized, "write with a wrong write enabler")
	shares, err := f.s.ListMutable(f.ctx, si)
	must(t, err, "ListMutable")
	if !slices.Equal(shares, []lafs.ShareNum{0}) {
		t.Fatalf("rejected call created shares: %v", shares)
	}
}

func testMutableTruncate(t *testing.T, f *fixture) {
	si, we := newSI(), newSecret()
	f.create(si, we, []byte("0123456789"), 0)
	length := func(n uint64) *uint64 { return &n }
	f.rtw(si, we, map[lafs.ShareNum]lafs.TestWriteVectors{0: {NewLength: length(4)}})
	if got := f.readMut(si, 0, 0, 100); string(got) != "0123" {
		t.Fatalf("after truncating to 4: %q", got)
	}
	// A longer new length does not extend the share (as in Tahoe).
	f.rtw(si, we, map[lafs.ShareNum]lafs.TestWriteVectors{0: {NewLength: length(8)}})
	if got := f.readMut(si, 0, 0, 100); string(got) != "0123" {
		t.Fatalf("after a longer new length: %q", got)
	}
	// Writes come first, then the truncation.
	f.rtw(si, we, map[lafs.ShareNum]lafs.TestWriteVectors{0: {
		Write: []lafs.WriteVector{{Offset: 4, Data: []byte("abcdef")}}, NewLength: length(6)}})
	if got := f.readMut(si, 0, 0, 100); string(got) != "0123ab" {
		t.Fatalf("after writing and truncating: %q", got)
	}
}

func testMutableDelete(t *testing.T, f *fixture) {
	si, we := newSI(), newSecret()
	f.create(si, we, []byte("doomed"), 0, 1)
	zero := uint64(0)
	res := f.rtw(si, we, map[lafs.ShareNum]lafs.TestWriteVectors{
		0: {Write: []lafs.WriteVector{{Offset: 0, Data: []byte("ignored")}}, NewLength: &zero},
		7: {NewLength: &zero}, // missing: nothing is created
	})
	if !res.Success {
		t.Fatal("delete failed")
	}
	shares, err := f.s.ListMutable(f.ctx, si)
	must(t, err, "ListMutable")
	if !slices.Equal(shares, []lafs.ShareNum{1}) {
		t.Fatalf("after deleting share 0: %v", shares)
	}
	_, err = f.s.ReadMutable(f.ctx, si, 0, 0, 10)
	wantErr(t, err, lafs.ErrNotExist, "read of a deleted share")
}

func testMutableGap(t *testing.T, f *fixture) {
	si, we := newSI(), newSecret()
	f.create(si, we, []byte("abc"), 0)
	f.rtw(si, we, map[lafs.ShareNum]lafs.TestWriteVectors{0: {Write: []lafs.WriteVector{{Offset: 6, Data: []byte("xyz")}}}})
	if got := f.readMut(si, 0, 0, 100); string(got) != "abc\x00\x00\x00xyz" {
		t.Fatalf("gap: %q", got)
	}
	// A test reaching past the end compares only the bytes that exist.
	res := f.rtw(si, we, map[lafs.ShareNum]lafs.TestWriteVectors{0: {
		Test: []lafs.TestVector{{Offset: 6, Size: 100, Specimen: []byte("xyz")}}}})
	if !res.Success {
		t.Fatal("test past the end failed")
	}
	for _, c := range []struct{ off, n uint64 }{{9, 10}, {100, 5}, {1 << 40, 1 << 40}} {
		if got := f.readMut(si, 0, c.off, c.n); len(got) != 0 {
			t.Fatalf("read %d at %d past the end: %q", c.n, c.off, got)
		}
	}
}

func testMutableList(t *testing.T, f *fixture) {
	si, we := newSI(), newSecret()
	got, err := f.s.ListMutable(f.ctx, si)
	must(t, err, "ListMutable of an unknown storage index")
	if len(got) != 0 {
		t.Fatalf("unknown storage index lists %v", got)
	}
	f.create(si, we, []byte("m"), 8, 2, 255, 0)
	got, err = f.s.ListMutable(f.ctx, si)
	must(t, err, "ListMutable")
	if want := []lafs.ShareNum{0, 2, 8, 255}; !slices.Equal(got, want) {
		t.Fatalf("listed %v, want %v", got, want)
	}
	// Mutable shares are not immutable ones.
	imm, err := f.s.ListImmutable(f.ctx, si)
	must(t, err, "ListImmutable")
	if len(imm) != 0 {
		t.Fatalf("mutable shares listed as immutable: %v", imm)
	}
	_, err = f.s.ReadImmutable(f.ctx, si, 0, 0, 1)
	wantErr(t, err, lafs.ErrNotExist, "immutable read of a mutable share")
	isi := newSI()
	f.upload(isi, 10, 0)
	_, err = f.s.ReadMutable(f.ctx, isi, 0, 0, 1)
	wantErr(t, err, lafs.ErrNotExist, "mutable read of an immutable share")
	_, err = f.s.ReadTestWrite(f.ctx, si, we, newLease(),
		map[lafs.ShareNum]lafs.TestWriteVectors{256: {Write: []lafs.WriteVector{{Data: []byte("x")}}}}, nil)
	wantErr(t, err, lafs.ErrBadRequest, "mutable share number 256")
}

func testMutableRace(t *testing.T, f *fixture) {
	si, we := newSI(), newSecret()
	f.create(si, we, []byte("version 000"), 0, 1)
	current := []byte("version 000")
	for round := 1; round <= 10; round++ {
		var wg sync.WaitGroup
		start := make(chan struct{})
		results := make([]bool, 2)
		errs := make([]error, 2)
		for w := range 2 {
			wg.Go(func() {
				<-start
				next := fmt.Appendf(nil, "version %d%02d", w, round)
				tw := map[lafs.ShareNum]lafs.TestWriteVectors{}
				for _, sh := range []lafs.ShareNum{0, 1} {
					tw[sh] = lafs.TestWriteVectors{
						Test:  []lafs.TestVector{{Offset: 0, Size: uint64(len(current)), Specimen: current}},
						Write: []lafs.WriteVector{{Offset: 0, Data: next}},
					}
				}
				res, err := f.s.ReadTestWrite(f.ctx, si, we, newLease(), tw, nil)
				results[w], errs[w] = res.Success, err
			})
		}
		close(start)
		wg.Wait()
		must(t, errors.Join(errs...), "racing ReadTestWrite")
		if results[0] == results[1] {
			t.Fatalf("round %d: successes %v, want exactly one", round, results)
		}
		winner := 0
		if results[1] {
			winner = 1
		}
		current = fmt.Appendf(nil, "version %d%02d", winner, round)
		for _, sh := range []lafs.ShareNum{0, 1} {
			if got := f.readMut(si, sh, 0, 100); !bytes.Equal(got, current) {
				t.Fatalf("round %d: share %d holds %q, want the winner's %q", round, sh, got, current)
			}
		}
	}
}

func testAdvise(t *testing.T, f *fixture) {
	si := newSI()
	f.upload(si, 10, 0)
	must(t, f.s.AdviseCorruptImmutable(f.ctx, si, 0, "block hash mismatch"), "advising on an immutable share")
	err := f.s.AdviseCorruptImmutable(f.ctx, si, 1, "no such share")
	wantErr(t, err, lafs.ErrNotExist, "advising on a missing immutable share")
	msi, we := newSI(), newSecret()
	f.create(msi, we, []byte("m"), 2)
	must(t, f.s.AdviseCorruptMutable(f.ctx, msi, 2, "bad signature"), "advising on a mutable share")
	err = f.s.AdviseCorruptMutable(f.ctx, msi, 3, "no such share")
	wantErr(t, err, lafs.ErrNotExist, "advising on a missing mutable share")
	err = f.s.AdviseCorruptMutable(f.ctx, newSI(), 0, "unknown")
	wantErr(t, err, lafs.ErrNotExist, "advising on an unknown storage index")
}
