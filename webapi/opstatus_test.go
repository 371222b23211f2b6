package webapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/internal/testgrid"
)

// opStatusReply is /status?t=json as a program reads it.
type opStatusReply struct {
	Active, Recent []map[string]any
}

func (a *testAPI) opStatus() (opStatusReply, string) {
	a.t.Helper()
	r := a.do(http.MethodGet, "/status?t=json", nil)
	r.expect(a.t, 200, "application/json", "")
	var st opStatusReply
	if err := json.Unmarshal([]byte(r.body), &st); err != nil {
		a.t.Fatalf("%v in %s", err, r.body)
	}
	return st, r.body
}

func TestOpStatusEmpty(t *testing.T) {
	a := newTestAPI(t, nil)
	r := a.do(http.MethodGet, "/status?t=json", nil)
	r.expect(t, 200, "application/json", "")
	if r.body != "{\n \"active\": [],\n \"recent\": []\n}\n" {
		t.Errorf("empty status = %q", r.body)
	}
	// Any method, as Tahoe's (tahoe status POSTs); t in any case.
	a.do(http.MethodPost, "/status?t=JSON", nil).expect(t, 200, "application/json", `"active": []`)
	a.do(http.MethodGet, "/status/", nil).expect(t, 200, "text/html", "No active operations!")
	a.do(http.MethodGet, "/status?t=bogus", nil).expect(t, 400, "", "Unknown t value")
	if r := a.do(http.MethodGet, "/status/up-1", nil); r.code != 404 {
		t.Errorf("/status/up-1: %d", r.code)
	}
}

// Every kind of operation shows, by storage index and never by cap, with
// Tahoe's keys in Tahoe's order.
func TestOpStatusRecent(t *testing.T) {
	a := newTestAPI(t, nil)
	data := strings.Repeat("operation status ", 1000)
	r := a.do(http.MethodPut, "/uri", strings.NewReader(data), OperationTagHeader, "put-42")
	r.expect(t, 200, "", "URI:CHK:")
	chk := r.body
	a.do(http.MethodGet, "/uri/"+chk, nil).expect(t, 200, "", "operation status")
	ssk := a.do(http.MethodPut, "/uri?format=SDMF", strings.NewReader("mutable contents")).body
	a.do(http.MethodGet, "/uri/"+ssk, nil).expect(t, 200, "", "mutable contents")
	dir := a.do(http.MethodPost, "/uri?t=mkdir", nil).body

	st, body := a.opStatus()
	if len(st.Active) != 0 {
		t.Errorf("active: %v", st.Active)
	}
	byType := map[string][]map[string]any{}
	for _, op := range st.Recent {
		byType[op["type"].(string)] = append(byType[op["type"].(string)], op)
	}
	siOf := func(s string) string {
		k, err := cap.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		si, ok := cap.StorageIndex(k)
		if !ok {
			t.Fatalf("%s has no storage index", s)
		}
		return si.String()
	}
	up := byType["upload"]
	if len(up) != 1 || up[0]["storage-index-string"] != siOf(chk) || up[0]["total-size"] != float64(len(data)) ||
		up[0]["status"] != "Finished" || up[0]["progress-hash"] != 1.0 || up[0]["progress-ciphertext"] != 1.0 ||
		up[0]["progress-encode-push"] != 1.0 || up[0]["tag"] != "put-42" || up[0]["finished"] == nil {
		t.Errorf("uploads: %v", up)
	}
	if d := byType["download"]; len(d) != 1 || d[0]["storage-index-string"] != siOf(chk) || d[0]["progress"] != 1.0 ||
		d[0]["bytes-done"] != float64(len(data)) || d[0]["tag"] != nil {
		t.Errorf("downloads: %v", d)
	}
	pubs := map[any]bool{}
	for _, p := range byType["publish"] {
		pubs[p["storage-index-string"]] = true
	}
	if !pubs[siOf(ssk)] || !pubs[siOf(dir)] {
		t.Errorf("publishes %v lack the SDMF file's or the directory's", byType["publish"])
	}
	var retrieved bool
	for _, p := range byType["retrieve"] {
		retrieved = retrieved || p["storage-index-string"] == siOf(ssk)
	}
	if !retrieved {
		t.Errorf("retrieves %v lack the SDMF file's", byType["retrieve"])
	}
	// Newest first.
	for i := 1; i < len(st.Recent); i++ {
		if st.Recent[i]["started"].(float64) > st.Recent[i-1]["started"].(float64) {
			t.Errorf("recent not newest first: %v", st.Recent)
		}
	}
	// Tahoe's keys first, in Tahoe's order.
	at := strings.Index(body, `"type": "upload"`)
	item := body[strings.LastIndex(body[:at], "{"):]
	item = item[:strings.Index(item, "}")]
	last := -1
	for _, k := range []string{"storage-index-string", "total-size", "status", "type", "progress-hash", "progress-ciphertext", "progress-encode-push", "started", "finished", "bytes-done", "tag"} {
		i := strings.Index(item, `"`+k+`"`)
		if i <= last {
			t.Errorf("key %q out of order in %s", k, item)
		}
		last = i
	}
	for _, c := range []string{chk, ssk, dir} {
		k, _ := cap.Parse(c)
		for _, part := range strings.Split(k.String(), ":")[2:3] {
			if strings.Contains(body, part) {
				t.Errorf("status holds a secret of %s", c)
			}
		}
	}

	html := a.do(http.MethodGet, "/status", nil)
	html.expect(t, 200, "text/html", "Recent and Active Operations")
	for _, want := range []string{"No active operations!", siOf(chk), "hash: 100.0%, ciphertext: 100.0%, encode: 100.0%", "<td>download</td>", "<td>publish</td>", "<td>retrieve</td>", "Finished"} {
		if !strings.Contains(html.body, want) {
			t.Errorf("the status page lacks %q", want)
		}
	}
	if strings.Contains(html.body, "URI:") {
		t.Error("the status page shows a cap")
	}
}

// An upload under way shows as active, its progress moving, known by the
// tag its request carried.
func TestOpStatusActiveUpload(t *testing.T) {
	a := newTestAPI(t, nil)
	for _, f := range a.g.Faults {
		f.Set(func(f *testgrid.Faults) { f.WriteDelay = 30 * time.Millisecond })
	}
	data := strings.Repeat("slow upload ", 300000) // 3.6 MB: 4 segments of 1 MiB
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		a.do(http.MethodPut, "/uri", strings.NewReader(data), OperationTagHeader, "slow-1").expect(t, 200, "", "URI:CHK:")
	}()
	var seen []map[string]any
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		st, _ := a.opStatus()
		if len(st.Active) > 0 {
			seen = append(seen, st.Active[0])
		} else if len(st.Recent) > 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	wg.Wait()
	var midway bool
	for _, op := range seen {
		if op["type"] != "upload" || op["tag"] != "slow-1" || op["storage-index-string"] != nil ||
			op["total-size"] != float64(len(data)) || op["finished"] != nil {
			t.Fatalf("active upload: %v", op)
		}
		p := op["progress-encode-push"].(float64)
		if p > 0 && p < 1 {
			midway = true
			if op["progress-hash"] != 1.0 {
				t.Errorf("pushing before hashing ended: %v", op)
			}
		}
	}
	if !midway {
		t.Errorf("never saw the upload midway: %v", seen)
	}
}
