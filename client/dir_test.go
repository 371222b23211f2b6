package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/dirnode"
	"github.com/lafs/lafs/internal/testgrid"
	"github.com/lafs/lafs/mutable"
)

func mustParse(t *testing.T, s string) cap.Cap {
	t.Helper()
	c, err := cap.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func names(t *testing.T, d *Dir) []string {
	t.Helper()
	entries, err := d.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name)
	}
	return out
}

// linkTimes returns the linkcrtime and linkmotime of an entry.
func linkTimes(t *testing.T, e dirnode.Entry) (cr, mo float64) {
	t.Helper()
	v, ok := e.Metadata.Get(dirnode.MetaTahoe)
	if !ok {
		t.Fatalf("%s: no tahoe metadata: %v", e.Name, e.Metadata.Keys())
	}
	sys := v.(*dirnode.Object)
	c, _ := sys.Get(dirnode.MetaLinkCreated)
	m, _ := sys.Get(dirnode.MetaLinkModified)
	return c.(float64), m.(float64)
}

func TestDirLinks(t *testing.T) {
	ctx := context.Background()
	c, _ := newTestClient(t)
	for _, format := range []cap.Format{cap.SDMF, cap.MDMF} {
		t.Run(format.String(), func(t *testing.T) {
			d, err := c.CreateDir(ctx, format)
			if err != nil {
				t.Fatal(err)
			}
			if d.IsReadOnly() || !d.IsMutable() || d.Format() != format {
				t.Fatalf("new dir: ro %v mutable %v %v", d.IsReadOnly(), d.IsMutable(), d.Format())
			}
			if got := names(t, d); len(got) != 0 {
				t.Fatalf("new dir lists %v", got)
			}
			lit := mustParse(t, "URI:LIT:nbswy3dp")
			md := &dirnode.Object{}
			md.Set("color", "blue")
			md.Set(dirnode.MetaTahoe, "a client cannot set this")
			if err := d.Set(ctx, "b.txt", lit, md, ReplaceNone); err != nil {
				t.Fatal(err)
			}
			e, err := d.Get(ctx, "b.txt")
			if err != nil {
				t.Fatal(err)
			}
			cr, mo := linkTimes(t, e)
			if cr != mo || cr == 0 {
				t.Errorf("new link times %v %v", cr, mo)
			}
			if v, _ := e.Metadata.Get("color"); v != "blue" || e.Cap().String() != lit.String() || e.Write != nil {
				t.Errorf("entry %+v", e)
			}

			// Linking again: ReplaceNone refuses, ReplaceAny keeps
			// linkcrtime and the user metadata when none is given.
			if err := d.Set(ctx, "b.txt", lit, nil, ReplaceNone); !errors.Is(err, ErrExists) {
				t.Errorf("ReplaceNone on a taken name: %v", err)
			}
			if err := d.Set(ctx, "b.txt", lit, nil, ReplaceAny); err != nil {
				t.Fatal(err)
			}
			e2, _ := d.Get(ctx, "b.txt")
			cr2, mo2 := linkTimes(t, e2)
			if v, _ := e2.Metadata.Get("color"); cr2 != cr || mo2 < mo || v != "blue" {
				t.Errorf("relinked: times %v %v (were %v %v), color %v", cr2, mo2, cr, mo, v)
			}

			// A subdirectory, and replace=only-files.
			sub, err := d.Mkdir(ctx, "a", cap.SDMF, ReplaceNone)
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Set(ctx, "a", lit, nil, ReplaceOnlyFiles); !errors.Is(err, ErrExists) {
				t.Errorf("only-files over a directory: %v", err)
			}
			if err := d.Set(ctx, "b.txt", lit, nil, ReplaceOnlyFiles); err != nil {
				t.Errorf("only-files over a file: %v", err)
			}
			if got := names(t, d); !slices.Equal(got, []string{"a", "b.txt"}) {
				t.Errorf("names %v", got)
			}
			ea, _ := d.Get(ctx, "a")
			if ea.Kind() != dirnode.KindDir || ea.Write.String() != sub.Cap().String() {
				t.Errorf("subdir entry %v %v", ea.Kind(), ea.Write)
			}

			// Unknown caps need a prefix to be linked alone.
			if err := d.Set(ctx, "future", mustParse(t, "URI:NEWKIND:x"), nil, ReplaceAny); !errors.Is(err, dirnode.ErrUnknownWriteCap) {
				t.Errorf("unknown write cap: %v", err)
			}
			if err := d.Set(ctx, "future", mustParse(t, "ro.URI:NEWKIND:x"), nil, ReplaceAny); err != nil {
				t.Errorf("unknown read cap: %v", err)
			}

			// Delete, rename.
			rm, err := d.Delete(ctx, "future")
			if err != nil || rm.Read.String() != "ro.URI:NEWKIND:x" {
				t.Errorf("Delete: %v %v", rm, err)
			}
			if _, err := d.Delete(ctx, "future"); !errors.Is(err, ErrNoChild) {
				t.Errorf("Delete of a missing child: %v", err)
			}
			if err := d.Rename(ctx, "b.txt", "a", ReplaceNone); !errors.Is(err, ErrExists) {
				t.Errorf("Rename onto a taken name: %v", err)
			}
			if err := d.Rename(ctx, "nope", "x", ReplaceAny); !errors.Is(err, ErrNoChild) {
				t.Errorf("Rename of a missing child: %v", err)
			}
			if err := d.Rename(ctx, "nope", "nope", ReplaceAny); err != nil {
				t.Errorf("Rename to the same name: %v", err)
			}
			if err := d.Rename(ctx, "b.txt", "c.txt", ReplaceNone); err != nil {
				t.Fatal(err)
			}
			ec, _ := d.Get(ctx, "c.txt")
			if v, _ := ec.Metadata.Get("color"); v != "blue" || ec.Cap().String() != lit.String() {
				t.Errorf("renamed entry %+v", ec)
			}
			if got := names(t, d); !slices.Equal(got, []string{"a", "c.txt"}) {
				t.Errorf("names after rename %v", got)
			}

			// Move into the subdirectory, keeping the name.
			if err := d.Move(ctx, "c.txt", sub, "", ReplaceNone); err != nil {
				t.Fatal(err)
			}
			if got := names(t, sub); !slices.Equal(got, []string{"c.txt"}) {
				t.Errorf("sub after move %v", got)
			}
			if got := names(t, d); !slices.Equal(got, []string{"a"}) {
				t.Errorf("dir after move %v", got)
			}
			if err := sub.Move(ctx, "c.txt", d.ReadOnly(), "", ReplaceAny); !errors.Is(err, ErrNotWritable) {
				t.Errorf("Move into a read-only directory: %v", err)
			}

			// Paths.
			e, err = c.Resolve(ctx, d.Cap(), "/a//c.txt")
			if err != nil || e.Name != "c.txt" {
				t.Errorf("Resolve: %v %v", e, err)
			}
			if _, err := c.Resolve(ctx, d.Cap(), "a/c.txt/deeper"); !errors.Is(err, ErrNotDir) {
				t.Errorf("Resolve below a file: %v", err)
			}
			if _, err := c.Resolve(ctx, d.Cap(), "a/nope"); !errors.Is(err, ErrNoChild) || !strings.Contains(err.Error(), "a/nope") {
				t.Errorf("Resolve of a missing child: %v", err)
			}
			if e, err := d.Lookup(ctx, ""); err != nil || e.Write.String() != d.Cap().String() {
				t.Errorf("Lookup of the empty path: %v %v", e, err)
			}
			n, err := d.Child(ctx, "a")
			if sd, ok := n.(*Dir); err != nil || !ok || sd.Cap().String() != sub.Cap().String() {
				t.Errorf("Child: %v %v", n, err)
			}

			// Unlinking the only child leaves an empty directory.
			if _, err := sub.Delete(ctx, "c.txt"); err != nil {
				t.Fatal(err)
			}
			if got := names(t, sub); len(got) != 0 {
				t.Errorf("after deleting the only child: %v", got)
			}
			if got, err := c.Dir(sub.Cap()); err != nil || len(names(t, got)) != 0 {
				t.Errorf("after deleting the only child, a new handle lists %v", names(t, got))
			}
		})
	}
}

func TestReadOnlyViews(t *testing.T) {
	ctx := context.Background()
	c, _ := newTestClient(t)
	root, err := c.CreateDir(ctx, cap.SDMF)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := root.Mkdir(ctx, "sub", cap.MDMF, ReplaceNone)
	if err != nil {
		t.Fatal(err)
	}
	mk, err := c.CreateMutable(ctx, []byte("m"), cap.SDMF)
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Set(ctx, "m", mk, nil, ReplaceNone); err != nil {
		t.Fatal(err)
	}

	// Through the write cap the children's write caps show.
	e, err := c.Resolve(ctx, root.Cap(), "sub/m")
	if err != nil || e.Write == nil || e.Write.String() != mk.String() {
		t.Fatalf("through the write cap: %v %v", e, err)
	}
	// Through the read cap, at any depth, they never do.
	for _, ro := range []cap.Cap{root.ReadOnlyCap(), root.ReadOnly().Cap()} {
		d, err := c.OpenDir(ctx, ro)
		if err != nil {
			t.Fatal(err)
		}
		if !d.IsReadOnly() || d.ReadOnly() != d {
			t.Errorf("%s: not read-only", ro)
		}
		for _, path := range []string{"sub", "sub/m"} {
			e, err := d.Lookup(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			if e.Write != nil || !e.Read.IsReadOnly() || strings.Contains(fmt.Sprint(e), mk.String()) {
				t.Errorf("%s through a read cap: %+v", path, e)
			}
		}
		child, err := d.Child(ctx, "sub")
		if err != nil {
			t.Fatal(err)
		}
		cd := child.(*Dir)
		if !cd.IsReadOnly() {
			t.Errorf("child of a read-only dir is writable")
		}
		for name, err := range map[string]error{
			"Set":    d.Set(ctx, "x", mk, nil, ReplaceAny),
			"Delete": func() error { _, err := d.Delete(ctx, "sub"); return err }(),
			"Rename": d.Rename(ctx, "sub", "x", ReplaceAny),
			"Mkdir":  func() error { _, err := cd.Mkdir(ctx, "x", cap.SDMF, ReplaceAny); return err }(),
			"Upload": func() error {
				_, err := d.Upload(ctx, "x", bytes.NewReader([]byte("x")), 1, UploadOptions{}, ReplaceAny)
				return err
			}(),
		} {
			if !errors.Is(err, ErrNotWritable) {
				t.Errorf("%s in a read-only dir: %v", name, err)
			}
		}
	}
}

func TestImmutableDirs(t *testing.T) {
	ctx := context.Background()
	c, _ := newTestClient(t)
	data := bytes.Repeat([]byte("immutable child\n"), 10)
	up, err := c.Upload(ctx, bytes.NewReader(data), int64(len(data)), UploadOptions{})
	chk := up.Cap
	if err != nil {
		t.Fatal(err)
	}
	md := &dirnode.Object{}
	md.Set("k", "v")
	kids := []dirnode.Entry{
		{Name: "file.txt", Read: chk, Metadata: md},
		{Name: "lit.txt", Read: mustParse(t, "URI:LIT:nbswy3dp")},
		{Name: "future", Read: &cap.Unknown{S: "imm.URI:NEWKIND:x"}},
	}
	d, err := c.CreateImmutableDir(ctx, kids)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(d.Cap().String(), "URI:DIR2-CHK:") || d.IsMutable() || !d.IsReadOnly() {
		t.Fatalf("immutable dir %s", d.Cap())
	}
	again, err := c.CreateImmutableDir(ctx, kids)
	if err != nil || again.Cap().String() != d.Cap().String() {
		t.Errorf("not convergent: %v %v", again.Cap(), err)
	}
	// Opened afresh, it lists what it was given, metadata as stored.
	fresh, err := c.OpenDir(ctx, d.Cap())
	if err != nil {
		t.Fatal(err)
	}
	entries, err := fresh.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 3 || entries[0].Name != "file.txt" || entries[2].Name != "lit.txt" {
		t.Fatalf("entries %v", entries)
	}
	if v, _ := entries[0].Metadata.Get("k"); v != "v" || entries[0].Metadata.Len() != 1 || entries[2].Metadata.Len() != 0 {
		t.Errorf("metadata %v %v", entries[0].Metadata.Keys(), entries[2].Metadata.Keys())
	}
	entries[0].Metadata.Set("k", "changed") // the caller's copy
	if e, _ := fresh.Get(ctx, "file.txt"); func() any { v, _ := e.Metadata.Get("k"); return v }() != "v" {
		t.Errorf("List handed out the cached metadata")
	}
	if err := fresh.Set(ctx, "x", chk, nil, ReplaceAny); !errors.Is(err, ErrNotWritable) {
		t.Errorf("Set in an immutable dir: %v", err)
	}

	// Mutable children are refused.
	mk, err := c.CreateMutable(ctx, []byte("m"), cap.SDMF)
	if err != nil {
		t.Fatal(err)
	}
	e, err := EntryFor("m", mk.ReadOnly(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateImmutableDir(ctx, []dirnode.Entry{e}); !errors.Is(err, cap.ErrNotImmutable) {
		t.Errorf("mutable child: %v", err)
	}

	// Small ones are LIT; linked into a mutable dir.
	root, err := c.CreateDir(ctx, cap.SDMF)
	if err != nil {
		t.Fatal(err)
	}
	small, err := root.MkdirImmutable(ctx, "imm", nil, ReplaceNone)
	if err != nil || small.Cap().String() != "URI:DIR2-LIT:" {
		t.Fatalf("empty immutable dir: %v %v", small, err)
	}
	e, err = root.Get(ctx, "imm")
	if err != nil || e.Kind() != dirnode.KindDir || e.Write != nil {
		t.Errorf("linked immutable dir: %+v %v", e, err)
	}
}

func TestMkdirWithChildren(t *testing.T) {
	ctx := context.Background()
	c, _ := newTestClient(t)
	root, err := c.CreateDir(ctx, cap.SDMF)
	if err != nil {
		t.Fatal(err)
	}
	md := &dirnode.Object{}
	md.Set("mtime", 1202777696.756414)
	lit, err := dirnode.NewEntry("lit.txt", "URI:LIT:nbswy3dp", "", md, false)
	if err != nil {
		t.Fatal(err)
	}
	kid, err := root.MkdirWithChildren(ctx, "kids", cap.MDMF, []dirnode.Entry{lit}, ReplaceNone)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(kid.Cap().String(), "URI:DIR2-MDMF:") {
		t.Errorf("cap %s", kid.Cap())
	}
	e, err := c.Resolve(ctx, root.Cap(), "kids/lit.txt")
	if err != nil {
		t.Fatal(err)
	}
	// Stored as given: no linkcrtime/linkmotime.
	if got := e.Metadata.Keys(); !slices.Equal(got, []string{"mtime"}) {
		t.Errorf("metadata keys %v", got)
	}
	if _, err := root.MkdirWithChildren(ctx, "kids", cap.SDMF, nil, ReplaceNone); !errors.Is(err, ErrExists) {
		t.Errorf("Mkdir over a taken name: %v", err)
	}
}

func TestMissingDir(t *testing.T) {
	ctx := context.Background()
	c, _ := newTestClient(t)
	k := mustParse(t, "URI:DIR2:jsdzauczbwhen3j7vd4hsym7ga:rwgwwuudru2ia46naxtemtnj7irks6khygeziog42t5fjsyzptdq")
	d, err := c.Dir(k) // no I/O
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.List(ctx); !errors.Is(err, mutable.ErrNoShares) {
		t.Errorf("List: %v", err)
	}
	if err := d.Set(ctx, "x", mustParse(t, "URI:LIT:nbswy3dp"), nil, ReplaceAny); !errors.Is(err, mutable.ErrNoShares) {
		t.Errorf("Set: %v", err)
	}
	if _, err := c.OpenDir(ctx, k); !errors.Is(err, mutable.ErrNoShares) {
		t.Errorf("OpenDir: %v", err)
	}
	for _, s := range []string{"URI:LIT:nbswy3dp", "URI:DIR2-Verifier:oovsfwxlw5tvkdeaus54flbyly:nrdyjlglt4vw23xwvdu7rhutgfnzkavnfqkat7jahekdjeeywbba"} {
		if _, err := c.Dir(mustParse(t, s)); !errors.Is(err, ErrNotDir) {
			t.Errorf("Dir(%s): %v", s, err)
		}
	}
}

// TestConcurrentWriters has several writers, each with its own handle on
// one directory, link children at the same time. Every change goes
// through test-and-set, so none is lost: a writer whose publish collides
// makes its change again on top of the other's.
func TestConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	c, g := newTestClient(t)
	root, err := c.CreateDir(ctx, cap.SDMF)
	if err != nil {
		t.Fatal(err)
	}
	// Slow servers make the writers' publishes overlap.
	for _, f := range g.Faults {
		f.Set(func(f *testgrid.Faults) { f.Delay = time.Millisecond })
	}
	lit := mustParse(t, "URI:LIT:nbswy3dp")
	const writers, each = 4, 4
	var wg sync.WaitGroup
	var mu sync.Mutex
	var collisions int
	for w := range writers {
		d, err := c.Dir(root.Cap())
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			for i := range each {
				name := fmt.Sprintf("w%d-%d", w, i)
				retried := false
				for {
					err := d.Set(ctx, name, lit, nil, ReplaceNone)
					if errors.Is(err, ErrUncoordinatedWrite) {
						// Even four attempts collided: the writer is told
						// that its change may or may not have been made,
						// and tries again.
						mu.Lock()
						collisions++
						mu.Unlock()
						retried = true
						continue
					}
					if errors.Is(err, ErrExists) && retried {
						if e, gerr := d.Get(ctx, name); gerr == nil && e.Cap().String() == lit.String() {
							break // the earlier attempt made it after all
						}
					}
					if err != nil {
						t.Error(err)
					}
					break
				}
			}
		})
	}
	wg.Wait()
	got := names(t, root)
	if len(got) != writers*each {
		t.Errorf("%d children, want %d: %v", len(got), writers*each, got)
	}
	t.Logf("%d calls failed with ErrUncoordinatedWrite and were made again", collisions)
}
