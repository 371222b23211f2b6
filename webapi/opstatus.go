package webapi

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/lafs/lafs/client"
	"github.com/lafs/lafs/pyjson"
)

// OperationTagHeader is the request header by which a program names the
// operations its request makes (client.WithOperationTag), so that it can
// find them among the active ones on /status?t=json (their "tag"): `lafs
// put` does, to show how the node's encoding and pushing go once the
// file is sent.
const OperationTagHeader = "X-Lafs-Operation-Tag"

// serveOpStatus is Tahoe's /status (src/allmydata/web/status.py): the
// client's operations under way and its recent ones, as an HTML page or,
// with t=json, as Tahoe's {"active": [...], "recent": [...]}. As Tahoe's,
// it answers whatever the method (`tahoe status` POSTs). The pages of
// single operations (/status/up-N and the like) are not served.
func (h *handler) serveOpStatus(w http.ResponseWriter, q *request, rest []string) error {
	if len(rest) > 1 || len(rest) == 1 && rest[0] != "" {
		return errNoResource
	}
	t, given := q.queryArg("t")
	if !given {
		t = "html"
	}
	active, recent := h.c.History().Snapshot()
	switch strings.ToUpper(t) {
	case "HTML":
		return h.renderHTML(w, opStatusPage, newOpStatusData(active, recent, time.Local))
	case "JSON":
		return writeJSON(w, "application/json", opStatusJSON(active, recent))
	}
	return badFormat(t)
}

// opStatusJSON is the t=json answer: each operation with Tahoe's keys
// (storage-index-string, total-size, status, type, and the progress keys
// of its type: progress-hash, progress-ciphertext and
// progress-encode-push for an upload, progress for the others, which
// Tahoe gives only for downloads), then lafs's own: started and finished
// (seconds since the epoch; finished null while under way), bytes-done
// and tag (null when none).
func opStatusJSON(active, recent []client.OpStatus) *pyjson.Object {
	list := func(ops []client.OpStatus) []any {
		out := []any{}
		for _, s := range ops {
			out = append(out, opJSON(s))
		}
		return out
	}
	var o pyjson.Object
	o.Set("active", list(active))
	o.Set("recent", list(recent))
	return &o
}

func opJSON(s client.OpStatus) *pyjson.Object {
	var o pyjson.Object
	if s.HasStorageIndex {
		o.Set("storage-index-string", s.StorageIndex.String())
	} else {
		o.Set("storage-index-string", nil)
	}
	if s.Size >= 0 {
		o.Set("total-size", s.Size)
	} else {
		o.Set("total-size", nil)
	}
	o.Set("status", s.Status)
	o.Set("type", string(s.Kind))
	if s.Kind == client.OpKindUpload {
		o.Set("progress-hash", s.HashProgress())
		o.Set("progress-ciphertext", s.CiphertextProgress())
		o.Set("progress-encode-push", s.Progress())
	} else {
		o.Set("progress", s.Progress())
	}
	o.Set("started", unixSeconds(s.Started))
	if s.Finished.IsZero() {
		o.Set("finished", nil)
	} else {
		o.Set("finished", unixSeconds(s.Finished))
	}
	o.Set("bytes-done", s.Done)
	if s.Tag != "" {
		o.Set("tag", s.Tag)
	} else {
		o.Set("tag", nil)
	}
	return &o
}

// unixSeconds is t as Python's time.time() gives it.
func unixSeconds(t time.Time) float64 { return float64(t.UnixMicro()) / 1e6 }

var opStatusPage = page(`Tahoe-LAFS - Recent and Active Operations`, `
<h1>Recent and Active Operations</h1>

<h2>Active Operations:</h2>
{{if .Active}}<table>
  <tr><th>Type</th><th>Storage Index</th><th>Helper?</th><th>Total Size</th><th>Progress</th><th>Status</th></tr>
  {{range .Active}}<tr><td>{{.Type}}</td><td>{{.SI}}</td><td>No</td><td>{{.Size}}</td><td>{{.Progress}}</td><td>{{.Status}}</td></tr>
  {{end}}
</table>{{else}}<p>No active operations!</p>{{end}}

<h2>Recent Operations:</h2>
{{if .Recent}}<table>
  <tr><th>Started</th><th>Type</th><th>Storage Index</th><th>Helper?</th><th>Total Size</th><th>Progress</th><th>Status</th></tr>
  {{range .Recent}}<tr><td>{{.Started}}</td><td>{{.Type}}</td><td>{{.SI}}</td><td>No</td><td>{{.Size}}</td><td>{{.Progress}}</td><td>{{.Status}}</td></tr>
  {{end}}
</table>{{else}}<p>No recent operations!</p>{{end}}

<p><a href="?t=json">JSON</a></p>
<div>Return to the <a href="/">Welcome Page</a></div>
`)

// opStatusData is what the status page shows.
type opStatusData struct {
	Active, Recent []opRow
}

// opRow is one operation as the page shows it, in Tahoe's words.
type opRow struct {
	Started, Type, SI, Size, Progress, Status string
}

func newOpStatusData(active, recent []client.OpStatus, tz *time.Location) opStatusData {
	rows := func(ops []client.OpStatus) []opRow {
		var out []opRow
		for _, s := range ops {
			out = append(out, newOpRow(s, tz))
		}
		return out
	}
	return opStatusData{Active: rows(active), Recent: rows(recent)}
}

// RenderTime writes t as Tahoe's render_time does: date and time in t's
// location, with non-breaking spaces so that it does not wrap.
func RenderTime(t time.Time) string {
	return strings.ReplaceAll(t.Format(time.DateTime), " ", "\u00a0")
}

func newOpRow(s client.OpStatus, tz *time.Location) opRow {
	r := opRow{
		Started: RenderTime(s.Started.In(tz)),
		Type:    string(s.Kind),
		SI:      "(None)",
		Size:    "(unknown)",
		Status:  s.Status,
	}
	if s.HasStorageIndex {
		r.SI = s.StorageIndex.String()
	}
	if s.Size >= 0 {
		r.Size = abbreviateSize(uint64(s.Size))
	}
	if s.Kind == client.OpKindUpload {
		r.Progress = fmt.Sprintf("hash: %.1f%%, ciphertext: %.1f%%, encode: %.1f%%",
			100*s.HashProgress(), 100*s.CiphertextProgress(), 100*s.Progress())
	} else {
		r.Progress = fmt.Sprintf("%.1f%%", 100*s.Progress())
	}
	return r
}
