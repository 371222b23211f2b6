package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"

	"github.com/lafs/lafs/node"
)

// runRun runs a node in the foreground until SIGINT or SIGTERM.
func runRun(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	basedir := fs.String("basedir", "", "the node directory")
	fs.StringVar(basedir, "C", "", "short for --basedir")
	fs.Bool("allow-stdin-close", false, "accepted for Tahoe compatibility")
	if err := fs.Parse(args); err != nil {
		return usagef("%v", err)
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
		// For performance work: profile the whole life of the node.
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
