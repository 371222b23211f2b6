package main

// cp's second job: map every source file to a target directory, and
// decide how each gets there (Tahoe's copy_things_to_directory up to the
// copy itself).

import (
	"context"
	"os"
	"path/filepath"
	"strings"
)

// planDir is one target directory of a copy and what goes into it.
type planDir struct {
	name   string
	where  string // how messages name it, on the grid
	local  string // a local directory's path
	exists bool   // the directory is there already
	// On the grid: an existing directory's write cap and children (listed
	// when first needed), or where a new top directory is to be made.
	rw       string
	listing  map[string]nodeJSON
	listed   bool
	create   bool
	createAt gridPath
	newCap   string // a new grid directory's cap, once made

	files   []*planFile
	subdirs []*planDir
	byName  map[string]*planDir
}

// dir is where an existing grid directory is changed.
func (d *planDir) dir() gridPath { return capPath(d.rw, d.where) }

// planFile is one file to put in a target directory.
type planFile struct {
	name string
	src  *cpNode
	cap  string // grid: the cap to link under name
	// grid: an existing mutable file to overwrite in place, and where
	inPlace bool
	at      gridPath
}

// plan maps the sources to the target: every source directory is scanned,
// and each file gets its target directory and name.
func (c *copier) plan(ctx context.Context, sources []*cpNode, t *cpTarget, dest string) (*planDir, error) {
	root := &planDir{where: t.at.name, local: t.local, exists: t.isDir(), byName: map[string]*planDir{}}
	if t.kind == gridDir {
		if t.info.RW == "" {
			return nil, failf("error: %s is a read-only directory", quoteName(dest, true))
		}
		root.rw, root.listing, root.listed = t.info.RW, t.info.Children, true
	}
	if t.kind == gridMissing {
		root.create, root.createAt = true, t.at
	}
	for _, src := range sources {
		if src.dir {
			if err := c.scan(ctx, src, map[string]bool{}); err != nil {
				return nil, err
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
			return nil, err
		}
	}
	dirs, files := countPlan(root)
	c.prog.say("targets assigned, %d dirs, %d files", dirs, files)
	if err := checkCollisions(root); err != nil {
		return nil, err
	}
	c.prog.say("starting copy, %d files, %d directories", files, dirs)
	c.prog.start(files, dirs)
	return root, nil
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
	wc, err := c.client()
	if err != nil {
		return err
	}
	node, err := wc.info(ctx, d.dir())
	if err != nil {
		return failure(err, "Error examining target directory")
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
	sub := &planDir{name: name, where: joinName(d.where, name), byName: map[string]*planDir{}}
	if grid {
		if err := c.list(ctx, d); err != nil {
			return nil, err
		}
		if ch, ok := d.listing[name]; ok {
			if !ch.isDir() {
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
		case exists && ch.isDir():
			return failf("error: cannot overwrite the directory %s with a file", quoteName(src.name, true))
		case exists && ch.isFile() && ch.Info.Mutable && ch.Info.RW != "":
			f.inPlace, f.at = true, d.dir().child(src.name)
		case linkable(src):
			f.cap = src.bestcap()
		}
	}
	d.files = append(d.files, f)
	return nil
}

// linkable reports whether a grid source can be linked rather than copied:
// an immutable file (a mutable one is copied into a new immutable file, as
// Tahoe does, so that the copy does not change with the original).
func linkable(n *cpNode) bool { return n.local == "" && !n.mutable }

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
