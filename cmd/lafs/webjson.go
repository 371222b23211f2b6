package main

// Tahoe's t=json answers, and the children that t=mkdir-with-children,
// t=mkdir-immutable and t=set_children take, as Go types: the one set every
// verb uses (webapi.rst, "Getting Information About a File Or Directory (as
// JSON)" and "Creating a New Directory").

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/dirnode"
)

// Tahoe's names for the kinds of node; any other is a kind this version
// does not know (Tahoe says "unknown").
const (
	fileNode = "filenode"
	dirNode  = "dirnode"
)

// nodeJSON is a t=json answer, and each child in a directory's: Tahoe's
// [TYPE, INFO] pair.
type nodeJSON struct {
	Type string
	Info nodeInfo
}

// nodeInfo is a node's INFO: its caps; a file's size; a directory's
// children; a child's metadata (that of its link).
type nodeInfo struct {
	RW      string `json:"rw_uri"`
	RO      string `json:"ro_uri"`
	Verify  string `json:"verify_uri"`
	Mutable bool   `json:"mutable"`
	Format  string `json:"format"`
	// Size is a file's size as the answer gives it: a number, null when
	// not known, absent for directories and for mutable children.
	Size json.RawMessage `json:"size"`
	// Metadata holds its numbers as json.Number.
	Metadata map[string]any      `json:"metadata"`
	Children map[string]nodeJSON `json:"children"`
}

// parseNode parses a t=json answer (its first JSON value, as Tahoe's
// json.loads of a stream would).
func parseNode(body []byte) (*nodeJSON, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var n nodeJSON
	if err := dec.Decode(&n); err != nil {
		return nil, err
	}
	return &n, nil
}

func (n *nodeJSON) UnmarshalJSON(b []byte) error {
	var pair []json.RawMessage
	if err := json.Unmarshal(b, &pair); err != nil {
		return err
	}
	if len(pair) != 2 {
		return fmt.Errorf("a node is [type, info], not %d elements", len(pair))
	}
	if err := json.Unmarshal(pair[0], &n.Type); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(pair[1]))
	dec.UseNumber()
	return dec.Decode(&n.Info)
}

func (n nodeJSON) isDir() bool  { return n.Type == dirNode }
func (n nodeJSON) isFile() bool { return n.Type == fileNode }

// bestCap is the cap to link the node by: its write cap if it has one.
func (i nodeInfo) bestCap() string {
	if i.RW != "" {
		return i.RW
	}
	return i.RO
}

// readCap is the cap to read the node by.
func (i nodeInfo) readCap() string {
	if i.RO != "" {
		return i.RO
	}
	return i.RW
}

// size is a file's size, when the answer gives it as a whole number.
func (i nodeInfo) size() (int64, bool) {
	n, err := strconv.ParseInt(string(i.Size), 10, 64)
	return n, err == nil
}

// sizeText is the size as Tahoe's ls shows it, Python's str() of the
// value ("None" for null); ok is false when the answer has none.
func (i nodeInfo) sizeText() (s string, ok bool) {
	if len(i.Size) == 0 {
		return "", false
	}
	dec := json.NewDecoder(bytes.NewReader(i.Size))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return string(i.Size), true
	}
	switch x := v.(type) {
	case nil:
		return "None", true
	case json.Number:
		return x.String(), true
	case string:
		return x, true
	case bool:
		return map[bool]string{true: "True", false: "False"}[x], true
	}
	return fmt.Sprint(v), true
}

// linkTime is when the link was made, as Tahoe's ls dates it: the
// metadata's tahoe.linkcrtime, else its ctime (what older Tahoes wrote);
// 0 when neither is a number.
func (i nodeInfo) linkTime() float64 {
	tahoe, _ := i.Metadata["tahoe"].(map[string]any)
	if t := jsonFloat(tahoe["linkcrtime"]); t != 0 {
		return t
	}
	return jsonFloat(i.Metadata["ctime"])
}

// jsonFloat is a JSON number's value, 0 for anything else.
func jsonFloat(v any) float64 {
	if n, ok := v.(json.Number); ok {
		f, _ := n.Float64()
		return f
	}
	return 0
}

// newChild is a child to make a directory with, or to add to one: Tahoe's
// [TYPE, {"rw_uri"|"ro_uri": CAP, "metadata": {...}}].
type newChild struct {
	Type     string
	RW, RO   string
	Metadata *dirnode.Object // nil: none given
}

func (c newChild) MarshalJSON() ([]byte, error) {
	type props struct {
		RW       string          `json:"rw_uri,omitempty"`
		RO       string          `json:"ro_uri,omitempty"`
		Metadata *dirnode.Object `json:"metadata,omitempty"`
	}
	return json.Marshal([2]any{c.Type, props{c.RW, c.RO, c.Metadata}})
}

// childCap is a child linked by the cap s: a write cap goes as rw_uri, a
// read-only or immutable cap as ro_uri.
func childCap(kind, s string) newChild {
	if c, err := cap.Parse(s); err == nil && c.IsReadOnly() {
		return newChild{Type: kind, RO: s}
	}
	return newChild{Type: kind, RW: s}
}
