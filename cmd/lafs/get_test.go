package main

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/internal/testgrid"
)

// cutNext makes the node cut its next download after n bytes.
func cutNext(node *testNode, n int64) {
	node.setHook(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if r.Method == http.MethodGet {
			node.setHook(nil)
			w = &cuttingWriter{ResponseWriter: w, left: n}
		}
		next.ServeHTTP(w, r)
	})
}

// cuttingWriter passes on a response until left bytes of its body are
// sent, then aborts the connection.
type cuttingWriter struct {
	http.ResponseWriter
	left int64
}

func (c *cuttingWriter) Write(p []byte) (int, error) {
	if int64(len(p)) >= c.left {
		c.ResponseWriter.Write(p[:c.left])
		http.NewResponseController(c.ResponseWriter).Flush()
		panic(http.ErrAbortHandler)
	}
	c.left -= int64(len(p))
	return c.ResponseWriter.Write(p)
}

// A download that is cut is resumed with a Range request; one whose
// segment cannot be recovered fails saying which segment and why, and
// leaves no file behind.
func TestGetCutAndUnrecoverable(t *testing.T) {
	gg := newTestNode(t)
	const segSize = 128<<10 + 1 // rounded up to a multiple of k
	data := make([]byte, 2*segSize+5000)
	rand.Read(data)
	in := filepath.Join(t.TempDir(), "in")
	os.WriteFile(in, data, 0o644)
	out, errOut, code := runCmd(t, nil, "-d", gg.dir, "put", in)
	if code != 0 {
		t.Fatalf("put: %d %s", code, errOut)
	}
	k := strings.TrimSpace(out)

	// A transfer cut once goes on from where it stopped.
	dst := filepath.Join(t.TempDir(), "out")
	cutNext(gg, segSize+1234)
	if _, errOut, code := runCmd(t, nil, "-d", gg.dir, "get", k, dst); code != 0 {
		t.Fatalf("get after a cut: %d %s", code, errOut)
	}
	if b, _ := os.ReadFile(dst); string(b) != string(data) {
		t.Fatalf("get after a cut: %d bytes, want the file's %d", len(b), len(data))
	}

	// Another file (the first is remembered now), with its last
	// segment's blocks damaged in 8 of 10 shares.
	rand.Read(data)
	os.WriteFile(in, data, 0o644)
	if out, errOut, code = runCmd(t, nil, "-d", gg.dir, "put", in); code != 0 {
		t.Fatalf("put: %d %s", code, errOut)
	}
	k = strings.TrimSpace(out)
	c, _ := cap.Parse(k)
	si := c.(*cap.CHK).StorageIndex()
	blockSize := int64(segSize / 3)
	for sh := lafs.ShareNum(0); sh < 8; sh++ {
		gg.grid.FlipShare(t, si, sh, false, 0x24+2*blockSize+7)
	}
	dst2 := filepath.Join(t.TempDir(), "out2")
	start := time.Now()
	_, errOut, code = runCmd(t, nil, "-d", gg.dir, "get", k, dst2)
	want := "the transfer was cut after 262146 of 267146 bytes: 410 Gone: segment 2 of 3: not enough good shares: 2 of 3"
	if code != 1 || !strings.Contains(errOut, want) {
		t.Errorf("get of an unrecoverable segment: %d %q; want it to contain %q", code, errOut, want)
	}
	if strings.Contains(errOut, k) || strings.Contains(errOut, "URI:") {
		t.Errorf("the error shows the cap: %q", errOut)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("failing took %v", d)
	}
	if ents, _ := os.ReadDir(filepath.Dir(dst2)); len(ents) != 0 {
		t.Errorf("a failed get left %v", ents)
	}
}

// A put whose upload placed fewer shares than the file has (a server froze
// while it was written) succeeds, and says so.
func TestPutWarnsOfMissingShares(t *testing.T) {
	gg := newTestNode(t)
	gg.grid.Faults[3].Set(func(f *testgrid.Faults) { f.WriteDelay = time.Hour })
	data := make([]byte, 200000)
	rand.Read(data)
	in := filepath.Join(t.TempDir(), "in")
	os.WriteFile(in, data, 0o644)
	out, errOut, code := runCmd(t, nil, "-d", gg.dir, "put", in)
	if code != 0 || !strings.HasPrefix(out, "URI:CHK:") {
		t.Fatalf("put: %d %q %q", code, out, errOut)
	}
	if !strings.Contains(errOut, "warning: only 9 of 10 shares found a server") {
		t.Errorf("put does not warn of the missing share: %q", errOut)
	}
}

// A file whose name says gzip is saved as it is stored (as tahoe get
// does), and a cut transfer of it resumes at the right place.
func TestGetGzipNamedFile(t *testing.T) {
	gg := newTestNode(t)
	plain := make([]byte, 300000)
	rand.Read(plain)
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(plain)
	zw.Close()
	data := z.Bytes()
	in := filepath.Join(t.TempDir(), "in")
	os.WriteFile(in, data, 0o644)
	if _, errOut, code := runCmd(t, nil, "-d", gg.dir, "create-alias", "tahoe"); code != 0 {
		t.Fatalf("create-alias: %s", errOut)
	}
	if _, errOut, code := runCmd(t, nil, "-d", gg.dir, "put", in, "tahoe:x.gz"); code != 0 {
		t.Fatalf("put: %s", errOut)
	}
	for _, cut := range []int64{0, 140000} {
		dst := filepath.Join(t.TempDir(), "out")
		if cut > 0 {
			cutNext(gg, cut)
		}
		if _, errOut, code := runCmd(t, nil, "-d", gg.dir, "get", "tahoe:x.gz", dst); code != 0 {
			t.Fatalf("get (cut at %d): %s", cut, errOut)
		}
		if b, _ := os.ReadFile(dst); !bytes.Equal(b, data) {
			t.Errorf("get of a .gz file (cut at %d): %d bytes, not the file's %d", cut, len(b), len(data))
		}
	}
}

// saveTo runs a get's local side: plan, open, then during (the download)
// write data and commit.
func saveTo(t *testing.T, target string, during func(), data string) error {
	t.Helper()
	s, err := planSave(target)
	if err != nil {
		t.Fatalf("planSave: %v", err)
	}
	if err := s.open(); err != nil {
		t.Fatalf("open: %v", err)
	}
	defer s.abort()
	if during != nil {
		during()
	}
	if _, err := s.Write([]byte(data)); err != nil {
		t.Fatal(err)
	}
	return s.commit()
}

// dirNames lists dir.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// A file that appears at an absent target during the download is not
// replaced; the download stays in the temporary file the error names.
func TestGetSaveAppearedMeanwhile(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "out")
	err := saveTo(t, target, func() { os.WriteFile(target, []byte("precious"), 0o400) }, "downloaded")
	if err == nil || !strings.Contains(err.Error(), "appeared during the download") {
		t.Fatalf("commit over a file that appeared meanwhile: %v", err)
	}
	if b, _ := os.ReadFile(target); string(b) != "precious" {
		t.Errorf("the file that appeared was changed: %q", b)
	}
	names := dirNames(t, dir)
	if len(names) != 2 {
		t.Fatalf("directory holds %v, want the file and the kept download", names)
	}
	kept := filepath.Join(dir, names[0])
	if !strings.Contains(err.Error(), "kept in '"+kept+"'") {
		t.Errorf("error does not name the kept download %s: %v", kept, err)
	}
	if b, _ := os.ReadFile(kept); string(b) != "downloaded" {
		t.Errorf("kept download holds %q", b)
	}
}

// A new file is saved, with no temporary file left.
func TestGetSaveNew(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "out")
	if err := saveTo(t, target, nil, "downloaded"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(target); string(b) != "downloaded" {
		t.Errorf("saved %q", b)
	}
	if names := dirNames(t, dir); len(names) != 1 {
		t.Errorf("directory holds %v", names)
	}
}

// A file made read-only during the download is checked again at commit:
// refused for a user who may not write it; for root, who may, replaced
// with its new mode, not the one seen at the start.
func TestGetSaveMadeReadOnlyMeanwhile(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "out")
	os.WriteFile(target, []byte("old"), 0o644)
	err := saveTo(t, target, func() { os.Chmod(target, 0o444) }, "downloaded")
	b, _ := os.ReadFile(target)
	fi, _ := os.Stat(target)
	if os.Geteuid() != 0 && runtime.GOOS != "windows" {
		if err == nil || !strings.Contains(err.Error(), "now not writable (mode 0444)") {
			t.Errorf("commit over a file made read-only: %v", err)
		}
		if string(b) != "old" {
			t.Errorf("file made read-only was changed: %q", b)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != "downloaded" || fi.Mode().Perm() != 0o444 {
		t.Errorf("saved %q mode %04o, want the download with mode 0444", b, fi.Mode().Perm())
	}
}

// A file replaced by another one during the download: the new one's mode
// is kept.
func TestGetSaveReplacedMeanwhile(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "out")
	os.WriteFile(target, []byte("old"), 0o644)
	err := saveTo(t, target, func() {
		os.Remove(target)
		os.WriteFile(target, []byte("other"), 0o600)
	}, "downloaded")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(target)
	fi, _ := os.Stat(target)
	if string(b) != "downloaded" || (runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600) {
		t.Errorf("saved %q mode %04o", b, fi.Mode().Perm())
	}
}

// A file with another hard link is written in place, as Tahoe's
// open(path, "wb") does: both names read the download.
func TestGetSaveHardLink(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("links are not looked at on Windows")
	}
	dir := t.TempDir()
	target := filepath.Join(dir, "out")
	other := filepath.Join(dir, "other")
	os.WriteFile(target, []byte("old"), 0o640)
	if err := os.Link(target, other); err != nil {
		t.Skip(err)
	}
	if err := saveTo(t, target, nil, "downloaded"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{target, other} {
		if b, _ := os.ReadFile(p); string(b) != "downloaded" {
			t.Errorf("%s reads %q", filepath.Base(p), b)
		}
	}
	a, _ := os.Stat(target)
	if o, _ := os.Stat(other); !os.SameFile(a, o) || a.Mode().Perm() != 0o640 {
		t.Errorf("the link was broken or the mode changed: %04o", a.Mode().Perm())
	}
	if names := dirNames(t, dir); len(names) != 2 {
		t.Errorf("directory holds %v", names)
	}
}
