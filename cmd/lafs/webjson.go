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
	"strings"

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

// checkResultsJSON is Tahoe's JSON of one check (t=check&output=JSON, and
// the "check-results" of a deep check's unit; webapi.rst, "Debugging and
// Testing Features"). Only what the CLI shows is kept.
type checkResultsJSON struct {
	StorageIndex string `json:"storage-index"`
	// Summary is absent for LIT files and literal directories.
	Summary *string         `json:"summary"`
	Results checkCountsJSON `json:"results"`
}

// checkCountsJSON is a check's "results". The counts are kept as they
// came, for Tahoe's CLI prints them as Python's repr of the JSON value; a
// LIT file's results have none of them (nil).
type checkCountsJSON struct {
	Healthy        bool               `json:"healthy"`
	SharesGood     json.RawMessage    `json:"count-shares-good"`
	SharesNeeded   json.RawMessage    `json:"count-shares-needed"`
	SharesExpected json.RawMessage    `json:"count-shares-expected"`
	WrongShares    json.RawMessage    `json:"count-wrong-shares"`
	Corrupt        []corruptShareJSON `json:"list-corrupt-shares"`
}

// corruptShareJSON is one entry of "list-corrupt-shares": [SERVERID, SI,
// SHNUM].
type corruptShareJSON struct {
	Server, StorageIndex string
	Num                  json.RawMessage
}

func (c *corruptShareJSON) UnmarshalJSON(b []byte) error {
	var t []json.RawMessage
	if err := json.Unmarshal(b, &t); err != nil {
		return err
	}
	if len(t) != 3 {
		return fmt.Errorf("a corrupt share is [server, storage index, share number], not %d elements", len(t))
	}
	if err := json.Unmarshal(t[0], &c.Server); err != nil {
		return err
	}
	if err := json.Unmarshal(t[1], &c.StorageIndex); err != nil {
		return err
	}
	c.Num = t[2]
	return nil
}

// checkAndRepairJSON is Tahoe's JSON of a check with repair=true (and the
// "check-and-repair-results" of a deep check's unit). A LIT file's has
// only the empty storage index and repair-attempted false.
type checkAndRepairJSON struct {
	StorageIndex     string            `json:"storage-index"`
	RepairAttempted  bool              `json:"repair-attempted"`
	RepairSuccessful bool              `json:"repair-successful"`
	PreRepair        *checkResultsJSON `json:"pre-repair-results"`
	PostRepair       *checkResultsJSON `json:"post-repair-results"`
}

// parseCheckResults parses a t=check&output=JSON answer.
func parseCheckResults(b []byte) (*checkResultsJSON, error) {
	var r checkResultsJSON
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// parseCheckAndRepair parses a t=check&repair=true&output=JSON answer.
func parseCheckAndRepair(b []byte) (*checkAndRepairJSON, error) {
	var r checkAndRepairJSON
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// deepUnitJSON is one line of a t=stream-manifest or t=stream-deep-check
// answer: an object found by the walk ("file", "directory" or "unknown"),
// with its check results in a deep check, or, last, the walk's "stats".
type deepUnitJSON struct {
	Type         string              `json:"type"`
	Path         []string            `json:"path"`
	Cap          string              `json:"cap"`
	VerifyCap    string              `json:"verifycap"`
	RepairCap    string              `json:"repaircap"`
	StorageIndex string              `json:"storage-index"`
	Check        *checkResultsJSON   `json:"check-results"`
	Repair       *checkAndRepairJSON `json:"check-and-repair-results"`
	Stats        json.RawMessage     `json:"stats"`
}

// parseDeepUnit parses one line of a streaming walk's answer.
func parseDeepUnit(b []byte) (*deepUnitJSON, error) {
	var u deepUnitJSON
	if err := json.Unmarshal(b, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// deepStatsJSON is the status of a t=start-deep-stats operation
// (webapi.rst, "POST $DIRURL?t=start-deep-stats"): the counts and sizes
// by name, the histogram of file sizes, and whether the walk finished.
type deepStatsJSON struct {
	Finished bool
	// Values holds every number of the answer by its name, as it came.
	Values map[string]json.Number
	// Histogram is "size-files-histogram": [MIN, MAX, COUNT] rows.
	Histogram [][3]int64
}

// parseDeepStats parses a deep-stats operation's status.
func parseDeepStats(b []byte) (*deepStatsJSON, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	s := &deepStatsJSON{Values: map[string]json.Number{}}
	for k, v := range m {
		switch v := v.(type) {
		case json.Number:
			s.Values[k] = v
		case bool:
			if k == "finished" {
				s.Finished = v
			}
		}
	}
	if h, ok := m["size-files-histogram"]; ok && h != nil {
		rows, ok := h.([]any)
		if !ok {
			return nil, fmt.Errorf("size-files-histogram is not a list")
		}
		for _, r := range rows {
			cells, ok := r.([]any)
			if !ok || len(cells) != 3 {
				return nil, fmt.Errorf("a size-files-histogram row is not [min, max, count]")
			}
			var row [3]int64
			for i, c := range cells {
				n, ok := c.(json.Number)
				if !ok {
					return nil, fmt.Errorf("a size-files-histogram row holds %v, not a number", c)
				}
				row[i] = jsonInt(n)
			}
			s.Histogram = append(s.Histogram, row)
		}
	}
	return s, nil
}

// jsonInt is a JSON number as Python's "%d" shows it: whole, a fraction
// cut off.
func jsonInt(n json.Number) int64 {
	if i, err := n.Int64(); err == nil {
		return i
	}
	f, _ := n.Float64()
	return int64(f)
}

// pyRepr is a JSON value as Python's repr shows it once json.loads has
// read it: numbers as written, true as True, null as None, strings in
// quotes. Tahoe's CLI prints the counts of a check so ("%r").
func pyRepr(raw json.RawMessage) string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return string(raw)
	}
	switch v := v.(type) {
	case nil:
		return "None"
	case bool:
		if v {
			return "True"
		}
		return "False"
	case json.Number:
		return v.String()
	case string:
		q := byte('\'')
		if strings.Contains(v, "'") && !strings.Contains(v, `"`) {
			q = '"'
		}
		var b strings.Builder
		b.WriteByte(q)
		for _, r := range v {
			switch {
			case r == rune(q) || r == '\\':
				b.WriteByte('\\')
				b.WriteRune(r)
			case r == '\n':
				b.WriteString(`\n`)
			case r == '\r':
				b.WriteString(`\r`)
			case r == '\t':
				b.WriteString(`\t`)
			case r < 0x20 || r == 0x7f:
				fmt.Fprintf(&b, `\x%02x`, r)
			default:
				b.WriteRune(r)
			}
		}
		b.WriteByte(q)
		return b.String()
	}
	return string(raw)
}
