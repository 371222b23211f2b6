package dirnode

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/crypt"
	"github.com/lafs/lafs/internal/testgrid"
	"github.com/lafs/lafs/mutable"
)

// TestGridMutableDirsRetrieved reads the grid's SDMF and MDMF directories
// as lafs clients will: Tahoe's shares are placed on a test grid (3 of
// them, by read-test-write as a Tahoe client would place them) and
// package mutable retrieves the plaintext, checking every hash and the
// signature. The directory contents then unpack to Tahoe's listing and
// re-pack to the same bytes, through the write cap and the read cap.
func TestGridMutableDirsRetrieved(t *testing.T) {
	ctx := context.Background()
	for _, kind := range []string{"dir2", "dir2-mdmf"} {
		t.Run(kind, func(t *testing.T) {
			o := gridObject(t, kind)
			d := parseDir(t, o.Cap)
			w := d.File.(*cap.MutableWrite)
			g := testgrid.New(t, 3)
			si := w.StorageIndex()
			for i, sh := range []int{1, 4, 8} {
				var container []byte
				for _, s := range o.Shares {
					if s.ShNum == sh {
						container = s.Container
					}
				}
				n := binary.BigEndian.Uint64(container[84:92])
				data := container[468 : 468+n]
				s := g.Servers[i]
				we := lafs.Secret(crypt.SSKWriteEnabler(w.WriteKey[:], s.NodeID[:]))
				tw := map[lafs.ShareNum]lafs.TestWriteVectors{lafs.ShareNum(sh): {
					Test:  []lafs.TestVector{{Offset: 0, Size: 1}},
					Write: []lafs.WriteVector{{Offset: 0, Data: data}},
				}}
				res, err := s.Storage.ReadTestWrite(ctx, si, we, lafs.LeaseSecrets{}, tw, nil)
				if err != nil || !res.Success {
					t.Fatalf("placing share %d: %v %v", sh, res.Success, err)
				}
			}
			for _, c := range []cap.Cap{d, d.ReadOnly()} {
				dc := c.(*cap.Dir)
				f, err := mutable.Open(ctx, g, dc.File, mutable.Options{})
				if err != nil {
					t.Fatal(err)
				}
				plain, err := f.Read(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if want := mutablePlaintext(t, o, w.ReadKey()); !bytes.Equal(plain, want) {
					t.Fatalf("%v: mutable retrieves other bytes than the test decoder", c)
				}
				var key []byte
				if wc, ok := dc.File.(*cap.MutableWrite); ok {
					key = wc.WriteKey[:]
				}
				entries, err := Unpack(plain, key, false)
				if err != nil {
					t.Fatal(err)
				}
				got, err := JSON(dc, entries)
				if err != nil {
					t.Fatal(err)
				}
				if key != nil {
					checkTJSON(t, kind, got, o.TJSON)
					again, err := Pack(entries, key, false)
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(again, plain) {
						t.Errorf("re-pack differs from Tahoe's directory")
					}
				} else if bytes.Contains(got, []byte(`"rw_uri"`)) {
					t.Errorf("read-only listing shows write caps:\n%s", got)
				}
			}
		})
	}
}
