package main

// lafs status (Tahoe's src/allmydata/scripts/tahoe_status.py): the node's
// statistics and its operations under way and recent ones, from its
// /statistics?t=json and /status?t=json; and the node's side of a put's
// progress line, from the same /status?t=json.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lafs/lafs/webapi"
)

const statusHelp = `usage: lafs [-d NODEDIR] status [options]

Show the node's statistics, the operations it has under way (uploads,
downloads, publishes and retrieves of mutable files) and its recent ones,
as "tahoe status" does, from the node's /status page. Recent publishes and
retrieves are listed only with --verbose. Files are named by their storage
index, never by a cap.`

// opJSON is one operation of /status?t=json.
type opJSON struct {
	Type               string   `json:"type"`
	SI                 *string  `json:"storage-index-string"`
	Size               *int64   `json:"total-size"`
	Status             string   `json:"status"`
	Progress           *float64 `json:"progress"`
	ProgressHash       *float64 `json:"progress-hash"`
	ProgressCiphertext *float64 `json:"progress-ciphertext"`
	ProgressEncodePush *float64 `json:"progress-encode-push"`
	Mode               string   `json:"mode"` // of Tahoe's mapupdates
	Tag                *string  `json:"tag"`
}

// opsJSON is /status?t=json.
type opsJSON struct {
	Active []opJSON `json:"active"`
	Recent []opJSON `json:"recent"`
}

// statisticsJSON is what status reads of /statistics?t=json.
type statisticsJSON struct {
	Counters map[string]float64 `json:"counters"`
	Stats    map[string]float64 `json:"stats"`
}

// runStatus is Tahoe's "tahoe status".
func runStatus(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "status", statusHelp)
	var nf nodeFlags
	nf.register(fs, e)
	verbose := fs.Bool("verbose", false, "list recent publishes and retrieves too")
	fs.BoolVar(verbose, "v", false, "short for --verbose")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("lafs status: no arguments expected\nRun 'lafs status --help' for the options.")
	}
	wc, err := nf.client()
	if err != nil {
		return err
	}
	// Both first, as Tahoe does, so that nothing is printed on failure.
	var ops opsJSON
	var stats statisticsJSON
	err = getNodeJSON(ctx, wc, "status", &ops)
	if err == nil {
		err = getNodeJSON(ctx, wc, "statistics", &stats)
	}
	if err != nil {
		return &exitError{code: 2, msg: fmt.Sprintf("failed to retrieve data: %v", err)}
	}
	w := e.stdout
	fmt.Fprintf(w, "Statistics (for last %s):\n", abbreviateTime(stats.Stats["node.uptime"]))
	fmt.Fprintf(w, "    uploaded %s in %d files\n", abbreviateSpace(int64(stats.Counters["uploader.bytes_uploaded"]), true),
		int64(stats.Counters["uploader.files_uploaded"]))
	fmt.Fprintf(w, "  downloaded %s in %d files\n", abbreviateSpace(int64(stats.Counters["downloader.bytes_downloaded"]), true),
		int64(stats.Counters["downloader.files_downloaded"]))
	fmt.Fprintln(w)
	renderActive(w, ops.Active)
	renderRecent(w, ops.Recent, *verbose)
	return nil
}

// getNodeJSON reads the node's page NAME?t=json into v.
func getNodeJSON(ctx context.Context, wc *webClient, name string, v any) error {
	p := gridPath{name: name}
	resp, err := wc.roundTrip(ctx, http.MethodGet, wc.base+name+"?t=json", p.String(), nil, 0)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return errorAnswer(http.MethodGet, p, resp)
	}
	b, err := readAnswerBytes(http.MethodGet, p, resp)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("the node's %s page: %w", name, err)
	}
	return nil
}

// opNames are the operations' names in status's tables, as Tahoe's.
var opNames = map[string]string{
	"upload": " put ", "download": " get ", "retrieve": "retr ", "publish": " pub ", "mapupdate": "mapup",
}

func opName(t string) string {
	if n, ok := opNames[t]; ok {
		return n
	}
	return " ??? "
}

// siColumn is an operation's storage index, or what stands for one not
// known yet (an upload learns it at its end).
func siColumn(op opJSON) string {
	if op.SI == nil {
		return fmt.Sprintf("%-26s", "(not known yet)")
	}
	return *op.SI
}

func frac(f *float64) float64 {
	if f == nil {
		return 0
	}
	return *f
}

// renderActive prints the operations under way, as Tahoe's render_active:
// an upload's progress is the mean of its hashing, encrypting and
// pushing; a download's its bytes (Tahoe prints the fraction there as if
// it were a percentage; this prints the percentage); the others' (for
// which Tahoe has none) theirs when the node gives it.
func renderActive(w io.Writer, active []opJSON) {
	if len(active) == 0 {
		fmt.Fprintln(w, "No active operations.")
		return
	}
	fmt.Fprintln(w, "Active operations:")
	fmt.Fprintf(w, "\u2553 %-5s \u2565 %-26s \u2565 %-22s \u2565 %s\n", "type", "storage index", "progress", "status message")
	fmt.Fprintf(w, "\u255f\u2500%s\u2500\u256b\u2500%s\u2500\u256b\u2500%s\u2500\u256b\u2500%s\n",
		strings.Repeat("\u2500", 5), strings.Repeat("\u2500", 26), strings.Repeat("\u2500", 22), strings.Repeat("\u2500", 20))
	for _, op := range active {
		bar, total := "", "???"
		switch {
		case op.Type == "upload":
			pct := (frac(op.ProgressHash) + frac(op.ProgressCiphertext) + frac(op.ProgressEncodePush)) / 3 * 100
			bar, total = prettyProgress(pct, 15), fmt.Sprintf("%3.0f", pct)
		case op.Progress != nil:
			pct := *op.Progress * 100
			bar, total = prettyProgress(pct, 15), fmt.Sprintf("%3.0f", pct)
		}
		fmt.Fprintf(w, "\u2551 %s \u2551 %s \u2551 %s (%s%%) \u2551 %s\n", opName(op.Type), siColumn(op), padRunes(bar, 15), total, op.Status)
	}
	fmt.Fprintf(w, "\u2559\u2500%s\u2500\u2568\u2500%s\u2500\u2568\u2500%s\u2500\u2568\u2500%s\n",
		strings.Repeat("\u2500", 5), strings.Repeat("\u2500", 26), strings.Repeat("\u2500", 22), strings.Repeat("\u2500", 20))
}

// renderRecent prints the recent operations, as Tahoe's render_recent:
// only uploads and downloads unless verbose.
func renderRecent(w io.Writer, recent []opJSON, verbose bool) {
	if len(recent) == 0 {
		fmt.Fprintln(w, "No recent operations.")
	}
	var shown []opJSON
	for _, op := range recent {
		if verbose || op.Type == "upload" || op.Type == "download" {
			shown = append(shown, op)
		}
	}
	fmt.Fprintln(w, "\nRecent operations:")
	table := len(shown) > 0 || verbose
	if table {
		fmt.Fprintf(w, "\u2553 %-5s \u2565 %-26s \u2565 %-10s \u2565 %s\n", "type", "storage index", "size", "status message")
	}
	for _, op := range shown {
		size := "unknown"
		switch {
		case op.Type == "mapupdate":
			size = op.Mode
		case op.Size != nil:
			size = abbreviateSpace(*op.Size, true)
		}
		fmt.Fprintf(w, "\u2551 %s \u2551 %s \u2551 %s \u2551 %s\n", opName(op.Type), siColumn(op), padRunes(size, 10), op.Status)
	}
	if table {
		fmt.Fprintf(w, "\u2559\u2500%s\u2500\u2568\u2500%s\u2500\u2568\u2500%s\u2500\u2568\u2500%s\n",
			strings.Repeat("\u2500", 5), strings.Repeat("\u2500", 26), strings.Repeat("\u2500", 10), strings.Repeat("\u2500", 20))
	}
	if skipped := len(recent) - len(shown); skipped > 0 {
		fmt.Fprintf(w, "   Skipped %d non-upload/download operations; use --verbose to see\n", skipped)
	}
}

// padRunes pads s with spaces to n characters, as Python's "{:n}" does.
func padRunes(s string, n int) string {
	if k := len([]rune(s)); k < n {
		return s + strings.Repeat(" ", n-k)
	}
	return s
}

// prettyProgress is Tahoe's pretty_progress: a bar of size characters,
// full blocks and one partial one (of eighths) for percent.
func prettyProgress(percent float64, size int) string {
	curr := int(percent / 100 * float64(size))
	part := ""
	if percent < 100 {
		eighths := int((percent/(100/float64(size)) - float64(curr)) * 8)
		part = string(rune(0x258f - eighths))
	}
	return strings.Repeat("\u2588", max(curr, 0)) + part + strings.Repeat(" ", max(size-curr-1, 0))
}

// abbreviateTime is Tahoe's abbreviate_time of seconds: "5 seconds", "3
// minutes", "2 hours", "4 days", "5 months", "2 years".
func abbreviateTime(s float64) string {
	plural := func(n float64, unit string) string {
		c := int64(n)
		if c == 1 {
			return fmt.Sprintf("%d %s", c, unit)
		}
		return fmt.Sprintf("%d %ss", c, unit)
	}
	const (
		hour  = 3600
		day   = 24 * hour
		month = 30 * day
		year  = 365 * day
	)
	switch {
	case math.IsNaN(s):
		return "unknown"
	case s < 120:
		return plural(s, "second")
	case s < 3*hour:
		return plural(s/60, "minute")
	case s < 2*day:
		return plural(s/hour, "hour")
	case s < 2*month:
		return plural(s/day, "day")
	case s < 4*year:
		return plural(s/month, "month")
	}
	return plural(s/year, "year")
}

// The node's side of a put. The web API's answer to a PUT comes once the
// node has stored the file, which for a large one is long after the last
// byte was sent: the node hashes the file (for its convergent key), then
// encrypts, encodes and pushes the shares. uploadFollowed tags its
// request (webapi.OperationTagHeader) and, once the body is sent, follows
// the node's operation of that tag on /status?t=json, so that the
// progress line shows every phase, not 100% of the sending.

// followPoll is how often the node's status is asked for.
const followPoll = 250 * time.Millisecond

// uploadFollowed is wc.upload with the node's phases on the progress line
// pl (when it is shown at all).
func uploadFollowed(ctx context.Context, wc *webClient, p gridPath, q string, body io.Reader, size int64, pl *progressLine) (*answer, error) {
	if !pl.shown() {
		return wc.upload(ctx, p, q, body, size)
	}
	tag := newOperationTag("put")
	pl.setPhase("sending", size)
	sent := make(chan struct{})
	sr := &sendingReader{r: body, size: size, sent: sent}
	body = sr
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-sent:
			followOperation(ctx, wc, tag, size, pl, done)
		case <-done:
		}
	}()
	resp, err := wc.send(ctx, http.MethodPut, p, q, body, size, webapi.OperationTagHeader, tag)
	close(done)
	wg.Wait()
	if err != nil {
		return nil, err
	}
	pl.endPhases(sr.n.Load())
	return readAnswer(http.MethodPut, p, resp)
}

// newOperationTag makes a tag no other request will have.
func newOperationTag(prefix string) string {
	b := make([]byte, 8)
	rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// sendingReader closes sent once its body is read to the end.
type sendingReader struct {
	r    io.Reader
	size int64
	n    atomic.Int64
	sent chan struct{}
	once sync.Once
}

func (s *sendingReader) Read(b []byte) (int, error) {
	n, err := s.r.Read(b)
	sum := s.n.Add(int64(n))
	if err == io.EOF || s.size >= 0 && sum >= s.size {
		s.once.Do(func() { close(s.sent) })
	}
	return n, err
}

// followOperation shows on pl the phases of the node's operation tagged
// tag until done is closed.
func followOperation(ctx context.Context, wc *webClient, tag string, size int64, pl *progressLine, done <-chan struct{}) {
	t := time.NewTicker(followPoll)
	defer t.Stop()
	pl.setPhase("sent; the node is storing it", -1)
	for {
		if op, ok := findOperation(ctx, wc, tag, done); ok {
			showOperation(pl, op, size)
		}
		select {
		case <-done:
			return
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// findOperation asks the node for its operation tagged tag.
func findOperation(ctx context.Context, wc *webClient, tag string, done <-chan struct{}) (opJSON, bool) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	go func() {
		select {
		case <-done:
			cancel()
		case <-ctx.Done():
		}
	}()
	var ops opsJSON
	if err := getNodeJSON(ctx, wc, "status", &ops); err != nil {
		return opJSON{}, false
	}
	for _, op := range ops.Active {
		if op.Tag != nil && *op.Tag == tag {
			return op, true
		}
	}
	return opJSON{}, false
}

// showOperation puts the node's operation op on pl: hashing, then
// encoding and pushing, with the bytes of the file they have done; a
// mutable file's publishing, which has no progress to show.
func showOperation(pl *progressLine, op opJSON, size int64) {
	if op.Size != nil {
		size = *op.Size
	}
	switch {
	case op.Type != "upload":
		pl.setPhase(strings.ToLower(op.Status), -1)
	case frac(op.ProgressHash) < 1:
		pl.setPhase("hashing", size)
		pl.setBytes(int64(frac(op.ProgressHash) * float64(size)))
	default:
		pl.setPhase("encoding and pushing", size)
		pl.setBytes(int64(frac(op.ProgressEncodePush) * float64(size)))
	}
}
