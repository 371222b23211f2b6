package webapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/lafs/lafs/client"
	"github.com/lafs/lafs/pyjson"
)

// Status is what the node tells the welcome page (GET /) and the
// statistics page (GET /statistics). The node implements it over its
// introducer clients, its storage broker and its
// counters. Every method must be safe for concurrent use and quick: each
// is called on every view of a page.
type Status interface {
	// Node describes this node.
	Node() NodeInfo
	// Introducers reports the connection to each configured introducer.
	Introducers() []IntroducerStatus
	// Servers reports every known storage server, in the order to show.
	Servers() []ServerStatus
	// Stats returns the node's counters and gauges, named as Tahoe names
	// them ("storage_server.allocated", "cpu_monitor.total", ...). The
	// client's counters (uploader.*, downloader.*, mutable.*; see
	// client.Counters) and node.uptime fill in the names it leaves out.
	Stats() Stats
}

// NodeInfo describes the node on the welcome page.
type NodeInfo struct {
	// Nickname is the node's nickname from tahoe.cfg.
	Nickname string
	// NodeID is "v0-" and the base32 of the node's Ed25519 public key.
	NodeID string
	// Version names the software, e.g. "lafs/0.1.0".
	Version string
}

// ServerStatus is the state of the connection to one storage server.
type ServerStatus struct {
	// ID is the server's id ("v0-" and its public key in base32).
	ID       string
	Nickname string
	// Connected says whether the server is connected now.
	Connected bool
	// Since is when the current state began.
	Since time.Time
	// LastReceivedData is when data last came from the server.
	LastReceivedData time.Time
	// LastError is why the last connection attempt failed, if it did.
	LastError string
	// Version is the software the server announced.
	Version string
	// AvailableSpace is the space the server last said it has.
	AvailableSpace uint64
	// NURL is how the server is reached. It carries a secret, so only
	// its host is ever shown.
	NURL string
	// Unsupported, when not empty, says why the server cannot be used
	// (for one that announces no NURL, say): it is shown as
	// "unsupported: " and the reason, and never connects.
	Unsupported string
}

// IntroducerStatus is the state of the connection to one introducer.
type IntroducerStatus struct {
	// URL is the introducer's fURL or NURL. It carries a secret, so only
	// its host is ever shown.
	URL string
	// Connected says whether the introducer is connected now.
	Connected bool
	// Since is when the connection was made (or lost); zero if never.
	Since time.Time
	// LastReceived is when data last came from the introducer.
	LastReceived time.Time
	// Summary is the one-line status shown (Tahoe: "Connected to
	// tcp:host:port via tcp"); empty means one is made from URL.
	Summary string
}

// Stats are the statistics of GET /statistics: Counters only grow,
// Stats are gauges such as "node.uptime" or "cpu_monitor.1min_avg".
type Stats struct {
	// Counters count events since the node started.
	Counters map[string]int64
	// Stats are measurements; NaN or an infinity means unknown.
	Stats map[string]float64
}

// counters are what the web API counts of its own work, for the welcome
// page ("Through this web API: ..."). The statistics page shows the
// client's counters instead (client.Counters), which count every
// operation, the web API's and every other's, as Tahoe counts them.
type counters struct {
	filesUploaded, bytesUploaded, filesDownloaded, bytesDownloaded atomic.Int64
	filesPublished, bytesPublished, filesRetrieved, bytesRetrieved atomic.Int64
}

// stats merges the node's statistics with the client's counters, which
// it reports under the names of Tahoe's uploader, downloader and mutable
// History counters unless the node's Status already reports those names.
func (h *handler) stats(cs client.Counters) Stats {
	var s Stats
	if h.st != nil {
		s = h.st.Stats()
	}
	out := Stats{Counters: map[string]int64{
		"uploader.files_uploaded":     cs.FilesUploaded,
		"uploader.bytes_uploaded":     cs.BytesUploaded,
		"downloader.files_downloaded": cs.FilesDownloaded,
		"downloader.bytes_downloaded": cs.BytesDownloaded,
		"mutable.files_published":     cs.FilesPublished,
		"mutable.bytes_published":     cs.BytesPublished,
		"mutable.files_retrieved":     cs.FilesRetrieved,
		"mutable.bytes_retrieved":     cs.BytesRetrieved,
	}, Stats: map[string]float64{}}
	maps.Copy(out.Counters, s.Counters)
	out.Stats["node.uptime"] = time.Since(h.started).Seconds()
	maps.Copy(out.Stats, s.Stats)
	return out
}

// serveStatistics is Tahoe's /statistics: HTML, t=json or t=openmetrics,
// whatever the method (Tahoe renders it for PUT and POST too).
func (h *handler) serveStatistics(w http.ResponseWriter, q *request) error {
	t, given := q.queryArg("t")
	if !given {
		t = "html"
	}
	var cs client.Counters
	if h.c != nil {
		cs = h.c.Counters()
	}
	s := h.stats(cs)
	switch strings.ToUpper(t) {
	case "HTML":
		return h.renderHTML(w, statisticsPage, newStatisticsData(s))
	case "JSON":
		return writeJSON(w, "text/plain", s)
	case "OPENMETRICS":
		writeBody(w, http.StatusOK, "application/openmetrics-text; version=1.0.0; charset=utf-8", openMetrics(s, cs))
		return nil
	}
	return badFormat(t)
}

// badFormat is Tahoe's answer to an unknown t= on a multi-format page.
func badFormat(t string) error {
	return &pageError{http.StatusBadRequest, "Bad Format", "Unknown t value: " + pyStrRepr(t), ""}
}

// MarshalJSON encodes s as Tahoe's {"counters": {...}, "stats": {...}};
// gauges that are not finite numbers become null.
func (s Stats) MarshalJSON() ([]byte, error) {
	gauges := make(map[string]*float64, len(s.Stats))
	for k, v := range s.Stats {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			gauges[k] = &v
		} else {
			gauges[k] = nil
		}
	}
	return json.Marshal(struct {
		Counters map[string]int64    `json:"counters"`
		Stats    map[string]*float64 `json:"stats"`
	}{s.Counters, gauges})
}

var (
	percentile = regexp.MustCompile(`_(\d\d)_(\d)_percentile`)
	// notInName matches what OpenMetrics does not allow in a metric name.
	notInName = regexp.MustCompile(`[^a-zA-Z0-9_:]`)
)

// latencyMetric is the histogram family of the client's operation times,
// lafs's own: Tahoe has no such metric.
const latencyMetric = "lafs_operation_duration_seconds"

// openMetrics renders s as Tahoe's render_OPENMETRICS: sorted names with
// "." made "_", "_99_9_percentile" made a quantile label (and any other
// character a metric name may not hold, such as the "-" of Tahoe's
// storage_server.add-lease, made "_", so that the exposition stays
// valid). The histograms of the operations' times in cs follow, as one
// family with an operation label.
func openMetrics(s Stats, cs client.Counters) []byte {
	var b bytes.Buffer
	mangle := func(k string) string {
		k = notInName.ReplaceAllString(strings.ReplaceAll(k, ".", "_"), "_")
		return percentile.ReplaceAllString(k, `{quantile="0.${1}${2}"}`)
	}
	for _, k := range slices.Sorted(maps.Keys(s.Counters)) {
		fmt.Fprintf(&b, "tahoe_counters_%s %d\n", mangle(k), s.Counters[k])
	}
	for _, k := range slices.Sorted(maps.Keys(s.Stats)) {
		fmt.Fprintf(&b, "tahoe_stats_%s %s\n", mangle(k), formatFloat(s.Stats[k]))
	}
	if len(cs.Latencies) > 0 {
		fmt.Fprintf(&b, "# TYPE %s histogram\n# UNIT %[1]s seconds\n", latencyMetric)
		fmt.Fprintf(&b, "# HELP %s How long the node's uploads, downloads, mutable publishes and retrieves, and checks took.\n", latencyMetric)
	}
	created := canonicalFloat(float64(cs.Since.UnixMicro())/1e6, 'f')
	for _, hg := range cs.Latencies {
		op := `operation="` + hg.Op + `"`
		for i, bound := range hg.Bounds {
			fmt.Fprintf(&b, "%s_bucket{%s,le=\"%s\"} %d\n", latencyMetric, op, canonicalFloat(bound.Seconds(), 'g'), hg.Cumulative[i])
		}
		fmt.Fprintf(&b, "%s_bucket{%s,le=\"+Inf\"} %d\n", latencyMetric, op, hg.Count)
		fmt.Fprintf(&b, "%s_count{%s} %d\n", latencyMetric, op, hg.Count)
		fmt.Fprintf(&b, "%s_sum{%s} %s\n", latencyMetric, op, canonicalFloat(hg.Sum.Seconds(), 'g'))
		fmt.Fprintf(&b, "%s_created{%s} %s\n", latencyMetric, op, created)
	}
	b.WriteString("# EOF\n")
	return b.Bytes()
}

// canonicalFloat writes v as OpenMetrics wants the "le" of a histogram
// bucket: Go's shortest %g (or %f, for times), with ".0" added when that
// looks like an integer.
func canonicalFloat(v float64, format byte) string {
	s := strconv.FormatFloat(v, format, -1, 64)
	if !strings.ContainsAny(s, ".eEIN") {
		s += ".0"
	}
	return s
}

// formatFloat writes v as Tahoe's str() does: a whole number (Tahoe's
// integer gauges) as an integer, another as Python's float repr ("1e-05",
// "0.25"); NaN and infinities as OpenMetrics spells them.
func formatFloat(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case v == math.Trunc(v) && math.Abs(v) < 1<<53:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	b, err := pyjson.Marshal(v)
	if err != nil {
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	return string(b)
}

// welcomeJSON is the body of GET /?t=json, its keys in Tahoe's order.
type welcomeJSON struct {
	Introducers struct {
		Statuses []string `json:"statuses"`
	} `json:"introducers"`
	Servers []serverJSON `json:"servers"`
}

type serverJSON struct {
	NodeID           string   `json:"nodeid"`
	ConnectionStatus string   `json:"connection_status"`
	AvailableSpace   *uint64  `json:"available_space"`
	Nickname         string   `json:"nickname"`
	Version          *string  `json:"version"`
	LastReceivedData *float64 `json:"last_received_data"`
}

func (h *handler) welcomeJSON() welcomeJSON {
	var out welcomeJSON
	out.Introducers.Statuses = []string{}
	out.Servers = []serverJSON{}
	if h.st == nil {
		return out
	}
	for _, in := range h.st.Introducers() {
		out.Introducers.Statuses = append(out.Introducers.Statuses, introducerSummary(in))
	}
	for _, s := range h.st.Servers() {
		j := serverJSON{NodeID: s.ID, ConnectionStatus: serverSummary(s), Nickname: s.Nickname}
		if !s.LastReceivedData.IsZero() {
			space := s.AvailableSpace
			t := float64(s.LastReceivedData.UnixNano()) / 1e9
			j.AvailableSpace, j.LastReceivedData = &space, &t
		}
		if s.Version != "" {
			j.Version = &s.Version
		}
		out.Servers = append(out.Servers, j)
	}
	return out
}

// serverSummary is the connection_status Tahoe gives a storage server
// reached over HTTP: "connected", "failure: ..." or "unstarted"; or, for
// a server lafs cannot use, "unsupported: " and why.
func serverSummary(s ServerStatus) string {
	switch {
	case s.Unsupported != "":
		return "unsupported: " + s.Unsupported
	case s.Connected:
		return "connected"
	case s.LastError != "":
		return "failure: " + s.LastError
	}
	return "unstarted"
}

// introducerSummary is the status line of an introducer, by default as
// Tahoe words it for a Foolscap connection: "Connected to tcp:h:p via tcp".
func introducerSummary(in IntroducerStatus) string {
	hint := hostHint(in.URL)
	switch {
	case in.Summary != "":
		return in.Summary
	case in.Connected && hint != "":
		how, _, _ := strings.Cut(hint, ":")
		return "Connected to " + hint + " via " + how
	case in.Connected:
		return "Connected"
	case hint != "":
		return "Not connected to " + hint
	}
	return "Not connected"
}

// hostHint returns the location part of a fURL ("pb://tubid@tcp:h:p,.../swissnum")
// or NURL ("pb://hash@h:p/swissnum#v=1") as a Foolscap hint, "tcp:h:p",
// leaving out the secret parts; "" if u is neither.
func hostHint(u string) string {
	if rest, ok := strings.CutPrefix(u, "pb://"); ok {
		if _, after, ok := strings.Cut(rest, "@"); ok {
			loc, _, _ := strings.Cut(after, "/")
			loc, _, _ = strings.Cut(loc, ",")
			if !strings.HasPrefix(loc, "tcp:") && !strings.HasPrefix(loc, "tor:") && !strings.HasPrefix(loc, "i2p:") {
				loc = "tcp:" + loc
			}
			return loc
		}
	}
	if p, err := url.Parse(u); err == nil && p.Host != "" {
		return "tcp:" + p.Host
	}
	return ""
}

// abbreviateSize is Tahoe's abbreviate_size: 1000-based units.
func abbreviateSize(n uint64) string {
	r := float64(n)
	switch {
	case r > 1e9:
		return fmt.Sprintf("%.2fGB", r/1e9)
	case r > 1e6:
		return fmt.Sprintf("%.2fMB", r/1e6)
	case r > 1e3:
		return fmt.Sprintf("%.1fkB", r/1e3)
	}
	return strconv.FormatUint(n, 10) + "B"
}

// pyJSON encodes v as Tahoe's json.dumps(v, indent=1) + "\n": one-space
// indents, no HTML escaping, every non-ASCII character as \uXXXX, floats
// as Python writes them (see pyjson.Marshal for Go structs).
func pyJSON(v any) ([]byte, error) {
	b, err := pyjson.MarshalIndent(v, 1)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// writeJSON sends v as pyJSON with the given Content-Type.
func writeJSON(w http.ResponseWriter, contentType string, v any) error {
	b, err := pyJSON(v)
	if err != nil {
		return err
	}
	writeBody(w, http.StatusOK, contentType, b)
	return nil
}
