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
	// them ("uploader.files_uploaded", "node.uptime", ...). Counters the
	// web API keeps itself (see Stats) fill in the names it leaves out.
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

// counters are what the web API counts of its own work. They are reported
// under the names Tahoe's uploader and downloader use, unless the node's
// Status already reports those names.
type counters struct {
	filesUploaded, bytesUploaded, filesDownloaded, bytesDownloaded atomic.Int64
	filesPublished, bytesPublished, filesRetrieved, bytesRetrieved atomic.Int64
}

// stats merges the node's statistics with the web API's own.
func (h *handler) stats() Stats {
	var s Stats
	if h.st != nil {
		s = h.st.Stats()
	}
	out := Stats{Counters: map[string]int64{}, Stats: map[string]float64{}}
	for k, v := range map[string]int64{
		"uploader.files_uploaded":     h.count.filesUploaded.Load(),
		"uploader.bytes_uploaded":     h.count.bytesUploaded.Load(),
		"downloader.files_downloaded": h.count.filesDownloaded.Load(),
		"downloader.bytes_downloaded": h.count.bytesDownloaded.Load(),
		"mutable.files_published":     h.count.filesPublished.Load(),
		"mutable.bytes_published":     h.count.bytesPublished.Load(),
		"mutable.files_retrieved":     h.count.filesRetrieved.Load(),
		"mutable.bytes_retrieved":     h.count.bytesRetrieved.Load(),
	} {
		out.Counters[k] = v
	}
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
	s := h.stats()
	switch strings.ToUpper(t) {
	case "HTML":
		return h.renderHTML(w, statisticsPage, newStatisticsData(s))
	case "JSON":
		return writeJSON(w, "text/plain", s)
	case "OPENMETRICS":
		writeBody(w, http.StatusOK, "application/openmetrics-text; version=1.0.0; charset=utf-8", openMetrics(s))
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

var percentile = regexp.MustCompile(`_(\d\d)_(\d)_percentile`)

// openMetrics renders s as Tahoe's render_OPENMETRICS: sorted names with
// "." made "_", "_99_9_percentile" made a quantile label.
func openMetrics(s Stats) []byte {
	var b bytes.Buffer
	mangle := func(k string) string {
		return percentile.ReplaceAllString(strings.ReplaceAll(k, ".", "_"), `{quantile="0.${1}${2}"}`)
	}
	for _, k := range slices.Sorted(maps.Keys(s.Counters)) {
		fmt.Fprintf(&b, "tahoe_counters_%s %d\n", mangle(k), s.Counters[k])
	}
	for _, k := range slices.Sorted(maps.Keys(s.Stats)) {
		fmt.Fprintf(&b, "tahoe_stats_%s %s\n", mangle(k), formatFloat(s.Stats[k]))
	}
	b.WriteString("# EOF\n")
	return b.Bytes()
}

// formatFloat writes v as JSON does, and NaN and infinities as OpenMetrics
// spells them.
func formatFloat(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	b, _ := json.Marshal(v)
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
// reached over HTTP: "connected", "failure: ..." or "unstarted".
func serverSummary(s ServerStatus) string {
	switch {
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
