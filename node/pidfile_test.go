package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestPidFileParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		pid  int
		unix float64
		ok   bool
	}{
		{"1234 1700000000.53\n", 1234, 1700000000.53, true},
		{"  77   12.0  ", 77, 12, true},
		{"1 0", 1, 0, true},
		{"", 0, 0, false},
		{"1234", 0, 0, false},
		{"1234 1.0 extra", 0, 0, false},
		{"abc 1.0", 0, 0, false},
		{"-5 1.0", 0, 0, false},
		{"0 1.0", 0, 0, false},
		{"12 nan", 0, 0, false},
		{"12 inf", 0, 0, false},
		{"12 -3", 0, 0, false},
	} {
		p, err := parsePidFile(tc.in)
		if !tc.ok {
			if !errors.Is(err, ErrBadPidFile) {
				t.Errorf("parsePidFile(%q) = %v, %v; want ErrBadPidFile", tc.in, p, err)
			}
			continue
		}
		if err != nil || p.PID != tc.pid || p.Created.Sub(time.Unix(0, int64(tc.unix*1e9))).Abs() > time.Microsecond {
			t.Errorf("parsePidFile(%q) = %+v, %v; want pid %d at %v", tc.in, p, err, tc.pid, tc.unix)
		}
	}
}

func TestLockNodeDirOnce(t *testing.T) {
	dir := t.TempDir()
	l, err := LockNodeDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	pf, err := ReadPidFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	if pf.PID != os.Getpid() {
		t.Errorf("running.process names pid %d, want ours (%d)", pf.PID, os.Getpid())
	}
	if started := processStartTime(os.Getpid()); !started.IsZero() && pf.Created.Sub(started).Abs() > time.Second {
		t.Errorf("running.process says the process was created at %v, /proc says %v", pf.Created, started)
	}
	if !pf.alive() {
		t.Error("our own pid file does not look alive")
	}
	st, err := NodeDirState(dir)
	if err != nil || !st.Locked || !st.Running || st.PID != os.Getpid() {
		t.Errorf("NodeDirState while locked = %+v, %v", st, err)
	}
	// A second lock of the directory, even from this process, is refused.
	if runtime.GOOS != "windows" {
		_, err = LockNodeDir(dir)
		if !errors.Is(err, ErrNodeRunning) {
			t.Fatalf("second LockNodeDir: %v, want ErrNodeRunning", err)
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) || !strings.Contains(err.Error(), "lafs stop") {
			t.Errorf("refusal does not name the pid and lafs stop: %v", err)
		}
	}
	l.Release()
	l.Release() // twice is fine
	if _, err := os.Stat(filepath.Join(dir, PidFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("running.process still there after Release: %v", err)
	}
	st, err = NodeDirState(dir)
	if err != nil || st.Locked || st.Running || st.PID != 0 {
		t.Errorf("NodeDirState after Release = %+v, %v", st, err)
	}
	l2, err := LockNodeDir(dir)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	l2.Release()
}

// A running.process that a crash left (its process gone, or its pid now
// another process's) does not keep a node from starting.
func TestLockNodeDirStalePidFile(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs /proc to tell a recycled pid")
	}
	dir := t.TempDir()
	// A process that is gone.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("no true(1):", err)
	}
	stale := fmt.Sprintf("%d 1700000000.5\n", cmd.Process.Pid)
	os.WriteFile(filepath.Join(dir, PidFile), []byte(stale), 0o644)
	st, err := NodeDirState(dir)
	if err != nil || st.Running || st.Locked || st.PID != cmd.Process.Pid {
		t.Errorf("NodeDirState of a stale file = %+v, %v", st, err)
	}
	l, err := LockNodeDir(dir)
	if err != nil {
		t.Fatalf("a stale running.process blocked the lock: %v", err)
	}
	l.Release()

	// A live process (ours) that started long after the file says: a
	// recycled pid.
	recycled := fmt.Sprintf("%d 1000000000.0\n", os.Getppid())
	os.WriteFile(filepath.Join(dir, PidFile), []byte(recycled), 0o644)
	l, err = LockNodeDir(dir)
	if err != nil {
		t.Fatalf("a recycled pid blocked the lock: %v", err)
	}
	l.Release()
}

// A running.process naming a live process that started when it says (as a
// Tahoe node's does) keeps a lafs node off, lock or no lock.
func TestLockNodeDirTahoePidFile(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs /proc for process start times")
	}
	dir := t.TempDir()
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Skip("no sleep(1):", err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	var created time.Time
	for i := 0; i < 100 && created.IsZero(); i++ {
		created = processStartTime(cmd.Process.Pid)
		time.Sleep(10 * time.Millisecond)
	}
	if created.IsZero() {
		t.Skip("no start time in /proc")
	}
	line := fmt.Sprintf("%d %.2f\n", cmd.Process.Pid, float64(created.UnixNano())/1e9)
	os.WriteFile(filepath.Join(dir, PidFile), []byte(line), 0o644)
	st, err := NodeDirState(dir)
	if err != nil || !st.Running || st.Locked || st.PID != cmd.Process.Pid {
		t.Errorf("NodeDirState of a Tahoe node's file = %+v, %v", st, err)
	}
	if _, err := LockNodeDir(dir); !errors.Is(err, ErrNodeRunning) {
		t.Fatalf("LockNodeDir beside a running Tahoe node: %v, want ErrNodeRunning", err)
	}
	// The file is left alone.
	if b, _ := os.ReadFile(filepath.Join(dir, PidFile)); string(b) != line {
		t.Errorf("running.process changed to %q", b)
	}
	// Once the process is gone (a zombie counts as gone), the lock is free.
	cmd.Process.Kill()
	time.Sleep(100 * time.Millisecond) // unreaped: a zombie
	if st, _ := NodeDirState(dir); st.Running {
		t.Errorf("NodeDirState after the process died = %+v", st)
	}
	l, err := LockNodeDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	l.Release()
}

// Another process holding the lock (a lafs node) is seen, whatever
// running.process says, and its death frees the directory, even by
// SIGKILL, which leaves running.process behind.
func TestLockNodeDirOtherProcess(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs flock and /proc")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperLockProcess$")
	cmd.Env = append(os.Environ(), "LAFS_TEST_LOCK_DIR="+dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := NodeDirState(dir)
		if err == nil && st.Locked && st.PID == cmd.Process.Pid {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the helper never took the lock: %+v, %v", st, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	_, err := LockNodeDir(dir)
	if !errors.Is(err, ErrNodeRunning) {
		t.Fatalf("LockNodeDir while another process holds the lock: %v", err)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("pid %d", cmd.Process.Pid)) {
		t.Errorf("refusal does not name the other pid: %v", err)
	}
	if st, err := NodeDirState(dir); err != nil || st.Holder != cmd.Process.Pid || !st.Verified {
		t.Errorf("NodeDirState of another process's node = %+v, %v (want it the holder, verified)", st, err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	st, err := NodeDirState(dir)
	if err != nil || st.Running || st.Verified || st.Holder != 0 || st.PID != cmd.Process.Pid {
		t.Errorf("NodeDirState after SIGKILL = %+v, %v (want the stale pid, not running)", st, err)
	}
	l, err := LockNodeDir(dir)
	if err != nil {
		t.Fatalf("the lock outlived its process: %v", err)
	}
	l.Release()
}

// TestHelperLockProcess is the other process of TestLockNodeDirOtherProcess.
func TestHelperLockProcess(t *testing.T) {
	dir := os.Getenv("LAFS_TEST_LOCK_DIR")
	if dir == "" {
		t.Skip("a helper process")
	}
	if _, err := LockNodeDir(dir); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Minute)
}

// A started node holds its directory: a second Start there is refused
// before it touches anything, and Close frees it.
func TestStartLocksNodeDir(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "client")
	if err := Create(dir, CreateOptions{Kind: KindClient, WebPort: "tcp:0:interface=127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	noKeyPool(t, dir)
	n, err := Start(ctx, dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	url, _ := os.ReadFile(filepath.Join(dir, NodeURLFile))
	if _, err := Start(ctx, dir, slog.New(slog.DiscardHandler)); !errors.Is(err, ErrNodeRunning) {
		t.Errorf("second Start: %v, want ErrNodeRunning", err)
	}
	// The refused node wrote nothing over the running one's files.
	if b, _ := os.ReadFile(filepath.Join(dir, NodeURLFile)); string(b) != string(url) {
		t.Errorf("node.url changed from %q to %q", url, b)
	}
	if pf, err := ReadPidFile(dir); err != nil || pf.PID != os.Getpid() {
		t.Errorf("running.process = %+v, %v", pf, err)
	}
	n.Close()
	if _, err := os.Stat(filepath.Join(dir, PidFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("running.process left after Close: %v", err)
	}
	n, err = Start(ctx, dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("Start after Close: %v", err)
	}
	n.Close()
}
