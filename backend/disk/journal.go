package disk

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/backend"
)

// The journal makes small changes durable with one flush for many. Every
// fsync of a share file and of its folders is a device flush; on a busy
// server (and on virtual disks, where each I/O is costly) those flushes
// were most of a small upload's cost. Instead, a change of up to
// journalMax bytes is appended to one log file (storage/lafs.journal),
// and callers that want it durable wait for a flush of the log, which
// the changes appended meanwhile share (a group commit). The share files
// themselves are then written without fsync; the kernel writes them back
// in its own time.
//
// A checkpoint, when the log is full and at Close, flushes the shares'
// whole file system (syncfs), after which the log's records are no longer
// needed and it starts over. Open replays a log left by a crash onto the
// share files, flushes them and starts a new log, so what a change's
// caller saw as durable survives; a change it cannot make is reported
// (Disk.ReplayProblems) and the others are made.
//
// Order keeps a crash from showing a partial share: a new object's record
// is durable before its name appears (Commit links it only then), and an
// in-place write, like before, may be torn by a crash until Sync returns.
//
// Changes larger than journalMax, and systems without syncfs, use fsync
// as before; a key with records in the log is checkpointed first, so that
// replaying older records never undoes a change made outside the log.

const (
	journalName  = "lafs.journal"
	journalMax   = 4 << 20  // the largest change journaled
	journalLimit = 32 << 20 // the log's size that starts a checkpoint
)

// Record kinds.
const (
	recStart    = 0 // the first record of a generation: nothing to apply
	recCreate   = 1 // the whole object (offset 0)
	recWrite    = 2 // bytes at an offset
	recTruncate = 3 // a new size (in the offset field)
	recDelete   = 4
)

// A record is: length of what follows the checksum (4 bytes), CRC-32C of
// it (4), then the generation's nonce (8), kind (1), storage index (16),
// share number (2), offset (8) and data. Each generation starts with a
// durable recStart record over the previous one's first, carrying a new
// random nonce: a log whose records are all applied (after a checkpoint,
// a replay or a Close) is never replayed again, which would undo changes
// made since outside it. Replay stops at the first record that is torn,
// corrupt or of another nonce (a leftover of an older pass over the same
// bytes, or share data that looks like a record: it cannot know the
// nonce).
const (
	// Offsets in a record's body, after its length and checksum.
	recNonceAt = 0
	recKindAt  = 8
	recSIAt    = 9
	recShareAt = 25
	recOffAt   = 27
	recDataAt  = 35
	recHeader  = 4 + 4 + recDataAt // length, checksum and body before the data
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errJournalBroken wraps the failure that stopped the journal.
var errJournalBroken = errors.New("backend/disk: journal failed")

// journal is one Disk's log of small changes, as described above.
type journal struct {
	d          *Disk
	f          *os.File
	sharesDir  *os.File     // for syncfs of the shares' file system
	max, limit int64        // journalMax and journalLimit (smaller in tests)
	flushes    atomic.Int64 // fdatasyncs of the log so far, for tests

	mu    sync.Mutex
	cond  *sync.Cond // signalled when synced, syncing, pending or busy change
	gen   uint64     // counts generations, for waiters
	nonce uint64     // the random nonce of the current generation
	size  int64      // bytes of the current generation written
	// synced is how much of the current generation is durable; syncing
	// is set while a flush runs (by whichever waiter got there first).
	synced  int64
	syncing bool
	// pending counts new objects whose record is written but which are
	// not yet linked into place: a checkpoint waits for them.
	pending int
	// creating holds the keys of new objects between their check for an
	// existing object and their link, so that one commit wins.
	creating map[backend.Key]bool
	// keys holds the keys with records in the current generation.
	keys map[backend.Key]bool
	// checkpointing blocks appends while a checkpoint runs.
	checkpointing bool
	err           error // sticky: a failed flush stops the journal
}

// lockJournal opens and locks the log at path; recover then replays it.
// The lock keeps a second process (whose replay and cleaning of incoming/
// would fight this one) off the storage folder.
func lockJournal(d *Disk, path string) (*journal, error) {
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, filePerm)
	if err != nil {
		return nil, fmt.Errorf("backend/disk: journal: %w", mapNoSpace(err))
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("backend/disk: %s is in use by another process (%w)", filepath.Dir(path), err)
	}
	if errors.Is(statErr, fs.ErrNotExist) {
		if err := syncDir(filepath.Dir(path)); err != nil {
			f.Close()
			return nil, fmt.Errorf("backend/disk: journal: %w", err)
		}
	}
	// The checkpoint flushes the file system of the shares, which may
	// not be the log's.
	sharesDir, err := os.Open(d.shares)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("backend/disk: %w", err)
	}
	j := &journal{d: d, f: f, sharesDir: sharesDir, max: journalMax, limit: journalLimit,
		creating: map[backend.Key]bool{}, keys: map[backend.Key]bool{}}
	j.cond = sync.NewCond(&j.mu)
	return j, nil
}

// recover replays the log onto the share files, flushes them, and starts
// a new generation. A record that cannot be applied (a folder in a share's
// way, a full disk) does not stop the others: it is returned in problems.
func (j *journal) recover() (problems []error, err error) {
	recs, err := j.readGeneration()
	if err != nil {
		return nil, fmt.Errorf("backend/disk: reading the journal: %w", err)
	}
	// A create that a later delete of the same key cancels (a commit
	// that failed after its record, or an object deleted since) is not
	// worth making, and may be what failed.
	lastDelete := map[backend.Key]int{}
	for i, r := range recs {
		if r.kind == recDelete {
			lastDelete[r.k] = i
		}
	}
	for i, r := range recs {
		if r.kind == recCreate && lastDelete[r.k] > i {
			continue
		}
		if err := j.apply(r); err != nil {
			problems = append(problems, fmt.Errorf("backend/disk: replaying a change to share %d of %s: %w", r.k.Share, r.k.SI, err))
		}
	}
	if len(recs) > 0 {
		if err := syncFS(j.sharesDir); err != nil {
			return problems, fmt.Errorf("backend/disk: flushing the replayed journal: %w", err)
		}
	}
	if err := j.startGeneration(); err != nil {
		return problems, err
	}
	return problems, nil
}

// startGeneration picks a new random nonce and writes and flushes its
// recStart record at the start of the log (j.mu held, or not yet shared).
func (j *journal) startGeneration() error {
	var b [8]byte
	rand.Read(b[:])
	j.nonce = binary.BigEndian.Uint64(b[:])
	j.gen++
	rec := j.record(recStart, backend.Key{}, 0, nil)
	_, err := j.f.WriteAt(rec, 0)
	if err == nil {
		err = fdatasync(j.f)
	}
	if err != nil {
		return fmt.Errorf("%w: starting a generation: %w", errJournalBroken, mapNoSpace(err))
	}
	j.size, j.synced = int64(len(rec)), int64(len(rec))
	return nil
}

// change is a decoded record.
type change struct {
	kind byte
	k    backend.Key
	off  int64
	data []byte
}

// readGeneration reads the records of the generation the log starts with:
// a recStart record, then every record with its nonce up to the first
// that is torn or corrupt or carries another nonce. A log that does not
// start with a valid recStart has nothing to replay (a crash while one
// was written: everything before it had been flushed).
func (j *journal) readGeneration() ([]change, error) {
	var recs []change
	var nonce uint64
	var off int64
	hdr := make([]byte, 8)
	for {
		if _, err := j.f.ReadAt(hdr, off); err != nil {
			if err == io.EOF {
				return recs, nil
			}
			return nil, err
		}
		length := int64(binary.BigEndian.Uint32(hdr))
		if length < recDataAt || length > recDataAt+j.max {
			return recs, nil
		}
		body := make([]byte, length)
		if _, err := j.f.ReadAt(body, off+8); err != nil {
			if err == io.EOF {
				return recs, nil // torn at the end
			}
			return nil, err
		}
		if crc32.Checksum(body, castagnoli) != binary.BigEndian.Uint32(hdr[4:]) {
			return recs, nil
		}
		n, kind := binary.BigEndian.Uint64(body[recNonceAt:]), body[recKindAt]
		if off == 0 {
			if kind != recStart {
				return nil, nil
			}
			nonce = n
		} else if n != nonce || kind == recStart {
			return recs, nil
		}
		if kind != recStart {
			c := change{kind: kind, off: int64(binary.BigEndian.Uint64(body[recOffAt:])), data: body[recDataAt:]}
			copy(c.k.SI[:], body[recSIAt:])
			c.k.Share = lafs.ShareNum(binary.BigEndian.Uint16(body[recShareAt:]))
			recs = append(recs, c)
		}
		off += 8 + length
	}
}

// apply makes the share files what a change says.
func (j *journal) apply(c change) error {
	name := j.d.path(c.k)
	switch c.kind {
	case recCreate:
		if err := os.MkdirAll(siDir(j.d.shares, c.k.SI), dirPerm); err != nil {
			return err
		}
		return os.WriteFile(name, c.data, filePerm)
	case recWrite, recTruncate:
		f, err := os.OpenFile(name, os.O_WRONLY, 0)
		if errors.Is(err, os.ErrNotExist) {
			return nil // deleted since, by a change the log no longer holds
		}
		if err != nil {
			return err
		}
		if c.kind == recWrite {
			_, err = f.WriteAt(c.data, c.off)
		} else {
			err = f.Truncate(c.off)
		}
		return closeFile(f, err)
	case recDelete:
		if err := os.Remove(name); err != nil {
			// Gone already, or never made (a file where its folder
			// would be: ENOTDIR).
			if fi, serr := os.Lstat(name); serr == nil && fi.Mode().IsRegular() {
				return err
			}
		}
		removeEmpty(siDir(j.d.shares, c.k.SI), j.d.shares)
		return nil
	}
	return fmt.Errorf("unknown record kind %d", c.kind)
}

// record encodes a record of the current generation (j.mu held).
func (j *journal) record(kind byte, k backend.Key, off int64, data []byte) []byte {
	b := make([]byte, recHeader+len(data))
	body := b[8:]
	binary.BigEndian.PutUint64(body[recNonceAt:], j.nonce)
	body[recKindAt] = kind
	copy(body[recSIAt:], k.SI[:])
	binary.BigEndian.PutUint16(body[recShareAt:], uint16(k.Share))
	binary.BigEndian.PutUint64(body[recOffAt:], uint64(off))
	copy(body[recDataAt:], data)
	binary.BigEndian.PutUint32(b, uint32(len(body)))
	binary.BigEndian.PutUint32(b[4:], crc32.Checksum(body, castagnoli))
	return b
}

// appendLocked writes a record (j.mu held, not checkpointing) and returns
// the position that must be durable for it to be.
func (j *journal) appendLocked(kind byte, k backend.Key, off int64, data []byte) (int64, error) {
	for j.err == nil && (j.checkpointing || j.size+recHeader+int64(len(data)) > j.limit) {
		if j.checkpointing {
			j.cond.Wait()
			continue
		}
		j.checkpointLocked()
	}
	if j.err != nil {
		return 0, j.err
	}
	rec := j.record(kind, k, off, data)
	if _, err := j.f.WriteAt(rec, j.size); err != nil {
		// The bytes past size are not records of this generation
		// unless whole, so the log stays readable; but fail.
		return 0, fmt.Errorf("backend/disk: journal: %w", mapNoSpace(err))
	}
	j.size += int64(len(rec))
	j.keys[k] = true
	return j.size, nil
}

// waitLocked returns once the log is durable up to pos of generation gen
// (j.mu held), flushing it if no one else is.
func (j *journal) waitLocked(gen uint64, pos int64) error {
	for {
		if j.gen != gen || j.synced >= pos {
			return nil
		}
		if j.err != nil {
			return j.err
		}
		if j.syncing {
			j.cond.Wait()
			continue
		}
		j.flushLocked()
	}
}

// flushLocked flushes what is written of the log (j.mu held, released
// meanwhile).
func (j *journal) flushLocked() {
	j.syncing = true
	target := j.size
	j.mu.Unlock()
	err := fdatasync(j.f)
	j.flushes.Add(1)
	j.mu.Lock()
	j.syncing = false
	if err != nil {
		j.err = fmt.Errorf("%w: %w", errJournalBroken, mapNoSpace(err))
	} else if target > j.synced {
		j.synced = target
	}
	j.cond.Broadcast()
}

// checkpointLocked flushes the file system so that the log's records are
// no longer needed, and starts a new generation (j.mu held, released
// meanwhile; appends wait).
func (j *journal) checkpointLocked() {
	j.checkpointing = true
	for j.syncing {
		j.cond.Wait()
	}
	if j.synced < j.size {
		j.flushLocked() // let new objects waiting for it be linked
	}
	for j.pending > 0 || j.syncing {
		j.cond.Wait()
	}
	// The folders made so far are durable after the flush; one that a
	// large commit makes meanwhile keeps its note.
	var made []any
	j.d.unsynced.Range(func(k, _ any) bool { made = append(made, k); return true })
	j.mu.Unlock()
	err := syncFS(j.sharesDir)
	j.mu.Lock()
	if err != nil {
		err = fmt.Errorf("%w: checkpoint: %w", errJournalBroken, err)
	} else {
		for _, k := range made {
			j.d.unsynced.Delete(k)
		}
		clear(j.keys)
		err = j.startGeneration()
	}
	if err != nil && j.err == nil {
		j.err = err
	}
	j.checkpointing = false
	j.cond.Broadcast()
}

// close checkpoints, so that a clean stop leaves nothing to replay (the
// folder may be handed to Tahoe, or changed by hand, before the next
// Open), and closes the log.
func (j *journal) close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	for j.checkpointing || j.syncing {
		j.cond.Wait()
	}
	if j.f == nil {
		return nil
	}
	if j.err == nil {
		j.checkpointLocked()
	}
	err := j.err
	if cerr := j.f.Close(); err == nil {
		err = cerr
	}
	j.sharesDir.Close()
	j.f = nil
	j.err = fmt.Errorf("%w: closed", errJournalBroken)
	return err
}

// checkpointIfKey checkpoints if k has records in the log, before a change
// to k made outside it.
func (j *journal) checkpointIfKey(k backend.Key) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	for j.checkpointing {
		j.cond.Wait()
	}
	if j.keys[k] {
		j.checkpointLocked()
	}
	return j.err
}

// startCreate reserves k for a new object, failing with backend.ErrExist
// if it is already there or being committed, and writes its record; call
// finishCreate after linking it.
func (j *journal) startCreate(k backend.Key, data []byte) (gen uint64, pos int64, err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for j.checkpointing {
		j.cond.Wait()
	}
	if j.creating[k] {
		return 0, 0, fmt.Errorf("%w: share %d of %s is being committed", backend.ErrExist, k.Share, k.SI)
	}
	if _, err := os.Lstat(j.d.path(k)); err == nil {
		return 0, 0, fmt.Errorf("%w: share %d of %s", backend.ErrExist, k.Share, k.SI)
	}
	pos, err = j.appendLocked(recCreate, k, 0, data)
	if err != nil {
		return 0, 0, err
	}
	j.creating[k] = true
	j.pending++
	return j.gen, pos, nil
}

// finishCreate ends what startCreate began. If the object could not be
// linked, a delete record cancels the create for replay.
func (j *journal) finishCreate(k backend.Key, linked bool) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	var err error
	if !linked {
		// Appending may wait for a checkpoint, which waits for
		// pending: drop out of pending first. The create record is
		// durable or not; the delete record follows it either way.
		j.pending--
		delete(j.creating, k)
		j.cond.Broadcast()
		var pos int64
		if pos, err = j.appendLocked(recDelete, k, 0, nil); err == nil {
			err = j.waitLocked(j.gen, pos)
		}
		return err
	}
	j.pending--
	delete(j.creating, k)
	j.cond.Broadcast()
	return nil
}

// wait returns once the log is durable up to pos of generation gen.
func (j *journal) wait(gen uint64, pos int64) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.waitLocked(gen, pos)
}

// logChange writes the record of an in-place change already made to k's
// file.
func (j *journal) logChange(kind byte, k backend.Key, off int64, data []byte) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	_, err := j.appendLocked(kind, k, off, data)
	return err
}

// syncKey returns once every record of k written so far is durable.
func (j *journal) syncKey(k backend.Key) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if !j.keys[k] {
		return j.err
	}
	return j.waitLocked(j.gen, j.size)
}

// logDelete writes and flushes a delete record for k before its file is
// removed: a crash then can neither bring back a share whose deletion was
// reported (its folder entry is never fsynced) nor let the replay of
// older records recreate it.
func (j *journal) logDelete(k backend.Key) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	pos, err := j.appendLocked(recDelete, k, 0, nil)
	if err != nil {
		return err
	}
	return j.waitLocked(j.gen, pos)
}
