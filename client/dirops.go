package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/dirnode"
	"github.com/lafs/lafs/mutable"
)

// CreateDir makes a new, empty mutable directory of the given format
// (cap.SDMF or cap.MDMF; MutableFormat is the configured default). It is
// linked nowhere: its write cap (d.Cap()) is the only way to it.
func (c *Client) CreateDir(ctx context.Context, format cap.Format) (*Dir, error) {
	return c.CreateDirWithChildren(ctx, format, nil)
}

// CreateDirWithChildren makes a new mutable directory holding children.
// Their metadata is stored as given ({} when nil), without the
// linkcrtime/linkmotime that linking into an existing directory adds, as
// Tahoe's t=mkdir-with-children does. Entries made by dirnode.NewEntry
// (or listed from another directory) are valid children.
func (c *Client) CreateDirWithChildren(ctx context.Context, format cap.Format, children []dirnode.Entry) (*Dir, error) {
	switch format {
	case cap.SDMF, cap.MDMF:
	default:
		return nil, fmt.Errorf("client: unknown mutable format %d", format)
	}
	if err := c.waitForServers(ctx); err != nil {
		return nil, err
	}
	keys, err := c.keys.NewKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("making a key for a new directory: %w", err)
	}
	packed, err := dirnode.Pack(children, keys.WriteKey[:], false)
	if err != nil {
		return nil, err
	}
	published := c.count.start(opPublish, int64(len(packed)))
	op := c.history.begin(ctx, OpKindPublish, keys.StorageIndex, int64(len(packed)))
	f, err := mutable.Create(ctx, c.cfg.Peers, keys, format, packed, c.mutableOptions())
	published()
	op.end(err)
	if err != nil {
		return nil, err
	}
	d, err := c.Dir(&cap.Dir{File: f.Cap()})
	if err != nil {
		return nil, err
	}
	d.file = f
	return d, nil
}

// CreateImmutableDir makes an immutable directory holding children, which
// must all be immutable (CHK and LIT files, immutable directories, and
// unknown caps given as immutable read caps, "imm."); anything else fails
// with an error wrapping cap.ErrNotImmutable. The packed entries are
// uploaded as an immutable file with the client's convergence secret, so
// the same children with the same metadata give the same cap: URI:DIR2-CHK,
// or URI:DIR2-LIT when they pack into 55 bytes or fewer.
func (c *Client) CreateImmutableDir(ctx context.Context, children []dirnode.Entry) (*Dir, error) {
	packed, err := dirnode.Pack(children, nil, true)
	if err != nil {
		return nil, err
	}
	entries, err := dirnode.Unpack(packed, nil, true)
	if err != nil {
		return nil, err
	}
	res, err := c.Upload(ctx, bytes.NewReader(packed), int64(len(packed)), UploadOptions{})
	if err != nil {
		return nil, err
	}
	d, err := c.Dir(&cap.Dir{File: res.Cap})
	if err != nil {
		return nil, err
	}
	d.entries, d.loaded = entries, true
	return d, nil
}

// modify changes a mutable directory by one read-modify-write of its
// file: change gets the current entries (first is false when the change is
// being made again after another writer got in the way) and returns the
// new ones, or ok false for no change.
//
// Every change of a directory fails with an error wrapping
// ErrUncoordinatedWrite when other writers kept getting in the way; the
// change may then have been made or not (some servers may hold it): look
// before making it again.
func (d *Dir) modify(ctx context.Context, change func(entries []dirnode.Entry, first bool) (nw []dirnode.Entry, ok bool, err error)) (err error) {
	if err := d.writable(); err != nil {
		return err
	}
	f, _, err := d.openFile(ctx)
	if err != nil {
		return err
	}
	op := d.c.history.begin(ctx, OpKindPublish, f.StorageIndex(), f.Size())
	defer func() { op.endSized(f.Size(), err) }()
	attempt := 0
	return d.c.count.modify(ctx, f, func(old []byte) ([]byte, error) {
		attempt++
		entries, err := dirnode.Unpack(old, d.writeKey, false)
		if err != nil {
			return nil, err
		}
		nw, ok, err := change(entries, attempt == 1)
		if err != nil || !ok {
			return nil, err
		}
		packed, err := dirnode.Pack(nw, d.writeKey, false)
		if packed == nil && err == nil {
			packed = []byte{} // an empty directory: still a change
		}
		return packed, err
	})
}

// EntryFor makes the entry that links child under name with metadata md
// (nil for none), as Tahoe's set_uri does with a single cap: the read cap
// of a known write cap is derived; an unknown cap must carry an "ro." or
// "imm." prefix, since nothing says it may be shown to readers.
func EntryFor(name string, child cap.Cap, md *dirnode.Object) (dirnode.Entry, error) {
	if child == nil {
		return dirnode.Entry{}, fmt.Errorf("%w: child %q: no cap", dirnode.ErrBadEntry, name)
	}
	return dirnode.NewEntry(name, child.String(), "", md, false)
}

// Set links child under name. md is the link's metadata from the caller
// (nil: keep that of the link it replaces, if any); Tahoe's own
// "tahoe" key (linkcrtime, linkmotime) is kept up to date and cannot be
// set. replace says what to do when the name is taken.
func (d *Dir) Set(ctx context.Context, name string, child cap.Cap, md *dirnode.Object, replace Replace) error {
	e, err := EntryFor(name, child, md)
	if err != nil {
		return err
	}
	return d.SetChildren(ctx, []dirnode.Entry{e}, replace)
}

// SetChildren links several children at once, in one change of the
// directory, each as Set does (their Metadata is the caller's metadata).
// Entries made by dirnode.NewEntry are valid; so are entries listed from
// another directory. If one name is taken and may not be replaced, none
// is linked.
func (d *Dir) SetChildren(ctx context.Context, adds []dirnode.Entry, replace Replace) error {
	return d.modify(ctx, func(entries []dirnode.Entry, first bool) ([]dirnode.Entry, bool, error) {
		todo := adds
		if !first && replace != ReplaceAny {
			// An earlier attempt may have landed before another writer's
			// change made it look like a failure: what it linked is no
			// clash.
			todo = nil
			for _, a := range adds {
				if i := dirnode.Find(entries, a.Name); i < 0 || !sameNode(entries[i], a) {
					todo = append(todo, a)
				}
			}
		}
		out, err := dirnode.Add(entries, todo, replace, dirnode.Timestamp(time.Now()))
		return out, err == nil, err
	})
}

// sameNode reports whether two entries link the same node with the same
// access.
func sameNode(a, b dirnode.Entry) bool {
	return capString(a.Cap()) == capString(b.Cap()) && capString(a.Read) == capString(b.Read)
}

func capString(c cap.Cap) string {
	if c == nil {
		return ""
	}
	return c.String()
}

// Delete unlinks the child named name and returns its entry. The child
// itself is not destroyed: anyone holding its cap still reaches it.
func (d *Dir) Delete(ctx context.Context, name string) (dirnode.Entry, error) {
	var removed *dirnode.Entry
	err := d.modify(ctx, func(entries []dirnode.Entry, first bool) ([]dirnode.Entry, bool, error) {
		out, rm, err := dirnode.Delete(entries, name)
		if errors.Is(err, dirnode.ErrNoChild) && removed != nil {
			return nil, false, nil // an earlier attempt removed it after all
		}
		if err != nil {
			return nil, false, err
		}
		removed = &rm
		return out, true, nil
	})
	if err != nil {
		return dirnode.Entry{}, err
	}
	return *removed, nil
}

// Rename gives the child named from the name to, in one change of the
// directory. The link keeps its metadata but gets a new linkcrtime, as in
// Tahoe. Renaming a child to its own name does nothing, even if there is
// no such child (as in Tahoe).
func (d *Dir) Rename(ctx context.Context, from, to string, replace Replace) error {
	if err := d.writable(); err != nil {
		return err
	}
	if dirnode.NFC(from) == dirnode.NFC(to) {
		return nil
	}
	var moved *dirnode.Entry
	return d.modify(ctx, func(entries []dirnode.Entry, first bool) ([]dirnode.Entry, bool, error) {
		out, e, err := dirnode.Delete(entries, from)
		if errors.Is(err, dirnode.ErrNoChild) && moved != nil {
			if i := dirnode.Find(entries, to); i >= 0 && sameNode(entries[i], *moved) {
				return nil, false, nil // an earlier attempt moved it after all
			}
		}
		if err != nil {
			return nil, false, err
		}
		moved = &e
		md := e.Metadata
		if md == nil {
			md = &dirnode.Object{}
		}
		out, err = dirnode.Add(out, []dirnode.Entry{{Name: to, Write: e.Write, Read: e.Read, Metadata: md}},
			replace, dirnode.Timestamp(time.Now()))
		return out, err == nil, err
	})
}

// Move moves the child named from into the directory dst under the name
// to ("" keeps the name). The link keeps its metadata but gets a new
// linkcrtime. Within one directory it is Rename; between two, the child is
// linked into dst first and then unlinked from d, as Tahoe's
// move_child_to does, so that a failure in between leaves it in both
// places rather than in none.
func (d *Dir) Move(ctx context.Context, from string, dst *Dir, to string, replace Replace) error {
	if to == "" {
		to = from
	}
	if err := d.writable(); err != nil {
		return err
	}
	if err := dst.writable(); err != nil {
		return err
	}
	if d.cap.String() == dst.cap.String() {
		return d.Rename(ctx, from, to, replace)
	}
	e, err := d.Get(ctx, from)
	if err != nil {
		return err
	}
	md := e.Metadata
	if md == nil {
		md = &dirnode.Object{}
	}
	if err := dst.SetChildren(ctx, []dirnode.Entry{{Name: to, Write: e.Write, Read: e.Read, Metadata: md}}, replace); err != nil {
		return err
	}
	if _, err := d.Delete(ctx, from); err != nil && !errors.Is(err, ErrNoChild) {
		return err
	}
	return nil
}

// Mkdir makes a new, empty mutable directory of the given format and
// links it under name; it returns the new directory.
func (d *Dir) Mkdir(ctx context.Context, name string, format cap.Format, replace Replace) (*Dir, error) {
	return d.MkdirWithChildren(ctx, name, format, nil, replace)
}

// MkdirWithChildren makes a new mutable directory holding children (as
// Client.CreateDirWithChildren) and links it under name.
func (d *Dir) MkdirWithChildren(ctx context.Context, name string, format cap.Format, children []dirnode.Entry, replace Replace) (*Dir, error) {
	if err := d.writable(); err != nil {
		return nil, err
	}
	nd, err := d.c.CreateDirWithChildren(ctx, format, children)
	if err != nil {
		return nil, err
	}
	if err := d.Set(ctx, name, nd.Cap(), nil, replace); err != nil {
		return nil, err
	}
	return nd, nil
}

// MkdirImmutable makes an immutable directory holding children (as
// Client.CreateImmutableDir) and links it under name.
func (d *Dir) MkdirImmutable(ctx context.Context, name string, children []dirnode.Entry, replace Replace) (*Dir, error) {
	if err := d.writable(); err != nil {
		return nil, err
	}
	nd, err := d.c.CreateImmutableDir(ctx, children)
	if err != nil {
		return nil, err
	}
	if err := d.Set(ctx, name, nd.Cap(), nil, replace); err != nil {
		return nil, err
	}
	return nd, nil
}

// Upload stores the size bytes of r as an immutable file (see
// Client.Upload) and links it under name. Nothing is uploaded when the
// directory cannot be changed.
func (d *Dir) Upload(ctx context.Context, name string, r io.ReaderAt, size int64, o UploadOptions, replace Replace) (*UploadResult, error) {
	if err := d.writable(); err != nil {
		return nil, err
	}
	res, err := d.c.Upload(ctx, r, size, o)
	if err != nil {
		return nil, err
	}
	if err := d.Set(ctx, name, res.Cap, nil, replace); err != nil {
		return nil, err
	}
	return res, nil
}
