//go:build linux

package main

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lafs/lafs/internal/i2ptest"
	"github.com/lafs/lafs/internal/netaudit"
	"github.com/lafs/lafs/internal/testutil"
)

// TestHeavyNoLeakOverI2P is the leak test of TestHeavyNoLeakOverTor for
// I2P, on one i2pd cut off from the public network (internal/i2ptest): an
// introducer made with create-introducer --listen=i2p --hide-ip, a
// storage node made with create-node --listen=i2p --hide-ip, and a client
// made with create-client --hide-ip ([connections] tcp = disabled, Tor
// off) reach each other only as I2P destinations, through the router's
// SAM bridge. The storage node publishes itself to the introducer over
// I2P, the client learns of it from the introducer over I2P, stores a file
// on it and reads it back. All three run as "lafs run" processes under
// strace (internal/netaudit); each may connect over IP only to the SAM
// bridge, and must have connected to it at least once.
func TestHeavyNoLeakOverI2P(t *testing.T) {
	testutil.Heavy(t)
	netaudit.Require(t)
	began := time.Now()
	r := i2ptest.Start(t)
	opts := strings.Join(i2ptest.SessionOptions, " ")
	dir := t.TempDir()
	must := func(args ...string) {
		t.Helper()
		if _, errOut, code := runCmd(t, nil, args...); code != 0 {
			t.Fatalf("lafs %s: %s", args[0], errOut)
		}
	}

	idir := filepath.Join(dir, "i2p-introducer")
	must("create-introducer", "--listen=i2p", "--hide-ip", "--i2p-sam-port="+r.SAMEndpoint(), idir)
	editCfg(t, idir, map[string]string{"i2p.lafs.sam-options": opts})
	intro := startAudited(t, "the I2P introducer", "introducer listening", idir)
	b, err := os.ReadFile(filepath.Join(idir, "private", "introducer.nurl"))
	if err != nil {
		t.Fatal(err)
	}
	introNURL := strings.Fields(string(b))[0]
	if !strings.Contains(introNURL, ".b32.i2p:") {
		t.Fatalf("the I2P introducer's NURL has no I2P address: %.24s...", introNURL)
	}

	sdir := filepath.Join(dir, "i2p-storage")
	must("create-node", "--listen=i2p", "--hide-ip", "--i2p-sam-port="+r.SAMEndpoint(), "--webport", "none",
		"--introducer", introNURL, "--nickname", "i2p-storage", "--shares-needed", "1", "--shares-happy", "1", "--shares-total", "1", sdir)
	noKeyPool(t, sdir)
	editCfg(t, sdir, map[string]string{"i2p.lafs.sam-options": opts})
	cdir := filepath.Join(dir, "hidden-client")
	must("create-client", "--hide-ip", "--webport", "tcp:0:interface=127.0.0.1", "--introducer", introNURL,
		"--shares-needed", "1", "--shares-happy", "1", "--shares-total", "1", cdir)
	noKeyPool(t, cdir)
	editCfg(t, cdir, map[string]string{
		"connections.tcp":      "disabled",
		"tor.enabled":          "false",
		"i2p.sam.port":         r.SAMEndpoint(),
		"i2p.lafs.sam-options": opts,
	})
	wantHiddenIP(t, idir, sdir, cdir)

	store := startAudited(t, "the I2P storage node", "storage server listening", sdir)
	if u := readNURL(t, sdir); !strings.HasPrefix(u, "pb+i2p://") || !strings.Contains(u, ".b32.i2p:") {
		t.Fatalf("the I2P storage node announces %.24s..., want a pb+i2p NURL", u)
	}
	client := startAudited(t, "the hidden client", "web API listening", cdir)
	web := webURL(t, cdir)
	// Each node makes its SAM sessions (about 20 s each) before the
	// storage node's announcement reaches the client.
	mustSeeServers(t, web, 1, 5*time.Minute)
	t.Logf("the client reached the storage node through the introducer, %v after the start", time.Since(began).Round(time.Second))
	data := make([]byte, 200<<10)
	rand.Read(data)
	capStr := putGet(t, web, data)
	if !strings.HasPrefix(capStr, "URI:CHK:") {
		t.Errorf("PUT /uri answered a %.8s... cap, want a CHK file", capStr)
	}
	t.Logf("stored and read back %d bytes through I2P, %v after the start", len(data), time.Since(began).Round(time.Second))

	client.stop(t)
	store.stop(t)
	intro.stop(t)
	client.audit(t, hiddenPolicy(cdir, r.SAM), r.SAM)
	store.audit(t, hiddenPolicy(sdir, r.SAM), r.SAM)
	intro.audit(t, hiddenPolicy(idir, r.SAM), r.SAM)
}
