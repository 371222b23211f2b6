package main

// cp's third job: the copy itself. Files move cpWorkers at a time; on the
// grid every file is uploaded before any directory changes, then each new
// directory is made with all its children at once (t=mkdir-with-children,
// deepest first) and each existing one gets its new children in one
// t=set_children: one mutable-directory publish per directory, however
// many files it receives.

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"
)

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
	wc, err := c.client()
	if err != nil {
		return nil, 0, err
	}
	resp, err := wc.download(ctx, n.file(), 0)
	if err != nil {
		return nil, 0, failure(err, "Error during GET")
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

// upload PUTs a source file's contents at p (a new unlinked file, or a
// path) and returns the cap the node answers.
func (c *copier) upload(ctx context.Context, n *cpNode, p gridPath) (string, error) {
	wc, err := c.client()
	if err != nil {
		return "", err
	}
	r, size, err := c.open(ctx, n)
	if err != nil {
		return "", err
	}
	defer r.Close()
	a, err := wc.upload(ctx, p, "", c.prog.reader(r), size)
	if err != nil {
		return "", failure(err, "Error during PUT")
	}
	c.prog.fileDone()
	return a.text, nil
}

// source names a source file in messages.
func (n *cpNode) source() string {
	if n.local != "" {
		return n.local
	}
	return n.where
}

// link PUTs a cap at a grid path (t=uri).
func (c *copier) link(ctx context.Context, p gridPath, capStr string) error {
	wc, err := c.client()
	if err != nil {
		return err
	}
	if _, err := wc.link(ctx, p, capStr, ""); err != nil {
		return failure(err, "Error during PUT")
	}
	return nil
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

// parallel runs jobs, cpWorkers at a time, and returns the first error
// (the others are then cancelled).
func parallel(ctx context.Context, jobs []func(context.Context) error) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(cpWorkers)
	for _, job := range jobs {
		g.Go(func() error { return job(ctx) })
	}
	return g.Wait()
}

// copyToGrid uploads every file that needs it, then makes or updates the
// directories.
func (c *copier) copyToGrid(ctx context.Context, root *planDir) error {
	wc, err := c.client()
	if err != nil {
		return err
	}
	var jobs []func(context.Context) error
	var walk func(d *planDir)
	walk = func(d *planDir) {
		for _, f := range d.files {
			switch {
			case f.inPlace:
				jobs = append(jobs, func(ctx context.Context) error {
					_, err := c.upload(ctx, f.src, f.at)
					return err
				})
			case f.cap == "":
				jobs = append(jobs, func(ctx context.Context) error {
					capStr, err := c.upload(ctx, f.src, unlinked(f.src.source()))
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
	return c.makeDirs(ctx, wc, root)
}

// makeDirs makes the planned grid directories a level at a time, deepest
// first, so that each new one is made with all its children.
func (c *copier) makeDirs(ctx context.Context, wc *webClient, root *planDir) error {
	var levels [][]*planDir
	var walk func(d *planDir, depth int)
	walk = func(d *planDir, depth int) {
		if len(levels) == depth {
			levels = append(levels, nil)
		}
		levels[depth] = append(levels[depth], d)
		for _, sub := range d.subdirs {
			walk(sub, depth+1)
		}
	}
	walk(root, 0)
	for i := len(levels) - 1; i >= 0; i-- {
		var jobs []func(context.Context) error
		for _, d := range levels[i] {
			jobs = append(jobs, func(ctx context.Context) error { return c.makeDir(ctx, wc, d) })
		}
		if err := parallel(ctx, jobs); err != nil {
			return err
		}
	}
	return nil
}

// makeDir makes a new directory with all its children, or adds them to an
// existing one. Its subdirectories are made already.
func (c *copier) makeDir(ctx context.Context, wc *webClient, d *planDir) error {
	children := map[string]newChild{}
	for _, f := range d.files {
		if !f.inPlace {
			children[f.name] = childCap(fileNode, f.cap)
		}
	}
	for _, sub := range d.subdirs {
		if !sub.exists {
			children[sub.name] = childCap(dirNode, sub.newCap)
		}
	}
	var err error
	switch {
	case d.exists && len(children) == 0:
		return nil
	case d.exists:
		err = failure(wc.setChildren(ctx, d.dir(), children), "Error during POST")
	case d.create:
		d.newCap, err = wc.mkdirWith(ctx, d.createAt, children, false)
	default:
		d.newCap, err = wc.mkdirWith(ctx, unlinked(d.where), children, false)
	}
	if err != nil {
		return failure(err, "Error during mkdir")
	}
	c.prog.dirDone()
	return nil
}

// cpProgress tells how a copy goes: with -v, Tahoe's progress lines on
// stderr; otherwise, on a terminal, a progress line.
type cpProgress struct {
	w       io.Writer
	verbose bool
	line    *progressLine

	mu                          sync.Mutex
	files, total, dirs, allDirs int
}

func newCpProgress(w io.Writer, verbose bool) *cpProgress {
	return &cpProgress{w: w, verbose: verbose, line: newProgressLine(w, verbose, func(p progress) string {
		return fmt.Sprintf("copied %d/%d files, %s, %.1f MB/s, %.1fs ", p.done, p.total, human(p.bytes), p.rate(), p.elapsed.Seconds())
	})}
}

// say prints one of Tahoe's -v progress lines.
func (p *cpProgress) say(format string, a ...any) {
	if p.verbose {
		p.line.printf(p.w, format+"\n", a...)
	}
}

// start sets the numbers of files and directories to copy.
func (p *cpProgress) start(files, dirs int) {
	p.mu.Lock()
	p.total, p.allDirs = files, dirs
	p.mu.Unlock()
	p.line.setTotals(-1, files)
}

// reader counts the bytes read through it.
func (p *cpProgress) reader(r io.Reader) io.Reader { return p.line.reader(r) }

func (p *cpProgress) fileDone() {
	p.mu.Lock()
	p.files++
	if p.verbose {
		fmt.Fprintf(p.w, "%d/%d files, %d/%d directories\n", p.files, p.total, p.dirs, p.allDirs)
	}
	p.mu.Unlock()
	p.line.itemDone()
}

func (p *cpProgress) dirDone() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dirs++
	if p.verbose {
		fmt.Fprintf(p.w, "%d/%d directories\n", p.dirs, p.allDirs)
	}
}

// finish ends the progress line, if one was drawn.
func (p *cpProgress) finish() { p.line.finish() }
