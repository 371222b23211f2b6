package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/lafs/lafs/node"
)

func adminCommands() []command {
	return []command{
		{"print-server-entry", "print the private/servers.yaml entry for a storage node", runPrintServerEntry},
	}
}

func runAdmin(ctx context.Context, e *env, args []string) error {
	return dispatch(ctx, e, "lafs admin", adminCommands(), args)
}

// runPrintServerEntry prints a servers.yaml entry for the storage node in
// DIR, so that clients (lafs or Tahoe 1.20) can use it without an introducer.
func runPrintServerEntry(ctx context.Context, e *env, args []string) error {
	if len(args) > 1 {
		return usagef("usage: lafs admin print-server-entry [NODEDIR]")
	}
	dir := defaultNodeDir(e)
	if len(args) == 1 {
		dir = args[0]
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	entry, err := node.ServerEntry(abs)
	if err != nil {
		return err
	}
	fmt.Fprint(e.stdout, entry)
	return nil
}
