package main

import (
	"flag"
	"fmt"
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
