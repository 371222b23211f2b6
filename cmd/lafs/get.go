package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

const getHelp = `usage: lafs [-d NODEDIR] get CAP [FILE|-]

Download a file from the grid through the node's web API, to FILE or (with
no FILE, or "-") to standard output.`

// runGet downloads a file, as Tahoe's "tahoe get" does.
func runGet(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("get", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() { fmt.Fprintln(e.stderr, getHelp) }
	var nf nodeFlags
	nf.register(fs, e)
	if err := fs.Parse(args); err != nil {
		return usagef("%v", err)
	}
	if fs.NArg() < 1 || fs.NArg() > 2 {
		return usagef("%s", getHelp)
	}
	from := fs.Arg(0)
	if !strings.HasPrefix(from, "URI:") {
		return usagef("lafs get: %q is not a cap; alias:path names need directories, which come later", from)
	}
	base, err := nf.base()
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"uri/"+url.PathEscape(from), nil)
	if err != nil {
		return err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return fmt.Errorf("talking to the node: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return httpError(resp)
	}
	var out io.Writer = e.stdout
	var tmp *os.File
	to := "-"
	if fs.NArg() == 2 {
		to = fs.Arg(1)
	}
	if to != "-" {
		// Write beside the target and rename, so a failed download
		// leaves no partial file under the final name.
		tmp, err = os.CreateTemp(filepath.Dir(to), "."+filepath.Base(to)+".lafs-*")
		if err != nil {
			return err
		}
		defer os.Remove(tmp.Name())
		defer tmp.Close()
		out = tmp
	}
	p := newProgress(e.stderr, "downloading", resp.ContentLength)
	if to == "-" {
		p.on = false // the bar would mix with the data on a terminal
	}
	if _, err := io.Copy(&countingWriter{out, p}, resp.Body); err != nil {
		return fmt.Errorf("download failed: %w", err)
	}
	p.finish()
	if tmp != nil {
		if err := tmp.Close(); err != nil {
			return err
		}
		if err := os.Rename(tmp.Name(), to); err != nil {
			return err
		}
	}
	return nil
}
