package webapi

import (
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/pyjson"
)

// The checker's side of the web API: POST t=check on a file or directory
// (Tahoe's _POST_check in filenode.py and directory.py) and the check
// results it renders, as JSON (check_results.py's json_check_results and
// json_check_and_repair_results) or as an HTML page.

// checkOptions reads Tahoe's verify=, repair= and add-lease= arguments.
func checkOptions(q *request) (lafs.CheckOptions, error) {
	var opt lafs.CheckOptions
	var err error
	if opt.Verify, err = q.boolArg("verify", "false"); err != nil {
		return opt, err
	}
	if opt.Repair, err = q.boolArg("repair", "false"); err != nil {
		return opt, err
	}
	if opt.AddLease, err = q.boolArg("add-lease", "false"); err != nil {
		return opt, err
	}
	return opt, nil
}

// postCheck is POST t=check on the file or directory c: a check, or with
// repair=true a check and repair, answered as the results page (output=
// absent or HTML) or JSON (output=JSON, any case), or with a redirect to
// when_done= when it is given. LIT files and directories, which have no
// shares, get Tahoe's page for literal files, even with repair=true.
func (h *handler) postCheck(w http.ResponseWriter, q *request, c cap.Cap) error {
	opt, err := checkOptions(q)
	if err != nil {
		return err
	}
	ctx := q.Context()
	var cr *lafs.CheckResult
	var rr *lafs.RepairResult
	if opt.Repair {
		rr, err = h.c.CheckAndRepair(ctx, c, opt)
	} else {
		cr, err = h.c.Check(ctx, c, opt)
	}
	if err != nil {
		return err
	}
	if whenDone, _ := q.arg("when_done"); whenDone != "" {
		redirect(w, http.StatusFound, whenDone)
		return nil
	}
	return h.renderCheck(w, q, cr, rr)
}

// renderCheck answers with a check's results (rr nil) or a check and
// repair's (rr set), in the format output= asks for. Both nil is a LIT.
func (h *handler) renderCheck(w http.ResponseWriter, q *request, cr *lafs.CheckResult, rr *lafs.RepairResult) error {
	format, err := outputFormat(q, "", "HTML", "JSON")
	if err != nil {
		return err
	}
	lit := cr == nil && rr == nil
	if format == "JSON" {
		var body any
		if rr != nil {
			body = repairJSON(rr)
		} else {
			body = checkJSON(cr)
		}
		return writeJSON(w, "text/plain", body)
	}
	returnTo, _ := q.arg("return_to")
	if lit {
		return h.renderHTML(w, literalCheckPage, checkPageData{ReturnTo: returnTo})
	}
	d := checkPageData{ReturnTo: returnTo}
	if rr != nil {
		post := rr.PostRepair
		if post == nil {
			post = rr.PreRepair
		}
		d.SI = rr.StorageIndex.String()
		d.Verdict, d.Summary = verdict(post), post.Summary
		d.Results = h.resultsData(post)
		switch {
		case rr.Attempted && rr.Successful:
			d.RepairLine = "Repair successful"
		case rr.Attempted:
			d.RepairLine = "Repair unsuccessful"
		default:
			d.RepairLine = "No repair necessary"
		}
		if rr.Attempted && rr.PreRepair != nil {
			d.Pre = h.resultsData(rr.PreRepair)
		}
		return h.renderHTML(w, checkAndRepairPage, d)
	}
	d.SI = cr.StorageIndex.String()
	d.Verdict, d.Summary = verdict(cr), cr.Summary
	d.Results = h.resultsData(cr)
	return h.renderHTML(w, checkPage, d)
}

// outputFormat is the format output= names, upper-cased and among
// formats, or def when it is not given ("" meaning HTML): Tahoe's
// MultiFormatResource, which answers an unknown format (an empty one
// included) with a 400 "Bad Format" page.
func outputFormat(q *request, def string, formats ...string) (string, error) {
	v, given := q.arg("output")
	if !given {
		if def == "" {
			return "HTML", nil
		}
		v = def
	}
	up := strings.ToUpper(v)
	for _, f := range formats {
		if up == f {
			return f, nil
		}
	}
	return "", &pageError{http.StatusBadRequest, "Bad Format", "Unknown output value: " + pyStrRepr(v), ""}
}

// obj builds an ordered JSON object from key, value pairs.
func obj(kv ...any) *pyjson.Object {
	o := &pyjson.Object{}
	for i := 0; i+1 < len(kv); i += 2 {
		o.Set(kv[i].(string), kv[i+1])
	}
	return o
}

// strList is a JSON array of strings, [] when empty.
func strList(s []string) []any {
	out := make([]any, len(s))
	for i, x := range s {
		out[i] = x
	}
	return out
}

// checkJSON is Tahoe's json_check_results: the results of one check, or
// for a LIT (r nil) {"storage-index": "", "results": {"healthy": true}}.
func checkJSON(r *lafs.CheckResult) *pyjson.Object {
	if r == nil {
		return obj("storage-index", "", "results", obj("healthy", true))
	}
	return obj(
		"storage-index", r.StorageIndex.String(),
		"summary", r.Summary,
		"results", obj(
			"count-happiness", r.Happiness,
			"count-shares-good", r.GoodShares,
			"count-shares-needed", r.SharesNeeded,
			"count-shares-expected", r.SharesExpected,
			"count-good-share-hosts", r.GoodShareHosts,
			"count-corrupt-shares", len(r.Corrupt),
			"list-corrupt-shares", shareLocations(r.Corrupt),
			"servers-responding", strList(r.ServersResponding),
			"sharemap", sharemapJSON(r.ShareMap),
			"count-wrong-shares", r.WrongShares,
			"count-recoverable-versions", r.RecoverableVersions,
			"count-unrecoverable-versions", r.UnrecoverableVersions,
			"healthy", r.Healthy,
			"recoverable", r.Recoverable,
		),
	)
}

// repairJSON is Tahoe's json_check_and_repair_results; for a LIT (r nil)
// {"storage-index": "", "repair-attempted": false}.
func repairJSON(r *lafs.RepairResult) *pyjson.Object {
	if r == nil {
		return obj("storage-index", "", "repair-attempted", false)
	}
	post := r.PostRepair
	if post == nil {
		post = r.PreRepair
	}
	return obj(
		"storage-index", r.StorageIndex.String(),
		"repair-attempted", r.Attempted,
		"repair-successful", r.Successful,
		"pre-repair-results", checkJSON(r.PreRepair),
		"post-repair-results", checkJSON(post),
	)
}

// shareLocations is Tahoe's list of share locators: [server ID, base32
// storage index, share number] each.
func shareLocations(locs []lafs.ShareLocation) []any {
	out := make([]any, len(locs))
	for i, l := range locs {
		out[i] = []any{l.Server, l.StorageIndex.String(), int(l.Num)}
	}
	return out
}

// sharemapJSON is the share map with each share's servers sorted, as
// Tahoe sorts them, and the shares in share order.
func sharemapJSON(m map[string][]string) *pyjson.Object {
	o := &pyjson.Object{}
	for _, label := range shareLabels(m) {
		ids := append([]string(nil), m[label]...)
		sort.Strings(ids)
		o.Set(label, strList(ids))
	}
	return o
}

// shareLabels sorts the labels of a share map by share number: "3" for
// immutable files, "seq4-qait-sh3" for mutable ones.
func shareLabels(m map[string][]string) []string {
	labels := make([]string, 0, len(m))
	for l := range m {
		labels = append(labels, l)
	}
	num := func(l string) int {
		if i := strings.LastIndex(l, "-sh"); i >= 0 {
			l = l[i+3:]
		}
		n, err := strconv.Atoi(l)
		if err != nil {
			return -1
		}
		return n
	}
	sort.Slice(labels, func(a, b int) bool {
		na, nb := num(labels[a]), num(labels[b])
		if na != nb {
			return na < nb
		}
		return labels[a] < labels[b]
	})
	return labels
}

// verdict is the word the results page opens with.
func verdict(r *lafs.CheckResult) string {
	switch {
	case r.Healthy:
		return "Healthy"
	case r.Recoverable:
		return "Not Healthy!"
	}
	return "Not Recoverable!"
}

// checkPageData is what the check results pages show.
type checkPageData struct {
	SI, Verdict, Summary string
	Results, Pre         *resultsData
	RepairLine           string
	ReturnTo             string
}

// resultsData is one check, for the results pages.
type resultsData struct {
	Report                                     string
	Needed, Expected, Good, Happiness, Hosts   int
	Wrong                                      int
	Corrupt                                    []serverShareRow
	GoodShares                                 []serverShareRow
	Balance                                    []serverShareRow
	RecoverableVersions, UnrecoverableVersions int
}

// serverShareRow is a share (or the shares) on a server.
type serverShareRow struct {
	Share          string
	Nickname, Node string
}

// resultsData prepares r for the results pages, with the servers'
// nicknames when the node's status knows them.
func (h *handler) resultsData(r *lafs.CheckResult) *resultsData {
	nick := map[string]string{}
	if h.st != nil {
		for _, s := range h.st.Servers() {
			nick[s.ID] = s.Nickname
		}
	}
	d := &resultsData{
		Report: strings.Join(r.Report, "\n"),
		Needed: r.SharesNeeded, Expected: r.SharesExpected, Good: r.GoodShares,
		Happiness: r.Happiness, Hosts: r.GoodShareHosts, Wrong: r.WrongShares,
		RecoverableVersions: r.RecoverableVersions, UnrecoverableVersions: r.UnrecoverableVersions,
	}
	for _, c := range r.Corrupt {
		d.Corrupt = append(d.Corrupt, serverShareRow{"sh#" + strconv.Itoa(int(c.Num)), nick[c.Server], c.Server})
	}
	held := map[string][]string{}
	left := 0
	for _, label := range shareLabels(r.ShareMap) {
		ids := append([]string(nil), r.ShareMap[label]...)
		sort.Strings(ids)
		for i, id := range ids {
			row := serverShareRow{Nickname: nick[id], Node: id}
			if i == 0 {
				row.Share = label
			}
			d.GoodShares = append(d.GoodShares, row)
			held[id] = append(held[id], label)
			left++
		}
	}
	// The servers in the order the checker asked them (the permuted
	// order of the file's storage index), until every share is shown.
	for _, id := range r.ServersResponding {
		if left == 0 {
			break
		}
		d.Balance = append(d.Balance, serverShareRow{strings.Join(held[id], " "), nick[id], id})
		left -= len(held[id])
	}
	return d
}

// The check results pages. Their titles are Tahoe's.
var (
	literalCheckPage = page(`Tahoe-LAFS - Check Results`, `
<h1>File Check Results for LIT file</h1>
<div>A literal file is always healthy: its data is in its cap, not on servers.</div>
{{if .ReturnTo}}<div><a href="{{.ReturnTo}}">Return to file.</a></div>{{end}}
`)
	checkPage = page(`Tahoe-LAFS - Check Results`, `
<h1>File Check Results for SI={{.SI}}</h1>
<div><span>{{.Verdict}} : {{.Summary}}</span></div>
<div>{{template "results" .Results}}</div>
{{if .ReturnTo}}<div><a href="{{.ReturnTo}}">Return to file/directory.</a></div>{{end}}
`+resultsTemplate)
	checkAndRepairPage = page(`Tahoe-LAFS - Check Results`, `
<h1>File Check-And-Repair Results for SI={{.SI}}</h1>
<div>{{.Verdict}} : {{.Summary}}</div>
<div>{{.RepairLine}}</div>
<div><div>Post-Repair Checker Results:</div>{{template "results" .Results}}</div>
{{if .Pre}}<div><div>Pre-Repair Checker Results:</div>{{template "results" .Pre}}</div>{{end}}
{{if .ReturnTo}}<div><a href="{{.ReturnTo}}">Return to file/directory.</a></div>{{end}}
`+resultsTemplate)
)

// resultsTemplate shows one check.
const resultsTemplate = `{{define "results"}}<ul>
  <li>Report: <pre>{{.Report}}</pre></li>
  <li>Share Counts: need {{.Needed}}-of-{{.Expected}}, have {{.Good}}</li>
  <li>Happiness Level: {{.Happiness}}</li>
  <li>Hosts with good shares: {{.Hosts}}</li>
  <li>Corrupt shares: {{if .Corrupt}}<table>
    <tr><th>Share ID</th><th>Nickname</th><th>Node ID</th></tr>
    {{range .Corrupt}}<tr><td>{{.Share}}</td><td>{{.Nickname}}</td><td><tt>{{.Node}}</tt></td></tr>
    {{end}}</table>{{else}}none{{end}}</li>
  <li>Wrong Shares: {{.Wrong}}</li>
  <li>Good Shares (sorted in share order): <table>
    <tr><th>Share ID</th><th>Nickname</th><th>Node ID</th></tr>
    {{range .GoodShares}}<tr><td>{{.Share}}</td><td>{{.Nickname}}</td><td><tt>{{.Node}}</tt></td></tr>
    {{end}}</table></li>
  <li>Recoverable Versions: {{.RecoverableVersions}}</li>
  <li>Unrecoverable Versions: {{.UnrecoverableVersions}}</li>
  <li>Share Balancing (servers in the order they were asked): <table>
    <tr><th>Nickname</th><th>Node ID</th><th>Share IDs</th></tr>
    {{range .Balance}}<tr><td>{{.Nickname}}</td><td><tt>{{.Node}}</tt></td><td>{{.Share}}</td></tr>
    {{end}}</table></li>
</ul>{{end}}`
