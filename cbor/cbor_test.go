package cbor

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math"
	"strings"
	"testing"

	fx "github.com/fxamacker/cbor/v2"
)

// fxCoreDet is fxamacker's core deterministic encoding: shortest heads
// and floats, the form cbor2 writes too.
func fxCoreDet(t testing.TB) fx.EncMode {
	em, err := fx.CoreDetEncOptions().EncMode()
	if err != nil {
		t.Fatal(err)
	}
	return em
}

// TestWriterShortestForm: our heads are the shortest, as cbor2 writes
// them (and as fxamacker's deterministic mode does).
func TestWriterShortestForm(t *testing.T) {
	em := fxCoreDet(t)
	for _, n := range []uint64{0, 23, 24, 255, 256, 65535, 65536, math.MaxUint32, math.MaxUint32 + 1, math.MaxUint64} {
		var w Writer
		w.Uint(n)
		want, _ := em.Marshal(n)
		if !bytes.Equal(w.Bytes(), want) {
			t.Errorf("uint %d: %x, want %x", n, w.Bytes(), want)
		}
	}
	for _, n := range []int64{0, -1, -24, -25, -256, -257, 1000, math.MinInt64, math.MaxInt64} {
		var w Writer
		w.Int(n)
		want, _ := em.Marshal(n)
		if !bytes.Equal(w.Bytes(), want) {
			t.Errorf("int %d: %x, want %x", n, w.Bytes(), want)
		}
	}
	for _, n := range []int{0, 23, 24, 300, 70000} {
		var w Writer
		w.Text(strings.Repeat("a", n))
		want, _ := em.Marshal(strings.Repeat("a", n))
		if !bytes.Equal(w.Bytes(), want) {
			t.Errorf("text of %d", n)
		}
		w = Writer{}
		w.ByteString(bytes.Repeat([]byte{1}, n))
		want, _ = em.Marshal(bytes.Repeat([]byte{1}, n))
		if !bytes.Equal(w.Bytes(), want) {
			t.Errorf("bytes of %d", n)
		}
		w = Writer{}
		w.ByteStringOf(strings.Repeat("b", n))
		want, _ = em.Marshal([]byte(strings.Repeat("b", n)))
		if !bytes.Equal(w.Bytes(), want) {
			t.Errorf("bytes of %d from a string", n)
		}
	}
}

func TestFloat(t *testing.T) {
	for _, c := range []struct {
		f   float64
		hex string
	}{
		{0, "f90000"},
		{math.Copysign(0, -1), "f98000"},
		{1, "f93c00"},
		{1.5, "f93e00"},
		{65504, "f97bff"},
		{65536, "fa47800000"},
		{5.960464477539063e-8, "f90001"}, // the smallest half subnormal
		{0.00006103515625, "f90400"},     // the smallest half normal
		{0.1, "fb3fb999999999999a"},
		{1.0e300, "fb7e37e43c8800759c"},
		{100000, "fa47c35000"},
		{3.4028234663852886e+38, "fa7f7fffff"},
		{math.Inf(1), "f97c00"},
		{math.Inf(-1), "f9fc00"},
		{math.NaN(), "f97e00"},
		{1.7e9 + 0.5, "fb41d954fc40200000"},
	} {
		var w Writer
		w.Float(c.f)
		if got := hex.EncodeToString(w.Bytes()); got != c.hex {
			t.Errorf("%v: %s, want %s", c.f, got, c.hex)
		}
		if want, _ := fxCoreDet(t).Marshal(c.f); !bytes.Equal(w.Bytes(), want) {
			t.Errorf("%v: %x, fxamacker %x", c.f, w.Bytes(), want)
		}
	}
}

// FuzzFloat: every float is written as fxamacker's core deterministic
// mode writes it, and reads back the same.
func FuzzFloat(f *testing.F) {
	for _, x := range []float64{0, 1, 0.5, 65504, 1e-7, 1.7e9, math.MaxFloat32, math.SmallestNonzeroFloat32} {
		f.Add(math.Float64bits(x))
	}
	f.Add(uint64(0x3e70000000000000)) // 2^-24
	f.Add(uint64(0x3e60000000000000)) // 2^-25
	em := fxCoreDet(f)
	f.Fuzz(func(t *testing.T, bits uint64) {
		x := math.Float64frombits(bits)
		for _, x := range []float64{x, float64(float32(x)), float64(float32(x) * 0x1p-100), float64(float32(x) * 0x1p100)} {
			var w Writer
			w.Float(x)
			want, err := em.Marshal(x)
			if err != nil || !bytes.Equal(w.Bytes(), want) {
				t.Fatalf("%v (%#x): %x, fxamacker %x %v", x, math.Float64bits(x), w.Bytes(), want, err)
			}
			var back float64
			if err := fx.Unmarshal(w.Bytes(), &back); err != nil || back != x && !(math.IsNaN(x) && math.IsNaN(back)) {
				t.Fatalf("%v: read back %v, %v", x, back, err)
			}
		}
	})
}

func TestHalf(t *testing.T) {
	// Every half-precision value but NaN survives half(float32(v)).
	for h := range uint32(1 << 16) {
		h := uint16(h)
		if h&0x7c00 == 0x7c00 && h&0x3ff != 0 {
			continue // NaN
		}
		var fb [3]byte
		fb[0] = 0xf9
		binary.BigEndian.PutUint16(fb[1:], h)
		var v float32
		if err := fx.Unmarshal(fb[:], &v); err != nil {
			t.Fatal(err)
		}
		got, ok := half(math.Float32bits(v))
		if !ok || got != h {
			t.Fatalf("%#04x (%v): %#04x %v", h, v, got, ok)
		}
	}
}

func hexBytes(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecode(t *testing.T) {
	if err := Decode(hexBytes(t, "01 02"), func(r *Reader) error { _, err := r.Uint(); return err }); !errors.Is(err, ErrMalformed) {
		t.Errorf("trailing byte: %v", err)
	}
	var s string
	if err := Decode(hexBytes(t, "7f 61 61 62 62 63 ff"), func(r *Reader) (err error) { s, err = r.Text(); return err }); err != nil || s != "abc" {
		t.Errorf("indefinite text: %q %v", s, err)
	}
	for name, in := range map[string]string{
		"reserved info":     "1c",
		"indefinite uint":   "1f",
		"short head":        "19 01",
		"long string":       "5b 7fffffffffffffff 00",
		"text chunk":        "5f 61 61 ff",
		"nested indefinite": "5f 5f ff ff",
		"no break":          "5f 41 00",
		"break":             "ff",
		"two-byte simple":   "f8 10",
		"empty":             "",
	} {
		if err := Decode(hexBytes(t, in), func(r *Reader) error { return r.Skip() }); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := Decode(hexBytes(t, "62 ff fe"), func(r *Reader) error { _, err := r.Text(); return err }); !errors.Is(err, ErrMalformed) {
		t.Errorf("bad UTF-8: %v", err)
	}
	deep := strings.Repeat("81", 17) + "00"
	if err := Decode(hexBytes(t, deep), func(r *Reader) error { return r.Skip() }); !errors.Is(err, ErrMalformed) {
		t.Errorf("skip 17 deep: %v", err)
	}
	if err := Decode(hexBytes(t, deep[2:]), func(r *Reader) error { return r.Skip() }); err != nil {
		t.Errorf("skip 16 deep: %v", err)
	}
}

func TestLimits(t *testing.T) {
	skip := func(lim Limits, in string) error {
		return DecodeLimited(hexBytes(t, in), lim, func(r *Reader) error { return r.Skip() })
	}
	for _, c := range []struct {
		lim  Limits
		in   string
		fail bool
	}{
		{Limits{Depth: 2}, "81 81 00", false},
		{Limits{Depth: 2}, "81 81 81 00", true},
		{Limits{Depth: 2}, "81 c1 00", false},
		{Limits{Depth: 2}, "81 c1 c1 00", true}, // each tag counts
		{Limits{Depth: 2}, "a1 00 81 00", false},
		{Limits{Depth: 2}, "a1 81 80 00", true}, // keys count too
		{Limits{Array: 2}, "82 00 00", false},
		{Limits{Array: 2}, "83 00 00 00", true},
		{Limits{Array: 2}, "9f 00 00 00 ff", true},
		{Limits{Array: 2}, "a1 00 83 00 00 00", true}, // anywhere
		{Limits{Map: 1}, "a1 00 00", false},
		{Limits{Map: 1}, "a2 00 00 01 00", true},
		{Limits{Map: 1}, "bf 00 00 01 00 ff", true},
	} {
		if err := skip(c.lim, c.in); (err != nil) != c.fail || err != nil && !errors.Is(err, ErrMalformed) {
			t.Errorf("%+v %s: %v", c.lim, c.in, err)
		}
	}
}

func TestFields(t *testing.T) {
	names := []string{"a", "b"}
	read := func(mode Mode, key Major, in string) (got map[string]uint64, err error) {
		got = map[string]uint64{}
		err = Decode(hexBytes(t, in), func(r *Reader) error {
			return r.Fields(key, mode, names, func(i int) error {
				n, err := r.Uint()
				got[names[i]] = n
				return err
			})
		})
		return got, err
	}
	ab := "a2 6161 01 6162 02"
	for _, c := range []struct {
		mode   Mode
		in     string
		ok     bool
		schema bool // the error wraps ErrSchema
	}{
		{Closed, ab, true, false},
		{Closed, "a2 6161 01 6163 02", false, true}, // unknown c
		{Closed, "a2 6161 01 6161 01", false, true}, // duplicate a
		{Closed, "a2 6161 01 4162 02", false, true}, // bstr key
		{Open, ab, true, false},
		{Extensible, ab, true, false},
		{Closed, "a1 6161 01", false, true}, // missing b
		{Open, "a1 6161 01", false, true},
		{Extensible, "a1 6161 01", true, false},
		{Closed, "a3 6161 01 6162 02 6163 03", false, false}, // unknown c
		{Open, "a3 6161 01 6162 02 6163 81 03", true, false},
		{Extensible, "a3 6161 01 6162 02 6163 81 03", true, false},
		{Closed, "a3 6161 01 6162 02 6161 01", false, false}, // duplicate a
		{Open, "a3 6161 01 6162 02 6161 01", false, true},
		{Extensible, "a3 6161 01 6162 02 6161 01", false, true},
		{Open, "a4 6161 01 6162 02 6163 03 6163 03", true, false}, // duplicate unknown c
		{Extensible, "a4 6161 01 6162 02 6163 03 6163 03", false, true},
		{Closed, "a3 6161 01 6162 02 4161 01", false, false}, // bstr key
		{Open, "a3 6161 01 6162 02 4161 01", true, false},
		{Extensible, "a3 6161 01 6162 02 4161 01", false, true},
		{Open, "a3 6161 01 6162 02 01 01", true, false}, // uint key
		{Extensible, "a3 6161 01 6162 02 01 01", false, true},
		{Extensible, "a2 6141 01 6162 02", true, false}, // keys are compared exactly
		{Extensible, "a2 61ff 01 6162 02", false, false},
		{Closed, "bf 6161 01 6162 02 ff", true, false},
		{Closed, "a2 6161 20 6162 02", false, false}, // a negative integer
	} {
		got, err := read(c.mode, MajorText, c.in)
		if (err == nil) != c.ok || c.schema && !errors.Is(err, ErrSchema) {
			t.Errorf("mode %d, %s: %v, %v", c.mode, c.in, got, err)
		}
	}
	if got, err := read(Closed, MajorBytes, "a2 4161 01 4162 02"); err != nil || got["a"] != 1 || got["b"] != 2 {
		t.Errorf("byte-string keys: %v %v", got, err)
	}
}

// FuzzSkip compares Skip with fxamacker's check of well-formedness: what
// Skip takes is well-formed, within the same limits; what is well-formed
// and not nested too deeply, Skip takes.
func FuzzSkip(f *testing.F) {
	for _, s := range []string{"a2 6161 01 6162 81 02", "9f c1 00 f8 20 f9 3c00 ff", "bf 5f 41 00 ff 7f 61 61 ff ff", "f8 10", "1c"} {
		f.Add(hexBytes(f, s))
	}
	wide, err := fx.DecOptions{MaxNestedLevels: 32, MaxArrayElements: math.MaxInt32, MaxMapPairs: math.MaxInt32}.DecMode()
	if err != nil {
		f.Fatal(err)
	}
	shallow, err := fx.DecOptions{MaxNestedLevels: 7, MaxArrayElements: math.MaxInt32, MaxMapPairs: math.MaxInt32}.DecMode()
	if err != nil {
		f.Fatal(err)
	}
	lim := Limits{Depth: 8, Array: 1 << 20, Map: 1024}
	limited, err := fx.DecOptions{MaxNestedLevels: lim.Depth, MaxArrayElements: lim.Array, MaxMapPairs: lim.Map}.DecMode()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		skip := func(r *Reader) error { return r.Skip() }
		err := Decode(b, skip)
		if err == nil {
			if err := wide.Wellformed(b); err != nil {
				t.Fatalf("Skip took %x, which is not well-formed: %v", b, err)
			}
		} else if !errors.Is(err, ErrMalformed) {
			t.Fatalf("%x: %v does not wrap ErrMalformed", b, err)
		} else if shallow.Wellformed(b) == nil {
			t.Fatalf("Skip refused %x, which is well-formed: %v", b, err)
		}
		if DecodeLimited(b, lim, skip) == nil {
			if err := limited.Wellformed(b); err != nil {
				t.Fatalf("Skip with %+v took %x: %v", lim, b, err)
			}
		}
	})
}
