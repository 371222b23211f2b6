package dirnode

import (
	"errors"

	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/pyjson"
)

// ErrNotDir is returned by JSON for a cap that is not a directory Tahoe
// can list (not a URI:DIR2* cap, or a directory verify cap).
var ErrNotDir = errors.New("not a listable directory cap")

// JSON returns the t=json listing of a directory exactly as Tahoe's web
// API writes it (web/directory.py, json.dumps(data, indent=1) + "\n"):
//
//	["dirnode", {"children": {NAME: CHILD, ...}, "ro_uri": ..., "rw_uri": ...,
//	             "verify_uri": ..., "mutable": bool}]
//
// with rw_uri only for a write cap and verify_uri only when there is one
// (not for DIR2-LIT). Children keep the order of entries (Unpack's order:
// sorted). Each CHILD is
//
//	["filenode", {"mutable", "format" (CHK, SDMF, MDMF), "size" (CHK and
//	              LIT only; Tahoe does not know a mutable file's size here),
//	              "metadata", "rw_uri"?, "ro_uri", "verify_uri"? (not LIT)}]
//	["dirnode",  {"mutable", "metadata", "rw_uri"?, "ro_uri", "verify_uri"?}]
//	["unknown",  {"metadata", "rw_uri"?, "ro_uri"?}]
//
// in that key order. Unknown children show their caps as held (the read cap
// with its "ro." or "imm." prefix). When dirCap is read-only, no child's
// rw_uri is shown even if entries carry write caps.
func JSON(dirCap cap.Cap, entries []Entry) ([]byte, error) {
	v, err := listing(dirCap, entries)
	if err != nil {
		return nil, err
	}
	b, err := pyjson.MarshalIndent(v, 1)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// listing returns the value that JSON writes.
func listing(dirCap cap.Cap, entries []Entry) ([]any, error) {
	d, ok := dirCap.(*cap.Dir)
	if !ok || kindOf(d) != KindDir {
		return nil, ErrNotDir
	}
	readOnly := d.IsReadOnly()
	kids := &Object{}
	for i := range entries {
		e := &entries[i]
		kids.Set(e.Name, childJSON(e, readOnly))
	}
	top := &Object{}
	top.Set("children", kids)
	if ro := d.ReadOnly(); ro != nil {
		top.Set("ro_uri", ro.String())
	}
	if !readOnly {
		top.Set("rw_uri", d.String())
	}
	if v := d.Verifier(); v != nil {
		top.Set("verify_uri", v.String())
	}
	top.Set("mutable", d.IsMutable())
	return []any{"dirnode", top}, nil
}

// childJSON is one child of a t=json listing, as _directory_json_metadata
// and get_filenode_metadata build it.
func childJSON(e *Entry, dirReadOnly bool) []any {
	c := e.Cap()
	props := &Object{}
	kind := kindOf(c)
	switch kind {
	case KindFile:
		props.Set("mutable", c.IsMutable())
		switch f := c.(type) {
		case *cap.CHK:
			props.Set("format", "CHK")
			props.Set("size", f.Size)
		case *cap.LIT:
			props.Set("format", "CHK")
			props.Set("size", len(f.Data))
		case *cap.MutableWrite:
			props.Set("format", f.Format.String())
		case *cap.MutableRead:
			props.Set("format", f.Format.String())
		}
	case KindDir:
		props.Set("mutable", c.IsMutable())
	}
	md := e.Metadata
	if md == nil {
		md = &Object{}
	}
	props.Set("metadata", md)
	if e.Write != nil && !dirReadOnly {
		props.Set("rw_uri", e.Write.String())
	}
	ro := e.Read
	if kind != KindUnknown {
		ro = c.ReadOnly() // what Tahoe's node reports, whatever Read holds
	}
	if ro != nil {
		props.Set("ro_uri", ro.String())
	}
	if kind != KindUnknown {
		if v := c.Verifier(); v != nil {
			props.Set("verify_uri", v.String())
		}
	}
	return []any{kind.String(), props}
}
