package node

import (
	"crypto/ed25519"
	"slices"
	"time"

	"github.com/lafs/lafs"
)

// Kind is the kind of a node directory.
type Kind string

// The kinds of node. Tahoe itself knows two node types, "client" (for both
// create-node and create-client) and "introducer", and tells them apart by
// the .tac file in the node directory; KindNode exists only for Create.
const (
	// KindNode is what "tahoe create-node" makes: a client that is also a
	// storage server. Its node type is KindClient.
	KindNode Kind = "node"
	// KindClient is the node type of every node that is not an
	// introducer, and what "tahoe create-client" makes: a client with
	// storage disabled that does not listen.
	KindClient Kind = "client"
	// KindIntroducer is an introducer node; its tahoe.cfg may hold only
	// [node], [connections], [tor] and [i2p].
	KindIntroducer Kind = "introducer"
)

// Config is a node's tahoe.cfg, parsed and validated. It is immutable: every
// accessor returns a copy. Paths in it are as written; relative ones are
// relative to the node directory.
type Config struct {
	file         string
	kind         Kind
	node         NodeConfig
	client       ClientConfig
	storage      StorageConfig
	helper       HelperConfig
	connections  ConnectionsConfig
	tor          TorConfig
	i2p          I2PConfig
	sftpd        SFTPConfig
	gridManagers []GridManager
	gridCerts    []GridManagerCertificate
	sections     []string
	values       map[string]map[string]string
}

// NodeConfig is the section "node" of tahoe.cfg, for every kind of node.
type NodeConfig struct {
	// Nickname is shown in management tools; "<unspecified>" if absent.
	Nickname string
	// WebPort is web.port as written: where the web API listens; empty
	// means no web server. Web is its parse (a bare port number reads
	// as tcp:PORT, as Tahoe reads it), zero when WebPort is empty.
	WebPort string
	Web     Endpoint
	// WebStatic is the directory served at /static ("public_html").
	WebStatic string
	// TubPort is tub.port as written: "" if absent (the node then reuses
	// the port in BASEDIR/client.port or lets the kernel pick one),
	// "disabled", or a comma-separated list of endpoints. TubListeners
	// is its parse; a bare number reads as tcp:NUMBER.
	TubPort      string
	TubListeners []Endpoint
	// TubLocation is tub.location as written: "" if absent (meaning
	// AUTO), "disabled", or comma-separated connection hints. Location
	// holds the hints, "AUTO" among them where the node is to put its
	// detected addresses.
	TubLocation string
	Location    []string
	// TubDisabled is set when tub.port and tub.location are "disabled":
	// the node does not listen at all.
	TubDisabled bool
	// LogGathererFURL is log_gatherer.furl, or "".
	LogGathererFURL string
	// KeepaliveTimeout is timeout.keepalive (default 240s, Foolscap's).
	KeepaliveTimeout time.Duration
	// DisconnectTimeout is timeout.disconnect; 0 (the default) means
	// connections are never dropped for silence.
	DisconnectTimeout time.Duration
	// TempDir is where the web API keeps uploads in progress ("tmp").
	TempDir string
	// RevealIPAddress is reveal-IP-address (default true). When false,
	// the configuration has been checked to reveal no IP address.
	RevealIPAddress bool
}

// MutableFormat is the default format of new mutable files.
type MutableFormat string

// The mutable file formats.
const (
	SDMF MutableFormat = "sdmf"
	MDMF MutableFormat = "mdmf"
)

// ClientConfig is the [client] section.
type ClientConfig struct {
	// IntroducerFURL is the deprecated introducer.furl, read by Tahoe as
	// the introducer petnamed "default"; "" if absent.
	IntroducerFURL string
	// HelperFURL is the upload helper to use, or "" ("None" reads as "").
	HelperFURL string
	// SharesNeeded (k), SharesHappy and SharesTotal (N) are the encoding
	// parameters of new files: 1 <= k <= N <= 256 and 1 <= happy <= N
	// (happy below k is allowed, as Tahoe documents). Defaults 3, 7, 10.
	SharesNeeded, SharesHappy, SharesTotal int
	// MaxSegmentSize is shares._max_immutable_segment_size_for_testing,
	// default lafs.DefaultSegmentSize.
	MaxSegmentSize int
	// MutableFormat is mutable.format, default SDMF.
	MutableFormat MutableFormat
	// PreferredPeers are peers.preferred: node IDs tried first.
	PreferredPeers []string
	// StoragePlugins names the enabled storage client plugins; their
	// settings are in the sections "storageclient.plugins.NAME".
	StoragePlugins []string
	// ForceFoolscap makes the client talk to servers over Foolscap only.
	ForceFoolscap bool
	// KeyGeneratorFURL is key_generator.furl, which Tahoe ignores (#2783).
	KeyGeneratorFURL string
	// KeyPoolSize is lafs.key-pool-size (a lafs key Tahoe does not know):
	// how many RSA keys for new mutable files and directories the node
	// makes ahead of time; -1 (unset) means by the node's kind, 16 for a
	// client and 2 for a storage node that is also a client.
	KeyPoolSize int
}

// Params returns the encoding parameters. Note that lafs.Params.Validate
// requires k <= happy, which tahoe.cfg does not.
func (c ClientConfig) Params() lafs.Params {
	return lafs.Params{K: c.SharesNeeded, Happy: c.SharesHappy, N: c.SharesTotal, SegmentSize: c.MaxSegmentSize}
}

// Lease-expiry modes of [storage] expire.mode.
const (
	ExpireAge        = "age"
	ExpireCutoffDate = "cutoff-date"
)

// StorageConfig is the [storage] section (see also docs/garbage-collection.rst).
type StorageConfig struct {
	// Enabled runs a storage server (default true; always false for
	// introducers).
	Enabled bool
	// Anonymous offers it to anyone holding its fURL (default true).
	Anonymous bool
	// ReadOnly refuses new immutable shares.
	ReadOnly bool
	// ReservedSpace is the free space, in bytes, never to be used.
	ReservedSpace int64
	// StorageDir holds the shares ("storage").
	StorageDir string
	// DebugDiscard throws share data away (for tests).
	DebugDiscard bool
	// ExpireEnabled turns on lease expiry; ExpireMode is ExpireAge (the
	// default) or ExpireCutoffDate.
	ExpireEnabled bool
	ExpireMode    string
	// ExpireOverrideLeaseDuration, if set, replaces each lease's own
	// duration in age mode.
	ExpireOverrideLeaseDuration *time.Duration
	// ExpireCutoffDate is set when expire.cutoff_date is: leases renewed
	// before it expire in cutoff-date mode.
	ExpireCutoffDate time.Time
	// ExpireImmutable and ExpireMutable choose the share types to expire
	// (both default true).
	ExpireImmutable, ExpireMutable bool
	// Plugins names the enabled storage server plugins; their settings
	// are in the sections "storageserver.plugins.NAME".
	Plugins []string
	// GridManagement announces the certificates of [grid_manager_certificates].
	GridManagement bool
	// ForceFoolscap serves storage over Foolscap only, not HTTPS.
	ForceFoolscap bool
	// Backend is where the shares live: BackendDisk (StorageDir, in
	// Tahoe's layout, the default) or BackendS3 (a bucket, see S3).
	Backend string
	// S3 is the bucket of BackendS3 (the s3.* keys). Its credentials are
	// in private/ (S3AccessKeyFile, S3SecretKeyFile), never here.
	S3 S3Config
}

// Storage backends ([storage] backend).
const (
	BackendDisk = "disk"
	BackendS3   = "s3"
)

// S3Config is the S3-compatible bucket of a storage node whose [storage]
// backend is s3.
type S3Config struct {
	// Endpoint is the store's URL (s3.endpoint), such as
	// https://s3.us-east-1.amazonaws.com or http://127.0.0.1:7070; a
	// bare host[:port] means https.
	Endpoint string
	// Region is the bucket's region (s3.region, default us-east-1).
	Region string
	// Bucket holds the shares (s3.bucket).
	Bucket string
	// Prefix is put before every key (s3.prefix), so that several nodes
	// can share a bucket; empty for none.
	Prefix string
	// PathStyle addresses the bucket in the path (s3.path_style), as
	// MinIO, Garage and Ceph RGW without wildcard DNS want, instead of
	// the host name (virtual-host style, AWS's default).
	PathStyle bool
}

// HelperConfig is the [helper] section.
type HelperConfig struct {
	// Enabled runs an upload helper (private/helper.furl).
	Enabled bool
}

// ConnectionsConfig is the [connections] section.
type ConnectionsConfig struct {
	// TCP is how tcp hints are reached: "tcp" (directly, the default),
	// "tor", "i2p" or "disabled".
	TCP string
}

// TorConfig is the [tor] section. Endpoint strings are as written.
type TorConfig struct {
	Enabled             bool   // default true: use Tor where needed
	SocksPort           string // socks.port, e.g. tcp:127.0.0.1:9050
	ControlPort         string // control.port
	Launch              bool   // start a private Tor
	Executable          string // tor.executable
	Onion               bool   // run an onion service
	OnionLocalPort      int    // onion.local_port (0 if absent)
	OnionExternalPort   int    // onion.external_port (0 if absent)
	OnionPrivateKeyFile string // onion.private_key_file
}

// I2PConfig is the [i2p] section. Endpoint strings are as written.
type I2PConfig struct {
	Enabled            bool   // default true: use I2P where needed
	SAMPort            string // sam.port
	Launch             bool   // start a private I2P router
	Executable         string // i2p.executable
	ConfigDir          string // i2p.configdir
	Dest               bool   // run an I2P destination
	DestPort           string // dest.port
	DestPrivateKeyFile string // dest.private_key_file
	// SAMOptions is lafs's own lafs.sam-options: I2CP options (KEY=VALUE,
	// separated by spaces, such as inbound.length=1) for every SAM
	// session the node makes. Tahoe has no such key.
	SAMOptions []string
}

// SFTPConfig is the [sftpd] section (docs/frontends/FTP-and-SFTP.rst).
type SFTPConfig struct {
	Enabled bool
	// Port is where to listen (default "tcp:8022"); Listen its parse.
	Port            string
	Listen          Endpoint
	HostPubkeyFile  string
	HostPrivkeyFile string
	AccountsFile    string
}

// GridManager is one entry of [grid_managers]: a name and a Grid Manager's
// public key (docs/managed-grid.rst).
type GridManager struct {
	Name string
	Key  ed25519.PublicKey
}

// GridManagerCertificate is one entry of [grid_manager_certificates]: a
// name and the file (relative to the node directory) holding a certificate.
type GridManagerCertificate struct {
	Name string
	File string
}

// File returns the name the configuration was read from.
func (c *Config) File() string { return c.file }

// Kind returns the node type the configuration was validated for:
// KindClient or KindIntroducer.
func (c *Config) Kind() Kind { return c.kind }

// Node returns the section "node".
func (c *Config) Node() NodeConfig {
	n := c.node
	n.TubListeners = slices.Clone(n.TubListeners)
	n.Location = slices.Clone(n.Location)
	return n
}

// Client returns the [client] section (zero for introducers).
func (c *Config) Client() ClientConfig {
	cl := c.client
	cl.PreferredPeers = slices.Clone(cl.PreferredPeers)
	cl.StoragePlugins = slices.Clone(cl.StoragePlugins)
	return cl
}

// Storage returns the [storage] section (zero for introducers).
func (c *Config) Storage() StorageConfig {
	s := c.storage
	s.Plugins = slices.Clone(s.Plugins)
	if d := s.ExpireOverrideLeaseDuration; d != nil {
		dd := *d
		s.ExpireOverrideLeaseDuration = &dd
	}
	return s
}

// Helper returns the [helper] section.
func (c *Config) Helper() HelperConfig { return c.helper }

// Connections returns the [connections] section.
func (c *Config) Connections() ConnectionsConfig { return c.connections }

// Tor returns the [tor] section.
func (c *Config) Tor() TorConfig { return c.tor }

// I2P returns the [i2p] section.
func (c *Config) I2P() I2PConfig { return c.i2p }

// SFTPD returns the [sftpd] section.
func (c *Config) SFTPD() SFTPConfig { return c.sftpd }

// GridManagers returns [grid_managers], in file order.
func (c *Config) GridManagers() []GridManager {
	out := make([]GridManager, len(c.gridManagers))
	for i, g := range c.gridManagers {
		out[i] = GridManager{Name: g.Name, Key: slices.Clone(g.Key)}
	}
	return out
}

// GridManagerCertificates returns [grid_manager_certificates], in file order.
func (c *Config) GridManagerCertificates() []GridManagerCertificate {
	return slices.Clone(c.gridCerts)
}

// Sections returns the names of the sections in the file, in order
// (without DEFAULT).
func (c *Config) Sections() []string { return slices.Clone(c.sections) }

// Section returns every key of a section with its value (interpolated, and
// with DEFAULT's keys inherited), or false if the file has no such section.
// Plugin settings are read this way: Section("storageserver.plugins.NAME").
func (c *Config) Section(name string) (map[string]string, bool) {
	m, ok := c.values[name]
	if !ok {
		return nil, false
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out, true
}

// Get returns the value of a key (lower case) as Tahoe's get_config would,
// or false if it is not set.
func (c *Config) Get(section, key string) (string, bool) {
	v, ok := c.values[section][key]
	return v, ok
}
