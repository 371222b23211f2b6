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
	// probe, when set, learns a verb's flags and a verb table's commands
	// as their help is printed (see help.go): completion and the help
	// tests run "VERB --help" with it to find every verb's options.
	probe *helpProbe
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
		{"create-node", "create a node (storage server and client)", withoutJoin("create-node", runCreateNode)},
		{"create-client", "create a client node (no storage)", withoutJoin("create-client", runCreateClient)},
		{"create-introducer", "create an introducer node", runCreateIntroducer},
		{"run", "run a node in the foreground", runRun},
		{"stop", "stop the node running in a node directory", runStop},
		{"status", "show the node's statistics and its current and recent operations", runStatus},
		{"webopen", "open a web browser at a file or directory (or the welcome page)", runWebopen},
		{"invite", "invite a client to the grid (not implemented yet)",
			notImplemented("invite", "makes an invite code with which a new client joins the grid")},
		{"grid-manager", "manage a grid manager's storage certificates (not implemented yet)",
			notImplemented("grid-manager", "creates a grid manager and the certificates it gives storage servers")},
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
		{"admin", "node administration: print-server-entry, generate-keypair, derive-pubkey, migrate-storage", runAdmin},
		{"config", "read and change tahoe.cfg: list, get, set, unset", runConfig},
		{"version", "print the version", runVersion},
		{"completion", "print a bash or zsh script completing lafs command lines", runCompletion},
	}
}

// Version is the program version; the build may override it with -ldflags.
var Version = "0.1.0-dev"

func lookup(table []command, name string) (command, bool) {
	for _, c := range table {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// dispatch runs the command that args[0] names out of table; "help VERB
// ARGS" is "VERB ARGS --help", and "help" or --help alone lists the table.
func dispatch(ctx context.Context, e *env, prefix string, table []command, args []string) error {
	if len(args) > 1 && args[0] == "help" {
		args = append(append([]string(nil), args[1:]...), "--help")
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		return listCommands(e, prefix, table, len(args) == 0)
	}
	c, ok := lookup(table, args[0])
	if !ok {
		return usagef("%s: unknown command %q (try %s --help)", prefix, args[0], prefix)
	}
	return c.run(ctx, e, args[1:])
}

// globalOptions takes Tahoe's global options from before the command:
// -d/--node-directory DIR (also -dDIR, --node-directory=DIR), and
// --version (-V), which is the version command.
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
		case a == "--version" || a == "-V" || a == "--version-and-path":
			return []string{"version"}, nil // Tahoe's, which ignores what follows
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
	var sg *signalled
	if errors.As(context.Cause(ctx), &sg) {
		fmt.Fprintf(e.stderr, "lafs: %v\n", sg)
		return 128 + int(sg.sig)
	}
	var ue *usageError
	var ce *exitError
	switch {
	case errors.As(err, &ue):
		fmt.Fprintln(e.stderr, err)
		return 2
	case errors.As(err, &ce):
		if ce.msg != "" {
			// No cap the user did not type, whatever the verb put in.
			fmt.Fprintln(e.stderr, hideCaps(ce.msg, args...))
		}
		return ce.code
	default:
		fmt.Fprintf(e.stderr, "lafs: %v\n", hideCaps(err.Error(), args...))
		return 1
	}
}

// signalled is the cause of a command's context when a signal stopped it:
// the command then exits with 128 + the signal's number, as a shell
// reports a process the signal killed (130 for Ctrl-C, 143 for SIGTERM).
type signalled struct{ sig syscall.Signal }

func (s *signalled) Error() string {
	if s.sig == syscall.SIGINT {
		return "interrupted"
	}
	return "stopped by " + s.sig.String()
}

// exitError ends a command with a chosen exit code and message.
type exitError struct {
	code int
	msg  string
}

func (x *exitError) Error() string { return strings.TrimSpace(x.msg) }

func main() {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sigs
		// A second signal stops the process at once, cleanup or not.
		signal.Reset(os.Interrupt, syscall.SIGTERM)
		sig, _ := s.(syscall.Signal)
		cancel(&signalled{sig})
	}()
	ctx = exitWithParent(ctx, os.Getenv) // a local-grid node stops with its grid
	e := &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}
	code := run(ctx, e, os.Args[1:])
	os.Exit(code)
}
