package main

// backup's first job: read the local tree (Tahoe's
// collect_backup_targets).

import (
	"io/fs"
	"os"
	"path/filepath"
	"unicode/utf8"

	"github.com/lafs/lafs/dirnode"
)

// bkNode is one local file or directory to back up.
type bkNode struct {
	path   string // absolute
	name   string
	dir    bool
	parent *bkNode
	kids   []*bkNode // a directory's children, skipped ones left out

	pending int // children not done yet (guarded by backerUpper.mu)

	// Set by the worker that backs the node up, before its parent runs.
	skipped bool   // could not be read: left out of its parent
	cap     string // its immutable cap
	md      *dirnode.Object
}

// collect reads the tree under d (Tahoe's collect_backup_targets),
// leaving out excluded names and, with a warning, what cannot be backed
// up. It reports whether d could be listed.
func (b *backerUpper) collect(d *bkNode) bool {
	ents, err := os.ReadDir(d.path)
	if err != nil {
		if d.parent != nil {
			b.out.skip(true, "WARNING: permission denied on directory %s", quoteLocal(d.path, true))
		}
		return false
	}
	b.nodes++
	for _, ent := range ents {
		name := ent.Name()
		if b.o.exclude.match(name) {
			continue
		}
		p := filepath.Join(d.path, name)
		t := ent.Type()
		switch {
		case !utf8.ValidString(name):
			// Tahoe cannot name such a file on the grid either.
			kind := "file"
			if t.IsDir() {
				kind = "directory"
			}
			b.out.skip(t.IsDir(), "WARNING: could not list %s %s due to a filename encoding error", kind, quoteLocal(p, true))
		case t&fs.ModeSymlink != 0:
			b.out.skip(false, "WARNING: cannot backup symlink %s", quoteLocal(p, true))
		case t.IsDir():
			kid := &bkNode{path: p, name: name, dir: true, parent: d}
			if b.collect(kid) {
				d.kids = append(d.kids, kid)
			}
		case t.IsRegular():
			kid := &bkNode{path: p, name: name, parent: d}
			d.kids = append(d.kids, kid)
			b.nodes++
			b.ready = append(b.ready, kid)
		default:
			b.out.skip(false, "WARNING: cannot backup special %s", quoteLocal(p, true))
		}
	}
	d.pending = len(d.kids)
	if len(d.kids) == 0 {
		b.ready = append(b.ready, d)
	}
	return true
}
