package webapi

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/client"
	"github.com/lafs/lafs/httpbody"
)

// uriOnly is Tahoe's answer to an unknown t= on /uri.
const uriOnly = "/uri accepts only PUT, PUT?t=mkdir, POST?t=upload, and POST?t=mkdir"

// maxField bounds each form field other than the uploaded file.
const maxField = 1 << 20

// serveURI serves /uri (and /cap) and everything below it.
func (h *handler) serveURI(w http.ResponseWriter, q *request, segs []string) error {
	if len(segs) == 1 {
		switch q.Method {
		case http.MethodGet, http.MethodHead:
			return h.redirectToCap(w, q, segs[0])
		case http.MethodPut:
			return h.putUnlinked(w, q)
		case http.MethodPost:
			return h.postUnlinked(w, q)
		}
		return unsupportedMethod(q, "GET", "HEAD", "PUT", "POST")
	}
	if segs[1] == "" {
		// "/uri/?uri=CAP" and the like: Tahoe redirects to the path
		// without empty segments, whatever the method.
		var keep []string
		for _, s := range strings.Split(q.URL.EscapedPath(), "/") {
			if s != "" {
				keep = append(keep, s)
			}
		}
		loc := "/" + strings.Join(keep, "/")
		if q.URL.RawQuery != "" {
			loc += "?" + q.URL.RawQuery
		}
		redirect(w, http.StatusFound, loc)
		return nil
	}
	return h.serveCap(w, q, segs[1], segs[2:])
}

// redirectToCap is GET /uri?uri=$CAP: a redirect to /uri/$CAP keeping the
// other arguments, as the welcome page's forms need.
func (h *handler) redirectToCap(w http.ResponseWriter, q *request, prefix string) error {
	arg, ok := q.queryArg("uri")
	if !ok {
		return badRequest("GET /uri requires uri=")
	}
	if c, err := cap.Parse(arg); err != nil || isUnknown(c) {
		return badRequest("Invalid capability")
	}
	loc := baseURL(q) + "/" + prefix + "/" + pyQuote(arg, "/")
	sep := "?"
	for _, a := range q.query {
		if a.k != "uri" {
			loc += sep + pyQuote(a.k, queryKeySafe) + "=" + pyQuote(a.v, queryKeySafe+"=")
			sep = "&"
		}
	}
	redirect(w, http.StatusFound, loc)
	return nil
}

// queryKeySafe are the characters hyperlink leaves as they are in a query.
const queryKeySafe = "!$'()*,;:@/?"

func isUnknown(c cap.Cap) bool {
	_, ok := c.(*cap.Unknown)
	return ok
}

// baseURL is the scheme and host the request came to.
func baseURL(q *request) string {
	if q.TLS != nil {
		return "https://" + q.Host
	}
	return "http://" + q.Host
}

// getFormat is Tahoe's get_format: format= (CHK, SDMF, MDMF, any case),
// else mutable=true meaning SDMF, else def.
func getFormat(q *request, def string) (string, error) {
	arg, _ := q.arg("format")
	if arg == "" {
		mutable, err := q.boolArg("mutable", "false")
		if err != nil {
			return "", err
		}
		if mutable {
			return "SDMF", nil
		}
		return def, nil
	}
	switch f := strings.ToUpper(arg); f {
	case "CHK", "SDMF", "MDMF":
		return f, nil
	}
	return "", badRequest("Unknown format: %s, I know CHK, SDMF, MDMF", arg)
}

// putUnlinked is PUT /uri: the body becomes a new file, immutable (CHK
// or LIT) or with format= (or mutable=true) mutable; PUT /uri?t=mkdir
// makes an empty directory. The answer is the new cap (sent as
// text/html, as Tahoe does).
func (h *handler) putUnlinked(w http.ResponseWriter, q *request) error {
	switch q.t() {
	case "":
	case "mkdir":
		format, err := getFormat(q, "")
		if err != nil {
			return err
		}
		if format == "CHK" {
			return badRequest("format=CHK not accepted for PUT /uri?t=mkdir")
		}
		d, err := h.c.CreateDir(q.Context(), h.dirFormat(format))
		if err != nil {
			return err
		}
		writeCapResult(w, http.StatusOK, d.Cap().String())
		return nil
	default:
		return badRequest(uriOnly)
	}
	c, err := h.newFile(q, q.Body)
	if err != nil {
		return err
	}
	writeCapResult(w, http.StatusOK, c.String())
	return nil
}

// dirFormat is the format of a new directory for format= (already
// checked by getFormat): SDMF or MDMF, else the client's default.
func (h *handler) dirFormat(format string) cap.Format {
	if f, ok := mutableFormat(format); ok {
		return f
	}
	return h.c.MutableFormat()
}

// postUnlinked is POST /uri: with t=upload (or no t), the multipart form's
// "file" field becomes a new file. For an immutable file the answer is
// Tahoe's upload results page, or with when_done= a redirect there,
// "%(uri)s" replaced by the new cap (Tahoe ignores redirect_to_result
// here; so does this); for a mutable file (format=SDMF or MDMF) it is the
// cap. t=mkdir, t=mkdir-with-children and t=mkdir-immutable make
// directories.
func (h *handler) postUnlinked(w http.ResponseWriter, q *request) error {
	// The form is read unless the query already names another operation:
	// t= and the other arguments may come as form fields.
	if t, given := q.queryArg("t"); !given || strings.Trim(t, asciiSpace) == "" || strings.Trim(t, asciiSpace) == "upload" {
		if err := h.readForm(q, true); err != nil {
			return err
		}
	}
	switch t := q.t(); t {
	case "", "upload":
	case "mkdir", "mkdir-with-children", "mkdir-immutable":
		return h.postUnlinkedMkdir(w, q, t)
	default:
		return badRequest(uriOnly)
	}
	format, err := getFormat(q, "CHK")
	if err != nil {
		return err
	}
	if q.form == nil || q.form.file == nil {
		return badRequest(`POST /uri?t=upload needs a multipart/form-data body with a "file" field holding the file`)
	}
	if _, ok := mutableFormat(format); ok {
		c, err := h.newFile(q, io.NewSectionReader(q.form.file, 0, q.form.size))
		if err != nil {
			return err
		}
		writeCapResult(w, http.StatusOK, c.String())
		return nil
	}
	start := time.Now()
	res, err := h.c.Upload(q.Context(), q.form.file, q.form.size, client.UploadOptions{})
	if err != nil {
		return err
	}
	h.reportUpload(q, res)
	c := res.Cap
	h.count.filesUploaded.Add(1)
	h.count.bytesUploaded.Add(q.form.size)
	if whenDone, _ := q.arg("when_done"); whenDone != "" {
		loc, err := urlFor(q, strings.ReplaceAll(whenDone, "%(uri)s", pyQuote(c.String(), "/")))
		if err != nil {
			return err
		}
		redirect(w, http.StatusFound, loc)
		return nil
	}
	return h.renderHTML(w, uploadedPage, uploadedData{
		Cap: c.String(), Link: "/uri/" + pyQuote(c.String(), "/"), Size: q.form.size,
		Elapsed: time.Since(start).Round(time.Millisecond).String(),
	})
}

// postUnlinkedMkdir is POST /uri?t=mkdir (an empty directory; a body that
// is not a form is refused, as Tahoe does, to catch children sent to the
// wrong t=), t=mkdir-with-children and t=mkdir-immutable (children in the
// JSON body). The answer is the new cap, or with redirect_to_result=true
// a 303 to uri/$CAP.
func (h *handler) postUnlinkedMkdir(w http.ResponseWriter, q *request, t string) error {
	ctx := q.Context()
	var d *client.Dir
	switch t {
	case "mkdir":
		if strings.HasPrefix(q.Header.Get("Content-Type"), "multipart/form-data") {
			if err := h.readForm(q, false); err != nil {
				return err
			}
		} else if b, err := readLimited(q.Body, 1<<10, "the body"); err != nil || len(b) > 0 {
			if be := (*httpbody.Error)(nil); errors.As(err, &be) {
				return err // a broken or stalled body, not children
			}
			return badRequest("t=mkdir does not accept children=, try t=mkdir-with-children instead")
		}
		format, err := getFormat(q, "")
		if err != nil {
			return err
		}
		if format == "CHK" {
			return badRequest("format=CHK not currently accepted for POST /uri?t=mkdir")
		}
		if d, err = h.c.CreateDir(ctx, h.dirFormat(format)); err != nil {
			return err
		}
	case "mkdir-with-children":
		format, err := getFormat(q, "")
		if err != nil {
			return err
		}
		kids, err := childrenJSON(q, true, false)
		if err != nil {
			return err
		}
		if d, err = h.c.CreateDirWithChildren(ctx, h.dirFormat(format), kids); err != nil {
			return err
		}
	case "mkdir-immutable":
		kids, err := childrenJSON(q, true, true)
		if err != nil {
			return err
		}
		if d, err = h.c.CreateImmutableDir(ctx, kids); err != nil {
			return err
		}
	}
	redir, err := q.boolArg("redirect_to_result", "false")
	if err != nil {
		return err
	}
	if redir {
		w.Header().Set("Location", "uri/"+pyQuote(d.Cap().String(), "/"))
		writeBody(w, http.StatusSeeOther, "text/html", nil)
		return nil
	}
	writeCapResult(w, http.StatusOK, d.Cap().String())
	return nil
}

// urlFor is Tahoe's url_for_string: s made absolute on this server when
// it names no host.
func urlFor(q *request, s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", badRequest("when_done= is not a URL: %v", err)
	}
	if u.Host == "" {
		base, _ := url.Parse(baseURL(q))
		u.Scheme, u.Host = base.Scheme, base.Host
	}
	return u.String(), nil
}

// form is a POST body's form: the first value of each field, and the
// first "file" field spooled to a temporary file.
type form struct {
	fields   map[string]string
	file     *os.File
	size     int64
	filename string // the name the file part gives its file
}

// readForm reads the form of a POST request (multipart/form-data or
// application/x-www-form-urlencoded) into q.form, so that q.arg sees its
// fields. With keepFile the "file" field is spooled to disk, else skipped.
func (h *handler) readForm(q *request, keepFile bool) error {
	if q.form != nil {
		return nil
	}
	q.form = &form{fields: map[string]string{}}
	if q.Method != http.MethodPost {
		return nil
	}
	mt, _, err := mime.ParseMediaType(q.Header.Get("Content-Type"))
	if err != nil {
		return nil // not a form: the query is all there is
	}
	switch mt {
	case "application/x-www-form-urlencoded":
		b, err := io.ReadAll(io.LimitReader(q.Body, maxField+1))
		if err != nil {
			return readFailure(err, "reading the form")
		}
		if len(b) > maxField {
			return &webError{http.StatusRequestEntityTooLarge, "form too large"}
		}
		for _, a := range parseQuery(string(b)) {
			if _, dup := q.form.fields[a.k]; !dup {
				q.form.fields[a.k] = a.v
			}
		}
	case "multipart/form-data":
		mr, err := q.MultipartReader()
		if err != nil {
			return badRequest("bad multipart/form-data body: %v", err)
		}
		for {
			p, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return readFailure(err, "bad multipart/form-data body")
			}
			if p.FormName() == "file" && q.form.file == nil {
				q.form.filename = p.FileName()
			}
			if err := h.readPart(q.form, p.FormName(), p, keepFile); err != nil {
				return err
			}
		}
	}
	return nil
}

func (h *handler) readPart(f *form, name string, p io.Reader, keepFile bool) error {
	if name == "file" && keepFile && f.file == nil {
		tmp, err := os.CreateTemp(h.opts.TempDir, "lafs-form-*")
		if err != nil {
			return err
		}
		f.file = tmp
		if f.size, err = io.Copy(tmp, p); err != nil {
			return readFailure(err, "reading the uploaded file")
		}
		return nil
	}
	if name == "" || name == "file" {
		if _, err := io.Copy(io.Discard, p); err != nil {
			return readFailure(err, "bad multipart/form-data body")
		}
		return nil
	}
	b, err := io.ReadAll(io.LimitReader(p, maxField+1))
	if err != nil {
		return readFailure(err, fmt.Sprintf("reading form field %q", name))
	}
	if len(b) > maxField {
		return &webError{http.StatusRequestEntityTooLarge, "form field " + pyStrRepr(name) + " is too large"}
	}
	if _, dup := f.fields[name]; !dup {
		f.fields[name] = string(b)
	}
	return nil
}

// close removes what the request left on disk.
func (q *request) close() {
	if q.form != nil && q.form.file != nil {
		q.form.file.Close()
		os.Remove(q.form.file.Name())
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
