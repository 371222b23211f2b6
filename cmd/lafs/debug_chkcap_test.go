package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lafs/lafs/internal/tahoevec"
)

// TestCHKCapTahoeGrid computes, offline, the caps a live Tahoe 1.20 grid gave
// its CHK and LIT files, from a file and from standard input.
func TestCHKCapTahoeGrid(t *testing.T) {
	g := tahoevec.LoadGrid(t)
	dir := t.TempDir()
	n := 0
	for _, o := range g.Objects {
		if o.Kind != "chk" && o.Kind != "lit" {
			continue
		}
		n++
		path := filepath.Join(dir, "f")
		if err := os.WriteFile(path, o.Plaintext, 0o600); err != nil {
			t.Fatal(err)
		}
		out, errOut, code := runCmd(t, nil, "debug", "chk-cap", "--convergence", g.ConvergenceB32, path)
		if code != 0 || out != o.Cap+"\n" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want %s", o.Note, code, out, errOut, o.Cap)
		}
		out, _, code = runCmd(t, o.Plaintext, "debug", "chk-cap", "--convergence", g.ConvergenceB32, "-")
		if code != 0 || out != o.Cap+"\n" {
			t.Errorf("%s from stdin: exit %d, stdout %q", o.Note, code, out)
		}
	}
	if n != 3 {
		t.Errorf("saw %d CHK/LIT objects, want 3", n)
	}
}

// TestCHKCapVectorParams checks the flags against two of Tahoe's CHK vectors.
func TestCHKCapVectorParams(t *testing.T) {
	found := 0
	for _, c := range tahoevec.Cases(t) {
		if c.Kind != "chk" || c.Length > 200000 || (c.K != 3 && c.K != 71) {
			continue
		}
		found++
		secret := strings.TrimRight(b32(c.Convergence), "=")
		out, errOut, code := runCmd(t, c.Plaintext(), "debug", "chk-cap", "--convergence", secret,
			"--needed", itoa(c.K), "--total", itoa(c.N), "--segment-size", itoa(c.SegmentSize))
		if code != 0 || out != c.Expected+"\n" {
			t.Errorf("vector %d: exit %d %q %q, want %s", c.Index, code, out, errOut, c.Expected)
		}
	}
	if found == 0 {
		t.Fatal("no vectors matched")
	}
}

func TestCHKCapBadInput(t *testing.T) {
	for _, args := range [][]string{
		{"debug", "chk-cap"},                          // no secret
		{"debug", "chk-cap", "--convergence", "AAAA"}, // upper case
		{"debug", "chk-cap", "--convergence", "ab"},   // trailing bits
		{"debug", "chk-cap", "--convergence", "aa", "--needed", "0"},
		{"debug", "chk-cap", "--convergence", "aa", "--needed", "5", "--total", "4"},
		{"debug", "chk-cap", "--convergence", "aa", "--total", "257"},
		{"debug", "chk-cap", "--convergence", "aa", "--segment-size", "0"},
		{"debug", "chk-cap", "--convergence", "aa", "a", "b"},
	} {
		_, errOut, code := runCmd(t, nil, args...)
		if code != 2 || errOut == "" {
			t.Errorf("%q: exit %d, stderr %q; want usage error", args, code, errOut)
		}
	}
	_, errOut, code := runCmd(t, nil, "debug", "chk-cap", "--convergence", "aa", "/does/not/exist")
	if code != 1 || !strings.Contains(errOut, "/does/not/exist") {
		t.Errorf("missing file: exit %d, %q", code, errOut)
	}
	var ue *usageError
	if err := runDebugCHKCap(context.Background(), &env{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}, nil); !errors.As(err, &ue) {
		t.Errorf("no args: %v", err)
	}
}
