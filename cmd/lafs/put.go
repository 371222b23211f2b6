package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

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
	if err := parseFlags(fs, args, "m"); err != nil {
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
	base, err := s.web()
	if err != nil {
		return err
	}
	u := base + "uri"
	if to != "" {
		if strings.HasPrefix(to, "URI:MDMF:") || strings.HasPrefix(to, "URI:SSK:") {
			u = base + "uri/" + pyQuote(to)
		} else {
			p, err := s.resolve(to, defaultAlias)
			if err != nil {
				return err
			}
			if strings.HasPrefix(p.path, "/") {
				return failf("Error: The remote filename must not start with a slash\nPlease try again, perhaps with %s",
					quoteName(strings.Replace(to, "/", "", 1), false))
			}
			u = objectURL(base, p.root, "") + "/" + pyQuote(p.path)
		}
	}
	var q []string
	if *mutable {
		q = append(q, "mutable=true")
	}
	if *format != "" {
		q = append(q, "format="+*format)
	}
	if len(q) > 0 {
		u += "?" + strings.Join(q, "&")
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
	p := newProgress(e.stderr, "uploading", size)
	resp, err := s.do(ctx, http.MethodPut, u, &countingReader{body, p}, size)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	p.finish()
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		return failf("%s", httpFailure("Error", resp, answer))
	}
	fmt.Fprintln(e.stderr, resp.Status)
	if placed := resp.Header.Get(webapi.SharesPlacedHeader); placed != "" {
		fmt.Fprintf(e.stderr, "warning: only %s shares found a server; the file can be read, and a repair can add the others\n", placed)
	}
	fmt.Fprintln(e.stdout, quoteName(strings.TrimSpace(string(answer)), false))
	return nil
}
