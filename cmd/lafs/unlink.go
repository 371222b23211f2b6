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
	if err := parseFlags(fs, args); err != nil {
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
	wc, err := s.client()
	if err != nil {
		return err
	}
	a, err := wc.unlink(ctx, p)
	if err == nil && a.code != http.StatusOK {
		err = &apiError{code: a.code, status: a.status, text: a.text}
	}
	if err != nil {
		return failure(err, "ERROR")
	}
	fmt.Fprintln(e.stdout, a.status)
	return nil
}
