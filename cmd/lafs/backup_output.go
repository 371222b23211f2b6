package main

import (
	"fmt"
	"sync"
	"time"
)

// backupCounts are the numbers of the final report.
type backupCounts struct {
	filesCreated, filesReused, filesSkipped int
	dirsCreated, dirsReused, dirsSkipped    int
	filesChecked, dirsChecked               int
}

func (c *backupCounts) targets() int {
	return c.filesCreated + c.filesReused + c.filesSkipped + c.dirsCreated + c.dirsReused + c.dirsSkipped
}

// backupOutput is what backup prints: -v lines on stdout and warnings on
// stderr, as Tahoe's, and, on a terminal, Tahoe's progress line
// ("Backing up 12/345... 0h 0m 3s elapsed...") on stderr.
type backupOutput struct {
	e       *env
	verbose bool
	line    *progressLine

	mu     sync.Mutex
	total  int // targets: files, directories and what was skipped
	counts backupCounts
}

func newBackupOutput(e *env, verbose bool) *backupOutput {
	return &backupOutput{e: e, verbose: verbose, line: newProgressLine(e.stderr, false, func(p progress) string {
		if p.total == 0 {
			return ""
		}
		return fmt.Sprintf("Backing up %d/%d... %s elapsed...", p.done, p.total, formatElapsed(p.elapsed))
	})}
}

// start sets the number of targets once the tree is read.
func (o *backupOutput) start(nodes int) {
	o.mu.Lock()
	o.total = nodes + o.counts.filesSkipped + o.counts.dirsSkipped
	total, done := o.total, o.counts.targets()
	o.mu.Unlock()
	o.line.setDone(done)
	o.line.setTotals(-1, total)
}

// say prints a -v line on stdout.
func (o *backupOutput) say(format string, a ...any) {
	if o.verbose {
		o.line.printf(o.e.stdout, format+"\n", a...)
	}
}

// skip warns on stderr of something left out, and counts it.
func (o *backupOutput) skip(isDir bool, format string, a ...any) {
	o.line.printf(o.e.stderr, format+"\n", a...)
	o.count(func(c *backupCounts) {
		if isDir {
			c.dirsSkipped++
		} else {
			c.filesSkipped++
		}
	})
}

// count updates the counts and the progress line.
func (o *backupOutput) count(f func(*backupCounts)) {
	o.mu.Lock()
	f(&o.counts)
	done := o.counts.targets()
	o.mu.Unlock()
	o.line.setDone(done)
}

// final returns the counts.
func (o *backupOutput) final() backupCounts {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.counts
}

// finish shows the final progress and ends its line; again, it does
// nothing.
func (o *backupOutput) finish() { o.line.finish() }

// formatElapsed is Tahoe's progress time: "1h 2m 3s".
func formatElapsed(d time.Duration) string {
	s := int64(d / time.Second)
	return fmt.Sprintf("%dh %dm %ds", s/3600, s/60%60, s%60)
}

// pyTimedelta is str() of a Python timedelta without its microseconds,
// as Tahoe's "backup done, elapsed time": "0:01:02", "1 day, 2:03:04".
func pyTimedelta(d time.Duration) string {
	s := int64(d / time.Second)
	days, s := s/86400, s%86400
	hms := fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	switch {
	case days == 1:
		return "1 day, " + hms
	case days > 1:
		return fmt.Sprintf("%d days, %s", days, hms)
	}
	return hms
}
