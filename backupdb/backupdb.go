// Package backupdb is the backup database of "lafs backup", the same
// SQLite file, schema and rules as Tahoe-LAFS's backupdb
// (src/allmydata/scripts/backupdb.py, with util/dbutil.py), so a Tahoe
// user's backup history carries over and Tahoe can read what lafs writes.
//
// The database remembers, for each local file (by absolute path), the size,
// mtime and ctime it had when it was last uploaded and the cap it got; and
// for each immutable directory made, the hash of its contents (child names
// and caps) and its dircap. A backup asks CheckFile before uploading a file
// and CheckDirectory before making a directory; a hit means the upload or
// the mkdir can be skipped. Entries older than a month are re-checked at
// random (certainly after two months), so that lost shares are noticed.
//
// Values are stored as Tahoe on Python 3 stores them: paths as TEXT; caps
// and directory hashes as BLOBs (Python bytes); sizes, mtimes and ctimes
// as integers (os.stat()[ST_MTIME]); times of upload and check as REAL
// seconds (time.time()). Rows written by the Python 2 Tahoe, whose caps and
// hashes are TEXT, are read as well.
package backupdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/crypt"
)

// Version is the schema version this package writes and reads (Tahoe's
// BackupDB_v2.VERSION). Version 1 databases are upgraded when opened.
const Version = 2

// The re-check window (Tahoe's NO_CHECK_BEFORE and ALWAYS_CHECK_AFTER): an
// entry last checked less than a month ago is trusted; after that the
// chance that it is checked grows linearly, to certainty at two months.
const (
	Day              = 24 * time.Hour
	Month            = 30 * Day
	NoCheckBefore    = 1 * Month
	AlwaysCheckAfter = 2 * Month
)

// The schemas, byte for byte as Tahoe's backupdb.py has them (SQLite keeps
// each CREATE statement's text, comments and all, in sqlite_master).
const (
	schemaV1 = `
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
	tableDirectory = `

CREATE TABLE directories -- added in v2
(
 dirhash varchar(256) PRIMARY KEY,  -- base32(dirhash)
 dircap varchar(256),               -- URI:DIR2-CHK:...
 last_uploaded TIMESTAMP,
 last_checked TIMESTAMP
);

`
	schemaV2 = schemaV1 + tableDirectory

	updateV1toV2 = tableDirectory + `
UPDATE version SET version=2;
`
)

// updaters[v] takes a database from version v-1 to v (Tahoe's UPDATERS).
var updaters = map[int]string{
	2: updateV1toV2,
}

var (
	// ErrOpen is returned when the database file cannot be opened or
	// created (Tahoe: "Unable to create/open backupdb file").
	ErrOpen = errors.New("unable to create/open backupdb file")
	// ErrUnusable is returned for a file that is not a backup database:
	// not SQLite, or without its version table (Tahoe: "backupdb file is
	// unusable").
	ErrUnusable = errors.New("backupdb file is unusable")
	// ErrVersion is returned for a database of a version this package
	// cannot read or upgrade (Tahoe: "Unable to handle backupdb version").
	ErrVersion = errors.New("unable to handle backupdb version")
)

// Path is where a node keeps its backup database:
// NODEDIR/private/backupdb.sqlite.
func Path(nodeDir string) string {
	return filepath.Join(nodeDir, "private", "backupdb.sqlite")
}

// DB is an open backup database. Its methods may be called from several
// goroutines; they are serialized on one connection.
type DB struct {
	db *sql.DB
	// now and random are time.Now and rand.Float64; tests replace them.
	now    func() time.Time
	random func() float64
}

// Open opens the backup database at path, creating it with the current
// schema if the file does not exist (its directory must), and upgrading
// an older version in place, as Tahoe's get_backupdb does.
func Open(ctx context.Context, path string) (*DB, error) {
	return open(ctx, path, schemaV2, Version, false)
}

// open is Tahoe's dbutil.get_db: create the file with schema at version
// if it is missing, read the version, and (unless justCreate) upgrade it
// step by step to version.
func open(ctx context.Context, path, schema string, version int, justCreate bool) (*DB, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %v", ErrOpen, path, err)
	}
	_, statErr := os.Stat(abs)
	mustCreate := errors.Is(statErr, os.ErrNotExist)

	// A file: URI, so that no character of the path is taken for a
	// parameter. foreign_keys as Tahoe sets it; busy_timeout waits for
	// another backup's write, as Python's sqlite3 does (5 seconds).
	dsn := "file:" + (&url.URL{Path: filepath.ToSlash(abs)}).EscapedPath() +
		"?_pragma=foreign_keys(1)&_pragma=busy_timeout(5000)"
	conn, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %v", ErrOpen, path, err)
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(1)
	b := &DB{db: db, now: time.Now, random: rand.Float64}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		// Setting the pragmas reads the file: junk is found here, where
		// Tahoe finds it when it reads the version.
		var se *sqlite.Error
		if errors.As(err, &se) && se.Code() == sqlite3.SQLITE_NOTADB {
			return nil, fmt.Errorf("%w: %v", ErrUnusable, err)
		}
		return nil, fmt.Errorf("%w %s: %v", ErrOpen, path, err)
	}
	if mustCreate {
		if err := b.script(ctx, schema+fmt.Sprintf("INSERT INTO version (version) VALUES (%d);", version)); err != nil {
			db.Close()
			return nil, fmt.Errorf("%w %s: %v", ErrOpen, path, err)
		}
	}
	var have int
	if err := db.QueryRowContext(ctx, "SELECT version FROM version").Scan(&have); err != nil {
		db.Close()
		return nil, fmt.Errorf("%w: %v", ErrUnusable, err)
	}
	if justCreate {
		return b, nil
	}
	for have < version && updaters[have+1] != "" {
		if err := b.script(ctx, updaters[have+1]); err != nil {
			db.Close()
			return nil, fmt.Errorf("upgrading backupdb %s to version %d: %w", path, have+1, err)
		}
		have++
	}
	if have != version {
		db.Close()
		return nil, fmt.Errorf("%w %d", ErrVersion, have)
	}
	return b, nil
}

// script runs SQL statements in one transaction.
func (b *DB) script(ctx context.Context, stmts string) error {
	tx, err := b.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, stmts); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// Close closes the database.
func (b *DB) Close() error { return b.db.Close() }

// timestamp is time.time() for t: float seconds since the epoch.
func timestamp(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// shouldCheck draws Tahoe's random re-check decision for an entry last
// checked at lastChecked (seconds since the epoch).
func (b *DB) shouldCheck(lastChecked float64) bool {
	age := timestamp(b.now()) - lastChecked
	lo, hi := NoCheckBefore.Seconds(), AlwaysCheckAfter.Seconds()
	p := min(max((age-lo)/(hi-lo), 0), 1)
	return b.random() < p
}

// FileInfo is what the database compares of a local file: os.stat's
// st_size and the whole seconds of st_mtime and st_ctime
// (os.stat(path)[ST_MTIME], as Tahoe reads them).
type FileInfo struct {
	Size  int64
	Mtime int64
	Ctime int64
}

// FileResult is the answer of CheckFile (Tahoe's FileResult).
type FileResult struct {
	// Path is the file's absolute path, the database's key.
	Path string
	// Info is the file's state now, recorded by DidUpload.
	Info FileInfo
	// Filecap is the cap of the earlier upload of this unchanged file, or
	// "" if the file must be uploaded.
	Filecap string
	// ShouldCheck is set when Filecap may be used only after a check of
	// the file on the grid finds it healthy (then call DidCheckHealthy);
	// if it is not healthy, upload the file and call DidUpload.
	ShouldCheck bool

	db *DB
}

// DidUpload records that the file was uploaded and got filecap.
func (r *FileResult) DidUpload(ctx context.Context, filecap string) error {
	return r.db.DidUploadFile(ctx, filecap, r.Path, r.Info)
}

// DidCheckHealthy records that a check found the file's cap healthy.
func (r *FileResult) DidCheckHealthy(ctx context.Context) error {
	return r.db.DidCheckFileHealthy(ctx, r.Filecap)
}

// CheckFile tells whether the local file at path, whose state now is info,
// must be uploaded, as Tahoe's check_file does. The file is unchanged if
// the database has its path with the same size, mtime and ctime (with
// useTimestamps false only a missing entry counts; every file is then
// uploaded again) and still knows the cap it got; a changed file's entry is
// deleted. For an unchanged file the answer has its Filecap, and
// ShouldCheck set at random if it was last checked over a month ago.
//
// Relative paths are made absolute; the database keys absolute paths.
func (b *DB) CheckFile(ctx context.Context, path string, info FileInfo, useTimestamps bool) (*FileResult, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	r := &FileResult{Path: abs, Info: info, db: b}
	var size, mtime, ctime any
	var fileid sql.NullInt64
	err = b.db.QueryRowContext(ctx, "SELECT size,mtime,ctime,fileid"+
		" FROM local_files"+
		" WHERE path=?", abs).Scan(&size, &mtime, &ctime, &fileid)
	if errors.Is(err, sql.ErrNoRows) {
		return r, nil
	}
	if err != nil {
		return nil, fmt.Errorf("backupdb: %w", err)
	}
	var filecap []byte
	var lastChecked sql.NullFloat64
	found := true
	err = b.db.QueryRowContext(ctx, "SELECT caps.filecap, last_upload.last_checked"+
		" FROM caps,last_upload"+
		" WHERE caps.fileid=? AND last_upload.fileid=?", fileid, fileid).Scan(&filecap, &lastChecked)
	if errors.Is(err, sql.ErrNoRows) {
		found = false // we somehow forgot where we put the file last time
	} else if err != nil {
		return nil, fmt.Errorf("backupdb: %w", err)
	}
	changed := !sameNumber(size, info.Size) || !useTimestamps ||
		!sameNumber(mtime, info.Mtime) || !sameNumber(ctime, info.Ctime)
	if changed || !found {
		if _, err := b.db.ExecContext(ctx, "DELETE FROM local_files WHERE path=?", abs); err != nil {
			return nil, fmt.Errorf("backupdb: %w", err)
		}
		return r, nil
	}
	r.Filecap = string(filecap)
	// A NULL last_checked (never written by Tahoe) reads as long ago.
	r.ShouldCheck = b.shouldCheck(lastChecked.Float64)
	return r, nil
}

// sameNumber compares a stored number with a stat value as Python's !=
// does: 5 and 5.0 are equal; NULL or text equals no number.
func sameNumber(stored any, v int64) bool {
	switch s := stored.(type) {
	case int64:
		return s == v
	case float64:
		return s == float64(v)
	}
	return false
}

// fileID returns the fileid of filecap, allocating one if the cap is new
// (Tahoe's get_or_allocate_fileid_for_cap).
func fileID(ctx context.Context, tx *sql.Tx, filecap string) (int64, error) {
	if _, err := tx.ExecContext(ctx, "INSERT OR IGNORE INTO caps (filecap) VALUES (?)", []byte(filecap)); err != nil {
		return 0, err
	}
	var id int64
	err := tx.QueryRowContext(ctx, "SELECT fileid FROM caps WHERE filecap=?", []byte(filecap)).Scan(&id)
	return id, err
}

// DidUploadFile records that the local file at path, in state info, was
// uploaded and got filecap (Tahoe's did_upload_file): the cap's upload and
// check times are now, and the path points at the cap.
func (b *DB) DidUploadFile(ctx context.Context, filecap, path string, info FileInfo) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	now := timestamp(b.now())
	return b.inTx(ctx, func(tx *sql.Tx) error {
		id, err := fileID(ctx, tx, filecap)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO last_upload VALUES (?,?,?)"+
			" ON CONFLICT(fileid) DO UPDATE SET last_uploaded=excluded.last_uploaded, last_checked=excluded.last_checked",
			id, now, now); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, "INSERT INTO local_files VALUES (?,?,?,?,?)"+
			" ON CONFLICT(path) DO UPDATE SET size=excluded.size, mtime=excluded.mtime, ctime=excluded.ctime, fileid=excluded.fileid",
			abs, info.Size, info.Mtime, info.Ctime, id)
		return err
	})
}

// DidCheckFileHealthy records that a check found filecap healthy: its
// check time is now (Tahoe's did_check_file_healthy).
func (b *DB) DidCheckFileHealthy(ctx context.Context, filecap string) error {
	now := timestamp(b.now())
	return b.inTx(ctx, func(tx *sql.Tx) error {
		id, err := fileID(ctx, tx, filecap)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, "UPDATE last_upload SET last_checked=? WHERE fileid=?", now, id)
		return err
	})
}

// inTx runs f in a transaction and commits it.
func (b *DB) inTx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := b.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("backupdb: %w", err)
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		return fmt.Errorf("backupdb: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("backupdb: %w", err)
	}
	return nil
}

// DirHash is the database's key for a directory's contents, a map from
// child name to the child's immutable cap: base32 of the tagged SHA-256d
// (crypt.BackupDBDirHash) of the netstrings of each UTF-8 name and its
// cap, in byte order of (name, cap).
func DirHash(contents map[string]string) string {
	names := make([]string, 0, len(contents))
	for name := range contents {
		names = append(names, name)
	}
	slices.Sort(names) // Go compares strings bytewise, as Python compares bytes
	var data []byte
	for _, name := range names {
		data = append(data, crypt.Netstring([]byte(name))...)
		data = append(data, crypt.Netstring([]byte(contents[name]))...)
	}
	h := crypt.BackupDBDirHash(data)
	return lafs.Base32(h[:])
}

// DirectoryResult is the answer of CheckDirectory (Tahoe's
// DirectoryResult).
type DirectoryResult struct {
	// Dirhash is the contents' key (DirHash).
	Dirhash string
	// Dircap is the immutable directory made earlier with these contents,
	// or "" if it must be made (with t=mkdir-immutable).
	Dircap string
	// ShouldCheck is set when Dircap may be used only after a check finds
	// it healthy (then call DidCheckHealthy); if it is not healthy, make
	// the directory again and call DidCreate.
	ShouldCheck bool

	db *DB
}

// DidCreate records that the directory was made and got dircap.
func (r *DirectoryResult) DidCreate(ctx context.Context, dircap string) error {
	return r.db.DidCreateDirectory(ctx, dircap, r.Dirhash)
}

// DidCheckHealthy records that a check found the directory healthy.
func (r *DirectoryResult) DidCheckHealthy(ctx context.Context) error {
	return r.db.DidCheckDirectoryHealthy(ctx, r.Dircap)
}

// CheckDirectory tells whether an immutable directory with contents (child
// name to immutable cap, file or directory) must be made, or which
// earlier one can be used instead, as Tahoe's check_directory does.
func (b *DB) CheckDirectory(ctx context.Context, contents map[string]string) (*DirectoryResult, error) {
	r := &DirectoryResult{Dirhash: DirHash(contents), db: b}
	var dircap []byte
	var lastChecked sql.NullFloat64
	// Tahoe on Python 3 keys by bytes (a BLOB), on Python 2 by str (TEXT).
	err := b.db.QueryRowContext(ctx, "SELECT dircap, last_checked"+
		" FROM directories WHERE dirhash IN (?,?)", []byte(r.Dirhash), r.Dirhash).Scan(&dircap, &lastChecked)
	if errors.Is(err, sql.ErrNoRows) {
		return r, nil
	}
	if err != nil {
		return nil, fmt.Errorf("backupdb: %w", err)
	}
	r.Dircap = string(dircap)
	r.ShouldCheck = b.shouldCheck(lastChecked.Float64)
	return r, nil
}

// DidCreateDirectory records that the directory whose contents hash to
// dirhash was made and got dircap, replacing any earlier record (Tahoe's
// did_create_directory).
func (b *DB) DidCreateDirectory(ctx context.Context, dircap, dirhash string) error {
	now := timestamp(b.now())
	return b.inTx(ctx, func(tx *sql.Tx) error {
		// A Python 2 era TEXT key would otherwise live on beside the BLOB.
		if _, err := tx.ExecContext(ctx, "DELETE FROM directories WHERE dirhash=?", dirhash); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "REPLACE INTO directories VALUES (?,?,?,?)",
			[]byte(dirhash), []byte(dircap), now, now)
		return err
	})
}

// DidCheckDirectoryHealthy records that a check found dircap healthy: its
// check time is now (Tahoe's did_check_directory_healthy).
func (b *DB) DidCheckDirectoryHealthy(ctx context.Context, dircap string) error {
	now := timestamp(b.now())
	return b.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "UPDATE directories SET last_checked=? WHERE dircap IN (?,?)",
			now, []byte(dircap), dircap)
		return err
	})
}
