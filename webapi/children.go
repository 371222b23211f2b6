package webapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/lafs/lafs/dirnode"
)

// maxChildrenBody bounds the JSON body of t=mkdir-with-children,
// t=mkdir-immutable and t=set_children.
const maxChildrenBody = 64 << 20

// childrenJSON reads the request body as the children of a directory, in
// the form of the "children" of a directory's t=json:
//
//	{NAME: [TYPE, {"rw_uri": CAP, "ro_uri": CAP, "metadata": {...}}], ...}
//
// (TYPE and any other key are ignored), as Tahoe's convert_children_json
// (t=mkdir-with-children, t=mkdir-immutable; missing metadata is {}) and
// _POST_set_children (t=set_children; missing metadata is none, which
// keeps that of a link being replaced) read it. The children are checked
// as Tahoe checks them before linking, each in the context it will be
// linked in (immutable: only immutable children). An empty body is no
// children. Bad JSON is refused with 400 (Tahoe: 500).
func childrenJSON(q *request, defaultMetadata bool, immutable bool) ([]dirnode.Entry, error) {
	body, err := readLimited(q.Body, maxChildrenBody, "the children JSON")
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	var kids map[string]json.RawMessage
	if err := json.Unmarshal(body, &kids); err != nil {
		return nil, badRequest("the body is not a JSON object of children: %v", err)
	}
	names := make([]string, 0, len(kids))
	for name := range kids {
		names = append(names, name)
	}
	slices.Sort(names)
	var out []dirnode.Entry
	seen := map[string]int{}
	for _, name := range names {
		var pair []json.RawMessage
		if err := json.Unmarshal(kids[name], &pair); err != nil || len(pair) != 2 {
			return nil, badRequest("child %s: want [TYPE, PROPDICT], got %s", quoteOutput(name), trimJSON(kids[name]))
		}
		var props struct {
			RW       *string         `json:"rw_uri"`
			RO       *string         `json:"ro_uri"`
			Metadata json.RawMessage `json:"metadata"`
		}
		if err := json.Unmarshal(pair[1], &props); err != nil {
			return nil, badRequest("child %s: bad PROPDICT: %v", quoteOutput(name), err)
		}
		var md *dirnode.Object
		switch {
		case len(props.Metadata) > 0 && string(props.Metadata) != "null":
			if md, err = dirnode.ParseObject(props.Metadata); err != nil {
				return nil, badRequest("child %s: bad metadata: %v", quoteOutput(name), err)
			}
		case defaultMetadata:
			md = &dirnode.Object{}
		}
		e, err := dirnode.NewEntry(name, deref(props.RW), deref(props.RO), md, false)
		if err != nil {
			return nil, &childError{name, err}
		}
		if immutable {
			if _, err := dirnode.Pack([]dirnode.Entry{e}, nil, true); err != nil {
				return nil, &childError{name, err}
			}
		}
		// Names equal after NFC: the last one wins, as in Tahoe's dict.
		if i, ok := seen[e.Name]; ok {
			out[i] = e
			continue
		}
		seen[e.Name] = len(out)
		out = append(out, e)
	}
	return out, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func trimJSON(b []byte) string {
	if len(b) > 100 {
		return string(b[:100]) + "..."
	}
	return string(b)
}

// errorJSON is the body Tahoe sends when a directory's t=json fails:
// {"error": TEXT}, as json.dumps writes it.
func errorJSON(text string) []byte {
	b, err := pyJSON(map[string]string{"error": text})
	if err != nil {
		return []byte(fmt.Sprintf(`{"error": %q}`, text))
	}
	// pyJSON indents; Tahoe's json.dumps here does not.
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		return b
	}
	return bytes.Replace(out.Bytes(), []byte(`{"error":`), []byte(`{"error": `), 1)
}

// isRequestError reports whether err is the client's mistake found in the
// request itself, answered as text even during traversal.
func isRequestError(err error) bool {
	var we *webError
	var ce *childError
	return errors.As(err, &we) && we.code < http.StatusInternalServerError || errors.As(err, &ce)
}
