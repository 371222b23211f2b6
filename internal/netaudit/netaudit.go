//go:build linux

package netaudit

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// A Trace is a command that runs under strace, and the file strace
// writes.
type Trace struct {
	// File is strace's output, in the test's temporary folder.
	File string

	cmd *exec.Cmd

	mu    sync.Mutex
	child int // the traced command's process ID, once found
}

var (
	probeOnce sync.Once
	probeArgs []string // strace's options found to work
	probeErr  error
)

// Wrap changes cmd, which must not have been started, so that it runs
// under strace, following every thread and child process and recording
// their connect, bind, sendto, sendmsg and sendmmsg calls in Trace.File.
// cmd's process (cmd.Process) is then strace's; stop the command with
// [Trace.Signal], so that strace records it to its end and exits with the
// command's status. When t ends, whatever is left of the command and of
// strace is killed.
//
// Wrap skips t if strace is not installed or cannot trace here (or fails
// it, when LAFS_REQUIRE_TOR=1).
func Wrap(t testing.TB, cmd *exec.Cmd) *Trace {
	t.Helper()
	if cmd.Process != nil {
		t.Fatal("netaudit: Wrap of a command already started")
	}
	strace, opts := need(t)
	tr := &Trace{File: filepath.Join(t.TempDir(), "strace.out"), cmd: cmd}
	args := append([]string{strace}, opts...)
	args = append(args, "-o", tr.File, "--", cmd.Path)
	if len(cmd.Args) > 1 {
		args = append(args, cmd.Args[1:]...)
	}
	cmd.Args = args
	cmd.Path = strace
	// strace and the command in a process group of their own, so that
	// both can be killed at the end even if strace was killed first
	// (which leaves the command running, untraced).
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	t.Cleanup(func() {
		if cmd.Process != nil {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
	})
	return tr
}

// Require skips t if strace is not installed or cannot trace here (or
// fails it, when LAFS_REQUIRE_TOR=1), as Wrap would: call it before
// starting anything slow.
func Require(t testing.TB) {
	t.Helper()
	need(t)
}

// baseOpts are strace's options: follow forks and threads, quiet about
// attaching and exits, no signals, the address-naming calls only.
var baseOpts = []string{"-f", "-qq", "-e", "trace=" + strings.Join(tracedCalls, ","), "-e", "signal=none"}

// need finds strace and checks, once, that it can trace here, preferring
// --seccomp-bpf (which stops the command only at the traced calls, not
// at every system call).
func need(t testing.TB) (string, []string) {
	t.Helper()
	path, err := exec.LookPath("strace")
	if err == nil {
		probeOnce.Do(func() {
			for _, extra := range [][]string{{"--seccomp-bpf"}, nil} {
				opts := append(append([]string(nil), baseOpts...), extra...)
				args := append(append([]string(nil), opts...), "-o", os.DevNull, "--", path, "-V")
				out, err := exec.Command(path, args...).CombinedOutput()
				if err == nil {
					probeArgs, probeErr = opts, nil
					return
				}
				probeErr = fmt.Errorf("%v: %s", err, bytes.TrimSpace(out))
			}
		})
		err = probeErr
	}
	if err != nil {
		msg := fmt.Sprintf("netaudit: strace cannot trace here (apt-get install strace; ptrace must be allowed): %v", err)
		if os.Getenv("LAFS_REQUIRE_TOR") == "1" {
			t.Fatalf("%s (LAFS_REQUIRE_TOR=1)", msg)
		}
		t.Skip("skipped: " + msg)
	}
	return path, probeArgs
}

// ErrNotRunning is returned by Signal when the traced command is not (or
// no longer) running.
var ErrNotRunning = errors.New("netaudit: the traced command is not running")

// Signal sends sig to the traced command itself (not to strace, which
// would stop tracing it).
func (tr *Trace) Signal(sig syscall.Signal) error {
	pid, err := tr.PID()
	if err != nil {
		return err
	}
	if err := syscall.Kill(pid, sig); err != nil {
		return fmt.Errorf("netaudit: signal to the traced command (pid %d): %w", pid, err)
	}
	return nil
}

// PID returns the process ID of the traced command, strace's child. It
// waits a moment for strace to start it.
func (tr *Trace) PID() (int, error) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.child != 0 {
		return tr.child, nil
	}
	if tr.cmd.Process == nil {
		return 0, ErrNotRunning
	}
	for deadline := time.Now().Add(5 * time.Second); ; {
		if pid := childOf(tr.cmd.Process.Pid); pid != 0 {
			tr.child = pid
			return pid, nil
		}
		if time.Now().After(deadline) {
			return 0, ErrNotRunning
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// childOf returns the ID of a child process of ppid, from /proc (which
// may have no children files), or 0.
func childOf(ppid int) int {
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", d.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold anything, even ")".
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) >= 2 && f[1] == strconv.Itoa(ppid) {
			return pid
		}
	}
	return 0
}

// Events reads and parses the trace (see [Parse]). Call it once the
// command has exited: strace may not yet have written all of a running
// command's calls.
func (tr *Trace) Events() ([]Event, error) {
	f, err := os.Open(tr.File)
	if err != nil {
		return nil, fmt.Errorf("netaudit: %w", err)
	}
	defer f.Close()
	return Parse(f)
}

// Check returns the events of the trace that allowed does not allow, and
// every unparsed one (see the function [Check]). If the trace cannot be
// read, the one violation returned says why.
func (tr *Trace) Check(allowed func(Event) bool) []Event {
	events, err := tr.Events()
	v := Check(events, allowed)
	if err != nil {
		v = append(v, Event{Unparsed: true, Line: err.Error()})
	}
	return v
}
