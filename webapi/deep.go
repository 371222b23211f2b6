package webapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/client"
	"github.com/lafs/lafs/dirnode"
	"github.com/lafs/lafs/pyjson"
)

// The deep traversals of a directory (Tahoe's directory.py): the slow
// operations started with an ophandle= (t=start-deep-check,
// t=start-manifest, t=start-deep-size, t=start-deep-stats) and their
// status pages (web/check_results.py, ManifestResults, DeepSizeResults,
// DeepStatsResults), and the streaming ones (t=stream-manifest,
// t=stream-deep-check). The walks are client.Walk and client.DeepCheck.

// deepState is what a deep operation has found so far.
type deepState struct {
	origin string // base32 storage index of the root, "" when it has none
	stats  client.DeepStats
	// The manifest (t=start-manifest): every node's path and cap, and the
	// distinct verify caps and storage indexes, in the order met.
	manifest   []manifestItem
	verifyCaps []string
	sis        []string
	seen       map[string]bool
	// The deep check (t=start-deep-check).
	check *deepCheckState
}

type manifestItem struct {
	path []string
	cap  cap.Cap // nil for an unknown node without caps
}

// addManifest notes one node of a manifest.
func (s *deepState) addManifest(e *client.WalkEntry) {
	s.stats.Add(e)
	s.manifest = append(s.manifest, manifestItem{e.Path, e.Cap})
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	if si, ok := e.StorageIndex(); ok && !s.seen["si:"+si.String()] {
		s.seen["si:"+si.String()] = true
		s.sis = append(s.sis, si.String())
	}
	if v := e.VerifyCap(); v != nil && !s.seen["v:"+v.String()] {
		s.seen["v:"+v.String()] = true
		s.verifyCaps = append(s.verifyCaps, v.String())
	}
}

// deepCheckState is Tahoe's DeepCheckResults and
// DeepCheckAndRepairResults: counters, and every result in the order met.
type deepCheckState struct {
	repair bool
	rootSI string
	// The counters; pre-repair ones are also those of a plain check.
	checked, healthy, unhealthy, unrecoverable         int
	healthyPost, unhealthyPost, unrecoverablePost      int
	repairsAttempted, repairsSuccessful, repairsFailed int
	corrupt, corruptPost                               []lafs.ShareLocation
	results                                            []deepResult
	bySI                                               map[lafs.StorageIndex]int
	finalStats                                         *client.DeepStats // set when finished
}

// deepResult is the check of one node.
type deepResult struct {
	path   []string
	check  *lafs.CheckResult  // a plain check
	repair *lafs.RepairResult // a check and repair
}

func (r *deepResult) pre() *lafs.CheckResult {
	if r.repair != nil {
		return r.repair.PreRepair
	}
	return r.check
}

func (r *deepResult) post() *lafs.CheckResult {
	if r.repair != nil && r.repair.PostRepair != nil {
		return r.repair.PostRepair
	}
	return r.pre()
}

// add counts one node's check. Nodes without shares (LIT files, unknown
// nodes) are not counted, as in Tahoe.
func (s *deepCheckState) add(e *client.DeepCheckEntry) {
	r := deepResult{path: e.Path, check: e.Check, repair: e.Repair}
	pre := r.pre()
	if pre == nil {
		return
	}
	post := r.post()
	s.checked++
	if pre.Healthy {
		s.healthy++
	} else {
		s.unhealthy++
	}
	if !pre.Recoverable {
		s.unrecoverable++
	}
	s.corrupt = append(s.corrupt, pre.Corrupt...)
	if s.repair {
		if e.Repair.Attempted {
			s.repairsAttempted++
			if e.Repair.Successful {
				s.repairsSuccessful++
			} else {
				s.repairsFailed++
			}
		}
		if post.Healthy {
			s.healthyPost++
		} else {
			s.unhealthyPost++
		}
		if !post.Recoverable {
			s.unrecoverablePost++
		}
		s.corruptPost = append(s.corruptPost, post.Corrupt...)
	}
	if s.bySI == nil {
		s.bySI = map[lafs.StorageIndex]int{}
	}
	s.bySI[pre.StorageIndex] = len(s.results)
	s.results = append(s.results, r)
}

// startOperation is POST t=start-deep-check (verify=, repair=,
// add-lease=), t=start-manifest, t=start-deep-size or t=start-deep-stats
// on a directory: the operation starts in the background under
// ophandle=, and the answer redirects to its status page,
// /operations/HANDLE (with output= as given), or to when_done=.
func (h *handler) startOperation(w http.ResponseWriter, q *request, dn *dirNode, t string) error {
	handle := q.argOr("ophandle", "")
	if handle == "" {
		return badRequest("slow operation requires ophandle=")
	}
	var opt lafs.CheckOptions
	if t == "start-deep-check" {
		var err error
		if opt, err = checkOptions(q); err != nil {
			return err
		}
	}
	retainFor, err := retainForArg(q)
	if err != nil {
		return err
	}
	st := &deepState{}
	if si, ok := cap.StorageIndex(dn.cap); ok {
		st.origin = si.String()
	}
	op := &operation{deepState: st}
	root := dn.cap
	var run func(ctx context.Context) error
	switch t {
	case "start-deep-check":
		op.kind = opDeepCheck
		st.check = &deepCheckState{repair: opt.Repair, rootSI: st.origin}
		if st.origin == "" {
			st.check.rootSI = "<none>"
		}
		run = func(ctx context.Context) error {
			err := h.c.DeepCheck(ctx, root, opt, func(e *client.DeepCheckEntry) error {
				op.mu.Lock()
				defer op.mu.Unlock()
				st.check.add(e)
				st.stats.Add(e.WalkEntry)
				return nil
			})
			if err == nil {
				op.mu.Lock()
				st.check.finalStats = st.stats.Clone()
				op.mu.Unlock()
			}
			return err
		}
	case "start-manifest":
		op.kind = opManifest
		run = func(ctx context.Context) error {
			return h.c.Walk(ctx, root, func(e *client.WalkEntry) error {
				op.mu.Lock()
				defer op.mu.Unlock()
				st.addManifest(e)
				return nil
			})
		}
	default:
		op.kind = opDeepSize
		if t == "start-deep-stats" {
			op.kind = opDeepStats
		}
		run = func(ctx context.Context) error {
			return h.c.Walk(ctx, root, func(e *client.WalkEntry) error {
				op.mu.Lock()
				defer op.mu.Unlock()
				st.stats.Add(e)
				return nil
			})
		}
	}
	err = h.ops.start(handle, op, retainFor, func(ctx context.Context) error {
		err := run(ctx)
		if err != nil && !errors.Is(err, context.Canceled) {
			h.log.Warn("web API deep operation failed", "operation", t, "err", err)
		}
		return err
	})
	if err != nil {
		return err
	}
	if whenDone, _ := q.arg("when_done"); whenDone != "" {
		redirect(w, http.StatusFound, whenDone)
		return nil
	}
	loc := baseURL(q) + "/operations/" + pyQuote(handle, pathSafe)
	if output, _ := q.arg("output"); output != "" {
		loc += "?output=" + pyQuote(output, queryKeySafe+"=")
	}
	redirect(w, http.StatusFound, loc)
	return nil
}

// pathSafe are the characters hyperlink leaves as they are in a path
// segment.
const pathSafe = "!$&'()*+,;=:@"

// renderOperation renders the status of an operation: for a deep check,
// /operations/HANDLE/SI gives the results of the node of that storage
// index. The status is rendered under the operation's lock, and sent
// after it, so that a slow client does not hold the operation up.
func (h *handler) renderOperation(w http.ResponseWriter, q *request, handle string, op *operation, rest []string) error {
	switch {
	case len(rest) == 0, op.kind == opDeepCheck && len(rest) == 1 && rest[0] == "":
	case op.kind == opDeepCheck && len(rest) == 1:
		return h.renderCheckOf(w, q, op, rest[0])
	default:
		return errNoResource
	}
	op.mu.Lock()
	contentType, body, err := h.statusBody(q, handle, op)
	op.mu.Unlock()
	if err != nil {
		return err
	}
	writeBody(w, http.StatusOK, contentType, body)
	return nil
}

// statusBody renders the status of op (locked) in the format output=
// asks for, as Tahoe's renderers do: deep checks as HTML or JSON;
// manifests as HTML, text or JSON; deep sizes as text (sent as text/html,
// as Tahoe sends it) or JSON; deep stats as JSON only.
func (h *handler) statusBody(q *request, handle string, op *operation) (contentType string, body []byte, err error) {
	st := op.deepState
	formats := []string{"HTML", "TEXT", "JSON"}
	if op.kind == opDeepCheck {
		formats = []string{"HTML", "JSON"}
	}
	format := "JSON"
	if op.kind != opDeepStats {
		if format, err = outputFormat(q, "", formats...); err != nil {
			return "", nil, err
		}
	}
	switch {
	case op.kind == opDeepCheck && format == "JSON":
		b, err := pyJSON(deepCheckJSON(st.check, op.finished))
		return "text/plain", b, err
	case op.kind == opDeepCheck:
		b, err := htmlBytes(deepCheckPage, h.deepCheckData(q, handle, op))
		return "text/html", b, err
	case op.kind == opManifest && format == "JSON":
		o := obj("stats", st.stats, "finished", op.finished, "origin", st.origin)
		if op.finished {
			items := make([]any, len(st.manifest))
			for i, m := range st.manifest {
				items[i] = []any{strList(m.path), capOrNull(m.cap)}
			}
			o.Set("manifest", items)
			o.Set("verifycaps", strList(st.verifyCaps))
			o.Set("storage-index", strList(st.sis))
		}
		b, err := pyjson.MarshalIndent(o, 1)
		return "text/plain", b, err
	case op.kind == opManifest && format == "TEXT":
		var b strings.Builder
		b.WriteString("finished: " + yesNo(op.finished) + "\n")
		for _, m := range st.manifest {
			b.WriteString(strings.Join(m.path, "/") + " " + capString(m.cap) + "\n")
		}
		return "text/plain", []byte(b.String()), nil
	case op.kind == opManifest:
		b, err := htmlBytes(manifestPage, h.manifestData(q, handle, op))
		return "text/html", b, err
	case op.kind == opDeepSize && format == "JSON":
		b, err := pyjson.Marshal(obj("finished", op.finished, "size", st.stats))
		return "text/plain", b, err
	case op.kind == opDeepSize:
		text := "finished: " + yesNo(op.finished) + "\n"
		if op.finished {
			text += "size: " + strconv.FormatInt(st.stats.Size(), 10) + "\n"
		}
		return "text/html", []byte(text), nil
	}
	b, err := json.Marshal(st.stats)
	if err != nil {
		return "", nil, err
	}
	o, err := pyjson.ParseObject(b)
	if err != nil {
		return "", nil, err
	}
	o.Set("finished", op.finished)
	b, err = pyjson.MarshalIndent(o, 1)
	return "text/plain", b, err
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// capOrNull is a cap's string, or null for none.
func capOrNull(c cap.Cap) any {
	if c == nil {
		return nil
	}
	return c.String()
}

// renderCheckOf is /operations/HANDLE/SI of a deep check: the check (or
// check and repair) of the node with that storage index.
func (h *handler) renderCheckOf(w http.ResponseWriter, q *request, op *operation, name string) error {
	notFound := &pageError{http.StatusNotFound, "Error", "No detailed results for SI " + name, ""}
	b, err := lafs.ParseBase32Len(name, len(lafs.StorageIndex{}))
	if err != nil {
		return notFound
	}
	var si lafs.StorageIndex
	copy(si[:], b)
	op.mu.Lock()
	i, ok := op.check.bySI[si]
	var r deepResult
	if ok {
		r = op.check.results[i]
	}
	op.mu.Unlock()
	if !ok {
		return notFound
	}
	return h.renderCheck(w, q, r.check, r.repair)
}

// deepCheckJSON is the status of a deep check as Tahoe's
// DeepCheckResultsRenderer and DeepCheckAndRepairResultsRenderer write it.
// Its stats are {} until the check has finished.
func deepCheckJSON(s *deepCheckState, finished bool) *pyjson.Object {
	var stats any = obj()
	if s.finalStats != nil {
		stats = s.finalStats
	}
	var unhealthy []any
	for _, r := range s.results {
		if pre := r.pre(); !pre.Healthy {
			unhealthy = append(unhealthy, []any{strList(r.path), checkJSON(pre)})
		}
	}
	if unhealthy == nil {
		unhealthy = []any{}
	}
	if !s.repair {
		return obj(
			"finished", finished,
			"root-storage-index", s.rootSI,
			"count-objects-checked", s.checked,
			"count-objects-healthy", s.healthy,
			"count-objects-unhealthy", s.unhealthy,
			"count-corrupt-shares", len(s.corrupt),
			"list-corrupt-shares", shareLocations(s.corrupt),
			"list-unhealthy-files", unhealthy,
			"stats", stats,
		)
	}
	// Tahoe reports count-corrupt-shares-post-repair as the count before
	// the repair (a slip in check_results.py); lafs gives the count the
	// checks after the repairs found.
	return obj(
		"finished", finished,
		"root-storage-index", s.rootSI,
		"count-objects-checked", s.checked,
		"count-objects-healthy-pre-repair", s.healthy,
		"count-objects-unhealthy-pre-repair", s.unhealthy,
		"count-objects-healthy-post-repair", s.healthyPost,
		"count-objects-unhealthy-post-repair", s.unhealthyPost,
		"count-repairs-attempted", s.repairsAttempted,
		"count-repairs-successful", s.repairsSuccessful,
		"count-repairs-unsuccessful", s.repairsFailed,
		"count-corrupt-shares-pre-repair", len(s.corrupt),
		"count-corrupt-shares-post-repair", len(s.corruptPost),
		"list-corrupt-shares", shareLocations(s.corrupt),
		"list-remaining-corrupt-shares", shareLocations(s.corruptPost),
		"list-unhealthy-files", unhealthy,
		"stats", stats,
	)
}

// The status pages of the operations.

// runningData is what a status page shows of an operation still running:
// links to reload it and to cancel it, relative to the page.
type runningData struct {
	Running        bool
	Reload, Cancel string
}

func running(handle string, finished bool) runningData {
	if finished {
		return runningData{}
	}
	h := pyQuote(handle, pathSafe)
	return runningData{true, h + "?output=html", h + "?t=cancel"}
}

// pathString is a manifest path as the pages show it: "<root>" for the
// root.
func pathString(p []string) string {
	if len(p) == 0 {
		return "<root>"
	}
	return strings.Join(p, "/")
}

// relRoot is the relative link from the page q asked for to the web
// API's root.
func relRoot(q *request) string {
	return strings.TrimSuffix(strings.Repeat("../", len(q.segs)-1), "/")
}

type manifestPageData struct {
	SI string
	runningData
	Rows []manifestRow
}

type manifestRow struct{ Path, Cap, Link string }

// manifestData fills the manifest page. Each cap links to the file or
// directory: files Tahoe can name (CHK, SDMF) by /file/CAP/NAME, the
// others by /uri/CAP.
func (h *handler) manifestData(q *request, handle string, op *operation) manifestPageData {
	st := op.deepState
	d := manifestPageData{SI: "<LIT>", runningData: running(handle, op.finished)}
	if st.origin != "" {
		d.SI = st.origin[:6]
	}
	root := relRoot(q)
	for _, m := range st.manifest {
		row := manifestRow{Path: strings.Join(m.path, "/"), Cap: capString(m.cap)}
		switch c := m.cap.(type) {
		case nil:
		case *cap.CHK:
			row.Link = root + "/file/" + pyQuote(row.Cap, "/") + "/" + pyQuote(lastName(m.path), "/")
		case *cap.MutableWrite, *cap.MutableRead:
			if formatOfCap(c) == "SDMF" {
				row.Link = root + "/file/" + pyQuote(row.Cap, "/") + "/" + pyQuote(lastName(m.path), "/")
				break
			}
			row.Link = root + "/uri/" + pyQuote(row.Cap, "")
		default:
			row.Link = root + "/uri/" + pyQuote(row.Cap, "")
		}
		d.Rows = append(d.Rows, row)
	}
	return d
}

func lastName(p []string) string {
	if len(p) == 0 {
		return ""
	}
	return p[len(p)-1]
}

type deepCheckPageData struct {
	Repair bool
	SI     string
	runningData
	Counters       []counterRow
	Problems       []string // unhealthy before any repair
	StillProblems  []string // unhealthy after repair
	CorruptServers []string
	Corrupt        []corruptRow
	ReturnTo       string
	Rows           []deepCheckRow
}

type counterRow struct {
	Label string
	Value int
}

type corruptRow struct {
	Server, Nickname, SI, SILink string
	Share                        int
}

type deepCheckRow struct {
	Path, Healthy, Recoverable, HealthyPost, SI, SILink, Summary string
}

// deepCheckData fills the deep-check status page.
func (h *handler) deepCheckData(q *request, handle string, op *operation) deepCheckPageData {
	s := op.check
	d := deepCheckPageData{Repair: s.repair, SI: s.rootSI, runningData: running(handle, op.finished)}
	d.ReturnTo, _ = q.arg("return_to")
	nick := map[string]string{}
	if h.st != nil {
		for _, sv := range h.st.Servers() {
			nick[sv.ID] = sv.Nickname
		}
	}
	siLink := func(si string) string {
		l := relRoot(q) + "/operations/" + pyQuote(handle, pathSafe) + "/" + si
		if output, _ := q.arg("output"); output != "" {
			l += "?output=" + pyQuote(output, queryKeySafe+"=")
		}
		return l
	}
	if s.repair {
		d.Counters = []counterRow{{"Objects Checked", s.checked},
			{"Objects Healthy (before repair)", s.healthy}, {"Objects Unhealthy (before repair)", s.unhealthy},
			{"Corrupt Shares (before repair)", len(s.corrupt)},
			{"Repairs Attempted", s.repairsAttempted}, {"Repairs Successful", s.repairsSuccessful},
			{"Repairs Unsuccessful", s.repairsFailed},
			{"Objects Healthy (after repair)", s.healthyPost}, {"Objects Unhealthy (after repair)", s.unhealthyPost},
			{"Corrupt Shares (after repair)", len(s.corruptPost)}}
	} else {
		d.Counters = []counterRow{{"Objects Checked", s.checked}, {"Objects Healthy", s.healthy},
			{"Objects Unhealthy", s.unhealthy}, {"Objects Unrecoverable", s.unrecoverable},
			{"Corrupt Shares", len(s.corrupt)}}
	}
	sorted := slices.Clone(s.results)
	slices.SortFunc(sorted, func(a, b deepResult) int { return slices.Compare(a.path, b.path) })
	for _, r := range sorted {
		pre, post := r.pre(), r.post()
		si := pre.StorageIndex.String()
		if !pre.Healthy {
			line := pathString(r.path) + ": " + pre.Summary
			if !s.repair {
				line += " [SI: " + si + "]"
			}
			d.Problems = append(d.Problems, line)
		}
		if s.repair && !post.Healthy {
			d.StillProblems = append(d.StillProblems, pathString(r.path)+": "+post.Summary)
		}
		d.Rows = append(d.Rows, deepCheckRow{
			Path: pathString(r.path), Healthy: pyBool(pre.Healthy), Recoverable: pyBool(pre.Recoverable),
			HealthyPost: pyBool(post.Healthy), SI: si, SILink: siLink(si), Summary: pre.Summary,
		})
	}
	servers := map[string]bool{}
	for _, c := range s.corrupt {
		si := c.StorageIndex.String()
		d.Corrupt = append(d.Corrupt, corruptRow{c.Server, nick[c.Server], si, siLink(si), int(c.Num)})
		if !servers[c.Server] {
			servers[c.Server] = true
			name := c.Server
			if nick[c.Server] != "" {
				name += " (" + nick[c.Server] + ")"
			}
			d.CorruptServers = append(d.CorruptServers, name)
		}
	}
	slices.Sort(d.CorruptServers)
	return d
}

// pyBool is Python's str of a bool.
func pyBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

// refreshHead makes a browser reload the page of a running operation
// every minute.
const refreshHead = `{{define "head"}}{{if .Running}}
    <meta http-equiv="refresh" content="60" />{{end}}{{end}}`

const runningBlock = `{{if .Running}}<h2>Operation still running: <a href="{{.Reload}}">Reload</a></h2>
<form action="{{.Cancel}}" method="post" enctype="multipart/form-data"><input type="submit" value="Cancel" /></form>{{end}}`

var (
	manifestPage = page(`Manifest of SI={{.SI}}`, refreshHead+`
<h1>Manifest of SI={{.SI}}</h1>
`+runningBlock+`
<table>
  <tr><th>Path</th><th>cap</th></tr>
  {{range .Rows}}<tr><td>{{.Path}}</td><td>{{if .Link}}<a href="{{.Link}}">{{.Cap}}</a>{{end}}</td></tr>
  {{else}}<tr><td>The manifest is empty.</td></tr>
  {{end}}
</table>
`)
	deepCheckPage = page(`Tahoe-LAFS - Deep Check Results`, refreshHead+`
<h1>{{if .Repair}}Deep-Check-And-Repair{{else}}Deep-Check{{end}} Results for root SI=<span>{{.SI}}</span></h1>
`+runningBlock+`
<p>Counters:</p>
<ul>
  {{range .Counters}}<li>{{.Label}}: <span>{{.Value}}</span></li>
  {{end}}
</ul>
{{if .Problems}}<div><h2>Files/Directories That Had Problems:</h2><ul>
  {{range .Problems}}<li>{{.}}</li>
  {{end}}</ul></div>{{end}}
{{if .StillProblems}}<div><h2>Files/Directories That Still Have Problems:</h2><ul>
  {{range .StillProblems}}<li>{{.}}</li>
  {{end}}</ul></div>{{end}}
{{if .CorruptServers}}<div><h2>Servers on which corrupt shares were found</h2><ul>
  {{range .CorruptServers}}<li>{{.}}</li>
  {{end}}</ul></div>
<div><h2>Corrupt Shares</h2>
<p>If repair fails, these shares need to be inspected and removed by hand.</p>
<table>
  <tr><th>Server</th><th>Server Nickname</th><th>Storage Index</th><th>Share Number</th></tr>
  {{range .Corrupt}}<tr><td>{{.Server}}</td><td>{{.Nickname}}</td><td><a href="{{.SILink}}">{{.SI}}</a></td><td>{{.Share}}</td></tr>
  {{end}}
</table></div>{{end}}
{{if .ReturnTo}}<div><a href="{{.ReturnTo}}">Return to file/directory.</a></div>{{end}}
<div><h2>All Results</h2>
<table>
  <tr><th>Relative Path</th><th>Healthy{{if .Repair}} Pre-Repair{{end}}</th><th>Recoverable{{if .Repair}} Pre-Repair{{end}}</th>{{if .Repair}}<th>Healthy Post-Repair</th>{{end}}<th>Storage Index</th><th>Summary</th></tr>
  {{range .Rows}}<tr><td>{{.Path}}</td><td>{{.Healthy}}</td><td>{{.Recoverable}}</td>{{if $.Repair}}<td>{{.HealthyPost}}</td>{{end}}<td><tt><a href="{{.SILink}}">{{.SI}}</a></tt></td><td>{{.Summary}}</td></tr>
  {{else}}<tr><td>Nothing to report yet.</td></tr>
  {{end}}
</table></div>
`)
)

// streamDeep is POST t=stream-manifest or t=stream-deep-check (verify=,
// repair=, add-lease=) on a directory: one line of JSON per node, written
// as soon as it is known, then a line with the deep stats. A failure
// during the walk (a directory that cannot be read) ends the stream with
// a line starting "ERROR:" instead, as Tahoe's does; a client that goes
// away stops the walk. The Content-Type is Tahoe's, text/html.
func (h *handler) streamDeep(w http.ResponseWriter, q *request, dn *dirNode, t string) error {
	var opt lafs.CheckOptions
	if t == "stream-deep-check" {
		var err error
		if opt, err = checkOptions(q); err != nil {
			return err
		}
	}
	ctx := q.Context()
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(http.StatusOK)
	var stats client.DeepStats
	line := func(v any) error {
		b, err := pyjson.Marshal(v)
		if err != nil {
			return err
		}
		if _, err := w.Write(append(b, '\n')); err != nil {
			return err
		}
		rc.Flush()
		return nil
	}
	var err error
	if t == "stream-manifest" {
		err = h.c.Walk(ctx, dn.cap, func(e *client.WalkEntry) error {
			stats.Add(e)
			return line(walkUnit(e))
		})
	} else {
		err = h.c.DeepCheck(ctx, dn.cap, opt, func(e *client.DeepCheckEntry) error {
			stats.Add(e.WalkEntry)
			u := walkUnit(e.WalkEntry)
			if opt.Repair {
				u.Set("check-and-repair-results", repairJSON(e.Repair))
			} else {
				u.Set("check-results", checkJSON(e.Check))
			}
			return line(u)
		})
	}
	if err == nil {
		err = line(obj("type", "stats", "stats", stats))
	}
	if err != nil && ctx.Err() == nil {
		_, text := classify(err)
		if text == "" {
			text = err.Error()
		}
		fmt.Fprintf(w, "ERROR: %s\n%s\n", strings.ReplaceAll(text, "\n", " "), err)
		rc.Flush()
		if code, _ := classify(err); code >= 500 {
			h.log.Warn("web API deep traversal failed", "operation", t, "err", err)
		}
	}
	return nil
}

// walkUnit is the line of a stream for one node: its path, cap, type,
// verify cap, repair cap and storage index ("" for those it lacks).
func walkUnit(e *client.WalkEntry) *pyjson.Object {
	typ := "unknown"
	switch e.Kind {
	case dirnode.KindDir:
		typ = "directory"
	case dirnode.KindFile:
		typ = "file"
	}
	si := ""
	if s, ok := e.StorageIndex(); ok {
		si = s.String()
	}
	return obj("path", strList(e.Path), "cap", capOrNull(e.Cap), "type", typ,
		"verifycap", capString(e.VerifyCap()), "repaircap", capString(e.RepairCap()), "storage-index", si)
}
