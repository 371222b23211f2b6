package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lafs/lafs/internal/testutil"
)

// TestHeavyLocalGrid runs `lafs local-grid` as a user would: it starts, a
// file goes in and out through the CLI, and Ctrl-C stops every node.
func TestHeavyLocalGrid(t *testing.T) {
	testutil.Heavy(t)
	dir := filepath.Join(t.TempDir(), "grid")
	cmd := exec.Command(lafsBinary(t), "local-grid", "--storage-nodes", "4", "--shares-happy", "4", "--web-port", "0", dir)
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer cmd.Process.Kill()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(out.String(), "Ctrl-C stops the grid") {
		if time.Now().After(deadline) {
			t.Fatalf("local-grid did not come up:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(out.String(), "4 connected") {
		t.Errorf("not every storage node connected:\n%s", out.String())
	}
	client := filepath.Join(dir, "client")
	data := bytes.Repeat([]byte("local grid test data\n"), 5000)
	capOut, errOut, code := runCmd(t, data, "-d", client, "put", "-")
	if code != 0 {
		t.Fatalf("put: %s", errOut)
	}
	dst := filepath.Join(t.TempDir(), "out")
	if _, errOut, code := runCmd(t, nil, "-d", client, "get", strings.TrimSpace(capOut), dst); code != 0 {
		t.Fatalf("get: %s", errOut)
	}
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, data) {
		t.Fatal("round trip through local-grid differs")
	}
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("local-grid did not stop on SIGINT")
	}
	if pids, _ := exec.Command("pgrep", "-f", "lafs run "+dir).Output(); len(bytes.TrimSpace(pids)) > 0 {
		t.Errorf("nodes still running after local-grid stopped: %s", pids)
	}
}
