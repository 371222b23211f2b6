package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

const unlinkHelp = `usage: lafs [-d NODEDIR] unlink [options] REMOTE_FILE

Remove a named file (or directory) from its parent directory. The object
itself stays on the grid for whoever holds its cap. 'lafs rm' is the same.`

// runUnlink is "tahoe unlink".
func runUnlink(ctx context.Context, e *env, args []string) error {
	return unlink(ctx, e, "unlink", args)
}

// runRm is "tahoe rm", the old name of unlink.
func runRm(ctx context.Context, e *env, args []string) error {
	return unlink(ctx, e, "rm", args)
}

// unlink DELETEs the link and prints the status, as Tahoe's tahoe_unlink.
func unlink(ctx context.Context, e *env, name string, args []string) error {
	help := strings.Replace(unlinkHelp, "unlink [options]", name+" [options]", 1)
	fs := newFlagSet(e, name, help)
	var sf storeFlags
	sf.register(fs, e)
	if err := parseFlags(fs, args, ""); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("%s", help)
	}
	s, err := sf.open(e)
	if err != nil {
		return err
	}
	p, err := s.resolve(fs.Arg(0), defaultAlias)
	if err != nil {
		return err
	}
	p.path = strings.Trim(p.path, "/")
	if p.path == "" {
		return failf("\n'lafs %s' can only unlink directory entries, so a path must be given.", name)
	}
	u, err := s.url(p)
	if err != nil {
		return err
	}
	resp, body, err := s.call(ctx, http.MethodDelete, u, nil)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return failf("%s", httpFailure("ERROR", resp, body))
	}
	fmt.Fprintln(e.stdout, resp.Status)
	return nil
}
