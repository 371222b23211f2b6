package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// errorsNode is a test node with the alias tahoe holding a file f and a
// directory d, and a local file to upload.
func errorsNode(t *testing.T) (n *testNode, local string) {
	t.Helper()
	n = newTestNode(t)
	if _, errOut, code := n.run(nil, "create-alias", "tahoe"); code != 0 {
		t.Fatalf("create-alias: %s", errOut)
	}
	local = filepath.Join(t.TempDir(), "in")
	os.WriteFile(local, []byte(strings.Repeat("a file of more than a LIT's bytes. ", 10)), 0o644)
	for _, args := range [][]string{{"put", local, "tahoe:f"}, {"mkdir", "tahoe:d"}, {"put", local, "tahoe:d/g"}} {
		if _, errOut, code := n.run(nil, args...); code != 0 {
			t.Fatalf("%v: %s", args, errOut)
		}
	}
	return n, local
}

// A mistyped cap is diagnosed before the node is asked anything, with
// the part at fault named; ls of one is an error, not a blank listing.
func TestErrorMistypedCaps(t *testing.T) {
	n, local := errorsNode(t)
	good := strings.TrimSpace(n.call("GET", "uri/"+pyQuote(n.aliasCap("tahoe"))+"/f?t=uri", ""))
	dir := n.aliasCap("tahoe")
	out := filepath.Join(t.TempDir(), "out")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"get", good[:strings.LastIndex(good, ":")], out}, "URI:CHK (an immutable file's read cap): it has 4 fields after its kind where 5 are needed (key:UEB hash:k:N:size): is the end missing?"},
		{[]string{"get", strings.Replace(good, "URI:CHK:", "URI:CHK:a", 1), out}, "the key (field 1 of 5: key:UEB hash:k:N:size) is 27 characters long; it must be 26"},
		{[]string{"get", strings.Replace(good, "URI:CHK:", "URI:CHK:1", 1)[:len(good)]}, `has "1" at character 1, which base32 never uses`},
		{[]string{"get", strings.Replace(good, "URI:CHK:", "URI:CKH:", 1)}, "there is no kind URI:\"CKH\" (did you mean URI:CHK?)"},
		{[]string{"ls", dir[:len(dir)-1]}, "URI:DIR2 (a mutable directory's write cap): the fingerprint (field 2 of 2: write key:fingerprint) is 51 characters long; it must be 52 (is a character missing?)"},
		{[]string{"ls", strings.ToUpper(dir[:9]) + strings.ToUpper(dir[9:])}, "is in upper case; caps are written in lower case"},
		{[]string{"ls", "-l", strings.Replace(dir, "URI:DIR2:", "URI:DIR3:", 1) + "/d"}, "did you mean URI:DIR2?"},
		{[]string{"ls", strings.Replace(dir, ":", ":\n", 2)}, "white space in it"},
		{[]string{"ls", strings.ToLower(dir)}, "error: Unknown alias 'uri', please create it with 'lafs add-alias' or 'lafs create-alias'.\n(If that is a cap: caps begin with URI: in capitals.)\n"},
		{[]string{"ls", mustParse(t, dir).Verifier().String()}, "URI:DIR2-Verifier is a verify cap: it lets its holder check and repair the object (lafs check), not read it"},
		{[]string{"put", local, dir[:20] + "/x"}, "URI:DIR2 (a mutable directory's write cap): it has 1 field after its kind where 2 are needed (write key:fingerprint): is the end missing?"},
		{[]string{"put", local, mustParse(t, dir).ReadOnly().String() + "/x"}, "URI:DIR2-RO is a read-only cap: put cannot change what it names"},
		{[]string{"mkdir", dir[:len(dir)-3] + "/x"}, "it must be 52"},
		{[]string{"mkdir", mustParse(t, dir).ReadOnly().String() + "/x"}, "URI:DIR2-RO is a read-only cap: it cannot make anything in its directory"},
	} {
		n.resetLog()
		stdout, errOut, code := n.run(nil, tt.args...)
		if code != 1 || stdout != "" || !strings.HasPrefix(errOut, "error: ") || !strings.Contains(errOut, tt.want) {
			t.Errorf("lafs %s: %d %q %q; want exit 1 and %q", strings.Join(tt.args, " "), code, stdout, errOut, tt.want)
		}
		if log := n.log(); len(log) != 0 {
			t.Errorf("lafs %s asked the node: %v", strings.Join(tt.args, " "), log)
		}
	}
	// A well-formed cap of a kind the node does not know is no listing either.
	if _, errOut, code := n.run(nil, "ls", "URI:NEWKIND:stuff"); code != 1 || !strings.Contains(errOut, "URI:\"NEWKIND\" is no kind of cap this version knows") {
		t.Errorf("ls of an unknown kind: %d %q", code, errOut)
	}
}

// aliasCap returns an alias's cap.
func (n *testNode) aliasCap(name string) string {
	n.t.Helper()
	a, err := readAliases(n.dir)
	if err != nil || a[name] == "" {
		n.t.Fatalf("no alias %s: %v", name, err)
	}
	return a[name]
}

// -d naming no node directory, or a directory that is no node's, or a
// node that never ran, each say so and name the directory.
func TestErrorNodeDirectory(t *testing.T) {
	root := t.TempDir()
	missing := filepath.Join(root, "no such")
	noCfg := filepath.Join(root, "plain")
	os.Mkdir(noCfg, 0o755)
	neverRan := filepath.Join(root, "node")
	os.Mkdir(neverRan, 0o755)
	os.WriteFile(filepath.Join(neverRan, "tahoe.cfg"), []byte("[node]\n"), 0o644)
	aFile := filepath.Join(root, "file")
	os.WriteFile(aFile, nil, 0o644)
	cp := "URI:CHK:" + strings.Repeat("a", 26) + ":" + strings.Repeat("a", 52) + ":3:10:100"
	for _, tt := range []struct {
		dir  string
		args []string
		want string
	}{
		{missing, []string{"ls"}, "error: there is no node directory '" + missing + "' (-d/--node-directory names it, ~/.tahoe by default); make one with lafs create-client '" + missing + "'\n"},
		{missing, []string{"get", cp}, "error: there is no node directory '" + missing + "'"},
		{aFile, []string{"mkdir", "tahoe:x"}, "error: '" + aFile + "' is not a node directory: it is a file\n"},
		{noCfg, []string{"get", cp}, "error: '" + noCfg + "' is not a node directory (it has no tahoe.cfg); make one with lafs create-client " + noCfg + "\n"},
		{neverRan, []string{"get", cp}, "error: the node in '" + neverRan + "' has not run with its web API on (it has no node.url): start it with lafs run " + neverRan + ", with [node] web.port set in its tahoe.cfg\n"},
	} {
		_, errOut, code := runCmd(t, nil, append([]string{"-d", tt.dir}, tt.args...)...)
		if code != 1 || !strings.HasPrefix(errOut, tt.want) {
			t.Errorf("lafs -d %s %s: %d %q, want %q", tt.dir, strings.Join(tt.args, " "), code, errOut, tt.want)
		}
	}
	// --node-url needs no node directory for a cap given whole.
	_, errOut, _ := runCmd(t, nil, "-d", missing, "get", "--node-url", "http://127.0.0.1:1/", "URI:LIT:")
	if strings.Contains(errOut, "no node directory") {
		t.Errorf("get with --node-url: %q", errOut)
	}
}

// A node that refuses connections: the error tells how to start it.
func TestErrorNodeStopped(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + l.Addr().String() + "/"
	l.Close()
	dir := newNodeDir(t, base, map[string]string{"tahoe": goldenDir})
	want := "\nis the node running? start it with lafs run " + dir + "\n"
	for _, args := range [][]string{{"ls"}, {"get", "tahoe:f"}, {"mkdir", "tahoe:x"}, {"put", "-", "tahoe:x"}, {"check", "tahoe:"}} {
		_, errOut, code := runCmd(t, []byte("data"), append([]string{"-d", dir}, args...)...)
		if code != 1 || !strings.HasSuffix(errOut, want) || !strings.Contains(errOut, "connection refused") {
			t.Errorf("lafs %s: %d %q, want it to end in %q", strings.Join(args, " "), code, errOut, want)
		}
	}
	_, errOut, _ := runCmd(t, nil, "-d", dir, "ls", "--node-url", base)
	if !strings.HasSuffix(errOut, "\nis the node at "+base+" running?\n") {
		t.Errorf("ls --node-url: %q", errOut)
	}
}

// get of a directory, or to a directory, says so; it saves no HTML page
// and shows no temporary file's name.
func TestErrorGetDirectories(t *testing.T) {
	n, _ := errorsNode(t)
	local := t.TempDir()
	dircap := n.aliasCap("tahoe")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"get", "tahoe:d", filepath.Join(local, "out")}, "error: 'tahoe:d' is a directory, and lafs get copies one file: lafs cp -r tahoe:d LOCAL_DIR copies a directory, lafs ls tahoe:d lists it\n"},
		{[]string{"get", "tahoe:d/"}, "error: 'tahoe:d/' is a directory"},
		{[]string{"get", "tahoe:", filepath.Join(local, "out")}, "error: 'tahoe:' is a directory"},
		{[]string{"get", dircap, filepath.Join(local, "out")}, "error: '" + dircap + "' is a directory"},
		{[]string{"get", "tahoe:f", local}, "error: '" + local + "' is a directory; lafs get saves one file: name the file to write ('" + filepath.Join(local, "NAME") + "')\n"},
		{[]string{"get", "tahoe:f", filepath.Join(local, "no", "out")}, "error: cannot save to '" + filepath.Join(local, "no", "out") + "': there is no directory '" + filepath.Join(local, "no") + "'\n"},
	} {
		stdout, errOut, code := n.run(nil, tt.args...)
		if code != 1 || stdout != "" || !strings.HasPrefix(errOut, tt.want) || strings.Contains(errOut, ".lafs-") {
			t.Errorf("lafs %s: %d %q %q, want %q", strings.Join(tt.args, " "), code, stdout, errOut, tt.want)
		}
	}
	if ents, _ := os.ReadDir(local); len(ents) != 0 {
		t.Errorf("failed gets left %v", ents)
	}
	// A file named like a web page is a file all the same.
	page := "<html><body>a page</body></html>"
	if _, errOut, code := n.run([]byte(page), "put", "-", "tahoe:index.html"); code != 0 {
		t.Fatal(errOut)
	}
	if out, errOut, code := n.run(nil, "get", "tahoe:index.html"); code != 0 || out != page {
		t.Errorf("get of an HTML file: %d %q %q", code, out, errOut)
	}
}

// mkdir where a file is says "is a file".
func TestErrorMkdirOverFile(t *testing.T) {
	n, _ := errorsNode(t)
	for _, tt := range []struct{ at, want string }{
		{"tahoe:f", "error: 'tahoe:f' is a file; no directory was made\n"},
		{"tahoe:f/", "error: 'tahoe:f' is a file; no directory was made\n"},
		{"tahoe:d/g", "error: 'tahoe:d/g' is a file; no directory was made\n"},
		{"tahoe:f/x/y", "error: 'tahoe:f' is a file, so 'tahoe:f/x/y' cannot be made; no directory was made\n"},
	} {
		stdout, errOut, code := n.run(nil, "mkdir", tt.at)
		if code != 1 || stdout != "" || errOut != tt.want {
			t.Errorf("mkdir %s: %d %q %q, want %q", tt.at, code, stdout, errOut, tt.want)
		}
	}
	// An existing directory is no error (Tahoe returns its cap).
	if out, errOut, code := n.run(nil, "mkdir", "tahoe:d"); code != 0 || !strings.HasPrefix(out, "URI:DIR2:") {
		t.Errorf("mkdir of an existing directory: %d %q %q", code, out, errOut)
	}
}
