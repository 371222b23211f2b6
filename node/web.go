package node

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"github.com/lafs/lafs/webapi"
)

// NodeURLFile is where the web API's URL is written for the CLI.
const NodeURLFile = "node.url"

// startWeb serves the web API on [node] web.port (when set) and writes
// BASEDIR/node.url for the command line.
func (n *Node) startWeb(ctx context.Context) error {
	nc := n.Config.Node()
	if nc.WebPort == "" || nc.Web.Type == EndpointDisabled {
		return nil
	}
	ep := nc.Web
	if !ep.IsTCP() {
		return fmt.Errorf("%s: [node] web.port %q: only tcp is supported so far", n.Config.File(), ep.Raw)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(ep.Interface, strconv.Itoa(ep.Port)))
	if err != nil {
		return fmt.Errorf("web API on %s: %w", ep.Raw, err)
	}
	host := ep.Interface
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	url := "http://" + net.JoinHostPort(host, strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)) + "/"
	tmp := nc.TempDir
	if tmp == "" {
		tmp = "tmp"
	}
	api := webapi.New(n.Client, webStatus{n}, webapi.Options{TempDir: n.path(tmp), Log: n.Log.With("service", "web")})
	if c, ok := api.(io.Closer); ok {
		// Stops the deep checks and other slow operations still running.
		n.addCloser(func() { c.Close() })
	}
	h := withStoragePage(n, api)
	n.serve(ln, h)
	if err := os.WriteFile(filepath.Join(n.Basedir, NodeURLFile), []byte(url+"\n"), 0o644); err != nil {
		return err
	}
	n.Log.Info("web API listening", "url", url)
	return nil
}

// webStatus tells the web API about the node.
type webStatus struct{ n *Node }

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
		out = append(out, webapi.IntroducerStatus{URL: x.NURL, Connected: x.Connected, Since: x.Since, LastReceived: x.LastReceived})
	}
	return out
}

func (s webStatus) Servers() []webapi.ServerStatus {
	if s.n.Broker == nil {
		return nil
	}
	var out []webapi.ServerStatus
	for _, x := range s.n.Broker.States() {
		out = append(out, webapi.ServerStatus{ID: x.ID, Nickname: x.Nickname, Connected: x.Connected, Since: x.Since,
			LastReceivedData: x.LastReceivedData, LastError: x.LastError, Version: x.Version,
			AvailableSpace: x.AvailableSpace, NURL: x.NURL})
	}
	return out
}

// Stats reports the storage server's gauges under Tahoe's names
// (storage_server.allocated, reserved_space, disk_avail,
// accepting_immutable_shares, total_bucket_count), and its counts, when
// the node runs one, under names beside Tahoe's storage_server.* (Tahoe
// has no such counters).
func (s webStatus) Stats() webapi.Stats {
	if s.n.Storage == nil {
		return webapi.Stats{}
	}
	st := s.n.Storage.Stats()
	out := webapi.Stats{Counters: map[string]int64{
		"storage_server.corrupt_containers":            int64(st.CorruptContainers),
		"storage_server.quarantined_shares":            int64(st.QuarantinedShares),
		"storage_server.lease_checker.cycles":          st.CrawlCycles,
		"storage_server.lease_checker.shares_examined": st.SharesExamined,
		"storage_server.lease_checker.shares_expired":  st.SharesExpired,
		"storage_server.lease_checker.bytes_expired":   st.BytesExpired,
		"storage_server.lease_checker.leases_expired":  st.LeasesExpired,
	}}
	if full, err := s.n.Storage.Status(context.Background()); err == nil {
		out.Stats = map[string]float64{}
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
