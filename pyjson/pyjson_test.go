package pyjson

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"os"
	"strings"
	"testing"
)

type vectors struct {
	Floats  [][2]string  `json:"floats"`
	Loads   [][2]*string `json:"loads"`
	Indent  [][2]string  `json:"indent"`
	Indent4 [][2]string  `json:"indent4"`
}

// loadVectors reads testdata/pyjson.json, written by gen_pyjson.py from
// Python's json module.
func loadVectors(t *testing.T) vectors {
	t.Helper()
	b, err := os.ReadFile("testdata/pyjson.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestFloatRepr(t *testing.T) {
	v := loadVectors(t)
	if len(v.Floats) < 4000 {
		t.Fatalf("%d float cases", len(v.Floats))
	}
	for _, c := range v.Floats {
		raw, err := hex.DecodeString(c[0])
		if err != nil {
			t.Fatal(err)
		}
		f := math.Float64frombits(binary.BigEndian.Uint64(raw))
		got, err := Marshal(f)
		if err != nil || string(got) != c[1] {
			t.Errorf("%v (%s): %s %v, Python writes %s", f, c[0], got, err, c[1])
		}
	}
	if got, _ := Marshal(math.NaN()); string(got) != "NaN" {
		t.Errorf("NaN: %s", got)
	}
}

func TestLoadsDumps(t *testing.T) {
	v := loadVectors(t)
	for _, c := range v.Loads {
		in := *c[0]
		o, err := ParseObject([]byte(in))
		if c[1] == nil {
			if err == nil {
				t.Errorf("%q: parsed, Python refuses it", in)
			} else if !errors.Is(err, ErrInvalid) {
				t.Errorf("%q: error %v does not wrap ErrInvalid", in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		got, err := o.MarshalJSON()
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if string(got) != *c[1] {
			t.Errorf("%q: dumps %s, Python %s", in, got, *c[1])
		}
		// What we write reads back to the same bytes.
		o2, err := ParseObject(got)
		if err != nil {
			t.Errorf("%s: %v", got, err)
			continue
		}
		if again, _ := o2.MarshalJSON(); string(again) != string(got) {
			t.Errorf("%s: rewritten as %s", got, again)
		}
	}
	for _, tc := range []struct {
		indent int
		cases  [][2]string
	}{{1, v.Indent}, {4, v.Indent4}} {
		if len(tc.cases) == 0 {
			t.Fatalf("no indent=%d cases", tc.indent)
		}
		for _, c := range tc.cases {
			val, err := Parse([]byte(c[0]))
			if err != nil {
				t.Fatal(err)
			}
			got, err := MarshalIndent(val, tc.indent)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != c[1] {
				t.Errorf("%s: indent=%d\n%s\nPython:\n%s", c[0], tc.indent, got, c[1])
			}
		}
	}
}

// obj builds an Object from keys and values in turn.
func obj(kv ...any) *Object {
	o := &Object{}
	for i := 0; i < len(kv); i += 2 {
		o.Set(kv[i].(string), kv[i+1])
	}
	return o
}

// TestPythonDumps compares Marshal and MarshalIndent with what Python
// 3.11's json.dumps(v), json.dumps(v, indent=1) and json.dumps(v,
// indent=4) write for the Python value each Go value stands for.
func TestPythonDumps(t *testing.T) {
	for _, tt := range []struct {
		name                    string
		v                       any
		dumps, indent1, indent4 string
	}{
		{"null", nil, "null", "null", "null"},
		{"true", true, "true", "true", "true"},
		{"false", false, "false", "false", "false"},
		{"empty string", "", "\"\"", "\"\"", "\"\""},
		{"zero", 0, "0", "0", "0"},
		{"empty containers",
			[]any{[]any{}, &Object{}, []any{[]any{}}, obj("a", &Object{}, "b", []any{}), []any{map[string]any{}}},
			"[[], {}, [[]], {\"a\": {}, \"b\": []}, [{}]]",
			"[\n [],\n {},\n [\n  []\n ],\n {\n  \"a\": {},\n  \"b\": []\n },\n [\n  {}\n ]\n]",
			"[\n    [],\n    {},\n    [\n        []\n    ],\n    {\n        \"a\": {},\n        \"b\": []\n    },\n    [\n        {}\n    ]\n]"},
		{"strings",
			[]any{"café", "\u2028\u2029", "😀", "\x00\x1f\x7f", "<&>/'", "\"\\\b\f\n\r\t", "\ufeff", "\uffff", "\u0080"},
			"[\"caf\\u00e9\", \"\\u2028\\u2029\", \"\\ud83d\\ude00\", \"\\u0000\\u001f\\u007f\", \"<&>/'\", \"\\\"\\\\\\b\\f\\n\\r\\t\", \"\\ufeff\", \"\\uffff\", \"\\u0080\"]",
			"[\n \"caf\\u00e9\",\n \"\\u2028\\u2029\",\n \"\\ud83d\\ude00\",\n \"\\u0000\\u001f\\u007f\",\n \"<&>/'\",\n \"\\\"\\\\\\b\\f\\n\\r\\t\",\n \"\\ufeff\",\n \"\\uffff\",\n \"\\u0080\"\n]",
			"[\n    \"caf\\u00e9\",\n    \"\\u2028\\u2029\",\n    \"\\ud83d\\ude00\",\n    \"\\u0000\\u001f\\u007f\",\n    \"<&>/'\",\n    \"\\\"\\\\\\b\\f\\n\\r\\t\",\n    \"\\ufeff\",\n    \"\\uffff\",\n    \"\\u0080\"\n]"},
		// Python's "\ud800", "\udfff", "a\ud83d\ude00b" (two lone
		// surrogates, written as the pair they make) and "\udc00\ud800",
		// held as Parse holds them.
		{"lone surrogates",
			[]any{"\xed\xa0\x80", "\xed\xbf\xbf", "a\xed\xa0\xbd\xed\xb8\x80b", "\xed\xb0\x80\xed\xa0\x80"},
			"[\"\\ud800\", \"\\udfff\", \"a\\ud83d\\ude00b\", \"\\udc00\\ud800\"]",
			"[\n \"\\ud800\",\n \"\\udfff\",\n \"a\\ud83d\\ude00b\",\n \"\\udc00\\ud800\"\n]",
			"[\n    \"\\ud800\",\n    \"\\udfff\",\n    \"a\\ud83d\\ude00b\",\n    \"\\udc00\\ud800\"\n]"},
		{"floats",
			[]any{1e16, 1e15, 9999999999999998.0, 0.1, math.Copysign(0, -1), 0.0, 1e-4, 1e-5, 5e-324, 1.7976931348623157e308,
				float64(1 << 53), 1e22, 123456789.123, 1795732144.6245465, math.NaN(), math.Inf(1), math.Inf(-1),
				float32(0.1), 100.0, -1.5e-7},
			"[1e+16, 1000000000000000.0, 9999999999999998.0, 0.1, -0.0, 0.0, 0.0001, 1e-05, 5e-324, 1.7976931348623157e+308, 9007199254740992.0, 1e+22, 123456789.123, 1795732144.6245465, NaN, Infinity, -Infinity, 0.10000000149011612, 100.0, -1.5e-07]",
			"[\n 1e+16,\n 1000000000000000.0,\n 9999999999999998.0,\n 0.1,\n -0.0,\n 0.0,\n 0.0001,\n 1e-05,\n 5e-324,\n 1.7976931348623157e+308,\n 9007199254740992.0,\n 1e+22,\n 123456789.123,\n 1795732144.6245465,\n NaN,\n Infinity,\n -Infinity,\n 0.10000000149011612,\n 100.0,\n -1.5e-07\n]",
			"[\n    1e+16,\n    1000000000000000.0,\n    9999999999999998.0,\n    0.1,\n    -0.0,\n    0.0,\n    0.0001,\n    1e-05,\n    5e-324,\n    1.7976931348623157e+308,\n    9007199254740992.0,\n    1e+22,\n    123456789.123,\n    1795732144.6245465,\n    NaN,\n    Infinity,\n    -Infinity,\n    0.10000000149011612,\n    100.0,\n    -1.5e-07\n]"},
		// Python's 2**64, -(2**63)-1, 10**29, 2**64-1, -2**63, 0, -128,
		// 1.0, 100000.0.
		{"ints",
			[]any{json.Number("18446744073709551616"), json.Number("-9223372036854775809"), json.Number("100000000000000000000000000000"),
				uint64(math.MaxUint64), int64(math.MinInt64), json.Number("-0"), int8(-128), json.Number("1.0"), json.Number("1e5")},
			"[18446744073709551616, -9223372036854775809, 100000000000000000000000000000, 18446744073709551615, -9223372036854775808, 0, -128, 1.0, 100000.0]",
			"[\n 18446744073709551616,\n -9223372036854775809,\n 100000000000000000000000000000,\n 18446744073709551615,\n -9223372036854775808,\n 0,\n -128,\n 1.0,\n 100000.0\n]",
			"[\n    18446744073709551616,\n    -9223372036854775809,\n    100000000000000000000000000000,\n    18446744073709551615,\n    -9223372036854775808,\n    0,\n    -128,\n    1.0,\n    100000.0\n]"},
		// An Object keeps its order; a map is sorted (by code point, as
		// sort_keys=True sorts).
		{"key order",
			obj("b", 1, "a", map[string]any{"é": "x", "z": true, "y": nil}, "", "empty key"),
			"{\"b\": 1, \"a\": {\"y\": null, \"z\": true, \"\\u00e9\": \"x\"}, \"\": \"empty key\"}",
			"{\n \"b\": 1,\n \"a\": {\n  \"y\": null,\n  \"z\": true,\n  \"\\u00e9\": \"x\"\n },\n \"\": \"empty key\"\n}",
			"{\n    \"b\": 1,\n    \"a\": {\n        \"y\": null,\n        \"z\": true,\n        \"\\u00e9\": \"x\"\n    },\n    \"\": \"empty key\"\n}"},
		{"listing",
			[]any{"dirnode", obj("children", obj("café", []any{"filenode", obj("mutable", false, "metadata",
				obj("tahoe", obj("linkcrtime", 1795732144.6245465)))}), "mutable", true)},
			"[\"dirnode\", {\"children\": {\"caf\\u00e9\": [\"filenode\", {\"mutable\": false, \"metadata\": {\"tahoe\": {\"linkcrtime\": 1795732144.6245465}}}]}, \"mutable\": true}]",
			"[\n \"dirnode\",\n {\n  \"children\": {\n   \"caf\\u00e9\": [\n    \"filenode\",\n    {\n     \"mutable\": false,\n     \"metadata\": {\n      \"tahoe\": {\n       \"linkcrtime\": 1795732144.6245465\n      }\n     }\n    }\n   ]\n  },\n  \"mutable\": true\n }\n]",
			"[\n    \"dirnode\",\n    {\n        \"children\": {\n            \"caf\\u00e9\": [\n                \"filenode\",\n                {\n                    \"mutable\": false,\n                    \"metadata\": {\n                        \"tahoe\": {\n                            \"linkcrtime\": 1795732144.6245465\n                        }\n                    }\n                }\n            ]\n        },\n        \"mutable\": true\n    }\n]"},
	} {
		for _, c := range []struct {
			indent int // -1: Marshal
			want   string
		}{{-1, tt.dumps}, {1, tt.indent1}, {4, tt.indent4}} {
			var got []byte
			var err error
			if c.indent < 0 {
				got, err = Marshal(tt.v)
			} else {
				got, err = MarshalIndent(tt.v, c.indent)
			}
			if err != nil || string(got) != c.want {
				t.Errorf("%s, indent %d: got %v\n%s\nPython:\n%s", tt.name, c.indent, err, got, c.want)
				continue
			}
			// Python's output reads back to a value written the same way.
			back, err := Parse([]byte(c.want))
			if err != nil {
				t.Errorf("%s, indent %d: %v", tt.name, c.indent, err)
				continue
			}
			if again, _ := MarshalIndent(back, c.indent); c.indent >= 0 && string(again) != c.want {
				t.Errorf("%s, indent %d: read back and written as\n%s", tt.name, c.indent, again)
			}
			if again, _ := Marshal(back); string(again) != tt.dumps {
				t.Errorf("%s, indent %d: read back and written as %s", tt.name, c.indent, again)
			}
		}
	}
}

// TestIndentZero: Python's indent=0 breaks lines without indenting.
func TestIndentZero(t *testing.T) {
	v := []any{[]any{}, &Object{}, []any{[]any{}}, obj("a", &Object{}, "b", []any{}), []any{&Object{}}}
	const want = "[\n[],\n{},\n[\n[]\n],\n{\n\"a\": {},\n\"b\": []\n},\n[\n{}\n]\n]" // json.dumps(v, indent=0)
	for _, n := range []int{0, -1} {
		if got, err := MarshalIndent(v, n); err != nil || string(got) != want {
			t.Errorf("indent %d: %s %v", n, got, err)
		}
	}
}

// TestInvalidUTF8: bytes that are not UTF-8 (nor an encoded surrogate)
// are written as U+FFFD, one for each byte, as encoding/json does.
func TestInvalidUTF8(t *testing.T) {
	for in, want := range map[string]string{
		"\xff":         `"\ufffd"`,
		"a\xc3":        `"a\ufffd"`,
		"\xed\xa0":     `"\ufffd\ufffd"`, // a surrogate cut short
		"\xed\xa0\x80": `"\ud800"`,
		"\xf0\x9f\x98": `"\ufffd\ufffd\ufffd"`,
	} {
		if got, _ := Marshal(in); string(got) != want {
			t.Errorf("%q: %s, want %s", in, got, want)
		}
	}
}

type marshaler struct{ s string }

func (m *marshaler) MarshalJSON() ([]byte, error) { return []byte(m.s), nil }

// TestGoValues: values outside the value model are written as
// encoding/json sees them, in Python's form.
func TestGoValues(t *testing.T) {
	type inner struct {
		F float64 `json:"f"`
		G float64 `json:"g"`
	}
	type body struct {
		Z        string   `json:"z"`
		A        bool     `json:"a"`
		Size     *uint64  `json:"size,omitempty"`
		Skipped  string   `json:"-"`
		Empty    string   `json:"empty,omitempty"`
		Names    []string `json:"names"`
		Metadata *Object  `json:"metadata"`
		In       inner    `json:"in"`
		unseen   int
	}
	size := uint64(1 << 60)
	b := body{Z: "<é>", A: true, Size: &size, Skipped: "x", Names: []string{"😀"},
		Metadata: obj("k", 1.5e-7, "b", []any{}), In: inner{F: 0.00001, G: 5}, unseen: 1}
	got, err := MarshalIndent([]any{"filenode", b}, 1)
	if err != nil {
		t.Fatal(err)
	}
	// Python writes g as 5.0; encoding/json leaves no trace that it is a float.
	const want = "[\n \"filenode\",\n {\n  \"z\": \"<\\u00e9>\",\n  \"a\": true,\n  \"size\": 1152921504606846976,\n" +
		"  \"names\": [\n   \"\\ud83d\\ude00\"\n  ],\n  \"metadata\": {\n   \"k\": 1.5e-07,\n   \"b\": []\n  },\n" +
		"  \"in\": {\n   \"f\": 1e-05,\n   \"g\": 5\n  }\n }\n]"
	if string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}

	for _, tt := range []struct {
		v    any
		want string
	}{
		{map[string]string{"b": "1", "a": "\u00e9"}, `{"a": "\u00e9", "b": "1"}`},
		{map[string]int{}, `{}`},
		{[]string(nil), `null`},
		{(*marshaler)(nil), `null`},
		{(*Object)(nil), `{}`},
		{Object{}, `{}`},
		{*obj("x", 1), `{"x": 1}`},
		// MarshalJSON is called directly: its NaN reaches the output,
		// which encoding/json would refuse.
		{&marshaler{`{"n": NaN, "s": "\ud800"}`}, `{"n": NaN, "s": "\ud800"}`},
		{json.RawMessage(`[1.0, 1E2]`), `[1.0, 100.0]`},
		{struct{ A []int }{[]int{1}}, `{"A": [1]}`},
	} {
		if got, err := Marshal(tt.v); err != nil || string(got) != tt.want {
			t.Errorf("%#v: %s %v, want %s", tt.v, got, err, tt.want)
		}
	}

	for _, v := range []any{
		make(chan int),
		&marshaler{`{"a": }`},
		struct{ F float64 }{math.NaN()}, // encoding/json refuses NaN
		json.Number("0x10"),
		[]any{func() {}},
	} {
		if _, err := Marshal(v); !errors.Is(err, ErrInvalid) {
			t.Errorf("%#v: %v, want ErrInvalid", v, err)
		}
	}
}

func TestObject(t *testing.T) {
	var o Object
	o.Set("b", 1)
	o.Set("a", "x")
	o.Set("b", 2.5) // keeps its place
	o.Set("m", map[string]any{"z": true, "y": nil})
	o.Set("i", []any{int64(-3), uint8(4), json.Number("5"), float32(0.5)})
	got, err := o.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"b": 2.5, "a": "x", "m": {"y": null, "z": true}, "i": [-3, 4, 5, 0.5]}`; string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	c := o.Clone()
	o.Delete("a")
	o.Delete("missing")
	if keys := o.Keys(); len(keys) != 3 || keys[0] != "b" || keys[1] != "m" {
		t.Errorf("keys %v", keys)
	}
	if c.Len() != 4 {
		t.Errorf("clone changed with the original: %v", c.Keys())
	}
	m, _ := o.Get("m")
	m.(map[string]any)["z"] = false
	if cm, _ := c.Get("m"); cm.(map[string]any)["z"] != true {
		t.Error("clone shares a nested map")
	}
	var nilObj *Object
	if b, _ := nilObj.MarshalJSON(); string(b) != "{}" || nilObj.Len() != 0 || nilObj.Keys() != nil {
		t.Errorf("nil object: %s", b)
	}
	if _, ok := nilObj.Get("x"); ok {
		t.Error("nil object has a key")
	}
	nilObj.Delete("x")
	if nilObj.Clone().Len() != 0 {
		t.Error("clone of nil")
	}
	// encoding/json uses MarshalJSON and UnmarshalJSON.
	b, err := json.Marshal(map[string]*Object{"o": c})
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]*Object
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if keys := back["o"].Keys(); len(keys) != 4 || keys[0] != "b" {
		t.Errorf("round trip through encoding/json: %v", keys)
	}
	if err := back["o"].UnmarshalJSON([]byte("[]")); !errors.Is(err, ErrInvalid) {
		t.Errorf("UnmarshalJSON of an array: %v", err)
	}
}

func TestParse(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want string // Marshal of the value; "" for an error
	}{
		{`"\ud83d\ude00"`, `"\ud83d\ude00"`},
		{`"\uD83D\uDE00"`, `"\ud83d\ude00"`},
		{`"\ud83d"`, `"\ud83d"`},
		{`"\ude00\ud83d"`, `"\ude00\ud83d"`},
		{`"\ud83d\u0041"`, `"\ud83dA"`},
		{"\"\xed\xa0\x80\"", `"\ud800"`}, // raw, as surrogatepass reads it
		{"\"\xed\xa0\"", ""},
		{"\"\xff\"", ""},
		{`-0`, `0`},
		{`-0.0`, `-0.0`},
		{`1e999`, `Infinity`},
		{`-1e999`, `-Infinity`},
		{`1E+2`, `100.0`},
		{`123456789012345678901234567890`, `123456789012345678901234567890`},
		{`[1, "a", {"x": [], "y": {}}]`, `[1, "a", {"x": [], "y": {}}]`},
		{"\ufeff[]", `[]`},
		{`"\/"`, `"/"`},
		{`nul`, ""},
		{`[1 2]`, ""},
		{`"a`, ""},
		{`"\u00g0"`, ""},
		{`-`, ""},
		{`-Infinity`, `-Infinity`},
		{`-NaN`, ""},
		{`1.e5`, ""},
	} {
		v, err := Parse([]byte(tt.in))
		if tt.want == "" {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("%q: %#v %v, want ErrInvalid", tt.in, v, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if got, err := Marshal(v); err != nil || string(got) != tt.want {
			t.Errorf("%q: %s %v, want %s", tt.in, got, err, tt.want)
		}
	}
	if _, err := ParseObject([]byte("[1]")); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "an array") {
		t.Errorf("array as object: %v", err)
	}
	if _, err := ParseObject([]byte("{\"a\": \"\xff\"}")); !errors.Is(err, ErrInvalid) {
		t.Errorf("invalid UTF-8: %v", err)
	}
}

func TestDepth(t *testing.T) {
	deep := bytes.Repeat([]byte{'['}, maxDepth+2)
	if _, err := Parse(deep); !errors.Is(err, ErrInvalid) {
		t.Errorf("deep nesting: %v", err)
	}
	ok := append(bytes.Repeat([]byte{'['}, maxDepth), bytes.Repeat([]byte{']'}, maxDepth)...)
	v, err := Parse(ok)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := Marshal(v); err != nil || !bytes.Equal(got, ok) {
		t.Errorf("%d deep: %v", maxDepth, err)
	}
	var nest any = []any{}
	for i := 0; i < maxDepth+1; i++ {
		nest = []any{nest}
	}
	if _, err := Marshal(nest); !errors.Is(err, ErrInvalid) {
		t.Errorf("writing deep nesting: %v", err)
	}
}

// FuzzRoundTrip: what Parse reads, Marshal and MarshalIndent write so
// that Parse reads it back to a value written the same way.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte(`{"tahoe": {"linkcrtime": 1795732144.6245465, "linkmotime": 1.0}}`))
	f.Add([]byte(`{"a": [1, -0, 1e400, NaN, "\ud800", "\u00e9"], "a": {}}`))
	f.Add([]byte(`["dirnode", {"children": {}, "mutable": true}]`))
	f.Add([]byte("[0.1, -0.0, 1e16, 12345678901234567890, \"\\ud83d\\ude00\", [[]], [{}]]"))
	f.Add([]byte("\ufeff \"\xed\xa0\x80\" "))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		out, err := Marshal(v)
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		v2, err := Parse(out)
		if err != nil {
			t.Fatalf("our output %q does not parse: %v", out, err)
		}
		if out2, _ := Marshal(v2); !bytes.Equal(out, out2) {
			t.Fatalf("not stable: %q then %q", out, out2)
		}
		for _, n := range []int{1, 4} {
			ind, err := MarshalIndent(v, n)
			if err != nil {
				t.Fatalf("MarshalIndent(%d): %v", n, err)
			}
			v3, err := Parse(ind)
			if err != nil {
				t.Fatalf("our indent=%d output %q does not parse: %v", n, ind, err)
			}
			if out3, _ := Marshal(v3); !bytes.Equal(out, out3) {
				t.Fatalf("indent=%d reads back as %q, not %q", n, out3, out)
			}
		}
	})
}

func BenchmarkMarshalMetadata(b *testing.B) {
	md := obj("tahoe", obj("linkcrtime", 1795732144.6245465, "linkmotime", 1795732152.372221),
		"mtime", 1795732144.2005272, "ctime", 1795732144.2005272, "size", json.Number("123456"), "name", "café")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Marshal(md); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseMetadata(b *testing.B) {
	in := []byte(`{"tahoe": {"linkcrtime": 1795732144.6245465, "linkmotime": 1795732152.372221}, "mtime": 1795732144.2005272, "size": 123456, "name": "caf\u00e9"}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(in); err != nil {
			b.Fatal(err)
		}
	}
}
