package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/backend"
	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/dirnode"
	"github.com/lafs/lafs/internal/testgrid"
	"github.com/lafs/lafs/mutable"
)

// deepTree is a tree for the deep traversal tests:
//
//	root/                 (SDMF)
//	  zz-unknown          a cap from the future
//	  a.txt               LIT, 10 bytes
//	  b.txt               CHK, 1000 bytes
//	  imm/                immutable: lit.txt (LIT, 3 bytes), big.txt (CHK, 5000 bytes)
//	  sub1/               (MDMF)
//	    back -> root      a cycle
//	    lit.txt           LIT, 3 bytes (the same cap as imm/lit.txt)
//	    shared/           (SDMF)
//	      deep.txt        CHK, 200 bytes
//	      loop -> sub1    a cycle
//	  sub2/               (SDMF)
//	    c.txt -> b.txt    the same file again
//	    shared -> sub1/shared
type deepTree struct {
	root, sub1, sub2, shared *Dir
	imm                      cap.Cap
	b, big, deep             cap.Cap
}

func upload(t *testing.T, c *Client, data []byte) cap.Cap {
	t.Helper()
	r, err := c.Upload(context.Background(), bytes.NewReader(data), int64(len(data)), UploadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return r.Cap
}

func buildDeepTree(t *testing.T, c *Client) *deepTree {
	t.Helper()
	ctx := context.Background()
	tr := &deepTree{}
	var err error
	if tr.root, err = c.CreateDir(ctx, cap.SDMF); err != nil {
		t.Fatal(err)
	}
	link := func(d *Dir, name string, k cap.Cap) {
		t.Helper()
		if err := d.Set(ctx, name, k, nil, ReplaceAny); err != nil {
			t.Fatal(err)
		}
	}
	unknown, err := dirnode.NewEntry("zz-unknown", "", "URI:NEWKIND:from-the-future", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.root.SetChildren(ctx, []dirnode.Entry{unknown}, ReplaceAny); err != nil {
		t.Fatal(err)
	}
	lit := upload(t, c, []byte("0123456789"))
	tr.b = upload(t, c, bytes.Repeat([]byte("b"), 1000))
	tr.big = upload(t, c, bytes.Repeat([]byte("g"), 5000))
	tr.deep = upload(t, c, bytes.Repeat([]byte("d"), 200))
	small := upload(t, c, []byte("abc"))
	link(tr.root, "a.txt", lit)
	link(tr.root, "b.txt", tr.b)
	e1, _ := dirnode.NewEntry("lit.txt", small.String(), "", nil, true)
	e2, _ := dirnode.NewEntry("big.txt", tr.big.String(), "", nil, true)
	imm, err := tr.root.MkdirImmutable(ctx, "imm", []dirnode.Entry{e1, e2}, ReplaceNone)
	if err != nil {
		t.Fatal(err)
	}
	tr.imm = imm.Cap()
	if tr.sub1, err = tr.root.Mkdir(ctx, "sub1", cap.MDMF, ReplaceNone); err != nil {
		t.Fatal(err)
	}
	if tr.sub2, err = tr.root.Mkdir(ctx, "sub2", cap.SDMF, ReplaceNone); err != nil {
		t.Fatal(err)
	}
	if tr.shared, err = tr.sub1.Mkdir(ctx, "shared", cap.SDMF, ReplaceNone); err != nil {
		t.Fatal(err)
	}
	link(tr.sub1, "back", tr.root.Cap())
	link(tr.sub1, "lit.txt", small)
	link(tr.shared, "deep.txt", tr.deep)
	link(tr.shared, "loop", tr.sub1.Cap())
	link(tr.sub2, "c.txt", tr.b)
	link(tr.sub2, "shared", tr.shared.ReadOnlyCap())
	return tr
}

func walkPaths(t *testing.T, c *Client, root cap.Cap) ([]string, []*WalkEntry) {
	t.Helper()
	var paths []string
	var entries []*WalkEntry
	err := c.Walk(context.Background(), root, func(e *WalkEntry) error {
		paths = append(paths, strings.Join(e.Path, "/"))
		entries = append(entries, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return paths, entries
}

func TestWalkOrder(t *testing.T) {
	c, _ := newTestClient(t)
	tr := buildDeepTree(t, c)
	paths, entries := walkPaths(t, c, tr.root.Cap())
	want := []string{
		"", "zz-unknown", "a.txt", "b.txt",
		"imm", "imm/big.txt", "imm/lit.txt",
		"sub1", "sub1/lit.txt", "sub1/shared", "sub1/shared/deep.txt",
		"sub2",
	}
	if !slices.Equal(paths, want) {
		t.Fatalf("walked\n%q\nwant\n%q", paths, want)
	}
	byPath := map[string]*WalkEntry{}
	for _, e := range entries {
		byPath[strings.Join(e.Path, "/")] = e
	}
	for path, kind := range map[string]dirnode.Kind{"": dirnode.KindDir, "zz-unknown": dirnode.KindUnknown, "a.txt": dirnode.KindFile, "imm": dirnode.KindDir} {
		if byPath[path].Kind != kind {
			t.Errorf("%s: kind %v, want %v", path, byPath[path].Kind, kind)
		}
	}
	if e := byPath["b.txt"]; e.Size != 1000 || e.Cap.String() != tr.b.String() {
		t.Errorf("b.txt: size %d", e.Size)
	}
	if e := byPath["imm"]; e.Children != 2 || e.Size != int64(tr.imm.(*cap.Dir).File.(*cap.CHK).Size) {
		t.Errorf("imm: %d children, size %d", e.Children, e.Size)
	}
	if e := byPath[""]; e.Children != 6 || e.Size <= 0 {
		t.Errorf("root: %d children, size %d", e.Children, e.Size)
	}
	if e := byPath["zz-unknown"]; e.Cap.String() != "ro.URI:NEWKIND:from-the-future" || e.VerifyCap() != nil || e.RepairCap() != nil {
		t.Errorf("unknown: %v", e.Cap)
	}
	if _, ok := byPath["a.txt"].StorageIndex(); ok || byPath["a.txt"].VerifyCap() != nil || byPath["a.txt"].RepairCap() != nil {
		t.Error("a LIT file has a storage index, a verify cap or a repair cap")
	}
	// Repair caps as Tahoe gives them.
	if rc := byPath["b.txt"].RepairCap(); rc == nil || rc.String() != tr.b.Verifier().String() {
		t.Errorf("repair cap of a CHK: %v", rc)
	}
	if rc := byPath["sub1"].RepairCap(); rc == nil || rc.String() != tr.sub1.Cap().String() {
		t.Errorf("repair cap of a directory: %v", rc)
	}
	if rc := byPath["imm"].RepairCap(); rc != nil {
		t.Errorf("repair cap of an immutable directory: %v", rc)
	}
	// The shared directory reached through a read cap elsewhere is the
	// same node: it was met first through sub1, with its write cap.
	if e := byPath["sub1/shared"]; e.Cap.String() != tr.shared.Cap().String() {
		t.Errorf("sub1/shared walked with another cap")
	}

	// The walk from sub2 goes through the read-only link and on up to
	// the root through the cycles, the root then being an ordinary child.
	paths, entries = walkPaths(t, c, tr.sub2.Cap())
	want = []string{
		"", "c.txt", "shared", "shared/deep.txt", "shared/loop", "shared/loop/lit.txt",
		"shared/loop/back", "shared/loop/back/zz-unknown", "shared/loop/back/a.txt",
		"shared/loop/back/imm", "shared/loop/back/imm/big.txt", "shared/loop/back/imm/lit.txt",
	}
	if !slices.Equal(paths, want) {
		t.Fatalf("walked from sub2\n%q\nwant\n%q", paths, want)
	}
	// Through a read cap every child is read-only.
	for _, e := range entries[2:] {
		if e.Cap != nil && e.Kind != dirnode.KindUnknown && e.Cap.IsMutable() && !e.Cap.IsReadOnly() {
			t.Errorf("%s: a write cap below a read cap", strings.Join(e.Path, "/"))
		}
	}

	// A file as root is visited alone.
	paths, _ = walkPaths(t, c, tr.b)
	if !slices.Equal(paths, []string{""}) {
		t.Errorf("walk of a file: %q", paths)
	}
}

func TestDeepStats(t *testing.T) {
	c, _ := newTestClient(t)
	tr := buildDeepTree(t, c)
	var s DeepStats
	if err := c.Walk(context.Background(), tr.root.Cap(), func(e *WalkEntry) error {
		s.Add(e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if s.CountDirectories != 5 || s.CountUnknown != 1 || s.CountFiles != 6 || s.CountLiteralFiles != 3 ||
		s.CountImmutableFiles != 3 || s.CountMutableFiles != 0 {
		t.Errorf("counts %+v", s)
	}
	if s.SizeLiteralFiles != 16 || s.SizeImmutableFiles != 6200 || s.LargestImmutableFile != 5000 {
		t.Errorf("sizes %+v", s)
	}
	if s.LargestDirectoryChildren != 6 || s.SizeDirectories < s.LargestDirectory || s.LargestDirectory <= 0 {
		t.Errorf("directories %+v", s)
	}
	if s.Size() != s.SizeImmutableFiles+s.SizeDirectories {
		t.Errorf("Size %d", s.Size())
	}
	wantHist := []HistogramBucket{{1, 3, 2}, {4, 10, 1}, {101, 316, 1}, {317, 1000, 1}, {3163, 10000, 1}}
	if !slices.Equal(s.SizeFilesHistogram, wantHist) {
		t.Errorf("histogram %v, want %v", s.SizeFilesHistogram, wantHist)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	wantKeys := `{"api-version":1,"count-immutable-files":3,"count-mutable-files":0,"count-literal-files":3,"count-files":6,` +
		`"count-directories":5,"count-unknown":1,"size-immutable-files":6200,"size-literal-files":16,"size-directories":`
	if !strings.HasPrefix(string(b), wantKeys) || !strings.HasSuffix(string(b), `"largest-immutable-file":5000,"size-files-histogram":[[1,3,2],[4,10,1],[101,316,1],[317,1000,1],[3163,10000,1]]}`) {
		t.Errorf("JSON %s", b)
	}
	if b, _ := json.Marshal(DeepStats{}); !strings.HasSuffix(string(b), `"largest-immutable-file":0,"size-files-histogram":[]}`) {
		t.Errorf("empty stats JSON %s", b)
	}
	cl := s.Clone()
	cl.SizeFilesHistogram[0].Count = 99
	if s.SizeFilesHistogram[0].Count != 2 {
		t.Error("Clone shares the histogram")
	}
}

// TestSizeBuckets checks the histogram's buckets against the ones
// Tahoe's DeepStats.which_bucket makes (computed with its Python code),
// two per decade, up to the last that fits in an int64.
func TestSizeBuckets(t *testing.T) {
	want := [][2]int64{{0, 0}, {1, 3}, {4, 10}, {11, 31}, {32, 100}, {101, 316}, {317, 1000}, {1001, 3162},
		{3163, 10000}, {10001, 31622}, {31623, 100000}, {100001, 316227}, {316228, 1000000}, {1000001, 3162277}}
	b := sizeBuckets()
	if len(b) != 39 || !slices.Equal(b[:len(want)], want) {
		t.Fatalf("%d buckets, beginning %v", len(b), b[:len(want)])
	}
	if b[36] != [2]int64{316227766016838657, 1000000000000002304} || b[37] != [2]int64{1000000000000002305, 3162277660168386560} {
		t.Errorf("buckets 36, 37: %v %v", b[36], b[37])
	}
	for i := 1; i < len(b); i++ {
		if b[i][0] != b[i-1][1]+1 || b[i][1] < b[i][0] {
			t.Fatalf("buckets %v then %v", b[i-1], b[i])
		}
	}
	for _, c := range []struct{ size, lo, hi int64 }{
		{0, 0, 0}, {3, 1, 3}, {4, 4, 10}, {920, 317, 1000}, {1 << 20, 1000001, 3162277}, {1<<63 - 1, 3162277660168386561, 1<<63 - 1},
	} {
		if lo, hi := sizeBucket(c.size); lo != c.lo || hi != c.hi {
			t.Errorf("bucket of %d: %d-%d, want %d-%d", c.size, lo, hi, c.lo, c.hi)
		}
	}
}

// removeShares deletes shares of si from every server, and returns how
// many it removed.
func removeShares(t *testing.T, g *testgrid.Grid, si lafs.StorageIndex, shares ...lafs.ShareNum) int {
	t.Helper()
	n := 0
	for _, b := range g.Backends {
		for _, sh := range shares {
			if err := b.Delete(context.Background(), backend.Key{SI: si, Share: sh}); err == nil {
				n++
			}
		}
	}
	return n
}

func TestWalkUnreadableDirectory(t *testing.T) {
	c, g := newTestClient(t)
	tr := buildDeepTree(t, c)
	si, _ := cap.StorageIndex(tr.sub1.Cap())
	if n := removeShares(t, g, si, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9); n != 10 {
		t.Fatalf("removed %d shares", n)
	}
	var paths []string
	var failed *WalkEntry
	err := c.Walk(context.Background(), tr.root.Cap(), func(e *WalkEntry) error {
		paths = append(paths, strings.Join(e.Path, "/"))
		if e.Err != nil {
			failed = e
		}
		return nil
	})
	if !errors.Is(err, mutable.ErrNoShares) || !strings.Contains(err.Error(), "sub1") {
		t.Fatalf("Walk: %v", err)
	}
	if strings.Contains(err.Error(), "URI:") {
		t.Errorf("the error shows a cap: %v", err)
	}
	if failed == nil || strings.Join(failed.Path, "/") != "sub1" || paths[len(paths)-1] != "sub1" {
		t.Errorf("visited %q, failed %v", paths, failed)
	}
	var s DeepStats
	s.Add(failed)
	if s.CountDirectories != 1 || s.SizeDirectories != 0 {
		t.Errorf("an unreadable directory counts as %+v", s)
	}
}

func TestWalkStops(t *testing.T) {
	c, _ := newTestClient(t)
	tr := buildDeepTree(t, c)
	stop := errors.New("enough")
	n := 0
	err := c.Walk(context.Background(), tr.root.Cap(), func(e *WalkEntry) error {
		if n++; n == 5 {
			return stop
		}
		return nil
	})
	if err != stop || n != 5 {
		t.Errorf("Walk: %v after %d visits", err, n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n = 0
	err = c.Walk(ctx, tr.root.Cap(), func(e *WalkEntry) error {
		if n++; n == 2 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || n != 2 {
		t.Errorf("Walk after cancel: %v after %d visits", err, n)
	}
}

// immutableTree makes an immutable directory holding a CHK file, a LIT
// file and an immutable subdirectory with another CHK file.
func immutableTree(t *testing.T, c *Client) (root, file, deep cap.Cap) {
	t.Helper()
	ctx := context.Background()
	file = upload(t, c, bytes.Repeat([]byte("f"), 3000))
	deep = upload(t, c, bytes.Repeat([]byte("e"), 300))
	e, _ := dirnode.NewEntry("deep.txt", deep.String(), "", nil, true)
	sub, err := c.CreateImmutableDir(ctx, []dirnode.Entry{e})
	if err != nil {
		t.Fatal(err)
	}
	var kids []dirnode.Entry
	for _, k := range [][2]string{{"file.txt", file.String()}, {"lit.txt", "URI:LIT:nbswy3dp"}, {"sub", sub.Cap().String()}} {
		e, err := dirnode.NewEntry(k[0], k[1], "", nil, true)
		if err != nil {
			t.Fatal(err)
		}
		kids = append(kids, e)
	}
	d, err := c.CreateImmutableDir(ctx, kids)
	if err != nil {
		t.Fatal(err)
	}
	return d.Cap(), file, deep
}

func TestDeepCheck(t *testing.T) {
	c, g := newTestClient(t)
	root, file, _ := immutableTree(t, c)
	si, _ := cap.StorageIndex(file)
	if n := removeShares(t, g, si, 0, 1); n != 2 {
		t.Fatalf("removed %d shares", n)
	}
	var paths []string
	results := map[string]*DeepCheckEntry{}
	err := c.DeepCheck(context.Background(), root, lafs.CheckOptions{}, func(e *DeepCheckEntry) error {
		p := strings.Join(e.Path, "/")
		paths = append(paths, p)
		results[p] = e
		if e.Repair != nil {
			t.Errorf("%s: a repair result without Repair", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"", "file.txt", "lit.txt", "sub", "sub/deep.txt"}; !slices.Equal(paths, want) {
		t.Fatalf("checked %q, want %q", paths, want)
	}
	if r := results["lit.txt"].Check; r != nil {
		t.Errorf("a LIT file was checked: %+v", r)
	}
	for _, p := range []string{"", "sub", "sub/deep.txt"} {
		if r := results[p].Check; r == nil || !r.Healthy {
			t.Errorf("%q: %+v", p, r)
		}
	}
	if r := results["file.txt"].Check; r == nil || r.Healthy || !r.Recoverable || r.GoodShares != 8 {
		t.Errorf("file.txt: %+v", r)
	}

	// A failing visit stops the deep check with its error.
	stop := errors.New("stop")
	var n atomic.Int32
	err = c.DeepCheck(context.Background(), root, lafs.CheckOptions{}, func(e *DeepCheckEntry) error {
		if n.Add(1) == 2 {
			return stop
		}
		return nil
	})
	if err != stop || n.Load() != 2 {
		t.Errorf("DeepCheck: %v after %d", err, n.Load())
	}
}

func TestDeepCheckRepair(t *testing.T) {
	c, g := newTestClient(t)
	root, file, _ := immutableTree(t, c)
	si, _ := cap.StorageIndex(file)
	removeShares(t, g, si, 3)
	results := map[string]*DeepCheckEntry{}
	err := c.DeepCheck(context.Background(), root, lafs.CheckOptions{Repair: true}, func(e *DeepCheckEntry) error {
		results[strings.Join(e.Path, "/")] = e
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if r := results["file.txt"].Repair; r == nil || !r.Attempted || !r.Successful || r.PreRepair.Healthy || !r.PostRepair.Healthy {
		t.Errorf("file.txt: %+v", r)
	}
	if r := results["sub"].Repair; r == nil || r.Attempted || !r.PreRepair.Healthy {
		t.Errorf("sub: %+v", r)
	}
	if r := results["lit.txt"]; r.Repair != nil || r.Check != nil {
		t.Errorf("lit.txt: %+v", r)
	}
}
