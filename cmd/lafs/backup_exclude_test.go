package main

import "testing"

func TestFnmatchRegexp(t *testing.T) {
	for _, tt := range []struct {
		pat  string
		yes  []string
		no   []string
		note string
	}{
		{"*.tmp", []string{".tmp", "a.tmp", "a.b.tmp", "x\ny.tmp"}, []string{"a.tmpx", "tmp", "a.TMP"}, "star, case"},
		{"?", []string{"a", "é", "\n"}, []string{"", "ab"}, "one character"},
		{".git", []string{".git"}, []string{"xgit", ".gitx", "a.git"}, "dot is literal"},
		{"[abc]x", []string{"ax", "cx"}, []string{"dx", "x"}, "set"},
		{"[!abc]x", []string{"dx", "!x"}, []string{"ax"}, "negated set"},
		{"[a-c]", []string{"a", "b", "c"}, []string{"d", "-"}, "range"},
		{"[-a]", []string{"-", "a"}, []string{"b"}, "leading hyphen"},
		{"[a-]", []string{"-", "a"}, []string{"b"}, "trailing hyphen"},
		{"[z-a]", nil, []string{"z", "a", "-", "m"}, "reversed range matches nothing"},
		{"[]]", []string{"]"}, []string{"["}, "bracket first is literal"},
		{"[!]]", []string{"a"}, []string{"]"}, "negated bracket"},
		{"[abc", []string{"[abc"}, []string{"a"}, "unclosed set is literal"},
		{`a\*`, []string{`a\`, `a\bc`}, []string{"a*x"}, "backslash is literal"},
		{"{arch}", []string{"{arch}"}, []string{"arch"}, "braces are literal"},
		{"=RELEASE-ID", []string{"=RELEASE-ID"}, nil, "vcs pattern"},
		{"a**b", []string{"ab", "axxb"}, []string{"a"}, "stars collapse"},
		{"[^a]", []string{"^", "a"}, []string{"b"}, "caret is literal in a set"},
	} {
		re, err := fnmatchRegexp(tt.pat)
		if err != nil {
			t.Errorf("%s (%s): %v", tt.pat, tt.note, err)
			continue
		}
		for _, s := range tt.yes {
			if !re.MatchString(s) {
				t.Errorf("%s (%s) does not match %q", tt.pat, tt.note, s)
			}
		}
		for _, s := range tt.no {
			if re.MatchString(s) {
				t.Errorf("%s (%s) matches %q", tt.pat, tt.note, s)
			}
		}
	}
}
