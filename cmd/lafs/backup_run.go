package main

// backup's third job: upload the files and make the immutable directories,
// backupWorkers at a time, each directory once all its children are done.

import (
	"context"
	"io"
	"os"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/lafs/lafs/backupdb"
)

// backerUpper does one backup (Tahoe's BackerUpper).
type backerUpper struct {
	wc  *webClient
	db  *backupdb.DB
	o   *backupOptions
	out *backupOutput

	mu    sync.Mutex
	nodes int       // nodes in the tree
	ready []*bkNode // files and empty directories: the first work
}

// run backs up every node that collect found: files and empty
// directories first, each other directory once all its children are done,
// the root last. The first error stops it.
func (b *backerUpper) run(ctx context.Context) error {
	b.out.start(b.nodes)
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(backupWorkers)
	for _, n := range b.ready {
		g.Go(func() error { return b.climb(ctx, n) })
	}
	b.ready = nil
	return g.Wait()
}

// climb backs up n, then its parent if n was the last of its children to
// be done, and so on up the tree.
func (b *backerUpper) climb(ctx context.Context, n *bkNode) error {
	for n != nil {
		if err := ctx.Err(); err != nil {
			return err
		}
		var err error
		if n.dir {
			err = b.backupDir(ctx, n)
		} else {
			err = b.backupFile(ctx, n)
		}
		if err != nil {
			return err
		}
		n = b.done(n)
	}
	return nil
}

// done returns n's parent if n was its last child to be done.
func (b *backerUpper) done(n *bkNode) *bkNode {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := n.parent
	if p == nil {
		return nil
	}
	if p.pending--; p.pending == 0 {
		return p
	}
	return nil
}

// backupFile uploads a file unless the backup database knows it
// unchanged (Tahoe's BackerUpper.upload).
func (b *backerUpper) backupFile(ctx context.Context, n *bkNode) error {
	st, err := backupdb.Stat(n.path)
	if err != nil {
		b.skipNode(n, "WARNING: permission denied on file %s")
		return nil
	}
	n.md = localMetadata(st)
	must, r, err := b.checkFile(ctx, n.path, st)
	if err != nil {
		return err
	}
	if !must {
		b.out.say("skipping %s..", quoteLocal(n.path, true))
		n.cap = r.Filecap
		b.out.count(func(c *backupCounts) { c.filesReused++ })
		return nil
	}
	b.out.say("uploading %s..", quoteLocal(n.path, true))
	f, err := os.Open(n.path)
	if err != nil {
		b.skipNode(n, "WARNING: permission denied on file %s")
		return nil
	}
	defer f.Close()
	size := st.Info.Size
	if fi, err := f.Stat(); err == nil {
		size = fi.Size()
	}
	a, err := b.wc.upload(ctx, unlinked(n.path), "", io.LimitReader(f, size), size)
	if err != nil {
		return failure(err, "Error during file PUT")
	}
	b.out.say(" %s -> %s", quoteLocal(n.path, false), quoteName(a.text, false))
	if err := r.DidUpload(ctx, a.text); err != nil {
		return err
	}
	n.cap = a.text
	b.out.count(func(c *backupCounts) { c.filesCreated++ })
	return nil
}

// backupDir makes the immutable directory of a local directory whose
// children are all done, unless the backup database knows one with the
// same contents (Tahoe's DirectoryTarget.backup and upload_directory).
func (b *backerUpper) backupDir(ctx context.Context, n *bkNode) error {
	st, err := backupdb.Stat(n.path)
	if err != nil {
		b.skipNode(n, "WARNING: permission denied on directory %s")
		return nil
	}
	n.md = localMetadata(st)
	compare := map[string]string{}
	create := map[string]newChild{}
	for _, k := range n.kids {
		if k.skipped {
			continue
		}
		kind := fileNode
		if k.dir {
			kind = dirNode
		}
		compare[k.name] = k.cap
		create[k.name] = newChild{Type: kind, RO: k.cap, Metadata: k.md}
	}
	must, r, err := b.checkDirectory(ctx, n.path, compare)
	if err != nil {
		return err
	}
	if !must {
		b.out.say(" re-using old directory for %s", quoteLocal(n.path, true))
		n.cap = r.Dircap
		b.out.count(func(c *backupCounts) { c.dirsReused++ })
		return nil
	}
	b.out.say(" creating directory for %s", quoteLocal(n.path, true))
	dircap, err := b.wc.mkdirWith(ctx, unlinked(n.path), create, true)
	if err != nil {
		return failure(err, "Error during mkdir")
	}
	if err := r.DidCreate(ctx, dircap); err != nil {
		return err
	}
	n.cap = dircap
	b.out.count(func(c *backupCounts) { c.dirsCreated++ })
	return nil
}

// skipNode leaves a node that turned out unreadable out of its parent.
func (b *backerUpper) skipNode(n *bkNode, format string) {
	n.skipped = true
	b.out.skip(n.dir, format, quoteLocal(n.path, true))
}

// putChild links a cap at p (Tahoe's put_child).
func (b *backerUpper) putChild(ctx context.Context, p gridPath, c string) error {
	if _, err := b.wc.link(ctx, p, c, ""); err != nil {
		return failure(err, "Error during put_child")
	}
	return nil
}
