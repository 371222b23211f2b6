package node

import (
	"reflect"
	"testing"
)

// values returns the interpolated keys of every section, or "!ERR" for a
// key that does not interpolate.
func iniValues(t *testing.T, f *iniFile) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	for _, s := range f.sections {
		m := map[string]string{}
		for _, it := range f.keys(s.name) {
			v, err := f.interpolate(s.name, it.value)
			if err != nil {
				v = "!ERR"
			}
			m[it.key] = v
		}
		out[s.name] = m
	}
	return out
}

// TestINI checks the configparser dialect. The expected values were
// checked against Python 3.11-3.13's configparser.ConfigParser(strict=False).
func TestINI(t *testing.T) {
	type sections = map[string]map[string]string
	cases := []struct {
		name string
		text string
		want sections
	}{
		{"basic", "[node]\nnickname = bob\nweb.port: tcp:3456\n",
			sections{"node": {"nickname": "bob", "web.port": "tcp:3456"}}},
		{"first delimiter splits", "[s]\na:b = c\nd = e:f=g\n",
			sections{"s": {"a": "b = c", "d": "e:f=g"}}},
		{"keys lower-cased and stripped", "[s]\n  Reveal-IP-Address   =   false  \n",
			sections{"s": {"reveal-ip-address": "false"}}},
		{"no inline comments", "[s]\na = b # c ; d\n",
			sections{"s": {"a": "b # c ; d"}}},
		{"comment lines", "# x\n; y\n[s]\n  # indented comment\na = 1\n",
			sections{"s": {"a": "1"}}},
		{"continuation", "[s]\na = 1\n  2\n\t3\nb = 4\n",
			sections{"s": {"a": "1\n2\n3", "b": "4"}}},
		{"blank line inside continuation", "[s]\na = 1\n\n  2\n\n",
			sections{"s": {"a": "1\n\n2"}}},
		{"comment does not end continuation", "[s]\na = 1\n# c\n  2\n",
			sections{"s": {"a": "1\n2"}}},
		{"deeper indented key continues", "[s]\na = 1\n  b = 2\n",
			sections{"s": {"a": "1\nb = 2"}}},
		{"indented keys at one level", "[s]\n  a = 1\n  b = 2\n",
			sections{"s": {"a": "1", "b": "2"}}},
		{"crlf", "[s]\r\na = 1\r\n",
			sections{"s": {"a": "1"}}},
		{"repeated section and key", "[s]\na = 1\n[t]\n[s]\na = 2\nb = 3\n",
			sections{"s": {"a": "2", "b": "3"}, "t": {}}},
		{"header text after bracket", "[s] trailing\na = 1\n",
			sections{"s": {"a": "1"}}},
		{"header up to last bracket", "[a]b]\nk = v\n",
			sections{"a]b": {"k": "v"}}},
		{"DEFAULT inherited", "[DEFAULT]\nx = 1\n[s]\ny = %(x)s2\n[t]\nx = 3\n",
			sections{"s": {"y": "12", "x": "1"}, "t": {"x": "3"}}},
		{"percent escapes", "[s]\na = 100%%\nb = %(a)s!\n",
			sections{"s": {"a": "100%", "b": "100%!"}}},
		{"bad percent", "[s]\na = 100%\nb = %(nope)s\nc = %(a\n",
			sections{"s": {"a": "!ERR", "b": "!ERR", "c": "!ERR"}}},
		{"interpolation loop", "[s]\na = %(b)s\nb = %(a)s\n",
			sections{"s": {"a": "!ERR", "b": "!ERR"}}},
		{"empty value", "[s]\na =\nb:\n",
			sections{"s": {"a": "", "b": ""}}},
		{"unicode spaces", "[s]\n\u00a0a\u3000=\u2003b\x1c\n",
			sections{"s": {"a": "b"}}},
		{"empty file", "", sections{}},
	}
	for _, c := range cases {
		f, err := parseINI(c.text)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got := iniValues(t, f); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, c.want)
		}
	}
}

func TestINIErrors(t *testing.T) {
	cases := []struct {
		text string
		line int
	}{
		{"a = 1\n", 1},                // no section header
		{"\n# c\n  a = 1\n", 3},       // still none
		{"[s]\njunk\n", 2},            // not key = value
		{"[s]\na = 1\n= 2\n", 3},      // no key
		{"[s]\n[]\n", 2},              // an empty header is not a header
		{"[s]\na = 1\nb\n[t\n", 3},    // the first bad line counts
		{"[s]\n a = 1\nb\n", 3},       // b is not indented deeper than a
		{"[DEFAULT]\n[s\nx = 1\n", 2}, // "[s" is no header
		{"[s]\n  x\n", 2},             // indented but nothing to continue
	}
	for _, c := range cases {
		_, err := parseINI(c.text)
		se, ok := err.(*iniSyntaxError)
		if !ok || se.line != c.line {
			t.Errorf("parseINI(%q) = %v, want a syntax error at line %d", c.text, err, c.line)
		}
	}
}

func TestInterpolationBlowUp(t *testing.T) {
	text := "[s]\n"
	for i := 0; i < 10; i++ {
		ref := ""
		for j := 0; j < 20; j++ {
			ref += "%(k" + string(rune('a'+i+1)) + ")s"
		}
		text += "k" + string(rune('a'+i)) + " = " + ref + "\n"
	}
	text += "k" + string(rune('a'+10)) + " = xxxxxxxxxx\n"
	f, err := parseINI(text)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.interpolate("s", f.byName["s"].index["ka"].value); err == nil {
		t.Error("20^10 expansion accepted")
	}
}
