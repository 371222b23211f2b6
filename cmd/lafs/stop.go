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
--timeout. The node is found by NODEDIR/running.process, which "lafs run"
(and Tahoe's "tahoe run") writes; when no node runs there, nothing is
signalled and stop fails.`

// stopPoll is how often stop looks whether the node has stopped.
const stopPoll = 50 * time.Millisecond

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
	st, err := node.NodeDirState(abs)
	if err != nil {
		return fmt.Errorf("lafs stop: %w", err)
	}
	switch {
	case !st.Running && st.PID != 0:
		return failf("lafs stop: no node is running in %s (its %s, naming pid %d, is left from a node that did not stop cleanly)",
			abs, node.PidFile, st.PID)
	case !st.Running:
		return failf("lafs stop: no node is running in %s", abs)
	case st.PID == 0:
		return failf("lafs stop: a node holds %s, but its %s does not say which process it is", abs, node.PidFile)
	case st.PID == os.Getpid():
		return failf("lafs stop: the node in %s runs in this very process", abs)
	}
	p, err := os.FindProcess(st.PID)
	if err != nil {
		return fmt.Errorf("lafs stop: finding pid %d: %w", st.PID, err)
	}
	fmt.Fprintf(e.stdout, "stopping the node in %s (pid %d)\n", abs, st.PID)
	if err := p.Signal(syscall.SIGTERM); err != nil {
		if errors.Is(err, os.ErrProcessDone) {
			fmt.Fprintln(e.stdout, "it had stopped already")
			return nil
		}
		return failf("lafs stop: cannot signal pid %d: %v", st.PID, err)
	}
	if stopped, err := waitStopped(ctx, abs, *timeout); err != nil || stopped {
		if err == nil {
			fmt.Fprintln(e.stdout, "stopped")
		}
		return err
	}
	fmt.Fprintf(e.stderr, "lafs stop: the node did not stop within %v of SIGTERM; killing it (SIGKILL)\n", *timeout)
	if err := p.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return failf("lafs stop: cannot kill pid %d: %v", st.PID, err)
	}
	stopped, err := waitStopped(ctx, abs, 10*time.Second)
	if err != nil {
		return err
	}
	if !stopped {
		return failf("lafs stop: pid %d is still there after SIGKILL", st.PID)
	}
	fmt.Fprintln(e.stdout, "killed")
	return nil
}

// waitStopped waits up to d for the node in dir to stop running.
func waitStopped(ctx context.Context, dir string, d time.Duration) (bool, error) {
	deadline := time.Now().Add(d)
	for {
		st, err := node.NodeDirState(dir)
		if err != nil {
			return false, fmt.Errorf("lafs stop: %w", err)
		}
		if !st.Running {
			return true, nil
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
