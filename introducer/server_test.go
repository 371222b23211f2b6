package introducer

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func publishBody(t testing.TB, s Signed) []byte {
	return encode(publishRequest{Announcement: toWire(s)})
}

func mustCBOR(t testing.TB, m message) []byte { return encode(m) }

// publishRaw publishes s and returns the outcome.
func (ti *testIntro) publishRaw(t testing.TB, s Signed) publishResponse {
	t.Helper()
	resp, body := ti.do(t, "POST", pathPublish, publishBody(t, s), "Content-Type", mediaCBOR)
	if resp.StatusCode != 200 {
		t.Fatalf("publish: %d %s", resp.StatusCode, body)
	}
	out, err := decodePublishResponse(body)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (ti *testIntro) pollRaw(t testing.TB, query string) (pollResponse, time.Duration) {
	t.Helper()
	start := time.Now()
	resp, body := ti.do(t, "GET", pathAnnouncements+"?"+query, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("poll: %d %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != mediaCBOR {
		t.Fatalf("poll Content-Type %q", ct)
	}
	p, err := decodePoll(body)
	if err != nil {
		t.Fatal(err)
	}
	return p, time.Since(start)
}

func TestServerSeqnums(t *testing.T) {
	ti := startIntro(t)
	n := newNode("n1")
	s1, s2, s2b := n.storageAnn(t, 1), n.storageAnn(t, 2), n.storageAnn(t, 2)
	for i, c := range []struct {
		s    Signed
		want string
	}{
		{s1, outcomeNew},
		{s1, outcomeDuplicate},
		{s2, outcomeUpdated},
		{s1, outcomeStale},
		{s2b, outcomeStale}, // same seqnum, other content: the first stays
		{s2, outcomeDuplicate},
	} {
		if got := ti.publishRaw(t, c.s).Outcome; got != c.want {
			t.Errorf("step %d: outcome %q, want %q", i, got, c.want)
		}
	}
	p, _ := ti.pollRaw(t, "service=storage")
	if len(p.Announcements) != 1 || string(p.Announcements[0].Msg) != string(s2.Msg) {
		t.Fatalf("poll: %+v", p)
	}
	// Another service of the same key is kept apart.
	a := NewAnnouncement("other", "n1", "v", 1)
	so, err := Sign(a, n.key)
	if err != nil {
		t.Fatal(err)
	}
	if got := ti.publishRaw(t, so).Outcome; got != outcomeNew {
		t.Errorf("other service: %q", got)
	}
	st := ti.Server.Status()
	if len(st.Announcements) != 2 || st.AnnouncementSummary()["storage"] != 1 || st.AnnouncementSummary()["other"] != 1 {
		t.Errorf("status: %+v", st)
	}
	if a := st.Announcements[1]; a.ServerID != n.id() || a.Seqnum != 2 || a.Nickname != "n1" || len(a.NURLs) != 1 {
		t.Errorf("status announcement: %+v", a)
	}
}

func TestServerBadInput(t *testing.T) {
	ti := startIntro(t, WithMaxAnnouncements(1))
	n := newNode("n")
	good := n.storageAnn(t, 1)
	tampered := good
	tampered.Msg = []byte(strings.Replace(string(good.Msg), `"n"`, `"m"`, 1))
	badSeq, _ := Sign(Announcement{"service-name": "storage", "seqnum": 1.5}, n.key)
	noSeq, _ := Sign(Announcement{"service-name": "storage"}, n.key)
	badName, _ := Sign(Announcement{"service-name": "Storage Service", "seqnum": 1}, n.key)
	big, _ := Sign(Announcement{"service-name": "storage", "seqnum": 1, "pad": strings.Repeat("x", MaxAnnouncementSize)}, n.key)
	auth := authorization([]byte(ti.swissnum))
	for _, c := range []struct {
		name         string
		method, path string
		body         []byte
		hdr          []string
		code         int
	}{
		{"no auth", "GET", pathVersion, nil, []string{"Authorization", ""}, 401},
		{"wrong auth", "GET", pathVersion, nil, []string{"Authorization", auth + "x"}, 401},
		{"no auth unknown path", "GET", "/nothing", nil, []string{"Authorization", ""}, 401},
		{"unknown path", "GET", pathPrefix + "nothing", nil, nil, 404},
		{"wrong method", "PUT", pathPublish, nil, nil, 405},
		{"not CBOR", "POST", pathPublish, []byte{0xff, 0x00}, nil, 400},
		{"empty body", "POST", pathPublish, []byte{}, nil, 400},
		{"no announcement", "POST", pathPublish, fxCBOR(t, map[string]any{"x": 1}), nil, 400},
		{"null announcement", "POST", pathPublish, fxCBOR(t, map[string]any{"announcement": nil}), nil, 400},
		{"short tuple", "POST", pathPublish, fxCBOR(t, map[string]any{"announcement": []any{good.Msg, good.Sig}}), nil, 400},
		{"text msg", "POST", pathPublish, fxCBOR(t, map[string]any{"announcement": []any{string(good.Msg), good.Sig, good.Key}}), nil, 400},
		{"bytes sig", "POST", pathPublish, fxCBOR(t, map[string]any{"announcement": []any{good.Msg, []byte(good.Sig), good.Key}}), nil, 400},
		{"tampered", "POST", pathPublish, publishBody(t, tampered), nil, 400},
		{"fractional seqnum", "POST", pathPublish, publishBody(t, badSeq), nil, 400},
		{"no seqnum", "POST", pathPublish, publishBody(t, noSeq), nil, 400},
		{"bad service name", "POST", pathPublish, publishBody(t, badName), nil, 400},
		{"announcement too big", "POST", pathPublish, publishBody(t, big), nil, 413},
		{"body too big", "POST", pathPublish, make([]byte, maxPublishBody+1), nil, 413},
		{"JSON body", "POST", pathPublish, publishBody(t, good), []string{"Content-Type", "application/json"}, 415},
		{"no service", "GET", pathAnnouncements, nil, nil, 400},
		{"bad service", "GET", pathAnnouncements + "?service=a/b", nil, nil, 400},
		{"bad after", "GET", pathAnnouncements + "?service=storage&after=-1", nil, nil, 400},
		{"huge after", "GET", pathAnnouncements + "?service=storage&after=99999999999999999999999", nil, nil, 400},
		{"bad wait", "GET", pathAnnouncements + "?service=storage&after=1&wait=1e3", nil, nil, 400},
		{"repeated param", "GET", pathAnnouncements + "?service=storage&service=storage", nil, nil, 400},
		{"long nickname", "GET", pathAnnouncements + "?service=storage", nil, []string{headerSubscriber, "nickname=" + strings.Repeat("n", 300)}, 400},
		{"bad subscriber header", "GET", pathAnnouncements + "?service=storage", nil, []string{headerSubscriber, "nickname=%zz"}, 400},
		{"publish ok", "POST", pathPublish, publishBody(t, good), nil, 200},
		{"table full", "POST", pathPublish, publishBody(t, newNode("x").storageAnn(t, 1)), nil, 507},
		{"update in full table", "POST", pathPublish, publishBody(t, n.storageAnn(t, 2)), nil, 200},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, body := ti.do(t, c.method, c.path, c.body, c.hdr...)
			if resp.StatusCode != c.code {
				t.Errorf("status %d, want %d (%s)", resp.StatusCode, c.code, body)
			}
		})
	}
}

func TestServerVersion(t *testing.T) {
	ti := startIntro(t, WithMaxWait(30*time.Second), WithApplicationVersion("lafs/9"))
	resp, body := ti.do(t, "GET", pathVersion, nil)
	if resp.StatusCode != 200 {
		t.Fatal(resp.Status)
	}
	var m map[string]any
	if err := oldDecMode.Unmarshal(body, &m); err != nil { // another library's reading
		t.Fatal(err)
	}
	p, ok := m[protocolKey].(map[any]any)
	if !ok || p["maximum-wait"] != uint64(30) || p["maximum-announcement-size"] != uint64(MaxAnnouncementSize) || string(m["application-version"].([]byte)) != "lafs/9" {
		t.Errorf("version: %#v", m)
	}
}

func TestServerStatusEndpoint(t *testing.T) {
	ti := startIntro(t)
	n := newNode("n1")
	ti.publishRaw(t, n.storageAnn(t, 3))
	ti.do(t, "GET", pathAnnouncements+"?service=storage", nil, headerSubscriber, "id=abc&nickname=alice&my-version=lafs%2F1")

	resp, body := ti.do(t, "GET", pathStatus, nil, "Accept", "application/json")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != mediaJSON {
		t.Fatalf("%s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	var js wireStatus
	if err := json.Unmarshal(body, &js); err != nil {
		t.Fatal(err)
	}
	if js.AnnouncementSummary["storage"] != 1 || js.SubscriptionSummary["storage"] != 1 ||
		len(js.Subscribers) != 1 || js.Subscribers[0].Nickname != "alice" || js.Subscribers[0].Version != "lafs/1" ||
		js.Announcements[0].Seqnum != 3 || js.Announcements[0].ServerID != n.id() || js.Announcements[0].Announced < 1e9 {
		t.Errorf("JSON status: %s", body)
	}

	resp, body = ti.do(t, "GET", pathStatus, nil)
	if resp.Header.Get("Content-Type") != mediaCBOR {
		t.Fatalf("Content-Type %q", resp.Header.Get("Content-Type"))
	}
	var cs wireStatus
	if err := oldDecMode.Unmarshal(body, &cs); err != nil { // another library's reading
		t.Fatal(err)
	}
	if cs.Announcements[0].Nickname != "n1" || cs.Subscribers[0].RemoteAddress == "" {
		t.Errorf("CBOR status: %+v", cs)
	}

	// A subscriber that stopped polling is forgotten after the longest
	// wait and a grace period.
	ti.Server.mu.Lock()
	ti.Server.now = func() time.Time { return time.Now().Add(DefaultMaxWait + 2*subscriberGrace) }
	ti.Server.mu.Unlock()
	if st := ti.Server.Status(); len(st.Subscribers) != 0 {
		t.Errorf("stale subscriber still listed: %+v", st.Subscribers)
	}
}

func TestServerClose(t *testing.T) {
	ti := startIntro(t)
	p, _ := ti.pollRaw(t, "service=storage")
	done := make(chan int, 1)
	go func() {
		resp, _ := ti.do(t, "GET", pathAnnouncements+"?service=storage&wait=60&after="+strconv.FormatUint(p.Version, 10), nil)
		done <- resp.StatusCode
	}()
	time.Sleep(100 * time.Millisecond)
	ti.Server.Close()
	select {
	case code := <-done:
		if code != http.StatusServiceUnavailable {
			t.Errorf("waiting poll got %d", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waiting poll not answered on Close")
	}
	if resp, _ := ti.do(t, "GET", pathVersion, nil); resp.StatusCode != 503 {
		t.Errorf("after Close: %d", resp.StatusCode)
	}
}

func TestServerEmptySwissnum(t *testing.T) {
	ti := newIntro(t, "intro", "")
	ti.start()
	if resp, _ := ti.do(t, "GET", pathVersion, nil); resp.StatusCode != 401 {
		t.Errorf("empty swissnum: %d", resp.StatusCode)
	}
}
