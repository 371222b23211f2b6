package node_test

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lafs/lafs/node"
)

// canary listens on 127.0.0.1 in front of a storage node, forwarding what
// it accepts, and counts the connections: a client that must not reach
// the node directly must leave it at zero.
type canary struct {
	ln       net.Listener
	accepted atomic.Int64
}

func startCanary(t *testing.T, target string) *canary {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &canary{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			c.accepted.Add(1)
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			go func() { io.Copy(out, in); out.Close() }()
			go func() { io.Copy(in, out); in.Close() }()
		}
	}()
	return c
}

func (c *canary) port() int { return c.ln.Addr().(*net.TCPAddr).Port }

// torClient makes a client node that knows one storage server, reached
// through the canary, with the given [connections] and [tor] settings.
func torClient(t *testing.T, entry string, settings [][3]string) *node.Node {
	t.Helper()
	return startClientOf(t, node.CreateOptions{Kind: node.KindClient, WebPort: "none", SharesNeeded: 1, SharesHappy: 1, SharesTotal: 1},
		entry, settings)
}

// startClientOf starts a client made with opts that uses the one storage
// server of entry (a servers.yaml entry), with settings (section, key,
// value) set in its tahoe.cfg.
func startClientOf(t *testing.T, opts node.CreateOptions, entry string, settings [][3]string) *node.Node {
	t.Helper()
	n, _ := startLafsNode(t, opts, func(t *testing.T, dir string) {
		// One edit: a node would refuse some settings alone (such as
		// reveal-IP-address = false before tcp = tor).
		_, err := node.EditConfig(dir, func(f *node.CfgFile) error {
			for _, s := range settings {
				if err := f.Set(s[0], s[1], s[2]); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "private", "servers.yaml"), []byte(entry), 0o600); err != nil {
			t.Fatal(err)
		}
	})
	return n
}

// torGrid starts a storage node behind a canary and returns its
// servers.yaml entry, pointing at the canary.
func torGrid(t *testing.T) (*canary, string) {
	t.Helper()
	sp := freePort(t)
	_, sdir := startLafsNode(t, node.CreateOptions{WebPort: "none", Nickname: "behind-canary",
		Port: fmt.Sprintf("tcp:%d:interface=127.0.0.1", sp), Location: fmt.Sprintf("tcp:127.0.0.1:%d", sp)})
	c := startCanary(t, "127.0.0.1:"+strconv.Itoa(sp))
	entry, err := node.ServerEntry(sdir)
	if err != nil {
		t.Fatal(err)
	}
	entry = strings.ReplaceAll(entry, "127.0.0.1:"+strconv.Itoa(sp), "127.0.0.1:"+strconv.Itoa(c.port()))
	return c, entry
}

func lastErrors(n *node.Node) string {
	var errs []string
	for _, s := range n.Broker.States() {
		errs = append(errs, s.LastError)
	}
	return strings.Join(errs, "; ")
}

// TestTorOutboundNoDirectConnection: a client with reveal-IP-address =
// false and [connections] tcp = tor sends its connection to a storage
// server to Tor's SOCKS port and never to the server itself, even when
// Tor is not there (the port is closed); the same client with tcp = tcp
// reaches it, so the canary would have seen a direct connection. With
// tcp = disabled nothing is attempted.
func TestTorOutboundNoDirectConnection(t *testing.T) {
	tor := struct{ SOCKS string }{"127.0.0.1:" + strconv.Itoa(freePort(t))} // nothing listens there
	c, entry := torGrid(t)

	hidden := torClient(t, entry, [][3]string{{"node", "reveal-IP-address", "false"}, {"connections", "tcp", "tor"},
		{"tor", "socks.port", "tcp:" + tor.SOCKS}})
	waitUntil(t, "the hidden client's attempt through Tor", 30*time.Second, func() bool {
		return strings.Contains(lastErrors(hidden), "through Tor (SOCKS port "+tor.SOCKS+")")
	})
	if n := c.accepted.Load(); n != 0 {
		t.Fatalf("a client that hides its IP connected to the storage server directly (%d connections)", n)
	}

	disabled := torClient(t, entry, [][3]string{{"connections", "tcp", "disabled"}, {"tor", "socks.port", "tcp:" + tor.SOCKS}})
	waitUntil(t, "the refusal of a client with tcp = disabled", 30*time.Second, func() bool {
		return strings.Contains(lastErrors(disabled), "tcp = disabled")
	})
	if n := c.accepted.Load(); n != 0 {
		t.Fatalf("a client with tcp = disabled connected to the storage server (%d connections)", n)
	}

	open := torClient(t, entry, nil)
	waitUntil(t, "a client with tcp = tcp to connect", 30*time.Second, func() bool { return connectedServers(open) == 1 })
	if c.accepted.Load() == 0 {
		t.Fatal("the canary saw no connection from the client that reaches the server directly")
	}
	if connectedServers(hidden) != 0 || connectedServers(disabled) != 0 {
		t.Fatal("a client that may not reach the server directly is connected to it")
	}
}
