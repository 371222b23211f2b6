package pyjson

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// ErrInvalid is wrapped by every error of Parse and ParseObject (the input
// is not JSON as Python's json.loads reads it) and of Marshal and
// MarshalIndent (the value holds something JSON cannot, or is nested too
// deep).
var ErrInvalid = errors.New("bad JSON")

// maxDepth bounds nesting, reading and writing (Python's recursion limit
// is about 1000).
const maxDepth = 500

// Parse parses one JSON value as Python's json.loads(bytes) does (strict
// mode): the input is UTF-8, a UTF-8 byte-order mark is skipped,
// whitespace is " \t\n\r", control characters may not appear raw inside
// strings, NaN, Infinity and -Infinity are numbers, and nothing but
// whitespace may follow the value. (Python also guesses UTF-16 and
// UTF-32; no Tahoe ever wrote those, and they are refused.)
//
// The value is nil (null), bool, string, float64 (a number with a
// fraction or an exponent: a Python float, ±Inf when it overflows, as
// Python's float() gives), json.Number (an integer, kept exactly; "-0" is
// read as "0", as Python's int does), []any or *Object. A lone surrogate
// escape ("\ud800") is kept in the string as the three bytes that encode
// that code point (which are not valid UTF-8), as Python's
// "surrogatepass" would write it, and Marshal writes it back as the
// escape. Input holding such bytes raw is accepted too.
func Parse(b []byte) (any, error) {
	if !utf8.Valid(b) && !validWithSurrogates(b) {
		return nil, fmt.Errorf("%w: not UTF-8", ErrInvalid)
	}
	p := &parser{s: b}
	if len(b) >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF {
		p.i = 3
	}
	p.space()
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i != len(p.s) {
		return nil, p.errorf("extra data")
	}
	return v, nil
}

// ParseObject parses a JSON object as Parse does; any value that is not
// an object is an error.
func ParseObject(b []byte) (*Object, error) {
	v, err := Parse(b)
	if err != nil {
		return nil, err
	}
	o, ok := v.(*Object)
	if !ok {
		return nil, fmt.Errorf("%w: want a JSON object, got %s", ErrInvalid, typeName(v))
	}
	return o, nil
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

// validWithSurrogates reports whether b is UTF-8 once encoded surrogates
// (which Python's surrogatepass decoder lets through) are allowed.
func validWithSurrogates(b []byte) bool {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			if _, ok := decodeSurrogate(string(b[i:min(i+3, len(b))])); ok {
				i += 3
				continue
			}
			return false
		}
		i += size
	}
	return true
}

// decodeSurrogate decodes a surrogate code point encoded as if it were a
// character (ED A0..BF 80..BF), as Python's "surrogatepass" would.
func decodeSurrogate(s string) (rune, bool) {
	if len(s) < 3 || s[0] != 0xED || s[1] < 0xA0 || s[1] > 0xBF || s[2] < 0x80 || s[2] > 0xBF {
		return 0, false
	}
	return rune(s[0]&0x0F)<<12 | rune(s[1]&0x3F)<<6 | rune(s[2]&0x3F), true
}

// appendSurrogate encodes a lone surrogate code point as three bytes.
func appendSurrogate(b []byte, r rune) []byte {
	return append(b, 0xE0|byte(r>>12), 0x80|byte(r>>6)&0x3F, 0x80|byte(r)&0x3F)
}

type parser struct {
	s []byte
	i int
}

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s at byte %d", ErrInvalid, fmt.Sprintf(format, args...), p.i)
}

func (p *parser) space() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) literal(word string) bool {
	if strings.HasPrefix(string(p.s[p.i:min(p.i+len(word), len(p.s))]), word) {
		p.i += len(word)
		return true
	}
	return false
}

func (p *parser) value(depth int) (any, error) {
	if depth > maxDepth {
		return nil, p.errorf("nested more than %d deep", maxDepth)
	}
	if p.i >= len(p.s) {
		return nil, p.errorf("expecting value")
	}
	switch c := p.s[p.i]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		return p.str()
	case p.literal("null"):
		return nil, nil
	case p.literal("true"):
		return true, nil
	case p.literal("false"):
		return false, nil
	case p.literal("NaN"):
		return math.NaN(), nil
	case p.literal("Infinity"):
		return math.Inf(1), nil
	case p.literal("-Infinity"):
		return math.Inf(-1), nil
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	}
	return nil, p.errorf("expecting value")
}

func (p *parser) object(depth int) (any, error) {
	p.i++ // '{'
	o := &Object{}
	p.space()
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		return o, nil
	}
	for {
		if p.i >= len(p.s) || p.s[p.i] != '"' {
			return nil, p.errorf("expecting property name enclosed in double quotes")
		}
		k, err := p.str()
		if err != nil {
			return nil, err
		}
		p.space()
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			return nil, p.errorf("expecting ':' delimiter")
		}
		p.i++
		p.space()
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		o.Set(k, v)
		p.space()
		if p.i < len(p.s) && p.s[p.i] == '}' {
			p.i++
			return o, nil
		}
		if p.i >= len(p.s) || p.s[p.i] != ',' {
			return nil, p.errorf("expecting ',' delimiter")
		}
		p.i++
		p.space()
	}
}

func (p *parser) array(depth int) (any, error) {
	p.i++ // '['
	a := []any{}
	p.space()
	if p.i < len(p.s) && p.s[p.i] == ']' {
		p.i++
		return a, nil
	}
	for {
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		p.space()
		if p.i < len(p.s) && p.s[p.i] == ']' {
			p.i++
			return a, nil
		}
		if p.i >= len(p.s) || p.s[p.i] != ',' {
			return nil, p.errorf("expecting ',' delimiter")
		}
		p.i++
		p.space()
	}
}

// number parses -?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?: an integer stays
// exact as a json.Number, anything else is a float64 (±Inf when it
// overflows, as Python's float() gives).
func (p *parser) number() (any, error) {
	start := p.i
	digits := func() int {
		n := 0
		for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	if p.s[p.i] == '-' {
		p.i++
	}
	if p.i < len(p.s) && p.s[p.i] == '0' {
		p.i++
	} else if digits() == 0 {
		p.i = start
		return nil, p.errorf("expecting value")
	}
	isFloat := false
	if p.i+1 < len(p.s) && p.s[p.i] == '.' && p.s[p.i+1] >= '0' && p.s[p.i+1] <= '9' {
		p.i++
		digits()
		isFloat = true
	}
	if p.i < len(p.s) && (p.s[p.i] == 'e' || p.s[p.i] == 'E') {
		save := p.i
		p.i++
		if p.i < len(p.s) && (p.s[p.i] == '+' || p.s[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			p.i = save // not an exponent; the caller sees extra data
		} else {
			isFloat = true
		}
	}
	lit := string(p.s[start:p.i])
	if !isFloat {
		if lit == "-0" {
			lit = "0"
		}
		return json.Number(lit), nil
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return nil, p.errorf("bad number %q", lit)
	}
	return f, nil
}

func (p *parser) str() (string, error) {
	p.i++ // '"'
	var b []byte
	for {
		start := p.i
		for p.i < len(p.s) && p.s[p.i] != '"' && p.s[p.i] != '\\' && p.s[p.i] >= 0x20 {
			p.i++
		}
		b = append(b, p.s[start:p.i]...)
		if p.i >= len(p.s) {
			return "", p.errorf("unterminated string")
		}
		switch c := p.s[p.i]; {
		case c == '"':
			p.i++
			return string(b), nil
		case c < 0x20:
			return "", p.errorf("invalid control character")
		}
		// A backslash escape.
		p.i++
		if p.i >= len(p.s) {
			return "", p.errorf("unterminated string")
		}
		c := p.s[p.i]
		p.i++
		switch c {
		case '"', '\\', '/':
			b = append(b, c)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return "", p.errorf("invalid \\uXXXX escape")
			}
			if utf16.IsSurrogate(r) {
				if r < 0xDC00 && p.i+1 < len(p.s) && p.s[p.i] == '\\' && p.s[p.i+1] == 'u' {
					save := p.i
					p.i += 2
					if r2, ok := p.hex4(); ok && r2 >= 0xDC00 && r2 <= 0xDFFF {
						b = utf8.AppendRune(b, utf16.DecodeRune(r, r2))
						continue
					}
					p.i = save
				}
				b = appendSurrogate(b, r) // a lone surrogate, as Python keeps it
				continue
			}
			b = utf8.AppendRune(b, r)
		default:
			return "", p.errorf("invalid \\escape")
		}
	}
}

func (p *parser) hex4() (rune, bool) {
	if p.i+4 > len(p.s) {
		return 0, false
	}
	var r rune
	for _, c := range p.s[p.i : p.i+4] {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	p.i += 4
	return r, true
}
