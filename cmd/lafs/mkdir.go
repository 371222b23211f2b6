package main

import (
	"context"
	"fmt"
	"strings"
)

const mkdirHelp = `usage: lafs [-d NODEDIR] mkdir [--format=SDMF|MDMF] [REMOTE_DIR]

Create a new directory, either unlinked (no REMOTE_DIR: its write cap is
printed) or as a subdirectory (alias:path/to/dir; missing parents are
made too). Either way the new directory's write cap is printed.`

// runMkdir is "tahoe mkdir".
func runMkdir(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "mkdir", mkdirHelp)
	var sf storeFlags
	sf.register(fs, e)
	format := fs.String("format", "", "create a directory with the given format: SDMF or MDMF (case-insensitive)")
	if err := parseFlags(fs, args, ""); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return usagef("%s", mkdirHelp)
	}
	if *format != "" && !strings.EqualFold(*format, "SDMF") && !strings.EqualFold(*format, "MDMF") {
		return usagef("%s is an invalid format", *format)
	}
	s, err := sf.open(e)
	if err != nil {
		return err
	}
	wc, err := s.client()
	if err != nil {
		return err
	}
	at := unlinked("")
	if where := fs.Arg(0); where != "" {
		p, err := s.resolve(where, defaultAlias)
		if err != nil {
			return err
		}
		p.path = strings.Trim(p.path, "/")
		if p.path != "" {
			at = p
		}
	}
	q := []string{"t", "mkdir"}
	if *format != "" {
		q = append(q, "format", *format)
	}
	dircap, err := wc.mkdir(ctx, at, query(q...))
	if err != nil {
		return failure(err, "Error during HTTP request")
	}
	fmt.Fprintln(e.stdout, quoteName(dircap, false))
	return nil
}
