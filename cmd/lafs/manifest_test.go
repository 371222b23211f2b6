package main

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestManifestOutputTahoe lists a walk with LIT files, unknown objects
// and names that need quoting with each of manifest's options, as Tahoe
// 1.20's ManifestStreamer does (its output computed by running its code on
// the same units); a line that is not JSON is reported and skipped.
func TestManifestOutputTahoe(t *testing.T) {
	stream := walkUnit(nil, "directory", "rootsi", nil) +
		walkUnit([]string{"lit"}, "file", "", nil) +
		walkUnit([]string{"future"}, "unknown", "", nil) +
		walkUnit([]string{"sub", "it's ünï"}, "file", "unisi", nil) +
		walkUnit([]string{"sub", "new\nline"}, "file", "nlsi", nil) +
		walkUnit([]string{"sp ace", `"q"`}, "directory", "qsi", nil) +
		"not json\n" + statsUnit
	for _, tt := range []struct {
		o    manifestOptions
		want string
	}{
		{manifestOptions{}, "URI:X: \nURI:X:lit lit\n\"URI:X:sub/it's ünï\" \"sub/it's ünï\"\nURI:X:sub/new\nline \"sub/new\\x0aline\"\nURI:X:sp ace/\"q\" sp ace/\"q\"\n"},
		{manifestOptions{storageIndex: true}, "rootsi\nunisi\nnlsi\nqsi\n"},
		{manifestOptions{verifyCap: true}, "URI:V:rootsi\nURI:V:unisi\nURI:V:nlsi\nURI:V:qsi\n"},
		{manifestOptions{repairCap: true}, "URI:R:rootsi\nURI:R:unisi\nURI:R:nlsi\nURI:R:qsi\n"},
		{manifestOptions{storageIndex: true, verifyCap: true, repairCap: true}, "rootsi\nunisi\nnlsi\nqsi\n"},
		{manifestOptions{verifyCap: true, repairCap: true}, "URI:V:rootsi\nURI:V:unisi\nURI:V:nlsi\nURI:V:qsi\n"},
	} {
		var out, errOut bytes.Buffer
		n := 0
		m := &manifestOutput{w: &out, o: tt.o, counted: func() { n++ }}
		end, err := readWalk(testStream(stream), &errOut, m.unit)
		if err != nil || end != (walkEnd{bad: 1}) || out.String() != tt.want || n != 5 ||
			!strings.HasPrefix(errOut.String(), "ERROR could not decode/parse 'not json'\nERROR  ") {
			t.Errorf("%+v: %v %+v, %d counted\n%s\nwant\n%s\nstderr %s", tt.o, err, end, n, out.String(), tt.want, errOut.String())
		}
	}
}

// TestManifestErrors: an ERROR line fails the verb (a line that is not
// JSON does not, as in Tahoe); so does a walk that ends before its stats;
// one path at most.
func TestManifestErrors(t *testing.T) {
	root := goldenDir
	answers := map[string]string{
		"/uri/" + root + "/err":     walkUnit(nil, "directory", "rootsi", nil) + "ERROR: Boom(x)\nmore\n",
		"/uri/" + root + "/garbled": walkUnit(nil, "directory", "rootsi", nil) + "{\n" + statsUnit,
		"/uri/" + root + "/short":   walkUnit(nil, "directory", "rootsi", nil),
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := answers[r.URL.Path]
		if !ok || r.Method != http.MethodPost || r.URL.RawQuery != "t=stream-manifest" {
			http.Error(w, "not here", http.StatusBadRequest)
			return
		}
		fmt.Fprint(w, a)
	}))
	defer srv.Close()
	dir := newNodeDir(t, srv.URL+"/", map[string]string{"t": root})
	for _, tt := range []struct {
		args           []string
		code           int
		stdout, stderr string
	}{
		{[]string{"t:err"}, 1, "URI:X: \n", "ERROR: Boom(x)\nmore\n"},
		{[]string{"-s", "t:garbled"}, 0, "rootsi\n", "ERROR could not decode/parse '{'\n"},
		{[]string{"t:short"}, 1, "URI:X: \n", "'t:short'"},
		{[]string{"t:nothere"}, 1, "", "ERROR: 400 Bad Request\nnot here\n"},
		{[]string{"t:a", "t:b"}, 2, "", "usage:"},
	} {
		out, errOut, code := runCmd(t, nil, append([]string{"-d", dir, "manifest"}, tt.args...)...)
		if code != tt.code || out != tt.stdout || !strings.Contains(errOut, tt.stderr) || strings.Contains(errOut, "URI:") {
			t.Errorf("%q: exit %d\n%s\nstderr %q", tt.args, code, out, errOut)
		}
	}
}
