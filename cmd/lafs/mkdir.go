package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/lafs/lafs/cap"
)

const mkdirHelp = `usage: lafs [-d NODEDIR] mkdir [options] [REMOTE_DIR]

Create a new directory, either unlinked (no REMOTE_DIR: its write cap is
printed) or as a subdirectory (alias:path/to/dir; missing parents are
made too). Either way the new directory's write cap is printed.`

// runMkdir is "tahoe mkdir".
func runMkdir(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "mkdir", mkdirHelp)
	var sf storeFlags
	sf.register(fs, e)
	format := fs.String("format", "", "create a directory with the given format: SDMF or MDMF (case-insensitive)")
	if err := parseFlags(fs, args); err != nil {
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
		c, err := typedCap(where, p, useWrite)
		if err != nil {
			return err
		}
		if c != nil && p.path != "" && c.IsReadOnly() {
			return failf("error: %s is a read-only cap: it cannot make anything in its directory", cap.Kind(c))
		}
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
		if at.root != "" && (isStatus(err, http.StatusBadRequest) || isStatus(err, http.StatusConflict)) {
			if f, ok := fileInTheWay(ctx, wc, at); ok {
				if f.path == at.path {
					return failf("error: %s is a file; no directory was made", f)
				}
				return failf("error: %s is a file, so %s cannot be made; no directory was made", f, at)
			}
		}
		return failure(err, "Error during HTTP request")
	}
	fmt.Fprintln(e.stdout, quoteName(dircap, false))
	return nil
}

// fileInTheWay finds, after a refused mkdir at p, the file that stands
// where p or one of its parents was to be: the first of them that is no
// directory.
func fileInTheWay(ctx context.Context, wc *webClient, p gridPath) (gridPath, bool) {
	segs := strings.Split(p.path, "/")
	for i := range segs {
		q := withPath(p, strings.Join(segs[:i+1], "/"))
		n, err := wc.info(ctx, q)
		if err != nil {
			return gridPath{}, false
		}
		if !n.isDir() {
			return q, true
		}
	}
	return gridPath{}, false
}

// withPath is the place path (below p's root) named in messages as p's
// name names its own: "tahoe:a/b/c" with the path "a" is "tahoe:a".
func withPath(p gridPath, path string) gridPath {
	q := p
	q.path, q.slash = path, false
	name := strings.TrimRight(p.name, "/")
	if base, ok := strings.CutSuffix(name, p.path); ok && p.path != "" {
		q.name = base + path
	}
	return q
}
