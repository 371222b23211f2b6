package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
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
	base, err := s.web()
	if err != nil {
		return err
	}
	u := base + "uri?t=mkdir"
	if where := fs.Arg(0); where != "" {
		p, err := s.resolve(where, defaultAlias)
		if err != nil {
			return err
		}
		p.path = strings.Trim(p.path, "/")
		if p.path != "" {
			u = objectURL(base, p.root, p.path) + "?t=mkdir"
		}
	}
	if *format != "" {
		u += "&format=" + url.QueryEscape(*format)
	}
	resp, body, err := s.call(ctx, http.MethodPost, u, nil)
	if err != nil {
		return err
	}
	if !ok2xx(resp.StatusCode) {
		return failf("%s", httpFailure("Error during HTTP request", resp, body))
	}
	fmt.Fprintln(e.stdout, quoteName(strings.TrimSpace(string(body)), false))
	return nil
}
