package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/internal/testutil"
)

// webPut stores data through the client's web API and returns the cap.
func webPut(t *testing.T, base string, data []byte) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, base+"uri", bytes.NewReader(data))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT: %s %s", resp.Status, b)
	}
	return string(b)
}

func webPost(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Post(url, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST: %s %s", resp.Status, b)
	}
	return string(b)
}

func webGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET: %s %s", resp.Status, b)
	}
	return string(b)
}

// shareHolder returns the storage node holding share sh of the file c.
func (g *realGrid) shareHolder(t *testing.T, c string, sh int) int {
	t.Helper()
	k, err := cap.Parse(c)
	if err != nil {
		t.Fatal(err)
	}
	si := k.(*cap.CHK).StorageIndex().String()
	for i, d := range g.storeDirs {
		if _, err := os.Stat(filepath.Join(d, "storage", "shares", si[:2], si, fmt.Sprint(sh))); err == nil {
			return i
		}
	}
	t.Fatalf("no node holds share %d", sh)
	return -1
}

// shareCount counts the share files of the file c on every node.
func (g *realGrid) shareCount(t *testing.T, c string) int {
	k, err := cap.Parse(c)
	if err != nil {
		t.Fatal(err)
	}
	si := k.(*cap.CHK).StorageIndex().String()
	n := 0
	for _, d := range g.storeDirs {
		ents, _ := os.ReadDir(filepath.Join(d, "storage", "shares", si[:2], si))
		n += len(ents)
	}
	return n
}

// incoming counts the shares being uploaded on every node.
func (g *realGrid) incoming() int {
	n := 0
	for _, d := range g.storeDirs {
		ents, _ := os.ReadDir(filepath.Join(d, "storage", "shares", "incoming"))
		n += len(ents)
	}
	return n
}

// timedGet downloads c through the web API, calling during after the
// first MiB, and checks the bytes.
func timedGet(t *testing.T, base, c string, want []byte, during func()) time.Duration {
	t.Helper()
	start := time.Now()
	resp, err := http.Get(base + "uri/" + c)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	h := sha256.New()
	if _, err := io.CopyN(h, resp.Body, 1<<20); err != nil {
		t.Fatal(err)
	}
	if during != nil {
		during()
	}
	if _, err := io.Copy(h, resp.Body); err != nil {
		t.Fatalf("GET: %v", err)
	}
	if sum := sha256.Sum256(want); !bytes.Equal(h.Sum(nil), sum[:]) {
		t.Fatal("downloaded bytes differ")
	}
	return time.Since(start)
}

// TestHeavyFaults runs the fault cases of issue 9 against real processes:
// a storage node frozen (SIGSTOP) while a download reads blocks, while it
// opens shares, and before an upload; a client killed in the middle of an
// upload and started again; many identical uploads at once.
func TestHeavyFaults(t *testing.T) {
	testutil.Heavy(t)
	g := startRealGrid(t, 10)
	base := g.webURL(t)
	file := func() []byte {
		b := make([]byte, 20<<20)
		rand.Read(b)
		return b
	}

	a, b := file(), file()
	capA, capB := webPut(t, base, a), webPut(t, base, b)
	normal := timedGet(t, base, capA, a, nil)
	t.Logf("GET 20 MB: %v", normal)

	// Frozen while blocks are read (the file's shares already open).
	frozen := g.storage[g.shareHolder(t, capA, 0)]
	d := timedGet(t, base, capA, a, func() { frozen.cmd.Process.Signal(syscall.SIGSTOP) })
	frozen.cmd.Process.Signal(syscall.SIGCONT)
	t.Logf("GET 20 MB, share 0's node frozen mid-stream: %v", d)
	if d > normal+5*time.Second {
		t.Errorf("a node frozen mid-stream cost %v", d-normal)
	}

	// Frozen while the shares of a file not read before are opened.
	frozen = g.storage[g.shareHolder(t, capB, 0)]
	frozen.cmd.Process.Signal(syscall.SIGSTOP)
	d = timedGet(t, base, capB, b, nil)
	frozen.cmd.Process.Signal(syscall.SIGCONT)
	t.Logf("GET 20 MB, share 0's node frozen before the GET: %v", d)
	if d > normal+5*time.Second {
		t.Errorf("a node frozen at open cost %v", d-normal)
	}

	// Frozen before an upload: 10 shares on 9 nodes, within seconds.
	c := make([]byte, 3300000)
	rand.Read(c)
	g.storage[4].cmd.Process.Signal(syscall.SIGSTOP)
	start := time.Now()
	capC := webPut(t, base, c)
	d = time.Since(start)
	g.storage[4].cmd.Process.Signal(syscall.SIGCONT)
	t.Logf("PUT 3.3 MB with a node frozen: %v", d)
	if d > 8*time.Second {
		t.Errorf("a frozen node cost a PUT %v", d)
	}
	if n := g.shareCount(t, capC); n != 10 {
		t.Errorf("PUT with a frozen node stored %d shares, want 10", n)
	}

	// Directories with a node frozen: the servermap and the publish go on
	// without it within seconds, and faster once it is known to be slow.
	dir := webPost(t, base+"uri?t=mkdir")
	g.storage[6].cmd.Process.Signal(syscall.SIGSTOP)
	for i, op := range []func(){
		func() { webGet(t, base+"uri/"+dir+"?t=json") },
		func() { webPost(t, base+"uri/"+dir+"/sub?t=mkdir") },
		func() { webGet(t, base+"uri/"+dir+"?t=json") },
	} {
		start := time.Now()
		op()
		d := time.Since(start)
		t.Logf("directory operation %d with a node frozen: %v", i, d)
		if d > 8*time.Second {
			t.Errorf("directory operation %d with a node frozen took %v", i, d)
		}
	}
	g.storage[6].cmd.Process.Signal(syscall.SIGCONT)

	// A client killed in the middle of an upload, then started again:
	// the same file uploads at once, with every share.
	big := filepath.Join(g.dir, "big")
	data := make([]byte, 60<<20)
	rand.Read(data)
	os.WriteFile(big, data, 0o600)
	put := exec.Command(lafsBinary(t), "-d", g.clientDir, "put", big)
	if err := put.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill it once shares are being written.
	pending := filepath.Join(g.clientDir, "private", "uploads-in-progress")
	deadline := time.Now().Add(30 * time.Second)
	for g.incoming() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	for time.Now().Before(deadline) {
		if fi, err := os.Stat(pending); err == nil && fi.Size() > 0 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	g.client.kill(syscall.SIGKILL)
	put.Process.Kill()
	put.Wait()
	if g.incoming() == 0 {
		t.Fatal("no share was half-written when the client was killed")
	}
	if _, err := os.Stat(pending); err != nil {
		t.Errorf("the killed client left no record of its uploads: %v", err)
	}
	g.client = startProc(t, "web API listening", "run", g.clientDir)
	g.waitConnected(t, 10)
	base = g.webURL(t)
	start = time.Now()
	capBig := webPut(t, base, data)
	t.Logf("PUT 60 MB after the client was killed mid-upload and restarted: %v", time.Since(start))
	if n := g.shareCount(t, capBig); n != 10 {
		t.Errorf("re-upload stored %d shares, want 10", n)
	}
	if fi, err := os.Stat(pending); err != nil || fi.Size() != 0 {
		t.Errorf("the record of uploads in progress is not empty: %v", err)
	}

	// Identical uploads at once: all succeed, with one copy of each share.
	same := make([]byte, 100000)
	rand.Read(same)
	var wg sync.WaitGroup
	caps := make([]string, 50)
	for i := range caps {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodPut, base+"uri", bytes.NewReader(same))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK {
				t.Errorf("identical PUT %d: %s %s", i, resp.Status, body)
			}
			caps[i] = string(body)
		})
	}
	wg.Wait()
	for _, c := range caps {
		if c != caps[0] || !strings.HasPrefix(c, "URI:CHK:") {
			t.Fatalf("identical uploads gave %q and %q", c, caps[0])
		}
	}
	if n := g.shareCount(t, caps[0]); n != 10 {
		t.Errorf("50 identical uploads stored %d shares, want 10", n)
	}
}
