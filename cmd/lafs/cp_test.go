package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// writeTree makes files (path -> contents; a path ending in "/" is an
// empty directory) under dir.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, data := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if strings.HasSuffix(p, "/") {
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// readTree lists a local directory as testNode.tree lists a grid one.
func readTree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case rel == ".":
		case d.IsDir():
			out = append(out, filepath.ToSlash(rel)+"/")
		default:
			b, _ := os.ReadFile(p)
			out = append(out, fmt.Sprintf("%s %q", filepath.ToSlash(rel), b))
		}
		return nil
	})
	sort.Strings(out)
	return out
}

func prefixed(prefix string, lines []string) []string {
	var out []string
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) && l != prefix {
			out = append(out, strings.TrimPrefix(l, prefix))
		}
	}
	return out
}

var smallTree = map[string]string{
	"a.txt":                "alpha",
	"b.txt":                "bravo",
	"sub/c.txt":            "charlie",
	"sub/deeper/d.txt":     "delta",
	"sub/deeper/more/e.md": "echo",
	"empty/":               "",
}

var smallTreeLines = []string{
	`a.txt "alpha"`, `b.txt "bravo"`, "empty/", "sub/", `sub/c.txt "charlie"`, "sub/deeper/",
	`sub/deeper/d.txt "delta"`, "sub/deeper/more/", `sub/deeper/more/e.md "echo"`,
}

// TestCpRecursiveRoundTrip copies a tree local -> grid -> grid -> local
// through the real web API.
func TestCpRecursiveRoundTrip(t *testing.T) {
	n := newTestNode(t)
	root, fun := n.mkdir(), n.mkdir()
	n.alias("tahoe", root)
	n.alias("fun", fun)
	work := t.TempDir()
	src := filepath.Join(work, "src")
	writeTree(t, src, smallTree)
	cp := func(args ...string) string {
		t.Helper()
		out, errOut, code := n.run(nil, append([]string{"cp"}, args...)...)
		if code != 0 {
			t.Fatalf("cp %s: %d %s", strings.Join(args, " "), code, errOut)
		}
		return out
	}

	// local -> grid, into a new directory: the named source becomes
	// new/src, as in Tahoe.
	n.resetLog()
	if out := cp("-r", src, "tahoe:new"); out != "Success: files copied\n" {
		t.Errorf("cp -r: %q", out)
	}
	if got := prefixed("new/src/", n.tree(root)); strings.Join(got, "|") != strings.Join(smallTreeLines, "|") {
		t.Errorf("grid tree:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(smallTreeLines, "\n"))
	}
	// One call per new directory (src, sub, deeper, more, empty; new
	// linked into the root as it is made), none to change one.
	linked, made := n.count("POST", "mkdir-with-children")
	if _, uploads := n.count("PUT", ""); linked != 1 || made != 5 || n.dirChanges() != 1 || uploads != 5 {
		t.Errorf("%d uploads, %d+%d directories made, %d changes; want 5, 1+5 and 1\n%s", uploads, linked, made, n.dirChanges(), strings.Join(n.log(), "\n"))
	}

	// Into an existing directory, with a trailing slash on the source.
	cp("-r", src+"/", "tahoe:")
	if got := prefixed("src/", n.tree(root)); strings.Join(got, "|") != strings.Join(smallTreeLines, "|") {
		t.Errorf("cp -r src/ tahoe: gave %q", got)
	}

	// grid -> grid: immutable files are linked, not copied.
	n.resetLog()
	cp("-r", "tahoe:new/src", "fun:copy")
	if got := prefixed("copy/src/", n.tree(fun)); strings.Join(got, "|") != strings.Join(smallTreeLines, "|") {
		t.Errorf("grid->grid: %q", got)
	}
	if _, uploads := n.count("PUT", ""); uploads != 0 {
		t.Errorf("grid->grid copy uploaded %d files", uploads)
	}

	// grid -> local, named: out/src/...
	out := filepath.Join(work, "out")
	cp("-r", "tahoe:new/src", out)
	if got := prefixed("src/", readTree(t, out)); strings.Join(got, "|") != strings.Join(smallTreeLines, "|") {
		t.Errorf("grid->local: %q", got)
	}
	// An unnamed source (an alias's root) copies its contents.
	out2 := filepath.Join(work, "out2")
	cp("-r", "fun:", out2)
	if got := prefixed("copy/src/", readTree(t, out2)); strings.Join(got, "|") != strings.Join(smallTreeLines, "|") {
		t.Errorf("unnamed grid->local: %q", readTree(t, out2))
	}
	// By dircap with a path, as CLI.rst's example.
	newCap := n.list(root)["new"].Info.RW
	out3 := filepath.Join(work, "out3")
	os.Mkdir(out3, 0o755)
	cp(newCap+"/src/sub/c.txt", out3+"/")
	if b, _ := os.ReadFile(filepath.Join(out3, "c.txt")); string(b) != "charlie" {
		t.Errorf("dircap/path to ./: %q", b)
	}
}

func TestCpFiles(t *testing.T) {
	n := newTestNode(t)
	root := n.mkdir()
	n.alias("tahoe", root)
	work := t.TempDir()
	local := filepath.Join(work, "f.txt")
	os.WriteFile(local, []byte("file one"), 0o644)
	run := func(args ...string) (string, string, int) {
		return n.run(nil, append([]string{"cp"}, args...)...)
	}
	for _, tt := range []struct {
		args []string
		out  string
	}{
		{[]string{local, "tahoe:x.txt"}, "Success: file copied\n"},
		{[]string{local, "tahoe:"}, "Success: files copied\n"},
		{[]string{"tahoe:x.txt", "tahoe:y.txt"}, "Success: file linked\n"},
		{[]string{"tahoe:y.txt", filepath.Join(work, "back.txt")}, "Success: file copied\n"},
	} {
		out, errOut, code := run(tt.args...)
		if code != 0 || out != tt.out {
			t.Errorf("cp %q: %d %q %q", tt.args, code, out, errOut)
		}
	}
	if got := n.tree(root); strings.Join(got, "|") != `f.txt "file one"|x.txt "file one"|y.txt "file one"` {
		t.Errorf("tree %q", got)
	}
	if b, _ := os.ReadFile(filepath.Join(work, "back.txt")); string(b) != "file one" {
		t.Errorf("back.txt: %q", b)
	}

	// An existing mutable file is overwritten in place.
	mcap, _, _ := n.run([]byte("old"), "put", "--mutable", "-", "m.txt")
	mcap = strings.TrimSpace(mcap)
	os.WriteFile(filepath.Join(work, "m.txt"), []byte("new"), 0o644)
	if _, errOut, code := run(filepath.Join(work, "m.txt"), "tahoe:"); code != 0 {
		t.Fatal(errOut)
	}
	if rw := n.list(root)["m.txt"].Info.RW; rw != mcap || n.get(mcap) != "new" {
		t.Errorf("mutable m.txt: %s %q, want %s \"new\"", rw, n.get(mcap), mcap)
	}

	// --caps-only writes the read cap.
	capsFile := filepath.Join(work, "caps.txt")
	if _, errOut, code := run("--caps-only", "tahoe:m.txt", capsFile); code != 0 {
		t.Fatal(errOut)
	}
	if b, _ := os.ReadFile(capsFile); !strings.HasPrefix(string(b), "URI:SSK-RO:") {
		t.Errorf("--caps-only wrote %q", b)
	}

	// Tahoe's refusals.
	os.Mkdir(filepath.Join(work, "d"), 0o755)
	os.WriteFile(filepath.Join(work, "d", "f.txt"), []byte("other"), 0o644)
	for _, tt := range []struct {
		args []string
		err  string
	}{
		{[]string{filepath.Join(work, "d"), "tahoe:"}, "cannot copy directories without --recursive\n"},
		{[]string{filepath.Join(work, "nope"), "tahoe:"}, "No such file or directory '" + filepath.Join(work, "nope") + "'\n"},
		{[]string{"tahoe:nope", work}, "No such file or directory 'tahoe:nope'\n"},
		{[]string{local, local, "tahoe:x.txt"}, "copying multiple things requires target be a directory\n"},
		{[]string{local, "tahoe:x.txt/"}, "target is not a directory, but ends with a slash\n"},
		{[]string{"-r", filepath.Join(work, "d"), "tahoe:x.txt"}, "cannot copy directory into a file\n"},
		{[]string{local + "/", "tahoe:"}, "source '" + local + "/' is not a directory, but ends with a slash\n"},
		{[]string{mcap, "tahoe:"}, "when copying into a directory, all source files must have names, but '" + mcap + "' is unnamed\n"},
		{[]string{local, filepath.Join(work, "d", "f.txt"), "tahoe:"}, "cannot copy multiple files with the same name into the same target directory\n"},
		{[]string{"nosuch:x", work}, "error: Unknown alias 'nosuch', please create it with 'lafs add-alias' or 'lafs create-alias'.\n"},
	} {
		_, errOut, code := run(tt.args...)
		if code != 1 || errOut != tt.err {
			t.Errorf("cp %q: %d %q, want %q", tt.args, code, errOut, tt.err)
		}
	}
	if _, _, code := run("only-one"); code != 2 {
		t.Errorf("cp with one argument: exit %d", code)
	}
}

func TestCpVerbose(t *testing.T) {
	n := newTestNode(t)
	n.alias("tahoe", n.mkdir())
	src := filepath.Join(t.TempDir(), "src")
	writeTree(t, src, map[string]string{"a": "1", "b": "2", "s/c": "3"})
	out, errOut, code := n.run(nil, "cp", "-rv", src, "tahoe:")
	if code != 0 || out != "Success: files copied\n" {
		t.Fatalf("cp -rv: %d %q %q", code, out, errOut)
	}
	for _, want := range []string{
		"examining 1 of 3\n", "attaching sources to targets, 0 files / 1 dirs in root\n",
		"targets assigned, 3 dirs, 3 files\n", "starting copy, 3 files, 3 directories\n",
		"3/3 files, 0/3 directories\n", "2/3 directories\n",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("-v output lacks %q:\n%s", want, errOut)
		}
	}
}

// TestCpManyFilesBatched: 200 files into a new directory are 200 uploads
// and one directory made with all of them, not 200 directory updates.
func TestCpManyFilesBatched(t *testing.T) {
	n := newTestNode(t)
	root := n.mkdir()
	n.alias("tahoe", root)
	src := filepath.Join(t.TempDir(), "many")
	files := map[string]string{}
	for i := range 200 {
		files[fmt.Sprintf("f%03d", i)] = strings.Repeat("x", 1024)
	}
	writeTree(t, src, files)
	n.resetLog()
	if _, errOut, code := n.run(nil, "cp", "-r", src, "tahoe:new"); code != 0 {
		t.Fatal(errOut)
	}
	if got := len(prefixed("new/many/", n.tree(root))); got != 200 {
		t.Errorf("%d files copied", got)
	}
	_, uploads := n.count("PUT", "")
	linked, made := n.count("POST", "mkdir-with-children")
	if uploads != 200 || linked != 1 || made != 1 || n.dirChanges() != 1 {
		t.Errorf("%d uploads, %d+%d directories made, %d directory changes; want 200, 1+1 and 1", uploads, linked, made, n.dirChanges())
	}
}

// TestCpHostileNames: a grid directory's child names never escape a local
// target.
func TestCpHostileNames(t *testing.T) {
	n := newTestNode(t)
	for _, name := range []string{"..", "a/b"} {
		root := n.mkdir()
		n.alias("h"+itoa(len(name)), root)
		file := strings.TrimSpace(n.call("PUT", "uri", "gotcha"))
		body, _ := json.Marshal(map[string]newChild{name: childCap(fileNode, file)})
		n.call("POST", "uri/"+pyQuote(root)+"?t=set_children", string(body))
		if _, ok := n.list(root)[name]; !ok {
			t.Fatalf("could not link a child named %q: %v", name, n.list(root))
		}
		out := filepath.Join(t.TempDir(), "out")
		_, errOut, code := n.run(nil, "cp", "-r", "h"+itoa(len(name))+":", out)
		if code != 1 || !strings.Contains(errOut, "not a plain file name") {
			t.Errorf("child %q: %d %q", name, code, errOut)
		}
	}
}
