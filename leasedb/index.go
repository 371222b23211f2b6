package leasedb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// schema is the index's schema. meta holds "schema" (SchemaVersion),
// "epoch" ("" while a rebuild is under way), "clean" ("1" once Close
// ran), "last_rebuild" (RFC 3339) and "rebuild_reason".
//
// shares has a row for every share container the index knows of: from a
// rebuild's listing of the backend, or from SetLeases. mutable is NULL
// when the kind is unknown (no readable record); record_error, when not
// NULL, says why a record that exists could not be read. leases keeps
// each share's leases in the record's order (idx), with the secrets as
// the storage server passed them (hashed).
const schema = `
CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE shares (
	si           BLOB NOT NULL,
	shnum        INTEGER NOT NULL,
	size         INTEGER NOT NULL,
	mutable      INTEGER,
	has_record   INTEGER NOT NULL,
	record_error TEXT,
	PRIMARY KEY (si, shnum)
) WITHOUT ROWID;

CREATE TABLE leases (
	si          BLOB NOT NULL,
	shnum       INTEGER NOT NULL,
	idx         INTEGER NOT NULL,
	owner       INTEGER NOT NULL,
	renew_hash  BLOB NOT NULL,
	cancel_hash BLOB NOT NULL,
	expiration  INTEGER NOT NULL,
	node_id     BLOB NOT NULL,
	PRIMARY KEY (si, shnum, idx)
) WITHOUT ROWID;

CREATE INDEX leases_expiration ON leases (expiration);
`

// openIndex opens the index file, creating it if it is missing and
// recreating it empty if it is unreadable or of another schema version.
// It returns the index's meta table and, if the index was created, why it
// must be rebuilt.
func (s *Store) openIndex(ctx context.Context) (meta map[string]string, reason string, err error) {
	_, err = os.Stat(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "the index is missing", s.createIndex(ctx)
	}
	if err != nil {
		return nil, "", fmt.Errorf("leasedb: %w", err)
	}
	if err := os.Chmod(s.path, 0o600); err != nil {
		return nil, "", fmt.Errorf("leasedb: %w", err)
	}
	if err := s.openDBs(ctx); err != nil {
		if !unusable(err) {
			return nil, "", err
		}
		return nil, "the index is unreadable (" + err.Error() + ")", s.recreate(ctx)
	}
	meta, err = readMeta(ctx, s.w)
	if err != nil {
		if !unusable(err) {
			s.closeDBs()
			return nil, "", fmt.Errorf("leasedb: %w", err)
		}
		return nil, "the index is unreadable (" + err.Error() + ")", s.recreate(ctx)
	}
	if v := meta["schema"]; v != strconv.Itoa(SchemaVersion) {
		return nil, fmt.Sprintf("the index has schema version %q, not %d", v, SchemaVersion), s.recreate(ctx)
	}
	return meta, "", nil
}

// unusable reports whether err says that the file is not a usable index
// (not SQLite, corrupt, or without our tables), rather than that it could
// not be reached (permissions, locks, I/O).
func unusable(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_ERROR:
		return true
	}
	return false
}

// createIndex creates a new, empty index file, mode 0600, with the schema
// and an epoch of "" (not yet built).
func (s *Store) createIndex(ctx context.Context) error {
	f, err := os.OpenFile(s.path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("leasedb: creating the index: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("leasedb: creating the index: %w", err)
	}
	if err := s.openDBs(ctx); err != nil {
		return err
	}
	err = func() error {
		tx, err := s.w.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, schema); err != nil {
			return err
		}
		if err := setMeta(ctx, tx, "schema", strconv.Itoa(SchemaVersion), "epoch", "", "clean", "0"); err != nil {
			return err
		}
		return tx.Commit()
	}()
	if err != nil {
		s.closeDBs()
		return fmt.Errorf("leasedb: creating the index: %w", err)
	}
	return nil
}

// recreate replaces an unusable index file with a new, empty one.
func (s *Store) recreate(ctx context.Context) error {
	s.closeDBs()
	for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
		if err := os.Remove(s.path + suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("leasedb: removing the unusable index: %w", err)
		}
	}
	return s.createIndex(ctx)
}

// openDBs opens the writing connection and the readers' pool. WAL lets
// readers run beside the writer; synchronous=NORMAL may lose the last
// transactions at a power failure but never corrupts, and the store, not
// the index, is what makes a write durable (an index that lost writes
// has also lost its clean mark, so it is rebuilt).
func (s *Store) openDBs(ctx context.Context) error {
	abs, err := filepath.Abs(s.path)
	if err != nil {
		return fmt.Errorf("leasedb: %w", err)
	}
	// A file: URI, so that no character of the path is taken for a
	// parameter.
	uri := "file:" + (&url.URL{Path: filepath.ToSlash(abs)}).EscapedPath()
	w, err := openDB(ctx, uri+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate")
	if err != nil {
		return err
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	r, err := openDB(ctx, uri+"?_pragma=busy_timeout(10000)&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return err
	}
	r.SetMaxOpenConns(4)
	r.SetMaxIdleConns(4)
	s.w, s.r = w, r
	return nil
}

// openDB opens a pool on dsn and checks that it connects (which reads the
// file's header).
func openDB(ctx context.Context, dsn string) (*sql.DB, error) {
	conn, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, fmt.Errorf("leasedb: opening the index: %w", err)
	}
	db := sql.OpenDB(conn)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("leasedb: opening the index: %w", err)
	}
	return db, nil
}

// closeDBs closes the index's pools, if open.
func (s *Store) closeDBs() error {
	var errs []error
	for _, db := range []*sql.DB{s.r, s.w} {
		if db != nil {
			errs = append(errs, db.Close())
		}
	}
	s.w, s.r = nil, nil
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("leasedb: closing the index: %w", err)
	}
	return nil
}

// querier is a *sql.DB or a *sql.Tx.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// readMeta returns the meta table.
func readMeta(ctx context.Context, q querier) (map[string]string, error) {
	rows, err := q.QueryContext(ctx, "SELECT key, value FROM meta")
	if err != nil {
		return nil, fmt.Errorf("reading the index's meta table: %w", err)
	}
	defer rows.Close()
	meta := make(map[string]string)
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, fmt.Errorf("reading the index's meta table: %w", err)
		}
		meta[k] = v
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the index's meta table: %w", err)
	}
	return meta, nil
}

// setMeta sets meta keys to values, given as key, value, key, value...
// With a *sql.DB they are set in one transaction.
func setMeta(ctx context.Context, q querier, kv ...string) error {
	if db, ok := q.(*sql.DB); ok {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if err := setMeta(ctx, tx, kv...); err != nil {
			return err
		}
		return tx.Commit()
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if _, err := q.ExecContext(ctx, "INSERT INTO meta (key, value) VALUES (?, ?)"+
			" ON CONFLICT (key) DO UPDATE SET value = excluded.value", kv[i], kv[i+1]); err != nil {
			return err
		}
	}
	return nil
}
