package main

// backup is Tahoe's BackerUpper in three jobs: backup_scan.go reads the
// local tree (leaving out what backup_exclude.go's patterns match),
// backup_plan.go asks the backup database what is new, backup_run.go
// uploads it and makes the directories; backup_output.go says how it goes.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/lafs/lafs/backupdb"
)

const backupHelp = `usage: lafs [-d NODEDIR] backup [options] FROM ALIAS:TO

Add a versioned backup of the local FROM directory to a timestamped
subdirectory of the TO/Archives directory on the grid, sharing as many
files and directories as possible with earlier backups. Create TO/Latest
as a reference to the latest backup. Behaves somewhat like 'rsync -a
--link-dest=TO/Archives/(previous) FROM TO/Archives/(new); ln -sf
TO/Archives/(new) TO/Latest'.

Each backup is a tree of immutable directories: TO/Archives/<UTC time,
2006-01-02_15:04:05Z> and TO/Latest. Every file and directory carries its
local ctime, mtime, st_mode, st_ino, st_dev, st_uid and st_gid as metadata.
The backup database NODEDIR/private/backupdb.sqlite (the same file, in the
same format, as Tahoe's "tahoe backup" keeps) remembers what was uploaded:
a file whose size, mtime and ctime have not changed is not read again, and
a directory whose contents have not changed is not made again. Entries
older than a month are re-checked on the grid now and then. Symlinks and
special files are skipped with a warning (exit status 2).

Examples:
 % lafs create-alias backups
 % lafs backup ~/Documents backups:docs      # the first time uploads all
 % lafs backup ~/Documents backups:docs      # later, only what changed
 % lafs backup --exclude-vcs --exclude '*.tmp' ~/src backups:src`

// backupWorkers is how many files (or directories) backup sends at once.
const backupWorkers = 8

// backupOptions are backup's flags.
type backupOptions struct {
	verbose          bool
	ignoreTimestamps bool
	exclude          excludes
}

// parseBackupFlags parses backup's command line into its options, the
// node flags, FROM and TO.
func parseBackupFlags(e *env, args []string) (*backupOptions, *storeFlags, string, string, error) {
	fset := newFlagSet(e, "backup", backupHelp)
	sf := &storeFlags{}
	sf.register(fset, e)
	o := &backupOptions{exclude: excludes{patterns: map[string]bool{}}}
	fset.BoolVar(&o.verbose, "verbose", false, "be noisy about what is happening")
	fset.BoolVar(&o.verbose, "v", false, "short for --verbose")
	fset.BoolVar(&o.ignoreTimestamps, "ignore-timestamps", false,
		"do not use backupdb timestamps to decide whether a local file is unchanged")
	fset.Func("exclude", "ignore files matching a glob `PATTERN`; may be given more than once", func(p string) error {
		o.exclude.add(p)
		return nil
	})
	fset.Func("exclude-from-utf-8", "ignore files matching the glob patterns listed in `FILE`, one a line, in UTF-8", func(p string) error {
		abs, err := filepath.Abs(expandUser(e, p))
		if err != nil {
			abs = p
		}
		b, err := os.ReadFile(abs)
		if err == nil && !utf8.Valid(b) {
			err = fmt.Errorf("not UTF-8")
		}
		if err != nil {
			return fmt.Errorf("Error opening exclude file %s. (Error: %v)", quoteName(abs, true), err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			o.exclude.add(line)
		}
		return nil
	})
	fset.BoolFunc("exclude-vcs", "exclude the files and directories of version control systems: CVS, RCS, SCCS, Git, SVN, Arch, Bazaar, Mercurial, Darcs", func(string) error {
		for _, p := range vcsPatterns {
			o.exclude.add(p)
		}
		return nil
	})
	if err := parseFlags(fset, args); err != nil {
		return nil, nil, "", "", err
	}
	if fset.NArg() != 2 {
		return nil, nil, "", "", usagef("%s", backupHelp)
	}
	if err := o.exclude.compile(); err != nil {
		return nil, nil, "", "", err
	}
	return o, sf, fset.Arg(0), fset.Arg(1), nil
}

// runBackup is "tahoe backup".
func runBackup(ctx context.Context, e *env, args []string) error {
	start := e.now()
	o, sf, from, to, err := parseBackupFlags(e, args)
	if err != nil {
		return err
	}
	s, err := sf.open(e)
	if err != nil {
		return err
	}
	db, err := backupdb.Open(ctx, backupdb.Path(sf.dir))
	if err != nil {
		return failf("%v\nERROR: Unable to load backup db.", err)
	}
	defer db.Close()
	target, err := s.resolve(to, defaultAlias)
	if err != nil {
		return err
	}
	wc, err := s.client()
	if err != nil {
		return err
	}
	fromDir, err := filepath.Abs(expandUser(e, from))
	if err != nil {
		return err
	}
	if fi, err := os.Stat(fromDir); err != nil || !fi.IsDir() {
		return failf("error: %s is not a directory", quoteName(fromDir, true))
	}
	target.path = strings.TrimRight(target.path, "/")
	archives := target.child("Archives")

	// First, make sure the target directory and its Archives/ exist.
	_, err = wc.getJSON(ctx, archives)
	var ae *apiError
	switch {
	case errors.As(err, &ae) && ae.code == http.StatusNotFound:
		if _, err := wc.mkdir(ctx, archives, "t=mkdir"); err != nil {
			return failure(err, "Unable to create target directory")
		}
	case ae != nil:
		// Not for us to judge: linking the backup will say what is wrong.
	case err != nil:
		return err
	}

	// Second, the tree.
	b := &backerUpper{wc: wc, db: db, o: o, out: newBackupOutput(e, o.verbose)}
	defer b.out.finish()
	root := &bkNode{path: fromDir, dir: true}
	if !b.collect(root) {
		return failf("error: cannot read %s", quoteName(fromDir, true))
	}
	if err := b.run(ctx); err != nil {
		return err
	}
	if root.skipped {
		return failf("error: cannot back up %s", quoteName(fromDir, true))
	}

	// Third, link the new backup into Archives/ and as Latest.
	now := e.now().UTC().Format("2006-01-02_15:04:05") + "Z"
	if err := b.putChild(ctx, archives.child(now), root.cap); err != nil {
		return err
	}
	if err := b.putChild(ctx, target.child("Latest"), root.cap); err != nil {
		return err
	}
	b.out.finish()
	c := b.out.final()
	fmt.Fprintf(e.stdout, " %d files uploaded (%d reused), %d files skipped, %d directories created (%d reused), %d directories skipped\n",
		c.filesCreated, c.filesReused, c.filesSkipped, c.dirsCreated, c.dirsReused, c.dirsSkipped)
	if o.verbose {
		fmt.Fprintf(e.stdout, " %d files checked, %d directories checked\n", c.filesChecked, c.dirsChecked)
	}
	fmt.Fprintf(e.stdout, " backup done, elapsed time: %s\n", pyTimedelta(e.now().Sub(start)))
	if c.filesSkipped > 0 || c.dirsSkipped > 0 {
		return &exitError{code: 2}
	}
	return nil
}
