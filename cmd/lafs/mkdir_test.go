package main

import (
	"slices"
	"strings"
	"testing"
)

func TestMkdir(t *testing.T) {
	n := newTestNode(t)
	root := n.mkdir()
	n.alias("golden", root)
	dir := n.dir

	out, errOut, code := runCmd(t, nil, "-d", dir, "mkdir")
	if code != 0 || !strings.HasPrefix(out, "URI:DIR2:") || errOut != "" {
		t.Fatalf("unlinked mkdir: %d %q %q", code, out, errOut)
	}
	// As recorded (mkdir_sub): the new directory's write cap.
	out, errOut, code = runCmd(t, nil, "-d", dir, "mkdir", "golden:sub")
	if code != 0 || !strings.HasPrefix(out, "URI:DIR2:") || errOut != "" {
		t.Fatalf("mkdir golden:sub: %d %q %q", code, out, errOut)
	}
	// Parents are made; a leading or trailing slash is ignored.
	if _, errOut, code := runCmd(t, nil, "-d", dir, "mkdir", "--format=MDMF", "golden:/a/b/c/"); code != 0 {
		t.Fatalf("mkdir golden:/a/b/c/: %s", errOut)
	}
	got := strings.Join(n.tree(root), " ")
	if got != "a/ a/b/ a/b/c/ sub/" {
		t.Errorf("tree: %s", got)
	}
	if !slices.Contains(n.log(), "POST /uri/"+root+"/a/b/c t=mkdir") {
		t.Errorf("requests:\n%s", strings.Join(n.log(), "\n"))
	}
	if _, errOut, code := runCmd(t, nil, "-d", dir, "mkdir", "--format=CHK"); code != 2 || !strings.Contains(errOut, "CHK is an invalid format") {
		t.Errorf("--format=CHK: %d %q", code, errOut)
	}
	if _, errOut, code := runCmd(t, nil, "-d", dir, "mkdir", "nosuch:x"); code != 1 || !strings.HasPrefix(errOut, "error: Unknown alias 'nosuch'") {
		t.Errorf("unknown alias: %d %q", code, errOut)
	}
}
