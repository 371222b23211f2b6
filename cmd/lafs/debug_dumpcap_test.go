package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/internal/vectors"
)

func dumpCapRun(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var o, e bytes.Buffer
	err = runDebugDumpCap(context.Background(), &env{stdout: &o, stderr: &e, getenv: func(string) string { return "" }}, args)
	return o.String(), e.String(), err
}

// derivedLines are the lines dump-cap adds after Tahoe's text.
func derivedLines(t *testing.T, s string) string {
	c, err := cap.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	out := ""
	if !cap.IsVerifier(c) {
		out += " read cap: " + c.ReadOnly().String() + "\n"
	}
	if v := c.Verifier(); v != nil {
		out += " verify cap: " + v.String() + "\n"
	}
	return out
}

// TestDumpCapTahoeGrid reproduces Tahoe 1.20's own dump-cap output for the
// eight caps of the recorded grid, byte for byte, followed by our read and
// verify cap lines; the same through a web API URL.
func TestDumpCapTahoeGrid(t *testing.T) {
	var grid struct {
		Objects []struct {
			Kind        string `json:"kind"`
			Cap         string `json:"cap"`
			ReadonlyCap string `json:"readonly_cap"`
			DumpCap     string `json:"dump_cap"`
		} `json:"objects"`
	}
	if err := json.Unmarshal(vectors.Read(t, "tahoe120_grid.json"), &grid); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, o := range grid.Objects {
		if o.DumpCap == "" {
			continue
		}
		n++
		c, _ := cap.Parse(o.Cap)
		wantExtra := " read cap: " + o.ReadonlyCap + "\n"
		if v := c.Verifier(); v != nil {
			wantExtra += " verify cap: " + v.String() + "\n"
		}
		for _, arg := range []string{
			o.Cap,
			"http://127.0.0.1:3456/uri/" + url.PathEscape(o.Cap),
			"http://127.0.0.1:3456/uri/" + o.Cap + "/sub%20dir/file?t=json#x",
		} {
			out, _, err := dumpCapRun(t, arg)
			if err != nil {
				t.Errorf("%s: %v", arg, err)
				continue
			}
			tahoe, extra, ok := strings.Cut(out, o.DumpCap)
			if !ok || tahoe != "" {
				t.Errorf("%s: output\n%q\ndoes not start with Tahoe's\n%q", arg, out, o.DumpCap)
				continue
			}
			if extra != wantExtra {
				t.Errorf("%s: extra lines %q, want %q", arg, extra, wantExtra)
			}
		}
	}
	if n != 8 {
		t.Errorf("%d dump_cap vectors, want 8", n)
	}
}

// TestDumpCapKinds covers the kinds the grid has no dump for, laid out as
// Tahoe's dump_uri_instance lays them out.
func TestDumpCapKinds(t *testing.T) {
	const (
		k16 = "tpryif5wuwqtijcyksurx4styi"
		h32 = "5kv4xhrrmun3aant3wu2omziejnzfv3xyptnxlys64bhao6vm4cq"
		si  = "m7r4qvgbnxv5o6e6lblqj3bglm" // of k16 as a CHK key
		wk  = "ycajgl223yqq5jach2tufqop7e" // the grid's SDMF file
		rk  = "zmxhq4h5zzqyokowa5url7atza"
		msi = "f6w2ksnfa5dmmkwzkart2j2yhu"
		fp  = "hjeqjsfvyffomowehx2jonjkxrmltczcpc7qlcvhp7jhj6ohs6wa"
	)
	tests := []struct{ cap, tahoe string }{
		{"URI:CHK-Verifier:" + si + ":" + h32 + ":3:10:70000",
			"\nCHK Verifier URI:\n UEB hash: " + h32 + "\n size: 70000\n k/N: 3/10\n storage index: " + si + "\n"},
		{"URI:DIR2-CHK-Verifier:" + si + ":" + h32 + ":3:10:70000",
			"\nCHK Directory Verifier URI:\n UEB hash: " + h32 + "\n size: 70000\n k/N: 3/10\n storage index: " + si + "\n"},
		{"imm.URI:CHK:" + k16 + ":" + h32 + ":03:10:70000",
			"\nCHK File:\n key: " + k16 + "\n UEB hash: " + h32 + "\n size: 70000\n k/N: 3/10\n storage index: " + si + "\n"},
		{"URI:SSK-RO:" + rk + ":" + fp,
			"\nSDMF Read-only URI:\n readkey: " + rk + "\n storage index: " + msi + "\n fingerprint: " + fp + "\n"},
		{"URI:SSK-Verifier:" + msi + ":" + fp,
			"\nSDMF Verifier URI:\n storage index: " + msi + "\n fingerprint: " + fp + "\n"},
		{"URI:MDMF:" + wk + ":" + fp + ":3:131073",
			"\nMDMF Writeable URI:\n writekey: " + wk + "\n readkey: " + rk + "\n storage index: " + msi + "\n fingerprint: " + fp + "\n\n"},
		{"URI:MDMF-RO:" + rk + ":" + fp,
			"\nMDMF Read-only URI:\n readkey: " + rk + "\n storage index: " + msi + "\n fingerprint: " + fp + "\n"},
		{"URI:MDMF-Verifier:" + msi + ":" + fp,
			"\nMDMF Verifier URI:\n storage index: " + msi + "\n fingerprint: " + fp + "\n"},
		{"ro.URI:DIR2-RO:" + rk + ":" + fp,
			"\nDirectory Read-only URI:\n readkey: " + rk + "\n storage index: " + msi + "\n fingerprint: " + fp + "\n"},
		{"URI:DIR2-Verifier:" + msi + ":" + fp,
			"\nDirectory Verifier URI:\n storage index: " + msi + "\n fingerprint: " + fp + "\n"},
		{"URI:DIR2-MDMF-RO:" + rk + ":" + fp,
			"\nDirectory Read-only URI:\n readkey: " + rk + "\n storage index: " + msi + "\n fingerprint: " + fp + "\n"},
		{"URI:DIR2-MDMF-Verifier:" + msi + ":" + fp,
			"\nDirectory Verifier URI:\n storage index: " + msi + "\n fingerprint: " + fp + "\n"},
		{"URI:LIT:", "\nLiteral File URI:\n data: ''\n"},
		// Tahoe's dump code has no case for literal directories.
		{"URI:DIR2-LIT:nbswy3dp", "\nunknown cap type\n"},
	}
	for _, tt := range tests {
		out, _, err := dumpCapRun(t, tt.cap)
		if err != nil {
			t.Errorf("%s: %v", tt.cap, err)
			continue
		}
		if want := tt.tahoe + derivedLines(t, tt.cap); out != want {
			t.Errorf("%s:\n got %q\nwant %q", tt.cap, out, want)
		}
	}

	// Unknown kinds print Tahoe's line and nothing more.
	for _, s := range []string{"URI:NEW:x", "ro.URI:NEW:x", "lafs://future"} {
		out, _, err := dumpCapRun(t, s)
		if err != nil || out != "\nunknown cap type\n" {
			t.Errorf("%s: %q, %v", s, out, err)
		}
	}
}

// TestDumpCapSecrets checks the lease secrets and write enabler against
// values computed independently (Python hashlib, following Tahoe's
// hashutil) for the grid's client secret and the node id bytes 0..19.
func TestDumpCapSecrets(t *testing.T) {
	const (
		secret = "poxpa5pf445b4c3q76cgv2p36nfth63aeuwipsdhwehroiupnora"
		nodeID = "aaaqeayeaudaocajbifqydiob4ibceqt"
		chk    = "URI:CHK:tpryif5wuwqtijcyksurx4styi:5kv4xhrrmun3aant3wu2omziejnzfv3xyptnxlys64bhao6vm4cq:3:10:70000"
		ssk    = "URI:SSK:ycajgl223yqq5jach2tufqop7e:hjeqjsfvyffomowehx2jonjkxrmltczcpc7qlcvhp7jhj6ohs6wa"
	)
	chkTahoe := "\nCHK File:\n key: tpryif5wuwqtijcyksurx4styi\n UEB hash: 5kv4xhrrmun3aant3wu2omziejnzfv3xyptnxlys64bhao6vm4cq\n" +
		" size: 70000\n k/N: 3/10\n storage index: m7r4qvgbnxv5o6e6lblqj3bglm\n"
	chkLease := " client renewal secret: guhdcu4taxerk4h6xoqxkzahrmqifjw7plfior3ndyrakbevj4kq\n" +
		" file renewal secret: 466pq5wvvfu7qmm2aagh35wn3hcslrkpaeh36u5paesb3wpzdoyq\n" +
		" lease renewal secret: e2sxebpv3zqiemb4wt3aq6jfes3y6luw4nopuijbozzrbrmhxboq\n" +
		" client cancel secret: s7u7msh532q3rp64ytrpl4jeq7qvidpzrtyrk4qt3ijebyxli65q\n" +
		" file cancel secret: i5mtohowtyvv6kqhbi2fvrjwypcrhlfiknmhcykmny3ofubqkzmq\n" +
		" lease cancel secret: 4knbzpbwoyh2a2tzobze3cerclwkpcwvedcux7dywv7qrzouz5cq\n"
	sskTahoe := "\nSDMF Writeable URI:\n writekey: ycajgl223yqq5jach2tufqop7e\n readkey: zmxhq4h5zzqyokowa5url7atza\n" +
		" storage index: f6w2ksnfa5dmmkwzkart2j2yhu\n fingerprint: hjeqjsfvyffomowehx2jonjkxrmltczcpc7qlcvhp7jhj6ohs6wa\n\n"
	sskWE := " write_enabler: 6y4muy7bmglz5bgjsww2wxaeov2hwa4dxtgc3iu54rv6bx25ovua\n\n"
	sskLease := " client renewal secret: guhdcu4taxerk4h6xoqxkzahrmqifjw7plfior3ndyrakbevj4kq\n" +
		" file renewal secret: aq6m2zktmr5n7rprxcrwc5yk6iysvmp7sdvgj4ko3te3sgmcwmia\n" +
		" lease renewal secret: pcgbn2ulfkf6knhfhxgnfpvk6tcptcd4o33vfbicnupvsymyk7vq\n" +
		" client cancel secret: s7u7msh532q3rp64ytrpl4jeq7qvidpzrtyrk4qt3ijebyxli65q\n" +
		" file cancel secret: dmeqnbwnjs5pfy2d3twbpikj2vgt4n5ojajkwgmilaavur2tt7zq\n" +
		" lease cancel secret: ebuecammjpbrfob7pm35pps2wex5fonpzzbwyp2q5jje3fltknra\n"
	noNode := func(s string) string { // the lines printed only with --nodeid
		var keep []string
		for _, l := range strings.SplitAfter(s, "\n") {
			if !strings.HasPrefix(l, " lease ") {
				keep = append(keep, l)
			}
		}
		return strings.Join(keep, "")
	}

	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "private"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "private", "secret"), []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--client-secret", secret, "--nodeid", nodeID, chk}, chkTahoe + chkLease},
		{[]string{"-c", secret, "-n", strings.ToUpper(nodeID), chk}, chkTahoe + chkLease},
		{[]string{"--client-secret=" + secret, chk}, chkTahoe + noNode(chkLease)},
		{[]string{"--client-dir", dir, "--nodeid", nodeID, chk}, chkTahoe + chkLease},
		{[]string{"-d", dir, "--client-secret", secret, chk}, chkTahoe + noNode(chkLease)},
		{[]string{"--nodeid", nodeID, chk}, chkTahoe},
		{[]string{"--client-secret", secret, "--nodeid", nodeID, ssk}, sskTahoe + sskWE + sskLease},
		{[]string{"--nodeid", nodeID, ssk}, sskTahoe + sskWE},
		{[]string{"--client-secret", secret, ssk}, sskTahoe + noNode(sskLease)},
		{[]string{"--client-secret", secret, "--nodeid", nodeID, "URI:DIR2:ycajgl223yqq5jach2tufqop7e:hjeqjsfvyffomowehx2jonjkxrmltczcpc7qlcvhp7jhj6ohs6wa"},
			"\nDirectory Writeable URI:" + strings.TrimPrefix(sskTahoe, "\nSDMF Writeable URI:") + sskWE + sskLease},
	}
	for _, tt := range tests {
		out, _, err := dumpCapRun(t, tt.args...)
		if err != nil {
			t.Errorf("%q: %v", tt.args, err)
			continue
		}
		if want := tt.want + derivedLines(t, tt.args[len(tt.args)-1]); out != want {
			t.Errorf("%q:\n got %q\nwant %q", tt.args, out, want)
		}
	}

	// A client dir without a secret: Tahoe goes on without; we warn.
	out, stderr, err := dumpCapRun(t, "--client-dir", filepath.Join(dir, "nope"), chk)
	if err != nil || out != chkTahoe+derivedLines(t, chk) || !strings.Contains(stderr, "no lease secret") {
		t.Errorf("missing client dir: %q, %q, %v", out, stderr, err)
	}
}

// TestQuoteOutput compares with what Tahoe's quote_output printed for the
// same bytes (Python 3, UTF-8 stdout).
func TestQuoteOutput(t *testing.T) {
	tests := []struct{ hex, want string }{
		{"", `''`},
		{"74696e79206c69746572616c2066696c65", `'tiny literal file'`},
		{"69742773", `"it's"`},
		{"7361792022686922", `'say "hi"'`},
		{"24484f4d45", `'$HOME'`},
		{"6261636b607469636b60", "'back`tick`'"},
		{"6261636b5c736c617368", `'back\slash'`},
		{"6c696e650a627265616b", `"line\x0abreak"`},
		{"7461620968657265", `"tab\x09here"`},
		{"00017f", `"\x00\x01\x7f"`},
		{"636166c3a9", "'caf\u00e9'"},
		{"e298ba20736d696c65", "'\u263a smile'"},
		{"656d6f6a6920f09f9880", `"emoji \U0001f600"`},
		{"63746c20c2852078", `"ctl \x85 x"`},
		{"c2a06e627370", "'\u00a0nbsp'"},
		{"6e6f6e6368617220efb79020efbfbe20efbfbd", `"nonchar \ufdd0 \ufffe \ufffd"`},
		{"fffe206279746573", `b"\xff\xfe bytes"`},
		{"c3282062616420757466382027202220242060205c200a", `b"\xc3( bad utf8 ' \" \$ \` + "`" + ` \\ \x0a"`},
		{"6974277320636166c3a920227122", "\"it's caf\u00e9 \\\"q\\\"\""},
		{"252321", `'%#!'`},
		{"7b6272616365737d7c7e", `'{braces}|~'`},
		{"5e5f5b5d", `'^_[]'`},
	}
	for _, tt := range tests {
		b, err := hex.DecodeString(tt.hex)
		if err != nil {
			t.Fatal(err)
		}
		if got := quoteOutput(b); got != tt.want {
			t.Errorf("quoteOutput(%q) = %s, want %s", b, got, tt.want)
		}
	}
	out, _, err := dumpCapRun(t, "URI:LIT:nf2co4y") // "it's"
	if err != nil || !strings.HasPrefix(out, "\nLiteral File URI:\n data: \"it's\"\n") {
		t.Errorf("LIT: %q, %v", out, err)
	}
}

func TestDumpCapErrors(t *testing.T) {
	const chk = "URI:CHK:tpryif5wuwqtijcyksurx4styi:5kv4xhrrmun3aant3wu2omziejnzfv3xyptnxlys64bhao6vm4cq:3:10:70000"
	var ue *usageError
	for _, args := range [][]string{nil, {chk, chk}, {"--bogus", chk}, {"--nodeid"}} {
		if _, _, err := dumpCapRun(t, args...); !errors.As(err, &ue) {
			t.Errorf("%q: %v, want a usage error", args, err)
		}
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"URI:CHK:tpryif5wuwqtijcyksurx4styi:5kv4xhrrmun3aant3wu2omziejnzfv3xyptnxlys64bhao6vm4cq:0:10:1"}, "k (needed shares) is 0"},
		{[]string{"URI:SSK:TPRYIF5WUWQTIJCYKSURX4STYI:5kv4xhrrmun3aant3wu2omziejnzfv3xyptnxlys64bhao6vm4cq"}, "write key: invalid base32"},
		{[]string{"ro.URI:SSK:tpryif5wuwqtijcyksurx4styi:5kv4xhrrmun3aant3wu2omziejnzfv3xyptnxlys64bhao6vm4cq"}, "read-only"},
		{[]string{"http://127.0.0.1:3456/file/" + chk}, "must start with /uri/"},
		{[]string{"http://127.0.0.1:3456/uri/URI%3ACHK%3Axyz"}, "URI:CHK:"},
		{[]string{"http://127.0.0.1:3456/uri/URI%zz"}, "cap URL"},
		{[]string{"--nodeid", "abc", chk}, "--nodeid"},
		{[]string{"--client-secret", "ABC", chk}, "--client-secret"},
	} {
		out, _, err := dumpCapRun(t, tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) || out != "" {
			t.Errorf("%q: %q, %v; want an error saying %q", tt.args, out, err, tt.want)
		}
	}
	if _, _, err := dumpCapRun(t, "URI:CHK:x"); !errors.Is(err, cap.ErrInvalid) {
		t.Errorf("bad cap: %v does not wrap cap.ErrInvalid", err)
	}
	out, _, err := dumpCapRun(t, "--help")
	var x *exitError
	if !errors.As(err, &x) || x.code != 0 || !strings.Contains(out, "usage: lafs debug dump-cap") {
		t.Errorf("--help: %q, %v", out, err)
	}
}
