package dirnode

import (
	"encoding/json"
	"fmt"
	"math"
)

// Object is a JSON object that keeps its keys in order, as a Python dict
// does. Tahoe writes entry metadata with json.dumps, which emits keys in
// insertion order, so keeping the order is what makes a re-packed
// directory byte-identical to the one Tahoe wrote.
//
// Values are nil (null), bool, string, float64, json.Number (an integer, or
// any number from a caller), the Go integer types, []any, and *Object for
// nested objects; map[string]any is also accepted and written with sorted
// keys. Parsing yields only nil, bool, string, float64 (JSON numbers with
// a fraction or exponent: Python floats), json.Number (integers, kept
// exactly: Python ints have no size limit), []any and *Object.
//
// The zero value is an empty object ready to use. A nil *Object reads as
// empty and is written as {}.
type Object struct {
	keys []string
	vals map[string]any
}

// ParseObject parses a JSON object as Python's json.loads does: NaN,
// Infinity and -Infinity are accepted, a repeated key keeps its first
// position and its last value, and any value that is not an object is an
// error. Metadata written by any Tahoe version parses.
func ParseObject(b []byte) (*Object, error) {
	v, err := parsePythonJSON(b)
	if err != nil {
		return nil, err
	}
	o, ok := v.(*Object)
	if !ok {
		return nil, fmt.Errorf("%w: want a JSON object, got %s", ErrJSON, typeName(v))
	}
	return o, nil
}

// Len returns the number of keys.
func (o *Object) Len() int {
	if o == nil {
		return 0
	}
	return len(o.keys)
}

// Keys returns the keys in order.
func (o *Object) Keys() []string {
	if o == nil {
		return nil
	}
	return append([]string(nil), o.keys...)
}

// Get returns the value of key and whether it is present.
func (o *Object) Get(key string) (any, bool) {
	if o == nil {
		return nil, false
	}
	v, ok := o.vals[key]
	return v, ok
}

// Set sets key to v. A new key goes last; an existing key keeps its place,
// as in a Python dict.
func (o *Object) Set(key string, v any) {
	if o.vals == nil {
		o.vals = make(map[string]any)
	}
	if _, ok := o.vals[key]; !ok {
		o.keys = append(o.keys, key)
	}
	o.vals[key] = v
}

// Delete removes key, if present.
func (o *Object) Delete(key string) {
	if o == nil {
		return
	}
	if _, ok := o.vals[key]; !ok {
		return
	}
	delete(o.vals, key)
	for i, k := range o.keys {
		if k == key {
			o.keys = append(o.keys[:i:i], o.keys[i+1:]...)
			break
		}
	}
}

// Clone returns a deep copy of o (nested objects and arrays are copied
// too). Clone of nil is a new empty object.
func (o *Object) Clone() *Object {
	c := &Object{}
	if o == nil {
		return c
	}
	c.keys = append([]string(nil), o.keys...)
	c.vals = make(map[string]any, len(o.vals))
	for k, v := range o.vals {
		c.vals[k] = cloneValue(v)
	}
	return c
}

func cloneValue(v any) any {
	switch v := v.(type) {
	case *Object:
		return v.Clone()
	case []any:
		c := make([]any, len(v))
		for i, x := range v {
			c[i] = cloneValue(x)
		}
		return c
	case map[string]any:
		c := make(map[string]any, len(v))
		for k, x := range v {
			c[k] = cloneValue(x)
		}
		return c
	}
	return v
}

// MarshalJSON returns o as Python's json.dumps(o) writes it: keys in
// order, ", " and ": " separators, everything outside printable ASCII
// escaped as \uXXXX, floats in repr form (shortest round trip,
// 1795732144.6245465, 1e+16, NaN, Infinity). It fails only for a value of
// a type Object does not hold.
func (o *Object) MarshalJSON() ([]byte, error) {
	e := pyEncoder{itemSep: ", "}
	if err := e.value(o, 0); err != nil {
		return nil, err
	}
	return e.buf, nil
}

// UnmarshalJSON replaces o with the object in b, parsed as ParseObject
// does.
func (o *Object) UnmarshalJSON(b []byte) error {
	p, err := ParseObject(b)
	if err != nil {
		return err
	}
	*o = *p
	return nil
}

// Truthy reports whether v is true as Python's bool(v) sees it: false for
// null, false, zero, NaN is true (as in Python), "" and empty arrays and
// objects. Tahoe tests metadata flags such as "no-write" this way.
func Truthy(v any) bool {
	switch v := v.(type) {
	case nil:
		return false
	case bool:
		return v
	case string:
		return v != ""
	case float64:
		return v != 0 || math.IsNaN(v)
	case float32:
		return v != 0 || math.IsNaN(float64(v))
	case json.Number:
		if f, err := v.Float64(); err == nil {
			return f != 0 || math.IsNaN(f)
		}
		return true
	case int:
		return v != 0
	case int8:
		return v != 0
	case int16:
		return v != 0
	case int32:
		return v != 0
	case int64:
		return v != 0
	case uint:
		return v != 0
	case uint8:
		return v != 0
	case uint16:
		return v != 0
	case uint32:
		return v != 0
	case uint64:
		return v != 0
	case []any:
		return len(v) > 0
	case *Object:
		return v.Len() > 0
	case map[string]any:
		return len(v) > 0
	}
	return true
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case float64, json.Number:
		return "a number"
	case []any:
		return "an array"
	case *Object:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
