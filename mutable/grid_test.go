package mutable

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/crypt"
	"github.com/lafs/lafs/internal/testgrid"
)

// placeTahoeShares puts Tahoe's shares of a file on a test grid, share
// shnums[i] on server i, the way a Tahoe client would: by read-test-write
// into an empty slot, with the write enabler derived from the write key
// and each server's id. (Writing the container bytes to a backend would
// also carry Tahoe's leases and write enablers, but those belong to
// Tahoe's servers; the share data is what the client reads.)
func placeTahoeShares(t *testing.T, g *testgrid.Grid, f tahoeFile, shnums []int) {
	t.Helper()
	w, ok := f.cap.(*cap.MutableWrite)
	if !ok {
		t.Fatalf("%s: need a write cap to place shares", f.name)
	}
	si := w.StorageIndex()
	for i, sh := range shnums {
		s := g.Servers[i]
		we := lafs.Secret(crypt.SSKWriteEnabler(w.WriteKey[:], s.NodeID[:]))
		tw := map[lafs.ShareNum]lafs.TestWriteVectors{lafs.ShareNum(sh): {
			Test:  []lafs.TestVector{{Offset: 0, Size: 1}},
			Write: []lafs.WriteVector{{Offset: 0, Data: f.shares[sh]}},
		}}
		res, err := s.Storage.ReadTestWrite(context.Background(), si, we, lafs.LeaseSecrets{}, tw, nil)
		if err != nil || !res.Success {
			t.Fatalf("placing share %d: %v %v", sh, res.Success, err)
		}
	}
}

// subsets are the 3-share subsets the vector tests read from.
func subsets(r *rand.Rand) [][]int {
	out := [][]int{{0, 1, 2}, {7, 8, 9}, {0, 5, 9}, {3, 4, 6}}
	for range 4 {
		out = append(out, r.Perm(10)[:3])
	}
	return out
}

// TestTahoeGridFiles reads every SDMF and MDMF object of the Tahoe 1.20
// grid, and the older SDMF shares, from 3-share subsets of their shares,
// served by real storage servers. Directories must decode to the same
// bytes from every subset, hold their children's names, and re-encode to
// Tahoe's shares byte for byte.
func TestTahoeGridFiles(t *testing.T) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(1, 2))
	for _, f := range append(gridFiles(t), oldFiles(t)...) {
		t.Run(f.name, func(t *testing.T) {
			var first []byte
			for _, sub := range subsets(r) {
				g := testgrid.New(t, 3)
				placeTahoeShares(t, g, f, sub)
				for _, c := range []cap.Cap{f.cap, f.cap.ReadOnly()} {
					file, err := Open(ctx, g, c, Options{})
					if err != nil {
						t.Fatalf("shares %v, %v: %v", sub, c, err)
					}
					got, err := file.Read(ctx)
					if err != nil {
						t.Fatalf("shares %v: %v", sub, err)
					}
					if f.plaintext != nil && !bytes.Equal(got, f.plaintext) {
						t.Fatalf("shares %v: plaintext differs", sub)
					}
					if first == nil {
						first = got
					} else if !bytes.Equal(got, first) {
						t.Fatalf("shares %v: decoded differently from another subset", sub)
					}
					checkRanges(t, file, got, r)
				}
			}
			if f.dir {
				for _, name := range f.children {
					if !bytes.Contains(first, []byte(fmt.Sprintf("%d:%s,", len(name), name))) {
						t.Errorf("child %q not among the directory's entries", name)
					}
				}
				checkReencode(t, f, first)
			}
		})
	}
}

// checkRanges reads random ranges of an opened file with ReadAt.
func checkRanges(t *testing.T, f *File, want []byte, r *rand.Rand) {
	t.Helper()
	ctx := context.Background()
	if f.Size() != int64(len(want)) {
		t.Fatalf("Size %d, want %d", f.Size(), len(want))
	}
	for range 5 {
		off := r.IntN(len(want) + 1)
		n := r.IntN(len(want) - off + 10)
		p := make([]byte, n)
		got, err := f.ReadAt(ctx, p, int64(off))
		wantN := min(n, len(want)-off)
		if got != wantN || !bytes.Equal(p[:got], want[off:off+wantN]) {
			t.Fatalf("ReadAt(%d, %d) = %d, %v", off, n, got, err)
		}
		if (wantN < n || off == len(want)) != (err == io.EOF) {
			t.Fatalf("ReadAt(%d, %d): err %v", off, n, err)
		}
	}
}
