package webapi

import (
	"errors"
	"net/http"

	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/client"
	"github.com/lafs/lafs/dirnode"
)

// node is what a path below /uri/$CAP names, as Tahoe's handlers hold it:
// the node's cap and, when it was reached through a directory, that
// directory, the name and the metadata of the link. A node with no cap is
// a placeholder: the missing last child of a PUT, which the PUT creates.
type node struct {
	cap    cap.Cap
	read   cap.Cap         // the read cap of a child as its directory holds it
	parent *client.Dir     // nil when the node is the cap in the URL
	name   string          // the child's name in parent
	md     *dirnode.Object // the link's metadata
}

// serveCap serves /uri/$CAP and the path below it: it walks the path as
// Tahoe's getChild methods do, then lets the node found answer.
func (h *handler) serveCap(w http.ResponseWriter, q *request, capStr string, rest []string) error {
	c, err := cap.Parse(capStr)
	if err != nil || isUnknown(c) || cap.IsVerifier(c) {
		if len(rest) > 0 {
			return errNoResource
		}
		return h.serveUnknown(w, q, &node{cap: c}, err)
	}
	n, err := h.walk(q, &node{cap: c}, rest)
	if err != nil {
		return err
	}
	return h.serveNode(w, q, n)
}

// serveNode dispatches to the handler of the node's kind.
func (h *handler) serveNode(w http.ResponseWriter, q *request, n *node) error {
	if n.cap == nil {
		return h.servePlaceholder(w, q, n)
	}
	if fn, ok := asFile(n); ok {
		return h.serveFile(w, q, fn, "")
	}
	if d, err := h.c.Dir(n.cap); err == nil {
		return h.serveDir(w, q, &dirNode{node: n, dir: d})
	}
	return h.serveUnknown(w, q, n, nil)
}

// shouldCreateIntermediates is Tahoe's should_create_intermediate_directories:
// a PUT or POST that is not a delete, rename or check makes the missing
// directories of its path.
func shouldCreateIntermediates(q *request) bool {
	if q.Method != http.MethodPut && q.Method != http.MethodPost {
		return false
	}
	switch q.t() {
	case "delete", "rename", "rename-form", "check":
		return false
	}
	return true
}

// walk follows the path segs from n, as Tahoe's DirectoryNodeHandler.getChild
// and _got_child do:
//
//   - an empty segment stays in the directory ("DIR/" is DIR), except a
//     final "//", which is refused;
//   - a missing child in the middle of a PUT or POST path is made as a new
//     directory (the client's default format);
//   - a missing last child is made as a directory for t=mkdir (PUT or
//     POST), t=mkdir-with-children and t=mkdir-immutable (POST), and is a
//     placeholder for PUT (t= or t=uri), which creates it;
//   - anything else missing is 404, and a file in the way of a path that
//     would make directories is 409.
//
// Errors found on the way are answered with Twisted's HTML error page, as
// Tahoe answers errors raised in getChild.
func (h *handler) walk(q *request, n *node, segs []string) (*node, error) {
	ctx := q.Context()
	for i, name := range segs {
		terminal := i == len(segs)-1
		if _, isFile := asFile(n); isFile || n.cap == nil {
			return nil, fileChildError(q, name)
		}
		dir, err := h.c.Dir(n.cap)
		if err != nil {
			// An unknown child has no children (Twisted's NoResource),
			// unless the path would make directories.
			if shouldCreateIntermediates(q) {
				return nil, fileInTheWay(name)
			}
			return nil, errNoResource
		}
		if name == "" {
			if i == len(segs)-2 && segs[i+1] == "" {
				return nil, &pageError{http.StatusBadRequest, "Error", emptyComponent, ""}
			}
			continue
		}
		e, err := dir.Get(ctx, name)
		switch {
		case errors.Is(err, client.ErrNoChild):
			next, err := h.missingChild(q, dir, name, terminal)
			if err != nil {
				return nil, err
			}
			n = next
			continue
		case err != nil:
			return nil, traversalError(err)
		}
		child := &node{cap: e.Cap(), read: e.Read, parent: dir, name: e.Name, md: e.Metadata}
		if !terminal && shouldCreateIntermediates(q) && e.Kind() != dirnode.KindDir {
			return nil, fileInTheWay(name)
		}
		n = child
	}
	return n, nil
}

// missingChild decides what a path does when dir has no child name.
func (h *handler) missingChild(q *request, dir *client.Dir, name string, terminal bool) (*node, error) {
	ctx := q.Context()
	if !terminal {
		if !shouldCreateIntermediates(q) {
			return nil, noSuchChildPage(name)
		}
		sub, err := dir.Mkdir(ctx, name, h.c.MutableFormat(), client.ReplaceNone)
		if errors.Is(err, client.ErrExists) {
			// Made by someone else meanwhile: go on through theirs.
			e, gerr := dir.Get(ctx, name)
			if gerr != nil {
				return nil, traversalError(gerr)
			}
			if e.Kind() != dirnode.KindDir {
				return nil, fileInTheWay(name)
			}
			return &node{cap: e.Cap(), read: e.Read, parent: dir, name: e.Name, md: e.Metadata}, nil
		}
		if err != nil {
			return nil, traversalError(err)
		}
		return &node{cap: sub.Cap(), parent: dir, name: dirnode.NFC(name)}, nil
	}
	t := q.t()
	switch {
	case (q.Method == http.MethodPost || q.Method == http.MethodPut) && t == "mkdir",
		q.Method == http.MethodPost && (t == "mkdir-with-children" || t == "mkdir-immutable"):
		sub, err := h.makeSubdir(q, dir, name, t, client.ReplaceNone)
		if errors.Is(err, client.ErrExists) {
			// Made by someone else meanwhile: that one is the answer.
			e, gerr := dir.Get(ctx, name)
			if gerr != nil {
				return nil, traversalError(gerr)
			}
			return &node{cap: e.Cap(), read: e.Read, parent: dir, name: e.Name, md: e.Metadata}, nil
		}
		if err != nil {
			if isRequestError(err) {
				return nil, err // the request's own mistakes: answered as text
			}
			return nil, traversalError(err)
		}
		return &node{cap: sub, parent: dir, name: dirnode.NFC(name)}, nil
	case q.Method == http.MethodPut && (t == "" || t == "uri"):
		return &node{parent: dir, name: dirnode.NFC(name)}, nil
	}
	return nil, noSuchChildPage(name)
}

// fileInTheWay is Tahoe's answer when a path would make a directory where
// a file (or an unknown node) is.
func fileInTheWay(name string) error {
	return &pageError{http.StatusConflict, "Unable to create directory " + quoteOutput(name) + ": a file was in the way", "no details", ""}
}

// noSuchChildPage is NoSuchChildError met while walking a path.
func noSuchChildPage(name string) error {
	return &pageError{http.StatusNotFound, "Error", "No such child: " + quoteOutputBare(name), ""}
}

// traversalError turns an error met while walking a path into the HTML
// error page Tahoe's exception_to_child renders.
func traversalError(err error) error {
	code, text := classify(err)
	if code == 0 {
		return err
	}
	return &pageError{code, "Error", text, ""}
}
