package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

const getHelp = `usage: lafs [-d NODEDIR] get [options] REMOTE_FILE [LOCAL_FILE|-]

Retrieve a file from the grid and write it to the local filesystem. If
LOCAL_FILE is omitted or '-', the contents of the file are written to
stdout. REMOTE_FILE is alias:path, CAP/path, a cap, or a path under "tahoe:".

Examples:
 % lafs get FOO |less            # write to stdout
 % lafs get tahoe:FOO |less      # same
 % lafs get FOO bar              # write to local file
 % lafs get tahoe:FOO bar        # same`

// runGet downloads a file, as Tahoe's "tahoe get".
func runGet(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "get", getHelp)
	var sf storeFlags
	sf.register(fs, e)
	if err := parseFlags(fs, args, ""); err != nil {
		return err
	}
	if fs.NArg() < 1 || fs.NArg() > 2 {
		return usagef("%s", getHelp)
	}
	s, err := sf.open(e)
	if err != nil {
		return err
	}
	p, err := s.resolve(fs.Arg(0), defaultAlias)
	if err != nil {
		return err
	}
	p.path = strings.TrimLeft(p.path, "/")
	u, err := s.url(p)
	if err != nil {
		return err
	}
	resp, err := s.do(ctx, http.MethodGet, u, nil, 0)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return failf("%s", httpFailure("Error during GET", resp, body))
	}
	var out io.Writer = e.stdout
	var tmp *os.File
	to := fs.Arg(1)
	if to == "" {
		to = "-"
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
	pr := newProgress(e.stderr, "downloading", resp.ContentLength)
	if to == "-" {
		pr.on = false // the bar would mix with the data on a terminal
	}
	if _, err := io.Copy(&countingWriter{out, pr}, resp.Body); err != nil {
		return fmt.Errorf("download failed: %w", err)
	}
	pr.finish()
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
