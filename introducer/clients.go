package introducer

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
)

// Clients is a node's set of introducer clients, one per petname of
// private/introducers.yaml. It publishes to every introducer and merges
// what they announce: its AnnouncementFunc sees an announcement only if it
// is newer (by seqnum) than every one already seen for that server id from
// any introducer. Nothing is re-broadcast from one introducer to another,
// as in Tahoe. Clients is safe for concurrent use.
type Clients struct {
	nickname string
	opts     []ClientOption
	onAnn    AnnouncementFunc

	mu      sync.Mutex
	closed  bool
	clients map[string]*Client
	pub     map[string]Signed // service -> newest, for clients added later

	deliverMu sync.Mutex // serializes onAnn and guards known
	known     map[string]known
}

// NewClients returns an empty set of introducer clients that will report
// nickname and pass merged announcements to fn. The options apply to every
// client added (an OnAnnouncement among them is overridden).
func NewClients(nickname string, fn AnnouncementFunc, opts ...ClientOption) *Clients {
	return &Clients{
		nickname: nickname,
		opts:     opts,
		onAnn:    fn,
		clients:  map[string]*Client{},
		pub:      map[string]Signed{},
		known:    map[string]known{},
	}
}

// Add starts a client of the introducer at nurl under petname, and
// publishes to it what was published before. The error of a Foolscap fURL
// wraps ErrFoolscap: log it and go on.
func (cs *Clients) Add(petname, nurl string) error {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.closed {
		return ErrClosed
	}
	if _, dup := cs.clients[petname]; dup {
		return fmt.Errorf("introducer %q: petname already in use", petname)
	}
	opts := append(append([]ClientOption(nil), cs.opts...), OnAnnouncement(cs.merge))
	c, err := NewClient(nurl, cs.nickname, opts...)
	if err != nil {
		return fmt.Errorf("introducer %q: %w", petname, err)
	}
	for _, s := range cs.pub {
		if err := c.Publish(s); err != nil {
			c.Close()
			return fmt.Errorf("introducer %q: %w", petname, err)
		}
	}
	cs.clients[petname] = c
	return nil
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

// Close closes every client. It is safe to call more than once.
func (cs *Clients) Close() error {
	cs.mu.Lock()
	cs.closed = true
	clients := cs.clients
	cs.clients = map[string]*Client{}
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
	return nil
}
