package node

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/introducer"
)

// TestIntrowebNode starts an introducer node with a web.port, publishes a
// storage announcement to it over HTTPS, and reads its web page in HTML
// and JSON: the announcement and the publishing client (a subscriber)
// are listed, came by "https", and their nicknames are escaped. Other
// paths are 404. An introducer without web.port serves no page.
func TestIntrowebNode(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	quiet := slog.New(slog.DiscardHandler)

	// Tahoe's create-introducer: no web server, no node.url.
	plain := filepath.Join(t.TempDir(), "plain")
	if err := Create(plain, CreateOptions{Kind: KindIntroducer, Hostname: "127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	pn, err := Start(ctx, plain, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(plain, NodeURLFile)); !os.IsNotExist(err) {
		t.Errorf("an introducer without web.port wrote node.url: %v", err)
	}
	pn.Close()

	dir := filepath.Join(t.TempDir(), "intro")
	if err := Create(dir, CreateOptions{Kind: KindIntroducer, Hostname: "127.0.0.1", WebPort: "tcp:0:interface=127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	n, err := Start(ctx, dir, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	b, err := os.ReadFile(filepath.Join(dir, NodeURLFile))
	if err != nil {
		t.Fatal(err)
	}
	base := strings.TrimSpace(string(b))
	if !strings.HasPrefix(base, "http://127.0.0.1:") || !strings.HasSuffix(base, "/") {
		t.Fatalf("node.url %q", base)
	}

	// Empty: Tahoe's "no peers!" and "no subscribers!".
	_, page := introwebGet(t, base, http.StatusOK)
	for _, want := range []string{"no peers!", "no subscribers!", "<title>Tahoe-LAFS - Introducer Status</title>", n.Identity.TubID} {
		if !strings.Contains(page, want) {
			t.Errorf("empty page lacks %q", want)
		}
	}

	const evilClient = `<script>alert("client")</script>`
	const evilServer = `<script>alert("server")</script>`
	cl, err := introducer.NewClient(n.IntroducerURLs.NURLs[0], evilClient,
		introducer.WithBackoff(10*time.Millisecond, 50*time.Millisecond), introducer.WithPollWait(10*time.Second),
		introducer.WithLogger(quiet), introducer.WithMyVersion("lafs/intro-test"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	_, key, _ := ed25519.GenerateKey(nil)
	a := introducer.NewAnnouncement(introducer.StorageService, evilServer, "lafs/server-test", 7)
	a["anonymous-storage-FURL"] = "pb://" + lafs.Base32(make([]byte, 20)) + "@tcp:127.0.0.1:1234,tcp:example.org:5/swissnum"
	a["anonymous-storage-NURLs"] = []string{"pb://" + strings.Repeat("A", 43) + "@127.0.0.1:1234/swissnum#v=1"}
	a["permutation-seed-base32"] = lafs.Base32(make([]byte, 32))
	signed, err := introducer.Sign(a, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.Publish(signed); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for st := n.IntroducerServer.Status(); len(st.Announcements) != 1 || len(st.Subscribers) != 1; st = n.IntroducerServer.Status() {
		if time.Now().After(deadline) {
			t.Fatalf("the introducer has %d announcements and %d subscribers, want 1 and 1", len(st.Announcements), len(st.Subscribers))
		}
		time.Sleep(10 * time.Millisecond)
	}
	serverID := introducer.ServerID(key.Public().(ed25519.PublicKey))

	resp, page := introwebGet(t, base, http.StatusOK)
	if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	introwebCheckHeaders(t, resp)
	for _, want := range []string{
		"Welcome to the Tahoe-LAFS Introducer",
		"Announcement Summary: <span>storage: 1</span>",
		"Subscription Summary: <span>storage: 1</span>",
		serverID,
		`title="connection hints: tcp:127.0.0.1:1234 tcp:example.org:5"`,
		"lafs/server-test", "lafs/intro-test",
		`<td class="service-protocol">https</td>`,
		"(https)",
		"&lt;script&gt;alert(&#34;client&#34;)&lt;/script&gt;",
		"&lt;script&gt;alert(&#34;server&#34;)&lt;/script&gt;",
		Version,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, "<script") || strings.Contains(page, "no peers!") || strings.Contains(page, "no subscribers!") {
		t.Errorf("page:\n%s", page)
	}
	if strings.Contains(page, "swissnum") {
		t.Error("page shows a swissnum")
	}
	introwebCheckCSS(t, resp, page)

	resp, body := introwebGet(t, base+"?t=json", http.StatusOK)
	introwebCheckHeaders(t, resp)
	if !strings.HasSuffix(body, "}\n") || !strings.HasPrefix(body, "{\n \"subscription_summary\": {\n  \"storage\": 1\n },\n \"announcement_summary\": {\n  \"storage\": 1\n },\n") {
		t.Errorf("JSON is not Tahoe's:\n%s", body)
	}
	var js struct {
		Announcements []struct {
			ServerID    string   `json:"server-id"`
			Nickname    string   `json:"nickname"`
			ServiceName string   `json:"service-name"`
			Version     string   `json:"my-version"`
			Seqnum      int64    `json:"seqnum"`
			Announced   float64  `json:"announced"`
			NURLs       []string `json:"anonymous-storage-NURLs"`
			Hints       []string `json:"connection-hints"`
			Protocol    string   `json:"protocol"`
		} `json:"announcements"`
		Subscribers []struct {
			Nickname      string  `json:"nickname"`
			TubID         *string `json:"tub-id"`
			RemoteAddress string  `json:"remote-address"`
			Since         float64 `json:"since"`
			LastSeen      float64 `json:"last-seen"`
			ServiceName   string  `json:"service-name"`
			Version       string  `json:"my-version"`
			Protocol      string  `json:"protocol"`
		} `json:"subscribers"`
	}
	if err := json.Unmarshal([]byte(body), &js); err != nil {
		t.Fatal(err)
	}
	now := float64(time.Now().Unix())
	if len(js.Announcements) != 1 {
		t.Fatalf("announcements: %+v", js.Announcements)
	}
	an := js.Announcements[0]
	if an.ServerID != serverID || an.Nickname != evilServer || an.ServiceName != "storage" || an.Version != "lafs/server-test" ||
		an.Seqnum != 7 || an.Protocol != "https" || len(an.NURLs) != 1 || an.NURLs[0] != "pb://"+strings.Repeat("A", 43)+"@127.0.0.1:1234/[censored]#v=1" ||
		strings.Join(an.Hints, " ") != "tcp:127.0.0.1:1234 tcp:example.org:5" || an.Announced < now-60 || an.Announced > now+1 {
		t.Errorf("announcement %+v", an)
	}
	if len(js.Subscribers) != 1 {
		t.Fatalf("subscribers: %+v", js.Subscribers)
	}
	sub := js.Subscribers[0]
	if sub.Nickname != evilClient || sub.TubID != nil || !strings.HasPrefix(sub.RemoteAddress, "127.0.0.1") ||
		sub.ServiceName != "storage" || sub.Version != "lafs/intro-test" || sub.Protocol != "https" ||
		sub.Since < now-60 || sub.Since > now+1 || sub.LastSeen < sub.Since {
		t.Errorf("subscriber %+v", sub)
	}

	// Tahoe matches t without regard to case and refuses what it does
	// not know.
	introwebGet(t, base+"?t=JSON", http.StatusOK)
	introwebGet(t, base+"?t=html", http.StatusOK)
	introwebGet(t, base+"?t=rss", http.StatusBadRequest)
	introwebGet(t, base+"?t=", http.StatusBadRequest)
	for _, p := range []string{"tahoe.css", "uri", "status", "storage", "index.html", "/"} {
		resp, _ := introwebGet(t, base+p, http.StatusNotFound)
		introwebCheckHeaders(t, resp)
	}
	resp, err = http.Post(base, "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %s, Allow %q", resp.Status, resp.Header.Get("Allow"))
	}
	resp, err = http.Head(base)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("HEAD: %s", resp.Status)
	}
}

func introwebGet(t *testing.T, url string, want int) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != want {
		t.Errorf("GET %s: %s, want %d", url, resp.Status, want)
	}
	return resp, string(b)
}

func introwebCheckHeaders(t *testing.T, resp *http.Response) {
	t.Helper()
	for k, want := range map[string]string{
		"X-Frame-Options":        "DENY",
		"Referrer-Policy":        "no-referrer",
		"X-Content-Type-Options": "nosniff",
	} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("%s %s: %s %q, want %q", resp.Request.Method, resp.Request.URL, k, got, want)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
}

// introwebCheckCSS checks that the page's inline stylesheet is the one
// its Content-Security-Policy allows.
func introwebCheckCSS(t *testing.T, resp *http.Response, page string) {
	t.Helper()
	_, rest, ok := strings.Cut(page, "<style>")
	css, _, ok2 := strings.Cut(rest, "</style>")
	if !ok || !ok2 {
		t.Fatal("page has no stylesheet")
	}
	sum := sha256.Sum256([]byte(css))
	want := "style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, want) {
		t.Errorf("Content-Security-Policy %q does not allow the stylesheet (%s)", csp, want)
	}
}

// TestIntrowebJSON checks the JSON against Tahoe's json.dumps(indent=1):
// its two keys first, in its order, and non-ASCII escaped.
func TestIntrowebJSON(t *testing.T) {
	b, err := introducerJSON(introducer.ServerStatus{})
	if err != nil {
		t.Fatal(err)
	}
	const empty = "{\n \"subscription_summary\": {},\n \"announcement_summary\": {},\n \"announcements\": [],\n \"subscribers\": []\n}\n"
	if string(b) != empty {
		t.Errorf("got\n%s\nwant\n%s", b, empty)
	}
	when := time.Unix(1700000000, 500000000)
	st := introducer.ServerStatus{
		Announcements: []introducer.AnnouncementInfo{{ServerID: "v0-x", ServiceName: "storage", Nickname: "caf\u00e9 \U0001F600 <&>", When: when, Protocol: "foolscap"}},
		Subscribers:   []introducer.SubscriberInfo{{ServiceName: "storage", Nickname: "s", Since: when, LastSeen: when, Protocol: "foolscap", TubID: "abc"}},
	}
	b, err = introducerJSON(st)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{
		`"nickname": "caf\u00e9 \ud83d\ude00 <&>"`,
		`"announced": 1700000000.5`,
		`"tub-id": "abc"`,
		`"connection-hints": []`,
		`"anonymous-storage-NURLs": []`,
		"{\n \"subscription_summary\": {\n  \"storage\": 1\n },\n \"announcement_summary\": {\n  \"storage\": 1\n },\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("JSON lacks %s:\n%s", want, s)
		}
	}
	for _, c := range s {
		if c >= 0x80 {
			t.Fatalf("non-ASCII in JSON: %q", s)
		}
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back["announcements"].([]any)[0].(map[string]any)["nickname"] != st.Announcements[0].Nickname {
		t.Errorf("nickname does not decode back: %v", back["announcements"])
	}
}

// TestIntrowebPage renders a Foolscap subscriber and announcement (made
// up, without a node) and Tahoe's render_time.
func TestIntrowebPage(t *testing.T) {
	when := time.Date(2024, 1, 2, 3, 4, 5, 0, time.Local)
	if got := renderTime(when); got != "2024-01-02\u00a003:04:05" {
		t.Errorf("renderTime %q", got)
	}
	st := introducer.ServerStatus{
		Announcements: []introducer.AnnouncementInfo{
			{ServerID: "v0-b", ServiceName: "storage", Nickname: "b", When: when, Protocol: "foolscap", Hints: []string{`tcp:"evil":1`}},
			{ServerID: "v0-a", ServiceName: "storage", Nickname: "a", When: when, Protocol: "https"},
		},
		Subscribers: []introducer.SubscriberInfo{{ServiceName: "storage", Nickname: "tahoe", Since: when, Protocol: "foolscap", TubID: "tubtubtub", RemoteAddress: "10.0.0.1:4"}},
	}
	p := &introducerPage{
		status:  func() introducer.ServerStatus { return st },
		nodeID:  "mynodeid",
		version: "lafs/x",
		log:     slog.New(slog.DiscardHandler),
		now:     func() time.Time { return when },
	}
	rec := httptest.NewRecorder()
	p.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	page := rec.Body.String()
	for _, want := range []string{
		"Announcement Summary: <span>storage: 2</span>",
		"Subscription Summary: <span>storage: 1</span>",
		`title="connection hints: tcp:&#34;evil&#34;:1"`,
		`<td class="service-protocol">foolscap</td>`,
		">tubtubtub<", ">10.0.0.1:4<",
		"Page rendered at <span>2024-01-02\u00a003:04:05</span>",
		">mynodeid<", ">lafs/x<",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, "(foolscap)") {
		t.Error("a Foolscap subscriber's tub ID is missing")
	}
}
