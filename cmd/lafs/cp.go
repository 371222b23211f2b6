package main

// cp is Tahoe's Copier in three jobs: cp_scan.go finds out what the
// arguments are and lists source directories, cp_plan.go maps every
// source file to a target directory, cp_run.go moves the files and makes
// the directories.

import (
	"context"
	"fmt"
	"strings"
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

// cpWorkers is how many files (or directory calls) cp moves at once.
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
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() < 2 {
		return usagef("cp requires at least two arguments\n%s", cpHelp)
	}
	s, err := sf.open(e)
	if err != nil {
		return err
	}
	c := &copier{s: s, e: e, o: o, scanned: map[string]*cpNode{}, prog: newCpProgress(e.stderr, o.verbose)}
	defer c.prog.finish()
	return c.copy(ctx, fs.Args()[:fs.NArg()-1], fs.Arg(fs.NArg()-1))
}

// copier does one cp.
type copier struct {
	s       *session
	e       *env
	o       cpOptions
	prog    *cpProgress
	scanned map[string]*cpNode // grid directories by cap, each scanned once
}

// client is the web API's client.
func (c *copier) client() (*webClient, error) { return c.s.client() }

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
		if err := c.link(ctx, t.at, src.bestcap()); err != nil {
			return err
		}
		c.prog.fileDone()
		return c.success("file linked")
	}
	if _, err := c.upload(ctx, src, t.at); err != nil {
		return err
	}
	return c.success("file copied")
}

// thingsToDirectory is Tahoe's copy_things_to_directory: map every source
// file to a target directory (cp_plan.go), then copy (cp_run.go).
func (c *copier) thingsToDirectory(ctx context.Context, sources []*cpNode, t *cpTarget, dest string) error {
	root, err := c.plan(ctx, sources, t, dest)
	if err != nil {
		return err
	}
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

// success prints Tahoe's closing line.
func (c *copier) success(msg string) error {
	c.prog.finish()
	fmt.Fprintf(c.e.stdout, "Success: %s\n", msg)
	return nil
}
