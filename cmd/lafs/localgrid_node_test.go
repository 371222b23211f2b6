package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// These tests run the local-grid supervisor over small shell scripts in
// place of "lafs run", with a fast restart policy.

var fastPolicy = restartPolicy{
	first:        20 * time.Millisecond,
	max:          80 * time.Millisecond,
	stable:       time.Hour,
	warnAfter:    3,
	stopGrace:    5 * time.Second,
	readyTimeout: 10 * time.Second,
}

// shNode returns a node that runs script with sh, and the buffer its
// supervisor's event lines go to.
func shNode(t *testing.T, script string, policy restartPolicy) (*supervisedNode, *syncBuffer) {
	t.Helper()
	var out syncBuffer
	say := func(format string, a ...any) { fmt.Fprintf(&out, format+"\n", a...) }
	n := newSupervisedNode("storage-07", t.TempDir(), "unused", "READY", policy, say)
	n.argv = []string{"/bin/sh", "-c", script}
	return n, &out
}

// superviseInBackground runs n.supervise until the test ends; the returned
// stop cancels it and waits until it has returned.
func superviseInBackground(t *testing.T, n *supervisedNode) (stop func() time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		n.supervise(ctx)
	}()
	stop = func() time.Duration {
		start := time.Now()
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatal("the supervisor did not return after its context ended")
		}
		return time.Since(start)
	}
	t.Cleanup(func() { stop() })
	return stop
}

// waitFor waits until out matches re and returns the submatches.
func waitFor(t *testing.T, out *syncBuffer, re string) []string {
	t.Helper()
	r := regexp.MustCompile(re)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if m := r.FindStringSubmatch(out.String()); m != nil {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q in:\n%s", re, out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

func TestLocalGridBackoff(t *testing.T) {
	p := restartPolicy{first: time.Second, max: 30 * time.Second}
	for n, want := range map[int]time.Duration{
		1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 8 * time.Second,
		5: 16 * time.Second, 6: 30 * time.Second, 7: 30 * time.Second, 1000: 30 * time.Second,
	} {
		if got := p.backoff(n); got != want {
			t.Errorf("backoff(%d) = %s, want %s", n, got, want)
		}
	}
}

func TestLocalGridDescribeExit(t *testing.T) {
	for _, tc := range []struct{ script, want string }{
		{"exit 3", "exited with status 3"},
		{"exit 0", "exited with status 0"},
		{"kill -KILL $$", "killed by SIGKILL"},
		{"kill -SEGV $$", "killed by SIGSEGV"},
	} {
		cmd := exec.Command("/bin/sh", "-c", tc.script)
		cmd.Run()
		if got := describeExit(cmd.ProcessState); !strings.HasPrefix(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.script, got, tc.want)
		}
	}
}

func TestLocalGridNodeOutput(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	o := newNodeOutput(f, "storage server listening")
	for _, chunk := range []string{"starting\nlevel=INFO msg=\"storage server ", "listening\" nurl=x\n", "panic: boom\n\n", "goroutine 1 [running]:\n"} {
		o.Write([]byte(chunk))
	}
	select {
	case <-o.readyc:
	default:
		t.Error("a ready line split across writes was not noticed")
	}
	for i := range 30 {
		fmt.Fprintf(o, "main.f(%d)\n", i)
	}
	o.Write([]byte("unfinished"))
	got := o.why(3)
	want := []string{"panic: boom", "main.f(28)", "main.f(29)", "unfinished"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("why = %q, want %q", got, want)
	}
	if b, _ := os.ReadFile(f.Name()); !strings.HasPrefix(string(b), "starting\n") || !strings.HasSuffix(string(b), "unfinished") {
		t.Errorf("log file holds %q", b)
	}
}

// TestLocalGridSupervisorRestartsKilledNode: a node killed with SIGKILL is
// reported (name, pid, signal, last lines) and started again.
func TestLocalGridSupervisorRestartsKilledNode(t *testing.T) {
	n, out := shNode(t, "echo about to serve; echo READY; exec sleep 1000", fastPolicy)
	stop := superviseInBackground(t, n)
	<-n.readyc
	pid, up := n.status()
	if !up || pid == 0 {
		t.Fatalf("status = %d, %v after ready", pid, up)
	}
	waitFor(t, out, fmt.Sprintf(`storage-07 running \(pid %d\)`, pid))
	syscall.Kill(pid, syscall.SIGKILL)
	waitFor(t, out, fmt.Sprintf(`storage-07 \(pid %d\) died: killed by SIGKILL after \S+; restarting in 20ms\n +about to serve\n +READY\n +\(its log: .*lafs.log\)`, pid))
	m := waitFor(t, out, `storage-07 is back \(pid (\d+)\)`)
	newPid, up := n.status()
	if m[1] != fmt.Sprint(newPid) || newPid == pid || !up || !alive(newPid) {
		t.Fatalf("after restart: status %d, %v; printed pid %s; old pid %d", newPid, up, m[1], pid)
	}
	if took := stop(); took > 3*time.Second {
		t.Errorf("stopping took %s", took)
	}
	if alive(newPid) {
		t.Errorf("pid %d still runs after the supervisor returned", newPid)
	}
	log, _ := os.ReadFile(n.logPath)
	if c := strings.Count(string(log), "about to serve"); c != 2 {
		t.Errorf("the log holds %d runs, want 2:\n%s", c, log)
	}
	if !strings.Contains(string(log), fmt.Sprintf("local-grid: storage-07 (pid %d) killed by SIGKILL", pid)) {
		t.Errorf("the log does not say how the first run ended:\n%s", log)
	}
}

// TestLocalGridSupervisorCannotStart: a node that keeps failing at start
// is retried with a growing, capped back-off; after warnAfter failures the
// supervisor says plainly that it cannot start, and goes on trying.
func TestLocalGridSupervisorCannotStart(t *testing.T) {
	n, out := shNode(t, "echo 'lafs: listening on tcp:1234: address already in use' >&2; exit 1", fastPolicy)
	superviseInBackground(t, n)
	waitFor(t, out, `(?s)restarting in 20ms.*restarting in 40ms.*restarting in 80ms.*cannot start: it failed 3 times in a row.*restarting in 80ms`)
	if !strings.Contains(out.String(), "exited with status 1 after") || !strings.Contains(out.String(), "before it was ready") ||
		!strings.Contains(out.String(), "    lafs: listening on tcp:1234: address already in use\n") {
		t.Errorf("the reports do not say why:\n%s", out)
	}
	select {
	case <-n.triedc:
	default:
		t.Error("the first try has no outcome")
	}
	select {
	case <-n.readyc:
		t.Error("ready, yet it never started")
	default:
	}
	if c := strings.Count(out.String(), "cannot start"); c != 1 {
		t.Errorf("said %d times that it cannot start:\n%s", c, out)
	}
}

// TestLocalGridSupervisorMustStart: a node that must start (the
// introducer) gives up after warnAfter quick failures, with the reason.
func TestLocalGridSupervisorMustStart(t *testing.T) {
	n, _ := shNode(t, "echo 'lafs: tahoe.cfg:3: bad' >&2; exit 1", fastPolicy)
	n.mustStart = true
	superviseInBackground(t, n)
	select {
	case <-n.failedc:
	case <-time.After(20 * time.Second):
		t.Fatal("did not give up")
	}
	if n.failure == nil || !strings.Contains(n.failure.Error(), "could not start: 3 failures in a row, the last: exited with status 1") {
		t.Errorf("failure = %v", n.failure)
	}
}

// TestLocalGridSupervisorStableResets: a node that ran for longer than
// policy.stable before dying is restarted after the first wait again.
func TestLocalGridSupervisorStableResets(t *testing.T) {
	p := fastPolicy
	p.stable = 50 * time.Millisecond
	n, out := shNode(t, "echo READY; sleep 0.2; exit 4", p)
	superviseInBackground(t, n)
	waitFor(t, out, `(?s)(died: exited with status 4 after .*){4}`)
	if strings.Count(out.String(), "restarting in 20ms") < 4 || strings.Contains(out.String(), "restarting in 40ms") {
		t.Errorf("a node that ran stably was not restarted after the first wait:\n%s", out)
	}
	if c := strings.Count(out.String(), "is back"); c < 3 {
		t.Errorf("%d restarts said so, want 3 or more:\n%s", c, out)
	}
}

// TestLocalGridSupervisorStopWhileWaiting: Ctrl-C while a node waits to be
// restarted stops the supervisor at once.
func TestLocalGridSupervisorStopWhileWaiting(t *testing.T) {
	p := fastPolicy
	p.first, p.max = time.Hour, time.Hour
	n, out := shNode(t, "exit 1", p)
	stop := superviseInBackground(t, n)
	waitFor(t, out, `restarting in 1h0m0s`)
	if took := stop(); took > time.Second {
		t.Errorf("stopping a node waiting to restart took %s", took)
	}
}

// TestLocalGridSupervisorStopsStubbornNode: a node that ignores SIGTERM is
// killed after policy.stopGrace, and supervise returns only once it is gone.
func TestLocalGridSupervisorStopsStubbornNode(t *testing.T) {
	p := fastPolicy
	p.stopGrace = 300 * time.Millisecond
	n, _ := shNode(t, "trap '' TERM; echo READY; while :; do sleep 0.05; done", p)
	stop := superviseInBackground(t, n)
	<-n.readyc
	pid, _ := n.status()
	took := stop()
	if took < p.stopGrace || took > 5*time.Second {
		t.Errorf("stopping took %s, want a little over %s", took, p.stopGrace)
	}
	if alive(pid) {
		t.Errorf("pid %d survived", pid)
	}
	if pid, _ := n.status(); pid != 0 {
		t.Errorf("status still names pid %d", pid)
	}
}

// TestLocalGridSupervisorCannotExec: a missing binary is reported like a
// failed start, without a pid.
func TestLocalGridSupervisorCannotExec(t *testing.T) {
	n, out := shNode(t, "", fastPolicy)
	n.argv = []string{filepath.Join(t.TempDir(), "no-such-lafs"), "run"}
	superviseInBackground(t, n)
	m := waitFor(t, out, `storage-07 died: starting (\S+): (.*); restarting in 20ms`)
	if !strings.Contains(m[2], "no such file") {
		t.Errorf("reason %q", m[2])
	}
}

// TestLocalGridSupervisorDiagnose: the report on a node that died before
// it was ready says what diagnose found (a port another program holds),
// and the node's first try has its outcome only once that is said; a node
// that had served is not diagnosed.
func TestLocalGridSupervisorDiagnose(t *testing.T) {
	n, out := shNode(t, "echo 'listen tcp 127.0.0.1:3456: bind: address already in use' >&2; exit 1", fastPolicy)
	n.diagnose = func() []string {
		return []string{"port 3456 is taken by another program: storage-07 cannot listen there"}
	}
	superviseInBackground(t, n)
	<-n.triedc
	if !strings.Contains(out.String(), "died:") {
		t.Errorf("the first try had its outcome before the report:\n%s", out)
	}
	waitFor(t, out, `storage-07 \(pid \d+\) died: exited with status 1 after \S+, before it was ready; restarting in 20ms\n +port 3456 is taken by another program: storage-07 cannot listen there\n +listen tcp 127.0.0.1:3456: bind: address already in use\n`)

	served, out2 := shNode(t, "echo READY; exec sleep 1000", fastPolicy)
	served.diagnose = func() []string { return []string{"DIAGNOSED"} }
	superviseInBackground(t, served)
	<-served.readyc
	pid, _ := served.status()
	syscall.Kill(pid, syscall.SIGKILL)
	waitFor(t, out2, `storage-07 is back`)
	if strings.Contains(out2.String(), "DIAGNOSED") {
		t.Errorf("a node that had served was diagnosed:\n%s", out2)
	}
}
