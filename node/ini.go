package node

import (
	"fmt"
	"strings"
)

// This file is a reader for the INI dialect that Tahoe reads tahoe.cfg with:
// Python's configparser.ConfigParser(strict=False) with its defaults
// (util/configutil.py get_config_from_string). The rules it copies:
//
//   - Lines end at "\n" only; a stray "\r" is whitespace to strip.
//   - A line whose stripped text starts with "#" or ";" is a comment. There
//     are no inline comments: "a = b # c" has the value "b # c".
//   - "[name]" starts a section; the name is everything up to the last "]"
//     on the line (text after it is ignored) and is case-sensitive. A
//     repeated section continues the earlier one. "[DEFAULT]" holds values
//     every section inherits.
//   - "key = value" or "key: value", split at the first "=" or ":"; keys are
//     lower-cased, keys and values stripped. A repeated key replaces the
//     earlier value.
//   - A line indented deeper than its key's line continues the value, as do
//     blank lines inside it; the parts are joined with "\n" and the result
//     right-stripped.
//   - Values are interpolated when read: "%%" is "%", "%(key)s" is another
//     key's value from the same section (or DEFAULT), up to 10 levels deep;
//     any other "%" is an error.

const defaultSection = "DEFAULT"

// iniItem is one key of a section.
type iniItem struct {
	key   string   // lower-cased
	parts []string // value lines, before joining
	value string   // joined raw value, before interpolation
	line  int      // line of the key (its last assignment)
}

// iniSection is one section, its keys in order of first appearance.
type iniSection struct {
	name  string
	line  int // line of the first header
	items []*iniItem
	index map[string]*iniItem
}

func newSection(name string, line int) *iniSection {
	return &iniSection{name: name, line: line, index: map[string]*iniItem{}}
}

// iniFile is a parsed file.
type iniFile struct {
	sections []*iniSection // in order, without DEFAULT
	byName   map[string]*iniSection
	defaults *iniSection
}

// iniSyntaxError is a line configparser cannot read.
type iniSyntaxError struct {
	line int
	msg  string
}

func (e *iniSyntaxError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

// parseINI reads text as configparser does; text has no BOM.
func parseINI(text string) (*iniFile, error) {
	f := &iniFile{byName: map[string]*iniSection{}, defaults: newSection(defaultSection, 0)}
	var cur *iniSection
	var opt *iniItem // the key that continuation lines extend
	indentLevel := 0
	for i, line := range strings.Split(text, "\n") {
		lineno := i + 1
		clean := pyStrip(line)
		comment := strings.HasPrefix(clean, "#") || strings.HasPrefix(clean, ";")
		if comment || clean == "" {
			if !comment && cur != nil && opt != nil {
				opt.parts = append(opt.parts, "")
			}
			continue
		}
		indent := 0
		for _, r := range line {
			if !pyIsSpace(r) {
				break
			}
			indent++
		}
		if cur != nil && opt != nil && indent > indentLevel {
			opt.parts = append(opt.parts, clean)
			continue
		}
		indentLevel = indent
		if name, ok := sectionHeader(clean); ok {
			switch s := f.byName[name]; {
			case s != nil:
				cur = s
			case name == defaultSection:
				cur = f.defaults
				if cur.line == 0 {
					cur.line = lineno
				}
			default:
				cur = newSection(name, lineno)
				f.sections = append(f.sections, cur)
				f.byName[name] = cur
			}
			opt = nil
			continue
		}
		if cur == nil {
			return nil, &iniSyntaxError{lineno, fmt.Sprintf("no [section] header before %q", clean)}
		}
		d := strings.IndexAny(clean, "=:")
		if d < 0 {
			return nil, &iniSyntaxError{lineno, fmt.Sprintf("not a section header, key = value or comment: %q", clean)}
		}
		key := pyRStrip(clean[:d])
		if key == "" {
			return nil, &iniSyntaxError{lineno, fmt.Sprintf("no key before %q", clean[d:d+1])}
		}
		key = strings.ToLower(key)
		it := cur.index[key]
		if it == nil {
			it = &iniItem{key: key}
			cur.items = append(cur.items, it)
			cur.index[key] = it
		}
		it.parts = []string{pyStrip(clean[d+1:])}
		it.line = lineno
		opt = it
	}
	for _, s := range append([]*iniSection{f.defaults}, f.sections...) {
		for _, it := range s.items {
			it.value = pyRStrip(strings.Join(it.parts, "\n"))
			it.parts = nil
		}
	}
	return f, nil
}

// sectionHeader matches configparser's SECTCRE, \[(?P<header>.+)\], against
// the start of a stripped line.
func sectionHeader(clean string) (string, bool) {
	if !strings.HasPrefix(clean, "[") {
		return "", false
	}
	j := strings.LastIndexByte(clean, ']')
	if j < 2 {
		return "", false
	}
	return clean[1:j], true
}

// lookup finds key in section name, falling back to DEFAULT as configparser
// does. A section that does not exist has no keys.
func (f *iniFile) lookup(section, key string) (*iniItem, bool) {
	s := f.byName[section]
	if s == nil && section != defaultSection {
		return nil, false
	}
	if s != nil {
		if it := s.index[key]; it != nil {
			return it, true
		}
	}
	it := f.defaults.index[key]
	return it, it != nil
}

// keys lists the keys of a section as configparser's options() does: its
// own, then the inherited DEFAULT keys it does not override.
func (f *iniFile) keys(section string) []*iniItem {
	s := f.byName[section]
	if s == nil {
		return nil
	}
	out := append([]*iniItem(nil), s.items...)
	for _, it := range f.defaults.items {
		if s.index[it.key] == nil {
			out = append(out, it)
		}
	}
	return out
}

// maxInterpolationDepth is configparser's MAX_INTERPOLATION_DEPTH.
const maxInterpolationDepth = 10

// maxInterpolatedLen bounds an interpolated value, which references can
// otherwise blow up exponentially within the depth limit.
const maxInterpolatedLen = 1 << 20

// interpolate expands value as configparser's BasicInterpolation.before_get
// does for a key of section.
func (f *iniFile) interpolate(section, value string) (string, error) {
	var b strings.Builder
	if err := f.interpolateInto(&b, section, value, 1); err != nil {
		return "", err
	}
	return b.String(), nil
}

func (f *iniFile) interpolateInto(b *strings.Builder, section, rest string, depth int) error {
	if depth > maxInterpolationDepth {
		return fmt.Errorf("value references nest more than %d deep", maxInterpolationDepth)
	}
	for rest != "" {
		if b.Len() > maxInterpolatedLen {
			return fmt.Errorf("value is longer than %d bytes after interpolation", maxInterpolatedLen)
		}
		p := strings.IndexByte(rest, '%')
		if p < 0 {
			b.WriteString(rest)
			return nil
		}
		b.WriteString(rest[:p])
		rest = rest[p:]
		switch {
		case strings.HasPrefix(rest, "%%"):
			b.WriteByte('%')
			rest = rest[2:]
		case strings.HasPrefix(rest, "%("):
			// %\(([^)]+)\)s
			end := strings.IndexByte(rest, ')')
			if end < 3 || !strings.HasPrefix(rest[end:], ")s") {
				return fmt.Errorf("bad interpolation variable reference %q (write %%%% for a literal %%)", rest)
			}
			name := strings.ToLower(rest[2:end])
			rest = rest[end+2:]
			it, ok := f.lookup(section, name)
			if !ok {
				return fmt.Errorf("%%(%s)s refers to a key that does not exist (write %%%% for a literal %%)", name)
			}
			if strings.Contains(it.value, "%") {
				if err := f.interpolateInto(b, section, it.value, depth+1); err != nil {
					return err
				}
			} else {
				b.WriteString(it.value)
			}
		default:
			return fmt.Errorf("'%%' must be followed by '%%' or '(', found %q (write %%%% for a literal %%)", rest)
		}
	}
	return nil
}
