package node

import (
	"fmt"
	"strings"
)

// This file is the part of Create that makes a storage node on an
// S3-compatible store: its options (--storage-backend and --s3-*), the
// [storage] keys it writes, and the private files it leaves beside them
// (the store's credentials and the storage seal key), so that a copy of
// the node directory taken right after create-node brings the node back.
// Create does not contact the store: a node can be made offline, and a
// wrong endpoint, bucket or credential shows when the node starts.

// DefaultS3Region is the region create-node writes, and the node reads,
// when none is given: AWS's first, which most other stores accept too.
const DefaultS3Region = "us-east-1"

// Check reports whether c names a bucket a node could use, with errors
// naming the tahoe.cfg key at fault (s3.endpoint, s3.bucket, s3.region,
// s3.prefix). It checks the form only; it does not contact the store.
func (c S3Config) Check() error {
	if key, err := c.check(); err != nil {
		return fmt.Errorf("s3.%s: %w", key, err)
	}
	return nil
}

// check is Check, returning the key at fault without its "s3." apart.
func (c S3Config) check() (key string, err error) {
	for _, f := range []struct{ key, v string }{{"endpoint", c.Endpoint}, {"bucket", c.Bucket}, {"region", c.Region}, {"prefix", c.Prefix}} {
		if strings.ContainsAny(f.v, "\r\n") {
			return f.key, fmt.Errorf("%q may not hold line breaks", f.v)
		}
	}
	switch {
	case c.Endpoint == "":
		return "endpoint", fmt.Errorf("not set (the store's URL, such as https://s3.example.com)")
	case c.Bucket == "":
		return "bucket", fmt.Errorf("not set")
	}
	if _, _, err := SplitS3Endpoint(c.Endpoint); err != nil {
		return "endpoint", err
	}
	if !validBucketName(c.Bucket) {
		return "bucket", fmt.Errorf("%q is no S3 bucket name (3 to 63 characters of a-z, 0-9, '.' and '-')", c.Bucket)
	}
	if strings.ContainsAny(c.Region, " \t/") {
		return "region", fmt.Errorf("%q is no region name", c.Region)
	}
	if strings.HasPrefix(c.Prefix, "/") || strings.Contains(c.Prefix, "//") {
		return "prefix", fmt.Errorf("%q may neither begin with nor contain an empty path segment", c.Prefix)
	}
	return "", nil
}

// normalizeBackend checks the storage backend options (which only a
// storage node takes) and fills in their defaults.
func (o CreateOptions) normalizeBackend() (CreateOptions, error) {
	var given []string
	for _, f := range []struct {
		flag string
		set  bool
	}{
		{"--s3-endpoint", o.S3.Endpoint != ""},
		{"--s3-bucket", o.S3.Bucket != ""},
		{"--s3-region", o.S3.Region != ""},
		{"--s3-prefix", o.S3.Prefix != ""},
		{"--s3-path-style", o.S3.PathStyle},
		{"--s3-access-key-id", o.S3AccessKeyID != ""},
		{"--s3-secret-access-key-file", o.S3SecretAccessKey != ""},
	} {
		if f.set {
			given = append(given, f.flag)
		}
	}
	if o.Kind != KindNode {
		if o.StorageBackend != "" || len(given) > 0 {
			return o, usage("--storage-backend and the --s3-* options are for storage nodes (create-node), not %ss", o.Kind)
		}
		return o, nil
	}
	o.StorageBackend = strings.ToLower(o.StorageBackend)
	switch o.StorageBackend {
	case "", BackendDisk:
		o.StorageBackend = BackendDisk
		if len(given) > 0 {
			return o, usage("%s: the --s3-* options are for --storage-backend=s3", strings.Join(given, ", "))
		}
		return o, nil
	case BackendS3:
	default:
		return o, usage("--storage-backend=%s: want disk or s3", o.StorageBackend)
	}
	if o.NoStorage {
		return o, usage("--storage-backend=s3 is for a storage node: it cannot go with --no-storage")
	}
	var missing []string
	for _, f := range []struct {
		flag string
		set  bool
	}{
		{"--s3-endpoint", o.S3.Endpoint != ""},
		{"--s3-bucket", o.S3.Bucket != ""},
		{"--s3-access-key-id", strings.TrimSpace(o.S3AccessKeyID) != ""},
		{"--s3-secret-access-key-file", strings.TrimSpace(o.S3SecretAccessKey) != ""},
	} {
		if !f.set {
			missing = append(missing, f.flag)
		}
	}
	if len(missing) > 0 {
		return o, usage("--storage-backend=s3 needs %s", strings.Join(missing, ", "))
	}
	if o.S3.Region == "" {
		o.S3.Region = DefaultS3Region
	}
	if key, err := o.S3.check(); err != nil {
		return o, usage("--s3-%s: %v", key, err)
	}
	// The credentials' values never go into an error.
	o.S3AccessKeyID = strings.TrimSpace(o.S3AccessKeyID)
	o.S3SecretAccessKey = strings.TrimSpace(o.S3SecretAccessKey)
	if strings.ContainsAny(o.S3AccessKeyID, " \t\r\n") {
		return o, usage("--s3-access-key-id: an access key ID is one word")
	}
	if strings.ContainsAny(o.S3SecretAccessKey, "\r\n") {
		return o, usage("--s3-secret-access-key-file: the file must hold the secret access key alone, on one line")
	}
	return o, nil
}

// writeStorageBackend writes the backend keys of [storage]: the bucket's
// settings for an s3 node, or commented defaults for a disk node. The
// credentials are never written here.
func (o CreateOptions) writeStorageBackend(w func(format string, args ...any)) {
	if o.Kind != KindNode {
		return
	}
	w("# Where the shares live: disk (storage_dir), or s3, a bucket of an\n")
	w("# S3-compatible store whose credentials are in private/. Move a\n")
	w("# stopped node's shares with 'lafs admin migrate-storage'.\n")
	if o.StorageBackend != BackendS3 {
		w("#backend = disk\n")
		w("#s3.endpoint =\n")
		w("#s3.region = %s\n", DefaultS3Region)
		w("#s3.bucket =\n")
		w("#s3.prefix =\n")
		w("#s3.path_style = false\n")
		return
	}
	w("backend = s3\n")
	w("s3.endpoint = %s\n", cfgValue(o.S3.Endpoint))
	w("s3.region = %s\n", cfgValue(o.S3.Region))
	w("s3.bucket = %s\n", cfgValue(o.S3.Bucket))
	if o.S3.Prefix != "" {
		w("s3.prefix = %s\n", cfgValue(o.S3.Prefix))
	} else {
		w("#s3.prefix =\n")
	}
	w("s3.path_style = %t\n", o.S3.PathStyle)
}

// writeS3Files writes, for an s3 node, the store's credentials into
// private/ and makes the storage seal key, which the node needs to read
// what it keeps in the bucket.
//
// It also gives the storage service its fURL and NURLs now, where Tahoe
// waits for the first start, when the location names its hints (not
// AUTO): then a copy of the node directory taken right after create-node
// brings the node back with its storage URLs (the swissnum) too, not only
// with its shares and leases.
func (o CreateOptions) writeS3Files(basedir string, id *Identity, location string) error {
	if o.Kind != KindNode || o.StorageBackend != BackendS3 {
		return nil
	}
	if err := WriteS3Credentials(basedir, o.S3AccessKeyID, o.S3SecretAccessKey); err != nil {
		return err
	}
	if _, err := LoadOrCreateSealKey(basedir); err != nil {
		return err
	}
	var hints []string
	for _, h := range strings.Split(location, ",") {
		if h = strings.TrimSpace(h); h != "" && h != "AUTO" {
			hints = append(hints, h)
		}
	}
	if len(hints) > 0 {
		if _, err := LoadOrCreateStorageURLs(basedir, id, hints); err != nil {
			return fmt.Errorf("storage URLs: %w", err)
		}
	}
	return nil
}
