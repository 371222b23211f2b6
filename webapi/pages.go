package webapi

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"sync"
)

// The HTML pages. They keep Tahoe's titles, which scripts look for, and
// are otherwise plain: no style sheets or images to serve.

const pageHead = `<!DOCTYPE html>
<html>
  <head>
    <meta charset="utf-8" />
    <title>{{template "title" .}}</title>
    <meta http-equiv="Content-Type" content="text/html; charset=utf-8" />
    {{- block "head" .}}{{end}}
  </head>
  <body>
`

const pageFoot = `
  </body>
</html>
`

// page returns a page template, parsed on first use rather than at the
// start of every process (the CLI shares this binary and needs none).
func page(title, body string) func() *template.Template {
	return sync.OnceValue(func() *template.Template {
		return template.Must(template.New("page").Parse(
			`{{define "title"}}` + title + `{{end}}` + pageHead + body + pageFoot))
	})
}

var welcomePage = page(`Tahoe-LAFS - Welcome`, `
<h1>Welcome</h1>
<p><a href="ui/"><strong>Open the lafs web UI</strong></a>: the grid's state, a file browser with
uploads, check and repair. This page is Tahoe's plain one, kept for scripts.</p>
<table>
  <tr><th>Nickname:</th><td>{{.Node.Nickname}}</td></tr>
  <tr><th>Node ID:</th><td>{{.Node.NodeID}}</td></tr>
  <tr><th>Version:</th><td>{{.Node.Version}}</td></tr>
  <tr><th>Web API started:</th><td>{{.StartedAt}}</td></tr>
</table>

<h2>Open or download a file</h2>
<form action="uri" method="get">
  <label>Cap <input type="text" name="uri" /></label>
  <label>Filename <input type="text" name="filename" /></label>
  <label><input type="checkbox" name="save" value="true" /> save</label>
  <input type="submit" value="Go" />
</form>

<h2>Upload a file (immutable)</h2>
<form action="uri" method="post" enctype="multipart/form-data">
  <input type="file" name="file" />
  <input type="hidden" name="t" value="upload" />
  <input type="submit" value="Upload" />
</form>

<h2>Introducers: {{.IntroducersConnected}} of {{len .Introducers}} connected</h2>
{{if .Introducers}}<table>
  <tr><th>Status</th><th>Since</th><th>Last received data</th></tr>
  {{range .Introducers}}<tr><td>{{.Summary}}</td><td>{{.Since}}</td><td>{{.LastReceived}}</td></tr>
  {{end}}
</table>{{else}}<p>No introducers</p>{{end}}

<h2>Storage servers: {{.ServersConnected}} of {{len .Servers}} connected</h2>
{{if .Servers}}<table>
  <tr><th>Nickname</th><th>Node ID</th><th>Connection</th><th>Since</th><th>Last received data</th><th>Version</th><th>Available</th></tr>
  {{range .Servers}}<tr><td>{{.Nickname}}</td><td>{{.ID}}</td><td>{{.Summary}}</td><td>{{.Since}}</td><td>{{.LastReceived}}</td><td>{{.Version}}</td><td>{{.Space}}</td></tr>
  {{end}}
</table>{{else}}<p>No storage servers known</p>{{end}}

<p>Through this web API: {{.Uploads}} files uploaded, {{.Downloads}} files downloaded.
<a href="status">Recent and Active Operations</a>, <a href="statistics">Operational Statistics</a>, <a href="storage">Storage Server Status</a> (on a storage node), <a href="?t=json">JSON</a>.</p>
<p>Page rendered at {{.RenderedAt}}</p>
`)

var statisticsPage = page(`Tahoe-LAFS - Operational Statistics`, `
<h1>Operational Statistics</h1>

<h2>General</h2>
<ul>
  <li>Files Uploaded (immutable): {{call .Line "uploader.files_uploaded" "uploader.bytes_uploaded"}}</li>
  <li>Files Downloaded (immutable): {{call .Line "downloader.files_downloaded" "downloader.bytes_downloaded"}}</li>
  <li>Files Published (mutable): {{call .Line "mutable.files_published" "mutable.bytes_published"}}</li>
  <li>Files Retrieved (mutable): {{call .Line "mutable.files_retrieved" "mutable.bytes_retrieved"}}</li>
</ul>

<h2>Raw Stats:</h2>
<pre>{{.Raw}}</pre>

<div>Return to the <a href="/">Welcome Page</a></div>
`)

// statisticsData adapts Stats to the statistics page.
type statisticsData struct {
	Line func(files, bytes string) string
	Raw  string
}

func newStatisticsData(s Stats) statisticsData {
	raw, err := json.MarshalIndent(s, "", "    ")
	if err != nil {
		raw = []byte(err.Error())
	}
	return statisticsData{
		Line: func(files, bytes string) string {
			b := s.Counters[bytes]
			return fmt.Sprintf("%d files / %d bytes (%s)", s.Counters[files], b, abbreviateSize(uint64(max(b, 0))))
		},
		Raw: string(raw),
	}
}

var infoPage = page(`{{.Title}}`, `
<h1>{{.Title}}</h1>
<ul>
  <li>Object Type: <span>{{.Type}}</span></li>
  <li>Storage Index: <tt>{{.SI}}</tt></li>
  <li>Object Size: <span>{{.Size}}</span></li>
  <li>Access Caps (Tahoe-URIs):
  <table>
    <tr><th>{{or .Kind "File"}} writecap</th><td><tt>{{.WriteCap}}</tt></td></tr>
    <tr><th>{{or .Kind "File"}} readcap</th><td><tt>{{.ReadCap}}</tt></td></tr>
    <tr><th>{{or .Kind "File"}} verifycap</th><td><tt>{{.VerifyCap}}</tt></td></tr>
  </table></li>
  <li><a href="?t=json">JSON</a></li>
  {{if .RawLink}}<li>Raw data as <a href="{{.RawLink}}">text/plain</a></li>{{end}}
</ul>
`)

// infoData is what the t=info page shows of a node.
type infoData struct {
	Kind                         string // "File" (the default) or "Directory"
	Title, Type, SI, Size        string
	WriteCap, ReadCap, VerifyCap string
	RawLink                      string
}

var uploadedPage = page(`Tahoe-LAFS - File Uploaded`, `
<h1>Uploading File... done!</h1>

<h2>Upload Results:</h2>
<ul>
  <li>URI: <tt><span>{{.Cap}}</span></tt></li>
  <li>Download link: <a href="{{.Link}}">/uri/{{.Cap}}</a></li>
  <li>File Size: {{.Size}} bytes</li>
  <li>Total: {{.Elapsed}}</li>
</ul>

<div>Return to the <a href="/">Welcome Page</a></div>
`)

// uploadedData is what the upload results page shows.
type uploadedData struct {
	Cap     string
	Link    string
	Size    int64
	Elapsed string
}

// redirect sends Twisted's redirectTo: a 302 to location with a small HTML
// page that links to it.
func redirect(w http.ResponseWriter, code int, location string) {
	esc := template.HTMLEscapeString(location)
	w.Header().Set("Location", location)
	writeBody(w, code, "text/html; charset=utf-8", []byte(fmt.Sprintf(`
<html>
    <head>
        <meta http-equiv="refresh" content="0;URL=%s">
    </head>
    <body bgcolor="#FFFFFF" text="#000000">
    <a href="%s">click here</a>
    </body>
</html>
`, esc, esc)))
}
