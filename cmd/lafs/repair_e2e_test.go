package main

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/internal/testutil"
)

// shareFiles lists, per share number, the nodes holding a share file of
// the file c.
func (g *realGrid) shareFiles(t *testing.T, c string) map[string][]int {
	t.Helper()
	k, err := cap.Parse(c)
	if err != nil {
		t.Fatal(err)
	}
	si := k.(*cap.CHK).StorageIndex().String()
	out := map[string][]int{}
	for i, d := range g.storeDirs {
		ents, _ := os.ReadDir(filepath.Join(d, "storage", "shares", si[:2], si))
		for _, e := range ents {
			out[e.Name()] = append(out[e.Name()], i)
		}
	}
	return out
}

// TestHeavyRepair runs the upkeep cases on real processes: a storage node
// killed in the middle of an upload and restarted, then a repair that
// adds exactly the missing share (Tahoe 1.20 stored a second copy of
// another); a share damaged on disk, which verify names, whose node moves
// it out of service when told, and which a repair replaces; a check and a
// verify with a node frozen (Tahoe: 60 s).
func TestHeavyRepair(t *testing.T) {
	testutil.Heavy(t)
	g := startRealGrid(t, 10)
	base := g.webURL(t)
	lafs := func(args ...string) (string, string, int) {
		t.Helper()
		return runCmd(t, nil, append([]string{"-d", g.clientDir}, args...)...)
	}

	// A node killed while it receives a share of a 30 MB upload.
	data := make([]byte, 30<<20)
	rand.Read(data)
	victim := 3
	done := make(chan string, 1)
	go func() { done <- webPut(t, base, data) }()
	inc := filepath.Join(g.storeDirs[victim], "storage", "shares", "incoming")
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if ents, _ := os.ReadDir(inc); len(ents) > 0 {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	g.storage[victim].kill(syscall.SIGKILL)
	c := <-done
	g.storage[victim] = startProc(t, "storage server listening", "run", g.storeDirs[victim])
	g.waitConnected(t, 10)
	files := g.shareFiles(t, c)
	t.Logf("upload with a node killed mid-way: %d share numbers stored", len(files))

	out, _, code := lafs("check", c)
	if code != 0 || len(files) < 10 && !strings.Contains(out, "Not Healthy") {
		t.Errorf("check after the kill (%d shares): exit %d\n%s", len(files), code, out)
	}
	start := time.Now()
	out, errOut, code := lafs("check", "--repair", c)
	t.Logf("check --repair of 30 MB: %v", time.Since(start))
	if code != 0 || !strings.Contains(out, "Summary: healthy") && !strings.Contains(out, "repair successful") {
		t.Errorf("check --repair: exit %d\n%s%s", code, out, errOut)
	}
	files = g.shareFiles(t, c)
	if len(files) != 10 {
		t.Errorf("after repair: share numbers %v", files)
	}
	for sh, on := range files {
		if len(on) != 1 {
			t.Errorf("share %s stored %d times (on %v)", sh, len(on), on)
		}
	}

	// A share damaged on disk: a plain check believes the node, verify
	// names the share, the node quarantines it, and repair replaces it.
	holder := g.shareHolder(t, c, 0)
	si := func() string { k, _ := cap.Parse(c); return k.(*cap.CHK).StorageIndex().String() }()
	shareFile := filepath.Join(g.storeDirs[holder], "storage", "shares", si[:2], si, "0")
	if _, errOut, code := runCmd(t, nil, "debug", "corrupt-share", "--offset", "5000", shareFile); code != 0 {
		t.Fatalf("corrupt-share: %s", errOut)
	}
	if out, _, _ := lafs("check", c); !strings.Contains(out, "Summary: Healthy") {
		t.Errorf("plain check with a damaged share:\n%s", out)
	}
	start = time.Now()
	out, _, _ = lafs("check", "--verify", c)
	t.Logf("check --verify of 30 MB: %v", time.Since(start))
	if !strings.Contains(out, "Not Healthy: 9 shares") || !strings.Contains(out, "corrupt shares:") {
		t.Errorf("verify with a damaged share:\n%s", out)
	}
	// The node checks the share in the background after the advisory.
	quarantine := filepath.Join(g.storeDirs[holder], "storage", "corrupt", si)
	var ents []os.DirEntry
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if ents, _ = os.ReadDir(quarantine); len(ents) == 1 {
			break
		}
	}
	if len(ents) != 1 {
		t.Errorf("the node did not take the damaged share out of service: %v", ents)
	}
	start = time.Now()
	out, _, code = lafs("check", "--verify", "--repair", c)
	t.Logf("check --verify --repair of 30 MB: %v", time.Since(start))
	if code != 0 || !strings.Contains(out, "repair successful") {
		t.Errorf("verify and repair:\n%s", out)
	}
	if out, _, _ := lafs("check", "--verify", c); !strings.Contains(out, "Summary: Healthy") {
		t.Errorf("verify after repair:\n%s", out)
	}
	for sh, on := range g.shareFiles(t, c) {
		if len(on) != 1 {
			t.Errorf("share %s stored %d times", sh, len(on))
		}
	}

	// A node frozen: check, verify and deep-check go on without it.
	dir := webPost(t, base+"uri?t=mkdir")
	g.storage[7].cmd.Process.Signal(syscall.SIGSTOP)
	defer g.storage[7].cmd.Process.Signal(syscall.SIGCONT)
	for _, args := range [][]string{{"check", c}, {"check", "--verify", c}, {"deep-check", dir}} {
		start := time.Now()
		out, errOut, code := lafs(args...)
		d := time.Since(start)
		t.Logf("lafs %s with a node frozen: %v", args[:len(args)-1], d)
		if code != 0 || d > 10*time.Second {
			t.Errorf("lafs %s with a node frozen: %v, exit %d\n%s%s", strings.Join(args[:len(args)-1], " "), d, code, out, errOut)
		}
	}
}
