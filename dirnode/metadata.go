package dirnode

import (
	"errors"
	"fmt"
	"time"
)

// Metadata keys Tahoe maintains.
const (
	// MetaTahoe is the key of the sub-object Tahoe keeps for itself; a
	// client cannot set it.
	MetaTahoe = "tahoe"
	// MetaLinkCreated and MetaLinkModified are the times (float seconds
	// since the epoch) when the link was made and last changed, inside
	// the "tahoe" object.
	MetaLinkCreated  = "linkcrtime"
	MetaLinkModified = "linkmotime"
	// MetaNoWrite, when true, makes Add and SetMetadata link the child's
	// read cap only.
	MetaNoWrite = "no-write"
	// metaCtime is the pre-1.4.0 name of linkcrtime, still honoured.
	metaCtime = "ctime"
)

// ErrExists is returned by Add when a child of the name exists and may not
// be replaced. Tahoe: ExistingChildError.
var ErrExists = errors.New("child already exists")

// ErrNoChild is returned for a name the directory does not hold. Tahoe:
// NoSuchChildError.
var ErrNoChild = errors.New("no such child")

// Timestamp converts t to what Python's time.time() returns for that
// instant: float seconds since the epoch, the form of linkcrtime and
// linkmotime.
func Timestamp(t time.Time) float64 {
	ns := t.UnixNano()
	if ns%1e9 == 0 {
		return float64(ns / 1e9)
	}
	return float64(ns) / 1e9
}

// UpdateMetadata returns the metadata of a link after it is (re)made at
// time now, as Tahoe's dirnode.update_metadata does. old is the link's
// current metadata (nil for a new link); md is the metadata the client
// supplied (nil for none: old is kept).
//
//   - With md given, it replaces every key of old except "tahoe"; any
//     "tahoe" key in md is dropped and old's "tahoe" object kept.
//   - In the "tahoe" object, linkcrtime is set if absent (from the
//     pre-1.4 top-level "ctime" if old had one, else now), and linkmotime
//     is set to now.
//
// Key order follows Python's dict, so the result packs to the bytes Tahoe
// writes. old and md are not modified. A "tahoe" value that is not an
// object (Tahoe would fail) is replaced by a fresh object.
func UpdateMetadata(old, md *Object, now float64) *Object {
	res := old.Clone()
	oldCtime, hasCtime := res.Get(metaCtime)
	if md != nil {
		n := md.Clone()
		n.Delete(MetaTahoe)
		if t, ok := res.Get(MetaTahoe); ok {
			n.Set(MetaTahoe, t)
		}
		res = n
	}
	sys, _ := res.Get(MetaTahoe)
	sysmd, ok := sys.(*Object)
	if !ok {
		sysmd = &Object{}
	}
	if _, ok := sysmd.Get(MetaLinkCreated); !ok {
		if hasCtime && oldCtime != nil {
			sysmd.Set(MetaLinkCreated, oldCtime)
		} else {
			sysmd.Set(MetaLinkCreated, now)
		}
	}
	sysmd.Set(MetaLinkModified, now)
	res.Set(MetaTahoe, sysmd)
	return res
}

// Find returns the index of the entry named name (compared after NFC, as
// Tahoe looks names up), or -1.
func Find(entries []Entry, name string) int {
	n := NFC(name)
	for i := range entries {
		if entries[i].Name == n {
			return i
		}
	}
	return -1
}

// Replace says what Add does when a child of the same name exists. The
// zero value replaces anything, Tahoe's default.
type Replace int

// The values of Tahoe's overwrite argument (the web API's replace=).
const (
	ReplaceAny       Replace = iota // replace=true
	ReplaceNone                     // replace=false: ErrExists
	ReplaceOnlyFiles                // replace=only-files: ErrExists for a directory
)

// Add links the children adds into entries (the unpacked contents of a
// mutable directory) as Tahoe's Adder.modify does, and returns the new
// list; entries is not modified. Each add's Write and Read are checked as
// NewEntry does; its Metadata is the client's metadata (nil for none) and
// the link's metadata becomes UpdateMetadata(existing link's metadata or
// nil, add.Metadata, now). A link whose metadata then has a true
// "no-write" holds only the child's read cap. Names are normalised to NFC;
// the adds are applied in order, so a later add of the same name replaces
// an earlier one (or fails with ReplaceNone).
func Add(entries []Entry, adds []Entry, replace Replace, now float64) ([]Entry, error) {
	out := append([]Entry(nil), entries...)
	for _, a := range adds {
		name, err := NormalizeName(a.Name)
		if err != nil {
			return nil, err
		}
		if _, _, err := nodeURIs(&a, false); err != nil {
			return nil, fmt.Errorf("%w: child %q: %w", ErrBadEntry, name, err)
		}
		i := Find(out, name)
		var old *Object
		if i >= 0 {
			switch {
			case replace == ReplaceNone:
				return nil, fmt.Errorf("%w: %q", ErrExists, name)
			case replace == ReplaceOnlyFiles && out[i].Kind() == KindDir:
				return nil, fmt.Errorf("%w: %q is a directory", ErrExists, name)
			}
			old = out[i].Metadata
		}
		e := Entry{Name: name, Write: a.Write, Read: a.Read, Metadata: UpdateMetadata(old, a.Metadata, now)}
		if err := applyNoWrite(&e); err != nil {
			return nil, err
		}
		if i >= 0 {
			out[i] = e
		} else {
			out = append(out, e)
		}
	}
	return out, nil
}

// SetMetadata replaces the metadata of the child named name as Tahoe's
// MetadataSetter does: the link's metadata becomes UpdateMetadata(current,
// md, now), and a true "no-write" leaves only the read cap. md must not
// be nil. entries is not modified.
func SetMetadata(entries []Entry, name string, md *Object, now float64) ([]Entry, error) {
	if md == nil {
		md = &Object{}
	}
	i := Find(entries, name)
	if i < 0 {
		return nil, fmt.Errorf("%w: %q", ErrNoChild, NFC(name))
	}
	out := append([]Entry(nil), entries...)
	e := out[i]
	e.Metadata = UpdateMetadata(e.Metadata, md, now)
	if err := applyNoWrite(&e); err != nil {
		return nil, err
	}
	out[i] = e
	return out, nil
}

// Delete removes the child named name and returns the new list and the
// removed entry; entries is not modified.
func Delete(entries []Entry, name string) ([]Entry, Entry, error) {
	i := Find(entries, name)
	if i < 0 {
		return nil, Entry{}, fmt.Errorf("%w: %q", ErrNoChild, NFC(name))
	}
	removed := entries[i]
	out := append(append([]Entry(nil), entries[:i]...), entries[i+1:]...)
	return out, removed, nil
}

// applyNoWrite is Tahoe's _create_readonly_node, applied when the link's
// metadata says "no-write": the child keeps only its read cap.
func applyNoWrite(e *Entry) error {
	v, _ := e.Metadata.Get(MetaNoWrite)
	if !Truthy(v) || e.Write == nil {
		return nil
	}
	w, r, err := makeNode("", capString(e.Read), false)
	if err != nil {
		return fmt.Errorf("%w: child %q: %w", ErrBadEntry, e.Name, err)
	}
	e.Write, e.Read = w, r
	return nil
}
