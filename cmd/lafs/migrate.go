package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/backend"
	"github.com/lafs/lafs/leasedb"
	"github.com/lafs/lafs/node"
	"github.com/lafs/lafs/storage"
)

const migrateStorageHelp = `usage: lafs admin migrate-storage --to=s3|disk [NODEDIR]

Move the shares and leases of the storage node in NODEDIR (default: the
global -d directory, else ~/.tahoe) from its storage folder into its S3
bucket (--to=s3), or back (--to=disk), then set [storage] backend in
tahoe.cfg to the new place. The node must be stopped: the command holds
the node directory, as "lafs run" does, and refuses while the node runs.

Either way, tahoe.cfg must name the bucket (s3.endpoint, s3.bucket, and
s3.region, s3.prefix, s3.path_style as needed; "lafs config set" sets
them) and NODEDIR/private/ must hold the store's credentials:
s3_access_key_id and s3_secret_access_key, one line each, mode 0600.

The source is left as it was; the command says how to remove it once
the node runs well from its new place. If it is stopped (Ctrl-C), run it
again: it goes on where it was, and shares already copied are not copied
again (a mutable share changed since is). Shares that cannot be copied (a
corrupt container, an unreadable lease record) are listed by storage
index and share number, and tahoe.cfg is then not changed.

A destination that already holds shares is refused, unless they are an
unfinished run's: shares left there by an earlier migration may be older
than the node's. If the node ran in between (from its old place), its
next start marks the unfinished run stale, and the destination must be
emptied before a new run. A node whose tahoe.cfg names --to already has
nothing to move: the command says so and copies nothing (copying again
from the old place would bring back shares deleted since).`

// runMigrateStorage is "lafs admin migrate-storage".
func runMigrateStorage(ctx context.Context, e *env, args []string) error {
	const verb = "lafs admin migrate-storage"
	flags := newFlagSet(e, "admin migrate-storage", migrateStorageHelp)
	to := flags.String("to", "", "where to move the shares: `BACKEND`, s3 or disk")
	basedir := flags.String("basedir", "", "the node directory (instead of the `NODEDIR` argument)")
	flags.StringVar(basedir, "C", "", "short for --basedir")
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	dir := *basedir
	switch {
	case flags.NArg() == 1 && dir == "":
		dir = flags.Arg(0)
	case flags.NArg() > 1 || (flags.NArg() == 1 && dir != ""):
		return usagef("%s: one node directory at most", verb)
	case dir == "":
		dir = defaultNodeDir(e)
	}
	switch *to {
	case node.BackendS3, node.BackendDisk:
	case "":
		return usagef("%s: say where to move the shares: --to=s3 or --to=disk", verb)
	default:
		return usagef("%s: --to=%s: want s3 or disk", verb, *to)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(abs, "tahoe.cfg")); err != nil {
		return failf("%s: %s is not a node directory: %v", verb, abs, err)
	}
	lock, err := node.LockNodeDir(abs)
	if errors.Is(err, node.ErrNodeRunning) {
		return failf("%s: %v; the shares can only be moved while the node is stopped", verb, err)
	}
	if err != nil {
		return err
	}
	defer lock.Release()
	m := &migration{e: e, verb: verb, basedir: abs, to: *to}
	return m.run(ctx)
}

// migration is one run of migrate-storage over a locked node directory.
type migration struct {
	e        *env
	verb     string
	basedir  string
	from, to string
}

// failedShare is a share Migrate could not copy.
type failedShare struct {
	si      lafs.StorageIndex
	sh      lafs.ShareNum
	corrupt bool
}

func (m *migration) run(ctx context.Context) error {
	e := m.e
	cfg, err := node.ReadConfig(m.basedir)
	if err != nil {
		return err
	}
	if cfg.Kind() == node.KindIntroducer {
		return failf("%s: %s is an introducer's directory: it stores no shares", m.verb, m.basedir)
	}
	sc := cfg.Storage()
	m.from = node.BackendS3
	if m.to == node.BackendS3 {
		m.from = node.BackendDisk
	}
	if sc.Backend == m.to {
		fmt.Fprintf(e.stdout, "[storage] backend is %s already in %s: nothing to move.\n", m.to, cfg.File())
		return nil
	}
	if err := sc.S3.Check(); err != nil {
		return failf("%s: [storage] %v in %s; set the bucket with \"lafs config set storage.s3.KEY VALUE\"", m.verb, err, cfg.File())
	}
	for _, f := range []string{node.S3AccessKeyFile, node.S3SecretKeyFile} {
		if _, err := os.Stat(filepath.Join(m.basedir, filepath.FromSlash(f))); err != nil {
			return failf("%s: the store's credentials must be in %s and %s (one line each, mode 0600): %v",
				m.verb, filepath.Join(m.basedir, filepath.FromSlash(node.S3AccessKeyFile)),
				filepath.Join(m.basedir, filepath.FromSlash(node.S3SecretKeyFile)), errors.Unwrap(err))
		}
	}
	sealPath := filepath.Join(m.basedir, filepath.FromSlash(node.StorageSealKeyFile))
	_, serr := os.Stat(sealPath)
	newSeal := errors.Is(serr, fs.ErrNotExist)
	id, err := node.LoadOrCreateIdentity(m.basedir)
	if err != nil {
		return err
	}

	opts := node.OpenShareOptions{
		Logger:   slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Progress: rebuildProgress(e.stderr),
		// A node moving to a bucket for the first time gets its seal
		// key here; the bucket must then hold nothing of another key's.
		CreateSealKey: m.to == node.BackendS3,
	}
	opts.Backend = m.from
	src, err := node.OpenShares(ctx, m.basedir, cfg, id.NodeID, opts)
	if err != nil {
		return fmt.Errorf("%s: opening the %s backend: %w", m.verb, m.from, err)
	}
	defer src.Close()
	opts.Backend = m.to
	dst, err := node.OpenShares(ctx, m.basedir, cfg, id.NodeID, opts)
	if err != nil {
		return fmt.Errorf("%s: opening the %s backend: %w", m.verb, m.to, err)
	}
	defer dst.Close()
	if newSeal {
		if _, err := os.Stat(sealPath); err == nil {
			fmt.Fprintf(e.stderr, "Made the storage seal key %s: keep a copy of it with the node's other private files; without it the bucket cannot be read.\n", sealPath)
		}
	}

	marker := filepath.Join(dst.Dir, node.MigrateMarkerPrefix+m.to)
	if err := m.checkDestination(ctx, dst, marker, sc); err != nil {
		return err
	}
	if err := os.WriteFile(marker, []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o600); err != nil {
		return fmt.Errorf("marking the migration as begun: %w", err)
	}
	fmt.Fprintf(e.stderr, "Moving the shares and leases of %s from the %s to the %s.\n", m.basedir, m.describe(m.from, sc), m.describe(m.to, sc))

	var failed []failedShare
	var last time.Time
	p, err := storage.Migrate(ctx, src.Shares, dst.Shares,
		func(p storage.MigrateProgress) {
			if time.Since(last) < time.Second {
				return
			}
			last = time.Now()
			fmt.Fprintf(e.stderr, "copying: %s\n", migrateSummary(p))
		},
		func(k backend.Key, err error) {
			failed = append(failed, failedShare{si: k.SI, sh: k.Share, corrupt: !errors.Is(err, storage.ErrLeasesUnknown)})
		})
	// The destination is closed (its journal flushed, its lease index
	// written) before tahoe.cfg names it.
	cerr := errors.Join(dst.Close(), src.Close())
	if err == nil && cerr != nil {
		err = fmt.Errorf("closing the storage backends: %w", cerr)
	}
	state := "done"
	switch {
	case err != nil:
		state = "stopped"
	case len(failed) > 0:
		state = "finished"
	}
	fmt.Fprintf(e.stderr, "%s: %s\n", state, migrateSummary(p))
	if len(failed) > 0 {
		fmt.Fprintf(e.stderr, "These shares were not copied:\n")
		for _, f := range failed {
			why := "its leases cannot be read (an altered or unreadable lease record)"
			if f.corrupt {
				why = "not a valid share container (corrupt)"
			}
			fmt.Fprintf(e.stderr, "  storage index %s share %d: %s\n", f.si, f.sh, why)
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintf(e.stderr, "Interrupted: tahoe.cfg is unchanged ([storage] backend = %s). Run the same command again to go on; shares already copied are not copied again.\n", sc.Backend)
		}
		return err
	}
	if len(failed) > 0 {
		return failf("%s: %d of the shares could not be copied, so tahoe.cfg is unchanged ([storage] backend = %s); "+
			"once they are mended or removed from the %s, run the command again (the others are not copied again)",
			m.verb, len(failed), sc.Backend, m.describe(m.from, sc))
	}
	if _, err := node.EditConfig(m.basedir, func(f *node.CfgFile) error { return f.Set("storage", "backend", m.to) }); err != nil {
		return fmt.Errorf("every share was copied, but setting [storage] backend = %s: %w", m.to, err)
	}
	if err := os.Remove(marker); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing %s: %w", marker, err)
	}
	fmt.Fprintf(e.stdout, "Every share is in the %s; tahoe.cfg now says [storage] backend = %s.\n", m.describe(m.to, sc), m.to)
	m.explainSource(e.stdout, src, sc)
	return nil
}

// describe names one side of the migration for messages.
func (m *migration) describe(kind string, sc node.StorageConfig) string {
	if kind == node.BackendS3 {
		s := fmt.Sprintf("bucket %s at %s", sc.S3.Bucket, sc.S3.Endpoint)
		if sc.S3.Prefix != "" {
			s += fmt.Sprintf(" (prefix %s)", sc.S3.Prefix)
		}
		return s
	}
	dir := sc.StorageDir
	if dir == "" {
		dir = "storage"
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(m.basedir, dir)
	}
	return "storage folder " + dir
}

// errNotEmpty stops the walk of checkDestination at the first share.
var errNotEmpty = errors.New("not empty")

// checkDestination refuses a destination that holds shares, unless they
// are an unfinished run's (marker; a node that ran since removed it).
func (m *migration) checkDestination(ctx context.Context, dst *node.OpenedShares, marker string, sc node.StorageConfig) error {
	if b, err := os.ReadFile(marker); err == nil {
		fmt.Fprintf(m.e.stderr, "Going on with the migration begun %s.\n", strings.TrimSpace(string(b)))
		return nil
	}
	err := dst.Backend.Walk(ctx, func(lafs.StorageIndex) error { return errNotEmpty })
	switch {
	case err == nil:
		return nil
	case !errors.Is(err, errNotEmpty):
		return fmt.Errorf("looking into the %s: %w", m.describe(m.to, sc), err)
	}
	how := "remove what prefix " + sc.S3.Prefix + " of the bucket holds with the store's tools"
	if sc.S3.Prefix == "" {
		how = "empty the bucket with the store's tools, or give the node a prefix of its own (storage.s3.prefix)"
	}
	if m.to == node.BackendDisk {
		how = "remove " + filepath.Join(dst.Dir, "shares")
	}
	return failf("%s: the %s already holds shares, perhaps left by an earlier migration, which may be older than the node's; "+
		"%s, and run the command again", m.verb, m.describe(m.to, sc), how)
}

// explainSource says how to remove the shares left at the source.
func (m *migration) explainSource(w io.Writer, src *node.OpenedShares, sc node.StorageConfig) {
	if m.from == node.BackendDisk {
		fmt.Fprintf(w, "The %s is left as it was. Once the node runs well from the bucket, remove its shares:\n", m.describe(m.from, sc))
		fmt.Fprintf(w, "  rm -r %s\n", filepath.Join(src.Dir, "shares"))
		return
	}
	where := "everything in bucket " + sc.S3.Bucket
	if sc.S3.Prefix != "" {
		where = "everything under prefix " + sc.S3.Prefix + " of bucket " + sc.S3.Bucket
	}
	fmt.Fprintf(w, "The shares and lease records in the %s are left as they were. Once the node runs well from disk, remove %s with the store's tools (the node's own keys only, if others share it), and %s.\n",
		m.describe(m.from, sc), where, filepath.Join(src.Dir, node.LeaseIndexFileName))
}

// migrateSummary is one line of counts of a migration.
func migrateSummary(p storage.MigrateProgress) string {
	mb := float64(p.Bytes) / 1e6
	rate := 0.0
	if s := p.Elapsed.Seconds(); s > 0 {
		rate = mb / s
	}
	return fmt.Sprintf("%d buckets, %d shares copied, %d already present, %d failed, %.1f MB in %s (%.1f MB/s)",
		p.Buckets, p.Shares, p.Present, p.Failed, mb, p.Elapsed.Round(100*time.Millisecond), rate)
}

// rebuildProgress prints the progress of a rebuild of the lease index,
// at most a line a second, and the last one.
func rebuildProgress(w io.Writer) func(leasedb.RebuildProgress) {
	var last time.Time
	return func(p leasedb.RebuildProgress) {
		if time.Since(last) < time.Second && !p.Done {
			return
		}
		last = time.Now()
		state := "rebuilding"
		if p.Done {
			state = "rebuilt"
		}
		fmt.Fprintf(w, "%s the lease index from the bucket: %d shares, %d lease records, %d orphan records removed, %d unreadable (%s)\n",
			state, p.Shares, p.Records, p.Orphans, p.Unreadable, p.Elapsed.Round(100*time.Millisecond))
	}
}
