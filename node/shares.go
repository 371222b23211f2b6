package node

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/backend/disk"
	"github.com/lafs/lafs/backend/s3"
	"github.com/lafs/lafs/leasedb"
	"github.com/lafs/lafs/storage"
)

// The private files of a storage node on an S3 backend: the store's
// credentials (never in tahoe.cfg, never logged) and the key that seals
// everything the node keeps in the bucket (made by create-node, or at the
// first start; without it the bucket cannot be read).
const (
	S3AccessKeyFile    = "private/s3_access_key_id"
	S3SecretKeyFile    = "private/s3_secret_access_key"
	StorageSealKeyFile = "private/storage_seal.key"
)

// Files of an S3 storage node in its local storage folder: the lease
// index (rebuilt from the bucket when missing or stale) and the staging
// folder of uploads in progress.
const (
	LeaseIndexFileName = "lafs-leasedb.sqlite"
	S3StagingDirName   = "s3-staging"
)

// OpenedShares is a storage node's shares, opened: the backend and the
// lease store (nil for disk), and what the status page shows of them.
type OpenedShares struct {
	storage.Shares
	// Kind is BackendDisk or BackendS3.
	Kind string
	// Dir is the local storage folder.
	Dir string
	// S3 is the bucket (BackendS3 only).
	S3 S3Config
	// Index is the lease index (BackendS3 only).
	Index *leasedb.Store
	// MaxMutableShareSize, if not zero, caps the data of a mutable share
	// (BackendS3: a mutable container is changed in memory, whole, so it
	// is kept under the backend's in-place limit).
	MaxMutableShareSize uint64
	// Disk is the disk backend (BackendDisk only).
	Disk    *disk.Disk
	closers []func() error
}

// Close closes the lease index, then the backend.
func (o *OpenedShares) Close() error {
	var errs []error
	for i := len(o.closers) - 1; i >= 0; i-- {
		errs = append(errs, o.closers[i]())
	}
	o.closers = nil
	return errors.Join(errs...)
}

// OpenShareOptions are the knobs of OpenShares.
type OpenShareOptions struct {
	// Backend overrides [storage] backend (for lafs admin
	// migrate-storage, which opens both).
	Backend string
	// Logger receives the backends' logs and the lease index's rebuild
	// progress; nil discards them.
	Logger *slog.Logger
	// Progress, if set, is told of a rebuild of the lease index.
	Progress func(leasedb.RebuildProgress)
	// CreateSealKey makes private/storage_seal.key if it is missing (for
	// lafs admin migrate-storage --to=s3). Otherwise a missing key is an
	// error: create-node makes it, and a node started without it could
	// read nothing it keeps in its bucket.
	CreateSealKey bool
}

// MigrateMarkerPrefix begins the name of the file, in a node's storage
// folder, that says a migration of its shares to a backend (the rest of
// the name) began and has not finished; its destination then holds that
// run's shares, which a new run takes on. A node that starts removes it:
// what was copied may be older than what the node changes from then on.
const MigrateMarkerPrefix = "migrating-to-"

// OpenShares opens the storage backend that the [storage] section of a
// node's configuration names, with its files under basedir: the storage
// folder in Tahoe's layout, or the S3 bucket with its lease index (rebuilt
// from the bucket here, with progress, when it is missing or stale).
func OpenShares(ctx context.Context, basedir string, cfg *Config, nodeID lafs.NodeID, opts OpenShareOptions) (*OpenedShares, error) {
	sc := cfg.Storage()
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	kind := sc.Backend
	if opts.Backend != "" {
		kind = opts.Backend
	}
	dir := sc.StorageDir
	if dir == "" {
		dir = "storage"
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(basedir, dir)
	}
	o := &OpenedShares{Kind: kind, Dir: dir, S3: sc.S3}
	switch kind {
	case BackendDisk, "":
		o.Kind = BackendDisk
		d, err := disk.Open(dir)
		if err != nil {
			return nil, fmt.Errorf("storage folder: %w", err)
		}
		for _, p := range d.ReplayProblems() {
			log.Error("storage folder: a change in the journal could not be replayed", "err", p)
		}
		o.Disk, o.Backend = d, d
		o.closers = append(o.closers, d.Close)
		return o, nil
	case BackendS3:
	default:
		return nil, fmt.Errorf("unknown storage backend %q", kind)
	}

	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("storage folder: %w", err)
	}
	access, secret, err := LoadS3Credentials(basedir)
	if err != nil {
		return nil, err
	}
	var seal [32]byte
	if opts.CreateSealKey {
		seal, err = LoadOrCreateSealKey(basedir)
	} else {
		seal, err = LoadSealKey(basedir)
	}
	if err != nil {
		return nil, err
	}
	host, secure, err := SplitS3Endpoint(sc.S3.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("[storage] s3.endpoint: %w", err)
	}
	b, err := s3.Open(ctx, s3.Config{
		Endpoint:   host,
		Secure:     secure,
		Region:     sc.S3.Region,
		Bucket:     sc.S3.Bucket,
		Prefix:     sc.S3.Prefix,
		PathStyle:  sc.S3.PathStyle,
		AccessKey:  access,
		SecretKey:  secret,
		SealKey:    seal,
		StagingDir: filepath.Join(dir, S3StagingDirName),
		NodeID:     lafs.Base32(nodeID[:]),
		Logger:     log.With("backend", "s3"),
	})
	if err != nil {
		return nil, err
	}
	o.Backend = b
	// The container's header, lease slots and extra lease count come on
	// top of the data.
	o.MaxMutableShareSize = s3.DefaultMaxInPlaceSize - 4096
	o.closers = append(o.closers, b.Close)
	idx, err := leasedb.Open(ctx, filepath.Join(dir, LeaseIndexFileName), b, b, leasedb.Options{
		Logger:   log.With("service", "lease-index"),
		Progress: opts.Progress,
	})
	if err != nil {
		o.Close()
		return nil, fmt.Errorf("lease index: %w", err)
	}
	o.Index, o.Leases = idx, idx
	o.closers = append(o.closers, idx.Close)
	return o, nil
}

// LoadS3Credentials reads the S3 access key ID and secret key from the
// node's private/ folder. Errors name the files, never what they hold.
func LoadS3Credentials(basedir string) (accessKey, secretKey string, err error) {
	read := func(name string) (string, error) {
		p := filepath.Join(basedir, filepath.FromSlash(name))
		b, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("[storage] backend is s3, but %s is missing: write the store's credentials there (mode 0600)", p)
		}
		if err != nil {
			return "", fmt.Errorf("reading the S3 credentials: %w", err)
		}
		v := strings.TrimSpace(string(b))
		if v == "" || strings.ContainsAny(v, "\r\n") {
			return "", fmt.Errorf("%s must hold one line", p)
		}
		return v, nil
	}
	if accessKey, err = read(S3AccessKeyFile); err != nil {
		return "", "", err
	}
	if secretKey, err = read(S3SecretKeyFile); err != nil {
		return "", "", err
	}
	return accessKey, secretKey, nil
}

// WriteS3Credentials writes the S3 credentials into private/ (0600).
func WriteS3Credentials(basedir, accessKey, secretKey string) error {
	for _, f := range []struct{ name, v string }{{S3AccessKeyFile, accessKey}, {S3SecretKeyFile, secretKey}} {
		v := strings.TrimSpace(f.v)
		if v == "" || strings.ContainsAny(v, "\r\n") {
			return fmt.Errorf("%w: the S3 credentials must be one line each", ErrUsage)
		}
		if err := writeFileAtomic(filepath.Join(basedir, filepath.FromSlash(f.name)), []byte(v+"\n"), secretFileMode); err != nil {
			return fmt.Errorf("writing the S3 credentials: %w", err)
		}
	}
	return nil
}

// ErrNoSealKey: an s3 node has no private/storage_seal.key.
var ErrNoSealKey = errors.New("the storage seal key is missing")

// LoadSealKey returns the node's storage seal key; an error wrapping
// ErrNoSealKey if it has none.
func LoadSealKey(basedir string) ([32]byte, error) {
	var key [32]byte
	p := filepath.Join(basedir, filepath.FromSlash(StorageSealKeyFile))
	b, err := os.ReadFile(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return key, fmt.Errorf("%w: %s holds the key that seals everything the node keeps in its bucket, and create-node makes it; "+
			"restore it from the copy of the node's private/ folder (a new key cannot read the bucket); "+
			"a node moving its shares from disk to a bucket gets one from lafs admin migrate-storage --to=s3", ErrNoSealKey, p)
	case err != nil:
		return key, fmt.Errorf("reading the storage seal key: %w", err)
	}
	v := strings.TrimSpace(string(b))
	if n, err := hex.Decode(key[:], []byte(v)); err != nil || n != len(key) || len(v) != 2*len(key) {
		return key, fmt.Errorf("%s: not a key (64 hexadecimal digits)", p)
	}
	return key, nil
}

// LoadOrCreateSealKey returns the node's storage seal key, making it
// (0600) if the node has none yet.
func LoadOrCreateSealKey(basedir string) ([32]byte, error) {
	key, err := LoadSealKey(basedir)
	if !errors.Is(err, ErrNoSealKey) {
		return key, err
	}
	p := filepath.Join(basedir, filepath.FromSlash(StorageSealKeyFile))
	rand.Read(key[:])
	if _, err := privateDir(basedir); err != nil {
		return key, err
	}
	if err := writeNewFile(p, []byte(hex.EncodeToString(key[:])+"\n"), secretFileMode); err != nil {
		if errors.Is(err, fs.ErrExist) { // made meanwhile
			return LoadOrCreateSealKey(basedir)
		}
		return key, fmt.Errorf("writing the storage seal key: %w", err)
	}
	return key, nil
}

// rebuildLogger returns a leasedb progress function that logs a line at
// most every 5 seconds, and the last one.
func rebuildLogger(log *slog.Logger) func(leasedb.RebuildProgress) {
	var last time.Time
	return func(p leasedb.RebuildProgress) {
		if time.Since(last) < 5*time.Second && !p.Done {
			return
		}
		last = time.Now()
		log.Info("rebuilding the lease index from the bucket", "shares", p.Shares, "records", p.Records, "orphans_removed", p.Orphans, "elapsed", p.Elapsed.Round(time.Second).String(), "done", p.Done)
	}
}

// dropMigrationMarkers removes the markers of unfinished migrations from
// the storage folder dir of a node that starts (see MigrateMarkerPrefix).
func dropMigrationMarkers(dir string, log *slog.Logger) {
	markers, _ := filepath.Glob(filepath.Join(dir, MigrateMarkerPrefix+"*"))
	for _, m := range markers {
		to := strings.TrimPrefix(filepath.Base(m), MigrateMarkerPrefix)
		if err := os.Remove(m); err != nil {
			log.Warn("removing the marker of an unfinished migration", "err", err)
			continue
		}
		log.Warn("an unfinished migration of this node's shares was found: what it copied may now be out of date, "+
			"so lafs admin migrate-storage will ask for its destination to be emptied first", "to", to)
	}
}
