package node

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/lafs/lafs/introducer"
	"github.com/lafs/lafs/webapi"
)

// NodeURLFile is where the web API's URL is written for the CLI.
const NodeURLFile = "node.url"

// startWeb serves the web API on [node] web.port (when set) and writes
// BASEDIR/node.url for the command line.
func (n *Node) startWeb(ctx context.Context) error {
	nc := n.Config.Node()
	ln, url, err := n.listenWeb("web API")
	if ln == nil {
		return err
	}
	tmp := nc.TempDir
	if tmp == "" {
		tmp = "tmp"
	}
	// Tahoe's CPU monitor, for /statistics (cpumonitor.go).
	cpu := startCPUMonitor()
	n.addCloser(cpu.close)
	api := webapi.New(n.Client, webStatus{n: n, cpu: cpu}, webapi.Options{TempDir: n.path(tmp), Log: n.Log.With("service", "web")})
	if c, ok := api.(io.Closer); ok {
		// Stops the deep checks and other slow operations still running.
		n.addCloser(func() { c.Close() })
	}
	h := withStoragePage(n, api)
	if err := writeAuthToken(n.Basedir); err != nil {
		return err
	}
	n.serve(ln, h)
	return n.announceWeb("web API", url)
}

// listenWeb listens on [node] web.port for the node's web server (what
// names it in errors) and returns the listener and its URL; no listener
// and no error when web.port is unset or disabled.
func (n *Node) listenWeb(what string) (net.Listener, string, error) {
	nc := n.Config.Node()
	if nc.WebPort == "" || nc.Web.Type == EndpointDisabled {
		return nil, "", nil
	}
	ep := nc.Web
	if !ep.IsTCP() {
		return nil, "", fmt.Errorf("%s: [node] web.port %q: only tcp is supported so far", n.Config.File(), ep.Raw)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(ep.Interface, strconv.Itoa(ep.Port)))
	if err != nil {
		return nil, "", fmt.Errorf("%s on %s: %w", what, ep.Raw, err)
	}
	host := ep.Interface
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return ln, "http://" + net.JoinHostPort(host, strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)) + "/", nil
}

// announceWeb writes BASEDIR/node.url, where the command line finds the
// web server, and logs it.
func (n *Node) announceWeb(what, url string) error {
	path := filepath.Join(n.Basedir, NodeURLFile)
	if err := os.WriteFile(path, []byte(url+"\n"), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	n.Log.Info(what+" listening", "url", url)
	return nil
}

// AuthTokenFile is Tahoe's private/api_auth_token: random data made anew
// each time the node starts, which Tahoe's CLI reads and echoes to some
// web API calls (tahoe status). lafs's web API does not ask for it; the
// file is there so that Tahoe's CLI works against a lafs node.
const AuthTokenFile = "api_auth_token"

// writeAuthToken writes a new private/api_auth_token (0600).
func writeAuthToken(basedir string) error {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	tok := base64.URLEncoding.EncodeToString(b) + "\n"
	path := filepath.Join(basedir, "private", AuthTokenFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(tok), 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// webStatus tells the web API about the node.
type webStatus struct {
	n   *Node
	cpu *cpuMonitor // nil where the process's CPU time is unknown
}

func (s webStatus) Node() webapi.NodeInfo {
	return webapi.NodeInfo{Nickname: s.n.Config.Node().Nickname, NodeID: s.n.Identity.LongNodeID(), Version: Version}
}

func (s webStatus) Introducers() []webapi.IntroducerStatus {
	if s.n.Introducers == nil {
		return nil
	}
	st := s.n.Introducers.Statuses()
	names := make([]string, 0, len(st))
	for k := range st {
		names = append(names, k)
	}
	sort.Strings(names)
	out := make([]webapi.IntroducerStatus, 0, len(st))
	for _, k := range names {
		x := st[k]
		out = append(out, webapi.IntroducerStatus{URL: x.Address, Connected: x.Connected, Since: x.Since,
			LastReceived: x.LastReceived, Summary: introducerSummary(x, time.Now())})
	}
	return out
}

// introducerSummary words an introducer's state as Tahoe's welcome page
// does (from_foolscap_reconnector in Tahoe's connection_status.py), for a
// Foolscap introducer and an HTTPS one alike: "Connected to tcp:HOST:PORT
// via tcp" while connected, "Reconnecting in N seconds (last attempt M s
// ago)" while waiting after a failure, else "Trying to connect". Neither
// the swissnum nor an error is shown.
func introducerSummary(st introducer.Status, now time.Time) string {
	switch {
	case st.Connected && st.Hint != "":
		how, _, _ := strings.Cut(st.Hint, ":")
		return "Connected to " + st.Hint + " via " + how
	case st.Connected:
		return "Connected"
	case !st.NextAttempt.IsZero() && st.NextAttempt.After(now):
		return fmt.Sprintf("Reconnecting in %d seconds (last attempt %ds ago)",
			int(st.NextAttempt.Sub(now).Seconds()), int(now.Sub(st.LastAttempt).Seconds()))
	}
	return "Trying to connect"
}

func (s webStatus) Servers() []webapi.ServerStatus {
	if s.n.Broker == nil {
		return nil
	}
	var out []webapi.ServerStatus
	for _, x := range s.n.Broker.States() {
		out = append(out, webapi.ServerStatus{ID: x.ID, Nickname: x.Nickname, Connected: x.Connected, Since: x.Since,
			LastReceivedData: x.LastReceivedData, LastError: x.LastError, Version: x.Version,
			AvailableSpace: x.AvailableSpace, NURL: x.NURL, Unsupported: x.Unsupported})
	}
	return out
}

// Stats reports the node's statistics as Tahoe's stats provider does:
// the CPU monitor's cpu_monitor.* (where the process's CPU time is
// known), and when the node runs a storage server its counts and
// latencies (storage_server.allocate, write, ..., bytes_added, and
// storage_server.latencies.<op>.<stat>; see storage.Counters) and gauges
// (storage_server.allocated, reserved_space, disk_avail,
// accepting_immutable_shares, total_bucket_count), with lafs's own counts
// beside them under storage_server.* names Tahoe does not use.
func (s webStatus) Stats() webapi.Stats {
	out := webapi.Stats{Counters: map[string]int64{}, Stats: s.cpu.stats()}
	if s.n.Storage == nil {
		return out
	}
	st := s.n.Storage.Stats()
	maps.Copy(out.Counters, map[string]int64{
		"storage_server.corrupt_containers":            int64(st.CorruptContainers),
		"storage_server.quarantined_shares":            int64(st.QuarantinedShares),
		"storage_server.lease_checker.cycles":          st.CrawlCycles,
		"storage_server.lease_checker.shares_examined": st.SharesExamined,
		"storage_server.lease_checker.shares_expired":  st.SharesExpired,
		"storage_server.lease_checker.bytes_expired":   st.BytesExpired,
		"storage_server.lease_checker.leases_expired":  st.LeasesExpired,
	})
	counts, latencies := s.n.Storage.Counters().Named()
	maps.Copy(out.Counters, counts)
	maps.Copy(out.Stats, latencies)
	if full, err := s.n.Storage.Status(context.Background()); err == nil {
		for k, v := range storageStats(&full) {
			switch x := v.(type) {
			case uint64:
				out.Stats[k] = float64(x)
			case int64:
				out.Stats[k] = float64(x)
			case int:
				out.Stats[k] = float64(x)
			}
		}
		// lafs's counts are reported as counters above.
		delete(out.Stats, "storage_server.corrupt_containers")
		delete(out.Stats, "storage_server.quarantined_shares")
	}
	return out
}
