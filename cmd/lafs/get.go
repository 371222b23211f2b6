package main

import (
	"context"
	"errors"
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
	wc, err := s.client()
	if err != nil {
		return err
	}
	resp, err := wc.download(ctx, p, 0)
	if err != nil {
		return failure(err, "Error during GET")
	}
	defer resp.Body.Close()
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
	// On a terminal, a progress line would mix with data sent to stdout.
	pl := newProgressLine(e.stderr, to == "-", transferLine("downloading"))
	pl.setTotals(resp.ContentLength, 0)
	if err := receive(ctx, wc, p, resp, pl.writer(out)); err != nil {
		return err
	}
	pl.finish()
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

// maxResumes bounds how often receive asks again for the rest of a file
// whose transfer was cut.
const maxResumes = 3

// receive copies the body of a download (resp, a GET of p) to w. When the
// transfer is cut, it asks for the rest with a Range request: an
// immutable file (its ETag names its contents) then goes on from where it
// stopped, and a file whose next segment cannot be read gets an error
// status whose text says which segment failed and why, which receive
// returns.
func receive(ctx context.Context, wc *webClient, p gridPath, resp *http.Response, w io.Writer) error {
	total := resp.ContentLength
	etag := resp.Header.Get("ETag")
	var done int64
	for resumes := 0; ; resumes++ {
		n, err := io.Copy(w, resp.Body)
		resp.Body.Close()
		done += n
		if err == nil {
			if total >= 0 && done != total {
				return failf("Error during GET: the transfer ended after %d of %d bytes", done, total)
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		cut := fmt.Sprintf("the transfer was cut after %d of %d bytes", done, total)
		if total < 0 {
			cut = fmt.Sprintf("the transfer was cut after %d bytes", done)
		}
		if n == 0 && resumes > 0 || resumes == maxResumes {
			return failf("Error during GET: %s", cut)
		}
		resp, err = wc.download(ctx, p, done)
		var ae *apiError
		switch {
		case errors.As(err, &ae) && ae.code >= 400:
			return failf("Error during GET: %s: %s", cut, downloadFailure(ae))
		case ae != nil:
			return failf("Error during GET: %s", cut)
		case err != nil:
			return failf("Error during GET: %s, and asking for the rest failed: %v", cut, err)
		}
		if resp.StatusCode != http.StatusPartialContent || etag == "" || resp.Header.Get("ETag") != etag ||
			!strings.HasPrefix(resp.Header.Get("Content-Range"), fmt.Sprintf("bytes %d-", done)) {
			// Only the same immutable contents may be pieced together.
			resp.Body.Close()
			return failf("Error during GET: %s", cut)
		}
	}
}

// downloadFailure is the reason an error answer to a download gives: the
// part of Tahoe's text after "The full error message is:" when it has
// one (the rest is advice), or the whole of it.
func downloadFailure(ae *apiError) string {
	text := ae.text
	if _, full, ok := strings.Cut(text, "The full error message is:"); ok {
		text = strings.TrimSpace(full)
	}
	return fmt.Sprintf("%s: %s", ae.status, text)
}
