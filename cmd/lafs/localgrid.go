package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const localGridHelp = `usage: lafs local-grid [--storage-nodes N] [--web-port PORT] [DIR]

Create (the first time) and run a whole grid on 127.0.0.1: an introducer, N
storage nodes (default 10) and a client node whose web API listens on PORT
(default 3456), each in its own node directory under DIR (default
./lafs-grid). Ctrl-C stops them all. Then, in another terminal:

  lafs -d DIR/client put FILE
  lafs -d DIR/client get CAP OUT`

// runLocalGrid runs an introducer, storage nodes and a client as child
// processes (each a plain "lafs run NODEDIR").
func runLocalGrid(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("local-grid", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() { fmt.Fprintln(e.stderr, localGridHelp) }
	nStorage := fs.Int("storage-nodes", 10, "number of storage nodes")
	webPort := fs.Int("web-port", 3456, "the client's web API port on 127.0.0.1")
	k := fs.Int("shares-needed", 3, "k")
	happy := fs.Int("shares-happy", 7, "servers of happiness")
	total := fs.Int("shares-total", 10, "N")
	if err := fs.Parse(args); err != nil {
		return usagef("%v", err)
	}
	dir := "lafs-grid"
	if fs.NArg() == 1 {
		dir = fs.Arg(0)
	} else if fs.NArg() > 1 {
		return usagef("%s", localGridHelp)
	}
	if *nStorage < 1 {
		return usagef("--storage-nodes must be at least 1")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	g := &localGrid{exe: exe, stderr: e.stderr}
	defer g.stopAll()

	// The introducer first: the others need its NURL.
	introDir := filepath.Join(dir, "introducer")
	if err := g.createIfMissing(e, introDir, "create-introducer", "--hostname", "127.0.0.1"); err != nil {
		return err
	}
	if err := g.start(ctx, "introducer", introDir, "introducer listening"); err != nil {
		return err
	}
	nurlBytes, err := os.ReadFile(filepath.Join(introDir, "private", "introducer.nurl"))
	if err != nil {
		return fmt.Errorf("introducer NURL: %w", err)
	}
	introNURL := strings.Fields(string(nurlBytes))[0]

	shareFlags := []string{"--shares-needed", strconv.Itoa(*k), "--shares-happy", strconv.Itoa(*happy), "--shares-total", strconv.Itoa(*total)}
	var wg sync.WaitGroup
	errs := make([]error, *nStorage)
	for i := 0; i < *nStorage; i++ {
		d := filepath.Join(dir, fmt.Sprintf("storage-%02d", i))
		args := append([]string{"--webport", "none", "--hostname", "127.0.0.1", "--introducer", introNURL, "--nickname", fmt.Sprintf("storage-%02d", i)}, shareFlags...)
		if err := g.createIfMissing(e, d, "create-node", args...); err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = g.start(ctx, fmt.Sprintf("storage-%02d", i), d, "storage server listening")
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	clientDir := filepath.Join(dir, "client")
	cargs := append([]string{"--webport", fmt.Sprintf("tcp:%d:interface=127.0.0.1", *webPort), "--introducer", introNURL, "--nickname", "client"}, shareFlags...)
	if err := g.createIfMissing(e, clientDir, "create-client", cargs...); err != nil {
		return err
	}
	if err := g.start(ctx, "client", clientDir, "web API listening"); err != nil {
		return err
	}
	webURL := fmt.Sprintf("http://127.0.0.1:%d/", *webPort)
	if b, err := os.ReadFile(filepath.Join(clientDir, "node.url")); err == nil {
		webURL = strings.TrimSpace(string(b))
	}
	connected := waitServers(ctx, webURL, *nStorage, 30*time.Second)
	fmt.Fprintf(e.stdout, "local grid running in %s: introducer, %d storage nodes (%d connected to the client), client\n", dir, *nStorage, connected)
	fmt.Fprintf(e.stdout, "web API: %s\n", webURL)
	fmt.Fprintf(e.stdout, "try:     lafs -d %s put FILE\n         lafs -d %s get CAP OUT\n", clientDir, clientDir)
	fmt.Fprintln(e.stdout, "Ctrl-C stops the grid.")
	select {
	case <-ctx.Done():
		fmt.Fprintln(e.stdout, "stopping the grid")
		return nil
	case err := <-g.died:
		return err
	}
}

// waitServers polls the client's welcome JSON until n servers are connected.
func waitServers(ctx context.Context, webURL string, n int, limit time.Duration) int {
	deadline := time.Now().Add(limit)
	have := 0
	for time.Now().Before(deadline) && ctx.Err() == nil {
		have = connectedServers(webURL)
		if have >= n {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	return have
}

func connectedServers(webURL string) int {
	resp, err := http.Get(webURL + "?t=json")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var w struct {
		Servers []struct {
			Status string `json:"connection_status"`
		} `json:"servers"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&w); err != nil {
		return 0
	}
	n := 0
	for _, s := range w.Servers {
		if strings.HasPrefix(strings.ToLower(s.Status), "connected") {
			n++
		}
	}
	return n
}

// child is one node process.
type child struct {
	cmd  *exec.Cmd
	done chan struct{}
}

type localGrid struct {
	exe    string
	stderr io.Writer
	mu     sync.Mutex
	procs  []*child
	died   chan error
	once   sync.Once
}

func (g *localGrid) createIfMissing(e *env, dir, verb string, args ...string) error {
	if _, err := os.Stat(filepath.Join(dir, "tahoe.cfg")); err == nil {
		return nil
	}
	out, errOut := &strings.Builder{}, &strings.Builder{}
	sub := &env{stdin: e.stdin, stdout: out, stderr: errOut, getenv: e.getenv}
	if code := run(context.Background(), sub, append(append([]string{verb}, args...), dir)); code != 0 {
		return fmt.Errorf("%s %s: %s", verb, dir, errOut.String())
	}
	return nil
}

// start runs "lafs run dir" and waits until its log says ready.
func (g *localGrid) start(ctx context.Context, name, dir, ready string) error {
	g.once.Do(func() { g.died = make(chan error, 64) })
	cmd := exec.Command(g.exe, "run", dir)
	logPath := filepath.Join(dir, "logs", "lafs.log")
	os.MkdirAll(filepath.Dir(logPath), 0o700)
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	pr, pw := io.Pipe()
	cmd.Stdout = logf
	cmd.Stderr = io.MultiWriter(logf, pw)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // Ctrl-C reaches us; we stop them
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", name, err)
	}
	c := &child{cmd: cmd, done: make(chan struct{})}
	g.mu.Lock()
	g.procs = append(g.procs, c)
	g.mu.Unlock()
	readyc := make(chan struct{})
	go func() {
		buf := make([]byte, 64<<10)
		seen := ""
		signalled := false
		for {
			n, err := pr.Read(buf)
			if !signalled {
				seen += string(buf[:n])
				if strings.Contains(seen, ready) {
					signalled = true
					close(readyc)
					seen = ""
				} else if len(seen) > 1<<20 {
					seen = seen[len(seen)-4096:]
				}
			}
			if err != nil {
				return
			}
		}
	}()
	exited := make(chan error, 1)
	go func() {
		err := cmd.Wait()
		close(c.done)
		pw.Close()
		logf.Close()
		exited <- err
		g.died <- fmt.Errorf("%s exited: %v (see %s)", name, err, logPath)
	}()
	select {
	case <-readyc:
		return nil
	case err := <-exited:
		return fmt.Errorf("%s exited at start: %v (see %s)", name, err, logPath)
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(60 * time.Second):
		return fmt.Errorf("%s not ready after 60s (see %s)", name, logPath)
	}
}

// stopAll sends SIGTERM to every node and waits for them.
func (g *localGrid) stopAll() {
	g.mu.Lock()
	procs := g.procs
	g.procs = nil
	g.mu.Unlock()
	for _, p := range procs {
		p.cmd.Process.Signal(syscall.SIGTERM)
	}
	timeout := time.After(10 * time.Second)
	for _, p := range procs {
		select {
		case <-p.done:
		case <-timeout:
			p.cmd.Process.Kill()
			<-p.done
		}
	}
}
