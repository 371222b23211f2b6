package main

// The help of the command line as a whole: the list of verbs ("lafs
// help", "lafs --help", "lafs debug help"), and the probe through which
// completion and the tests learn each verb's options and sub-verbs by
// asking for its help.

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// helpProbe records what a verb's help was made from: its flag set (from
// newFlagSet's help), or the verb table it lists (from dispatch).
type helpProbe struct {
	flags *flag.FlagSet
	table []command
}

// globalHelp lists the options lafs takes before the verb.
const globalHelp = `global options (before COMMAND):
  -d, --node-directory NODEDIR  the node to work with (default: ~/.tahoe);
                                most commands also take it after COMMAND`

// listCommands prints a verb table. When no command was given (missing),
// the list goes to stderr and it is a usage error; asked for, it goes to
// stdout.
func listCommands(e *env, prefix string, table []command, missing bool) error {
	if e.probe != nil {
		e.probe.table = table
	}
	w := e.stdout
	if missing {
		w = e.stderr
	}
	table = append([]command(nil), table...)
	sort.Slice(table, func(i, j int) bool { return table[i].name < table[j].name })
	usage := prefix
	if prefix == "lafs" {
		usage = "lafs [-d NODEDIR]"
	}
	fmt.Fprintf(w, "usage: %s COMMAND [ARGS]\n\ncommands:\n", usage)
	for _, c := range table {
		fmt.Fprintf(w, "  %-18s %s\n", c.name, c.short)
	}
	if prefix == "lafs" {
		fmt.Fprintf(w, "\n%s\n", globalHelp)
	}
	fmt.Fprintf(w, "\nRun '%s help COMMAND' (or '%s COMMAND --help') for a command's arguments and options.\n", prefix, prefix)
	if missing {
		return usagef("%s: no command given", prefix)
	}
	return nil
}

// probeHelp runs "lafs WORDS... --help" without output and returns what
// the help was made of: the verb's flag set, or the table of sub-verbs
// WORDS names. Both are nil when WORDS names no verb.
func probeHelp(words []string) *helpProbe {
	p := &helpProbe{}
	e := &env{
		stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard,
		getenv: func(string) string { return "" }, probe: p,
		// A verb that ignored --help would find no node to act on.
		nodeDir: "/nonexistent/lafs-help-probe",
	}
	args := append(append([]string(nil), words...), "--help")
	if len(words) == 0 {
		args = []string{"--help"}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // a verb that ignored --help must not get far
	dispatch(ctx, e, "lafs", commands(), args)
	return p
}

// verbPaths lists every verb and sub-verb ("get", "debug dump-cap"), as
// their tables say.
func verbPaths() [][]string {
	var out [][]string
	var walk func(prefix []string, table []command)
	walk = func(prefix []string, table []command) {
		for _, c := range table {
			path := append(append([]string(nil), prefix...), c.name)
			if sub := probeHelp(path).table; sub != nil {
				walk(path, sub)
				continue
			}
			out = append(out, path)
		}
	}
	walk(nil, commands())
	return out
}
