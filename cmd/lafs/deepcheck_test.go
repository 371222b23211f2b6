package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// walkUnit is a line of a streaming walk's answer, as Tahoe's web API
// writes it, for an object at path with storage index si; extra adds
// check results.
func walkUnit(path []string, kind, si string, extra map[string]any) string {
	u := map[string]any{"path": path, "cap": "URI:X:" + strings.Join(path, "/"), "type": kind, "storage-index": si,
		"verifycap": "", "repaircap": ""}
	if si != "" {
		u["verifycap"], u["repaircap"] = "URI:V:"+si, "URI:R:"+si
	}
	for k, v := range extra {
		u[k] = v
	}
	b, _ := json.Marshal(u)
	return string(b) + "\n"
}

const statsUnit = `{"type": "stats", "stats": {"count-files": 3}}` + "\n"

// checked is a unit's check results.
func checked(cr string) map[string]any {
	return map[string]any{"check-results": json.RawMessage(cr)}
}

// repaired is a unit's check-and-repair results.
func repaired(crr string) map[string]any {
	return map[string]any{"check-and-repair-results": json.RawMessage(crr)}
}

const litCheck = `{"storage-index": "", "results": {"healthy": true}}`
const litRepair = `{"storage-index": "", "repair-attempted": false}`

// TestDeepCheckOutputTahoe shows walks with unhealthy and corrupt
// objects, repairs that worked and failed, LIT files, unknown objects and
// paths that need quoting, as Tahoe 1.20's DeepCheckOutput and
// DeepCheckAndRepairOutput show them (their output computed by running
// their code on the same units).
func TestDeepCheckOutputTahoe(t *testing.T) {
	s1, s2 := "v0-"+strings.Repeat("a", 52), "v0-"+strings.Repeat("b", 52)
	check := walkUnit(nil, "directory", "rootsi", checked(checkJSON("rootsi", true, 10, ""))) +
		walkUnit([]string{"bad.txt"}, "file", "badsi", checked(checkJSON("badsi", false, 7, "", [3]any{s1, "badsi", 3}, [3]any{s2, "badsi", 8}))) +
		walkUnit([]string{"lit"}, "file", "", checked(litCheck)) +
		walkUnit([]string{"future"}, "unknown", "", checked(litCheck)) +
		walkUnit([]string{"sub", "it's ünï"}, "file", "unisi", checked(checkJSON("unisi", true, 10, ""))) +
		walkUnit([]string{"sub", "new\nline"}, "file", "nlsi", checked(checkJSON("nlsi", false, 0, "Not Healthy: tab\there"))) +
		statsUnit
	repair := walkUnit(nil, "directory", "rootsi", repaired(repairJSON("rootsi", checkJSON("rootsi", true, 10, ""), checkJSON("rootsi", true, 10, ""), false, false))) +
		walkUnit([]string{"fixed.txt"}, "file", "fsi", repaired(repairJSON("fsi", checkJSON("fsi", false, 7, "", [3]any{s1, "fsi", 3}), checkJSON("fsi", true, 10, ""), true, true))) +
		walkUnit([]string{"broken.txt"}, "file", "bsi", repaired(repairJSON("bsi", checkJSON("bsi", false, 2, ""), checkJSON("bsi", false, 2, ""), true, false))) +
		walkUnit([]string{"lit"}, "file", "", repaired(litRepair)) +
		walkUnit([]string{"future"}, "unknown", "", repaired(litRepair)) +
		statsUnit
	corrupt := " corrupt: server v0-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa, SI badsi, shnum 3\n" +
		" corrupt: server v0-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb, SI badsi, shnum 8\n"
	repairDone := "done: 4 objects checked\n pre-repair: 2 healthy, 2 unhealthy\n 2 repairs attempted, 1 successful, 1 failed\n post-repair: 3 healthy, 1 unhealthy\n"
	for _, tt := range []struct {
		repair, verbose bool
		stream, want    string
	}{
		{false, false, check, corrupt + "done: 5 objects checked, 3 healthy, 2 unhealthy\n"},
		{false, true, check, "'<root>': Healthy\n'bad.txt': Not Healthy: 7 shares (enc 3-of-10)\n" + corrupt +
			"'lit': Healthy (LIT)\n\"sub/it's ünï\": Healthy\n\"sub/new\\x0aline\": \"Not Healthy: tab\\x09here\"\ndone: 5 objects checked, 3 healthy, 2 unhealthy\n"},
		{true, false, repair, " corrupt: server v0-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa, SI fsi, shnum 3\n repair successful\n repair failed\n" + repairDone},
		{true, true, repair, "'<root>': healthy\n'fixed.txt': not healthy\n corrupt: server v0-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa, SI fsi, shnum 3\n repair successful\n" +
			"'broken.txt': not healthy\n repair failed\n'lit': healthy\n" + repairDone},
	} {
		var out, errOut bytes.Buffer
		d := &deepCheckOutput{w: &out, verbose: tt.verbose, repair: tt.repair}
		end, err := readWalk(testStream(tt.stream), &errOut, d.unit)
		d.done()
		if err != nil || end != (walkEnd{}) || out.String() != tt.want || errOut.Len() > 0 {
			t.Errorf("repair %v, verbose %v: %v %+v\n%s\nwant\n%s\nstderr %s", tt.repair, tt.verbose, err, end, out.String(), tt.want, errOut.String())
		}
	}
}

// testStream is a streaming answer whose body is s.
func testStream(s string) *lineStream {
	body := io.NopCloser(strings.NewReader(s))
	return &lineStream{body: body, r: bufio.NewReader(body), at: "'test:'"}
}

// TestDeepCheckHundreds: every hundredth object, Tahoe's CLI says how
// many it has checked, on stdout (whether or not it is a terminal).
func TestDeepCheckHundreds(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 205; i++ {
		b.WriteString(walkUnit([]string{fmt.Sprint(i)}, "file", "", checked(litCheck)))
	}
	b.WriteString(statsUnit)
	var out bytes.Buffer
	n := 0
	d := &deepCheckOutput{w: &out, counted: func() { n++ }}
	if _, err := readWalk(testStream(b.String()), io.Discard, d.unit); err != nil {
		t.Fatal(err)
	}
	d.done()
	if want := "100 objects checked..\n200 objects checked..\ndone: 205 objects checked, 205 healthy, 0 unhealthy\n"; out.String() != want || n != 205 {
		t.Errorf("%d counted\n%s", n, out.String())
	}
}

// TestDeepCheckFailures: an ERROR line from the node, and every line
// after it, go to stderr, and the verb fails without its counts, after
// the other paths; an answer that breaks off, or ends before the walk's
// stats, is an error.
func TestDeepCheckFailures(t *testing.T) {
	good := walkUnit(nil, "directory", "rootsi", checked(checkJSON("rootsi", true, 10, ""))) + statsUnit
	answers := map[string]string{
		"/uri/" + goldenDir + "": good,
		"/uri/" + goldenDir + "/err": walkUnit(nil, "directory", "rootsi", checked(checkJSON("rootsi", true, 10, ""))) +
			"ERROR: UnrecoverableFileError(no recoverable versions)\n[Failure instance: Traceback: <class 'x'>: no\n\tat line 3\n]",
		"/uri/" + goldenDir + "/cut":     walkUnit(nil, "directory", "rootsi", checked(checkJSON("rootsi", true, 10, "")))[:40],
		"/uri/" + goldenDir + "/short":   walkUnit(nil, "directory", "rootsi", checked(checkJSON("rootsi", true, 10, ""))),
		"/uri/" + goldenDir + "/garbled": "{not json\n" + good,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := answers[r.URL.Path]
		if !ok || r.URL.Query().Get("t") != "stream-deep-check" {
			http.Error(w, "No such child: "+r.URL.Path, http.StatusNotFound)
			return
		}
		fmt.Fprint(w, a)
	}))
	defer srv.Close()
	dir := newNodeDir(t, srv.URL+"/", map[string]string{"t": goldenDir})
	done := "done: 1 objects checked, 1 healthy, 0 unhealthy\n"

	out, errOut, code := runCmd(t, nil, "-d", dir, "deep-check", "t:err", "t:")
	if code != 1 || out != done || errOut != "ERROR: UnrecoverableFileError(no recoverable versions)\n\"[Failure instance: Traceback: <class 'x'>: no\"\n\"\\x09at line 3\"\n]\n" {
		t.Errorf("ERROR line: exit %d\n%s\nstderr %q", code, out, errOut)
	}
	out, errOut, code = runCmd(t, nil, "-d", dir, "deep-check", "t:garbled")
	if code != 1 || out != "" || !strings.HasPrefix(errOut, "ERROR could not decode/parse '{not json'\n") {
		t.Errorf("garbled line: exit %d\n%s\nstderr %q", code, out, errOut)
	}
	for _, where := range []string{"t:cut", "t:short"} {
		out, errOut, code = runCmd(t, nil, "-d", dir, "deep-check", where)
		if code != 1 || out != "" || !strings.Contains(errOut, "'"+where+"'") || strings.Contains(errOut, "URI:") {
			t.Errorf("%s: exit %d\n%s\nstderr %q", where, code, out, errOut)
		}
	}
	out, errOut, code = runCmd(t, nil, "-d", dir, "deep-check", "t:", "t:gone", "t:")
	if code != 1 || out != done || errOut != "ERROR: 404 Not Found\nNo such child: 't:gone'\n" {
		t.Errorf("missing: exit %d\n%s\nstderr %q", code, out, errOut)
	}
	// --raw passes the answer on as it came, whatever it holds.
	out, _, code = runCmd(t, nil, "-d", dir, "deep-check", "--raw", "t:err")
	if code != 0 || out != answers["/uri/"+goldenDir+"/err"] {
		t.Errorf("raw: exit %d\n%s", code, out)
	}
}

// TestWalkProgress: on a terminal, the count of objects shows on stderr,
// cleared for each line of output, and ends with the final count.
func TestWalkProgress(t *testing.T) {
	var term, out bytes.Buffer
	pl := &progressLine{w: &term, on: true, render: walkProgress("deep-check", "checked"), begin: time.Now()}
	d := &deepCheckOutput{w: pastProgress{pl, &out}, verbose: true, counted: pl.itemDone}
	var stream string
	for _, name := range []string{"a", "b", "c"} {
		stream += walkUnit([]string{name}, "file", "", checked(litCheck))
	}
	if _, err := readWalk(testStream(stream+statsUnit), pastProgress{pl, &term}, d.unit); err != nil {
		t.Fatal(err)
	}
	pl.finish()
	d.done()
	first := "\rdeep-check: 1 objects checked "
	if want := "'a': Healthy (LIT)\n'b': Healthy (LIT)\n'c': Healthy (LIT)\ndone: 3 objects checked, 3 healthy, 0 unhealthy\n"; out.String() != want {
		t.Errorf("stdout %q", out.String())
	}
	if s := term.String(); !strings.HasPrefix(s, first+"\r"+strings.Repeat(" ", len(first)-1)+"\r") ||
		!strings.HasSuffix(s, "\rdeep-check: 3 objects checked \n") {
		t.Errorf("terminal %q", s)
	}
}
