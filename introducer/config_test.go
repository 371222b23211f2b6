package introducer

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseIntroducersYAML(t *testing.T) {
	for _, c := range []struct {
		name, in string
		want     map[string]string
		err      string // substring of the error, if one is expected
	}{
		{"tahoe sample", "introducers:\n  examplegrid:\n    furl: \"pb://ok45ssoklj4y7eok5c3xkmj@tcp:tahoe.example:44801/ii3uumo\"\n",
			map[string]string{"examplegrid": "pb://ok45ssoklj4y7eok5c3xkmj@tcp:tahoe.example:44801/ii3uumo"}, ""},
		{"two", "introducers:\n  a:\n    furl: pb://x@h:1/s#v=1\n  b:\n    furl: 'pb://y@h:2/t'\n",
			map[string]string{"a": "pb://x@h:1/s#v=1", "b": "pb://y@h:2/t"}, ""},
		{"none", "introducers:\n", map[string]string{}, ""},
		{"empty map", "introducers: {}\n", map[string]string{}, ""},
		{"empty file", "", nil, "empty file"},
		{"comment only", "# nothing\n", nil, "empty file"},
		{"unknown top key", "introducers: {}\nservers: {}\n", nil, ":2: unknown key \"servers\""},
		{"unknown key", "introducers:\n  a:\n    furl: pb://x\n    cache: no\n", nil, ":4: introducer \"a\": unknown key \"cache\""},
		{"no furl", "introducers:\n  a: {}\n", nil, "has no furl"},
		{"int petname", "introducers:\n  1:\n    furl: pb://x\n", nil, "should be a string"},
		{"int furl", "introducers:\n  a:\n    furl: 12\n", nil, "furl should be a non-empty string"},
		{"list", "introducers:\n  - furl: pb://x\n", nil, "want a mapping of petnames"},
		{"duplicate", "introducers:\n  a:\n    furl: pb://x\n  a:\n    furl: pb://y\n", nil, "given twice"},
		{"slash petname", "introducers:\n  a/b:\n    furl: pb://x\n", nil, "path separator"},
		{"not yaml", "introducers: [\n", nil, "introducers.yaml"},
		{"scalar", "hello\n", nil, "want a mapping"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseIntroducersYAML("introducers.yaml", []byte(c.in))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want one with %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestReadIntroducersYAML(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "introducers.yaml")
	m, err := ReadIntroducersYAML(path)
	if err != nil || len(m) != 0 {
		t.Fatalf("missing file: %v %v", m, err)
	}
	os.WriteFile(path, []byte("introducers:\n  default:\n    furl: pb://a@tcp:h:1/s\n"), 0o600)
	m, err = ReadIntroducersYAML(path)
	if err != nil || m["default"] != "pb://a@tcp:h:1/s" {
		t.Fatalf("%v %v", m, err)
	}
	if _, err := WithDeprecatedFURL(m, "pb://b@tcp:h:1/s"); err == nil {
		t.Error("default in both places accepted")
	}
	m2, err := WithDeprecatedFURL(map[string]string{"other": "x"}, " pb://b@tcp:h:1/s ")
	if err != nil || m2["default"] != "pb://b@tcp:h:1/s" || m2["other"] != "x" {
		t.Errorf("%v %v", m2, err)
	}
	if _, err := WithDeprecatedFURL(nil, "None"); err == nil {
		t.Error("None accepted")
	}
	if m3, err := WithDeprecatedFURL(nil, ""); err != nil || len(m3) != 0 {
		t.Errorf("empty: %v %v", m3, err)
	}
}
