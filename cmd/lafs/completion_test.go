package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// completionNode makes a node directory with two aliases (one the default,
// from root_dir.cap) and returns it.
func completionNode(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "my node")
	if err := os.MkdirAll(filepath.Join(dir, "private"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "private", "aliases"), []byte("work: "+goldenDir+"\nwiki: "+goldenRO+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "private", "root_dir.cap"), []byte(goldenDir+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestCompletionComplete(t *testing.T) {
	node := completionNode(t)
	home := filepath.Dir(node)
	e := &env{getenv: func(k string) string {
		if k == "HOME" {
			return home
		}
		return ""
	}}
	for _, tt := range []struct {
		words []string
		want  []string
	}{
		{[]string{"pu"}, []string{"put"}},
		{[]string{"deb"}, []string{"debug"}},
		{[]string{"-d", node, "create-"}, []string{"create-alias", "create-client", "create-introducer", "create-node"}},
		{[]string{"-"}, []string{"-d", "--node-directory", "--help"}},
		{[]string{"-d", ""}, []string{":dirs"}},
		{[]string{"debug", "dump-"}, []string{"dump-cap", "dump-share"}},
		{[]string{"help", "debug", "c"}, []string{"catalog-shares", "chk-cap", "corrupt-share"}},
		{[]string{"help", "l"}, []string{"list-aliases", "ln", "local-grid", "ls"}},
		{[]string{"ls", "--cl"}, []string{"--classify"}},
		{[]string{"ls", "golden:", "-l"}, []string{"-l"}},
		{[]string{"put", "--m"}, []string{"--mutable"}},
		{[]string{"put", "--format", ""}, []string{"CHK", "MDMF", "SDMF"}},
		{[]string{"put", "--format=", ""}, []string{"work:", "wiki:", "tahoe:", ":files"}[3:]},
		{[]string{"run", "--basedir", ""}, []string{":dirs"}},
		{[]string{"run", ""}, []string{":dirs"}},
		{[]string{"local-grid", "--web-port", "3456", ""}, []string{":dirs"}},
		{[]string{"debug", "dump-share", ""}, []string{":files"}},
		// Alias names of the node -d names, before or after the verb.
		{[]string{"-d", node, "ls", ""}, []string{"tahoe:", "wiki:", "work:", ":files"}},
		{[]string{"ls", "-d", node, "w"}, []string{"wiki:", "work:", ":files"}},
		{[]string{"cp", "--node-directory=" + node, "local", "wo"}, []string{"work:", ":files"}},
		{[]string{"-d" + node, "get", "work:"}, []string{":files"}},
		// ~/.tahoe by default.
		{[]string{"mv", "t"}, []string{":files"}},
		{[]string{"no-such-verb", ""}, nil},
	} {
		got := complete(e, tt.words)
		if !reflect.DeepEqual(got, tt.want) && (len(got) != 0 || len(tt.want) != 0) {
			t.Errorf("complete(%q) = %q, want %q", tt.words, got, tt.want)
		}
	}
	// ~/.tahoe is the default node.
	if err := os.Rename(node, filepath.Join(home, ".tahoe")); err != nil {
		t.Fatal(err)
	}
	if got := complete(e, []string{"mv", "t"}); !reflect.DeepEqual(got, []string{"tahoe:", ":files"}) {
		t.Errorf("complete(mv t) with ~/.tahoe = %q", got)
	}
}

func TestCompletionScripts(t *testing.T) {
	for _, shell := range []string{"bash", "zsh"} {
		var out bytes.Buffer
		e := &env{stdout: &out, stderr: &out, getenv: func(string) string { return "" }}
		if code := run(context.Background(), e, []string{"completion", shell}); code != 0 {
			t.Fatalf("lafs completion %s: exit %d: %s", shell, code, out.String())
		}
		if !strings.Contains(out.String(), "completion complete") {
			t.Errorf("the %s script does not call lafs completion complete:\n%s", shell, out.String())
		}
		if _, err := exec.LookPath(shell); err != nil {
			t.Logf("no %s here: its script is not checked", shell)
			continue
		}
		cmd := exec.Command(shell, "-n")
		cmd.Stdin = &out
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s -n on the script: %v\n%s", shell, err, msg)
		}
	}
	if _, _, code := runCmd(t, nil, "completion", "fish"); code != 2 {
		t.Errorf("lafs completion fish: exit %d, want 2", code)
	}
}

// TestCompletionBash loads the bash script into bash and completes as
// bash would at a Tab: COMP_WORDS split at ":" as bash splits them.
func TestCompletionBash(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	lafs := lafsBinary(t)
	node := completionNode(t)
	files := t.TempDir()
	for _, f := range []string{"report one.txt", "report-2.txt", "other"} {
		if err := os.WriteFile(filepath.Join(files, f), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	script, _, code := runCmd(t, nil, "completion", "bash")
	if code != 0 {
		t.Fatal("lafs completion bash failed")
	}
	scriptFile := filepath.Join(t.TempDir(), "lafs.bash")
	if err := os.WriteFile(scriptFile, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	complete := func(line string, words ...string) []string {
		t.Helper()
		prog := `source "$1"; shift
COMP_LINE="$1"; COMP_POINT=${#COMP_LINE}; shift
COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 ))
_lafs
printf '%s\n' "${COMPREPLY[@]}"`
		cmd := exec.Command("bash", append([]string{"--norc", "--noprofile", "-c", prog, "bash", scriptFile, line}, words...)...)
		cmd.Dir = files
		cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("bash: %v\n%s", err, out)
		}
		got := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
		if len(got) == 1 && got[0] == "" {
			return nil
		}
		slices.Sort(got)
		return got
	}
	for _, tt := range []struct {
		line  string
		words []string
		want  []string
	}{
		{lafs + " pu", []string{lafs, "pu"}, []string{"put"}},
		{lafs + " debug du", []string{lafs, "debug", "du"}, []string{"dump-cap", "dump-share"}},
		{lafs + " ls --rea", []string{lafs, "ls", "--rea"}, []string{"--readonly-uri"}},
		// The node's directory has a space: quoted, as typed.
		{lafs + " -d '" + node + "' ls w", []string{lafs, "-d", "'" + node + "'", "ls", "w"}, []string{"wiki:", "work:"}},
		{lafs + " ls --node-directory \"" + node + "\" w", []string{lafs, "ls", "--node-directory", "\"" + node + "\"", "w"}, []string{"wiki:", "work:"}},
		{lafs + " put rep", []string{lafs, "put", "rep"}, []string{"report one.txt", "report-2.txt"}},
		// Bash splits "work:" into "work" and ":": the candidates replace
		// the ":" only.
		{lafs + " -d '" + node + "' cp other wor", []string{lafs, "-d", "'" + node + "'", "cp", "other", "wor"}, []string{"work:"}},
		{lafs + " -d '" + node + "' cp other work:", []string{lafs, "-d", "'" + node + "'", "cp", "other", "work", ":"}, nil},
		{lafs + " -d '" + node + "' cp work:x rep", []string{lafs, "-d", "'" + node + "'", "cp", "work", ":", "x", "rep"}, []string{"report one.txt", "report-2.txt"}},
		{lafs + " -d '" + node + "' cp work:x --rec", []string{lafs, "-d", "'" + node + "'", "cp", "work", ":", "x", "--rec"}, []string{"--recursive"}},
	} {
		if got := complete(tt.line, tt.words...); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q: COMPREPLY %q, want %q", tt.line, got, tt.want)
		}
	}
}

// TestCompletionZsh loads the zsh script into zsh, with compadd and _files
// standing in for zsh's completion system, and completes.
func TestCompletionZsh(t *testing.T) {
	if _, err := exec.LookPath("zsh"); err != nil {
		t.Skip("no zsh")
	}
	lafs := lafsBinary(t)
	node := completionNode(t)
	script, _, code := runCmd(t, nil, "completion", "zsh")
	if code != 0 {
		t.Fatal("lafs completion zsh failed")
	}
	scriptFile := filepath.Join(t.TempDir(), "_lafs")
	if err := os.WriteFile(scriptFile, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		words []string // as zsh's $words has them, quotes and all
		want  string
	}{
		{[]string{lafs, "pu"}, "compadd -- put\n"},
		{[]string{lafs, "-d", "'" + node + "'", "ls", "w"}, "compadd -S  -- wiki: work:\n_files\n"},
		{[]string{lafs, "run", ""}, "_files -/\n"},
		{[]string{lafs, "put", "--format", "M"}, "compadd -- MDMF\n"},
	} {
		prog := `compdef() { :; }
compadd() { print -r -- "compadd $*"; }
_files() { print -r -- "_files${1:+ $1}"; }
source "$1"; shift
words=("$@"); CURRENT=$#
_lafs`
		cmd := exec.Command("zsh", append([]string{"-f", "-c", prog, "zsh", scriptFile}, tt.words...)...)
		out, err := cmd.CombinedOutput()
		if err != nil || string(out) != tt.want {
			t.Errorf("%q: %v\n%s\nwant:\n%s", tt.words, err, out, tt.want)
		}
	}
}
