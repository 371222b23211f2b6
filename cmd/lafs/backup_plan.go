package main

// backup's second job: what must be uploaded or made again. The backup
// database knows what an earlier backup uploaded; what it has not checked
// on the grid for a while is checked first (Tahoe's check_backupdb_file
// and check_backupdb_directory).

import (
	"context"

	"github.com/lafs/lafs/backupdb"
	"github.com/lafs/lafs/dirnode"
)

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

// checkFile asks the backup database about a file, and checks its old cap
// on the grid when the database says so. It reports whether the file must
// be uploaded.
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
	healthy, err := b.check(ctx, r.Filecap, path)
	if err != nil || !healthy {
		return true, r, err
	}
	return false, r, r.DidCheckHealthy(ctx)
}

// checkDirectory asks the backup database about the directory at path,
// whose children are contents (name -> cap), and checks the old directory
// on the grid when it says so. It reports whether the directory must be
// made.
func (b *backerUpper) checkDirectory(ctx context.Context, path string, contents map[string]string) (bool, *backupdb.DirectoryResult, error) {
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
	healthy, err := b.check(ctx, r.Dircap, path)
	if err != nil || !healthy {
		return true, r, err
	}
	return false, r, r.DidCheckHealthy(ctx)
}

// check runs the grid's checker on the cap c, an earlier backup of the
// local path. A check that fails counts as unhealthy, as in Tahoe.
func (b *backerUpper) check(ctx context.Context, c, path string) (bool, error) {
	b.out.say("checking %s", quoteName(c, true))
	return b.wc.check(ctx, capPath(c, path))
}
