package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/term"
)

// progressLine is the line that put, get, cp and backup redraw in place
// while they work, on a terminal only: at most ten times a second, padded
// over what it showed before, cleared for the other lines the verb prints
// meanwhile (printf), and ended by finish. It is safe for concurrent use.
// What it says is the verb's: render makes the text of the counts ("" for
// nothing yet).
type progressLine struct {
	mu       sync.Mutex
	w        io.Writer
	on       bool
	render   func(progress) string
	begin    time.Time
	started  time.Time // begin before the first phase (setPhase)
	last     time.Time
	width    int // of the line shown, 0 if none is
	finished bool
	p        progress
}

// progress is what a progress line counts.
type progress struct {
	bytes, totalBytes int64 // moved so far, of how many (-1: not known)
	done, total       int   // files (or backup's targets) done, of how many
	elapsed           time.Duration
	// phase is what the verb does now, when its work goes through
	// phases (put: "sending", then the node's "hashing" and "encoding
	// and pushing"); bytes, totalBytes and elapsed are the phase's.
	phase string
}

// rate is the transfer rate in MB/s.
func (p progress) rate() float64 { return float64(p.bytes) / max(p.elapsed.Seconds(), 1e-3) / 1e6 }

// newProgressLine returns the progress line of a verb that shows it on w
// (if w is a terminal, and unless hide).
func newProgressLine(w io.Writer, hide bool, render func(progress) string) *progressLine {
	return &progressLine{w: w, on: !hide && isTerminal(w), render: render, begin: time.Now(), p: progress{totalBytes: -1}}
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// transferLine is the line of put and get: "uploading [####......] 41.0%
// 1.2MiB/3.0MiB 5.1 MB/s", or without the bar when the size is not known;
// "uploading: hashing [...", with the phase, in a phase; just the phase
// in one that counts no bytes.
func transferLine(what string) func(progress) string {
	return func(p progress) string {
		what := what
		if p.phase != "" {
			what += ": " + p.phase
			if p.totalBytes < 0 && p.bytes == 0 {
				return what + " "
			}
		}
		if p.totalBytes <= 0 {
			return fmt.Sprintf("%s %s %.1f MB/s ", what, human(p.bytes), p.rate())
		}
		pct := min(float64(p.bytes)*100/float64(p.totalBytes), 100)
		bar := strings.Repeat("#", int(pct/5)) + strings.Repeat(".", 20-int(pct/5))
		return fmt.Sprintf("%s [%s] %5.1f%% %s/%s %.1f MB/s ", what, bar, pct, human(p.bytes), human(p.totalBytes), p.rate())
	}
}

// shown reports whether the line is drawn at all (on a terminal).
func (l *progressLine) shown() bool { return l.on }

// setPhase starts a phase of the verb's work named name, which will move
// total bytes (-1: not known): the bytes and the rate count from now. The
// phase it is in already goes on.
func (l *progressLine) setPhase(name string, total int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.p.phase == name && l.p.totalBytes == total {
		return
	}
	if l.started.IsZero() {
		l.started = l.begin
	}
	l.p.phase, l.p.bytes, l.p.totalBytes = name, 0, total
	l.begin = time.Now()
	l.draw(true)
}

// endPhases shows the verb's work as one again, all its n bytes moved, at
// the rate since the line began.
func (l *progressLine) endPhases(n int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.started.IsZero() {
		l.begin = l.started
	}
	l.p.phase, l.p.bytes, l.p.totalBytes = "", n, n
	l.draw(true)
}

// setBytes sets how many bytes the phase has moved.
func (l *progressLine) setBytes(n int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.p.bytes = n
	l.draw(false)
}

// setTotals sets how many bytes (-1: not known) and items are to come.
func (l *progressLine) setTotals(bytes int64, items int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.p.totalBytes, l.p.total = bytes, items
	l.draw(true)
}

// addBytes counts bytes moved.
func (l *progressLine) addBytes(n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.p.bytes += int64(n)
	l.draw(false)
}

// setDone sets how many items are done.
func (l *progressLine) setDone(n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.p.done = n
	l.draw(false)
}

// itemDone counts one item done.
func (l *progressLine) itemDone() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.p.done++
	l.draw(false)
}

// printf prints one of the verb's lines on w, clearing the progress line
// first.
func (l *progressLine) printf(w io.Writer, format string, a ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.clear()
	fmt.Fprintf(w, format, a...)
	l.draw(false)
}

// finish shows the final counts and ends the line; again, it does
// nothing.
func (l *progressLine) finish() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.draw(true)
	if l.width > 0 {
		fmt.Fprintln(l.w)
		l.width = 0
	}
	l.finished = true
}

// draw redraws the line, at most ten times a second unless forced. l.mu
// is held.
func (l *progressLine) draw(force bool) {
	if !l.on || l.finished || (!force && time.Since(l.last) < 100*time.Millisecond) {
		return
	}
	l.last = time.Now()
	l.p.elapsed = time.Since(l.begin)
	line := l.render(l.p)
	if line == "" {
		return
	}
	n := utf8.RuneCountInString(line)
	fmt.Fprintf(l.w, "\r%s%s", line, strings.Repeat(" ", max(l.width-n, 0)))
	l.width = max(l.width, n)
}

// clear removes the line, if one is shown. l.mu is held.
func (l *progressLine) clear() {
	if l.width > 0 {
		fmt.Fprintf(l.w, "\r%s\r", strings.Repeat(" ", l.width))
		l.width = 0
	}
}

// reader counts the bytes read through it.
func (l *progressLine) reader(r io.Reader) io.Reader { return &countingReader{r, l} }

// writer counts the bytes written through it.
func (l *progressLine) writer(w io.Writer) io.Writer { return &countingWriter{w, l} }

type countingReader struct {
	r io.Reader
	l *progressLine
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.l.addBytes(n)
	return n, err
}

type countingWriter struct {
	w io.Writer
	l *progressLine
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.l.addBytes(n)
	return n, err
}

// human is a byte count for people: "1.5MiB".
func human(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1fGiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1fMiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1fKiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%dB", n)
}
