package webapi

import (
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/lafs/lafs/cap"
)

// rangeWriter is an open file that streams a range of its contents.
type rangeWriter interface {
	WriteRange(ctx context.Context, w io.Writer, off, length int64) (int64, error)
}

// download sends the contents of fn, or for HEAD only its headers: Tahoe's
// FileDownloader. The headers of an immutable file come from the cap (a
// HEAD never touches the grid); a mutable file is opened first, for its
// size. For GET nothing is sent until the first segment of the range is
// read and verified, so that a file that cannot be read gets a proper
// error (410 when too few good shares are left); the rest is streamed
// segment by segment, and a later failure aborts the connection.
func (h *handler) download(w http.ResponseWriter, q *request, fn *fileNode, name string) error {
	var src rangeWriter
	var size int64
	if fn.mutable {
		m, err := h.c.OpenMutable(q.Context(), fn.cap)
		if err != nil {
			return err
		}
		src, size = m, m.Size()
	} else {
		var err error
		if size, err = contentLength(fn.size); err != nil {
			return err
		}
	}
	filename, given := q.arg("filename")
	if !given {
		filename = name
	}
	if filename == "" {
		filename = "unknown"
	}
	hd := w.Header()
	ctype, enc := guessType(filename)
	hd.Set("Content-Type", ctype)
	// A file's contents come from whoever wrote them: an HTML file must not
	// run as a page of the node, where it could read the UI's state and
	// use the web API as the user. The sandbox gives it an origin of its
	// own (and no scripts); nosniff keeps a text file text.
	hd.Set("Content-Security-Policy", "sandbox")
	hd.Set("X-Content-Type-Options", "nosniff")
	if enc != "" {
		hd.Set("Content-Encoding", enc)
	}
	save, err := q.boolArg("save", "False")
	if err != nil {
		return err
	}
	if save {
		// Tahoe echoes the name's bytes (raw UTF-8) rather than use RFC
		// 5987; browsers agree with that. Quotes are escaped here so that
		// the header stays one quoted string.
		hd.Set("Content-Disposition", `attachment; filename="`+quotedStringEscaper.Replace(filename)+`"`)
	}
	hd.Set("Accept-Ranges", "bytes")

	status, first, length := http.StatusOK, int64(0), size
	if rh := lastHeader(q.Request, "Range"); rh != "" {
		r, st := parseRange(rh, size)
		switch st {
		case http.StatusRequestedRangeNotSatisfiable:
			return &webError{st, "First beyond end of file"}
		case http.StatusPartialContent:
			status, first, length = st, r.first, r.last-r.first+1
			hd.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", r.first, r.last, size))
		}
	}
	hd.Set("Content-Length", strconv.FormatInt(length, 10))
	if q.Method == http.MethodHead {
		w.WriteHeader(status)
		return nil
	}

	if src == nil {
		f, err := h.c.OpenFile(q.Context(), fn.cap)
		if err != nil {
			return err
		}
		src = f
	}
	// The status goes out with the first bytes of the body, once the
	// first segment is decoded and verified: a file that cannot be read
	// from its start gets an error status with the reason (410 when
	// too few good shares are left), never a 200 with nothing after it.
	body := &headerOnWrite{w: w, status: status}
	n, err := src.WriteRange(q.Context(), body, first, length)
	switch _, lit := fn.cap.(*cap.LIT); {
	case fn.mutable:
		h.count.filesRetrieved.Add(1)
		h.count.bytesRetrieved.Add(n)
	case !lit:
		h.count.filesDownloaded.Add(1)
		h.count.bytesDownloaded.Add(n)
	}
	if err == nil {
		body.start()
		return nil
	}
	if !body.started {
		return err
	}
	if q.Context().Err() == nil {
		h.log.Warn("download failed after the response started", "si", fn.si, "sent", n, "of", length, "err", err)
	}
	// The status is sent and the body cut short: abort the connection
	// so that every client sees the failure, never a clean end. A
	// client that wants the reason asks for the rest with a Range
	// request, which fails before its headers are sent.
	http.NewResponseController(w).Flush()
	panic(http.ErrAbortHandler)
}

// headerOnWrite writes the response's status just before the first bytes
// of its body.
type headerOnWrite struct {
	w       http.ResponseWriter
	status  int
	started bool
}

func (h *headerOnWrite) start() {
	if !h.started {
		h.started = true
		h.w.WriteHeader(h.status)
	}
}

func (h *headerOnWrite) Write(p []byte) (int, error) {
	h.start()
	return h.w.Write(p)
}

var quotedStringEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`)

// guessType is Twisted's static.getTypeAndEncoding as Tahoe calls it: the
// Content-Type from the name's extension (default text/plain), and a
// Content-Encoding for .gz and .bz2, the type then coming from the
// extension before.
func guessType(filename string) (ctype, encoding string) {
	base := filename[strings.LastIndexByte(filename, '/')+1:]
	ext := strings.ToLower(splitExt(base))
	if enc, ok := contentEncodings[ext]; ok {
		encoding = enc
		ext = strings.ToLower(splitExt(base[:len(base)-len(ext)]))
	}
	if t, ok := contentTypes[ext]; ok {
		return t, encoding
	}
	if ext != "" {
		if t := mime.TypeByExtension(ext); t != "" {
			if mt, _, err := mime.ParseMediaType(t); err == nil {
				return mt, encoding
			}
		}
	}
	return "text/plain", encoding
}

// splitExt is the extension os.path.splitext finds: from the last dot,
// unless the dots before it are all the name has (".profile" has none).
func splitExt(base string) string {
	dot := strings.LastIndexByte(base, '.')
	if dot <= 0 || strings.TrimLeft(base[:dot], ".") == "" {
		return ""
	}
	return base[dot:]
}

var contentEncodings = map[string]string{".gz": "gzip", ".bz2": "bzip2"}

// contentTypes are Twisted's additions to Python's mimetypes and the most
// common of Python's own, so that these do not depend on the system's
// mime.types; other extensions go to mime.TypeByExtension.
var contentTypes = map[string]string{
	// Twisted's loadMimeTypes.
	".conf": "text/plain", ".diff": "text/plain", ".flac": "audio/x-flac",
	".java": "text/plain", ".oz": "text/x-oz", ".swf": "application/x-shockwave-flash",
	".wml": "text/vnd.wap.wml", ".xul": "application/vnd.mozilla.xul+xml", ".patch": "text/plain",
	// Python's mimetypes.types_map, where the systems' mime.types agree.
	".txt": "text/plain", ".html": "text/html", ".htm": "text/html", ".css": "text/css",
	".js": "text/javascript", ".json": "application/json", ".csv": "text/csv",
	".pdf": "application/pdf", ".zip": "application/zip", ".tar": "application/x-tar",
	".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
	".svg": "image/svg+xml", ".mp3": "audio/mpeg", ".mp4": "video/mp4", ".webm": "video/webm",
	".wasm": "application/wasm",
}
