package node

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lafs/lafs/internal/tornet"
)

// TestTorControlOnion: against a real tor, the control client
// authenticates (SAFECOOKIE), makes a new onion service and gets its key,
// removes it, and brings the same service back from the key.
func TestTorControlOnion(t *testing.T) {
	addr := tornet.StartOffline(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := dialTorControl(ctx, "tcp:"+addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	host, key, err := c.addOnion("NEW:ED25519-V3", 3457, 45678)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(host, ".onion") || len(host) != 56+len(".onion") || !strings.HasPrefix(key, "ED25519-V3:") {
		t.Fatalf("new onion service %q, key %q", host, key[:min(len(key), 11)])
	}
	if err := c.delOnion(host); err != nil {
		t.Fatal(err)
	}
	again, fresh, err := c.addOnion(key, 3457, 45678)
	if err != nil || again != host || fresh != "" {
		t.Fatalf("the service from its key: %q (new key %v), %v; want %q", again, fresh != "", err, host)
	}
	if _, _, err := c.addOnion("garbage", 1, 2); err == nil {
		t.Error("a malformed key was taken")
	}
	if _, err := dialTorControl(ctx, "tcp:127.0.0.1:1"); err == nil {
		t.Error("a closed control port answered")
	}
}

// TestCreateAndStartOnionNode: create-node --listen=tor --hide-ip makes an
// onion service through a real tor's control port (then removes it), and
// writes the configuration Tahoe writes; the node then starts with the
// service added back from its key, announces pb+tor NURLs at the onion
// address, and listens on loopback only. A key that does not match the
// announced address stops the node.
func TestCreateAndStartOnionNode(t *testing.T) {
	ctrl := tornet.StartOffline(t)
	dir := filepath.Join(t.TempDir(), "onion-node")
	if err := Create(dir, CreateOptions{Listen: "tor", HideIP: true, TorControlPort: "tcp:" + ctrl, WebPort: "none"}); err != nil {
		t.Fatal(err)
	}
	noKeyPool(t, dir)
	cfg, err := ReadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	nc, tc := cfg.Node(), cfg.Tor()
	if nc.RevealIPAddress || cfg.Connections().TCP != "tor" || !tc.Onion || tc.ControlPort != "tcp:"+ctrl ||
		tc.OnionExternalPort != 3457 || len(nc.TubListeners) != 1 || nc.TubListeners[0].Interface != "127.0.0.1" ||
		nc.TubListeners[0].Port != tc.OnionLocalPort || len(nc.Location) != 1 || !strings.HasPrefix(nc.Location[0], "tor:") {
		t.Fatalf("the configuration written: node %+v, tor %+v, connections %+v", nc, tc, cfg.Connections())
	}
	if fi, err := os.Stat(filepath.Join(dir, "private", "tor_onion.privkey")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the onion key file: %v, %v", fi, err)
	}
	onion := strings.TrimPrefix(strings.TrimSuffix(nc.Location[0], ":3457"), "tor:")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := Start(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range n.StorageURLs.NURLs {
		if !strings.HasPrefix(u, "pb+tor://") || !strings.Contains(u, "@"+onion+":3457/") {
			t.Errorf("a storage NURL of the onion node: %s", u)
		}
	}
	n.Close()

	// Another onion address in tub.location than the key's: refused.
	if _, err := EditConfig(dir, func(f *CfgFile) error {
		return f.Set("node", "tub.location", "tor:"+strings.Repeat("a", 56)+".onion:3457")
	}); err != nil {
		t.Fatal(err)
	}
	if n, err := Start(ctx, dir, nil); err == nil {
		n.Close()
		t.Fatal("a node announcing another onion address than its key's started")
	} else if !strings.Contains(err.Error(), "onion.private_key_file") {
		t.Fatalf("the mismatch: %v", err)
	}
}

// TestCreateOnionWithoutTor: --listen=tor with no Tor to ask writes
// nothing and says so.
func TestCreateOnionWithoutTor(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "n")
	err := Create(dir, CreateOptions{Listen: "tor", TorControlPort: "tcp:127.0.0.1:1", WebPort: "none"})
	if err == nil || !strings.Contains(err.Error(), "control port") {
		t.Fatalf("create with no Tor: %v", err)
	}
	if _, serr := os.Stat(dir); serr == nil {
		t.Error("a failed create left the directory")
	}
	for _, o := range []CreateOptions{{TorLaunch: true}, {TorControlPort: "tcp:127.0.0.1:9051", Hostname: "x"}} {
		if err := Create(filepath.Join(t.TempDir(), "m"), o); !errors.Is(err, ErrUsage) {
			t.Errorf("%+v: %v, want a usage error", o, err)
		}
	}
}

func TestUnquoteControl(t *testing.T) {
	for in, want := range map[string]string{
		`"/var/lib/tor/control_auth_cookie"`: "/var/lib/tor/control_auth_cookie",
		`"/home/o\'brien/tor/cookie"`:        "/home/o'brien/tor/cookie",
		`"a\\b\"c\101"`:                      `a\b"cA`,
	} {
		if got, err := unquoteControl(in); err != nil || got != want {
			t.Errorf("unquoteControl(%s) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{`noquotes`, `"open`, `"a"b"`, `"trailing\"`, `"\9"`, `"\12"`} {
		if got, err := unquoteControl(bad); err == nil {
			t.Errorf("unquoteControl(%s) = %q, want an error", bad, got)
		}
	}
}

// fakeControl serves one scripted control connection: it answers each
// command line with the next reply of replies.
func fakeControl(t *testing.T, replies ...string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 4096)
		for _, r := range replies {
			if _, err := c.Read(buf); err != nil {
				return
			}
			if _, err := c.Write([]byte(r)); err != nil {
				return
			}
		}
		time.Sleep(time.Second)
	}()
	return "tcp:" + ln.Addr().String()
}

// TestTorControlHostile: a control port that is not Tor's gets nothing:
// no file that is not a 32-byte cookie is sent (its key files above
// all), a huge reply line is refused, and a multi-line error leaves the
// next command its own reply.
func TestTorControlHostile(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	secret := filepath.Join(t.TempDir(), "tor_onion.privkey")
	os.WriteFile(secret, []byte("ED25519-V3:secret-key-material-that-must-stay-here"), 0o600)
	ep := fakeControl(t, "250-PROTOCOLINFO 1\r\n250-AUTH METHODS=COOKIE COOKIEFILE=\""+secret+"\"\r\n250 OK\r\n")
	if _, err := dialTorControl(ctx, ep); err == nil || !strings.Contains(err.Error(), "no Tor cookie file") {
		t.Fatalf("a COOKIEFILE naming a key file: %v", err)
	}
	ep = fakeControl(t, "250-"+strings.Repeat("x", 200<<10)+"\r\n")
	if _, err := dialTorControl(ctx, ep); err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("a huge reply line: %v", err)
	}
	ep = fakeControl(t, "250-PROTOCOLINFO 1\r\n250-AUTH METHODS=NULL\r\n250 OK\r\n", "250 OK\r\n",
		"552-first line of an error\r\n552 last line\r\n", "250-ServiceID="+strings.Repeat("a", 56)+"\r\n250-PrivateKey=ED25519-V3:abc\r\n250 OK\r\n")
	c, err := dialTorControl(ctx, ep)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.cmd("GETINFO version"); err == nil || !strings.Contains(err.Error(), "552") {
		t.Fatalf("a multi-line error: %v", err)
	}
	if host, key, err := c.addOnion("NEW:ED25519-V3", 1, 2); err != nil || host != strings.Repeat("a", 56)+".onion" || key != "ED25519-V3:abc" {
		t.Fatalf("the command after an error reads %q %q %v", host, key, err)
	}
}

// TestOnionAfterTorRestart: when the Tor of control.port restarts, which
// drops the node's onion service, the node adds the service back; when
// the node closes, the service goes.
func TestOnionAfterTorRestart(t *testing.T) {
	tor := tornet.StartOfflineTor(t)
	dir := filepath.Join(t.TempDir(), "onion-node")
	if err := Create(dir, CreateOptions{Listen: "tor", HideIP: true, TorControlPort: "tcp:" + tor.Addr, WebPort: "none"}); err != nil {
		t.Fatal(err)
	}
	noKeyPool(t, dir)
	keyB, err := os.ReadFile(filepath.Join(dir, "private", "tor_onion.privkey"))
	if err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(string(keyB))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// published reports whether Tor serves the node's service: adding
	// the same key from another connection then collides.
	published := func() bool {
		c, err := dialTorControl(ctx, "tcp:"+tor.Addr)
		if err != nil {
			return false
		}
		defer c.Close()
		host, _, err := c.addOnion(key, 3457, 9)
		if err == nil {
			c.delOnion(host)
			return false
		}
		return strings.Contains(strings.ToLower(err.Error()), "collision")
	}
	waitFor := func(what string, want bool) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); published() != want; time.Sleep(200 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: published = %v after 20 s", what, !want)
			}
		}
	}
	n, err := Start(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor("at start", true)
	tor.Restart(t)
	waitFor("after Tor restarted", true)
	n.Close()
	waitFor("after the node closed", false)
}
