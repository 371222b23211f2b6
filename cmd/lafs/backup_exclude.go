package main

// backup's exclusion rules: --exclude, --exclude-from-utf-8 and
// --exclude-vcs patterns, matched against each name as Tahoe matches them
// (Python's fnmatch).

import (
	"fmt"
	"regexp"
	"strings"
)

// vcsPatterns are what --exclude-vcs excludes, as Tahoe's
// BackupOptions.vcs_patterns.
var vcsPatterns = []string{"CVS", "RCS", "SCCS", ".git", ".gitignore", ".cvsignore",
	".svn", ".arch-ids", "{arch}", "=RELEASE-ID", "=meta-update", "=update",
	".bzr", ".bzrignore", ".bzrtags", ".hg", ".hgignore", "_darcs"}

// excludes are the patterns of the --exclude options.
type excludes struct {
	patterns map[string]bool // glob patterns, as Tahoe's set
	res      []*regexp.Regexp
}

// add adds a pattern, stripped of surrounding white space; an empty one is
// ignored (Tahoe's opt_exclude).
func (x *excludes) add(p string) {
	if p = strings.TrimSpace(p); p != "" {
		x.patterns[p] = true
	}
}

// compile makes the patterns ready for match.
func (x *excludes) compile() error {
	for p := range x.patterns {
		re, err := fnmatchRegexp(p)
		if err != nil {
			return usagef("bad --exclude pattern %s: %v", quoteName(p, true), err)
		}
		x.res = append(x.res, re)
	}
	return nil
}

// match reports whether a child's name matches a pattern.
func (x *excludes) match(name string) bool {
	for _, re := range x.res {
		if re.MatchString(name) {
			return true
		}
	}
	return false
}

// fnmatchRegexp compiles a glob as Python's re.compile(fnmatch.translate(p))
// whose match() Tahoe applies to each name: the whole name must match; "*"
// is any run of characters, "?" any one, "[seq]" and "[!seq]" a set (a
// "[" without its "]" is literal), and every other character itself
// (a backslash included: it escapes nothing). Case matters.
func fnmatchRegexp(pat string) (*regexp.Regexp, error) {
	rs := []rune(pat)
	var b strings.Builder
	b.WriteString(`(?s)^(?:`)
	star := false
	for i := 0; i < len(rs); {
		c := rs[i]
		i++
		if c == '*' {
			if !star {
				b.WriteString(`.*`)
			}
			star = true
			continue
		}
		star = false
		switch c {
		case '?':
			b.WriteString(`.`)
		case '[':
			j := i
			if j < len(rs) && rs[j] == '!' {
				j++
			}
			if j < len(rs) && rs[j] == ']' {
				j++
			}
			for j < len(rs) && rs[j] != ']' {
				j++
			}
			if j >= len(rs) {
				b.WriteString(`\[`)
				continue
			}
			b.WriteString(globClass(rs[i:j]))
			i = j + 1
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString(`)$`)
	return regexp.Compile(b.String())
}

// globClass is the regexp of a glob's [set] (without its brackets), as
// fnmatch.translate makes it: "!" first negates; "x-y" is a range, except
// that a "-" first or last is itself; a range whose ends are reversed
// matches nothing (Python drops it).
func globClass(set []rune) string {
	neg := len(set) > 0 && set[0] == '!'
	if neg {
		set = set[1:]
	}
	var items strings.Builder
	n := 0
	for k := 0; k < len(set); {
		if k+2 < len(set) && set[k+1] == '-' {
			if lo, hi := set[k], set[k+2]; lo <= hi {
				fmt.Fprintf(&items, `\x{%x}-\x{%x}`, lo, hi)
				n++
			}
			k += 3
			continue
		}
		fmt.Fprintf(&items, `\x{%x}`, set[k])
		n++
		k++
	}
	switch {
	case n == 0 && neg:
		return `.`
	case n == 0:
		return `[^\x00-\x{10FFFF}]` // matches nothing
	case neg:
		return `[^` + items.String() + `]`
	}
	return `[` + items.String() + `]`
}
