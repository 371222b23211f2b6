// Package grid is the client's storage broker: it knows the storage servers
// of the grid (from introducers' announcements and from the static list in
// private/servers.yaml), keeps a connection to each, and gives them in
// Tahoe's permuted order for each storage index (storage_client.py).
package grid

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"sync"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/crypt"
)

// Dialer connects to a storage server at one of its NURLs.
type Dialer func(ctx context.Context, nurl string) (lafs.StorageServer, error)

// Announcement is what a server announced (or what servers.yaml says of it):
// the fields the broker uses.
type Announcement struct {
	Nickname        string
	FURL            string   // anonymous-storage-FURL: its tubid is the lease seed
	NURLs           []string // anonymous-storage-NURLs: how to connect over HTTPS
	PermutationSeed string   // permutation-seed-base32, may be empty
	Seqnum          int64
	Version         string // my-version
	Raw             map[string]any
}

// State is one server's connection state, for status pages.
type State struct {
	ID               string
	Nickname         string
	Connected        bool
	Since            time.Time // of the current state
	LastReceivedData time.Time
	LastError        string
	Version          string
	AvailableSpace   uint64
	NURL             string
	// Unsupported says why the server cannot be used (see
	// Broker.AddUnsupported); empty for a server the broker connects to.
	Unsupported string
}

type entry struct {
	ann     Announcement
	latency *lafs.Latency // kept across announcements and reconnections
	server  *lafs.Server  // nil until connected
	state   State
	cancel  context.CancelFunc
}

// Broker tracks servers and connections. It implements lafs.Peers.
type Broker struct {
	dial   Dialer
	log    *slog.Logger
	mu     sync.Mutex
	byID   map[string]*entry
	ctx    context.Context
	stop   context.CancelFunc
	wg     sync.WaitGroup
	notify chan struct{}
	opt    brokerOptions
}

type brokerOptions struct {
	retryMax, checkEvery time.Duration
}

// BrokerOption tunes a Broker's connection loops.
type BrokerOption func(*brokerOptions)

// WithRetryMax bounds the back-off between connection attempts to a server
// (default 30 s).
func WithRetryMax(d time.Duration) BrokerOption { return func(o *brokerOptions) { o.retryMax = d } }

// WithCheckEvery sets how often a connected server's version is read
// again, to notice that it went away (default 30 s).
func WithCheckEvery(d time.Duration) BrokerOption { return func(o *brokerOptions) { o.checkEvery = d } }

// NewBroker returns a broker that connects with dial; log may be nil.
func NewBroker(dial Dialer, log *slog.Logger, opts ...BrokerOption) *Broker {
	if log == nil {
		log = slog.Default()
	}
	opt := brokerOptions{retryMax: 30 * time.Second, checkEvery: 30 * time.Second}
	for _, o := range opts {
		o(&opt)
	}
	ctx, stop := context.WithCancel(context.Background())
	return &Broker{dial: dial, log: log, byID: map[string]*entry{}, ctx: ctx, stop: stop,
		notify: make(chan struct{}), opt: opt}
}

// Close stops every connection loop.
func (b *Broker) Close() {
	b.stop()
	b.wg.Wait()
}

var furlTubID = regexp.MustCompile(`^pb://([a-z2-7]+)@`)

// ErrNoNURL is returned (wrapped) by Add for an announcement without
// anonymous-storage-NURLs: a server that speaks only Foolscap, such as
// Tahoe before 1.19, which the broker cannot reach.
var ErrNoNURL = errors.New("announcement has no anonymous-storage-NURLs")

// Add learns of (or updates) the server id from its announcement. An
// announcement with a lower seqnum than one already known is ignored, as
// Tahoe does; a newer one replaces the connection, or the record of an
// unsupported server.
func (b *Broker) Add(id string, ann Announcement) error {
	if len(ann.NURLs) == 0 {
		return fmt.Errorf("server %s: %w", id, ErrNoNURL)
	}
	srv := &lafs.Server{ID: id, Nickname: ann.Nickname}
	if m := furlTubID.FindStringSubmatch(ann.FURL); m != nil {
		if seed, err := lafs.ParseBase32Len(m[1], 20); err == nil {
			copy(srv.NodeID[:], seed)
		}
	}
	if srv.NodeID == (lafs.NodeID{}) {
		return fmt.Errorf("server %s: announcement has no usable anonymous-storage-FURL to take its lease seed from", id)
	}
	srv.PermutationSeed = permutationSeed(id, ann.PermutationSeed)

	b.mu.Lock()
	defer b.mu.Unlock()
	srv.Latency = new(lafs.Latency)
	if old, ok := b.byID[id]; ok {
		if ann.Seqnum < old.ann.Seqnum || (ann.Seqnum == old.ann.Seqnum && sameAnn(ann, old.ann)) {
			return nil
		}
		old.cancel()
		srv.Latency = old.latency
	}
	ctx, cancel := context.WithCancel(b.ctx)
	e := &entry{ann: ann, latency: srv.Latency, cancel: cancel, state: State{ID: id, Nickname: ann.Nickname, Since: time.Now(), Version: ann.Version}}
	b.byID[id] = e
	b.wg.Add(1)
	go b.maintain(ctx, e, srv)
	return nil
}

// AddUnsupported records the server id, known from its announcement,
// as one the broker cannot use, for reason (shown on status pages). Such
// a server is listed by States, never dialled, and never given by
// ServersFor. As in Add, an announcement with a lower seqnum than one
// already known is ignored; a newer one replaces the server's connection,
// and a later usable announcement given to Add replaces this record.
func (b *Broker) AddUnsupported(id string, ann Announcement, reason string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	latency, since := new(lafs.Latency), time.Now()
	if old, ok := b.byID[id]; ok {
		if ann.Seqnum < old.ann.Seqnum || (ann.Seqnum == old.ann.Seqnum && old.state.Unsupported == "") {
			return
		}
		old.cancel()
		latency = old.latency
		if old.state.Unsupported != "" {
			since = old.state.Since // still unsupported
		}
	}
	b.byID[id] = &entry{ann: ann, latency: latency, cancel: func() {},
		state: State{ID: id, Nickname: ann.Nickname, Since: since, Version: ann.Version, Unsupported: reason}}
}

func sameAnn(a, c Announcement) bool {
	if a.FURL != c.FURL || a.Nickname != c.Nickname || len(a.NURLs) != len(c.NURLs) || a.PermutationSeed != c.PermutationSeed {
		return false
	}
	for i := range a.NURLs {
		if a.NURLs[i] != c.NURLs[i] {
			return false
		}
	}
	return true
}

// permutationSeed is Tahoe's choice: the announced seed, else the decoded
// public key of a v0- server id, else SHA-256 of the id.
func permutationSeed(id, announced string) []byte {
	if announced != "" {
		if b, err := lafs.ParseBase32(announced); err == nil {
			return b
		}
	}
	if len(id) == 3+52 && id[:3] == "v0-" {
		if b, err := lafs.ParseBase32(id[3:]); err == nil {
			return b
		}
	}
	h := sha256.Sum256([]byte(id))
	return h[:]
}

// maintain connects to a server, then checks on it, reconnecting with
// back-off after failures, until ctx ends.
func (b *Broker) maintain(ctx context.Context, e *entry, srv *lafs.Server) {
	defer b.wg.Done()
	backoff := time.Second / 4
	for ctx.Err() == nil {
		err := b.connectOnce(ctx, e, srv)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			backoff = time.Second / 4
			select {
			case <-ctx.Done():
				return
			case <-time.After(b.opt.checkEvery):
			}
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		if backoff *= 2; backoff > b.opt.retryMax {
			backoff = b.opt.retryMax
		}
	}
}

// connectOnce dials (if needed) and asks for the version, recording the
// outcome in the entry.
func (b *Broker) connectOnce(ctx context.Context, e *entry, srv *lafs.Server) error {
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	var err error
	var nurl string
	if srv.Storage == nil {
		for _, n := range e.ann.NURLs {
			var st lafs.StorageServer
			if st, err = b.dial(cctx, n); err == nil {
				srv.Storage, nurl = st, n
				break
			}
		}
	}
	var v lafs.ServerVersion
	if err == nil && srv.Storage != nil {
		v, err = srv.Storage.Version(cctx)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	was := e.state.Connected
	if err != nil {
		e.server = nil
		e.state.LastError = err.Error()
		if was {
			e.state.Connected, e.state.Since = false, now
			b.log.Info("lost storage server", "id", srv.ID, "err", err)
		}
		return err
	}
	if e.server == nil || e.server.MaxImmutableShareSize != v.MaximumImmutableShareSize {
		// Publish a fresh copy: users may hold the old one.
		cp := *srv
		cp.MaxImmutableShareSize = v.MaximumImmutableShareSize
		e.server = &cp
	}
	e.state.LastReceivedData = now
	e.state.AvailableSpace = v.AvailableSpace
	e.state.LastError = ""
	if nurl != "" {
		e.state.NURL = nurl
	}
	if !was {
		e.state.Connected, e.state.Since = true, now
		b.log.Info("connected to storage server", "id", srv.ID, "nickname", srv.Nickname)
		close(b.notify)
		b.notify = make(chan struct{})
	}
	return nil
}

// MarkFailed tells the broker that a request to the server failed, so
// that it re-checks the connection soon.
func (b *Broker) MarkFailed(id string, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e, ok := b.byID[id]; ok && e.state.Connected {
		e.state.LastError = err.Error()
	}
}

// ServersFor implements lafs.Peers: the connected servers, sorted by
// SHA-1(storage index || permutation seed).
func (b *Broker) ServersFor(si lafs.StorageIndex) []*lafs.Server {
	b.mu.Lock()
	var out []*lafs.Server
	for _, e := range b.byID {
		if e.server != nil {
			out = append(out, e.server)
		}
	}
	b.mu.Unlock()
	return Permute(si, out)
}

// Permute orders servers for a storage index as Tahoe does.
func Permute(si lafs.StorageIndex, servers []*lafs.Server) []*lafs.Server {
	type keyed struct {
		key [20]byte
		s   *lafs.Server
	}
	ks := make([]keyed, len(servers))
	for i, s := range servers {
		ks[i] = keyed{crypt.PermuteServerHash(si[:], s.PermutationSeed), s}
	}
	sort.Slice(ks, func(i, j int) bool {
		if c := bytes.Compare(ks[i].key[:], ks[j].key[:]); c != 0 {
			return c < 0
		}
		return ks[i].s.ID < ks[j].s.ID
	})
	out := make([]*lafs.Server, len(ks))
	for i, k := range ks {
		out[i] = k.s
	}
	return out
}

// States reports every known server's connection state, sorted by id,
// those recorded by AddUnsupported among them.
func (b *Broker) States() []State {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]State, 0, len(b.byID))
	for _, e := range b.byID {
		out = append(out, e.state)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// ErrTimeout is returned by WaitConnected when too few servers connected in time.
var ErrTimeout = errors.New("timed out waiting for storage servers")

// WaitConnected waits until at least n servers are connected.
func (b *Broker) WaitConnected(ctx context.Context, n int) error {
	for {
		b.mu.Lock()
		have := 0
		for _, e := range b.byID {
			if e.server != nil {
				have++
			}
		}
		ch := b.notify
		b.mu.Unlock()
		if have >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %d of %d connected", ErrTimeout, have, n)
		case <-ch:
		}
	}
}
