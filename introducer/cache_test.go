package introducer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

// cacheServerID returns a valid server id derived from i.
func cacheServerID(i int) string {
	var pub [32]byte
	pub[0] = byte(i)
	pub[1] = byte(i >> 8)
	return ServerID(pub[:])
}

// cacheStorageAnn is a storage announcement shaped like Tahoe's.
func cacheStorageAnn(nick string, seq int64) Announcement {
	a := NewAnnouncement(StorageService, nick, "tahoe-lafs/1.20.0", seq)
	a["anonymous-storage-FURL"] = "pb://abcdefgh@tcp:127.0.0.1:27401/ijklmnop"
	a["anonymous-storage-NURLs"] = []string{"pb://UzbjbgqqROctC2Rl-fA@127.0.0.1:27401/ijklmnop#v=1"}
	a["permutation-seed-base32"] = "g43wk4lfpj4ho4zsn5qxa33upb4doy3e"
	return a
}

// trickyAnn is an announcement full of strings that YAML 1.1 or 1.2 would
// misread if written plain, and numbers of every shape JSON has.
func trickyAnn() Announcement {
	a := cacheStorageAnn("tricky: #1", 1<<53)
	a["strings"] = []any{
		"", "yes", "No", "on", "OFF", "y", "n", "null", "Null", "~", "=", "<<",
		"0b101", "017", "0o17", "0x1F", "1_000", "1:20", "1:20.5", "1e3", "1.", ".5",
		".inf", "-.Inf", ".NaN", "2001-12-14", "2001-12-14 21:59:43.10 -5",
		"2001-12-14t21:59:43.10-05:00", "123", "-1.5e+10", "+12",
		"a: b", "- x", "-", "#x", "x #y", "!tag", "&a", "*a", "@x", "`x", "'q'", `"d"`,
		"? x", "{a}", "[b]", "|", ">", "---", "...", "%x", ",", "x,y",
		"multi\nline", "trailing\n", "\n", " lead", "trail ", "tab\tin", "\ttab",
		"ü日本 😀", "\x00\x07\x1b", "nel\u0085ls\u2028ps\u2029", "bom\ufeff", "\x7f",
		strings.Repeat("long words ", 30), strings.Repeat("x", 300),
	}
	a["numbers"] = []any{
		0, -1, 7, int64(1) << 53, uint64(1) << 63, 0.5, -2.25, 1e-7, 1e21, 1e300,
		123456.789, 5e-324, math.MaxFloat64, -0.0, 1e19, 12345678901234567890.0,
	}
	a["nested"] = map[string]any{
		"z": map[string]any{},
		"a": []any{},
		"m": []any{map[string]any{"k": nil}, true, false, []any{[]any{"deep"}}},
	}
	a["yes"] = "a key that YAML 1.1 reads as a bool"
	a["123"] = "a numeric key"
	a[""] = "the empty key"
	a["<<"] = "the merge key"
	return a
}

// jsonNormal returns v as encoding/json would decode its JSON.
func jsonNormal(t testing.TB, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// cacheJSON is the structure a cache file holds, as JSON-decoded values:
// a list of {"ann": ..., "key_s": ...}.
func cacheJSON(t testing.TB, entries []cachedAnnouncement) any {
	t.Helper()
	list := make([]any, 0, len(entries))
	for _, e := range entries {
		list = append(list, map[string]any{"ann": map[string]any(e.Ann), "key_s": e.ServerID})
	}
	return jsonNormal(t, list)
}

func writeCacheFixture(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "introducer_default_cache.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCacheRoundTrip(t *testing.T) {
	entries := []cachedAnnouncement{
		{ServerID: cacheServerID(3), Ann: cacheStorageAnn("c", 3)},
		{ServerID: cacheServerID(1), Ann: trickyAnn()},
		{ServerID: cacheServerID(2), Ann: cacheStorageAnn("b", 2)},
	}
	path := filepath.Join(t.TempDir(), "introducer_default_cache.yaml")
	if err := writeAnnouncementCache(path, entries); err != nil {
		t.Fatal(err)
	}
	got, skipped, err := readAnnouncementCache(path)
	if err != nil || skipped != 0 {
		t.Fatalf("read: skipped %d, %v", skipped, err)
	}
	want := []cachedAnnouncement{entries[1], entries[2], entries[0]} // sorted by id
	if g, w := cacheJSON(t, got), cacheJSON(t, want); !reflect.DeepEqual(g, w) {
		t.Fatalf("round trip differs:\n got %v\nwant %v", g, w)
	}
	// The values are exactly encoding/json's, not merely equal after
	// normalization.
	for i, e := range got {
		if !reflect.DeepEqual(map[string]any(e.Ann), jsonNormal(t, map[string]any(want[i].Ann))) {
			t.Errorf("entry %d: types differ from encoding/json's: %#v", i, e.Ann)
		}
		if _, ok := e.Ann["seqnum"].(float64); !ok {
			t.Errorf("entry %d: seqnum is %T, want float64", i, e.Ann["seqnum"])
		}
		if _, seq, err := checkAnnouncement(e.Ann); err != nil || seq != want[i].Ann.Seqnum() {
			t.Errorf("entry %d: checkAnnouncement = %d, %v; want %d", i, seq, err, want[i].Ann.Seqnum())
		}
		if e.Ann.Seqnum() != want[i].Ann.Seqnum() {
			t.Errorf("entry %d: Seqnum() = %d, want %d", i, e.Ann.Seqnum(), want[i].Ann.Seqnum())
		}
	}

	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"seqnum: 2\n", "seqnum: 9007199254740992\n", "version: 0\n", "- 1.0e+21\n", "- 9223372036854775808\n"} {
		if !bytes.Contains(data, []byte(s)) {
			t.Errorf("file lacks %q:\n%s", s, data)
		}
	}

	// The output does not depend on the order of the entries.
	path2 := filepath.Join(t.TempDir(), "again.yaml")
	if err := writeAnnouncementCache(path2, []cachedAnnouncement{entries[2], entries[0], entries[1]}); err != nil {
		t.Fatal(err)
	}
	if data2, _ := os.ReadFile(path2); !bytes.Equal(data, data2) {
		t.Errorf("output depends on entry order")
	}
}

func TestCacheEmptyList(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := writeAnnouncementCache(path, nil); err != nil {
		t.Fatal(err)
	}
	got, skipped, err := readAnnouncementCache(path)
	if err != nil || skipped != 0 || len(got) != 0 {
		t.Fatalf("got %v, %d, %v", got, skipped, err)
	}
}

func TestCacheMissingFile(t *testing.T) {
	got, skipped, err := readAnnouncementCache(filepath.Join(t.TempDir(), "introducer_x_cache.yaml"))
	if got != nil || skipped != 0 || err != nil {
		t.Fatalf("got %v, %d, %v; want nil, 0, nil", got, skipped, err)
	}
}

func TestCacheNotAList(t *testing.T) {
	for _, text := range []string{
		"",
		"# only a comment\n",
		"~\n",
		"null\n",
		"{ann: {}, key_s: v0-x}\n",
		"just a string\n",
		"17\n",
		"!!set {a, b}\n",
		"--- []\n--- []\n",
		"[unclosed\n",
		"- a\n b: c\n",
		"\xff\xfe\x00",
	} {
		path := writeCacheFixture(t, text)
		got, _, err := readAnnouncementCache(path)
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%q: got %v, %v; want an error naming the file", text, got, err)
		}
	}
}

func TestCacheTooLarge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.yaml")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(maxCacheSize + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, _, err := readAnnouncementCache(path); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("got %v, want a size error", err)
	}
}

func TestCacheAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("- key_s: " + cacheServerID(1) + "\n  ann:\n    service-name: storage\n")
	b.WriteString("    l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 10; i++ {
		fmt.Fprintf(&b, "    l%d: &l%d [*l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
	}
	path := writeCacheFixture(t, b.String())
	start := time.Now()
	_, _, err := readAnnouncementCache(path)
	if err == nil || !strings.Contains(err.Error(), "too many values") {
		t.Fatalf("got %v, want a too-many-values error", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestCacheSkipsBadItems(t *testing.T) {
	id1, id2 := cacheServerID(1), cacheServerID(2)
	good := "{service-name: storage, seqnum: 4, nickname: n}"
	text := strings.Join([]string{
		"- ann: " + good + "\n  key_s: " + id1,
		"- 5",
		"- just a string",
		"- ~",
		"- [ann, key_s]",
		"- {ann: " + good + "}",
		"- {key_s: " + id1 + "}",
		"- {ann: " + good + ", key_s: v1-abc}",
		"- {ann: " + good + ", key_s: 17}",
		"- {ann: " + good + ", key_s: v0-NOTBASE32}",
		"- {ann: " + good + ", key_s: " + id1 + "a}",
		"- {ann: " + good + ", key_s: [" + id1 + "]}",
		"- {ann: [1, 2], key_s: " + id1 + "}",
		"- {ann: storage, key_s: " + id1 + "}",
		"- {ann: {seqnum: 1}, key_s: " + id1 + "}",
		"- {ann: {service-name: 5}, key_s: " + id1 + "}",
		"- {ann: {service-name: null}, key_s: " + id1 + "}",
		"- {ann: {service-name: storage, 1: x}, key_s: " + id1 + "}",
		"- {ann: {service-name: storage, [a]: x}, key_s: " + id1 + "}",
		"- {ann: {service-name: storage, x: .inf}, key_s: " + id1 + "}",
		"- {ann: {service-name: storage, x: .NaN}, key_s: " + id1 + "}",
		"- {ann: {service-name: storage, x: 1.0e+999}, key_s: " + id1 + "}",
		"- {ann: {service-name: storage, x: !!binary aGk=}, key_s: " + id1 + "}",
		"- {ann: {service-name: storage, x: !!set {a}}, key_s: " + id1 + "}",
		"- {ann: {service-name: storage, x: !!int abc}, key_s: " + id1 + "}",
		"- {ann: {service-name: storage, x: !custom y}, key_s: " + id1 + "}",
		"- {ann: {service-name: storage, x: 2001-12-14}, key_s: " + id1 + "}",
		"- {ann: {service-name: storage, x: =}, key_s: " + id1 + "}",
		"- {ann: {service-name: storage, <<: {a: b}}, key_s: " + id1 + "}",
		"- {<<: {ann: " + good + "}, key_s: " + id1 + "}",
		"- &cyc {ann: {service-name: storage, self: *cyc}, key_s: " + id1 + "}",
		"- ann: " + good + "\n  key_s: " + id2 + "\n  extra: ignored",
	}, "\n") + "\n"
	got, skipped, err := readAnnouncementCache(writeCacheFixture(t, text))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || skipped != 30 {
		t.Fatalf("got %d entries, %d skipped; want 2, 30: %v", len(got), skipped, got)
	}
	if got[0].ServerID != id1 || got[1].ServerID != id2 {
		t.Errorf("server ids %q, %q", got[0].ServerID, got[1].ServerID)
	}
	for _, e := range got {
		if _, seq, err := checkAnnouncement(e.Ann); err != nil || seq != 4 {
			t.Errorf("%s: checkAnnouncement = %d, %v", e.ServerID, seq, err)
		}
	}
}

// TestCachePyYAMLScalars checks that plain scalars are read by PyYAML's
// YAML 1.1 rules, as Tahoe reads them.
func TestCachePyYAMLScalars(t *testing.T) {
	for _, tc := range []struct {
		yaml string
		want any
	}{
		{"17", 17.0},
		{"-17", -17.0},
		{"+17", 17.0},
		{"0", 0.0},
		{"1_000", 1000.0},
		{"0b101", 5.0},
		{"017", 15.0},
		{"0x1F", 31.0},
		{"1:20", 80.0},
		{"-1:0:0", -3600.0},
		{"12345678901234567890", 12345678901234567890.0},
		{"1.5", 1.5},
		{"1.", 1.0},
		{".5", 0.5},
		{"-1.5e+3", -1500.0},
		{"1:30.5", 90.5},
		{"1e3", "1e3"},
		{"0o17", "0o17"},
		{"'17'", "17"},
		{`"17"`, "17"},
		{"!!str 17", "17"},
		{"!!float 17", 17.0},
		{"!!int '17'", 17.0},
		{"yes", true},
		{"Off", false},
		{"TRUE", true},
		{"y", "y"},
		{"'yes'", "yes"},
		{"~", nil},
		{"null", nil},
		{"", nil},
		{"nil", "nil"},
		{"pb://a@tcp:1.2.3.4:5/b#v=1", "pb://a@tcp:1.2.3.4:5/b#v=1"},
		{`"\xFC\u65E5"`, "ü日"},
		{"|\n      two\n      lines", "two\nlines\n"},
		{"[1, a, {b: c}]", []any{1.0, "a", map[string]any{"b": "c"}}},
	} {
		text := "- key_s: " + cacheServerID(1) + "\n  ann:\n    service-name: storage\n    x: " + tc.yaml + "\n"
		got, skipped, err := parseAnnouncementCache("t", []byte(text))
		if err != nil || skipped != 0 || len(got) != 1 {
			t.Errorf("%q: %v, %d skipped, %v", tc.yaml, got, skipped, err)
			continue
		}
		if x := got[0].Ann["x"]; !reflect.DeepEqual(x, tc.want) {
			t.Errorf("%q: got %#v, want %#v", tc.yaml, x, tc.want)
		}
	}
}

func TestCacheFileMode(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "introducer_default_cache.yaml")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	entries := []cachedAnnouncement{{ServerID: cacheServerID(1), Ann: cacheStorageAnn("a", 1)}}
	for range 2 {
		if err := writeAnnouncementCache(path, entries); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != 0o600 {
			t.Errorf("mode %v, want -rw-------", fi.Mode())
		}
	}
	names, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 1 {
		t.Errorf("directory holds %d files, want 1 (temporary files left behind?)", len(names))
	}
	// Writing into a missing directory fails.
	if err := writeAnnouncementCache(filepath.Join(dir, "missing", "c.yaml"), entries); err == nil {
		t.Error("writing into a missing directory succeeded")
	}
}

func TestCacheWriteRefusesNonJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	ann := cacheStorageAnn("a", 1)
	ann["x"] = math.NaN()
	if err := writeAnnouncementCache(path, []cachedAnnouncement{{ServerID: cacheServerID(1), Ann: ann}}); err == nil {
		t.Error("wrote a NaN")
	}
	if err := writeAnnouncementCache(path, []cachedAnnouncement{{ServerID: "v0-\xff", Ann: cacheStorageAnn("a", 1)}}); err == nil {
		t.Error("wrote a server id that is not UTF-8")
	}
	if _, err := os.Stat(path); err == nil {
		t.Error("a failed write left a file")
	}
}

// TestCacheTahoeFile reads a cache written by Tahoe-LAFS 1.20 for a grid of
// ten storage servers.
func TestCacheTahoeFile(t *testing.T) {
	got, skipped, err := readAnnouncementCache(filepath.Join("testdata", "tahoe_introducer_cache.yaml"))
	if err != nil || skipped != 0 {
		t.Fatalf("skipped %d, %v", skipped, err)
	}
	if len(got) != 10 {
		t.Fatalf("%d entries, want 10", len(got))
	}
	nicks := map[string]bool{}
	for _, e := range got {
		if !validCacheServerID(e.ServerID) {
			t.Errorf("server id %q", e.ServerID)
		}
		if s := e.Ann.String("service-name"); s != "storage" {
			t.Errorf("%s: service-name %q", e.ServerID, s)
		}
		if seq, ok := e.Ann["seqnum"].(float64); !ok || seq < 1 {
			t.Errorf("%s: seqnum %#v, want a positive float64", e.ServerID, e.Ann["seqnum"])
		}
		if v, ok := e.Ann["version"].(float64); !ok || v != 0 {
			t.Errorf("%s: version %#v", e.ServerID, e.Ann["version"])
		}
		if _, _, err := checkAnnouncement(e.Ann); err != nil {
			t.Errorf("%s: %v", e.ServerID, err)
		}
		if len(e.Ann.NURLs()) != 1 || !strings.HasPrefix(e.Ann.String("anonymous-storage-FURL"), "pb://") {
			t.Errorf("%s: NURLs %v", e.ServerID, e.Ann.NURLs())
		}
		if _, ok := e.Ann["app-versions"].([]any); !ok {
			t.Errorf("%s: app-versions %#v", e.ServerID, e.Ann["app-versions"])
		}
		nicks[e.Ann.String("nickname")] = true
	}
	if len(nicks) != 10 {
		t.Errorf("nicknames %v", nicks)
	}

	// What we write from it reads back the same.
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := writeAnnouncementCache(path, got); err != nil {
		t.Fatal(err)
	}
	again, _, err := readAnnouncementCache(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != len(got) {
		t.Fatalf("%d entries after rewriting, want %d", len(again), len(got))
	}
}

// tahoePython finds the Python that runs the Tahoe-LAFS named by TAHOE_CLI,
// and the environment it needs.
func tahoePython(t *testing.T) (python string, env []string) {
	t.Helper()
	cli := os.Getenv("TAHOE_CLI")
	if cli == "" {
		t.Skip("TAHOE_CLI is not set; to check that Tahoe's PyYAML reads our cache, run with: set -a; . /work/tahoe/env.sh; set +a")
	}
	real, err := filepath.EvalSymlinks(cli)
	if err != nil {
		t.Fatalf("TAHOE_CLI: %v", err)
	}
	script, err := os.ReadFile(real)
	if err != nil {
		t.Fatalf("TAHOE_CLI: %v", err)
	}
	dir := filepath.Dir(real)
	first, _, _ := strings.Cut(string(script), "\n")
	if interp, ok := strings.CutPrefix(first, "#!"); ok && strings.Contains(interp, "python") {
		python = strings.Fields(interp)[0] // a virtualenv's entry point
	} else if m := regexp.MustCompile(`exec\s+(\S*python[0-9.]*)\s`).FindStringSubmatch(string(script)); m != nil {
		python = m[1] // a wrapper script
	} else if p := filepath.Join(dir, "python"); fileExists(p) {
		python = p
	} else {
		t.Skipf("cannot find the Python interpreter that %s runs", cli)
	}
	env = os.Environ()
	if lib := filepath.Join(dir, "lib"); fileExists(lib) && !strings.Contains(first, "python") {
		env = append(env, "PYTHONPATH="+lib)
	}
	return python, env
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// runPython runs a Python program with stdin and returns its output.
func runPython(t *testing.T, python string, env []string, prog string, stdin []byte, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, append([]string{"-s", "-c", prog}, args...)...)
	cmd.Env = env
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", python, err, stderr.Bytes())
	}
	return out
}

// TestCacheTahoeInterop checks both directions with the PyYAML Tahoe uses:
// Tahoe's safe_load reads what we write, and we read what safe_dump writes,
// each giving the same values.
func TestCacheTahoeInterop(t *testing.T) {
	python, env := tahoePython(t)
	entries := []cachedAnnouncement{
		{ServerID: cacheServerID(2), Ann: cacheStorageAnn("b", 2)},
		{ServerID: cacheServerID(1), Ann: trickyAnn()},
	}
	want := cacheJSON(t, []cachedAnnouncement{entries[1], entries[0]})

	// Tahoe reads ours (_load_announcements opens the file in binary).
	path := filepath.Join(t.TempDir(), "introducer_default_cache.yaml")
	if err := writeAnnouncementCache(path, entries); err != nil {
		t.Fatal(err)
	}
	load := "import json, sys, yaml\nwith open(sys.argv[1], 'rb') as f:\n    v = yaml.safe_load(f)\njson.dump(v, sys.stdout)\n"
	out := runPython(t, python, env, load, nil, path)
	var got any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("Python's output: %v\n%s", err, out)
	}
	if !reflect.DeepEqual(got, want) {
		data, _ := os.ReadFile(path)
		t.Errorf("PyYAML read differently.\n got %v\nwant %v\nfile:\n%s", got, want, data)
	}

	// We read Tahoe's (_save_announcements: safe_dump of the JSON-decoded
	// announcements).
	in, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	dump := "import json, sys, yaml\nsys.stdout.write(yaml.safe_dump(json.load(sys.stdin)))\n"
	out = runPython(t, python, env, dump, in)
	ours, skipped, err := parseAnnouncementCache("safe_dump", out)
	if err != nil || skipped != 0 {
		t.Fatalf("reading safe_dump's output: skipped %d, %v\n%s", skipped, err, out)
	}
	if g := cacheJSON(t, ours); !reflect.DeepEqual(g, want) {
		t.Errorf("we read safe_dump's output differently.\n got %v\nwant %v\nfile:\n%s", g, want, out)
	}
}

// FuzzAnnouncementCache checks that the reader never panics, that what it
// accepts is well formed, and that writing and reading again changes
// nothing.
func FuzzAnnouncementCache(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("testdata", "tahoe_introducer_cache.yaml")); err == nil {
		f.Add(b)
	}
	if b, err := marshalAnnouncementCache([]cachedAnnouncement{{ServerID: cacheServerID(1), Ann: trickyAnn()}}); err == nil {
		f.Add(b)
	}
	f.Add([]byte("- {ann: {service-name: storage, seqnum: 0x10}, key_s: " + cacheServerID(7) + "}\n- &a [*a]\n"))
	f.Add([]byte("[]"))
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, _, err := parseAnnouncementCache("fuzz", b)
		if err != nil {
			return
		}
		for _, e := range entries {
			if !validCacheServerID(e.ServerID) {
				t.Fatalf("accepted server id %q", e.ServerID)
			}
			if _, ok := e.Ann["service-name"].(string); !ok {
				t.Fatalf("accepted an announcement without a service-name")
			}
		}
		out, err := marshalAnnouncementCache(entries)
		if err != nil {
			t.Fatalf("cannot write what was read: %v", err)
		}
		again, skipped, err := parseAnnouncementCache("again", out)
		if err != nil || skipped != 0 {
			t.Fatalf("cannot read what was written: skipped %d, %v\n%s", skipped, err, out)
		}
		sorted := append([]cachedAnnouncement(nil), entries...)
		sortCacheForTest(sorted)
		if g, w := cacheJSON(t, again), cacheJSON(t, sorted); !reflect.DeepEqual(g, w) {
			t.Fatalf("round trip differs:\n got %v\nwant %v", g, w)
		}
	})
}

// sortCacheForTest orders entries as the writer does.
func sortCacheForTest(es []cachedAnnouncement) {
	for i := 1; i < len(es); i++ {
		for j := i; j > 0 && cacheLess(es[j], es[j-1]); j-- {
			es[j], es[j-1] = es[j-1], es[j]
		}
	}
}

func cacheLess(a, b cachedAnnouncement) bool {
	if a.ServerID != b.ServerID {
		return a.ServerID < b.ServerID
	}
	return a.Ann.String("service-name") < b.Ann.String("service-name")
}
