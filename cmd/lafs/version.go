package main

// What this version of lafs is, and which of Tahoe 1.20's verbs it does
// not have yet: those answer "not implemented yet" (exit 1), not "unknown
// command", so that a script written for tahoe fails saying why.

import (
	"context"
	"fmt"
	"strings"

	"github.com/lafs/lafs/node"
)

// tahoeVersion is the Tahoe-LAFS release whose formats, protocols, web
// API and command line lafs follows.
const tahoeVersion = "1.20"

const versionHelp = `usage: lafs version (or lafs --version, lafs -V)

Print the version of lafs and the Tahoe-LAFS release it is compatible
with.`

// runVersion prints the version, as "tahoe --version" does: "lafs
// VERSION", then the Tahoe-LAFS release lafs works with and how its nodes
// name themselves to the grid (node.Version).
func runVersion(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "version", versionHelp)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("lafs version: no arguments expected")
	}
	fmt.Fprintf(e.stdout, "lafs %s\n", Version)
	fmt.Fprintf(e.stdout, "compatible with Tahoe-LAFS %s; nodes announce themselves as %s\n", tahoeVersion, node.Version)
	return nil
}

// notImplemented is a verb of Tahoe 1.20 that lafs lacks: it fails (exit
// 1) saying so, whatever its arguments, and --help says what the verb
// would do.
func notImplemented(verb, what string) func(ctx context.Context, e *env, args []string) error {
	return func(ctx context.Context, e *env, args []string) error {
		help := fmt.Sprintf("usage: lafs %s ...\n\nTahoe's \"tahoe %s\": %s. lafs does not implement it yet.", verb, verb, what)
		fs := newFlagSet(e, verb, help)
		if askedHelp(args) {
			fs.Usage()
			return nil
		}
		return failf("lafs %s: not implemented yet (Tahoe's %s: %s)", verb, verb, what)
	}
}

// askedHelp reports whether a command line asks for help (before any
// "--").
func askedHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "--help":
			return true
		}
	}
	return false
}

// withoutJoin is run (create-node, create-client) refusing Tahoe's --join
// INVITE-CODE, which lafs does not implement yet.
func withoutJoin(verb string, run func(ctx context.Context, e *env, args []string) error) func(ctx context.Context, e *env, args []string) error {
	return func(ctx context.Context, e *env, args []string) error {
		for _, a := range args {
			if a == "--" {
				break
			}
			if a == "--join" || strings.HasPrefix(a, "--join=") {
				return failf("lafs %s --join: not implemented yet (joining a grid with an invite code from \"tahoe invite\"); "+
					"give the introducer with --introducer, or list storage servers in NODEDIR/private/servers.yaml", verb)
			}
		}
		return run(ctx, e, args)
	}
}
