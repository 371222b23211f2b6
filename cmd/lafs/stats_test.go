package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestWriteStatsTahoe shows deep stats as Tahoe 1.20's StatsGrabber does
// (its output computed by running its code on the same JSON): the
// recorded answer about a bigger tree, and made-up counts with sizes in
// GB, a mutable size, and gaps in the histogram.
func TestWriteStatsTahoe(t *testing.T) {
	rec := loadWebapiRecording(t)
	for _, tt := range []struct {
		body []byte
		want string
	}{
		{rec.exchangeJSON(t, "get_operation_start_deep_stats"),
			"Counts and Total Sizes:\n count-immutable-files: 5\n   count-mutable-files: 5\n   count-literal-files: 6\n           count-files: 16\n     count-directories: 11\n" +
				"  size-immutable-files: 1969    (1.97 kB, 1.92 kiB)\n    size-literal-files: 76\n      size-directories: 8058    (8.06 kB, 7.87 kiB)\n" +
				"     largest-directory: 5270    (5.27 kB, 5.15 kiB)\nlargest-immutable-file: 920\nSize Histogram:\n   4-10   : 1    (10 B, 10 B)\n" +
				"  11-31   : 5    (31 B, 31 B)\n  32-100  : 1    (100 B, 100 B)\n 101-316  : 1    (316 B, 316 B)\n 317-1000 : 3    (1000 B, 1000 B)\n"},
		{[]byte(`{"count-files": 12345, "count-directories": 7, "size-immutable-files": 123456789012, "size-mutable-files": 5000, "largest-directory": 1000, "largest-immutable-file": 1001,
			"size-files-histogram": [[0, 0, 3], [1, 3, 10], [1001, 3162, 2], [3163, 10000, 123], [10001, 31622, 1], [316228, 1000000, 42]], "finished": true}`),
			"Counts and Total Sizes:\n           count-files: 12345\n     count-directories: 7\n  size-immutable-files: 123456789012    (123.46 GB, 114.98 GiB)\n" +
				"    size-mutable-files: 5000    (5.00 kB, 4.88 kiB)\n     largest-directory: 1000\nlargest-immutable-file: 1001    (1001 B, 1001 B)\nSize Histogram:\n" +
				"      0-0       : 3      (0 B, 0 B)\n      1-3       : 10     (3 B, 3 B)\n      ...\n   1001-3162    : 2      (3.16 kB, 3.09 kiB)\n" +
				"   3163-10000   : 123    (10.00 kB, 9.77 kiB)\n  10001-31622   : 1      (31.62 kB, 30.88 kiB)\n      ...\n 316228-1000000 : 42     (1.00 MB, 976.56 kiB)\n"},
		{[]byte(`{"count-files": 0, "size-files-histogram": [], "finished": true}`), "Counts and Total Sizes:\n           count-files: 0\n"},
	} {
		st, err := parseDeepStats(tt.body)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		writeStats(&b, st)
		if b.String() != tt.want {
			t.Errorf("got\n%s\nwant\n%s", b.String(), tt.want)
		}
	}
	for _, bad := range []string{`[1]`, `{"size-files-histogram": [[1, 2]]}`, `{"size-files-histogram": 3}`, `{"size-files-histogram": [["a", 1, 2]]}`} {
		if _, err := parseDeepStats([]byte(bad)); err == nil {
			t.Errorf("%s: parsed", bad)
		}
	}
}

// TestAbbreviateSpace compares with Tahoe's abbreviate_space_both.
func TestAbbreviateSpace(t *testing.T) {
	for _, tt := range []struct {
		n    int64
		want string
	}{
		{0, "(0 B, 0 B)"},
		{1, "(1 B, 1 B)"},
		{999, "(999 B, 999 B)"},
		{1000, "(1000 B, 1000 B)"},
		{1023, "(1023 B, 1023 B)"},
		{1024, "(1.02 kB, 1.00 kiB)"},
		{1025, "(1.02 kB, 1.00 kiB)"},
		{2585, "(2.58 kB, 2.52 kiB)"},
		{999999, "(1000.00 kB, 976.56 kiB)"},
		{1000000, "(1.00 MB, 976.56 kiB)"},
		{1048575, "(1.05 MB, 1024.00 kiB)"},
		{1048576, "(1.05 MB, 1.00 MiB)"},
		{123456789, "(123.46 MB, 117.74 MiB)"},
		{999999999999, "(1000.00 GB, 931.32 GiB)"},
		{1000000000000, "(1.00 TB, 931.32 GiB)"},
		{1125899906842624, "(1.13 PB, 1.00 PiB)"},
		{1000000000000000, "(1.00 PB, 909.49 TiB)"},
		{1000000000000000000, "(1.00 EB, 888.18 PiB)"},
		{4611686018427387904, "(4.61 EB, 4.00 EiB)"},
		{5000000000000000000, "(5.00 EB, 4.34 EiB)"},
	} {
		if got := abbreviateSpaceBoth(tt.n); got != tt.want {
			t.Errorf("%d: %s, want %s", tt.n, got, tt.want)
		}
	}
}

// statsNode answers start-deep-stats and the polls of its operation: the
// first polls with the walk in progress, then status (an answer to the
// poll, or an error status code).
type statsNode struct {
	mu       sync.Mutex
	handle   string
	polls    int
	inFlight int // polls answered "not finished" before the final one
	final    string
	status   int
	cancels  int
	dir      string
}

func newStatsNode(t *testing.T, inFlight int, final string, status int) *statsNode {
	n := &statsNode{inFlight: inFlight, final: final, status: status}
	root := goldenDir
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.mu.Lock()
		defer n.mu.Unlock()
		q := r.URL.Query()
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/uri/"+root && q.Get("t") == "start-deep-stats":
			n.handle = q.Get("ophandle")
			http.Redirect(w, r, "/operations/"+n.handle+"?output=JSON", http.StatusFound)
		case n.handle != "" && r.URL.Path == "/operations/"+n.handle && r.Method == http.MethodPost && q.Get("t") == "cancel":
			n.cancels++
		case n.handle != "" && r.URL.Path == "/operations/"+n.handle && r.Method == http.MethodGet &&
			r.URL.RawQuery == "t=status&output=JSON&release-after-complete=true":
			n.polls++
			if n.polls <= n.inFlight {
				fmt.Fprintf(w, `{"count-files": %d, "count-directories": 1, "finished": false}`, n.polls)
				return
			}
			w.WriteHeader(n.status)
			fmt.Fprint(w, n.final)
		default:
			http.Error(w, "unexpected "+r.Method+" "+r.URL.String(), http.StatusBadRequest)
		}
	}))
	t.Cleanup(srv.Close)
	n.dir = newNodeDir(t, srv.URL+"/", map[string]string{"t": root})
	return n
}

// TestStatsPolling: stats asks until the operation is done, under a
// random handle of Tahoe's form; errors in the polls fail it; the final
// answer goes out as it came with --raw, when printable.
func TestStatsPolling(t *testing.T) {
	defer setStatsPolls(time.Millisecond)()
	final := "{\n \"count-files\": 2,\n \"finished\": true\n}"
	n := newStatsNode(t, 3, final, http.StatusOK)
	out, errOut, code := runCmd(t, nil, "-d", n.dir, "stats", "-r", "t:")
	if code != 0 || out != final+"\n" || errOut != "" || n.polls != 4 || len(n.handle) != 26 || strings.Trim(n.handle, "abcdefghijklmnopqrstuvwxyz234567") != "" {
		t.Errorf("exit %d, %d polls, handle %q\n%s\nstderr %s", code, n.polls, n.handle, out, errOut)
	}
	first := n.handle
	out, _, code = runCmd(t, nil, "-d", n.dir, "stats", "t:")
	if code != 0 || out != "Counts and Total Sizes:\n           count-files: 2\n" || n.handle == first {
		t.Errorf("exit %d, handle %s again\n%s", code, n.handle, out)
	}

	n = newStatsNode(t, 1, "<html><body>Operation handle not found</body></html>", http.StatusNotFound)
	out, errOut, code = runCmd(t, nil, "-d", n.dir, "stats", "t:")
	if code != 1 || out != "" || !strings.HasPrefix(errOut, "ERROR: 404 Not Found\nOperation handle not found") {
		t.Errorf("lost operation: exit %d\n%s\nstderr %q", code, out, errOut)
	}
	n = newStatsNode(t, 0, "{\"finished\": true, \"x\": \"\u00e9\"}", http.StatusOK)
	_, errOut, code = runCmd(t, nil, "-d", n.dir, "stats", "--raw", "t:")
	if code != 1 || !strings.HasPrefix(errOut, "The JSON response contained unprintable characters:\n") {
		t.Errorf("unprintable: exit %d, stderr %q", code, errOut)
	}
	_, errOut, code = runCmd(t, nil, "-d", n.dir, "stats", "t:gone")
	if code != 1 || !strings.HasPrefix(errOut, "ERROR: 400 Bad Request\n") || strings.Contains(errOut, "URI:") {
		t.Errorf("start failing: exit %d, stderr %q", code, errOut)
	}
}

// TestStatsCancel: stats interrupted cancels its operation on the node.
func TestStatsCancel(t *testing.T) {
	defer setStatsPolls(5 * time.Millisecond)()
	n := newStatsNode(t, 1<<30, "", http.StatusOK)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	var out, errOut bytes.Buffer
	e := &env{stdout: &out, stderr: &errOut, getenv: func(string) string { return "" }}
	code := run(ctx, e, []string{"-d", n.dir, "stats", "t:"})
	n.mu.Lock()
	defer n.mu.Unlock()
	if code != 1 || n.cancels != 1 || n.polls == 0 || out.Len() > 0 {
		t.Errorf("exit %d, %d cancels, %d polls, stdout %s, stderr %s", code, n.cancels, n.polls, out.String(), errOut.String())
	}
}
