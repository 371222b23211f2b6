package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

const deepCheckHelp = `usage: lafs [-d NODEDIR] deep-check [options] [ALIAS:PATH ...]

Check every file and directory reachable from a directory, as 'lafs check'
checks one, and count how many were healthy. With -v, name each object and
its health on a line of its own; corrupt shares and repairs are always
shown. With no path, "tahoe:" is checked.`

// runDeepCheck is "tahoe deep-check": a POST t=stream-deep-check per
// path, its answer read a line at a time as it comes and shown as Tahoe's
// tahoe_check does, or as it came (--raw). Errors the node reports in the
// answer go to stderr, and the verb then fails, after the other paths.
func runDeepCheck(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "deep-check", deepCheckHelp)
	var sf storeFlags
	sf.register(fs, e)
	var o checkOptions
	var raw, verbose bool
	fs.BoolVar(&raw, "raw", false, "show the web API's JSON lines as they came")
	registerCheckFlags(fs, &o)
	fs.BoolVar(&verbose, "verbose", false, "show every object checked, with its health")
	fs.BoolVar(&verbose, "v", false, "short for --verbose")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	s, err := sf.open(e)
	if err != nil {
		return err
	}
	wheres := fs.Args()
	if len(wheres) == 0 {
		wheres = []string{""}
	}
	failed := false
	for _, where := range wheres {
		p, err := resolveWalkRoot(s, where)
		if err != nil {
			return err
		}
		wc, err := s.client()
		if err != nil {
			return err
		}
		st, err := wc.streamDeepCheck(ctx, p, o)
		if err != nil {
			return failure(err, "ERROR")
		}
		if raw {
			_, err = io.Copy(e.stdout, st)
			st.Close()
			if err != nil {
				return err
			}
			continue
		}
		pl := newProgressLine(e.stderr, false, walkProgress("deep-check", "checked"))
		out := &deepCheckOutput{w: pastProgress{pl, e.stdout}, verbose: verbose, repair: o.repair, counted: pl.itemDone}
		end, err := readWalk(st, pastProgress{pl, e.stderr}, out.unit)
		st.Close()
		pl.finish()
		if err != nil {
			return err
		}
		if end.failed || end.bad > 0 {
			failed = true
			continue
		}
		out.done()
	}
	if failed {
		return &exitError{code: 1}
	}
	return nil
}

// walkEnd is how a streaming walk's answer went.
type walkEnd struct {
	failed bool // the node reported the walk failed (an ERROR line)
	bad    int  // units that could not be read or shown
}

// readWalk reads the answer of a streaming walk (t=stream-deep-check,
// t=stream-manifest) as Tahoe's CLI does, a line at a time, handing each
// JSON unit to unit. A line beginning "ERROR:" is the node reporting that
// the walk failed: it and every line after it go to stderr. A line that
// is not JSON, or a unit that unit fails on, is reported on stderr, and
// the walk goes on. The error is an answer that broke off, or ended
// before the walk's final stats.
func readWalk(st *lineStream, stderr io.Writer, unit func(*deepUnitJSON) error) (walkEnd, error) {
	var end walkEnd
	sawStats := false
	for {
		line, err := st.line()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil && !errors.Is(err, errUnterminated) {
			return end, err
		}
		partial := err != nil
		switch {
		case end.failed:
			fmt.Fprintf(stderr, "%s\n", quoteName(string(line), false))
			continue
		case strings.HasPrefix(string(line), "ERROR:"):
			end.failed = true
			fmt.Fprintf(stderr, "%s\n", quoteName(string(line), false))
			continue
		case partial:
			return end, noAnswer(http.MethodPost, st.at, errUnterminated)
		}
		u, err := parseDeepUnit(line)
		if err != nil {
			end.bad++
			fmt.Fprintf(stderr, "ERROR could not decode/parse %s\nERROR  %v\n", quoteName(string(line), true), err)
			continue
		}
		if u.Type == "stats" {
			sawStats = true
		}
		if err := unit(u); err != nil {
			end.bad++
			fmt.Fprintf(stderr, "ERROR %s: %v\n", quotePath(u.Path), err)
		}
	}
	if !end.failed && !sawStats {
		return end, noAnswer(http.MethodPost, st.at, errors.New("the answer ended before the walk was done"))
	}
	return end, nil
}

// walkProgress is the progress line of a verb that walks a tree: "verb:
// 123 objects what", once there are some.
func walkProgress(verb, what string) func(progress) string {
	return func(p progress) string {
		if p.done == 0 {
			return ""
		}
		return fmt.Sprintf("%s: %d objects %s ", verb, p.done, what)
	}
}

// quotePath is a walk's path as Tahoe's quote_path shows it: the names
// joined by "/", in quotes.
func quotePath(path []string) string { return quoteName(strings.Join(path, "/"), true) }

// deepCheckOutput shows the units of a deep check as Tahoe's CLI does
// (its DeepCheckOutput and DeepCheckAndRepairOutput): with verbose a line
// per object, always the corrupt shares and repairs, a "N objects
// checked.." line every hundred objects, and the counts at the end.
type deepCheckOutput struct {
	w               io.Writer
	verbose, repair bool
	counted         func() // called for each object, for the progress line

	objects             int
	healthy, unhealthy  int // of a check; before repair, of a repair
	attempted, repaired int
	postHealthy         int
	postUnhealthy       int
}

// unit shows one unit of the walk; units other than files and
// directories are skipped.
func (d *deepCheckOutput) unit(u *deepUnitJSON) error {
	if u.Type != "file" && u.Type != "directory" {
		return nil
	}
	d.objects++
	if d.counted != nil {
		d.counted()
	}
	if d.objects%100 == 0 {
		fmt.Fprintf(d.w, "%d objects checked..\n", d.objects)
	}
	if d.repair {
		return d.repairUnit(u)
	}
	cr := u.Check
	if cr == nil {
		return errors.New("the node sent no check results")
	}
	if cr.Results.Healthy {
		d.healthy++
	} else {
		d.unhealthy++
	}
	if d.verbose {
		fmt.Fprintf(d.w, "%s: %s\n", quoteWalkPath(u.Path), quoteName(cr.summary(), false))
	}
	d.corrupt(cr)
	return nil
}

func (d *deepCheckOutput) repairUnit(u *deepUnitJSON) error {
	crr := u.Repair
	if crr == nil {
		return errors.New("the node sent no check-and-repair results")
	}
	wasHealthy := true
	if u.StorageIndex != "" {
		if crr.PreRepair == nil || crr.PostRepair == nil {
			return errors.New("the node sent no results from before and after the repair")
		}
		wasHealthy = crr.PreRepair.Results.Healthy
		if crr.PostRepair.Results.Healthy {
			d.postHealthy++
		} else {
			d.postUnhealthy++
		}
	} else {
		d.postHealthy++ // a LIT file
	}
	if wasHealthy {
		d.healthy++
	} else {
		d.unhealthy++
	}
	if crr.RepairAttempted {
		d.attempted++
		if crr.RepairSuccessful {
			d.repaired++
		}
	}
	if d.verbose {
		summary := "healthy"
		if !wasHealthy {
			summary = "not healthy"
		}
		fmt.Fprintf(d.w, "%s: %s\n", quoteWalkPath(u.Path), summary)
	}
	if crr.PreRepair != nil {
		d.corrupt(crr.PreRepair)
	}
	if crr.RepairAttempted {
		if crr.RepairSuccessful {
			fmt.Fprintln(d.w, " repair successful")
		} else {
			fmt.Fprintln(d.w, " repair failed")
		}
	}
	return nil
}

// corrupt lists a check's corrupt shares.
func (d *deepCheckOutput) corrupt(cr *checkResultsJSON) {
	for _, c := range cr.Results.Corrupt {
		fmt.Fprintf(d.w, " corrupt: %s\n", c.describe())
	}
}

// done shows the counts.
func (d *deepCheckOutput) done() {
	if !d.repair {
		fmt.Fprintf(d.w, "done: %d objects checked, %d healthy, %d unhealthy\n", d.objects, d.healthy, d.unhealthy)
		return
	}
	fmt.Fprintf(d.w, "done: %d objects checked\n", d.objects)
	fmt.Fprintf(d.w, " pre-repair: %d healthy, %d unhealthy\n", d.healthy, d.unhealthy)
	fmt.Fprintf(d.w, " %d repairs attempted, %d successful, %d failed\n", d.attempted, d.repaired, d.attempted-d.repaired)
	fmt.Fprintf(d.w, " post-repair: %d healthy, %d unhealthy\n", d.postHealthy, d.postUnhealthy)
}

// quoteWalkPath names an object of a walk in deep-check's lines: its
// path, or <root> for where the walk began.
func quoteWalkPath(path []string) string {
	if len(path) == 0 {
		path = []string{"<root>"}
	}
	return quotePath(path)
}

// pastProgress writes a verb's lines to w past its progress line, which
// is cleared for them and drawn again after.
type pastProgress struct {
	pl *progressLine
	w  io.Writer
}

func (p pastProgress) Write(b []byte) (int, error) {
	p.pl.printf(p.w, "%s", b)
	return len(b), nil
}
