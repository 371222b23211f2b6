package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lafs/lafs/internal/testutil"
)

// TestHeavyDirectoryCLI builds, on a grid of real node processes, the
// alias "golden" that the recording made on a real Tahoe 1.20 (the same
// nine children: CHK, LIT and empty files, SDMF and MDMF files, a
// subdirectory, an immutable directory and an unknown cap), runs the same
// commands and compares with what Tahoe printed, caps and link dates aside.
// Then ln, mv, unlink, cp -r local -> grid -> local, get and attenuate, and
// the time of cp -r of 200 files of 1 KiB into a new directory.
func TestHeavyDirectoryCLI(t *testing.T) {
	testutil.Heavy(t)
	rec := loadWebapiRecording(t)
	g := startRealGrid(t, 10)
	var tz *time.Location // that of ls -l's dates; nil: the local one
	lafs := func(stdin []byte, args ...string) (string, string, int) {
		t.Helper()
		return runCmdEnv(t, env{tz: tz}, stdin, append([]string{"-d", g.clientDir}, args...)...)
	}
	must := func(stdin []byte, args ...string) string {
		t.Helper()
		out, errOut, code := lafs(stdin, args...)
		if code != 0 {
			t.Fatalf("lafs %s: exit %d\n%s", strings.Join(args, " "), code, errOut)
		}
		return out
	}
	// recorded runs a recorded command and checks what it printed; fix
	// turns Tahoe's text into what lafs should print here.
	recorded := func(name string, stdin []byte, fix func(string) string) string {
		t.Helper()
		r := rec.run(t, name)
		out, errOut, code := lafs(stdin, r.args...)
		if fix == nil {
			fix = func(s string) string { return s }
		}
		if code != r.exitCode || fix(out) != fix(r.stdout) || fix(errOut) != fix(lafsText(r.stderr)) {
			t.Errorf("%s (lafs %s):\n got exit %d, stdout:\n%s\nstderr:\n%s\nwant exit %d, stdout:\n%s\nstderr:\n%s",
				name, strings.Join(r.args, " "), code, fix(out), fix(errOut), r.exitCode, fix(r.stdout), fix(lafsText(r.stderr)))
		}
		return out
	}

	// Aliases.
	recorded("create_alias_golden", nil, nil)
	recorded("create_alias_golden_again", nil, nil)
	aliases, err := readAliases(g.clientDir)
	if err != nil {
		t.Fatal(err)
	}
	golden := aliases["golden"]
	readCap := strings.TrimSpace(must(nil, "attenuate", golden))
	aliasCaps := strings.NewReplacer(goldenDir, golden, goldenRO, readCap).Replace
	for _, r := range rec.runs(t, "list-aliases") {
		recorded(r.name, nil, aliasCaps)
	}

	// Fill golden: as the recording did.
	chkBody, err := base64.StdEncoding.DecodeString(rec.Inputs["chk_body_b64"])
	if err != nil {
		t.Fatal(err)
	}
	noCaps := func(s string) string { return capPattern.ReplaceAllString(s, "CAP") }
	recorded("put_file", nil, nil) // empty: URI:LIT:
	if out := recorded("mkdir_sub", nil, noCaps); !strings.HasPrefix(out, "URI:DIR2:") {
		t.Errorf("mkdir printed %q", out)
	}
	sdmf := strings.TrimSpace(must([]byte("SDMF contents\n"), "put", "--mutable", "-"))
	mdmf := strings.TrimSpace(must([]byte("MDMF contents\n"), "put", "--format=MDMF", "-"))
	if out := must(nil, "ln", sdmf, "golden:sdmf"); out != rec.run(t, "ln_sdmf").stdout {
		t.Errorf("ln: %q", out)
	}
	must(nil, "ln", mdmf, "golden:mdmf")
	recorded("put_chk_stdin", chkBody, noCaps)
	recorded("put_lit_stdin", []byte("tiny LIT file\n"), nil)
	recorded("put_mutable_stdin", bytes.Repeat([]byte("MDMF put through the CLI.\n"), 40), noCaps)
	chk := strings.TrimSpace(must(nil, "ls", "--uri", "golden:chk.txt"))
	chk = chk[strings.LastIndex(chk, " ")+1:]
	web := g.webURL(t) + "/"
	immdir := webCall(t, "POST", web+"uri?t=mkdir-immutable",
		`{"file.txt": ["filenode", {"ro_uri": "`+chk+`"}], "lit.txt": ["filenode", {"ro_uri": "URI:LIT:oruw46jajreviidgnfwgkcq"}]}`)
	must(nil, "ln", immdir, "golden:immdir")
	webCall(t, "POST", web+"uri/"+pyQuote(golden)+"?t=set_children",
		`{"future": ["unknown", {"rw_uri": "URI:NEWKIND:rwstuff-from-the-future", "ro_uri": "URI:NEWKIND:rostuff-from-the-future"}]}`)

	// ls in every recorded form, with our caps for Tahoe's and the link
	// dates blanked (the layout is compared: all dates are one width).
	tz = time.UTC
	ourJSON := must(nil, "ls", "--json", "golden:")
	capMap := capPairs(t, rec.run(t, "ls_json").stdout, ourJSON)
	ourCaps := func(s string) string {
		return linkTimes.ReplaceAllString(lsDates.ReplaceAllString(capMap.Replace(s), "Mmm DD HH:MM"), "${1}T")
	}
	for _, r := range rec.runs(t, "ls") {
		out, errOut, code := lafs(nil, r.args...)
		if code != r.exitCode || ourCaps(out) != ourCaps(r.stdout) || errOut != lafsText(r.stderr) {
			t.Errorf("%s (lafs %s):\n got exit %d, stdout:\n%s\nstderr:\n%s\nwant exit %d, stdout:\n%s\nstderr:\n%s",
				r.name, strings.Join(r.args, " "), code, ourCaps(out), errOut, r.exitCode, ourCaps(r.stdout), lafsText(r.stderr))
		}
	}

	// get, as recorded.
	recorded("get_file", nil, nil)
	recorded("get_lit_file", nil, nil)

	// ln, mv, unlink.
	if out := must(nil, "ln", "golden:chk.txt", "golden:sub/"); out != "OK\n" {
		t.Errorf("ln into a directory: %q", out)
	}
	must(nil, "mv", "golden:sub/chk.txt", "golden:sub/moved.txt")
	if out := must(nil, "ls", "golden:sub"); out != "moved.txt\n" {
		t.Errorf("after mv: %q", out)
	}
	if _, errOut, code := lafs(nil, "mv", "golden:lit.txt", "golden:sub"); code != 1 || errOut != "Error: You can't overwrite a directory with a file\n" {
		t.Errorf("mv onto a directory: %d %q", code, errOut)
	}
	if out := must(nil, "unlink", "golden:sub/moved.txt"); out != "200 OK\n" {
		t.Errorf("unlink: %q", out)
	}
	if out := must(nil, "ls", "golden:sub"); out != "" {
		t.Errorf("after unlinking the only child, ls golden:sub = %q", out)
	}
	if _, errOut, code := lafs(nil, "rm", "golden:sub/moved.txt"); code != 1 || !strings.HasPrefix(errOut, "ERROR: 404 Not Found\n") {
		t.Errorf("rm of a missing name: %d %q", code, errOut)
	}

	// cp -r: local -> grid -> local.
	work := t.TempDir()
	src := filepath.Join(work, "src")
	writeTree(t, src, smallTree)
	if out := must(nil, "cp", "-r", src, "golden:tree"); out != "Success: files copied\n" {
		t.Errorf("cp -r to the grid: %q", out)
	}
	if out := must(nil, "ls", "-F", "golden:tree/src"); out != "a.txt\nb.txt\nempty/\nsub/\n" {
		t.Errorf("ls of the copy: %q", out)
	}
	back := filepath.Join(work, "back")
	must(nil, "cp", "-r", "golden:tree/src", back)
	if got := prefixed("src/", readTree(t, back)); strings.Join(got, "|") != strings.Join(smallTreeLines, "|") {
		t.Errorf("round trip:\n%s", strings.Join(got, "\n"))
	}
	// grid -> grid links immutable files (the same caps) and makes new
	// directories.
	must(nil, "ln", "golden:chk.txt", "golden:tree/src/sub/")
	must(nil, "cp", "-r", "golden:tree/src", "golden:tree2")
	a := must(nil, "ls", "--uri", "golden:tree/src/sub")
	b := must(nil, "ls", "--uri", "golden:tree2/src/sub")
	files := func(s string) string { return regexp.MustCompile(`(?m)^.*URI:DIR2.*\n`).ReplaceAllString(s, "") }
	if files(a) != files(b) || a == b || !strings.Contains(a, chk) {
		t.Errorf("grid->grid copy:\n%s\n%s", a, b)
	}
	// Single files, and get.
	if out := must(nil, "cp", "golden:lit.txt", filepath.Join(work, "lit.txt")); out != "Success: file copied\n" {
		t.Errorf("cp file: %q", out)
	}
	if data, _ := os.ReadFile(filepath.Join(work, "lit.txt")); string(data) != "tiny LIT file\n" {
		t.Errorf("cp'd lit.txt: %q", data)
	}
	must(nil, "get", "golden:tree/src/sub/c.txt", filepath.Join(work, "c.txt"))
	if data, _ := os.ReadFile(filepath.Join(work, "c.txt")); string(data) != "charlie" {
		t.Errorf("get c.txt: %q", data)
	}

	// attenuate: the read cap list-aliases shows, then the verify cap
	// t=json gives.
	var root []json.RawMessage
	var info struct {
		Verify string `json:"verify_uri"`
	}
	json.Unmarshal([]byte(ourJSON), &root)
	json.Unmarshal(root[1], &info)
	if out := must(nil, "attenuate", readCap); out != info.Verify+"\n" || info.Verify == "" {
		t.Errorf("attenuate %s = %q, t=json says %q", readCap, out, info.Verify)
	}

	// cp -r of 200 files of 1 KiB into a new directory.
	many := filepath.Join(work, "many")
	manyFiles := map[string]string{}
	for i := range 200 {
		manyFiles[fmt.Sprintf("f%03d", i)] = strings.Repeat(fmt.Sprintf("%04d", i), 256)
	}
	writeTree(t, many, manyFiles)
	for i := range 2 {
		start := time.Now()
		must(nil, "cp", "-r", many, fmt.Sprintf("golden:bulk%d", i))
		t.Logf("cp -r of 200 files of 1 KiB into a new directory (run %d): %v", i+1, time.Since(start))
		if n := strings.Count(must(nil, "ls", fmt.Sprintf("golden:bulk%d/many", i)), "\n"); n != 200 {
			t.Errorf("ls shows %d of the 200 files", n)
		}
	}
}

var (
	capPattern = regexp.MustCompile(`URI:[A-Z0-9-]+:[a-z0-9:]+`)
	lsDates    = regexp.MustCompile(`(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d\d (\d\d:\d\d|  \d{4})`)
	linkTimes  = regexp.MustCompile(`("link(?:cr|mo)time": )[0-9.e+-]+`)
)

// capPairs maps the caps of Tahoe's listing of golden to those of ours,
// child by child.
func capPairs(t *testing.T, theirs, ours string) *strings.Replacer {
	t.Helper()
	type node struct {
		RW       string `json:"rw_uri"`
		RO       string `json:"ro_uri"`
		Verify   string `json:"verify_uri"`
		Children map[string][2]json.RawMessage
	}
	parse := func(s string) (node, map[string]node) {
		var top [2]json.RawMessage
		var root node
		if err := json.Unmarshal([]byte(s), &top); err != nil {
			t.Fatalf("ls --json: %v\n%s", err, s)
		}
		json.Unmarshal(top[1], &root)
		kids := map[string]node{}
		for name, c := range root.Children {
			var n node
			json.Unmarshal(c[1], &n)
			kids[name] = n
		}
		return root, kids
	}
	tr, tk := parse(theirs)
	or, ok := parse(ours)
	var pairs []string
	add := func(a, b node) {
		for _, p := range [][2]string{{a.RW, b.RW}, {a.RO, b.RO}, {a.Verify, b.Verify}} {
			if p[0] != "" && p[0] != p[1] {
				pairs = append(pairs, p[0], p[1])
			}
		}
	}
	add(tr, or)
	for name, n := range tk {
		o, found := ok[name]
		if !found {
			t.Errorf("our golden: has no %q", name)
		}
		add(n, o)
	}
	return strings.NewReplacer(pairs...)
}

// webCall makes one web API call the CLI has no verb for and returns the
// answer.
func webCall(t *testing.T, method, u, body string) string {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	if resp.StatusCode != 200 && resp.StatusCode != 201 {
		t.Fatalf("%s %s: %s\n%s", method, u, resp.Status, b.String())
	}
	return strings.TrimSpace(b.String())
}
