package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/client"
	"github.com/lafs/lafs/internal/tahoevec"
	"github.com/lafs/lafs/internal/testgrid"
	"github.com/lafs/lafs/internal/vectors"
	"github.com/lafs/lafs/webapi"
)

// replaySteps says, for every CLI run recorded from Tahoe 1.20 in
// tahoe120_webapi.json (its "cli" section, 59 runs), what TestCLIReplay
// does around it. A run with no step, or a step with no run, fails the
// test: no recorded run goes unreplayed.
//
// Each run is replayed as recorded (same argv, "lafs" for "tahoe", the
// same stdin) against a node in the state Tahoe's was in, and lafs must
// print what Tahoe printed, on stdout and stderr, and exit with its code,
// once these values that a new grid cannot reproduce are mapped from
// Tahoe's to ours:
//
//   - the caps of mutable files and directories (their keys are random),
//     with their read-only and verify caps and storage indexes. CHK, LIT and
//     DIR2-CHK caps are convergent and must come out identical;
//   - the links' creation and change times, wherever they show: in
//     "ls -l" dates (UTC, as recorded), in the metadata of "ls --json", and
//     in the size of the directory holding them (the decimal form of a time
//     is not always as long), which "stats" shows;
//   - within a check result, the order of "servers-responding" and of the
//     "sharemap" entries (the order the servers answered in), which server
//     holds which share (Tahoe's immutable placement walks Python sets; a
//     mutable file's follows its storage index, which is new) and the root
//     hash that names a mutable version in the sharemap. The servers
//     themselves have Tahoe's ids.
//
// Runs whose output lafs changes on purpose say so in differs, with fix
// turning Tahoe's output into the one lafs must print.
var replaySteps = map[string]replayStep{
	"create_alias_golden": {
		before: (*replayer).setupFiles,
		learn: func(r *replayer, _ string) {
			aliases, err := readAliases(r.node.dir)
			if err != nil {
				r.t.Fatal(err)
			}
			r.learnCap("golden", r.rec.Caps["alias_golden"], aliases["golden"])
		},
	},
	"create_alias_golden_again": {},
	"list_aliases":              {},
	"list_aliases_json":         {},
	"list_aliases_readonly":     {},
	"put_file":                  {},
	"mkdir_sub":                 {learn: func(r *replayer, out string) { r.learnCap("sub", r.recordedListing("sub").RW, out) }},
	"ln_sdmf":                   {},
	"ln_mdmf":                   {},
	"ln_immdir":                 {},
	// The recording added the unknown child "future" through the web API
	// after ln_immdir (its link time comes next).
	"list_aliases_json_2": {before: func(r *replayer) { r.exchange("cli_setup_set_children_unknown") }},
	"put_chk_stdin":       {},
	"put_lit_stdin":       {},
	"put_unlinked_stdin":  {},
	"put_mutable_stdin": {learn: func(r *replayer, out string) {
		r.learnCap("put-mdmf.txt", r.recordedListing("put-mdmf.txt").RW, out)
	}},
	"ls":                    {before: (*replayer).learnLinkTimes},
	"ls_l":                  {},
	"ls_json":               {},
	"ls_l_json":             {},
	"ls_uri":                {},
	"ls_l_uri":              {},
	"ls_readonly_uri":       {},
	"ls_F":                  {},
	"ls_l_F":                {},
	"ls_sub_immdir":         {},
	"ls_file":               {},
	"ls_file_plain":         {},
	"ls_missing":            {},
	"ls_file_json":          {},
	"ls_bad_alias":          {},
	"check_raw_file":        {},
	"check_file":            {},
	"check_lit":             {},
	"check_raw_lit":         {},
	"check_raw_sdmf":        {},
	"check_sdmf":            {},
	"check_raw_dir":         {},
	"check_dir":             {},
	"check_verify_file":     {},
	"check_repair_file":     {},
	"check_raw_repair_file": {},
	"check_add_lease_file":  {},
	"check_missing": {
		differs: "Tahoe prints the Python repr of the node's HTML error page (b'\\n<html>...'); lafs prints the page's text",
		fix: func(string) string {
			return "ERROR: 404 Not Found\nError\nNo such child: no-such\n"
		},
	},
	"deep_check":          {},
	"deep_check_v":        {},
	"deep_check_raw":      {},
	"deep_check_repair":   {},
	"deep_check_repair_v": {},
	"deep_check_verify_v": {},
	"manifest":            {},
	"manifest_raw":        {},
	"manifest_si":         {},
	"manifest_verify_cap": {},
	"manifest_repair_cap": {},
	"stats":               {},
	"stats_raw":           {},
	"list_aliases_final":  {},
	"get_file":            {},
	"get_lit_file":        {},
}

// replayStep is what TestCLIReplay does around one recorded run.
type replayStep struct {
	// before sets up what the recording did before the run.
	before func(r *replayer)
	// learn maps the caps the run minted (Tahoe's, from the recording, to
	// ours, from what lafs printed or stored).
	learn func(r *replayer, stdout string)
	// differs says why lafs prints something else than Tahoe here, and
	// fix turns Tahoe's stderr (stdout when the run printed nothing on
	// stderr) into what lafs must print.
	differs string
	fix     func(tahoe string) string
}

// TestCLIReplay replays every recorded Tahoe 1.20 CLI run in order against
// a real web API and client (over an in-process grid of ten storage
// servers with the recording's server ids, and the recording client's
// convergence secret), after setting up what the recording set up through
// the web API (the SDMF and MDMF files and their changes, the immutable
// directory, the unknown child), and compares stdout, stderr and the exit
// code (see replaySteps).
func TestCLIReplay(t *testing.T) {
	rec := loadCLIRecording(t)
	r := &replayer{t: t, rec: rec, node: newReplayNode(t, rec)}
	if len(rec.CLI) != 59 {
		t.Errorf("%d recorded CLI runs, want 59", len(rec.CLI))
	}
	seen := map[string]bool{}
	for _, run := range rec.CLI {
		step, ok := replaySteps[run.Name]
		if !ok {
			t.Errorf("recorded run %s (%s) has no replay step", run.Name, strings.Join(run.Argv, " "))
			continue
		}
		seen[run.Name] = true
		if len(run.Argv) < 4 || run.Argv[0] != "tahoe" || run.Argv[1] != "-d" || run.Argv[2] != "$NODEDIR" {
			t.Fatalf("%s: unexpected argv %q", run.Name, run.Argv)
		}
		if step.before != nil {
			step.before(r)
		}
		args := []string{"-d", r.node.dir}
		for _, a := range run.Argv[3:] {
			args = append(args, strings.NewReplacer(r.pairs...).Replace(a))
		}
		out, errOut, code := runCmdEnv(t, env{tz: time.UTC}, r.stdin(run), args...)
		if step.learn != nil {
			step.learn(r, out)
		}
		wantOut, wantErr := r.expect(run.Stdout), r.expect(lafsText(run.Stderr))
		if step.fix != nil {
			t.Logf("%s: compared with lafs's output, not Tahoe's: %s", run.Name, step.differs)
			if run.Stderr != "" {
				wantErr = step.fix(run.Stderr)
			} else {
				wantOut = step.fix(run.Stdout)
			}
		}
		gotOut, gotErr := canonCheckJSON(out), canonCheckJSON(errOut)
		if code != run.ExitCode || gotOut != wantOut || gotErr != wantErr {
			why := ""
			if step.differs != "" {
				why = " (expected output adjusted: " + step.differs + ")"
			}
			t.Errorf("%s: lafs %s%s\n got exit %d, want %d\n%s%s",
				run.Name, strings.Join(run.Argv[3:], " "), why, code, run.ExitCode,
				replayDiff("stdout", gotOut, wantOut), replayDiff("stderr", gotErr, wantErr))
		}
	}
	for name := range replaySteps {
		if !seen[name] {
			t.Errorf("replay step %s: no such recorded run", name)
		}
	}
}

// cliRecording is what TestCLIReplay reads of tahoe120_webapi.json.
type cliRecording struct {
	Caps      map[string]string `json:"caps"`
	Inputs    map[string]string `json:"inputs"`
	Exchanges []struct {
		Name    string `json:"name"`
		Request struct {
			Method   string      `json:"method"`
			Path     string      `json:"path"`
			Headers  [][2]string `json:"headers"`
			BodyText *string     `json:"body_text"`
			BodyB64  *string     `json:"body_b64"`
		} `json:"request"`
		Response struct {
			Status   int    `json:"status"`
			BodyText string `json:"body_text"`
		} `json:"response"`
	} `json:"exchanges"`
	CLI []recordedRun `json:"cli"`
}

// recordedRun is one recorded run of Tahoe's CLI.
type recordedRun struct {
	Name        string   `json:"name"`
	Argv        []string `json:"argv"`
	ExitCode    int      `json:"exit_code"`
	Stdout      string   `json:"stdout"`
	Stderr      string   `json:"stderr"`
	StdinText   *string  `json:"stdin_text"`
	StdinSHA256 string   `json:"stdin_sha256"`
	StdinLength int      `json:"stdin_length"`
}

func loadCLIRecording(t *testing.T) *cliRecording {
	t.Helper()
	var rec cliRecording
	if err := json.Unmarshal(vectors.Read(t, "tahoe120_webapi.json"), &rec); err != nil {
		t.Fatalf("tahoe120_webapi.json: %v", err)
	}
	return &rec
}

// replayNode is the node the runs are replayed against.
type replayNode struct {
	base string // the web API, ending in "/"
	dir  string // a node directory whose node.url names it
}

// newReplayNode starts the web API and client of a node like the one that
// recorded: 3-of-10, happy 7, 1 MiB segments, the recording client's
// convergence secret (so CHK caps come out as Tahoe's), and ten storage
// servers with the ids (and so the permuted order) of the recording's.
func newReplayNode(t *testing.T, rec *cliRecording) *replayNode {
	ids := recordedServers(t, rec)
	g := testgrid.New(t, len(ids))
	for i, s := range g.Servers {
		s.ID = ids[i]
		// Tahoe's permutation-seed-base32 of a server with an Ed25519 key
		// is the base32 of the base32 text of its key: decoded, the text.
		s.PermutationSeed = []byte(strings.TrimPrefix(ids[i], "v0-"))
	}
	conv, err := lafs.ParseBase32(tahoevec.LoadGrid(t).ConvergenceB32)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(client.Config{
		Params:      lafs.Params{K: 3, Happy: 7, N: 10, SegmentSize: 1 << 20},
		Convergence: conv, LeaseSecret: []byte("CLI replay lease secret"),
		Peers: g, TempDir: t.TempDir(), MutableRetryDelay: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(webapi.New(c, nil, webapi.Options{TempDir: t.TempDir()}))
	t.Cleanup(srv.Close)
	n := &replayNode{base: srv.URL + "/"}
	n.dir = newNodeDir(t, n.base, nil)
	return n
}

// recordedServers are the ids of the recording's storage servers, as a
// check of the CHK file listed them.
func recordedServers(t *testing.T, rec *cliRecording) []string {
	for _, run := range rec.CLI {
		if run.Name != "check_raw_file" {
			continue
		}
		var res struct {
			Results struct {
				Servers []string `json:"servers-responding"`
			} `json:"results"`
		}
		if err := json.Unmarshal([]byte(run.Stdout), &res); err != nil || len(res.Results.Servers) != 10 {
			t.Fatalf("check_raw_file: %v %q", err, res.Results.Servers)
		}
		ids := slices.Clone(res.Results.Servers)
		slices.Sort(ids)
		return ids
	}
	t.Fatal("no recorded run check_raw_file")
	return nil
}

// replayer carries the state of a replay: what was learned of the
// recorded values and ours.
type replayer struct {
	t    *testing.T
	rec  *cliRecording
	node *replayNode

	pairs    []string          // recorded, ours; for strings.Replacer
	dates    map[string]string // child name -> our "ls -l" date of its link
	sizeDiff int               // our size of golden's directory - Tahoe's
}

// learnCap maps a recorded write or read cap, and what derives from it
// (read-only and verify caps, storage index), to ours.
func (r *replayer) learnCap(role, recorded, ours string) {
	r.t.Helper()
	ours = strings.TrimSpace(ours)
	rc, err1 := cap.Parse(recorded)
	oc, err2 := cap.Parse(ours)
	if err1 != nil || err2 != nil || cap.Kind(rc) != cap.Kind(oc) {
		r.t.Fatalf("%s: recorded cap %.30s... (%v) and ours %.30s... (%v) are not of one kind", role, recorded, err1, ours, err2)
	}
	for rc != nil && oc != nil {
		r.addPair(rc.String(), oc.String())
		if rsi, ok := cap.StorageIndex(rc); ok {
			osi, _ := cap.StorageIndex(oc)
			r.addPair(lafs.Base32(rsi[:]), lafs.Base32(osi[:]))
		}
		switch {
		case !rc.IsReadOnly():
			rc, oc = rc.ReadOnly(), oc.ReadOnly()
		case !cap.IsVerifier(rc):
			rc, oc = rc.Verifier(), oc.Verifier()
		default:
			rc, oc = nil, nil
		}
	}
}

// learnSame notes a cap that lafs must make exactly as Tahoe did (CHK,
// DIR2-CHK: convergent), and maps it if it did not, so that one
// difference is reported once.
func (r *replayer) learnSame(what, recorded, ours string) {
	r.t.Helper()
	ours = strings.TrimSpace(ours)
	if ours != recorded {
		r.t.Errorf("%s: lafs made %s, Tahoe made %s (convergent: they must be the same)", what, ours, recorded)
		r.learnCap(what, recorded, ours)
	}
}

func (r *replayer) addPair(recorded, ours string) {
	if recorded == ours {
		return
	}
	r.pairs = append(r.pairs, recorded, ours)
	// Caps in request paths are written with %3A for ':'.
	if strings.Contains(recorded, ":") {
		r.pairs = append(r.pairs, strings.ReplaceAll(recorded, ":", "%3A"), strings.ReplaceAll(ours, ":", "%3A"))
	}
}

// setupFiles makes what the recording made through the web API before
// its CLI runs, and which those runs see: the CHK file, the SDMF and MDMF
// files with the same changes (their seqnums show in check results), and
// the immutable directory.
func (r *replayer) setupFiles() {
	r.learnSame("PUT /uri (the CHK file)", r.rec.Caps["chk"], r.exchange("put_uri_chk"))
	r.learnCap("sdmf", r.rec.Caps["sdmf"], r.exchange("put_uri_sdmf"))
	r.learnCap("mdmf", r.rec.Caps["mdmf"], r.exchange("put_uri_mdmf"))
	for _, name := range []string{"put_sdmf_overwrite", "put_sdmf_offset", "put_mdmf_offset", "put_mdmf_offset_at_end", "post_sdmf_upload", "post_mdmf_upload"} {
		r.exchange(name)
	}
	r.learnSame("mkdir-immutable", r.rec.Caps["dir_immutable"], r.exchange("post_mkdir_immutable"))
}

// exchange makes a recorded web API request (caps mapped to ours) and
// returns the answer, which must have the recorded status.
func (r *replayer) exchange(name string) string {
	r.t.Helper()
	for _, x := range r.rec.Exchanges {
		if x.Name != name {
			continue
		}
		var body []byte
		switch {
		case x.Request.BodyText != nil:
			body = []byte(*x.Request.BodyText)
		case x.Request.BodyB64 != nil:
			var err error
			if body, err = base64.StdEncoding.DecodeString(*x.Request.BodyB64); err != nil {
				r.t.Fatalf("%s: %v", name, err)
			}
		}
		path := strings.NewReplacer(r.pairs...).Replace(strings.TrimPrefix(x.Request.Path, "/"))
		req, err := http.NewRequest(x.Request.Method, r.node.base+path, bytes.NewReader(body))
		if err != nil {
			r.t.Fatalf("%s: %v", name, err)
		}
		for _, h := range x.Request.Headers {
			if !strings.EqualFold(h[0], "Content-Length") {
				req.Header.Set(h[0], h[1])
			}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			r.t.Fatalf("%s: %v", name, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != x.Response.Status {
			r.t.Fatalf("%s (%s %s): %s, Tahoe answered %d\n%s", name, x.Request.Method, x.Request.Path, resp.Status, x.Response.Status, b)
		}
		return string(b)
	}
	r.t.Fatalf("no recorded exchange %s", name)
	return ""
}

// stdin is what the recording fed a run: its text, or the input of the
// recorded length and SHA-256.
func (r *replayer) stdin(run recordedRun) []byte {
	r.t.Helper()
	if run.StdinSHA256 == "" {
		return nil
	}
	candidates := [][]byte{}
	if run.StdinText != nil {
		candidates = append(candidates, []byte(*run.StdinText))
	}
	for k, v := range r.rec.Inputs {
		if b, err := base64.StdEncoding.DecodeString(v); err == nil && strings.HasSuffix(k, "_b64") {
			candidates = append(candidates, b)
		} else {
			candidates = append(candidates, []byte(v))
		}
	}
	for _, b := range candidates {
		if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) == run.StdinSHA256 && len(b) == run.StdinLength {
			return b
		}
	}
	r.t.Fatalf("%s: no recorded input has the SHA-256 of its stdin", run.Name)
	return nil
}

// replayChild is a directory entry of a t=json listing.
type replayChild struct {
	RW, RO         string
	CrTime, MoTime json.Number // as written
}

// parseListing reads the children of a directory's t=json, times as
// written.
func parseListing(t *testing.T, body string) map[string]replayChild {
	t.Helper()
	var top [2]json.RawMessage
	dec := json.NewDecoder(strings.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&top); err != nil {
		t.Fatalf("t=json: %v\n%s", err, body)
	}
	var dir struct {
		Children map[string][2]json.RawMessage `json:"children"`
	}
	if err := json.Unmarshal(top[1], &dir); err != nil {
		t.Fatal(err)
	}
	out := map[string]replayChild{}
	for name, c := range dir.Children {
		var info struct {
			RW       string `json:"rw_uri"`
			RO       string `json:"ro_uri"`
			Metadata struct {
				Tahoe struct {
					CrTime json.Number `json:"linkcrtime"`
					MoTime json.Number `json:"linkmotime"`
				} `json:"tahoe"`
			} `json:"metadata"`
		}
		d := json.NewDecoder(bytes.NewReader(c[1]))
		d.UseNumber()
		if err := d.Decode(&info); err != nil {
			t.Fatal(err)
		}
		out[name] = replayChild{RW: info.RW, RO: info.RO, CrTime: info.Metadata.Tahoe.CrTime, MoTime: info.Metadata.Tahoe.MoTime}
	}
	return out
}

// recordedListing is the entry of golden's child name in Tahoe's
// "ls --json golden:".
func (r *replayer) recordedListing(name string) replayChild {
	r.t.Helper()
	for _, run := range r.rec.CLI {
		if run.Name == "ls_json" {
			c, ok := parseListing(r.t, run.Stdout)[name]
			if !ok {
				r.t.Fatalf("Tahoe's golden has no child %s", name)
			}
			return c
		}
	}
	r.t.Fatal("no recorded run ls_json")
	return replayChild{}
}

// learnLinkTimes maps the link times of golden's children in Tahoe's
// listing to those in ours (read from the web API), with the dates
// "ls -l" shows and the size our directory has for its different times.
func (r *replayer) learnLinkTimes() {
	r.t.Helper()
	var theirs map[string]replayChild
	for _, run := range r.rec.CLI {
		if run.Name == "ls_json" {
			theirs = parseListing(r.t, run.Stdout)
		}
	}
	aliases, err := readAliases(r.node.dir)
	if err != nil {
		r.t.Fatal(err)
	}
	resp, err := http.Get(r.node.base + "uri/" + strings.ReplaceAll(aliases["golden"], ":", "%3A") + "?t=json")
	if err != nil {
		r.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	ours := parseListing(r.t, string(body))
	if len(ours) != len(theirs) {
		r.t.Errorf("golden has %d children, Tahoe's had %d", len(ours), len(theirs))
	}
	r.dates = map[string]string{}
	for name, c := range theirs {
		o, ok := ours[name]
		if !ok {
			r.t.Errorf("golden has no child %s", name)
			continue
		}
		for _, p := range [][2]json.Number{{c.CrTime, o.CrTime}, {c.MoTime, o.MoTime}} {
			r.sizeDiff += len(p[1]) - len(p[0])
			r.addPair(p[0].String(), p[1].String())
		}
		f, err := strconv.ParseFloat(o.CrTime.String(), 64)
		if err != nil {
			r.t.Fatalf("%s: linkcrtime %q", name, o.CrTime)
		}
		r.dates[name] = time.Unix(int64(f), 0).UTC().Format("Jan 02 15:04")
	}
}

var (
	lsDateLine  = regexp.MustCompile(`(?m)^(.*? )((?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d\d \d\d:\d\d)( +)([^ \n]+)`)
	dirSizeJSON = regexp.MustCompile(`("(?:size-directories|largest-directory)": )(\d+)`)
	dirSizeText = regexp.MustCompile(`(?m)^( *(?:size-directories|largest-directory): )(\d+)(    \(.*\))?$`)
)

// expect turns what Tahoe printed into what lafs must print here: our
// caps, link times and dates, and directory sizes, the order of check
// results made canonical.
func (r *replayer) expect(s string) string {
	s = strings.NewReplacer(r.pairs...).Replace(s)
	if r.dates != nil {
		s = lsDateLine.ReplaceAllStringFunc(s, func(line string) string {
			m := lsDateLine.FindStringSubmatch(line)
			date, ok := r.dates[m[4]]
			if !ok {
				date, ok = r.dates[strings.TrimRight(m[4], "/*?")]
			}
			if !ok {
				return line
			}
			return m[1] + date + m[3] + m[4]
		})
	}
	if r.sizeDiff != 0 {
		resize := func(n string) int {
			v, _ := strconv.Atoi(n)
			return v + r.sizeDiff
		}
		s = dirSizeJSON.ReplaceAllStringFunc(s, func(m string) string {
			p := dirSizeJSON.FindStringSubmatch(m)
			return p[1] + strconv.Itoa(resize(p[2]))
		})
		s = dirSizeText.ReplaceAllStringFunc(s, func(m string) string {
			p := dirSizeText.FindStringSubmatch(m)
			v := resize(p[2])
			out := p[1] + strconv.Itoa(v)
			if v >= 1000 {
				out += "    (" + tahoeSpace(v, true) + ", " + tahoeSpace(v, false) + ")"
			}
			return out
		})
	}
	return canonCheckJSON(s)
}

// tahoeSpace is Tahoe's abbreviate_space.
func tahoeSpace(s int, si bool) string {
	u, suffix := 1000.0, "B"
	if !si {
		u, suffix = 1024.0, "iB"
	}
	if s < 1024 {
		return fmt.Sprintf("%d B", s)
	}
	v := float64(s)
	for _, p := range []string{"k", "M", "G", "T", "P"} {
		v /= u
		if v < u || p == "P" {
			return fmt.Sprintf("%.2f %s%s", v, p, suffix)
		}
	}
	return ""
}

var (
	serversResponding = regexp.MustCompile(`"servers-responding": \[([^\]]*)\]`)
	sharemapStart     = regexp.MustCompile(`"sharemap": \{`)
	sharemapServer    = regexp.MustCompile(`"v0-[a-z2-7]+"`)
	sharemapVersion   = regexp.MustCompile(`"seq(\d+)-[a-z2-7]{4}-sh(\d+)"`)
)

// canonCheckJSON makes the check results in s (indented, as check --raw
// prints them, or on one line, as deep-check --raw does) comparable:
// "servers-responding" sorted, and the "sharemap" entries sorted, their
// servers and the mutable versions' root hashes left out.
func canonCheckJSON(s string) string {
	s = serversResponding.ReplaceAllStringFunc(s, func(m string) string {
		inner := serversResponding.FindStringSubmatch(m)[1]
		return `"servers-responding": [` + sortItems(inner, nil) + `]`
	})
	var b strings.Builder
	for {
		loc := sharemapStart.FindStringIndex(s)
		if loc == nil {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:loc[1]])
		s = s[loc[1]:]
		end := closing(s)
		b.WriteString(sortItems(s[:end], func(item string) string {
			item = sharemapServer.ReplaceAllString(item, `"SERVER"`)
			return sharemapVersion.ReplaceAllString(item, `"seq$1-ROOT-sh$2"`)
		}))
		s = s[end:]
	}
}

// closing returns the index in s of the '}' or ']' that closes what was
// opened just before s.
func closing(s string) int {
	depth := 0
	for i, c := range s {
		switch c {
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return i
			}
			depth--
		}
	}
	return len(s)
}

// sortItems sorts the comma-separated items of a JSON array's or object's
// inside (whatever the layout), each first changed by f, keeping the white
// space around and between them.
func sortItems(inner string, f func(string) string) string {
	if strings.TrimSpace(inner) == "" {
		return inner
	}
	var items []string
	depth, start := 0, 0
	for i, c := range inner {
		switch c {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		case ',':
			if depth == 0 {
				items = append(items, inner[start:i])
				start = i + 1
			}
		}
	}
	items = append(items, inner[start:])
	lead := inner[:len(inner)-len(strings.TrimLeft(inner, " \n"))]
	trail := inner[len(strings.TrimRight(inner, " \n")):]
	sep := ","
	if len(items) > 1 {
		sep += items[1][:len(items[1])-len(strings.TrimLeft(items[1], " \n"))]
	}
	for i, it := range items {
		it = strings.TrimSpace(it)
		if f != nil {
			it = f(it)
		}
		items[i] = it
	}
	slices.Sort(items)
	return lead + strings.Join(items, sep) + trail
}

// replayDiff shows where got and want first differ, or nothing.
func replayDiff(what, got, want string) string {
	if got == want {
		return ""
	}
	g, w := strings.SplitAfter(got, "\n"), strings.SplitAfter(want, "\n")
	i := 0
	for i < len(g) && i < len(w) && g[i] == w[i] {
		i++
	}
	line := func(l []string) string {
		if i < len(l) {
			return strconv.Quote(l[i])
		}
		return "(end)"
	}
	const max = 4000
	clip := func(s string) string {
		if len(s) > max {
			return s[:max] + "..."
		}
		return s
	}
	return fmt.Sprintf(" %s differs at line %d:\n  got  %s\n  want %s\n --- got %s:\n%s\n --- want %s:\n%s\n",
		what, i+1, line(g), line(w), what, clip(got), what, clip(want))
}
