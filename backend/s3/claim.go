package s3

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/lafs/lafs/backend"
)

// claim is the content of <prefix>claim (sealed like every object): the
// node that keeps its shares under the prefix.
type claim struct {
	Node  string    `json:"node"`
	Since time.Time `json:"since"`
}

// maxClaim bounds the claim object's plaintext.
const maxClaim = 64 << 10

// releaseHint says how to release a claimed prefix.
func (b *Backend) releaseHint() string {
	return fmt.Sprintf("a second node must use another bucket or prefix; to move this prefix to another node, stop the node that claims it and delete the object %q from the bucket", b.key(claimName))
}

// checkClaim reads the prefix's claim: no error if it is this node's,
// create true if there is none, ErrClaimed if another node's or one this
// node cannot open (sealed with another key, or altered).
func (b *Backend) checkClaim(ctx context.Context) (create bool, err error) {
	data, _, err := b.getSealed(ctx, claimName, maxClaim)
	switch {
	case errors.Is(err, backend.ErrNotExist) && !errors.Is(err, ErrNoBucket):
		return true, nil
	case errors.Is(err, ErrTampered):
		return false, fmt.Errorf("s3 bucket %q at %s: prefix %q: %w: its claim object is sealed with another key than this node's (another node uses the prefix) or was altered; %s",
			b.cfg.Bucket, b.endpoint, b.prefix, ErrClaimed, b.releaseHint())
	case err != nil:
		return false, err
	}
	var c claim
	if err := json.Unmarshal(data, &c); err != nil || c.Node == "" {
		return false, fmt.Errorf("s3 bucket %q at %s: prefix %q: %w: its claim object is unreadable; %s",
			b.cfg.Bucket, b.endpoint, b.prefix, ErrClaimed, b.releaseHint())
	}
	if c.Node != b.cfg.NodeID {
		return false, fmt.Errorf("s3 bucket %q at %s: prefix %q: %w: claimed by node %s since %s; %s",
			b.cfg.Bucket, b.endpoint, b.prefix, ErrClaimed, c.Node, c.Since.UTC().Format(time.RFC3339), b.releaseHint())
	}
	b.log.Debug("s3: prefix claimed by this node", "bucket", b.cfg.Bucket, "prefix", b.prefix, "since", c.Since)
	return false, nil
}

// createClaim claims the prefix for this node, unless another node does
// so first.
func (b *Backend) createClaim(ctx context.Context) error {
	data, err := json.Marshal(claim{Node: b.cfg.NodeID, Since: time.Now().UTC().Truncate(time.Second)})
	if err != nil {
		return err
	}
	sealed := freshSealer(&b.cfg.SealKey, claimName).sealAll(data)
	_, err = b.putSealed(ctx, claimName, sealed, true, "")
	if kind(err) == errPrecondition {
		// Another node (or this one, started twice) got there first.
		if _, err := b.checkClaim(ctx); err != nil {
			return err
		}
		return nil
	}
	if err != nil {
		return err
	}
	b.log.Info("s3: claimed the prefix for this node", "bucket", b.cfg.Bucket, "prefix", b.prefix)
	return nil
}

// probe learns whether the store honours If-None-Match: * and If-Match on
// PUT, by trying both on <prefix>probe, which it then removes. A store
// that answers 412 honours it; one that overwrites, or refuses the header
// as not implemented, does not.
func (b *Backend) probe(ctx context.Context) error {
	put := func(opts minio.PutObjectOptions) (string, error) {
		data := []byte("lafs: probe of conditional writes; safe to delete")
		info, err := b.client.PutObject(ctx, b.cfg.Bucket, b.key(probeName), bytes.NewReader(data), int64(len(data)), "", "", opts)
		return trimETag(info.ETag), err
	}
	honoured := func(err error) (bool, error) {
		switch {
		case err == nil:
			return false, nil
		case kind(err) == errPrecondition:
			return true, nil
		case code(err) == "NotImplemented" || status(err) == http.StatusNotImplemented:
			return false, nil
		}
		return false, b.wrap("probe conditional writes with", probeName, err)
	}
	etag, err := put(putOpts(false, ""))
	if err != nil {
		return b.wrap("put", probeName, err)
	}
	if b.condCreate, err = honoured(second(put(putOpts(true, "")))); err != nil {
		return err
	}
	if b.condReplace, err = honoured(second(put(putOpts(false, "0"+etag)))); err != nil {
		return err
	}
	if err := b.client.RemoveObject(ctx, b.cfg.Bucket, b.key(probeName), minio.RemoveObjectOptions{}); err != nil {
		return b.wrap("delete", probeName, err)
	}
	b.log.Info("s3: conditional writes", "bucket", b.cfg.Bucket, "if-none-match", b.condCreate, "if-match", b.condReplace)
	return nil
}

func second[T any](_ T, err error) error { return err }

// ConditionalWrites reports whether the store honours If-None-Match: *
// (Commit relies on it to refuse a taken key) and If-Match (Sync relies
// on it so that no update is lost), as Open found. Where it does not,
// the backend checks with a HEAD request before writing, which the
// prefix's claim and the storage server's serialized writes make safe.
func (b *Backend) ConditionalWrites() (ifNoneMatch, ifMatch bool) {
	return b.condCreate, b.condReplace
}
