//go:build linux

package node

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A process holding the lock file for a moment (Tahoe's check, 2 s at
// most) only delays LockNodeDir; a lafs node holding it refuses it at once.
func TestLockNodeDirWaitsForMomentaryHolder(t *testing.T) {
	dir := t.TempDir()
	f, err := os.OpenFile(filepath.Join(dir, PidLockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	go func() { time.Sleep(300 * time.Millisecond); f.Close() }()
	start := time.Now()
	l, err := LockNodeDir(dir)
	if err != nil {
		t.Fatalf("LockNodeDir behind a momentary holder: %v", err)
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("LockNodeDir took the lock after %v, while it was held", d)
	}
	l.Release()
}

// The sentinel a helper prints its probe result after.
const probePrefix = "probe:"

// TestHelperProbe prints NodeDirState of LAFS_TEST_PROBE_DIR, from another
// process.
func TestHelperProbe(t *testing.T) {
	dir := os.Getenv("LAFS_TEST_PROBE_DIR")
	if dir == "" {
		t.Skip("a helper process")
	}
	st, err := NodeDirState(dir)
	fmt.Printf("%s%d %d %v %v\n", probePrefix, st.Holder, st.PID, st.Verified, err)
}

// probeFromOutside runs TestHelperProbe on dir: the holder another process
// sees.
func probeFromOutside(t *testing.T, dir string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProbe$")
	cmd.Env = append(os.Environ(), "LAFS_TEST_PROBE_DIR="+dir)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("probe helper: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, probePrefix); ok {
			return rest
		}
	}
	t.Fatalf("probe helper said %q", out)
	return ""
}

// The node's record lock is the process's, and closing any descriptor of
// the lock file would drop it: looking at the directory, or trying to lock
// it again, from the node's own process must leave it held. Holding both
// flock and the record lock works, and another process sees the holder.
func TestNodeDirLockSurvivesOwnLooks(t *testing.T) {
	dir := t.TempDir()
	l, err := LockNodeDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	want := fmt.Sprintf("%d %d true <nil>", os.Getpid(), os.Getpid())
	if got := probeFromOutside(t, dir); got != want {
		t.Fatalf("another process sees %q, want %q", got, want)
	}
	for i := 0; i < 2; i++ {
		if st, err := NodeDirState(dir); err != nil || st.Holder != os.Getpid() || !st.Verified {
			t.Errorf("NodeDirState in the node's process = %+v, %v", st, err)
		}
		if _, err := LockNodeDir(dir); !errors.Is(err, ErrNodeRunning) {
			t.Errorf("second LockNodeDir: %v", err)
		}
	}
	if got := probeFromOutside(t, dir); got != want {
		t.Errorf("after looks from the node's process, another process sees %q, want %q", got, want)
	}
	// The flock is held too (Tahoe's check would wait on it).
	f, err := os.Open(filepath.Join(dir, PidLockFile))
	if err != nil {
		t.Fatal(err)
	}
	ferr := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	f.Close() // drops our record lock: the test ends here
	if !errors.Is(ferr, syscall.EWOULDBLOCK) {
		t.Errorf("flock of a held directory: %v, want EWOULDBLOCK", ferr)
	}
}

// A start time the system does not tell verifies nothing.
func TestSameStart(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		started time.Time
		want    bool
	}{
		{time.Time{}, false},
		{now, true},
		{now.Add(1500 * time.Millisecond), true},
		{now.Add(-3 * time.Second), false},
		{now.Add(time.Hour), false},
	} {
		if got := sameStart(tc.started, now); got != tc.want {
			t.Errorf("sameStart(%v, now) = %v, want %v", tc.started.Sub(now), got, tc.want)
		}
	}
}
