package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPutGetAliasPaths(t *testing.T) {
	n := newTestNode(t)
	root := n.mkdir()
	n.alias("tahoe", root)
	n.alias("fun", n.mkdir())
	dir := n.dir
	local := filepath.Join(t.TempDir(), "in.txt")
	os.WriteFile(local, []byte("hello"), 0o644)

	out, errOut, code := runCmd(t, nil, "-d", dir, "put", local, "fun:sub/deep/f.txt")
	if code != 0 || errOut != "201 Created\n" || out != "URI:LIT:nbswy3dp\n" { // "hello"
		t.Fatalf("put to alias path: %d %q %q", code, out, errOut)
	}
	// The recorded form: stdin to a new name prints 201 Created.
	out, errOut, code = runCmd(t, []byte("tiny LIT file\n"), "-d", dir, "put", "-", "lit.txt")
	if code != 0 || errOut != "waiting for file data on stdin..\n201 Created\n" {
		t.Fatalf("put - lit.txt: %d %q %q", code, out, errOut)
	}
	// Replacing gives 200 OK.
	_, errOut, _ = runCmd(t, []byte("again"), "-d", dir, "put", "-", "tahoe:lit.txt")
	if errOut != "waiting for file data on stdin..\n200 OK\n" {
		t.Errorf("replacing put: %q", errOut)
	}
	_, errOut, code = runCmd(t, nil, "-d", dir, "put", local, "fun:/x")
	if code != 1 || errOut != "Error: The remote filename must not start with a slash\nPlease try again, perhaps with fun:x\n" {
		t.Errorf("leading slash: %d %q", code, errOut)
	}
	// A mutable file, then modified in place through its write cap.
	mcap, _, code := runCmd(t, []byte("v1"), "-d", dir, "put", "--mutable", "-", "m.txt")
	mcap = strings.TrimSpace(mcap)
	if code != 0 || !strings.HasPrefix(mcap, "URI:SSK:") {
		t.Fatalf("put --mutable: %d %q", code, mcap)
	}
	out, _, code = runCmd(t, []byte("v2"), "-d", dir, "put", "-", mcap)
	if code != 0 || strings.TrimSpace(out) != mcap {
		t.Errorf("put to a mutable cap: %d %q", code, out)
	}

	for _, tt := range []struct{ from, want string }{
		{"fun:sub/deep/f.txt", "hello"},
		{"lit.txt", "again"},
		{"tahoe:m.txt", "v2"},
		{mcap, "v2"},
		{root + "/lit.txt", "again"},
		{root + ":./lit.txt", "again"},
	} {
		out, errOut, code := runCmd(t, nil, "-d", dir, "get", tt.from)
		if code != 0 || out != tt.want {
			t.Errorf("get %s: %d %q %q", tt.from, code, out, errOut)
		}
	}
	dst := filepath.Join(t.TempDir(), "out.txt")
	if _, errOut, code := runCmd(t, nil, "-d", dir, "get", "fun:sub/deep/f.txt", dst); code != 0 {
		t.Fatalf("get to file: %s", errOut)
	}
	if b, _ := os.ReadFile(dst); string(b) != "hello" {
		t.Errorf("got %q", b)
	}
	_, errOut, code = runCmd(t, nil, "-d", dir, "get", "fun:nothing")
	if code != 1 || errOut != "Error during GET: 404 Not Found\nError\nNo such child: nothing\n" {
		t.Errorf("get missing: %d %q", code, errOut)
	}
	_, errOut, code = runCmd(t, nil, "-d", dir, "get", "nosuch:x")
	if code != 1 || !strings.HasPrefix(errOut, "error: Unknown alias 'nosuch'") {
		t.Errorf("get unknown alias: %d %q", code, errOut)
	}
}
