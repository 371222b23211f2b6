package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	goldenDir = "URI:DIR2:5kcntyxbly6bf3tjnpdvaqn3se:3eg74oc5uad2yvv3e7zo7hhfa67cadaj4zgqhgxuz5blthey7j5q"
	goldenRO  = "URI:DIR2-RO:m7ghien6irxqmazvgsrx2j76bu:3eg74oc5uad2yvv3e7zo7hhfa67cadaj4zgqhgxuz5blthey7j5q"
)

func TestParseAliases(t *testing.T) {
	in := "# comment\n\ngolden: " + goldenDir + "\n  spaced :  URI:DIR2-LIT: \nfun:URI:DIR2-RO:x:y\ngolden: URI:DIR2-LIT:\n"
	m := map[string]string{}
	if err := parseAliases([]byte(in), "aliases", m); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"golden": "URI:DIR2-LIT:", "spaced ": "URI:DIR2-LIT:", "fun": "URI:DIR2-RO:x:y"}
	if fmt.Sprint(m) != fmt.Sprint(want) {
		t.Errorf("got %q, want %q", m, want)
	}
	err := parseAliases([]byte("ok: URI:DIR2-LIT:\nno colon here\n"), "/n/private/aliases", map[string]string{})
	if err == nil || !strings.Contains(err.Error(), "/n/private/aliases:2") {
		t.Errorf("malformed line: %v", err)
	}
}

func TestReadAliasesRootDirCap(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "private"), 0o700)
	os.WriteFile(filepath.Join(dir, "private", "root_dir.cap"), []byte(goldenDir+"\n"), 0o600)
	m, err := readAliases(dir)
	if err != nil || m["tahoe"] != goldenDir || len(m) != 1 {
		t.Fatalf("root_dir.cap: %v %v", m, err)
	}
	// add-alias tahoe would then refuse; a line in aliases overrides it.
	if err := addAliasLine(dir, "tahoe", "URI:DIR2-LIT:"); err != nil {
		t.Fatal(err)
	}
	m, _ = readAliases(dir)
	if m["tahoe"] != "URI:DIR2-LIT:" {
		t.Errorf("aliases line should win: %v", m)
	}
}

func TestAddAliasLine(t *testing.T) {
	dir := t.TempDir()
	if err := addAliasLine(dir, "a", "URI:DIR2-LIT:"); err != nil {
		t.Fatal(err)
	}
	path := aliasesFile(dir)
	os.WriteFile(path, []byte("a: URI:DIR2-LIT:"), 0o600) // no final newline
	if err := addAliasLine(dir, "b", goldenDir); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if string(b) != "a: URI:DIR2-LIT:\nb: "+goldenDir+"\n" {
		t.Errorf("aliases file %q", b)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("aliases file mode %v, want 0600", st.Mode().Perm())
	}
	if _, err := os.Stat(path + ".tmp"); err == nil {
		t.Error("left aliases.tmp behind")
	}
}

func TestResolvePath(t *testing.T) {
	aliases := map[string]string{"golden": goldenDir, "tahoe": goldenRO, "file": "URI:LIT:mfrgg"}
	tests := []struct {
		arg, def string
		want     gridPath
		err      string
	}{
		{"golden:", "tahoe", gridPath{root: goldenDir}, ""},
		{"golden:sub/file.txt", "tahoe", gridPath{root: goldenDir, path: "sub/file.txt"}, ""},
		{"  golden:a b ", "tahoe", gridPath{root: goldenDir, path: "a b"}, ""},
		{"file.txt", "tahoe", gridPath{root: goldenRO, path: "file.txt"}, ""},
		{"sub/x:7", "tahoe", gridPath{root: goldenRO, path: "sub/x:7"}, ""},
		{"", "tahoe", gridPath{root: goldenRO}, ""},
		{"URI:DIR2-LIT:", "tahoe", gridPath{root: "URI:DIR2-LIT:"}, ""},
		{"URI:DIR2:ab:cd/sub/f", "tahoe", gridPath{root: "URI:DIR2:ab:cd", path: "sub/f"}, ""},
		{"URI:DIR2:ab:cd:./sub/f", "tahoe", gridPath{root: "URI:DIR2:ab:cd", path: "sub/f"}, ""},
		{"ro.URI:DIR2-RO:ab:cd/x", "tahoe", gridPath{root: "ro.URI:DIR2-RO:ab:cd", path: "x"}, ""},
		{"nosuchalias:", "tahoe", gridPath{}, "error: Unknown alias 'nosuchalias', please create it with 'lafs add-alias' or 'lafs create-alias'."},
		{"file:x", "tahoe", gridPath{}, "error: the alias 'file' is not a directory cap"},
		{"x", "other", gridPath{}, "error: No alias specified, and the default 'other' alias doesn't exist. To create it, use 'lafs create-alias other'."},
		// cp: no alias means a local path.
		{"local/file.txt", "", gridPath{path: "local/file.txt", local: true}, ""},
		{"./a:b", "", gridPath{path: "./a:b", local: true}, ""},
		{"golden:x", "", gridPath{root: goldenDir, path: "x"}, ""},
	}
	for _, tt := range tests {
		got, err := resolvePath(aliases, tt.arg, tt.def)
		if tt.err != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tt.err) {
				t.Errorf("%q: error %v, want %q", tt.arg, err, tt.err)
			}
			continue
		}
		name := got.name
		got.name = ""
		if err != nil || got != tt.want {
			t.Errorf("%q: got %+v, %v; want %+v", tt.arg, got, err, tt.want)
		}
		// Messages name the path as it was given, or under the default
		// alias.
		if want := strings.Trim(tt.arg, " "); name != want && name != tt.def+":"+want {
			t.Errorf("%q: named %q", tt.arg, name)
		}
	}
}

func TestGridPathNames(t *testing.T) {
	for _, tt := range []struct {
		p    gridPath
		want string
	}{
		{gridPath{root: goldenDir, path: "a", name: "golden:a"}, "'golden:a'"},
		{gridPath{root: goldenDir, path: "a", name: "golden:a"}.child("b c"), "'golden:a/b c'"},
		{gridPath{root: goldenDir, name: "golden:"}.child("b"), "'golden:b'"},
		{gridPath{root: goldenDir, name: "tahoe:d/"}.child("b"), "'tahoe:d/b'"},
		{unlinked(""), "/uri"},
		{unlinked("/home/me/a.txt"), "'/home/me/a.txt'"},
		{capPath(goldenDir, ""), "(a grid object)"},
	} {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("%+v is named %s, want %s", tt.p, got, tt.want)
		}
	}
}

func TestPyQuote(t *testing.T) {
	for in, want := range map[string]string{
		"URI:DIR2:ab:cd": "URI%3ADIR2%3Aab%3Acd",
		"sub/a b/ü~_.-":  "sub/a%20b/%C3%BC~_.-",
		"?#&=+%":         "%3F%23%26%3D%2B%25",
	} {
		if got := pyQuote(in); got != want {
			t.Errorf("pyQuote(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestQuoteName(t *testing.T) {
	tests := []struct {
		in         string
		quotemarks bool
		want       string
	}{
		{"golden", true, "'golden'"},
		{"golden", false, "golden"},
		{"a'b", true, `"a'b"`},
		{`say "hi" $x`, false, `say "hi" $x`},
		{`say "hi" $x`, true, `'say "hi" $x'`},
		{`"start`, false, `'"start'`},
		{"it's $5", false, `"it's \$5"`},
		{"tab\there", true, `"tab\x09here"`},
		{"line\nbreak", false, "line\nbreak"},
		{"line\nbreak", true, `"line\x0abreak"`},
		{"Ärger", true, "'Ärger'"},
		{"emoji\U0001F600", true, `"emoji\U0001f600"`},
		{"\u0100\x7f", true, `"` + "\u0100" + `\x7f"`},
	}
	for _, tt := range tests {
		if got := quoteName(tt.in, tt.quotemarks); got != tt.want {
			t.Errorf("quoteName(%q, %v) = %s, want %s", tt.in, tt.quotemarks, got, tt.want)
		}
	}
}
