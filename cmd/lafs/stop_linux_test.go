//go:build linux

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lafs/lafs/node"
)

// waitAlive fails the test if the process cmd runs ends within d.
func waitAlive(t *testing.T, cmd *exec.Cmd, d time.Duration) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		t.Errorf("lafs stop signalled an unrelated process (pid %d): %v", cmd.Process.Pid, err)
	case <-time.After(d):
	}
}

// A crashed node left running.process; its pid now belongs to an unrelated
// process. Someone holds the lock file's flock for a moment (Tahoe's
// check): stop must not trust the stale file.
func TestStopStaleFileMomentaryHolder(t *testing.T) {
	dir := fakeNodeDir(t)
	stranger := exec.Command("sleep", "60")
	if err := stranger.Start(); err != nil {
		t.Skip("no sleep(1):", err)
	}
	defer stranger.Process.Kill()
	os.WriteFile(filepath.Join(dir, node.PidFile), []byte(fmt.Sprintf("%d 1000.5\n", stranger.Process.Pid)), 0o644)
	if st, _ := node.NodeDirState(dir); st.Running || st.Verified {
		t.Fatalf("unlocked: stale file seen as running: %+v", st)
	}
	f, err := os.OpenFile(filepath.Join(dir, node.PidLockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	go func() { time.Sleep(200 * time.Millisecond); f.Close() }()
	_, errOut, code := runCmd(t, nil, "stop", "--timeout", "2s", dir)
	if code != 1 || !strings.Contains(errOut, "is left from a node that did not stop cleanly") {
		t.Errorf("stop: %d %q", code, errOut)
	}
	waitAlive(t, stranger, 500*time.Millisecond)
}

// A starting node holds the flock but has not yet rewritten the stale
// running.process: the stranger it names is neither sent SIGTERM nor,
// later, SIGKILL.
func TestStopStrangerWhileNodeStarts(t *testing.T) {
	dir := fakeNodeDir(t)
	stranger := exec.Command("sh", "-c", `trap "" TERM; sleep 60 & wait; sleep 60`)
	if err := stranger.Start(); err != nil {
		t.Skip("no sh(1):", err)
	}
	defer stranger.Process.Kill()
	time.Sleep(100 * time.Millisecond)
	os.WriteFile(filepath.Join(dir, node.PidFile), []byte(fmt.Sprintf("%d 1000.5\n", stranger.Process.Pid)), 0o644)
	f, err := os.OpenFile(filepath.Join(dir, node.PidLockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	_, _, code := runCmd(t, nil, "stop", "--timeout", "300ms", dir)
	if code != 1 {
		t.Errorf("stop: exit %d, want 1", code)
	}
	waitAlive(t, stranger, 500*time.Millisecond)
}

// A lafs node holds the directory, but running.process names another
// process (as while the node starts over a stale file): stop signals
// neither, and says so.
func TestStopHolderNotNamed(t *testing.T) {
	dir := fakeNodeDir(t)
	cmd, done := startStopTarget(t, dir, "")
	stranger := exec.Command("sleep", "60")
	if err := stranger.Start(); err != nil {
		t.Skip("no sleep(1):", err)
	}
	defer stranger.Process.Kill()
	os.WriteFile(filepath.Join(dir, node.PidFile), []byte(fmt.Sprintf("%d 1000.5\n", stranger.Process.Pid)), 0o644)
	start := time.Now()
	_, errOut, code := runCmd(t, nil, "stop", dir)
	if code != 1 || !strings.Contains(errOut, fmt.Sprintf("a node (pid %d) holds %s, but its running.process does not name it", cmd.Process.Pid, dir)) {
		t.Errorf("stop: %d %q", code, errOut)
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("stop gave up after %v, without waiting for the node to settle", d)
	}
	select {
	case <-done:
		t.Error("the node was signalled")
	default:
	}
	waitAlive(t, stranger, 200*time.Millisecond)
}
