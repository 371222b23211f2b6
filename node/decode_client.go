package node

import (
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
	}
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
