package client

import (
	"bytes"
	"context"
	"encoding/binary"
	"slices"
	"testing"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/crypt"
	"github.com/lafs/lafs/dirnode"
	"github.com/lafs/lafs/internal/tahoevec"
	"github.com/lafs/lafs/internal/testgrid"
)

// placeMutableShares puts the shares Tahoe wrote of a mutable object onto
// the test grid, share i on server i mod 10, as a Tahoe client would: by
// read-test-write into an empty slot, with the write enabler derived from
// the write key and each server's id.
func placeMutableShares(t *testing.T, g *testgrid.Grid, o tahoevec.GridObject) {
	t.Helper()
	c, err := cap.Parse(o.Cap)
	if err != nil {
		t.Fatal(err)
	}
	w := c.(*cap.Dir).File.(*cap.MutableWrite)
	si := w.StorageIndex()
	for _, sh := range o.Shares {
		const header = 468 // the mutable container's header and lease slots
		n := binary.BigEndian.Uint64(sh.Container[84:92])
		data := sh.Container[header : header+n]
		s := g.Servers[sh.ShNum%len(g.Servers)]
		we := lafs.Secret(crypt.SSKWriteEnabler(w.WriteKey[:], s.NodeID[:]))
		tw := map[lafs.ShareNum]lafs.TestWriteVectors{lafs.ShareNum(sh.ShNum): {
			Test:  []lafs.TestVector{{Offset: 0, Size: 1}},
			Write: []lafs.WriteVector{{Offset: 0, Data: data}},
		}}
		res, err := s.Storage.ReadTestWrite(context.Background(), si, we, lafs.LeaseSecrets{}, tw, nil)
		if err != nil || !res.Success {
			t.Fatalf("placing share %d: %v %v", sh.ShNum, res.Success, err)
		}
	}
}

// TestTahoeDirectories reads the SDMF and MDMF directories a Tahoe 1.20
// grid wrote, as this client sees them (they list what Tahoe's t=json
// listed), then changes them and reads them back.
func TestTahoeDirectories(t *testing.T) {
	ctx := context.Background()
	for _, o := range tahoevec.LoadGrid(t).Objects {
		if o.Kind != "dir2" && o.Kind != "dir2-mdmf" {
			continue
		}
		t.Run(o.Kind, func(t *testing.T) {
			c, g := newTestClient(t)
			placeMutableShares(t, g, o)
			k, _ := cap.Parse(o.Cap)
			d, err := c.OpenDir(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			entries, err := d.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			got, err := dirnode.JSON(d.Cap(), entries)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(bytes.Join(bytes.Fields(got), nil), bytes.Join(bytes.Fields(o.TJSON), nil)) {
				t.Errorf("listing differs from Tahoe's t=json:\n%s\nTahoe:\n%s", got, o.TJSON)
			}
			var before []string
			for _, e := range entries {
				before = append(before, e.Name)
			}

			// Change it: a new child, one fewer, then read it afresh.
			if err := d.Set(ctx, "added by lafs", &cap.LIT{Data: []byte("hi")}, nil, ReplaceNone); err != nil {
				t.Fatal(err)
			}
			if _, err := d.Delete(ctx, before[0]); err != nil {
				t.Fatal(err)
			}
			fresh, err := c.OpenDir(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			want := append(slices.Clone(before[1:]), "added by lafs")
			slices.Sort(want)
			if got := names(t, fresh); !slices.Equal(got, want) {
				t.Errorf("after the changes: %v, want %v", got, want)
			}
			// The children Tahoe linked keep their caps and metadata.
			for _, e := range entries[1:] {
				f, err := fresh.Get(ctx, e.Name)
				if err != nil {
					t.Fatal(err)
				}
				fm, _ := f.Metadata.MarshalJSON()
				em, _ := e.Metadata.MarshalJSON()
				if !sameNode(f, e) || !bytes.Equal(fm, em) {
					t.Errorf("%s: %v %s, was %v %s", e.Name, f.Cap(), fm, e.Cap(), em)
				}
			}
			// Through its read cap, no write caps.
			ro, err := c.OpenDir(ctx, k.ReadOnly())
			if err != nil {
				t.Fatal(err)
			}
			roEntries, err := ro.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range roEntries {
				if e.Write != nil {
					t.Errorf("%s: write cap through the read cap", e.Name)
				}
			}
		})
	}
}
