// Package cbor reads and writes the CBOR (RFC 8949) of lafs's two HTTPS
// protocols: Tahoe-LAFS's HTTP storage protocol, whose bodies Tahoe's
// server checks against the CDDL schemas of
// docs/specifications/http-storage-node-protocol.rst (with pycddl), and
// lafs's introducer protocol (docs/introducer.md).
//
// It is not a general-purpose codec: there is no reflection and no
// decoding into interfaces. A message's decoder walks the message with a
// Reader, checking each item against the schema as it goes; its encoder
// writes the items in order with a Writer, in the shortest form, as
// Python's cbor2 (which Tahoe uses) writes them. So a decoder takes
// exactly the CBOR its schema allows (unsigned integers where the schema
// says uint, byte strings where it says bstr, sets tagged 258, each key
// once), and an encoder writes the keys of a map in the order its caller
// chose: Tahoe's, where Tahoe's bytes are the reference.
//
// A Reader never allocates more than the input holds, so a declared
// length of 2^63 costs nothing, and it bounds nesting.
package cbor

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"unicode/utf8"
)

// ErrMalformed is wrapped by every error for input that is not
// well-formed CBOR, or exceeds a Reader's limits.
var ErrMalformed = errors.New("malformed CBOR")

// ErrSchema is wrapped by every error for a message that is well-formed
// CBOR but does not match its schema.
var ErrSchema = errors.New("message does not match the schema")

// SchemaError returns an error wrapping ErrSchema.
func SchemaError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrSchema, fmt.Sprintf(format, args...))
}

// Major is a CBOR major type.
type Major byte

// The CBOR major types.
const (
	MajorUint   Major = 0
	MajorNegInt Major = 1
	MajorBytes  Major = 2
	MajorText   Major = 3
	MajorArray  Major = 4
	MajorMap    Major = 5
	MajorTag    Major = 6
	MajorSimple Major = 7
)

// TagSet is the IANA tag for a set (a tagged array of distinct items).
const TagSet = 258

// maxSkipDepth bounds the nesting of an item that Skip skips.
const maxSkipDepth = 16

// Limits bound what a Reader takes, beyond what each decoder's schema
// allows. Zero means no limit (but the input's length, and a Skip's
// bound of 16 levels below the item it skips).
type Limits struct {
	// Depth bounds the nesting of arrays, maps and tags anywhere in the
	// message, read or skipped; the top-level map is at depth 1, and
	// each tag counts one level.
	Depth int
	// Array bounds the elements of any array, Map the pairs of any map.
	Array, Map int
}

// Reader reads one CBOR message.
type Reader struct {
	b     []byte
	off   int
	depth int
	lim   Limits
}

// Decode runs f on a Reader of b, with no Limits, and requires that f
// read all of b: bytes after the message are an error.
func Decode(b []byte, f func(r *Reader) error) error {
	return DecodeLimited(b, Limits{}, f)
}

// DecodeLimited is Decode with limits.
func DecodeLimited(b []byte, lim Limits, f func(r *Reader) error) error {
	r := &Reader{b: b, lim: lim}
	if err := f(r); err != nil {
		return err
	}
	if r.off != len(r.b) {
		return r.errf("%d bytes after the message", len(r.b)-r.off)
	}
	return nil
}

func (r *Reader) errf(format string, args ...any) error {
	return fmt.Errorf("%w at byte %d: %s", ErrMalformed, r.off, fmt.Sprintf(format, args...))
}

// Peek returns the major type of the next item without consuming it.
func (r *Reader) Peek() (Major, error) {
	if r.off >= len(r.b) {
		return 0, r.errf("unexpected end of data")
	}
	return Major(r.b[r.off] >> 5), nil
}

// head reads an item's initial byte and argument. indef reports the
// indefinite-length marker (additional information 31), allowed only for
// strings, arrays and maps; for major type 7 it is the "break" code.
func (r *Reader) head() (major Major, arg uint64, indef bool, err error) {
	if r.off >= len(r.b) {
		return 0, 0, false, r.errf("unexpected end of data")
	}
	ib := r.b[r.off]
	r.off++
	major, info := Major(ib>>5), ib&0x1f
	var n int
	switch {
	case info < 24:
		return major, uint64(info), false, nil
	case info == 24:
		n = 1
	case info == 25:
		n = 2
	case info == 26:
		n = 4
	case info == 27:
		n = 8
	case info == 31:
		switch major {
		case MajorBytes, MajorText, MajorArray, MajorMap, MajorSimple:
			return major, 0, true, nil
		}
		return 0, 0, false, r.errf("indefinite length on major type %d", major)
	default:
		return 0, 0, false, r.errf("reserved additional information %d", info)
	}
	if len(r.b)-r.off < n {
		return 0, 0, false, r.errf("unexpected end of data")
	}
	p := r.b[r.off : r.off+n]
	r.off += n
	switch n {
	case 1:
		arg = uint64(p[0])
	case 2:
		arg = uint64(binary.BigEndian.Uint16(p))
	case 4:
		arg = uint64(binary.BigEndian.Uint32(p))
	default:
		arg = binary.BigEndian.Uint64(p)
	}
	return major, arg, false, nil
}

// isBreak consumes the "break" byte that ends an indefinite-length item.
func (r *Reader) isBreak() bool {
	if r.off < len(r.b) && r.b[r.off] == 0xff {
		r.off++
		return true
	}
	return false
}

// Uint reads an unsigned integer.
func (r *Reader) Uint() (uint64, error) {
	m, arg, _, err := r.head()
	if err != nil {
		return 0, err
	}
	if m != MajorUint {
		return 0, r.errf("want an unsigned integer, have major type %d", m)
	}
	return arg, nil
}

// str reads a byte string (major 2) or text string (major 3).
func (r *Reader) str(want Major) ([]byte, error) {
	m, arg, indef, err := r.head()
	if err != nil {
		return nil, err
	}
	if m != want {
		return nil, r.errf("want major type %d, have %d", want, m)
	}
	if !indef {
		if arg > uint64(len(r.b)-r.off) {
			return nil, r.errf("string of %d bytes overruns the data", arg)
		}
		s := r.b[r.off : r.off+int(arg)]
		r.off += int(arg)
		return s, nil
	}
	var out []byte
	for !r.isBreak() {
		m, arg, indef, err := r.head()
		if err != nil {
			return nil, err
		}
		if m != want || indef {
			return nil, r.errf("bad chunk in indefinite-length string")
		}
		if arg > uint64(len(r.b)-r.off) {
			return nil, r.errf("string chunk of %d bytes overruns the data", arg)
		}
		out = append(out, r.b[r.off:r.off+int(arg)]...)
		r.off += int(arg)
	}
	if out == nil {
		out = []byte{}
	}
	return out, nil
}

// ByteString reads a byte string, never nil. A definite-length string
// aliases the input: copy it to keep it longer than the input.
func (r *Reader) ByteString() ([]byte, error) {
	return r.str(MajorBytes)
}

// key reads a map key of major type m (a byte or text string) as a Go
// string, without checking that a text key is UTF-8.
func (r *Reader) key(m Major) (string, error) {
	s, err := r.str(m)
	return string(s), err
}

// Text reads a text string, which must be UTF-8.
func (r *Reader) Text() (string, error) {
	s, err := r.str(MajorText)
	if err != nil {
		return "", err
	}
	if !utf8.Valid(s) {
		return "", r.errf("text string is not UTF-8")
	}
	return string(s), nil
}

// Bool reads true or false.
func (r *Reader) Bool() (bool, error) {
	if r.off < len(r.b) {
		switch r.b[r.off] {
		case 0xf4:
			r.off++
			return false, nil
		case 0xf5:
			r.off++
			return true, nil
		}
	}
	return false, r.errf("want a boolean")
}

// Null consumes a null if one comes next, and reports whether it did.
func (r *Reader) Null() bool {
	if r.off < len(r.b) && r.b[r.off] == 0xf6 {
		r.off++
		return true
	}
	return false
}

// Tag reads a tag number if a tag comes next; the caller reads the tagged
// item.
func (r *Reader) Tag() (uint64, bool, error) {
	m, err := r.Peek()
	if err != nil || m != MajorTag {
		return 0, false, err
	}
	_, arg, _, err := r.head()
	return arg, err == nil, err
}

// container reads the head of an array or map and calls f for each of its
// elements (or key-value pairs), at most max of them.
func (r *Reader) container(want Major, max int, f func(i int) error) error {
	m, arg, indef, err := r.head()
	if err != nil {
		return err
	}
	if m != want {
		return r.errf("want major type %d, have %d", want, m)
	}
	if l := r.lim.Array; want == MajorArray && l > 0 && l < max {
		max = l
	}
	if l := r.lim.Map; want == MajorMap && l > 0 && l < max {
		max = l
	}
	r.depth++
	defer func() { r.depth-- }()
	if r.lim.Depth > 0 && r.depth > r.lim.Depth {
		return r.errf("nested more than %d deep", r.lim.Depth)
	}
	if indef {
		for i := 0; !r.isBreak(); i++ {
			if i >= max {
				return r.errf("more than %d elements", max)
			}
			if err := f(i); err != nil {
				return err
			}
		}
		return nil
	}
	if arg > uint64(max) {
		return r.errf("%d elements, at most %d allowed", arg, max)
	}
	for i := 0; i < int(arg); i++ {
		if err := f(i); err != nil {
			return err
		}
	}
	return nil
}

// Array reads an array of at most max elements, calling f to read each.
func (r *Reader) Array(max int, f func(i int) error) error {
	return r.container(MajorArray, max, f)
}

// Map reads a map of at most max pairs, calling f to read each key and
// its value.
func (r *Reader) Map(max int, f func(i int) error) error {
	return r.container(MajorMap, max, f)
}

// Skip consumes one well-formed item of any type, nested at most 16
// levels deep.
func (r *Reader) Skip() error {
	return r.skip(0)
}

func (r *Reader) skip(depth int) error {
	if depth > maxSkipDepth {
		return r.errf("nested too deeply")
	}
	m, err := r.Peek()
	if err != nil {
		return err
	}
	switch m {
	case MajorBytes, MajorText:
		_, err := r.str(m)
		return err
	case MajorArray:
		return r.Array(math.MaxInt, func(int) error { return r.skip(depth + 1) })
	case MajorMap:
		return r.Map(math.MaxInt, func(int) error {
			if err := r.skip(depth + 1); err != nil {
				return err
			}
			return r.skip(depth + 1)
		})
	case MajorTag:
		if _, _, err := r.Tag(); err != nil {
			return err
		}
		r.depth++
		defer func() { r.depth-- }()
		if r.lim.Depth > 0 && r.depth > r.lim.Depth {
			return r.errf("nested more than %d deep", r.lim.Depth)
		}
		return r.skip(depth + 1)
	case MajorSimple:
		ib := r.b[r.off]
		_, arg, indef, err := r.head()
		if err != nil {
			return err
		}
		if indef {
			return r.errf("unexpected break")
		}
		if ib&0x1f == 24 && arg < 32 {
			return r.errf("simple value %d encoded in two bytes", arg)
		}
		return nil
	default:
		_, _, _, err := r.head()
		return err
	}
}

// Mode is how Fields treats the keys of a map.
type Mode int

const (
	// Closed is a request's schema, checked as Tahoe's server checks it:
	// every key of the key type, each name exactly once, no other key.
	Closed Mode = iota
	// Open is a response's schema: each name exactly once, and other
	// keys, of any type, skipped with their values, so that a newer
	// server may add keys.
	Open
	// Extensible is the introducer protocol's maps: keys of the key type
	// only, each name at most once (a missing one leaves its field
	// zero), other keys skipped with their values but never twice.
	Extensible
)

// maxExtraFields bounds the pairs of a map read in mode Open or
// Extensible.
const maxExtraFields = 1024

// Fields reads a map whose keys (of major type keyMajor, byte or text
// strings) are names, calling f with the index of each name found to read
// its value. Keys are compared byte for byte; mode says what else may be
// there.
func (r *Reader) Fields(keyMajor Major, mode Mode, names []string, f func(i int) error) error {
	if len(names) > 64 {
		panic("cbor: Fields takes at most 64 names")
	}
	var seen uint64
	var extra map[string]bool
	max := len(names)
	if mode != Closed {
		max = maxExtraFields
	}
	err := r.Map(max, func(int) error {
		m, err := r.Peek()
		if err != nil {
			return err
		}
		if m != keyMajor {
			if mode != Open {
				return SchemaError("map key of major type %d, want %d", m, keyMajor)
			}
			if err := r.Skip(); err != nil {
				return err
			}
			return r.Skip()
		}
		k, err := r.key(keyMajor)
		if err != nil {
			return err
		}
		if keyMajor == MajorText && mode == Extensible && !utf8.ValidString(k) {
			return r.errf("text string is not UTF-8")
		}
		i := slices.Index(names, k)
		if i < 0 {
			switch mode {
			case Closed:
				return SchemaError("unexpected key %q", k)
			case Extensible:
				if extra[k] {
					return SchemaError("duplicate key %q", k)
				}
				if extra == nil {
					extra = map[string]bool{}
				}
				extra[k] = true
			}
			return r.Skip()
		}
		if seen&(1<<i) != 0 {
			return SchemaError("duplicate key %q", k)
		}
		seen |= 1 << i
		return f(i)
	})
	if err != nil || mode == Extensible {
		return err
	}
	for i, n := range names {
		if seen&(1<<i) == 0 {
			return SchemaError("missing key %q", n)
		}
	}
	return nil
}
