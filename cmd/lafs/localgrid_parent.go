package main

// The nodes of a local grid die with it, however it dies. On Linux each
// node also gets SIGTERM from the kernel when local-grid's thread that
// started it ends (setParentDeathSignal); everywhere, local-grid gives
// each node the read end of a pipe whose only write end it holds itself:
// when local-grid dies, even by SIGKILL, the system closes that end, the
// node reads end of file, and it stops as on Ctrl-C.

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
)

// parentFDEnv names the environment variable through which local-grid
// tells a node which descriptor holds the pipe's read end.
const parentFDEnv = "LAFS_LOCAL_GRID_FD"

// exitWithParent returns ctx, ended also when the pipe that parentFDEnv
// names reaches its end: the local-grid that started this process is gone.
// Without the variable it returns ctx as it is.
func exitWithParent(ctx context.Context, getenv func(string) string) context.Context {
	s := getenv(parentFDEnv)
	if s == "" {
		return ctx
	}
	fd, err := strconv.Atoi(s)
	if err != nil || fd < 3 {
		return ctx
	}
	f := os.NewFile(uintptr(fd), "local-grid pipe")
	if f == nil {
		return ctx
	}
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		defer cancel()
		defer f.Close()
		// Nothing is ever written: Copy returns at end of file.
		io.Copy(io.Discard, f)
	}()
	return ctx
}

// openParentPipe makes the pipe of exitWithParent; its write end is
// never given to a child (os.Pipe's ends are close-on-exec).
func (g *localGrid) openParentPipe() error {
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("the pipe that tells the nodes local-grid has gone: %w", err)
	}
	g.parentR, g.parentW = r, w
	return nil
}

// closeParentPipe closes both ends, once every node has stopped.
func (g *localGrid) closeParentPipe() {
	if g.parentR != nil {
		g.parentR.Close()
		g.parentW.Close()
	}
}
