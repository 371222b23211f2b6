package node

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/lafs/lafs/introducer"
	"github.com/lafs/lafs/introducer/foolscap"
	"github.com/lafs/lafs/pyjson"
	"github.com/lafs/lafs/webapi"
)

// The introducer's web page (Tahoe's web/introweb.py and
// introducer.xhtml), served on [node] web.port of an introducer node when
// it is set: what the introducer knows, in HTML or, with t=json, in the
// JSON Tahoe gives ({"subscription_summary", "announcement_summary"}),
// to which lafs adds "announcements" and "subscribers", the details of
// each. Tahoe's create-introducer leaves web.port empty, so an introducer
// has no web server unless one is configured.

// startIntroducerWeb serves the introducer's web page on [node] web.port
// (when set) and writes BASEDIR/node.url, as Tahoe's introducer does.
func (n *Node) startIntroducerWeb() error {
	if n.IntroducerServer == nil {
		return nil
	}
	ln, url, err := n.listenWeb("introducer web page")
	if ln == nil {
		return err
	}
	n.serve(ln, &introducerPage{
		status:  n.IntroducerServer.Status,
		nodeID:  n.Identity.TubID,
		version: Version,
		log:     n.Log.With("service", "introducer-web"),
	})
	return n.announceWeb("introducer web page", url)
}

// introducerPage serves the introducer's status page at / and nothing
// else.
type introducerPage struct {
	status  func() introducer.ServerStatus
	nodeID  string // the tub ID, Tahoe's "my nodeid"
	version string
	log     *slog.Logger
	now     func() time.Time // time.Now unless set
}

// introPageCSP is the page's Content-Security-Policy: nothing may load,
// run or frame it; only its own stylesheet (pinned by hash) applies.
var introPageCSP = "default-src 'none'; style-src 'sha256-" + cssHash(introPageCSS) + "'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func cssHash(css string) string {
	sum := sha256.Sum256([]byte(css))
	return base64.StdEncoding.EncodeToString(sum[:])
}

func (p *introducerPage) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// The web API's headers (webapi's ServeHTTP), and a strict policy:
	// the page needs nothing but its inline stylesheet.
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", introPageCSP)
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	// Tahoe's MultiFormatResource: no t is HTML; t is matched without
	// regard to case; any other t, even an empty one, is refused.
	q := r.URL.Query()
	format := "HTML"
	if q.Has("t") {
		format = strings.ToUpper(q.Get("t"))
	}
	now := time.Now()
	if p.now != nil {
		now = p.now()
	}
	st := p.status()
	var buf bytes.Buffer
	switch format {
	case "HTML":
		if err := introTemplate.Execute(&buf, p.htmlData(st, now)); err != nil {
			p.log.Warn("introducer web page", "err", err)
			http.Error(w, "rendering the page failed", http.StatusInternalServerError)
			return
		}
		h.Set("Content-Type", "text/html; charset=utf-8")
	case "JSON":
		b, err := introducerJSON(st)
		if err != nil {
			p.log.Warn("introducer web page", "err", err)
			http.Error(w, "encoding the status failed", http.StatusInternalServerError)
			return
		}
		buf.Write(b)
		h.Set("Content-Type", "text/plain; charset=utf-8")
	default:
		http.Error(w, "Unknown t value: "+strconv.Quote(q.Get("t")), http.StatusBadRequest)
		return
	}
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.Write(buf.Bytes())
}

// renderTime is Tahoe's render_time, in local time.
func renderTime(t time.Time) string { return webapi.RenderTime(t.Local()) }

// countSummary is Tahoe's "name: count, ..." of counts, by name.
func countSummary(counts map[string]int) string {
	names := make([]string, 0, len(counts))
	for k := range counts {
		names = append(names, k)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = k + ": " + strconv.Itoa(counts[k])
	}
	return strings.Join(parts, ", ")
}

type introHTML struct {
	CSS                 template.CSS
	NodeID, Version     string
	AnnouncementSummary string
	SubscriptionSummary string
	Announcements       []introAnnRow
	Subscribers         []introSubRow
	RenderedAt          string
}

type introAnnRow struct {
	Nickname, ServerID, Hints, Announced, Version, ServiceName, Protocol string
}

type introSubRow struct {
	Nickname, TubID, Connected, Since, Version, ServiceName, Protocol string
}

func (p *introducerPage) htmlData(st introducer.ServerStatus, now time.Time) introHTML {
	d := introHTML{
		CSS:                 template.CSS(introPageCSS),
		NodeID:              p.nodeID,
		Version:             p.version,
		AnnouncementSummary: countSummary(st.AnnouncementSummary()),
		SubscriptionSummary: countSummary(st.SubscriptionSummary()),
		RenderedAt:          renderTime(now),
	}
	for _, a := range st.Announcements {
		d.Announcements = append(d.Announcements, introAnnRow{
			Nickname:    a.Nickname,
			ServerID:    a.ServerID,
			Hints:       "connection hints: " + strings.Join(a.Hints, " "),
			Announced:   renderTime(a.When),
			Version:     a.Version,
			ServiceName: a.ServiceName,
			Protocol:    a.Protocol,
		})
	}
	for _, s := range st.Subscribers {
		tub := s.TubID
		if tub == "" {
			tub = "(" + s.Protocol + ")"
		}
		d.Subscribers = append(d.Subscribers, introSubRow{
			Nickname:    s.Nickname,
			TubID:       tub,
			Connected:   s.RemoteAddress,
			Since:       renderTime(s.Since),
			Version:     s.Version,
			ServiceName: s.ServiceName,
			Protocol:    s.Protocol,
		})
	}
	return d
}

// introJSON is the t=json answer. Its first two keys, in this order, are
// Tahoe's; the others are lafs's.
type introJSON struct {
	SubscriptionSummary map[string]int `json:"subscription_summary"`
	AnnouncementSummary map[string]int `json:"announcement_summary"`
	Announcements       []introJSONAnn `json:"announcements"`
	Subscribers         []introJSONSub `json:"subscribers"`
}

type introJSONAnn struct {
	ServerID    string   `json:"server-id"`
	Nickname    string   `json:"nickname"`
	ServiceName string   `json:"service-name"`
	Version     string   `json:"my-version"`
	Seqnum      int64    `json:"seqnum"`
	Announced   float64  `json:"announced"`
	NURLs       []string `json:"anonymous-storage-NURLs"`
	Hints       []string `json:"connection-hints"`
	Protocol    string   `json:"protocol"`
}

type introJSONSub struct {
	Nickname      string  `json:"nickname"`
	TubID         *string `json:"tub-id"` // null for an HTTPS subscriber
	RemoteAddress string  `json:"remote-address"`
	Since         float64 `json:"since"`
	LastSeen      float64 `json:"last-seen"`
	ServiceName   string  `json:"service-name"`
	Version       string  `json:"my-version"`
	Protocol      string  `json:"protocol"`
}

// introSeconds is t as Tahoe's time.time().
func introSeconds(t time.Time) float64 { return float64(t.UnixMicro()) / 1e6 }

// censorAll censors the swissnums of NURLs: whoever reaches the page
// must not get the storage servers' secrets, which Tahoe's page does not
// show either.
func censorAll(urls []string) []string {
	out := make([]string, len(urls))
	for i, u := range urls {
		out[i] = foolscap.Censor(u)
	}
	return out
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// introducerJSON encodes st as Tahoe's render_JSON does: json.dumps with
// indent 1 (and so its default ensure_ascii, see pyjson) and a newline.
func introducerJSON(st introducer.ServerStatus) ([]byte, error) {
	v := introJSON{
		SubscriptionSummary: st.SubscriptionSummary(),
		AnnouncementSummary: st.AnnouncementSummary(),
		Announcements:       []introJSONAnn{},
		Subscribers:         []introJSONSub{},
	}
	for _, a := range st.Announcements {
		v.Announcements = append(v.Announcements, introJSONAnn{
			ServerID: a.ServerID, Nickname: a.Nickname, ServiceName: a.ServiceName,
			Version: a.Version, Seqnum: a.Seqnum, Announced: introSeconds(a.When),
			NURLs: censorAll(a.NURLs), Hints: orEmpty(a.Hints), Protocol: a.Protocol,
		})
	}
	for _, s := range st.Subscribers {
		var tub *string
		if s.TubID != "" {
			tub = &s.TubID
		}
		v.Subscribers = append(v.Subscribers, introJSONSub{
			Nickname: s.Nickname, TubID: tub, RemoteAddress: s.RemoteAddress,
			Since: introSeconds(s.Since), LastSeen: introSeconds(s.LastSeen),
			ServiceName: s.ServiceName, Version: s.Version, Protocol: s.Protocol,
		})
	}
	b, err := pyjson.MarshalIndent(v, 1)
	if err != nil {
		return nil, fmt.Errorf("introducer status: %w", err)
	}
	return append(b, '\n'), nil
}

// introPageCSS is the page's stylesheet, inline so that the page needs
// nothing else.
const introPageCSS = `
body { font-family: sans-serif; margin: 1em 2em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left; vertical-align: top; }
.table-headings-left th { background: #eee; }
.table-headings-top th { background: #eee; }
.data-chars { font-family: monospace; }
.nickname { font-weight: bold; }
.minutia { color: #666; font-size: smaller; }
`

var introTemplate = template.Must(template.New("introducer").Parse(`<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>Tahoe-LAFS - Introducer Status</title>
<style>{{.CSS}}</style>
</head>
<body>
<h1>Welcome to the Tahoe-LAFS Introducer</h1>

<div class="section" id="this-client">
<h2>This Introducer</h2>
<table class="node-info table-headings-left">
<tr><th>My nodeid:</th><td class="nodeid mine data-chars">{{.NodeID}}</td></tr>
<tr><th>My versions:</th><td>{{.Version}}</td></tr>
</table>
</div>

<div>Announcement Summary: <span>{{.AnnouncementSummary}}</span></div>
<div>Subscription Summary: <span>{{.SubscriptionSummary}}</span></div>

<div class="section">
<h2>Service Announcements</h2>
<table class="services table-headings-top">
<tr>
<th class="nickname-and-peerid"><div class="service-nickname">Nickname</div><div class="nodeid data-chars">ServerID</div></th>
<th>Announced</th>
<th>Version</th>
<th>Service Name</th>
<th>Protocol</th>
</tr>
{{range .Announcements}}<tr>
<td class="nickname-and-peerid"><div class="nickname">{{.Nickname}}</div><div class="nodeid data-chars">{{.ServerID}}</div></td>
<td class="service-announced" title="{{.Hints}}">{{.Announced}}</td>
<td class="service-version">{{.Version}}</td>
<td class="service-service-name">{{.ServiceName}}</td>
<td class="service-protocol">{{.Protocol}}</td>
</tr>
{{else}}<tr><td>no peers!</td></tr>
{{end}}</table>
</div>

<div class="section">
<h2>Subscribed Clients</h2>
<table class="services table-headings-top">
<tr>
<th class="nickname-and-peerid"><div class="service-nickname">Nickname</div><div class="nodeid data-chars">Tub ID</div></th>
<th>Connected From</th>
<th>Since</th>
<th>Version</th>
<th>Subscribed To</th>
<th>Protocol</th>
</tr>
{{range .Subscribers}}<tr>
<td class="nickname-and-peerid"><div class="nickname">{{.Nickname}}</div><div class="nodeid data-chars">{{.TubID}}</div></td>
<td>{{.Connected}}</td>
<td class="service-since">{{.Since}}</td>
<td class="service-version">{{.Version}}</td>
<td class="service-service-name">{{.ServiceName}}</td>
<td class="service-protocol">{{.Protocol}}</td>
</tr>
{{else}}<tr><td>no subscribers!</td></tr>
{{end}}</table>
</div>

<p class="minutia">Page rendered at <span>{{.RenderedAt}}</span></p>
</body>
</html>
`))
