package dirnode

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"os"
	"testing"
)

type pyJSONVectors struct {
	Floats [][2]string  `json:"floats"`
	Loads  [][2]*string `json:"loads"`
	Indent [][2]string  `json:"indent"`
}

// loadPyJSON reads testdata/pyjson.json, written by gen_pyjson.py from
// Python's json module.
func loadPyJSON(t *testing.T) pyJSONVectors {
	t.Helper()
	b, err := os.ReadFile("testdata/pyjson.json")
	if err != nil {
		t.Fatal(err)
	}
	var v pyJSONVectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestPyFloatRepr(t *testing.T) {
	v := loadPyJSON(t)
	if len(v.Floats) < 4000 {
		t.Fatalf("%d float cases", len(v.Floats))
	}
	for _, c := range v.Floats {
		raw, err := hex.DecodeString(c[0])
		if err != nil {
			t.Fatal(err)
		}
		f := math.Float64frombits(binary.BigEndian.Uint64(raw))
		if got := string(appendPyFloat(nil, f)); got != c[1] {
			t.Errorf("%v (%s): %s, Python writes %s", f, c[0], got, c[1])
		}
	}
	if got := string(appendPyFloat(nil, math.NaN())); got != "NaN" {
		t.Errorf("NaN: %s", got)
	}
}

func TestPyJSONLoadsDumps(t *testing.T) {
	v := loadPyJSON(t)
	for _, c := range v.Loads {
		in := *c[0]
		o, err := ParseObject([]byte(in))
		if c[1] == nil {
			if err == nil {
				t.Errorf("%q: parsed, Python refuses it", in)
			} else if !errors.Is(err, ErrJSON) {
				t.Errorf("%q: error %v does not wrap ErrJSON", in, err)
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
	for _, c := range v.Indent {
		val, err := parsePythonJSON([]byte(c[0]))
		if err != nil {
			t.Fatal(err)
		}
		e := pyEncoder{indent: 1, itemSep: ","}
		if err := e.value(val, 0); err != nil {
			t.Fatal(err)
		}
		if string(e.buf) != c[1] {
			t.Errorf("%s: indented\n%s\nPython:\n%s", c[0], e.buf, c[1])
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
	var nilObj *Object
	if b, _ := nilObj.MarshalJSON(); string(b) != "{}" || nilObj.Len() != 0 {
		t.Errorf("nil object: %s", b)
	}
	if _, ok := nilObj.Get("x"); ok {
		t.Error("nil object has a key")
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
	if _, err := ParseObject([]byte("[1]")); !errors.Is(err, ErrJSON) {
		t.Errorf("array as object: %v", err)
	}
	if _, err := ParseObject([]byte("{\"a\": \"\xff\"}")); !errors.Is(err, ErrJSON) {
		t.Errorf("invalid UTF-8: %v", err)
	}
	deep := make([]byte, 0, 2*maxJSONDepth+10)
	for i := 0; i < maxJSONDepth+2; i++ {
		deep = append(deep, '[')
	}
	if _, err := parsePythonJSON(deep); !errors.Is(err, ErrJSON) {
		t.Errorf("deep nesting: %v", err)
	}
}

func TestTruthy(t *testing.T) {
	for v, want := range map[any]bool{
		nil: false, false: false, true: true, "": false, "x": true, 0.0: false, 1.5: true,
		json.Number("0"): false, json.Number("2"): true, 0: false, 3: true,
	} {
		if Truthy(v) != want {
			t.Errorf("Truthy(%#v) = %v", v, !want)
		}
	}
	if Truthy([]any{}) || !Truthy([]any{1}) || Truthy(&Object{}) || !Truthy(math.NaN()) {
		t.Error("Truthy of arrays, objects or NaN")
	}
}

func FuzzParseObject(f *testing.F) {
	f.Add([]byte(`{"tahoe": {"linkcrtime": 1795732144.6245465, "linkmotime": 1.0}}`))
	f.Add([]byte(`{"a": [1, -0, 1e400, NaN, "\ud800", "\u00e9"], "a": {}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := ParseObject(b)
		if err != nil {
			return
		}
		out, err := o.MarshalJSON()
		if err != nil {
			t.Fatalf("MarshalJSON: %v", err)
		}
		o2, err := ParseObject(out)
		if err != nil {
			t.Fatalf("our output %q does not parse: %v", out, err)
		}
		out2, _ := o2.MarshalJSON()
		if string(out) != string(out2) {
			t.Fatalf("not stable: %q then %q", out, out2)
		}
	})
}
