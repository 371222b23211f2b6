package dirnode

import (
	"encoding/json"
	"math"

	"github.com/lafs/lafs/pyjson"
)

// Object is a JSON object that keeps its keys in order, as a Python dict
// does: pyjson.Object. Tahoe writes entry metadata with json.dumps, which
// emits keys in insertion order, so keeping the order is what makes a
// re-packed directory byte-identical to the one Tahoe wrote.
type Object = pyjson.Object

// ErrJSON is wrapped by the errors of parsing metadata JSON and of
// writing a value that JSON (as Python writes it) cannot hold. It is
// pyjson.ErrInvalid.
var ErrJSON = pyjson.ErrInvalid

// ParseObject parses a JSON object as Python's json.loads does
// (pyjson.ParseObject): NaN, Infinity and -Infinity are accepted, a
// repeated key keeps its first position and its last value, and any value
// that is not an object is an error. Metadata written by any Tahoe
// version parses.
func ParseObject(b []byte) (*Object, error) {
	return pyjson.ParseObject(b)
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
