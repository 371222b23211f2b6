package storagehttp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"unicode/utf8"
)

// A small CBOR (RFC 8949) reader and writer, just enough for the protocol's
// CDDL schemas: unsigned integers, byte and text strings (definite or
// indefinite length), arrays, maps, tags, booleans and null. The reader
// never allocates more than the input can hold, so a declared length of
// 2^63 costs nothing, and it checks each schema's types as it goes.

// errCBOR is wrapped by every malformed-CBOR error.
var errCBOR = errors.New("malformed CBOR")

// CBOR major types.
const (
	majUint   = 0
	majNegint = 1
	majBytes  = 2
	majText   = 3
	majArray  = 4
	majMap    = 5
	majTag    = 6
	majSimple = 7
)

// tagSet is the IANA tag for a set (a tagged array of distinct items).
const tagSet = 258

// maxSkipDepth bounds the nesting of items skipped in lenient decoding.
const maxSkipDepth = 16

type cborReader struct {
	b   []byte
	off int
}

func (r *cborReader) errf(format string, args ...any) error {
	return fmt.Errorf("%w at byte %d: %s", errCBOR, r.off, fmt.Sprintf(format, args...))
}

// peek returns the major type of the next item without consuming it.
func (r *cborReader) peek() (byte, error) {
	if r.off >= len(r.b) {
		return 0, r.errf("unexpected end of data")
	}
	return r.b[r.off] >> 5, nil
}

// head reads an item's initial byte and argument. indef reports the
// indefinite-length marker (additional information 31), allowed only for
// strings, arrays and maps; for major type 7 it is the "break" code.
func (r *cborReader) head() (major byte, arg uint64, indef bool, err error) {
	if r.off >= len(r.b) {
		return 0, 0, false, r.errf("unexpected end of data")
	}
	ib := r.b[r.off]
	r.off++
	major, info := ib>>5, ib&0x1f
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
		case majBytes, majText, majArray, majMap, majSimple:
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
func (r *cborReader) isBreak() bool {
	if r.off < len(r.b) && r.b[r.off] == 0xff {
		r.off++
		return true
	}
	return false
}

func (r *cborReader) uint() (uint64, error) {
	m, arg, _, err := r.head()
	if err != nil {
		return 0, err
	}
	if m != majUint {
		return 0, r.errf("want an unsigned integer, have major type %d", m)
	}
	return arg, nil
}

// str reads a byte string (major 2) or text string (major 3).
func (r *cborReader) str(want byte) ([]byte, error) {
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

// bytes reads a byte string and returns a copy of it, never nil.
func (r *cborReader) bytes() ([]byte, error) {
	s, err := r.str(majBytes)
	if err != nil {
		return nil, err
	}
	return append([]byte{}, s...), nil
}

func (r *cborReader) text() (string, error) {
	s, err := r.str(majText)
	if err != nil {
		return "", err
	}
	if !utf8.Valid(s) {
		return "", r.errf("text string is not UTF-8")
	}
	return string(s), nil
}

func (r *cborReader) bool() (bool, error) {
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

// null consumes a null if one comes next.
func (r *cborReader) null() bool {
	if r.off < len(r.b) && r.b[r.off] == 0xf6 {
		r.off++
		return true
	}
	return false
}

// tag reads a tag number if a tag comes next.
func (r *cborReader) tag() (uint64, bool, error) {
	m, err := r.peek()
	if err != nil || m != majTag {
		return 0, false, err
	}
	_, arg, _, err := r.head()
	return arg, err == nil, err
}

// container reads the head of an array or map and calls f for each of its
// elements (or key-value pairs), at most max of them.
func (r *cborReader) container(want byte, max int, f func(i int) error) error {
	m, arg, indef, err := r.head()
	if err != nil {
		return err
	}
	if m != want {
		return r.errf("want major type %d, have %d", want, m)
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

func (r *cborReader) array(max int, f func(i int) error) error {
	return r.container(majArray, max, f)
}

func (r *cborReader) mapEach(max int, f func(i int) error) error {
	return r.container(majMap, max, f)
}

// skip consumes one well-formed item of any type.
func (r *cborReader) skip(depth int) error {
	if depth > maxSkipDepth {
		return r.errf("nested too deeply")
	}
	m, err := r.peek()
	if err != nil {
		return err
	}
	switch m {
	case majBytes, majText:
		_, err := r.str(m)
		return err
	case majArray:
		return r.array(math.MaxInt, func(int) error { return r.skip(depth + 1) })
	case majMap:
		return r.mapEach(math.MaxInt, func(int) error {
			if err := r.skip(depth + 1); err != nil {
				return err
			}
			return r.skip(depth + 1)
		})
	case majTag:
		if _, _, err := r.tag(); err != nil {
			return err
		}
		return r.skip(depth + 1)
	case majSimple:
		_, arg, indef, err := r.head()
		if err != nil {
			return err
		}
		if indef {
			return r.errf("unexpected break")
		}
		ib := r.b[r.off-1]
		if ib&0x1f == 24 && arg < 32 {
			return r.errf("simple value %d encoded in two bytes", arg)
		}
		return nil
	default:
		_, _, _, err := r.head()
		return err
	}
}

// end reports trailing bytes after the top-level item.
func (r *cborReader) end() error {
	if r.off != len(r.b) {
		return r.errf("%d bytes after the message", len(r.b)-r.off)
	}
	return nil
}

// cborWriter appends CBOR items to a buffer, in the shortest form (as
// Python's cbor2, which Tahoe uses, writes them).
type cborWriter struct {
	b []byte
}

func (w *cborWriter) head(major byte, n uint64) {
	m := major << 5
	switch {
	case n < 24:
		w.b = append(w.b, m|byte(n))
	case n <= math.MaxUint8:
		w.b = append(w.b, m|24, byte(n))
	case n <= math.MaxUint16:
		w.b = append(w.b, m|25)
		w.b = binary.BigEndian.AppendUint16(w.b, uint16(n))
	case n <= math.MaxUint32:
		w.b = append(w.b, m|26)
		w.b = binary.BigEndian.AppendUint32(w.b, uint32(n))
	default:
		w.b = append(w.b, m|27)
		w.b = binary.BigEndian.AppendUint64(w.b, n)
	}
}

func (w *cborWriter) uint(n uint64)     { w.head(majUint, n) }
func (w *cborWriter) array(n int)       { w.head(majArray, uint64(n)) }
func (w *cborWriter) mapHead(n int)     { w.head(majMap, uint64(n)) }
func (w *cborWriter) tag(n uint64)      { w.head(majTag, n) }
func (w *cborWriter) null()             { w.b = append(w.b, 0xf6) }
func (w *cborWriter) text(s string)     { w.head(majText, uint64(len(s))); w.b = append(w.b, s...) }
func (w *cborWriter) bytes(b []byte)    { w.head(majBytes, uint64(len(b))); w.b = append(w.b, b...) }
func (w *cborWriter) byteText(s string) { w.head(majBytes, uint64(len(s))); w.b = append(w.b, s...) }
func (w *cborWriter) boolean(v bool) {
	if v {
		w.b = append(w.b, 0xf5)
	} else {
		w.b = append(w.b, 0xf4)
	}
}
