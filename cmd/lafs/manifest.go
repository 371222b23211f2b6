package main

import (
	"context"
	"fmt"
	"io"
	"strings"
)

const manifestHelp = `usage: lafs [-d NODEDIR] manifest [options] [ALIAS:PATH]

List every file and directory reachable from a directory, one a line: its
cap and its path below the directory. With --storage-index, --verify-cap
or --repair-cap, list just that of each (objects without one, such as
LIT files, are left out). With no path, "tahoe:" is listed.`

// manifestOptions are manifest's flags: which of each object's names to
// show (the first set of storageIndex, verifyCap, repairCap; none: the
// cap and the path).
type manifestOptions struct {
	raw, storageIndex, verifyCap, repairCap bool
}

// runManifest is "tahoe manifest": POST t=stream-manifest, its answer read
// a line at a time as it comes and shown as Tahoe's tahoe_manifest does,
// or as it came (--raw).
func runManifest(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "manifest", manifestHelp)
	var sf storeFlags
	sf.register(fs, e)
	var o manifestOptions
	fs.BoolVar(&o.storageIndex, "storage-index", false, "show only the storage index of each object")
	fs.BoolVar(&o.storageIndex, "s", false, "short for --storage-index")
	fs.BoolVar(&o.verifyCap, "verify-cap", false, "show only the verify cap of each object")
	fs.BoolVar(&o.repairCap, "repair-cap", false, "show only the repair cap of each object")
	fs.BoolVar(&o.raw, "raw", false, "show the web API's JSON lines as they came")
	fs.BoolVar(&o.raw, "r", false, "short for --raw")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return usagef("%s", manifestHelp)
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
	st, err := wc.streamManifest(ctx, p)
	if err != nil {
		return failure(err, "ERROR")
	}
	defer st.Close()
	if o.raw {
		_, err := io.Copy(e.stdout, st)
		return err
	}
	pl := newProgressLine(e.stderr, false, walkProgress("manifest", "listed"))
	out := &manifestOutput{w: pastProgress{pl, e.stdout}, o: o, counted: pl.itemDone}
	end, err := readWalk(st, pastProgress{pl, e.stderr}, out.unit)
	pl.finish()
	if err != nil {
		return err
	}
	if end.failed { // as in Tahoe, units it could not read are not failures
		return &exitError{code: 1}
	}
	return nil
}

// manifestOutput shows the units of a manifest's walk as Tahoe's CLI
// does: a line per file or directory.
type manifestOutput struct {
	w       io.Writer
	o       manifestOptions
	counted func() // called for each object, for the progress line
}

func (m *manifestOutput) unit(u *deepUnitJSON) error {
	if u.Type != "file" && u.Type != "directory" {
		return nil
	}
	if m.counted != nil {
		m.counted()
	}
	var s string
	switch {
	case m.o.storageIndex:
		s = u.StorageIndex
	case m.o.verifyCap:
		s = u.VerifyCap
	case m.o.repairCap:
		s = u.RepairCap
	default:
		fmt.Fprintf(m.w, "%s %s\n", quoteName(u.Cap, false), quoteLocal(strings.Join(u.Path, "/"), false))
		return nil
	}
	if s != "" {
		fmt.Fprintf(m.w, "%s\n", quoteName(s, false))
	}
	return nil
}
