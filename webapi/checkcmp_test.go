package webapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// Comparing the check group of the recording: check results, operation
// statuses and streams hold what depends on the grid (server IDs, the
// order servers answered in, the root hashes in mutable share labels,
// directory sizes, which vary with the link times in their entries), so
// they are compared by shape: the same keys in the same order, the same
// types, the same lengths, and equal values wherever the grid does not
// matter (counts, file sizes, caps and storage indexes after
// translation, summaries).

// checkValueDiffs are the values of recorded check answers that ours
// deliberately differ in, by exchange: JSON paths, and why.
var checkValueDiffs = map[string]struct {
	paths []string
	why   string
}{
	"get_operation_start_deep_check_repair_true": {
		[]string{".count-objects-healthy-pre-repair", ".count-objects-unhealthy-pre-repair",
			".count-objects-healthy-post-repair", ".count-objects-unhealthy-post-repair", ".list-unhealthy-files"},
		"Tahoe's grid found set-dir/mdmf-ro with 7 of its 10 shares at that moment (the checks before and after it found all 10); ours finds the file healthy",
	},
}

// gridNumbers are the keys whose numbers depend on the grid.
var gridNumbers = map[string]bool{"size-directories": true, "largest-directory": true}

// compareCheckBody compares the body of an exchange of the check group;
// fix rewrites a recorded text with our base URL and caps.
func compareCheckBody(t *testing.T, tr *capTrans, e exchange, body []byte, fix func(string) string) {
	t.Helper()
	skip := map[string]bool{}
	if d, ok := checkValueDiffs[e.Name]; ok {
		for _, p := range d.paths {
			skip[p] = true
		}
		t.Logf("values that differ from Tahoe's: %v (%s)", d.paths, d.why)
	}
	c := &checkComparer{t: t, tr: tr, skip: skip}
	if strings.HasSuffix(e.Name, "_in_progress") && len(body) != e.Response.BodyLength {
		// Nothing has been counted yet: only the storage index differs,
		// and not in length.
		t.Errorf("%d bytes, Tahoe %d", len(body), e.Response.BodyLength)
	}
	switch {
	case e.Response.BodyKind == "json":
		got, err := parseOrdered(body)
		if err != nil {
			t.Fatalf("body is not JSON: %v: %q", err, trim(body))
		}
		want, err := parseOrdered(e.Response.BodyJSON)
		if err != nil {
			t.Fatal(err)
		}
		c.compare("", got, want)
		if e.Response.BodyEndsNL != nil && *e.Response.BodyEndsNL != bytes.HasSuffix(body, []byte("\n")) {
			t.Errorf("body ends with a newline: %v, Tahoe %v", !*e.Response.BodyEndsNL, *e.Response.BodyEndsNL)
		}
	case e.Response.BodyKind == "jsonlines":
		if !bytes.HasSuffix(body, []byte("\n")) {
			t.Errorf("the stream does not end with a newline: %q", trim(body))
		}
		lines := strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")
		if len(lines) != len(e.Response.BodyLines) {
			t.Errorf("%d lines, Tahoe %d", len(lines), len(e.Response.BodyLines))
		}
		for i := range min(len(lines), len(e.Response.BodyLines)) {
			got, err := parseOrdered([]byte(lines[i]))
			if err != nil {
				t.Fatalf("line %d is not JSON: %v: %q", i, err, lines[i])
			}
			want, err := parseOrdered(e.Response.BodyLines[i])
			if err != nil {
				t.Fatal(err)
			}
			c.compare(fmt.Sprintf("line %d", i), got, want)
		}
	case e.Name == "post_operation_cancel":
		// The deep size, which counts the directories' sizes.
		re := regexp.MustCompile(`^finished: yes\nsize: [0-9]+\n$`)
		if !re.Match(body) || !re.MatchString(*e.Response.BodyText) {
			t.Errorf("body %q, Tahoe %q", body, *e.Response.BodyText)
		}
	case e.Response.BodyText != nil:
		if want := fix(*e.Response.BodyText); string(body) != want {
			t.Errorf("body\n%q\nTahoe\n%q", trim(body), trim([]byte(want)))
		}
	}
	if e.Response.HTMLTitle != "" {
		if got := htmlTitle(body); got != tr.fixTitle(e.Response.HTMLTitle) {
			t.Errorf("title %q, Tahoe %q", got, e.Response.HTMLTitle)
		}
	}
}

// checkComparer compares JSON by shape.
type checkComparer struct {
	t    *testing.T
	tr   *capTrans
	skip map[string]bool
}

var (
	mutableLabelRE = regexp.MustCompile(`^seq[0-9]+-[a-z2-7]{4}-sh([0-9]+)$`)
)

func (c *checkComparer) compare(path string, got, want jsonNode) {
	t := c.t
	t.Helper()
	if c.skip[path] {
		return
	}
	if got.kind != want.kind {
		t.Errorf("%s: %s, Tahoe %s", path, describe(got), describe(want))
		return
	}
	key := path[strings.LastIndex(path, ".")+1:]
	switch want.kind {
	case '{':
		if key == "sharemap" {
			c.sharemap(path, got, want)
			return
		}
		gk, wk := keysOf(got), keysOf(want)
		if !slices.Equal(gk, wk) {
			t.Errorf("%s: keys %v, Tahoe %v", path, gk, wk)
		}
		for _, kv := range want.obj {
			for _, g := range got.obj {
				if g.key == kv.key {
					c.compare(path+"."+kv.key, g.val, kv.val)
				}
			}
		}
	case '[':
		if len(got.arr) != len(want.arr) {
			t.Errorf("%s: %d items, Tahoe %d", path, len(got.arr), len(want.arr))
			return
		}
		switch {
		case key == "servers-responding":
			for i := range got.arr {
				c.serverID(fmt.Sprintf("%s[%d]", path, i), got.arr[i])
			}
		case path == ".verifycaps" || path == ".storage-index":
			c.sameSet(path, got, want)
		default:
			for i := range want.arr {
				c.compare(fmt.Sprintf("%s[%d]", path, i), got.arr[i], want.arr[i])
			}
		}
	default:
		c.scalar(path, key, got, want)
	}
}

func (c *checkComparer) scalar(path, key string, got, want jsonNode) {
	t := c.t
	t.Helper()
	ws, wok := want.val.(string)
	gs, gok := got.val.(string)
	inCorruptList := strings.Contains(path, "corrupt-shares[")
	switch {
	case wok != gok:
		t.Errorf("%s: %v, Tahoe %v", path, got.val, want.val)
	case wok && looksLikeCap(ws):
		if err := c.tr.learn(ws, gs); err != nil {
			t.Errorf("%s: %v", path, err)
		}
	case wok && strings.HasPrefix(ws, "v0-"):
		c.serverID(path, got)
	case wok && (key == "storage-index" || key == "root-storage-index" || key == "origin" ||
		inCorruptList && strings.HasSuffix(path, "[1]")):
		c.storageIndex(path, gs, ws)
	case gridNumbers[key]:
		if _, ok := got.val.(json.Number); !ok {
			t.Errorf("%s: %v is not a number", path, got.val)
		}
	case got.val != want.val:
		t.Errorf("%s: %v, Tahoe %v", path, got.val, want.val)
	}
}

// serverID checks that a value is one of our servers' IDs.
func (c *checkComparer) serverID(path string, got jsonNode) {
	if s, ok := got.val.(string); !ok || !strings.HasPrefix(s, "v0-") {
		c.t.Errorf("%s: %v is not a server ID", path, got.val)
	}
}

// storageIndex checks a storage index against the recorded one: equal
// for immutable files (and LIT's ""), the translation of a mutable one.
func (c *checkComparer) storageIndex(path, got, want string) {
	our, known := c.tr.si[want]
	switch {
	case known && our != got:
		c.t.Errorf("%s: storage index %s, Tahoe %s (ours %s)", path, got, want, our)
	case !known && got != want:
		c.tr.si[want] = got // a mutable one met first here
	}
}

// sameSet compares the verify caps or storage indexes of a manifest,
// which Tahoe lists in no particular order.
func (c *checkComparer) sameSet(path string, got, want jsonNode) {
	var g, w []string
	for i := range want.arr {
		ws, _ := want.arr[i].val.(string)
		gs, _ := got.arr[i].val.(string)
		if our, ok := c.tr.rec2our[ws]; ok {
			ws = our
		} else if our, ok := c.tr.si[ws]; ok {
			ws = our
		}
		g, w = append(g, gs), append(w, ws)
	}
	slices.Sort(g)
	slices.Sort(w)
	if !slices.Equal(g, w) {
		c.t.Errorf("%s: %v, Tahoe (translated) %v", path, g, w)
	}
}

// sharemap compares share maps: the same shares (by share number for
// mutable files, whose labels hold the root hash), each on some servers.
func (c *checkComparer) sharemap(path string, got, want jsonNode) {
	t := c.t
	shares := func(n jsonNode) []string {
		var out []string
		for _, kv := range n.obj {
			label := kv.key
			if m := mutableLabelRE.FindStringSubmatch(label); m != nil {
				label = "sh" + m[1]
			}
			out = append(out, label)
			if kv.val.kind != '[' || len(kv.val.arr) == 0 {
				t.Errorf("%s.%s: %s, want a list of servers", path, kv.key, describe(kv.val))
			}
			for _, s := range kv.val.arr {
				c.serverID(path+"."+kv.key, s)
			}
		}
		slices.Sort(out)
		return out
	}
	if g, w := shares(got), shares(want); !slices.Equal(g, w) {
		t.Errorf("%s: shares %v, Tahoe %v", path, g, w)
	}
	for _, kv := range want.obj {
		if strings.HasPrefix(kv.key, "seq") {
			for _, g := range got.obj {
				if !mutableLabelRE.MatchString(g.key) {
					t.Errorf("%s: label %q, Tahoe %q", path, g.key, kv.key)
				}
			}
			break
		}
	}
}
