package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lafs/lafs/node"
)

func TestVersion(t *testing.T) {
	want := "lafs " + Version + "\ncompatible with Tahoe-LAFS 1.20; nodes announce themselves as " + node.Version + "\n"
	for _, args := range [][]string{{"version"}, {"--version"}, {"-V"}, {"-d", "/x", "--version", "ignored"}, {"--version-and-path"}} {
		out, errOut, code := runCmd(t, nil, args...)
		if code != 0 || out != want || errOut != "" {
			t.Errorf("lafs %s: %d %q %q, want %q", strings.Join(args, " "), code, out, errOut, want)
		}
	}
	if _, _, code := runCmd(t, nil, "version", "extra"); code != 2 {
		t.Errorf("version extra: exit %d", code)
	}
	out, _, code := runCmd(t, nil, "version", "--help")
	if code != 0 || !strings.Contains(out, "usage: lafs version") {
		t.Errorf("version --help: %d %q", code, out)
	}
}

// Tahoe's verbs that lafs lacks say so, exit 1, whatever their arguments;
// their help says what they would do.
func TestVersionNotImplementedVerbs(t *testing.T) {
	for _, args := range [][]string{
		{"invite", "bob"},
		{"invite", "--shares-needed", "2", "bob"},
		{"grid-manager", "--config", "gm", "create"},
		{"admin", "add-grid-manager-cert", "--filename", "x", "--name", "y"},
		{"admin", "migrate-crawler"},
	} {
		out, errOut, code := runCmd(t, nil, args...)
		if code != 1 || out != "" || !strings.Contains(errOut, "not implemented yet") || strings.Contains(errOut, "unknown command") {
			t.Errorf("lafs %s: %d %q %q", strings.Join(args, " "), code, out, errOut)
		}
		help := append(args[:len(args):len(args)], "--help")
		out, _, code = runCmd(t, nil, help...)
		if code != 0 || !strings.Contains(out, "does not implement it yet") {
			t.Errorf("lafs %s: %d %q", strings.Join(help, " "), code, out)
		}
	}
	// The list of verbs names them.
	out, _, _ := runCmd(t, nil, "--help")
	for _, verb := range []string{"invite", "grid-manager", "stop", "status", "webopen"} {
		if !strings.Contains(out, "\n  "+verb+" ") {
			t.Errorf("lafs --help does not list %s:\n%s", verb, out)
		}
	}
}

func TestVersionCreateJoin(t *testing.T) {
	for _, verb := range []string{"create-client", "create-node"} {
		for _, join := range [][]string{{"--join", "1-abc-def"}, {"--join=1-abc-def"}} {
			dir := filepath.Join(t.TempDir(), "n")
			args := append(append([]string{verb}, join...), dir)
			_, errOut, code := runCmd(t, nil, args...)
			if code != 1 || !strings.Contains(errOut, "lafs "+verb+" --join: not implemented yet") {
				t.Errorf("lafs %s: %d %q", strings.Join(args, " "), code, errOut)
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("lafs %s made the directory: %v", strings.Join(args, " "), err)
			}
		}
	}
	// Without --join, create-client works as before ("--" ends the options).
	dir := filepath.Join(t.TempDir(), "c")
	if _, errOut, code := runCmd(t, nil, "create-client", "--webport", "none", dir); code != 0 {
		t.Errorf("create-client: %d %q", code, errOut)
	}
}
