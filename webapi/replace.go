package webapi

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/client"
	"github.com/lafs/lafs/dirnode"
)

// maxMutable bounds the contents of a mutable file sent in one request:
// mutable files are published from memory.
const maxMutable = 1 << 30

// maxCapBody bounds the body of PUT ?t=uri, which is one cap.
const maxCapBody = 64 << 10

// readLimited reads all of r, refusing more than limit bytes.
func readLimited(r io.Reader, limit int64, what string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, readFailure(err, "reading "+what)
	}
	if int64(len(b)) > limit {
		return nil, &webError{http.StatusRequestEntityTooLarge, what + " is too large"}
	}
	return b, nil
}

// mutableFormat is the format Tahoe's get_mutable_type(get_format(...))
// gives: SDMF or MDMF, or ok false for CHK.
func mutableFormat(format string) (cap.Format, bool) {
	switch format {
	case "SDMF":
		return cap.SDMF, true
	case "MDMF":
		return cap.MDMF, true
	}
	return 0, false
}

// writeMutable replaces the contents of the mutable file fn with what r
// holds, or with offset writes them there (Tahoe's update; an offset past
// the end, which Tahoe fails on, is refused).
func (h *handler) writeMutable(q *request, fn *fileNode, r io.Reader, offset int64, hasOffset bool) error {
	ctx := q.Context()
	m, err := h.c.OpenMutable(ctx, fn.cap)
	if err != nil {
		return err
	}
	data, err := readLimited(r, maxMutable, "the new contents")
	if err != nil {
		return err
	}
	if hasOffset {
		if offset > m.Size() {
			// Tahoe: 500, an AssertionError exception page.
			return badRequest("PUT to a mutable file: offset %d is past the end of the file (%d bytes)", offset, m.Size())
		}
		err = m.WriteAt(ctx, data, offset)
	} else {
		err = m.Overwrite(ctx, data)
	}
	if err != nil {
		return err
	}
	h.count.filesPublished.Add(1)
	h.count.bytesPublished.Add(int64(len(data)))
	return nil
}

// newFile stores what r holds as a new file of the format the request
// asks for (format=, mutable=; CHK by default), as Tahoe's
// replace_me_with_a_child does before linking it.
func (h *handler) newFile(q *request, r io.Reader) (cap.Cap, error) {
	format, err := getFormat(q, "CHK")
	if err != nil {
		return nil, err
	}
	if f, ok := mutableFormat(format); ok {
		data, err := readLimited(r, maxMutable, "the new file")
		if err != nil {
			return nil, err
		}
		k, err := h.c.CreateMutable(q.Context(), data, f)
		if err != nil {
			return nil, err
		}
		h.count.filesPublished.Add(1)
		h.count.bytesPublished.Add(int64(len(data)))
		return k, nil
	}
	if sr, ok := r.(*io.SectionReader); ok {
		// A form's file, already spooled to disk: no second spool.
		res, err := h.c.Upload(q.Context(), sr, sr.Size(), client.UploadOptions{})
		if err != nil {
			return nil, err
		}
		h.reportUpload(q, res)
		h.count.filesUploaded.Add(1)
		h.count.bytesUploaded.Add(sr.Size())
		return res.Cap, nil
	}
	body := &countingReader{r: r}
	res, err := h.c.UploadStream(q.Context(), body, client.UploadOptions{})
	if err != nil {
		return nil, err
	}
	h.reportUpload(q, res)
	h.count.filesUploaded.Add(1)
	h.count.bytesUploaded.Add(body.n)
	return res.Cap, nil
}

// replaceWithBody is Tahoe's replace_me_with_a_child: the PUT body becomes
// a new file linked under n's name, answered with its cap and code (201
// for a new name, 200 for a replaced child). Nothing is stored when the
// directory cannot be changed.
func (h *handler) replaceWithBody(w http.ResponseWriter, q *request, n *node, replace client.Replace, code int) error {
	if err := n.parent.Writable(); err != nil {
		return err
	}
	k, err := h.newFile(q, q.Body)
	if err != nil {
		return err
	}
	if err := n.parent.Set(q.Context(), n.name, k, nil, replace); err != nil {
		return err
	}
	writeCapResult(w, code, k.String())
	return nil
}

// replaceWithForm is Tahoe's replace_me_with_a_formpost: the form's file
// becomes a new file linked under n's name.
func (h *handler) replaceWithForm(w http.ResponseWriter, q *request, n *node, replace client.Replace) error {
	if err := n.parent.Writable(); err != nil {
		return err
	}
	f, err := formFile(q)
	if err != nil {
		return err
	}
	k, err := h.newFile(q, f)
	if err != nil {
		return err
	}
	if err := n.parent.Set(q.Context(), n.name, k, nil, replace); err != nil {
		return err
	}
	return h.doneWith(w, q, k.String())
}

// replaceWithCap is Tahoe's replace_me_with_a_childcap (PUT ?t=uri): the
// cap in the body is linked under n's name, with Tahoe's checks of
// unknown caps, and answered as the node Tahoe makes of it.
func (h *handler) replaceWithCap(w http.ResponseWriter, q *request, n *node, replace client.Replace) error {
	if err := n.parent.Writable(); err != nil {
		return err
	}
	body, err := readLimited(q.Body, maxCapBody, "the cap")
	if err != nil {
		return err
	}
	e, err := dirnode.NewEntry(n.name, string(body), "", nil, false)
	if err != nil {
		return &childError{n.name, err}
	}
	if err := n.parent.SetChildren(q.Context(), []dirnode.Entry{e}, replace); err != nil {
		return err
	}
	writeCapResult(w, http.StatusOK, capString(e.Cap()))
	return nil
}

// servePlaceholder answers for a missing last child of a PUT path (or of
// POST ?t=upload to a directory): Tahoe's PlaceHolderNodeHandler, which
// creates it.
func (h *handler) servePlaceholder(w http.ResponseWriter, q *request, n *node) error {
	switch q.Method {
	case http.MethodPut:
		t := q.t()
		replace, err := replaceArg(q.argOr("replace", "true"))
		if err != nil {
			return err
		}
		if q.Header.Get("Content-Range") != "" {
			return &webError{http.StatusNotImplemented, "Content-Range in PUT not yet supported"}
		}
		switch t {
		case "":
			return h.replaceWithBody(w, q, n, replace, http.StatusCreated)
		case "uri":
			return h.replaceWithCap(w, q, n, replace)
		}
		return badRequest("PUT to a file: bad t=%s", t)
	case http.MethodPost:
		if err := h.readForm(q, true); err != nil {
			return err
		}
		replace, err := q.boolArg("replace", "true")
		if err != nil {
			return err
		}
		if t := q.t(); t != "upload" {
			return badRequest("POST to a file: bad t=%s", t)
		}
		r := client.ReplaceAny
		if !replace {
			r = client.ReplaceNone
		}
		return h.replaceWithForm(w, q, n, r)
	}
	return unsupportedMethod(q, "PUT", "POST")
}

// SharesPlacedHeader, in the answer to an upload, says how many of the
// file's shares found a server when that is fewer than all of them
// ("9 of 10"): the file is recoverable, but a repair can add the others.
// Tahoe has no such header.
const SharesPlacedHeader = "X-Lafs-Shares-Placed"

// reportUpload says, in the answer and in the log, when an upload placed
// fewer shares than the file has.
func (h *handler) reportUpload(q *request, r *client.UploadResult) {
	if r.LIT || r.SharesPlaced >= r.SharesTotal {
		return
	}
	q.answer.Set(SharesPlacedHeader, fmt.Sprintf("%d of %d", r.SharesPlaced, r.SharesTotal))
	h.log.Warn("upload placed fewer shares than the file has", "placed", r.SharesPlaced, "of", r.SharesTotal,
		"happiness", r.Happiness, "problems", strings.Join(r.Problems, "; "))
}
