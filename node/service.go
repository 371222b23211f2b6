package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/client"
	"github.com/lafs/lafs/grid"
	"github.com/lafs/lafs/immutable"
	"github.com/lafs/lafs/introducer"
	"github.com/lafs/lafs/introducer/foolscap"
	"github.com/lafs/lafs/mutable"
	"github.com/lafs/lafs/storage"
	"github.com/lafs/lafs/storagehttp"
)

// Version is what nodes announce as their software version.
var Version = "lafs/0.1.0"

// Node is a running node: the services its tahoe.cfg asks for.
type Node struct {
	Basedir  string
	Config   *Config
	Identity *Identity
	Log      *slog.Logger

	// Broker knows the grid's storage servers; Client stores and fetches
	// files through them (every kind of node but an introducer).
	Broker *grid.Broker
	Client *client.Client

	// Tub is the node's Foolscap identity (private/node.pem), through
	// which it reaches Tahoe's introducers and, on an introducer node,
	// serves Tahoe's nodes.
	Tub *foolscap.Tub
	// Introducers are the clients of the introducers this node uses.
	Introducers *introducer.Clients
	// IntroducerServer and IntroducerURLs are set on an introducer node.
	IntroducerServer *introducer.Server
	IntroducerURLs   *ServiceURLs

	// Storage is the storage server, when [storage] enabled.
	Storage     *storage.Server
	StorageURLs *ServiceURLs
	// Shares is where the storage server keeps its shares.
	Shares *OpenedShares
	// Dial makes every outbound connection of the node (to storage
	// servers and introducers), as [connections] and [tor] say: directly,
	// through Tor, or not at all (netdial.go).
	Dial DialFunc

	// tor is the node's own Tor, with [tor] launch = true (torlaunch.go).
	tor *launchedTor

	// i2pListener is the node's I2P destination ([i2p] dest = true),
	// served by the tub.port entry listen:i2p (i2p.go).
	i2pListener *i2pListener

	mu      sync.Mutex
	servers []*http.Server
	// newConns are the servers' connections that sent no request yet,
	// closed first when the node stops (shutdown.go).
	newConns []*newConns
	closers  []func()
	errc     chan error
}

// load reads the node directory's configuration and identity.
func load(basedir string, log *slog.Logger) (*Node, error) {
	cfg, err := ReadConfig(basedir)
	if err != nil {
		return nil, err
	}
	if err := checkHiding(cfg); err != nil {
		return nil, err
	}
	out, err := newOutbound(cfg)
	if err != nil {
		return nil, err
	}
	id, err := LoadOrCreateIdentity(basedir)
	if err != nil {
		return nil, err
	}
	n := &Node{Basedir: basedir, Config: cfg, Identity: id, Log: log, Dial: out.dial, errc: make(chan error, 8)}
	n.adoptTor(out) // [tor] launch = true (torlaunch.go)
	n.addCloser(out.closeI2P)
	return n, nil
}

// Start starts the node in basedir and returns once every service listens.
// It holds the directory (LockNodeDir) until Close, and fails, wrapping
// ErrNodeRunning, when another node runs there.
func Start(ctx context.Context, basedir string, log *slog.Logger) (*Node, error) {
	if log == nil {
		log = slog.Default()
	}
	// One node per directory (pidfile.go); the lock is the first closer,
	// so it is released last.
	lock, err := LockNodeDir(basedir)
	if err != nil {
		return nil, err
	}
	n, err := load(basedir, log)
	if err != nil {
		lock.Release()
		return nil, err
	}
	// Released last: before every closer load added too (the node's own
	// tor, its I2P session), so that the next node in this directory
	// finds them gone.
	n.mu.Lock()
	n.closers = append([]func(){lock.Release}, n.closers...)
	n.mu.Unlock()
	if err := n.startOnion(ctx); err != nil {
		n.Close()
		return nil, err
	}
	if err := n.startI2P(); err != nil {
		n.Close()
		return nil, err
	}
	if err := n.startTub(true); err != nil {
		n.Close()
		return nil, err
	}
	cfg := n.Config
	if err := n.startStorage(ctx); err != nil {
		n.Close()
		return nil, err
	}
	if cfg.Kind() == KindIntroducer {
		if err := n.startIntroducer(ctx); err != nil {
			n.Close()
			return nil, err
		}
		if err := n.startIntroducerWeb(); err != nil {
			n.Close()
			return nil, err
		}
		return n, nil
	}
	if err := n.startClient(ctx, true); err != nil {
		n.Close()
		return nil, err
	}
	if err := n.startIntroducerClients(ctx); err != nil {
		n.Close()
		return nil, err
	}
	if err := n.startWeb(ctx); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

// Errors delivers errors of services that stopped on their own.
func (n *Node) Errors() <-chan error { return n.errc }

func (n *Node) path(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(n.Basedir, p)
}

// startStorage serves the storage protocol over HTTPS on the tub listeners
// and writes private/storage.furl and private/storage.nurl.
func (n *Node) startStorage(ctx context.Context) error {
	sc := n.Config.Storage()
	nc := n.Config.Node()
	if !sc.Enabled || n.Config.Kind() == KindIntroducer {
		return nil
	}
	if nc.TubDisabled || len(nc.TubListeners) == 0 {
		return fmt.Errorf("%s: [storage] enabled needs [node] tub.port to listen on", n.Config.File())
	}
	shares, err := OpenShares(ctx, n.Basedir, n.Config, n.Identity.NodeID, OpenShareOptions{
		Logger:   n.Log.With("service", "storage"),
		Progress: rebuildLogger(n.Log.With("service", "lease-index")),
	})
	if err != nil {
		return err
	}
	dir := shares.Dir
	dropMigrationMarkers(dir, n.Log)
	scfg := storageConfig(n, sc, dir)
	scfg.Leases = shares.Leases
	if shares.MaxMutableShareSize != 0 {
		scfg.MaxMutableShareSize = shares.MaxMutableShareSize
	}
	srv, err := storage.New(shares.Backend, scfg)
	if err != nil {
		shares.Close()
		return err
	}
	// Closers run last first: the lease index and the backend (the disk's
	// journal) close after the storage server is done with them, and the
	// crawler stops before all.
	n.addCloser(func() {
		if err := shares.Close(); err != nil {
			n.Log.Warn("closing the storage backend", "err", err)
		}
	})
	n.Shares = shares
	n.Storage = srv
	crawlCtx, stopCrawl := context.WithCancel(context.WithoutCancel(ctx))
	crawled := make(chan struct{})
	go func() {
		defer close(crawled)
		if err := srv.Crawl(crawlCtx); err != nil {
			n.Log.Warn("storage crawler", "err", err)
		}
	}()
	n.addCloser(func() {
		stopCrawl()
		<-crawled
	})
	lns, err := n.listen(nc.TubListeners)
	if err != nil {
		return err
	}
	hints := n.locationHints(nc.Location, lns)
	urls, err := LoadOrCreateStorageURLs(n.Basedir, n.Identity, hints)
	if err != nil {
		for _, ln := range lns {
			ln.Close()
		}
		return err
	}
	n.StorageURLs = urls
	h := storagehttp.Handler(srv, []byte(urls.Swissnum), storagehttp.WithErrorLog(n.Log.With("service", "storage-http")))
	for _, ln := range lns {
		n.serveTLS(ln, h)
	}
	n.addCloser(func() { srv.Close() })
	n.Log.Info("storage server listening", "nurls", strings.Join(urls.NURLs, " "), "backend", shares.Kind, "dir", dir)
	return nil
}

// Files of the storage server in its folder, beside shares/: the shares
// taken out of service after failing their self-check, and the state of
// the lease checker (lafs's own; Tahoe's lease_checker.state and .history
// are left alone).
const (
	QuarantineDirName  = "corrupt"
	CrawlStateFileName = "lafs-lease-checker.json"
	advisoriesDirName  = "corruption-advisories"
)

// storageConfig is the storage server's configuration for the [storage]
// section sc, with its files in dir.
func storageConfig(n *Node, sc StorageConfig, dir string) storage.Config {
	return storage.Config{
		NodeID:             n.Identity.NodeID,
		ReservedSpace:      uint64(max(sc.ReservedSpace, 0)),
		ReadOnly:           sc.ReadOnly,
		ApplicationVersion: []byte(Version),
		AdvisoryDir:        filepath.Join(dir, advisoriesDirName),
		Logger:             n.Log.With("service", "storage"),
		VerifyShare:        verifyShare,
		QuarantineDir:      filepath.Join(dir, QuarantineDirName),
		Crawl: storage.CrawlConfig{
			StateFile: filepath.Join(dir, CrawlStateFileName),
			Pace:      storage.DefaultCrawlPace,
			Expiry:    expiryConfig(sc),
		},
	}
}

// verifyShare is the storage server's self-check of a share reported
// corrupt. A share of a layout the checker does not know is not known to
// be corrupt: its error wraps storage.ErrShareIncompatible, so the server
// keeps it.
func verifyShare(kind string, shnum lafs.ShareNum, share io.ReaderAt, size int64) error {
	var err error
	if kind == "immutable" {
		err = immutable.SelfCheckAt(shnum, share, size)
	} else {
		err = mutable.SelfCheckAt(shnum, share, size)
	}
	if errors.Is(err, immutable.ErrIncompatible) || errors.Is(err, mutable.ErrIncompatible) {
		return fmt.Errorf("%w: %w", storage.ErrShareIncompatible, err)
	}
	return err
}

// expiryConfig is the lease expiry rule of [storage] expire.*. As in
// Tahoe, the override applies in age mode and the cutoff date in
// cutoff-date mode only.
func expiryConfig(sc StorageConfig) storage.ExpiryConfig {
	e := storage.ExpiryConfig{
		Enabled:       sc.ExpireEnabled,
		Mode:          storage.ExpiryMode(sc.ExpireMode),
		KeepImmutable: !sc.ExpireImmutable,
		KeepMutable:   !sc.ExpireMutable,
	}
	switch sc.ExpireMode {
	case ExpireCutoffDate:
		e.CutoffDate = sc.ExpireCutoffDate
	default:
		if d := sc.ExpireOverrideLeaseDuration; d != nil {
			e.OverrideLeaseDuration = *d
		}
	}
	return e
}

// DialStorageWith connects to a storage server by NURL, pinning its
// certificate, making its connections with dial (nil: directly).
func DialStorageWith(ctx context.Context, nurl string, dial DialFunc) (lafs.StorageServer, error) {
	u, err := storagehttp.ParseNURL(nurl)
	if err != nil {
		return nil, err
	}
	if dial == nil {
		return storagehttp.Dial(u)
	}
	return storagehttp.Dial(u, storagehttp.WithDialContext(dial))
}

// PendingUploadsFile is where a running client node keeps the secrets of
// the immutable shares it is uploading, to abort them after a crash.
const PendingUploadsFile = "uploads-in-progress"

// startClient starts the storage broker, fed by private/servers.yaml, and
// the client on top of it. The node's own client (own, as for lafs run,
// not a Go program's OpenClient beside it) keeps the uploads in progress
// in private/, and aborts those a crash left.
func (n *Node) startClient(ctx context.Context, own bool) error {
	secrets, err := LoadOrCreateSecrets(n.Basedir)
	if err != nil {
		return err
	}
	n.Broker = grid.NewBroker(func(ctx context.Context, nurl string) (lafs.StorageServer, error) {
		return DialStorageWith(ctx, nurl, n.Dial)
	}, n.Log.With("service", "broker"))
	n.addCloser(n.Broker.Close)
	static, err := grid.StaticServers(filepath.Join(n.Basedir, "private", "servers.yaml"))
	if err != nil {
		return err
	}
	for id, ann := range static {
		n.addServer(id, ann, nil)
	}
	cc := n.Config.Client()
	tmp := n.Config.Node().TempDir
	if tmp == "" {
		tmp = "tmp"
	}
	tmp = n.path(tmp)
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return err
	}
	format := cap.SDMF
	if cc.MutableFormat == MDMF {
		format = cap.MDMF
	}
	cfg := client.Config{
		Params:        cc.Params(),
		Convergence:   secrets.Convergence,
		LeaseSecret:   secrets.Lease,
		Peers:         n.Broker,
		TempDir:       tmp,
		MutableFormat: format,
		KeyPoolSize:   keyPoolSize(n.Config.Kind(), cc.KeyPoolSize),
		Log:           n.Log.With("service", "client"),
	}
	if own {
		cfg.PendingUploads = filepath.Join(n.Basedir, "private", PendingUploadsFile)
		n.Client, err = client.New(cfg)
		if err != nil {
			return err
		}
		n.addCloser(func() { n.Client.Close() })
		return nil
	}
	// A program's client: closing it closes the node's connections.
	cfg.WaitForServers = true
	cfg.OnClose = func() { n.Close() }
	n.Client, err = client.New(cfg)
	return err
}

// keyPoolSize is how many RSA keys a node keeps ready for new mutable files
// and directories (making one takes about 100 ms of CPU): [client]
// lafs.key-pool-size, or by default 16 for a client and 2 for a storage
// node that is also a client.
func keyPoolSize(k Kind, configured int) int {
	if configured >= 0 {
		return configured
	}
	if k == KindClient {
		return 16
	}
	return 2
}

// OpenClient opens a client for the node directory basedir without running
// the node: it reads tahoe.cfg and private/, connects to the storage servers
// of private/servers.yaml and the introducers, and returns the client,
// whose uploads wait (within their ctx) for enough servers to connect.
// Close the client when done: that stops the connections too. This is how
// Go programs use a grid as their store.
func OpenClient(ctx context.Context, basedir string, log *slog.Logger) (*client.Client, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n, err := load(basedir, log)
	if err != nil {
		return nil, err
	}
	if err := n.startTub(false); err != nil {
		n.Close()
		return nil, err
	}
	if err := n.startClient(ctx, false); err != nil {
		n.Close()
		return nil, err
	}
	if err := n.startIntroducerClients(ctx); err != nil {
		n.Close()
		return nil, err
	}
	return n.Client, nil
}

// introducerLimits bound what Foolscap peers send an introducer: Tahoe's
// publish_v2 and subscribe_v2 calls are about a kilobyte.
var introducerLimits = foolscap.Limits{MaxMessage: 64 << 10, MaxString: introducer.MaxAnnouncementSize, MaxItems: 2000, MaxDepth: 16}

// startTub makes the node's Foolscap tub, with the node's identity. A
// client opened beside a running node (OpenClient, own false) gets a tub
// of its own, since two tubs with one ID would keep replacing each other's
// connections; it only subscribes, which needs no lasting identity.
func (n *Node) startTub(own bool) error {
	cert := n.Identity.TLSCert
	if !own {
		pemData, err := GenerateNodePEM()
		if err == nil {
			cert, err = ParseNodePEM(pemData)
		}
		if err != nil {
			return err
		}
	}
	opts := []foolscap.TubOption{foolscap.WithLogger(n.Log.With("service", "foolscap")), foolscap.WithDialer(n.Dial)}
	if n.Config.Kind() == KindIntroducer {
		opts = append(opts, foolscap.WithLimits(introducerLimits))
	}
	t, err := foolscap.NewTub(cert, opts...)
	if err != nil {
		return err
	}
	n.Tub = t
	n.addCloser(func() { t.Close() })
	return nil
}

// startIntroducer serves the introduction service on the tub listeners,
// over HTTPS to lafs nodes and over Foolscap to Tahoe's, on the same port
// as Tahoe serves Foolscap and HTTPS, and writes private/introducer.furl
// and private/introducer.nurl.
func (n *Node) startIntroducer(ctx context.Context) error {
	nc := n.Config.Node()
	if nc.TubDisabled || len(nc.TubListeners) == 0 {
		return fmt.Errorf("%s: an introducer needs [node] tub.port to listen on", n.Config.File())
	}
	lns, err := n.listen(nc.TubListeners)
	if err != nil {
		return err
	}
	urls, err := LoadOrCreateServiceURLs(n.Basedir, "introducer", n.Identity, n.locationHints(nc.Location, lns))
	if err != nil {
		for _, ln := range lns {
			ln.Close()
		}
		return err
	}
	n.IntroducerURLs = urls
	n.IntroducerServer = introducer.NewServer([]byte(urls.Swissnum),
		introducer.WithServerLogger(n.Log.With("service", "introducer")),
		introducer.WithApplicationVersion(Version))
	n.Tub.SetLocation(n.locationHints(nc.Location, lns)...)
	n.Tub.Register(urls.Swissnum, n.IntroducerServer.FoolscapService())
	tubCtx, stopTub := context.WithCancel(context.Background())
	for _, ln := range lns {
		n.serveTLS(foolscap.Demux(ln, func(c net.Conn) { n.Tub.ServeConn(tubCtx, c) }), n.IntroducerServer.Handler())
	}
	n.addCloser(func() { stopTub(); n.IntroducerServer.Close() })
	n.Log.Info("introducer listening", "nurls", strings.Join(urls.NURLs, " "))
	return nil
}

// startIntroducerClients connects to every introducer of
// private/introducers.yaml (and the deprecated [client] introducer.furl),
// feeds their announcements to the broker, and publishes this node's
// storage announcement. A fURL names one of Tahoe's introducers, reached
// over Foolscap; each introducer's announcements are cached in private/ as
// Tahoe caches them.
func (n *Node) startIntroducerClients(ctx context.Context) error {
	intros, err := introducer.ReadIntroducersYAML(filepath.Join(n.Basedir, "private", "introducers.yaml"))
	if err != nil {
		return err
	}
	if furl := n.Config.Client().IntroducerFURL; furl != "" {
		if intros, err = introducer.WithDeprecatedFURL(intros, furl); err != nil {
			return err
		}
	}
	n.Introducers = introducer.NewClients(n.Config.Node().Nickname, func(id string, a introducer.Announcement) {
		if a.String("service-name") != introducer.StorageService {
			return
		}
		ga, err := grid.AnnouncementFromMap(a)
		n.addServer(id, ga, err)
	}, introducer.WithLogger(n.Log.With("service", "introducer-client")), introducer.WithMyVersion(Version),
		introducer.WithDialContext(n.Dial),
		introducer.WithFoolscapTub(n.Tub), introducer.WithCacheDir(filepath.Join(n.Basedir, "private")))
	n.addCloser(func() { n.Introducers.Close() })
	for pet, addr := range intros {
		if err := n.Introducers.Add(pet, addr); err != nil {
			return err
		}
	}
	if n.StorageURLs != nil {
		ann, err := StorageAnnouncement(n.Basedir, n.Config, n.Identity, n.StorageURLs)
		if err != nil {
			return err
		}
		signed, err := introducer.Sign(ann, n.Identity.SigningKey)
		if err != nil {
			return err
		}
		if err := n.Introducers.Publish(signed); err != nil {
			return err
		}
		// A node also uses its own storage server, as Tahoe's does.
		if ga, err := grid.AnnouncementFromMap(ann); err == nil {
			n.Broker.Add(n.Identity.LongNodeID(), ga)
		}
	}
	return nil
}

// addServer gives the broker a storage server from servers.yaml or an
// introducer (err is the announcement's parse error). One that announces
// no NURL is listed as unsupported, with the reason, and never used.
func (n *Node) addServer(id string, ann grid.Announcement, err error) {
	if err == nil {
		err = n.Broker.Add(id, ann)
	}
	if errors.Is(err, grid.ErrNoNURL) {
		n.Broker.AddUnsupported(id, ann, "announces no NURL (HTTPS storage): Tahoe before 1.19 or Foolscap-only storage is not supported")
	}
	if err != nil {
		n.Log.Warn("ignoring storage server", "server", id, "err", err)
	}
}

// listen opens every TCP listener of tub.port, and gives the I2P
// destination's for listen:i2p.
func (n *Node) listen(eps []Endpoint) ([]net.Listener, error) {
	var lns []net.Listener
	for _, ep := range eps {
		if ep.Type == "listen:i2p" {
			if n.i2pListener == nil {
				for _, l := range lns {
					l.Close()
				}
				return nil, fmt.Errorf("%s: tub.port %q needs [i2p] dest = true", n.Config.File(), ep.Raw)
			}
			lns = append(lns, n.i2pListener)
			continue
		}
		if ep.Type == "listen:tor" {
			// The onion service's end: Tahoe's older form of
			// tcp:LOCAL:interface=127.0.0.1.
			ep = Endpoint{Raw: ep.Raw, Type: "tcp", Interface: "127.0.0.1", Port: n.Config.Tor().OnionLocalPort}
		}
		if !ep.IsTCP() {
			return nil, fmt.Errorf("%s: tub.port %q: only tcp listeners are supported so far", n.Config.File(), ep.Raw)
		}
		network := "tcp"
		if ep.Type == "tcp6" {
			network = "tcp6"
		}
		ln, err := net.Listen(network, net.JoinHostPort(ep.Interface, strconv.Itoa(ep.Port)))
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return nil, fmt.Errorf("listening on %s: %w", ep.Raw, err)
		}
		lns = append(lns, ln)
	}
	return lns, nil
}

// locationHints replaces AUTO in tub.location with the addresses the node
// listens on, as Tahoe does (loopback only when that is all there is).
func (n *Node) locationHints(location []string, lns []net.Listener) []string {
	var out []string
	for _, h := range location {
		if h != "AUTO" {
			out = append(out, h)
			continue
		}
		for _, ln := range lns {
			addr, ok := ln.Addr().(*net.TCPAddr)
			if !ok {
				continue // an I2P destination: named in tub.location
			}
			for _, ip := range autoAddresses(addr.IP) {
				out = append(out, "tcp:"+net.JoinHostPort(ip, strconv.Itoa(addr.Port)))
			}
		}
	}
	if len(out) == 0 {
		for _, ln := range lns {
			switch addr := ln.Addr().(type) {
			case *net.TCPAddr:
				out = append(out, "tcp:"+net.JoinHostPort("127.0.0.1", strconv.Itoa(addr.Port)))
			case i2pAddr:
				out = append(out, "i2p:"+addr.String())
			}
		}
	}
	return out
}

func autoAddresses(bound net.IP) []string {
	if bound != nil && !bound.IsUnspecified() {
		return []string{bound.String()}
	}
	var out []string
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && !ipn.IP.IsLoopback() {
			out = append(out, ipn.IP.String())
		}
	}
	if len(out) == 0 {
		out = []string{"127.0.0.1"}
	}
	return out
}

func (n *Node) serveTLS(ln net.Listener, h http.Handler) {
	s := storagehttp.NewServer(h, n.Identity.TLSCert)
	nc := trackNewConns(s)
	n.mu.Lock()
	n.servers = append(n.servers, s)
	n.newConns = append(n.newConns, nc)
	n.mu.Unlock()
	go func() {
		if err := s.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.errc <- fmt.Errorf("serving %s: %w", ln.Addr(), err)
		}
	}()
}

// The web API server's limits. Tahoe's web server (Twisted's HTTP
// channel) drops a connection that is silent for 60 s, whether a request's
// headers or body are late or a kept-alive connection sits idle. Here
// headers get webReadHeaderTimeout, idle connections webIdleTimeout, and a
// request body that stops arriving is cut by the web API itself
// (httpbody.DefaultIdle, timed per read): there is no ReadTimeout or
// WriteTimeout, which would cut slow but steady uploads and long
// downloads.
const (
	webReadHeaderTimeout = 30 * time.Second
	webIdleTimeout       = 60 * time.Second
)

// newWebServer returns the HTTP server of the web API h.
func newWebServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: webReadHeaderTimeout, IdleTimeout: webIdleTimeout}
}

func (n *Node) serve(ln net.Listener, h http.Handler) {
	s := newWebServer(h)
	nc := trackNewConns(s)
	n.mu.Lock()
	n.servers = append(n.servers, s)
	n.newConns = append(n.newConns, nc)
	n.mu.Unlock()
	go func() {
		if err := s.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.errc <- fmt.Errorf("serving %s: %w", ln.Addr(), err)
		}
	}()
}

func (n *Node) addCloser(f func()) {
	n.mu.Lock()
	n.closers = append(n.closers, f)
	n.mu.Unlock()
}

// Close stops every service, letting requests in flight finish for a few
// seconds.
func (n *Node) Close() error {
	n.mu.Lock()
	servers, closers, silent := n.servers, n.closers, n.newConns
	n.servers, n.closers, n.newConns = nil, nil, nil
	n.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for i, s := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Connections that sent no request are closed now and while
			// the server shuts down (one may be accepted meanwhile).
			stopped := make(chan struct{})
			go func() {
				tick := time.NewTicker(50 * time.Millisecond)
				defer tick.Stop()
				for {
					silent[i].closeAll()
					select {
					case <-stopped:
						return
					case <-tick.C:
					}
				}
			}()
			if err := s.Shutdown(ctx); err != nil {
				s.Close()
			}
			close(stopped)
		}()
	}
	wg.Wait()
	for i := len(closers) - 1; i >= 0; i-- {
		closers[i]()
	}
	return nil
}
