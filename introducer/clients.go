package introducer

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/lafs/lafs/introducer/foolscap"
)

// member is one introducer client of a Clients: Client for our HTTPS
// introducers, FoolscapClient for Tahoe's.
type member interface {
	Publish(Signed) error
	Status() Status
	Close() error
	firstAttempt() <-chan struct{}
}

// cacheDelay is how long announcements gather before the cache file is
// written again.
const cacheDelay = time.Second

// Clients is a node's set of introducer clients, one per petname of
// private/introducers.yaml: a NURL (with "#v=1") names one of our HTTPS
// introducers, a fURL one of Tahoe's, reached over Foolscap. It publishes
// to every introducer and merges what they announce: its
// AnnouncementFunc sees an announcement only if it is newer (by seqnum)
// than every one already seen for that server id from any introducer.
// Nothing is re-broadcast from one introducer to another, as in Tahoe.
// With WithCacheDir, each introducer's announcements are kept in Tahoe's
// private/introducer_PETNAME_cache.yaml, and read back when the
// introducer cannot be reached at start. Clients is safe for concurrent
// use.
type Clients struct {
	nickname string
	opts     []ClientOption
	cfg      clientConfig
	onAnn    AnnouncementFunc

	mu      sync.Mutex
	closed  bool
	clients map[string]member
	caches  map[string]*announcementCache
	pub     map[string]Signed // service -> newest, for clients added later
	wg      sync.WaitGroup

	deliverMu sync.Mutex // serializes onAnn and guards known
	known     map[string]known
}

// NewClients returns an empty set of introducer clients that will report
// nickname and pass merged announcements to fn. The options apply to every
// client added (an OnAnnouncement among them is overridden).
func NewClients(nickname string, fn AnnouncementFunc, opts ...ClientOption) *Clients {
	cs := &Clients{
		nickname: nickname,
		opts:     opts,
		onAnn:    fn,
		clients:  map[string]member{},
		caches:   map[string]*announcementCache{},
		pub:      map[string]Signed{},
		known:    map[string]known{},
	}
	for _, o := range opts {
		o(&cs.cfg)
	}
	return cs
}

// WithFoolscapTub sets the tub through which Clients reaches Tahoe's
// introducers (the node's Foolscap identity). Without it a fURL is
// refused with ErrFoolscap.
func WithFoolscapTub(t *foolscap.Tub) ClientOption { return func(c *clientConfig) { c.tub = t } }

// WithCacheDir has Clients keep each introducer's announcements in dir
// (the node's private/), as Tahoe does.
func WithCacheDir(dir string) ClientOption { return func(c *clientConfig) { c.cacheDir = dir } }

// IsFURL reports whether s is a Foolscap fURL rather than a NURL.
func IsFURL(s string) bool {
	_, err := foolscap.ParseFURL(s)
	return err == nil
}

// Add starts a client of the introducer at url (a NURL or a fURL) under
// petname, and publishes to it what was published before.
func (cs *Clients) Add(petname, url string) error {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.closed {
		return ErrClosed
	}
	if _, dup := cs.clients[petname]; dup {
		return fmt.Errorf("introducer %q: petname already in use", petname)
	}
	var cache *announcementCache
	if cs.cfg.cacheDir != "" {
		cache = &announcementCache{path: filepath.Join(cs.cfg.cacheDir, "introducer_"+petname+"_cache.yaml"), log: cs.cfg.log, anns: map[string]Announcement{}}
	}
	onAnn := func(serverID string, ann Announcement) {
		if cache != nil {
			cache.add(serverID, ann)
		}
		cs.merge(serverID, ann)
	}
	opts := append(append([]ClientOption(nil), cs.opts...), OnAnnouncement(onAnn))
	var m member
	var err error
	if IsFURL(url) {
		if cs.cfg.tub == nil {
			return fmt.Errorf("introducer %q: %w", petname, ErrFoolscap)
		}
		m, err = NewFoolscapClient(cs.cfg.tub, url, cs.nickname, opts...)
	} else {
		m, err = NewClient(url, cs.nickname, opts...)
	}
	if err != nil {
		return fmt.Errorf("introducer %q: %w", petname, err)
	}
	for _, s := range cs.pub {
		if err := m.Publish(s); err != nil {
			m.Close()
			return fmt.Errorf("introducer %q: %w", petname, err)
		}
	}
	cs.clients[petname] = m
	if cache != nil {
		cs.caches[petname] = cache
		cs.wg.Add(1)
		go func() {
			defer cs.wg.Done()
			<-m.firstAttempt()
			if m.Status().Connected {
				return
			}
			cs.loadCache(petname, cache)
		}()
	}
	return nil
}

// loadCache passes on the announcements an unreachable introducer gave
// before, as Tahoe does when its first connection fails. They were
// checked when they arrived; the cache is the node's own private file.
func (cs *Clients) loadCache(petname string, cache *announcementCache) {
	entries, skipped, err := readAnnouncementCache(cache.path)
	if err != nil {
		cs.cfg.logger().Warn("introducer cache unreadable", "introducer", petname, "err", err)
		return
	}
	if skipped > 0 {
		cs.cfg.logger().Warn("introducer cache has malformed entries; skipped them", "introducer", petname, "count", skipped)
	}
	if len(entries) == 0 {
		return
	}
	cs.cfg.logger().Info("introducer unreachable; using the servers it announced before", "introducer", petname, "servers", len(entries))
	for _, e := range entries {
		if e.Ann.String("service-name") != StorageService {
			continue
		}
		if _, _, err := checkAnnouncement(e.Ann); err != nil {
			continue
		}
		cache.seed(e.ServerID, e.Ann)
		cs.merge(e.ServerID, e.Ann)
	}
}

// merge is every client's AnnouncementFunc.
func (cs *Clients) merge(serverID string, ann Announcement) {
	_, seqnum, err := checkAnnouncement(ann)
	if err != nil {
		return // the client checked it already
	}
	cs.deliverMu.Lock()
	defer cs.deliverMu.Unlock()
	if old, ok := cs.known[serverID]; ok && seqnum <= old.seqnum {
		return
	}
	cs.known[serverID] = known{seqnum: seqnum}
	if cs.onAnn != nil {
		cs.onAnn(serverID, ann)
	}
}

// Publish publishes s through every client (see Client.Publish), and
// through clients added later.
func (cs *Clients) Publish(s Signed) error {
	service, _, err := checkSigned(s)
	if err != nil {
		return err
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.closed {
		return ErrClosed
	}
	var errs []error
	for petname, c := range cs.clients {
		if err := c.Publish(s); err != nil {
			errs = append(errs, fmt.Errorf("introducer %q: %w", petname, err))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if old, ok := cs.pub[service]; !ok || !bytes.Equal(old.Msg, s.Msg) {
		cs.pub[service] = s
	}
	return nil
}

// Statuses returns each client's status by petname.
func (cs *Clients) Statuses() map[string]Status {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	out := make(map[string]Status, len(cs.clients))
	for petname, c := range cs.clients {
		out[petname] = c.Status()
	}
	return out
}

// Connected counts the clients connected to their introducer.
func (cs *Clients) Connected() int {
	n := 0
	for _, st := range cs.Statuses() {
		if st.Connected {
			n++
		}
	}
	return n
}

// Close closes every client and writes their caches. It is safe to call
// more than once.
func (cs *Clients) Close() error {
	cs.mu.Lock()
	cs.closed = true
	clients := cs.clients
	caches := cs.caches
	cs.clients = map[string]member{}
	cs.caches = map[string]*announcementCache{}
	cs.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Close()
		}()
	}
	wg.Wait()
	cs.wg.Wait()
	for _, c := range caches {
		c.flush()
	}
	return nil
}

// announcementCache is one introducer's announcements, written to its
// cache file a moment after they change.
type announcementCache struct {
	path string
	log  interface {
		Warn(string, ...any)
	}

	mu      sync.Mutex
	anns    map[string]Announcement
	dirty   bool
	timer   *time.Timer
	writeMu sync.Mutex
}

// seed notes an announcement read from the file, which need not be
// written back.
func (c *announcementCache) seed(serverID string, ann Announcement) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.anns[serverID]; !ok {
		c.anns[serverID] = ann
	}
}

func (c *announcementCache) add(serverID string, ann Announcement) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.anns[serverID] = ann
	c.dirty = true
	if c.timer == nil {
		c.timer = time.AfterFunc(cacheDelay, c.flush)
	}
}

// flush writes the file if anything changed.
func (c *announcementCache) flush() {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	c.mu.Lock()
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	if !c.dirty {
		c.mu.Unlock()
		return
	}
	c.dirty = false
	entries := make([]cachedAnnouncement, 0, len(c.anns))
	for id, a := range c.anns {
		entries = append(entries, cachedAnnouncement{ServerID: id, Ann: a})
	}
	c.mu.Unlock()
	if err := writeAnnouncementCache(c.path, entries); err != nil && c.log != nil {
		c.log.Warn("writing the introducer cache failed", "file", c.path, "err", err)
	}
}
