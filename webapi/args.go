package webapi

import (
	"fmt"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"
)

// request is an HTTP request with its path and arguments read the way
// Tahoe's Twisted server reads them: path segments split on "/" before
// percent-decoding (so an encoded "%2F" stays inside its segment), query
// arguments kept in order with blank values, and, for a POST form, the form
// fields after the query arguments (Tahoe's get_arg).
type request struct {
	*http.Request
	segs  []string
	query []argPair
	form  *form // set once a POST form has been read
	// answer holds the headers of the response, for what a request
	// learns on the way (how an upload went).
	answer http.Header
}

type argPair struct{ k, v string }

func newRequest(r *http.Request) *request {
	raw := strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/")
	segs := make([]string, len(raw))
	for i, s := range raw {
		segs[i] = unquote(s, false)
	}
	return &request{Request: r, segs: segs, query: parseQuery(r.URL.RawQuery)}
}

// parseQuery is Python's parse_qsl(q, keep_blank_values=True): pairs split
// on "&", "+" read as a space, bad escapes kept as they are.
func parseQuery(q string) []argPair {
	var out []argPair
	for _, nv := range strings.Split(q, "&") {
		if nv == "" {
			continue
		}
		k, v, _ := strings.Cut(nv, "=")
		out = append(out, argPair{unquote(k, true), unquote(v, true)})
	}
	return out
}

// unquote percent-decodes s as Python's unquote_to_bytes: an escape that
// is not two hex digits is left as it is.
func unquote(s string, plus bool) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '%' && i+2 < len(s) && ishex(s[i+1]) && ishex(s[i+2]):
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
		case c == '+' && plus:
			b.WriteByte(' ')
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// queryArg returns the first value of a query argument.
func (q *request) queryArg(name string) (string, bool) {
	for _, a := range q.query {
		if a.k == name {
			return a.v, true
		}
	}
	return "", false
}

// arg is Tahoe's get_arg: the first query value of name, else the form
// field of that name (POST forms only, once read).
func (q *request) arg(name string) (string, bool) {
	if v, ok := q.queryArg(name); ok {
		return v, true
	}
	if q.form != nil {
		if v, ok := q.form.fields[name]; ok {
			return v, true
		}
	}
	return "", false
}

// argOr is arg with a default.
func (q *request) argOr(name, def string) string {
	if v, ok := q.arg(name); ok {
		return v
	}
	return def
}

// asciiSpace is the white space of Python's bytes.strip and bytes.split.
const asciiSpace = " \t\n\r\v\f"

// t returns the operation argument, stripped as Python's bytes.strip does.
func (q *request) t() string { return strings.Trim(q.argOr("t", ""), asciiSpace) }

// boolArg is Tahoe's boolean_of_arg(get_arg(req, name, def)).
func (q *request) boolArg(name, def string) (bool, error) {
	return parseBool(q.argOr(name, def))
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "true", "t", "1", "on":
		return true, nil
	case "false", "f", "0", "off":
		return false, nil
	}
	return false, badRequest("invalid boolean argument: %s", pyBytesRepr(v))
}

// lastHeader returns the last value of a request header, as Twisted's
// getHeader does.
func lastHeader(r *http.Request, name string) string {
	vs := r.Header.Values(name)
	if len(vs) == 0 {
		return ""
	}
	return vs[len(vs)-1]
}

// pyBytesRepr formats s as Python's repr of a bytes object, which Tahoe
// puts into some error messages (b'json').
func pyBytesRepr(s string) string {
	quote := byte('\'')
	if strings.Contains(s, "'") && !strings.Contains(s, `"`) {
		quote = '"'
	}
	var b strings.Builder
	b.WriteString("b")
	b.WriteByte(quote)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' || c == quote:
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\t':
			b.WriteString(`\t`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c < 0x20 || c >= 0x7f:
			fmt.Fprintf(&b, `\x%02x`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte(quote)
	return b.String()
}

// pyStrRepr formats s as Python's repr of a str ('foo').
func pyStrRepr(s string) string {
	quote := '\''
	if strings.Contains(s, "'") && !strings.Contains(s, `"`) {
		quote = '"'
	}
	var b strings.Builder
	b.WriteRune(quote)
	for _, r := range s {
		switch {
		case r == '\\' || r == quote:
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r >= 0x7f && r < 0xa0:
			fmt.Fprintf(&b, `\x%02x`, r)
		case !unicode.IsPrint(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteRune(quote)
	return b.String()
}

// quoteOutput is Tahoe's quote_output(name, encoding="utf-8") for the
// names in error messages: 'name' when every character is printable and
// not a quote, else a double-quoted form with backslash escapes.
func quoteOutput(s string) string {
	plain := utf8.ValidString(s)
	for _, r := range s {
		if !(r >= 0x20 && r <= 0x7e && r != '\'' || r >= 0xa0 && r <= 0xd7ff ||
			r >= 0xe000 && r <= 0xfdcf || r >= 0xfdf0 && r <= 0xfffc) {
			plain = false
		}
	}
	if plain {
		return "'" + s + "'"
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '$' || r == '`' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n' || r == ' ' || r == '!' || r == '#' || r >= 0x25 && r <= 0x7e ||
			r >= 0xa0 && r <= 0xd7ff || r >= 0xe000 && r <= 0xfdcf || r >= 0xfdf0 && r <= 0xfffc:
			b.WriteRune(r)
		case r > 0xffff:
			fmt.Fprintf(&b, `\U%08x`, r)
		case r > 0xff:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\x%02x`, r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// quoteOutputBare is Tahoe's quote_output(name, quotemarks=False), as
// "No such child: NAME" shows names: the name itself when it is plain
// (newlines allowed), else quoted as quoteOutput does.
func quoteOutputBare(s string) string {
	if !strings.ContainsRune(s, '\n') {
		if q := quoteOutput(s); strings.HasPrefix(q, "'") {
			if strings.HasPrefix(s, `"`) {
				return q
			}
			return s
		}
		return quoteOutput(s)
	}
	lines := strings.Split(s, "\n")
	for _, l := range lines {
		if !strings.HasPrefix(quoteOutput(l), "'") {
			return quoteOutput(s)
		}
	}
	if strings.HasPrefix(s, `"`) {
		return "'" + s + "'"
	}
	return s
}

// pyQuote is Python's urllib.parse.quote(s, safe): every byte but ASCII
// letters, digits, "_.-~" and those in safe is percent-encoded.
func pyQuote(s, safe string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte("_.-~", c) >= 0 || strings.IndexByte(safe, c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}
