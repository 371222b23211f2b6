package dirnode

import (
	"encoding/json"
	"errors"
	"math"
	"testing"
)

// TestObjectIsPyJSON: metadata parses and writes as package pyjson does
// (its tests hold the Python comparisons), through dirnode's names.
func TestObjectIsPyJSON(t *testing.T) {
	o, err := ParseObject([]byte(`{"tahoe": {"linkcrtime": 1795732144.6245465, "linkmotime": 1e16}, "n\u00e9": "\ud800", "x": NaN}`))
	if err != nil {
		t.Fatal(err)
	}
	got, err := o.MarshalJSON()
	if want := `{"tahoe": {"linkcrtime": 1795732144.6245465, "linkmotime": 1e+16}, "n\u00e9": "\ud800", "x": NaN}`; err != nil || string(got) != want {
		t.Errorf("got  %s %v\nwant %s", got, err, want)
	}
	if _, err := ParseObject([]byte("[1]")); !errors.Is(err, ErrJSON) {
		t.Errorf("array as object: %v", err)
	}
	if _, err := ParseObject([]byte(`{"a": 1,}`)); !errors.Is(err, ErrJSON) {
		t.Errorf("trailing comma: %v", err)
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
