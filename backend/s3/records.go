package s3

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/minio/minio-go/v7"

	"github.com/lafs/lafs/backend"
)

// recordEnd ends every record's key. Without it the record "a" and a
// record "a/b" would be a file and a folder of one name on stores that
// keep objects as files (versitygw's posix backend, MinIO on one disk).
// It sorts below every character of a name, so keys sort as names do.
const recordEnd = "!"

// recordName returns the object name of the record name.
func recordName(name string) string { return recordsDir + name + recordEnd }

func checkRecordName(name string) error {
	if !backend.ValidRecordName(name) {
		return fmt.Errorf("s3: invalid record name %q", name)
	}
	return nil
}

// PutRecord stores data, sealed, under <prefix>records/<name>!, with one
// PUT: the store replaces the object at once.
func (b *Backend) PutRecord(ctx context.Context, name string, data []byte) error {
	if err := checkRecordName(name); err != nil {
		return err
	}
	if len(data) > backend.MaxRecordSize {
		return fmt.Errorf("s3: record %s of %d bytes, more than %d", name, len(data), backend.MaxRecordSize)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	rn := recordName(name)
	sealed := freshSealer(&b.cfg.SealKey, rn).sealAll(data)
	_, err := b.putSealed(ctx, rn, sealed, false, "")
	return err
}

// GetRecord returns the record stored under name, or an error wrapping
// backend.ErrNotExist.
func (b *Backend) GetRecord(ctx context.Context, name string) ([]byte, error) {
	if err := checkRecordName(name); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	data, _, err := b.getSealed(ctx, recordName(name), backend.MaxRecordSize)
	return data, err
}

// DeleteRecord removes the record under name; no error if there is none.
func (b *Backend) DeleteRecord(ctx context.Context, name string) error {
	if err := checkRecordName(name); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	rn := recordName(name)
	err := b.client.RemoveObject(ctx, b.cfg.Bucket, b.key(rn), minio.RemoveObjectOptions{})
	if errors.Is(kind(err), backend.ErrNotExist) {
		return nil
	}
	return b.wrap("delete", rn, err)
}

// WalkRecords calls f with the name of every record whose name begins
// with prefix, in ascending order (the store lists keys in order).
func (b *Backend) WalkRecords(ctx context.Context, prefix string, f func(name string) error) error {
	return b.list(ctx, recordsDir+prefix, func(obj string) error {
		name, ok := strings.CutSuffix(obj[len(recordsDir):], recordEnd)
		if !ok || !backend.ValidRecordName(name) {
			return nil
		}
		return f(name)
	})
}
