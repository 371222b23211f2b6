package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lafs/lafs/backupdb"
	"github.com/lafs/lafs/internal/testutil"
)

func TestBackupFlags(t *testing.T) {
	dir := t.TempDir()
	ex := filepath.Join(dir, "excludes")
	os.WriteFile(ex, []byte("*.o\n  spaced  \r\n\n*~\n"), 0o644)
	e := &env{stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }}
	o, _, from, to, err := parseBackupFlags(e, []string{"-v", "--ignore-timestamps", "--exclude", "*.tmp",
		"--exclude=  ", "--exclude-from-utf-8", ex, "--exclude-vcs", "src", "backups:docs"})
	if err != nil {
		t.Fatal(err)
	}
	if !o.verbose || !o.ignoreTimestamps || from != "src" || to != "backups:docs" {
		t.Errorf("parsed %+v %q %q", o, from, to)
	}
	for _, p := range append([]string{"*.tmp", "*.o", "spaced", "*~"}, vcsPatterns...) {
		if !o.exclude.patterns[p] {
			t.Errorf("pattern %q missing", p)
		}
	}
	if len(o.exclude.patterns) != 4+len(vcsPatterns) {
		t.Errorf("patterns %v", o.exclude.patterns)
	}
	for name, want := range map[string]bool{"x.tmp": true, ".git": true, "a.o": true, "spaced": true, "b~": true, "main.go": false, ".gitx": false} {
		if o.exclude.match(name) != want {
			t.Errorf("match(%q) = %v", name, !want)
		}
	}
	_, _, _, _, err = parseBackupFlags(e, []string{"--exclude-from-utf-8", filepath.Join(dir, "missing"), "a", "b"})
	if err == nil || !strings.Contains(err.Error(), "Error opening exclude file") {
		t.Errorf("missing exclude file: %v", err)
	}
	if _, _, _, _, err = parseBackupFlags(e, []string{"onlyone"}); err == nil {
		t.Error("one argument accepted")
	}
}

func TestBackupTimeFormats(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0:00:00", 1500 * time.Millisecond: "0:00:01", 62 * time.Second: "0:01:02",
		10*time.Hour + 5*time.Second: "10:00:05", 25 * time.Hour: "1 day, 1:00:00", 50 * time.Hour: "2 days, 2:00:00",
	} {
		if got := pyTimedelta(d); got != want {
			t.Errorf("pyTimedelta(%v) = %q, want %q", d, got, want)
		}
	}
	if got := formatElapsed(3723 * time.Second); got != "1h 2m 3s" {
		t.Errorf("formatElapsed = %q", got)
	}
}

// countChecks passes every request to the web API and counts the checks
// (t=check) among them.
func countChecks(checks *atomic.Int32) func(w http.ResponseWriter, r *http.Request, next http.Handler) {
	return func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if r.Method == http.MethodPost && r.URL.Query().Get("t") == "check" {
			checks.Add(1)
		}
		next.ServeHTTP(w, r)
	}
}

// checksFail answers every check (t=check) with a node-side failure.
func checksFail(w http.ResponseWriter, r *http.Request, next http.Handler) {
	if r.Method != http.MethodPost || r.URL.Query().Get("t") != "check" {
		next.ServeHTTP(w, r)
		return
	}
	http.Error(w, "the checker failed", http.StatusInternalServerError)
}

// backupTree lists a grid directory as readTree lists a local one,
// checking on the way that every child has the local metadata Tahoe
// records and every directory is immutable.
func backupTree(t *testing.T, n *testNode, c string) []string {
	t.Helper()
	n.walk(c, func(path string, ch nodeJSON) {
		for _, k := range []string{"ctime", "mtime", "st_mode", "st_ino", "st_dev", "st_uid", "st_gid"} {
			if _, ok := ch.Info.Metadata[k]; !ok {
				t.Errorf("%s: no %s in metadata %v", path, k, ch.Info.Metadata)
			}
		}
		if ro := ch.Info.RO; ch.isDir() && !strings.HasPrefix(ro, "URI:DIR2-CHK:") && !strings.HasPrefix(ro, "URI:DIR2-LIT:") {
			t.Errorf("%s: not an immutable directory: %s", path, ro)
		}
	})
	return n.tree(c)
}

var backupSummary = regexp.MustCompile(`(?m)^ (\d+) files uploaded \((\d+) reused\), (\d+) files skipped, (\d+) directories created \((\d+) reused\), (\d+) directories skipped$`)

// backupCountsOf reads the summary line: uploaded, reused, skipped files;
// created, reused, skipped directories.
func backupCountsOf(t *testing.T, out string) [6]int {
	t.Helper()
	m := backupSummary.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no summary in %q", out)
	}
	var c [6]int
	for i := range c {
		c[i], _ = strconv.Atoi(m[i+1])
	}
	if !regexp.MustCompile(`(?m)^ backup done, elapsed time: \d+:\d\d:\d\d$`).MatchString(out) {
		t.Errorf("no elapsed time in %q", out)
	}
	return c
}

var backupFiles = map[string]string{
	"a.txt":                "alpha, long enough not to be a literal cap.......",
	"b.txt":                "bravo",
	"sub/c.txt":            "charlie, long enough not to be a literal cap.....",
	"sub/deeper/d.txt":     "delta",
	"sub/deeper/more/e.md": "echo, long enough not to be a literal cap........",
	"empty/":               "",
	"zero":                 "",
}

// checkBackupRuns backs up a small tree into alias:to three times (all
// new; nothing changed; one file changed) and checks the counts, the
// archives and Latest.
func checkBackupRuns(t *testing.T, g *testNode) {
	src := filepath.Join(t.TempDir(), "src")
	writeTree(t, src, backupFiles)
	writeTree(t, src, map[string]string{".git/config": "x", "junk.tmp": "y"})
	alias := g.mkdir()
	g.alias("backups", alias)
	clock := newFakeClock(time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC))
	backup := func(args ...string) (string, string) {
		t.Helper()
		clock.advance(time.Second) // a new archive's name
		args = append([]string{"-d", g.dir, "backup", "--exclude-vcs", "--exclude", "*.tmp"}, args...)
		out, errOut, code := runCmdEnv(t, env{clock: clock.now}, nil, append(args, src, "backups:my/docs")...)
		if code != 0 {
			t.Fatalf("backup: exit %d\n%s%s", code, out, errOut)
		}
		if !strings.Contains(out, " backup done, elapsed time: 0:00:00\n") {
			t.Errorf("the time went by another clock:\n%s", out)
		}
		return out, errOut
	}
	wantTree := readTree(t, filepath.Join(src))
	wantTree = slices.DeleteFunc(wantTree, func(s string) bool {
		return strings.HasPrefix(s, ".git") || strings.HasPrefix(s, "junk.tmp")
	})
	const files, dirs = 6, 5 // dirs: src, sub, deeper, more, empty

	start := time.Now()
	out, _ := backup()
	t.Logf("first backup in %v:\n%s", time.Since(start), out)
	if c := backupCountsOf(t, out); c != [6]int{files, 0, 0, dirs, 0, 0} {
		t.Errorf("first backup: %v", c)
	}
	docs := g.list(alias)["my"].Info.RW
	docs = g.list(docs)["docs"].Info.RW
	top := g.list(docs)
	latest := top["Latest"].Info.RO
	if latest == "" || !top["Archives"].isDir() {
		t.Fatalf("target holds %v", top)
	}
	archives := g.list(top["Archives"].Info.RW)
	first, ok := archives["2024-05-06_07:08:10Z"]
	if len(archives) != 1 || !ok || first.Info.RO != latest {
		t.Fatalf("Archives holds %v; Latest %s", archives, latest)
	}
	if got := backupTree(t, g, latest); !slices.Equal(got, wantTree) {
		t.Errorf("backed up tree:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantTree, "\n"))
	}

	// Nothing changed: nothing is uploaded or made, and the new archive
	// is the same directory.
	start = time.Now()
	out, _ = backup("-v")
	t.Logf("second backup in %v", time.Since(start))
	if c := backupCountsOf(t, out); c != [6]int{0, files, 0, 0, dirs, 0} {
		t.Errorf("unchanged backup: %v\n%s", c, out)
	}
	for _, want := range []string{"skipping '" + filepath.Join(src, "a.txt") + "'..", " re-using old directory for '" + src + "'",
		" 0 files checked, 0 directories checked"} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("-v output lacks %q:\n%s", want, out)
		}
	}
	top = g.list(docs)
	archives = g.list(top["Archives"].Info.RW)
	if len(archives) != 2 || archives["2024-05-06_07:08:11Z"].Info.RO != latest || top["Latest"].Info.RO != latest {
		t.Errorf("after an unchanged backup: Archives %v, Latest %s", archives, top["Latest"].Info.RO)
	}

	// One file changed: it alone is uploaded; its directories are made
	// again, the others reused.
	os.WriteFile(filepath.Join(src, "sub/deeper/d.txt"), []byte("delta, changed"), 0o644)
	out, _ = backup("-v")
	if c := backupCountsOf(t, out); c != [6]int{1, files - 1, 0, 3, dirs - 3, 0} {
		t.Errorf("one change: %v\n%s", c, out)
	}
	if !strings.Contains(out, "uploading '"+filepath.Join(src, "sub/deeper/d.txt")+"'..\n") {
		t.Errorf("-v output lacks the upload:\n%s", out)
	}
	top = g.list(docs)
	archives = g.list(top["Archives"].Info.RW)
	third := archives["2024-05-06_07:08:12Z"].Info.RO
	if len(archives) != 3 || third == latest || top["Latest"].Info.RO != third {
		t.Fatalf("after a change: Archives %v, Latest %s", archives, top["Latest"].Info.RO)
	}
	if got, want := backupTree(t, g, third), readTree(t, src); !slices.Contains(got, `sub/deeper/d.txt "delta, changed"`) || len(got) != len(want)-3 {
		t.Errorf("changed tree:\n%s", strings.Join(got, "\n"))
	}
	if got := backupTree(t, g, latest); !slices.Equal(got, wantTree) {
		t.Errorf("the first archive changed:\n%s", strings.Join(got, "\n"))
	}
	// The unchanged subdirectory is the very same directory.
	if a, b := g.list(first.Info.RO)["empty"].Info.RO, g.list(third)["empty"].Info.RO; a != b {
		t.Errorf("unchanged directory not shared: %s, %s", a, b)
	}
}

// TestBackup runs backup against the real web API and client over an
// in-process grid.
func TestBackup(t *testing.T) {
	g := newTestNode(t)
	checkBackupRuns(t, g)

	// --ignore-timestamps uploads every file again (to the same caps), so
	// every directory is reused.
	src := t.TempDir()
	writeTree(t, src, map[string]string{"x/y.txt": "why", "z.txt": "zed"})
	alias := g.mkdir()
	g.alias("other", alias)
	run := func(args ...string) (string, string, int) {
		return g.run(nil, append(append([]string{"backup"}, args...), src, "other:")...)
	}
	if out, errOut, code := run(); code != 0 {
		t.Fatalf("backup to alias root: %d %s %s", code, out, errOut)
	}
	out, errOut, code := run("--ignore-timestamps")
	if c := backupCountsOf(t, out); code != 0 || c != [6]int{2, 0, 0, 0, 2, 0} {
		t.Errorf("--ignore-timestamps: %d %v %s", code, c, errOut)
	}
	if l := g.list(alias); l["Latest"].Info.RO == "" || !l["Archives"].isDir() {
		t.Errorf("alias root after backup: %v", l)
	}

	// Entries over two months old are checked first: healthy ones are
	// reused (and not checked again), others uploaded or made again.
	age := func() {
		t.Helper()
		sq, err := sql.Open("sqlite", backupdb.Path(g.dir))
		if err != nil {
			t.Fatal(err)
		}
		defer sq.Close()
		for _, q := range []string{"UPDATE last_upload SET last_checked=0", "UPDATE directories SET last_checked=0"} {
			if _, err := sq.Exec(q); err != nil {
				t.Fatal(err)
			}
		}
	}
	age()
	var checks atomic.Int32
	g.setHook(countChecks(&checks))
	out, _, code = run("-v")
	if c := backupCountsOf(t, out); code != 0 || c != [6]int{0, 2, 0, 0, 2, 0} || checks.Load() != 4 ||
		!strings.Contains(out, " 2 files checked, 2 directories checked\n") {
		t.Errorf("healthy re-check: %v, %d checks\n%s", c, checks.Load(), out)
	}
	out, _, _ = run("-v")
	if !strings.Contains(out, " 0 files checked, 0 directories checked\n") {
		t.Errorf("checked again right after a healthy check:\n%s", out)
	}
	age()
	g.setHook(checksFail)
	out, _, _ = run("-v")
	if c := backupCountsOf(t, out); c != [6]int{2, 0, 0, 2, 0, 0} || !strings.Contains(out, " 2 files checked, 2 directories checked\n") {
		t.Errorf("failed re-check: %v\n%s", c, out)
	}

	// A symlink and an unreadable file are skipped with warnings, and the
	// exit status is 2.
	os.Symlink("z.txt", filepath.Join(src, "link"))
	secret := filepath.Join(src, "secret.txt")
	os.WriteFile(secret, []byte("unreadable"), 0o000)
	out, errOut, code = run()
	wantSkips := 1
	if f, err := os.Open(secret); err == nil { // running as root
		f.Close()
		wantSkips = 0
	}
	if c := backupCountsOf(t, out); code != 2 || c[2] != 1+wantSkips {
		t.Errorf("with a symlink: exit %d, counts %v\n%s%s", code, c, out, errOut)
	}
	if !strings.Contains(errOut, "WARNING: cannot backup symlink '"+filepath.Join(src, "link")+"'\n") {
		t.Errorf("no symlink warning: %q", errOut)
	}
	if wantSkips == 1 && !strings.Contains(errOut, "WARNING: permission denied on file '"+secret+"'\n") {
		t.Errorf("no permission warning: %q", errOut)
	}

	// The database is Tahoe's: a v2 schema with our rows in it.
	db, err := backupdb.Open(context.Background(), backupdb.Path(g.dir))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, _ := backupdb.Stat(filepath.Join(src, "z.txt"))
	if r, err := db.CheckFile(context.Background(), filepath.Join(src, "z.txt"), st.Info, true); err != nil || !strings.HasPrefix(r.Filecap, "URI:") {
		t.Errorf("backupdb entry for z.txt: %+v %v", r, err)
	}

	// Errors: an unknown alias; FROM not a directory.
	_, errOut, code = g.run(nil, "backup", src, "nosuch:x")
	if code != 1 || !strings.Contains(errOut, "Unknown alias") {
		t.Errorf("unknown alias: %d %q", code, errOut)
	}
	_, errOut, code = g.run(nil, "backup", filepath.Join(src, "z.txt"), "other:")
	if code != 1 || !strings.Contains(errOut, "is not a directory") {
		t.Errorf("file as FROM: %d %q", code, errOut)
	}
}

// TestHeavyBackup runs the same backups through a grid of real node
// processes (an introducer, ten storage nodes and a client). With
// LAFS_BACKUP_FILES=N it then times the backup of N small files, and of
// the rerun that finds nothing changed.
func TestHeavyBackup(t *testing.T) {
	testutil.Heavy(t)
	rg := startRealGrid(t, 10)
	g := &testNode{t: t, base: strings.TrimSuffix(rg.webURL(t), "/") + "/", dir: rg.clientDir}
	checkBackupRuns(t, g)

	n, _ := strconv.Atoi(os.Getenv("LAFS_BACKUP_FILES"))
	if n <= 0 {
		return
	}
	src := filepath.Join(t.TempDir(), "many")
	for i := range n {
		d := filepath.Join(src, fmt.Sprintf("d%02d", i%100))
		os.MkdirAll(d, 0o755)
		// 1 KiB each, all different: CHK files, not literal caps.
		data := strings.Repeat(fmt.Sprintf("file %d of %d. ", i, n), 1024)[:1024]
		if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("f%05d", i)), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	g.alias("many", g.mkdir())
	clock := newFakeClock(time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC))
	for _, run := range []string{"first", "unchanged"} {
		clock.advance(time.Second) // another archive name
		start := time.Now()
		out, errOut, code := runCmdEnv(t, env{clock: clock.now}, nil, "-d", g.dir, "backup", src, "many:")
		if code != 0 {
			t.Fatalf("%s backup of %d files: %d %s", run, n, code, errOut)
		}
		c := backupCountsOf(t, out)
		t.Logf("%s backup of %d files of 1 KiB in 101 directories: %v (%v)", run, n, time.Since(start), c)
	}
}
