package webapi

import (
	"errors"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/client"
	"github.com/lafs/lafs/dirnode"
)

// fileNode is a file named by its cap, and maybe reached through a
// directory: Tahoe's FileNodeHandler. For an immutable file (CHK or LIT)
// everything but the contents comes from the cap alone, so t=json, t=uri
// and HEAD work even when no share can be found. A mutable file (SDMF or
// MDMF) is read from the grid for its size and contents.
type fileNode struct {
	*node
	mutable bool
	size    uint64 // immutable files only
	si      string // base32 storage index; "" for LIT, which has none
}

// asFile returns the file node n is, if it is a file.
func asFile(n *node) (*fileNode, bool) {
	switch x := n.cap.(type) {
	case *cap.CHK:
		return &fileNode{node: n, size: x.Size, si: x.StorageIndex().String()}, true
	case *cap.LIT:
		return &fileNode{node: n, size: uint64(len(x.Data))}, true
	case *cap.MutableWrite:
		return &fileNode{node: n, mutable: true, si: x.StorageIndex().String()}, true
	case *cap.MutableRead:
		return &fileNode{node: n, mutable: true, si: x.StorageIndex().String()}, true
	}
	return nil, false
}

// serveNamed serves /file/$CAP/NAME and /named/$CAP/NAME: a download URL
// whose last segment names the file, for tools such as wget.
func (h *handler) serveNamed(w http.ResponseWriter, q *request, segs []string) error {
	get := q.Method == http.MethodGet || q.Method == http.MethodHead
	switch {
	case len(segs) == 0 && get:
		return &webError{http.StatusNotFound, "/file must be followed by a file-cap and a name"}
	case len(segs) == 0:
		return unsupportedMethod(q, "GET", "HEAD")
	case !get:
		return &pageError{http.StatusBadRequest, "Error", "/file can only be used with GET or HEAD", ""}
	}
	c, err := cap.Parse(segs[0])
	if err == nil {
		if fn, ok := asFile(&node{cap: c}); ok {
			name := ""
			if len(segs) > 1 {
				name = segs[len(segs)-1]
			}
			return h.serveFile(w, q, fn, name)
		}
	}
	return &pageError{http.StatusBadRequest, "Error", pyBytesRepr(segs[0]) + " is not a file-cap", ""}
}

// fileChildError answers a path that goes on below a file.
func fileChildError(q *request, name string) error {
	if shouldCreateIntermediates(q) {
		return &pageError{http.StatusConflict, "Cannot create directory " + quoteOutput(name) +
			", because its parent is a file, not a directory", "no details", ""}
	}
	return &pageError{http.StatusBadRequest, "Files have no children named " + quoteOutput(name), "no details", ""}
}

// errExistingChild is Tahoe's ExistingChildError (replace=false).
var errExistingChild = &webError{http.StatusConflict, existingChildText}

// serveFile dispatches on the method, as Tahoe's FileNodeHandler. name is
// the file's name for Content-Type and Content-Disposition ("" if none:
// then the name of its link, if any).
func (h *handler) serveFile(w http.ResponseWriter, q *request, fn *fileNode, name string) error {
	if name == "" {
		name = fn.name
	}
	switch q.Method {
	case http.MethodGet:
		return h.getFile(w, q, fn, name)
	case http.MethodHead:
		if t := q.t(); t != "" {
			return badRequest("HEAD file: bad t=%s", pyBytesRepr(t))
		}
		return h.download(w, q, fn, name)
	case http.MethodPut:
		return h.putFile(w, q, fn)
	case http.MethodPost:
		return h.postFile(w, q, fn)
	case http.MethodDelete:
		return h.deleteChild(w, q, fn.node, "DELETE of a file cap: only a directory entry can be unlinked (DELETE /uri/$DIRCAP/NAME)")
	}
	return unsupportedMethod(q, "GET", "HEAD", "PUT", "POST", "DELETE")
}

// deleteChild is DELETE on a node reached through a directory: its link
// is removed and its cap returned. A node named by its cap alone has no
// link to remove.
func (h *handler) deleteChild(w http.ResponseWriter, q *request, n *node, noParent string) error {
	if n.parent == nil {
		return badRequest("%s", noParent)
	}
	e, err := n.parent.Delete(q.Context(), n.name)
	if errors.Is(err, client.ErrNoChild) {
		return noSuchChild(n.name)
	}
	if err != nil {
		return err
	}
	c := e.Cap()
	if c == nil {
		c = n.cap
	}
	writeCapResult(w, http.StatusOK, capString(c))
	return nil
}

// writeCapResult sends a cap as Tahoe sends the result of a change:
// text/html, no newline.
func writeCapResult(w http.ResponseWriter, code int, c string) {
	writeBody(w, code, "text/html", []byte(c))
}

func capString(c cap.Cap) string {
	if c == nil {
		return ""
	}
	return c.String()
}

// fixedOutputs are the t= values whose answer never changes for an
// immutable file, so they carry an ETag.
var fixedOutputs = map[string]bool{"": true, "json": true, "uri": true, "readonly-uri": true}

func (h *handler) getFile(w http.ResponseWriter, q *request, fn *fileNode, name string) error {
	t := q.t()
	if fixedOutputs[t] && fn.si != "" && !fn.mutable {
		etag := fn.si + "-" + t
		w.Header().Set("ETag", etag)
		if etagMatches(lastHeader(q.Request, "If-None-Match"), etag) {
			w.WriteHeader(http.StatusNotModified)
			return nil
		}
	}
	switch t {
	case "":
		return h.download(w, q, fn, name)
	case "json":
		j, err := h.fileJSON(q, fn)
		if err != nil {
			return err
		}
		return writeJSON(w, "text/plain", []any{"filenode", j})
	case "info":
		d, err := h.fileInfo(q, fn)
		if err != nil {
			return err
		}
		return h.renderHTML(w, infoPage, d)
	case "uri":
		writeBody(w, http.StatusOK, "text/plain", []byte(fn.cap.String()))
		return nil
	case "readonly-uri":
		writeBody(w, http.StatusOK, "text/plain", []byte(fn.cap.ReadOnly().String()))
		return nil
	}
	return badRequest("GET file: bad t=%s", t)
}

// etagMatches is Twisted's setETag test: If-None-Match holds the tag,
// unquoted as Tahoe sends it, or "*", among its white-space separated words.
func etagMatches(header, etag string) bool {
	for _, tag := range strings.FieldsFunc(header, func(r rune) bool { return strings.ContainsRune(asciiSpace, r) }) {
		if tag == etag || tag == "*" {
			return true
		}
	}
	return false
}

// fileJSONBody is a file's t=json, its keys in Tahoe's order. A LIT file
// says "CHK" and has no verify cap; a mutable file whose size is not
// known (it cannot be read) has no size, as in Tahoe.
type fileJSONBody struct {
	Mutable   bool            `json:"mutable"`
	Format    string          `json:"format"`
	Size      *uint64         `json:"size,omitempty"`
	ROURI     string          `json:"ro_uri"`
	RWURI     string          `json:"rw_uri,omitempty"`
	VerifyURI string          `json:"verify_uri,omitempty"`
	Metadata  *dirnode.Object `json:"metadata,omitempty"`
}

// fileJSON is the t=json of a file: from the cap, and for a mutable file
// the size of its newest version. A file reached through a directory
// shows the metadata of its link.
func (h *handler) fileJSON(q *request, fn *fileNode) (fileJSONBody, error) {
	j := fileJSONBody{Format: "CHK", ROURI: fn.cap.ReadOnly().String(), Metadata: fn.md}
	if fn.parent != nil && j.Metadata == nil {
		j.Metadata = &dirnode.Object{}
	}
	if !fn.cap.IsReadOnly() {
		j.RWURI = fn.cap.String()
	}
	if v := fn.cap.Verifier(); v != nil {
		j.VerifyURI = v.String()
	}
	if !fn.mutable {
		size := fn.size
		j.Size = &size
		return j, nil
	}
	j.Mutable = true
	m, err := h.c.OpenMutable(q.Context(), fn.cap)
	switch {
	case errors.Is(err, client.ErrMutableNoShares) || errors.Is(err, client.ErrMutableNotEnoughShares):
		j.Format = formatOfCap(fn.cap)
		return j, nil
	case err != nil:
		return j, err
	}
	size := uint64(m.Size())
	j.Size, j.Format = &size, m.Format().String()
	return j, nil
}

// formatOfCap is the format a mutable file's cap names.
func formatOfCap(c cap.Cap) string {
	switch x := c.(type) {
	case *cap.MutableWrite:
		return x.Format.String()
	case *cap.MutableRead:
		return x.Format.String()
	}
	return "CHK"
}

// fileInfo fills the t=info page of a file.
func (h *handler) fileInfo(q *request, fn *fileNode) (infoData, error) {
	d := infoData{Type: "immutable LIT file", SI: "None", Size: strconv.FormatUint(fn.size, 10), ReadCap: fn.cap.ReadOnly().String()}
	switch {
	case fn.mutable:
		d.Type, d.SI, d.Size = "mutable file ("+strings.ToLower(formatOfCap(fn.cap))+")", fn.si, "?"
		if !fn.cap.IsReadOnly() {
			d.WriteCap = fn.cap.String()
		}
		if m, err := h.c.OpenMutable(q.Context(), fn.cap); err == nil {
			d.Size = strconv.FormatInt(m.Size(), 10)
		} else if !errors.Is(err, client.ErrMutableNoShares) && !errors.Is(err, client.ErrMutableNotEnoughShares) {
			return d, err
		}
	case fn.si != "":
		d.Type, d.SI = "immutable file", fn.si
	}
	d.Title = "More Info for " + d.Type
	if fn.si != "" {
		d.Title += " (SI=" + fn.si[:6] + ")"
	}
	if v := fn.cap.Verifier(); v != nil {
		d.VerifyCap = v.String()
	}
	// A link relative to the page, so that it works behind a proxy that
	// mounts the web API below some path.
	root := strings.TrimSuffix(strings.Repeat("../", len(q.segs)-1), "/")
	d.RawLink = root + "/file/" + pyQuote(fn.cap.String(), "/") + "/@@named=/raw.txt"
	return d, nil
}

// offsetArg is Tahoe's parse_offset_arg: an integer, or absent.
func offsetArg(q *request) (int64, bool, error) {
	v, given := q.arg("offset")
	if !given {
		return 0, false, nil
	}
	n, ok := pyInt(v)
	if !ok {
		// Tahoe: 500, a ValueError exception page.
		return 0, false, badRequest("invalid offset= argument: %s", pyStrRepr(v))
	}
	switch {
	case n.IsInt64():
		return n.Int64(), true, nil
	case n.Sign() < 0:
		return -1, true, nil
	}
	return math.MaxInt64, true, nil // past the end of any file
}

// putFile is PUT on a file: a mutable file is overwritten (or, with
// offset=, written at that offset); an immutable file reached through a
// directory is replaced by a new file linked under its name; t=uri links
// another cap there.
func (h *handler) putFile(w http.ResponseWriter, q *request, fn *fileNode) error {
	replace, err := replaceArg(q.argOr("replace", "true"))
	if err != nil {
		return err
	}
	offset, hasOffset, err := offsetArg(q)
	if err != nil {
		return err
	}
	switch t := q.t(); t {
	case "":
		if replace == client.ReplaceNone {
			return errExistingChild
		}
		if fn.mutable {
			if fn.cap.IsReadOnly() {
				return badRequest("PUT to a mutable file: replace or update requested with read-only cap")
			}
			if hasOffset && offset < 0 {
				return badRequest("PUT to a mutable file: Invalid offset")
			}
			if err := h.writeMutable(q, fn, q.Body, offset, hasOffset); err != nil {
				return err
			}
			writeCapResult(w, http.StatusOK, fn.cap.String())
			return nil
		}
		if hasOffset {
			return badRequest("PUT to a file: append operation invoked on an immutable cap")
		}
		if fn.parent == nil {
			return badRequest("PUT to an immutable file: it cannot be changed; to replace a file in a directory, PUT to /uri/$DIRCAP/NAME")
		}
		return h.replaceWithBody(w, q, fn.node, replace, http.StatusOK)
	case "uri":
		if replace == client.ReplaceNone {
			return errExistingChild
		}
		if fn.parent == nil {
			return badRequest("PUT ?t=uri to a file cap: only a directory entry can be replaced (PUT /uri/$DIRCAP/NAME?t=uri)")
		}
		return h.replaceWithCap(w, q, fn.node, replace)
	default:
		return badRequest("PUT to a file: bad t=%s", t)
	}
}

// replaceArg is Tahoe's parse_replace_arg: a boolean or "only-files".
func replaceArg(v string) (client.Replace, error) {
	if strings.ToLower(v) == "only-files" {
		return client.ReplaceOnlyFiles, nil
	}
	b, err := parseBool(v)
	if err != nil {
		return 0, badRequest("invalid replace= argument: %s", pyStrRepr(v))
	}
	if !b {
		return client.ReplaceNone, nil
	}
	return client.ReplaceAny, nil
}

// postFile is POST on a file: t=upload replaces the contents of a mutable
// file, or an immutable file reached through a directory, with the form's
// "file" field.
func (h *handler) postFile(w http.ResponseWriter, q *request, fn *fileNode) error {
	if err := h.readForm(q, true); err != nil {
		return err
	}
	replace, err := q.boolArg("replace", "true")
	if err != nil {
		return err
	}
	switch t := q.t(); t {
	case "check":
		return h.postCheck(w, q, fn.cap)
	case "upload":
		if fn.mutable {
			if fn.cap.IsReadOnly() {
				return badRequest("POST to a mutable file: replace requested with read-only cap")
			}
			f, err := formFile(q)
			if err != nil {
				return err
			}
			if err := h.writeMutable(q, fn, f, 0, false); err != nil {
				return err
			}
			return h.doneWith(w, q, fn.cap.String())
		}
		if !replace {
			return errExistingChild
		}
		if fn.parent == nil {
			return badRequest("POST to an immutable file: it cannot be changed; to replace a file in a directory, POST to the directory")
		}
		return h.replaceWithForm(w, q, fn.node, client.ReplaceAny)
	default:
		return badRequest("POST to file: bad t=%s", t)
	}
}

// formFile is the form's "file" field, which a form upload needs.
func formFile(q *request) (*io.SectionReader, error) {
	if q.form == nil || q.form.file == nil {
		return nil, badRequest(`this upload needs a multipart/form-data body with a "file" field holding the file`)
	}
	return io.NewSectionReader(q.form.file, 0, q.form.size), nil
}

// doneWith answers a POST that changed something: a redirect to
// when_done= if given (Tahoe's handle_when_done, which keeps the URL as
// given), else the result (a cap) as text/html.
func (h *handler) doneWith(w http.ResponseWriter, q *request, result string) error {
	if whenDone, _ := q.arg("when_done"); whenDone != "" {
		redirect(w, http.StatusFound, whenDone)
		return nil
	}
	writeCapResult(w, http.StatusOK, result)
	return nil
}

// contentLength converts a file size for the download path, refusing the
// sizes no real file has.
func contentLength(size uint64) (int64, error) {
	if size > math.MaxInt64 {
		return 0, badRequest("the cap names a file of %d bytes, more than any file can hold", size)
	}
	return int64(size), nil
}
