package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"

	"github.com/lafs/lafs/node"
)

const runHelp = `usage: lafs run [options] [NODEDIR]

Run the node in NODEDIR (default: the global -d directory, else ~/.tahoe)
in the foreground, logging to standard error, until Ctrl-C (SIGINT) or
SIGTERM.`

// runRun runs a node in the foreground until SIGINT or SIGTERM.
func runRun(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "run", runHelp)
	basedir := fs.String("basedir", "", "the node directory (instead of the `NODEDIR` argument)")
	fs.StringVar(basedir, "C", "", "short for --basedir")
	fs.Bool("allow-stdin-close", false, "accepted for Tahoe compatibility; does nothing")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	dir := *basedir
	if fs.NArg() == 1 && dir == "" {
		dir = fs.Arg(0)
	} else if fs.NArg() > 0 {
		return usagef("lafs run: one node directory at most")
	}
	if dir == "" {
		dir = defaultNodeDir(e)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(abs, "tahoe.cfg")); err != nil {
		return fmt.Errorf("%s is not a node directory (no tahoe.cfg): %w", abs, err)
	}
	if path := e.getenv("LAFS_CPUPROFILE"); path != "" {
		// For performance work: profile the whole life of the node. A
		// "%n" in the path becomes the node directory's name, so that
		// the nodes of a local grid each write their own profile.
		path = strings.ReplaceAll(path, "%n", filepath.Base(abs))
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	n, err := node.Start(ctx, abs, log)
	if err != nil {
		return err
	}
	log.Info("node running", "basedir", abs)
	select {
	case <-ctx.Done():
		log.Info("stopping")
	case err = <-n.Errors():
		log.Error("service failed", "err", err)
	}
	n.Close()
	return err
}
