package node_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lafs/lafs/client"
	"github.com/lafs/lafs/introducer"
	"github.com/lafs/lafs/introducer/foolscap"
	"github.com/lafs/lafs/node"
)

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startLafsNode creates and starts a lafs node in a temporary directory,
// after the given changes to its directory.
func startLafsNode(t *testing.T, opts node.CreateOptions, prepare ...func(t *testing.T, dir string)) (*node.Node, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "node")
	if err := node.Create(dir, opts); err != nil {
		t.Fatal(err)
	}
	for _, p := range prepare {
		p(t, dir)
	}
	n, err := node.Start(context.Background(), dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n, dir
}

// highTubID gives the node a certificate whose tub ID starts with "z",
// above the IDs of nearly every other tub.
func highTubID(t *testing.T, dir string) {
	for {
		pemData, err := node.GenerateNodePEM()
		if err != nil {
			t.Fatal(err)
		}
		cert, err := node.ParseNodePEM(pemData)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(foolscap.TubIDOf(cert.Certificate[0]), "z") {
			if err := os.WriteFile(filepath.Join(dir, "private", node.NodePEMFile), pemData, 0o600); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
}

func waitUntil(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func connectedServers(n *node.Node) int {
	c := 0
	for _, s := range n.Broker.States() {
		if s.Connected {
			c++
		}
	}
	return c
}

func httpDo(t *testing.T, method, url string, body []byte) []byte {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %d %s", method, url, resp.StatusCode, b)
	}
	return b
}

// A lafs client joins the live Tahoe 1.20 grid through its Foolscap-only
// introducer, stores a file Tahoe reads, and keeps Tahoe's announcement
// cache.
func TestTahoeLiveFoolscapIntroducer(t *testing.T) {
	l := tahoeGrid(t)
	furl := os.Getenv("TAHOE_INTRODUCER_FURL")
	if furl == "" {
		t.Skip("skipped: TAHOE_INTRODUCER_FURL is not set (see ../shared/tahoe-ref)")
	}
	n, dir := startLafsNode(t, node.CreateOptions{Kind: node.KindClient, Introducers: []string{furl}, WebPort: "none", Nickname: "lafs-foolscap"})
	waitUntil(t, "10 storage servers", 60*time.Second, func() bool { return connectedServers(n) >= 10 })
	st := n.Introducers.Statuses()["default"]
	if !st.Connected || st.Protocol != "foolscap" || st.Servers < 10 {
		t.Fatalf("introducer status %+v", st)
	}
	data := make([]byte, 1<<20)
	rand.Read(data)
	res, err := n.Client.Upload(context.Background(), bytes.NewReader(data), int64(len(data)), client.UploadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := l.do(t, "GET", "/uri/"+res.Cap.String(), nil); !bytes.Equal(got, data) {
		t.Fatal("Tahoe read other bytes")
	}
	n.Close()
	b, err := os.ReadFile(filepath.Join(dir, "private", "introducer_default_cache.yaml"))
	if err != nil || !bytes.Contains(b, []byte("anonymous-storage-NURLs")) {
		t.Fatalf("announcement cache: %v", err)
	}
}

// tahoeNode runs a Tahoe 1.20 node made with TAHOE_CLI's create-* args.
func tahoeNode(t *testing.T, cli string, args ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tahoe")
	out, err := exec.Command(cli, append(args, dir)...).CombinedOutput()
	if err != nil {
		t.Fatalf("tahoe %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	cmd := exec.Command(cli, "run", "--allow-stdin-close", dir)
	logf, err := os.Create(filepath.Join(dir, "run.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "run.log"))
			t.Logf("tahoe node log (%s):\n%s", dir, b)
		}
	})
	return dir
}

// A lafs introducer serves a mixed grid: a Tahoe 1.20 storage node and
// client over Foolscap, a lafs storage node over HTTPS. Each client sees
// both servers, and files cross both ways.
func TestTahoeLiveLafsIntroducer(t *testing.T) {
	cli := os.Getenv("TAHOE_CLI")
	if cli == "" {
		t.Skip("skipped: TAHOE_CLI is not set: no Tahoe 1.20 to run (see ../shared/tahoe-ref)")
	}
	// Two hints, which Tahoe dials at once, and a tub ID above any of
	// Tahoe's ("z..."), so that the lafs introducer decides and must
	// refuse the duplicate connection.
	ip := freePort(t)
	intro, _ := startLafsNode(t, node.CreateOptions{Kind: node.KindIntroducer,
		Port: fmt.Sprintf("tcp:%d:interface=127.0.0.1", ip), Location: fmt.Sprintf("tcp:127.0.0.1:%d,tcp:localhost:%d", ip, ip)},
		highTubID)
	furl := intro.IntroducerURLs.FURL
	if !strings.HasPrefix(intro.Tub.TubID(), "z") {
		t.Fatalf("tub ID %s", intro.Tub.TubID())
	}

	sp, wp := freePort(t), freePort(t)
	tahoeNode(t, cli, "create-node", "--introducer="+furl, "--webport=none", "--nickname=tahoe-s",
		fmt.Sprintf("--port=tcp:%d:interface=127.0.0.1", sp), fmt.Sprintf("--location=tcp:127.0.0.1:%d", sp))
	tahoeNode(t, cli, "create-client", "--introducer="+furl, fmt.Sprintf("--webport=tcp:%d:interface=127.0.0.1", wp),
		"--shares-needed=1", "--shares-happy=2", "--shares-total=2", "--nickname=tahoe-c")
	lp, lw := freePort(t), freePort(t)
	lafsS, _ := startLafsNode(t, node.CreateOptions{Introducers: []string{intro.IntroducerURLs.NURLs[0]}, Nickname: "lafs-s",
		Port: fmt.Sprintf("tcp:%d:interface=127.0.0.1", lp), Location: fmt.Sprintf("tcp:127.0.0.1:%d", lp),
		WebPort: fmt.Sprintf("tcp:%d:interface=127.0.0.1", lw), SharesNeeded: 1, SharesHappy: 2, SharesTotal: 2})

	tahoeWeb := fmt.Sprintf("http://127.0.0.1:%d", wp)
	waitUntil(t, "Tahoe's client to see both servers", 90*time.Second, func() bool {
		resp, err := http.Get(tahoeWeb + "/?t=json")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var w struct {
			Servers []struct {
				Nickname         string `json:"nickname"`
				ConnectionStatus string `json:"connection_status"`
			} `json:"servers"`
		}
		if json.NewDecoder(resp.Body).Decode(&w) != nil {
			return false
		}
		seen := map[string]bool{}
		for _, s := range w.Servers {
			if strings.HasPrefix(strings.ToLower(s.ConnectionStatus), "connected") {
				seen[s.Nickname] = true
			}
		}
		return seen["tahoe-s"] && seen["lafs-s"]
	})
	waitUntil(t, "the lafs node to see both servers", 30*time.Second, func() bool { return connectedServers(lafsS) >= 2 })

	data := make([]byte, 300000)
	rand.Read(data)
	capT := strings.TrimSpace(string(httpDo(t, "PUT", tahoeWeb+"/uri", data)))
	if got := httpDo(t, "GET", fmt.Sprintf("http://127.0.0.1:%d/uri/%s", lw, capT), nil); !bytes.Equal(got, data) {
		t.Fatal("lafs read other bytes than Tahoe stored")
	}
	rand.Read(data)
	capL := strings.TrimSpace(string(httpDo(t, "PUT", fmt.Sprintf("http://127.0.0.1:%d/uri", lw), data)))
	if got := httpDo(t, "GET", tahoeWeb+"/uri/"+capL, nil); !bytes.Equal(got, data) {
		t.Fatal("Tahoe read other bytes than lafs stored")
	}

	st := intro.IntroducerServer.Status()
	byNick := map[string]introducer.AnnouncementInfo{}
	for _, a := range st.Announcements {
		byNick[a.Nickname] = a
	}
	if byNick["tahoe-s"].Protocol != "foolscap" || byNick["lafs-s"].Protocol != "https" {
		t.Errorf("announcements %+v", st.Announcements)
	}
	subs := map[string]int{}
	for _, s := range st.Subscribers {
		subs[s.Protocol]++
	}
	if subs["foolscap"] < 2 || subs["https"] < 1 {
		t.Errorf("subscribers %+v", st.Subscribers)
	}
}

// A lafs storage node publishes itself to a Tahoe 1.20 introducer over
// Foolscap, and a Tahoe client stores a file on it.
func TestTahoeLivePublishToTahoeIntroducer(t *testing.T) {
	cli := os.Getenv("TAHOE_CLI")
	if cli == "" {
		t.Skip("skipped: TAHOE_CLI is not set: no Tahoe 1.20 to run (see ../shared/tahoe-ref)")
	}
	ip := freePort(t)
	idir := tahoeNode(t, cli, "create-introducer", fmt.Sprintf("--port=tcp:%d:interface=127.0.0.1", ip), fmt.Sprintf("--location=tcp:127.0.0.1:%d", ip))
	var furl string
	waitUntil(t, "Tahoe's introducer to write its fURL", 60*time.Second, func() bool {
		b, err := os.ReadFile(filepath.Join(idir, "private", "introducer.furl"))
		furl = strings.TrimSpace(string(b))
		return err == nil && furl != ""
	})
	lp := freePort(t)
	_, sdir := startLafsNode(t, node.CreateOptions{Introducers: []string{furl}, Nickname: "lafs-s", WebPort: "none",
		Port: fmt.Sprintf("tcp:%d:interface=127.0.0.1", lp), Location: fmt.Sprintf("tcp:127.0.0.1:%d", lp)})
	wp := freePort(t)
	tahoeNode(t, cli, "create-client", "--introducer="+furl, fmt.Sprintf("--webport=tcp:%d:interface=127.0.0.1", wp),
		"--shares-needed=1", "--shares-happy=1", "--shares-total=2")
	tahoeWeb := fmt.Sprintf("http://127.0.0.1:%d", wp)
	waitTahoeConnected(t, tahoeWeb, "lafs-s")
	data := make([]byte, 200000)
	rand.Read(data)
	capT := strings.TrimSpace(string(httpDo(t, "PUT", tahoeWeb+"/uri", data)))
	if got := httpDo(t, "GET", tahoeWeb+"/uri/"+capT, nil); !bytes.Equal(got, data) {
		t.Fatal("Tahoe read back other bytes")
	}
	// The only server, the lafs node, holds both shares.
	shares, _ := filepath.Glob(filepath.Join(sdir, "storage", "shares", "*", "*", "*"))
	if len(shares) != 2 {
		t.Errorf("the lafs node holds %d shares: %v", len(shares), shares)
	}
}

// A lafs client whose Tahoe introducer is down starts with the servers
// that introducer announced before, from Tahoe's own cache file (here the
// live Tahoe client's), and stores a file on them.
func TestTahoeLiveIntroducerCacheWhileDown(t *testing.T) {
	l := tahoeGrid(t)
	cache, err := os.ReadFile(filepath.Join(l.dir, "client", "private", "introducer_default_cache.yaml"))
	if err != nil {
		t.Skipf("skipped: no Tahoe introducer cache to start from: %v", err)
	}
	// An introducer that cannot be reached: a port nobody listens on.
	down := fmt.Sprintf("pb://%s@tcp:127.0.0.1:%d/%s", strings.Repeat("a", 32), freePort(t), strings.Repeat("b", 32))
	n, _ := startLafsNode(t, node.CreateOptions{Kind: node.KindClient, Introducers: []string{down}, WebPort: "none"},
		func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, "private", "introducer_default_cache.yaml"), cache, 0o600); err != nil {
				t.Fatal(err)
			}
		})
	waitUntil(t, "the cached servers", 60*time.Second, func() bool { return connectedServers(n) >= 10 })
	if st := n.Introducers.Statuses()["default"]; st.Connected {
		t.Fatalf("connected to an introducer that is down: %+v", st)
	}
	data := make([]byte, 100000)
	rand.Read(data)
	res, err := n.Client.Upload(context.Background(), bytes.NewReader(data), int64(len(data)), client.UploadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := l.do(t, "GET", "/uri/"+res.Cap.String(), nil); !bytes.Equal(got, data) {
		t.Fatal("Tahoe read other bytes")
	}
}

// waitTahoeConnected waits until the Tahoe client whose web API is at web
// is connected to the storage server called nickname.
func waitTahoeConnected(t *testing.T, web, nickname string) {
	t.Helper()
	waitUntil(t, "Tahoe's client to connect to "+nickname, 90*time.Second, func() bool {
		resp, err := http.Get(web + "/?t=json")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return bytes.Contains(b, []byte(`"nickname": "`+nickname+`"`)) && bytes.Contains(bytes.ToLower(b), []byte(`"connection_status": "connected`))
	})
}
