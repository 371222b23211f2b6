// Package node is a Tahoe-LAFS node directory: its configuration and its
// identity, read and made as Tahoe-LAFS 1.20 reads and makes them, so that a
// Tahoe node directory works here unchanged and one made here works with
// Tahoe.
//
// The configuration is BASEDIR/tahoe.cfg, as docs/configuration.rst
// documents it (with docs/garbage-collection.rst, docs/managed-grid.rst and
// docs/frontends/FTP-and-SFTP.rst for [storage] expire.*, [grid_managers] and
// [sftpd]): ReadConfig and ParseConfig read it with Python configparser's
// rules into an immutable, validated Config, refusing unknown sections and
// keys and bad values with a *ConfigError naming the file, line, section and
// key, as Tahoe's node.py, client.py and util/configutil.py do. Values that
// later stages interpret (endpoints, connection hints, paths) are kept as
// written beside their parse (ParseEndpoint, ParseHint).
//
// The identity is in BASEDIR/private: node.pem (the TLS certificate of
// Foolscap and the HTTPS storage protocol, which gives the tub ID and the
// NURL's SPKI hash), node.privkey (the Ed25519 key that signs
// announcements), the lease and convergence secrets, and the services'
// fURLs and NURLs (LoadOrCreateIdentity, LoadOrCreateSecrets,
// LoadOrCreateStorageURLs). Existing files are used as they are; new ones
// are created 0600 in a 0700 private/.
//
// Create makes a new node directory as "tahoe create-node", "create-client"
// and "create-introducer" do (scripts/create_node.py).
package node
