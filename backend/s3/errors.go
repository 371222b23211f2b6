package s3

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/minio/minio-go/v7"

	"github.com/lafs/lafs/backend"
)

// Permanent errors of the store, each wrapped with the bucket and
// endpoint it came from. Transient ones (timeouts, 5xx, throttling) are
// retried with backoff by the client first and then returned as they are.
var (
	// ErrNoBucket: the bucket does not exist (the operator creates it).
	ErrNoBucket = errors.New("s3: no such bucket")
	// ErrBadCredentials: the store does not know the access key, or the
	// secret key does not match it.
	ErrBadCredentials = errors.New("s3: bad credentials (check the access key and secret key in private/)")
	// ErrAccessDenied: the credentials are valid but may not do this.
	ErrAccessDenied = errors.New("s3: access denied")
	// ErrClaimed: another node keeps its shares under the same bucket and
	// prefix.
	ErrClaimed = errors.New("s3: bucket prefix claimed by another node")
)

// errPrecondition is a conditional write that the store refused (the
// object exists, or changed since it was read). Commit turns it into
// backend.ErrExist, Sync into a lost-update error.
var errPrecondition = errors.New("s3: precondition failed")

// code returns the S3 error code of err ("" if it is no S3 error).
func code(err error) string {
	var r minio.ErrorResponse
	if errors.As(err, &r) {
		return r.Code
	}
	return ""
}

// status returns the HTTP status of an S3 error (0 if none).
func status(err error) int {
	var r minio.ErrorResponse
	if errors.As(err, &r) {
		return r.StatusCode
	}
	return 0
}

// kind returns the sentinel error that err of the store maps to, or nil.
func kind(err error) error {
	switch code(err) {
	case "NoSuchKey":
		return backend.ErrNotExist
	case "NoSuchBucket":
		return ErrNoBucket
	case "InvalidAccessKeyId", "SignatureDoesNotMatch", "XAdminUserNotFound",
		"InvalidToken", "ExpiredToken", "AuthorizationHeaderMalformed":
		return ErrBadCredentials
	case "AccessDenied", "AllAccessDisabled":
		return ErrAccessDenied
	case "PreconditionFailed":
		return errPrecondition
	case "XMinioStorageFull", "QuotaExceeded", "XMinioAdminBucketQuotaExceeded":
		return backend.ErrNoSpace
	}
	if code(err) == "" {
		switch status(err) {
		case http.StatusPreconditionFailed:
			return errPrecondition
		case http.StatusNotFound:
			return backend.ErrNotExist
		}
	}
	return nil
}

// wrap returns err of the store, met doing op on the object name (relative
// to the prefix; "" for none), with the bucket, endpoint and object named
// and the sentinel it maps to wrapped too. Neither the credentials nor
// anything sealed ever appears in it.
func (b *Backend) wrap(op, name string, err error) error {
	if err == nil {
		return nil
	}
	what := op
	if name != "" {
		what += " " + b.prefix + name
	}
	if k := kind(err); k != nil && !errors.Is(err, k) {
		return fmt.Errorf("s3 bucket %q at %s: %s: %w: %w", b.cfg.Bucket, b.endpoint, what, k, err)
	}
	return fmt.Errorf("s3 bucket %q at %s: %s: %w", b.cfg.Bucket, b.endpoint, what, err)
}
