package pyjson

// Object is a JSON object that keeps its keys in order, as a Python dict
// does. json.dumps writes a dict's keys in insertion order, so keeping the
// order is what lets lafs write back byte for byte what Tahoe wrote.
//
// Values are nil (null), bool, string, float64, json.Number (an integer,
// or any number from a caller), the Go integer types, []any, and *Object
// for nested objects; map[string]any is also accepted and written with
// sorted keys (see Marshal for the rest). Parse yields only nil, bool,
// string, float64, json.Number, []any and *Object.
//
// The zero value is an empty object ready to use. A nil *Object reads as
// empty and is written as {}.
type Object struct {
	keys []string
	vals map[string]any
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

// Clone returns a deep copy of o (nested objects, arrays and maps are
// copied too). Clone of nil is a new empty object.
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

// MarshalJSON returns o as Python's json.dumps(o) writes it (see Marshal):
// keys in order, ", " and ": " separators, everything outside printable
// ASCII escaped as \uXXXX, floats in repr form (1795732144.6245465, 1e+16,
// NaN, Infinity). It fails only for a value that Marshal cannot write.
//
// encoding/json checks what MarshalJSON returns, and refuses NaN and the
// infinities; Marshal and MarshalIndent write them.
func (o *Object) MarshalJSON() ([]byte, error) {
	return Marshal(o)
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
