package webapi

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/client"
	"github.com/lafs/lafs/dirnode"
)

// dirNode is a directory named by its cap and maybe reached through
// another: Tahoe's DirectoryNodeHandler.
type dirNode struct {
	*node
	dir *client.Dir
}

// serveDir dispatches on the method.
func (h *handler) serveDir(w http.ResponseWriter, q *request, dn *dirNode) error {
	switch q.Method {
	case http.MethodGet, http.MethodHead:
		return h.getDir(w, q, dn)
	case http.MethodPut:
		return h.putDir(w, q, dn)
	case http.MethodPost:
		return h.postDir(w, q, dn)
	case http.MethodDelete:
		// Tahoe: 500 (an AssertionError) for a directory named by its cap.
		return h.deleteChild(w, q, dn.node, "DELETE of a directory cap: only a directory entry can be unlinked (DELETE /uri/$DIRCAP/NAME)")
	}
	return unsupportedMethod(q, "GET", "HEAD", "PUT", "POST", "DELETE")
}

// getDir is GET (and HEAD) on a directory: its HTML page, or t=json,
// t=info, t=uri, t=readonly-uri, t=rename-form. An immutable directory's
// answers never change, so they carry Tahoe's ETag, DIR:<si>-<t>.
func (h *handler) getDir(w http.ResponseWriter, q *request, dn *dirNode) error {
	t := q.t()
	if fixedOutputs[t] && !dn.dir.IsMutable() {
		if si, ok := cap.StorageIndex(dn.cap); ok {
			etag := "DIR:" + si.String() + "-" + t
			w.Header().Set("ETag", etag)
			if etagMatches(lastHeader(q.Request, "If-None-Match"), etag) {
				w.WriteHeader(http.StatusNotModified)
				return nil
			}
		}
	}
	switch t {
	case "":
		return h.dirPage(w, q, dn)
	case "json":
		entries, err := dn.dir.List(q.Context())
		if err != nil {
			code, text := classify(err)
			if code == 0 {
				return err
			}
			writeBody(w, code, "text/html", errorJSON(text))
			return nil
		}
		b, err := dirnode.JSON(dn.cap, entries)
		if err != nil {
			return err
		}
		writeBody(w, http.StatusOK, "text/plain", b)
		return nil
	case "info":
		return h.renderHTML(w, infoPage, h.dirInfo(q, dn))
	case "uri":
		writeBody(w, http.StatusOK, "text/plain", []byte(dn.cap.String()))
		return nil
	case "readonly-uri":
		writeBody(w, http.StatusOK, "text/plain", []byte(dn.cap.ReadOnly().String()))
		return nil
	case "rename-form":
		return h.renderHTML(w, renameFormPage, renameFormData{
			SI: abbrevSI(dn.cap, 5), ReadOnly: dn.dir.IsReadOnly(), Name: q.argOr("name", ""),
		})
	}
	return badRequest("GET directory: bad t=%s", t)
}

// abbrevSI is the first n characters of the base32 storage index of c, as
// Tahoe abbreviates it in titles; "LIT" for a DIR2-LIT, which has none.
func abbrevSI(c cap.Cap, n int) string {
	si, ok := cap.StorageIndex(c)
	if !ok {
		return "LIT"
	}
	return si.String()[:n]
}

// dirInfo fills the t=info page of a directory.
func (h *handler) dirInfo(q *request, dn *dirNode) infoData {
	d := infoData{Kind: "Directory", Type: "directory", SI: "None", Size: "?", ReadCap: dn.cap.ReadOnly().String()}
	if !dn.dir.IsMutable() {
		d.Type = "immutable directory"
	}
	d.Title = "More Info for " + d.Type
	if si, ok := cap.StorageIndex(dn.cap); ok {
		d.SI = si.String()
		d.Title += " (SI=" + d.SI[:6] + ")"
	}
	if !dn.cap.IsReadOnly() {
		d.WriteCap = dn.cap.String()
	}
	if v := dn.cap.Verifier(); v != nil {
		d.VerifyCap = v.String()
	}
	if f, ok := dn.cap.(*cap.Dir).File.(*cap.CHK); ok {
		d.Size = strconv.FormatUint(f.Size, 10)
	}
	return d
}

// putDir is PUT on a directory: t=mkdir (the directory was made, if
// missing, while walking the path) and t=uri (another cap replaces the
// link).
func (h *handler) putDir(w http.ResponseWriter, q *request, dn *dirNode) error {
	t := q.t()
	replace, err := replaceArg(q.argOr("replace", "true"))
	if err != nil {
		return err
	}
	switch t {
	case "mkdir":
		writeBody(w, http.StatusOK, "text/plain", []byte(dn.cap.String()))
		return nil
	case "uri":
		if replace == client.ReplaceNone {
			return errExistingChild
		}
		if dn.parent == nil {
			return badRequest("PUT ?t=uri to a directory cap: only a directory entry can be replaced (PUT /uri/$DIRCAP/NAME?t=uri)")
		}
		return h.replaceWithCap(w, q, dn.node, replace)
	}
	return badRequest("PUT to a directory")
}

// rawBodyOps are the POST operations whose body is JSON, not a form.
var rawBodyOps = map[string]bool{"mkdir-with-children": true, "mkdir-immutable": true, "set_children": true, "set-children": true}

// postDir is POST on a directory: Tahoe's render_POST, with its
// arguments in the query or in a form. Every operation that succeeds
// redirects to when_done= if it is given.
func (h *handler) postDir(w http.ResponseWriter, q *request, dn *dirNode) error {
	if qt, given := q.queryArg("t"); !given || !rawBodyOps[strings.Trim(qt, asciiSpace)] {
		if err := h.readForm(q, true); err != nil {
			return err
		}
	}
	ctx := q.Context()
	switch t := q.t(); t {
	case "mkdir", "mkdir-with-children", "mkdir-immutable":
		name := q.argOr("name", "")
		if name == "" {
			// The directory itself was made while walking the path.
			return h.doneWith(w, q, dn.cap.String())
		}
		if strings.Contains(name, "/") {
			return badRequest("name= may not contain a slash")
		}
		replace := client.ReplaceNone // Tahoe: mkdir-with-children and mkdir-immutable never replace
		if t == "mkdir" {
			r, err := q.boolArg("replace", "true")
			if err != nil {
				return err
			}
			if r {
				replace = client.ReplaceAny
			}
		}
		if err := dn.dir.Writable(); err != nil {
			return err
		}
		sub, err := h.makeSubdir(q, dn.dir, name, t, replace)
		if err != nil {
			return err
		}
		return h.doneWith(w, q, sub.String())
	case "upload":
		return h.postUpload(w, q, dn)
	case "uri":
		childCap, _ := q.arg("uri")
		if childCap == "" {
			return badRequest("set-uri requires a uri")
		}
		name, _ := q.arg("name")
		if name == "" {
			return badRequest("set-uri requires a name")
		}
		replace, err := replaceArg(q.argOr("replace", "true"))
		if err != nil {
			return err
		}
		e, err := dirnode.NewEntry(name, childCap, "", nil, false)
		if err != nil {
			return &childError{name, err}
		}
		if err := dn.dir.SetChildren(ctx, []dirnode.Entry{e}, replace); err != nil {
			return err
		}
		return h.doneWith(w, q, childCap)
	case "delete", "unlink":
		name := q.argOr("name", "")
		if _, err := dn.dir.Delete(ctx, name); errors.Is(err, client.ErrNoChild) {
			return noSuchChild(name)
		} else if err != nil {
			return err
		}
		return h.doneWith(w, q, "thing unlinked")
	case "rename":
		if _, given := q.arg("to_dir"); given {
			return badRequest("to_dir= is not valid for rename")
		}
		if _, given := q.arg("to_name"); !given {
			return badRequest("to_name= is required for rename")
		}
		return h.relink(w, q, dn)
	case "relink":
		return h.relink(w, q, dn)
	case "set_children", "set-children":
		replace, err := replaceArg(q.argOr("replace", "true"))
		if err != nil {
			return err
		}
		kids, err := childrenJSON(q, false, false)
		if err != nil {
			return err
		}
		if err := dn.dir.SetChildren(ctx, kids, replace); err != nil {
			return err
		}
		return h.doneWith(w, q, "Okay so I did it.")
	case "check":
		return h.postCheck(w, q, dn.cap)
	case "start-deep-check", "start-manifest", "start-deep-size", "start-deep-stats":
		return h.startOperation(w, q, dn, t)
	case "stream-manifest", "stream-deep-check":
		return h.streamDeep(w, q, dn, t)
	default:
		return badRequest("POST to a directory with bad t=%s", t)
	}
}

// makeSubdir makes the directory of a t=mkdir, t=mkdir-with-children or
// t=mkdir-immutable (children from the JSON body) and links it in dir
// under name; it returns its cap. Mutable ones have the format of
// format= (the client's default when none, or CHK).
func (h *handler) makeSubdir(q *request, dir *client.Dir, name, t string, replace client.Replace) (cap.Cap, error) {
	ctx := q.Context()
	format, err := getFormat(q, "")
	if err != nil {
		return nil, err
	}
	mf, ok := mutableFormat(format)
	if !ok {
		mf = h.c.MutableFormat()
	}
	var sub *client.Dir
	switch t {
	case "mkdir":
		sub, err = dir.Mkdir(ctx, name, mf, replace)
	case "mkdir-with-children":
		var kids []dirnode.Entry
		if kids, err = childrenJSON(q, true, false); err != nil {
			return nil, err
		}
		sub, err = dir.MkdirWithChildren(ctx, name, mf, kids, replace)
	case "mkdir-immutable":
		var kids []dirnode.Entry
		if kids, err = childrenJSON(q, true, true); err != nil {
			return nil, err
		}
		sub, err = dir.MkdirImmutable(ctx, name, kids, replace)
	}
	if err != nil {
		return nil, err
	}
	return sub.Cap(), nil
}

// postUpload is POST ?t=upload to a directory: the form's file is stored
// under name= (or the file's own name) as POST ?t=upload to that child
// would: a new child, a new version of a mutable one, or a replacement of
// an immutable one.
func (h *handler) postUpload(w http.ResponseWriter, q *request, dn *dirNode) error {
	if q.form == nil || q.form.file == nil {
		// Tahoe: 500, a KeyError exception page.
		return badRequest(`POST ?t=upload needs a multipart/form-data body with a "file" field holding the file`)
	}
	name, _ := q.arg("name")
	if name == "" {
		name = q.form.filename
	}
	name = strings.Trim(name, asciiSpace)
	if name == "" {
		return badRequest("upload requires a name")
	}
	if strings.Contains(name, "/") {
		return badRequest("name= may not contain a slash")
	}
	e, err := dn.dir.Get(q.Context(), name)
	if errors.Is(err, client.ErrNoChild) {
		return h.servePlaceholder(w, q, &node{parent: dn.dir, name: dirnode.NFC(name)})
	}
	if err != nil {
		return err
	}
	return h.serveNode(w, q, &node{cap: e.Cap(), read: e.Read, parent: dn.dir, name: e.Name, md: e.Metadata})
}

// relink is t=relink (and t=rename): the child from_name moves to
// to_name (default: the same name) in to_dir (default: this directory),
// where to_dir is a directory cap, maybe followed by a path.
func (h *handler) relink(w http.ResponseWriter, q *request, dn *dirNode) error {
	ctx := q.Context()
	replace, err := replaceArg(q.argOr("replace", "true"))
	if err != nil {
		return err
	}
	from, given := q.arg("from_name")
	if !given {
		return badRequest("from_name= is required")
	}
	from = strings.Trim(from, asciiSpace)
	to, given := q.arg("to_name")
	if given {
		to = strings.Trim(to, asciiSpace)
	} else {
		to = from
	}
	if strings.Contains(from, "/") {
		return badRequest("from_name= may not contain a slash")
	}
	if strings.Contains(to, "/") {
		return badRequest("to_name= may not contain a slash")
	}
	dst := dn.dir
	if toDir, given := q.arg("to_dir"); given && (dn.cap.IsReadOnly() || toDir != dn.cap.String()) {
		toDir = strings.Trim(toDir, asciiSpace)
		root, path, _ := strings.Cut(toDir, "/")
		rc, err := cap.Parse(root)
		if err != nil {
			return badRequest("to_dir is not a directory")
		}
		rd, err := h.c.Dir(rc)
		if err != nil {
			return badRequest("to_dir is not a directory")
		}
		e, err := rd.Lookup(ctx, path)
		if err != nil {
			return err
		}
		if dst, err = h.c.Dir(e.Cap()); err != nil {
			return badRequest("to_dir is not a directory")
		}
	}
	if err := dn.dir.Move(ctx, from, dst, to, replace); errors.Is(err, client.ErrNoChild) {
		return noSuchChild(from)
	} else if err != nil {
		return err
	}
	return h.doneWith(w, q, "thing moved")
}
