package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/lafs/lafs"
)

const statsHelp = `usage: lafs [-d NODEDIR] stats [options] [ALIAS:PATH]

Count the files and directories reachable from a directory, and add up
their sizes: how many of each kind, the largest, and a histogram of file
sizes. With no path, "tahoe:" is counted.`

// statsPolls are the delays between asking how a deep-stats operation is
// going: soon at first, then every ten seconds. (Tahoe's CLI asks after
// 1, 5, 10, 30, 60 and 90 seconds, then every two minutes; what it shows
// in the end is the same.)
var statsPolls = []time.Duration{
	100 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second,
}

// runStats is "tahoe stats": POST t=start-deep-stats under a new
// operation handle, then GET /operations/HANDLE until the walk is done,
// and show its counts as Tahoe's tahoe_manifest does, or the final status
// as it came (--raw). Interrupted, it cancels the operation.
func runStats(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "stats", statsHelp)
	var sf storeFlags
	sf.register(fs, e)
	var raw bool
	fs.BoolVar(&raw, "raw", false, "show the web API's JSON as it came")
	fs.BoolVar(&raw, "r", false, "short for --raw")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return usagef("%s", statsHelp)
	}
	s, err := sf.open(e)
	if err != nil {
		return err
	}
	p, err := resolveWalkRoot(s, fs.Arg(0))
	if err != nil {
		return err
	}
	wc, err := s.client()
	if err != nil {
		return err
	}
	var h [16]byte
	if _, err := rand.Read(h[:]); err != nil {
		return err
	}
	handle := lafs.Base32(h[:])
	if err := wc.startDeepStats(ctx, p, handle); err != nil {
		return failure(err, "ERROR")
	}
	pl := newProgressLine(e.stderr, false, walkProgress("stats", "counted"))
	body, st, err := waitDeepStats(ctx, wc, handle, pl)
	pl.finish()
	if err != nil {
		return err
	}
	if raw {
		if !printableASCII(body) {
			return failf("The JSON response contained unprintable characters:\n%s", quoteName(string(body), true))
		}
		fmt.Fprintf(e.stdout, "%s\n", body)
		return nil
	}
	writeStats(e.stdout, st)
	return nil
}

// waitDeepStats asks how the deep-stats operation is going until it is
// done, and returns its final status, as it came and parsed. Meanwhile
// the progress line shows the objects counted so far. If ctx ends first,
// it asks the node to cancel the operation.
func waitDeepStats(ctx context.Context, wc *webClient, handle string, pl *progressLine) (body []byte, st *deepStatsJSON, err error) {
	defer func() {
		if ctx.Err() != nil { // interrupted: the node need not go on
			cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			wc.cancelOperation(cctx, handle) // best effort: the node forgets it in time anyway
			cancel()
			body, st, err = nil, nil, ctx.Err()
		}
	}()
	for i := 0; ; i++ {
		t := time.NewTimer(statsPolls[min(i, len(statsPolls)-1)])
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, nil, ctx.Err()
		case <-t.C:
		}
		body, err := wc.operationStatus(ctx, handle)
		if err != nil {
			return nil, nil, failure(err, "ERROR")
		}
		st, err := parseDeepStats(body)
		if err != nil {
			return nil, nil, failf("error: could not parse the web API's answer about the deep-stats operation: %v", err)
		}
		if st.Finished {
			return body, st, nil
		}
		pl.setDone(int(jsonInt(st.Values["count-files"]) + jsonInt(st.Values["count-directories"])))
	}
}

// statsKeys are the counts and sizes stats shows, in its order.
var statsKeys = []string{
	"count-immutable-files",
	"count-mutable-files",
	"count-literal-files",
	"count-files",
	"count-directories",
	"size-immutable-files",
	"size-mutable-files",
	"size-literal-files",
	"size-directories",
	"largest-directory",
	"largest-immutable-file",
}

// writeStats shows a deep-stats operation's results as Tahoe's CLI does:
// the counts and sizes the answer has, right-aligned by name, sizes over
// 1000 bytes with their abbreviations; then the histogram of file sizes,
// "..." marking gaps between its ranges.
func writeStats(w io.Writer, st *deepStatsJSON) {
	width := 0
	for _, k := range statsKeys {
		width = max(width, len(k))
	}
	fmt.Fprintln(w, "Counts and Total Sizes:")
	for _, k := range statsKeys {
		n, ok := st.Values[k]
		if !ok {
			continue
		}
		v := jsonInt(n)
		if !strings.HasPrefix(k, "count-") && jsonFloat(n) > 1000 {
			fmt.Fprintf(w, "%*s: %d    %s\n", width, k, v, abbreviateSpaceBoth(v))
		} else {
			fmt.Fprintf(w, "%*s: %d\n", width, k, v)
		}
	}
	if len(st.Histogram) == 0 {
		return
	}
	fmt.Fprintln(w, "Size Histogram:")
	maxLen, countLen := 0, 0
	for _, row := range st.Histogram {
		maxLen = max(maxLen, len(fmt.Sprint(row[1])))
		countLen = max(countLen, len(fmt.Sprint(row[2])))
	}
	for i, row := range st.Histogram {
		if i > 0 && row[0] != st.Histogram[i-1][1]+1 {
			fmt.Fprintf(w, "%s...\n", strings.Repeat(" ", maxLen-1))
		}
		fmt.Fprintf(w, "%*d-%-*d : %-*d    %s\n", maxLen, row[0], maxLen, row[1], countLen, row[2], abbreviateSpaceBoth(row[1]))
	}
}

// abbreviateSpaceBoth is a size in SI and binary units, as Tahoe's
// abbreviate_space_both: "(2.58 kB, 2.52 kiB)".
func abbreviateSpaceBoth(n int64) string {
	return fmt.Sprintf("(%s, %s)", abbreviateSpace(n, true), abbreviateSpace(n, false))
}

// abbreviateSpace is Tahoe's abbreviate_space: under 1024 in bytes ("512
// B", in either unit), else with two decimals and the largest prefix the
// size reaches ("1.50 MB", "1.43 MiB").
func abbreviateSpace(n int64, si bool) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	u, suffix := 1000.0, "B"
	if !si {
		u, suffix = 1024.0, "iB"
	}
	// As Tahoe: each compared and divided by a power of the unit, not
	// divided step by step, so that the roundings are the same.
	s, p := float64(n), u
	for _, prefix := range []string{"k", "M", "G", "T", "P"} {
		if s < p*u {
			return fmt.Sprintf("%.2f %s%s", s/p, prefix, suffix)
		}
		p *= u
	}
	return fmt.Sprintf("%.2f E%s", s/p, suffix)
}

// printableASCII reports whether b is what Tahoe's CLI prints as it is:
// printable ASCII, newlines and carriage returns.
func printableASCII(b []byte) bool {
	for _, c := range b {
		if (c < 0x20 || c > 0x7e) && c != '\n' && c != '\r' {
			return false
		}
	}
	return true
}
