package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
)

// capCommands are command lines that make web API calls about the alias
// "tahoe", whose cap the user never types.
func capCommands(t *testing.T) [][]string {
	local := filepath.Join(t.TempDir(), "local")
	writeTree(t, local, map[string]string{"f.txt": "a file"})
	return [][]string{
		{"ls", "tahoe:sub"},
		{"ls", "--json"},
		{"get", "tahoe:sub/f.txt", filepath.Join(t.TempDir(), "out")},
		{"put", filepath.Join(local, "f.txt"), "tahoe:sub/f.txt"},
		{"mkdir", "tahoe:sub/new"},
		{"ln", "tahoe:a", "tahoe:b"},
		{"mv", "tahoe:a", "tahoe:b"},
		{"unlink", "tahoe:a"},
		{"cp", filepath.Join(local, "f.txt"), "tahoe:sub/"},
		{"cp", "-r", "tahoe:sub", t.TempDir()},
		{"backup", local, "tahoe:backups"},
	}
}

// noCaps fails the test if s shows the alias's caps, in any form.
func noCaps(t *testing.T, what, s string) {
	t.Helper()
	for _, c := range []string{goldenDir, goldenRO, pyQuote(goldenDir), pyQuote(goldenRO), "URI%3A", "URI:"} {
		if strings.Contains(s, c) {
			t.Errorf("%s shows a cap (%s):\n%s", what, c, s)
			return
		}
	}
}

// A node that cannot be reached: the errors name the method and the path
// as the user gave it, not the URL, which holds the alias's cap.
func TestErrorsNameNoCapsNoNode(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + l.Addr().String() + "/"
	l.Close()
	dir := newNodeDir(t, base, map[string]string{"tahoe": goldenDir})
	for _, args := range capCommands(t) {
		_, errOut, code := runCmd(t, nil, append([]string{"-d", dir}, args...)...)
		if code == 0 || !strings.Contains(errOut, "talking to the node's web API: ") {
			t.Errorf("lafs %s: %d %q", strings.Join(args, " "), code, errOut)
		}
		noCaps(t, "lafs "+strings.Join(args, " "), errOut)
	}
	_, errOut, _ := runCmd(t, nil, "-d", dir, "ls", "tahoe:sub")
	if want := "lafs: talking to the node's web API: GET 'tahoe:sub': dial tcp "; !strings.HasPrefix(errOut, want) {
		t.Errorf("ls: %q, want it to start with %q", errOut, want)
	}
	_, errOut, _ = runCmd(t, nil, "-d", dir, "ls")
	if want := "lafs: talking to the node's web API: GET 'tahoe:': dial tcp "; !strings.HasPrefix(errOut, want) {
		t.Errorf("ls: %q, want it to start with %q", errOut, want)
	}
}

// A node whose error pages quote the URL asked for (as Twisted's 405 page
// does): the CLI shows the path as the user gave it instead.
func TestErrorsNameNoCapsInAnswers(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		root := "none"
		if strings.Contains(r.URL.Path, goldenDir) {
			root = goldenDir
		}
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusMethodNotAllowed)
		fmt.Fprintf(w, "<html><head><title>405 - Method Not Allowed</title></head><body><h1>Method Not Allowed</h1>"+
			"<p>Your browser approached me (at %s) with the method %q. The cap: %s; the path: %s.</p></body></html>",
			r.RequestURI, r.Method, root, r.URL.Path)
	}))
	t.Cleanup(srv.Close)
	dir := newNodeDir(t, srv.URL+"/", map[string]string{"tahoe": goldenDir})
	for _, args := range capCommands(t) {
		_, errOut, code := runCmd(t, nil, append([]string{"-d", dir}, args...)...)
		if code == 0 || !strings.Contains(errOut, "405 Method Not Allowed") {
			t.Errorf("lafs %s: %d %q", strings.Join(args, " "), code, errOut)
		}
		noCaps(t, "lafs "+strings.Join(args, " "), errOut)
	}
	_, errOut, _ := runCmd(t, nil, "-d", dir, "ls", "tahoe:sub")
	want := "Error during GET: 405 Method Not Allowed\nMethod Not Allowed\nYour browser approached me (at 'tahoe:sub') with the method \"GET\". " +
		"The cap: 'tahoe:sub'; the path: 'tahoe:sub'.\n"
	if errOut != want {
		t.Errorf("ls: %q, want %q", errOut, want)
	}
	// A cap the user typed may be shown.
	_, errOut, _ = runCmd(t, nil, "-d", dir, "ls", goldenDir+"/sub")
	if !strings.Contains(errOut, "(at '"+goldenDir+"/sub')") {
		t.Errorf("ls of a cap: %q", errOut)
	}
}

func TestQuery(t *testing.T) {
	if got := query("t", "mkdir", "format", "M D&F"); got != "t=mkdir&format=M+D%26F" {
		t.Errorf("query: %q", got)
	}
	wc := newWebClient("http://n/")
	for _, tt := range []struct {
		p    gridPath
		q    string
		want string
	}{
		{unlinked("x"), "", "http://n/uri"},
		{unlinked(""), "t=mkdir", "http://n/uri?t=mkdir"},
		{capPath("URI:DIR2:a:b", "tahoe:"), "t=json", "http://n/uri/URI%3ADIR2%3Aa%3Ab?t=json"},
		{gridPath{root: "URI:DIR2:a:b", path: "s/ü b"}, "", "http://n/uri/URI%3ADIR2%3Aa%3Ab/s/%C3%BC%20b"},
		{gridPath{root: "URI:DIR2:a:b", slash: true}, "", "http://n/uri/URI%3ADIR2%3Aa%3Ab/"},
	} {
		if got := wc.url(tt.p, tt.q); got != tt.want {
			t.Errorf("url(%+v, %q) = %s, want %s", tt.p, tt.q, got, tt.want)
		}
	}
}

func TestParseNode(t *testing.T) {
	n, err := parseNode([]byte(`["filenode", {"mutable": false, "size": 920, "ro_uri": "URI:CHK:x",
		"metadata": {"tahoe": {"linkcrtime": 1795732748.0354736}}}] trailing`))
	if err != nil {
		t.Fatal(err)
	}
	if size, ok := n.Info.size(); !n.isFile() || !ok || size != 920 || n.Info.linkTime() != 1795732748.0354736 || n.Info.bestCap() != "URI:CHK:x" {
		t.Errorf("parsed %+v", n)
	}
	for raw, want := range map[string]string{`null`: "None", `920`: "920", `"7"`: "7", `true`: "True", `1.5e3`: "1.5e3"} {
		n, err := parseNode([]byte(`["filenode", {"size": ` + raw + `}]`))
		if s, ok := n.Info.sizeText(); err != nil || !ok || s != want {
			t.Errorf("size %s: %q %v %v, want %q", raw, s, ok, err, want)
		}
	}
	if n, _ := parseNode([]byte(`["dirnode", {"metadata": {"ctime": 12.5}}]`)); n.Info.linkTime() != 12.5 {
		t.Errorf("ctime: %v", n.Info.linkTime())
	}
	if _, err := parseNode([]byte(`["filenode"]`)); err == nil {
		t.Error("a node of one element parsed")
	}
}
