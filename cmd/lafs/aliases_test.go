package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAliasesRecorded: create-alias (twice) and list-aliases in every form,
// compared with what Tahoe 1.20 printed for the alias "golden".
func TestAliasesRecorded(t *testing.T) {
	rec := loadWebapiRecording(t)
	n := newTestNode(t)
	dir := newNodeDir(t, n.base, nil)

	for _, name := range []string{"create_alias_golden", "create_alias_golden_again"} {
		r := rec.run(t, name)
		out, errOut, code := runCmd(t, nil, append([]string{"-d", dir}, r.args...)...)
		if code != r.exitCode || out != r.stdout || errOut != r.stderr {
			t.Errorf("%s: got %d %q %q, want %d %q %q", name, code, out, errOut, r.exitCode, r.stdout, r.stderr)
		}
	}
	m, err := readAliases(dir)
	if err != nil || !strings.HasPrefix(m["golden"], "URI:DIR2:") {
		t.Fatalf("aliases after create-alias: %v %v", m, err)
	}
	st, err := os.Stat(aliasesFile(dir))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("aliases file: %v %v", st, err)
	}

	// list-aliases on a node directory holding the recorded golden alias
	// (no node.url needed).
	listDir := t.TempDir()
	if err := addAliasLine(listDir, "golden", goldenDir); err != nil {
		t.Fatal(err)
	}
	for _, r := range rec.runs(t, "list-aliases") {
		out, errOut, code := runCmd(t, nil, append([]string{"-d", listDir}, r.args...)...)
		if code != r.exitCode || out != r.stdout || errOut != r.stderr {
			t.Errorf("%s: got %d\n%s%q\nwant %d\n%s%q", r.name, code, out, errOut, r.exitCode, r.stdout, r.stderr)
		}
	}
}

func TestAddAlias(t *testing.T) {
	dir := t.TempDir()
	out, errOut, code := runCmd(t, nil, "-d", dir, "add-alias", "fun:", goldenDir+"\n")
	if code != 0 || out != "Alias 'fun' added\n" || errOut != "" {
		t.Fatalf("add-alias: %d %q %q", code, out, errOut)
	}
	for _, tt := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"fun", goldenDir}, 1, "Alias 'fun' already exists!\n"},
		{[]string{"a:b", goldenDir}, 1, "Alias names cannot contain colons.\n"},
		{[]string{"a b", goldenDir}, 1, "Alias names cannot contain spaces.\n"},
		{[]string{"file", "URI:LIT:mfrgg"}, 1, "error: 'URI:LIT:mfrgg' is not a directory cap\n"},
		{[]string{"junk", "URI:DIR2:nonsense"}, 1, "error: 'URI:DIR2:nonsense' is not a directory cap\n"},
	} {
		_, errOut, code := runCmd(t, nil, append([]string{"-d", dir, "add-alias"}, tt.args...)...)
		if code != tt.code || errOut != tt.err {
			t.Errorf("add-alias %q: %d %q, want %d %q", tt.args, code, errOut, tt.code, tt.err)
		}
	}
	// A read-only cap is accepted; list-aliases aligns the names, and its
	// --readonly-uri column and JSON show the read caps.
	if _, errOut, code := runCmd(t, nil, "-d", dir, "add-alias", "a", goldenRO); code != 0 {
		t.Fatal(errOut)
	}
	out, _, _ = runCmd(t, nil, "-d", dir, "list-aliases")
	if out != "    a: "+goldenRO+"\n  fun: "+goldenDir+"\n" {
		t.Errorf("list-aliases:\n%s", out)
	}
	out, _, _ = runCmd(t, nil, "-d", dir, "list-aliases", "--readonly-uri")
	if out != "    a: "+goldenRO+"\n  fun: "+goldenRO+"\n" {
		t.Errorf("list-aliases --readonly-uri:\n%s", out)
	}
	out, _, _ = runCmd(t, nil, "-d", dir, "list-aliases", "--json")
	want := "{\n    \"a\": {\n        \"readwrite\": \"" + goldenRO + "\",\n        \"readonly\": \"" + goldenRO + "\"\n    },\n" +
		"    \"fun\": {\n        \"readwrite\": \"" + goldenDir + "\",\n        \"readonly\": \"" + goldenRO + "\"\n    }\n}\n"
	if out != want {
		t.Errorf("list-aliases --json:\n%s\nwant\n%s", out, want)
	}
	// No aliases: no output at all, or {} in JSON.
	empty := t.TempDir()
	if out, _, code := runCmd(t, nil, "-d", empty, "list-aliases"); out != "" || code != 0 {
		t.Errorf("no aliases: %q", out)
	}
	if out, _, _ := runCmd(t, nil, "-d", empty, "list-aliases", "--json"); out != "{}\n" {
		t.Errorf("no aliases, JSON: %q", out)
	}
	if _, err := os.Stat(filepath.Join(empty, "private")); err == nil {
		t.Error("list-aliases created private/")
	}
}

// TestAliasesJSON: list-aliases --json writes names as Python's
// json.dumps(data, indent=4) does (Python 3.11's output, with RW and RO
// standing for the caps), sorted by code point.
func TestAliasesJSON(t *testing.T) {
	aliases := map[string]string{}
	for _, name := range []string{"plain", "ü\"\\", "\U0001F600", "<&>", "tab\there"} {
		aliases[name] = goldenDir
	}
	const python = "{\n    \"<&>\": {\n        \"readwrite\": \"RW\",\n        \"readonly\": \"RO\"\n    },\n    \"plain\": {\n        \"readwrite\": \"RW\",\n        \"readonly\": \"RO\"\n    },\n    \"tab\\there\": {\n        \"readwrite\": \"RW\",\n        \"readonly\": \"RO\"\n    },\n    \"\\u00fc\\\"\\\\\": {\n        \"readwrite\": \"RW\",\n        \"readonly\": \"RO\"\n    },\n    \"\\ud83d\\ude00\": {\n        \"readwrite\": \"RW\",\n        \"readonly\": \"RO\"\n    }\n}\n"
	want := strings.NewReplacer(`"RW"`, `"`+goldenDir+`"`, `"RO"`, `"`+goldenRO+`"`).Replace(python)
	if got := formatAliases(aliases, false, true); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if got := formatAliases(nil, false, true); got != "{}\n" {
		t.Errorf("no aliases: %q", got)
	}
}
