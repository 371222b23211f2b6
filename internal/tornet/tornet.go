// Package tornet starts a private Tor network on 127.0.0.1 for end-to-end
// tests of lafs over Tor: clients that reach servers through a Tor SOCKS
// port, and onion services.
//
// The network never touches the public Tor network. Every tor it starts
// runs with TestingTorNetwork 1 and UseDefaultFallbackDirs 0, and knows only
// the directory authorities of the network itself, whose keys are made
// afresh with tor-gencert. All listeners and all outgoing connections are
// bound to 127.0.0.1, and the exits accept 127.0.0.0/8 and reject every
// other address. Tests should name destinations by IP literal (127.0.0.1):
// the exits have no usable DNS.
//
// A network has three directory authorities, which are also exit relays,
// four more exit relays and one client tor. Every relay is voted Guard,
// Exit and HSDir, and the authorities vote every ten seconds, so a network
// is ready in about 15 seconds. Further clients, for example to run an
// onion service on another "machine", come from [Network.NewClient];
// [Client.AddOnion] publishes an onion service.
//
// Tor (Debian: apt-get install tor, which also installs tor-gencert) must be
// installed; without it [Start] skips the test, or fails it when
// LAFS_REQUIRE_TOR=1. Under -short it skips too, unless LAFS_HEAVY or
// LAFS_REQUIRE_TOR=1 is set. Each tor writes its log (notice.log, and
// info.log or debug.log when LAFS_TOR_LOG is info or debug) to a folder of
// t.TempDir(); the tail of every log is shown when the test fails. Every
// tor is stopped when the test that started it ends, and also exits by
// itself soon after the test process does (__OwningControllerProcess).
//
// The torrc settings follow chutney's templates (common.i, authority.i,
// relay-non-exit.tmpl, exit-v4.i, client.tmpl), narrowed to loopback, with
// these differences:
//   - clients use full descriptors (UseMicrodescriptors 0): a
//     microdescriptor summarizes an exit policy over the whole Internet, so
//     "accept 127.0.0.0/8:*" would read as "reject all" and no exit would
//     be chosen for 127.0.0.1;
//   - the authorities' voting schedule is placed (TestingV3AuthVotingStartOffset)
//     so that the first vote comes five seconds after launch;
//   - once the first consensus lists every relay, every other tor is told
//     to reload, which makes it fetch that consensus at once instead of
//     after its retry back-off.
package tornet

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/proxy"

	"github.com/lafs/lafs/internal/testutil"
)

// numAuthorities is the number of directory authorities. Three is the
// smallest number for which a majority (two) still signs a consensus if
// one is slow.
const numAuthorities = 3

// Voting schedule of the authorities, in seconds. The interval must divide
// a day evenly, and vote delay plus distribution delay must stay below half
// of it. A shorter interval than chutney's 20 s makes the first consensus
// come sooner; a consensus stays valid for intervalsValid intervals, so
// that a vote missed on a loaded machine does not leave clients without
// one.
const (
	votingInterval = 10
	voteDelay      = 2
	distDelay      = 2
	intervalsValid = 3
)

// firstVoteAfter is how long after the relays are launched the authorities
// first vote. By then every relay has started and published its descriptor
// (AssumeReachable 1 skips the reachability self-test); if one is late, it
// is in the next consensus, one interval later.
const firstVoteAfter = 5 * time.Second

// votingOffset returns the TestingV3AuthVotingStartOffset that puts the
// first vote firstVoteAfter from now. Authorities vote voteDelay+distDelay
// before each interval starts, and intervals start at midnight UTC plus
// the offset plus a multiple of the interval.
func votingOffset(now time.Time) int {
	now = now.UTC()
	start := now.Sub(now.Truncate(24*time.Hour)) + firstVoteAfter + (voteDelay+distDelay)*time.Second
	secs := int((start + time.Second - 1) / time.Second)
	return secs % votingInterval
}

// Defaults for the options.
const (
	defaultRelays  = 4
	defaultTimeout = 2 * time.Minute
)

// noTor says what to do when tor or tor-gencert cannot be found.
const noTor = "tornet: tor or tor-gencert not installed (apt-get install tor)"

// An Option changes how [Start] builds a network.
type Option func(*config)

type config struct {
	relays  int
	timeout time.Duration
}

// Relays sets the number of exit relays started besides the three
// authorities (which are exits too). The default is 4: with fewer relays,
// tor's path rules (no relay twice in a circuit, vanguards-lite's set of
// four layer-2 relays) often leave no rendezvous point for an onion
// connection, which then stalls for tens of seconds. n < 0 counts as 0.
func Relays(n int) Option {
	return func(c *config) { c.relays = max(n, 0) }
}

// Timeout bounds how long [Start] waits for the network to be usable
// before it fails the test. The default is 2 minutes.
func Timeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.timeout = d
		}
	}
}

// A Network is a running private Tor network. Its methods SOCKS, Control
// and ControlCookie describe its first client tor; more clients come from
// NewClient.
type Network struct {
	dir     string
	tor     string
	authLns []string // DirAuthority lines for every tor of the network

	mu      sync.Mutex
	procs   []*process // every tor started, relays and clients
	client  *Client
	nextCli int
}

// A Client is a client tor of a Network: it has a SOCKS port and a control
// port on 127.0.0.1, and no ORPort.
type Client struct {
	name  string
	socks string
	proc  *process
}

// SOCKS returns the address (127.0.0.1:PORT) of the SOCKS5 port of the
// network's first client tor.
func (n *Network) SOCKS() string { return n.client.SOCKS() }

// Control returns the address (127.0.0.1:PORT) of the control port of the
// network's first client tor. It takes cookie authentication; see
// ControlCookie.
func (n *Network) Control() string { return n.client.Control() }

// ControlCookie returns the path of the control port's authentication
// cookie file of the network's first client tor (32 bytes; send them in hex
// with AUTHENTICATE, or use SAFECOOKIE).
func (n *Network) ControlCookie() string { return n.client.ControlCookie() }

// Client returns the network's first client tor.
func (n *Network) Client() *Client { return n.client }

// SOCKS returns the address (127.0.0.1:PORT) of c's SOCKS5 port.
func (c *Client) SOCKS() string { return c.socks }

// Control returns the address (127.0.0.1:PORT) of c's control port, which
// takes cookie authentication (see ControlCookie).
func (c *Client) Control() string { return c.proc.control }

// ControlCookie returns the path of c's control authentication cookie file.
func (c *Client) ControlCookie() string { return c.proc.cookie }

// Start starts a private Tor network and waits until its client has
// bootstrapped and can reach a TCP listener on 127.0.0.1 through its SOCKS
// port. It skips t when tor is missing (or fails it when
// LAFS_REQUIRE_TOR=1) and fails t when the network does not come up within
// the timeout. Every tor is stopped when t ends.
func Start(t testing.TB, opts ...Option) *Network {
	t.Helper()
	cfg := config{relays: defaultRelays, timeout: defaultTimeout}
	for _, o := range opts {
		o(&cfg)
	}
	torPath, gencert := need(t)
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), cfg.timeout)
	defer cancel()

	n := &Network{dir: t.TempDir(), tor: torPath, nextCli: 1}
	t.Cleanup(func() {
		if t.Failed() {
			n.logTails(t)
		}
		n.stop()
	})
	if err := n.start(ctx, gencert, cfg.relays); err != nil {
		// The cleanup above shows the logs.
		t.Fatalf("tornet: private Tor network did not start after %v: %v", time.Since(began).Round(time.Millisecond), err)
	}
	t.Logf("tornet: private Tor network (%d authorities, %d more relays, 1 client) ready in %v; SOCKS %s",
		numAuthorities, cfg.relays, time.Since(began).Round(time.Millisecond), n.SOCKS())
	return n
}

// NewClient starts one more client tor in n, waits until it has
// bootstrapped and returns it. It is stopped when t ends (or when n is).
func (n *Network) NewClient(t testing.TB) *Client {
	t.Helper()
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), defaultTimeout)
	defer cancel()
	n.mu.Lock()
	name := fmt.Sprintf("client%d", n.nextCli)
	n.nextCli++
	n.mu.Unlock()
	c, err := n.startClient(ctx, name)
	if c != nil {
		t.Cleanup(func() {
			if t.Failed() {
				c.proc.logTail(t)
			}
			c.proc.stop()
		})
	}
	if err == nil {
		err = c.proc.waitBootstrap(ctx)
	}
	if err != nil {
		t.Fatalf("tornet: client tor %s did not start: %v", name, err)
	}
	t.Logf("tornet: client tor %s ready in %v; SOCKS %s", name, time.Since(began).Round(time.Millisecond), c.SOCKS())
	return c
}

// AddOnion makes an onion service on c (ADD_ONION NEW:ED25519-V3, detached
// from the control connection, key discarded) that forwards its virtual
// port virtPort to target, a host:port on 127.0.0.1. It waits until the
// service's descriptor has been uploaded to at least one HSDir and returns
// the service's address, "<56 letters>.onion". The service is removed when
// t ends. It fails t if that takes longer than 90 seconds.
func (c *Client) AddOnion(t testing.TB, virtPort int, target string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	id, err := c.addOnion(ctx, virtPort, target)
	if id != "" {
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if cc, err := dialControl(ctx, c.proc.control, c.proc.cookie); err == nil {
				cc.command(ctx, "DEL_ONION "+id)
				cc.close()
			}
		})
	}
	if err != nil {
		t.Fatalf("tornet: onion service on %s: %v", c.name, err)
	}
	return id + ".onion"
}

func (c *Client) addOnion(ctx context.Context, virtPort int, target string) (string, error) {
	if virtPort < 1 || virtPort > 65535 {
		return "", fmt.Errorf("tornet: onion service port %d out of range", virtPort)
	}
	if _, _, err := net.SplitHostPort(target); err != nil || strings.ContainsAny(target, " \t\r\n") {
		return "", fmt.Errorf("tornet: onion service target %q is not host:port", target)
	}
	cc, err := dialControl(ctx, c.proc.control, c.proc.cookie)
	if err != nil {
		return "", err
	}
	defer cc.close()
	if _, err := cc.command(ctx, "SETEVENTS HS_DESC"); err != nil {
		return "", err
	}
	lines, err := cc.command(ctx, fmt.Sprintf("ADD_ONION NEW:ED25519-V3 Flags=Detach,DiscardPK Port=%d,%s", virtPort, target))
	if err != nil {
		return "", err
	}
	var id string
	for _, l := range lines {
		if v, ok := strings.CutPrefix(l, "ServiceID="); ok {
			id = v
		}
	}
	if id == "" {
		return "", errors.New("tornet: ADD_ONION answered no ServiceID")
	}
	_, err = cc.waitEvent(ctx, func(ev string) bool {
		f := strings.Fields(ev)
		return len(f) >= 3 && f[0] == "HS_DESC" && f[1] == "UPLOADED" && f[2] == id
	})
	if err != nil {
		return id, fmt.Errorf("tornet: waiting for the descriptor of the onion service to be uploaded: %w", err)
	}
	return id, nil
}

// need returns the paths of tor and tor-gencert, or skips (or fails) t.
func need(t testing.TB) (torPath, gencert string) {
	t.Helper()
	required := os.Getenv("LAFS_REQUIRE_TOR") == "1"
	torPath, err1 := lookPath("tor", "/usr/sbin/tor")
	gencert, err2 := lookPath("tor-gencert", "/usr/bin/tor-gencert")
	if err := errors.Join(err1, err2); err != nil {
		if required {
			t.Fatalf("%s (LAFS_REQUIRE_TOR=1): %v", noTor, err)
		}
		t.Skipf("skipped: %s", noTor)
	}
	if testing.Short() && !required && os.Getenv("LAFS_HEAVY") == "" {
		t.Skip("skipped under -short: a private Tor network takes tens of seconds to start")
	}
	return torPath, gencert
}

func lookPath(name, fallback string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	if _, err := os.Stat(fallback); err != nil {
		return "", fmt.Errorf("%s not in $PATH nor at %s", name, fallback)
	}
	return fallback, nil
}

// start builds and starts the relays and the first client, and waits until
// every tor has bootstrapped and the client can reach 127.0.0.1 through
// Tor.
func (n *Network) start(ctx context.Context, gencert string, relays int) error {
	// Paths go into torrc lines unquoted.
	if strings.ContainsAny(n.dir, " \t\r\n\"\\#") {
		return fmt.Errorf("tornet: temporary folder %q has characters a torrc cannot take; set TMPDIR", n.dir)
	}
	if err := os.WriteFile(filepath.Join(n.dir, "empty"), nil, 0o600); err != nil {
		return fmt.Errorf("tornet: %w", err)
	}
	nrel := numAuthorities + relays
	// Each relay has an ORPort; each authority a DirPort too.
	ports, err := testutil.FreePorts(nrel + numAuthorities)
	if err != nil {
		return err
	}
	type relay struct {
		name, dir         string
		orPort, dirPort   int
		fingerprint, v3id string
	}
	rels := make([]*relay, nrel)
	for i := range rels {
		r := &relay{orPort: ports[i]}
		if i < numAuthorities {
			r.name = fmt.Sprintf("auth%d", i)
			r.dirPort = ports[nrel+i]
		} else {
			r.name = fmt.Sprintf("relay%d", i-numAuthorities)
		}
		r.dir = filepath.Join(n.dir, r.name)
		if err := os.MkdirAll(filepath.Join(r.dir, "keys"), 0o700); err != nil {
			return fmt.Errorf("tornet: %w", err)
		}
		rels[i] = r
	}

	// Make the authorities' keys, in parallel: tor-gencert makes a
	// 3072-bit RSA identity key, which takes a moment.
	var wg sync.WaitGroup
	errs := make([]error, numAuthorities)
	for i := range numAuthorities {
		r := rels[i]
		wg.Go(func() {
			r.fingerprint, errs[i] = n.fingerprint(ctx, r.dir, nick(r.name))
			if errs[i] == nil {
				r.v3id, errs[i] = authorityKeys(ctx, gencert, r.dir, r.dirPort)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	var dirAddrs, nicks []string
	for _, r := range rels[:numAuthorities] {
		n.authLns = append(n.authLns, fmt.Sprintf("DirAuthority %s orport=%d no-v2 v3ident=%s 127.0.0.1:%d %s",
			nick(r.name), r.orPort, r.v3id, r.dirPort, r.fingerprint))
		dirAddrs = append(dirAddrs, fmt.Sprintf("127.0.0.1:%d", r.dirPort))
	}

	offset := votingOffset(time.Now())
	var procs []*process
	for i, r := range rels {
		nicks = append(nicks, nick(r.name))
		var b strings.Builder
		n.commonTorrc(&b, r.dir, nick(r.name))
		fmt.Fprintf(&b, "SocksPort 0\n")
		fmt.Fprintf(&b, "ORPort 127.0.0.1:%d\n", r.orPort)
		fmt.Fprintf(&b, "Address 127.0.0.1\n")
		fmt.Fprintf(&b, "AssumeReachable 1\n")
		fmt.Fprintf(&b, "PublishServerDescriptor 1\n")
		fmt.Fprintf(&b, "ContactInfo %s@tornet.invalid\n", r.name)
		// An exit to loopback only (chutney's exit-v4.i without its
		// "accept *:*").
		fmt.Fprintf(&b, "ExitRelay 1\n")
		fmt.Fprintf(&b, "ExitPolicyRejectPrivate 0\n")
		fmt.Fprintf(&b, "ExitPolicyRejectLocalInterfaces 0\n")
		fmt.Fprintf(&b, "ExitPolicy accept 127.0.0.0/8:*\n")
		fmt.Fprintf(&b, "ExitPolicy reject *:*\n")
		// No DNS: no hijacking tests, and an empty resolv.conf (tor then
		// falls back to a resolver on 127.0.0.1).
		fmt.Fprintf(&b, "ServerDNSDetectHijacking 0\n")
		fmt.Fprintf(&b, "ServerDNSTestAddresses\n")
		fmt.Fprintf(&b, "ServerDNSResolvConfFile %s\n", filepath.Join(n.dir, "empty"))
		if i < numAuthorities {
			fmt.Fprintf(&b, "DirPort 127.0.0.1:%d\n", r.dirPort)
			fmt.Fprintf(&b, "AuthoritativeDirectory 1\n")
			fmt.Fprintf(&b, "V3AuthoritativeDirectory 1\n")
			fmt.Fprintf(&b, "TestingV3AuthInitialVotingInterval %d\n", votingInterval)
			fmt.Fprintf(&b, "TestingV3AuthInitialVoteDelay %d\n", voteDelay)
			fmt.Fprintf(&b, "TestingV3AuthInitialDistDelay %d\n", distDelay)
			fmt.Fprintf(&b, "V3AuthVotingInterval %d\n", votingInterval)
			fmt.Fprintf(&b, "V3AuthVoteDelay %d\n", voteDelay)
			fmt.Fprintf(&b, "V3AuthDistDelay %d\n", distDelay)
			fmt.Fprintf(&b, "TestingV3AuthVotingStartOffset %d\n", offset)
		}
		p, err := n.launch(ctx, r.name, r.dir, b.String())
		if err != nil {
			return err
		}
		procs = append(procs, p)
	}
	c, err := n.startClient(ctx, "client")
	if err != nil {
		return err
	}
	n.client = c
	procs = append(procs, c.proc)

	if err := n.waitConsensus(ctx, dirAddrs, nicks); err != nil {
		return err
	}
	// Tor retries a failed consensus download after a growing, random
	// delay: several seconds by the time the first consensus exists. A
	// reload (SIGHUP) makes it fetch at once. The relays need the
	// consensus too: an exit refuses streams from relays it does not
	// know.
	for _, p := range procs[numAuthorities:] {
		if err := p.reload(ctx); err != nil {
			return err
		}
	}
	errs = make([]error, len(procs))
	for i, p := range procs {
		wg.Go(func() { errs[i] = p.waitBootstrap(ctx) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return c.probe(ctx)
}

// waitConsensus waits until an authority (at one of dirAddrs) serves a
// consensus that lists every relay in nicks. A relay that published its
// descriptor too late for the first vote is in the next consensus.
func (n *Network) waitConsensus(ctx context.Context, dirAddrs, nicks []string) error {
	hc := &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 5 * time.Second}
	defer hc.CloseIdleConnections()
	last := "none yet"
	for i := 0; ; i++ {
		url := "http://" + dirAddrs[i%len(dirAddrs)] + "/tor/status-vote/current/consensus"
		if listed, err := consensusRelays(ctx, hc, url); err == nil {
			missing := 0
			for _, nk := range nicks {
				if !listed[nk] {
					missing++
				}
			}
			if missing == 0 {
				return nil
			}
			last = fmt.Sprintf("%d of %d relays listed", len(nicks)-missing, len(nicks))
		}
		if err := n.exited(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("tornet: waiting for a consensus (%s): %w", last, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// consensusRelays fetches the consensus at url and returns the nicknames
// it lists.
func consensusRelays(ctx context.Context, hc *http.Client, url string) (map[string]bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s", resp.Status)
	}
	var r io.Reader = resp.Body
	if resp.Header.Get("Content-Encoding") == "deflate" {
		zr, err := zlib.NewReader(r)
		if err != nil {
			return nil, err
		}
		r = zr
	}
	body, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return nil, err
	}
	listed := make(map[string]bool)
	for l := range strings.SplitSeq(string(body), "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "r" {
			listed[f[1]] = true
		}
	}
	return listed, nil
}

// exited returns an error if a tor of n has exited.
func (n *Network) exited() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, p := range n.procs {
		select {
		case <-p.done:
			return p.exitErr()
		default:
		}
	}
	return nil
}

// nick turns a node's name into its Tor nickname.
func nick(name string) string { return "lafs" + name }

// commonTorrc writes the settings every tor of the network shares.
func (n *Network) commonTorrc(b *strings.Builder, dir, nickname string) {
	empty := filepath.Join(n.dir, "empty")
	fmt.Fprintf(b, "TestingTorNetwork 1\n")
	fmt.Fprintf(b, "DataDirectory %s\n", dir)
	fmt.Fprintf(b, "Nickname %s\n", nickname)
	fmt.Fprintf(b, "Log notice file %s\n", filepath.Join(dir, "notice.log"))
	fmt.Fprintf(b, "SafeLogging 0\n")
	if lv := os.Getenv("LAFS_TOR_LOG"); lv == "info" || lv == "debug" {
		fmt.Fprintf(b, "Log %s file %s\n", lv, filepath.Join(dir, lv+".log"))
	}
	fmt.Fprintf(b, "LogTimeGranularity 1\n")
	fmt.Fprintf(b, "ShutdownWaitLength 0\n")
	fmt.Fprintf(b, "ControlPort 127.0.0.1:auto\n")
	fmt.Fprintf(b, "ControlPortWriteToFile %s\n", filepath.Join(dir, "control_port"))
	fmt.Fprintf(b, "CookieAuthentication 1\n")
	// Exit by itself when the test process is gone.
	fmt.Fprintf(b, "__OwningControllerProcess %d\n", os.Getpid())
	// Only our own authorities: never the public network.
	fmt.Fprintf(b, "UseDefaultFallbackDirs 0\n")
	for _, l := range n.authLns {
		fmt.Fprintf(b, "%s\n", l)
	}
	// No GeoIP: parsing the files costs a second of CPU per tor.
	fmt.Fprintf(b, "GeoIPFile %s\n", empty)
	fmt.Fprintf(b, "GeoIPv6File %s\n", empty)
	fmt.Fprintf(b, "OutboundBindAddress 127.0.0.1\n")
	fmt.Fprintf(b, "AddressDisableIPv6 1\n")
	fmt.Fprintf(b, "ClientUseIPv6 0\n")
	// Fast bootstrap of a tiny network (chutney's common.i).
	fmt.Fprintf(b, "PathsNeededToBuildCircuits 0.67\n")
	fmt.Fprintf(b, "TestingDirAuthVoteExit *\n")
	fmt.Fprintf(b, "TestingDirAuthVoteGuard *\n")
	fmt.Fprintf(b, "TestingDirAuthVoteHSDir *\n")
	fmt.Fprintf(b, "TestingMinExitFlagThreshold 0\n")
	fmt.Fprintf(b, "V3AuthNIntervalsValid %d\n", intervalsValid)
	fmt.Fprintf(b, "EnforceDistinctSubnets 0\n")
	// Microdescriptors summarize exit policies per port over the whole
	// Internet, so "accept 127.0.0.0/8:*" reads as "reject all" in them
	// and no exit would be chosen for 127.0.0.1. Full descriptors carry
	// the real policy.
	fmt.Fprintf(b, "UseMicrodescriptors 0\n")
}

// startClient starts a client tor named name, and learns its ports.
func (n *Network) startClient(ctx context.Context, name string) (*Client, error) {
	dir := filepath.Join(n.dir, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("tornet: %w", err)
	}
	var b strings.Builder
	n.commonTorrc(&b, dir, nick(name))
	fmt.Fprintf(&b, "SocksPort 127.0.0.1:auto\n")
	p, err := n.launch(ctx, name, dir, b.String())
	if p == nil {
		return nil, err
	}
	c := &Client{name: name, proc: p}
	if err != nil {
		return c, err
	}
	cc, err := dialControl(ctx, p.control, p.cookie)
	if err != nil {
		return c, err
	}
	defer cc.close()
	lines, err := cc.command(ctx, "GETINFO net/listeners/socks")
	if err != nil {
		return c, err
	}
	for _, l := range lines {
		if v, ok := strings.CutPrefix(l, "net/listeners/socks="); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				c.socks, _ = strconv.Unquote(f[0])
			}
		}
	}
	if c.socks == "" {
		return c, fmt.Errorf("tornet: client tor %s reports no SOCKS listener", name)
	}
	return c, nil
}

var (
	progressRE    = regexp.MustCompile(`PROGRESS=(\d+)`)
	fingerprintRE = regexp.MustCompile(`^[0-9A-F]{40}$`)
)

// waitBootstrap polls p's bootstrap phase until it reaches 100%.
func (p *process) waitBootstrap(ctx context.Context) error {
	cc, err := dialControl(ctx, p.control, p.cookie)
	if err != nil {
		return err
	}
	defer cc.close()
	last := ""
	for {
		lines, err := cc.command(ctx, "GETINFO status/bootstrap-phase")
		if err != nil {
			return fmt.Errorf("tornet: bootstrap of %s (last phase %q): %w", p.name, last, err)
		}
		for _, l := range lines {
			if v, ok := strings.CutPrefix(l, "status/bootstrap-phase="); ok {
				last = v
			}
		}
		if m := progressRE.FindStringSubmatch(last); m != nil && m[1] == "100" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("tornet: bootstrap of %s stuck at %q: %w", p.name, last, ctx.Err())
		case <-p.done:
			return p.exitErr()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// reload makes p reload its configuration (SIGHUP), which also makes it
// retry its directory downloads now.
func (p *process) reload(ctx context.Context) error {
	cc, err := dialControl(ctx, p.control, p.cookie)
	if err != nil {
		return err
	}
	defer cc.close()
	_, err = cc.command(ctx, "SIGNAL RELOAD")
	return err
}

// probe checks that c reaches a TCP listener on 127.0.0.1 through its SOCKS
// port, retrying until ctx ends: right after bootstrap the first circuits
// may still fail.
func (c *Client) probe(ctx context.Context) error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("tornet: probe listener: %w", err)
	}
	defer l.Close()
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				conn.SetDeadline(time.Now().Add(30 * time.Second))
				io.Copy(conn, conn)
			}()
		}
	}()
	d, err := proxy.SOCKS5("tcp", c.socks, nil, &net.Dialer{})
	if err != nil {
		return fmt.Errorf("tornet: SOCKS dialer: %w", err)
	}
	var lastErr error
	for {
		if lastErr = echo(ctx, d.(proxy.ContextDialer), l.Addr().String()); lastErr == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("tornet: no circuit from %s to 127.0.0.1: %w", c.name, lastErr)
		case <-c.proc.done:
			return c.proc.exitErr()
		case <-time.After(time.Second):
		}
	}
}

// echo dials addr through d, sends random bytes and expects them back.
func echo(ctx context.Context, d proxy.ContextDialer, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	msg := make([]byte, 16)
	rand.Read(msg)
	if _, err := conn.Write(msg); err != nil {
		return err
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(conn, got); err != nil {
		return err
	}
	if !bytes.Equal(got, msg) {
		return errors.New("echo answered other bytes")
	}
	return nil
}

// fingerprint makes the relay keys in dir and returns the relay's RSA
// identity fingerprint (40 hex digits).
func (n *Network) fingerprint(ctx context.Context, dir, nickname string) (string, error) {
	empty := filepath.Join(n.dir, "empty")
	cmd := exec.CommandContext(ctx, n.tor, "--defaults-torrc", empty, "-f", empty,
		"--DataDirectory", dir, "--Nickname", nickname, "--ORPort", "1",
		"--PublishServerDescriptor", "0", "--list-fingerprint")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("tornet: tor --list-fingerprint for %s: %w: %s", nickname, err, tail(out, 5))
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	f := strings.Fields(lines[len(lines)-1])
	fp := ""
	if len(f) > 1 && f[0] == nickname {
		fp = strings.Join(f[1:], "")
	}
	if !fingerprintRE.MatchString(fp) {
		return "", fmt.Errorf("tornet: tor --list-fingerprint for %s printed no fingerprint: %s", nickname, tail(out, 5))
	}
	return fp, nil
}

// authorityKeys makes an authority identity key, signing key and
// certificate in dir/keys with tor-gencert, and returns the authority's v3
// identity (the certificate's fingerprint).
func authorityKeys(ctx context.Context, gencert, dir string, dirPort int) (string, error) {
	keys := filepath.Join(dir, "keys")
	cert := filepath.Join(keys, "authority_certificate")
	cmd := exec.CommandContext(ctx, gencert, "--create-identity-key", "--passphrase-fd", "0",
		"-i", filepath.Join(keys, "authority_identity_key"),
		"-s", filepath.Join(keys, "authority_signing_key"),
		"-c", cert,
		"-m", "12",
		"-a", fmt.Sprintf("127.0.0.1:%d", dirPort))
	cmd.Stdin = strings.NewReader("tornet\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("tornet: tor-gencert: %w: %s", err, tail(out, 5))
	}
	b, err := os.ReadFile(cert)
	if err != nil {
		return "", fmt.Errorf("tornet: reading authority certificate: %w", err)
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "fingerprint "); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", errors.New("tornet: authority certificate has no fingerprint line")
}

// launch writes torrc into dir, starts a tor on it and waits until its
// control port listens. It returns the process even with an error, if it
// started.
func (n *Network) launch(ctx context.Context, name, dir, torrc string) (*process, error) {
	path := filepath.Join(dir, "torrc")
	if err := os.WriteFile(path, []byte(torrc), 0o600); err != nil {
		return nil, fmt.Errorf("tornet: %w", err)
	}
	out, err := os.Create(filepath.Join(dir, "stdout.log"))
	if err != nil {
		return nil, fmt.Errorf("tornet: %w", err)
	}
	cmd := exec.Command(n.tor, "--defaults-torrc", filepath.Join(n.dir, "empty"), "-f", path)
	cmd.Dir = dir
	cmd.Stdout = out
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("tornet: starting tor %s: %w", name, err)
	}
	p := &process{name: name, dir: dir, cmd: cmd, done: make(chan struct{}),
		cookie: filepath.Join(dir, "control_auth_cookie")}
	go func() {
		p.err = cmd.Wait()
		out.Close()
		close(p.done)
	}()
	n.mu.Lock()
	n.procs = append(n.procs, p)
	n.mu.Unlock()
	p.control, err = p.controlAddr(ctx)
	return p, err
}

// stop stops every tor of n.
func (n *Network) stop() {
	n.mu.Lock()
	procs := n.procs
	n.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Go(p.stop)
	}
	wg.Wait()
}

// logTails logs the end of every tor's log.
func (n *Network) logTails(t testing.TB) {
	t.Helper()
	n.mu.Lock()
	procs := n.procs
	n.mu.Unlock()
	for _, p := range procs {
		p.logTail(t)
	}
}

// A process is one running tor.
type process struct {
	name    string
	dir     string
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
	err     error         // cmd.Wait's result, once done is closed
	control string        // control port address
	cookie  string        // control cookie file
	shown   atomic.Bool   // whether logTail has shown the log
}

// stop ends p: SIGTERM, then SIGKILL if it lingers.
func (p *process) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.cmd.Process.Kill()
	}
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// exitErr describes p's early exit.
func (p *process) exitErr() error {
	return fmt.Errorf("tornet: tor %s exited: %v; log: %s", p.name, p.err, p.tail(5))
}

// controlAddr waits until p has written its control port's address and
// its authentication cookie (tor writes the cookie after the port file).
func (p *process) controlAddr(ctx context.Context) (string, error) {
	file := filepath.Join(p.dir, "control_port")
	for {
		if addr := readControlPort(file); addr != "" {
			if fi, err := os.Stat(p.cookie); err == nil && fi.Size() == 32 {
				return addr, nil
			}
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("tornet: tor %s wrote no control port and cookie: %w", p.name, ctx.Err())
		case <-p.done:
			return "", p.exitErr()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// readControlPort returns the address in a ControlPortWriteToFile file,
// or "" if there is none yet.
func readControlPort(file string) string {
	b, err := os.ReadFile(file)
	if err != nil {
		return ""
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "PORT="); ok {
			return v
		}
	}
	return ""
}

// tail returns the last n lines of p's log, or of its stdout where tor
// writes until it has read its configuration.
func (p *process) tail(n int) string {
	for _, f := range []string{"notice.log", "stdout.log"} {
		if b, err := os.ReadFile(filepath.Join(p.dir, f)); err == nil && len(bytes.TrimSpace(b)) > 0 {
			return tail(b, n)
		}
	}
	return "(no log)\n"
}

// logTail shows the tail of p's log in t's output, once.
func (p *process) logTail(t testing.TB) {
	t.Helper()
	if p.shown.Swap(true) {
		return
	}
	t.Logf("tornet: tail of tor %s's log (%s):\n%s", p.name, p.dir, p.tail(15))
}

// tail returns the last n lines of b.
func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n") + "\n"
}

// A controlConn is a connection to a tor control port (control-spec.txt),
// just enough of it for this package: commands, replies and asynchronous
// events.
type controlConn struct {
	conn   net.Conn
	r      *bufio.Reader
	events []string // asynchronous events (650) read while awaiting replies
}

// dialControl connects to the control port at addr and authenticates with
// the cookie in cookieFile.
func dialControl(ctx context.Context, addr, cookieFile string) (*controlConn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("tornet: control port: %w", err)
	}
	c := &controlConn{conn: conn, r: bufio.NewReader(conn)}
	cookie, err := os.ReadFile(cookieFile)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("tornet: control cookie: %w", err)
	}
	if _, err := c.command(ctx, "AUTHENTICATE "+hex.EncodeToString(cookie)); err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

func (c *controlConn) close() error { return c.conn.Close() }

// bound makes I/O on c end when ctx does; call the result when done.
func (c *controlConn) bound(ctx context.Context) func() bool {
	dl, _ := ctx.Deadline()
	c.conn.SetDeadline(dl)
	return context.AfterFunc(ctx, func() { c.conn.SetDeadline(time.Now()) })
}

// command sends one command line and returns the lines of its reply,
// without their status codes. A reply other than 2xx is an error. Only the
// command's keyword appears in errors: arguments may be secret.
func (c *controlConn) command(ctx context.Context, line string) ([]string, error) {
	defer c.bound(ctx)()
	verb, _, _ := strings.Cut(line, " ")
	if _, err := io.WriteString(c.conn, line+"\r\n"); err != nil {
		return nil, fmt.Errorf("tornet: control %s: %w", verb, err)
	}
	for {
		code, lines, err := c.readReply()
		if err != nil {
			return nil, fmt.Errorf("tornet: control %s: %w", verb, err)
		}
		if code == 650 {
			c.events = append(c.events, strings.Join(lines, "\n"))
			continue
		}
		if code/100 != 2 {
			return nil, fmt.Errorf("tornet: control %s: %d %s", verb, code, strings.Join(lines, "; "))
		}
		return lines, nil
	}
}

// waitEvent returns the first asynchronous event for which match is true,
// dropping the others.
func (c *controlConn) waitEvent(ctx context.Context, match func(string) bool) (string, error) {
	defer c.bound(ctx)()
	for {
		for len(c.events) > 0 {
			ev := c.events[0]
			c.events = c.events[1:]
			if match(ev) {
				return ev, nil
			}
		}
		code, lines, err := c.readReply()
		if err != nil {
			return "", fmt.Errorf("tornet: control events: %w", err)
		}
		if code == 650 {
			c.events = append(c.events, strings.Join(lines, "\n"))
		}
	}
}

// readReply reads one reply: "NNN-" lines, "NNN+" data blocks ending in a
// lone ".", and a final "NNN " line.
func (c *controlConn) readReply() (int, []string, error) {
	var lines []string
	for {
		line, err := c.readLine()
		if err != nil {
			return 0, nil, err
		}
		if len(line) < 4 {
			return 0, nil, fmt.Errorf("malformed reply line %q", line)
		}
		code, err := strconv.Atoi(line[:3])
		if err != nil {
			return 0, nil, fmt.Errorf("malformed reply line %q", line)
		}
		text := line[4:]
		switch line[3] {
		case ' ':
			return code, append(lines, text), nil
		case '-':
			lines = append(lines, text)
		case '+':
			for {
				l, err := c.readLine()
				if err != nil {
					return 0, nil, err
				}
				if l == "." {
					break
				}
				text += "\n" + strings.TrimPrefix(l, ".")
			}
			lines = append(lines, text)
		default:
			return 0, nil, fmt.Errorf("malformed reply line %q", line)
		}
	}
}

func (c *controlConn) readLine() (string, error) {
	l, err := c.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	return strings.TrimRight(l, "\r\n"), nil
}
