package main

// cp's first job: what the arguments are (Tahoe's get_target_info and
// get_source_info), and the listing of source directories.

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// cpNode is a source: a file or directory, local or on the grid.
type cpNode struct {
	spec    string // the argument it came from (for messages)
	name    string // the name it brings; "" for a bare cap (unnamed)
	where   string // how messages name a grid object (never by its cap)
	dir     bool
	local   string // the local path; "" for grid objects
	rw, ro  string // a grid object's caps
	mutable bool
	size    int64 // -1 when not known
	kids    []*cpNode
	listing map[string]nodeJSON // a grid directory's children, before scan
	scanned bool
}

// readcap is the cap to read a grid file by.
func (n *cpNode) readcap() string {
	if n.ro != "" {
		return n.ro
	}
	return n.rw
}

// file is where a grid file is read.
func (n *cpNode) file() gridPath { return capPath(n.readcap(), n.where) }

// bestcap is the cap to link a grid object by: its write cap if it has one.
func (n *cpNode) bestcap() string {
	if n.rw != "" {
		return n.rw
	}
	return n.ro
}

// cpTarget is what the destination argument names.
type cpTarget struct {
	kind  targetKind
	local string   // local path
	at    gridPath // on the grid
	info  nodeInfo
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

// targetInfo is Tahoe's get_target_info.
func (c *copier) targetInfo(ctx context.Context, spec string) (*cpTarget, error) {
	p, err := c.s.resolve(spec, "")
	if err != nil {
		return nil, err
	}
	if p.local {
		abs, err := filepath.Abs(expandUser(c.e, p.path))
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
	wc, err := c.client()
	if err != nil {
		return nil, err
	}
	node, err := wc.info(ctx, p)
	switch {
	case isStatus(err, http.StatusNotFound):
		return &cpTarget{kind: gridMissing, at: p}, nil
	case err != nil:
		return nil, failure(err, "Error examining target "+quoteName(spec, true))
	}
	switch node.Type {
	case dirNode:
		return &cpTarget{kind: gridDir, at: p, info: node.Info}, nil
	case fileNode:
		return &cpTarget{kind: gridFile, at: p, info: node.Info}, nil
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
		abs, err := filepath.Abs(expandUser(c.e, p.path))
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
	name := p.path[strings.LastIndex(p.path, "/")+1:]
	wc, err := c.client()
	if err != nil {
		return nil, err
	}
	node, err := wc.info(ctx, p)
	switch {
	case isStatus(err, http.StatusNotFound):
		return nil, failf("No such file or directory %s", quoteName(spec, true))
	case err != nil:
		return nil, failure(err, "Error examining source "+quoteName(spec, true))
	}
	n := gridNode(name, p.name, node)
	n.spec = spec
	switch {
	case node.isDir():
	case !node.isFile():
		return nil, errUnknownNode
	case trailingSlash:
		return nil, failf("source %s is not a directory, but ends with a slash", quoteName(spec, true))
	}
	return n, nil
}

var errUnknownNode = failf("Cannot copy unknown nodes (ticket #839). You probably need to use a later version of Tahoe-LAFS to copy this directory.")

// gridNode makes a source of a grid object's t=json; where is how
// messages name it.
func gridNode(name, where string, node *nodeJSON) *cpNode {
	n := &cpNode{name: name, where: where, dir: node.isDir(), rw: node.Info.RW, ro: node.Info.RO,
		mutable: node.Info.Mutable, size: -1, listing: node.Info.Children}
	if size, ok := node.Info.size(); ok {
		n.size = size
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
		return c.scanLocal(ctx, n, inProgress)
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
		kid := gridNode(name, joinName(n.where, name), &ch)
		switch ch.Type {
		case fileNode:
			n.kids = append(n.kids, kid)
		case dirNode:
			k := kid.bestcap()
			if inProgress[k] {
				return failf("error: cannot copy a directory that contains itself (%s)", quoteName(name, true))
			}
			if seen, ok := c.scanned[k]; ok {
				kid.kids, kid.scanned = seen.kids, true
			} else {
				wc, err := c.client()
				if err != nil {
					return err
				}
				node, err := wc.info(ctx, capPath(k, kid.where))
				if err != nil {
					return failure(err, "Error examining source directory")
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

// scanLocal lists a local source directory, recursively. Symlinks are
// followed; what is neither file nor directory is left out.
func (c *copier) scanLocal(ctx context.Context, n *cpNode, inProgress map[string]bool) error {
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
