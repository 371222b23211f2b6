package disk

import (
	"bytes"
	"errors"
	mrand "math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/backend"
)

func journalDisk(t *testing.T, dir string) *Disk {
	t.Helper()
	d := open(t, dir)
	if d.j == nil {
		t.Skip("no journal on this system")
	}
	return d
}

func keyN(n byte, share lafs.ShareNum) backend.Key {
	var si lafs.StorageIndex
	si[0], si[15] = n, n
	return backend.Key{SI: si, Share: share}
}

func wantFile(t *testing.T, d *Disk, k backend.Key, want string) {
	t.Helper()
	b, err := os.ReadFile(d.path(k))
	if err != nil || string(b) != want {
		t.Errorf("share %v: %q, %v; want %q", k, b, err, want)
	}
}

// TestJournalReplay: what a crash loses of the share files (never fsynced
// with the journal on) comes back from the log at the next Open: new
// objects, in-place writes, truncations, and deletions, in order.
func TestJournalReplay(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "storage")
	d := journalDisk(t, dir)
	a, b, c := keyN(1, 0), keyN(2, 3), keyN(3, 9)
	put(t, d, a, []byte("0123456789"))
	put(t, d, b, []byte("bbbb"))
	put(t, d, c, []byte("cccc"))
	must(t, d.WriteAt(ctx, a, []byte("AB"), 2))
	must(t, d.Truncate(ctx, a, 8))
	must(t, d.WriteAt(ctx, a, []byte("xyz"), 9)) // leaves a zero at 8
	must(t, d.Sync(ctx, a))
	must(t, d.Delete(ctx, c))
	if d.j.flushes.Load() == 0 {
		t.Fatal("nothing was flushed")
	}

	// The crash: the share files' writes are lost or torn; c's file
	// and folders come back from an old state. No Close.
	crash(d)
	must(t, os.Remove(d.path(b)))
	must(t, os.RemoveAll(siDir(d.shares, b.SI)))
	must(t, os.WriteFile(d.path(a), []byte("01"), filePerm))
	must(t, os.MkdirAll(siDir(d.shares, c.SI), dirPerm))
	must(t, os.WriteFile(d.path(c), []byte("cc"), filePerm))

	d2 := journalDisk(t, dir)
	wantFile(t, d2, a, "01AB4567\x00xyz")
	wantFile(t, d2, b, "bbbb")
	if _, err := os.Lstat(siDir(d2.shares, c.SI)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("deleted share's folder after replay: %v", err)
	}
	if p := d2.ReplayProblems(); len(p) != 0 {
		t.Errorf("replay problems: %v", p)
	}
	// The replayed log is done with, and a clean Close leaves nothing to
	// replay: what changes outside meanwhile (Tahoe serving the folder,
	// a repair by hand) is not undone by the next Open.
	put(t, d2, c, []byte("new c"))
	must(t, d2.WriteAt(ctx, a, []byte("zz"), 0))
	must(t, d2.Sync(ctx, a))
	must(t, d2.Close())
	must(t, os.WriteFile(d2.path(b), []byte("changed outside"), filePerm))
	must(t, os.WriteFile(d2.path(a), []byte("a outside"), filePerm))
	must(t, os.RemoveAll(siDir(d2.shares, c.SI)))
	d3 := journalDisk(t, dir)
	wantFile(t, d3, b, "changed outside")
	wantFile(t, d3, a, "a outside")
	if _, err := os.Lstat(d3.path(c)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a share deleted after Close came back: %v", err)
	}
}

// TestJournalReplayProblems: a change that cannot be replayed is reported
// and the others are made; a create whose commit failed is not replayed.
func TestJournalReplayProblems(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "storage")
	d := journalDisk(t, dir)
	a, b, c := keyN(1, 0), keyN(2, 0), keyN(3, 0)
	put(t, d, a, []byte("aaaa"))
	put(t, d, b, []byte("bbbb"))
	// A file where c's storage index folder belongs: c's commit fails
	// after its record is in the log.
	must(t, os.MkdirAll(filepath.Dir(siDir(d.shares, c.SI)), dirPerm))
	must(t, os.WriteFile(siDir(d.shares, c.SI), []byte("litter"), filePerm))
	st, err := d.Create(ctx, c, 4)
	must(t, err)
	must(t, st.WriteAt([]byte("cccc"), 0))
	if err := st.Commit(ctx); err == nil {
		t.Fatal("a commit through a file in the way succeeded")
	}
	must(t, d.WriteAt(ctx, a, []byte("AA"), 0))
	must(t, d.Sync(ctx, a))
	crash(d)
	// a became a folder meanwhile: its write cannot be replayed.
	must(t, os.Remove(d.path(a)))
	must(t, os.Mkdir(d.path(a), dirPerm))
	must(t, os.Remove(d.path(b)))

	d2 := journalDisk(t, dir)
	wantFile(t, d2, b, "bbbb")
	p := d2.ReplayProblems()
	if len(p) == 0 {
		t.Errorf("no replay problems, want a's")
	}
	for _, e := range p {
		if !strings.Contains(e.Error(), a.SI.String()) {
			t.Errorf("replay problem %v, want only a's (%v)", e, a.SI)
		}
	}
}

// TestJournalTornTail: a record cut short or damaged at the end of the log
// (a crash in the middle of an append) is ignored; the ones before apply.
func TestJournalTornTail(t *testing.T) {
	for _, damage := range []struct {
		name string
		f    func(b []byte) []byte
	}{
		{"cut", func(b []byte) []byte { return b[:len(b)-3] }},
		{"flipped", func(b []byte) []byte { b[len(b)-1] ^= 1; return b }},
		{"garbage after", func(b []byte) []byte { return append(b, bytes.Repeat([]byte{0xff}, 100)...) }},
	} {
		t.Run(damage.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "storage")
			d := journalDisk(t, dir)
			a, b := keyN(1, 0), keyN(2, 0)
			put(t, d, a, []byte("first"))
			must(t, d.Close())
			d = journalDisk(t, dir) // a new generation at offset 0
			put(t, d, withShare(a, 1), []byte("one"))
			put(t, d, b, []byte("second"))
			crash(d)

			log := filepath.Join(dir, journalName)
			raw, err := os.ReadFile(log)
			if err != nil {
				t.Fatal(err)
			}
			// Find the end of the second generation's records: its
			// start, then the two objects.
			end := 0
			for i := 0; i < 3; i++ {
				end += 8 + int(uint32(raw[end])<<24|uint32(raw[end+1])<<16|uint32(raw[end+2])<<8|uint32(raw[end+3]))
			}
			must(t, os.WriteFile(log, damage.f(raw[:end]), filePerm))
			for _, k := range []backend.Key{withShare(a, 1), b} {
				must(t, os.Remove(d.path(k)))
			}
			d2 := journalDisk(t, dir)
			wantFile(t, d2, withShare(a, 1), "one")
			if damage.name == "garbage after" {
				wantFile(t, d2, b, "second")
			} else if _, err := os.Lstat(d2.path(b)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the torn record was applied: %v", err)
			}
		})
	}
}

func withShare(k backend.Key, s lafs.ShareNum) backend.Key { k.Share = s; return k }

// TestJournalGroupCommit: concurrent commits share flushes, and each is
// durable (in the log) when it returns.
func TestJournalGroupCommit(t *testing.T) {
	d := journalDisk(t, filepath.Join(t.TempDir(), "storage"))
	const n = 64
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			k := keyN(byte(i), lafs.ShareNum(i))
			st, err := d.Create(ctx, k, 100)
			if err == nil {
				err = st.WriteAt(bytes.Repeat([]byte{byte(i)}, 100), 0)
			}
			if err == nil {
				err = st.Commit(ctx)
			}
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	flushes := d.j.flushes.Load()
	t.Logf("%d commits, %d flushes", n, flushes)
	if flushes == 0 || flushes >= n {
		t.Errorf("%d flushes for %d commits", flushes, n)
	}
	d.j.mu.Lock()
	if d.j.synced != d.j.size || d.j.pending != 0 || len(d.j.creating) != 0 {
		t.Errorf("synced %d of %d, pending %d, creating %d", d.j.synced, d.j.size, d.j.pending, len(d.j.creating))
	}
	d.j.mu.Unlock()
	// A second commit of a committed key loses, and leaves no record
	// that replay would apply over the first.
	st, err := d.Create(ctx, keyN(5, 5), 3)
	must(t, err)
	must(t, st.WriteAt([]byte("new"), 0))
	if err := st.Commit(ctx); !errors.Is(err, backend.ErrExist) {
		t.Errorf("second commit: %v, want ErrExist", err)
	}
	// After a crash, with the first's file lost, replay brings back
	// the first, not the second.
	crash(d)
	must(t, os.Remove(d.path(keyN(5, 5))))
	d2 := journalDisk(t, filepath.Dir(d.shares))
	wantFile(t, d2, keyN(5, 5), string(bytes.Repeat([]byte{5}, 100)))
}

// TestJournalCheckpoint: a full log is checkpointed (the file system
// flushed, the log started over), and a change too large for the log
// first checkpoints the records of its key, so that replay never undoes
// it with older ones.
func TestJournalCheckpoint(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "storage")
	d := journalDisk(t, dir)
	d.j.max, d.j.limit = 64, 400
	gen := d.j.gen
	for i := range 10 {
		put(t, d, keyN(byte(i), 0), bytes.Repeat([]byte{'x'}, 50))
	}
	if d.j.gen == gen {
		t.Fatal("no checkpoint after 10 records of 93 bytes in a 400-byte log")
	}
	if d.j.size > d.j.limit || len(d.j.keys) > 4 {
		t.Errorf("after checkpoints: log %d bytes, %d keys", d.j.size, len(d.j.keys))
	}

	// k gets a small write (logged), then a large one (not logged).
	k := keyN(20, 0)
	put(t, d, k, bytes.Repeat([]byte{'a'}, 60))
	must(t, d.WriteAt(ctx, k, []byte("small"), 0))
	gen = d.j.gen
	big := bytes.Repeat([]byte{'B'}, 100)
	must(t, d.WriteAt(ctx, k, big, 0))
	must(t, d.Sync(ctx, k))
	if d.j.gen == gen {
		t.Error("a large write to a key with logged records did not checkpoint first")
	}
	if d.j.keys[k] {
		t.Error("the large write was logged")
	}
	// Replaying what the log holds now leaves the large write alone.
	crash(d)
	d2 := journalDisk(t, dir)
	wantFile(t, d2, k, string(big))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestJournalLock: a storage folder open in one Disk cannot be opened by
// another (whose replay would fight the first's log) until it is closed.
func TestJournalLock(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "storage")
	d := journalDisk(t, dir)
	st, err := d.Create(ctx, keyN(1, 0), 2)
	must(t, err)
	must(t, st.WriteAt([]byte("ok"), 0))
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second Open: %v", err)
	}
	// The refused Open left the first's upload alone.
	must(t, st.Commit(ctx))
	wantFile(t, d, keyN(1, 0), "ok")
	must(t, d.Close())
	d2, err := Open(dir)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	d2.Close()
}

// TestJournalCrashModel runs random changes (each made durable: commits,
// in-place writes and truncations followed by Sync, deletions), some small
// enough for the log and some not, with checkpoints now and then, and
// crashes at random points. A crash is simulated at its worst: every share
// file goes back to its durable image, what it was at the last checkpoint
// or at its last fsync outside the log (all that was written since, lost
// with the page cache); the log keeps what was flushed. After the replay
// at the next Open, every share must be exactly what the changes made it.
func TestJournalCrashModel(t *testing.T) {
	rng := mrand.New(mrand.NewSource(20261127))
	dir := filepath.Join(t.TempDir(), "storage")
	const max = 150 // changes of 1-300 bytes: about half go outside the log
	d := journalDisk(t, dir)
	d.j.max = max
	model := map[backend.Key][]byte{}
	snapshot := map[backend.Key][]byte{} // the durable image of the share files
	image := func() {
		snapshot = map[backend.Key][]byte{}
		for k, v := range model {
			snapshot[k] = bytes.Clone(v)
		}
	}
	checkpoint := func() {
		d.j.mu.Lock()
		d.j.checkpointLocked()
		err := d.j.err
		d.j.mu.Unlock()
		must(t, err)
		image()
	}
	// step runs one change of k; a checkpoint it made on the way (before
	// its own effect) makes the model before it durable; a change made
	// outside the log makes k durable.
	step := func(k backend.Key, direct bool, change func()) {
		gen := d.j.gen
		before := map[backend.Key][]byte{}
		for k, v := range model {
			before[k] = bytes.Clone(v)
		}
		change()
		if d.j.gen != gen {
			snapshot = before
		}
		if direct {
			if v, ok := model[k]; ok {
				snapshot[k] = bytes.Clone(v)
			}
		}
	}
	checkpoint()
	keys := make([]backend.Key, 12)
	for i := range keys {
		keys[i] = keyN(byte(i%5), lafs.ShareNum(i))
	}
	for round := range 30 {
		for range 1 + rng.Intn(40) {
			k := keys[rng.Intn(len(keys))]
			cur, exists := model[k]
			switch op := rng.Intn(10); {
			case !exists || op == 0:
				if exists {
					step(k, false, func() { must(t, d.Delete(ctx, k)); delete(model, k) })
				}
				data := make([]byte, 1+rng.Intn(300))
				rng.Read(data)
				step(k, len(data) > max, func() { put(t, d, k, data); model[k] = data })
			case op < 6:
				data := make([]byte, 1+rng.Intn(300))
				rng.Read(data)
				off := rng.Intn(len(cur) + 20)
				step(k, len(data) > max, func() {
					must(t, d.WriteAt(ctx, k, data, int64(off)))
					must(t, d.Sync(ctx, k))
					if end := off + len(data); end > len(cur) {
						cur = append(cur, make([]byte, end-len(cur))...)
					}
					copy(cur[off:], data)
					model[k] = cur
				})
			case op < 8:
				size := rng.Intn(len(cur) + 10)
				step(k, false, func() {
					must(t, d.Truncate(ctx, k, int64(size)))
					must(t, d.Sync(ctx, k))
					if size <= len(cur) {
						cur = cur[:size]
					} else {
						cur = append(cur, make([]byte, size-len(cur))...)
					}
					model[k] = cur
				})
			case op == 8:
				step(k, false, func() { must(t, d.Delete(ctx, k)); delete(model, k) })
			default:
				checkpoint()
			}
		}
		// Crash: the share files go back to the last checkpoint.
		crash(d)
		must(t, os.RemoveAll(d.shares))
		must(t, os.MkdirAll(d.incoming, dirPerm))
		for k, v := range snapshot {
			must(t, os.MkdirAll(siDir(d.shares, k.SI), dirPerm))
			must(t, os.WriteFile(d.path(k), v, filePerm))
		}
		d = journalDisk(t, dir)
		d.j.max = max
		if p := d.ReplayProblems(); len(p) > 0 {
			t.Fatalf("round %d: replay problems %v", round, p)
		}
		for _, k := range keys {
			got, err := os.ReadFile(d.path(k))
			want, exists := model[k]
			switch {
			case !exists && !errors.Is(err, os.ErrNotExist):
				t.Fatalf("round %d: deleted share %v is back (%v)", round, k, err)
			case exists && (err != nil || !bytes.Equal(got, want)):
				t.Fatalf("round %d: share %v after replay: %d bytes, %v; want %d bytes", round, k, len(got), err, len(want))
			}
		}
		// The replay flushed everything: that is the new durable image.
		image()
	}
}
