package main

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

const lsHelp = `usage: lafs [-d NODEDIR] ls [options] [PATH]

List the contents of some portion of the grid. If PATH is omitted, "tahoe:"
is assumed.

When the -l or --long option is used, each line is shown in the following
format:

 drwx <size> <date/time> <name in this directory>

where each of the letters on the left may be replaced by '-'. If 'd' is
present, it indicates that the object is a directory. If the 'd' is replaced
by a '?', the object type is unknown. 'rwx' is a Unix-like permissions mask:
if the mask includes 'w', then the object is writeable through its link in
this directory (note that the link might be replaceable even if the object
is not writeable through the current link). The 'x' is a legacy of Unix
filesystems. In Tahoe it is used only to indicate that the contents of a
directory can be listed.

Directories have no size, so their size field is shown as '-'. Otherwise
the size of the file, when known, is given in bytes. The size of mutable
files or unknown objects is shown as '?'.

The date/time shows when this link in the Tahoe grid was last modified.`

// lsOptions are ls's flags.
type lsOptions struct {
	long, uri, readonlyURI, classify, json bool
}

// runLs is "tahoe ls": GET ?t=json of the path, formatted.
func runLs(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "ls", lsHelp)
	var sf storeFlags
	sf.register(fs, e)
	var o lsOptions
	fs.BoolVar(&o.long, "long", false, "use long format: show file sizes, and timestamps")
	fs.BoolVar(&o.long, "l", false, "short for --long")
	fs.BoolVar(&o.uri, "uri", false, "show file/directory URIs")
	fs.BoolVar(&o.readonlyURI, "readonly-uri", false, "show read-only file/directory URIs")
	fs.BoolVar(&o.classify, "classify", false, "append '/' to directory names, and '*' to mutable")
	fs.BoolVar(&o.classify, "F", false, "short for --classify")
	fs.BoolVar(&o.json, "json", false, "show the raw JSON output")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return usagef("%s", lsHelp)
	}
	s, err := sf.open(e)
	if err != nil {
		return err
	}
	where := strings.TrimSuffix(fs.Arg(0), "/")
	p, err := s.resolve(where, defaultAlias)
	if err != nil {
		return err
	}
	p.path = strings.TrimSuffix(strings.TrimLeft(p.path, "/"), "/")
	if _, err := typedCap(where, p, useRead); err != nil {
		return err
	}
	wc, err := s.client()
	if err != nil {
		return err
	}
	body, err := wc.getJSON(ctx, p)
	if isStatus(err, http.StatusNotFound) {
		return &exitError{code: 2, msg: "No such file or directory"}
	}
	if err != nil {
		return failure(err, "Error during GET")
	}
	if o.json {
		if !printableJSON(body) {
			return failf("The JSON response contained unprintable characters:\n%s", hideCaps(quoteName(string(body), false), where))
		}
		fmt.Fprintf(e.stdout, "%s\n", body)
		return nil
	}
	if n, err := parseNode(body); err == nil && p.path == "" && !n.isDir() && !n.isFile() {
		// The node took the cap for one of a kind it does not know.
		return failf("error: %s is no directory or file the node knows: nothing to list", p)
	}
	out, warn, err := formatListing(body, p.path, o, e.now(), e.zone())
	if err != nil {
		// It may show the answer, which holds the directory's caps.
		return failf("%s", hideCaps(err.Error(), where))
	}
	fmt.Fprint(e.stdout, out)
	fmt.Fprint(e.stderr, warn)
	return nil
}

// printableJSON reports whether a JSON answer can go to a terminal as it
// is: Tahoe's is printable ASCII (non-ASCII escaped); valid UTF-8 without
// control characters is accepted too.
func printableJSON(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if r < 0x20 && r != '\n' && r != '\r' && r != '\t' || r == 0x7f {
			return false
		}
	}
	return true
}

// formatListing renders a t=json answer as Tahoe's ls does: one row per
// child, sorted by name, in columns as wide as their widest cell; columns
// of caps left-aligned, the others right-aligned (a lone name column
// left-aligned). A file's own t=json lists just that file, named by the
// last segment of path. Dates (-l) are the links' linkcrtime in loc: "Nov
// 26 22:39", or "Nov 26  2025" for those more than six months before now.
// warn is what goes to stderr (the note about unknown objects).
func formatListing(body []byte, path string, o lsOptions, now time.Time, loc *time.Location) (out, warn string, err error) {
	node, err := parseNode(body)
	if err != nil {
		return "", "", failf("error: %v\nCould not parse JSON response:\n%s", err, quoteName(string(body), false))
	}
	children := node.Info.Children
	if !node.isDir() {
		children = map[string]nodeJSON{path[strings.LastIndex(path, "/")+1:]: *node}
	}
	names := make([]string, 0, len(children))
	for n := range children {
		names = append(names, n)
	}
	sort.Strings(names)
	nowSec := float64(now.UnixNano()) / 1e9

	var rows [][]string
	hasUnknowns := false
	for _, name := range names {
		child := children[name]
		info := child.Info
		ctime := info.linkTime()
		rw, ro := info.RW, info.RO
		ctimeS := "-"
		if ctime != 0 {
			t := time.Unix(int64(math.Floor(ctime)), 0).In(loc)
			if nowSec-ctime > 6*30*24*60*60 {
				ctimeS = t.Format("Jan 02  2006")
			} else {
				ctimeS = t.Format("Jan 02 15:04")
			}
		}
		var t0, size, classify string
		switch child.Type {
		case dirNode:
			t0, size, classify = "d", "-", "/"
		case fileNode:
			t0, size = "-", "?"
			if s, ok := info.sizeText(); ok {
				size = s
			}
			if rw != "" {
				classify = "*"
			}
		default:
			hasUnknowns = true
			t0, size, classify = "?", "?", "?"
		}
		perm := t0 + map[bool]string{true: "r", false: "-"}[ro != ""] +
			map[bool]string{true: "w", false: "-"}[rw != ""] +
			map[bool]string{true: "x", false: "-"}[child.isDir()]
		var line []string
		if o.long {
			line = append(line, perm, size, ctimeS)
		}
		if !o.classify {
			classify = ""
		}
		line = append(line, name+classify)
		if o.uri {
			line = append(line, info.bestCap())
		}
		if o.readonlyURI {
			r := ro
			if r == "" {
				r = "-"
			}
			line = append(line, quoteName(r, false))
		}
		rows = append(rows, line)
	}

	var widths []int
	var left []bool
	for _, row := range rows {
		for i, cell := range row {
			for len(widths) <= i {
				widths = append(widths, 0)
				left = append(left, false)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(cell))
			if strings.HasPrefix(cell, "URI") {
				left[i] = true
			}
		}
	}
	if len(left) == 1 {
		left[0] = true
	}
	var b strings.Builder
	for _, row := range rows {
		cells := make([]string, len(row))
		for i, cell := range row {
			if left[i] {
				cells[i] = padRight(cell, widths[i])
			} else {
				cells[i] = padLeft(cell, widths[i])
			}
		}
		b.WriteString(strings.TrimRight(strings.Join(cells, " "), " \t\r\n\v\f"))
		b.WriteByte('\n')
	}
	if hasUnknowns {
		warn = "\nThis listing included unknown objects. Using a webapi server that supports\na later version of Tahoe may help.\n"
	}
	return b.String(), warn, nil
}
