// Package leasedb is the lease store of a storage server whose shares live
// on an object store (backend/s3): a storage.LeaseStore that keeps one
// lease record per share in the backend's backend.RecordStore, beside the
// shares, and indexes them in a local SQLite database for fast queries and
// space accounting. It is what Tahoe-LAFS's unfinished "leasedb" and
// "cloud backend" work planned: the leases survive the loss of the node's
// local state, because the index can always be rebuilt from the store.
//
// # Records and index
//
// The record of share (si, shnum) is named "leases/<si>/<shnum>" (the
// storage index in Tahoe's base32, the share number in decimal) and holds
// storage.AppendLeaseRecord's encoding. The records are authoritative. A
// write goes to the store first and then to the index, so that a crash
// leaves the index behind the store, never ahead of it; reads use only the
// index.
//
// # Staleness
//
// The index is rebuilt from the store when it cannot be trusted: when its
// file is missing or unreadable or of another schema version, when it was
// not closed cleanly (a crash may have lost its last writes), when a
// rebuild did not finish, or when its epoch differs from the store's. Each
// Open writes a fresh random epoch to the index and then to the record
// "leasedb/epoch" in the store, so an index restored from an earlier copy
// of the node directory, or left behind while another copy of the node
// used the store, no longer matches and is rebuilt.
//
// A rebuild lists every share container of the backend and every lease
// record. It removes orphan records (a record whose share does not exist:
// a crash came between writing the record and committing the share, or
// between deleting the record's share and the record), indexes shares
// without a record with their size alone, and keeps records it cannot read
// in the store, untouched, reporting them. It may be interrupted at any
// point and run again.
package leasedb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/backend"
	"github.com/lafs/lafs/storage"
)

// SchemaVersion is the version of the index's schema. An index of another
// version is discarded and rebuilt.
const SchemaVersion = 1

// EpochRecord is the name of the record that holds the store's epoch.
const EpochRecord = "leasedb/epoch"

// recordPrefix begins the name of every lease record.
const recordPrefix = "leases/"

var (
	// ErrClosed is returned by the methods of a closed Store.
	ErrClosed = errors.New("leasedb: store closed")
	// ErrIncomplete is returned by the methods of a Store whose Rebuild
	// failed, until a Rebuild succeeds: the index is missing leases.
	ErrIncomplete = errors.New("leasedb: lease index incomplete: a rebuild did not finish")
	// ErrUnreadableRecord is returned by Leases for a share whose record
	// the last rebuild could not read or parse. The record is kept in the
	// store; its leases are unknown, so they are neither reported as
	// absent nor replaced.
	// It wraps storage.ErrLeasesUnknown.
	ErrUnreadableRecord = fmt.Errorf("leasedb: lease record unreadable: %w", storage.ErrLeasesUnknown)
)

// Options are the optional settings of Open.
type Options struct {
	// Logger receives the rebuild's reason, summary and problems; nil
	// discards them.
	Logger *slog.Logger
	// Progress, if not nil, is called during a rebuild at least every
	// second or every 1000 shares and records, and once at its end.
	Progress func(RebuildProgress)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// RebuildProgress is how far a rebuild of the index has gone.
type RebuildProgress struct {
	// Shares is the number of share containers seen in the backend.
	Shares int64
	// Records is the number of lease records seen in the store.
	Records int64
	// Orphans is the number of records removed because their share does
	// not exist.
	Orphans int64
	// Unreadable is the number of records that could not be read or
	// parsed, or whose name is not that of a share; they are kept.
	Unreadable int64
	// Elapsed is the time since the rebuild began.
	Elapsed time.Duration
	// Done is set in the last report of a rebuild that finished.
	Done bool
}

// Stats are the index's totals, for the storage status page.
type Stats struct {
	// Shares counts the share containers indexed; MutableShares,
	// ImmutableShares and UnknownShares split them by kind, unknown when
	// the share has no readable record.
	Shares, MutableShares, ImmutableShares, UnknownShares int64
	// Bytes is the total size of the share containers.
	Bytes int64
	// Leases counts the leases of all shares.
	Leases int64
	// SharesWithoutRecord counts the shares that have no lease record.
	SharesWithoutRecord int64
	// UnreadableRecords counts the records the last rebuild could not
	// read or parse.
	UnreadableRecords int64
	// LastRebuild is when the index was last rebuilt (zero if never),
	// and RebuildReason why.
	LastRebuild   time.Time
	RebuildReason string
}

// Store is a storage.LeaseStore over a backend's RecordStore with a local
// SQLite index. Its methods may be called concurrently; calls for one
// share must not overlap (the storage server locks the storage index).
type Store struct {
	records  backend.RecordStore
	shares   backend.Backend
	log      *slog.Logger
	progress func(RebuildProgress)
	now      func() time.Time
	path     string

	// w is the index's single writing connection; r its readers.
	w, r *sql.DB

	// mu is held for reading by every call and for writing by Rebuild
	// and Close, so that a rebuild sees no concurrent change.
	mu         sync.RWMutex
	closed     bool
	incomplete bool // a Rebuild failed: the index lacks leases

	// dirty is set when a write may have reached the store but not the
	// index; Close then leaves the index marked unclean, so that the next
	// Open rebuilds it.
	dirty atomic.Bool

	// stale are the shares whose index rows may be behind the store (a
	// write reached, or may have reached, the store and not the index):
	// their leases are read from the store itself until a write of
	// theirs reaches both.
	staleMu sync.Mutex
	stale   map[backend.Key]struct{}
}

var _ storage.LeaseStore = (*Store)(nil)

// Open opens the index at path (its directory must exist; the file is
// created, mode 0600, if missing) for the lease records in records and the
// share containers in shares (usually the same backend), rebuilding the
// index first if it cannot be trusted (see the package comment). A rebuild
// canceled through ctx leaves an index that the next Open rebuilds again.
func Open(ctx context.Context, path string, records backend.RecordStore, shares backend.Backend, opts Options) (*Store, error) {
	if records == nil || shares == nil {
		return nil, errors.New("leasedb: Open needs a record store and a backend")
	}
	s := &Store{
		records:  records,
		shares:   shares,
		log:      opts.Logger,
		progress: opts.Progress,
		now:      opts.Now,
		path:     path,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.stale = make(map[backend.Key]struct{})
	storeEpoch, err := s.storeEpoch(ctx)
	if err != nil {
		return nil, err
	}
	meta, reason, err := s.openIndex(ctx)
	if err != nil {
		return nil, err
	}
	if reason == "" {
		reason = staleness(meta, storeEpoch)
	}
	if reason != "" {
		if err := s.rebuild(ctx, reason); err != nil {
			s.closeDBs()
			return nil, err
		}
	}
	if err := s.newEpoch(ctx); err != nil {
		s.closeDBs()
		return nil, err
	}
	return s, nil
}

// storeEpoch returns the epoch recorded in the store, "" if none.
func (s *Store) storeEpoch(ctx context.Context) (string, error) {
	b, err := s.records.GetRecord(ctx, EpochRecord)
	switch {
	case errors.Is(err, backend.ErrNotExist):
		return "", nil
	case errors.Is(err, backend.ErrCorrupt):
		// Altered in the store: as good as none, so the index is
		// rebuilt and a fresh epoch written.
		s.log.Warn("the store's epoch record is unreadable; the index will be rebuilt", "err", err)
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("leasedb: reading the store's epoch: %w", err)
	}
	return string(b), nil
}

// staleness returns why an index with meta, of the current schema, cannot
// be trusted for a store whose epoch is storeEpoch; "" if it can.
func staleness(meta map[string]string, storeEpoch string) string {
	switch {
	case meta["epoch"] == "":
		return "an earlier rebuild of the index did not finish"
	case storeEpoch == "":
		return "the store has no epoch record"
	case meta["epoch"] != storeEpoch:
		return "the index's epoch differs from the store's (restored from an earlier copy, or another node used the store)"
	case meta["clean"] != "1":
		return "the index was not closed cleanly"
	}
	return ""
}

// newEpoch draws a fresh epoch and writes it to the index, marked
// unclean until Close, then to the store.
func (s *Store) newEpoch(ctx context.Context) error {
	var b [16]byte
	rand.Read(b[:])
	epoch := hex.EncodeToString(b[:])
	if err := setMeta(ctx, s.w, "epoch", epoch, "clean", "0"); err != nil {
		return fmt.Errorf("leasedb: writing the index's epoch: %w", err)
	}
	if err := s.records.PutRecord(ctx, EpochRecord, []byte(epoch)); err != nil {
		return fmt.Errorf("leasedb: writing the store's epoch: %w", err)
	}
	return nil
}

// Close marks the index clean, unless a write may be missing from it, and
// closes it. Closing a closed Store does nothing.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var err error
	if !s.incomplete && !s.dirty.Load() {
		if err = setMeta(context.Background(), s.w, "clean", "1"); err != nil {
			err = fmt.Errorf("leasedb: marking the index clean: %w", err)
		}
	}
	return errors.Join(err, s.closeDBs())
}

// closeUnclean closes the index as a crash would leave it: not marked
// clean. For tests.
func (s *Store) closeUnclean() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.closeDBs()
}

// usable returns the error that a call must fail with, if any; the caller
// holds s.mu.
func (s *Store) usable() error {
	switch {
	case s.closed:
		return ErrClosed
	case s.incomplete:
		return ErrIncomplete
	}
	return nil
}

// markStale notes that share k's index rows may be behind the store, and
// that the whole index may be (see markDirty).
func (s *Store) markStale(k backend.Key) {
	s.staleMu.Lock()
	s.stale[k] = struct{}{}
	s.staleMu.Unlock()
	s.markDirty()
}

// fresh notes that share k's index rows match the store again.
func (s *Store) fresh(k backend.Key) {
	s.staleMu.Lock()
	delete(s.stale, k)
	s.staleMu.Unlock()
}

// isStale reports whether share k's index rows may be behind the store.
func (s *Store) isStale(k backend.Key) bool {
	s.staleMu.Lock()
	defer s.staleMu.Unlock()
	_, ok := s.stale[k]
	return ok
}

// StoredLeases reads share k's leases from its record in the store,
// bypassing the index (for the lease expirer, before it acts on what the
// index says; see storage.LeaseStore).
func (s *Store) StoredLeases(ctx context.Context, k backend.Key) ([]storage.Lease, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.usable(); err != nil {
		return nil, err
	}
	return s.storedLeases(ctx, k)
}

// storedLeases reads share k's leases from its record in the store, for a
// share whose index rows may be stale.
func (s *Store) storedLeases(ctx context.Context, k backend.Key) ([]storage.Lease, error) {
	data, err := s.records.GetRecord(ctx, recordName(k))
	switch {
	case errors.Is(err, backend.ErrNotExist):
		return nil, nil
	case errors.Is(err, backend.ErrCorrupt):
		return nil, fmt.Errorf("leasedb: share %s: %w (%v)", shareName(k), ErrUnreadableRecord, err)
	case err != nil:
		return nil, fmt.Errorf("leasedb: reading the lease record of %s: %w", shareName(k), err)
	}
	_, leases, err := storage.ParseLeaseRecord(data)
	if err != nil {
		return nil, fmt.Errorf("leasedb: share %s: %w (%v)", shareName(k), ErrUnreadableRecord, err)
	}
	return leases, nil
}

// markDirty notes that the index may be behind the store.
func (s *Store) markDirty() {
	if !s.dirty.Swap(true) {
		s.log.Warn("the lease index may be missing a write; it will be rebuilt at the next start")
	}
}

// recordName is the name of share k's lease record.
func recordName(k backend.Key) string {
	return recordPrefix + k.SI.String() + "/" + strconv.FormatUint(uint64(k.Share), 10)
}

// parseRecordName reads the share a lease record's name is for, accepting
// only the names recordName gives.
func parseRecordName(name string) (backend.Key, bool) {
	rest, ok := strings.CutPrefix(name, recordPrefix)
	if !ok {
		return backend.Key{}, false
	}
	siText, numText, ok := strings.Cut(rest, "/")
	if !ok {
		return backend.Key{}, false
	}
	si, err := lafs.ParseStorageIndex(siText)
	if err != nil {
		return backend.Key{}, false
	}
	n, err := strconv.ParseUint(numText, 10, 16)
	if err != nil || strconv.FormatUint(n, 10) != numText {
		return backend.Key{}, false
	}
	return backend.Key{SI: si, Share: lafs.ShareNum(n)}, true
}

// shareName names a share in errors and logs (a storage index is not a
// secret: servers name their folders with it).
func shareName(k backend.Key) string { return fmt.Sprintf("%v/%d", k.SI, k.Share) }

// Leases implements storage.LeaseStore, from the index alone. A share
// whose record could not be read gets an error wrapping
// ErrUnreadableRecord.
func (s *Store) Leases(ctx context.Context, k backend.Key) ([]storage.Lease, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.usable(); err != nil {
		return nil, err
	}
	if s.isStale(k) {
		return s.storedLeases(ctx, k)
	}
	var recErr sql.NullString
	err := s.r.QueryRowContext(ctx, "SELECT record_error FROM shares WHERE si = ? AND shnum = ?",
		k.SI[:], int64(k.Share)).Scan(&recErr)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("leasedb: reading share %s: %w", shareName(k), err)
	}
	if recErr.Valid {
		return nil, fmt.Errorf("leasedb: share %s: %w (%s)", shareName(k), ErrUnreadableRecord, recErr.String)
	}
	rows, err := s.r.QueryContext(ctx, "SELECT owner, renew_hash, cancel_hash, expiration, node_id"+
		" FROM leases WHERE si = ? AND shnum = ? ORDER BY idx", k.SI[:], int64(k.Share))
	if err != nil {
		return nil, fmt.Errorf("leasedb: reading the leases of %s: %w", shareName(k), err)
	}
	defer rows.Close()
	var out []storage.Lease
	for rows.Next() {
		var l storage.Lease
		var renew, cancel, node []byte
		if err := rows.Scan(&l.Owner, &renew, &cancel, &l.Expiration, &node); err != nil {
			return nil, fmt.Errorf("leasedb: reading the leases of %s: %w", shareName(k), err)
		}
		if len(renew) != len(l.RenewSecret) || len(cancel) != len(l.CancelSecret) || len(node) != len(l.NodeID) {
			return nil, fmt.Errorf("leasedb: a lease of %s in the index has fields of the wrong length", shareName(k))
		}
		copy(l.RenewSecret[:], renew)
		copy(l.CancelSecret[:], cancel)
		copy(l.NodeID[:], node)
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("leasedb: reading the leases of %s: %w", shareName(k), err)
	}
	return out, nil
}

// SetLeases implements storage.LeaseStore: the record is stored first,
// then the index updated.
func (s *Store) SetLeases(ctx context.Context, k backend.Key, info storage.ShareInfo, leases []storage.Lease) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.usable(); err != nil {
		return err
	}
	if info.Size < 0 {
		return fmt.Errorf("leasedb: share %s: negative size %d", shareName(k), info.Size)
	}
	rec := storage.AppendLeaseRecord(nil, info, leases)
	if len(rec) > backend.MaxRecordSize {
		return fmt.Errorf("leasedb: share %s: %d leases do not fit in a record", shareName(k), len(leases))
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.records.PutRecord(ctx, recordName(k), rec); err != nil {
		// It may have been stored all the same.
		s.markStale(k)
		return fmt.Errorf("leasedb: storing the lease record of %s: %w", shareName(k), err)
	}
	// The store has it: finish the index even if the caller gives up.
	if err := s.indexShare(context.WithoutCancel(ctx), k, info, leases); err != nil {
		s.markStale(k)
		return fmt.Errorf("leasedb: indexing the leases of %s: %w", shareName(k), err)
	}
	s.fresh(k)
	return nil
}

// indexShare writes share k's row and leases to the index.
func (s *Store) indexShare(ctx context.Context, k backend.Key, info storage.ShareInfo, leases []storage.Lease) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, upsertShare, k.SI[:], int64(k.Share), info.Size, boolInt(info.Mutable)); err != nil {
		return err
	}
	if err := insertLeases(ctx, tx, k, leases); err != nil {
		return err
	}
	return tx.Commit()
}

// upsertShare records a share with a readable record.
const upsertShare = `INSERT INTO shares (si, shnum, size, mutable, has_record, record_error)
VALUES (?, ?, ?, ?, 1, NULL)
ON CONFLICT (si, shnum) DO UPDATE SET
	size = excluded.size, mutable = excluded.mutable, has_record = 1, record_error = NULL`

// insertLeases replaces the leases of share k in the index.
func insertLeases(ctx context.Context, tx *sql.Tx, k backend.Key, leases []storage.Lease) error {
	if _, err := tx.ExecContext(ctx, "DELETE FROM leases WHERE si = ? AND shnum = ?", k.SI[:], int64(k.Share)); err != nil {
		return err
	}
	for i, l := range leases {
		if _, err := tx.ExecContext(ctx, "INSERT INTO leases"+
			" (si, shnum, idx, owner, renew_hash, cancel_hash, expiration, node_id)"+
			" VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
			k.SI[:], int64(k.Share), i, int64(l.Owner), l.RenewSecret[:], l.CancelSecret[:],
			int64(l.Expiration), l.NodeID[:]); err != nil {
			return err
		}
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// DeleteLeases implements storage.LeaseStore: the record is deleted
// first, then the share's rows in the index.
func (s *Store) DeleteLeases(ctx context.Context, k backend.Key) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.usable(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.records.DeleteRecord(ctx, recordName(k)); err != nil {
		s.markStale(k)
		return fmt.Errorf("leasedb: deleting the lease record of %s: %w", shareName(k), err)
	}
	if err := s.unindexShare(context.WithoutCancel(ctx), k); err != nil {
		s.markStale(k)
		return fmt.Errorf("leasedb: unindexing %s: %w", shareName(k), err)
	}
	s.fresh(k)
	return nil
}

// unindexShare removes share k from the index.
func (s *Store) unindexShare(ctx context.Context, k backend.Key) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "DELETE FROM leases WHERE si = ? AND shnum = ?", k.SI[:], int64(k.Share)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM shares WHERE si = ? AND shnum = ?", k.SI[:], int64(k.Share)); err != nil {
		return err
	}
	return tx.Commit()
}

// Stats returns the index's totals.
func (s *Store) Stats(ctx context.Context) (Stats, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.usable(); err != nil {
		return Stats{}, err
	}
	var st Stats
	err := s.r.QueryRowContext(ctx, `SELECT COUNT(*),
		COALESCE(SUM(mutable = 1), 0), COALESCE(SUM(mutable = 0), 0), COALESCE(SUM(mutable IS NULL), 0),
		COALESCE(SUM(size), 0), COALESCE(SUM(has_record = 0), 0), COALESCE(SUM(record_error IS NOT NULL), 0)
		FROM shares`).Scan(&st.Shares, &st.MutableShares, &st.ImmutableShares, &st.UnknownShares,
		&st.Bytes, &st.SharesWithoutRecord, &st.UnreadableRecords)
	if err != nil {
		return Stats{}, fmt.Errorf("leasedb: counting shares: %w", err)
	}
	if err := s.r.QueryRowContext(ctx, "SELECT COUNT(*) FROM leases").Scan(&st.Leases); err != nil {
		return Stats{}, fmt.Errorf("leasedb: counting leases: %w", err)
	}
	meta, err := readMeta(ctx, s.r)
	if err != nil {
		return Stats{}, fmt.Errorf("leasedb: %w", err)
	}
	if t := meta["last_rebuild"]; t != "" {
		if st.LastRebuild, err = time.Parse(time.RFC3339Nano, t); err != nil {
			return Stats{}, fmt.Errorf("leasedb: the index's time of last rebuild: %w", err)
		}
	}
	st.RebuildReason = meta["rebuild_reason"]
	return st, nil
}
