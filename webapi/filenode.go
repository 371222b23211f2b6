package webapi

import (
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/lafs/lafs/cap"
)

// fileNode is an immutable file named by its cap, CHK or LIT: Tahoe's
// FileNodeHandler. Everything but the contents comes from the cap alone,
// so t=json, t=uri and HEAD work even when no share can be found.
type fileNode struct {
	cap  cap.Cap
	size uint64
	si   string // base32 storage index; "" for LIT, which has none
}

func asFile(c cap.Cap) (*fileNode, bool) {
	switch x := c.(type) {
	case *cap.CHK:
		return &fileNode{cap: x, size: x.Size, si: x.StorageIndex().String()}, true
	case *cap.LIT:
		return &fileNode{cap: x, size: uint64(len(x.Data))}, true
	}
	return nil, false
}

// serveCap serves /uri/$CAP and what lies below it.
func (h *handler) serveCap(w http.ResponseWriter, q *request, capStr string, rest []string) error {
	c, err := cap.Parse(capStr)
	if err == nil {
		if fn, ok := asFile(c); ok {
			if len(rest) > 0 {
				return fileChildError(q, rest[0])
			}
			return h.serveFile(w, q, fn, "")
		}
		switch c.(type) {
		case *cap.MutableWrite, *cap.MutableRead:
			return errMutable
		case *cap.Dir:
			return errDirectory
		}
	}
	if len(rest) > 0 {
		return errNoResource
	}
	return h.serveUnknown(w, q, c, err)
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
		if fn, ok := asFile(c); ok {
			name := ""
			if len(segs) > 1 {
				name = segs[len(segs)-1]
			}
			return h.serveFile(w, q, fn, name)
		}
		if _, ok := c.(*cap.MutableWrite); ok {
			return errMutable
		}
		if _, ok := c.(*cap.MutableRead); ok {
			return errMutable
		}
	}
	return &pageError{http.StatusBadRequest, "Error", pyBytesRepr(segs[0]) + " is not a file-cap", ""}
}

// fileChildError answers a path that goes on below a file.
func fileChildError(q *request, name string) error {
	if q.Method == http.MethodPut || q.Method == http.MethodPost {
		switch q.t() {
		case "delete", "rename", "rename-form", "check":
		default:
			return &pageError{http.StatusConflict, "Cannot create directory " + quoteOutput(name) +
				", because its parent is a file, not a directory", "no details", ""}
		}
	}
	return &pageError{http.StatusBadRequest, "Files have no children named " + quoteOutput(name), "no details", ""}
}

// errExistingChild is Tahoe's ExistingChildError (replace=false).
var errExistingChild = &webError{http.StatusConflict, "There was already a child by that name, and you asked me to not replace it."}

// serveFile dispatches on the method, as Tahoe's FileNodeHandler. name is
// the file's name for Content-Type and Content-Disposition ("" if none).
func (h *handler) serveFile(w http.ResponseWriter, q *request, fn *fileNode, name string) error {
	switch q.Method {
	case http.MethodGet:
		return h.getFile(w, q, fn, name)
	case http.MethodHead:
		if t := q.t(); t != "" {
			return badRequest("HEAD file: bad t=%s", pyBytesRepr(t))
		}
		return h.download(w, q, fn, name)
	case http.MethodPut:
		return putFile(q)
	case http.MethodPost:
		return h.postFile(q)
	case http.MethodDelete:
		return badRequest("DELETE of a file cap: only a directory entry can be unlinked (DELETE /uri/$DIRCAP/NAME)")
	}
	return unsupportedMethod(q, "GET", "HEAD", "PUT", "POST", "DELETE")
}

// fixedOutputs are the t= values whose answer never changes for an
// immutable file, so they carry an ETag.
var fixedOutputs = map[string]bool{"": true, "json": true, "uri": true, "readonly-uri": true}

func (h *handler) getFile(w http.ResponseWriter, q *request, fn *fileNode, name string) error {
	t := q.t()
	if fixedOutputs[t] && fn.si != "" {
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
		return writeJSON(w, "text/plain", []any{"filenode", fileJSON(fn)})
	case "info":
		return h.renderHTML(w, infoPage, fileInfo(q, fn))
	case "uri", "readonly-uri": // an immutable cap is its own read cap
		writeBody(w, http.StatusOK, "text/plain", []byte(fn.cap.String()))
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
// says "CHK" and has no verify cap, as in Tahoe.
type fileJSONBody struct {
	Mutable   bool   `json:"mutable"`
	Format    string `json:"format"`
	Size      uint64 `json:"size"`
	ROURI     string `json:"ro_uri"`
	VerifyURI string `json:"verify_uri,omitempty"`
}

func fileJSON(fn *fileNode) fileJSONBody {
	j := fileJSONBody{Format: "CHK", Size: fn.size, ROURI: fn.cap.String()}
	if v := fn.cap.Verifier(); v != nil {
		j.VerifyURI = v.String()
	}
	return j
}

// fileInfo fills the t=info page of a file.
func fileInfo(q *request, fn *fileNode) infoData {
	d := infoData{Type: "immutable LIT file", SI: "None", Size: strconv.FormatUint(fn.size, 10), ReadCap: fn.cap.String()}
	if fn.si != "" {
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
	return d
}

// putFile answers PUT on an immutable file: there is nothing to change.
func putFile(q *request) error {
	replace, err := replaceArg(q.argOr("replace", "true"))
	if err != nil {
		return err
	}
	offset, hasOffset := q.arg("offset")
	if hasOffset {
		if _, ok := pyInt(offset); !ok {
			return badRequest("invalid offset= argument: %s", pyStrRepr(offset))
		}
	}
	switch t := q.t(); t {
	case "", "uri":
		switch {
		case !replace:
			return errExistingChild
		case hasOffset && t == "":
			return badRequest("PUT to a file: append operation invoked on an immutable cap")
		}
		return badRequest("PUT to an immutable file: it cannot be changed; to replace a file in a directory, PUT to /uri/$DIRCAP/NAME")
	default:
		return badRequest("PUT to a file: bad t=%s", t)
	}
}

// replaceArg is Tahoe's parse_replace_arg: a boolean or "only-files".
func replaceArg(v string) (bool, error) {
	if strings.ToLower(v) == "only-files" {
		return true, nil
	}
	b, err := parseBool(v)
	if err != nil {
		return false, badRequest("invalid replace= argument: %s", pyStrRepr(v))
	}
	return b, nil
}

// postFile answers POST on an immutable file.
func (h *handler) postFile(q *request) error {
	if err := h.readForm(q, false); err != nil {
		return err
	}
	replace, err := q.boolArg("replace", "true")
	if err != nil {
		return err
	}
	switch t := q.t(); t {
	case "check":
		return notSupported("Checking (t=check) is")
	case "upload":
		if !replace {
			return errExistingChild
		}
		return badRequest("POST to an immutable file: it cannot be changed; to replace a file in a directory, POST to the directory")
	default:
		return badRequest("POST to file: bad t=%s", t)
	}
}

// serveUnknown answers for a cap of an unknown kind, a malformed cap or a
// verify cap, as Tahoe's UnknownNodeHandler: only t=json and t=info.
func (h *handler) serveUnknown(w http.ResponseWriter, q *request, c cap.Cap, perr error) error {
	switch q.Method {
	case http.MethodGet, http.MethodHead:
	default:
		return unsupportedMethod(q, "GET", "HEAD")
	}
	switch t := q.t(); t {
	case "info":
		return h.renderHTML(w, infoPage, infoData{Title: "More Info for unknown", Type: "unknown", SI: "None", Size: "?"})
	case "json":
		return writeJSON(w, "text/plain", []any{"unknown", unknownJSON(c, perr)})
	default:
		return badRequest("GET unknown URI type: can only do t=info and t=json, not t=%s.\n"+
			"Using a webapi server that supports a later version of Tahoe may help.", t)
	}
}

// unknownJSONBody is Tahoe's UnknownJSONMetadata for a cap given alone:
// empty unless the cap carries a "ro." or "imm." prefix, which makes it
// usable as a read cap.
type unknownJSONBody struct {
	ROURI   string `json:"ro_uri,omitempty"`
	Mutable *bool  `json:"mutable,omitempty"`
}

func unknownJSON(c cap.Cap, perr error) unknownJSONBody {
	var j unknownJSONBody
	if u, ok := c.(*cap.Unknown); ok && perr == nil {
		switch {
		case strings.HasPrefix(u.S, cap.ImmutablePrefix):
			no := false
			j.ROURI, j.Mutable = u.S, &no
		case strings.HasPrefix(u.S, cap.ReadOnlyPrefix):
			j.ROURI = u.S
		}
	}
	return j
}

// contentLength converts a file size for the download path, refusing the
// sizes no real file has.
func contentLength(size uint64) (int64, error) {
	if size > math.MaxInt64 {
		return 0, badRequest("the cap names a file of %d bytes, more than any file can hold", size)
	}
	return int64(size), nil
}
