package main

// Tahoe's quoting of names and paths in what the CLI prints
// (allmydata.util.encodingutil's quote_output and
// quote_local_unicode_path).

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Tahoe's quote_output: the character classes that force double quotes.
var (
	mustDoubleQuote   = regexp.MustCompile("[^\n\x20-\x26\x28-\x7E\u00A0-\uD7FF\uE000-\uFDCF\uFDF0-\uFFFC]")
	mustDoubleQuoteNL = regexp.MustCompile("[^\x20-\x26\x28-\x7E\u00A0-\uD7FF\uE000-\uFDCF\uFDF0-\uFFFC]")
)

// quoteName quotes a name for a message as Tahoe's quote_output does:
// with quotemarks, 'name'; without, bare unless it holds characters that
// need escaping. Those (and any "'") make it "double quoted", with \", \$,
// \`, \\ and \xNN/\uNNNN/\UNNNNNNNN escapes. Newlines are escaped only with
// quotemarks.
func quoteName(s string, quotemarks bool) string {
	re := mustDoubleQuote
	if quotemarks {
		re = mustDoubleQuoteNL
	}
	if utf8.ValidString(s) && !re.MatchString(s) {
		if quotemarks || strings.HasPrefix(s, `"`) {
			return "'" + s + "'"
		}
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		if r == utf8.RuneError && n == 1 {
			fmt.Fprintf(&b, `\x%02x`, s[0])
			s = s[1:]
			continue
		}
		s = s[n:]
		switch {
		case r == '"' || r == '$' || r == '`' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n' && !quotemarks:
			b.WriteRune(r)
		case r == ' ' || r == '!' || r == '#' || (r >= 0x25 && r <= 0x7E) ||
			(r >= 0xA0 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFDCF) || (r >= 0xFDF0 && r <= 0xFFFC):
			b.WriteRune(r)
		case r > 0xFFFF:
			fmt.Fprintf(&b, `\U%08x`, r)
		case r > 0xFF:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\x%02x`, r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// quoteLocal quotes a local path as Tahoe's quote_local_unicode_path:
// quoteName, with newlines always escaped.
func quoteLocal(p string, quotemarks bool) string {
	if !quotemarks && strings.Contains(p, "\n") {
		return quoteName(p, true)
	}
	return quoteName(p, quotemarks)
}
