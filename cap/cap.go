// Package cap parses and formats Tahoe-LAFS capabilities ("caps", the URI:
// strings that name files and directories and grant access to them), as
// Tahoe 1.20's src/allmydata/uri.py does and docs/specifications/uri.rst
// describes.
//
// # Kinds
//
// Every cap is one of these types, always used as a pointer:
//
//	*CHK              URI:CHK:key:uebhash:k:N:size        immutable file, read cap
//	*CHKVerifier      URI:CHK-Verifier:si:uebhash:k:N:size
//	*LIT              URI:LIT:data                        tiny immutable file, data inline
//	*MutableWrite     URI:SSK:writekey:fp   (SDMF)        mutable file, write cap
//	                  URI:MDMF:writekey:fp  (MDMF)
//	*MutableRead      URI:SSK-RO:, URI:MDMF-RO:readkey:fp
//	*MutableVerifier  URI:SSK-Verifier:, URI:MDMF-Verifier:si:fp
//	*Dir              URI:DIR2*: a directory, wrapping one of the file caps above
//	*Unknown          anything else, kept verbatim
//
// A Dir holds the file cap whose contents are the directory: URI:DIR2 wraps
// an SDMF write cap, URI:DIR2-MDMF-RO an MDMF read cap, URI:DIR2-CHK a CHK,
// URI:DIR2-LIT a LIT, and so on; the text after the kind is the file cap's.
//
// # Diminishing
//
// Access only ever weakens: write -> read -> verify. ReadOnly and Verifier
// derive the weaker caps by one-way hashes (write key -> read key -> storage
// index; CHK key -> storage index). Immutable caps and verifiers are their own
// read caps; LIT and DIR2-LIT have no verify cap (their data is in the cap).
//
// # Strictness
//
// Parse accepts exactly what Tahoe's uri.from_string accepts, and where
// Tahoe refuses a cap of a known kind (it then keeps it as an "unknown" cap
// carrying the error), Parse returns an error wrapping ErrInvalid that names
// the field at fault. Tahoe's quirks are kept on purpose:
//
//   - base32 must be lower case, of the exact length, with zero unused bits
//     in the last character;
//   - numbers are ASCII digits, leading zeros allowed ("03" is 3);
//   - one trailing "\n" is accepted (Python's "$" matches before it);
//   - MDMF caps (and the DIR2-MDMF caps over them) accept and ignore
//     anything after ":" following the fingerprint (extension fields);
//   - URI:CHK-Verifier (and URI:DIR2-CHK-Verifier) is not anchored at the
//     end: anything may follow the digits of the size.
//
// Parse is stricter than Tahoe in one respect: Tahoe's regular expressions
// accept any k, N and size, which later fail (k=0 divides by zero, k>N or
// N>256 cannot be decoded by zfec). Parse rejects k<1, N<k, N>256 and a size
// that does not fit in 64 bits, since no file can have them.
//
// Canonical forms round-trip: Parse(s).String() == s. Non-canonical input
// (leading zeros, MDMF extensions, a "ro." prefix, a trailing newline)
// comes out canonical, as Tahoe's to_string does.
//
// Error messages name the kind and the field but never echo the cap, which
// may hold a secret key.
package cap

import (
	"errors"
	"fmt"
	"strings"

	"github.com/lafs/lafs"
)

// Cap is a parsed capability.
type Cap interface {
	// String returns the canonical form, "URI:...", or for Unknown the
	// string it was parsed from.
	String() string
	// ReadOnly returns the read cap: the diminished cap for write caps,
	// the cap itself for read caps, immutable caps and verifiers, and nil
	// when it is not known (Unknown).
	ReadOnly() Cap
	// Verifier returns the verify cap, which lets its holder check and
	// repair the shares but not read them: itself for verifiers, nil when
	// there is none (LIT, DIR2-LIT) or it is not known (Unknown).
	Verifier() Cap
	// IsMutable reports whether the object named can change: true for
	// SSK/MDMF write and read caps and the directories over them. As in
	// Tahoe, verifiers of mutable objects report false (they cannot be
	// used to see a change), and Unknown reports true (it may be mutable).
	IsMutable() bool
	// IsReadOnly reports whether the cap grants no write access: false for
	// write caps and for Unknown (it may be a write cap).
	IsReadOnly() bool
}

// ErrInvalid is wrapped by every error Parse returns: the string has the
// form of a known cap kind but is malformed, or it breaks a constraint of
// its context (then ErrNotReadOnly or ErrNotImmutable is wrapped too).
var ErrInvalid = errors.New("invalid capability")

// ErrNotReadOnly: a write cap was given where only read-only caps are
// allowed (after a "ro." prefix). Tahoe: MustBeReadonlyError.
var ErrNotReadOnly = errors.New("write cap where a read-only cap is required")

// ErrNotImmutable: a mutable cap was given where only immutable caps are
// allowed (after an "imm." prefix, or in an immutable directory). Tahoe:
// MustBeDeepImmutableError.
var ErrNotImmutable = errors.New("mutable cap where an immutable cap is required")

// The prefixes that mark a cap, in a directory entry, as alleged read-only
// or alleged deep-immutable (Tahoe's ALLEGED_READONLY_PREFIX and
// ALLEGED_IMMUTABLE_PREFIX).
const (
	ReadOnlyPrefix  = "ro."
	ImmutablePrefix = "imm."
)

// Parse parses a cap string as Tahoe's uri.from_string(s) does. It accepts
// an optional "ro." or "imm." prefix (one, not both) and enforces it: a
// write cap under "ro." fails with ErrNotReadOnly, a mutable read or write
// cap under "imm." with ErrNotImmutable (verifiers, CHK and LIT caps pass).
// The prefix is dropped from the result. A string of no known kind,
// prefixed or not, is returned as *Unknown holding s whole, with no error.
func Parse(s string) (Cap, error) { return ParseChild(s, false) }

// ParseChild parses a cap read from a directory entry, as Tahoe's
// uri.from_string(s, deep_immutable) does: when deepImmutable is true (the
// entries of an immutable directory) every cap is treated as if it carried
// the "imm." prefix. Otherwise it is Parse.
//
// Callers that keep directory entries as Tahoe does may keep a string that
// fails to parse as an Unknown carrying the error; ParseChild leaves that
// choice to them.
func ParseChild(s string, deepImmutable bool) (Cap, error) {
	body := s
	canWrite, canMutate := !deepImmutable, !deepImmutable
	if strings.HasPrefix(body, ImmutablePrefix) {
		canWrite, canMutate = false, false
		body = body[len(ImmutablePrefix):]
	} else if strings.HasPrefix(body, ReadOnlyPrefix) {
		canWrite = false
		body = body[len(ReadOnlyPrefix):]
	}

	k, rest, ok := lookupKind(body)
	if !ok {
		// Tahoe's hooks for testing how future caps behave under constraints.
		switch {
		case !canWrite && strings.HasPrefix(body, "x-tahoe-future-test-writeable:"):
			return nil, constraintErr(canMutate, "x-tahoe-future-test-writeable: testing cap")
		case !canMutate && strings.HasPrefix(body, "x-tahoe-future-test-mutable:"):
			return nil, constraintErr(canMutate, "x-tahoe-future-test-mutable: testing cap")
		}
		return &Unknown{S: s}, nil
	}
	// Like Tahoe, check the context before the form: "ro.URI:SSK:junk" is
	// refused for being a write cap.
	switch {
	case k.access == write && !canWrite:
		return nil, constraintErr(canMutate, "URI:"+k.name+" write cap")
	case k.access == read && k.mutable && !canMutate:
		return nil, constraintErr(canMutate, "URI:"+k.name+" read cap to a mutable object")
	}
	// Python's "$" also matches before a final newline.
	rest = strings.TrimSuffix(rest, "\n")
	c, err := k.parse(rest)
	if err != nil {
		return nil, fmt.Errorf("%w: URI:%s: %w", ErrInvalid, k.name, err)
	}
	if k.dir {
		return &Dir{File: c}, nil
	}
	return c, nil
}

// constraintErr builds the error for a cap that its context forbids,
// preferring, as Tahoe does, the immutability complaint when both apply.
func constraintErr(canMutate bool, what string) error {
	if !canMutate {
		return fmt.Errorf("%w: %w: %s", ErrInvalid, ErrNotImmutable, what)
	}
	return fmt.Errorf("%w: %w: %s", ErrInvalid, ErrNotReadOnly, what)
}

// StorageIndex returns the storage index of the object c names, and false
// when it has none (LIT, DIR2-LIT, Unknown). It is a function, not a method
// of Cap, because the verifiers hold the storage index as a field; *CHK,
// *MutableWrite and *MutableRead also have a StorageIndex method.
func StorageIndex(c Cap) (lafs.StorageIndex, bool) {
	switch c := c.(type) {
	case *CHK:
		return c.StorageIndex(), true
	case *CHKVerifier:
		return c.StorageIndex, true
	case *MutableWrite:
		return c.StorageIndex(), true
	case *MutableRead:
		return c.StorageIndex(), true
	case *MutableVerifier:
		return c.StorageIndex, true
	case *Dir:
		return StorageIndex(c.File)
	}
	return lafs.StorageIndex{}, false
}

// IsDir reports whether c names a directory (any URI:DIR2 kind).
func IsDir(c Cap) bool {
	_, ok := c.(*Dir)
	return ok
}

// IsVerifier reports whether c is a verify cap (of a file or a directory).
func IsVerifier(c Cap) bool {
	switch c := c.(type) {
	case *CHKVerifier, *MutableVerifier:
		return true
	case *Dir:
		return IsVerifier(c.File)
	}
	return false
}

// Unknown is a cap of a kind this version does not know, such as one from
// a future Tahoe. It is kept verbatim, including any "ro."/"imm." prefix,
// so that directories pass it on untouched.
type Unknown struct{ S string }

func (u *Unknown) String() string   { return u.S }
func (u *Unknown) ReadOnly() Cap    { return nil }
func (u *Unknown) Verifier() Cap    { return nil }
func (u *Unknown) IsMutable() bool  { return true }
func (u *Unknown) IsReadOnly() bool { return false }

// Kind names the kind of c as its string begins ("URI:CHK", "URI:SSK-RO",
// "URI:DIR2-MDMF-Verifier"...), without its secrets, for messages: "no cap"
// for nil, "a cap of an unknown kind" for Unknown.
func Kind(c Cap) string {
	dir := false
	if d, ok := c.(*Dir); ok {
		c, dir = d.File, true
	}
	prefix := "URI:"
	if dir {
		prefix = "URI:DIR2-"
	}
	switch f := c.(type) {
	case nil:
		return "no cap"
	case *CHK:
		return prefix + "CHK"
	case *CHKVerifier:
		return prefix + "CHK-Verifier"
	case *LIT:
		return prefix + "LIT"
	case *MutableWrite:
		return "URI:" + f.Format.kindName(dir)
	case *MutableRead:
		return "URI:" + f.Format.kindName(dir) + "-RO"
	case *MutableVerifier:
		return "URI:" + f.Format.kindName(dir) + "-Verifier"
	}
	return "a cap of an unknown kind"
}
