package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lafs/lafs/node"
)

// fakeGridNodes makes node directories (a tahoe.cfg each) under dir.
func fakeGridNodes(t *testing.T, dir string, names ...string) {
	t.Helper()
	for _, n := range names {
		if err := os.MkdirAll(filepath.Join(dir, n), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, n, "tahoe.cfg"), []byte("[node]\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLocalGridPlan(t *testing.T) {
	fresh := filepath.Join(t.TempDir(), "new grid")
	l, err := planGrid(fresh, 10, false)
	if err != nil || !reflect.DeepEqual(l.storage, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}) || l.toCreate() != 12 {
		t.Errorf("new grid: %+v (to create %d), %v", l, l.toCreate(), err)
	}
	if l, err := planGrid(fresh, 3, true); err != nil || !reflect.DeepEqual(l.storage, []int{0, 1, 2}) {
		t.Errorf("new grid, 3: %+v, %v", l, err)
	}

	dir := t.TempDir()
	// storage-01 was removed; storage-007 and storage-xx are not ours.
	fakeGridNodes(t, dir, "introducer", "client", "storage-00", "storage-02", "storage-03", "storage-007", "storage-xx")
	if err := os.MkdirAll(filepath.Join(dir, "storage-04"), 0o700); err != nil { // no tahoe.cfg
		t.Fatal(err)
	}
	for _, tt := range []struct {
		n        int
		explicit bool
		want     []int
		create   int
	}{
		{10, false, []int{0, 2, 3}, 0}, // every node it has, whatever the default
		{3, true, []int{0, 2, 3}, 0},
		{5, true, []int{0, 1, 2, 3, 4}, 2}, // the gap first
	} {
		l, err := planGrid(dir, tt.n, tt.explicit)
		if err != nil || !reflect.DeepEqual(l.storage, tt.want) || l.toCreate() != tt.create {
			t.Errorf("planGrid(%d, %v) = %v (to create %d), %v; want %v (%d)", tt.n, tt.explicit, l.storage, l.toCreate(), err, tt.want, tt.create)
		}
	}
	_, err = planGrid(dir, 1, true)
	var ue *usageError
	if !errors.As(err, &ue) {
		t.Fatalf("fewer nodes than exist: %v, want a usage error", err)
	}
	for _, want := range []string{"has 3 storage nodes", "--storage-nodes 1", "leave out --storage-nodes",
		"rm -r " + shellQuote(filepath.Join(dir, "storage-02")) + " " + shellQuote(filepath.Join(dir, "storage-03")) + "\n"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("fewer nodes than exist: %q does not say %q", err, want)
		}
	}
}

// applyConfig edits tahoe.cfg as the node reads it: a BOM, a key spelled
// in capitals, a value continued on the next line, a repeated section.
func TestLocalGridApplyConfigForms(t *testing.T) {
	const line = "web.port = tcp:3456:interface=127.0.0.1\n"
	const want = "tcp:9999:interface=127.0.0.1"
	for name, edit := range map[string]func(string) string{
		"bom":  func(s string) string { return "\ufeff" + s },
		"case": func(s string) string { return strings.Replace(s, line, "Web.Port = tcp:3456:interface=127.0.0.1\n", 1) },
		"continuation": func(s string) string {
			return strings.Replace(s, line, "web.port = tcp:3456\n  :interface=127.0.0.1\n", 1)
		},
		"dupsection": func(s string) string { return s + "\n[node]\nweb.port = tcp:4567:interface=127.0.0.1\n" },
	} {
		dir := createNode(t, "create-client", filepath.Join(t.TempDir(), "client"), "--webport", "tcp:3456:interface=127.0.0.1")
		path := filepath.Join(dir, "tahoe.cfg")
		before, _ := os.ReadFile(path)
		if !strings.Contains(string(before), line) {
			t.Fatalf("create-client wrote no %q:\n%s", line, before)
		}
		os.WriteFile(path, []byte(edit(string(before))), 0o600)
		os.Chmod(path, 0o640)
		g := &localGrid{stdout: io.Discard}
		if err := g.applyConfig(dir, "node", map[string]string{"web.port": want}); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		after, _ := os.ReadFile(path)
		cfg, err := node.ReadConfig(dir)
		if err != nil {
			t.Errorf("%s: the node cannot read the result: %v\n%s", name, err, after)
			continue
		}
		if got := cfg.Node().WebPort; got != want {
			t.Errorf("%s: web.port reads %q, want %q:\n%s", name, got, want, after)
		}
		if name != "dupsection" && strings.Count(string(after), "[node]") != 1 {
			t.Errorf("%s: [node] added again:\n%s", name, after)
		}
		if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o640 {
			t.Errorf("%s: mode now %04o", name, fi.Mode().Perm())
		}
		if ents, _ := os.ReadDir(dir); slices.ContainsFunc(ents, func(e os.DirEntry) bool { return strings.Contains(e.Name(), ".tmp") }) {
			t.Errorf("%s: a temporary file is left: %v", name, ents)
		}
	}
}

// createNode runs "lafs VERB ARGS DIR" and returns DIR.
func createNode(t *testing.T, verb, dir string, args ...string) string {
	t.Helper()
	if _, errOut, code := runCmd(t, nil, append(append([]string{verb}, args...), dir)...); code != 0 {
		t.Fatalf("%s: %s", verb, errOut)
	}
	return dir
}

func TestLocalGridApplyConfig(t *testing.T) {
	dir := createNode(t, "create-client", filepath.Join(t.TempDir(), "client"), "--webport", "tcp:3456:interface=127.0.0.1")
	path := filepath.Join(dir, "tahoe.cfg")
	before, _ := os.ReadFile(path)
	var out syncBuffer
	g := &localGrid{stdout: &out}
	if err := g.applyConfig(dir, "node", map[string]string{"web.port": "tcp:4000:interface=127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(path)
	want := strings.Replace(string(before), "web.port = tcp:3456:interface=127.0.0.1\n", "web.port = tcp:4000:interface=127.0.0.1\n", 1)
	if string(after) != want || string(after) == string(before) {
		t.Errorf("tahoe.cfg after setting web.port:\n%s", after)
	}
	if !strings.Contains(out.String(), `client: set [node] web.port = tcp:4000:interface=127.0.0.1 (was "tcp:3456:interface=127.0.0.1")`) {
		t.Errorf("applyConfig said %q", out.String())
	}
	// The same value again changes and says nothing.
	var again syncBuffer
	g.stdout = &again
	if err := g.applyConfig(dir, "node", map[string]string{"web.port": "tcp:4000:interface=127.0.0.1"}); err != nil || again.String() != "" {
		t.Errorf("same value: %v, said %q", err, again.String())
	}
	// A value the node would refuse is not written.
	err := g.applyConfig(dir, "client", map[string]string{"shares.needed": "11"})
	if err == nil || !strings.Contains(err.Error(), "shares") {
		t.Errorf("shares.needed 11 of 10: %v, want the node's reason", err)
	}
	if now, _ := os.ReadFile(path); string(now) != string(after) {
		t.Errorf("a refused value changed tahoe.cfg:\n%s", now)
	}
}

// listenBusy holds a TCP port on 127.0.0.1 for the test and returns it.
func listenBusy(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

func TestLocalGridPortProblems(t *testing.T) {
	web := listenBusy(t)
	client := createNode(t, "create-client", filepath.Join(t.TempDir(), "client"), "--webport", fmt.Sprintf("tcp:%d:interface=127.0.0.1", web))
	got := portProblems("client", client)
	if len(got) != 1 || !strings.Contains(got[0], fmt.Sprintf("port %d is taken", web)) ||
		!strings.Contains(got[0], "client cannot serve its web API") || !strings.Contains(got[0], "--web-port") {
		t.Errorf("client on a taken port: %q", got)
	}
	tub := listenBusy(t)
	storage := createNode(t, "create-node", filepath.Join(t.TempDir(), "storage-03"), "--webport", "none",
		"--port", fmt.Sprintf("tcp:%d:interface=127.0.0.1", tub), "--location", fmt.Sprintf("tcp:127.0.0.1:%d", tub))
	got = portProblems("storage-03", storage)
	if len(got) != 1 || !strings.Contains(got[0], fmt.Sprintf("port %d is taken", tub)) ||
		!strings.Contains(got[0], "storage-03 cannot listen") || !strings.Contains(got[0], "tub.port") {
		t.Errorf("storage node on a taken port: %q", got)
	}
	free := createNode(t, "create-node", filepath.Join(t.TempDir(), "storage-04"), "--webport", "none", "--hostname", "127.0.0.1")
	if got := portProblems("storage-04", free); len(got) != 0 {
		t.Errorf("node on a free port: %q", got)
	}
}

func TestLocalGridShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"/usr/local/bin/lafs":    "/usr/local/bin/lafs",
		"/home/a b/grid/client":  "'/home/a b/grid/client'",
		"it's":                   `'it'\''s'`,
		"":                       "''",
		"$HOME/x":                "'$HOME/x'",
		"a_b-c.d:e,f@g%h+i=j/k~": "'a_b-c.d:e,f@g%h+i=j/k~'",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestLocalGridCommandName(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "some dir")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(bin, "lafs")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", t.TempDir())
	if got := lafsCommand(exe); got != shellQuote(exe) {
		t.Errorf("not on PATH: %s", got)
	}
	t.Setenv("PATH", bin)
	if got := lafsCommand(exe); got != "lafs" {
		t.Errorf("on PATH: %s", got)
	}
	other := filepath.Join(t.TempDir(), "lafs")
	if err := os.WriteFile(other, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got := lafsCommand(other); got != other {
		t.Errorf("another lafs on PATH: %s", got)
	}
}

func TestLocalGridExitWithParent(t *testing.T) {
	if ctx := exitWithParent(context.Background(), func(string) string { return "" }); ctx != context.Background() {
		t.Error("without the variable, the context changed")
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	fd, err := syscall.Dup(int(r.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	ctx := exitWithParent(context.Background(), func(k string) string {
		if k == parentFDEnv {
			return fmt.Sprint(fd)
		}
		return ""
	})
	select {
	case <-ctx.Done():
		t.Fatal("ended with the pipe open")
	case <-time.After(100 * time.Millisecond):
	}
	w.Close() // local-grid has gone
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("not ended when the pipe closed")
	}
}

// TestLocalGridNodeStopsWithPipe runs "lafs run" as local-grid does, but
// without Linux's parent-death signal: closing the pipe's write end, as
// the system does when local-grid dies, stops the node.
func TestLocalGridNodeStopsWithPipe(t *testing.T) {
	dir := createNode(t, "create-client", filepath.Join(t.TempDir(), "client"), "--webport", "tcp:0:interface=127.0.0.1")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	cmd := exec.Command(lafsBinary(t), "run", dir)
	cmd.ExtraFiles = []*os.File{r}
	cmd.Env = append(os.Environ(), parentFDEnv+"=3")
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer cmd.Process.Kill()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "web API listening") {
		select {
		case err := <-done:
			t.Fatalf("the node exited (%v) before it served:\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the node did not serve:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	w.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("the node stopped with %v:\n%s", err, out.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("the node kept running after the pipe closed:\n%s", out.String())
	}
}
