package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lafs/lafs/node"
)

// fakeNodeDir is a directory that passes for a node directory.
func fakeNodeDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tahoe.cfg"), []byte("[node]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestHelperStopTarget is the node that TestStop stops: another process
// holding the node directory as lafs run does. With LAFS_TEST_STOP_MODE
// "ignore" it ignores SIGTERM.
func TestHelperStopTarget(t *testing.T) {
	dir := os.Getenv("LAFS_TEST_STOP_DIR")
	if dir == "" {
		t.Skip("a helper process")
	}
	term := make(chan os.Signal, 1)
	if os.Getenv("LAFS_TEST_STOP_MODE") == "ignore" {
		signal.Ignore(syscall.SIGTERM)
	} else {
		signal.Notify(term, syscall.SIGTERM)
	}
	l, err := node.LockNodeDir(dir)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(3)
	}
	fmt.Println("ready")
	select {
	case <-term:
		l.Release()
		os.Exit(0)
	case <-time.After(time.Minute):
		os.Exit(4)
	}
}

// startStopTarget starts TestHelperStopTarget on dir and waits until it
// holds the directory; the returned channel closes when it has exited.
func startStopTarget(t *testing.T, dir, mode string) (*exec.Cmd, chan struct{}) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperStopTarget$")
	cmd.Env = append(os.Environ(), "LAFS_TEST_STOP_DIR="+dir, "LAFS_TEST_STOP_MODE="+mode)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case ready <- sc.Text():
			default:
			}
		}
		cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() { cmd.Process.Kill(); <-done })
	select {
	case line := <-ready:
		if line != "ready" {
			t.Fatalf("helper: %s", line)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("helper never ready")
	}
	return cmd, done
}

func TestStop(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs flock and signals")
	}
	dir := fakeNodeDir(t)
	cmd, done := startStopTarget(t, dir, "")
	out, errOut, code := runCmd(t, nil, "-d", dir, "stop")
	want := fmt.Sprintf("stopping the node in %s (pid %d)\nstopped\n", dir, cmd.Process.Pid)
	if code != 0 || out != want || errOut != "" {
		t.Errorf("stop: %d %q %q, want %q", code, out, errOut, want)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Error("the node still runs after stop")
	}
	if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 0 {
		t.Errorf("the node did not exit cleanly: %v", cmd.ProcessState)
	}
	if _, err := os.Stat(filepath.Join(dir, node.PidFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("running.process left: %v", err)
	}
	// Nothing runs there now.
	_, errOut, code = runCmd(t, nil, "stop", dir)
	if code != 1 || errOut != "lafs stop: no node is running in "+dir+"\n" {
		t.Errorf("second stop: %d %q", code, errOut)
	}
}

func TestStopKillsStubbornNode(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs flock and signals")
	}
	dir := fakeNodeDir(t)
	cmd, done := startStopTarget(t, dir, "ignore")
	start := time.Now()
	out, errOut, code := runCmd(t, nil, "stop", "--timeout", "300ms", dir)
	if code != 0 || !strings.HasSuffix(out, "killed\n") || !strings.Contains(errOut, "did not stop within 300ms of SIGTERM; killing it (SIGKILL)") {
		t.Errorf("stop: %d %q %q", code, out, errOut)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("stop took %v", d)
	}
	<-done
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		t.Errorf("the node ended %v, not by SIGKILL", cmd.ProcessState)
	}
	// SIGKILL left running.process behind: stop says so, and so it is
	// no obstacle to the next run.
	_, errOut, code = runCmd(t, nil, "stop", dir)
	if code != 1 || !strings.Contains(errOut, fmt.Sprintf("naming pid %d, is left from a node that did not stop cleanly", cmd.Process.Pid)) {
		t.Errorf("stop after SIGKILL: %d %q", code, errOut)
	}
	l, err := node.LockNodeDir(dir)
	if err != nil {
		t.Fatalf("lock after SIGKILL: %v", err)
	}
	l.Release()
}

func TestStopRefuses(t *testing.T) {
	notNode := t.TempDir()
	_, errOut, code := runCmd(t, nil, "stop", notNode)
	if code != 1 || !strings.Contains(errOut, "is not a node directory (no tahoe.cfg)") {
		t.Errorf("stop of a non-node: %d %q", code, errOut)
	}
	dir := fakeNodeDir(t)
	// A node of this very process is not signalled.
	l, err := node.LockNodeDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	_, errOut, code = runCmd(t, nil, "stop", dir)
	if code != 1 || !strings.Contains(errOut, "runs in this very process") {
		t.Errorf("stop of our own node: %d %q", code, errOut)
	}
	if _, _, code := runCmd(t, nil, "stop", dir, dir); code != 2 {
		t.Errorf("stop with two directories: exit %d", code)
	}
}

// TestHeavyStopRun: a real lafs run holds its directory (a second run is
// refused), lafs stop stops it, and then refuses.
func TestHeavyStopRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node process")
	}
	dir := filepath.Join(t.TempDir(), "client")
	if _, errOut, code := runCmd(t, nil, "create-client", "--webport", "tcp:0:interface=127.0.0.1", dir); code != 0 {
		t.Fatalf("create-client: %s", errOut)
	}
	p := startProc(t, "web API listening", "run", dir)
	out, err := exec.Command(lafsBinary(t), "run", dir).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 ||
		!strings.Contains(string(out), fmt.Sprintf("a node is already running in %s (pid %d)", dir, p.cmd.Process.Pid)) {
		t.Errorf("second lafs run: %v\n%s", err, out)
	}
	stdout, errOut, code := runCmd(t, nil, "stop", dir)
	if code != 0 || !strings.HasSuffix(stdout, "stopped\n") {
		t.Fatalf("stop: %d %q %q", code, stdout, errOut)
	}
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatal("lafs run still runs after stop")
	}
	if _, errOut, code := runCmd(t, nil, "stop", dir); code != 1 || !strings.Contains(errOut, "no node is running") {
		t.Errorf("stop of a stopped node: %d %q", code, errOut)
	}
}
