package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// restartPolicy says how local-grid restarts a node whose process exits.
type restartPolicy struct {
	// first is the wait before restarting a node that died after running
	// stably; each quick death in a row doubles it, up to max.
	first, max time.Duration
	// stable is how long a node must have run for its death to count as a
	// new trouble rather than one more of a series: the wait goes back to first.
	stable time.Duration
	// warnAfter is how many quick deaths in a row make local-grid say
	// plainly that the node cannot start.
	warnAfter int
	// stopGrace is how long a node has to exit after SIGTERM before SIGKILL.
	stopGrace time.Duration
	// readyTimeout is how long a starting node may stay silent before
	// local-grid says so (and stops waiting for it to start the others).
	readyTimeout time.Duration
}

// defaultRestartPolicy is what `lafs local-grid` uses.
var defaultRestartPolicy = restartPolicy{
	first:        time.Second,
	max:          30 * time.Second,
	stable:       60 * time.Second,
	warnAfter:    5,
	stopGrace:    10 * time.Second,
	readyTimeout: 60 * time.Second,
}

// backoff is the wait before the restart that follows the n-th quick death
// in a row (n >= 1): first, 2×first, 4×first … capped at max.
func (p restartPolicy) backoff(n int) time.Duration {
	d := p.first
	for i := 1; i < n && d < p.max; i++ {
		d *= 2
	}
	return min(d, p.max)
}

// supervisedNode is one node process of a local grid, kept running by supervise:
// when the process exits, it is reported and started again.
type supervisedNode struct {
	name    string   // e.g. "storage-03", as the user sees it
	argv    []string // the command line: lafs run NODEDIR
	logPath string   // where the process's stdout and stderr go
	ready   string   // the text in its output that says it serves
	policy  restartPolicy
	// mustStart makes the node give up, instead of retrying forever, when it
	// fails policy.warnAfter times in a row before it ever served.
	mustStart bool
	// say prints one event line for the user.
	say func(format string, a ...any)
	// backNote, when set, adds to the line saying the node is back
	// (the client's web API address, which may have changed).
	backNote func() string
	// diagnose, when set, is asked why a node died before it was ready
	// (a port another program holds); its lines go into the report.
	diagnose func() []string
	// extraFiles and env are given to the process besides the usual
	// (the pipe of exitWithParent and its descriptor's number).
	extraFiles []*os.File
	env        []string

	readyOnce sync.Once
	readyc    chan struct{} // closed when the node first serves
	triedOnce sync.Once
	triedc    chan struct{} // closed when the first attempt has an outcome
	failedc   chan struct{} // closed when a mustStart node gives up
	failure   error         // why it gave up (set before failedc closes)

	mu  sync.Mutex
	pid int // of the running process; 0 when none
	up  bool
}

func newSupervisedNode(name, dir, exe, ready string, policy restartPolicy, say func(string, ...any)) *supervisedNode {
	return &supervisedNode{
		name:    name,
		argv:    []string{exe, "run", dir},
		logPath: filepath.Join(dir, "logs", "lafs.log"),
		ready:   ready,
		policy:  policy,
		say:     say,
		readyc:  make(chan struct{}),
		triedc:  make(chan struct{}),
		failedc: make(chan struct{}),
	}
}

// status reports the running process's pid and whether it serves.
func (n *supervisedNode) status() (pid int, up bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.pid, n.up
}

func (n *supervisedNode) setStatus(pid int, up bool) {
	n.mu.Lock()
	n.pid, n.up = pid, up
	n.mu.Unlock()
}

func (n *supervisedNode) tried() { n.triedOnce.Do(func() { close(n.triedc) }) }

// supervise runs the node until ctx ends, restarting it whenever it exits,
// after a back-off that grows while it keeps dying quickly. It returns only
// once the node's process is gone.
func (n *supervisedNode) supervise(ctx context.Context) {
	defer n.tried()
	quick := 0 // quick deaths in a row
	everUp := false
	for restart := false; ; restart = true {
		r := n.runOnce(ctx, restart)
		everUp = everUp || r.served
		if ctx.Err() != nil {
			return
		}
		if r.ran >= n.policy.stable {
			quick = 0
		}
		quick++
		if n.mustStart && !everUp && quick >= n.policy.warnAfter {
			n.report(r, "giving up")
			why := ""
			if n.diagnose != nil {
				if d := n.diagnose(); len(d) > 0 {
					why = "; " + strings.Join(d, "; ")
				}
			}
			n.failure = fmt.Errorf("%s could not start: %d failures in a row, the last: %s%s (its log: %s)", n.name, quick, r.summary(), why, n.logPath)
			close(n.failedc)
			return
		}
		wait := n.policy.backoff(quick)
		n.report(r, "restarting in "+wait.String())
		n.tried() // after the report, which the grid's summary refers to
		if quick == n.policy.warnAfter {
			n.say("%s cannot start: it failed %d times in a row. The rest of the grid keeps running; local-grid keeps trying %s, waiting up to %s between tries, so that it rejoins once the cause above is fixed (Ctrl-C stops the grid).",
				n.name, quick, n.name, n.policy.max)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// report says, in one block of lines, that the node died, how, and what it
// wrote last; next says what happens now.
func (n *supervisedNode) report(r runResult, next string) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s died: %s; %s", r.who(n.name), r.summary(), next)
	if !r.served && n.diagnose != nil {
		for _, l := range n.diagnose() {
			fmt.Fprintf(&b, "\n%s%s", reportIndent, l)
		}
	}
	for _, l := range r.why() {
		fmt.Fprintf(&b, "\n%s%s", reportIndent, l)
	}
	fmt.Fprintf(&b, "\n%s(its log: %s)", reportIndent, n.logPath)
	n.say("%s", b.String())
}

// reportIndent sets the lines under a report off from the time stamps.
const reportIndent = "           "

// runResult is the outcome of one run of a node's process.
type runResult struct {
	pid      int
	startErr error            // the process could not be started at all
	state    *os.ProcessState // how it exited
	ran      time.Duration
	served   bool
	out      *nodeOutput
}

func (r runResult) who(name string) string {
	if r.pid == 0 {
		return name
	}
	return fmt.Sprintf("%s (pid %d)", name, r.pid)
}

// summary says how the process ended, in words.
func (r runResult) summary() string {
	if r.startErr != nil {
		return r.startErr.Error()
	}
	ran := r.ran.Round(100 * time.Millisecond)
	if r.ran < time.Second {
		ran = r.ran.Round(time.Millisecond)
	}
	s := fmt.Sprintf("%s after %s", describeExit(r.state), ran)
	if !r.served {
		s += ", before it was ready"
	}
	return s
}

// why picks the lines of the process's output that say why it ended: a Go
// crash's first line, then the last few lines it wrote.
func (r runResult) why() []string {
	if r.out == nil {
		return nil
	}
	return r.out.why(3)
}

// describeExit says how a process ended: the signal that killed it, or its
// exit status.
func describeExit(ps *os.ProcessState) string {
	if ps == nil {
		return "ended"
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		name := signalName(ws.Signal())
		if name == "" {
			name = fmt.Sprintf("signal %d", int(ws.Signal()))
		}
		s := "killed by " + name
		if ws.CoreDump() {
			s += " (core dumped)"
		}
		return s
	}
	return fmt.Sprintf("exited with status %d", ps.ExitCode())
}

// runOnce starts the node's process, reports when it serves, and waits for
// it to exit; when ctx ends first it stops the process (SIGTERM, then
// SIGKILL after policy.stopGrace) and waits for that.
func (n *supervisedNode) runOnce(ctx context.Context, restart bool) runResult {
	// The child gets SIGTERM when the thread that started it ends (see
	// setParentDeathSignal), and a Go thread ends when a goroutine locked
	// to it returns: hold this thread until the child is gone.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	if err := os.MkdirAll(filepath.Dir(n.logPath), 0o700); err != nil {
		return runResult{startErr: fmt.Errorf("log directory: %w", err)}
	}
	logf, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return runResult{startErr: fmt.Errorf("opening its log: %w", err)}
	}
	defer logf.Close()
	out := newNodeOutput(logf, n.ready)
	cmd := exec.Command(n.argv[0], n.argv[1:]...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.ExtraFiles = n.extraFiles
	if len(n.env) > 0 {
		cmd.Env = append(os.Environ(), n.env...)
	}
	cmd.SysProcAttr = nodeProcAttr()
	setParentDeathSignal(cmd.SysProcAttr)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return runResult{startErr: fmt.Errorf("starting %s: %w", n.argv[0], err)}
	}
	pid := cmd.Process.Pid
	n.setStatus(pid, false)
	defer n.setStatus(0, false)
	fmt.Fprintf(logf, "--- local-grid: %s started (pid %d) at %s\n", n.name, pid, start.Format(time.RFC3339))

	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	finish := func(served bool) runResult {
		r := runResult{pid: pid, state: cmd.ProcessState, ran: time.Since(start), served: served, out: out}
		fmt.Fprintf(logf, "--- local-grid: %s (pid %d) %s\n", n.name, pid, describeExit(cmd.ProcessState))
		return r
	}

	readyTimer := time.NewTimer(n.policy.readyTimeout)
	defer readyTimer.Stop()
	readyc := out.readyc
	served := false
	for {
		select {
		case <-readyc:
			readyc = nil
			served = true
			readyTimer.Stop()
			n.setStatus(pid, true)
			if restart {
				note := ""
				if n.backNote != nil {
					note = n.backNote()
				}
				n.say("%s is back (pid %d)%s", n.name, pid, note)
			} else {
				n.say("%s running (pid %d)", n.name, pid)
			}
			n.readyOnce.Do(func() { close(n.readyc) })
			n.tried()
		case <-readyTimer.C:
			n.say("%s (pid %d) is not ready after %s; still waiting (its log: %s)", n.name, pid, n.policy.readyTimeout, n.logPath)
			n.tried()
		case <-exited:
			return finish(served)
		case <-ctx.Done():
			stopProcess(cmd.Process, exited, n.policy.stopGrace)
			return finish(served)
		}
	}
}

// stopProcess asks a process to stop with SIGTERM, kills it when it has not
// exited after grace, and returns once it has (exited delivers cmd.Wait).
func stopProcess(p *os.Process, exited <-chan error, grace time.Duration) {
	if err := p.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		p.Kill()
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-exited:
	case <-t.C:
		p.Kill()
		<-exited
	}
}

// nodeOutput takes a node's stdout and stderr: it appends them to the
// node's log, remembers the last lines (and a Go crash's first line) to
// say why the node died, and notices the line that says it is ready.
type nodeOutput struct {
	log   *os.File
	ready string

	readyc chan struct{} // closed when a line contains ready

	mu      sync.Mutex
	partial []byte   // the unfinished last line
	tail    []string // the last maxTail lines
	crash   string   // the first "panic:" or "fatal error:" line
	seen    bool     // ready was seen
}

const (
	maxTail     = 20
	maxLineKept = 300 // bytes of a line kept for the report
	maxPartial  = 64 << 10
)

func newNodeOutput(log *os.File, ready string) *nodeOutput {
	return &nodeOutput{log: log, ready: ready, readyc: make(chan struct{})}
}

// Write implements io.Writer.
func (o *nodeOutput) Write(p []byte) (int, error) {
	// A full disk must not stop the node or our watching it: log write
	// errors are dropped.
	o.log.Write(p)
	o.mu.Lock()
	defer o.mu.Unlock()
	buf := append(o.partial, p...)
	for {
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			break
		}
		o.line(string(buf[:i]))
		buf = buf[i+1:]
	}
	if len(buf) > maxPartial {
		o.line(string(buf))
		buf = nil
	}
	o.partial = append(o.partial[:0:0], buf...)
	return len(p), nil
}

func (o *nodeOutput) line(l string) {
	l = strings.TrimRight(l, "\r")
	if !o.seen && strings.Contains(l, o.ready) {
		o.seen = true
		close(o.readyc)
	}
	if len(l) > maxLineKept {
		l = l[:maxLineKept] + "…"
	}
	if o.crash == "" && (strings.HasPrefix(l, "panic: ") || strings.HasPrefix(l, "fatal error: ")) {
		o.crash = l
	}
	if strings.TrimSpace(l) == "" {
		return
	}
	if len(o.tail) == maxTail {
		o.tail = append(o.tail[:0], o.tail[1:]...)
	}
	o.tail = append(o.tail, l)
}

// why returns a Go crash's first line, if there was one, and then the last
// n lines written (including an unfinished one).
func (o *nodeOutput) why(n int) []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	lines := append([]string(nil), o.tail...)
	if s := strings.TrimSpace(string(o.partial)); s != "" {
		lines = append(lines, s)
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	if o.crash != "" && !slices.Contains(lines, o.crash) {
		lines = append([]string{o.crash}, lines...)
	}
	return lines
}
