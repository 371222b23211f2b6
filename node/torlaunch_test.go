//go:build unix

package node

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lafs/lafs/internal/testutil"
	"github.com/lafs/lafs/internal/tornet"
)

// Every test here that starts tor starts it through tornet.TorWrapper (a
// shell script, hence unix only): with DisableNetwork 1 (no connection at
// all), or as a client of a private Tor network. None reaches the public
// Tor network.

// wrapperPIDs returns the process IDs of the tors that the wrapper exe
// has started, in order.
func wrapperPIDs(t *testing.T, exe string) []int {
	t.Helper()
	b, err := os.ReadFile(exe + ".pids")
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("%s.pids: %v", exe, err)
		}
		pids = append(pids, pid)
	}
	return pids
}

// alive reports whether process pid exists.
func alive(pid int) bool {
	return syscall.Kill(pid, 0) == nil
}

// waitGone fails t unless process pid is gone within a few seconds.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); alive(pid); {
		if time.Now().After(deadline) {
			t.Fatalf("tor (process %d) still runs", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCreateAndStartLaunchedTor: create-node --listen=tor --tor-launch
// --hide-ip starts tor to make the onion key, stops it again and writes
// Tahoe's [tor] launch = true configuration; the node then starts a tor
// of its own on private/tor.control, publishes its onion service there,
// announces pb+tor NURLs, and stops that tor when it closes.
func TestCreateAndStartLaunchedTor(t *testing.T) {
	exe := tornet.TorWrapper(t, nil)
	dir := filepath.Join(t.TempDir(), "launch-node")
	if err := Create(dir, CreateOptions{Listen: "tor", HideIP: true, TorLaunch: true, TorExecutable: exe, WebPort: "none"}); err != nil {
		t.Fatal(err)
	}
	pids := wrapperPIDs(t, exe)
	if len(pids) != 1 {
		t.Fatalf("create-node started %d tors, want 1", len(pids))
	}
	waitGone(t, pids[0])

	cfg, err := ReadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	nc, tc := cfg.Node(), cfg.Tor()
	if nc.RevealIPAddress || cfg.Connections().TCP != "tor" || !tc.Launch || tc.Executable != exe || tc.ControlPort != "" ||
		tc.SocksPort != "" || !tc.Onion || tc.OnionExternalPort != 3457 || tc.OnionPrivateKeyFile != filepath.FromSlash(onionKeyFile) ||
		len(nc.TubListeners) != 1 || nc.TubListeners[0].Interface != "127.0.0.1" || nc.TubListeners[0].Port != tc.OnionLocalPort ||
		len(nc.Location) != 1 || !strings.HasPrefix(nc.Location[0], "tor:") || !strings.HasSuffix(nc.Location[0], ".onion:3457") {
		t.Fatalf("the configuration written: node %+v, tor %+v, connections %+v", nc, tc, cfg.Connections())
	}
	raw, err := os.ReadFile(filepath.Join(dir, "tahoe.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "[tor]\nlaunch = true\ntor.executable = " + exe + "\nonion = true\n"; !strings.Contains(string(raw), want) {
		t.Errorf("tahoe.cfg has no %q:\n%s", want, raw)
	}
	key, err := os.ReadFile(filepath.Join(dir, "private", "tor_onion.privkey"))
	if err != nil || !bytes.HasPrefix(key, []byte("ED25519-V3:")) {
		t.Fatalf("the onion key: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "private", "tor_onion.privkey")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the onion key file: %v, %v", fi, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "private", "tor-statedir")); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Fatalf("private/tor-statedir: %v, %v", fi, err)
	}
	onion := strings.TrimSuffix(strings.TrimPrefix(nc.Location[0], "tor:"), ":3457")

	noKeyPool(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	n, err := Start(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	pids = wrapperPIDs(t, exe)
	if len(pids) != 2 || !alive(pids[1]) {
		t.Fatalf("the node's tor: process IDs %v, want a second, running one", pids)
	}
	for _, u := range n.StorageURLs.NURLs {
		if !strings.HasPrefix(u, "pb+tor://") || !strings.Contains(u, "@"+onion+":3457/") {
			t.Errorf("a storage NURL of the node: %s", u)
		}
	}
	sock := filepath.Join(dir, "private", "tor.control")
	if got := n.tor.proc.control; got != "unix:"+sock {
		t.Errorf("the node's tor's control port is %s, want unix:%s", got, sock)
	}
	// The service runs on the node's tor: the same key cannot be added
	// there again.
	c, err := dialTorControl(ctx, "unix:"+sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, _, err := c.addOnion(string(key), 3457, tc.OnionLocalPort); err == nil || !strings.Contains(err.Error(), "collision") {
		t.Errorf("adding the node's onion service again: %v, want a collision", err)
	}
	torrc, err := os.ReadFile(filepath.Join(dir, "private", "tor-statedir", "torrc"))
	if err != nil || !strings.Contains(string(torrc), "__OwningControllerProcess "+strconv.Itoa(os.Getpid())+"\n") {
		t.Errorf("the torrc written: %v\n%s", err, torrc)
	}
	n.Close()
	waitGone(t, pids[1])
	if len(wrapperPIDs(t, exe)) != 2 {
		t.Error("a tor started after the node closed")
	}
}

// TestLaunchedTorOutbound: a client with launch = true and tcp = tor
// starts no tor until it first connects somewhere; that connection
// starts the node's tor and asks its control port for the SOCKS port
// (which an offline tor has not: the error says so), and the tor stops
// when the node closes.
func TestLaunchedTorOutbound(t *testing.T) {
	exe := tornet.TorWrapper(t, nil)
	dir := filepath.Join(t.TempDir(), "client")
	if err := Create(dir, CreateOptions{Kind: KindClient, HideIP: true, WebPort: "none"}); err != nil {
		t.Fatal(err)
	}
	noKeyPool(t, dir)
	if _, err := EditConfig(dir, func(f *CfgFile) error {
		if err := f.Set("tor", "launch", "true"); err != nil {
			return err
		}
		return f.Set("tor", "tor.executable", exe)
	}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	n, err := Start(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if pids := wrapperPIDs(t, exe); len(pids) != 0 {
		t.Fatalf("a client with no onion service started tor at once: %v", pids)
	}
	_, err = n.Dial(ctx, "tcp", "127.0.0.1:9")
	if err == nil || !strings.Contains(err.Error(), "no TCP SOCKS port") {
		t.Fatalf("a connection through an offline launched tor: %v", err)
	}
	if _, err := n.Dial(ctx, "tcp", "127.0.0.1:9"); err == nil {
		t.Fatal("a second connection went through")
	}
	pids := wrapperPIDs(t, exe)
	if len(pids) != 1 || !alive(pids[0]) {
		t.Fatalf("the node's tor after two connections: process IDs %v, want one running", pids)
	}
	n.Close()
	waitGone(t, pids[0])
	if _, err := n.Dial(ctx, "tcp", "127.0.0.1:9"); !errors.Is(err, ErrTorExited) {
		t.Errorf("a connection after Close: %v, want ErrTorExited", err)
	}
	if len(wrapperPIDs(t, exe)) != 1 {
		t.Error("a tor started after the node closed")
	}
}

// TestLaunchedTorLongPath: a node directory too deep for a unix socket
// gets a control port on 127.0.0.1 (written to a file in the state
// directory); a path with a space keeps the unix socket.
func TestLaunchedTorLongPath(t *testing.T) {
	exe := tornet.TorWrapper(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, c := range []struct{ sub, prefix string }{
		{strings.Repeat("d", 120), "tcp:127.0.0.1:"},
		{"with space", "unix:"},
	} {
		private := filepath.Join(t.TempDir(), c.sub, "private")
		if err := os.MkdirAll(private, 0o700); err != nil {
			t.Fatal(err)
		}
		p, err := startTor(ctx, exe, "", private, "[tor] tor.executable")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(p.control, c.prefix) {
			t.Errorf("%d bytes of path: control port %s, want %s...", len(private), p.control, c.prefix)
		}
		tc, err := dialTorControl(ctx, p.control)
		if err != nil {
			t.Error(err)
		} else {
			tc.Close()
		}
		p.stop()
		if err := p.exited(); !errors.Is(err, ErrTorExited) {
			t.Errorf("after stop: %v", err)
		}
	}
}

// TestTorLaunchRefusals: launch = true goes with neither control.port nor
// socks.port, and create-node takes --tor-launch only with --listen=tor
// and without --tor-control-port, as Tahoe's does, and --tor-executable
// only with --tor-launch.
func TestTorLaunchRefusals(t *testing.T) {
	for _, text := range []string{
		"[tor]\nlaunch = true\ncontrol.port = tcp:127.0.0.1:9051\n",
		"[tor]\nlaunch = true\nsocks.port = tcp:127.0.0.1:9050\n",
		"[tor]\nlaunch = true\ncontrol.port = unix:/run/tor/control\nonion = true\nonion.local_port = 1\nonion.external_port = 2\nonion.private_key_file = k\n",
	} {
		cfg, err := ParseConfig("tahoe.cfg", []byte(text))
		if err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		if _, err := newOutbound(cfg); err == nil || !strings.Contains(err.Error(), "launch") || !strings.Contains(err.Error(), "not both") {
			t.Errorf("%q: %v, want a refusal", text, err)
		}
	}
	for _, c := range []struct {
		opts CreateOptions
		want string
	}{
		{CreateOptions{TorLaunch: true, Hostname: "h"}, "--tor-launch requires --listen=tor"},
		{CreateOptions{TorLaunch: true, Listen: "tor", TorControlPort: "tcp:127.0.0.1:9051"}, "not both"},
		{CreateOptions{TorExecutable: "/usr/sbin/tor", Listen: "tor"}, "--tor-executable= requires --tor-launch"},
		{CreateOptions{TorLaunch: true, Listen: "tor", TorExecutable: "tor\n"}, "line breaks"},
	} {
		dir := filepath.Join(t.TempDir(), "n")
		err := Create(dir, c.opts)
		if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want a usage error saying %q", c.opts, err, c.want)
		}
		if _, err := os.Stat(dir); err == nil {
			t.Errorf("%+v: the directory was made", c.opts)
		}
	}
}

// TestTorLaunchBadExecutable: a tor program that does not exist, or
// that exits at once, stops create-node (naming --tor-executable) and a
// node with an onion service (naming [tor] tor.executable), with the end
// of the program's output; nothing needs tor installed.
func TestTorLaunchBadExecutable(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-such-tor")
	failing := filepath.Join(t.TempDir(), "failing-tor")
	if err := os.WriteFile(failing, []byte("#!/bin/sh\necho '[warn] Failed to parse/validate config: an unknown option' >&2\nexit 1\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, exe := range []string{missing, failing} {
		dir := filepath.Join(t.TempDir(), "n")
		err := Create(dir, CreateOptions{Listen: "tor", TorLaunch: true, TorExecutable: exe, WebPort: "none"})
		if err == nil || !strings.Contains(err.Error(), "--tor-executable") || !strings.Contains(err.Error(), exe) {
			t.Errorf("create-node --tor-executable=%s: %v", exe, err)
		}
		if exe == failing && (err == nil || !strings.Contains(err.Error(), "an unknown option")) {
			t.Errorf("the error does not show tor's output: %v", err)
		}
		if _, err := os.Stat(dir); err == nil {
			t.Errorf("a failed create-node --tor-launch made %s", dir)
		}

		// A node with an onion service starts its tor at once.
		dir = filepath.Join(t.TempDir(), "onion")
		if err := Create(dir, CreateOptions{Kind: KindClient, HideIP: true, WebPort: "none"}); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "private", "k"), []byte("ED25519-V3:x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := EditConfig(dir, func(f *CfgFile) error {
			for k, v := range map[string]string{"launch": "true", "tor.executable": exe, "onion": "true",
				"onion.local_port": "45678", "onion.external_port": "3457", "onion.private_key_file": "private/k"} {
				if err := f.Set("tor", k, v); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		n, err := Start(ctx, dir, nil)
		cancel()
		if err == nil {
			n.Close()
			t.Fatalf("a node whose tor.executable is %s started", exe)
		}
		if !strings.Contains(err.Error(), "[tor] tor.executable") || !strings.Contains(err.Error(), exe) {
			t.Errorf("starting with tor.executable = %s: %v", exe, err)
		}
	}
}

// TestHeavyLaunchedTorOnionGrid: as TestHeavyOnionGrid, in a private Tor
// network on 127.0.0.1, but the storage node, made with create-node
// --listen=tor --tor-launch --hide-ip, runs a tor of its own (a client of
// the private network): a client with [connections] tcp = disabled,
// reaching Tor through one of the network's tors, stores a file on it
// through its onion service and reads it back.
func TestHeavyLaunchedTorOnionGrid(t *testing.T) {
	testutil.Heavy(t)
	tn := tornet.Start(t)
	exe := tornet.TorWrapper(t, tn)

	sdir := filepath.Join(t.TempDir(), "launch-storage")
	if err := Create(sdir, CreateOptions{Listen: "tor", HideIP: true, TorLaunch: true, TorExecutable: exe,
		WebPort: "none", Nickname: "launch-storage", SharesNeeded: 1, SharesHappy: 1, SharesTotal: 2}); err != nil {
		t.Fatal(err)
	}
	noKeyPool(t, sdir)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	store, err := Start(ctx, sdir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if u := store.StorageURLs.NURLs[0]; !strings.HasPrefix(u, "pb+tor://") || !strings.Contains(u, ".onion:") {
		t.Fatalf("the onion node announces %s", u)
	}
	entry, err := ServerEntry(sdir)
	if err != nil {
		t.Fatal(err)
	}

	cdir := filepath.Join(t.TempDir(), "client")
	if err := Create(cdir, CreateOptions{Kind: KindClient, WebPort: "none", HideIP: true, SharesNeeded: 1, SharesHappy: 1, SharesTotal: 2}); err != nil {
		t.Fatal(err)
	}
	noKeyPool(t, cdir)
	if _, err := EditConfig(cdir, func(f *CfgFile) error {
		if err := f.Set("connections", "tcp", "disabled"); err != nil {
			return err
		}
		return f.Set("tor", "socks.port", "tcp:"+tn.SOCKS())
	}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cdir, "private", "servers.yaml"), []byte(entry), 0o600); err != nil {
		t.Fatal(err)
	}
	cl, err := Start(ctx, cdir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	// The node's tor bootstraps in the private network, then publishes
	// the service's descriptor.
	for deadline := time.Now().Add(4 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		connected := 0
		for _, s := range cl.Broker.States() {
			if s.Connected {
				connected++
			}
		}
		if connected == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the client never reached the storage node's onion service")
		}
	}
	data := bytes.Repeat([]byte("through the storage node's own tor\n"), 4000)
	roundTrip(t, ctx, cl.Client, data)
	pids := wrapperPIDs(t, exe)
	store.Close()
	for _, pid := range pids {
		waitGone(t, pid)
	}
}
