package webapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// Comparing a response with the one Tahoe recorded.

// compared are the response headers compared with the recording,
// including their absence.
var compared = []string{"Content-Type", "ETag", "Content-Range", "Content-Disposition", "Location", "Allow", "Accept-Ranges", "Content-Encoding"}

// Caps are compared through tr (see capTrans): a cap returned alone, in a
// Location or in JSON is learned the first time and must agree after.
func compareExchange(t *testing.T, rec *recording, tr *capTrans, base string, e exchange, resp *http.Response, body []byte) {
	t.Helper()
	if resp.StatusCode != e.Response.Status {
		t.Fatalf("status %d, Tahoe %d; body %q", resp.StatusCode, e.Response.Status, trim(body))
	}
	if want, ok := e.header("Location"); ok {
		w, g := capRE.FindString(want), capRE.FindString(resp.Header.Get("Location"))
		if w != "" && g != "" {
			if err := tr.learn(strings.ReplaceAll(w, "%3A", ":"), strings.ReplaceAll(g, "%3A", ":")); err != nil {
				t.Errorf("Location: %v", err)
			}
		}
	}
	if bt := e.Response.BodyText; bt != nil && looksLikeCap(*bt) && looksLikeCap(string(body)) {
		if err := tr.learn(*bt, string(body)); err != nil {
			t.Errorf("body: %v", err)
		}
	}
	fix := func(s string) string { return tr.fix(strings.ReplaceAll(s, rec.BaseURL, base)) }
	for _, name := range compared {
		want, ok := e.header(name)
		if name == "Content-Disposition" && e.Response.Disposition != "" {
			want = e.Response.Disposition
		}
		got, gotOK := resp.Header.Get(name), len(resp.Header.Values(name)) > 0
		if ok != gotOK || fix(want) != got {
			t.Errorf("%s: %q (present %v), Tahoe %q (present %v)", name, got, gotOK, want, ok)
		}
	}
	// Link times vary in length from run to run.
	linkTimes := bytes.Contains(e.Response.BodyJSON, []byte(`"linkmotime"`))
	// Check results hold server IDs, and deep statistics directory sizes.
	checkResults := e.Group == "check" || strings.HasPrefix(e.Name, "check_")
	if want, ok := e.header("Content-Length"); ok && variableBody[e.Name] == "" && !linkTimes && !checkResults {
		if got := resp.Header.Get("Content-Length"); got != want {
			t.Errorf("Content-Length %q, Tahoe %q", got, want)
		}
	}
	if e.Request.Method == http.MethodHead || e.Response.BodyKind == "empty" {
		if len(body) != 0 {
			t.Errorf("body %q, want none", trim(body))
		}
		return
	}
	if checkResults {
		compareCheckBody(t, tr, e, body, fix)
		return
	}
	switch e.Group + "/" + e.Name {
	case "welcome/welcome_json":
		compareWelcomeJSON(t, e, body)
		return
	case "welcome/statistics_json":
		compareStatisticsJSON(t, e, body)
		return
	case "welcome/statistics_openmetrics":
		if got, want := metricNames(string(body)), metricNames(*e.Response.BodyText); !reflect.DeepEqual(got, want) {
			t.Errorf("metrics %v, Tahoe %v", got, want)
		}
		return
	}
	switch {
	case e.Response.BodyJSON != nil && e.Response.BodyKind == "json":
		got, err := parseOrdered(body)
		if err != nil {
			t.Fatalf("body is not JSON: %v: %q", err, trim(body))
		}
		want, err := parseOrdered(e.Response.BodyJSON)
		if err != nil {
			t.Fatal(err)
		}
		tr.compareJSON(t, "JSON", got, want)
		if t.Failed() {
			t.Logf("JSON\n%s\nTahoe\n%s", body, e.Response.BodyJSON)
		}
		if e.Response.BodyEndsNL != nil && *e.Response.BodyEndsNL != bytes.HasSuffix(body, []byte("\n")) {
			t.Errorf("body ends with a newline: %v, Tahoe %v", !*e.Response.BodyEndsNL, *e.Response.BodyEndsNL)
		}
	case variableBody[e.Name] != "":
		if !bytes.HasPrefix(body, []byte(variableBody[e.Name])) || !strings.HasPrefix(*e.Response.BodyText, variableBody[e.Name]) {
			t.Errorf("body %q, Tahoe %q", body, *e.Response.BodyText)
		}
	case e.Response.BodyText != nil && e.Response.HTMLTitle == "" || e.Response.BodyKind == "text":
		if got, want := string(body), fix(*e.Response.BodyText); got != want {
			t.Errorf("body\n%q\nTahoe\n%q", trim(body), trim([]byte(want)))
		}
	}
	if e.Response.HTMLTitle != "" {
		if got := htmlTitle(body); got != tr.fixTitle(e.Response.HTMLTitle) {
			t.Errorf("title %q, Tahoe %q", got, e.Response.HTMLTitle)
		}
	}
	if e.Response.Status == http.StatusOK && strings.HasPrefix(e.Name, "post_uri_upload") && e.Response.HTMLTitle != "" {
		// The upload results page names the cap Tahoe made of the same body.
		capRE := regexp.MustCompile(`URI:CHK:[a-z2-7]+:[a-z2-7]+:3:10:420`)
		if want := capRE.FindString(rec.Caps["chk_uploaded"]); !bytes.Contains(body, []byte(want)) || want == "" {
			t.Errorf("upload page lacks the cap %q", want)
		}
	}
}

var titleRE = regexp.MustCompile(`<title>([^<]*)</title>`)

func htmlTitle(b []byte) string {
	m := titleRE.FindSubmatch(b)
	if m == nil {
		return ""
	}
	return string(m[1])
}

func trim(b []byte) string {
	if len(b) > 400 {
		return string(b[:400]) + "..."
	}
	return string(b)
}

// objectKeys returns the keys of a JSON object in their order.
func objectKeys(t *testing.T, raw []byte) []string {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %s", raw)
	}
	var keys []string
	for d.More() {
		k, _ := d.Token()
		keys = append(keys, k.(string))
		var skip json.RawMessage
		if err := d.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func compareWelcomeJSON(t *testing.T, e exchange, body []byte) {
	type welcome struct {
		Introducers struct{ Statuses []string }
		Servers     []json.RawMessage
	}
	var got, want welcome
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(e.Response.BodyJSON, &want)
	if k, wk := objectKeys(t, body), objectKeys(t, e.Response.BodyJSON); !slices.Equal(k, wk) {
		t.Errorf("keys %v, Tahoe %v", k, wk)
	}
	if !slices.Equal(got.Introducers.Statuses, want.Introducers.Statuses) {
		t.Errorf("introducer statuses %q, Tahoe %q", got.Introducers.Statuses, want.Introducers.Statuses)
	}
	if len(got.Servers) != len(want.Servers) {
		t.Fatalf("%d servers, Tahoe %d", len(got.Servers), len(want.Servers))
	}
	for i := range got.Servers {
		if k, wk := objectKeys(t, got.Servers[i]), objectKeys(t, want.Servers[i]); !slices.Equal(k, wk) {
			t.Errorf("server keys %v, Tahoe %v", k, wk)
		}
		var g, w map[string]any
		json.Unmarshal(got.Servers[i], &g)
		json.Unmarshal(want.Servers[i], &w)
		for k, wv := range w {
			if reflect.TypeOf(g[k]) != reflect.TypeOf(wv) {
				t.Errorf("server %s: %T, Tahoe %T", k, g[k], wv)
			}
		}
		if g["connection_status"] != w["connection_status"] || g["version"] != w["version"] {
			t.Errorf("server %v, Tahoe %v", g, w)
		}
	}
}

func compareStatisticsJSON(t *testing.T, e exchange, body []byte) {
	var got, want struct {
		Counters map[string]float64
		Stats    map[string]float64
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(e.Response.BodyJSON, &want)
	if k, wk := objectKeys(t, body), objectKeys(t, e.Response.BodyJSON); !slices.Equal(k, wk) {
		t.Errorf("keys %v, Tahoe %v", k, wk)
	}
	for k := range want.Counters {
		if _, ok := got.Counters[k]; !ok {
			t.Errorf("counter %s missing", k)
		}
	}
	for k := range want.Stats {
		if _, ok := got.Stats[k]; !ok {
			t.Errorf("stat %s missing", k)
		}
	}
}

func metricNames(text string) []string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimPrefix(line, "# TYPE "), "lafs_") ||
			strings.HasPrefix(strings.TrimPrefix(line, "# UNIT "), "lafs_") ||
			strings.HasPrefix(strings.TrimPrefix(line, "# HELP "), "lafs_") {
			continue // lafs's own families (the operations' histograms)
		}
		name, _, _ := strings.Cut(line, " ")
		out = append(out, name)
	}
	return out
}
