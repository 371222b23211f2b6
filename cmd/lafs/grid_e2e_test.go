package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lafs/lafs/internal/tahoevec"
	"github.com/lafs/lafs/internal/testutil"
)

// realGrid is an introducer, storage nodes and a client, each a real
// "lafs run" process on 127.0.0.1.
type realGrid struct {
	dir       string
	introNURL string
	storage   []*proc
	storeDirs []string
	client    *proc
	clientDir string
}

func startRealGrid(t *testing.T, nStorage int) *realGrid {
	t.Helper()
	g := &realGrid{dir: t.TempDir()}
	must := func(args ...string) {
		t.Helper()
		if _, errOut, code := runCmd(t, nil, args...); code != 0 {
			t.Fatalf("lafs %s: %s", strings.Join(args, " "), errOut)
		}
	}
	intro := filepath.Join(g.dir, "introducer")
	must("create-introducer", "--hostname", "127.0.0.1", intro)
	startProc(t, "introducer listening", "run", intro)
	b, err := os.ReadFile(filepath.Join(intro, "private", "introducer.nurl"))
	if err != nil {
		t.Fatal(err)
	}
	g.introNURL = strings.Fields(string(b))[0]
	for i := 0; i < nStorage; i++ {
		d := filepath.Join(g.dir, fmt.Sprintf("storage%d", i))
		must("create-node", "--webport", "none", "--hostname", "127.0.0.1", "--introducer", g.introNURL, "--nickname", fmt.Sprintf("s%d", i), d)
		g.storeDirs = append(g.storeDirs, d)
		g.storage = append(g.storage, startProc(t, "storage server listening", "run", d))
	}
	g.clientDir = filepath.Join(g.dir, "client")
	must("create-client", "--webport", "tcp:0:interface=127.0.0.1", "--introducer", g.introNURL, g.clientDir)
	g.client = startProc(t, "web API listening", "run", g.clientDir)
	g.waitConnected(t, nStorage)
	return g
}

func (g *realGrid) webURL(t *testing.T) string {
	b, err := os.ReadFile(filepath.Join(g.clientDir, "node.url"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func (g *realGrid) waitConnected(t *testing.T, n int) {
	t.Helper()
	mustSeeServers(t, g.webURL(t), n, 30*time.Second)
}

// mustSeeServers waits (localgrid.go's waitServers) until the client of
// the web API at web sees n storage servers connected, and fails the test
// if it sees another number when within has passed.
func mustSeeServers(t *testing.T, web string, n int, within time.Duration) {
	t.Helper()
	if got := waitServers(context.Background(), web, n, within); got != n {
		t.Fatalf("the client sees %d storage servers connected after %v, want %d", got, within, n)
	}
}

func sha256File(t *testing.T, path string) [32]byte {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	io.Copy(h, f)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// TestHeavyGridEndToEnd: introducer, 10 storage nodes and a client as real
// processes; put and get 100 MB; stop 7 storage nodes and get again; stop
// an 8th and get a clear error; restart them and all is well.
func TestHeavyGridEndToEnd(t *testing.T) {
	testutil.Heavy(t)
	g := startRealGrid(t, 10)
	src := filepath.Join(g.dir, "100MB")
	f, _ := os.Create(src)
	io.CopyN(f, rand.Reader, 100<<20)
	f.Close()
	want := sha256File(t, src)

	start := time.Now()
	out, errOut, code := runCmd(t, nil, "-d", g.clientDir, "put", src)
	if code != 0 {
		t.Fatalf("put: %s", errOut)
	}
	capStr := strings.TrimSpace(out)
	t.Logf("put 100 MB in %v: %s", time.Since(start), capStr)
	if !strings.HasPrefix(capStr, "URI:CHK:") {
		t.Fatalf("put printed %q", out)
	}
	get := func() (int, string) {
		dst := filepath.Join(g.dir, "out")
		os.Remove(dst)
		start := time.Now()
		_, errOut, code := runCmd(t, nil, "-d", g.clientDir, "get", capStr, dst)
		if code == 0 {
			if sha256File(t, dst) != want {
				t.Fatal("downloaded file differs")
			}
			t.Logf("get 100 MB in %v", time.Since(start))
		}
		return code, errOut
	}
	if code, errOut := get(); code != 0 {
		t.Fatalf("get: %s", errOut)
	}
	for i := 0; i < 7; i++ {
		g.storage[i].kill(syscall.SIGTERM)
	}
	if code, errOut := get(); code != 0 {
		t.Fatalf("get with 7 of 10 storage nodes down: %s", errOut)
	}
	g.storage[7].kill(syscall.SIGTERM)
	code, errOut = get()
	if code == 0 {
		t.Fatal("get succeeded with 8 of 10 storage nodes down")
	}
	if !strings.Contains(errOut, "410") || !strings.Contains(strings.ToLower(errOut), "share") {
		t.Errorf("unclear error with 8 nodes down: %q", errOut)
	}
	t.Logf("with 8 nodes down: %s", strings.TrimSpace(errOut))
	for i := 0; i < 8; i++ {
		g.storage[i] = startProc(t, "storage server listening", "run", g.storeDirs[i])
	}
	g.waitConnected(t, 10)
	if code, errOut := get(); code != 0 {
		t.Fatalf("get after restart: %s", errOut)
	}
	// The same file again: the shares are found, nothing is sent twice.
	start = time.Now()
	out2, errOut, code := runCmd(t, nil, "-d", g.clientDir, "put", src)
	if code != 0 || strings.TrimSpace(out2) != capStr {
		t.Fatalf("second put: %q %s", out2, errOut)
	}
	t.Logf("second put of the same 100 MB (nothing to send) in %v", time.Since(start))
}

// TestHeavyTahoeSharesThroughGrid lays the share files a live Tahoe 1.20
// grid wrote at their paths in ten lafs storage nodes' folders, and reads
// the Tahoe-made CHK files back through the grid with lafs get.
func TestHeavyTahoeSharesThroughGrid(t *testing.T) {
	testutil.Heavy(t)
	tg := tahoevec.LoadGrid(t)
	g := startRealGrid(t, 10)
	server := map[string]string{}
	for _, o := range tg.Objects {
		for _, s := range o.Shares {
			if _, ok := server[s.Server]; !ok {
				server[s.Server] = g.storeDirs[len(server)]
			}
			path := filepath.Join(server[s.Server], filepath.FromSlash(s.Path))
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, s.Container, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	n := 0
	for _, o := range tg.Objects {
		if o.Kind != "chk" && o.Kind != "lit" {
			continue
		}
		n++
		dst := filepath.Join(g.dir, "tahoe-file")
		if _, errOut, code := runCmd(t, nil, "-d", g.clientDir, "get", o.Cap, dst); code != 0 {
			t.Fatalf("%s: get: %s", o.Note, errOut)
		}
		if got := sha256File(t, dst); fmt.Sprintf("%x", got) != o.PlaintextSHA {
			t.Errorf("%s: contents differ from Tahoe's", o.Note)
		}
	}
	if n != 3 {
		t.Errorf("read %d Tahoe files, want 3", n)
	}
}
