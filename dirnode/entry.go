package dirnode

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/lafs/lafs/cap"
)

// ErrBadEntry is wrapped by every error about one entry: a name that is not
// UTF-8, caps that Tahoe would refuse to link (see NewEntry), a child not
// allowed in an immutable directory, a duplicate name.
var ErrBadEntry = errors.New("bad directory entry")

// ErrUnknownWriteCap: a cap of an unknown kind was given only in the write
// slot, with no read cap and no "ro."/"imm." prefix, so nothing says it may
// be shown to readers. Tahoe: MustNotBeUnknownRWError.
var ErrUnknownWriteCap = errors.New("unknown cap given as a write cap with no read cap")

// ErrCorrupt is wrapped by the errors Unpack returns for bytes that are
// not a packed directory (bad netstrings, a name that is not UTF-8, bad
// metadata JSON, write caps in an immutable directory). Tahoe fails the
// whole read in these cases too.
var ErrCorrupt = errors.New("corrupt directory contents")

// Entry is one child of a directory: a name, the child's caps and the
// metadata of the link.
//
// The caps follow Tahoe's model of a child node. For a kind Tahoe knows
// (CHK, LIT, SSK/MDMF write and read caps, and the directories over them):
//
//	Write  the write cap (*cap.MutableWrite, or a *cap.Dir over one), or nil
//	       when the child is read-only or immutable, or the directory was
//	       read without its write key
//	Read   the read cap (Write.ReadOnly() when Write is set)
//
// Anything else (a kind from a future Tahoe, a verify cap, a malformed cap
// that is kept rather than refused) is held as *cap.Unknown strings, exactly
// as Tahoe's UnknownNode holds them: Write is the write cap verbatim or nil,
// and Read the read cap carrying an "ro." prefix (in a mutable directory) or
// an "imm." prefix (in an immutable one). An entry may have no caps at all
// (Tahoe keeps such entries: a future write-only cap seen by a reader).
//
// NewEntry builds entries from cap strings with all of Tahoe's checks, and
// Unpack returns entries of this form.
type Entry struct {
	Name  string
	Write cap.Cap
	Read  cap.Cap
	// Metadata is the link's metadata object; nil is written as {}.
	// Tahoe keeps {"tahoe": {"linkcrtime": t, "linkmotime": t}} in it
	// (see UpdateMetadata).
	Metadata *Object
}

// Cap returns the strongest cap of the entry: Write if set, else Read
// (nil if the entry has neither).
func (e *Entry) Cap() cap.Cap {
	if e.Write != nil {
		return e.Write
	}
	return e.Read
}

// Kind says how Tahoe treats a child: as a file, a directory, or an
// unknown node.
type Kind int

// The kinds of child, named as in Tahoe's t=json ("filenode", "dirnode",
// "unknown").
const (
	KindUnknown Kind = iota
	KindFile
	KindDir
)

// String returns the kind as t=json names it: "filenode", "dirnode" or
// "unknown".
func (k Kind) String() string {
	switch k {
	case KindFile:
		return "filenode"
	case KindDir:
		return "dirnode"
	}
	return "unknown"
}

// Kind classifies the entry as Tahoe does: a file or directory of a kind
// it can open, else unknown.
func (e *Entry) Kind() Kind { return kindOf(e.Cap()) }

// kindOf classifies a cap as Tahoe's nodemaker does. Verify caps (and
// URI:DIR2*-Verifier caps) are not nodes Tahoe lists: the nodemaker makes
// an UnknownNode of them (URI:CHK-Verifier gets a CiphertextFileNode that
// Tahoe's directory code cannot actually list; lafs treats it as unknown).
func kindOf(c cap.Cap) Kind {
	switch c := c.(type) {
	case *cap.CHK, *cap.LIT, *cap.MutableWrite, *cap.MutableRead:
		return KindFile
	case *cap.Dir:
		switch c.File.(type) {
		case *cap.CHK, *cap.LIT, *cap.MutableWrite, *cap.MutableRead:
			return KindDir
		}
	}
	return KindUnknown
}

// NewEntry builds the entry that Tahoe links when given a name, a write cap
// and a read cap as strings (either may be empty), as its
// nodemaker.create_from_cap(rw, ro, deep_immutable) followed by
// node.raise_error() does. This is what t=set_children, t=mkdir-with-children
// and t=uri do with the caps a client sends.
//
//   - The name is normalised to NFC; it must be UTF-8. Tahoe puts no other
//     limit on names at this level (the web API refuses "/" in name=).
//   - If the stronger cap (rw, else ro) is of a kind Tahoe can open, the
//     entry is made from it alone and ro is ignored: a write cap gives
//     Write and its Read; a read-only cap gives Read only.
//   - Otherwise the caps are kept as unknown, with Tahoe's checks: an
//     unknown write cap needs a read cap (or an "ro."/"imm." prefix on
//     itself) else ErrUnknownWriteCap; the read cap must not be a write cap
//     ("ro.URI:SSK:..." fails with cap.ErrNotReadOnly) nor malformed; and
//     in a deep-immutable context (deepImmutable true: the children of an
//     immutable directory) there may be no write cap and every cap must be
//     immutable (cap.ErrNotImmutable).
//
// Every error wraps ErrBadEntry. md may be nil.
func NewEntry(name, rw, ro string, md *Object, deepImmutable bool) (Entry, error) {
	n, err := NormalizeName(name)
	if err != nil {
		return Entry{}, err
	}
	w, r, err := makeNode(rw, ro, deepImmutable)
	if err != nil {
		return Entry{}, fmt.Errorf("%w: child %q: %w", ErrBadEntry, n, err)
	}
	return Entry{Name: n, Write: w, Read: r, Metadata: md}, nil
}

// NormalizeName returns name in NFC, as Tahoe's dirnode.normalize does
// with every name going into or out of a directory. A name that is not
// UTF-8 is an error wrapping ErrBadEntry.
func NormalizeName(name string) (string, error) {
	if !utf8.ValidString(name) {
		return "", fmt.Errorf("%w: name %q is not UTF-8", ErrBadEntry, name)
	}
	return NFC(name), nil
}

// makeNode is Tahoe's nodemaker.create_from_cap plus raise_error: it
// returns the node's write and read caps.
func makeNode(rw, ro string, deepImmutable bool) (w, r cap.Cap, err error) {
	big := rw
	if big == "" {
		big = ro
	}
	if big == "" {
		// UnknownNode(None, None): no caps at all, and no error.
		return nil, nil, nil
	}
	c, perr := cap.ParseChild(big, deepImmutable)
	if perr == nil && kindOf(c) != KindUnknown {
		if c.IsReadOnly() {
			return nil, c, nil
		}
		return c, c.ReadOnly(), nil
	}
	// The nodemaker makes an UnknownNode(rw, ro) of anything else; the
	// error of parsing the stronger cap is not kept (the checks below
	// find what matters).
	return unknownNode(rw, ro, deepImmutable)
}

// unknownNode is Tahoe's UnknownNode.__init__ (unknown.py), with the error
// it records returned instead.
func unknownNode(rw, ro string, deepImmutable bool) (w, r cap.Cap, err error) {
	if rw != "" {
		if deepImmutable {
			switch {
			case strings.HasPrefix(rw, cap.ImmutablePrefix) && ro == "":
				// An immutable cap given in the write slot: moved to ro below.
			case ro == "":
				return nil, nil, fmt.Errorf("%w: cannot attach unknown rw cap as immutable child", ErrUnknownWriteCap)
			default:
				return nil, nil, fmt.Errorf("%w: cannot attach unknown rw cap as immutable child", cap.ErrNotImmutable)
			}
		}
		if ro == "" {
			if !strings.HasPrefix(rw, cap.ReadOnlyPrefix) && !strings.HasPrefix(rw, cap.ImmutablePrefix) {
				return nil, nil, fmt.Errorf("%w: cannot attach unknown rw cap as child", ErrUnknownWriteCap)
			}
			// A single prefixed cap: treat it as the read cap.
			ro, rw = rw, ""
		} else if strings.HasPrefix(ro, cap.ImmutablePrefix) {
			return nil, nil, fmt.Errorf("%w: cannot accept a child entry that specifies both rw_uri, and ro_uri with an imm. prefix", cap.ErrNotImmutable)
		}
	}
	if ro != "" {
		if _, err := cap.ParseChild(ro, deepImmutable); err != nil {
			return nil, nil, err
		}
	}
	if deepImmutable {
		if ro == "" {
			return nil, nil, nil
		}
		switch {
		case strings.HasPrefix(ro, cap.ImmutablePrefix):
		case strings.HasPrefix(ro, cap.ReadOnlyPrefix):
			ro = cap.ImmutablePrefix + ro[len(cap.ReadOnlyPrefix):]
		default:
			ro = cap.ImmutablePrefix + ro
		}
		return nil, &cap.Unknown{S: ro}, nil
	}
	if rw != "" {
		w = &cap.Unknown{S: rw}
	}
	if ro != "" {
		if !strings.HasPrefix(ro, cap.ReadOnlyPrefix) && !strings.HasPrefix(ro, cap.ImmutablePrefix) {
			ro = cap.ReadOnlyPrefix + ro
		}
		r = &cap.Unknown{S: ro}
	}
	return w, r, nil
}

// nodeURIs returns what Tahoe's node for e would report as
// get_write_uri() and get_readonly_uri(), checking that e has the shape of
// such a node (Pack and Add take entries as nodes, as Tahoe's set_node
// does, without re-parsing their caps):
//
//   - a cap of a kind Tahoe knows, in either field, is the node: a write
//     cap gives both URIs (Read, if set, must be its read cap), a read-only
//     cap gives ro_uri only;
//   - otherwise Write and Read are taken as the strings Tahoe's
//     UnknownNode holds; a write cap needs a read cap beside it;
//   - in a deep-immutable directory the node must be immutable: no write
//     cap, no mutable known cap.
func nodeURIs(e *Entry, deepImmutable bool) (rw, ro string, err error) {
	c := e.Cap()
	if c == nil {
		return "", "", nil
	}
	if kindOf(c) != KindUnknown {
		if deepImmutable && c.IsMutable() {
			return "", "", fmt.Errorf("%w: %s is not allowed in an immutable directory", cap.ErrNotImmutable, cap.Kind(c))
		}
		if c.IsReadOnly() {
			return "", c.String(), nil
		}
		ro = c.ReadOnly().String()
		if e.Read != nil && e.Read != c && e.Read.String() != ro {
			return "", "", fmt.Errorf("the read cap is not the read cap of the write cap")
		}
		return c.String(), ro, nil
	}
	rw, ro = capString(e.Write), capString(e.Read)
	switch {
	case rw != "" && deepImmutable:
		return "", "", fmt.Errorf("%w: a write cap is not allowed in an immutable directory", cap.ErrNotImmutable)
	case rw != "" && ro == "":
		return "", "", fmt.Errorf("%w: cannot attach unknown rw cap as child", ErrUnknownWriteCap)
	}
	return rw, ro, nil
}

// allowedInImmutable is Tahoe's is_allowed_in_immutable_directory for a
// node made by makeNode without error.
func allowedInImmutable(w, r cap.Cap) bool {
	c := w
	if c == nil {
		c = r
	}
	if c == nil {
		return true
	}
	if kindOf(c) != KindUnknown {
		return !c.IsMutable()
	}
	return w == nil
}

// capString is c.String(), or "" for nil.
func capString(c cap.Cap) string {
	if c == nil {
		return ""
	}
	return c.String()
}

// stripPrefixForRO is Tahoe's strip_prefix_for_ro: what goes into the
// ro_uri slot of a packed entry.
func stripPrefixForRO(ro string, deepImmutable bool) string {
	switch {
	case strings.HasPrefix(ro, cap.ImmutablePrefix):
		if !deepImmutable {
			return ro
		}
		return ro[len(cap.ImmutablePrefix):]
	case strings.HasPrefix(ro, cap.ReadOnlyPrefix):
		return ro[len(cap.ReadOnlyPrefix):]
	}
	return ro
}
