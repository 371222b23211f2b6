package backendtest

import (
	"encoding/binary"
	"io"
	"strconv"
	"testing"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/backend"
)

// Bench runs the backend benchmarks as sub-benchmarks of b, so that every
// backend is measured the same way. A backend's test file calls it beside
// Run:
//
//	func BenchmarkBackend(b *testing.B) {
//		backendtest.Bench(b, func(b *testing.B) backend.Backend { return mem.New() })
//	}
//
// open returns a fresh, empty backend each time it is called (once per
// sub-benchmark); it may register cleanups on the b it is given. Each
// sub-benchmark reports the bytes it writes or reads per operation (-benchmem
// adds the allocations):
//
//   - CreateCommit/<size>: stage a new object under a new storage index,
//     write it whole and commit it, as the upload of one share does (the
//     objects are deleted in batches, off the clock);
//   - ReadAt/<size>: read that much of a committed 1 MiB object, at
//     offsets that walk through it;
//   - WriteAt/<size>: write that much in place into a committed 1 MiB
//     object, at offsets that walk through it, without Sync;
//   - WriteAtSync/<size>: the same, each write followed by Sync, as a
//     mutable write or a lease does.
func Bench(b *testing.B, open func(b *testing.B) backend.Backend) {
	for _, size := range []int{1 << 10, 1 << 20} {
		b.Run("CreateCommit/"+sizeName(size), func(b *testing.B) { benchCreateCommit(b, open(b), size) })
	}
	for _, size := range []int{4 << 10, 1 << 20} {
		b.Run("ReadAt/"+sizeName(size), func(b *testing.B) { benchReadAt(b, open(b), size) })
	}
	for _, size := range []int{4 << 10, 1 << 20} {
		b.Run("WriteAt/"+sizeName(size), func(b *testing.B) { benchWriteAt(b, open(b), size, false) })
	}
	b.Run("WriteAtSync/4KiB", func(b *testing.B) { benchWriteAt(b, open(b), 4<<10, true) })
}

// benchObject is the size of the committed object that ReadAt and WriteAt
// work on.
const benchObject = 1 << 20

func sizeName(n int) string {
	if n >= 1<<20 {
		return strconv.Itoa(n>>20) + "MiB"
	}
	return strconv.Itoa(n>>10) + "KiB"
}

// benchKey returns share 0 of the i-th storage index of a benchmark. Like
// real ones (hashes), the indexes spread over Tahoe's prefix folders.
func benchKey(i int) backend.Key {
	var s lafs.StorageIndex
	binary.BigEndian.PutUint64(s[:], uint64(i)*0x9e3779b97f4a7c15) // odd: a bijection
	binary.BigEndian.PutUint64(s[8:], uint64(i))
	return key(s, 0)
}

func benchCreateCommit(b *testing.B, bk backend.Backend, size int) {
	data := pattern(1, size)
	var batch []backend.Key
	i := 0
	b.SetBytes(int64(size))
	for b.Loop() {
		k := benchKey(i)
		i++
		must(b, tryPut(bk, k, data))
		batch = append(batch, k)
		if len(batch) == 64 {
			b.StopTimer()
			for _, k := range batch {
				must(b, bk.Delete(ctx, k))
			}
			batch = batch[:0]
			b.StartTimer()
		}
	}
}

func benchReadAt(b *testing.B, bk backend.Backend, size int) {
	k := benchKey(0)
	put(b, bk, k, pattern(2, benchObject))
	p := make([]byte, size)
	off := 0
	b.SetBytes(int64(size))
	for b.Loop() {
		n, err := bk.ReadAt(ctx, k, p, int64(off))
		if n != size || err != nil && err != io.EOF {
			b.Fatalf("ReadAt of %d bytes at %d: %d, %v", size, off, n, err)
		}
		off = (off + size) % benchObject
	}
}

func benchWriteAt(b *testing.B, bk backend.Backend, size int, sync bool) {
	k := benchKey(0)
	put(b, bk, k, pattern(3, benchObject))
	data := pattern(4, size)
	off := 0
	b.SetBytes(int64(size))
	for b.Loop() {
		must(b, bk.WriteAt(ctx, k, data, int64(off)))
		if sync {
			must(b, bk.Sync(ctx, k))
		}
		off = (off + size) % benchObject
	}
}
