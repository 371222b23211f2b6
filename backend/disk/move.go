package disk

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/lafs/lafs/backend"
)

// MoveShare moves the committed object k out of the storage folder to the
// new file path, whose folder exists, without copying it (storage uses it
// to keep a corrupt share's container for inspection). The file's bytes
// are flushed first, since writes the journal alone made durable would
// not be replayed onto it once its name is gone; it is then linked at
// path (which fails if path exists), the link's folder flushed, and its
// name under shares/ removed as Delete removes it. When path is on
// another file system it returns an error wrapping errors.ErrUnsupported
// and leaves the object.
func (d *Disk) MoveShare(ctx context.Context, k backend.Key, path string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, err := d.stat(k); err != nil {
		return err
	}
	f, err := d.openCommitted(k)
	if err != nil {
		return err
	}
	if err := closeFile(f, f.Sync()); err != nil {
		return err
	}
	src := d.path(k)
	if err := os.Link(src, path); err != nil {
		if isCrossDevice(err) {
			return fmt.Errorf("backend/disk: moving a share to another file system: %w: %w", errors.ErrUnsupported, err)
		}
		return fmt.Errorf("backend/disk: %w", mapErr(src, err))
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		os.Remove(path)
		return fmt.Errorf("backend/disk: %w", err)
	}
	if d.j != nil {
		// As in Delete: the delete record is durable before the name
		// goes, so that no replay brings the share back.
		if err := d.j.logDelete(k); err != nil {
			os.Remove(path)
			return err
		}
	}
	if err := os.Remove(src); err != nil {
		return fmt.Errorf("backend/disk: %w", mapErr(src, err))
	}
	removeEmpty(siDir(d.shares, k.SI), d.shares)
	return nil
}
