package webapi

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/client"
	"github.com/lafs/lafs/internal/testgrid"
)

// tahoeCounters are the counters of Tahoe's uploader, downloader and
// mutable History, which /statistics always shows.
var tahoeCounters = []string{
	"uploader.files_uploaded", "uploader.bytes_uploaded",
	"downloader.files_downloaded", "downloader.bytes_downloaded",
	"mutable.files_published", "mutable.bytes_published",
	"mutable.files_retrieved", "mutable.bytes_retrieved",
}

// statsAPI is a web API over an in-memory grid whose client the test can
// reach.
func statsAPI(t *testing.T) (*testAPI, *client.Client) {
	g := testgrid.New(t, 10)
	c := testClient(t, g)
	h := New(c, fakeStatus{g, time.Now()}, Options{TempDir: t.TempDir()})
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		h.(interface{ Close() error }).Close()
	})
	return &testAPI{t, g, srv}, c
}

// counters reads /statistics?t=json.
func (a *testAPI) counters() map[string]int64 {
	a.t.Helper()
	r := a.do(http.MethodGet, "/statistics?t=json", nil)
	var s struct{ Counters map[string]int64 }
	if err := json.Unmarshal([]byte(r.body), &s); err != nil || r.code != 200 {
		a.t.Fatalf("statistics: %d %v %s", r.code, err, r.body)
	}
	return s.Counters
}

// TestStatisticsCountEverything runs uploads, downloads, mutable
// publishes and retrieves and directory operations through the web API,
// and checks after each how the counters of /statistics moved: as Tahoe's
// move for the same requests.
func TestStatisticsCountEverything(t *testing.T) {
	a, c := statsAPI(t)
	initial := a.counters()
	for _, k := range tahoeCounters {
		if n, ok := initial[k]; !ok || n != 0 {
			t.Errorf("a new node's %s: %d (present %v)", k, n, ok)
		}
	}
	// size is the length of the current version of a mutable file or
	// directory, learnt without reading it.
	size := func(k string) int64 {
		t.Helper()
		c0, err := cap.Parse(k)
		if err != nil {
			t.Fatal(err)
		}
		if d, ok := c0.(*cap.Dir); ok {
			c0 = d.File
		}
		m, err := c.OpenMutable(t.Context(), c0)
		if err != nil {
			t.Fatal(err)
		}
		return m.Size()
	}
	// step runs one request and checks the counters' changes (want, a
	// func called after the request for sizes it makes).
	step := func(what string, do func() reply, want func() map[string]int64) string {
		t.Helper()
		before := a.counters()
		r := do()
		if r.code >= 300 {
			t.Fatalf("%s: %d %s", what, r.code, trim([]byte(r.body)))
		}
		after := a.counters()
		w := want()
		for _, k := range tahoeCounters {
			if got := after[k] - before[k]; got != w[k] {
				t.Errorf("%s: %s moved by %d, want %d", what, k, got, w[k])
			}
		}
		return strings.TrimSpace(r.body)
	}
	get := func(p string, hdr ...string) func() reply {
		return func() reply { return a.do(http.MethodGet, p, nil, hdr...) }
	}
	send := func(method, p, body string) func() reply {
		return func() reply { return a.do(method, p, strings.NewReader(body)) }
	}
	is := func(kv ...any) func() map[string]int64 {
		return func() map[string]int64 {
			m := map[string]int64{}
			for i := 0; i+1 < len(kv); i += 2 {
				switch v := kv[i+1].(type) {
				case int:
					m[kv[i].(string)] = int64(v)
				case int64:
					m[kv[i].(string)] = v
				case func() int64:
					m[kv[i].(string)] = v()
				default:
					t.Fatalf("is: a %T", v)
				}
			}
			return m
		}
	}
	data := strings.Repeat("statistics ", 100) // 1100 bytes
	const (
		up, upB     = "uploader.files_uploaded", "uploader.bytes_uploaded"
		down, downB = "downloader.files_downloaded", "downloader.bytes_downloaded"
		pub, pubB   = "mutable.files_published", "mutable.bytes_published"
		ret, retB   = "mutable.files_retrieved", "mutable.bytes_retrieved"
	)

	// Immutable files: LIT uploads count, LIT reads do not; a ranged read
	// counts the bytes asked for.
	chk := step("PUT CHK", send("PUT", "/uri", data), is(up, 1, upB, 1100))
	lit := step("PUT LIT", send("PUT", "/uri", data[:20]), is(up, 1, upB, 20))
	step("GET CHK", get("/uri/"+url.PathEscape(chk)), is(down, 1, downB, 1100))
	step("GET CHK range", get("/uri/"+url.PathEscape(chk), "Range", "bytes=100-199"), is(down, 1, downB, 100))
	step("HEAD CHK", func() reply { return a.do(http.MethodHead, "/uri/"+url.PathEscape(chk), nil) }, is())
	step("GET LIT", get("/uri/"+url.PathEscape(lit)), is())

	// Mutable files: every read counts the whole version.
	ssk := step("PUT SDMF", send("PUT", "/uri?format=sdmf", data[:300]), is(pub, 1, pubB, 300))
	sskPath := "/uri/" + url.PathEscape(ssk)
	step("GET SDMF", get(sskPath), is(ret, 1, retB, 300))
	step("GET SDMF range", get(sskPath, "Range", "bytes=10-19"), is(ret, 1, retB, 300))
	step("HEAD SDMF", func() reply { return a.do(http.MethodHead, sskPath, nil) }, is())
	step("PUT over SDMF", send("PUT", sskPath, data[:400]), is(pub, 1, pubB, 400))
	step("PUT SDMF at an offset", send("PUT", sskPath+"?offset=395", data[:10]), is(ret, 1, retB, 400, pub, 1, pubB, 405))
	mdmf := step("PUT MDMF", send("PUT", "/uri?format=mdmf", data), is(pub, 1, pubB, 1100))
	step("PUT MDMF at an offset", send("PUT", "/uri/"+url.PathEscape(mdmf)+"?offset=10", "in place"), is())

	// Directories: their publishes and retrieves count as well.
	dir := step("mkdir", send("POST", "/uri?t=mkdir", ""), is(pub, 1))
	dirPath := "/uri/" + url.PathEscape(dir)
	dirSize := func() int64 { return size(dir) }
	var size1 int64
	// As in Tahoe, a PUT or DELETE of a child reads the directory once to
	// find the child, and once more to change it.
	step("PUT into the directory", send("PUT", dirPath+"/file", data),
		func() map[string]int64 { size1 = dirSize(); return is(up, 1, upB, 1100, ret, 2, pub, 1, pubB, size1)() })
	step("list the directory", get(dirPath+"?t=json"), is(ret, 1, retB, func() int64 { return size1 }))
	step("GET a file in the directory", get(dirPath+"/file"), is(ret, 1, retB, func() int64 { return size1 }, down, 1, downB, 1100))
	var size2 int64
	step("mkdir in the directory", send("POST", dirPath+"?t=mkdir&name=sub", ""),
		func() map[string]int64 { size2 = dirSize(); return is(pub, 2, pubB, size2, ret, 1, retB, size1)() })
	step("unlink", send("DELETE", dirPath+"/sub", ""), is(ret, 2, retB, func() int64 { return 2 * size2 }, pub, 1, pubB, dirSize))
	children := `{"file": ["filenode", {"ro_uri": "` + chk + `"}], "lit": ["filenode", {"ro_uri": "` + lit + `"}]}`
	var imm string
	var immSize int64
	step("mkdir-immutable", func() reply {
		r := send("POST", "/uri?t=mkdir-immutable", children)()
		imm = strings.TrimSpace(r.body)
		return r
	}, func() map[string]int64 {
		if k, err := cap.Parse(imm); err != nil {
			t.Fatal(err)
		} else if f, ok := k.(*cap.Dir).File.(*cap.CHK); !ok {
			t.Fatalf("the immutable directory is %s", cap.Kind(k))
		} else {
			immSize = int64(f.Size)
		}
		return is(up, 1, upB, immSize)()
	})
	step("list the immutable directory", get("/uri/"+url.PathEscape(imm)+"?t=json"), is(down, 1, downB, func() int64 { return immSize }))

	// Checks are timed only.
	step("check a file", send("POST", "/uri/"+url.PathEscape(chk)+"?t=check&output=json", ""), is())
	step("check a directory", send("POST", dirPath+"?t=check&output=json", ""), is())

	final := a.counters()

	// The HTML page shows the same numbers.
	page := a.do(http.MethodGet, "/statistics", nil)
	for _, line := range []string{
		fmt.Sprintf("Files Uploaded (immutable): %d files / %d bytes", final[up], final[upB]),
		fmt.Sprintf("Files Downloaded (immutable): %d files / %d bytes", final[down], final[downB]),
		fmt.Sprintf("Files Published (mutable): %d files / %d bytes", final[pub], final[pubB]),
		fmt.Sprintf("Files Retrieved (mutable): %d files / %d bytes", final[ret], final[retB]),
	} {
		if !strings.Contains(page.body, line) {
			t.Errorf("the statistics page lacks %q", line)
		}
	}

	// The OpenMetrics text parses, holds the same counters, and a
	// histogram for each operation: every upload and download counted,
	// every publish (the SDMF write at an offset once, and the MDMF one,
	// which Tahoe does not count), every retrieve but the SDMF write's,
	// and the two checks.
	r := a.do(http.MethodGet, "/statistics?t=openmetrics", nil)
	if ct := r.h.Get("Content-Type"); ct != "application/openmetrics-text; version=1.0.0; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	fams, err := parseOpenMetrics(r.body)
	if err != nil {
		t.Fatalf("the OpenMetrics text does not parse: %v\n%s", err, r.body)
	}
	for _, k := range tahoeCounters {
		name := "tahoe_counters_" + strings.ReplaceAll(k, ".", "_")
		if v, ok := fams.value(name, ""); !ok || v != float64(final[k]) {
			t.Errorf("%s: %v (present %v), JSON %d", name, v, ok, final[k])
		}
	}
	if v, ok := fams.value("tahoe_stats_node_uptime", ""); !ok || v <= 0 {
		t.Errorf("tahoe_stats_node_uptime %v", v)
	}
	if f := fams[latencyMetric]; f == nil || f.typ != "histogram" || f.unit != "seconds" || f.help == "" {
		t.Fatalf("no histogram family %s: %+v", latencyMetric, f)
	}
	for op, want := range map[string]int64{
		"upload": final[up], "download": final[down], "publish": final[pub] + 1,
		"retrieve": final[ret] - 1, "check": 2,
	} {
		labels := `operation="` + op + `"`
		n, _ := fams.value(latencyMetric+"_count", labels)
		sum, _ := fams.value(latencyMetric+"_sum", labels)
		if n != float64(want) || sum <= 0 {
			t.Errorf("%s: %v timed taking %v s, want %d", op, n, sum, want)
		}
	}
}

// TestStatisticsOpenMetricsNames: what OpenMetrics does not allow in a
// name (Tahoe's storage_server.add-lease) becomes "_"; percentiles become
// quantiles; the whole still parses.
func TestStatisticsOpenMetricsNames(t *testing.T) {
	a := newTestAPI(t, func(*testgrid.Grid) Status {
		return stubStatus{stats: Stats{
			Counters: map[string]int64{"storage_server.add-lease": 3, "storage_server.bytes_added": 7},
			Stats: map[string]float64{
				"storage_server.latencies.get.01_0_percentile": 0.25, "storage_server.latencies.get.99_9_percentile": math.NaN(),
				"storage_server.latencies.get.mean": 1e-7, "cpu_monitor.total": 1e21, "x.inf": math.Inf(1),
			},
		}}
	})
	r := a.do(http.MethodGet, "/statistics?t=openmetrics", nil)
	fams, err := parseOpenMetrics(r.body)
	if err != nil {
		t.Fatalf("%v\n%s", err, r.body)
	}
	for _, c := range []struct {
		name, labels string
		want         float64
	}{
		{"tahoe_counters_storage_server_add_lease", "", 3},
		{"tahoe_stats_storage_server_latencies_get", `quantile="0.010"`, 0.25},
		{"tahoe_stats_storage_server_latencies_get_mean", "", 1e-7},
		{"tahoe_stats_cpu_monitor_total", "", 1e21},
		{"tahoe_stats_x_inf", "", math.Inf(1)},
		{latencyMetric + "_count", `operation="upload"`, 0},
		{latencyMetric + "_bucket", `operation="check",le="+Inf"`, 0},
	} {
		if v, ok := fams.value(c.name, c.labels); !ok || v != c.want {
			t.Errorf("%s{%s}: %v (present %v), want %v", c.name, c.labels, v, ok, c.want)
		}
	}
	if v, ok := fams.value("tahoe_stats_storage_server_latencies_get", `quantile="0.999"`); !ok || !math.IsNaN(v) {
		t.Errorf("the NaN percentile: %v %v", v, ok)
	}
	// Numbers as Tahoe's str() writes them.
	for _, line := range []string{
		"tahoe_stats_storage_server_latencies_get_mean 1e-07\n", "tahoe_stats_cpu_monitor_total 1e+21\n",
		"tahoe_counters_storage_server_bytes_added 7\n",
	} {
		if !strings.Contains(r.body, line) {
			t.Errorf("no line %q", line)
		}
	}
}

// TestOpenMetricsParser shows that the parser the tests use refuses what
// OpenMetrics forbids.
func TestOpenMetricsParser(t *testing.T) {
	const hist = "# TYPE h_seconds histogram\n# UNIT h_seconds seconds\n" +
		"h_seconds_bucket{op=\"a\",le=\"0.5\"} 1\nh_seconds_bucket{op=\"a\",le=\"1.0\"} 2\nh_seconds_bucket{op=\"a\",le=\"+Inf\"} 3\n" +
		"h_seconds_count{op=\"a\"} 3\nh_seconds_sum{op=\"a\"} 2.5\n"
	good := "a_b 1\nc{quantile=\"0.5\"} 1.5e-3\nc{quantile=\"0.9\"} NaN\n" + hist + "# EOF\n"
	if _, err := parseOpenMetrics(good); err != nil {
		t.Fatalf("good text refused: %v", err)
	}
	for name, bad := range map[string]string{
		"no EOF":             "a 1\n",
		"after EOF":          "a 1\n# EOF\nb 2\n",
		"carriage return":    "a 1\r\n# EOF\n",
		"bad name":           "a-b 1\n# EOF\n",
		"bad value":          "a 1,5\n# EOF\n",
		"no value":           "a\n# EOF\n",
		"bad label":          "a{b=c} 1\n# EOF\n",
		"duplicate label":    "a{b=\"1\",b=\"2\"} 1\n# EOF\n",
		"unterminated label": "a{b=\"1} 1\n# EOF\n",
		"interleaved":        "a 1\nb 1\na{x=\"1\"} 2\n# EOF\n",
		"duplicate sample":   "a 1\na 2\n# EOF\n",
		"comment":            "# a comment\na 1\n# EOF\n",
		"type after samples": "a 1\n# TYPE a gauge\n# EOF\n",
		"two types":          "# TYPE a gauge\n# TYPE a gauge\na 1\n# EOF\n",
		"unknown type":       "# TYPE a meter\na 1\n# EOF\n",
		"unit not in name":   "# TYPE a gauge\n# UNIT a seconds\na 1\n# EOF\n",
		"no +Inf":            strings.Replace(hist, "h_seconds_bucket{op=\"a\",le=\"+Inf\"} 3\n", "", 1) + "# EOF\n",
		"not cumulative":     strings.Replace(hist, "le=\"1.0\"} 2", "le=\"1.0\"} 0", 1) + "# EOF\n",
		"le not increasing":  strings.Replace(hist, "le=\"1.0\"", "le=\"0.25\"", 1) + "# EOF\n",
		"le not canonical":   strings.Replace(hist, "le=\"1.0\"", "le=\"1\"", 1) + "# EOF\n",
		"count not +Inf":     strings.Replace(hist, "_count{op=\"a\"} 3", "_count{op=\"a\"} 4", 1) + "# EOF\n",
		"no count with sum":  strings.Replace(hist, "h_seconds_count{op=\"a\"} 3\n", "", 1) + "# EOF\n",
		"negative sum":       strings.Replace(hist, "2.5", "-1.0", 1) + "# EOF\n",
		"bucket after count": hist + "h_seconds_bucket{op=\"a\",le=\"2.0\"} 3\n# EOF\n",
		"le on the count":    strings.Replace(hist, "_count{op=\"a\"}", "_count{op=\"a\",le=\"1.0\"}", 1) + "# EOF\n",
		"fractional bucket":  strings.Replace(hist, "le=\"0.5\"} 1", "le=\"0.5\"} 1.5", 1) + "# EOF\n",
		"clashing names":     hist + "h_seconds_count 3\n# EOF\n",
		"family seen before": hist + "a 1\n" + strings.Replace(hist, "op=\"a\"", "op=\"b\"", -1) + "# EOF\n",
		"point interleaved":  "# TYPE h histogram\nh_bucket{op=\"a\",le=\"1.0\"} 1\nh_bucket{op=\"b\",le=\"+Inf\"} 1\nh_bucket{op=\"a\",le=\"+Inf\"} 1\n# EOF\n",
		"clashing counter":   "# TYPE c counter\nc_total 1\n# TYPE c_total gauge\nc_total 2\n# EOF\n",
	} {
		if _, err := parseOpenMetrics(bad); err == nil {
			t.Errorf("%s: accepted\n%s", name, bad)
		}
	}
}

// omFamilies are the metric families of an OpenMetrics text by name.
type omFamilies map[string]*omFamily

type omFamily struct {
	name, typ, unit, help string
	samples               []omSample
}

type omSample struct {
	name   string
	labels []omLabel // as written
	value  float64
}

type omLabel struct{ name, value string }

// key is the sample's labels as written, without le.
func (s omSample) key() string {
	var parts []string
	for _, l := range s.labels {
		if l.name != "le" {
			parts = append(parts, l.name+`="`+l.value+`"`)
		}
	}
	return strings.Join(parts, ",")
}

func (s omSample) label(name string) (string, bool) {
	for _, l := range s.labels {
		if l.name == name {
			return l.value, true
		}
	}
	return "", false
}

// value finds the sample of that name whose labels, as written, are
// labels.
func (f omFamilies) value(name, labels string) (float64, bool) {
	for _, fam := range f {
		for _, s := range fam.samples {
			var parts []string
			for _, l := range s.labels {
				parts = append(parts, l.name+`="`+l.value+`"`)
			}
			if s.name == name && strings.Join(parts, ",") == labels {
				return s.value, true
			}
		}
	}
	return 0, false
}

var (
	omName      = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*`)
	omLabelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*`)
	omNumber    = regexp.MustCompile(`^(?:[+-]?(?:[0-9]+(?:\.[0-9]*)?(?:e[+-]?[0-9]+)?|[0-9]*\.[0-9]+(?:e[+-]?[0-9]+)?)|(?i:[+-]?inf(?:inity)?|nan))$`)
	omCanonical = regexp.MustCompile(`^(?:[0-9]+\.[0-9]+|[0-9](?:\.[0-9]+)?e[+-][0-9]{2,}|\+Inf)$`)
	omTypes     = []string{"counter", "gauge", "histogram", "gaugehistogram", "stateset", "info", "summary", "unknown"}
	omSuffixes  = map[string][]string{
		"counter": {"_total", "_created"}, "histogram": {"_bucket", "_count", "_sum", "_created"},
		"summary": {"", "_count", "_sum", "_created"}, "gaugehistogram": {"_bucket", "_gcount", "_gsum"},
		"info": {"_info"}, "gauge": {""}, "stateset": {""}, "unknown": {""},
	}
)

// parseOpenMetrics parses an OpenMetrics 1.0 text exposition strictly
// (its ABNF, and the rules of the specification on families, metric
// points and histograms), for the metric types lafs writes.
func parseOpenMetrics(text string) (omFamilies, error) {
	body, ok := strings.CutSuffix(text, "# EOF\n")
	if !ok {
		return nil, fmt.Errorf("does not end with # EOF")
	}
	if strings.Contains(text, "\r") {
		return nil, fmt.Errorf("carriage return")
	}
	fams := omFamilies{}
	var order []*omFamily
	var cur *omFamily
	start := func(name string) (*omFamily, error) {
		if fams[name] != nil {
			return nil, fmt.Errorf("family %s appears twice", name)
		}
		f := &omFamily{name: name, typ: "unknown"}
		fams[name] = f
		order = append(order, f)
		return f, nil
	}
	lines := strings.Split(body, "\n")
	if lines[len(lines)-1] != "" {
		return nil, fmt.Errorf("no line feed before # EOF")
	}
	for i, line := range lines[:len(lines)-1] {
		fail := func(format string, args ...any) (omFamilies, error) {
			return nil, fmt.Errorf("line %d %q: %s", i+1, line, fmt.Sprintf(format, args...))
		}
		if rest, ok := strings.CutPrefix(line, "# "); ok {
			kind, rest, _ := strings.Cut(rest, " ")
			name, arg, found := strings.Cut(rest, " ")
			if !found || omName.FindString(name) != name || kind != "TYPE" && kind != "UNIT" && kind != "HELP" {
				return fail("not metadata")
			}
			if cur == nil || cur.name != name {
				f, err := start(name)
				if err != nil {
					return fail("%v", err)
				}
				cur = f
			} else if len(cur.samples) > 0 {
				return fail("metadata after samples")
			}
			switch kind {
			case "TYPE":
				if cur.typ != "unknown" || !slices.Contains(omTypes, arg) {
					return fail("a second or unknown type")
				}
				cur.typ = arg
			case "UNIT":
				if cur.unit != "" || !strings.HasSuffix(name, "_"+arg) || omName.FindString(arg) != arg {
					return fail("a second unit, or one not in the name")
				}
				cur.unit = arg
			case "HELP":
				if cur.help != "" || strings.ContainsAny(strings.NewReplacer(`\\`, "", `\"`, "", `\n`, "").Replace(arg), `"\`) {
					return fail("a second help, or a bad escape")
				}
				cur.help = arg
			}
			continue
		}
		s, err := parseSample(line)
		if err != nil {
			return fail("%v", err)
		}
		if cur == nil || !belongs(cur, s.name) {
			if cur, err = start(s.name); err != nil {
				return fail("%v", err)
			}
		}
		cur.samples = append(cur.samples, s)
	}
	// Sample names of different families must not clash.
	owner := map[string]string{}
	for _, f := range order {
		for _, suffix := range omSuffixes[f.typ] {
			if o, ok := owner[f.name+suffix]; ok {
				return nil, fmt.Errorf("families %s and %s may both write %s", o, f.name, f.name+suffix)
			}
			owner[f.name+suffix] = f.name
		}
	}
	for _, f := range order {
		if err := checkFamily(f); err != nil {
			return nil, fmt.Errorf("family %s: %w", f.name, err)
		}
	}
	return fams, nil
}

// belongs says whether a sample named name is one of f's.
func belongs(f *omFamily, name string) bool {
	for _, suffix := range omSuffixes[f.typ] {
		if name == f.name+suffix {
			return true
		}
	}
	return false
}

func parseSample(line string) (omSample, error) {
	var s omSample
	s.name = omName.FindString(line)
	if s.name == "" {
		return s, fmt.Errorf("no metric name")
	}
	rest := line[len(s.name):]
	if strings.HasPrefix(rest, "{") {
		rest = rest[1:]
		for !strings.HasPrefix(rest, "}") {
			if len(s.labels) > 0 {
				var ok bool
				if rest, ok = strings.CutPrefix(rest, ","); !ok {
					return s, fmt.Errorf("labels not separated by commas")
				}
			}
			name := omLabelName.FindString(rest)
			rest = rest[len(name):]
			var ok bool
			if rest, ok = strings.CutPrefix(rest, `="`); name == "" || !ok {
				return s, fmt.Errorf("bad label")
			}
			var v strings.Builder
			for {
				if rest == "" {
					return s, fmt.Errorf("unterminated label value")
				}
				ch := rest[0]
				rest = rest[1:]
				if ch == '"' {
					break
				}
				if ch == '\\' {
					if rest == "" {
						return s, fmt.Errorf("unterminated escape")
					}
					switch rest[0] {
					case 'n':
						v.WriteByte('\n')
					default:
						v.WriteByte(rest[0])
					}
					rest = rest[1:]
					continue
				}
				v.WriteByte(ch)
			}
			if _, dup := s.label(name); dup {
				return s, fmt.Errorf("label %s twice", name)
			}
			s.labels = append(s.labels, omLabel{name, v.String()})
		}
		rest = rest[1:]
	}
	rest, ok := strings.CutPrefix(rest, " ")
	if !ok {
		return s, fmt.Errorf("no space before the value")
	}
	num, ts, hasTS := strings.Cut(rest, " ")
	if !omNumber.MatchString(num) || hasTS && !omNumber.MatchString(ts) {
		return s, fmt.Errorf("bad number")
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return s, err
	}
	s.value = v
	return s, nil
}

// checkFamily applies the rules on metric points: no two samples alike,
// no metric's samples interleaved with another's, and for histograms
// cumulative integer buckets in increasing canonical le ending with +Inf,
// then _count (equal to the +Inf bucket) with _sum, then _created.
func checkFamily(f *omFamily) error {
	seen := map[string]bool{}
	done := map[string]bool{}
	last := ""
	for i, s := range f.samples {
		all := s.name + "{" + s.key() + "}"
		if le, ok := s.label("le"); ok {
			all += le
		}
		if seen[all] {
			return fmt.Errorf("sample %s twice", all)
		}
		seen[all] = true
		if k := s.key(); i == 0 || k != last {
			if done[k] {
				return fmt.Errorf("metric {%s} interleaved", k)
			}
			if i > 0 {
				done[last] = true
			}
			last = k
		}
	}
	if f.typ != "histogram" {
		return nil
	}
	points := map[string][]omSample{}
	var keys []string
	for _, s := range f.samples {
		if _, ok := points[s.key()]; !ok {
			keys = append(keys, s.key())
		}
		points[s.key()] = append(points[s.key()], s)
	}
	for _, k := range keys {
		prevLE, prev := math.Inf(-1), -1.0
		stage := 0 // 0: buckets, 1: count and sum, 2: created
		var inf, count, sum *float64
		for _, s := range points[k] {
			le, hasLE := s.label("le")
			switch strings.TrimPrefix(s.name, f.name) {
			case "_bucket":
				if stage > 0 || !hasLE || !omCanonical.MatchString(le) {
					return fmt.Errorf("{%s}: bucket out of place, or le %q", k, le)
				}
				b, _ := strconv.ParseFloat(le, 64)
				if b <= prevLE || s.value < prev || s.value != math.Trunc(s.value) {
					return fmt.Errorf("{%s}: bucket le=%s %v after le=%v %v", k, le, s.value, prevLE, prev)
				}
				prevLE, prev = b, s.value
				if math.IsInf(b, 1) {
					inf = &s.value
				}
			case "_count", "_sum":
				if stage > 1 || hasLE {
					return fmt.Errorf("{%s}: %s out of place", k, s.name)
				}
				stage = 1
				v := s.value
				if strings.HasSuffix(s.name, "_count") {
					count = &v
				} else {
					sum = &v
				}
			case "_created":
				if hasLE {
					return fmt.Errorf("{%s}: le on _created", k)
				}
				stage = 2
			}
		}
		switch {
		case inf == nil:
			return fmt.Errorf("{%s}: no +Inf bucket", k)
		case (count == nil) != (sum == nil):
			return fmt.Errorf("{%s}: _count without _sum or the reverse", k)
		case count != nil && *count != *inf:
			return fmt.Errorf("{%s}: _count %v, +Inf bucket %v", k, *count, *inf)
		case sum != nil && (*sum < 0 || math.IsNaN(*sum)):
			return fmt.Errorf("{%s}: _sum %v", k, *sum)
		}
	}
	return nil
}
