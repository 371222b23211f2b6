package webapi

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/dirnode"
)

// The directory page (GET of a directory without t=): Tahoe's
// DirectoryAsHTML, plainer. Its title is Tahoe's, which scripts look for.
var dirPage = page(`Tahoe-LAFS - Directory SI={{.SI}} ({{.Mode}})`, `
<h1>Tahoe-LAFS Directory SI=<span>{{.SI}}</span>{{if ne .Mode "modifiable"}} ({{.Mode}}){{end}}</h1>
<div><a href="{{.Root}}/">Return to Welcome page</a></div>
{{if .ROLink}}<div><a href="{{.ROLink}}">Read-Only Version</a></div>{{end}}
{{if .Error}}<div>
  <p>Error reading directory:</p>
  <p>{{.Error}}</p>
</div>{{else}}
<table>
  <tr><th>Type</th><th>Filename</th><th>Size</th><th>Times</th><th></th><th></th><th></th></tr>
  {{range .Children}}<tr>
    <td>{{.Type}}</td>
    <td>{{if .Link}}<a href="{{.Link}}"{{if .NoReferrer}} rel="noreferrer"{{end}}>{{.Name}}</a>{{else}}{{.Name}}{{end}}</td>
    <td>{{.Size}}</td>
    <td>{{range $i, $t := .Times}}{{if $i}}<br />{{end}}{{$t}}{{end}}</td>
    <td>{{if $.Writable}}<form action="{{$.Here}}" method="post">
      <input type="hidden" name="t" value="unlink" />
      <input type="hidden" name="name" value="{{.Name}}" />
      <input type="hidden" name="when_done" value="." />
      <input type="submit" value="unlink" name="unlink" />
    </form>{{else}}-{{end}}</td>
    <td>{{if $.Writable}}<form action="{{$.Here}}" method="get">
      <input type="hidden" name="t" value="rename-form" />
      <input type="hidden" name="name" value="{{.Name}}" />
      <input type="hidden" name="when_done" value="." />
      <input type="submit" value="rename/relink" name="rename" />
    </form>{{else}}-{{end}}</td>
    <td>{{if .Info}}<a href="{{.Info}}">More Info</a>{{end}}</td>
  </tr>
  {{else}}<tr><td colspan="7">This directory is empty.</td></tr>
  {{end}}
</table>
{{end}}
{{if not .Writable}}<div>No upload forms: directory is read-only</div>
{{else if .Error}}<div>No upload forms: directory is unreadable</div>
{{else}}
<form action="{{.Here}}" method="post" enctype="multipart/form-data"><fieldset>
  <legend>Create a new directory in this directory</legend>
  <input type="hidden" name="t" value="mkdir" />
  <input type="hidden" name="when_done" value="." />
  New directory name: <input type="text" name="name" />
  <label><input type="radio" name="format" value="sdmf" checked="checked" /> SDMF</label>
  <label><input type="radio" name="format" value="mdmf" /> MDMF</label>
  <input type="submit" value="Create" />
</fieldset></form>
<form action="{{.Self}}" method="post" enctype="multipart/form-data"><fieldset>
  <legend>Upload a file to this directory</legend>
  <input type="hidden" name="t" value="upload" />
  <input type="hidden" name="when_done" value="{{.Self}}" />
  Choose a file to upload: <input type="file" name="file" />
  <label><input type="radio" name="format" value="chk" checked="checked" /> Immutable</label>
  <label><input type="radio" name="format" value="sdmf" /> SDMF</label>
  <label><input type="radio" name="format" value="mdmf" /> MDMF</label>
  <input type="submit" value="Upload" />
</fieldset></form>
<form action="{{.Here}}" method="post" enctype="multipart/form-data"><fieldset>
  <legend>Add a link to a file or directory which is already in Tahoe-LAFS.</legend>
  <input type="hidden" name="t" value="uri" />
  <input type="hidden" name="when_done" value="." />
  New child name: <input type="text" name="name" />
  URI of new child: <input type="text" name="uri" />
  <input type="submit" value="Attach" />
</fieldset></form>
{{end}}
`)

// dirPageData is what the directory page shows.
type dirPageData struct {
	SI, Mode         string
	Root, Here, Self string // links: the welcome page, this directory, this URL
	ROLink           string
	Error            string
	Writable         bool
	Children         []dirPageChild
}

// dirPageChild is one row of the directory page.
type dirPageChild struct {
	Type, Name, Size string
	Link, Info       string
	NoReferrer       bool
	Times            []string
}

// dirPage renders the directory page. A directory that cannot be read
// still gets its page (200), saying why, as in Tahoe.
func (h *handler) dirPage(w http.ResponseWriter, q *request, dn *dirNode) error {
	root := strings.TrimSuffix(strings.Repeat("../", len(q.segs)-1), "/")
	if root == "" {
		root = "."
	}
	d := dirPageData{
		SI:       abbrevSI(dn.cap, 5),
		Root:     root,
		Here:     root + "/uri/" + pyQuote(dn.cap.String(), "/") + "/",
		Self:     q.RequestURI,
		Writable: !dn.dir.IsReadOnly(),
	}
	switch {
	case !dn.dir.IsMutable():
		d.Mode = "immutable"
	case dn.dir.IsReadOnly():
		d.Mode = "read-only"
	default:
		d.Mode = "modifiable"
		d.ROLink = root + "/uri/" + pyQuote(dn.cap.ReadOnly().String(), "/") + "/"
	}
	entries, err := dn.dir.List(q.Context())
	if err != nil {
		code, text := classify(err)
		if code == 0 {
			return err
		}
		d.Error = text
	}
	for _, e := range entries {
		d.Children = append(d.Children, dirChildRow(root, d.Here, dn, e))
	}
	return h.renderHTML(w, dirPage, d)
}

// dirChildRow describes one child as Tahoe's _child_slots does.
func dirChildRow(root, here string, dn *dirNode, e dirnode.Entry) dirPageChild {
	row := dirPageChild{Name: e.Name, Times: linkTimes(e.Metadata)}
	c := e.Cap()
	quoted := pyQuote(capString(c), "")
	switch x := c.(type) {
	case *cap.MutableWrite, *cap.MutableRead:
		row.Type, row.Size, row.NoReferrer = "SSK", "?", true
		row.Link = root + "/file/" + quoted + "/@@named=/" + pyQuote(e.Name, "")
		row.Info = root + "/uri/" + quoted + "?t=info"
	case *cap.CHK, *cap.LIT:
		size := uint64(0)
		if chk, ok := x.(*cap.CHK); ok {
			size = chk.Size
		} else {
			size = uint64(len(x.(*cap.LIT).Data))
		}
		row.Type, row.Size, row.NoReferrer = "FILE", strconv.FormatUint(size, 10), true
		row.Link = root + "/file/" + quoted + "/@@named=/" + pyQuote(e.Name, "")
		row.Info = root + "/uri/" + quoted + "?t=info"
	default:
		if e.Kind() == dirnode.KindDir {
			switch {
			case !c.IsMutable():
				row.Type = "DIR-IMM"
			case c.IsReadOnly():
				row.Type = "DIR-RO"
			default:
				row.Type = "DIR"
			}
			row.Size = "-"
			row.Link = root + "/uri/" + pyQuote(c.String(), "/") + "/"
			row.Info = root + "/uri/" + quoted + "/?t=info"
			break
		}
		switch {
		case e.Write != nil:
			row.Type = "?"
		case !dn.dir.IsMutable() || strings.HasPrefix(capString(e.Read), cap.ImmutablePrefix):
			row.Type = "?-IMM"
		default:
			row.Type = "?-RO"
		}
		// Through the directory, which holds both of its caps.
		row.Size = "-"
		row.Info = here + pyQuote(e.Name, "") + "?t=info"
	}
	return row
}

// linkTimes renders the link's times as Tahoe's directory page does: "lcr:"
// and "lmo:" from the tahoe metadata, or the pre-1.4 "c:" and "m:".
func linkTimes(md *dirnode.Object) []string {
	var out []string
	sys, _ := md.Get(dirnode.MetaTahoe)
	so, _ := sys.(*dirnode.Object)
	if t, ok := timeValue(so, dirnode.MetaLinkCreated); ok {
		out = append(out, "lcr: "+t)
	} else if t, ok := timeValue(md, "ctime"); ok {
		out = append(out, "c: "+t)
	}
	if t, ok := timeValue(so, dirnode.MetaLinkModified); ok {
		out = append(out, "lmo: "+t)
	} else if t, ok := timeValue(md, "mtime"); ok {
		out = append(out, "m: "+t)
	}
	return out
}

// timeValue renders a metadata time (float seconds) in local time.
func timeValue(o *dirnode.Object, key string) (string, bool) {
	v, ok := o.Get(key)
	if !ok {
		return "", false
	}
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case interface{ Float64() (float64, error) }:
		var err error
		if f, err = x.Float64(); err != nil {
			return "", false
		}
	default:
		return "", false
	}
	if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1e12 {
		return "", false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).Format("2006-01-02 15:04:05"), true
}

// renameFormPage is the form of t=rename-form.
var renameFormPage = page(`Directory SI={{.SI}}`, `
<h2>Rename in directory SI={{.SI}}{{if .ReadOnly}} (readonly!){{end}}:</h2>
<form action="." method="post" enctype="multipart/form-data"><fieldset>
  <legend>Rename child</legend>
  <input type="hidden" name="t" value="rename" />
  <input type="hidden" name="when_done" value="." />
  Rename child: <input type="text" name="from_name" readonly="true" value="{{.Name}}" /><br />
  to name: <input type="text" name="to_name" /><br />
  <input type="submit" value="rename" />
</fieldset></form>
`)

// renameFormData is what the rename form shows.
type renameFormData struct {
	SI       string
	ReadOnly bool
	Name     string
}
