package cbor

import (
	"encoding/binary"
	"math"
	"slices"
)

// Writer appends CBOR items to a buffer, each in its shortest form (as
// Python's cbor2 writes them, and as RFC 8949's core deterministic
// encoding asks). The caller writes a map's keys in the order it wants.
type Writer struct {
	b []byte
}

// Bytes returns what was written.
func (w *Writer) Bytes() []byte { return w.b }

// Grow makes room for n more bytes, for a caller that knows roughly how
// much it will write.
func (w *Writer) Grow(n int) { w.b = slices.Grow(w.b, n) }

func (w *Writer) head(major Major, n uint64) {
	m := byte(major) << 5
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

// Uint writes an unsigned integer.
func (w *Writer) Uint(n uint64) { w.head(MajorUint, n) }

// Int writes an integer: unsigned if n >= 0, else negative.
func (w *Writer) Int(n int64) {
	if n >= 0 {
		w.head(MajorUint, uint64(n))
	} else {
		w.head(MajorNegInt, uint64(-1-n))
	}
}

// Array writes the head of an array of n elements; write them next.
func (w *Writer) Array(n int) { w.head(MajorArray, uint64(n)) }

// Map writes the head of a map of n pairs; write each key, then its
// value, next.
func (w *Writer) Map(n int) { w.head(MajorMap, uint64(n)) }

// Tag writes a tag number; write the tagged item next.
func (w *Writer) Tag(n uint64) { w.head(MajorTag, n) }

// Null writes null.
func (w *Writer) Null() { w.b = append(w.b, 0xf6) }

// Bool writes true or false.
func (w *Writer) Bool(v bool) {
	if v {
		w.b = append(w.b, 0xf5)
	} else {
		w.b = append(w.b, 0xf4)
	}
}

// Text writes a text string; s should be UTF-8.
func (w *Writer) Text(s string) {
	w.head(MajorText, uint64(len(s)))
	w.b = append(w.b, s...)
}

// ByteString writes a byte string (an empty one for nil).
func (w *Writer) ByteString(b []byte) {
	w.head(MajorBytes, uint64(len(b)))
	w.b = append(w.b, b...)
}

// ByteStringOf writes the bytes of s as a byte string.
func (w *Writer) ByteStringOf(s string) {
	w.head(MajorBytes, uint64(len(s)))
	w.b = append(w.b, s...)
}

// Float writes f in the shortest of half, single and double precision
// that holds it exactly; NaN as the half-precision quiet NaN 0xf97e00,
// infinities in half precision (RFC 8949 sections 4.2.1 and 4.2.2).
func (w *Writer) Float(f float64) {
	switch {
	case math.IsNaN(f):
		w.b = append(w.b, 0xf9, 0x7e, 0x00)
		return
	case float64(float32(f)) != f:
		w.b = append(w.b, 0xfb)
		w.b = binary.BigEndian.AppendUint64(w.b, math.Float64bits(f))
		return
	}
	f32 := math.Float32bits(float32(f))
	if h, ok := half(f32); ok {
		w.b = append(w.b, 0xf9)
		w.b = binary.BigEndian.AppendUint16(w.b, h)
		return
	}
	w.b = append(w.b, 0xfa)
	w.b = binary.BigEndian.AppendUint32(w.b, f32)
}

// half converts the bits of a float32 that is not NaN to those of a
// float16 (IEEE 754 binary16) of the same value, if there is one.
func half(f uint32) (uint16, bool) {
	sign := uint16(f>>16) & 0x8000
	exp := int(f>>23) & 0xff
	mant := f & 0x7fffff
	switch {
	case exp == 0xff: // infinity
		return sign | 0x7c00, true
	case exp == 0 && mant == 0: // zero
		return sign, true
	case exp == 0: // a float32 subnormal is far below float16's range
		return 0, false
	}
	e := exp - 127
	switch {
	case e >= -14 && e <= 15: // normal: 10 bits of mantissa
		if mant&0x1fff != 0 {
			return 0, false
		}
		return sign | uint16(e+15)<<10 | uint16(mant>>13), true
	case e >= -24 && e < -14: // subnormal: the value is m * 2^-24
		sig := mant | 0x800000 // 24 bits with the implicit one
		shift := uint(13 + (-14 - e))
		if sig&(1<<shift-1) != 0 {
			return 0, false
		}
		return sign | uint16(sig>>shift), true
	}
	return 0, false
}
