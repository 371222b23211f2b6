// Command lafs is the single binary of lafs, a Go implementation of
// Tahoe-LAFS: storage nodes, clients, introducers and the command line verbs
// that Tahoe's `tahoe` command has. Each command is a plain function in its
// own file, run(ctx, env, args), so tests call it without starting a process.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"
)

// env is what a command may touch of the outside world.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	// nodeDir is the global -d/--node-directory given before the command.
	nodeDir string
	// clock tells the time of day (nil: time.Now): backup names its
	// archives by it, ls dates its listings against it. tz is the time
	// zone dates are shown in (nil: the local one). Tests set both.
	clock func() time.Time
	tz    *time.Location
}

// now is the time of day by the env's clock.
func (e *env) now() time.Time {
	if e.clock != nil {
		return e.clock()
	}
	return time.Now()
}

// zone is the time zone dates are shown in.
func (e *env) zone() *time.Location {
	if e.tz != nil {
		return e.tz
	}
	return time.Local
}

// home is the user's home directory: $HOME, else what the system says.
func (e *env) home() string {
	if e.getenv != nil {
		if home := e.getenv("HOME"); home != "" {
			return home
		}
	}
	home, _ := os.UserHomeDir()
	return home
}

// command is one verb of the CLI.
type command struct {
	name  string
	short string // one line for the command list
	run   func(ctx context.Context, e *env, args []string) error
}

// usageError is returned for bad command lines; main prints it and exits 2.
type usageError struct{ msg string }

func (u *usageError) Error() string { return u.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

// commands lists every verb; nested verbs (debug dump-cap) live in their own tables.
func commands() []command {
	return []command{
		{"create-node", "create a node (storage server and client)", runCreateNode},
		{"create-client", "create a client node (no storage)", runCreateClient},
		{"create-introducer", "create an introducer node", runCreateIntroducer},
		{"run", "run a node in the foreground", runRun},
		{"local-grid", "create and run a whole grid on 127.0.0.1", runLocalGrid},
		{"put", "upload a file (unlinked, or to alias:path) and print its cap", runPut},
		{"get", "download a file (a cap or alias:path)", runGet},
		{"create-alias", "make a new directory and an alias for it", runCreateAlias},
		{"add-alias", "add an alias for an existing directory cap", runAddAlias},
		{"list-aliases", "list the aliases", runListAliases},
		{"mkdir", "make a directory (unlinked, or at alias:path)", runMkdir},
		{"ls", "list a directory", runLs},
		{"ln", "link an object at another path too", runLn},
		{"mv", "move an object to another path", runMv},
		{"unlink", "unlink a path from its directory", runUnlink},
		{"rm", "unlink a path from its directory (old name of unlink)", runRm},
		{"cp", "copy files and directories (local and grid, -r)", runCp},
		{"backup", "back up a local directory to Archives/<time> and Latest on the grid", runBackup},
		{"check", "check the health of files or directories (not what a directory holds)", runCheck},
		{"deep-check", "check everything reachable from a directory", runDeepCheck},
		{"manifest", "list everything reachable from a directory", runManifest},
		{"stats", "count and size everything reachable from a directory", runStats},
		{"attenuate", "print a cap's read cap, or a read cap's verify cap", runAttenuate},
		{"debug", "debugging tools: dump-cap, chk-cap, dump-share, find-shares, catalog-shares, corrupt-share", runDebug},
		{"admin", "node administration: print-server-entry", runAdmin},
		{"version", "print the version", runVersion},
	}
}

// Version is the program version; the build may override it with -ldflags.
var Version = "0.1.0-dev"

func runVersion(ctx context.Context, e *env, args []string) error {
	fmt.Fprintf(e.stdout, "lafs %s\n", Version)
	return nil
}

func lookup(table []command, name string) (command, bool) {
	for _, c := range table {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

func listCommands(w io.Writer, prefix string, table []command) {
	sort.Slice(table, func(i, j int) bool { return table[i].name < table[j].name })
	fmt.Fprintf(w, "usage: %s COMMAND [ARGS]\n\ncommands:\n", prefix)
	for _, c := range table {
		fmt.Fprintf(w, "  %-16s %s\n", c.name, c.short)
	}
}

// dispatch runs the command that args[0] names out of table.
func dispatch(ctx context.Context, e *env, prefix string, table []command, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		listCommands(e.stdout, prefix, table)
		if len(args) == 0 {
			return usagef("%s: no command given", prefix)
		}
		return nil
	}
	c, ok := lookup(table, args[0])
	if !ok {
		return usagef("%s: unknown command %q (try %s --help)", prefix, args[0], prefix)
	}
	return c.run(ctx, e, args[1:])
}

// globalOptions takes Tahoe's global options from before the command:
// -d/--node-directory DIR (also -dDIR, --node-directory=DIR).
func globalOptions(e *env, args []string) ([]string, error) {
	for len(args) > 0 {
		a := args[0]
		switch {
		case a == "-d" || a == "--node-directory":
			if len(args) < 2 {
				return nil, usagef("%s needs a directory", a)
			}
			e.nodeDir, args = args[1], args[2:]
		case strings.HasPrefix(a, "--node-directory="):
			e.nodeDir, args = strings.TrimPrefix(a, "--node-directory="), args[1:]
		case strings.HasPrefix(a, "-d") && len(a) > 2:
			e.nodeDir, args = a[2:], args[1:]
		default:
			return args, nil
		}
	}
	return args, nil
}

// run is main without the process: it returns the exit code.
func run(ctx context.Context, e *env, args []string) int {
	args, err := globalOptions(e, args)
	if err == nil {
		err = dispatch(ctx, e, "lafs", commands(), args)
	}
	if err == nil {
		return 0
	}
	var ue *usageError
	var ce *exitError
	switch {
	case errors.As(err, &ue):
		fmt.Fprintln(e.stderr, err)
		return 2
	case errors.As(err, &ce):
		if ce.msg != "" {
			fmt.Fprintln(e.stderr, ce.msg)
		}
		return ce.code
	default:
		fmt.Fprintf(e.stderr, "lafs: %v\n", err)
		return 1
	}
}

// exitError ends a command with a chosen exit code and message.
type exitError struct {
	code int
	msg  string
}

func (x *exitError) Error() string { return strings.TrimSpace(x.msg) }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	e := &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}
	code := run(ctx, e, os.Args[1:])
	stop()
	os.Exit(code)
}
