package main

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lafs/lafs/cap"
)

const (
	goldenDir = "URI:DIR2:5kcntyxbly6bf3tjnpdvaqn3se:3eg74oc5uad2yvv3e7zo7hhfa67cadaj4zgqhgxuz5blthey7j5q"
	goldenRO  = "URI:DIR2-RO:m7ghien6irxqmazvgsrx2j76bu:3eg74oc5uad2yvv3e7zo7hhfa67cadaj4zgqhgxuz5blthey7j5q"
)

func TestParseAliases(t *testing.T) {
	in := "# comment\n\ngolden: " + goldenDir + "\n  spaced :  URI:DIR2-LIT: \nfun:URI:DIR2-RO:x:y\ngolden: URI:DIR2-LIT:\n"
	m := map[string]string{}
	if err := parseAliases([]byte(in), "aliases", m); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"golden": "URI:DIR2-LIT:", "spaced ": "URI:DIR2-LIT:", "fun": "URI:DIR2-RO:x:y"}
	if fmt.Sprint(m) != fmt.Sprint(want) {
		t.Errorf("got %q, want %q", m, want)
	}
	err := parseAliases([]byte("ok: URI:DIR2-LIT:\nno colon here\n"), "/n/private/aliases", map[string]string{})
	if err == nil || !strings.Contains(err.Error(), "/n/private/aliases:2") {
		t.Errorf("malformed line: %v", err)
	}
}

func TestReadAliasesRootDirCap(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "private"), 0o700)
	os.WriteFile(filepath.Join(dir, "private", "root_dir.cap"), []byte(goldenDir+"\n"), 0o600)
	m, err := readAliases(dir)
	if err != nil || m["tahoe"] != goldenDir || len(m) != 1 {
		t.Fatalf("root_dir.cap: %v %v", m, err)
	}
	// add-alias tahoe would then refuse; a line in aliases overrides it.
	if err := addAliasLine(dir, "tahoe", "URI:DIR2-LIT:"); err != nil {
		t.Fatal(err)
	}
	m, _ = readAliases(dir)
	if m["tahoe"] != "URI:DIR2-LIT:" {
		t.Errorf("aliases line should win: %v", m)
	}
}

func TestAddAliasLine(t *testing.T) {
	dir := t.TempDir()
	if err := addAliasLine(dir, "a", "URI:DIR2-LIT:"); err != nil {
		t.Fatal(err)
	}
	path := aliasesFile(dir)
	os.WriteFile(path, []byte("a: URI:DIR2-LIT:"), 0o600) // no final newline
	if err := addAliasLine(dir, "b", goldenDir); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if string(b) != "a: URI:DIR2-LIT:\nb: "+goldenDir+"\n" {
		t.Errorf("aliases file %q", b)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("aliases file mode %v, want 0600", st.Mode().Perm())
	}
	if _, err := os.Stat(path + ".tmp"); err == nil {
		t.Error("left aliases.tmp behind")
	}
}

func TestResolvePath(t *testing.T) {
	aliases := map[string]string{"golden": goldenDir, "tahoe": goldenRO, "file": "URI:LIT:mfrgg"}
	tests := []struct {
		arg, def string
		want     gridPath
		err      string
	}{
		{"golden:", "tahoe", gridPath{root: goldenDir}, ""},
		{"golden:sub/file.txt", "tahoe", gridPath{root: goldenDir, path: "sub/file.txt"}, ""},
		{"  golden:a b ", "tahoe", gridPath{root: goldenDir, path: "a b"}, ""},
		{"file.txt", "tahoe", gridPath{root: goldenRO, path: "file.txt"}, ""},
		{"sub/x:7", "tahoe", gridPath{root: goldenRO, path: "sub/x:7"}, ""},
		{"", "tahoe", gridPath{root: goldenRO}, ""},
		{"URI:DIR2-LIT:", "tahoe", gridPath{root: "URI:DIR2-LIT:"}, ""},
		{"URI:DIR2:ab:cd/sub/f", "tahoe", gridPath{root: "URI:DIR2:ab:cd", path: "sub/f"}, ""},
		{"URI:DIR2:ab:cd:./sub/f", "tahoe", gridPath{root: "URI:DIR2:ab:cd", path: "sub/f"}, ""},
		{"ro.URI:DIR2-RO:ab:cd/x", "tahoe", gridPath{root: "ro.URI:DIR2-RO:ab:cd", path: "x"}, ""},
		{"nosuchalias:", "tahoe", gridPath{}, "error: Unknown alias 'nosuchalias', please create it with 'lafs add-alias' or 'lafs create-alias'."},
		{"file:x", "tahoe", gridPath{}, "error: the alias 'file' is not a directory cap"},
		{"x", "other", gridPath{}, "error: No alias specified, and the default 'other' alias doesn't exist. To create it, use 'lafs create-alias other'."},
		// cp: no alias means a local path.
		{"local/file.txt", "", gridPath{path: "local/file.txt", local: true}, ""},
		{"./a:b", "", gridPath{path: "./a:b", local: true}, ""},
		{"golden:x", "", gridPath{root: goldenDir, path: "x"}, ""},
	}
	for _, tt := range tests {
		got, err := resolvePath(aliases, tt.arg, tt.def)
		if tt.err != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tt.err) {
				t.Errorf("%q: error %v, want %q", tt.arg, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q: got %+v, %v; want %+v", tt.arg, got, err, tt.want)
		}
	}
}

func TestPyQuote(t *testing.T) {
	for in, want := range map[string]string{
		"URI:DIR2:ab:cd": "URI%3ADIR2%3Aab%3Acd",
		"sub/a b/ü~_.-":  "sub/a%20b/%C3%BC~_.-",
		"?#&=+%":         "%3F%23%26%3D%2B%25",
	} {
		if got := pyQuote(in); got != want {
			t.Errorf("pyQuote(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestQuoteName(t *testing.T) {
	tests := []struct {
		in         string
		quotemarks bool
		want       string
	}{
		{"golden", true, "'golden'"},
		{"golden", false, "golden"},
		{"a'b", true, `"a'b"`},
		{`say "hi" $x`, false, `say "hi" $x`},
		{`say "hi" $x`, true, `'say "hi" $x'`},
		{`"start`, false, `'"start'`},
		{"it's $5", false, `"it's \$5"`},
		{"tab\there", true, `"tab\x09here"`},
		{"line\nbreak", false, "line\nbreak"},
		{"line\nbreak", true, `"line\x0abreak"`},
		{"Ärger", true, "'Ärger'"},
		{"emoji\U0001F600", true, `"emoji\U0001f600"`},
		{"\u0100\x7f", true, `"` + "\u0100" + `\x7f"`},
	}
	for _, tt := range tests {
		if got := quoteName(tt.in, tt.quotemarks); got != tt.want {
			t.Errorf("quoteName(%q, %v) = %s, want %s", tt.in, tt.quotemarks, got, tt.want)
		}
	}
}

func TestParseFlagsBundled(t *testing.T) {
	fs := newFlagSet(&env{stderr: io.Discard}, "x", "help")
	l := fs.Bool("l", false, "")
	f := fs.Bool("F", false, "")
	d := fs.String("d", "", "")
	if err := parseFlags(fs, []string{"-lF", "-d", "-lF", "golden:", "-l"}, "lF"); err != nil {
		t.Fatal(err)
	}
	if !*l || !*f || *d != "-lF" || strings.Join(fs.Args(), " ") != "golden: -l" {
		t.Errorf("l=%v F=%v d=%q args=%q", *l, *f, *d, fs.Args())
	}
	if err := parseFlags(newFlagSet(&env{stderr: io.Discard}, "x", "h"), []string{"-lz"}, "lF"); err == nil {
		t.Error("-lz accepted")
	}
}

// fakeNode is an in-memory stand-in for a client node's web API: files and
// directories as Tahoe's API shows them, enough for the CLI's calls. It
// counts directory writes (each a mutable publish on a real grid).
type fakeNode struct {
	t   *testing.T
	srv *httptest.Server

	mu        sync.Mutex
	files     map[string][]byte // by cap (read cap for mutables: see rw)
	mutable   map[string]string // mutable write cap -> its read cap
	dirs      map[string]*fakeDir
	byRO      map[string]string // dir read cap -> write cap
	dirWrites int
	log       []string
}

type fakeDir struct {
	rw, ro   string
	children map[string]fakeChild
}

type fakeChild struct {
	kind   string // "filenode" or "dirnode"
	rw, ro string
	crtime float64
}

func newFakeNode(t *testing.T) *fakeNode {
	f := &fakeNode{t: t, files: map[string][]byte{}, mutable: map[string]string{},
		dirs: map[string]*fakeDir{}, byRO: map[string]string{}}
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

func randB32(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return b32(b)
}

func (f *fakeNode) newDirLocked() *fakeDir {
	rw := "URI:DIR2:" + randB32(16) + ":" + randB32(32)
	c, err := cap.Parse(rw)
	if err != nil {
		f.t.Fatal(err)
	}
	d := &fakeDir{rw: rw, ro: c.ReadOnly().String(), children: map[string]fakeChild{}}
	f.dirs[rw], f.byRO[d.ro] = d, rw
	return d
}

func (f *fakeNode) newFileLocked(data []byte, mutable bool) string {
	if mutable {
		rw := "URI:SSK:" + randB32(16) + ":" + randB32(32)
		c, _ := cap.Parse(rw)
		f.mutable[rw] = c.ReadOnly().String()
		f.files[rw] = data
		return rw
	}
	c := fmt.Sprintf("URI:CHK:%s:%s:3:10:%d", randB32(16), randB32(32), len(data))
	f.files[c] = data
	return c
}

// childOf makes a directory child of a cap.
func (f *fakeNode) childOf(s string) fakeChild {
	ch := fakeChild{kind: "filenode", crtime: float64(time.Now().UnixNano()) / 1e9}
	c, err := cap.Parse(s)
	if err != nil {
		f.t.Fatalf("fake node: bad cap %q", s)
	}
	if cap.IsDir(c) {
		ch.kind = "dirnode"
	}
	if c.IsReadOnly() {
		ch.ro = c.String()
	} else {
		ch.rw, ch.ro = c.String(), c.ReadOnly().String()
	}
	return ch
}

func (f *fakeNode) dirByCap(s string) (*fakeDir, bool) {
	if d, ok := f.dirs[s]; ok {
		return d, true
	}
	if rw, ok := f.byRO[s]; ok {
		return f.dirs[rw], false
	}
	return nil, false
}

func (f *fakeNode) json(ch fakeChild, withChildren bool) []any {
	info := map[string]any{}
	if ch.rw != "" {
		info["rw_uri"] = ch.rw
	}
	if ch.ro != "" {
		info["ro_uri"] = ch.ro
	}
	if ch.crtime != 0 {
		info["metadata"] = map[string]any{"tahoe": map[string]any{"linkcrtime": ch.crtime, "linkmotime": ch.crtime}}
	}
	if ch.kind == "dirnode" {
		info["mutable"] = true
		if withChildren {
			d, _ := f.dirByCap(ch.ro)
			kids := map[string]any{}
			for name, k := range d.children {
				kids[name] = f.json(k, false)
			}
			info["children"] = kids
		}
		return []any{"dirnode", info}
	}
	_, mut := f.mutable[ch.rw]
	info["mutable"] = mut || strings.HasPrefix(ch.ro, "URI:SSK-RO:")
	if !mut {
		data, ok := f.files[ch.ro]
		if ok {
			info["size"] = len(data)
		}
	}
	return []any{"filenode", info}
}

func (f *fakeNode) readFile(ch fakeChild) ([]byte, bool) {
	if ch.rw != "" {
		b, ok := f.files[ch.rw]
		return b, ok
	}
	for rw, ro := range f.mutable {
		if ro == ch.ro {
			return f.files[rw], true
		}
	}
	b, ok := f.files[ch.ro]
	return b, ok
}

func (f *fakeNode) fail(w http.ResponseWriter, code int, format string, a ...any) {
	w.Header().Set("Content-Type", "text/plain;charset=utf-8")
	w.WriteHeader(code)
	fmt.Fprintf(w, format, a...)
}

func (f *fakeNode) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	q := r.URL.Query()
	t := q.Get("t")
	f.log = append(f.log, r.Method+" "+r.URL.Path+" t="+t)
	segs := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if segs[0] != "uri" {
		f.fail(w, 404, "not found")
		return
	}
	if len(segs) == 1 { // /uri
		switch {
		case r.Method == "PUT":
			mut := q.Get("mutable") == "true" || strings.EqualFold(q.Get("format"), "SDMF") || strings.EqualFold(q.Get("format"), "MDMF")
			fmt.Fprint(w, f.newFileLocked(body, mut))
		case r.Method == "POST" && t == "mkdir":
			fmt.Fprint(w, f.newDirLocked().rw)
		case r.Method == "POST" && t == "mkdir-with-children":
			d := f.newDirLocked()
			if !f.setChildren(w, d, body) {
				return
			}
			f.dirWrites++
			fmt.Fprint(w, d.rw)
		default:
			f.fail(w, 400, "bad /uri request")
		}
		return
	}
	root := segs[1]
	names := segs[2:]
	if len(names) > 0 && names[len(names)-1] == "" {
		names = names[:len(names)-1]
	}
	// A file cap by itself.
	if _, isDir := f.dirs[root]; !isDir && f.byRO[root] == "" {
		ch := f.childOf(root)
		ch.crtime = 0
		data, ok := f.readFile(ch)
		if len(names) > 0 || !ok {
			f.fail(w, 410, "no such file")
			return
		}
		switch {
		case r.Method == "GET" && t == "json":
			json.NewEncoder(w).Encode(f.json(ch, false))
		case r.Method == "GET":
			w.Write(data)
		case r.Method == "PUT" && ch.rw != "":
			f.files[ch.rw] = body
			fmt.Fprint(w, ch.rw)
		default:
			f.fail(w, 400, "bad request on a file")
		}
		return
	}
	// Walk to the parent of the last name.
	d, writable := f.dirByCap(root)
	create := (r.Method == "PUT" && t != "uri") || (r.Method == "POST" && strings.HasPrefix(t, "mkdir"))
	for i := 0; i+1 < len(names); i++ {
		ch, ok := d.children[names[i]]
		if !ok && create {
			nd := f.newDirLocked()
			d.children[names[i]] = f.childOf(nd.rw)
			f.dirWrites++
			d, writable = nd, true
			continue
		}
		if !ok || ch.kind != "dirnode" {
			f.fail(w, 404, "No such child: %s", names[i])
			return
		}
		if ch.rw != "" {
			d, writable = f.dirs[ch.rw], true
		} else {
			d, writable = f.dirByCap(ch.ro)
		}
	}
	if len(names) == 0 { // the directory itself
		switch {
		case r.Method == "GET" && t == "json":
			self := fakeChild{kind: "dirnode", ro: d.ro}
			if writable {
				self.rw = d.rw
			}
			json.NewEncoder(w).Encode(f.json(self, true))
		case r.Method == "POST" && (t == "set_children" || t == "set-children") && writable:
			if f.setChildren(w, d, body) {
				f.dirWrites++
				fmt.Fprint(w, "Okay so I did it.")
			}
		default:
			f.fail(w, 400, "bad request on a directory")
		}
		return
	}
	name := names[len(names)-1]
	ch, exists := d.children[name]
	switch {
	case r.Method == "GET" && !exists:
		f.fail(w, 404, "No such child: %s", name)
	case r.Method == "GET" && t == "json":
		json.NewEncoder(w).Encode(f.json(ch, ch.kind == "dirnode"))
	case r.Method == "GET" && ch.kind == "filenode":
		data, _ := f.readFile(ch)
		w.Write(data)
	case !writable:
		f.fail(w, 500, "NotWriteableError")
	case r.Method == "DELETE":
		if !exists {
			f.fail(w, 404, "No such child: %s", name)
			return
		}
		delete(d.children, name)
		f.dirWrites++
		fmt.Fprint(w, ch.ro)
	case r.Method == "PUT" && t == "uri":
		if exists && ch.kind == "dirnode" && q.Get("replace") == "only-files" {
			f.fail(w, 409, "There was already a child by that name, and you asked me to not replace it.")
			return
		}
		d.children[name] = f.childOf(strings.TrimSpace(string(body)))
		f.dirWrites++
		if exists {
			w.WriteHeader(200)
		} else {
			w.WriteHeader(201)
		}
		fmt.Fprint(w, strings.TrimSpace(string(body)))
	case r.Method == "PUT":
		if exists && ch.rw != "" && ch.kind == "filenode" {
			f.files[ch.rw] = body // a mutable file, in place
			fmt.Fprint(w, ch.rw)
			return
		}
		mut := q.Get("mutable") == "true" || q.Get("format") == "SDMF" || q.Get("format") == "MDMF"
		c := f.newFileLocked(body, mut)
		d.children[name] = f.childOf(c)
		f.dirWrites++
		if exists {
			w.WriteHeader(200)
		} else {
			w.WriteHeader(201)
		}
		fmt.Fprint(w, c)
	case r.Method == "POST" && (t == "mkdir" || t == "mkdir-with-children"):
		if exists && ch.kind == "dirnode" && t == "mkdir" {
			fmt.Fprint(w, ch.rw)
			return
		}
		nd := f.newDirLocked()
		if t == "mkdir-with-children" {
			if !f.setChildren(w, nd, body) {
				return
			}
			f.dirWrites++
		}
		d.children[name] = f.childOf(nd.rw)
		f.dirWrites++
		fmt.Fprint(w, nd.rw)
	default:
		f.fail(w, 400, "bad request")
	}
}

func (f *fakeNode) setChildren(w http.ResponseWriter, d *fakeDir, body []byte) bool {
	var kids map[string][2]json.RawMessage
	if err := json.Unmarshal(body, &kids); err != nil {
		f.fail(w, 400, "bad JSON: %v", err)
		return false
	}
	for name, k := range kids {
		var info struct {
			RW string `json:"rw_uri"`
			RO string `json:"ro_uri"`
		}
		json.Unmarshal(k[1], &info)
		c := info.RW
		if c == "" {
			c = info.RO
		}
		d.children[name] = f.childOf(c)
	}
	return true
}

// tree returns "path kind size" lines for everything under a dircap.
func (f *fakeNode) tree(dircap string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	var walk func(prefix string, d *fakeDir)
	walk = func(prefix string, d *fakeDir) {
		for name, ch := range d.children {
			if ch.kind == "dirnode" {
				out = append(out, prefix+name+"/")
				sub, _ := f.dirByCap(ch.ro)
				walk(prefix+name+"/", sub)
			} else {
				data, _ := f.readFile(ch)
				out = append(out, fmt.Sprintf("%s%s %q", prefix, name, data))
			}
		}
	}
	d, _ := f.dirByCap(dircap)
	walk("", d)
	sort.Strings(out)
	return out
}

// fakeNodeDir makes a node directory whose node.url points at f, with the
// given aliases.
func fakeNodeDir(t *testing.T, f *fakeNode, aliases map[string]string) string {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "private"), 0o700)
	os.WriteFile(filepath.Join(dir, "node.url"), []byte(f.srv.URL+"/\n"), 0o644)
	for name, c := range aliases {
		if err := addAliasLine(dir, name, c); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func (f *fakeNode) mkdir(t *testing.T) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.newDirLocked().rw
}

func TestPutGetAliasPaths(t *testing.T) {
	f := newFakeNode(t)
	root := f.mkdir(t)
	dir := fakeNodeDir(t, f, map[string]string{"tahoe": root, "fun": f.mkdir(t)})
	local := filepath.Join(t.TempDir(), "in.txt")
	os.WriteFile(local, []byte("hello"), 0o644)

	out, errOut, code := runCmd(t, nil, "-d", dir, "put", local, "fun:sub/deep/f.txt")
	if code != 0 || errOut != "201 Created\n" || !strings.HasPrefix(out, "URI:CHK:") {
		t.Fatalf("put to alias path: %d %q %q", code, out, errOut)
	}
	// The recorded form: stdin to a new name prints 201 Created.
	out, errOut, code = runCmd(t, []byte("tiny LIT file\n"), "-d", dir, "put", "-", "lit.txt")
	if code != 0 || errOut != "waiting for file data on stdin..\n201 Created\n" {
		t.Fatalf("put - lit.txt: %d %q %q", code, out, errOut)
	}
	// Replacing gives 200 OK.
	_, errOut, _ = runCmd(t, []byte("again"), "-d", dir, "put", "-", "tahoe:lit.txt")
	if errOut != "waiting for file data on stdin..\n200 OK\n" {
		t.Errorf("replacing put: %q", errOut)
	}
	_, errOut, code = runCmd(t, nil, "-d", dir, "put", local, "fun:/x")
	if code != 1 || errOut != "Error: The remote filename must not start with a slash\nPlease try again, perhaps with fun:x\n" {
		t.Errorf("leading slash: %d %q", code, errOut)
	}
	// A mutable file, then modified in place through its write cap.
	mcap, _, code := runCmd(t, []byte("v1"), "-d", dir, "put", "--mutable", "-", "m.txt")
	mcap = strings.TrimSpace(mcap)
	if code != 0 || !strings.HasPrefix(mcap, "URI:SSK:") {
		t.Fatalf("put --mutable: %d %q", code, mcap)
	}
	out, _, code = runCmd(t, []byte("v2"), "-d", dir, "put", "-", mcap)
	if code != 0 || strings.TrimSpace(out) != mcap {
		t.Errorf("put to a mutable cap: %d %q", code, out)
	}

	for _, tt := range []struct{ from, want string }{
		{"fun:sub/deep/f.txt", "hello"},
		{"lit.txt", "again"},
		{"tahoe:m.txt", "v2"},
		{mcap, "v2"},
		{root + "/lit.txt", "again"},
		{root + ":./lit.txt", "again"},
	} {
		out, errOut, code := runCmd(t, nil, "-d", dir, "get", tt.from)
		if code != 0 || out != tt.want {
			t.Errorf("get %s: %d %q %q", tt.from, code, out, errOut)
		}
	}
	dst := filepath.Join(t.TempDir(), "out.txt")
	if _, errOut, code := runCmd(t, nil, "-d", dir, "get", "fun:sub/deep/f.txt", dst); code != 0 {
		t.Fatalf("get to file: %s", errOut)
	}
	if b, _ := os.ReadFile(dst); string(b) != "hello" {
		t.Errorf("got %q", b)
	}
	_, errOut, code = runCmd(t, nil, "-d", dir, "get", "fun:nothing")
	if code != 1 || errOut != "Error during GET: 404 Not Found\nNo such child: nothing\n" {
		t.Errorf("get missing: %d %q", code, errOut)
	}
	_, errOut, code = runCmd(t, nil, "-d", dir, "get", "nosuch:x")
	if code != 1 || !strings.HasPrefix(errOut, "error: Unknown alias 'nosuch'") {
		t.Errorf("get unknown alias: %d %q", code, errOut)
	}
}
