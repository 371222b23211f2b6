package main

import (
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

// readTree lists a local directory as the fake node's tree does.
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

func TestCpRecursiveRoundTrip(t *testing.T) {
	f := newFakeNode(t)
	root, fun := f.mkdir(t), f.mkdir(t)
	dir := fakeNodeDir(t, f, map[string]string{"tahoe": root, "fun": fun})
	work := t.TempDir()
	src := filepath.Join(work, "src")
	writeTree(t, src, smallTree)
	cp := func(args ...string) string {
		t.Helper()
		out, errOut, code := runCmd(t, nil, append([]string{"-d", dir, "cp"}, args...)...)
		if code != 0 {
			t.Fatalf("cp %s: %d %s", strings.Join(args, " "), code, errOut)
		}
		return out
	}

	// local -> grid, into a new directory: the named source becomes
	// new/src, as in Tahoe.
	f.dirWrites = 0
	if out := cp("-r", src, "tahoe:new"); out != "Success: files copied\n" {
		t.Errorf("cp -r: %q", out)
	}
	if got := prefixed("new/src/", f.tree(root)); strings.Join(got, "|") != strings.Join(smallTreeLines, "|") {
		t.Errorf("grid tree:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(smallTreeLines, "\n"))
	}
	// One publish per new directory (src, sub, deeper, more, empty, new)
	// and one for linking new into the root.
	if f.dirWrites != 7 {
		t.Errorf("%d directory writes for 6 new directories", f.dirWrites)
	}

	// Into an existing directory, with a trailing slash on the source.
	cp("-r", src+"/", "tahoe:")
	if got := prefixed("src/", f.tree(root)); strings.Join(got, "|") != strings.Join(smallTreeLines, "|") {
		t.Errorf("cp -r src/ tahoe: gave %q", got)
	}

	// grid -> grid: immutable files are linked, not copied.
	f.mu.Lock()
	puts := len(f.files)
	f.mu.Unlock()
	cp("-r", "tahoe:new/src", "fun:copy")
	if got := prefixed("copy/src/", f.tree(fun)); strings.Join(got, "|") != strings.Join(smallTreeLines, "|") {
		t.Errorf("grid->grid: %q", got)
	}
	f.mu.Lock()
	if len(f.files) != puts {
		t.Errorf("grid->grid copy uploaded %d files", len(f.files)-puts)
	}
	f.mu.Unlock()

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
	f.mu.Lock()
	newCap := ""
	for _, d := range f.dirs {
		if ch, ok := d.children["new"]; ok && d.rw == root {
			newCap = ch.rw
		}
	}
	f.mu.Unlock()
	out3 := filepath.Join(work, "out3")
	os.Mkdir(out3, 0o755)
	cp(newCap+"/src/sub/c.txt", out3+"/")
	if b, _ := os.ReadFile(filepath.Join(out3, "c.txt")); string(b) != "charlie" {
		t.Errorf("dircap/path to ./: %q", b)
	}
}

func TestCpFiles(t *testing.T) {
	f := newFakeNode(t)
	root := f.mkdir(t)
	dir := fakeNodeDir(t, f, map[string]string{"tahoe": root})
	work := t.TempDir()
	local := filepath.Join(work, "f.txt")
	os.WriteFile(local, []byte("file one"), 0o644)
	run := func(args ...string) (string, string, int) {
		return runCmd(t, nil, append([]string{"-d", dir, "cp"}, args...)...)
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
	if got := f.tree(root); strings.Join(got, "|") != `f.txt "file one"|x.txt "file one"|y.txt "file one"` {
		t.Errorf("tree %q", got)
	}
	if b, _ := os.ReadFile(filepath.Join(work, "back.txt")); string(b) != "file one" {
		t.Errorf("back.txt: %q", b)
	}

	// An existing mutable file is overwritten in place.
	mcap, _, _ := runCmd(t, []byte("old"), "-d", dir, "put", "--mutable", "-", "m.txt")
	mcap = strings.TrimSpace(mcap)
	os.WriteFile(filepath.Join(work, "m.txt"), []byte("new"), 0o644)
	if _, errOut, code := run(filepath.Join(work, "m.txt"), "tahoe:"); code != 0 {
		t.Fatal(errOut)
	}
	f.mu.Lock()
	if d := f.dirs[root]; d.children["m.txt"].rw != mcap || string(f.files[mcap]) != "new" {
		t.Errorf("mutable m.txt: %+v %q", d.children["m.txt"], f.files[mcap])
	}
	f.mu.Unlock()

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
	f := newFakeNode(t)
	root := f.mkdir(t)
	dir := fakeNodeDir(t, f, map[string]string{"tahoe": root})
	src := filepath.Join(t.TempDir(), "src")
	writeTree(t, src, map[string]string{"a": "1", "b": "2", "s/c": "3"})
	out, errOut, code := runCmd(t, nil, "-d", dir, "cp", "-rv", src, "tahoe:")
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
	f := newFakeNode(t)
	root := f.mkdir(t)
	dir := fakeNodeDir(t, f, map[string]string{"tahoe": root})
	src := filepath.Join(t.TempDir(), "many")
	files := map[string]string{}
	for i := range 200 {
		files[fmt.Sprintf("f%03d", i)] = strings.Repeat("x", 1024)
	}
	writeTree(t, src, files)
	if _, errOut, code := runCmd(t, nil, "-d", dir, "cp", "-r", src, "tahoe:new"); code != 0 {
		t.Fatal(errOut)
	}
	if n := len(prefixed("new/many/", f.tree(root))); n != 200 {
		t.Errorf("%d files copied", n)
	}
	uploads := 0
	for _, l := range f.log {
		if l == "PUT /uri t=" {
			uploads++
		}
	}
	if uploads != 200 || f.dirWrites != 3 {
		t.Errorf("%d uploads, %d directory writes; want 200 and 3", uploads, f.dirWrites)
	}
}

// TestCpHostileNames: a grid directory's child names never escape a local
// target.
func TestCpHostileNames(t *testing.T) {
	f := newFakeNode(t)
	root := f.mkdir(t)
	dir := fakeNodeDir(t, f, map[string]string{"tahoe": root})
	for _, name := range []string{"..", "a/b"} {
		f.mu.Lock()
		d := f.dirs[root]
		d.children = map[string]fakeChild{name: f.childOf(f.newFileLocked([]byte("gotcha"), false))}
		f.mu.Unlock()
		out := filepath.Join(t.TempDir(), "out")
		_, errOut, code := runCmd(t, nil, "-d", dir, "cp", "-r", "tahoe:", out)
		if code != 1 || !strings.Contains(errOut, "not a plain file name") {
			t.Errorf("child %q: %d %q", name, code, errOut)
		}
	}
}
