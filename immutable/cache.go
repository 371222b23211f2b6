package immutable

import (
	"container/list"
	"sync"

	"github.com/lafs/lafs/cap"
)

// fileKey names one CHK file by its whole read cap: the key and the
// hash of the UEB, which together fix every byte of its plaintext, and
// the size and encoding, which a cap could state wrongly (a cap that
// differs in those must be checked against the shares afresh). The
// storage index alone, which a verify cap also holds, would not do.
type fileKey struct {
	key  [16]byte
	ueb  [32]byte
	k, n int
	size uint64
}

func keyOf(c *cap.CHK) fileKey { return fileKey{c.Key, c.UEBHash, c.K, c.N, c.Size} }

// lru is a map whose least recently used entries go when the weights of
// its entries pass max. It is not safe for concurrent use.
type lru[K comparable, V any] struct {
	max, used int64
	weight    func(V) int64
	order     *list.List // of *lruEntry, most recent first
	byKey     map[K]*list.Element
}

type lruEntry[K comparable, V any] struct {
	key K
	val V
}

func newLRU[K comparable, V any](max int64, weight func(V) int64) *lru[K, V] {
	return &lru[K, V]{max: max, weight: weight, order: list.New(), byKey: map[K]*list.Element{}}
}

func (l *lru[K, V]) get(k K) (V, bool) {
	if e, ok := l.byKey[k]; ok {
		l.order.MoveToFront(e)
		return e.Value.(*lruEntry[K, V]).val, true
	}
	var zero V
	return zero, false
}

func (l *lru[K, V]) put(k K, v V) {
	l.remove(k)
	w := l.weight(v)
	if w > l.max {
		return
	}
	l.byKey[k] = l.order.PushFront(&lruEntry[K, V]{k, v})
	l.used += w
	for l.used > l.max {
		l.remove(l.order.Back().Value.(*lruEntry[K, V]).key)
	}
}

// dropOldest removes the least recently used entries while old says so.
func (l *lru[K, V]) dropOldest(old func(V) bool) {
	for e := l.order.Back(); e != nil && old(e.Value.(*lruEntry[K, V]).val); e = l.order.Back() {
		l.remove(e.Value.(*lruEntry[K, V]).key)
	}
}

func (l *lru[K, V]) remove(k K) {
	if e, ok := l.byKey[k]; ok {
		l.order.Remove(e)
		delete(l.byKey, k)
		l.used -= l.weight(e.Value.(*lruEntry[K, V]).val)
	}
}

// segmentCache keeps the verified plaintext of recently read segments of
// small files, which never change, bounded in bytes. A nil *segmentCache
// keeps nothing.
type segmentCache struct {
	mu      sync.Mutex
	maxFile uint64 // larger files are not kept: they would only churn it
	segs    *lru[segmentKey, []byte]
}

type segmentKey struct {
	file fileKey
	seg  int
}

func newSegmentCache(maxBytes int64) *segmentCache {
	if maxBytes <= 0 {
		return nil
	}
	return &segmentCache{
		maxFile: uint64(maxBytes / 8),
		segs:    newLRU[segmentKey](maxBytes, func(b []byte) int64 { return int64(len(b)) + 64 }),
	}
}

func (c *segmentCache) get(f *cap.CHK, i int) []byte {
	if c == nil || f.Size > c.maxFile {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	b, _ := c.segs.get(segmentKey{keyOf(f), i})
	return b
}

func (c *segmentCache) put(f *cap.CHK, i int, seg []byte) {
	if c == nil || f.Size > c.maxFile {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.segs.put(segmentKey{keyOf(f), i}, seg)
}
