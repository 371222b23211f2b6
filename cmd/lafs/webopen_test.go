package main

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// fakeBrowser replaces openBrowser for a test: it records the URLs it is
// asked to open and answers fail.
func fakeBrowser(t *testing.T, fail error) *[]string {
	t.Helper()
	var opened []string
	old := openBrowser
	openBrowser = func(e *env, url string) error {
		opened = append(opened, url)
		return fail
	}
	t.Cleanup(func() { openBrowser = old })
	return &opened
}

const webopenDircap = "URI:DIR2:x4obquttz6r5kuyhqpxg3eg2xe:tvebaaiyf4wzvxoqqc4eu3hkihebiseqfvhsoa3ythzcdlyozwtq"

func TestWebopen(t *testing.T) {
	base := "http://127.0.0.1:3456/"
	dir := newNodeDir(t, base, map[string]string{"tahoe": webopenDircap, "work": webopenDircap})
	quoted := "URI%3ADIR2%3Ax4obquttz6r5kuyhqpxg3eg2xe%3Atvebaaiyf4wzvxoqqc4eu3hkihebiseqfvhsoa3ythzcdlyozwtq"
	for _, tc := range []struct {
		args     []string
		url      string
		printed  string // stdout
		hidesCap bool
	}{
		{nil, base, base + "\n", false},
		{[]string{"-i"}, base + "?t=info", base + "?t=info\n", false},
		{[]string{"work:"}, base + "uri/" + quoted, "", true},
		{[]string{"work:docs/a b.txt"}, base + "uri/" + quoted + "/docs/a%20b.txt", "", true},
		{[]string{"docs"}, base + "uri/" + quoted + "/docs", "", true},
		{[]string{"--info", "work:f"}, base + "uri/" + quoted + "/f?t=info", "", true},
		{[]string{"work:/"}, base + "uri/" + quoted, "", true},
		// The user typed the cap: the URL may show it.
		{[]string{webopenDircap + "/sub"}, base + "uri/" + quoted + "/sub", base + "uri/" + quoted + "/sub\n", false},
		{[]string{"--show-url", "work:x"}, base + "uri/" + quoted + "/x", base + "uri/" + quoted + "/x\n", false},
	} {
		opened := fakeBrowser(t, nil)
		args := append([]string{"-d", dir, "webopen"}, tc.args...)
		out, errOut, code := runCmd(t, nil, args...)
		if code != 0 || errOut != "" || len(*opened) != 1 || (*opened)[0] != tc.url {
			t.Errorf("webopen %q: %d %q, opened %q, want %q", tc.args, code, errOut, *opened, tc.url)
		}
		if tc.hidesCap {
			if strings.Contains(out, "URI") || strings.Contains(out, "x4obquttz6r5") || !strings.HasPrefix(out, "opening ") {
				t.Errorf("webopen %q printed %q", tc.args, out)
			}
		} else if out != tc.printed {
			t.Errorf("webopen %q printed %q, want %q", tc.args, out, tc.printed)
		}
	}
}

func TestWebopenNoBrowser(t *testing.T) {
	base := "http://127.0.0.1:3456/"
	dir := newNodeDir(t, base, map[string]string{"work": webopenDircap})
	notFound := &exec.Error{Name: "xdg-open", Err: exec.ErrNotFound}
	fakeBrowser(t, notFound)
	// The URL is on the screen: the user can open it.
	out, errOut, code := runCmd(t, nil, "-d", dir, "webopen")
	if code != 0 || out != base+"\n" || !strings.Contains(errOut, "no browser found") {
		t.Errorf("webopen without a browser: %d %q %q", code, out, errOut)
	}
	// It is not, since it holds the alias's cap: a failure, and the way out.
	out, errOut, code = runCmd(t, nil, "-d", dir, "webopen", "work:f")
	if code != 1 || strings.Contains(out+errOut, "URI:") || !strings.Contains(errOut, "lafs webopen --show-url work:f") {
		t.Errorf("webopen work:f without a browser: %d %q %q", code, out, errOut)
	}
	fakeBrowser(t, errors.New("boom"))
	if _, errOut, code := runCmd(t, nil, "-d", dir, "webopen", "nosuch:f"); code != 1 || !strings.Contains(errOut, "Unknown alias") {
		t.Errorf("webopen of an unknown alias: %d %q", code, errOut)
	}
	if _, _, code := runCmd(t, nil, "-d", dir, "webopen", "a:", "b:"); code != 2 {
		t.Errorf("webopen of two paths: exit %d", code)
	}
}
