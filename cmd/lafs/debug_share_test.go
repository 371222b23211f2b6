package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/internal/vectors"
)

// tahoeNow is the time at which Tahoe's outputs in debug_share_tahoe_test.go
// were recorded.
var tahoeNow = time.Unix(1700000000, 250000000)

// debugRun runs "lafs debug ARGS" with the clock at now.
func debugRun(t *testing.T, now time.Time, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var o, e bytes.Buffer
	en := &env{stdout: &o, stderr: &e, getenv: func(string) string { return "" },
		clock: func() time.Time { return now }}
	err = runDebug(context.Background(), en, args)
	return o.String(), e.String(), err
}

// vecShare is one share file of the recorded vectors.
type vecShare struct {
	source string // which vector file and object, for messages
	cap    string
	si     string
	shnum  int
	server string
	file   []byte
}

// vectorShares returns every share file of tahoe120_grid.json,
// stored_shares.json and sdmf_old_shares.json.
func vectorShares(t *testing.T) []vecShare {
	t.Helper()
	var out []vecShare
	add := func(source, c, server string, shnum int, b64 string) {
		b, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			t.Fatalf("%s: %v", source, err)
		}
		pc, err := cap.Parse(c)
		if err != nil {
			t.Fatalf("%s: %v", source, err)
		}
		si, _ := cap.StorageIndex(pc)
		out = append(out, vecShare{source: source, cap: c, si: si.String(), shnum: shnum, server: server, file: b})
	}

	var grid struct {
		Objects []struct {
			Kind   string `json:"kind"`
			Cap    string `json:"cap"`
			Shares []struct {
				Server    string `json:"server"`
				Shnum     int    `json:"shnum"`
				Container string `json:"container_b64"`
			} `json:"shares"`
		} `json:"objects"`
	}
	if err := json.Unmarshal(vectors.Read(t, "tahoe120_grid.json"), &grid); err != nil {
		t.Fatal(err)
	}
	for _, o := range grid.Objects {
		for _, s := range o.Shares {
			add("tahoe120_grid "+o.Kind, o.Cap, s.Server, s.Shnum, s.Container)
		}
	}

	type object struct {
		Cap    string                       `json:"cap"`
		Shares map[string]map[string]string `json:"shares"`
	}
	var stored struct{ Immutable, Mutable object }
	if err := json.Unmarshal(vectors.Read(t, "stored_shares.json"), &stored); err != nil {
		t.Fatal(err)
	}
	for kind, o := range map[string]object{"immutable": stored.Immutable, "mutable": stored.Mutable} {
		for server, shares := range o.Shares {
			for sh, b := range shares {
				var n int
				fmt.Sscan(sh, &n)
				add("stored_shares "+kind, o.Cap, "stored"+server, n, b)
			}
		}
	}

	var old struct {
		Cap    string            `json:"cap"`
		Shares map[string]string `json:"shares"`
	}
	if err := json.Unmarshal(vectors.Read(t, "sdmf_old_shares.json"), &old); err != nil {
		t.Fatal(err)
	}
	for sh, b := range old.Shares {
		var n int
		fmt.Sscan(sh, &n)
		add("sdmf_old_shares", old.Cap, "old", n, b)
	}
	return out
}

// put writes a share file where a node directory's storage keeps it and
// returns its path.
func put(t *testing.T, nodeDir, si string, shnum int, b []byte) string {
	t.Helper()
	p := filepath.Join(nodeDir, "storage", "shares", si[:2], si, fmt.Sprint(shnum))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// findVec picks the share of storage index si and number shnum (from
// server, when not "").
func findVec(t *testing.T, all []vecShare, si string, shnum int, server string) vecShare {
	t.Helper()
	for _, s := range all {
		if s.si == si && s.shnum == shnum && (server == "" || s.server == server) {
			return s
		}
	}
	t.Fatalf("no share %d of %s in the vectors", shnum, si)
	return vecShare{}
}

// layOutTahoeFixture writes the share files that Tahoe's recorded outputs
// are about: node a holds three shares of tahoe120_grid (CHK, SDMF, MDMF),
// node b shares of stored_shares.json and sdmf_old_shares.json.
func layOutTahoeFixture(t *testing.T, dir string) {
	all := vectorShares(t)
	for _, f := range []struct {
		node, si, server string
		shnum            int
	}{
		{"a", "m7r4qvgbnxv5o6e6lblqj3bglm", "", 3},
		{"a", "f6w2ksnfa5dmmkwzkart2j2yhu", "", 6},
		{"a", "77yf6yars3ljmk3ghsfzmtndgi", "", 8},
		{"b", "yjetultfbohvhvm3nctuywmng4", "", 0},
		{"b", "yjetultfbohvhvm3nctuywmng4", "", 5},
		{"b", "cmwuq4gsjrfi3qmixlxmucpbae", "", 2},
		{"b", "nxq4vhp7ifntsc4ycuciy5lxt4", "", 3},
	} {
		v := findVec(t, all, f.si, f.shnum, f.server)
		put(t, filepath.Join(dir, f.node), f.si, f.shnum, v.file)
	}

	// Node c: a CHK share with more in its URI extension and a second
	// lease, expiring 5000 s after the recording.
	v := findVec(t, all, "m7r4qvgbnxv5o6e6lblqj3bglm", 3, "")
	be := binary.BigEndian
	nl := int(be.Uint32(v.file[8:]))
	data := v.file[12 : len(v.file)-72*nl]
	lease := v.file[len(v.file)-72*nl:][:72]
	uebOff := int(be.Uint32(data[32:]))
	ueb := bytes.Clone(data[uebOff+4 : uebOff+4+int(be.Uint32(data[uebOff:]))])
	for _, kv := range [][2]string{
		{"plaintext_hash", strings.Repeat("\x01", 32)}, {"plaintext_root_hash", strings.Repeat("\x02", 32)},
		{"foo", "bar"}, {"zz_hash", "\x03\x03\x03\x03\x03"},
	} {
		ueb = fmt.Appendf(ueb, "%s:%d:%s,", kv[0], len(kv[1]), kv[1])
	}
	data = be.AppendUint32(bytes.Clone(data[:uebOff]), uint32(len(ueb)))
	data = append(data, ueb...)
	chk := be.AppendUint32(be.AppendUint32(be.AppendUint32(nil, be.Uint32(v.file)), uint32(len(data))), 2)
	chk = append(append(append(chk, data...), lease...), lease[:68]...)
	chk = be.AppendUint32(chk, 1700000000+5000)
	put(t, filepath.Join(dir, "c"), v.si, 0, chk)

	// And an SDMF share with its lease in slot 2, and two extra leases:
	// an empty one, then one expiring 7200 s after the recording.
	v = findVec(t, all, "f6w2ksnfa5dmmkwzkart2j2yhu", 6, "")
	empty := make([]byte, 92)
	slot0 := v.file[100:192]
	end := be.Uint64(v.file[92:])
	m := slices.Concat(v.file[:100], empty, empty, slot0, empty, v.file[468:end], []byte{0, 0, 0, 2}, empty)
	m = be.AppendUint32(be.AppendUint32(m, 1), 1700000000+7200)
	m = append(m, slot0[8:]...)
	put(t, filepath.Join(dir, "c"), v.si, 2, m)
}

// TestDumpShareMatchesTahoe runs the commands whose output Tahoe 1.20
// printed for the same files at the same time and wants its output byte
// for byte: CHK, SDMF and MDMF shares in version 1 and 2 containers, with
// --offsets and --leases-only, and catalog-shares over them.
func TestDumpShareMatchesTahoe(t *testing.T) {
	dir := t.TempDir()
	layOutTahoeFixture(t, dir)
	sections := strings.Split(strings.TrimPrefix(tahoeShareOutputs, "\n=== "), "\n=== ")
	if len(sections) != 10 {
		t.Fatalf("%d recorded sections", len(sections))
	}
	for i, sec := range sections {
		if i < len(sections)-1 {
			sec += "\n" // the split took it
		}
		cmdline, want, _ := strings.Cut(sec, "\n")
		args := strings.Split(strings.ReplaceAll(cmdline, "$DIR", dir), "|")
		want = strings.ReplaceAll(want, "$DIR", dir)
		got, stderr, err := debugRun(t, tahoeNow, args...)
		if err != nil || stderr != "" {
			t.Errorf("%s: %v %s", cmdline, err, stderr)
		}
		if got != want {
			t.Errorf("%s:\n got:\n%s\nwant (Tahoe's):\n%s", cmdline, got, want)
		}
	}
}

// TestDumpShareVectorValues dumps every share file of the vectors and
// checks what it says against the file's cap: k, N, size and UEB hash of
// CHK files, and the verify cap of every file, which binds the storage
// index, the UEB (CHK) or the public key (SDMF, MDMF) found in the share.
func TestDumpShareVectorValues(t *testing.T) {
	dir := t.TempDir()
	all := vectorShares(t)
	if len(all) < 80 {
		t.Fatalf("only %d vector shares", len(all))
	}
	for _, v := range all {
		p := put(t, filepath.Join(dir, v.server), v.si, v.shnum, v.file)
		out, _, err := debugRun(t, tahoeNow, "dump-share", p)
		if err != nil {
			t.Errorf("%s share %d: %v", v.source, v.shnum, err)
			continue
		}
		c, _ := cap.Parse(v.cap)
		if d, ok := c.(*cap.Dir); ok {
			c = d.File
		}
		var want []string
		switch c := c.(type) {
		case *cap.CHK:
			want = []string{
				fmt.Sprintf("           file_size: %d\n", c.Size),
				fmt.Sprintf("       needed_shares: %d\n", c.K),
				fmt.Sprintf("        total_shares: %d\n", c.N),
				fmt.Sprintf("            UEB_hash: %s\n", b32(c.UEBHash[:])),
				fmt.Sprintf("          verify-cap: %s\n", c.Verifier()),
			}
		case *cap.MutableWrite:
			want = []string{
				fmt.Sprintf(" share_type: %s\n", c.Format),
				fmt.Sprintf("  verify-cap: %s\n", c.Verifier()),
			}
		default:
			t.Fatalf("%s: unexpected cap type %T", v.source, c)
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("%s share %d: no %q in\n%s", v.source, v.shnum, w, out)
			}
		}
	}
}

func TestFormatExpiration(t *testing.T) {
	now := time.Unix(1000000, 0)
	for _, c := range []struct {
		exp   uint32
		nowNs int64
		want  string
	}{
		{1000000 + 90000, 0, "90000s (1 days)"},
		{1000000 + 86400, 0, "86400s (24 hours)"}, // a day is not more than a day
		{1000000 + 86401, 0, "86401s (1 days)"},
		{1000000 + 7200, 500e6, "7199s (1 hours)"},
		{1000000 + 3600, 0, "3600s"},
		{1000000 + 3601, 0, "3601s (1 hours)"},
		{1000000, 0, "0s"},
		{1000000 - 5, 500e6, "-5s"}, // truncated toward zero, as Python's %d
		{0, 0, "-1000000s"},
	} {
		got := formatExpiration(c.exp, now.Add(time.Duration(c.nowNs)))
		if got != c.want {
			t.Errorf("expiration %d at %v: %q, want %q", c.exp, c.nowNs, got, c.want)
		}
	}
}

func TestFindShares(t *testing.T) {
	dir := t.TempDir()
	all := vectorShares(t)
	const si = "m7r4qvgbnxv5o6e6lblqj3bglm"
	var nodes []string
	var want []string
	for _, v := range all {
		if v.si != si {
			continue
		}
		node := filepath.Join(dir, "node-"+v.server)
		nodes = append(nodes, node)
		want = append(want, put(t, node, v.si, v.shnum, v.file))
	}
	if len(want) != 10 {
		t.Fatalf("%d shares", len(want))
	}
	// More shares on the first node, whose numbers sort differently as
	// text (100 before 19).
	v0 := findVec(t, all, si, 0, "")
	for _, v := range all {
		if v.si == si && strings.HasPrefix(want[0], filepath.Join(dir, "node-"+v.server)+string(filepath.Separator)) {
			v0 = v
		}
	}
	wantLines := []string{want[0], put(t, nodes[0], si, 19, v0.file), put(t, nodes[0], si, 100, v0.file)}
	wantLines = append(wantLines, want[1:]...)
	pc, _ := cap.Parse(v0.cap)
	for _, arg := range []string{si, v0.cap, pc.Verifier().String(), "http://127.0.0.1:3456/uri/" + v0.cap + "/x?t=json"} {
		args := append([]string{"find-shares", arg}, nodes...)
		args = append(args, filepath.Join(dir, "no-such-node"))
		out, stderr, err := debugRun(t, tahoeNow, args...)
		if err != nil || stderr != "" {
			t.Fatalf("%v %s", err, stderr)
		}
		if want := strings.Join(wantLines, "\n") + "\n"; out != want {
			t.Errorf("find-shares printed\n%s\nwant\n%s", out, want)
		}
	}

	// The global -d node directory when none is given.
	var o, e bytes.Buffer
	en := &env{stdout: &o, stderr: &e, getenv: func(string) string { return "" }, nodeDir: nodes[1]}
	if err := runDebug(context.Background(), en, []string{"find-shares", si}); err != nil || o.String() != want[1]+"\n" {
		t.Errorf("with -d: %q %v", o.String(), err)
	}

	// Bad arguments: usage errors that never repeat a cap.
	lit := "URI:LIT:nbswy3dpeb3w64tmmq"
	for _, arg := range []string{"notbase32!", "m7r4qvgbnxv5o6e6lblqj3bgl", lit, "URI:CHK:junk", "URI:NEWKIND:abc"} {
		_, _, err := debugRun(t, tahoeNow, "find-shares", arg, nodes[0])
		if _, ok := err.(*usageError); !ok {
			t.Errorf("%s: %v, want a usage error", arg, err)
			continue
		}
		if strings.Contains(err.Error(), arg) {
			t.Errorf("the error repeats the argument: %v", err)
		}
	}
	if _, _, err := debugRun(t, tahoeNow, "find-shares", si); err == nil {
		t.Error("no NODEDIR and no -d: no error")
	}
}
