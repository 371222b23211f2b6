package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/lafs/lafs/backupdb"
	"github.com/lafs/lafs/dirnode"
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

// backupNow is the clock that names the archives; tests replace it.
var backupNow = time.Now

// vcsPatterns are what --exclude-vcs excludes, as Tahoe's
// BackupOptions.vcs_patterns.
var vcsPatterns = []string{"CVS", "RCS", "SCCS", ".git", ".gitignore", ".cvsignore",
	".svn", ".arch-ids", "{arch}", "=RELEASE-ID", "=meta-update", "=update",
	".bzr", ".bzrignore", ".bzrtags", ".hg", ".hgignore", "_darcs"}

// backupOptions are backup's flags.
type backupOptions struct {
	verbose          bool
	ignoreTimestamps bool
	exclude          map[string]bool // glob patterns, as Tahoe's set
	excludeRE        []*regexp.Regexp
}

// addExclude adds a pattern, stripped of surrounding white space; an empty
// one is ignored (Tahoe's opt_exclude).
func (o *backupOptions) addExclude(p string) {
	if p = strings.TrimSpace(p); p != "" {
		o.exclude[p] = true
	}
}

// excluded reports whether a child's name matches an --exclude pattern.
func (o *backupOptions) excluded(name string) bool {
	for _, re := range o.excludeRE {
		if re.MatchString(name) {
			return true
		}
	}
	return false
}

// parseBackupFlags parses backup's command line into its options, the
// node flags, FROM and TO.
func parseBackupFlags(e *env, args []string) (*backupOptions, *storeFlags, string, string, error) {
	fset := newFlagSet(e, "backup", backupHelp)
	sf := &storeFlags{}
	sf.register(fset, e)
	o := &backupOptions{exclude: map[string]bool{}}
	fset.BoolVar(&o.verbose, "verbose", false, "be noisy about what is happening")
	fset.BoolVar(&o.verbose, "v", false, "short for --verbose")
	fset.BoolVar(&o.ignoreTimestamps, "ignore-timestamps", false,
		"do not use backupdb timestamps to decide whether a local file is unchanged")
	fset.Func("exclude", "ignore files matching a glob `PATTERN`; may be given more than once", func(p string) error {
		o.addExclude(p)
		return nil
	})
	fset.Func("exclude-from-utf-8", "ignore files matching the glob patterns listed in `FILE`, one a line, in UTF-8", func(p string) error {
		abs, err := filepath.Abs(expandHome(e, p))
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
			o.addExclude(line)
		}
		return nil
	})
	fset.BoolFunc("exclude-vcs", "exclude the files and directories of version control systems: CVS, RCS, SCCS, Git, SVN, Arch, Bazaar, Mercurial, Darcs", func(string) error {
		for _, p := range vcsPatterns {
			o.addExclude(p)
		}
		return nil
	})
	if err := parseFlags(fset, args, "v"); err != nil {
		return nil, nil, "", "", err
	}
	if fset.NArg() != 2 {
		return nil, nil, "", "", usagef("%s", backupHelp)
	}
	for p := range o.exclude {
		re, err := fnmatchRegexp(p)
		if err != nil {
			return nil, nil, "", "", usagef("bad --exclude pattern %s: %v", quoteName(p, true), err)
		}
		o.excludeRE = append(o.excludeRE, re)
	}
	return o, sf, fset.Arg(0), fset.Arg(1), nil
}

// expandHome expands a leading "~" as Python's os.path.expanduser.
func expandHome(e *env, p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		home := e.getenv("HOME")
		if home == "" {
			home, _ = os.UserHomeDir()
		}
		return home + p[1:]
	}
	return p
}

// fnmatchRegexp compiles a glob as Python's re.compile(fnmatch.translate(p))
// whose match() Tahoe applies to each name: the whole name must match; "*"
// is any run of characters, "?" any one, "[seq]" and "[!seq]" a set (a
// "[" without its "]" is literal), and every other character itself
// (a backslash included: it escapes nothing). Case matters.
func fnmatchRegexp(pat string) (*regexp.Regexp, error) {
	rs := []rune(pat)
	var b strings.Builder
	b.WriteString(`(?s)^(?:`)
	star := false
	for i := 0; i < len(rs); {
		c := rs[i]
		i++
		if c == '*' {
			if !star {
				b.WriteString(`.*`)
			}
			star = true
			continue
		}
		star = false
		switch c {
		case '?':
			b.WriteString(`.`)
		case '[':
			j := i
			if j < len(rs) && rs[j] == '!' {
				j++
			}
			if j < len(rs) && rs[j] == ']' {
				j++
			}
			for j < len(rs) && rs[j] != ']' {
				j++
			}
			if j >= len(rs) {
				b.WriteString(`\[`)
				continue
			}
			b.WriteString(globClass(rs[i:j]))
			i = j + 1
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString(`)$`)
	return regexp.Compile(b.String())
}

// globClass is the regexp of a glob's [set] (without its brackets), as
// fnmatch.translate makes it: "!" first negates; "x-y" is a range, except
// that a "-" first or last is itself; a range whose ends are reversed
// matches nothing (Python drops it).
func globClass(set []rune) string {
	neg := len(set) > 0 && set[0] == '!'
	if neg {
		set = set[1:]
	}
	var items strings.Builder
	n := 0
	for k := 0; k < len(set); {
		if k+2 < len(set) && set[k+1] == '-' {
			if lo, hi := set[k], set[k+2]; lo <= hi {
				fmt.Fprintf(&items, `\x{%x}-\x{%x}`, lo, hi)
				n++
			}
			k += 3
			continue
		}
		fmt.Fprintf(&items, `\x{%x}`, set[k])
		n++
		k++
	}
	switch {
	case n == 0 && neg:
		return `.`
	case n == 0:
		return `[^\x00-\x{10FFFF}]` // matches nothing
	case neg:
		return `[^` + items.String() + `]`
	}
	return `[` + items.String() + `]`
}

// runBackup is "tahoe backup".
func runBackup(ctx context.Context, e *env, args []string) error {
	start := time.Now()
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
	p, err := s.resolve(to, defaultAlias)
	if err != nil {
		return err
	}
	base, err := s.web()
	if err != nil {
		return err
	}
	fromDir, err := filepath.Abs(expandHome(e, from))
	if err != nil {
		return err
	}
	if fi, err := os.Stat(fromDir); err != nil || !fi.IsDir() {
		return failf("error: %s is not a directory", quoteName(fromDir, true))
	}
	toURL := strings.TrimRight(objectURL(base, p.root, p.path), "/")
	archivesURL := toURL + "/Archives"

	// First, make sure the target directory and its Archives/ exist.
	resp, _, err := s.call(ctx, http.MethodGet, archivesURL+"?t=json", nil)
	if err != nil {
		return err
	}
	if resp.StatusCode == http.StatusNotFound {
		resp, body, err := s.call(ctx, http.MethodPost, archivesURL+"?t=mkdir", nil)
		if err != nil {
			return err
		}
		if !ok2xx(resp.StatusCode) {
			return failf("%s", httpFailure("Unable to create target directory", resp, body))
		}
	}

	// Second, the tree.
	b := &backerUpper{base: base, db: db, o: o, out: newBackupOutput(e, start, o.verbose)}
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
	now := backupNow().UTC().Format("2006-01-02_15:04:05") + "Z"
	if err := b.putChild(ctx, archivesURL, now, root.cap); err != nil {
		return err
	}
	if err := b.putChild(ctx, toURL, "Latest", root.cap); err != nil {
		return err
	}
	b.out.finish()
	c := b.out.counts
	fmt.Fprintf(e.stdout, " %d files uploaded (%d reused), %d files skipped, %d directories created (%d reused), %d directories skipped\n",
		c.filesCreated, c.filesReused, c.filesSkipped, c.dirsCreated, c.dirsReused, c.dirsSkipped)
	if o.verbose {
		fmt.Fprintf(e.stdout, " %d files checked, %d directories checked\n", c.filesChecked, c.dirsChecked)
	}
	fmt.Fprintf(e.stdout, " backup done, elapsed time: %s\n", pyTimedelta(time.Since(start)))
	if c.filesSkipped > 0 || c.dirsSkipped > 0 {
		return &exitError{code: 2}
	}
	return nil
}

// bkNode is one local file or directory to back up.
type bkNode struct {
	path   string // absolute
	name   string
	dir    bool
	parent *bkNode
	kids   []*bkNode // a directory's children, skipped ones left out

	pending int // children not done yet (guarded by backerUpper.mu)

	// Set by the worker that backs the node up, before its parent runs.
	skipped bool   // could not be read: left out of its parent
	cap     string // its immutable cap
	md      *dirnode.Object
}

// do and call are the session's web API calls (httpClient keeps enough
// idle connections for the backupWorkers uploads in flight).
func (b *backerUpper) do(ctx context.Context, method, u string, body io.Reader, size int64) (*http.Response, error) {
	var s session
	return s.do(ctx, method, u, body, size)
}

func (b *backerUpper) call(ctx context.Context, method, u string, body []byte) (*http.Response, []byte, error) {
	var s session
	return s.call(ctx, method, u, body)
}

// backerUpper does one backup (Tahoe's BackerUpper).
type backerUpper struct {
	base string
	db   *backupdb.DB
	o    *backupOptions
	out  *backupOutput

	mu    sync.Mutex
	nodes int       // nodes in the tree
	ready []*bkNode // files and empty directories: the first work
}

// collect reads the tree under d (Tahoe's collect_backup_targets),
// leaving out excluded names and, with a warning, what cannot be backed
// up. It reports whether d could be listed.
func (b *backerUpper) collect(d *bkNode) bool {
	ents, err := os.ReadDir(d.path)
	if err != nil {
		if d.parent != nil {
			b.out.skip(true, "WARNING: permission denied on directory %s", quoteLocal(d.path, true))
		}
		return false
	}
	b.nodes++
	for _, ent := range ents {
		name := ent.Name()
		if b.o.excluded(name) {
			continue
		}
		p := filepath.Join(d.path, name)
		t := ent.Type()
		switch {
		case !utf8.ValidString(name):
			// Tahoe cannot name such a file on the grid either.
			kind := "file"
			if t.IsDir() {
				kind = "directory"
			}
			b.out.skip(t.IsDir(), "WARNING: could not list %s %s due to a filename encoding error", kind, quoteLocal(p, true))
		case t&fs.ModeSymlink != 0:
			b.out.skip(false, "WARNING: cannot backup symlink %s", quoteLocal(p, true))
		case t.IsDir():
			kid := &bkNode{path: p, name: name, dir: true, parent: d}
			if b.collect(kid) {
				d.kids = append(d.kids, kid)
			}
		case t.IsRegular():
			kid := &bkNode{path: p, name: name, parent: d}
			d.kids = append(d.kids, kid)
			b.nodes++
			b.ready = append(b.ready, kid)
		default:
			b.out.skip(false, "WARNING: cannot backup special %s", quoteLocal(p, true))
		}
	}
	d.pending = len(d.kids)
	if len(d.kids) == 0 {
		b.ready = append(b.ready, d)
	}
	return true
}

// run backs up every node that collect found, backupWorkers at a time:
// files and empty directories first, each other directory once all its
// children are done, the root last. The first error stops it.
func (b *backerUpper) run(ctx context.Context) error {
	b.out.start(b.nodes)
	queue := make(chan *bkNode, b.nodes) // each node is queued once: never blocks
	for _, n := range b.ready {
		queue <- n
	}
	b.ready = nil
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	rootDone := make(chan struct{})
	var wg sync.WaitGroup
	for range backupWorkers {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-rootDone:
					return
				case n := <-queue:
					var err error
					if n.dir {
						err = b.backupDir(ctx, n)
					} else {
						err = b.backupFile(ctx, n)
					}
					if err != nil {
						cancel(err)
						return
					}
					b.done(n, queue, rootDone)
				}
			}
		})
	}
	select {
	case <-rootDone:
	case <-ctx.Done():
	}
	wg.Wait()
	select {
	case <-rootDone:
		return nil
	default:
		return context.Cause(ctx)
	}
}

// done queues n's parent if n was its last child, or ends the run if n
// is the root.
func (b *backerUpper) done(n *bkNode, queue chan<- *bkNode, rootDone chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := n.parent
	if p == nil {
		close(rootDone)
		return
	}
	if p.pending--; p.pending == 0 {
		queue <- p
	}
}

// localMetadata is the metadata Tahoe's get_local_metadata records of a
// local file: ctime and mtime as floats, then the POSIX stat fields.
func localMetadata(st *backupdb.FileStat) *dirnode.Object {
	md := &dirnode.Object{}
	md.Set("ctime", st.Ctime)
	md.Set("mtime", st.Mtime)
	if st.POSIX {
		md.Set("st_mode", st.Mode)
		md.Set("st_ino", st.Ino)
		md.Set("st_dev", st.Dev)
		md.Set("st_uid", st.Uid)
		md.Set("st_gid", st.Gid)
	}
	return md
}

// backupFile uploads a file unless the backup database knows it
// unchanged (Tahoe's BackerUpper.upload).
func (b *backerUpper) backupFile(ctx context.Context, n *bkNode) error {
	st, err := backupdb.Stat(n.path)
	if err != nil {
		b.skipNode(n, "WARNING: permission denied on file %s")
		return nil
	}
	n.md = localMetadata(st)
	must, r, err := b.checkFile(ctx, n.path, st)
	if err != nil {
		return err
	}
	if !must {
		b.out.say("skipping %s..", quoteLocal(n.path, true))
		n.cap = r.Filecap
		b.out.count(func(c *backupCounts) { c.filesReused++ })
		return nil
	}
	b.out.say("uploading %s..", quoteLocal(n.path, true))
	f, err := os.Open(n.path)
	if err != nil {
		b.skipNode(n, "WARNING: permission denied on file %s")
		return nil
	}
	defer f.Close()
	size := st.Info.Size
	if fi, err := f.Stat(); err == nil {
		size = fi.Size()
	}
	resp, err := b.do(ctx, http.MethodPut, b.base+"uri", io.LimitReader(f, size), size)
	if err != nil {
		return err
	}
	answer, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		return failf("%s", httpFailure("Error during file PUT", resp, answer))
	}
	filecap := strings.TrimSpace(string(answer))
	b.out.say(" %s -> %s", quoteLocal(n.path, false), quoteName(filecap, false))
	if err := r.DidUpload(ctx, filecap); err != nil {
		return err
	}
	n.cap = filecap
	b.out.count(func(c *backupCounts) { c.filesCreated++ })
	return nil
}

// checkFile asks the backup database about a file, and checks its old cap
// on the grid when the database says so (Tahoe's check_backupdb_file).
func (b *backerUpper) checkFile(ctx context.Context, path string, st *backupdb.FileStat) (bool, *backupdb.FileResult, error) {
	r, err := b.db.CheckFile(ctx, path, st.Info, !b.o.ignoreTimestamps)
	if err != nil {
		return false, nil, err
	}
	if r.Filecap == "" {
		return true, r, nil
	}
	if !r.ShouldCheck {
		return false, r, nil // uploaded or checked recently
	}
	b.out.count(func(c *backupCounts) { c.filesChecked++ })
	healthy, err := b.check(ctx, r.Filecap)
	if err != nil || !healthy {
		return true, r, err
	}
	return false, r, r.DidCheckHealthy(ctx)
}

// check runs the grid's checker on a cap (POST t=check&output=JSON). A
// check that fails counts as unhealthy, as in Tahoe.
func (b *backerUpper) check(ctx context.Context, c string) (bool, error) {
	b.out.say("checking %s", quoteName(c, true))
	resp, body, err := b.call(ctx, http.MethodPost, b.base+"uri/"+pyQuote(c)+"?t=check&output=JSON", nil)
	if err != nil {
		return false, err
	}
	if resp.StatusCode != http.StatusOK {
		return false, nil
	}
	var cr struct {
		Results struct {
			Healthy bool `json:"healthy"`
		} `json:"results"`
	}
	if json.Unmarshal(body, &cr) != nil {
		return false, nil
	}
	return cr.Results.Healthy, nil
}

// backupDir makes the immutable directory of a local directory whose
// children are all done, unless the backup database knows one with the
// same contents (Tahoe's DirectoryTarget.backup and upload_directory).
func (b *backerUpper) backupDir(ctx context.Context, n *bkNode) error {
	st, err := backupdb.Stat(n.path)
	if err != nil {
		b.skipNode(n, "WARNING: permission denied on directory %s")
		return nil
	}
	n.md = localMetadata(st)
	type props struct {
		RO       string          `json:"ro_uri"`
		Metadata *dirnode.Object `json:"metadata"`
	}
	compare := map[string]string{}
	create := map[string][2]any{}
	for _, k := range n.kids {
		if k.skipped {
			continue
		}
		kind := "filenode"
		if k.dir {
			kind = "dirnode"
		}
		compare[k.name] = k.cap
		create[k.name] = [2]any{kind, props{k.cap, k.md}}
	}
	must, r, err := b.checkDirectory(ctx, compare)
	if err != nil {
		return err
	}
	if !must {
		b.out.say(" re-using old directory for %s", quoteLocal(n.path, true))
		n.cap = r.Dircap
		b.out.count(func(c *backupCounts) { c.dirsReused++ })
		return nil
	}
	b.out.say(" creating directory for %s", quoteLocal(n.path, true))
	body, err := json.Marshal(create)
	if err != nil {
		return err
	}
	resp, answer, err := b.call(ctx, http.MethodPost, b.base+"uri?t=mkdir-immutable", body)
	if err != nil {
		return err
	}
	if !ok2xx(resp.StatusCode) {
		return failf("%s", httpFailure("Error during mkdir", resp, answer))
	}
	dircap := strings.TrimSpace(string(answer))
	if err := r.DidCreate(ctx, dircap); err != nil {
		return err
	}
	n.cap = dircap
	b.out.count(func(c *backupCounts) { c.dirsCreated++ })
	return nil
}

// checkDirectory asks the backup database about a directory's contents,
// and checks the old directory on the grid when it says so (Tahoe's
// check_backupdb_directory).
func (b *backerUpper) checkDirectory(ctx context.Context, contents map[string]string) (bool, *backupdb.DirectoryResult, error) {
	r, err := b.db.CheckDirectory(ctx, contents)
	if err != nil {
		return false, nil, err
	}
	if r.Dircap == "" {
		return true, r, nil
	}
	if !r.ShouldCheck {
		return false, r, nil
	}
	b.out.count(func(c *backupCounts) { c.dirsChecked++ })
	healthy, err := b.check(ctx, r.Dircap)
	if err != nil || !healthy {
		return true, r, err
	}
	return false, r, r.DidCheckHealthy(ctx)
}

// skipNode leaves a node that turned out unreadable out of its parent.
func (b *backerUpper) skipNode(n *bkNode, format string) {
	n.skipped = true
	b.out.skip(n.dir, format, quoteLocal(n.path, true))
}

// putChild links a cap as dirURL/name (Tahoe's put_child).
func (b *backerUpper) putChild(ctx context.Context, dirURL, name, c string) error {
	resp, body, err := b.call(ctx, http.MethodPut, dirURL+"/"+pyQuote(name)+"?t=uri", []byte(c))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		return failf("%s", httpFailure("Error during put_child", resp, body))
	}
	return nil
}

// quoteLocal quotes a local path as Tahoe's quote_local_unicode_path:
// quoteName, with newlines always escaped.
func quoteLocal(p string, quotemarks bool) string {
	if !quotemarks && strings.Contains(p, "\n") {
		return quoteName(p, true)
	}
	return quoteName(p, quotemarks)
}

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
// ("Backing up 12/345... 0h 0m 3s elapsed...") redrawn on stderr in place.
type backupOutput struct {
	mu      sync.Mutex
	e       *env
	verbose bool
	term    bool
	begin   time.Time
	total   int // targets: files, directories and what was skipped
	skipped int // skipped before the count was known
	counts  backupCounts
	last    time.Time
	drawn   int // width of the progress line shown, 0 if none
}

func newBackupOutput(e *env, begin time.Time, verbose bool) *backupOutput {
	return &backupOutput{e: e, verbose: verbose, term: isTerminal(e.stderr), begin: begin}
}

// start sets the number of targets once the tree is read.
func (o *backupOutput) start(nodes int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.total = nodes + o.counts.filesSkipped + o.counts.dirsSkipped
	o.draw(true)
}

// clear removes the progress line, if one is shown. o.mu is held.
func (o *backupOutput) clear() {
	if o.drawn > 0 {
		fmt.Fprintf(o.e.stderr, "\r%s\r", strings.Repeat(" ", o.drawn))
		o.drawn = 0
	}
}

// draw redraws the progress line at most ten times a second. o.mu is held.
func (o *backupOutput) draw(force bool) {
	if !o.term || o.total == 0 || (!force && time.Since(o.last) < 100*time.Millisecond) {
		return
	}
	o.last = time.Now()
	line := fmt.Sprintf("Backing up %d/%d... %s elapsed...", o.counts.targets(), o.total, formatElapsed(time.Since(o.begin)))
	pad := ""
	if n := utf8.RuneCountInString(line); n < o.drawn {
		pad = strings.Repeat(" ", o.drawn-n)
	}
	fmt.Fprintf(o.e.stderr, "\r%s%s", line, pad)
	o.drawn = max(o.drawn, utf8.RuneCountInString(line))
}

// say prints a -v line on stdout.
func (o *backupOutput) say(format string, a ...any) {
	if !o.verbose {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.clear()
	fmt.Fprintf(o.e.stdout, format+"\n", a...)
}

// skip warns on stderr of something left out, and counts it.
func (o *backupOutput) skip(isDir bool, format string, a ...any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.clear()
	fmt.Fprintf(o.e.stderr, format+"\n", a...)
	if isDir {
		o.counts.dirsSkipped++
	} else {
		o.counts.filesSkipped++
	}
	o.draw(false)
}

// count updates the counts and the progress line.
func (o *backupOutput) count(f func(*backupCounts)) {
	o.mu.Lock()
	defer o.mu.Unlock()
	f(&o.counts)
	o.draw(false)
}

// finish shows the final progress and ends its line; again, it does
// nothing.
func (o *backupOutput) finish() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.drawn > 0 {
		o.draw(true)
		fmt.Fprintln(o.e.stderr)
		o.drawn = 0
	}
}

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
