package s3

import (
	"bytes"
	"container/list"
	"sync"
)

// meta is what the backend knows of a committed object version without
// fetching it: its ETag and stored size and, once its header has been
// read, its sealer (salt). A ranged read names the ETag (If-Match), so a
// version replaced behind the cache's back is noticed, never misread.
type meta struct {
	etag   string
	stored int64
	s      *sealer // nil until the header is known
	// checked: the size is authenticated, because this node wrote the
	// version or opened its last chunk. Size and reads of an object of
	// the empty size open its chunk first while it is not.
	checked bool
}

// plain returns the object's plaintext size, or false if the stored size
// is none that a sealed object has.
func (m *meta) plain() (int64, bool) { return plainSize(m.stored) }

// metaCache is a bounded LRU of meta by object name. A reader that
// fetched a meta puts it with putIf, which refuses it if a writer
// changed or dropped the entry since the reader took its token: a stale
// HEAD racing a Delete never brings a deleted object back.
type metaCache struct {
	mu        sync.Mutex
	max       int
	order     *list.List // of *cacheEntry, most recent first
	byKey     map[string]*list.Element
	next      uint64 // the last version given out
	evictions uint64
}

// cacheEntry is a name's meta, or a tombstone (m nil) left by drop.
type cacheEntry struct {
	name string
	m    *meta
	ver  uint64
}

// token is what version returns and putIf checks.
type token struct{ ver, evictions uint64 }

func newMetaCache(max int) *metaCache {
	return &metaCache{max: max, order: list.New(), byKey: make(map[string]*list.Element)}
}

// get returns the meta of name, or nil.
func (c *metaCache) get(name string) *meta {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byKey[name]
	if !ok {
		return nil
	}
	c.order.MoveToFront(e)
	return e.Value.(*cacheEntry).m
}

// version returns the token of name's entry, to pass to putIf.
func (c *metaCache) version(name string) token {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := token{evictions: c.evictions}
	if e, ok := c.byKey[name]; ok {
		t.ver = e.Value.(*cacheEntry).ver
	}
	return t
}

// set makes m (nil for a tombstone) name's entry; the caller holds mu.
func (c *metaCache) set(name string, m *meta) {
	c.next++
	if e, ok := c.byKey[name]; ok {
		ce := e.Value.(*cacheEntry)
		ce.m, ce.ver = m, c.next
		c.order.MoveToFront(e)
		return
	}
	c.byKey[name] = c.order.PushFront(&cacheEntry{name: name, m: m, ver: c.next})
	for c.order.Len() > c.max {
		e := c.order.Back()
		c.order.Remove(e)
		delete(c.byKey, e.Value.(*cacheEntry).name)
		c.evictions++
	}
}

// put records m, just written, as the meta of name.
func (c *metaCache) put(name string, m *meta) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.set(name, m)
}

// putIf records m, just read, as the meta of name unless the entry
// changed since t was taken.
func (c *metaCache) putIf(name string, m *meta, t token) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var cur uint64
	if e, ok := c.byKey[name]; ok {
		cur = e.Value.(*cacheEntry).ver
	}
	if cur != t.ver || cur == 0 && c.evictions != t.evictions {
		return
	}
	c.set(name, m)
}

// drop forgets name's meta, leaving a tombstone.
func (c *metaCache) drop(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.set(name, nil)
}

// dropIf forgets name's meta if it is still m.
func (c *metaCache) dropIf(name string, m *meta) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byKey[name]; ok && e.Value.(*cacheEntry).m == m {
		c.set(name, nil)
	}
}

// markChecked records that the meta of name, if still m, is checked.
func (c *metaCache) markChecked(name string, m *meta) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byKey[name]; ok && e.Value.(*cacheEntry).m == m {
		mc := *m
		mc.checked = true
		c.set(name, &mc)
	}
}

// chunkKey names one chunk of one object version (by its random salt).
type chunkKey struct {
	name string
	salt [saltSize]byte
	i    int64
}

// chunkCache is a bounded LRU of opened chunks, so that the small reads a
// storage server makes of one region (a container's header, then its
// data; a block, then its hashes) fetch each chunk once. Chunks are
// named with their version's salt: a replaced object's are never served.
type chunkCache struct {
	mu    sync.Mutex
	max   int // bytes
	size  int
	order *list.List // of *chunkEntry, most recent first
	byKey map[chunkKey]*list.Element
}

type chunkEntry struct {
	k chunkKey
	p []byte
}

func newChunkCache(max int) *chunkCache {
	return &chunkCache{max: max, order: list.New(), byKey: make(map[chunkKey]*list.Element)}
}

// get returns the plaintext of chunk k (the caller's not to change).
func (c *chunkCache) get(k chunkKey) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byKey[k]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*chunkEntry).p, true
}

// put keeps a copy of p as the plaintext of chunk k.
func (c *chunkCache) put(k chunkKey, p []byte) {
	if c.max <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byKey[k]; ok {
		return
	}
	c.byKey[k] = c.order.PushFront(&chunkEntry{k: k, p: bytes.Clone(p)})
	c.size += len(p)
	for c.size > c.max {
		e := c.order.Back()
		ce := e.Value.(*chunkEntry)
		c.order.Remove(e)
		delete(c.byKey, ce.k)
		c.size -= len(ce.p)
	}
}
