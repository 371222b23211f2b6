package disk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/backend"
	"github.com/lafs/lafs/backend/backendtest"
	"github.com/lafs/lafs/internal/tahoevec"
)

var ctx = context.Background()

func TestBackend(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backend.Backend { return open(t, t.TempDir()) })
}

// TestBackendWithoutJournal runs the suite where every change is fsynced
// on its own, as on systems without syncfs.
func TestBackendWithoutJournal(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backend.Backend { return openNoJournal(t, t.TempDir()) })
}

func BenchmarkBackend(b *testing.B) {
	backendtest.Bench(b, func(b *testing.B) backend.Backend { return open(b, b.TempDir()) })
}

// BenchmarkBackendWithoutJournal measures the fsync of each change.
func BenchmarkBackendWithoutJournal(b *testing.B) {
	backendtest.Bench(b, func(b *testing.B) backend.Backend { return openNoJournal(b, b.TempDir()) })
}

func open(t testing.TB, dir string) *Disk {
	t.Helper()
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// crash lets the process "die" under d: its journal's file (and lock) is
// dropped without a flush, as the kernel would at exit.
func crash(d *Disk) {
	if d.j != nil {
		d.j.f.Close()
	}
}

// openNoJournal opens dir with the journal turned off.
func openNoJournal(t testing.TB, dir string) *Disk {
	t.Helper()
	d := open(t, dir)
	if d.j != nil {
		if err := d.j.close(); err != nil {
			t.Fatal(err)
		}
		d.j = nil
	}
	return d
}

func put(t *testing.T, d *Disk, k backend.Key, data []byte) {
	t.Helper()
	st, err := d.Create(ctx, k, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.WriteAt(data, 0); err != nil {
		t.Fatal(err)
	}
	if err := st.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

func wantMode(t *testing.T, path string, want fs.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Error(err)
		return
	}
	if got := fi.Mode() & (fs.ModeDir | fs.ModePerm); got != want {
		t.Errorf("%s: mode %v, want %v", path, got, want)
	}
}

func wantNotExist(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, backend.ErrNotExist) {
		t.Errorf("%s: %v, want ErrNotExist", what, err)
	}
}

func wantGone(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s: still there (%v)", path, err)
	}
}

// TestLayout checks Tahoe's paths and our permissions: a staged share sits
// at shares/incoming/<si>.<n>, a committed one at shares/<prefix>/<si>/<n>,
// and the folders a Delete leaves empty go.
func TestLayout(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "storage")
	d := open(t, dir)
	si := lafs.StorageIndex{0x67, 0xe3, 0xc8, 0x54, 0xc1, 0x6d, 0xeb, 0xd7, 0x78, 0x9e, 0x58, 0x57, 0x04, 0xec, 0x26, 0x5b}
	s := si.String()
	if s != "m7r4qvgbnxv5o6e6lblqj3bglm" {
		t.Fatalf("storage index %s", s)
	}
	for _, p := range []string{dir, dir + "/shares", dir + "/shares/incoming"} {
		wantMode(t, p, fs.ModeDir|0o700)
	}

	k := backend.Key{SI: si, Share: 7}
	st, err := d.Create(ctx, k, 5)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.WriteAt([]byte("share"), 0); err != nil {
		t.Fatal(err)
	}
	incoming := filepath.Join(dir, "shares/incoming", s+".7")
	final := filepath.Join(dir, "shares/m7", s, "7")
	wantMode(t, incoming, 0o600)
	wantGone(t, final)
	if err := st.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(final); err != nil || string(b) != "share" {
		t.Errorf("%s: %q, %v", final, b, err)
	}
	wantMode(t, final, 0o600)
	wantMode(t, filepath.Dir(final), fs.ModeDir|0o700)
	wantMode(t, filepath.Dir(filepath.Dir(final)), fs.ModeDir|0o700)
	wantGone(t, incoming)

	st, err = d.Create(ctx, backend.Key{SI: si, Share: 8}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Create(ctx, backend.Key{SI: si, Share: 8}, 1); err == nil {
		t.Errorf("a second Create of a share being staged succeeded")
	}
	if err := st.Abort(); err != nil {
		t.Fatal(err)
	}
	wantGone(t, filepath.Join(dir, "shares/incoming", s+".8"))
	wantMode(t, filepath.Join(dir, "shares/incoming"), fs.ModeDir|0o700)

	if err := d.Delete(ctx, k); err != nil {
		t.Fatal(err)
	}
	wantGone(t, filepath.Join(dir, "shares/m7"))
	wantMode(t, filepath.Join(dir, "shares"), fs.ModeDir|0o700)
}

// TestCommitOverLitter: a file where a storage index's folder belongs makes
// Commit fail, and the file is left alone.
func TestCommitOverLitter(t *testing.T) {
	dir := t.TempDir()
	d := open(t, dir)
	k := backend.Key{SI: lafs.StorageIndex{7}, Share: 0}
	litter := filepath.Join(dir, "shares", k.SI.String()[:2], k.SI.String())
	if err := os.MkdirAll(filepath.Dir(litter), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(litter, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := d.Create(ctx, k, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Commit(ctx); err == nil {
		t.Errorf("Commit into a file succeeded")
	}
	if fi, err := os.Stat(litter); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("the file in the way: %v, %v", fi, err)
	}
}

// TestOpenCleansIncoming: what a crash leaves in incoming/ is gone after
// Open, and nothing else is touched.
func TestOpenCleansIncoming(t *testing.T) {
	dir := t.TempDir()
	d := open(t, dir)
	k := backend.Key{SI: lafs.StorageIndex{1, 2, 3}, Share: 1}
	put(t, d, k, []byte("kept"))
	st, err := d.Create(ctx, backend.Key{SI: k.SI, Share: 2}, 4)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.WriteAt([]byte("lost"), 0); err != nil {
		t.Fatal(err)
	}
	// st is never finished, as after a crash; add Tahoe's own leftovers.
	crash(d)
	junk := filepath.Join(dir, "shares/incoming/aa/aaaaaaaaaaaaaaaaaaaaaaaaaa")
	if err := os.MkdirAll(junk, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(junk, "0"), []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}

	d = open(t, dir)
	ents, err := os.ReadDir(filepath.Join(dir, "shares/incoming"))
	if err != nil || len(ents) != 0 {
		t.Errorf("incoming/ after Open: %v, %v", ents, err)
	}
	if l, err := d.List(ctx, k.SI); err != nil || !slices.Equal(l, []lafs.ShareNum{1}) {
		t.Errorf("List = %v, %v; want [1]", l, err)
	}
	if err := st.Abort(); err != nil {
		t.Errorf("Abort of a staged object wiped by Open: %v", err)
	}
}

// TestTahoeFolder serves a storage folder that Tahoe 1.20 wrote (the shares
// of tahoe120_grid.json, every server's in one folder), with litter that
// must be ignored.
func TestTahoeFolder(t *testing.T) {
	grid := tahoevec.LoadGrid(t)
	storage := filepath.Join(t.TempDir(), "storage")
	want := map[string]map[lafs.ShareNum][]byte{}
	for _, o := range grid.Objects {
		for _, sh := range o.Shares {
			rel, ok := strings.CutPrefix(sh.Path, "storage/")
			if !ok {
				t.Fatalf("share path %q", sh.Path)
			}
			path := filepath.Join(storage, filepath.FromSlash(rel))
			if _, err := os.Stat(path); err == nil {
				t.Fatalf("two shares at %s", path)
			}
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, sh.Container, 0o644); err != nil {
				t.Fatal(err)
			}
			if want[o.StorageIndex] == nil {
				want[o.StorageIndex] = map[lafs.ShareNum][]byte{}
			}
			want[o.StorageIndex][lafs.ShareNum(sh.ShNum)] = sh.Container
		}
	}
	if len(want) == 0 {
		t.Fatal("no shares in the grid")
	}
	shares := filepath.Join(storage, "shares")
	some := filepath.Join(shares, "m7/m7r4qvgbnxv5o6e6lblqj3bglm")
	for _, p := range []string{
		"m7/m7r4qvgbnxv5o6e6lblqj3bglm/notes.txt",   // not a number
		"m7/m7r4qvgbnxv5o6e6lblqj3bglm/007",         // not canonical
		"m7/m7r4qvgbnxv5o6e6lblqj3bglm/65536",       // too large
		"m7/m7r4qvgbnxv5o6e6lblqj3bglm/12/x",        // a folder
		"m7/m7aaaaaaaaaaaaaaaaaaaaaaaa/",            // no shares
		"m7/aaaaaaaaaaaaaaaaaaaaaaaaaa/0",           // wrong prefix
		"m7/m7r4qvgbnxv5o6e6lblqj3bgln/0",           // not strict base32
		"m7/M7R4QVGBNXV5O6E6LBLQJ3BGLM/0",           // upper case
		"m7/m7r4qvgbnxv5o6e6lblqj3bg/0",             // short
		"m7a/m7r4qvgbnxv5o6e6lblqj3bglm/0",          // not a prefix
		"incoming/aa/aaaaaaaaaaaaaaaaaaaaaaaaaa/0",  // wiped by Open
		"../corruption-advisories/immutable-m7r4-1", // beside shares/
		"stray-file",
		"22", // a file named as a prefix folder
	} {
		path := filepath.Join(shares, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(p, "/") {
			if err := os.WriteFile(path, []byte("litter"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}

	d := open(t, storage)
	var walked []lafs.StorageIndex
	var names []string
	if err := d.Walk(ctx, func(si lafs.StorageIndex) error {
		walked = append(walked, si)
		names = append(names, si.String())
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var wantNames []string
	for s := range want {
		wantNames = append(wantNames, s)
	}
	slices.Sort(wantNames)
	if !slices.Equal(names, wantNames) {
		t.Errorf("Walk = %v\nwant %v", names, wantNames)
	}
	// Prefix by prefix, the same, each prefix in the order of the names.
	var byPrefix []string
	for _, p := range backend.Prefixes() {
		if err := d.WalkPrefix(ctx, p, func(si lafs.StorageIndex) error {
			byPrefix = append(byPrefix, si.String())
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(byPrefix, wantNames) {
		t.Errorf("WalkPrefix over all prefixes = %v\nwant %v", byPrefix, wantNames)
	}
	for _, si := range walked {
		s := si.String()
		l, err := d.List(ctx, si)
		if err != nil || len(l) != len(want[s]) {
			t.Errorf("%s: List = %v, %v; want %d shares", s, l, err, len(want[s]))
		}
		for _, n := range l {
			p := make([]byte, len(want[s][n])+1)
			m, err := d.ReadAt(ctx, backend.Key{SI: si, Share: n}, p, 0)
			if m != len(p)-1 || !bytes.Equal(p[:m], want[s][n]) {
				t.Errorf("%s/%d: read back other bytes (%d, %v)", s, n, m, err)
			}
		}
	}
	// The folder named like share 12 is no share.
	k12 := backend.Key{SI: walked[slices.Index(names, "m7r4qvgbnxv5o6e6lblqj3bglm")], Share: 12}
	_, err := d.Size(ctx, k12)
	wantNotExist(t, "Size of a folder", err)
	_, err = d.ReadAt(ctx, k12, make([]byte, 1), 0)
	wantNotExist(t, "ReadAt of a folder", err)
	wantNotExist(t, "WriteAt of a folder", d.WriteAt(ctx, k12, []byte("x"), 0))
	wantNotExist(t, "Truncate of a folder", d.Truncate(ctx, k12, 0))
	wantNotExist(t, "Delete of a folder", d.Delete(ctx, k12))
	if _, err := os.Stat(filepath.Join(some, "12/x")); err != nil {
		t.Errorf("the folder was touched: %v", err)
	}
	if _, err := os.Stat(filepath.Join(some, "notes.txt")); err != nil {
		t.Errorf("litter in a share folder was touched: %v", err)
	}
	wantGone(t, filepath.Join(shares, "incoming/aa"))
}

// mountTmpfs mounts a small tmpfs for a test to fill, or skips the test
// when it cannot (mounting needs root).
func mountTmpfs(t *testing.T, opts string) string {
	mnt := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", opts, "tmpfs", mnt).CombinedOutput()
	if err != nil {
		t.Skipf("cannot mount a small tmpfs to fill (needs root): %v: %s", err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", mnt, err, out)
		}
	})
	return mnt
}

// TestDiskFull fills a 256 KiB tmpfs: every write that finds no space
// fails with backend.ErrNoSpace, and nothing partial becomes visible.
func TestDiskFull(t *testing.T) {
	mnt := mountTmpfs(t, "size=256k,mode=0700")
	d := open(t, mnt)
	free, err := d.Available(ctx)
	if err != nil || free == 0 || free > 256<<10 {
		t.Fatalf("Available = %d, %v; want up to 256 KiB", free, err)
	}

	small := backend.Key{SI: lafs.StorageIndex{9}, Share: 0}
	put(t, d, small, []byte("small"))

	// A staged object bigger than the disk.
	big := backend.Key{SI: lafs.StorageIndex{8}, Share: 1}
	st, err := d.Create(ctx, big, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	chunk := bytes.Repeat([]byte{0xaa}, 16<<10)
	var werr error
	for off := int64(0); off < 1<<20 && werr == nil; off += int64(len(chunk)) {
		werr = st.WriteAt(chunk, off)
	}
	if !errors.Is(werr, backend.ErrNoSpace) {
		t.Fatalf("filling the disk: %v, want ErrNoSpace", werr)
	}
	if l, err := d.List(ctx, big.SI); err != nil || len(l) != 0 {
		t.Errorf("a failed staged object is listed: %v, %v", l, err)
	}
	if free, err := d.Available(ctx); err != nil || free > 8<<10 {
		t.Errorf("Available on a full disk = %d, %v", free, err)
	}

	// In-place writes to a committed object, while the disk is full.
	if err := d.WriteAt(ctx, small, chunk, 5); !errors.Is(err, backend.ErrNoSpace) {
		t.Errorf("extending WriteAt on a full disk: %v, want ErrNoSpace", err)
	}
	if err := d.Truncate(ctx, small, 5); err != nil {
		t.Fatal(err)
	}
	if p := make([]byte, 5); func() error { _, err := d.ReadAt(ctx, small, p, 0); return err }() != nil || string(p) != "small" {
		t.Errorf("the committed object was damaged: %q", p)
	}

	if err := st.Abort(); err != nil {
		t.Fatal(err)
	}
	wantGone(t, filepath.Join(mnt, "shares/incoming", fmt.Sprintf("%s.%d", big.SI, big.Share)))
	if after, err := d.Available(ctx); err != nil || after < free-8<<10 {
		t.Errorf("Available after Abort = %d, %v; want about %d", after, err, free)
	}
	// Space is back: the same upload fits now.
	put(t, d, big, bytes.Repeat([]byte{1}, 64<<10))
}

// TestOutOfInodes runs a tmpfs out of inodes, so that creating the folders
// and files of new shares fails: Create or Commit fails with
// backend.ErrNoSpace and the share stays invisible. On tmpfs every link
// takes an inode, so Commit meets it first (in mkdir for new storage
// indexes, in link for more shares of one); Create meets it once inodes
// are used up by others.
func TestOutOfInodes(t *testing.T) {
	for _, c := range []struct {
		name string
		key  func(i int) backend.Key
	}{
		{"NewIndexes", func(i int) backend.Key { return backend.Key{SI: lafs.StorageIndex{byte(i), 1}, Share: 3} }},
		{"OneIndex", func(i int) backend.Key { return backend.Key{SI: lafs.StorageIndex{1}, Share: lafs.ShareNum(i)} }},
	} {
		for _, inodes := range []int{24, 25} {
			t.Run(fmt.Sprintf("%s/%d", c.name, inodes), func(t *testing.T) {
				mnt := mountTmpfs(t, fmt.Sprintf("size=1m,nr_inodes=%d,mode=0700", inodes))
				d := open(t, mnt)
				fillInodes(t, d, c.key)
				for i := 0; ; i++ {
					err := os.WriteFile(filepath.Join(mnt, fmt.Sprint("junk", i)), nil, 0o600)
					if err != nil {
						break
					}
				}
				if _, err := d.Create(ctx, c.key(1000), 1); !errors.Is(err, backend.ErrNoSpace) {
					t.Errorf("Create with no inodes left: %v, want ErrNoSpace", err)
				}
			})
		}
	}
}

// fillInodes stores shares until Commit runs out of inodes, and checks that
// it failed with ErrNoSpace and left nothing behind.
func fillInodes(t *testing.T, d *Disk, key func(int) backend.Key) {
	for i := range 100 {
		k := key(i)
		st, err := d.Create(ctx, k, 1)
		if err != nil {
			t.Fatalf("Create %d: %v", i, err)
		}
		if err := st.WriteAt([]byte{1}, 0); err != nil {
			t.Fatalf("WriteAt %d: %v", i, err)
		}
		if err := st.Commit(ctx); err != nil {
			if !errors.Is(err, backend.ErrNoSpace) {
				t.Fatalf("Commit %d: %v, want ErrNoSpace", i, err)
			}
			if _, err := d.Size(ctx, k); !errors.Is(err, backend.ErrNotExist) {
				t.Errorf("a failed Commit is visible: %v", err)
			}
			if ents, err := os.ReadDir(d.incoming); err != nil || len(ents) != 0 {
				t.Errorf("a failed Commit left %v in incoming/ (%v)", ents, err)
			}
			return
		}
	}
	t.Fatal("100 shares fit")
}

func TestParseSI(t *testing.T) {
	for _, c := range []struct {
		prefix, name string
		ok           bool
	}{
		{"m7", "m7r4qvgbnxv5o6e6lblqj3bglm", true},
		{"aa", "aaaaaaaaaaaaaaaaaaaaaaaaaa", true},
		{"77", "77777777777777777777777774", true},
		{"77", "77777777777777777777777777", false}, // stray low bits
		{"m7", "m7r4qvgbnxv5o6e6lblqj3bgln", false},
		{"m7", "M7R4QVGBNXV5O6E6LBLQJ3BGLM", false},
		{"M7", "M7R4QVGBNXV5O6E6LBLQJ3BGLM", false},
		{"m7", "m7r4qvgbnxv5o6e6lblqj3bgl", false},
		{"m7", "m7r4qvgbnxv5o6e6lblqj3bglma", false},
		{"m8", "m7r4qvgbnxv5o6e6lblqj3bglm", false},
		{"m7", "m7r4qvgbnxv5o6e6lblqj3bgl=", false},
		{"m7", "m7r4qvgbnxv5o6e6lblqj3bgl1", false},
		{"in", "incoming", false},
	} {
		si, ok := parseSI(c.prefix, c.name)
		if ok != c.ok || ok && si.String() != c.name {
			t.Errorf("parseSI(%q, %q) = %v, %v", c.prefix, c.name, si, ok)
		}
	}
}

// TestCommitSyncsNewFolders: without the journal, every folder that
// concurrent commits make has its parent synced by the time the commits
// return, whichever commit made it, and no staged file is left behind.
func TestCommitSyncsNewFolders(t *testing.T) {
	d := openNoJournal(t, filepath.Join(t.TempDir(), "storage"))
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Four storage indexes under two prefixes, sixteen shares each.
			var si lafs.StorageIndex
			si[0] = byte(i % 2 << 3)
			si[15] = byte(i % 4)
			k := backend.Key{SI: si, Share: lafs.ShareNum(i / 4)}
			st, err := d.Create(ctx, k, 1)
			if err == nil {
				err = st.WriteAt([]byte{byte(i)}, 0)
			}
			if err == nil {
				err = st.Commit(ctx)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	d.unsynced.Range(func(k, _ any) bool {
		t.Errorf("folder %v made but its parent never synced", k)
		return true
	})
	if ents, err := os.ReadDir(d.incoming); err != nil || len(ents) != 0 {
		t.Errorf("incoming/ after the commits: %v, %v", ents, err)
	}
	for i := range 4 {
		var si lafs.StorageIndex
		si[0] = byte(i % 2 << 3)
		si[15] = byte(i)
		if got, err := d.List(ctx, si); err != nil || len(got) != 16 {
			t.Errorf("List(%v) = %v, %v; want 16 shares", si, got, err)
		}
	}
}
