package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
)

const putHelp = `usage: lafs [-d NODEDIR] put [--format=CHK] [FILE|-]

Upload a file to the grid through the node's web API and print its cap.
With no FILE, or "-", read standard input.`

// runPut uploads a file, as Tahoe's "tahoe put" does for unlinked uploads.
func runPut(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("put", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() { fmt.Fprintln(e.stderr, putHelp) }
	var nf nodeFlags
	nf.register(fs, e)
	format := fs.String("format", "", "file format: CHK (mutable formats come later)")
	mutable := fs.Bool("mutable", false, "make a mutable file (not supported yet)")
	fs.BoolVar(mutable, "m", false, "short for --mutable")
	if err := fs.Parse(args); err != nil {
		return usagef("%v", err)
	}
	if fs.NArg() > 1 {
		return usagef("lafs put: uploading to a path (alias:path) needs directories, which come later\n%s", putHelp)
	}
	if *mutable || (*format != "" && !strings.EqualFold(*format, "CHK")) {
		return usagef("lafs put: only immutable (CHK) uploads are supported so far")
	}
	base, err := nf.base()
	if err != nil {
		return err
	}
	var body io.Reader
	var size int64 = -1
	name := "-"
	if fs.NArg() == 1 {
		name = fs.Arg(0)
	}
	if name == "-" {
		fmt.Fprintln(e.stderr, "waiting for file data on stdin..")
		body = e.stdin
	} else {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return err
		}
		if st.IsDir() {
			return fmt.Errorf("%s is a directory; lafs put uploads files", name)
		}
		body, size = f, st.Size()
	}
	p := newProgress(e.stderr, "uploading", size)
	q := url.Values{}
	if *format != "" {
		q.Set("format", strings.ToUpper(*format))
	}
	u := base + "uri"
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, &countingReader{body, p})
	if err != nil {
		return err
	}
	if size >= 0 {
		req.ContentLength = size
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return fmt.Errorf("talking to the node: %w", err)
	}
	defer resp.Body.Close()
	p.finish()
	if resp.StatusCode >= 300 {
		return httpError(resp)
	}
	c, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "%d %s\n", resp.StatusCode, http.StatusText(resp.StatusCode))
	fmt.Fprintln(e.stdout, strings.TrimSpace(string(c)))
	return nil
}
