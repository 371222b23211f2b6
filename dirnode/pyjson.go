package dirnode

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// ErrJSON is wrapped by the errors of parsing metadata JSON and of
// writing a value that JSON (as Python writes it) cannot hold.
var ErrJSON = errors.New("bad JSON")

// maxJSONDepth bounds nesting (Python's recursion limit is about 1000).
const maxJSONDepth = 500

// pyEncoder writes JSON exactly as Python's json.dumps does with
// ensure_ascii=True: on one line with itemSep ", " (json.dumps(x)), or
// with indent > 0 spaces per level and itemSep "," at line ends
// (json.dumps(x, indent=n)). Keys are always followed by ": ".
type pyEncoder struct {
	buf     []byte
	indent  int    // 0: one line
	itemSep string // ", " on one line; "," when indenting
}

func (e *pyEncoder) newline(level int) {
	if e.indent > 0 {
		e.buf = append(e.buf, '\n')
		for i := 0; i < level*e.indent; i++ {
			e.buf = append(e.buf, ' ')
		}
	}
}

func (e *pyEncoder) value(v any, level int) error {
	if level > maxJSONDepth {
		return fmt.Errorf("%w: nested more than %d deep", ErrJSON, maxJSONDepth)
	}
	switch v := v.(type) {
	case nil:
		e.buf = append(e.buf, "null"...)
	case bool:
		e.buf = strconv.AppendBool(e.buf, v)
	case string:
		e.buf = appendPyString(e.buf, v)
	case float64:
		e.buf = appendPyFloat(e.buf, v)
	case float32:
		e.buf = appendPyFloat(e.buf, float64(v))
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
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return e.object(keys, func(k string) any { return v[k] }, level)
	default:
		return fmt.Errorf("%w: cannot write a %T", ErrJSON, v)
	}
	return nil
}

func (e *pyEncoder) object(keys []string, get func(string) any, level int) error {
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
		e.buf = appendPyString(e.buf, k)
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
func (e *pyEncoder) number(n json.Number) error {
	s := string(n)
	if isJSONInt(s) {
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
		return fmt.Errorf("%w: %q is not a number", ErrJSON, s)
	}
	e.buf = appendPyFloat(e.buf, f)
	return nil
}

// isJSONInt reports whether s is a JSON integer: -?(0|[1-9][0-9]*).
func isJSONInt(s string) bool {
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

// appendPyFloat appends f as Python's float.__repr__ (which json.dumps
// uses) writes it: the shortest digits that round-trip, in positional
// notation with at least one digit after the point when the decimal
// exponent is in [-4, 16), else d.ddde±XX; NaN, Infinity and -Infinity
// for the non-finite values.
func appendPyFloat(b []byte, f float64) []byte {
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

// appendPyString appends s as a JSON string the way Python's
// json.dumps(ensure_ascii=True) does: \" \\ \n \r \t \b \f, every other
// byte outside ' '..'~' as a lower-case \uXXXX escape, non-BMP code
// points as surrogate pairs. Go strings may hold bytes Python strings
// cannot: a UTF-8-encoded surrogate (which the parser makes of a lone
// "\udXXX" escape) is written back as that escape; other invalid bytes
// as \ufffd.
func appendPyString(b []byte, s string) []byte {
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

// parsePythonJSON parses one JSON value as Python's json.loads(bytes)
// does (strict mode): the input is UTF-8, a UTF-8 byte-order mark is
// skipped, whitespace is " \t\n\r", control characters may not appear
// raw inside strings, NaN/Infinity/-Infinity are numbers, and nothing
// but whitespace may follow the value. Python also guesses UTF-16 and
// UTF-32; no Tahoe ever wrote those, and they are rejected here.
func parsePythonJSON(b []byte) (any, error) {
	if !utf8.Valid(b) && !validWithSurrogates(b) {
		return nil, fmt.Errorf("%w: not UTF-8", ErrJSON)
	}
	p := &pyParser{s: b}
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

type pyParser struct {
	s []byte
	i int
}

func (p *pyParser) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s at byte %d", ErrJSON, fmt.Sprintf(format, args...), p.i)
}

func (p *pyParser) space() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *pyParser) literal(word string) bool {
	if strings.HasPrefix(string(p.s[p.i:min(p.i+len(word), len(p.s))]), word) {
		p.i += len(word)
		return true
	}
	return false
}

func (p *pyParser) value(depth int) (any, error) {
	if depth > maxJSONDepth {
		return nil, p.errorf("nested more than %d deep", maxJSONDepth)
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

func (p *pyParser) object(depth int) (any, error) {
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

func (p *pyParser) array(depth int) (any, error) {
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
func (p *pyParser) number() (any, error) {
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

func (p *pyParser) str() (string, error) {
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

func (p *pyParser) hex4() (rune, bool) {
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
