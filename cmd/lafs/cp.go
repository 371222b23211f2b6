package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/lafs/lafs/cap"
)

const cpHelp = `usage: lafs [-d NODEDIR] cp [options] FROM.. TO

Copy files between the local filesystem and the grid, or within the grid.
Arguments that begin with an alias (alias:path) or a cap (CAP/path) are on
the grid; the others are local paths. With -r, directories are copied
recursively; new directories on the grid are made as needed. Assuming an
alias 'home' made with 'lafs create-alias home':

 lafs cp ~/foo.txt home:                 # creates home:foo.txt
 lafs cp ~/foo.txt /tmp/bar.txt home:    # copies two files to home:
 lafs cp -r ~/Pictures home:stuff/my-pictures  # copies a directory

A dircap may be FROM or TO too:

 lafs cp URI:DIR2-RO:.../blog.html ./   # a file of a directory, to here

The rules are those of Tahoe's cp (and Unix cp): if the target does not
exist, a single source file is copied to it as a file, and otherwise the
target becomes a directory; several sources need a directory target; a
file target takes one source file. A source directory with a name (a local
directory, alias:dir) is copied as a whole, into a new directory of that
name under the target; one without (a bare dircap, "alias:") has its
contents copied into the target. Symlinks are followed; special files are
skipped. Files are uploaded as immutable (CHK) files, except that an
existing mutable file in the target is overwritten in place; immutable grid
files are linked, not copied.`

// cpWorkers is how many files cp moves at once.
const cpWorkers = 8

type cpOptions struct {
	recursive, verbose, capsOnly bool
}

// runCp is "tahoe cp".
func runCp(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "cp", cpHelp)
	var sf storeFlags
	sf.register(fs, e)
	var o cpOptions
	fs.BoolVar(&o.recursive, "recursive", false, "copy source directories recursively")
	fs.BoolVar(&o.recursive, "r", false, "short for --recursive")
	fs.BoolVar(&o.verbose, "verbose", false, "be noisy about what is happening")
	fs.BoolVar(&o.verbose, "v", false, "short for --verbose")
	fs.BoolVar(&o.capsOnly, "caps-only", false, "when copying to local files, write out filecaps instead of actual data (only useful for debugging and tree-comparison purposes)")
	if err := parseFlags(fs, args, "rv"); err != nil {
		return err
	}
	if fs.NArg() < 2 {
		return usagef("cp requires at least two arguments\n%s", cpHelp)
	}
	s, err := sf.open(e)
	if err != nil {
		return err
	}
	c := &copier{s: s, e: e, o: o, scanned: map[string]*cpNode{}, dirSem: make(chan struct{}, cpWorkers)}
	c.prog = newCpProgress(e.stderr, o.verbose)
	defer c.prog.finish()
	return c.copy(ctx, fs.Args()[:fs.NArg()-1], fs.Arg(fs.NArg()-1))
}

// cpNode is a source: a file or directory, local or on the grid.
type cpNode struct {
	spec    string // the argument it came from (for messages)
	name    string // the name it brings; "" for a bare cap (unnamed)
	dir     bool
	local   string // the local path; "" for grid objects
	rw, ro  string // a grid object's caps
	mutable bool
	size    int64 // -1 when not known
	kids    []*cpNode
	listing map[string]childJSON // a grid directory's children, before scan
	scanned bool
}

// readcap is the cap to read a grid file by.
func (n *cpNode) readcap() string {
	if n.ro != "" {
		return n.ro
	}
	return n.rw
}

// bestcap is the cap to link a grid object by: its write cap if it has one.
func (n *cpNode) bestcap() string {
	if n.rw != "" {
		return n.rw
	}
	return n.ro
}

// nodeJSON is the part of a t=json answer cp uses.
type nodeJSON struct {
	RW       string               `json:"rw_uri"`
	RO       string               `json:"ro_uri"`
	Mutable  bool                 `json:"mutable"`
	Size     *int64               `json:"size"`
	Children map[string]childJSON `json:"children"`
}

// childJSON is one child of a directory: ["filenode", {...}].
type childJSON struct {
	Type string
	Info nodeJSON
}

func (c *childJSON) UnmarshalJSON(b []byte) error {
	var pair []json.RawMessage
	if err := json.Unmarshal(b, &pair); err != nil {
		return err
	}
	if len(pair) != 2 {
		return fmt.Errorf("a node is [type, info], not %d elements", len(pair))
	}
	if err := json.Unmarshal(pair[0], &c.Type); err != nil {
		return err
	}
	return json.Unmarshal(pair[1], &c.Info)
}

// cpTarget is what the destination argument names.
type cpTarget struct {
	kind  targetKind
	local string // local path
	url   string // the grid object's URL
	info  nodeJSON
}

type targetKind int

const (
	localMissing targetKind = iota
	localFile
	localDir
	gridMissing
	gridFile
	gridDir
)

func (t *cpTarget) isFile() bool { return t.kind == localFile || t.kind == gridFile }
func (t *cpTarget) isDir() bool  { return t.kind == localDir || t.kind == gridDir }
func (t *cpTarget) isGrid() bool { return t.kind >= gridMissing }

// copier does one cp.
type copier struct {
	s       *session
	e       *env
	o       cpOptions
	prog    *cpProgress
	scanned map[string]*cpNode // grid directories by cap, each scanned once
	dirSem  chan struct{}      // bounds the directory calls in flight
}

// copy is Tahoe's Copier.try_copy: find out what the arguments are, check
// that the copy makes sense, and do it.
func (c *copier) copy(ctx context.Context, specs []string, dest string) error {
	target, err := c.targetInfo(ctx, dest)
	if err != nil {
		return err
	}
	var sources []*cpNode
	for _, spec := range specs {
		src, err := c.sourceInfo(ctx, spec)
		if err != nil {
			return err
		}
		sources = append(sources, src)
	}
	haveDirs := false
	for _, src := range sources {
		haveDirs = haveDirs || src.dir
	}
	if haveDirs && !c.o.recursive {
		return failf("cannot copy directories without --recursive")
	}
	targetIsFile := target.isFile()
	if !target.isFile() && !target.isDir() { // missing
		targetIsFile = len(sources) == 1 && !sources[0].dir
	}
	if targetIsFile && strings.HasSuffix(dest, "/") {
		return failf("target is not a directory, but ends with a slash")
	}
	if len(sources) > 1 && targetIsFile {
		return failf("copying multiple things requires target be a directory")
	}
	if targetIsFile {
		if sources[0].dir {
			return failf("cannot copy directory into a file")
		}
		return c.fileToFile(ctx, sources[0], target)
	}
	for _, src := range sources {
		if !src.dir && src.name == "" {
			return failf("when copying into a directory, all source files must have names, but %s is unnamed", quoteName(src.spec, true))
		}
	}
	return c.thingsToDirectory(ctx, sources, target, dest)
}

// expandUser expands a leading "~/" (or a lone "~") to $HOME.
func (c *copier) expandUser(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		home := c.e.getenv("HOME")
		if home == "" {
			home, _ = os.UserHomeDir()
		}
		return home + p[1:]
	}
	return p
}

// getJSON fetches a grid object's t=json.
func (c *copier) getJSON(ctx context.Context, u string) (*http.Response, childJSON, []byte, error) {
	var node childJSON
	resp, body, err := c.s.call(ctx, http.MethodGet, strings.TrimSuffix(u, "/")+"?t=json", nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		return resp, node, body, err
	}
	if err := json.Unmarshal(body, &node); err != nil {
		return resp, node, body, failf("error: could not parse the web API's JSON from %s: %v", u, err)
	}
	return resp, node, body, nil
}

// targetInfo is Tahoe's get_target_info.
func (c *copier) targetInfo(ctx context.Context, spec string) (*cpTarget, error) {
	p, err := c.s.resolve(spec, "")
	if err != nil {
		return nil, err
	}
	if p.local {
		abs, err := filepath.Abs(c.expandUser(p.path))
		if err != nil {
			return nil, err
		}
		st, err := os.Stat(abs)
		switch {
		case errors.Is(err, os.ErrNotExist):
			return &cpTarget{kind: localMissing, local: abs}, nil
		case err != nil:
			return nil, err
		case st.IsDir():
			return &cpTarget{kind: localDir, local: abs}, nil
		}
		return &cpTarget{kind: localFile, local: abs}, nil
	}
	p.path = strings.Trim(p.path, "/")
	u, err := c.s.url(p)
	if err != nil {
		return nil, err
	}
	resp, node, body, err := c.getJSON(ctx, u)
	if err != nil {
		return nil, err
	}
	switch resp.StatusCode {
	case http.StatusNotFound:
		return &cpTarget{kind: gridMissing, url: u}, nil
	case http.StatusOK:
	default:
		return nil, failf("%s", httpFailure("Error examining target "+quoteName(spec, true), resp, body))
	}
	switch node.Type {
	case "dirnode":
		return &cpTarget{kind: gridDir, url: u, info: node.Info}, nil
	case "filenode":
		return &cpTarget{kind: gridFile, url: u, info: node.Info}, nil
	}
	return nil, failf("error: target %s is an object of a kind this version does not know", quoteName(spec, true))
}

// sourceInfo is Tahoe's get_source_info.
func (c *copier) sourceInfo(ctx context.Context, spec string) (*cpNode, error) {
	p, err := c.s.resolve(spec, "")
	if err != nil {
		return nil, err
	}
	trailingSlash := strings.HasSuffix(p.path, "/")
	if p.local {
		abs, err := filepath.Abs(c.expandUser(p.path))
		if err != nil {
			return nil, err
		}
		st, err := os.Stat(abs)
		switch {
		case errors.Is(err, os.ErrNotExist):
			return nil, failf("No such file or directory %s", quoteName(spec, true))
		case err != nil:
			return nil, err
		case st.IsDir():
			return &cpNode{spec: spec, name: filepath.Base(abs), dir: true, local: abs, size: -1}, nil
		case trailingSlash:
			return nil, failf("source %s is not a directory, but ends with a slash", quoteName(spec, true))
		case !st.Mode().IsRegular():
			return nil, failf("source %s is neither a file nor a directory, I can't handle it", quoteName(abs, true))
		}
		return &cpNode{spec: spec, name: filepath.Base(abs), local: abs, size: st.Size()}, nil
	}
	p.path = strings.Trim(p.path, "/")
	u, err := c.s.url(p)
	if err != nil {
		return nil, err
	}
	name := p.path[strings.LastIndex(p.path, "/")+1:]
	resp, node, body, err := c.getJSON(ctx, u)
	if err != nil {
		return nil, err
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return nil, failf("No such file or directory %s", quoteName(spec, true))
	default:
		return nil, failf("%s", httpFailure("Error examining source "+quoteName(spec, true), resp, body))
	}
	n := gridNode(name, node)
	n.spec = spec
	switch {
	case node.Type == "dirnode":
	case node.Type != "filenode":
		return nil, errUnknownNode
	case trailingSlash:
		return nil, failf("source %s is not a directory, but ends with a slash", quoteName(spec, true))
	}
	return n, nil
}

var errUnknownNode = failf("Cannot copy unknown nodes (ticket #839). You probably need to use a later version of Tahoe-LAFS to copy this directory.")

// gridNode makes a source of a grid object's t=json.
func gridNode(name string, node childJSON) *cpNode {
	n := &cpNode{name: name, dir: node.Type == "dirnode", rw: node.Info.RW, ro: node.Info.RO,
		mutable: node.Info.Mutable, size: -1, listing: node.Info.Children}
	if node.Info.Size != nil {
		n.size = *node.Info.Size
	}
	return n
}

// scan lists a source directory, recursively: local directories from the
// filesystem, grid directories by one t=json each. A grid directory met
// twice is listed once; one that contains itself is refused.
func (c *copier) scan(ctx context.Context, n *cpNode, inProgress map[string]bool) error {
	if n.scanned {
		return nil
	}
	if n.local != "" {
		ents, err := os.ReadDir(n.local)
		if err != nil {
			return err
		}
		for i, ent := range ents {
			c.prog.say("examining %d of %d", i+1, len(ents))
			path := filepath.Join(n.local, ent.Name())
			st, err := os.Stat(path) // follows symlinks, as Python's isdir/isfile
			if err != nil {
				continue // a dangling symlink: nothing to copy
			}
			switch {
			case st.IsDir():
				kid := &cpNode{name: ent.Name(), dir: true, local: path, size: -1}
				if err := c.scan(ctx, kid, inProgress); err != nil {
					return err
				}
				n.kids = append(n.kids, kid)
			case st.Mode().IsRegular():
				n.kids = append(n.kids, &cpNode{name: ent.Name(), local: path, size: st.Size()})
			}
		}
		n.scanned = true
		return nil
	}
	key := n.bestcap()
	inProgress[key] = true
	defer delete(inProgress, key)
	names := make([]string, 0, len(n.listing))
	for name := range n.listing {
		names = append(names, name)
	}
	sort.Strings(names)
	for i, name := range names {
		c.prog.say("examining %d of %d", i+1, len(names))
		ch := n.listing[name]
		switch ch.Type {
		case "filenode":
			n.kids = append(n.kids, gridNode(name, ch))
		case "dirnode":
			kid := gridNode(name, ch)
			k := kid.bestcap()
			if inProgress[k] {
				return failf("error: cannot copy a directory that contains itself (%s)", quoteName(name, true))
			}
			if seen, ok := c.scanned[k]; ok {
				kid.kids, kid.scanned = seen.kids, true
			} else {
				base, err := c.s.web()
				if err != nil {
					return err
				}
				resp, node, body, err := c.getJSON(ctx, objectURL(base, k, ""))
				if err != nil {
					return err
				}
				if resp.StatusCode != http.StatusOK {
					return failf("%s", httpFailure("Error examining source directory", resp, body))
				}
				kid.listing = node.Info.Children
				if err := c.scan(ctx, kid, inProgress); err != nil {
					return err
				}
				c.scanned[k] = kid
			}
			n.kids = append(n.kids, kid)
		default:
			return errUnknownNode
		}
	}
	n.scanned = true
	return nil
}

// open returns a source file's contents.
func (c *copier) open(ctx context.Context, n *cpNode) (io.ReadCloser, int64, error) {
	if n.local != "" {
		f, err := os.Open(n.local)
		if err != nil {
			return nil, 0, err
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, 0, err
		}
		return f, st.Size(), nil
	}
	base, err := c.s.web()
	if err != nil {
		return nil, 0, err
	}
	resp, err := c.s.do(ctx, http.MethodGet, objectURL(base, n.readcap(), ""), nil, 0)
	if err != nil {
		return nil, 0, err
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		return nil, 0, failf("%s", httpFailure("Error during GET", resp, body))
	}
	return resp.Body, resp.ContentLength, nil
}

// toLocal writes a source file to a local path; with --caps-only a grid
// file's read cap is written instead of its contents.
func (c *copier) toLocal(ctx context.Context, n *cpNode, path string) error {
	var r io.ReadCloser
	if c.o.capsOnly && n.local == "" {
		r = io.NopCloser(strings.NewReader(n.readcap()))
	} else {
		var err error
		if r, _, err = c.open(ctx, n); err != nil {
			return err
		}
	}
	defer r.Close()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, c.prog.reader(r))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("copying to %s: %w", path, err)
	}
	c.prog.fileDone()
	return nil
}

// upload PUTs a source file's contents at u (BASE/uri for a new unlinked
// file, or a path) and returns the cap the node answers.
func (c *copier) upload(ctx context.Context, n *cpNode, u string) (string, error) {
	r, size, err := c.open(ctx, n)
	if err != nil {
		return "", err
	}
	defer r.Close()
	resp, err := c.s.do(ctx, http.MethodPut, u, c.prog.reader(r), size)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		return "", failf("%s", httpFailure("Error during PUT", resp, body))
	}
	c.prog.fileDone()
	return strings.TrimSpace(string(body)), nil
}

// link PUTs a cap at a grid path (t=uri).
func (c *copier) link(ctx context.Context, u, capStr string) error {
	resp, body, err := c.s.call(ctx, http.MethodPut, u+"?t=uri", []byte(capStr))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		return failf("%s", httpFailure("Error during PUT", resp, body))
	}
	return nil
}

// success prints Tahoe's closing line.
func (c *copier) success(msg string) error {
	c.prog.finish()
	fmt.Fprintf(c.e.stdout, "Success: %s\n", msg)
	return nil
}

// linkable reports whether a grid source can be linked rather than copied:
// an immutable file (a mutable one is copied into a new immutable file, as
// Tahoe does, so that the copy does not change with the original).
func linkable(n *cpNode) bool { return n.local == "" && !n.mutable }

// fileToFile is Tahoe's copy_file_to_file.
func (c *copier) fileToFile(ctx context.Context, src *cpNode, t *cpTarget) error {
	c.prog.start(1, 0)
	if !t.isGrid() {
		if err := c.toLocal(ctx, src, t.local); err != nil {
			return err
		}
		return c.success("file copied")
	}
	if linkable(src) && !(t.kind == gridFile && t.info.Mutable) {
		if err := c.link(ctx, t.url, src.bestcap()); err != nil {
			return err
		}
		c.prog.fileDone()
		return c.success("file linked")
	}
	if _, err := c.upload(ctx, src, t.url); err != nil {
		return err
	}
	return c.success("file copied")
}

// planDir is one target directory of a copy and what goes into it.
type planDir struct {
	name   string
	local  string // a local directory's path
	exists bool   // the directory is there already
	// On the grid: an existing directory's write cap and children (listed
	// when first needed), or where a new top directory is to be made.
	rw       string
	listing  map[string]childJSON
	listed   bool
	createAt string
	newCap   string // a new grid directory's cap, once made

	files   []*planFile
	subdirs []*planDir
	byName  map[string]*planDir
}

// planFile is one file to put in a target directory.
type planFile struct {
	name    string
	src     *cpNode
	cap     string // grid: the cap to link under name
	inPlace string // grid: the URL of an existing mutable file to overwrite
}

// thingsToDirectory is Tahoe's copy_things_to_directory: map every source
// file to a target directory, then copy. On the grid every file is uploaded
// (several at once) before any directory changes; then each new directory
// is made with all its children at once (t=mkdir-with-children, deepest
// first), and each existing one gets its new children in one
// t=set_children: one mutable-directory publish per directory, however
// many files it receives.
func (c *copier) thingsToDirectory(ctx context.Context, sources []*cpNode, t *cpTarget, dest string) error {
	root := &planDir{local: t.local, exists: t.isDir(), byName: map[string]*planDir{}}
	if t.kind == gridDir {
		if t.info.RW == "" {
			return failf("error: %s is a read-only directory", quoteName(dest, true))
		}
		root.rw, root.listing, root.listed = t.info.RW, t.info.Children, true
	}
	if t.kind == gridMissing {
		root.createAt = t.url
	}
	for _, src := range sources {
		if src.dir {
			if err := c.scan(ctx, src, map[string]bool{}); err != nil {
				return err
			}
		}
	}
	nFiles, nDirs := 0, 0
	for _, src := range sources {
		if src.dir {
			nDirs++
		} else {
			nFiles++
		}
	}
	c.prog.say("attaching sources to targets, %d files / %d dirs in root", nFiles, nDirs)
	for _, src := range sources {
		var err error
		switch {
		case !src.dir:
			err = c.addFile(ctx, root, src, t.isGrid())
		case src.name != "":
			var sub *planDir
			if sub, err = c.subdir(ctx, root, src.name, t.isGrid()); err == nil {
				err = c.assign(ctx, sub, src, t.isGrid())
			}
		default:
			err = c.assign(ctx, root, src, t.isGrid())
		}
		if err != nil {
			return err
		}
	}
	dirs, files := countPlan(root)
	c.prog.say("targets assigned, %d dirs, %d files", dirs, files)
	if err := checkCollisions(root); err != nil {
		return err
	}
	c.prog.say("starting copy, %d files, %d directories", files, dirs)
	c.prog.start(files, dirs)
	var err error
	if t.isGrid() {
		err = c.copyToGrid(ctx, root)
	} else {
		err = c.copyToLocal(ctx, root)
	}
	if err != nil {
		return err
	}
	return c.success("files copied")
}

// assign plans the copy of a source directory's contents into d.
func (c *copier) assign(ctx context.Context, d *planDir, src *cpNode, grid bool) error {
	for _, kid := range src.kids {
		if kid.dir {
			sub, err := c.subdir(ctx, d, kid.name, grid)
			if err != nil {
				return err
			}
			if err := c.assign(ctx, sub, kid, grid); err != nil {
				return err
			}
			continue
		}
		if err := c.addFile(ctx, d, kid, grid); err != nil {
			return err
		}
	}
	return nil
}

// list fetches an existing grid target directory's children.
func (c *copier) list(ctx context.Context, d *planDir) error {
	if d.listed || !d.exists || d.rw == "" {
		return nil
	}
	base, err := c.s.web()
	if err != nil {
		return err
	}
	resp, node, body, err := c.getJSON(ctx, objectURL(base, d.rw, ""))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return failf("%s", httpFailure("Error examining target directory", resp, body))
	}
	d.listing, d.listed = node.Info.Children, true
	return nil
}

// subdir returns the target directory for a named source directory under
// d: the one planned already, an existing one, or a new one.
func (c *copier) subdir(ctx context.Context, d *planDir, name string, grid bool) (*planDir, error) {
	if sub, ok := d.byName[name]; ok {
		return sub, nil
	}
	sub := &planDir{name: name, byName: map[string]*planDir{}}
	if grid {
		if err := c.list(ctx, d); err != nil {
			return nil, err
		}
		if ch, ok := d.listing[name]; ok {
			if ch.Type != "dirnode" {
				return nil, failf("error: cannot copy a directory onto the file %s", quoteName(name, true))
			}
			if ch.Info.RW == "" {
				return nil, failf("error: cannot copy into the read-only directory %s", quoteName(name, true))
			}
			sub.exists, sub.rw = true, ch.Info.RW
		}
	} else {
		if err := localName(name); err != nil {
			return nil, err
		}
		sub.local = filepath.Join(d.local, name)
		st, err := os.Stat(sub.local)
		switch {
		case err == nil && !st.IsDir():
			return nil, failf("error: cannot copy a directory onto the file %s", quoteName(sub.local, true))
		case err == nil:
			sub.exists = true
		}
	}
	d.subdirs = append(d.subdirs, sub)
	d.byName[name] = sub
	return sub, nil
}

// addFile plans the copy of a file into d, and decides how: linked (an
// immutable grid file into a grid directory), written over an existing
// mutable file, or uploaded.
func (c *copier) addFile(ctx context.Context, d *planDir, src *cpNode, grid bool) error {
	f := &planFile{name: src.name, src: src}
	if !grid {
		if err := localName(src.name); err != nil {
			return err
		}
	}
	if grid {
		if err := c.list(ctx, d); err != nil {
			return err
		}
		ch, exists := d.listing[src.name]
		switch {
		case exists && ch.Type == "dirnode":
			return failf("error: cannot overwrite the directory %s with a file", quoteName(src.name, true))
		case exists && ch.Type == "filenode" && ch.Info.Mutable && ch.Info.RW != "":
			base, err := c.s.web()
			if err != nil {
				return err
			}
			f.inPlace = objectURL(base, d.rw, src.name)
		case linkable(src):
			f.cap = src.bestcap()
		}
	}
	d.files = append(d.files, f)
	return nil
}

// localName refuses a name from a grid directory that would not stay one
// file name on disk ("..", "a/b"): a directory made by someone else must not
// make cp write outside the target.
func localName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") ||
		(filepath.Separator != '/' && strings.ContainsRune(name, filepath.Separator)) {
		return failf("error: cannot copy %s to a local file: not a plain file name", quoteName(name, true))
	}
	return nil
}

// countPlan counts the directories and files of a plan.
func countPlan(d *planDir) (dirs, files int) {
	dirs, files = 1, len(d.files)
	for _, sub := range d.subdirs {
		a, b := countPlan(sub)
		dirs, files = dirs+a, files+b
	}
	return dirs, files
}

// checkCollisions refuses two things of one name in one target directory.
func checkCollisions(d *planDir) error {
	seen := map[string]bool{}
	for _, sub := range d.subdirs {
		seen[sub.name] = true
	}
	for _, f := range d.files {
		if seen[f.name] {
			return failf("cannot copy multiple files with the same name into the same target directory")
		}
		seen[f.name] = true
	}
	for _, sub := range d.subdirs {
		if err := checkCollisions(sub); err != nil {
			return err
		}
	}
	return nil
}

// parallel runs jobs, cpWorkers at a time, and returns the first error
// (the others are then cancelled).
func parallel(ctx context.Context, jobs []func(context.Context) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := make(chan struct{}, cpWorkers)
	var wg sync.WaitGroup
	for _, job := range jobs {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := job(ctx); err != nil {
				cancel(err)
			}
		}()
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}

// copyToLocal makes the planned directories and copies the files in.
func (c *copier) copyToLocal(ctx context.Context, root *planDir) error {
	var jobs []func(context.Context) error
	var walk func(d *planDir) error
	walk = func(d *planDir) error {
		if !d.exists {
			if err := os.MkdirAll(d.local, 0o777); err != nil {
				return err
			}
		}
		for _, f := range d.files {
			path := filepath.Join(d.local, f.name)
			jobs = append(jobs, func(ctx context.Context) error { return c.toLocal(ctx, f.src, path) })
		}
		for _, sub := range d.subdirs {
			if err := walk(sub); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(root); err != nil {
		return err
	}
	return parallel(ctx, jobs)
}

// copyToGrid uploads every file that needs it, then makes or updates the
// directories, deepest first.
func (c *copier) copyToGrid(ctx context.Context, root *planDir) error {
	base, err := c.s.web()
	if err != nil {
		return err
	}
	var jobs []func(context.Context) error
	var walk func(d *planDir)
	walk = func(d *planDir) {
		for _, f := range d.files {
			switch {
			case f.inPlace != "":
				jobs = append(jobs, func(ctx context.Context) error {
					_, err := c.upload(ctx, f.src, f.inPlace)
					return err
				})
			case f.cap == "":
				jobs = append(jobs, func(ctx context.Context) error {
					capStr, err := c.upload(ctx, f.src, base+"uri")
					f.cap = capStr
					return err
				})
			default:
				c.prog.fileDone() // linked: nothing to move
			}
		}
		for _, sub := range d.subdirs {
			walk(sub)
		}
	}
	walk(root)
	if err := parallel(ctx, jobs); err != nil {
		return err
	}
	return c.makeDirs(ctx, base, root)
}

// makeDirs makes d's new subdirectories (at once), then d itself with all
// its children, or adds them to d if it exists.
func (c *copier) makeDirs(ctx context.Context, base string, d *planDir) error {
	var jobs []func(context.Context) error
	for _, sub := range d.subdirs {
		jobs = append(jobs, func(ctx context.Context) error { return c.makeDirs(ctx, base, sub) })
	}
	// Subdirectories are made side by side. Each holds a slot of dirSem
	// only for its own call, never while it waits for its children, so a
	// deep tree cannot exhaust the slots.
	if err := runAll(ctx, jobs); err != nil {
		return err
	}
	children := map[string]any{}
	for _, f := range d.files {
		if f.inPlace == "" {
			children[f.name] = childEntry("filenode", f.cap)
		}
	}
	for _, sub := range d.subdirs {
		if !sub.exists {
			children[sub.name] = childEntry("dirnode", sub.newCap)
		}
	}
	body, err := json.Marshal(children)
	if err != nil {
		return err
	}
	var u string
	switch {
	case d.exists && len(children) == 0:
		return nil
	case d.exists:
		u = objectURL(base, d.rw, "") + "?t=set_children"
	case d.createAt != "":
		u = d.createAt + "?t=mkdir-with-children"
	default:
		u = base + "uri?t=mkdir-with-children"
	}
	select {
	case c.dirSem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	resp, answer, err := c.s.call(ctx, http.MethodPost, u, body)
	<-c.dirSem
	if err != nil {
		return err
	}
	if !ok2xx(resp.StatusCode) {
		what := "Error during POST"
		if !d.exists {
			what = "Error during mkdir"
		}
		return failf("%s", httpFailure(what, resp, answer))
	}
	if !d.exists {
		d.newCap = strings.TrimSpace(string(answer))
	}
	c.prog.dirDone()
	return nil
}

// runAll runs jobs all at once and returns the first error.
func runAll(ctx context.Context, jobs []func(context.Context) error) error {
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for i, job := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = job(ctx)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// childEntry is a child for t=set_children or t=mkdir-with-children: a
// write cap as rw_uri, a read-only or immutable cap as ro_uri.
func childEntry(kind, s string) []any {
	key := "rw_uri"
	if c, err := cap.Parse(s); err == nil && c.IsReadOnly() {
		key = "ro_uri"
	}
	return []any{kind, map[string]string{key: s}}
}

// cpProgress tells how a copy goes: with -v, Tahoe's progress lines on
// stderr; otherwise, on a terminal, one line redrawn as files are copied.
type cpProgress struct {
	mu       sync.Mutex
	w        io.Writer
	verbose  bool
	term     bool
	total    int
	files    int
	dirs     int
	allDirs  int
	bytes    int64
	begin    time.Time
	last     time.Time
	drawn    bool
	finished bool
}

func newCpProgress(w io.Writer, verbose bool) *cpProgress {
	return &cpProgress{w: w, verbose: verbose, term: isTerminal(w), begin: time.Now()}
}

// say prints one of Tahoe's -v progress lines.
func (p *cpProgress) say(format string, a ...any) {
	if p.verbose {
		p.mu.Lock()
		defer p.mu.Unlock()
		fmt.Fprintf(p.w, format+"\n", a...)
	}
}

func (p *cpProgress) start(files, dirs int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total, p.allDirs = files, dirs
}

// reader counts the bytes read through it into the progress line.
func (p *cpProgress) reader(r io.Reader) io.Reader { return &progressReader{r, p} }

type progressReader struct {
	r io.Reader
	p *cpProgress
}

func (pr *progressReader) Read(b []byte) (int, error) {
	n, err := pr.r.Read(b)
	pr.p.addBytes(int64(n))
	return n, err
}

func (p *cpProgress) addBytes(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.bytes += n
	if !p.verbose && p.term && time.Since(p.last) >= 100*time.Millisecond {
		p.last = time.Now()
		p.draw()
	}
}

func (p *cpProgress) fileDone() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.files++
	if p.verbose {
		fmt.Fprintf(p.w, "%d/%d files, %d/%d directories\n", p.files, p.total, p.dirs, p.allDirs)
		return
	}
	if p.term && time.Since(p.last) >= 100*time.Millisecond {
		p.last = time.Now()
		p.draw()
	}
}

func (p *cpProgress) dirDone() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dirs++
	if p.verbose {
		fmt.Fprintf(p.w, "%d/%d directories\n", p.dirs, p.allDirs)
	}
}

func (p *cpProgress) draw() {
	secs := time.Since(p.begin).Seconds()
	rate := float64(p.bytes) / max(secs, 1e-3) / 1e6
	fmt.Fprintf(p.w, "\rcopied %d/%d files, %s, %.1f MB/s, %.1fs ", p.files, p.total, human(p.bytes), rate, secs)
	p.drawn = true
}

// finish ends the redrawn line, if one was drawn.
func (p *cpProgress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn && !p.finished {
		p.draw()
		fmt.Fprintln(p.w)
	}
	p.finished = true
}
