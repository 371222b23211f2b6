package main

import (
	"context"
	"flag"
	"fmt"
	"io"
)

const checkHelp = `usage: lafs [-d NODEDIR] check [options] [ALIAS:PATH ...]

Check files or directories on the grid, one after the other: count how
many of each one's shares the storage servers hold (or, with --verify,
download them and check every hash), and with --repair make the missing
ones anew. With no path, "tahoe:" is checked.

A directory's check looks at the directory itself, not at what it holds:
'lafs deep-check' walks a whole tree.`

// runCheck is "tahoe check": one POST t=check&output=JSON per path, its
// answer shown as Tahoe's tahoe_check does, or as it came (--raw). It
// stops at the first path that fails.
func runCheck(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "check", checkHelp)
	var sf storeFlags
	sf.register(fs, e)
	var o checkOptions
	raw := fs.Bool("raw", false, "show the web API's JSON as it came")
	registerCheckFlags(fs, &o)
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
	for _, where := range wheres {
		p, err := resolveWalkRoot(s, where)
		if err != nil {
			return err
		}
		wc, err := s.client()
		if err != nil {
			return err
		}
		body, err := wc.checkResults(ctx, p, o)
		if err != nil {
			return failure(err, "ERROR")
		}
		if *raw {
			fmt.Fprintf(e.stdout, "%s\n", body)
			continue
		}
		if err := formatCheck(e.stdout, body, o.repair); err != nil {
			return failf("error: could not parse the web API's check results for %s: %v", p, err)
		}
	}
	return nil
}

// registerCheckFlags registers the options check and deep-check share.
func registerCheckFlags(fs *flag.FlagSet, o *checkOptions) {
	fs.BoolVar(&o.verify, "verify", false, "download every share and check all its hashes, not just that servers hold it")
	fs.BoolVar(&o.repair, "repair", false, "repair what the check finds wrong")
	fs.BoolVar(&o.addLease, "add-lease", false, "add or renew this client's lease on every share")
}

// resolveWalkRoot resolves the path a check, deep-check, manifest or
// stats starts from, as Tahoe's: a path of "/" is the root itself.
func resolveWalkRoot(s *session, where string) (gridPath, error) {
	p, err := s.resolve(where, defaultAlias)
	if err != nil {
		return p, err
	}
	if p.path == "/" {
		p.path = ""
	}
	return p, nil
}

// formatCheck renders a check's JSON answer (with repair, a
// check-and-repair's) as Tahoe's CLI does.
func formatCheck(w io.Writer, body []byte, repair bool) error {
	if repair {
		r, err := parseCheckAndRepair(body)
		if err != nil {
			return err
		}
		writeCheckAndRepair(w, r)
		return nil
	}
	r, err := parseCheckResults(body)
	if err != nil {
		return err
	}
	writeCheck(w, r)
	return nil
}

// writeCheck writes a check's results: the summary, the storage index,
// the share counts when the results have them, the corrupt shares.
func writeCheck(w io.Writer, r *checkResultsJSON) {
	fmt.Fprintf(w, "Summary: %s\n", quoteName(r.summary(), false))
	fmt.Fprintf(w, " storage index: %s\n", quoteName(r.StorageIndex, false))
	if c := r.Results; c.SharesGood != nil && c.SharesNeeded != nil && c.SharesExpected != nil && c.WrongShares != nil {
		writeShareCounts(w, c)
	}
	writeCorrupt(w, r.Results.Corrupt)
}

// writeCheckAndRepair writes a check-and-repair's results: whether the
// object was healthy before, its counts then, and what the repair did.
// (Tahoe's CLI fails on a LIT file's, which has no check results; lafs
// shows it healthy.)
func writeCheckAndRepair(w io.Writer, r *checkAndRepairJSON) {
	pre := r.PreRepair
	if pre == nil || pre.Results.Healthy {
		fmt.Fprintln(w, "Summary: healthy")
	} else {
		fmt.Fprintln(w, "Summary: not healthy")
	}
	fmt.Fprintf(w, " storage index: %s\n", quoteName(r.StorageIndex, false))
	if pre == nil {
		return
	}
	writeShareCounts(w, pre.Results)
	writeCorrupt(w, pre.Results.Corrupt)
	if r.RepairAttempted {
		if r.RepairSuccessful {
			fmt.Fprintln(w, " repair successful")
		} else {
			fmt.Fprintln(w, " repair failed")
		}
	}
}

// summary is the check's summary; LIT files and literal directories have
// none, and Tahoe's CLI calls them "Healthy (LIT)".
func (r *checkResultsJSON) summary() string {
	if r.Summary == nil {
		return "Healthy (LIT)"
	}
	return *r.Summary
}

func writeShareCounts(w io.Writer, c checkCountsJSON) {
	fmt.Fprintf(w, " good-shares: %s (encoding is %s-of-%s)\n", pyRepr(c.SharesGood), pyRepr(c.SharesNeeded), pyRepr(c.SharesExpected))
	fmt.Fprintf(w, " wrong-shares: %s\n", pyRepr(c.WrongShares))
}

// writeCorrupt lists the corrupt shares under a heading.
func writeCorrupt(w io.Writer, corrupt []corruptShareJSON) {
	if len(corrupt) == 0 {
		return
	}
	fmt.Fprintln(w, " corrupt shares:")
	for _, c := range corrupt {
		fmt.Fprintf(w, "  %s\n", c.describe())
	}
}

// describe is how Tahoe's CLI names a corrupt share.
func (c corruptShareJSON) describe() string {
	return fmt.Sprintf("server %s, SI %s, shnum %s", quoteName(c.Server, false), quoteName(c.StorageIndex, false), pyRepr(c.Num))
}
