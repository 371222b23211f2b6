package webapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/lafs/lafs/cap"
)

// capTrans maps the caps of the recording to the caps the replay made in
// their place. Mutable file and directory caps are random, so a recorded
// one is learned the first time a response shows both the recorded cap
// and ours in the same place (a cap returned by a PUT, a child in a
// t=json listing); from then on every request is rewritten with ours and
// every expected value with ours, and every later sighting must agree: the
// mapping stays one-to-one. With a write cap its read and verify caps are
// learned too, and the abbreviations of storage indexes in page titles.
// Immutable caps (CHK, LIT, DIR2-CHK, DIR2-LIT) are convergent: they must
// come out equal, never learned.
type capTrans struct {
	rec2our map[string]string
	our2rec map[string]string
	si      map[string]string // recorded base32 storage indexes, and their prefixes of 5 and 6 characters, to ours
}

func newCapTrans() *capTrans {
	return &capTrans{rec2our: map[string]string{}, our2rec: map[string]string{}, si: map[string]string{}}
}

// same declares a cap to be its own translation (the "missing" caps,
// well-formed caps with no shares on either grid).
func (m *capTrans) same(c string) {
	m.rec2our[c], m.our2rec[c] = c, c
}

// looksLikeCap reports whether a recorded string is a cap to translate.
func looksLikeCap(s string) bool {
	for _, p := range []string{"URI:", "ro.URI:", "imm.URI:"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// learn records that our cap stands where the recording had rec, or
// checks that it does if either is known already.
func (m *capTrans) learn(rec, our string) error {
	if known, ok := m.rec2our[rec]; ok {
		if known != our {
			return fmt.Errorf("recorded %s was %s, now %s", rec, known, our)
		}
		return nil
	}
	if known, ok := m.our2rec[our]; ok && known != rec {
		return fmt.Errorf("our %s stood for %s, now for %s", our, known, rec)
	}
	rc, rerr := cap.Parse(rec)
	oc, oerr := cap.Parse(our)
	if rerr != nil || oerr != nil || isUnknown(rc) {
		if rec != our {
			return fmt.Errorf("%s: %q, Tahoe %q", "unparsed or unknown caps differ", our, rec)
		}
		return nil
	}
	if kind(rc) != kind(oc) {
		return fmt.Errorf("cap of kind %s, Tahoe %s", kind(oc), kind(rc))
	}
	if !rc.IsMutable() {
		if rec != our {
			return fmt.Errorf("immutable cap %s, Tahoe %s", our, rec)
		}
		return nil
	}
	for _, pair := range [][2]cap.Cap{{rc, oc}, {rc.ReadOnly(), oc.ReadOnly()}, {rc.Verifier(), oc.Verifier()}} {
		if pair[0] == nil || pair[1] == nil {
			continue
		}
		r, o := pair[0].String(), pair[1].String()
		m.rec2our[r], m.our2rec[o] = o, r
	}
	rsi, _ := cap.StorageIndex(rc)
	osi, _ := cap.StorageIndex(oc)
	m.si[rsi.String()[:5]], m.si[rsi.String()[:6]] = osi.String()[:5], osi.String()[:6]
	m.si[rsi.String()] = osi.String()
	return nil
}

// kind is the kind of a cap: its text up to the second colon.
func kind(c cap.Cap) string {
	s := c.String()
	if i := strings.Index(s[4:], ":"); i >= 0 {
		return s[:4+i]
	}
	return s
}

var capRE = regexp.MustCompile(`URI(?::|%3A)[A-Z0-9-]+(?::|%3A)[a-z2-7]+(?:(?::|%3A)[a-z2-7]+)?(?:(?::|%3A)[0-9]+(?::|%3A)[0-9]+(?::|%3A)[0-9]+)?`)

// rewrite replaces every recorded cap in s, plain or percent-encoded, with
// ours. It fails for a recorded mutable cap it does not know: the replay
// would send Tahoe's cap to our grid.
func (m *capTrans) rewrite(s string) (string, error) {
	var bad error
	out := capRE.ReplaceAllStringFunc(s, func(tok string) string {
		plain := strings.ReplaceAll(tok, "%3A", ":")
		our, ok := m.rec2our[plain]
		if !ok {
			if c, err := cap.Parse(plain); err != nil || isUnknown(c) || !c.IsMutable() {
				return tok // immutable, unknown or malformed: the same on both grids
			}
			bad = fmt.Errorf("recorded cap %s is not known yet", plain)
			return tok
		}
		if strings.Contains(tok, "%3A") {
			return strings.ReplaceAll(our, ":", "%3A")
		}
		return our
	})
	return out, bad
}

// fix rewrites an expected text, ignoring caps not known (they are then
// compared as they are, and differ).
func (m *capTrans) fix(s string) string {
	out, _ := m.rewrite(s)
	return out
}

var siTitleRE = regexp.MustCompile(`SI=([a-z2-7]{5,6})`)

// fixTitle rewrites the storage index abbreviations of a page title.
func (m *capTrans) fixTitle(s string) string {
	return siTitleRE.ReplaceAllStringFunc(s, func(tok string) string {
		if our, ok := m.si[tok[3:]]; ok {
			return "SI=" + our
		}
		return tok
	})
}

// jsonNode is a parsed JSON value that keeps the order of object keys.
type jsonNode struct {
	obj  []jsonKV // objects
	arr  []jsonNode
	val  any // strings, numbers (json.Number), bools, nil
	kind byte
}

type jsonKV struct {
	key string
	val jsonNode
}

func parseOrdered(b []byte) (jsonNode, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return parseValue(d)
}

func parseValue(d *json.Decoder) (jsonNode, error) {
	tok, err := d.Token()
	if err != nil {
		return jsonNode{}, err
	}
	switch tok {
	case json.Delim('{'):
		n := jsonNode{kind: '{'}
		for d.More() {
			k, err := d.Token()
			if err != nil {
				return n, err
			}
			v, err := parseValue(d)
			if err != nil {
				return n, err
			}
			n.obj = append(n.obj, jsonKV{k.(string), v})
		}
		_, err := d.Token()
		return n, err
	case json.Delim('['):
		n := jsonNode{kind: '['}
		for d.More() {
			v, err := parseValue(d)
			if err != nil {
				return n, err
			}
			n.arr = append(n.arr, v)
		}
		_, err := d.Token()
		return n, err
	}
	return jsonNode{val: tok, kind: 'v'}, nil
}

// compareJSON compares our JSON with Tahoe's: the same shape, the same
// keys in the same order, caps equal after translation (learning the ones
// met first here), link times (linkcrtime, linkmotime) any number unless
// they came from the request (older than 2020), everything else equal.
func (m *capTrans) compareJSON(t *testing.T, path string, got, want jsonNode) {
	t.Helper()
	if got.kind != want.kind {
		t.Errorf("%s: %s, Tahoe %s", path, describe(got), describe(want))
		return
	}
	switch want.kind {
	case '{':
		gk, wk := keysOf(got), keysOf(want)
		if strings.Join(gk, ",") != strings.Join(wk, ",") {
			t.Errorf("%s: keys %v, Tahoe %v", path, gk, wk)
			if sorted(gk) != sorted(wk) {
				return
			}
		}
		for _, kv := range want.obj {
			for _, g := range got.obj {
				if g.key == kv.key {
					m.compareJSON(t, path+"."+kv.key, g.val, kv.val)
				}
			}
		}
	case '[':
		if len(got.arr) != len(want.arr) {
			t.Errorf("%s: %d items, Tahoe %d", path, len(got.arr), len(want.arr))
			return
		}
		for i := range want.arr {
			m.compareJSON(t, fmt.Sprintf("%s[%d]", path, i), got.arr[i], want.arr[i])
		}
	default:
		ws, wok := want.val.(string)
		gs, gok := got.val.(string)
		switch {
		case wok && gok && looksLikeCap(ws):
			if err := m.learn(ws, gs); err != nil {
				t.Errorf("%s: %v", path, err)
			}
		case strings.HasSuffix(path, ".linkcrtime") || strings.HasSuffix(path, ".linkmotime"):
			wn, _ := want.val.(json.Number)
			gn, ok := got.val.(json.Number)
			wf, _ := wn.Float64()
			if !ok || wf < 1.6e9 && gn != wn {
				t.Errorf("%s: %v, Tahoe %v", path, got.val, want.val)
			}
		case got.val != want.val:
			t.Errorf("%s: %v, Tahoe %v", path, got.val, want.val)
		}
	}
}

func keysOf(n jsonNode) []string {
	var out []string
	for _, kv := range n.obj {
		out = append(out, kv.key)
	}
	return out
}

func sorted(s []string) string {
	c := append([]string(nil), s...)
	sort.Strings(c)
	return strings.Join(c, ",")
}

func describe(n jsonNode) string {
	switch n.kind {
	case '{':
		return "an object"
	case '[':
		return "an array"
	}
	return fmt.Sprintf("%v", n.val)
}
