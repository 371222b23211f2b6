package pyjson

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Marshal returns v as Python's json.dumps(v) writes it: on one line, with
// ", " between items and ": " after keys. Tahoe writes directory metadata
// this way.
//
// v is built of nil, bool, string, float64, float32 (written as the
// float64 it converts to), json.Number, the Go integer types, []any,
// *Object (keys in order) and map[string]any (keys sorted). Strings may
// hold the encoded lone surrogates that Parse makes of "\udXXX" escapes,
// written back as those escapes; other bytes that are not UTF-8 are
// written as \ufffd, one for each byte.
//
// Any other value is written as encoding/json sees it, in Python's form:
// what json.Marshal (or the value's MarshalJSON method) makes of it is
// read back with Parse and written here, so struct fields keep their
// order and tags, and maps have sorted keys. encoding/json writes a float
// that holds an integer as an integer (5, where Python writes 5.0), so
// such a float inside a struct comes out as an integer; put float64 values
// in a []any or *Object where Python's form matters.
func Marshal(v any) ([]byte, error) {
	e := encoder{itemSep: ", "}
	if err := e.value(v, 0); err != nil {
		return nil, err
	}
	return e.buf, nil
}

// MarshalIndent returns v as Python's json.dumps(v, indent=indent) writes
// it: every item of an array or object on a line of its own, indented by
// indent spaces for each level, "," at the end of all but the last, and
// ": " after keys; empty arrays and objects stay [] and {}. The Tahoe web
// API's t=json answers are json.dumps(v, indent=1) followed by "\n";
// `tahoe list-aliases --json` prints json.dumps(v, indent=4). As in
// Python, an indent of 0 (or less) still starts each item on a new line;
// Marshal is indent=None. No newline follows the value. v is as for
// Marshal.
func MarshalIndent(v any, indent int) ([]byte, error) {
	e := encoder{itemSep: ",", pretty: true, indent: max(indent, 0)}
	if err := e.value(v, 0); err != nil {
		return nil, err
	}
	return e.buf, nil
}

// encoder writes JSON as Python's json.dumps does with ensure_ascii=True.
type encoder struct {
	buf     []byte
	pretty  bool   // indent is not None: a newline before every item
	indent  int    // spaces per level when pretty
	itemSep string // ", " on one line; "," when pretty
}

func (e *encoder) newline(level int) {
	if e.pretty {
		e.buf = append(e.buf, '\n')
		for i := 0; i < level*e.indent; i++ {
			e.buf = append(e.buf, ' ')
		}
	}
}

func (e *encoder) value(v any, level int) error {
	if level > maxDepth {
		return fmt.Errorf("%w: nested more than %d deep", ErrInvalid, maxDepth)
	}
	switch v := v.(type) {
	case nil:
		e.buf = append(e.buf, "null"...)
	case bool:
		e.buf = strconv.AppendBool(e.buf, v)
	case string:
		e.buf = appendString(e.buf, v)
	case float64:
		e.buf = appendFloat(e.buf, v)
	case float32:
		e.buf = appendFloat(e.buf, float64(v))
	case json.Number:
		return e.number(v)
	case int:
		e.buf = strconv.AppendInt(e.buf, int64(v), 10)
	case int8:
		e.buf = strconv.AppendInt(e.buf, int64(v), 10)
	case int16:
		e.buf = strconv.AppendInt(e.buf, int64(v), 10)
	case int32:
		e.buf = strconv.AppendInt(e.buf, int64(v), 10)
	case int64:
		e.buf = strconv.AppendInt(e.buf, v, 10)
	case uint:
		e.buf = strconv.AppendUint(e.buf, uint64(v), 10)
	case uint8:
		e.buf = strconv.AppendUint(e.buf, uint64(v), 10)
	case uint16:
		e.buf = strconv.AppendUint(e.buf, uint64(v), 10)
	case uint32:
		e.buf = strconv.AppendUint(e.buf, uint64(v), 10)
	case uint64:
		e.buf = strconv.AppendUint(e.buf, v, 10)
	case []any:
		if len(v) == 0 {
			e.buf = append(e.buf, "[]"...)
			return nil
		}
		e.buf = append(e.buf, '[')
		for i, x := range v {
			if i > 0 {
				e.buf = append(e.buf, e.itemSep...)
			}
			e.newline(level + 1)
			if err := e.value(x, level+1); err != nil {
				return err
			}
		}
		e.newline(level)
		e.buf = append(e.buf, ']')
	case *Object:
		if v == nil {
			e.buf = append(e.buf, "{}"...)
			return nil
		}
		return e.object(v.keys, func(k string) any { return v.vals[k] }, level)
	case Object:
		return e.value(&v, level)
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return e.object(keys, func(k string) any { return v[k] }, level)
	default:
		return e.other(v, level)
	}
	return nil
}

// other writes a value outside the value model as encoding/json sees it.
func (e *encoder) other(v any, level int) error {
	var b []byte
	var err error
	if m, ok := v.(json.Marshaler); ok {
		if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && rv.IsNil() {
			e.buf = append(e.buf, "null"...) // as encoding/json writes it
			return nil
		}
		// Called directly: encoding/json would refuse NaN in its output.
		b, err = m.MarshalJSON()
	} else {
		b, err = json.Marshal(v)
	}
	if err != nil {
		if errors.Is(err, ErrInvalid) {
			return err
		}
		return fmt.Errorf("%w: %T: %w", ErrInvalid, v, err)
	}
	x, err := Parse(b)
	if err != nil {
		return fmt.Errorf("%T wrote %w", v, err)
	}
	return e.value(x, level)
}

func (e *encoder) object(keys []string, get func(string) any, level int) error {
	if len(keys) == 0 {
		e.buf = append(e.buf, "{}"...)
		return nil
	}
	e.buf = append(e.buf, '{')
	for i, k := range keys {
		if i > 0 {
			e.buf = append(e.buf, e.itemSep...)
		}
		e.newline(level + 1)
		e.buf = appendString(e.buf, k)
		e.buf = append(e.buf, ": "...)
		if err := e.value(get(k), level+1); err != nil {
			return err
		}
	}
	e.newline(level)
	e.buf = append(e.buf, '}')
	return nil
}

// number writes a json.Number as Python would the int or float that
// json.loads makes of it.
func (e *encoder) number(n json.Number) error {
	s := string(n)
	if isInt(s) {
		if s == "-0" {
			s = "0" // Python's int("-0") is 0
		}
		e.buf = append(e.buf, s...)
		return nil
	}
	switch s {
	case "NaN", "Infinity", "-Infinity":
		e.buf = append(e.buf, s...)
		return nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return fmt.Errorf("%w: %q is not a number", ErrInvalid, s)
	}
	e.buf = appendFloat(e.buf, f)
	return nil
}

// isInt reports whether s is a JSON integer: -?(0|[1-9][0-9]*).
func isInt(s string) bool {
	s = strings.TrimPrefix(s, "-")
	if s == "" || (s[0] == '0' && len(s) > 1) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// appendFloat appends f as Python's float.__repr__ (which json.dumps
// uses) writes it: the shortest digits that round-trip, in positional
// notation with at least one digit after the point when the decimal
// exponent is in [-4, 16), else d.ddde±XX; NaN, Infinity and -Infinity
// for the non-finite values.
func appendFloat(b []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, "NaN"...)
	case math.IsInf(f, 1):
		return append(b, "Infinity"...)
	case math.IsInf(f, -1):
		return append(b, "-Infinity"...)
	}
	// 'e' with precision -1: the shortest round-trip digits, d.ddde±XX.
	s := strconv.FormatFloat(f, 'e', -1, 64)
	if s[0] == '-' {
		b = append(b, '-')
		s = s[1:]
	}
	mant, expS, _ := strings.Cut(s, "e")
	digits := strings.Replace(mant, ".", "", 1)
	exp, _ := strconv.Atoi(expS)
	decpt := exp + 1 // the value is 0.digits × 10^decpt
	switch {
	case decpt <= -4 || decpt > 16:
		b = append(b, digits[0])
		if len(digits) > 1 {
			b = append(b, '.')
			b = append(b, digits[1:]...)
		}
		b = append(b, 'e')
		if exp < 0 {
			b = append(b, '-')
			exp = -exp
		} else {
			b = append(b, '+')
		}
		if exp < 10 {
			b = append(b, '0')
		}
		return strconv.AppendInt(b, int64(exp), 10)
	case decpt <= 0:
		b = append(b, "0."...)
		for i := 0; i < -decpt; i++ {
			b = append(b, '0')
		}
		return append(b, digits...)
	case decpt >= len(digits):
		b = append(b, digits...)
		for i := len(digits); i < decpt; i++ {
			b = append(b, '0')
		}
		return append(b, ".0"...)
	default:
		b = append(b, digits[:decpt]...)
		b = append(b, '.')
		return append(b, digits[decpt:]...)
	}
}

// appendString appends s as a JSON string the way Python's
// json.dumps(ensure_ascii=True) does: \" \\ \n \r \t \b \f, every other
// byte outside ' '..'~' as a lower-case \uXXXX escape, non-BMP code
// points as surrogate pairs. Go strings may hold bytes Python strings
// cannot: a UTF-8-encoded surrogate (which the parser makes of a lone
// "\udXXX" escape) is written back as that escape; other invalid bytes
// as \ufffd.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	u := func(b []byte, r rune) []byte {
		return append(b, '\\', 'u', hex[r>>12&0xf], hex[r>>8&0xf], hex[r>>4&0xf], hex[r&0xf])
	}
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= ' ' && c <= '~' && c != '"' && c != '\\' {
			b = append(b, c)
			i++
			continue
		}
		if c < utf8.RuneSelf {
			switch c {
			case '"':
				b = append(b, '\\', '"')
			case '\\':
				b = append(b, '\\', '\\')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = u(b, rune(c))
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			if sr, ok := decodeSurrogate(s[i:]); ok {
				b = u(b, sr)
				i += 3
				continue
			}
			b = u(b, utf8.RuneError)
			i++
			continue
		}
		if r >= 0x10000 {
			r1, r2 := utf16.EncodeRune(r)
			b = u(u(b, r1), r2)
		} else {
			b = u(b, r)
		}
		i += size
	}
	return append(b, '"')
}
