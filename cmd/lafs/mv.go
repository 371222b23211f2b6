package main

import (
	"context"
	"encoding/json"
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
	if err := parseFlags(fs, args, ""); err != nil {
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
	fromURL, err := s.url(from)
	if err != nil {
		return err
	}
	resp, body, err := s.call(ctx, http.MethodGet, fromURL+"?t=json", nil)
	if err != nil {
		return err
	}
	if !ok2xx(resp.StatusCode) {
		return failf("%s", httpFailure("Error", resp, body))
	}
	var parsed []json.RawMessage
	var attrs struct {
		RW string `json:"rw_uri"`
		RO string `json:"ro_uri"`
	}
	if err := json.Unmarshal(body, &parsed); err != nil || len(parsed) != 2 || json.Unmarshal(parsed[1], &attrs) != nil {
		return failf("error: could not parse the web API's JSON for %s", quoteName(fs.Arg(0), true))
	}
	c := attrs.RW
	if c == "" {
		c = attrs.RO
	}
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
		to.path += from.path[strings.LastIndex(from.path, "/")+1:]
	}
	toURL, err := s.url(to)
	if err != nil {
		return err
	}
	resp, body, err = s.call(ctx, http.MethodPut, toURL+"?t=uri&replace=only-files", []byte(c))
	if err != nil {
		return err
	}
	if !ok2xx(resp.StatusCode) {
		if resp.StatusCode == http.StatusConflict {
			return failf("Error: You can't overwrite a directory with a file")
		}
		msg := httpFailure("Error", resp, body)
		if move {
			msg += "\nNOT removing the original"
		}
		return failf("%s", msg)
	}
	if move {
		resp, body, err = s.call(ctx, http.MethodDelete, fromURL, nil)
		if err != nil {
			return err
		}
		if !ok2xx(resp.StatusCode) {
			return &exitError{code: 2, msg: httpFailure("Error deleting original after move", resp, body)}
		}
	}
	fmt.Fprintln(e.stdout, "OK")
	return nil
}
