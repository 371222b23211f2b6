package main

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"net/http"
	"os"
	"path/filepath"
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
