package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// nodeFlags are the global options of commands that talk to a node's web
// API: -d/--node-directory (default ~/.tahoe) and -u/--node-url.
type nodeFlags struct {
	dir, url string
}

func (n *nodeFlags) register(fs *flag.FlagSet, e *env) {
	fs.StringVar(&n.dir, "node-directory", defaultNodeDir(e), "the client node's directory, `NODEDIR`")
	fs.StringVar(&n.dir, "d", defaultNodeDir(e), "short for --node-directory")
	fs.StringVar(&n.url, "node-url", "", "the web API's `URL` (default: read from NODEDIR/node.url)")
	fs.StringVar(&n.url, "u", "", "short for --node-url")
}

// base returns the web API's base URL, ending in "/".
func (n *nodeFlags) base() (string, error) {
	u := n.url
	if u == "" {
		b, err := os.ReadFile(filepath.Join(n.dir, "node.url"))
		if err != nil {
			return "", n.noNodeURL(err)
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

// client returns a client of the node's web API, whose errors, when the
// node does not answer, tell how to start it.
func (n *nodeFlags) client() (*webClient, error) {
	b, err := n.base()
	if err != nil {
		return nil, err
	}
	wc := newWebClient(b)
	if n.url == "" {
		wc.notRunning = "is the node running? start it with lafs run " + shellWord(n.dir)
	} else {
		wc.notRunning = "is the node at " + b + " running?"
	}
	return wc, nil
}

// checkDir fails, naming the directory, when the node directory does not
// exist: its aliases and its node.url are read from it, and an alias
// missing from a directory that is not there would be a riddle.
func (n *nodeFlags) checkDir() error {
	st, err := os.Stat(n.dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return failf("error: there is no node directory %s (-d/--node-directory names it, ~/.tahoe by default); "+
			"make one with lafs create-client %s", quoteLocal(n.dir, true), shellWord(n.dir))
	case err != nil:
		return failf("error: cannot use the node directory %s: %v", quoteLocal(n.dir, true), withoutPath(err))
	case !st.IsDir():
		return failf("error: %s is not a node directory: it is a file", quoteLocal(n.dir, true))
	}
	return nil
}

// noNodeURL explains why NODEDIR/node.url could not be read.
func (n *nodeFlags) noNodeURL(err error) error {
	if err := n.checkDir(); err != nil {
		return err
	}
	if _, serr := os.Stat(filepath.Join(n.dir, "tahoe.cfg")); errors.Is(serr, fs.ErrNotExist) {
		return failf("error: %s is not a node directory (it has no tahoe.cfg); make one with lafs create-client %s",
			quoteLocal(n.dir, true), shellWord(n.dir))
	}
	if errors.Is(err, fs.ErrNotExist) {
		return failf("error: the node in %s has not run with its web API on (it has no node.url): "+
			"start it with lafs run %s, with [node] web.port set in its tahoe.cfg", quoteLocal(n.dir, true), shellWord(n.dir))
	}
	return failf("error: cannot read the node's URL from %s: %v", quoteLocal(filepath.Join(n.dir, "node.url"), true), withoutPath(err))
}

// withoutPath is what went wrong with a file, without the file's name (the
// message names it its own way).
func withoutPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// shellWord is s as a shell reads it back: as it is when it holds only
// safe characters, else in single quotes.
func shellWord(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.,/:@%+=~") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
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
