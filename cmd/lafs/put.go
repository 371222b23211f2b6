package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/webapi"
)

const putHelp = `usage: lafs [-d NODEDIR] put [options] [LOCAL_FILE|-] [REMOTE_FILE]

Put a file into the grid, copying its contents from the local filesystem
(or, with no LOCAL_FILE or "-", from standard input). With no REMOTE_FILE
the upload is unlinked and its new cap is printed; otherwise it is linked at
REMOTE_FILE (alias:path, CAP/path, or a path under "tahoe:"), making missing
directories, and its cap is printed too. If REMOTE_FILE is a mutable file's
write cap, or names an existing mutable file, that file is modified in place.

Examples:
 % cat FILE | lafs put                # create unlinked file from stdin
 % cat FILE | lafs put -              # same
 % lafs put bar                       # create unlinked file from local 'bar'
 % cat FILE | lafs put - FOO          # create tahoe:FOO from stdin
 % lafs put bar FOO                   # copy local 'bar' to tahoe:FOO
 % lafs put bar tahoe:FOO             # same
 % lafs put bar MUTABLE-FILE-WRITECAP # modify the mutable file in-place`

// runPut uploads a file, as Tahoe's "tahoe put".
func runPut(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "put", putHelp)
	var sf storeFlags
	sf.register(fs, e)
	format := fs.String("format", "", "file format: SDMF or MDMF for mutable, CHK (default) for immutable (case-insensitive)")
	mutable := fs.Bool("mutable", false, "create a mutable file instead of an immutable one (like --format=SDMF)")
	fs.BoolVar(mutable, "m", false, "short for --mutable")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 2 {
		return usagef("%s", putHelp)
	}
	switch strings.ToUpper(*format) {
	case "", "CHK", "SDMF", "MDMF":
	default:
		return usagef("%s is an invalid format", *format)
	}
	from, to := fs.Arg(0), fs.Arg(1)
	s, err := sf.open(e)
	if err != nil {
		return err
	}
	wc, err := s.client()
	if err != nil {
		return err
	}
	dest := unlinked("")
	if to != "" {
		if strings.HasPrefix(to, "URI:MDMF:") || strings.HasPrefix(to, "URI:SSK:") {
			dest = capPath(to, to)
		} else {
			dest, err = s.resolve(to, defaultAlias)
			if err != nil {
				return err
			}
			if strings.HasPrefix(dest.path, "/") {
				return failf("Error: The remote filename must not start with a slash\nPlease try again, perhaps with %s",
					quoteName(strings.Replace(to, "/", "", 1), false))
			}
			dest.slash = true // Tahoe's uri/$ROOT/path, even without a path
		}
		if c, err := typedCap(to, dest, useWrite); err != nil {
			return err
		} else if c != nil && c.IsReadOnly() {
			return failf("error: %s is a read-only cap: put cannot change what it names", cap.Kind(c))
		}
	}
	var q []string
	if *mutable {
		q = append(q, "mutable", "true")
	}
	if *format != "" {
		q = append(q, "format", *format)
	}

	var body io.Reader
	var size int64 = -1
	if from == "" || from == "-" {
		fmt.Fprintln(e.stderr, "waiting for file data on stdin..")
		body = e.stdin
	} else {
		f, err := os.Open(from)
		if err != nil {
			return err
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return err
		}
		if st.IsDir() {
			return failf("error: %s is a directory; lafs put uploads files (lafs cp -r copies directories)", quoteName(from, true))
		}
		body, size = f, st.Size()
	}
	pl := newProgressLine(e.stderr, false, transferLine("uploading"))
	pl.setTotals(size, 0)
	// On a terminal, the line follows the node's hashing, encoding and
	// pushing once the file is sent (status.go).
	a, err := uploadFollowed(ctx, wc, dest, query(q...), pl.reader(body), size, pl)
	pl.finish()
	if err != nil {
		return failure(err, "Error")
	}
	fmt.Fprintln(e.stderr, a.status)
	if placed := a.header.Get(webapi.SharesPlacedHeader); placed != "" {
		fmt.Fprintf(e.stderr, "warning: only %s shares found a server; the file can be read, and a repair can add the others\n", placed)
	}
	fmt.Fprintln(e.stdout, quoteName(a.text, false))
	return nil
}
