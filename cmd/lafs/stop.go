package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/lafs/lafs/node"
)

const stopHelp = `usage: lafs [-d NODEDIR] stop [options] [NODEDIR]

Stop the node running in NODEDIR (default: the global -d directory, else
~/.tahoe), as "lafs run" runs it in the background: send it SIGTERM, wait
for it to stop, and kill it (SIGKILL) if it has not stopped within
--timeout. The node is the process holding NODEDIR's lock, as the system
tells, and NODEDIR/running.process must name it; a Tahoe node ("tahoe
run") is found by running.process alone, where the system tells when the
process it names started. A process that cannot be verified so is never
signalled: then stop fails.`

// stopPoll is how often stop looks whether the node has stopped, and
// stopSettle how long it waits for a node that holds its directory but
// is not yet named by running.process (it is starting).
const (
	stopPoll   = 50 * time.Millisecond
	stopSettle = 2 * time.Second
)

// runStop stops the node running in a node directory.
func runStop(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "stop", stopHelp)
	timeout := fs.Duration("timeout", 20*time.Second, "how long to wait after SIGTERM before SIGKILL (`DURATION`, e.g. 30s)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return usagef("lafs stop: one node directory at most\nRun 'lafs stop --help' for the options.")
	}
	dir := defaultNodeDir(e)
	if fs.NArg() == 1 {
		dir = fs.Arg(0)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(abs, "tahoe.cfg")); err != nil {
		return failf("lafs stop: %s is not a node directory (no tahoe.cfg)", abs)
	}
	st, err := stopTarget(ctx, abs)
	if errors.Is(err, errors.ErrUnsupported) {
		return failf("lafs stop: this system cannot tell which process holds %s, so stop will not signal one; stop the node yourself", abs)
	}
	if err != nil {
		return err
	}
	switch {
	case !st.Running && st.PID != 0:
		return failf("lafs stop: no node is running in %s (its %s, naming pid %d, is left from a node that did not stop cleanly)",
			abs, node.PidFile, st.PID)
	case !st.Running:
		return failf("lafs stop: no node is running in %s", abs)
	case !st.Verified:
		return failf("lafs stop: a node (pid %d) holds %s, but its %s does not name it; not signalling it (try again once it has started)",
			st.Holder, abs, node.PidFile)
	case st.PID == os.Getpid():
		return failf("lafs stop: the node in %s runs in this very process", abs)
	}
	pid := st.PID
	p, err := os.FindProcess(pid)
	if err != nil {
		return fmt.Errorf("lafs stop: finding pid %d: %w", pid, err)
	}
	fmt.Fprintf(e.stdout, "stopping the node in %s (pid %d)\n", abs, pid)
	if err := p.Signal(syscall.SIGTERM); err != nil {
		if errors.Is(err, os.ErrProcessDone) {
			fmt.Fprintln(e.stdout, "it had stopped already")
			return nil
		}
		return failf("lafs stop: cannot signal pid %d: %v", pid, err)
	}
	if stopped, err := waitStopped(ctx, abs, pid, *timeout); err != nil || stopped {
		if err == nil {
			fmt.Fprintln(e.stdout, "stopped")
		}
		return err
	}
	// Look again right before SIGKILL: only the very node is killed.
	if gone, err := nodeGone(abs, pid); err != nil || gone {
		if err == nil {
			fmt.Fprintln(e.stdout, "stopped")
		}
		return err
	}
	fmt.Fprintf(e.stderr, "lafs stop: the node did not stop within %v of SIGTERM; killing it (SIGKILL)\n", *timeout)
	if err := p.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return failf("lafs stop: cannot kill pid %d: %v", pid, err)
	}
	stopped, err := waitStopped(ctx, abs, pid, 10*time.Second)
	if err != nil {
		return err
	}
	if !stopped {
		return failf("lafs stop: pid %d is still there after SIGKILL", pid)
	}
	fmt.Fprintln(e.stdout, "killed")
	return nil
}

// stopTarget looks at the node directory, waiting a moment for a node
// that holds it but is not yet named by its running.process.
func stopTarget(ctx context.Context, dir string) (node.RunState, error) {
	deadline := time.Now().Add(stopSettle)
	for {
		st, err := node.NodeDirState(dir)
		if err != nil {
			return st, fmt.Errorf("lafs stop: %w", err)
		}
		if !st.Running || st.Verified || time.Now().After(deadline) {
			return st, nil
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(stopPoll):
		}
	}
}

// nodeGone reports whether pid is no longer dir's node: it neither holds
// the directory's lock (a stopping node may have removed its
// running.process already) nor is verified by running.process.
func nodeGone(dir string, pid int) (bool, error) {
	st, err := node.NodeDirState(dir)
	if err != nil {
		return false, fmt.Errorf("lafs stop: %w", err)
	}
	return st.Holder != pid && !(st.Verified && st.PID == pid), nil
}

// waitStopped waits up to d for the node pid in dir to stop running.
func waitStopped(ctx context.Context, dir string, pid int, d time.Duration) (bool, error) {
	deadline := time.Now().Add(d)
	for {
		gone, err := nodeGone(dir, pid)
		if err != nil || gone {
			return gone, err
		}
		if time.Now().After(deadline) {
			return false, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(stopPoll):
		}
	}
}
