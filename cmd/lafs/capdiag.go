package main

// Diagnosis of mistyped caps. Tahoe hands a cap it cannot parse to the
// node, which answers "a later version of Tahoe may help": true of a cap
// from the future, no help for one that lost a character when it was
// copied. The verbs that take a cap check it here first and say which
// part is wrong: an unknown kind (with the nearest known one), white space
// from a line break, a field missing or extra, base32 that is too short,
// too long, in upper case or with a character base32 never uses, numbers
// that are no numbers or out of range. cap.Parse is the judge of what is
// valid; this file only explains its refusals. Messages name the parts,
// never echo the key material.

import (
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/node"
)

// capField is one ':'-separated field of a cap, after its kind.
type capField struct {
	name  string
	bytes int // of a base32 field; 0 for a decimal number, -1 for base32 of any length
}

// capLayout is what follows "URI:KIND:" in the caps of a kind.
type capLayout struct {
	what   string // "an immutable file's read cap"
	fields []capField
	// more: anything may follow the last field after a ':' (MDMF's
	// extension fields), or after the digits of the size (Tahoe does
	// not anchor CHK-Verifier's pattern at the end).
	more bool
}

// spec is the layout as the fields' names joined by ':'.
func (l capLayout) spec() string {
	names := make([]string, len(l.fields))
	for i, f := range l.fields {
		names[i] = f.name
	}
	return strings.Join(names, ":")
}

// capLayouts holds every kind Tahoe 1.20 knows (cap.Parse knows the same).
var capLayouts = func() map[string]capLayout {
	chk := func(first string) []capField {
		return []capField{{first, 16}, {"UEB hash", 32}, {"k", 0}, {"N", 0}, {"size", 0}}
	}
	mut := func(first string) []capField { return []capField{{first, 16}, {"fingerprint", 32}} }
	m := map[string]capLayout{}
	for _, dir := range []bool{false, true} {
		p, obj, file := "", "file", "an immutable file"
		if dir {
			p, obj, file = "DIR2-", "directory", "an immutable directory"
		}
		m[p+"CHK"] = capLayout{what: file + "'s read cap", fields: chk("key")}
		m[p+"CHK-Verifier"] = capLayout{what: file + "'s verify cap", fields: chk("storage index"), more: true}
		m[p+"LIT"] = capLayout{what: "a small " + strings.TrimPrefix(file, "an ") + "'s cap (its data inline)", fields: []capField{{"data", -1}}}
		for _, f := range []string{"SSK", "MDMF"} {
			name := f
			if dir {
				name = map[string]string{"SSK": "DIR2", "MDMF": "DIR2-MDMF"}[f]
			}
			more := f == "MDMF"
			m[name] = capLayout{what: "a mutable " + obj + "'s write cap", fields: mut("write key"), more: more}
			m[name+"-RO"] = capLayout{what: "a mutable " + obj + "'s read cap", fields: mut("read key"), more: more}
			m[name+"-Verifier"] = capLayout{what: "a mutable " + obj + "'s verify cap", fields: mut("storage index"), more: more}
		}
	}
	return m
}()

// capProblem says what is wrong with s, a cap as the user typed it, or ""
// when cap.Parse takes it as a cap of a known kind. The words name the
// kind and the part at fault ("URI:CHK: the key (field 1 of
// key:UEB hash:k:N:size) is 25 characters long; it must be 26").
func capProblem(s string) string {
	c, err := cap.Parse(s)
	if err == nil {
		if _, unknown := c.(*cap.Unknown); !unknown {
			return ""
		}
	}
	body := s
	prefix := ""
	for _, p := range []string{cap.ImmutablePrefix, cap.ReadOnlyPrefix} {
		if strings.HasPrefix(body, p) {
			body, prefix = body[len(p):], p
			break
		}
	}
	switch {
	case errors.Is(err, cap.ErrNotImmutable):
		return fmt.Sprintf("the %q prefix marks an immutable object's cap, and %s is not one", prefix, capKindOf(body))
	case errors.Is(err, cap.ErrNotReadOnly):
		return fmt.Sprintf("the %q prefix marks a read-only cap, and %s is a write cap", prefix, capKindOf(body))
	}
	if i := strings.IndexFunc(body, unicode.IsSpace); i >= 0 && i < len(strings.TrimRight(body, "\n")) {
		return "it has white space in it (was it broken across lines when it was copied? join the pieces)"
	}
	rest, ok := strings.CutPrefix(body, "URI:")
	if !ok {
		return "a cap begins with URI:"
	}
	kind, fields, hasFields := strings.Cut(rest, ":")
	layout, known := capLayouts[kind]
	switch {
	case !known:
		return unknownKind(kind, hasFields)
	case !hasFields || fields == "":
		return fmt.Sprintf("URI:%s (%s) needs %s after it, and nothing follows (was the cap cut short?)", kind, layout.what, layout.spec())
	}
	if p := fieldsProblem(layout, strings.TrimSuffix(fields, "\n")); p != "" {
		return fmt.Sprintf("URI:%s (%s): %s", kind, layout.what, p)
	}
	if err != nil {
		// cap.Parse refused it for a reason the walk above missed; its
		// errors name the field, never the cap's text.
		return err.Error()
	}
	return fmt.Sprintf("URI:%s is not a cap this version can use", kind)
}

// capKindOf names the kind of a cap body for messages: "URI:SSK".
func capKindOf(body string) string {
	rest, _ := strings.CutPrefix(body, "URI:")
	kind, _, _ := strings.Cut(rest, ":")
	return "URI:" + kind
}

// unknownKind explains a kind no version of lafs knows: a near miss of a
// known one, or perhaps a cap from a later Tahoe.
func unknownKind(kind string, hasFields bool) string {
	if kind == "" {
		return "nothing names its kind after URI: (URI:CHK:, URI:DIR2:...)"
	}
	if !hasFields {
		return fmt.Sprintf("URI:%s has no ':' after its kind; a cap goes on with fields after URI:KIND:", capText(kind))
	}
	best, bestDist := "", 3
	for k := range capLayouts {
		if strings.EqualFold(k, kind) {
			return fmt.Sprintf("there is no kind URI:%s: kinds are written in capitals (URI:%s)", kind, k)
		}
		if d := node.EditDistance(k, kind); d < bestDist || d == bestDist && k < best {
			best, bestDist = k, d
		}
	}
	if best != "" {
		return fmt.Sprintf("there is no kind URI:%s (did you mean URI:%s?)", capText(kind), best)
	}
	return fmt.Sprintf("URI:%s is no kind of cap this version knows (they are URI:CHK, URI:LIT, URI:SSK, URI:MDMF, "+
		"URI:DIR2 and URI:DIR2-CHK, -LIT, -MDMF, with -RO and -Verifier forms); a cap made by a later version of Tahoe may need a later lafs",
		capText(kind))
}

// fieldsProblem checks the fields after the kind against the layout.
func fieldsProblem(l capLayout, s string) string {
	f := strings.Split(s, ":")
	want := len(l.fields)
	if len(f) > want && l.more {
		f = f[:want]
	}
	if l.more && len(l.fields) == 5 && len(f) == want {
		// The verify cap's size: its leading digits count.
		last := f[4]
		f[4] = last[:len(last)-len(strings.TrimLeft(last, "0123456789"))]
	}
	switch {
	case len(f) < want:
		return fmt.Sprintf("it has %d field%s after its kind where %d are needed (%s): is the end missing?",
			len(f), capPlural(len(f)), want, l.spec())
	case len(f) > want:
		return fmt.Sprintf("it has %d fields after its kind where %d are needed (%s)", len(f), want, l.spec())
	}
	var k, n uint64
	for i, field := range l.fields {
		where := fmt.Sprintf("the %s (field %d of %d: %s)", field.name, i+1, want, l.spec())
		if want == 1 {
			where = "the " + field.name
		}
		if field.bytes == 0 {
			v, p := numberProblem(f[i])
			if p != "" {
				return where + " " + p
			}
			switch field.name {
			case "k":
				k = v
			case "N":
				n = v
			}
			continue
		}
		if p := base32Problem(f[i], field.bytes); p != "" {
			return where + " " + p
		}
	}
	switch {
	case len(l.fields) < 5:
	case k < 1:
		return "k (the number of shares needed) is 0; it must be at least 1"
	case n > lafs.MaxShares:
		return fmt.Sprintf("N (the number of shares) is %d; it can be at most %d", n, lafs.MaxShares)
	case n < k:
		return fmt.Sprintf("N (the number of shares, %d) is less than k (the number needed, %d): are they swapped?", n, k)
	}
	return ""
}

// numberProblem checks a decimal field.
func numberProblem(s string) (uint64, string) {
	if s == "" {
		return 0, "is empty; it must be a number"
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, fmt.Sprintf("is %s, not a number", capText(s))
		}
		if v > (1<<64-1-uint64(c-'0'))/10 {
			return 0, "is too large a number"
		}
		v = v*10 + uint64(c-'0')
	}
	return v, ""
}

// base32Problem checks a base32 field of n bytes (any length if n < 0),
// as Tahoe's base32 is: lower case a-z and 2-7, no padding, no stray bits
// in the last character.
func base32Problem(s string, n int) string {
	if s == "" && n != 0 {
		if n < 0 {
			return ""
		}
		return fmt.Sprintf("is empty; it must be %d characters of base32", lafs.Base32Len(n))
	}
	if strings.ToLower(s) != s && strings.Trim(strings.ToLower(s), "abcdefghijklmnopqrstuvwxyz234567") == "" {
		return "is in upper case; caps are written in lower case"
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || '2' <= c && c <= '7' {
			continue
		}
		hint := ""
		switch c {
		case '0', '1', '8', '9':
			hint = " (base32 has no 0, 1, 8 or 9: misread o, l, b or g?)"
		default:
			if 'A' <= c && c <= 'Z' {
				hint = " (base32 is written in lower case)"
			}
		}
		return fmt.Sprintf("has %s at character %d, which base32 never uses; it uses a-z and 2-7%s", capChar(c), i+1, hint)
	}
	if n >= 0 {
		if want := lafs.Base32Len(n); len(s) != want {
			hint := "was the cap cut short when it was copied?"
			switch {
			case len(s) == want-1:
				hint = "is a character missing?"
			case len(s) > want:
				hint = "were characters added, or two caps run together?"
			}
			return fmt.Sprintf("is %d characters long; it must be %d (%s)", len(s), want, hint)
		}
	}
	if _, err := lafs.ParseBase32(s); err != nil {
		if n < 0 {
			return fmt.Sprintf("is %d characters long, which no base32 text is: is a character missing or extra?", len(s))
		}
		return fmt.Sprintf("ends in %s, which cannot end base32 of this length: is the last character mistyped?", capChar(s[len(s)-1]))
	}
	return ""
}

// capChar shows one character of a cap: a single character tells
// nothing of the key it is part of.
func capChar(c byte) string {
	if c < 0x20 || c >= 0x7f {
		return fmt.Sprintf("byte 0x%02x", c)
	}
	return fmt.Sprintf("%q", string(c))
}

// capText shows a short piece of a cap that is no key material (a kind,
// a number); anything longer is only described.
func capText(s string) string {
	if len(s) > 20 {
		return fmt.Sprintf("%d characters", len(s))
	}
	return fmt.Sprintf("%q", s)
}

// capPlural is the "s" of a plural count.
func capPlural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// capUse is what a verb does with the object a cap names.
type capUse int

const (
	useRead  capUse = iota // read a file or list a directory (get, ls)
	useWrite               // change a mutable file or a directory (put, mkdir)
)

// typedCap checks the cap at the root of p when the user typed it (arg
// begins like a cap), before the node is asked anything: a cap that does
// not parse, or a verify cap, which can neither read nor write, is an
// error that says what is wrong with it. It returns the parsed cap (nil
// when the root came from an alias).
func typedCap(arg string, p gridPath, use capUse) (cap.Cap, error) {
	if !hasCapPrefix(strings.Trim(arg, " ")) || p.root == "" {
		return nil, nil
	}
	if problem := capProblem(p.root); problem != "" {
		return nil, failf("error: that cap is mistyped: %s", problem)
	}
	c, err := cap.Parse(p.root)
	if err != nil {
		return nil, failf("error: that cap is mistyped: %v", err)
	}
	if cap.IsVerifier(c) {
		what := "read"
		if use == useWrite {
			what = "change"
		}
		return nil, failf("error: %s is a verify cap: it lets its holder check and repair the object (lafs check), not %s it",
			cap.Kind(c), what)
	}
	return c, nil
}
