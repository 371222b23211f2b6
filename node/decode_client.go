package node

import (
	"fmt"
	"strings"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/crypt"
)

func (d *decoder) decodeClient() ClientConfig {
	const sec = "client"
	c := ClientConfig{
		IntroducerFURL:   d.str(sec, "introducer.furl", ""),
		HelperFURL:       d.str(sec, "helper.furl", ""),
		SharesNeeded:     int(d.integer(sec, "shares.needed", 3, 1, lafs.MaxShares)),
		SharesHappy:      int(d.integer(sec, "shares.happy", 7, 1, lafs.MaxShares)),
		SharesTotal:      int(d.integer(sec, "shares.total", 10, 1, lafs.MaxShares)),
		MaxSegmentSize:   int(d.integer(sec, "shares._max_immutable_segment_size_for_testing", lafs.DefaultSegmentSize, 1, 1<<40)),
		MutableFormat:    MutableFormat(strings.ToLower(d.str(sec, "mutable.format", "sdmf"))),
		PreferredPeers:   d.list(sec, "peers.preferred"),
		StoragePlugins:   d.list(sec, "storage.plugins"),
		ForceFoolscap:    d.boolean(sec, "force_foolscap", false),
		KeyGeneratorFURL: d.str(sec, "key_generator.furl", ""),
		KeyPoolSize:      int(d.integer(sec, "lafs.key-pool-size", -1, 0, 1024)),
	}
	if c.IntroducerFURL == "None" {
		d.failKey(sec, "introducer.furl", "'None' is not a fURL; to use no introducer, leave the key out")
	}
	if c.HelperFURL == "None" {
		c.HelperFURL = ""
	}
	if c.SharesNeeded > c.SharesTotal {
		d.failKey(sec, "shares.needed", "shares.needed (k=%d) is more than shares.total (N=%d)", c.SharesNeeded, c.SharesTotal)
	}
	if c.SharesHappy > c.SharesTotal {
		d.failKey(sec, "shares.happy", "shares.happy (%d) is more than shares.total (N=%d)", c.SharesHappy, c.SharesTotal)
	}
	if c.MutableFormat != SDMF && c.MutableFormat != MDMF {
		d.failKey(sec, "mutable.format", "%q is not sdmf or mdmf", c.MutableFormat)
	}
	return c
}

func (d *decoder) decodeStorage() StorageConfig {
	const sec = "storage"
	s := StorageConfig{
		Enabled:         d.boolean(sec, "enabled", true),
		Anonymous:       d.boolean(sec, "anonymous", true),
		ReadOnly:        d.boolean(sec, "readonly", false),
		StorageDir:      d.str(sec, "storage_dir", "storage"),
		DebugDiscard:    d.boolean(sec, "debug_discard", false),
		ExpireEnabled:   d.boolean(sec, "expire.enabled", false),
		ExpireMode:      d.str(sec, "expire.mode", ExpireAge),
		ExpireImmutable: d.boolean(sec, "expire.immutable", true),
		ExpireMutable:   d.boolean(sec, "expire.mutable", true),
		Plugins:         d.list(sec, "plugins"),
		GridManagement:  d.boolean(sec, "grid_management", false),
		ForceFoolscap:   d.boolean(sec, "force_foolscap", false),
		Backend:         d.str(sec, "backend", BackendDisk),
		S3: S3Config{
			Endpoint:  d.str(sec, "s3.endpoint", ""),
			Region:    d.str(sec, "s3.region", "us-east-1"),
			Bucket:    d.str(sec, "s3.bucket", ""),
			Prefix:    d.str(sec, "s3.prefix", ""),
			PathStyle: d.boolean(sec, "s3.path_style", false),
		},
	}
	d.decodeS3(&s)
	var err error
	if s.ReservedSpace, err = ParseSize(d.str(sec, "reserved_space", "")); err != nil {
		d.failKey(sec, "reserved_space", "%v", err)
	}
	if _, ok := d.get(sec, "expire.mode"); s.ExpireEnabled && !ok {
		d.failKey(sec, "expire.enabled", "expire.enabled is true, but expire.mode (age or cutoff-date) is missing")
	}
	if s.ExpireMode != ExpireAge && s.ExpireMode != ExpireCutoffDate {
		d.failKey(sec, "expire.mode", "GC mode %q must be %q or %q", s.ExpireMode, ExpireAge, ExpireCutoffDate)
	}
	if v, ok := d.get(sec, "expire.override_lease_duration"); ok {
		dur, err := ParseDuration(v)
		if err != nil {
			d.failKey(sec, "expire.override_lease_duration", "%v", err)
		}
		s.ExpireOverrideLeaseDuration = &dur
	}
	if v, ok := d.get(sec, "expire.cutoff_date"); ok {
		if s.ExpireCutoffDate, err = ParseDate(v); err != nil {
			d.failKey(sec, "expire.cutoff_date", "%v", err)
		}
	} else if s.ExpireMode == ExpireCutoffDate {
		d.failKey(sec, "expire.mode", "expire.mode is cutoff-date, but expire.cutoff_date is missing")
	}
	return s
}

func (d *decoder) decodeSFTP() SFTPConfig {
	const sec = "sftpd"
	s := SFTPConfig{
		Enabled:         d.boolean(sec, "enabled", false),
		Port:            d.str(sec, "port", "tcp:8022"),
		HostPubkeyFile:  d.str(sec, "host_pubkey_file", ""),
		HostPrivkeyFile: d.str(sec, "host_privkey_file", ""),
		AccountsFile:    d.str(sec, "accounts.file", ""),
	}
	var err error
	s.Listen, err = ParseEndpoint(s.Port)
	if err != nil || s.Listen.Type == EndpointDisabled {
		d.failKey(sec, "port", "bad endpoint %q: %v", s.Port, err)
	}
	if s.Enabled {
		for _, k := range []string{"host_pubkey_file", "host_privkey_file"} {
			if _, ok := d.get(sec, k); !ok {
				d.failKey(sec, "enabled", "the SFTP server is enabled, but %s is missing", k)
			}
		}
		if s.AccountsFile == "" {
			d.failKey(sec, "enabled", "the SFTP server is enabled, but accounts.file is missing")
		}
	}
	return s
}

func (d *decoder) decodeGridManagers() ([]GridManager, []GridManagerCertificate) {
	var gms []GridManager
	for _, it := range d.ini.keys("grid_managers") {
		v, _ := d.get("grid_managers", it.key)
		key, err := crypt.ParseEd25519PublicKey(v)
		if err != nil {
			d.fail("grid_managers", it.key, it.line, "not a Grid Manager public key (pub-v0-...): %v", err)
		}
		gms = append(gms, GridManager{Name: it.key, Key: key})
	}
	var certs []GridManagerCertificate
	for _, it := range d.ini.keys("grid_manager_certificates") {
		v, _ := d.get("grid_manager_certificates", it.key)
		certs = append(certs, GridManagerCertificate{Name: it.key, File: v})
	}
	return gms, certs
}

// decodeS3 checks the backend and, for s3, the bucket's settings.
func (d *decoder) decodeS3(s *StorageConfig) {
	const sec = "storage"
	switch s.Backend {
	case BackendDisk:
		return
	case BackendS3:
	default:
		d.failKey(sec, "backend", "unknown storage backend %q: it must be %q or %q", s.Backend, BackendDisk, BackendS3)
		return
	}
	if !s.Enabled {
		return
	}
	if s.S3.Bucket == "" {
		d.failKey(sec, "backend", "backend is s3, but s3.bucket is missing")
	} else if !validBucketName(s.S3.Bucket) {
		d.failKey(sec, "s3.bucket", "%q is no S3 bucket name (3 to 63 characters of a-z, 0-9, '.' and '-')", s.S3.Bucket)
	}
	if s.S3.Endpoint == "" {
		d.failKey(sec, "backend", "backend is s3, but s3.endpoint (the store's URL) is missing")
	} else if _, _, err := SplitS3Endpoint(s.S3.Endpoint); err != nil {
		d.failKey(sec, "s3.endpoint", "%v", err)
	}
	if strings.HasPrefix(s.S3.Prefix, "/") || strings.Contains(s.S3.Prefix, "//") {
		d.failKey(sec, "s3.prefix", "prefix %q may neither begin with nor contain an empty path segment", s.S3.Prefix)
	}
}

// validBucketName reports whether b follows S3's rules for bucket names
// closely enough to be sent.
func validBucketName(b string) bool {
	if len(b) < 3 || len(b) > 63 {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '-') {
			return false
		}
	}
	return b[0] != '.' && b[0] != '-'
}

// SplitS3Endpoint splits an s3.endpoint into host[:port] and whether it
// is reached over TLS: a URL of scheme https or http with nothing after
// the host, or a bare host[:port] (https).
func SplitS3Endpoint(endpoint string) (host string, secure bool, err error) {
	rest, secure := endpoint, true
	switch {
	case strings.HasPrefix(endpoint, "https://"):
		rest = strings.TrimPrefix(endpoint, "https://")
	case strings.HasPrefix(endpoint, "http://"):
		rest, secure = strings.TrimPrefix(endpoint, "http://"), false
	case strings.Contains(endpoint, "://"):
		return "", false, fmt.Errorf("endpoint %q: the scheme must be https or http", endpoint)
	}
	rest = strings.TrimSuffix(rest, "/")
	if rest == "" || strings.ContainsAny(rest, "/?#@ ") {
		return "", false, fmt.Errorf("endpoint %q: want https://HOST[:PORT] (or http://), with no path", endpoint)
	}
	return rest, secure, nil
}
