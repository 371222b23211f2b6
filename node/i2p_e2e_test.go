package node_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lafs/lafs/internal/i2ptest"
	"github.com/lafs/lafs/node"
)

// TestHeavyI2PGrid is the I2P end-to-end proof, on one i2pd cut off from
// the public network (internal/i2ptest): a storage node made with
// create-node --listen=i2p --hide-ip is reachable only as an I2P
// destination (it has no TCP listener; it announces a pb+i2p NURL), and a
// client with [connections] tcp = disabled, on its own SAM session,
// stores a file on it and reads it back. Both sessions use zero-hop
// tunnels ([i2p] lafs.sam-options), which a router alone can build.
func TestHeavyI2PGrid(t *testing.T) {
	r := i2ptest.Start(t)
	opts := strings.Join(i2ptest.SessionOptions, " ")

	sdir := filepath.Join(t.TempDir(), "i2p-storage")
	if err := node.Create(sdir, node.CreateOptions{Listen: "i2p", HideIP: true, I2PSAMPort: r.SAMEndpoint(),
		WebPort: "none", Nickname: "i2p-storage", SharesNeeded: 1, SharesHappy: 1, SharesTotal: 2}); err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile(filepath.Join(sdir, "tahoe.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"tub.port = listen:i2p\n", "reveal-IP-address = false\n", "[i2p]\nsam.port = " + r.SAMEndpoint() + "\ndest = true\ndest.port = 3457\ndest.private_key_file = private/i2p_dest.privkey\n"} {
		if !bytes.Contains(cfg, []byte(want)) {
			t.Fatalf("tahoe.cfg lacks %q:\n%s", want, cfg)
		}
	}
	if st, err := os.Stat(filepath.Join(sdir, "private", "i2p_dest.privkey")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("the destination's key: %v %v", st, err)
	}
	noKeyPoolDir(t, sdir)
	setConfig(t, sdir, "i2p", "lafs.sam-options", opts)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	store, err := node.Start(ctx, sdir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if u := store.StorageURLs.NURLs; len(u) != 1 || !strings.HasPrefix(u[0], "pb+i2p://") || !strings.Contains(u[0], ".b32.i2p:3457/") {
		t.Fatalf("the I2P node announces %q", u)
	}
	entry, err := node.ServerEntry(sdir)
	if err != nil {
		t.Fatal(err)
	}

	cl := startHiddenClient(t, entry, [][3]string{
		{"connections", "tcp", "disabled"},
		{"tor", "enabled", "false"},
		{"i2p", "sam.port", r.SAMEndpoint()},
		{"i2p", "lafs.sam-options", opts},
	})
	waitUntil(t, "the client to reach the I2P storage node", 3*time.Minute, func() bool { return connectedServers(cl) == 1 })
	data := bytes.Repeat([]byte("through I2P\n"), 40000)
	node.RoundTrip(t, ctx, cl.Client, data)
}

// setConfig sets one key of dir's tahoe.cfg.
func setConfig(t *testing.T, dir, section, key, value string) {
	t.Helper()
	if _, err := node.EditConfig(dir, func(f *node.CfgFile) error { return f.Set(section, key, value) }); err != nil {
		t.Fatal(err)
	}
}
