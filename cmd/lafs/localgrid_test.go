package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lafs/lafs/internal/testutil"
)

// TestHeavyLocalGrid runs `lafs local-grid` as a user would, in a
// directory whose name has a space: it says what it creates, starts, a
// file goes in through the command it printed (run by the shell exactly as
// printed) and out through the CLI, and Ctrl-C stops every node.
func TestHeavyLocalGrid(t *testing.T) {
	testutil.Heavy(t)
	dir := filepath.Join(t.TempDir(), "my grid")
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
	progress := []string{"creating 6 nodes in " + dir, "created introducer (1 of 6)", "created storage-00 (2 of 6)", "created storage-03 (5 of 6)", "created client (6 of 6)"}
	for _, p := range progress {
		if !strings.Contains(out.String(), p) {
			t.Errorf("no %q:\n%s", p, out.String())
		}
	}

	// The hint, run by the shell as printed.
	m := regexp.MustCompile(`(?m)^try: +(.*) put FILE$`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no put hint:\n%s", out.String())
	}
	src := filepath.Join(t.TempDir(), "a file")
	data := bytes.Repeat([]byte("local grid test data\n"), 5000)
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	put := exec.Command("sh", "-c", m[1]+" put "+shellQuote(src))
	put.Env = append(os.Environ(), "PATH=/usr/bin:/bin") // no lafs on it
	capOut, err := put.Output()
	if err != nil {
		t.Fatalf("the printed hint %q failed: %v", m[1]+" put FILE", err)
	}
	client := filepath.Join(dir, "client")
	dst := filepath.Join(t.TempDir(), "out")
	if _, errOut, code := runCmd(t, nil, "-d", client, "get", strings.TrimSpace(string(capOut)), dst); code != 0 {
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

// nodePids reads the pids local-grid printed for its nodes.
func nodePids(out string) map[string]int {
	pids := map[string]int{}
	for _, m := range regexp.MustCompile(`(?m)^\S+ (\S+) (?:running|is back) \(pid (\d+)\)`).FindAllStringSubmatch(out, -1) {
		pids[m[1]], _ = strconv.Atoi(m[2])
	}
	return pids
}

// running reports whether pid is a live process (a zombie is not: it is
// dead, waiting for whoever inherited it to reap it).
func running(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true // no /proc: trust kill
	}
	// pid (comm) STATE ...: comm may hold spaces, so look after the last ")".
	s := string(stat)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z' && s[i+2] != 'X'
	}
	return true
}

// TestHeavyLocalGridSIGKILL kills local-grid itself with SIGKILL, which it
// cannot catch: every node must still stop, none left orphaned.
func TestHeavyLocalGridSIGKILL(t *testing.T) {
	testutil.Heavy(t)
	dir := filepath.Join(t.TempDir(), "grid")
	cmd := exec.Command(lafsBinary(t), "local-grid", "--storage-nodes", "2",
		"--shares-needed", "1", "--shares-happy", "2", "--shares-total", "2", "--web-port", "0", dir)
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	var pids map[string]int
	defer func() {
		cmd.Process.Kill()
		for _, pid := range pids {
			if running(pid) {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(out.String(), "Ctrl-C stops the grid") {
		if time.Now().After(deadline) {
			t.Fatalf("local-grid did not come up:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	pids = nodePids(out.String())
	if len(pids) != 4 {
		t.Fatalf("pids of %d nodes, want 4: %v\n%s", len(pids), pids, out.String())
	}
	for name, pid := range pids {
		if !running(pid) {
			t.Fatalf("%s (pid %d) is not running", name, pid)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-done
	deadline = time.Now().Add(20 * time.Second)
	for {
		var left []string
		for name, pid := range pids {
			if running(pid) {
				left = append(left, fmt.Sprintf("%s (pid %d)", name, pid))
			}
		}
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after SIGKILL of local-grid these nodes still run: %s", strings.Join(left, ", "))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestHeavyLocalGridRestartsKilledNode kills one storage node of a running
// local grid with SIGKILL: local-grid must say so, start it again while the
// other nodes keep running, and still stop every node on SIGINT.
func TestHeavyLocalGridRestartsKilledNode(t *testing.T) {
	testutil.Heavy(t)
	dir := filepath.Join(t.TempDir(), "grid")
	// Happiness 3 of 3 servers: an upload needs every storage node,
	// the restarted one included.
	cmd := exec.Command(lafsBinary(t), "local-grid", "--storage-nodes", "3",
		"--shares-needed", "2", "--shares-happy", "3", "--shares-total", "3", "--web-port", "0", dir)
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	done := make(chan struct{}) // closed once local-grid has exited
	go func() { waitErr = cmd.Wait(); close(done) }()
	defer func() {
		// On an early failure, stop the grid as a user would.
		cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
		}
	}()
	waitOut := func(re string, limit time.Duration) []string {
		t.Helper()
		r := regexp.MustCompile(re)
		deadline := time.Now().Add(limit)
		for {
			if m := r.FindStringSubmatch(out.String()); m != nil {
				return m
			}
			select {
			case <-done:
				t.Fatalf("local-grid exited (%v) before %q:\n%s", waitErr, re, out.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("no %q after %s:\n%s", re, limit, out.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitOut(`Ctrl-C stops the grid`, 60*time.Second)

	pids := map[string]int{}
	for _, m := range regexp.MustCompile(`(?m)^\S+ (\S+) running \(pid (\d+)\)$`).FindAllStringSubmatch(out.String(), -1) {
		pids[m[1]], _ = strconv.Atoi(m[2])
	}
	for _, name := range []string{"introducer", "storage-00", "storage-01", "storage-02", "client"} {
		if pids[name] == 0 || !alive(pids[name]) {
			t.Fatalf("no running pid for %s (have %v):\n%s", name, pids, out.String())
		}
	}

	victim := pids["storage-01"]
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// (a) one line names the node, its pid and the signal.
	waitOut(fmt.Sprintf(`storage-01 \(pid %d\) died: killed by SIGKILL after \S+; restarting in 1s`, victim), 10*time.Second)
	// (b) it comes back as a new process that serves again.
	m := waitOut(`storage-01 is back \(pid (\d+)\)`, 20*time.Second)
	reborn, _ := strconv.Atoi(m[1])
	if reborn == victim || !alive(reborn) {
		t.Fatalf("storage-01 back as pid %d (was %d), alive %v", reborn, victim, alive(reborn))
	}
	nurl, err := os.ReadFile(filepath.Join(dir, "storage-01", "private", "storage.nurl"))
	if err != nil {
		t.Fatal(err)
	}
	addr := regexp.MustCompile(`@([^/,]+)`).FindSubmatch(nurl)
	if addr == nil {
		t.Fatalf("no address in NURL %q", nurl)
	}
	if c, err := net.DialTimeout("tcp", string(addr[1]), 5*time.Second); err != nil {
		t.Errorf("restarted storage-01 does not answer on %s: %v", addr[1], err)
	} else {
		c.Close()
	}
	client := filepath.Join(dir, "client")
	roundTrip := func(when string) {
		t.Helper()
		data := bytes.Repeat([]byte(when+"\n"), 20000)
		var capOut, errOut string
		code, tries := -1, 0
		for deadline := time.Now().Add(45 * time.Second); code != 0 && time.Now().Before(deadline); {
			// The client notices a lost server at its next request or check.
			tries++
			if capOut, errOut, code = runCmd(t, data, "-d", client, "put", "-"); code != 0 {
				time.Sleep(500 * time.Millisecond)
			}
		}
		if code != 0 {
			t.Fatalf("%s: put needing all three storage nodes fails (%d tries): %s\n%s", when, tries, errOut, out.String())
		}
		t.Logf("%s: put to all three storage nodes worked at try %d", when, tries)
		dst := filepath.Join(t.TempDir(), "out")
		if _, errOut, code := runCmd(t, nil, "-d", client, "get", strings.TrimSpace(capOut), dst); code != 0 {
			t.Fatalf("%s: get: %s", when, errOut)
		}
		if got, _ := os.ReadFile(dst); !bytes.Equal(got, data) {
			t.Fatalf("%s: round trip differs", when)
		}
	}
	roundTrip("after storage-01 restarted")

	// (c) the others kept their processes.
	for name, pid := range pids {
		if name != "storage-01" && !alive(pid) {
			t.Errorf("%s (pid %d) is gone", name, pid)
		}
	}
	if c := strings.Count(out.String(), " died: "); c != 1 {
		t.Errorf("%d deaths reported, want 1:\n%s", c, out.String())
	}

	// The introducer and the client are restarted the same way.
	for _, name := range []string{"introducer", "client"} {
		if err := syscall.Kill(pids[name], syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"introducer", "client"} {
		waitOut(fmt.Sprintf(`%s \(pid %d\) died: killed by SIGKILL`, name, pids[name]), 10*time.Second)
		m := waitOut(name+` is back \(pid (\d+)\)`, 20*time.Second)
		pid, _ := strconv.Atoi(m[1])
		pids[name+" (reborn)"] = pid
	}
	roundTrip("after the introducer and the client restarted")

	// (d) SIGINT stops every node, and local-grid exits after them.
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-done:
		if waitErr != nil {
			t.Errorf("local-grid exited with %v after SIGINT:\n%s", waitErr, out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("local-grid did not stop on SIGINT")
	}
	pids["storage-01 (reborn)"] = reborn
	for name, pid := range pids {
		if alive(pid) {
			t.Errorf("%s (pid %d) still runs after local-grid stopped", name, pid)
		}
	}
	if ps, _ := exec.Command("pgrep", "-f", "lafs run "+dir).Output(); len(bytes.TrimSpace(ps)) > 0 {
		t.Errorf("nodes still running after local-grid stopped: %s", ps)
	}
}
