package tornet

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TorWrapper writes an executable shell script that runs tor with the
// arguments it is given followed by options that keep that tor off the
// public Tor network, and returns the script's path. With a Network n,
// the options make tor a client of n (its directory authorities,
// TestingTorNetwork, no fallback directories); with a nil n, they are
// DisableNetwork 1: tor then makes no connection at all, but still takes
// control commands. It is what a test gives a program that starts tor
// itself (lafs's [tor] tor.executable) to keep that tor in the test.
//
// The script execs tor, so tor has the script's process ID; each run
// appends that ID to the file named by the script's path plus ".pids",
// for tests that check that the tor is gone. With a nil n it skips t
// when tor is missing (or fails it when LAFS_REQUIRE_TOR=1), as
// [StartOffline] does.
func TorWrapper(t testing.TB, n *Network) string {
	t.Helper()
	bin := ""
	var extra []string
	if n == nil {
		var err error
		if bin, err = lookPath("tor", "/usr/sbin/tor"); err != nil {
			if os.Getenv("LAFS_REQUIRE_TOR") == "1" {
				t.Fatalf("%s (LAFS_REQUIRE_TOR=1): %v", noTor, err)
			}
			t.Skipf("skipped: %s", noTor)
		}
		extra = []string{"--DisableNetwork", "1"}
	} else {
		bin = n.tor
		empty := filepath.Join(n.dir, "empty")
		extra = []string{
			"--TestingTorNetwork", "1",
			"--UseDefaultFallbackDirs", "0",
			"--GeoIPFile", empty,
			"--GeoIPv6File", empty,
			"--OutboundBindAddress", "127.0.0.1",
			"--ClientUseIPv6", "0",
			"--PathsNeededToBuildCircuits", "0.67",
			"--EnforceDistinctSubnets", "0",
			// Full descriptors, as the network's own clients use (see
			// commonTorrc).
			"--UseMicrodescriptors", "0",
		}
		for _, l := range n.authLns {
			extra = append(extra, "--DirAuthority", strings.TrimPrefix(l, "DirAuthority "))
		}
	}
	script := filepath.Join(t.TempDir(), "tor-wrapper")
	var b strings.Builder
	fmt.Fprintf(&b, "#!/bin/sh\n")
	fmt.Fprintf(&b, "# Written by tornet.TorWrapper: tor, kept off the public Tor network.\n")
	fmt.Fprintf(&b, "echo $$ >> %s\n", shellQuote(script+".pids"))
	fmt.Fprintf(&b, "exec %s \"$@\"", shellQuote(bin))
	for _, a := range extra {
		fmt.Fprintf(&b, " %s", shellQuote(a))
	}
	b.WriteString("\n")
	if err := os.WriteFile(script, []byte(b.String()), 0o700); err != nil {
		t.Fatalf("tornet: writing the tor wrapper: %v", err)
	}
	return script
}

// shellQuote quotes s as one word for sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
