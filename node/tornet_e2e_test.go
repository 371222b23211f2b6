package node_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lafs/lafs/internal/testutil"
	"github.com/lafs/lafs/internal/tornet"
	"github.com/lafs/lafs/node"
)

// TestHeavyOnionGrid is the end-to-end proof, in a private Tor
// network on 127.0.0.1 (internal/tornet: its own authorities and relays,
// nothing of the public network): a storage node made with create-node
// --listen=tor --hide-ip is reachable only as an onion service (its tub
// listens on loopback, it announces a pb+tor NURL), and a client with
// [connections] tcp = disabled, reaching Tor through another tor's SOCKS
// port, stores a file on it and reads it back.
func TestHeavyOnionGrid(t *testing.T) {
	testutil.Heavy(t)
	net := tornet.Start(t)
	second := net.NewClient(t) // the client's own tor, as on another machine

	sdir := filepath.Join(t.TempDir(), "onion-storage")
	if err := node.Create(sdir, node.CreateOptions{Listen: "tor", HideIP: true, TorControlPort: "tcp:" + net.Control(),
		WebPort: "none", Nickname: "onion-storage", SharesNeeded: 1, SharesHappy: 1, SharesTotal: 2}); err != nil {
		t.Fatal(err)
	}
	noKeyPoolDir(t, sdir)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	store, err := node.Start(ctx, sdir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if u := store.StorageURLs.NURLs[0]; !strings.HasPrefix(u, "pb+tor://") || !strings.Contains(u, ".onion:") {
		t.Fatalf("the onion node announces %s", u)
	}
	entry, err := node.ServerEntry(sdir)
	if err != nil {
		t.Fatal(err)
	}

	cl := startHiddenClient(t, entry, [][3]string{
		{"connections", "tcp", "disabled"},
		{"tor", "socks.port", "tcp:" + second.SOCKS()},
	})
	// The onion service's descriptor takes a while to reach the
	// network's directories.
	waitUntil(t, "the client to reach the onion storage node", 4*time.Minute, func() bool { return connectedServers(cl) == 1 })
	data := bytes.Repeat([]byte("through a private Tor network\n"), 4000)
	node.RoundTrip(t, ctx, cl.Client, data)
}

// startHiddenClient starts a client with --hide-ip and no key pool that
// uses the one storage server of entry (a servers.yaml entry), with
// settings (section, key, value) set in its tahoe.cfg.
func startHiddenClient(t *testing.T, entry string, settings [][3]string) *node.Node {
	t.Helper()
	return startClientOf(t, node.CreateOptions{Kind: node.KindClient, WebPort: "none", HideIP: true,
		SharesNeeded: 1, SharesHappy: 1, SharesTotal: 2},
		entry, append([][3]string{{"client", "lafs.key-pool-size", "0"}}, settings...))
}

// noKeyPoolDir sets [client] lafs.key-pool-size = 0: no background RSA
// work in a test that makes no mutable file.
func noKeyPoolDir(t *testing.T, dir string) {
	t.Helper()
	setConfig(t, dir, "client", "lafs.key-pool-size", "0")
}
