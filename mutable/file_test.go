package mutable

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/internal/testgrid"
	"github.com/lafs/lafs/internal/testutil"
)

var formats = []cap.Format{cap.SDMF, cap.MDMF}

// TestRoundTrip creates, reads and overwrites SDMF and MDMF files of many
// sizes on a grid of real storage servers.
func TestRoundTrip(t *testing.T) {
	roundTrip(t, []int{0, 1, 55, 1000, 300_000})
}

// TestRoundTripLarge does it with files of several megabytes.
func TestRoundTripLarge(t *testing.T) {
	testutil.Heavy(t)
	roundTrip(t, []int{3<<20 + 17, 8<<20 + 1})
}

func roundTrip(t *testing.T, sizes []int) {
	ctx := context.Background()
	keys := testKeys(t, 1)[0]
	for _, format := range formats {
		for i, size := range sizes {
			g := testgrid.New(t, 10)
			data := randomBytes(size, uint64(i))
			f, err := Create(ctx, g, keys, format, data, testOpts)
			if err != nil {
				t.Fatalf("%v %d: create: %v", format, size, err)
			}
			if f.Version() != 1 || f.Size() != int64(size) {
				t.Errorf("%v %d: version %d size %d", format, size, f.Version(), f.Size())
			}
			if n := len(shareHolders(t, g, keys.StorageIndex)); n != 10 {
				t.Errorf("%v %d: %d shares placed", format, size, n)
			}
			for _, c := range []cap.Cap{f.Cap(), f.Cap().ReadOnly()} {
				r, err := Open(ctx, g, c, testOpts)
				if err != nil {
					t.Fatalf("%v %d: open: %v", format, size, err)
				}
				got, err := r.Read(ctx)
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("%v %d: read %d bytes: %v", format, size, len(got), err)
				}
				if r.Format() != format || r.Version() != 1 {
					t.Errorf("%v %d: opened as %v version %d", format, size, r.Format(), r.Version())
				}
			}
			// Overwrite with the next size (the largest with the smallest).
			next := randomBytes(sizes[(i+1)%len(sizes)], uint64(i+100))
			if err := f.Overwrite(ctx, next); err != nil {
				t.Fatalf("%v %d: overwrite: %v", format, size, err)
			}
			r, err := Open(ctx, g, f.Cap().ReadOnly(), testOpts)
			if err != nil {
				t.Fatal(err)
			}
			got, err := r.Read(ctx)
			if err != nil || !bytes.Equal(got, next) || r.Version() != 2 {
				t.Fatalf("%v %d: after overwrite: %d bytes, version %d: %v", format, size, len(got), r.Version(), err)
			}
			// Shrinking a file truncates its shares.
			for sh, holders := range shareHolders(t, g, keys.StorageIndex) {
				b, _ := g.Servers[holders[0]].Storage.ReadMutable(ctx, keys.StorageIndex, sh, 0, 1<<30)
				if s, err := ParseShare(b); err != nil || s.Offsets.EOF != uint64(len(b)) {
					t.Fatalf("share %d: %d bytes, %v", sh, len(b), err)
				}
			}
		}
	}
}

// TestEncodingParameters publishes with several k and N, including more
// shares than servers.
func TestEncodingParameters(t *testing.T) {
	ctx := context.Background()
	keys := testKeys(t, 1)[0]
	data := randomBytes(200_000, 7)
	for _, p := range []struct{ k, n, servers int }{{1, 1, 3}, {2, 3, 5}, {3, 10, 4}, {5, 7, 7}, {3, 10, 1}} {
		for _, format := range formats {
			g := testgrid.New(t, p.servers)
			o := testOpts
			o.K, o.N, o.SegmentSize = p.k, p.n, 50_000
			f, err := Create(ctx, g, keys, format, data, o)
			if err != nil {
				t.Fatalf("%+v: %v", p, err)
			}
			holders := shareHolders(t, g, keys.StorageIndex)
			if len(holders) != p.n {
				t.Errorf("%+v: %d shares placed", p, len(holders))
			}
			perServer := map[int]int{}
			for _, hs := range holders {
				for _, h := range hs {
					perServer[h]++
				}
			}
			for s, n := range perServer {
				if want := (p.n + p.servers - 1) / p.servers; n > want {
					t.Errorf("%+v: server %d holds %d shares, more than %d", p, s, n, want)
				}
			}
			// Overwrite keeps k, N and where the shares are.
			if err := f.Overwrite(ctx, data[:1234]); err != nil {
				t.Fatal(err)
			}
			if got := shareHolders(t, g, keys.StorageIndex); len(got) != len(holders) {
				t.Errorf("%+v: shares moved", p)
			}
			r, err := Open(ctx, g, f.Cap(), o)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := r.Read(ctx); err != nil || !bytes.Equal(got, data[:1234]) {
				t.Fatalf("%+v: %v", p, err)
			}
		}
	}
	if _, err := Create(ctx, testgrid.New(t, 3), keys, cap.MDMF, nil, Options{K: 3, N: 256}); !errors.Is(err, lafs.ErrBadParams) {
		t.Errorf("N=256: %v", err)
	}
}

// TestOfflineServers reads with servers gone and publishes around them.
func TestOfflineServers(t *testing.T) {
	ctx := context.Background()
	keys := testKeys(t, 1)[0]
	for _, format := range formats {
		g := testgrid.New(t, 10)
		data := randomBytes(400_000, 3)
		f, err := Create(ctx, g, keys, format, data, testOpts)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 7 {
			g.Faults[i].Set(func(f *testgrid.Faults) { f.Offline = true })
		}
		if got, err := f.Read(ctx); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%v with 7 servers offline: %v", format, err)
		}
		g.Faults[7].Set(func(f *testgrid.Faults) { f.Offline = true })
		if _, err := f.Read(ctx); !errors.Is(err, ErrNotEnoughShares) {
			t.Fatalf("%v with 8 servers offline: %v", format, err)
		}
		for i := range 8 {
			g.Faults[i].Set(func(f *testgrid.Faults) { f.Offline = i < 3 })
		}
		// Publish while 3 servers are away: their shares find other homes.
		next := randomBytes(5000, 4)
		if err := f.Overwrite(ctx, next); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			g.Faults[i].Set(func(f *testgrid.Faults) { f.Offline = false })
		}
		r, err := Open(ctx, g, f.Cap(), testOpts)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := r.Read(ctx); err != nil || !bytes.Equal(got, next) || r.Version() != 2 {
			t.Fatalf("%v: after publishing around offline servers: version %d, %v", format, r.Version(), err)
		}
		// The next publish replaces the stale shares too.
		if err := r.Overwrite(ctx, data); err != nil {
			t.Fatal(err)
		}
		m, err := r.updateServerMap(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range m.shares {
			if s.hdr.Seqnum != 3 {
				t.Errorf("%v: share %d on %s is still seq %d", format, s.shnum, s.server.Nickname, s.hdr.Seqnum)
			}
		}
	}
	// No servers at all.
	g := testgrid.New(t, 2)
	for _, f := range g.Faults {
		f.Set(func(f *testgrid.Faults) { f.Offline = true })
	}
	if _, err := Create(ctx, g, keys, cap.SDMF, []byte("x"), testOpts); !errors.Is(err, ErrNotEnoughServers) || strings.Contains(err.Error(), "%!") {
		t.Errorf("create with no servers: %v", err)
	}
	// With no server known at all, the message has no empty list of causes.
	if _, err := Create(ctx, testgrid.New(t, 0), keys, cap.SDMF, []byte("x"), testOpts); !errors.Is(err, ErrNotEnoughServers) || strings.Contains(err.Error(), "%!") {
		t.Errorf("create with an empty grid: %v", err)
	}
	if _, err := Open(ctx, g, keys.WriteCap(cap.SDMF), testOpts); !errors.Is(err, ErrNoShares) {
		t.Errorf("open with no servers: %v", err)
	}
}

// TestFailingWrites publishes while servers refuse writes: their shares
// go elsewhere.
func TestFailingWrites(t *testing.T) {
	ctx := context.Background()
	keys := testKeys(t, 1)[0]
	g := testgrid.New(t, 10)
	p := wrapPeers(g, func(i int, s lafs.StorageServer) lafs.StorageServer {
		h := &hooked{StorageServer: s}
		if i%3 == 0 {
			h.rtw = func(context.Context, map[lafs.ShareNum]lafs.TestWriteVectors) error { return lafs.ErrNoSpace }
		}
		return h
	})
	data := randomBytes(100_000, 5)
	f, err := Create(ctx, p, keys, cap.MDMF, data, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(shareHolders(t, g, keys.StorageIndex)); n != 10 {
		t.Errorf("%d shares placed", n)
	}
	if got, err := f.Read(ctx); err != nil || !bytes.Equal(got, data) {
		t.Fatal(err)
	}
}

func TestReadOnly(t *testing.T) {
	ctx := context.Background()
	keys := testKeys(t, 1)[0]
	g := testgrid.New(t, 5)
	f, err := Create(ctx, g, keys, cap.MDMF, []byte("hello"), testOpts)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Open(ctx, g, f.Cap().ReadOnly(), testOpts)
	if err != nil {
		t.Fatal(err)
	}
	if !r.IsReadOnly() || r.StorageIndex() != keys.StorageIndex {
		t.Error("read cap opened writable")
	}
	for name, err := range map[string]error{
		"overwrite": r.Overwrite(ctx, nil),
		"writeat":   r.WriteAt(ctx, []byte("x"), 0),
		"modify":    r.Modify(ctx, func(b []byte) ([]byte, error) { return b, nil }),
	} {
		if !errors.Is(err, ErrReadOnly) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := Open(ctx, g, f.Cap().Verifier(), testOpts); !errors.Is(err, cap.ErrInvalid) {
		t.Errorf("verify cap: %v", err)
	}
}
