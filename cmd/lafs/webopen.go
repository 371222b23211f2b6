package main

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"runtime"
	"strings"
)

const webopenHelp = `usage: lafs [-d NODEDIR] webopen [options] [ALIAS:PATH]

Open a web browser at a file or directory of the grid (its page on the
node's web API), or, with no argument, at the node's welcome page, as
"tahoe webopen" does. The browser is $BROWSER if set, else xdg-open (open
on macOS).

The URL is printed too, unless it holds a cap you did not type (an
alias's): then only the alias and path are named, so that the alias's cap
does not end up on the screen or in a log; --show-url prints it anyway.`

// openBrowser opens url in a web browser, as Python's webbrowser.open
// does for Tahoe. Tests replace it.
var openBrowser = func(e *env, url string) error {
	var cmd *exec.Cmd
	switch b := e.getenv("BROWSER"); {
	case b != "":
		// $BROWSER is a list of commands; the first is used.
		name, _, _ := strings.Cut(b, string(listSeparator()))
		cmd = exec.Command(name, url)
	case runtime.GOOS == "darwin":
		cmd = exec.Command("open", url)
	case runtime.GOOS == "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
	default:
		cmd = exec.Command("xdg-open", url)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	return cmd.Process.Release()
}

func listSeparator() rune {
	if runtime.GOOS == "windows" {
		return ';'
	}
	return ':'
}

// runWebopen is Tahoe's "tahoe webopen [ALIAS:PATH]".
func runWebopen(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "webopen", webopenHelp)
	var sf storeFlags
	sf.register(fs, e)
	info := fs.Bool("info", false, "open the file's t=info page")
	fs.BoolVar(info, "i", false, "short for --info")
	showURL := fs.Bool("show-url", false, "print the URL even when it holds an alias's cap")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return usagef("lafs webopen: one ALIAS:PATH at most\nRun 'lafs webopen --help' for the options.")
	}
	s, err := sf.open(e)
	if err != nil {
		return err
	}
	base, err := sf.base()
	if err != nil {
		return err
	}
	url, name, secret := base, "the welcome page", false
	if where := fs.Arg(0); where != "" {
		p, err := s.resolve(where, defaultAlias)
		if err != nil {
			return err
		}
		if p.path == "/" {
			p.path = ""
		}
		url = newWebClient(base).url(p, "")
		name = p.String()
		// The user typed a cap, or the URL holds an alias's, which stays
		// off the screen.
		secret = !hasCapPrefix(strings.TrimSpace(where))
	}
	if *info {
		url += "?t=info"
	}
	shown := !secret || *showURL
	if shown {
		fmt.Fprintln(e.stdout, url)
	} else {
		fmt.Fprintf(e.stdout, "opening %s in a web browser (--show-url prints its URL, which holds the alias's cap)\n", name)
	}
	if err := openBrowser(e, url); err != nil {
		why := err.Error()
		if errors.Is(err, exec.ErrNotFound) {
			why = "no browser found (set $BROWSER, or install xdg-open)"
		}
		if shown {
			fmt.Fprintf(e.stderr, "lafs webopen: %s; open the URL above yourself\n", why)
			return nil
		}
		return failf("lafs webopen: %s; lafs webopen --show-url %s prints the URL to open yourself", why, shellWord(fs.Arg(0)))
	}
	return nil
}
