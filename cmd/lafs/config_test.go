package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// configNode makes a node directory with create-node and returns it with
// its tahoe.cfg's text.
func configNode(t *testing.T, verb string) (dir, cfg string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "node")
	if _, errOut, code := runCmd(t, nil, verb, "--hostname", "127.0.0.1", dir); code != 0 {
		t.Fatalf("%s: %s", verb, errOut)
	}
	b, err := os.ReadFile(filepath.Join(dir, "tahoe.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	return dir, string(b)
}

func readCfgText(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "tahoe.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestConfigGetSetUnset(t *testing.T) {
	dir, orig := configNode(t, "create-node")
	cfg := func(args ...string) (string, string, int) {
		t.Helper()
		return runCmd(t, nil, append([]string{"-d", dir, "config"}, args...)...)
	}

	if out, errOut, code := cfg("get", "client.shares.needed"); code != 0 || out != "3\n" {
		t.Fatalf("get: %d %q %q", code, out, errOut)
	}
	if out, errOut, code := cfg("get", "node.timeout.keepalive"); code != 1 || out != "" || !strings.Contains(errOut, "not set (the default is 240)") {
		t.Fatalf("get of an unset key: %d %q %q", code, out, errOut)
	}

	// A value with spaces and a %, set: one line changes.
	if out, errOut, code := cfg("set", "node.nickname", "my 100% node"); code != 0 || out != "" || errOut != "" {
		t.Fatalf("set: %d %q %q", code, out, errOut)
	}
	want := strings.Replace(orig, "\nnickname = \n", "\nnickname = my 100%% node\n", 1)
	if got := readCfgText(t, dir); got != want || want == orig {
		t.Fatalf("tahoe.cfg after set:\n%s", got)
	}
	if out, _, code := cfg("get", "node.nickname"); code != 0 || out != "my 100% node\n" {
		t.Fatalf("get after set: %d %q", code, out)
	}
	// The key's spelling in the file is kept; the option may follow.
	if _, errOut, code := runCmd(t, nil, "config", "set", "node.reveal-ip-address", "yes", "-d", dir); code != 0 {
		t.Fatalf("set with -d after: %s", errOut)
	}
	want = strings.Replace(want, "reveal-IP-address = true", "reveal-IP-address = yes", 1)
	if got := readCfgText(t, dir); got != want {
		t.Fatalf("tahoe.cfg after second set:\n%s", got)
	}
	// A new key goes at the end of its section.
	if _, errOut, code := cfg("set", "storage.expire.mode", "age"); code != 0 {
		t.Fatalf("set of a new key: %s", errOut)
	}
	want = strings.Replace(want, "reserved_space = 1G\n", "reserved_space = 1G\nexpire.mode = age\n", 1)
	if got := readCfgText(t, dir); got != want {
		t.Fatalf("tahoe.cfg after adding a key:\n%s", got)
	}

	// Refused: nothing written, the reason named.
	for _, tt := range []struct {
		args []string
		msg  string
	}{
		{[]string{"set", "client.shares.needed", "11"}, "shares.needed (k=11) is more than shares.total"},
		{[]string{"set", "storage.reserved_space", "lots"}, "reserved_space"},
		{[]string{"set", "storage.enabled", "maybe"}, "not a boolean"},
		{[]string{"set", "client.mutable.format", "xdmf"}, "mutable.format"},
		{[]string{"set", "node.nicknam", "x"}, "did you mean node.nickname?"},
		{[]string{"set", "Node.nickname", "x"}, "unknown section [Node]"},
		{[]string{"set", "client.shares.neded", "2"}, "did you mean client.shares.needed?"},
		{[]string{"set", "node.nickname", " padded"}, "white space"},
		{[]string{"set", "nickname", "x"}, "not SECTION.KEY"},
		{[]string{"get", "node.nicknam"}, "did you mean node.nickname?"},
		{[]string{"set", "storage.expire.enabled", "true"}, ""}, // valid: expire.mode is set
		{[]string{"unset", "storage.expire.mode"}, "expire.mode (age or cutoff-date) is missing"},
	} {
		if tt.msg == "" {
			if _, errOut, code := cfg(tt.args...); code != 0 {
				t.Fatalf("%v: %s", tt.args, errOut)
			}
			want = strings.Replace(want, "expire.mode = age\n", "expire.mode = age\nexpire.enabled = true\n", 1)
			continue
		}
		out, errOut, code := cfg(tt.args...)
		if code != 1 || out != "" || !strings.Contains(errOut, tt.msg) {
			t.Errorf("%v: %d %q %q, want %q", tt.args, code, out, errOut, tt.msg)
		}
		if got := readCfgText(t, dir); got != want {
			t.Fatalf("%v changed tahoe.cfg:\n%s", tt.args, got)
		}
	}

	if _, errOut, code := cfg("unset", "client.shares.needed"); code != 0 || errOut != "" {
		t.Fatalf("unset: %d %q", code, errOut)
	}
	want = strings.Replace(want, "shares.needed = 3\n", "", 1)
	if got := readCfgText(t, dir); got != want {
		t.Fatalf("tahoe.cfg after unset:\n%s", got)
	}
	if _, errOut, code := cfg("unset", "client.shares.needed"); code != 0 || !strings.Contains(errOut, "was not set") {
		t.Fatalf("second unset: %d %q", code, errOut)
	}
	if _, _, code := cfg("get", "client.shares.needed"); code != 1 {
		t.Fatalf("get after unset: exit %d", code)
	}

	// A value that begins with '-' goes after "--".
	if _, errOut, code := cfg("set", "node.nickname", "--", "-x-"); code != 0 {
		t.Fatalf("set -- -x-: %s", errOut)
	}
	if out, _, _ := cfg("get", "node.nickname"); out != "-x-\n" {
		t.Fatalf("nickname %q", out)
	}

	for _, args := range [][]string{{"get"}, {"set", "node.nickname"}, {"unset"}, {"list", "extra"}, {"frob"}} {
		if _, _, code := cfg(args...); code != 2 {
			t.Errorf("config %v: exit %d, want 2", args, code)
		}
	}
}

func TestConfigList(t *testing.T) {
	dir, _ := configNode(t, "create-node")
	out, errOut, code := runCmd(t, nil, "-d", dir, "config", "list")
	if code != 0 || errOut != "" {
		t.Fatalf("list: %d %q", code, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if lines[0] != "node.nickname = " || !strings.Contains(out, "\nnode.reveal-ip-address = true\n") ||
		!strings.Contains(out, "\nclient.shares.total = 10\nstorage.enabled = true\n") || strings.Contains(out, "#") {
		t.Fatalf("list:\n%s", out)
	}

	out, _, code = runCmd(t, nil, "-d", dir, "config", "list", "--all")
	if code != 0 {
		t.Fatalf("list --all: exit %d", code)
	}
	for _, want := range []string{
		"client.shares.total = 10 ",     // set
		"node.timeout.keepalive = 240 ", // default
		"# (default) seconds of silence",
		"node.log_gatherer.furl =  ",
		"# (not set) a Foolscap log gatherer",
		"grid_managers.NAME = ...",
		"sftpd.port = tcp:8022",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("list --all lacks %q:\n%s", want, out)
		}
	}

	// A file the node would refuse is listed, with a warning; a key it
	// does not know can be read and removed.
	path := filepath.Join(dir, "tahoe.cfg")
	text := readCfgText(t, dir)
	bad := strings.Replace(text, "[client]\n", "[client]\nbogus.key = 1\n", 1)
	if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = runCmd(t, nil, "-d", dir, "config", "list")
	if code != 0 || !strings.Contains(out, "client.bogus.key = 1\n") || !strings.Contains(errOut, `unknown option "bogus.key"`) {
		t.Fatalf("list of a bad file: %d %q %q", code, out, errOut)
	}
	if out, _, code := runCmd(t, nil, "-d", dir, "config", "get", "client.bogus.key"); code != 0 || out != "1\n" {
		t.Fatalf("get of an unknown key present: %d %q", code, out)
	}
	if _, errOut, code := runCmd(t, nil, "-d", dir, "config", "unset", "client.bogus.key"); code != 0 {
		t.Fatalf("unset of an unknown key present: %s", errOut)
	}
	if got := readCfgText(t, dir); got != text {
		t.Fatalf("after unset:\n%s", got)
	}
}

func TestConfigIntroducer(t *testing.T) {
	dir, _ := configNode(t, "create-introducer")
	_, errOut, code := runCmd(t, nil, "-d", dir, "config", "set", "client.shares.needed", "2")
	if code != 1 || !strings.Contains(errOut, "has no section [client]") {
		t.Fatalf("introducer set [client]: %d %q", code, errOut)
	}
	out, _, _ := runCmd(t, nil, "-d", dir, "config", "list", "--all")
	if strings.Contains("\n"+out, "\nclient.") || strings.Contains(out, "grid_managers") || !strings.Contains(out, "node.nickname") {
		t.Fatalf("introducer list --all:\n%s", out)
	}
}

func TestConfigRestartNote(t *testing.T) {
	dir, _ := configNode(t, "create-node")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	if err := os.WriteFile(filepath.Join(dir, "node.url"), []byte(srv.URL+"/\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runCmd(t, nil, "-d", dir, "config", "set", "node.nickname", "a")
	if code != 0 || !strings.Contains(out, "restart the node for this to take effect") {
		t.Fatalf("set with the node running: %d %q %q", code, out, errOut)
	}
	// Nothing changed: nothing to restart for.
	if out, _, _ := runCmd(t, nil, "-d", dir, "config", "set", "node.nickname", "a"); out != "" {
		t.Fatalf("unchanged set said %q", out)
	}
	srv.Close()
	if out, _, code := runCmd(t, nil, "-d", dir, "config", "set", "node.nickname", "b"); code != 0 || out != "" {
		t.Fatalf("set with the node stopped: %d %q", code, out)
	}
}

func TestConfigNoNode(t *testing.T) {
	dir := t.TempDir()
	_, errOut, code := runCmd(t, nil, "-d", dir, "config", "list")
	if code != 1 || !strings.Contains(errOut, "is not a node directory") {
		t.Fatalf("config list in an empty directory: %d %q", code, errOut)
	}
	if out, _, code := runCmd(t, nil, "config", "set", "--help"); code != 0 || !strings.Contains(out, "usage: lafs [-d NODEDIR] config set SECTION.KEY VALUE") {
		t.Fatalf("config set --help: %d %q", code, out)
	}
}
