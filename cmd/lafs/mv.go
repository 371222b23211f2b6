package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

const mvHelp = `usage: lafs [-d NODEDIR] mv [options] FROM TO

Move a file or directory that is already on the grid elsewhere on the grid,
e.g. 'lafs mv alias:some_file alias:new_file'.

To move it into a directory, end TO with a '/' ('lafs mv tahoe:file1
tahoe:dir/'), or give just an alias ('lafs mv tahoe:file1 fun:'). Local files
go to the grid with 'lafs cp'.`

// runMv is "tahoe mv": link the object at TO, then unlink it at FROM.
func runMv(ctx context.Context, e *env, args []string) error {
	return moveOrLink(ctx, e, "mv", mvHelp, true, args)
}

// moveOrLink is Tahoe's tahoe_mv.mv, for mv and ln: find FROM's cap
// (GET ?t=json), PUT it at TO with t=uri&replace=only-files (so a directory
// is never replaced), and for a move DELETE the old link.
func moveOrLink(ctx context.Context, e *env, name, help string, move bool, args []string) error {
	fs := newFlagSet(e, name, help)
	var sf storeFlags
	sf.register(fs, e)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return usagef("%s", help)
	}
	s, err := sf.open(e)
	if err != nil {
		return err
	}
	from, err := s.resolve(fs.Arg(0), defaultAlias)
	if err != nil {
		return err
	}
	from.path = strings.Trim(from.path, "/")
	wc, err := s.client()
	if err != nil {
		return err
	}
	node, err := wc.info(ctx, from)
	if err != nil {
		return failure(err, "Error")
	}
	c := node.Info.bestCap()
	if c == "" {
		return failf("error: %s has no cap to link", quoteName(fs.Arg(0), true))
	}

	to, err := s.resolve(fs.Arg(1), defaultAlias)
	if err != nil {
		return err
	}
	to.path = strings.TrimLeft(to.path, "/")
	// "mv foo.txt bar/" is "mv foo.txt bar/foo.txt"; so is "mv foo.txt fun:".
	if to.path == "" || strings.HasSuffix(to.path, "/") {
		if from.path == "" {
			return failf("error: %s has no name to give it in %s", quoteName(fs.Arg(0), true), quoteName(fs.Arg(1), true))
		}
		base := from.path[strings.LastIndex(from.path, "/")+1:]
		to.path += base
		to.name += base
	}
	if _, err := wc.link(ctx, to, c, "replace=only-files"); err != nil {
		if isStatus(err, http.StatusConflict) {
			return failf("Error: You can't overwrite a directory with a file")
		}
		var ae *apiError
		if move && errors.As(err, &ae) {
			return failf("%s\nNOT removing the original", ae.message("Error"))
		}
		return failure(err, "Error")
	}
	if move {
		if _, err := wc.unlink(ctx, from); err != nil {
			var ae *apiError
			if errors.As(err, &ae) {
				return &exitError{code: 2, msg: ae.message("Error deleting original after move")}
			}
			return err
		}
	}
	fmt.Fprintln(e.stdout, "OK")
	return nil
}
