package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/pyjson"
)

const createAliasHelp = `usage: lafs [-d NODEDIR] create-alias [options] ALIAS[:]

Create a new directory and add an alias for it.`

const addAliasHelp = `usage: lafs [-d NODEDIR] add-alias [options] ALIAS[:] DIRCAP

Add a new alias for an existing directory.`

const listAliasesHelp = `usage: lafs [-d NODEDIR] list-aliases [options]

Display a table of all configured aliases.`

// checkAliasName refuses the names Tahoe refuses; a trailing colon has been
// dropped already.
func checkAliasName(name string) error {
	switch {
	case strings.Contains(name, ":"):
		return failf("Alias names cannot contain colons.")
	case strings.Contains(name, " "):
		return failf("Alias names cannot contain spaces.")
	case name == "":
		return failf("Alias names cannot be empty.")
	}
	return nil
}

// newAlias parses the arguments of a command that adds an alias (nargs of
// them, the new name first), checks the name and that it is not taken,
// and opens the node; it returns the other arguments.
func newAlias(e *env, cmd, help string, args []string, nargs int) (s *session, name string, rest []string, err error) {
	fs := newFlagSet(e, cmd, help)
	var sf storeFlags
	sf.register(fs, e)
	if err := parseFlags(fs, args); err != nil {
		return nil, "", nil, err
	}
	if fs.NArg() != nargs {
		return nil, "", nil, usagef("%s", help)
	}
	name = strings.TrimSuffix(fs.Arg(0), ":")
	if err := checkAliasName(name); err != nil {
		return nil, "", nil, err
	}
	if s, err = sf.open(e); err != nil {
		return nil, "", nil, err
	}
	if _, ok := s.aliases[name]; ok {
		return nil, "", nil, failf("Alias %s already exists!", quoteName(name, true))
	}
	return s, name, fs.Args()[1:], nil
}

// runCreateAlias is "tahoe create-alias": mkdir, then add-alias.
func runCreateAlias(ctx context.Context, e *env, args []string) error {
	s, name, _, err := newAlias(e, "create-alias", createAliasHelp, args, 1)
	if err != nil {
		return err
	}
	wc, err := s.client()
	if err != nil {
		return err
	}
	dircap, err := wc.mkdir(ctx, unlinked(""), "t=mkdir")
	if err != nil {
		return failure(err, "Error during HTTP request")
	}
	if err := addAliasLine(s.nodeDir, name, strings.TrimSpace(dircap)); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "Alias %s created\n", quoteName(name, true))
	return nil
}

// runAddAlias is "tahoe add-alias": record a name for a dircap.
func runAddAlias(ctx context.Context, e *env, args []string) error {
	s, name, rest, err := newAlias(e, "add-alias", addAliasHelp, args, 2)
	if err != nil {
		return err
	}
	c, err := cap.Parse(strings.TrimSpace(rest[0]))
	if err != nil || !cap.IsDir(c) {
		return failf("error: %s is not a directory cap", quoteName(rest[0], true))
	}
	if err := addAliasLine(s.nodeDir, name, c.String()); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "Alias %s added\n", quoteName(name, true))
	return nil
}

// aliasCaps is one alias's write and read caps, for list-aliases.
type aliasCaps struct{ name, rw, ro string }

// aliasTable returns the aliases sorted by name, with their caps made
// canonical and their read-only forms.
func aliasTable(aliases map[string]string) []aliasCaps {
	var out []aliasCaps
	for name, s := range aliases {
		a := aliasCaps{name: name, rw: s}
		if c, err := cap.Parse(s); err == nil {
			a.rw = c.String()
			if ro := c.ReadOnly(); ro != nil {
				a.ro = ro.String()
			}
		}
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// formatAliases renders list-aliases: "%*s: CAP" lines, the width being
// that of the longest name in quotes (so two spaces lead the longest), or
// with asJSON Python's json.dumps(indent=4) of {name: {readwrite, readonly}}.
func formatAliases(aliases map[string]string, readonly, asJSON bool) string {
	table := aliasTable(aliases)
	var b strings.Builder
	if asJSON {
		data := &pyjson.Object{}
		for _, a := range table {
			caps := &pyjson.Object{}
			caps.Set("readwrite", a.rw)
			caps.Set("readonly", a.ro)
			data.Set(a.name, caps)
		}
		out, _ := pyjson.MarshalIndent(data, 4) // strings only: cannot fail
		return string(out) + "\n"
	}
	width := 0
	for _, a := range table {
		width = max(width, utf8.RuneCountInString(quoteName(a.name, true)))
	}
	for _, a := range table {
		c := a.rw
		if readonly {
			c = a.ro
		}
		fmt.Fprintf(&b, "%s: %s\n", padLeft(a.name, width), c)
	}
	return b.String()
}

// runListAliases is "tahoe list-aliases".
func runListAliases(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "list-aliases", listAliasesHelp)
	var sf storeFlags
	sf.register(fs, e)
	readonly := fs.Bool("readonly-uri", false, "show read-only dircaps instead of read-write ones")
	asJSON := fs.Bool("json", false, "show JSON output")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usagef("%s", listAliasesHelp)
	}
	s, err := sf.open(e)
	if err != nil {
		return err
	}
	fmt.Fprint(e.stdout, formatAliases(s.aliases, *readonly, *asJSON))
	return nil
}

// padLeft right-aligns s in width characters, as Python's "%*s".
func padLeft(s string, width int) string {
	if n := utf8.RuneCountInString(s); n < width {
		return strings.Repeat(" ", width-n) + s
	}
	return s
}

// padRight left-aligns s in width characters, as Python's "%-*s".
func padRight(s string, width int) string {
	if n := utf8.RuneCountInString(s); n < width {
		return s + strings.Repeat(" ", width-n)
	}
	return s
}
