package webapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lafs/lafs/internal/testgrid"
)

// TestWelcomeUnsupportedServer checks that a server lafs cannot use is
// listed, with its reason, on the welcome page and in its JSON, in the
// shape of Tahoe's welcome JSON.
func TestWelcomeUnsupportedServer(t *testing.T) {
	const reason = "announces no NURL (HTTPS storage): Tahoe before 1.19 or Foolscap-only storage is not supported"
	now := time.Now()
	a := newTestAPI(t, func(*testgrid.Grid) Status {
		return stubStatus{
			intro: []IntroducerStatus{{URL: "pb://tubid@tcp:example.org:1234/[censored]", Summary: "Trying to connect"}},
			servers: []ServerStatus{
				{ID: "v0-old", Nickname: "old<1>", Since: now, Version: "tahoe-lafs/1.17.1", Unsupported: reason},
				{ID: "v0-up", Nickname: "up", Connected: true, Since: now, LastReceivedData: now, AvailableSpace: 5e9, Version: "lafs/1"},
			},
		}
	})

	r := a.do(http.MethodGet, "/?t=json", nil)
	r.expect(t, 200, "application/json; charset=utf-8", `"connection_status": "unsupported: `+reason+`"`)
	var w struct {
		Introducers struct{ Statuses []string }
		Servers     []json.RawMessage
	}
	if err := json.Unmarshal([]byte(r.body), &w); err != nil {
		t.Fatal(err)
	}
	if len(w.Introducers.Statuses) != 1 || w.Introducers.Statuses[0] != "Trying to connect" {
		t.Errorf("introducer statuses %q", w.Introducers.Statuses)
	}
	if len(w.Servers) != 2 {
		t.Fatalf("servers:\n%s", r.body)
	}
	want := []string{"nodeid", "connection_status", "available_space", "nickname", "version", "last_received_data"}
	if k := objectKeys(t, w.Servers[0]); strings.Join(k, " ") != strings.Join(want, " ") {
		t.Errorf("server keys %v, want Tahoe's %v", k, want)
	}
	var s map[string]any
	json.Unmarshal(w.Servers[0], &s)
	if s["nodeid"] != "v0-old" || s["connection_status"] != "unsupported: "+reason || s["nickname"] != "old<1>" ||
		s["version"] != "tahoe-lafs/1.17.1" || s["available_space"] != nil || s["last_received_data"] != nil {
		t.Errorf("unsupported server: %v", s)
	}

	r = a.do(http.MethodGet, "/", nil)
	r.expect(t, 200, "text/html", "<td>unsupported: "+reason+"</td>")
	for _, part := range []string{"Storage servers: 1 of 2 connected", "old&lt;1&gt;", "<td>Trying to connect</td>"} {
		if !strings.Contains(r.body, part) {
			t.Errorf("welcome page lacks %q", part)
		}
	}
}
