package main

import (
	"strings"
	"testing"
)

func TestLnMv(t *testing.T) {
	n := newTestNode(t)
	root, fun := n.mkdir(), n.mkdir()
	n.alias("tahoe", root)
	n.alias("fun", fun)
	dir := n.dir
	must := func(stdin string, args ...string) string {
		t.Helper()
		out, errOut, code := runCmd(t, []byte(stdin), append([]string{"-d", dir}, args...)...)
		if code != 0 {
			t.Fatalf("%s: %d %s", strings.Join(args, " "), code, errOut)
		}
		return out
	}
	fileCap := strings.TrimSpace(must("one", "put", "-", "a.txt"))
	must("", "mkdir", "d")

	// ln, as recorded (ln_sdmf): a cap linked at a name prints OK.
	if out := must("", "ln", fileCap, "fun:by-cap"); out != "OK\n" {
		t.Errorf("ln: %q", out)
	}
	must("", "ln", "a.txt", "b.txt")
	must("", "ln", "tahoe:a.txt", "d/")      // into a directory, keeping the name
	must("", "mv", "b.txt", "fun:")          // into an alias's root
	must("", "mv", "fun:b.txt", "fun:c.txt") // rename
	want := []string{"a.txt \"one\"", "d/", "d/a.txt \"one\""}
	if got := n.tree(root); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("tahoe: %q, want %q", got, want)
	}
	want = []string{"by-cap \"one\"", "c.txt \"one\""}
	if got := n.tree(fun); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("fun: %q, want %q", got, want)
	}

	// Never over a directory (replace=only-files): Tahoe's message.
	_, errOut, code := runCmd(t, nil, "-d", dir, "mv", "a.txt", "d")
	if code != 1 || errOut != "Error: You can't overwrite a directory with a file\n" {
		t.Errorf("mv over a directory: %d %q", code, errOut)
	}
	_, errOut, code = runCmd(t, nil, "-d", dir, "ln", "nothing", "x")
	// The web API answers as Tahoe's does, with Twisted's error page.
	if code != 1 || errOut != "Error: 404 Not Found\nError\nNo such child: nothing\n" {
		t.Errorf("ln from nothing: %d %q", code, errOut)
	}
	// The original stays when the move fails.
	if got := n.tree(root); len(got) != 3 {
		t.Errorf("after failed mv: %q", got)
	}
}

func TestUnlink(t *testing.T) {
	n := newTestNode(t)
	root := n.mkdir()
	n.alias("tahoe", root)
	dir := n.dir
	runCmd(t, []byte("x"), "-d", dir, "put", "-", "a")
	runCmd(t, []byte("y"), "-d", dir, "put", "-", "b")
	out, errOut, code := runCmd(t, nil, "-d", dir, "unlink", "tahoe:a")
	if code != 0 || out != "200 OK\n" || errOut != "" {
		t.Errorf("unlink: %d %q %q", code, out, errOut)
	}
	if _, errOut, code := runCmd(t, nil, "-d", dir, "rm", "b"); code != 0 {
		t.Errorf("rm: %s", errOut)
	}
	if got := n.tree(root); len(got) != 0 {
		t.Errorf("left %q", got)
	}
	_, errOut, code = runCmd(t, nil, "-d", dir, "rm", "b")
	if code != 1 || errOut != "ERROR: 404 Not Found\nError\nNo such child: b\n" {
		t.Errorf("rm missing: %d %q", code, errOut)
	}
	_, errOut, code = runCmd(t, nil, "-d", dir, "unlink", "tahoe:")
	if code != 1 || errOut != "\n'lafs unlink' can only unlink directory entries, so a path must be given.\n" {
		t.Errorf("unlink of a root: %d %q", code, errOut)
	}
}
