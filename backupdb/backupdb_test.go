package backupdb

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// tahoeSchemaV1 is Tahoe's SCHEMA_v1, copied from backupdb.py on its own
// so that the upgrade test does not trust this package's copy.
const tahoeSchemaV1 = `
CREATE TABLE version -- added in v1
(
 version INTEGER  -- contains one row, set to 2
);

CREATE TABLE local_files -- added in v1
(
 path  VARCHAR(1024) PRIMARY KEY, -- index, this is an absolute UTF-8-encoded local filename
 size  INTEGER,       -- os.stat(fn)[stat.ST_SIZE]
 mtime NUMBER,        -- os.stat(fn)[stat.ST_MTIME]
 ctime NUMBER,        -- os.stat(fn)[stat.ST_CTIME]
 fileid INTEGER
);

CREATE TABLE caps -- added in v1
(
 fileid INTEGER PRIMARY KEY AUTOINCREMENT,
 filecap VARCHAR(256) UNIQUE       -- URI:CHK:...
);

CREATE TABLE last_upload -- added in v1
(
 fileid INTEGER PRIMARY KEY,
 last_uploaded TIMESTAMP,
 last_checked TIMESTAMP
);
`

// tahoeDirectoriesTable is the table version 2 adds.
const tahoeDirectoriesTable = `CREATE TABLE directories -- added in v2
(
 dirhash varchar(256) PRIMARY KEY,  -- base32(dirhash)
 dircap varchar(256),               -- URI:DIR2-CHK:...
 last_uploaded TIMESTAMP,
 last_checked TIMESTAMP
)`

// clock is a settable time for tests.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func openTest(t *testing.T, path string) (*DB, *clock) {
	t.Helper()
	db, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	c := &clock{time.Unix(1_700_000_000, 500_000_000)}
	db.now = c.now
	return db, c
}

// schema returns the CREATE statements of a database, by name.
func schema(t *testing.T, db *DB) map[string]string {
	t.Helper()
	rows, err := db.db.Query("SELECT name, sql FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, s string
		if err := rows.Scan(&name, &s); err != nil {
			t.Fatal(err)
		}
		out[name] = s
	}
	return out
}

func version(t *testing.T, db *DB) int {
	t.Helper()
	var v int
	if err := db.db.QueryRow("SELECT version FROM version").Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestCreateAndReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "backupdb.sqlite")
	db, _ := openTest(t, path)
	if v := version(t, db); v != Version {
		t.Fatalf("version %d, want %d", v, Version)
	}
	s := schema(t, db)
	want := map[string]string{"directories": tahoeDirectoriesTable}
	for _, stmt := range strings.Split(tahoeSchemaV1, ";") {
		stmt = strings.TrimSpace(stmt)
		if stmt != "" {
			want[strings.Fields(stmt)[2]] = stmt
		}
	}
	for name, stmt := range want {
		if s[name] != stmt {
			t.Errorf("table %s:\n%s\nwant Tahoe's\n%s", name, s[name], stmt)
		}
	}
	if len(s) != len(want) {
		t.Errorf("tables %v, want %d", s, len(want))
	}
	f := writeFile(t, filepath.Dir(path), "a", "hello")
	r, err := db.CheckFile(ctx, f, stat(t, f), true)
	if err != nil || r.Filecap != "" {
		t.Fatalf("first check: %+v %v", r, err)
	}
	if err := r.DidUpload(ctx, "URI:CHK:a"); err != nil {
		t.Fatal(err)
	}
	db.Close()

	db2, _ := openTest(t, path)
	if v := version(t, db2); v != Version {
		t.Fatalf("reopened version %d", v)
	}
	r, err = db2.CheckFile(ctx, f, stat(t, f), true)
	if err != nil || r.Filecap != "URI:CHK:a" || r.ShouldCheck {
		t.Fatalf("after reopen: %+v %v", r, err)
	}
}

func TestUpgradeV1(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v1.sqlite")
	v1, err := open(ctx, path, tahoeSchemaV1, 1, true)
	if err != nil {
		t.Fatal(err)
	}
	// A v1 database with a file in it, its cap a BLOB as Tahoe writes it.
	dir := filepath.Dir(path)
	f := writeFile(t, dir, "old", "old contents")
	st := stat(t, f)
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{"INSERT INTO caps (filecap) VALUES (?)", []any{[]byte("URI:CHK:old")}},
		{"INSERT INTO last_upload VALUES (1, ?, ?)", []any{1_699_999_000.25, 1_699_999_000.25}},
		{"INSERT INTO local_files VALUES (?,?,?,?,1)", []any{f, st.Size, st.Mtime, st.Ctime}},
	} {
		if _, err := v1.db.Exec(q.sql, q.args...); err != nil {
			t.Fatal(err)
		}
	}
	if v := version(t, v1); v != 1 {
		t.Fatalf("v1 database has version %d", v)
	}
	if _, ok := schema(t, v1)["directories"]; ok {
		t.Fatal("v1 database has a directories table")
	}
	v1.Close()

	db, _ := openTest(t, path)
	if v := version(t, db); v != 2 {
		t.Fatalf("upgraded version %d, want 2", v)
	}
	if got := schema(t, db)["directories"]; got != tahoeDirectoriesTable {
		t.Errorf("upgrade made\n%s\nwant\n%s", got, tahoeDirectoriesTable)
	}
	r, err := db.CheckFile(ctx, f, st, true)
	if err != nil || r.Filecap != "URI:CHK:old" {
		t.Fatalf("file recorded in v1: %+v %v", r, err)
	}
	d, err := db.CheckDirectory(ctx, map[string]string{"old": "URI:CHK:old"})
	if err != nil || d.Dircap != "" {
		t.Fatalf("directory in fresh table: %+v %v", d, err)
	}
}

func TestUnusable(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	junk := filepath.Join(dir, "not-a-database")
	os.WriteFile(junk, []byte("I do not look like a sqlite database\n"+strings.Repeat("I'M NOT", 1000)), 0o600)
	// Tahoe says "backupdb file is unusable: file is not a database".
	if _, err := Open(ctx, junk); !errors.Is(err, ErrUnusable) || !strings.Contains(err.Error(), "is not a database") {
		t.Errorf("junk file: %v", err)
	}
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o600)
	if _, err := Open(ctx, empty); !errors.Is(err, ErrUnusable) {
		t.Errorf("empty file: %v", err)
	}
	if _, err := Open(ctx, dir); !errors.Is(err, ErrOpen) {
		t.Errorf("a directory: %v", err)
	}
	if _, err := Open(ctx, filepath.Join(dir, "missing", "db")); !errors.Is(err, ErrOpen) {
		t.Errorf("no parent directory: %v", err)
	}
	// A newer version than this package knows.
	path := filepath.Join(dir, "v3.sqlite")
	db, err := open(ctx, path, schemaV2, 3, true)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := Open(ctx, path); !errors.Is(err, ErrVersion) || !strings.HasSuffix(err.Error(), " 3") {
		t.Errorf("version 3: %v", err)
	}
}

func writeFile(t *testing.T, dir, name, data string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func stat(t *testing.T, path string) FileInfo {
	t.Helper()
	st, err := Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Info
}

func TestCheckFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, clk := openTest(t, filepath.Join(dir, "db"))
	foo := writeFile(t, dir, "foo.txt", "foo.txt")
	info := stat(t, foo)

	r, err := db.CheckFile(ctx, foo, info, true)
	if err != nil || r.Filecap != "" || r.ShouldCheck {
		t.Fatalf("new file: %+v %v", r, err)
	}
	if err := r.DidUpload(ctx, "foo-cap"); err != nil {
		t.Fatal(err)
	}
	// Unchanged: skipped, by a relative path too.
	r, err = db.CheckFile(ctx, foo, info, true)
	if err != nil || r.Filecap != "foo-cap" || r.ShouldCheck {
		t.Fatalf("unchanged file: %+v %v", r, err)
	}
	wd, _ := os.Getwd()
	if rel, err := filepath.Rel(wd, foo); err == nil {
		if r, err := db.CheckFile(ctx, rel, info, true); err != nil || r.Filecap != "foo-cap" || r.Path != foo {
			t.Errorf("relative path: %+v %v", r, err)
		}
	}

	// Changed size, changed mtime, changed ctime: each must be uploaded,
	// and the stale entry is gone.
	for _, changed := range []FileInfo{
		{Size: info.Size + 1, Mtime: info.Mtime, Ctime: info.Ctime},
		{Size: info.Size, Mtime: info.Mtime + 1, Ctime: info.Ctime},
		{Size: info.Size, Mtime: info.Mtime, Ctime: info.Ctime + 1},
	} {
		r, err = db.CheckFile(ctx, foo, changed, true)
		if err != nil || r.Filecap != "" {
			t.Fatalf("changed %+v: %+v %v", changed, r, err)
		}
		r, err = db.CheckFile(ctx, foo, info, true)
		if err != nil || r.Filecap != "" {
			t.Fatalf("entry kept after a change: %+v %v", r, err)
		}
		if err := r.DidUpload(ctx, "foo-cap"); err != nil {
			t.Fatal(err)
		}
	}
	// A real change on disk.
	time.Sleep(10 * time.Millisecond)
	os.WriteFile(foo, []byte("NEW, longer"), 0o600)
	if r, err = db.CheckFile(ctx, foo, stat(t, foo), true); err != nil || r.Filecap != "" {
		t.Fatalf("rewritten file: %+v %v", r, err)
	}
	if err := r.DidUpload(ctx, "new-cap"); err != nil {
		t.Fatal(err)
	}
	info = stat(t, foo)
	if r, err = db.CheckFile(ctx, foo, info, true); err != nil || r.Filecap != "new-cap" {
		t.Fatalf("after re-upload: %+v %v", r, err)
	}
	// Uploading again anyway breaks nothing.
	if err := r.DidUpload(ctx, "new-cap"); err != nil {
		t.Fatal(err)
	}
	// --ignore-timestamps: always upload.
	if r, err = db.CheckFile(ctx, foo, info, false); err != nil || r.Filecap != "" {
		t.Fatalf("ignoring timestamps: %+v %v", r, err)
	}
	if err := r.DidUpload(ctx, "new-cap"); err != nil {
		t.Fatal(err)
	}

	// Two paths with the same contents share one caps row.
	bar := writeFile(t, dir, "bar.txt", "NEW, longer")
	r, _ = db.CheckFile(ctx, bar, stat(t, bar), true)
	if err := r.DidUpload(ctx, "new-cap"); err != nil {
		t.Fatal(err)
	}
	var n int
	db.db.QueryRow("SELECT count(*) FROM caps WHERE filecap=?", []byte("new-cap")).Scan(&n)
	if n != 1 {
		t.Errorf("%d caps rows for one cap", n)
	}
	// Stored as Tahoe (Python 3) stores them.
	var capType, pathType, mtimeType, checkedType string
	db.db.QueryRow("SELECT typeof(caps.filecap), typeof(local_files.path), typeof(local_files.mtime), typeof(last_upload.last_checked)"+
		" FROM caps, local_files, last_upload WHERE caps.fileid=local_files.fileid AND last_upload.fileid=caps.fileid AND local_files.path=?", bar).
		Scan(&capType, &pathType, &mtimeType, &checkedType)
	if capType != "blob" || pathType != "text" || mtimeType != "integer" || checkedType != "real" {
		t.Errorf("stored types cap %s path %s mtime %s last_checked %s; want blob text integer real", capType, pathType, mtimeType, checkedType)
	}

	// Re-checks: never within a month, always after two, sometimes between.
	db.random = func() float64 { return 0.999 }
	clk.t = clk.t.Add(NoCheckBefore - time.Hour)
	if r, _ = db.CheckFile(ctx, foo, info, true); r.ShouldCheck || r.Filecap == "" {
		t.Errorf("checked within a month: %+v", r)
	}
	clk.t = clk.t.Add(NoCheckBefore + 2*time.Hour)
	if r, _ = db.CheckFile(ctx, foo, info, true); !r.ShouldCheck || r.Filecap != "new-cap" {
		t.Errorf("not checked after two months: %+v", r)
	}
	clk.t = clk.t.Add(-Month / 2) // 1.5 months: probability one half
	db.random = func() float64 { return 0.49 }
	if r, _ = db.CheckFile(ctx, foo, info, true); !r.ShouldCheck {
		t.Errorf("draw 0.49 at p=0.5 did not check")
	}
	db.random = func() float64 { return 0.51 }
	if r, _ = db.CheckFile(ctx, foo, info, true); r.ShouldCheck {
		t.Errorf("draw 0.51 at p=0.5 checked")
	}
	// A healthy check restarts the clock.
	if err := r.DidCheckHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	db.random = func() float64 { return 0 }
	if r, _ = db.CheckFile(ctx, foo, info, true); r.ShouldCheck {
		t.Errorf("checked right after a healthy check")
	}
}

// TestTahoeRows reads rows as both Tahoe generations wrote them.
func TestTahoeRows(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, _ := openTest(t, filepath.Join(dir, "db"))
	f := writeFile(t, dir, "f", "data")
	info := stat(t, f)
	// Python 2: a TEXT cap, and mtime stored as a float.
	db.db.Exec("INSERT INTO caps (filecap) VALUES ('URI:CHK:text')")
	db.db.Exec("INSERT INTO last_upload VALUES (1, 1699999999, 1699999999)")
	db.db.Exec("INSERT INTO local_files VALUES (?,?,?,?,1)", f, info.Size, float64(info.Mtime), info.Ctime)
	if r, err := db.CheckFile(ctx, f, info, true); err != nil || r.Filecap != "URI:CHK:text" {
		t.Errorf("Python 2 row: %+v %v", r, err)
	}
	contents := map[string]string{"f": "URI:CHK:text"}
	h := DirHash(contents)
	db.db.Exec("INSERT INTO directories VALUES (?, 'URI:DIR2-CHK:text', 1699999999, 1699999999)", h)
	if d, err := db.CheckDirectory(ctx, contents); err != nil || d.Dircap != "URI:DIR2-CHK:text" {
		t.Errorf("Python 2 directory row: %+v %v", d, err)
	}
	if err := (&DirectoryResult{Dirhash: h, db: db}).DidCreate(ctx, "URI:DIR2-CHK:new"); err != nil {
		t.Fatal(err)
	}
	var n int
	var typ string
	db.db.QueryRow("SELECT count(*), typeof(dirhash) FROM directories").Scan(&n, &typ)
	if n != 1 || typ != "blob" {
		t.Errorf("after re-creating: %d rows, dirhash %s", n, typ)
	}
}

func TestCheckDirectory(t *testing.T) {
	ctx := context.Background()
	db, clk := openTest(t, filepath.Join(t.TempDir(), "db"))
	contents := map[string]string{"a.txt": "URI:CHK:a", "sub": "URI:DIR2-CHK:s", "é": "URI:LIT:x"}
	r, err := db.CheckDirectory(ctx, contents)
	if err != nil || r.Dircap != "" || r.ShouldCheck {
		t.Fatalf("new directory: %+v %v", r, err)
	}
	if err := r.DidCreate(ctx, "URI:DIR2-CHK:d1"); err != nil {
		t.Fatal(err)
	}
	// The same contents (built in another order): reused.
	same := map[string]string{"é": "URI:LIT:x", "sub": "URI:DIR2-CHK:s", "a.txt": "URI:CHK:a"}
	if r, err = db.CheckDirectory(ctx, same); err != nil || r.Dircap != "URI:DIR2-CHK:d1" || r.ShouldCheck {
		t.Fatalf("same contents: %+v %v", r, err)
	}
	// One child's cap changed, or a child more: a new directory.
	changed := map[string]string{"a.txt": "URI:CHK:a2", "sub": "URI:DIR2-CHK:s", "é": "URI:LIT:x"}
	if r, _ = db.CheckDirectory(ctx, changed); r.Dircap != "" {
		t.Errorf("changed child reused %s", r.Dircap)
	}
	more := map[string]string{"a.txt": "URI:CHK:a", "sub": "URI:DIR2-CHK:s", "é": "URI:LIT:x", "b": "URI:LIT:"}
	if r, _ = db.CheckDirectory(ctx, more); r.Dircap != "" {
		t.Errorf("added child reused %s", r.Dircap)
	}
	// Re-made: the record is replaced.
	r, _ = db.CheckDirectory(ctx, contents)
	if err := r.DidCreate(ctx, "URI:DIR2-CHK:d2"); err != nil {
		t.Fatal(err)
	}
	if r, _ = db.CheckDirectory(ctx, contents); r.Dircap != "URI:DIR2-CHK:d2" {
		t.Errorf("after re-create: %s", r.Dircap)
	}
	db.random = func() float64 { return 0.999 }
	clk.t = clk.t.Add(AlwaysCheckAfter)
	if r, _ = db.CheckDirectory(ctx, contents); !r.ShouldCheck {
		t.Error("old directory not checked")
	}
	if err := r.DidCheckHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	if r, _ = db.CheckDirectory(ctx, contents); r.ShouldCheck {
		t.Error("checked right after a healthy check")
	}
	// The empty directory has a key too.
	if r, err = db.CheckDirectory(ctx, nil); err != nil || r.Dirhash == "" {
		t.Errorf("empty directory: %+v %v", r, err)
	}
}

// dirHashVector is Tahoe's check_directory key for {"a": "URI:LIT:mfrgg",
// "é": "URI:CHK:x"}: base32.b2a(backupdb_dirhash(netstring(b"a") +
// netstring(b"URI:LIT:mfrgg") + netstring("é".encode()) +
// netstring(b"URI:CHK:x"))), computed in Python with hashlib as
// hashutil.tagged_hash does (SHA-256d of the tag's netstring and the data).
const dirHashVector = "ujggm2m5xaa3bjc43uwgcpgbz6vmbvwkwenrkg5mkegt22hrha2q"

// TestDirHash pins the hash to the value Tahoe computes.
func TestDirHash(t *testing.T) {
	got := DirHash(map[string]string{"é": "URI:CHK:x", "a": "URI:LIT:mfrgg"})
	if len(got) != 52 || strings.Trim(got, "abcdefghijklmnopqrstuvwxyz234567") != "" {
		t.Errorf("DirHash = %q, not 52 base32 characters", got)
	}
	if got != dirHashVector {
		t.Errorf("DirHash = %s, want %s", got, dirHashVector)
	}
	if DirHash(map[string]string{"a": "URI:LIT:mfrgg"}) == got {
		t.Error("DirHash ignores a child")
	}
}

// TestConcurrent records from many goroutines at once, as the backup's
// parallel uploads do.
func TestConcurrent(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, _ := openTest(t, filepath.Join(dir, "db"))
	var paths []string
	for i := range 40 {
		paths = append(paths, writeFile(t, dir, "f"+string(rune('a'+i%26))+string(rune('a'+i/26)), "x"))
	}
	errs := make(chan error, len(paths))
	for _, p := range paths {
		go func() {
			r, err := db.CheckFile(ctx, p, stat(t, p), true)
			if err == nil {
				err = r.DidUpload(ctx, "cap-"+filepath.Base(p))
			}
			errs <- err
		}()
	}
	for range paths {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	rows, _ := db.db.Query("SELECT path FROM local_files")
	for rows.Next() {
		var p string
		rows.Scan(&p)
		got = append(got, p)
	}
	rows.Close()
	slices.Sort(got)
	slices.Sort(paths)
	if !slices.Equal(got, paths) {
		t.Errorf("recorded %d paths, want %d", len(got), len(paths))
	}
}

// BenchmarkDidUploadFile is the cost of recording one upload (a commit).
func BenchmarkDidUploadFile(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	db, err := Open(ctx, filepath.Join(dir, "db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		p := filepath.Join(dir, "f"+strconv.Itoa(i))
		if err := db.DidUploadFile(ctx, "URI:CHK:"+strconv.Itoa(i), p, FileInfo{Size: 1, Mtime: 2, Ctime: 3}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckFileUnchanged is the cost of finding an unchanged file.
func BenchmarkCheckFileUnchanged(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	db, err := Open(ctx, filepath.Join(dir, "db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	info := FileInfo{Size: 1, Mtime: 2, Ctime: 3}
	for i := range 1000 {
		db.DidUploadFile(ctx, "URI:CHK:"+strconv.Itoa(i), filepath.Join(dir, "f"+strconv.Itoa(i)), info)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		r, err := db.CheckFile(ctx, filepath.Join(dir, "f"+strconv.Itoa(i%1000)), info, true)
		if err != nil || r.Filecap == "" {
			b.Fatal(r, err)
		}
	}
}
