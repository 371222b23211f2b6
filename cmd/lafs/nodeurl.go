package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/term"
)

// nodeFlags are the global options of commands that talk to a node's web
// API: -d/--node-directory (default ~/.tahoe) and -u/--node-url.
type nodeFlags struct {
	dir, url string
}

func (n *nodeFlags) register(fs *flag.FlagSet, e *env) {
	fs.StringVar(&n.dir, "node-directory", defaultNodeDir(e), "the client node's directory")
	fs.StringVar(&n.dir, "d", defaultNodeDir(e), "short for --node-directory")
	fs.StringVar(&n.url, "node-url", "", "the web API's URL (default: read from NODEDIR/node.url)")
	fs.StringVar(&n.url, "u", "", "short for --node-url")
}

// base returns the web API's base URL, ending in "/".
func (n *nodeFlags) base() (string, error) {
	u := n.url
	if u == "" {
		b, err := os.ReadFile(filepath.Join(n.dir, "node.url"))
		if err != nil {
			return "", fmt.Errorf("cannot find the node's web API: %w (is the node in %s running, with web.port set?)", err, n.dir)
		}
		u = strings.TrimSpace(string(b))
	}
	if _, err := url.Parse(u); err != nil {
		return "", fmt.Errorf("bad node URL %q: %w", u, err)
	}
	if !strings.HasSuffix(u, "/") {
		u += "/"
	}
	return u, nil
}

// httpClient is the CLI's client for the local web API: no overall
// timeout (transfers may be long), but a bounded connection setup. It
// never asks for compressed answers, so that a file is saved as it is
// stored, as tahoe get does: the web API labels a "*.gz" file
// Content-Encoding: gzip, which Go's client would otherwise undo.
var httpClient = &http.Client{Transport: &http.Transport{
	Proxy:                 nil,
	ResponseHeaderTimeout: 0,
	IdleConnTimeout:       30 * time.Second,
	MaxIdleConnsPerHost:   16, // cp and backup keep several requests in flight
	DisableCompression:    true,
}}

// isTerminal reports whether w is a terminal, for progress bars.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progress draws a progress bar on a terminal; it does nothing otherwise.
type progress struct {
	w     io.Writer
	what  string
	total int64
	done  int64
	last  time.Time
	start time.Time
	on    bool
}

func newProgress(w io.Writer, what string, total int64) *progress {
	return &progress{w: w, what: what, total: total, on: isTerminal(w), start: time.Now()}
}

func (p *progress) add(n int) {
	p.done += int64(n)
	if !p.on || time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.last = time.Now()
	p.draw()
}

func (p *progress) draw() {
	rate := float64(p.done) / time.Since(p.start).Seconds() / 1e6
	if p.total > 0 {
		pct := float64(p.done) * 100 / float64(p.total)
		bar := strings.Repeat("#", int(pct/5)) + strings.Repeat(".", 20-int(pct/5))
		fmt.Fprintf(p.w, "\r%s [%s] %5.1f%% %s/%s %.1f MB/s ", p.what, bar, pct, human(p.done), human(p.total), rate)
	} else {
		fmt.Fprintf(p.w, "\r%s %s %.1f MB/s ", p.what, human(p.done), rate)
	}
}

func (p *progress) finish() {
	if p.on {
		p.draw()
		fmt.Fprintln(p.w)
	}
}

func human(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1fGiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1fMiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1fKiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%dB", n)
}

// countingReader feeds a progress bar.
type countingReader struct {
	r io.Reader
	p *progress
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.p.add(n)
	return n, err
}

// countingWriter feeds a progress bar.
type countingWriter struct {
	w io.Writer
	p *progress
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.p.add(n)
	return n, err
}
