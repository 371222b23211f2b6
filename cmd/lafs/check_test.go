package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/backend"
	"github.com/lafs/lafs/cap"
)

// walkRecordedNode answers the web API calls of the recorded check,
// deep-check, manifest and stats runs with what Tahoe answered them: the
// --raw runs printed the answers (plus a newline). A check-and-repair
// stream, which no run printed, is made from the deep check's as Tahoe's
// web API makes it (json_check_and_repair_results, nothing repaired). It
// keeps the calls made, as "METHOD PATH?QUERY" below the golden
// directory, the operation handle left out.
type walkRecordedNode struct {
	dir string

	mu    sync.Mutex
	calls []string
	polls int
}

func newWalkRecordedNode(t *testing.T, rec *webapiRecording) *walkRecordedNode {
	body := func(run string) string { return strings.TrimSuffix(rec.run(t, run).stdout, "\n") }
	checks := map[string]string{
		"":        body("check_raw_dir"),
		"chk.txt": body("check_raw_file"),
		"lit.txt": body("check_raw_lit"),
		"sdmf":    body("check_raw_sdmf"),
	}
	deepCheck := rec.run(t, "deep_check_raw").stdout
	repairStream := repairStreamOf(t, deepCheck)
	manifest := rec.run(t, "manifest_raw").stdout
	stats := body("stats_raw")
	n := &walkRecordedNode{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		q := r.URL.Query()
		path, below := strings.CutPrefix(r.URL.Path, "/uri/"+goldenDir)
		path = strings.TrimPrefix(path, "/")
		n.mu.Lock()
		call := r.Method + " " + path + "?" + r.URL.RawQuery
		if q.Has("ophandle") {
			call = r.Method + " " + path + "?t=" + q.Get("t")
		}
		if strings.HasPrefix(r.URL.Path, "/operations/") {
			call = r.Method + " operations?" + r.URL.RawQuery
		}
		n.calls = append(n.calls, call)
		n.mu.Unlock()
		switch {
		case strings.HasPrefix(r.URL.Path, "/operations/") && r.Method == http.MethodGet:
			n.mu.Lock()
			n.polls++
			first := n.polls == 1
			n.mu.Unlock()
			if first {
				fmt.Fprint(w, `{"count-files": 3, "count-directories": 1, "finished": false}`)
				return
			}
			fmt.Fprint(w, stats)
		case !below || r.Method != http.MethodPost:
			http.Error(w, "not recorded", http.StatusInternalServerError)
		case q.Get("t") == "check" && checks[path] != "":
			if q.Get("repair") == "true" {
				if path != "chk.txt" {
					http.Error(w, "not recorded", http.StatusInternalServerError)
					return
				}
				fmt.Fprint(w, body("check_raw_repair_file"))
				return
			}
			fmt.Fprint(w, checks[path])
		case q.Get("t") == "stream-deep-check" && path == "":
			if q.Get("repair") == "true" {
				fmt.Fprint(w, repairStream)
				return
			}
			fmt.Fprint(w, deepCheck)
		case q.Get("t") == "stream-manifest" && path == "":
			fmt.Fprint(w, manifest)
		case q.Get("t") == "start-deep-stats" && path == "" && q.Get("ophandle") != "":
			w.Header().Set("Location", "/operations/"+q.Get("ophandle")+"?output=JSON")
			w.WriteHeader(http.StatusFound)
		default:
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, "<html>\n  <head><title>404 - Error</title></head>\n  <body>\n    <h1>Error</h1>\n    <p>No such child: %s</p>\n  </body>\n</html>\n", path)
		}
	}))
	t.Cleanup(srv.Close)
	n.dir = newNodeDir(t, srv.URL+"/", map[string]string{"golden": goldenDir})
	return n
}

// takeCalls returns the calls made since the last time, and forgets them.
func (n *walkRecordedNode) takeCalls() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := n.calls
	n.calls, n.polls = nil, 0
	return c
}

// repairStreamOf turns a stream-deep-check answer into the one the same
// walk with repair=true gives when nothing needs repair: each unit's
// check-results become check-and-repair-results, with the same results
// before and after (a LIT file's only "storage-index" and
// "repair-attempted").
func repairStreamOf(t *testing.T, stream string) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(stream, "\n") {
		if line == "" {
			continue
		}
		var u map[string]json.RawMessage
		if err := json.Unmarshal([]byte(line), &u); err != nil {
			t.Fatal(err)
		}
		if cr, ok := u["check-results"]; ok {
			delete(u, "check-results")
			var si string
			json.Unmarshal(u["storage-index"], &si)
			crr := map[string]any{"storage-index": si, "repair-attempted": false}
			if si != "" {
				crr["repair-successful"] = false
				crr["pre-repair-results"] = cr
				crr["post-repair-results"] = cr
			}
			u["check-and-repair-results"], _ = json.Marshal(crr)
		}
		out, _ := json.Marshal(u)
		b.Write(out)
		b.WriteByte('\n')
	}
	return b.String()
}

// TestWalkVerbsRecorded runs every recorded "tahoe check", "deep-check",
// "manifest" and "stats" against a node answering as Tahoe's did, and
// compares stdout, stderr and the exit code with Tahoe's, and the calls
// made with those Tahoe's CLI makes.
func TestWalkVerbsRecorded(t *testing.T) {
	defer setStatsPolls(time.Millisecond)()
	rec := loadWebapiRecording(t)
	n := newWalkRecordedNode(t, rec)
	var runs []cliRun
	for _, verb := range []string{"check", "deep-check", "manifest", "stats"} {
		runs = append(runs, rec.runs(t, verb)...)
	}
	if len(runs) != 26 {
		t.Fatalf("%d recorded runs, want 26", len(runs))
	}
	for _, r := range runs {
		out, errOut, code := runCmd(t, nil, append([]string{"-d", n.dir}, r.args...)...)
		wantErr := r.stderr
		if r.name == "check_missing" {
			// Tahoe prints the Python repr of the error page; lafs its text.
			wantErr = "ERROR: 404 Not Found\nError\nNo such child: no-such\n"
		}
		if code != r.exitCode || out != r.stdout || errOut != wantErr {
			t.Errorf("%s (%s):\n got exit %d\n%s\nstderr %q\nwant exit %d\n%s\nstderr %q",
				r.name, strings.Join(r.args, " "), code, out, errOut, r.exitCode, r.stdout, wantErr)
		}
		if got, want := n.takeCalls(), tahoeCalls(r.args); !slices.Equal(got, want) {
			t.Errorf("%s: calls\n%q\nwant\n%q", r.name, got, want)
		}
	}
}

// tahoeCalls are the web API calls Tahoe's CLI makes for a recorded run
// (all of them about golden:), as walkRecordedNode logs them.
func tahoeCalls(args []string) []string {
	verb, where := args[0], args[len(args)-1]
	path := strings.TrimPrefix(where, "golden:")
	flags := ""
	for _, f := range []string{"verify", "repair", "add-lease"} {
		if slices.Contains(args, "--"+f) {
			flags += "&" + f + "=true"
		}
	}
	switch verb {
	case "check":
		return []string{"POST " + path + "?t=check&output=JSON" + flags}
	case "deep-check":
		return []string{"POST ?t=stream-deep-check" + flags}
	case "manifest":
		return []string{"POST ?t=stream-manifest"}
	}
	poll := "GET operations?t=status&output=JSON&release-after-complete=true"
	return []string{"POST ?t=start-deep-stats", poll, poll}
}

// setStatsPolls makes stats poll every d, until the returned func is
// called.
func setStatsPolls(d time.Duration) func() {
	old := statsPolls
	statsPolls = []time.Duration{d}
	return func() { statsPolls = old }
}

// TestFormatCheckTahoe renders check results with corrupt shares, failed
// and successful repairs, and summaries that need quoting, as Tahoe 1.20's
// tahoe_check renders them (its output computed by running its code).
func TestFormatCheckTahoe(t *testing.T) {
	s1, s2 := "v0-"+strings.Repeat("a", 52), "v0-"+strings.Repeat("b", 52)
	for i, tt := range []struct {
		repair bool
		body   string
		want   string
	}{
		{false, checkJSON("badsi", false, 7, "", [3]any{s1, "badsi", 3}, [3]any{s2, "badsi", 8}),
			"Summary: Not Healthy: 7 shares (enc 3-of-10)\n storage index: badsi\n good-shares: 7 (encoding is 3-of-10)\n wrong-shares: 0\n corrupt shares:\n" +
				"  server v0-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa, SI badsi, shnum 3\n  server v0-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb, SI badsi, shnum 8\n"},
		{true, repairJSON("fsi", checkJSON("fsi", false, 7, "", [3]any{s1, "fsi", 3}), checkJSON("fsi", true, 10, ""), true, true),
			"Summary: not healthy\n storage index: fsi\n good-shares: 7 (encoding is 3-of-10)\n wrong-shares: 0\n corrupt shares:\n  server v0-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa, SI fsi, shnum 3\n repair successful\n"},
		{true, repairJSON("bsi", checkJSON("bsi", false, 2, ""), checkJSON("bsi", false, 2, ""), true, false),
			"Summary: not healthy\n storage index: bsi\n good-shares: 2 (encoding is 3-of-10)\n wrong-shares: 0\n repair failed\n"},
		{true, repairJSON("hsi", checkJSON("hsi", true, 10, ""), checkJSON("hsi", true, 10, ""), false, false),
			"Summary: healthy\n storage index: hsi\n good-shares: 10 (encoding is 3-of-10)\n wrong-shares: 0\n"},
		{false, checkJSON("nlsi", false, 0, "Not Healthy: tab\there"),
			"Summary: \"Not Healthy: tab\\x09here\"\n storage index: nlsi\n good-shares: 0 (encoding is 3-of-10)\n wrong-shares: 0\n"},
		// Tahoe's CLI fails on a LIT file's check-and-repair; lafs calls it
		// healthy.
		{true, `{"storage-index": "", "repair-attempted": false}`, "Summary: healthy\n storage index: \n"},
	} {
		var b bytes.Buffer
		if err := formatCheck(&b, []byte(tt.body), tt.repair); err != nil || b.String() != tt.want {
			t.Errorf("%d: %v\n%s\nwant\n%s", i, err, b.String(), tt.want)
		}
	}
	if err := formatCheck(&bytes.Buffer{}, []byte(`{"results": [1]}`), false); err == nil {
		t.Error("results that are not an object were shown")
	}
}

// TestCheckUnhealthyRecorded renders the checks of files with no shares
// left that Tahoe answered in the recording.
func TestCheckUnhealthyRecorded(t *testing.T) {
	rec := loadWebapiRecording(t)
	for name, want := range map[string]string{
		"check_missing_chk": "Summary: Not Healthy: 0 shares (enc 3-of-10)\n storage index: ul2tdlixy3q342rpoix2g6qb7u\n good-shares: 0 (encoding is 3-of-10)\n wrong-shares: 0\n",
		"check_missing_ssk": "Summary: Unhealthy: no versions are recoverable\n storage index: 7yq7jroibw5enpmax2sshul74i\n good-shares: 0 (encoding is 3-of-10)\n wrong-shares: 0\n",
	} {
		var b bytes.Buffer
		if err := formatCheck(&b, rec.exchangeJSON(t, name), false); err != nil || b.String() != want {
			t.Errorf("%s: %v\n%s\nwant\n%s", name, err, b.String(), want)
		}
	}
}

// checkJSON is Tahoe's JSON of a check of a 3-of-10 file that found good
// shares (summary: Tahoe's for it if "").
func checkJSON(si string, healthy bool, good int, summary string, corrupt ...[3]any) string {
	if summary == "" {
		summary = "Healthy"
		if !healthy {
			summary = fmt.Sprintf("Not Healthy: %d shares (enc 3-of-10)", good)
		}
	}
	if corrupt == nil {
		corrupt = [][3]any{}
	}
	b, _ := json.Marshal(map[string]any{"storage-index": si, "summary": summary, "results": map[string]any{
		"count-happiness": good, "count-shares-good": good, "count-shares-needed": 3, "count-shares-expected": 10,
		"count-good-share-hosts": good, "count-corrupt-shares": len(corrupt), "list-corrupt-shares": corrupt,
		"servers-responding": []string{}, "sharemap": map[string]any{}, "count-wrong-shares": 0,
		"count-recoverable-versions": 1, "count-unrecoverable-versions": 0, "healthy": healthy, "recoverable": good >= 3,
	}})
	return string(b)
}

// repairJSON is Tahoe's JSON of a check-and-repair.
func repairJSON(si, pre, post string, attempted, successful bool) string {
	b, _ := json.Marshal(map[string]any{"storage-index": si, "repair-attempted": attempted, "repair-successful": successful,
		"pre-repair-results": json.RawMessage(pre), "post-repair-results": json.RawMessage(post)})
	return string(b)
}

// TestCheckErrors: a path that fails stops the check there, with Tahoe's
// exit code and the answer named by the path as given, never by a cap.
func TestCheckErrors(t *testing.T) {
	rec := loadWebapiRecording(t)
	n := newWalkRecordedNode(t, rec)
	out, errOut, code := runCmd(t, nil, "-d", n.dir, "check", "golden:lit.txt", "golden:gone", "golden:sdmf")
	if code != 1 || out != rec.run(t, "check_lit").stdout || !strings.HasPrefix(errOut, "ERROR: 404 Not Found\n") ||
		strings.Contains(errOut, "URI:") {
		t.Errorf("exit %d\n%s\nstderr %s", code, out, errOut)
	}
	if calls := n.takeCalls(); len(calls) != 2 {
		t.Errorf("went on after the failure: %q", calls)
	}
	_, errOut, code = runCmd(t, nil, "-d", n.dir, "check", "nosuch:x")
	if code != 1 || !strings.Contains(errOut, "Unknown alias 'nosuch'") {
		t.Errorf("unknown alias: exit %d %s", code, errOut)
	}
	// A path of "/" is the alias's directory itself; --raw prints the
	// answer as it came.
	out, _, code = runCmd(t, nil, "-d", n.dir, "check", "--raw", "golden:/")
	if code != 0 || out != rec.run(t, "check_raw_dir").stdout {
		t.Errorf("golden:/: exit %d\n%s", code, out)
	}
}

// TestBackupCheck: backup's check reads the same answers: healthy or not,
// and any error answer or unparsable one as unhealthy, as in Tahoe.
func TestBackupCheck(t *testing.T) {
	rec := loadWebapiRecording(t)
	answers := map[string]struct {
		code int
		body string
	}{
		"/uri/URI:LIT:healthy":   {200, string(rec.exchangeJSON(t, "check_chk"))},
		"/uri/URI:LIT:unhealthy": {200, string(rec.exchangeJSON(t, "check_missing_chk"))},
		"/uri/URI:LIT:lit":       {200, `{"storage-index": "", "results": {"healthy": true}}`},
		"/uri/URI:LIT:failing":   {500, "no checker"},
		"/uri/URI:LIT:garbled":   {200, "<html>"},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.RawQuery != "t=check&output=JSON" {
			http.Error(w, "unexpected", http.StatusBadRequest)
			return
		}
		a := answers[r.URL.Path]
		w.WriteHeader(a.code)
		fmt.Fprint(w, a.body)
	}))
	defer srv.Close()
	wc := newWebClient(srv.URL + "/")
	for c, want := range map[string]bool{"URI:LIT:healthy": true, "URI:LIT:unhealthy": false, "URI:LIT:lit": true, "URI:LIT:failing": false, "URI:LIT:garbled": false} {
		if got, err := wc.check(context.Background(), capPath(c, "local/file")); err != nil || got != want {
			t.Errorf("%s: %v %v, want %v", c, got, err, want)
		}
	}
	srv.Close()
	if _, err := wc.check(context.Background(), capPath("URI:LIT:healthy", "local/file")); err == nil || strings.Contains(err.Error(), "URI:") {
		t.Errorf("node gone: %v", err)
	}
}

// TestWalkVerbsOnNode runs check, deep-check, manifest and stats against
// the real web API and client over an in-process grid: a tree of a CHK
// file, a LIT file, an SDMF file and a directory holding a CHK file; then
// repairs a file that lost a share, and finds a corrupt share with
// --verify.
func TestWalkVerbsOnNode(t *testing.T) {
	defer setStatsPolls(10 * time.Millisecond)()
	n := newTestNode(t)
	root := n.mkdir()
	n.alias("t", root)
	must := func(stdin []byte, args ...string) string {
		t.Helper()
		out, errOut, code := n.run(stdin, args...)
		if code != 0 {
			t.Fatalf("lafs %s: exit %d\n%s", strings.Join(args, " "), code, errOut)
		}
		return out
	}
	must(bytes.Repeat([]byte("lafs check "), 100), "put", "-", "t:big.txt")
	must([]byte("tiny"), "put", "-", "t:lit.txt")
	must([]byte("mutable contents"), "put", "--mutable", "-", "t:sdmf")
	must(nil, "mkdir", "t:sub")
	must(bytes.Repeat([]byte("x"), 500), "put", "-", "t:sub/f.txt")

	children := n.list(root)
	sub := children["sub"].Info
	subChildren := n.list(sub.RW)
	objects := map[string]nodeInfo{"": n.info(root).Info, "big.txt": children["big.txt"].Info, "lit.txt": children["lit.txt"].Info,
		"sdmf": children["sdmf"].Info, "sub": sub, "sub/f.txt": subChildren["f.txt"].Info}
	si := func(path string) string {
		c, err := cap.Parse(objects[path].readCap())
		if err != nil {
			t.Fatal(err)
		}
		s, ok := cap.StorageIndex(c)
		if !ok {
			return ""
		}
		return lafs.Base32(s[:])
	}
	healthy := func(path string) string {
		return "Summary: Healthy\n storage index: " + si(path) + "\n good-shares: 10 (encoding is 3-of-10)\n wrong-shares: 0\n"
	}

	// check, of each kind of object, with each option.
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"t:big.txt"}, healthy("big.txt")},
		{[]string{"--verify", "t:big.txt"}, healthy("big.txt")},
		{[]string{"--add-lease", "t:big.txt"}, healthy("big.txt")},
		{[]string{"--repair", "t:big.txt"}, strings.Replace(healthy("big.txt"), "Healthy", "healthy", 1)},
		{[]string{"t:lit.txt"}, "Summary: Healthy (LIT)\n storage index: \n"},
		{[]string{"t:sdmf"}, healthy("sdmf")},
		{[]string{"--verify", "t:sdmf"}, healthy("sdmf")},
		{[]string{"t:"}, healthy("")},
		{[]string{"t:sub", "t:sub/f.txt"}, healthy("sub") + healthy("sub/f.txt")},
		{[]string{"t:sub/", "t:/"}, healthy("sub") + healthy("")},
	} {
		if out := must(nil, append([]string{"check"}, tt.args...)...); out != tt.want {
			t.Errorf("check %s:\n%s\nwant\n%s", strings.Join(tt.args, " "), out, tt.want)
		}
	}
	raw := must(nil, "check", "--raw", "t:big.txt")
	if r, err := parseCheckResults([]byte(raw)); err != nil || r.StorageIndex != si("big.txt") || !r.Results.Healthy || !strings.HasSuffix(raw, "\n") {
		t.Errorf("check --raw: %v\n%s", err, raw)
	}
	if _, errOut, code := n.run(nil, "check", "t:nothing"); code != 1 || !strings.HasPrefix(errOut, "ERROR: 404 Not Found\n") || strings.Contains(errOut, "URI:") {
		t.Errorf("check of nothing: exit %d\n%s", code, errOut)
	}

	// deep-check: an object a line with -v, the root first; the counts.
	paths := []string{"", "big.txt", "lit.txt", "sdmf", "sub", "sub/f.txt"}
	verbose := func(out, done string, summary func(path string) string) {
		t.Helper()
		lines := strings.SplitAfter(strings.TrimSuffix(out, done), "\n")
		if len(lines) != len(paths)+1 || lines[0] != "'<root>': "+summary("")+"\n" || !strings.HasSuffix(out, done) {
			t.Errorf("deep-check -v:\n%s", out)
			return
		}
		var want []string
		for _, p := range paths[1:] {
			want = append(want, "'"+p+"': "+summary(p)+"\n")
		}
		got := slices.Clone(lines[1 : len(lines)-1])
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("deep-check -v:\n%s", out)
		}
	}
	checkSummary := func(p string) string {
		if p == "lit.txt" {
			return "Healthy (LIT)"
		}
		return "Healthy"
	}
	done := "done: 6 objects checked, 6 healthy, 0 unhealthy\n"
	if out := must(nil, "deep-check", "t:"); out != done {
		t.Errorf("deep-check:\n%s", out)
	}
	verbose(must(nil, "deep-check", "-v", "t:"), done, checkSummary)
	verbose(must(nil, "deep-check", "--verify", "--add-lease", "-v", "t:"), done, checkSummary)
	repairDone := "done: 6 objects checked\n pre-repair: 6 healthy, 0 unhealthy\n 0 repairs attempted, 0 successful, 0 failed\n post-repair: 6 healthy, 0 unhealthy\n"
	if out := must(nil, "deep-check", "--repair", "t:"); out != repairDone {
		t.Errorf("deep-check --repair:\n%s", out)
	}
	verbose(must(nil, "deep-check", "--repair", "-v", "t:"), repairDone, func(string) string { return "healthy" })
	if out := must(nil, "deep-check", "t:sub"); out != "done: 2 objects checked, 2 healthy, 0 unhealthy\n" {
		t.Errorf("deep-check t:sub:\n%s", out)
	}

	// manifest, with each option.
	manifest := func(args ...string) []string {
		t.Helper()
		lines := strings.Split(strings.TrimSuffix(must(nil, append([]string{"manifest"}, args...)...), "\n"), "\n")
		slices.Sort(lines)
		return lines
	}
	wantManifest := func(line func(path string, i nodeInfo) string) []string {
		var want []string
		for _, p := range paths {
			if l := line(p, objects[p]); l != "" {
				want = append(want, l)
			}
		}
		slices.Sort(want)
		return want
	}
	for _, tt := range []struct {
		flag string
		line func(path string, i nodeInfo) string
	}{
		{"", func(p string, i nodeInfo) string { return i.bestCap() + " " + p }},
		{"--storage-index", func(p string, i nodeInfo) string { return si(p) }},
		{"-s", func(p string, i nodeInfo) string { return si(p) }},
		{"--verify-cap", func(p string, i nodeInfo) string { return i.Verify }},
		{"--repair-cap", func(p string, i nodeInfo) string {
			switch {
			case i.Verify == "":
				return ""
			case i.Mutable:
				return i.RW
			}
			return i.Verify
		}},
	} {
		args := []string{"t:"}
		if tt.flag != "" {
			args = []string{tt.flag, "t:"}
		}
		if got, want := manifest(args...), wantManifest(tt.line); !slices.Equal(got, want) {
			t.Errorf("manifest %s:\n%q\nwant\n%q", tt.flag, got, want)
		}
	}
	rawLines := manifest("--raw", "t:")
	if len(rawLines) != 7 {
		t.Errorf("manifest --raw: %q", rawLines)
	}

	// stats.
	stats := must(nil, "stats", "t:")
	for _, want := range []string{"Counts and Total Sizes:\n", " count-immutable-files: 2\n", "   count-mutable-files: 1\n",
		"   count-literal-files: 1\n", "           count-files: 4\n", "     count-directories: 2\n",
		"  size-immutable-files: 1600    (1.60 kB, 1.56 kiB)\n", "    size-literal-files: 4\n", "Size Histogram:\n"} {
		if !strings.Contains(stats, want) {
			t.Errorf("stats: no %q in\n%s", want, stats)
		}
	}
	if st, err := parseDeepStats([]byte(must(nil, "stats", "--raw", "t:"))); err != nil || !st.Finished || st.Values["count-files"] != "4" {
		t.Errorf("stats --raw: %v %+v", err, st)
	}

	// A lost share: check sees it, check --repair puts it back.
	bigSI, _ := cap.StorageIndex(mustParse(t, objects["big.txt"].readCap()))
	if lost := n.deleteShare(bigSI, 0); lost != 1 {
		t.Fatalf("deleted %d copies of share 0", lost)
	}
	notHealthy := "Summary: Not Healthy: 9 shares (enc 3-of-10)\n storage index: " + si("big.txt") + "\n good-shares: 9 (encoding is 3-of-10)\n wrong-shares: 0\n"
	if out := must(nil, "check", "t:big.txt"); out != notHealthy {
		t.Errorf("check after a share was lost:\n%s\nwant\n%s", out, notHealthy)
	}
	if out := must(nil, "deep-check", "t:"); out != "done: 6 objects checked, 5 healthy, 1 unhealthy\n" {
		t.Errorf("deep-check after a share was lost:\n%s", out)
	}
	want := "Summary: not healthy\n storage index: " + si("big.txt") + "\n good-shares: 9 (encoding is 3-of-10)\n wrong-shares: 0\n repair successful\n"
	if out := must(nil, "check", "--repair", "t:big.txt"); out != want {
		t.Errorf("check --repair:\n%s\nwant\n%s", out, want)
	}
	if out := must(nil, "check", "t:big.txt"); out != healthy("big.txt") {
		t.Errorf("check after the repair:\n%s", out)
	}
	// And deep-check --repair likewise, for the file in sub.
	fSI, _ := cap.StorageIndex(mustParse(t, objects["sub/f.txt"].readCap()))
	n.deleteShare(fSI, 4)
	out := must(nil, "deep-check", "--repair", "-v", "t:sub")
	want = "'<root>': healthy\n'f.txt': not healthy\n repair successful\ndone: 2 objects checked\n pre-repair: 1 healthy, 1 unhealthy\n" +
		" 1 repairs attempted, 1 successful, 0 failed\n post-repair: 2 healthy, 0 unhealthy\n"
	if out != want {
		t.Errorf("deep-check --repair:\n%s\nwant\n%s", out, want)
	}

	// A corrupt share: only --verify finds it, and names it.
	if n.grid.FlipShare(t, fSI, 1, false, 0x40) != 1 {
		t.Fatal("no share 1 to damage")
	}
	if out := must(nil, "deep-check", "t:sub"); out != "done: 2 objects checked, 2 healthy, 0 unhealthy\n" {
		t.Errorf("deep-check without --verify:\n%s", out)
	}
	out = must(nil, "deep-check", "--verify", "t:sub")
	if !regexp.MustCompile(`^ corrupt: server v0-test-server-\d\d, SI ` + si("sub/f.txt") + `, shnum 1\ndone: 2 objects checked, 1 healthy, 1 unhealthy\n$`).MatchString(out) {
		t.Errorf("deep-check --verify of a corrupt share:\n%s", out)
	}
}

func mustParse(t *testing.T, s string) cap.Cap {
	t.Helper()
	c, err := cap.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// deleteShare deletes share sh of si from every server holding it, and
// returns how many copies it deleted.
func (n *testNode) deleteShare(si lafs.StorageIndex, sh lafs.ShareNum) int {
	deleted := 0
	for _, b := range n.grid.Backends {
		if err := b.Delete(context.Background(), backend.Key{SI: si, Share: sh}); err == nil {
			deleted++
		}
	}
	return deleted
}
