package webapi

import (
	"net/http"
	"strings"

	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/dirnode"
)

// serveUnknown answers for a cap of an unknown kind, a malformed cap or a
// verify cap, as Tahoe's UnknownNodeHandler: only t=json and t=info. An
// unknown child of a directory may also be unlinked with DELETE (Tahoe
// has no DELETE for them: 501).
func (h *handler) serveUnknown(w http.ResponseWriter, q *request, n *node, perr error) error {
	switch q.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodDelete:
		if n.parent != nil {
			return h.deleteChild(w, q, n, "")
		}
		return unsupportedMethod(q, "GET", "HEAD")
	default:
		return unsupportedMethod(q, "GET", "HEAD")
	}
	switch t := q.t(); t {
	case "info":
		return h.renderHTML(w, infoPage, infoData{Title: "More Info for unknown", Type: "unknown", SI: "None", Size: "?"})
	case "json":
		return writeJSON(w, "text/plain", []any{"unknown", unknownJSON(n, perr)})
	default:
		return badRequest("GET unknown URI type: can only do t=info and t=json, not t=%s.\n"+
			"Using a webapi server that supports a later version of Tahoe may help.", t)
	}
}

// unknownJSONBody is Tahoe's UnknownJSONMetadata, its keys in Tahoe's
// order.
type unknownJSONBody struct {
	ROURI    string          `json:"ro_uri,omitempty"`
	RWURI    string          `json:"rw_uri,omitempty"`
	Mutable  *bool           `json:"mutable,omitempty"`
	Metadata *dirnode.Object `json:"metadata,omitempty"`
}

// unknownJSON describes an unknown node. Given alone in the URL, only a
// cap carrying an "ro." or "imm." prefix is usable, as a read cap; a child
// shows the caps its directory holds and the metadata of its link.
func unknownJSON(n *node, perr error) unknownJSONBody {
	var j unknownJSONBody
	yes, no := true, false
	if n.parent == nil {
		if u, ok := n.cap.(*cap.Unknown); ok && perr == nil {
			switch {
			case strings.HasPrefix(u.S, cap.ImmutablePrefix):
				j.ROURI, j.Mutable = u.S, &no
			case strings.HasPrefix(u.S, cap.ReadOnlyPrefix):
				j.ROURI = u.S
			}
		}
		return j
	}
	j.ROURI = capString(n.read)
	if n.cap != nil && n.cap != n.read {
		j.RWURI = n.cap.String()
	}
	switch {
	case j.RWURI != "":
		j.Mutable = &yes
	case !n.parent.IsMutable(), strings.HasPrefix(j.ROURI, cap.ImmutablePrefix):
		j.Mutable = &no
	}
	j.Metadata = n.md
	if j.Metadata == nil {
		j.Metadata = &dirnode.Object{}
	}
	return j
}
