package main

import (
	"strings"
	"testing"
)

func TestMkdir(t *testing.T) {
	f := newFakeNode(t)
	root := f.mkdir(t)
	dir := fakeNodeDir(t, f, map[string]string{"golden": root})

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
	got := strings.Join(f.tree(root), " ")
	if got != "a/ a/b/ a/b/c/ sub/" {
		t.Errorf("tree: %s", got)
	}
	if !strings.Contains(strings.Join(f.log, "\n"), "POST /uri/"+root+"/a/b/c t=mkdir") {
		t.Errorf("requests:\n%s", strings.Join(f.log, "\n"))
	}
	if _, errOut, code := runCmd(t, nil, "-d", dir, "mkdir", "--format=CHK"); code != 2 || !strings.Contains(errOut, "CHK is an invalid format") {
		t.Errorf("--format=CHK: %d %q", code, errOut)
	}
	if _, errOut, code := runCmd(t, nil, "-d", dir, "mkdir", "nosuch:x"); code != 1 || !strings.HasPrefix(errOut, "error: Unknown alias 'nosuch'") {
		t.Errorf("unknown alias: %d %q", code, errOut)
	}
}
