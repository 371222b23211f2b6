package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// lafsBinary builds the lafs command once per test run, for tests that
// start real node processes.
func lafsBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "lafs-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "lafs")
		// Built as the README builds it: static, without cgo, so the
		// processes the tests run (and audit) are the shipped binary.
		build := exec.Command("go", "build", "-o", binPath, ".")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err := build.CombinedOutput()
		if err != nil {
			buildErr = err
			binPath = string(out)
		}
	})
	if buildErr != nil {
		t.Fatalf("building lafs: %v\n%s", buildErr, binPath)
	}
	return binPath
}

// proc is a running lafs process.
type proc struct {
	cmd  *exec.Cmd
	logs *syncBuffer
	done chan struct{}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startProc runs `lafs args...` and waits until its log contains ready.
func startProc(t *testing.T, ready string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(lafsBinary(t), args...)
	return startLogged(t, cmd, "lafs "+strings.Join(args, " "), ready, 30*time.Second,
		func(p *proc) { p.kill(syscall.SIGKILL) })
}

// startLogged starts cmd, keeps its output in the proc's logs, and
// waits (at most wait) until a line of its standard error contains
// ready. stop ends it when the test does; what names it in failures.
func startLogged(t *testing.T, cmd *exec.Cmd, what, ready string, wait time.Duration, stop func(*proc)) *proc {
	t.Helper()
	p := &proc{cmd: cmd, logs: &syncBuffer{}, done: make(chan struct{})}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = p.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	readyc := make(chan struct{})
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(nil, 1<<20)
		signalled := false
		for sc.Scan() {
			p.logs.Write(append(sc.Bytes(), '\n'))
			if !signalled && strings.Contains(sc.Text(), ready) {
				signalled = true
				close(readyc)
			}
		}
		io.Copy(io.Discard, stderr)
		cmd.Wait()
	}()
	t.Cleanup(func() { stop(p) })
	select {
	case <-readyc:
	case <-p.done:
		t.Fatalf("%s exited before %q:\n%s", what, ready, p.logs)
	case <-time.After(wait):
		t.Fatalf("%s not ready after %v:\n%s", what, wait, p.logs)
	}
	return p
}

func (p *proc) kill(sig syscall.Signal) {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

func readNURL(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "private", "storage.nurl"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(b))[0]
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}
