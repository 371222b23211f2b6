//go:build linux

package main

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lafs/lafs/internal/netaudit"
	"github.com/lafs/lafs/internal/testutil"
	"github.com/lafs/lafs/internal/tornet"
	"github.com/lafs/lafs/node"
)

// auditedProc is a "lafs run" process under strace (internal/netaudit).
type auditedProc struct {
	*proc
	name  string
	dir   string
	trace *netaudit.Trace
}

// startAudited runs "lafs run dir" under strace and waits until its log
// says ready.
func startAudited(t *testing.T, name, ready, dir string) *auditedProc {
	t.Helper()
	cmd := exec.Command(lafsBinary(t), "run", dir)
	a := &auditedProc{name: name, dir: dir, trace: netaudit.Wrap(t, cmd)}
	a.proc = startLogged(t, cmd, name, ready, 2*time.Minute, func(p *proc) {
		a.proc = p
		if t.Failed() {
			t.Logf("log of %s:\n%s", name, p.logs)
		}
		a.stop(t)
	})
	return a
}

// stop ends the node (SIGTERM, then SIGKILL) and waits until strace has
// written the last of its trace.
func (p *auditedProc) stop(t *testing.T) {
	select {
	case <-p.done:
		return
	default:
	}
	if err := p.trace.Signal(syscall.SIGTERM); err != nil {
		t.Logf("stopping %s: %v", p.name, err)
	}
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Errorf("%s did not stop within 30 s of SIGTERM", p.name)
		p.trace.Signal(syscall.SIGKILL)
		<-p.done
	}
}

// audit checks the trace of the stopped node p against allowed, and that
// it holds at least a connect to must (so that a trace that saw nothing
// cannot pass).
func (p *auditedProc) audit(t *testing.T, allowed func(netaudit.Event) bool, must string) {
	t.Helper()
	events, err := p.trace.Events()
	if err != nil {
		t.Fatalf("%s: %v", p.name, err)
	}
	if !slices.ContainsFunc(events, func(e netaudit.Event) bool {
		ap, ok := e.AddrPort()
		return ok && e.Syscall == "connect" && ap.String() == must
	}) {
		t.Errorf("%s: the trace (%d events) shows no connect to %s: did strace trace the node?", p.name, len(events), must)
	}
	if v := netaudit.Check(events, allowed); len(v) > 0 {
		t.Errorf("%s, which must hide its IP address: %s", p.name, netaudit.Format(v))
	}
	t.Logf("%s: %d network operations traced, %s", p.name, len(events), summary(events))
}

// summary counts events by call, family and address, for the log.
func summary(events []netaudit.Event) string {
	n := map[string]int{}
	for _, e := range events {
		n[fmt.Sprintf("%s %s %s", e.Syscall, e.Family, e.Addr)]++
	}
	var parts []string
	for k, c := range n {
		parts = append(parts, fmt.Sprintf("%s ×%d", k, c))
	}
	slices.Sort(parts)
	return strings.Join(parts, "; ")
}

// wantHiddenIP checks that --hide-ip wrote reveal-IP-address = false
// into the tahoe.cfg of each of dirs.
func wantHiddenIP(t *testing.T, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		cfg, err := os.ReadFile(filepath.Join(d, "tahoe.cfg"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(cfg), "reveal-IP-address = false") {
			t.Fatalf("%s: --hide-ip wrote no reveal-IP-address = false", filepath.Base(d))
		}
	}
}

// hiddenPolicy is what a node that hides its IP address may do: connect
// to its Tor or I2P router (via: Tor's SOCKS and control ports, or I2P's
// SAM bridge, 127.0.0.1:PORT) and to nothing else over IP; bind only loopback addresses (its listeners,
// behind an onion service, and Go's probe of the IPv6 stack); send no
// datagram to an address (a DNS query, for one); use unix sockets only
// inside its own folder; and talk to the kernel over netlink. Everything
// else, a family the audit does not know included, is a leak.
func hiddenPolicy(dir string, via ...string) func(netaudit.Event) bool {
	return func(e netaudit.Event) bool {
		switch e.Family {
		case "inet", "inet6":
			ap, ok := e.AddrPort()
			if !ok {
				return false
			}
			switch e.Syscall {
			case "connect":
				return slices.Contains(via, ap.String())
			case "bind":
				return ap.Addr().IsLoopback()
			}
			return false
		case "unix":
			rel, err := filepath.Rel(dir, e.Addr)
			return err == nil && filepath.IsAbs(e.Addr) && rel != ".." && !strings.HasPrefix(rel, "../")
		case "netlink":
			return true
		}
		return false
	}
}

// TestHeavyNoLeakOverTor is the leak test of issue #16: in a private Tor
// network, a storage node made with create-node --listen=tor --hide-ip and
// a client made with create-client --hide-ip ([connections] tcp = tor)
// find each other through an introducer on 127.0.0.1, which both reach
// through Tor; the client stores a file on the onion storage node and
// reads it back. Both nodes run as "lafs run" processes under strace,
// which records every connect, bind and send to an address they make,
// failed ones included; each may connect only to its own Tor's SOCKS and
// control ports. A leak, such as a direct connection to the introducer,
// would be a connect to another loopback port, and fails the test.
func TestHeavyNoLeakOverTor(t *testing.T) {
	testutil.Heavy(t)
	began := time.Now()
	tn := tornet.Start(t)
	clientTor := tn.NewClient(t) // the client's own tor, as on another machine
	netaudit.Require(t)
	dir := t.TempDir()
	must := func(args ...string) {
		t.Helper()
		if _, errOut, code := runCmd(t, nil, args...); code != 0 {
			t.Fatalf("lafs %s: %s", args[0], errOut)
		}
	}

	intro := filepath.Join(dir, "introducer")
	must("create-introducer", "--hostname", "127.0.0.1", intro)
	startProc(t, "introducer listening", "run", intro)
	b, err := os.ReadFile(filepath.Join(intro, "private", "introducer.nurl"))
	if err != nil {
		t.Fatal(err)
	}
	introNURL := strings.Fields(string(b))[0]

	sdir := filepath.Join(dir, "onion-storage")
	must("create-node", "--listen=tor", "--hide-ip", "--tor-control-port=tcp:"+tn.Control(), "--webport", "none",
		"--introducer", introNURL, "--nickname", "onion-storage", "--shares-needed", "1", "--shares-happy", "1", "--shares-total", "1", sdir)
	noKeyPool(t, sdir)
	cdir := filepath.Join(dir, "hidden-client")
	must("create-client", "--hide-ip", "--webport", "tcp:0:interface=127.0.0.1", "--introducer", introNURL,
		"--shares-needed", "1", "--shares-happy", "1", "--shares-total", "1", cdir)
	noKeyPool(t, cdir)
	editCfg(t, cdir, map[string]string{
		"connections.tcp":  "tor",
		"tor.socks.port":   "tcp:" + clientTor.SOCKS(),
		"tor.control.port": "tcp:" + clientTor.Control(),
	})
	wantHiddenIP(t, sdir, cdir)

	store := startAudited(t, "the onion storage node", "storage server listening", sdir)
	client := startAudited(t, "the hidden client", "web API listening", cdir)
	web := webURL(t, cdir)
	// The onion service's descriptor takes a while to reach the
	// network's directories.
	mustSeeServers(t, web, 1, 4*time.Minute)
	data := make([]byte, 200<<10)
	rand.Read(data)
	capStr := putGet(t, web, data)
	if !strings.HasPrefix(capStr, "URI:CHK:") {
		t.Errorf("PUT /uri answered a %.8s... cap, want a CHK file", capStr)
	}
	t.Logf("stored and read back %d bytes through Tor, %v after the start", len(data), time.Since(began).Round(time.Second))

	client.stop(t)
	store.stop(t)
	client.audit(t, hiddenPolicy(cdir, clientTor.SOCKS(), clientTor.Control()), clientTor.SOCKS())
	store.audit(t, hiddenPolicy(sdir, tn.SOCKS(), tn.Control()), tn.Control())
}

// TestHeavyNoLeakAuditSeesDirectConnection shows that the audit of
// TestHeavyNoLeakOverTor is not vacuous: a client that may reveal its IP
// address ([connections] tcp = tcp) connects straight to a storage node on
// 127.0.0.1, and the same policy, with a made-up Tor, reports that
// connection.
func TestHeavyNoLeakAuditSeesDirectConnection(t *testing.T) {
	testutil.Heavy(t)
	netaudit.Require(t)
	dir := t.TempDir()
	sdir := filepath.Join(dir, "storage")
	if _, errOut, code := runCmd(t, nil, "create-node", "--webport", "none", "--hostname", "127.0.0.1", sdir); code != 0 {
		t.Fatalf("create-node: %s", errOut)
	}
	startProc(t, "storage server listening", "run", sdir)
	u, err := url.Parse(readNURL(t, sdir))
	if err != nil {
		t.Fatal("the storage node's NURL does not parse")
	}
	storageAddr := u.Host
	entry, err := node.ServerEntry(sdir)
	if err != nil {
		t.Fatal(err)
	}

	cdir := filepath.Join(dir, "client")
	if _, errOut, code := runCmd(t, nil, "create-client", "--webport", "tcp:0:interface=127.0.0.1",
		"--shares-needed", "1", "--shares-happy", "1", "--shares-total", "1", cdir); code != 0 {
		t.Fatalf("create-client: %s", errOut)
	}
	noKeyPool(t, cdir)
	if err := os.WriteFile(filepath.Join(cdir, "private", "servers.yaml"), []byte(entry), 0o600); err != nil {
		t.Fatal(err)
	}
	client := startAudited(t, "the client", "web API listening", cdir)
	web := webURL(t, cdir)
	mustSeeServers(t, web, 1, 30*time.Second)
	putGet(t, web, []byte(strings.Repeat("seen by the audit\n", 2000)))
	client.stop(t)

	fakeTor := "127.0.0.1:9" // the discard port: no Tor here
	events, err := client.trace.Events()
	if err != nil {
		t.Fatal(err)
	}
	v := netaudit.Check(events, hiddenPolicy(cdir, fakeTor, fakeTor))
	t.Logf("the client's %d network operations: %s", len(events), summary(events))
	if !slices.ContainsFunc(v, func(e netaudit.Event) bool { return e.Syscall == "connect" && e.Addr == storageAddr }) {
		t.Errorf("the audit does not report the direct connection to the storage node (%s); it reports: %s\nall: %s",
			storageAddr, netaudit.Format(v), summary(events))
	}
}

// putGet stores data through the web API at web (PUT /uri), reads it back
// (GET /uri/CAP), checks the bytes and returns the cap.
func putGet(t *testing.T, web string, data []byte) string {
	t.Helper()
	hc := &http.Client{Timeout: 3 * time.Minute}
	req, err := http.NewRequest(http.MethodPut, strings.TrimSuffix(web, "/")+"/uri", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("PUT /uri: %v", err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT /uri: %s: %s", resp.Status, body)
	}
	capStr := strings.TrimSpace(string(body))
	resp, err = hc.Get(strings.TrimSuffix(web, "/") + "/uri/" + url.PathEscape(capStr))
	if err != nil {
		t.Fatalf("GET /uri/CAP: %v", err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /uri/CAP: %s, %v", resp.Status, err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("GET /uri/CAP: %d bytes back, want the %d stored", len(got), len(data))
	}
	return capStr
}

// webURL reads the web API's address from the node's node.url.
func webURL(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "node.url"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// noKeyPool sets [client] lafs.key-pool-size = 0: no background RSA work
// in a test that makes no mutable file.
func noKeyPool(t *testing.T, dir string) {
	t.Helper()
	editCfg(t, dir, map[string]string{"client.lafs.key-pool-size": "0"})
}

// editCfg sets keys ("section.key") of the node's tahoe.cfg.
func editCfg(t *testing.T, dir string, set map[string]string) {
	t.Helper()
	_, err := node.EditConfig(dir, func(f *node.CfgFile) error {
		for k, v := range set {
			section, key, _ := strings.Cut(k, ".")
			if err := f.Set(section, key, v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
