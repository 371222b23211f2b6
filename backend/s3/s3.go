// Package s3 is a backend.Backend that keeps a storage node's share
// containers in a bucket of an S3-compatible object store (AWS S3, Ceph
// RGW, MinIO, Garage, versitygw, Wasabi...), through minio-go. It is
// Tahoe's long-planned "cloud backend", with the node protecting itself
// from the store: every object is sealed (encrypted and authenticated)
// with a key from the node's private/ folder. docs/s3.md is the
// operator's guide.
//
// The keys are laid out as the disk backend lays out its files, under a
// configurable prefix:
//
//	<prefix>claim                          the node that owns the prefix
//	<prefix>shares/<prefix2>/<si>/<shnum>  committed share containers
//	<prefix>records/<name>!                records (backend.RecordStore)
//
// New objects are spooled in a local staging folder and uploaded (large
// ones as multipart uploads whose parts go up in the background while
// the rest is written), then made visible in one step by Commit with a
// conditional write that fails if the key is taken. In-place writes to
// committed objects are made in memory and written back whole, with a
// fresh salt, by Sync, conditionally on the version they were read from,
// so no update is lost. Reads fetch only the chunks they need, with
// bounded caches of object headers and of chunks read. See seal.go for
// the sealed format.
package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/backend"
)

// Defaults and limits.
const (
	// DefaultPartSize is the plaintext size of a multipart upload's parts.
	DefaultPartSize = 8 << 20
	// MinPartSize is the smallest part size: S3 refuses parts under 5 MiB
	// (but the last).
	MinPartSize = 5 << 20
	// maxPartSize keeps a sealed part under S3's limit of 5 GiB.
	maxPartSize = 5<<30 - 1<<20
	// maxParts is S3's limit on the parts of one upload; an object too
	// large for the configured part size gets larger parts.
	maxParts = 10000
	// DefaultMaxInPlaceSize is the default of Config.MaxInPlaceSize.
	DefaultMaxInPlaceSize = 256 << 20
	// DefaultMaxInPlaceTotal is the default of Config.MaxInPlaceTotal.
	DefaultMaxInPlaceTotal = 1 << 30
	// DefaultMaxRetries is how often a request is tried at most when the
	// store fails transiently (network errors, 5xx, throttling), with
	// exponential backoff and jitter (minio-go's: 200ms doubling, capped
	// at 1s).
	DefaultMaxRetries = 5
	// Available reports this much: an object store has no capacity to
	// ask for. A bucket quota shows up as failed writes.
	availableBytes = 1 << 50
	// partUploadsPerObject and partUploads bound the part uploads in
	// flight, per staged object and in all (each holds a sealed part in
	// memory).
	partUploadsPerObject = 2
	partUploads          = 8
	// metaCacheSize bounds the object headers kept in memory, and
	// chunkCacheSize the bytes of opened chunks.
	metaCacheSize  = 4096
	chunkCacheSize = 16 << 20
)

// Config configures a Backend.
type Config struct {
	// Endpoint is the store's host:port, or a URL http(s)://host:port
	// (the scheme then sets Secure).
	Endpoint string
	// Secure selects HTTPS (for a host:port endpoint).
	Secure bool
	// Region is the bucket's region; empty lets the client ask the
	// store.
	Region string
	// Bucket is the bucket, which must exist.
	Bucket string
	// Prefix is prepended to every key ("lafs/"); a "/" is added when
	// it does not end in one. Empty puts the node's keys at the top of
	// the bucket.
	Prefix string
	// PathStyle addresses the bucket in the path (http://host/bucket/key)
	// instead of leaving the choice to the client, which uses virtual
	// hosts (http://bucket.host/key) for AWS and Google endpoints and
	// the path for others.
	PathStyle bool
	// AccessKey and SecretKey are the credentials. Neither appears in an
	// error or a log, nor when the configuration is printed.
	AccessKey, SecretKey string
	// SealKey seals every object (from the node's private/ folder).
	SealKey [32]byte
	// StagingDir is a local folder for uploads in progress (made 0700
	// if missing). It must belong to this backend alone: Open removes
	// the spool files left in it.
	StagingDir string
	// PartSize is the plaintext size of multipart parts: a multiple of
	// 64 KiB, at least MinPartSize; 0 means DefaultPartSize. Objects of
	// at most PartSize bytes are uploaded with one PUT.
	PartSize int64
	// NodeID names the node in the prefix's claim object.
	NodeID string
	// MaxRetries bounds the tries of a request (0 means
	// DefaultMaxRetries; 1 tries once).
	MaxRetries int
	// MaxInPlaceSize bounds the plaintext size of an object changed in
	// place (WriteAt, Truncate), which is held in memory whole from the
	// first change to Sync and then uploaded whole: a change that would
	// make an object larger, or to an object already larger, fails with
	// an error wrapping backend.ErrNoSpace. 0 means
	// DefaultMaxInPlaceSize. The storage server's limit on mutable
	// shares should be no larger.
	MaxInPlaceSize int64
	// MaxInPlaceTotal bounds the bytes held by all the objects being
	// changed in place at once (a mutable write may change every share
	// of a storage index, and several may run at once): a change that
	// would go over it fails as one over MaxInPlaceSize does, and holds
	// nothing. 0 means DefaultMaxInPlaceTotal; it is at least
	// MaxInPlaceSize.
	MaxInPlaceTotal int64
	// Transport, if not nil, carries the requests (for tests).
	Transport http.RoundTripper
	// Logger, if not nil, hears of cleanups and of the store's features.
	Logger *slog.Logger
}

// String describes cfg without its credentials and seal key (it says
// only whether an access key is set), so that a configuration can be
// logged.
func (cfg Config) String() string {
	access := "no access key"
	if cfg.AccessKey != "" {
		access = "access key set"
	}
	return fmt.Sprintf("s3 bucket %q at %s, prefix %q, region %q, path-style %v, %s, staging %s, node %s",
		cfg.Bucket, cfg.Endpoint, cfg.Prefix, cfg.Region, cfg.PathStyle, access, cfg.StagingDir, cfg.NodeID)
}

// GoString is String, so that %#v does not print the secrets either.
func (cfg Config) GoString() string { return "s3.Config{" + cfg.String() + "}" }

// LogValue is String, for log/slog.
func (cfg Config) LogValue() slog.Value { return slog.StringValue(cfg.String()) }

// Backend is a backend.Backend, backend.PrefixWalker and
// backend.RecordStore over an S3 bucket. Its methods are safe for
// concurrent use; callers serialize writes to one key.
type Backend struct {
	cfg      Config
	client   *minio.Core
	endpoint string // scheme://host:port, for messages
	prefix   string
	log      *slog.Logger
	cache    *metaCache
	chunks   *chunkCache

	// condCreate and condReplace report whether the store honours
	// If-None-Match: * and If-Match on writes (probed at Open).
	condCreate, condReplace bool

	sem    chan struct{} // part uploads in flight
	bufs   sync.Pool     // *[]byte of sealedPartSize(cfg.PartSize)
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // background uploads and aborts

	omu      sync.Mutex
	overlays map[string]*overlay
	inPlace  int64 // bytes the overlays hold (their reservations), under omu
}

var (
	_ backend.Backend      = (*Backend)(nil)
	_ backend.PrefixWalker = (*Backend)(nil)
	_ backend.RecordStore  = (*Backend)(nil)
	_ backend.Discarder    = (*Backend)(nil)
)

// normalize checks cfg and fills in defaults.
func normalize(cfg Config) (Config, string, error) {
	if cfg.Bucket == "" {
		return cfg, "", errors.New("s3: no bucket configured")
	}
	if cfg.Endpoint == "" {
		return cfg, "", errors.New("s3: no endpoint configured")
	}
	host := cfg.Endpoint
	if strings.Contains(host, "://") {
		u, err := url.Parse(host)
		if err != nil {
			return cfg, "", fmt.Errorf("s3: endpoint %q: %w", cfg.Endpoint, err)
		}
		switch u.Scheme {
		case "http":
			cfg.Secure = false
		case "https":
			cfg.Secure = true
		default:
			return cfg, "", fmt.Errorf("s3: endpoint %q: scheme is neither http nor https", cfg.Endpoint)
		}
		if u.User != nil || strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.Host == "" {
			return cfg, "", fmt.Errorf("s3: endpoint %q: want http(s)://host[:port] and nothing more", u.Redacted())
		}
		host = u.Host
	}
	if strings.ContainsAny(host, "/@?# ") {
		return cfg, "", fmt.Errorf("s3: endpoint %q is not host:port", host)
	}
	if strings.HasPrefix(cfg.Prefix, "/") || strings.Contains(cfg.Prefix, "//") {
		return cfg, "", fmt.Errorf("s3: prefix %q: must not begin with / or hold //", cfg.Prefix)
	}
	if cfg.Prefix != "" && !strings.HasSuffix(cfg.Prefix, "/") {
		cfg.Prefix += "/"
	}
	if cfg.SealKey == ([32]byte{}) {
		return cfg, "", errors.New("s3: no seal key")
	}
	if cfg.StagingDir == "" {
		return cfg, "", errors.New("s3: no staging folder")
	}
	if cfg.NodeID == "" {
		return cfg, "", errors.New("s3: no node ID to claim the prefix with")
	}
	if cfg.PartSize == 0 {
		cfg.PartSize = DefaultPartSize
	}
	if cfg.PartSize%chunkSize != 0 || cfg.PartSize < MinPartSize || cfg.PartSize > maxPartSize {
		return cfg, "", fmt.Errorf("s3: part size %d: want a multiple of 64 KiB from 5 MiB to 5 GiB", cfg.PartSize)
	}
	if cfg.MaxRetries <= 0 {
		cfg.MaxRetries = DefaultMaxRetries
	}
	if cfg.MaxInPlaceSize < 0 {
		return cfg, "", fmt.Errorf("s3: negative in-place size limit %d", cfg.MaxInPlaceSize)
	}
	if cfg.MaxInPlaceSize == 0 {
		cfg.MaxInPlaceSize = DefaultMaxInPlaceSize
	}
	if cfg.MaxInPlaceTotal < 0 {
		return cfg, "", fmt.Errorf("s3: negative in-place total %d", cfg.MaxInPlaceTotal)
	}
	if cfg.MaxInPlaceTotal == 0 {
		cfg.MaxInPlaceTotal = DefaultMaxInPlaceTotal
	}
	cfg.MaxInPlaceTotal = max(cfg.MaxInPlaceTotal, cfg.MaxInPlaceSize)
	return cfg, host, nil
}

// Open connects to the bucket cfg names and makes it this node's: it
// reads the prefix's claim object and refuses (ErrClaimed) a prefix that
// another node claims, creating the claim if there is none; it learns
// whether the store honours conditional writes; and it removes what
// uploads cut short by a crash left behind (spool files in StagingDir,
// incomplete multipart uploads under the prefix). ctx bounds Open only.
//
// The claim keeps other nodes away; within the node, only one Backend
// may use a prefix at a time (the node's own lock sees to it), since
// Open aborts the uploads it finds.
func Open(ctx context.Context, cfg Config) (*Backend, error) {
	cfg, host, err := normalize(cfg)
	if err != nil {
		return nil, err
	}
	opts := &minio.Options{
		Creds:      credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:     cfg.Secure,
		Region:     cfg.Region,
		MaxRetries: cfg.MaxRetries,
		Transport:  cfg.Transport,
	}
	if cfg.PathStyle {
		opts.BucketLookup = minio.BucketLookupPath
	}
	client, err := minio.NewCore(host, opts)
	if err != nil {
		return nil, fmt.Errorf("s3: endpoint %q: %w", host, err)
	}
	scheme := "http://"
	if cfg.Secure {
		scheme = "https://"
	}
	b := &Backend{
		cfg:      cfg,
		client:   client,
		endpoint: scheme + host,
		prefix:   cfg.Prefix,
		log:      cfg.Logger,
		cache:    newMetaCache(metaCacheSize),
		chunks:   newChunkCache(chunkCacheSize),
		sem:      make(chan struct{}, partUploads),
		overlays: make(map[string]*overlay),
	}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	size := sealedPartSize(cfg.PartSize)
	b.bufs.New = func() any { p := make([]byte, size); return &p }
	b.ctx, b.cancel = context.WithCancel(context.Background())
	if err := b.open(ctx); err != nil {
		b.cancel()
		return nil, err
	}
	return b, nil
}

func (b *Backend) open(ctx context.Context) error {
	if err := os.MkdirAll(b.cfg.StagingDir, 0o700); err != nil {
		return fmt.Errorf("s3: staging folder: %w", err)
	}
	create, err := b.checkClaim(ctx)
	if err != nil {
		return err
	}
	if err := b.probe(ctx); err != nil {
		return err
	}
	if create {
		if err := b.createClaim(ctx); err != nil {
			return err
		}
	}
	if err := b.cleanStaging(); err != nil {
		return err
	}
	return b.abortIncomplete(ctx)
}

// Close stops the uploads running in the background and waits for them;
// the Backend must not be used after. Staged objects not committed are
// lost (the next Open cleans up after them).
func (b *Backend) Close() error {
	b.cancel()
	b.wg.Wait()
	return nil
}

// spoolPattern names the staging folder's spool files.
const spoolPattern = "s3-*.spool"

// cleanStaging removes the spool files left in the staging folder.
func (b *Backend) cleanStaging() error {
	left, err := filepath.Glob(filepath.Join(b.cfg.StagingDir, spoolPattern))
	if err != nil {
		return fmt.Errorf("s3: staging folder: %w", err)
	}
	for _, p := range left {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("s3: cleaning the staging folder: %w", err)
		}
	}
	if len(left) > 0 {
		b.log.Info("s3: removed spool files of unfinished uploads", "count", len(left), "folder", b.cfg.StagingDir)
	}
	return nil
}

// maxUploadPages bounds the pages of incomplete uploads that Open lists
// (a million uploads), so that a store whose listing never ends cannot
// keep it from returning.
const maxUploadPages = 1000

// abortIncomplete aborts the multipart uploads under <prefix>shares/,
// which a crash left behind (this node owns the prefix: see the claim).
func (b *Backend) abortIncomplete(ctx context.Context) error {
	under := b.prefix + sharesDir
	keyMarker, idMarker := "", ""
	n := 0
	for page := 0; ; page++ {
		if page == maxUploadPages {
			return b.wrap("listing incomplete uploads under", sharesDir,
				fmt.Errorf("more than %d pages; the store's listing does not end", maxUploadPages))
		}
		res, err := b.client.ListMultipartUploads(ctx, b.cfg.Bucket, under, keyMarker, idMarker, "", 1000)
		if err != nil {
			return b.wrap("listing incomplete uploads under", sharesDir, err)
		}
		for _, u := range res.Uploads {
			if !strings.HasPrefix(u.Key, under) {
				continue
			}
			err := b.client.AbortMultipartUpload(ctx, b.cfg.Bucket, u.Key, u.UploadID)
			if err != nil && code(err) != "NoSuchUpload" {
				return b.wrap("aborting the incomplete upload of", strings.TrimPrefix(u.Key, b.prefix), err)
			}
			n++
		}
		if !res.IsTruncated || res.NextKeyMarker == "" && res.NextUploadIDMarker == "" {
			break
		}
		if res.NextKeyMarker == keyMarker && res.NextUploadIDMarker == idMarker {
			return b.wrap("listing incomplete uploads under", sharesDir,
				errors.New("the store lists the same page again (its markers do not move)"))
		}
		keyMarker, idMarker = res.NextKeyMarker, res.NextUploadIDMarker
	}
	if n > 0 {
		b.log.Info("s3: aborted incomplete uploads", "count", n, "bucket", b.cfg.Bucket, "prefix", b.prefix)
	}
	return nil
}

// The names of objects below the prefix.
const (
	sharesDir  = "shares/"
	recordsDir = "records/"
	claimName  = "claim"
	probeName  = "probe"
)

// siDir returns shares/<prefix2>/<si>/.
func siDir(si lafs.StorageIndex) string {
	s := si.String()
	return sharesDir + s[:2] + "/" + s + "/"
}

// shareName returns the name of k's object below the prefix.
func shareName(k backend.Key) string {
	return siDir(k.SI) + strconv.Itoa(int(k.Share))
}

// key returns the object key of name.
func (b *Backend) key(name string) string { return b.prefix + name }

// shareNum parses a share object's last name segment: a decimal number
// in canonical form that fits a ShareNum.
func shareNum(name string) (lafs.ShareNum, bool) {
	n, err := strconv.ParseUint(name, 10, 16)
	if err != nil || strconv.FormatUint(n, 10) != name {
		return 0, false
	}
	return lafs.ShareNum(n), true
}

// list calls f with the name (below the prefix) of every object whose
// name begins with under, in ascending order, stopping at f's first
// error or once ctx is done.
func (b *Backend) list(ctx context.Context, under string, f func(name string) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	noOwner := false
	last := ""
	for obj := range b.client.ListObjectsIter(lctx, b.cfg.Bucket, minio.ListObjectsOptions{
		Prefix: b.key(under), Recursive: true, FetchOwner: &noOwner,
	}) {
		if obj.Err != nil {
			if err := ctx.Err(); err != nil {
				return err
			}
			return b.wrap("listing", under, obj.Err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		// S3 lists keys in ascending order; a store that goes back (or
		// repeats a page) would make the listing loop.
		if obj.Key <= last {
			return b.wrap("listing", under, fmt.Errorf("the store listed %q after %q, out of order", obj.Key, last))
		}
		last = obj.Key
		name, ok := strings.CutPrefix(obj.Key, b.prefix)
		if !ok {
			continue
		}
		if err := f(name); err != nil {
			return err
		}
	}
	// The listing ends quietly when ctx is done.
	return ctx.Err()
}

// maxListKeys bounds the keys that List takes under one storage index: a
// file has at most 256 shares, so a store listing more is broken.
const maxListKeys = 1024

// List returns the share numbers with a committed object under si. Keys
// that name no share number are ignored; more than maxListKeys keys are
// an error.
func (b *Backend) List(ctx context.Context, si lafs.StorageIndex) ([]lafs.ShareNum, error) {
	dir := siDir(si)
	out := []lafs.ShareNum{}
	keys := 0
	err := b.list(ctx, dir, func(name string) error {
		if keys++; keys > maxListKeys {
			return b.wrap("list", dir, fmt.Errorf("more than %d objects under one storage index, which holds at most %d shares", maxListKeys, lafs.MaxShares))
		}
		if n, ok := shareNum(name[len(dir):]); ok {
			out = append(out, n)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(out)
	return out, nil
}

// parseShare parses a share object's name below shares/:
// <prefix2>/<si>/<shnum>, where <si> is strictly valid and begins with
// <prefix2>.
func parseShare(rest string) (lafs.StorageIndex, bool) {
	p, rest, ok1 := strings.Cut(rest, "/")
	s, n, ok2 := strings.Cut(rest, "/")
	if !ok1 || !ok2 || !backend.IsPrefix(p) || len(s) < 2 || s[:2] != p {
		return lafs.StorageIndex{}, false
	}
	if _, ok := shareNum(n); !ok {
		return lafs.StorageIndex{}, false
	}
	si, err := lafs.ParseStorageIndex(s)
	return si, err == nil
}

// walk calls f once for each storage index with share objects whose name
// begins with under (below the prefix). The listing is sorted, so the
// shares of one storage index come together.
func (b *Backend) walk(ctx context.Context, under string, f func(si lafs.StorageIndex) error) error {
	var last lafs.StorageIndex
	seen := false
	return b.list(ctx, under, func(name string) error {
		si, ok := parseShare(name[len(sharesDir):])
		if !ok || seen && si == last {
			return nil
		}
		last, seen = si, true
		return f(si)
	})
}

// Walk calls f for every storage index with committed share objects, in
// the order of their base32 names. It lists the share objects (one
// request per 1000), so it sees exactly what List does; uploads in
// progress are in the staging folder or incomplete multipart uploads,
// which listings never show.
func (b *Backend) Walk(ctx context.Context, f func(si lafs.StorageIndex) error) error {
	return b.walk(ctx, sharesDir, f)
}

// WalkPrefix is Walk restricted to one of Tahoe's prefixes: it lists
// shares/<prefix>/ only.
func (b *Backend) WalkPrefix(ctx context.Context, prefix string, f func(si lafs.StorageIndex) error) error {
	if !backend.IsPrefix(prefix) {
		return fmt.Errorf("s3: %q is not a storage index prefix", prefix)
	}
	return b.walk(ctx, sharesDir+prefix+"/", f)
}

// Available reports 1 PiB: an object store has no free space to ask for.
func (b *Backend) Available(ctx context.Context) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	return availableBytes, nil
}

// trimETag removes the quotes around an ETag.
func trimETag(e string) string { return strings.Trim(e, `"`) }

// stat returns the meta of a committed object, from the cache or a HEAD
// request.
func (b *Backend) stat(ctx context.Context, name string) (*meta, error) {
	if m := b.cache.get(name); m != nil {
		return m, nil
	}
	v := b.cache.version(name)
	info, err := b.client.StatObject(ctx, b.cfg.Bucket, b.key(name), minio.StatObjectOptions{})
	if err != nil {
		return nil, b.wrap("stat", name, err)
	}
	m := &meta{etag: trimETag(info.ETag), stored: info.Size}
	b.cache.putIf(name, m, v)
	return m, nil
}

// Size returns the plaintext size of a committed object, which follows
// from its stored size (from the cache or a HEAD request). An object of
// the size of an empty one is fetched, once, to open its empty last chunk:
// otherwise a store cutting an object down to a header and 16 bytes would
// go unnoticed, since no read of an empty object opens a chunk.
func (b *Backend) Size(ctx context.Context, k backend.Key) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	name := shareName(k)
	if ov := b.getOverlay(name); ov != nil {
		return ov.size(), nil
	}
	m, err := b.stat(ctx, name)
	if err != nil {
		return 0, err
	}
	n, ok := m.plain()
	if !ok {
		return 0, b.tampered(name, fmt.Errorf("stored size %d is no sealed size: %w", m.stored, ErrTampered))
	}
	if n == 0 && !m.checked {
		if _, err := b.readAtRetry(ctx, name, nil, 0); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// tooLarge is the error of an in-place change that would make the object
// name size bytes, or of one to an object of size bytes, over the limit.
func (b *Backend) tooLarge(name string, size int64) error {
	return fmt.Errorf("s3 bucket %q at %s: object %s: %w: changing it in place would hold %d bytes in memory, over the limit of %d (MaxInPlaceSize)",
		b.cfg.Bucket, b.endpoint, b.key(name), backend.ErrNoSpace, size, b.cfg.MaxInPlaceSize)
}

// overBudget is the error of an in-place change that would make the
// objects being changed in place hold more than MaxInPlaceTotal bytes.
func (b *Backend) overBudget(name string, need int64) error {
	return fmt.Errorf("s3 bucket %q at %s: object %s: %w: changing it in place needs %d more bytes of memory, and the objects being changed in place hold %d of the %d allowed (MaxInPlaceTotal)",
		b.cfg.Bucket, b.endpoint, b.key(name), backend.ErrNoSpace, need, b.inPlace, b.cfg.MaxInPlaceTotal)
}

// tampered wraps an authentication failure of the object name.
func (b *Backend) tampered(name string, err error) error {
	return fmt.Errorf("s3 bucket %q at %s: object %s: %w", b.cfg.Bucket, b.endpoint, b.key(name), err)
}

// Delete removes a committed object, and any in-place changes not synced.
func (b *Backend) Delete(ctx context.Context, k backend.Key) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	name := shareName(k)
	b.dropOverlay(name)
	b.cache.drop(name)
	// S3 deletes a missing key without complaint; backend.Backend wants
	// ErrNotExist.
	if _, err := b.client.StatObject(ctx, b.cfg.Bucket, b.key(name), minio.StatObjectOptions{}); err != nil {
		return b.wrap("stat", name, err)
	}
	err := b.client.RemoveObject(ctx, b.cfg.Bucket, b.key(name), minio.RemoveObjectOptions{})
	b.cache.drop(name)
	return b.wrap("delete", name, err)
}

// putOpts returns the options of a PUT or Complete that must not replace
// an object (create) or must replace the version etag (ifMatch).
//
// The payload is not signed (over plain HTTP minio-go would sign it in
// aws-chunked form, hashing every byte with SHA-256): what we store is
// sealed, so a changed body is detected when it is read, and the hash
// costs a quarter of an upload's time.
func putOpts(create bool, ifMatch string) minio.PutObjectOptions {
	o := minio.PutObjectOptions{DisableContentSha256: true}
	if create {
		o.SetMatchETagExcept("*")
	}
	if ifMatch != "" {
		o.SetMatchETag(ifMatch)
	}
	return o
}

// precheck does, for a store that ignores conditional headers, what the
// condition would: a HEAD request saying whether name exists (create) or
// has ETag ifMatch. Not atomic with the write that follows: safe because
// the claim keeps other nodes away and the storage server serializes
// writes to one key.
func (b *Backend) precheck(ctx context.Context, name string, create bool, ifMatch string) error {
	if create && b.condCreate || ifMatch != "" && b.condReplace || !create && ifMatch == "" {
		return nil
	}
	info, err := b.client.StatObject(ctx, b.cfg.Bucket, b.key(name), minio.StatObjectOptions{})
	switch {
	case create && err == nil:
		return b.wrap("create", name, errPreconditionResponse)
	case create && kind(err) == backend.ErrNotExist:
		return nil
	case err != nil:
		return b.wrap("stat", name, err)
	case trimETag(info.ETag) != ifMatch:
		return b.wrap("replace", name, errPreconditionResponse)
	}
	return nil
}

// errPreconditionResponse stands for the store's refusal of a condition
// that precheck found unmet.
var errPreconditionResponse = minio.ErrorResponse{
	Code: "PreconditionFailed", StatusCode: http.StatusPreconditionFailed,
	Message: "the object changed or exists (checked before writing)",
}

// partOpts are the options of every part upload (see putOpts).
var partOpts = minio.PutObjectPartOptions{DisableContentSha256: true}

// putSealed stores sealed, a whole sealed object, under name: one PUT,
// or a multipart upload if it is larger than a part. create and ifMatch
// are the conditions (see putOpts). It returns the new version's ETag.
func (b *Backend) putSealed(ctx context.Context, name string, sealed []byte, create bool, ifMatch string) (string, error) {
	if err := b.precheck(ctx, name, create, ifMatch); err != nil {
		return "", err
	}
	opts := putOpts(create, ifMatch)
	part := sealedPartSize(b.cfg.PartSize)
	if int64(len(sealed)) <= part {
		var info minio.UploadInfo
		err := retryFolderRace(ctx, func() (err error) {
			info, err = b.client.PutObject(ctx, b.cfg.Bucket, b.key(name), bytesReader(sealed), int64(len(sealed)), "", "", opts)
			return err
		})
		if err != nil {
			if m := b.landed(ctx, name, err, sealed[:headerSize], int64(len(sealed))); m != nil {
				return m.etag, nil
			}
			return "", b.wrap("put", name, err)
		}
		return trimETag(info.ETag), nil
	}
	mp := &multipart{}
	id, err := mp.init(ctx, b, name)
	if err != nil {
		return "", err
	}
	var parts []minio.CompletePart
	for i := int64(0); i*part < int64(len(sealed)); i++ {
		p := sealed[i*part : min(int64(len(sealed)), (i+1)*part)]
		op, err := b.client.PutObjectPart(ctx, b.cfg.Bucket, b.key(name), id, int(i+1), bytesReader(p), int64(len(p)), partOpts)
		if err != nil {
			b.abortLater(name, mp)
			return "", b.wrap("upload part of", name, err)
		}
		parts = append(parts, minio.CompletePart{PartNumber: int(i + 1), ETag: op.ETag})
	}
	var info minio.UploadInfo
	err = retryFolderRace(ctx, func() (err error) {
		info, err = b.client.CompleteMultipartUpload(ctx, b.cfg.Bucket, b.key(name), id, parts, opts)
		return err
	})
	if err != nil {
		if m := b.landed(ctx, name, err, sealed[:headerSize], int64(len(sealed))); m != nil {
			return m.etag, nil
		}
		b.abortLater(name, mp)
		return "", b.wrap("complete the upload of", name, err)
	}
	return trimETag(info.ETag), nil
}

// landed looks, after a write of the object name failed with err,
// whether it was done all the same, and returns its meta if so. A
// conditional write that the store applied but whose answer was lost is
// sent again by the client, and then refused (412: the object exists,
// or no longer has the ETag named); a completion sent again finds its
// upload gone (NoSuchUpload). In either case the object in the store is
// ours if it begins with header, whose salt is fresh for every version
// written, and has the stored size. Any other error, or failure to tell,
// gives nil.
func (b *Backend) landed(ctx context.Context, name string, err error, header []byte, stored int64) *meta {
	if kind(err) != errPrecondition && code(err) != "NoSuchUpload" {
		return nil
	}
	body, total, etag, err := b.getRange(ctx, name, 0, int64(headerSize), "")
	if err != nil {
		return nil
	}
	defer closeBody(body)
	h := make([]byte, headerSize)
	if _, err := io.ReadFull(body, h); err != nil || total != stored || !bytes.Equal(h, header) {
		return nil
	}
	b.log.Debug("s3: a write was refused or its upload gone, but the object is ours: its first answer was lost", "object", b.key(name))
	return &meta{etag: etag, stored: total}
}

// getSealed returns the plaintext of the whole object name, which must
// hold at most maxPlain bytes, and its ETag.
func (b *Backend) getSealed(ctx context.Context, name string, maxPlain int64) ([]byte, string, error) {
	body, info, _, err := b.client.GetObject(ctx, b.cfg.Bucket, b.key(name), minio.GetObjectOptions{})
	if err != nil {
		return nil, "", b.wrap("get", name, err)
	}
	defer body.Close()
	limit := sealedSize(maxPlain)
	if info.Size > limit {
		return nil, "", b.tampered(name, fmt.Errorf("%d bytes, more than it may hold: %w", info.Size, ErrTampered))
	}
	sealed, err := io.ReadAll(io.LimitReader(body, limit+1))
	if err != nil {
		return nil, "", b.wrap("get", name, err)
	}
	plain, err := openAll(&b.cfg.SealKey, name, sealed)
	if err != nil {
		return nil, "", b.tampered(name, err)
	}
	return plain, trimETag(info.ETag), nil
}

// acquire takes one of the part upload slots.
func (b *Backend) acquire(ctx context.Context) error {
	select {
	case b.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *Backend) release() { <-b.sem }

// sealedPartSize returns the most bytes a sealed part of plaintext size
// ps takes (the first part holds the header too).
func sealedPartSize(ps int64) int64 {
	return int64(headerSize) + ps/chunkSize*sealedChunk
}

// buffer returns a buffer of at least n bytes: from the pool when n fits
// the configured part size.
func (b *Backend) buffer(n int64) *[]byte {
	if n <= sealedPartSize(b.cfg.PartSize) {
		return b.bufs.Get().(*[]byte)
	}
	p := make([]byte, n)
	return &p
}

// putBuffer returns a buffer from buffer.
func (b *Backend) putBuffer(p *[]byte) {
	if int64(len(*p)) == sealedPartSize(b.cfg.PartSize) {
		b.bufs.Put(p)
	}
}

// folderRace reports whether err is what versitygw's posix backend (and
// other stores that keep objects as files) answers when a write to a key
// meets the removal of its folder, as it may when a storage index's last
// share is deleted while another of its shares is written: the folder
// went away (or came back) under the write. The write did not happen and
// may be tried again.
func folderRace(err error) bool {
	switch minio.ToErrorResponse(err).Code {
	case "ExistingObjectIsDirectory", "ObjectParentIsFile":
		return true
	}
	return false
}

// retryFolderRace runs write, and again, up to 4 tries in all with short
// pauses, while it fails with a folderRace.
func retryFolderRace(ctx context.Context, write func() error) error {
	err := write()
	for try, pause := 1, 20*time.Millisecond; try < 4 && folderRace(err); try, pause = try+1, pause*2 {
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause):
		}
		err = write()
	}
	return err
}
