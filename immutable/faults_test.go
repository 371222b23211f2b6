package immutable_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/backend"
	"github.com/lafs/lafs/backend/mem"
	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/immutable"
	"github.com/lafs/lafs/internal/testgrid"
	"github.com/lafs/lafs/storage"
)

// The immutable fault suite: each case damages one share (or one server)
// of a 3-of-10 file on twelve servers, then checks that the file still
// reads, from all servers and from the damaged share and exactly k-1
// others, that verify names the damaged share (when the damage is in
// bytes that anything checks), that its server was told, and that a
// repair makes the file healthy again with no share number stored twice.
// The outcome of each case is logged as a line of the README's table.

// region names a part of a share's data, by its layout.
type region struct {
	name string
	off  func(l *immutable.Layout, g immutable.Geometry) int64
	// checked says whether anything reads these bytes: the plaintext hash
	// tree is filler that no reader or verifier checks (as in Tahoe).
	checked bool
}

var shareRegions = []region{
	{"offset table (version)", func(l *immutable.Layout, g immutable.Geometry) int64 { return 1 }, true},
	{"offset table (version, low byte)", func(l *immutable.Layout, g immutable.Geometry) int64 { return 3 }, true},
	{"offset table (data size, informational)", func(l *immutable.Layout, g immutable.Geometry) int64 { return 0x0b }, false},
	{"offset table (data offset)", func(l *immutable.Layout, g immutable.Geometry) int64 { return 0x0f }, true},
	{"first block", func(l *immutable.Layout, g immutable.Geometry) int64 { return int64(l.Data) + 5 }, true},
	{"last block", func(l *immutable.Layout, g immutable.Geometry) int64 { return int64(l.PlaintextHashTree) - 1 }, true},
	{"plaintext hash tree (unused)", func(l *immutable.Layout, g immutable.Geometry) int64 { return int64(l.PlaintextHashTree) }, false},
	{"crypttext hash tree", func(l *immutable.Layout, g immutable.Geometry) int64 { return int64(l.CrypttextHashTree) + 40 }, true},
	{"block hash tree", func(l *immutable.Layout, g immutable.Geometry) int64 { return int64(l.BlockHashes) + 40 }, true},
	{"share hash chain", func(l *immutable.Layout, g immutable.Geometry) int64 { return int64(l.ShareHashes) + 3 }, true},
	{"UEB length", func(l *immutable.Layout, g immutable.Geometry) int64 { return int64(l.URIExtension) + 3 }, true},
	{"UEB", func(l *immutable.Layout, g immutable.Geometry) int64 { return int64(l.URIExtension) + 30 }, true},
}

type faultCase struct {
	name string
	// damage harms share 0 (on server bad) of the file; it returns
	// whether verify can see it.
	damage func(t *testing.T, g *testgrid.Grid, bad int, si lafs.StorageIndex, other *cap.CHKVerifier) bool
}

func faultCases() []faultCase {
	var cases []faultCase
	for _, r := range shareRegions {
		cases = append(cases, faultCase{"flip a byte: " + r.name, func(t *testing.T, g *testgrid.Grid, bad int, si lafs.StorageIndex, _ *cap.CHKVerifier) bool {
			data, err := g.Storage[bad].ReadImmutable(context.Background(), si, 0, 0, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			l, err := immutable.ParseLayout(data)
			if err != nil {
				t.Fatal(err)
			}
			ueb := uebOf(t, data, l)
			g.FlipShare(t, si, 0, false, r.off(l, ueb.Geometry()))
			return r.checked
		}})
	}
	cases = append(cases,
		faultCase{"flip a byte: container header", func(t *testing.T, g *testgrid.Grid, bad int, si lafs.StorageIndex, _ *cap.CHKVerifier) bool {
			flipContainer(t, g.Backends[bad], si, 0, 5)
			return true
		}},
		faultCase{"flip a byte: lease", func(t *testing.T, g *testgrid.Grid, bad int, si lafs.StorageIndex, _ *cap.CHKVerifier) bool {
			n, err := g.Backends[bad].Size(context.Background(), backend.Key{SI: si, Share: 0})
			if err != nil {
				t.Fatal(err)
			}
			flipContainer(t, g.Backends[bad], si, 0, n-10)
			return false // leases are the server's business, not the data's
		}},
		faultCase{"truncate to half", func(t *testing.T, g *testgrid.Grid, bad int, si lafs.StorageIndex, _ *cap.CHKVerifier) bool {
			k := backend.Key{SI: si, Share: 0}
			n, err := g.Backends[bad].Size(context.Background(), k)
			if err != nil {
				t.Fatal(err)
			}
			if err := g.Backends[bad].Truncate(context.Background(), k, n/2); err != nil {
				t.Fatal(err)
			}
			return true
		}},
		faultCase{"another file's share swapped in", func(t *testing.T, g *testgrid.Grid, bad int, si lafs.StorageIndex, other *cap.CHKVerifier) bool {
			ctx := context.Background()
			from := shareHolder(t, g, other.StorageIndex, 0)
			src := backend.Key{SI: other.StorageIndex, Share: 0}
			n, err := g.Backends[from].Size(ctx, src)
			if err != nil {
				t.Fatal(err)
			}
			b := make([]byte, n)
			if _, err := g.Backends[from].ReadAt(ctx, src, b, 0); err != nil {
				t.Fatal(err)
			}
			dst := backend.Key{SI: si, Share: 0}
			if err := g.Backends[bad].Delete(ctx, dst); err != nil {
				t.Fatal(err)
			}
			st, err := g.Backends[bad].Create(ctx, dst, n)
			if err != nil {
				t.Fatal(err)
			}
			if err := st.WriteAt(b, 0); err != nil {
				t.Fatal(err)
			}
			if err := st.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			return true
		}},
		faultCase{"server returns wrong bytes", func(t *testing.T, g *testgrid.Grid, bad int, si lafs.StorageIndex, _ *cap.CHKVerifier) bool {
			g.Faults[bad].Set(func(f *testgrid.Faults) { f.Corrupt = true })
			return true
		}},
	)
	return cases
}

func uebOf(t *testing.T, data []byte, l *immutable.Layout) *immutable.UEB {
	t.Helper()
	at := int(l.URIExtension)
	n := int(data[at])<<24 | int(data[at+1])<<16 | int(data[at+2])<<8 | int(data[at+3])
	u, err := immutable.ParseUEB(data[at+4 : at+4+n])
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func flipContainer(t *testing.T, b *mem.Mem, si lafs.StorageIndex, sh lafs.ShareNum, off int64) {
	t.Helper()
	ctx := context.Background()
	k := backend.Key{SI: si, Share: sh}
	p := make([]byte, 1)
	if _, err := b.ReadAt(ctx, k, p, off); err != nil {
		t.Fatal(err)
	}
	p[0] ^= 0x55
	if err := b.WriteAt(ctx, k, p, off); err != nil {
		t.Fatal(err)
	}
}

// copies counts the complete copies of each share number of si.
func copies(t *testing.T, g *testgrid.Grid, si lafs.StorageIndex) map[lafs.ShareNum]int {
	t.Helper()
	n := map[lafs.ShareNum]int{}
	for _, s := range g.Storage {
		have, err := s.ListImmutable(context.Background(), si)
		if err != nil {
			t.Fatal(err)
		}
		for _, sh := range have {
			n[sh]++
		}
	}
	return n
}

func TestImmutableFaultSuite(t *testing.T) {
	for _, fc := range faultCases() {
		t.Run(fc.name, func(t *testing.T) {
			g := testgrid.New(t, 12)
			data := randomData(700<<10, 11)
			c, v := uploadTo(t, g, data)
			_, other := uploadTo(t, g, randomData(700<<10, 12))
			bad := shareHolder(t, g, v.StorageIndex, 0)
			visible := fc.damage(t, g, bad, v.StorageIndex, other)

			got, err := download(t, g, c)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("read with every server: %v", err)
			}
			// The damaged share and exactly two good ones.
			var down []int
			for sh := lafs.ShareNum(3); sh < 10; sh++ {
				i := shareHolder(t, g, v.StorageIndex, sh)
				if i != bad {
					down = append(down, i)
				}
			}
			for _, i := range down {
				g.Faults[i].Set(func(f *testgrid.Faults) { f.Offline = true })
			}
			got, err = download(t, g, c)
			readK := "ok"
			switch {
			case err == nil && !bytes.Equal(got, data):
				t.Fatalf("read from the damaged share and two good ones gave wrong bytes")
			case err == nil && visible && strings.HasPrefix(fc.name, "flip a byte: crypttext hash tree"):
				// The crypttext tree is checked once per file, from the
				// first share opened: when that was a good one, the bad
				// copy is never read (as in Tahoe).
				readK = "ok when a good share's crypttext tree came first, else a clear error"
			case visible:
				// Only shares 1 and 2 are good: not enough, and a clear error.
				if err == nil {
					t.Errorf("read from the damaged share and two good ones succeeded?")
				}
				readK = "clear error (2 good shares)"
			case err != nil:
				t.Errorf("read from the share with unchecked damage and two others: %v", err)
			}
			for _, i := range down {
				g.Faults[i].Set(func(f *testgrid.Faults) { f.Offline = false })
			}

			r := check(t, g, v, lafs.CheckOptions{Verify: true})
			wantBad := lafs.ShareLocation{Server: g.Servers[bad].ID, StorageIndex: v.StorageIndex, Num: 0}
			if visible {
				if r.Healthy || r.GoodShares != 9 || !slices.Contains(r.Corrupt, wantBad) && !slices.Contains(r.Incompatible, wantBad) {
					t.Fatalf("verify did not name share 0: %+v", r)
				}
				if slices.Contains(r.Corrupt, wantBad) && !slices.Contains(g.Faults[bad].Advised(), 0) {
					t.Errorf("advise corrupt did not reach the server")
				}
			} else if !r.Healthy {
				t.Fatalf("verify: %+v", r)
			}
			rr := repair(t, g, v, true)
			if visible && (!rr.Attempted || !rr.Successful) {
				t.Fatalf("repair: %+v\npost %+v", rr, rr.PostRepair)
			}
			g.Faults[bad].Set(func(f *testgrid.Faults) { f.Corrupt = false })
			after := check(t, g, v, lafs.CheckOptions{Verify: true})
			if after.GoodShares != 10 || after.Happiness != 10 {
				t.Errorf("after repair: %+v", after)
			}
			for sh, n := range copies(t, g, v.StorageIndex) {
				// The damaged copy may stay (an immutable share cannot be
				// overwritten); no good share is ever stored twice.
				if n > 2 || n == 2 && sh != 0 {
					t.Errorf("share %d has %d copies", sh, n)
				}
			}
			t.Logf("TABLE | %s | read all: ok; read with k-1 others: %s | verify: %s | repair: %v, post %d good, happiness %d",
				fc.name, readK, verdict(r), rr.Successful || !rr.Attempted, after.GoodShares, after.Happiness)
		})
	}
}

func verdict(r *lafs.CheckResult) string {
	if len(r.Incompatible) > 0 {
		return fmt.Sprintf("sh%d incompatible (unknown layout version), %d good", r.Incompatible[0].Num, r.GoodShares)
	}
	if len(r.Corrupt) == 0 {
		return fmt.Sprintf("healthy (%d good)", r.GoodShares)
	}
	return fmt.Sprintf("sh%d corrupt, %d good", r.Corrupt[0].Num, r.GoodShares)
}

// TestRepairAfterServerVanishedMidUpload: a server dies during an
// upload; the file is stored without its share. After the server comes
// back, a repair adds exactly the missing share (Tahoe's stored a second
// copy of another).
func TestRepairAfterServerVanishedMidUpload(t *testing.T) {
	g := testgrid.New(t, 10)
	data := randomData(3<<20, 13)
	si := func() lafs.StorageIndex {
		k, err := immutable.ConvergentKey(bytes.NewReader(data), uint64(len(data)), opts.Convergence, opts.Params)
		if err != nil {
			t.Fatal(err)
		}
		return (&cap.CHK{Key: k}).StorageIndex()
	}()
	victim := slices.Index(g.Servers, g.ServersFor(si)[3])
	// The victim takes the first write of its share and then vanishes:
	// the upload goes on without it, and the share is left unfinished.
	g.Faults[victim].Set(func(f *testgrid.Faults) { f.VanishAfterWrites = 1 })
	c, v := uploadTo(t, g, data)
	g.Faults[victim].Set(func(f *testgrid.Faults) { f.Offline = false; f.VanishAfterWrites = 0 })
	before := copies(t, g, si)
	if len(before) != 9 {
		t.Fatalf("before repair, shares %v stand, want 9: the victim's left unfinished", before)
	}
	r := check(t, g, v, lafs.CheckOptions{})
	rr := repair(t, g, v, false)
	after := copies(t, g, si)
	if len(after) != 10 || !rr.PostRepair.Healthy {
		t.Fatalf("after repair: copies %v, %+v", after, rr.PostRepair)
	}
	for sh, n := range after {
		if n != 1 {
			t.Errorf("share %d has %d copies (before repair %v)", sh, n, before)
		}
	}
	got, err := download(t, g, c)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatal(err)
	}
	t.Logf("TABLE | server vanished mid-upload | upload ok, %d shares | check: %s | repair: %v, %d copies of each share", r.GoodShares, r.Summary, rr.Successful, 1)
}

// TestRepairAroundFullServer: the server that holds nothing of the file
// has a full disk; the repair places the share elsewhere.
func TestRepairAroundFullServer(t *testing.T) {
	g := testgrid.New(t, 10)
	_, v := uploadTo(t, g, randomData(900<<10, 14))
	// An eleventh server with room for almost nothing.
	seed := sha256.Sum256([]byte("full server"))
	st, err := storage.New(mem.NewWithCapacity(4<<10), storage.Config{})
	if err != nil {
		t.Fatal(err)
	}
	full := &lafs.Server{ID: "v0-full-server", PermutationSeed: seed[:], Storage: st, Latency: new(lafs.Latency)}
	g.Servers = append(g.Servers, full)
	g.Faults = append(g.Faults, &testgrid.Faults{})
	g.Storage = append(g.Storage, st)
	g.Backends = append(g.Backends, mem.New())
	i := shareHolder(t, g, v.StorageIndex, 6)
	deleteShare(t, g, i, v.StorageIndex, 6)
	rr := repair(t, g, v, false)
	if !rr.Successful || len(rr.Placed) != 1 || rr.Placed[0].Server == full.ID {
		t.Fatalf("repair: %+v, placed %v", rr, rr.Placed)
	}
}
