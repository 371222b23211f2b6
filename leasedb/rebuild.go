package leasedb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/backend"
	"github.com/lafs/lafs/storage"
)

// batchSize is how many index writes a rebuild makes per transaction.
const batchSize = 1000

// Rebuild rebuilds the index from the store, for an operator who doubts
// it. Other calls wait until it is done. It must not run while a storage
// server writes shares to the backend (stop the node first, or let Open
// rebuild): a share being uploaded, whose record is written before the
// share is committed, would be taken for an orphan.
//
// If it fails, the Store refuses every call with ErrIncomplete until a
// Rebuild succeeds, and the next Open rebuilds the index again.
func (s *Store) Rebuild(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if err := s.rebuild(ctx, "requested"); err != nil {
		s.incomplete = true
		return err
	}
	s.incomplete = false
	s.dirty.Store(false)
	return s.newEpoch(ctx)
}

// tracker counts a rebuild's progress and reports it.
type tracker struct {
	RebuildProgress
	f         func(RebuildProgress)
	now       func() time.Time
	start     time.Time
	last      time.Time // of the last report
	lastItems int64     // shares and records at the last report
}

// tick reports progress if a second or batchSize items have passed since
// the last report.
func (p *tracker) tick() {
	now := p.now()
	items := p.Shares + p.Records
	if items-p.lastItems >= batchSize || now.Sub(p.last) >= time.Second {
		p.report(now)
	}
}

func (p *tracker) report(now time.Time) {
	p.last, p.lastItems = now, p.Shares+p.Records
	p.Elapsed = now.Sub(p.start)
	if p.f != nil {
		p.f(p.RebuildProgress)
	}
}

// batch is a run of index writes committed every batchSize writes. The
// index is marked incomplete while a rebuild runs, so a crash between
// batches does no harm.
type batch struct {
	db *sql.DB
	tx *sql.Tx
	n  int
}

// begin starts a transaction if none is open.
func (b *batch) begin(ctx context.Context) error {
	if b.tx != nil {
		return nil
	}
	tx, err := b.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	b.tx, b.n = tx, 0
	return nil
}

// exec runs a write in the current transaction, committing it once it
// holds batchSize writes.
func (b *batch) exec(ctx context.Context, query string, args ...any) error {
	if err := b.begin(ctx); err != nil {
		return err
	}
	if _, err := b.tx.ExecContext(ctx, query, args...); err != nil {
		return err
	}
	if b.n++; b.n >= batchSize {
		return b.commit()
	}
	return nil
}

// hasShare reports whether the index has a row for share k.
func (b *batch) hasShare(ctx context.Context, k backend.Key) (bool, error) {
	if err := b.begin(ctx); err != nil {
		return false, err
	}
	var one int
	err := b.tx.QueryRowContext(ctx, "SELECT 1 FROM shares WHERE si = ? AND shnum = ?", k.SI[:], int64(k.Share)).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

func (b *batch) commit() error {
	if b.tx == nil {
		return nil
	}
	err := b.tx.Commit()
	b.tx = nil
	return err
}

func (b *batch) rollback() {
	if b.tx != nil {
		b.tx.Rollback()
		b.tx = nil
	}
}

// insertShare indexes a share as the backend lists it, before its record
// is read.
const insertShare = `INSERT INTO shares (si, shnum, size, mutable, has_record, record_error)
VALUES (?, ?, ?, NULL, 0, NULL)
ON CONFLICT (si, shnum) DO UPDATE SET size = excluded.size`

// rebuild empties the index and fills it from the backend and the store;
// the caller holds s.mu for writing or is Open. The index's epoch stays
// "" (incomplete) until newEpoch runs after it.
func (s *Store) rebuild(ctx context.Context, reason string) (err error) {
	p := &tracker{f: s.progress, now: s.now}
	p.start = s.now()
	p.last = p.start
	s.log.Info("rebuilding the lease index", "reason", reason)
	defer func() {
		if err != nil {
			s.log.Warn("rebuilding the lease index failed", "err", err, "shares", p.Shares, "records", p.Records,
				"orphans_removed", p.Orphans, "unreadable", p.Unreadable, "elapsed", s.now().Sub(p.start))
		}
	}()

	err = func() error {
		tx, err := s.w.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if err := setMeta(ctx, tx, "epoch", "", "clean", "0", "rebuild_reason", reason); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM leases"); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM shares"); err != nil {
			return err
		}
		return tx.Commit()
	}()
	if err != nil {
		return fmt.Errorf("leasedb: emptying the index: %w", err)
	}

	b := &batch{db: s.w}
	defer b.rollback()
	if err := s.shares.Walk(ctx, func(si lafs.StorageIndex) error {
		return s.rebuildShares(ctx, b, p, si)
	}); err != nil {
		return fmt.Errorf("leasedb: listing the shares: %w", err)
	}
	if err := s.records.WalkRecords(ctx, recordPrefix, func(name string) error {
		return s.rebuildRecord(ctx, b, p, name)
	}); err != nil {
		return fmt.Errorf("leasedb: reading the lease records: %w", err)
	}
	if err := b.commit(); err != nil {
		return fmt.Errorf("leasedb: filling the index: %w", err)
	}
	end := s.now()
	if err := setMeta(ctx, s.w, "last_rebuild", end.UTC().Format(time.RFC3339Nano)); err != nil {
		return fmt.Errorf("leasedb: filling the index: %w", err)
	}
	p.Done = true
	p.report(end)
	s.log.Info("rebuilt the lease index", "reason", reason, "shares", p.Shares, "records", p.Records,
		"orphans_removed", p.Orphans, "unreadable", p.Unreadable, "elapsed", p.Elapsed)
	return nil
}

// rebuildShares indexes the share containers of si.
func (s *Store) rebuildShares(ctx context.Context, b *batch, p *tracker, si lafs.StorageIndex) error {
	nums, err := s.shares.List(ctx, si)
	if err != nil {
		return err
	}
	for _, n := range nums {
		k := backend.Key{SI: si, Share: n}
		size, err := s.shares.Size(ctx, k)
		switch {
		case errors.Is(err, backend.ErrNotExist):
			continue // deleted since List
		case errors.Is(err, backend.ErrCorrupt):
			// One bad object must not keep the node from starting:
			// it is indexed with no size, and reported.
			p.Unreadable++
			s.log.Warn("indexed a share container that fails its integrity check, with no size", "share", shareName(k), "err", err)
			size = 0
		case err != nil:
			return err // a failure of the store: the rebuild is tried again at the next start
		}
		if err := b.exec(ctx, insertShare, si[:], int64(n), size); err != nil {
			return fmt.Errorf("indexing %s: %w", shareName(k), err)
		}
		p.Shares++
		p.tick()
	}
	return nil
}

// rebuildRecord indexes the lease record called name, or removes it if
// its share does not exist.
func (s *Store) rebuildRecord(ctx context.Context, b *batch, p *tracker, name string) error {
	p.Records++
	defer p.tick()
	k, ok := parseRecordName(name)
	if !ok {
		p.Unreadable++
		s.log.Warn("kept a lease record whose name is not that of a share", "record", name)
		return nil
	}
	data, readErr := s.records.GetRecord(ctx, name)
	if errors.Is(readErr, backend.ErrNotExist) {
		p.Records--
		return nil // deleted since the listing
	}
	if readErr != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	if readErr != nil && !errors.Is(readErr, backend.ErrCorrupt) {
		// A failure of the store, which a later try may not meet:
		// the rebuild fails, and runs again at the next start,
		// rather than marking the record unreadable for good.
		return fmt.Errorf("reading the lease record of %s: %w", shareName(k), readErr)
	}

	indexed, err := b.hasShare(ctx, k)
	if err != nil {
		return fmt.Errorf("looking up %s: %w", shareName(k), err)
	}
	if !indexed {
		// Not listed: an orphan, unless the share was committed since.
		size, err := s.shares.Size(ctx, k)
		switch {
		case errors.Is(err, backend.ErrNotExist):
			if err := s.records.DeleteRecord(ctx, name); err != nil {
				return fmt.Errorf("removing the orphan record of %s: %w", shareName(k), err)
			}
			p.Orphans++
			s.log.Info("removed an orphan lease record", "record", name)
			return nil
		case errors.Is(err, backend.ErrCorrupt):
			size = 0 // there, but unreadable: indexed with no size
		case err != nil:
			return err
		}
		if err := b.exec(ctx, insertShare, k.SI[:], int64(k.Share), size); err != nil {
			return fmt.Errorf("indexing %s: %w", shareName(k), err)
		}
	}

	var info storage.ShareInfo
	var leases []storage.Lease
	if readErr == nil {
		info, leases, readErr = storage.ParseLeaseRecord(data)
	}
	if readErr != nil {
		p.Unreadable++
		s.log.Warn("kept an unreadable lease record; its share is indexed without leases", "record", name, "err", readErr)
		if err := b.exec(ctx, "UPDATE shares SET has_record = 1, record_error = ? WHERE si = ? AND shnum = ?",
			readErr.Error(), k.SI[:], int64(k.Share)); err != nil {
			return fmt.Errorf("indexing %s: %w", shareName(k), err)
		}
		return nil
	}
	if err := b.exec(ctx, "UPDATE shares SET mutable = ?, has_record = 1, record_error = NULL WHERE si = ? AND shnum = ?",
		boolInt(info.Mutable), k.SI[:], int64(k.Share)); err != nil {
		return fmt.Errorf("indexing %s: %w", shareName(k), err)
	}
	if err := b.begin(ctx); err != nil {
		return err
	}
	if err := insertLeases(ctx, b.tx, k, leases); err != nil {
		return fmt.Errorf("indexing the leases of %s: %w", shareName(k), err)
	}
	b.n += len(leases)
	return nil
}
