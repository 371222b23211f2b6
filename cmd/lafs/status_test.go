package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lafs/lafs/internal/testgrid"
	"github.com/lafs/lafs/webapi"
)

// cannedNode answers /status?t=json and /statistics?t=json with the given
// bodies, and counts the requests.
func cannedNode(t *testing.T, status, statistics string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/status" && r.URL.Query().Get("t") == "json":
			w.Write([]byte(status))
		case r.URL.Path == "/statistics" && r.URL.Query().Get("t") == "json":
			w.Write([]byte(statistics))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return newNodeDir(t, srv.URL+"/", nil)
}

const cannedStatistics = `{"counters": {"uploader.bytes_uploaded": 123456789, "uploader.files_uploaded": 3,
 "downloader.bytes_downloaded": 0, "downloader.files_downloaded": 0}, "stats": {"node.uptime": 3700.5}}`

// The tables are Tahoe 1.20's tahoe_status.py's, byte for byte (its
// output for the same JSON), but for an upload's storage index not known
// yet, which Tahoe prints as "None", out of line.
func TestStatusTables(t *testing.T) {
	dir := cannedNode(t, `{"active": [
 {"storage-index-string": null, "total-size": 1000000, "status": "Hashing", "type": "upload", "progress-hash": 0.5, "progress-ciphertext": 0.0, "progress-encode-push": 0.0},
 {"storage-index-string": "omrfzcpgqkusla6u6pgoy6sttu", "total-size": 3000000, "status": "Encoding and pushing", "type": "upload", "progress-hash": 1.0, "progress-ciphertext": 0.75, "progress-encode-push": 0.6}
],
"recent": [
 {"storage-index-string": "omrfzcpgqkusla6u6pgoy6sttu", "total-size": 17000, "status": "Finished", "type": "upload", "progress-hash": 1.0, "progress-ciphertext": 1.0, "progress-encode-push": 1.0},
 {"storage-index-string": "aaaaaaaaaaaaaaaaaaaaaaaaaa", "total-size": 123, "status": "Finished", "type": "publish"},
 {"storage-index-string": "bbbbbbbbbbbbbbbbbbbbbbbbbb", "total-size": 5000000000, "status": "Finished", "type": "download", "progress": 1.0}
]}`, cannedStatistics)
	head := "Statistics (for last 61 minutes):\n    uploaded 123.46 MB in 3 files\n  downloaded 0 B in 0 files\n\n" +
		`Active operations:
╓ type  ╥ storage index              ╥ progress               ╥ status message
╟───────╫────────────────────────────╫────────────────────────╫─────────────────────
║  put  ║ (not known yet)            ║ ██▌             ( 17%) ║ Hashing
║  put  ║ omrfzcpgqkusla6u6pgoy6sttu ║ ███████████▊    ( 78%) ║ Encoding and pushing
╙───────╨────────────────────────────╨────────────────────────╨─────────────────────

Recent operations:
╓ type  ╥ storage index              ╥ size       ╥ status message
║  put  ║ omrfzcpgqkusla6u6pgoy6sttu ║ 17.00 kB   ║ Finished
`
	out, errOut, code := runCmd(t, nil, "-d", dir, "status")
	want := head + `║  get  ║ bbbbbbbbbbbbbbbbbbbbbbbbbb ║ 5.00 GB    ║ Finished
╙───────╨────────────────────────────╨────────────╨─────────────────────
   Skipped 1 non-upload/download operations; use --verbose to see
`
	if code != 0 || out != want || errOut != "" {
		t.Errorf("status: %d %q\n%s\nwant:\n%s", code, errOut, out, want)
	}
	out, _, code = runCmd(t, nil, "status", "-d", dir, "-v")
	want = head + `║  pub  ║ aaaaaaaaaaaaaaaaaaaaaaaaaa ║ 123 B      ║ Finished
║  get  ║ bbbbbbbbbbbbbbbbbbbbbbbbbb ║ 5.00 GB    ║ Finished
╙───────╨────────────────────────────╨────────────╨─────────────────────
`
	if code != 0 || out != want {
		t.Errorf("status -v: %d\n%s\nwant:\n%s", code, out, want)
	}
}

func TestStatusNothing(t *testing.T) {
	dir := cannedNode(t, `{"active": [], "recent": []}`, cannedStatistics)
	out, _, code := runCmd(t, nil, "-d", dir, "status")
	want := "Statistics (for last 61 minutes):\n    uploaded 123.46 MB in 3 files\n  downloaded 0 B in 0 files\n\n" +
		"No active operations.\nNo recent operations.\n\nRecent operations:\n"
	if code != 0 || out != want {
		t.Errorf("status: %d %q, want %q", code, out, want)
	}
	// A node that fails: exit 2, nothing on stdout, as Tahoe.
	bad := cannedNode(t, `not json`, cannedStatistics)
	out, errOut, code := runCmd(t, nil, "-d", bad, "status")
	if code != 2 || out != "" || !strings.HasPrefix(errOut, "failed to retrieve data: ") {
		t.Errorf("status of a bad node: %d %q %q", code, out, errOut)
	}
	if _, _, code := runCmd(t, nil, "-d", dir, "status", "extra"); code != 2 {
		t.Errorf("status extra: exit %d", code)
	}
}

// Against the real web API: what put, get and mkdir did shows, by storage
// index.
func TestStatusOfNode(t *testing.T) {
	n := newTestNode(t)
	local := filepath.Join(t.TempDir(), "f")
	os.WriteFile(local, []byte(strings.Repeat("status of a node ", 1000)), 0o644)
	capOut, _, code := runCmd(t, nil, "-d", n.dir, "put", local)
	if code != 0 {
		t.Fatalf("put: exit %d", code)
	}
	c := strings.TrimSpace(capOut)
	if _, _, code := runCmd(t, nil, "-d", n.dir, "get", c, filepath.Join(t.TempDir(), "g")); code != 0 {
		t.Fatalf("get: exit %d", code)
	}
	if _, _, code := runCmd(t, nil, "-d", n.dir, "mkdir"); code != 0 {
		t.Fatalf("mkdir: exit %d", code)
	}
	out, errOut, code := runCmd(t, nil, "-d", n.dir, "status", "--verbose")
	if code != 0 {
		t.Fatalf("status: %d %s", code, errOut)
	}
	for _, want := range []string{"No active operations.", "║  put  ║ ", "║  get  ║ ", "║  pub  ║ ", "17.00 kB   ║ Finished"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "URI:") || strings.Contains(out, strings.Split(c, ":")[2]) {
		t.Errorf("status shows a cap:\n%s", out)
	}
}

// The node's side of a put: the tag put sends, and the phases the
// progress line goes through as the node hashes, encodes and pushes.
func TestPutProgressFollowsNode(t *testing.T) {
	n := newTestNode(t)
	// Slow writes keep the pushing going past a poll of the node (every
	// followPoll): the encoder writes about a MiB of each share at once,
	// so this file is two writes to each server.
	for _, f := range n.grid.Faults {
		f.Set(func(f *testgrid.Faults) { f.WriteDelay = 2 * followPoll })
	}
	var tags []string
	n.hook = func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if r.Method == http.MethodPut {
			n.mu.Lock()
			tags = append(tags, r.Header.Get(webapi.OperationTagHeader))
			n.mu.Unlock()
		}
		next.ServeHTTP(w, r)
	}
	wc := newWebClient(n.base)
	var lines strings.Builder
	pl := &progressLine{w: &lines, on: true, render: transferLine("uploading"), begin: time.Now(), p: progress{totalBytes: -1}}
	data := strings.Repeat("followed ", 200000) // 1.8 MB: 14 segments of 128 KiB
	pl.setTotals(int64(len(data)), 0)
	a, err := uploadFollowed(ctxT(t), wc, unlinked(""), "", pl.reader(strings.NewReader(data)), int64(len(data)), pl)
	pl.finish()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(a.text, "URI:CHK:") {
		t.Fatalf("put answered %q", a.text)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(tags) != 1 || !strings.HasPrefix(tags[0], "put-") || len(tags[0]) != 20 {
		t.Errorf("tags sent: %q", tags)
	}
	shown := lines.String()
	for _, want := range []string{"uploading: sending [", "uploading: encoding and pushing ["} {
		if !strings.Contains(shown, want) {
			t.Errorf("the progress line never showed %q:\n%q", want, shown)
		}
	}
	if strings.Contains(shown, "URI:") {
		t.Errorf("the progress line shows a cap: %q", shown)
	}
	// It ends as the whole upload, done.
	last := shown[strings.LastIndex(shown, "\r")+1:]
	if !strings.HasPrefix(last, "uploading [####################] 100.0% 1.7MiB/1.7MiB ") {
		t.Errorf("the progress line ended with %q", last)
	}
}
