package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// helpEnv is an env whose home and node directory are empty temporary
// directories, so that a verb that ignored --help would touch nothing.
func helpEnv(t *testing.T) env {
	home := t.TempDir()
	return env{
		nodeDir: filepath.Join(home, "no-node"),
		getenv: func(k string) string {
			if k == "HOME" {
				return home
			}
			return ""
		},
	}
}

// homes holds each test's helpEnv.
var homes = struct {
	sync.Mutex
	m map[*testing.T]env
}{m: map[*testing.T]env{}}

// runHelpCmd runs lafs with args in helpEnv (the same for the whole test).
func runHelpCmd(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	homes.Lock()
	e, ok := homes.m[t]
	if !ok {
		e = helpEnv(t)
		homes.m[t] = e
		t.Cleanup(func() {
			homes.Lock()
			delete(homes.m, t)
			homes.Unlock()
		})
	}
	homes.Unlock()
	var o, errOut bytes.Buffer
	e.stdin, e.stdout, e.stderr = strings.NewReader(""), &o, &errOut
	code = run(context.Background(), &e, args)
	return o.String(), errOut.String(), code
}

// TestHelpEveryVerb asks every verb and sub-verb for its help, as --help,
// -h and "lafs help VERB": each prints, on stdout and exiting 0, a usage
// line naming the verb, its description and its option list, the same
// whichever way it was asked.
func TestHelpEveryVerb(t *testing.T) {
	paths := verbPaths()
	if len(paths) < 30 {
		t.Fatalf("only %d verbs found: %q", len(paths), paths)
	}
	for _, path := range paths {
		verb := strings.Join(path, " ")
		out, errOut, code := runHelpCmd(t, append(path, "--help")...)
		if code != 0 || errOut != "" {
			t.Errorf("lafs %s --help: exit %d, stderr %q", verb, code, errOut)
			continue
		}
		first, rest, _ := strings.Cut(out, "\n")
		if !strings.HasPrefix(first, "usage: lafs ") || !strings.Contains(first, " "+verb) {
			t.Errorf("lafs %s --help: first line %q, want a usage line naming the verb", verb, first)
		}
		if !strings.Contains(rest, "\noptions:\n") || !strings.Contains(rest, "  -h, --help ") {
			t.Errorf("lafs %s --help: no option list:\n%s", verb, out)
		}
		if strings.Contains(out, "Usage of") || strings.Contains(out, "\n  -node-") {
			t.Errorf("lafs %s --help: Go's raw usage:\n%s", verb, out)
		}
		if p := probeHelp(path); p.flags != nil {
			if p.flags.Lookup("node-directory") != nil || p.flags.Lookup("basedir") != nil {
				if !strings.Contains(first, "NODEDIR") {
					t.Errorf("lafs %s --help: usage line %q does not say NODEDIR", verb, first)
				}
			}
		} else {
			t.Errorf("lafs %s: its help comes from no flag set of newFlagSet", verb)
		}
		for _, other := range [][]string{append(path, "-h"), append([]string{"help"}, path...)} {
			o, e, c := runHelpCmd(t, other...)
			if o != out || e != "" || c != 0 {
				t.Errorf("lafs %s: exit %d, stderr %q, output differs from --help's:\n%s", strings.Join(other, " "), c, e, o)
			}
		}
	}
}

// TestHelpBadOption gives every verb an option it does not have: a
// usage error (exit 2) that names the option and points to --help.
func TestHelpBadOption(t *testing.T) {
	for _, path := range verbPaths() {
		verb := strings.Join(path, " ")
		if help, _, _ := runHelpCmd(t, append(path, "--help")...); strings.Contains(help, "not implement") {
			continue // a verb lafs does not implement yet fails whatever its options
		}
		out, errOut, code := runHelpCmd(t, append(path, "ARG", "--no-such-option")...)
		if code != 2 || out != "" || !strings.Contains(errOut, "unknown option --no-such-option") ||
			!strings.Contains(errOut, "lafs "+verb+" --help") {
			t.Errorf("lafs %s ARG --no-such-option: exit %d, stdout %q, stderr %q", verb, code, out, errOut)
		}
	}
}

func TestHelpListsVerbs(t *testing.T) {
	out, errOut, code := runHelpCmd(t, "help")
	if code != 0 || errOut != "" {
		t.Fatalf("lafs help: exit %d, stderr %q", code, errOut)
	}
	for _, c := range commands() {
		if !strings.Contains(out, "\n  "+c.name+" ") {
			t.Errorf("lafs help does not list %s:\n%s", c.name, out)
		}
	}
	if !strings.Contains(out, "lafs help COMMAND") || !strings.Contains(out, "-d, --node-directory") {
		t.Errorf("lafs help says nothing of help COMMAND or -d:\n%s", out)
	}
	for _, args := range [][]string{{"--help"}, {"-h"}} {
		if o, _, c := runHelpCmd(t, args...); o != out || c != 0 {
			t.Errorf("lafs %s: exit %d, output differs from lafs help's", args[0], c)
		}
	}
	// No command at all: the list on stderr, and a usage error.
	o, e, c := runHelpCmd(t)
	if c != 2 || o != "" || !strings.Contains(e, "\n  put ") || !strings.Contains(e, "no command given") {
		t.Errorf("lafs: exit %d, stdout %q, stderr %q", c, o, e)
	}
	// A table of sub-verbs lists them the same ways.
	o, e, c = runHelpCmd(t, "debug", "help")
	if c != 0 || e != "" || !strings.Contains(o, "usage: lafs debug COMMAND") || !strings.Contains(o, "\n  dump-cap ") {
		t.Errorf("lafs debug help: exit %d, stderr %q:\n%s", c, e, o)
	}
	if o2, _, _ := runHelpCmd(t, "help", "debug"); o2 != o {
		t.Errorf("lafs help debug differs from lafs debug help:\n%s", o2)
	}
	// An unknown verb is a usage error, asked for help or not.
	if _, e, c := runHelpCmd(t, "help", "no-such-verb"); c != 2 || !strings.Contains(e, `unknown command "no-such-verb"`) {
		t.Errorf("lafs help no-such-verb: exit %d, stderr %q", c, e)
	}
}

// TestUsageOptionsAfterArguments runs verbs with their options after the
// positional arguments, as Tahoe's parser allows.
func TestUsageOptionsAfterArguments(t *testing.T) {
	const cap = "URI:CHK:tpryif5wuwqtijcyksurx4styi:5kv4xhrrmun3aant3wu2omziejnzfv3xyptnxlys64bhao6vm4cq:3:10:70000"
	a, _, c1 := runHelpCmd(t, "debug", "dump-cap", "--nodeid", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", cap)
	b, _, c2 := runHelpCmd(t, "debug", "dump-cap", cap, "--nodeid", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
	if c1 != 0 || c2 != 0 || a != b || a == "" {
		t.Errorf("dump-cap with --nodeid before (exit %d) and after (exit %d) CAP differ:\n%s\n%s", c1, c2, a, b)
	}
	dir := t.TempDir()
	out, errOut, code := runHelpCmd(t, "create-client", filepath.Join(dir, "c"), "--webport", "none", "-n", "after")
	if code != 0 {
		t.Fatalf("create-client DIR --webport none -n after: exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, filepath.Join(dir, "c")) {
		t.Errorf("create-client output: %q", out)
	}
	cfg, err := os.ReadFile(filepath.Join(dir, "c", "tahoe.cfg"))
	if err != nil || !strings.Contains(string(cfg), "\nnickname = after\n") || !strings.Contains(string(cfg), "\nweb.port = \n") {
		t.Errorf("create-client DIR --webport none -n after: tahoe.cfg %v:\n%s", err, cfg)
	}
}
