package node

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/lafs/lafs/nurl"
)

// CreateOptions are the options of "tahoe create-node", "create-client" and
// "create-introducer" (scripts/create_node.py), named after their flags.
// Zero values mean each flag's default.
type CreateOptions struct {
	// Kind is KindNode (the default), KindClient or KindIntroducer.
	Kind Kind
	// Nickname is [node] nickname (--nickname).
	Nickname string
	// Introducers are introducer fURLs for private/introducers.yaml
	// (--introducer); the first gets the petname "default", the others
	// "introducer2", "introducer3", and so on. Not for introducers.
	Introducers []string
	// WebPort is the web API's endpoint (--webport), or "none" for no web
	// server. The default is "tcp:3456:interface=127.0.0.1", except for
	// introducers, whose create command has no --webport and which get no
	// web server by default.
	WebPort string
	// Listen is --listen: "tcp" (the default), "none", or some of
	// "tcp", "tor" and "i2p", separated by commas. Clients never listen.
	Listen string
	// Hostname (--hostname) makes the node listen on a free TCP port,
	// chosen now, and publish tcp:HOSTNAME:PORT. --listen=tcp needs it
	// unless Location and Port are given.
	Hostname string
	// Location (tub.location, --location) and Port (tub.port, --port)
	// go together and override Hostname.
	Location, Port string
	// SharesNeeded, SharesHappy, SharesTotal are the encoding
	// parameters (--shares-needed/-happy/-total; 3, 7, 10). Not for
	// introducers.
	SharesNeeded, SharesHappy, SharesTotal int
	// NoStorage disables the storage server (--no-storage); clients never
	// have one.
	NoStorage bool
	// StorageDir is [storage] storage_dir (--storage-dir). Nodes only.
	StorageDir string
	// Helper runs an upload helper (--helper). Nodes only.
	Helper bool
	// HideIP (--hide-ip) writes reveal-IP-address = false and
	// [connections] tcp = tor: the node then reaches others through Tor
	// only, and refuses any setting that would reveal its IP address.
	HideIP bool
	// TorControlPort (--tor-control-port) is the Tor control port with
	// which --listen=tor makes the node's onion service; empty tries
	// Tor's usual ones, as Tahoe does.
	TorControlPort string
	// TorLaunch (--tor-launch) gives the node a Tor of its own ([tor]
	// launch = true), which also makes the onion key of --listen=tor;
	// TorExecutable (--tor-executable) is that tor's program, "" for tor
	// on $PATH (create_tor.go).
	TorLaunch     bool
	TorExecutable string
	// I2PSAMPort (--i2p-sam-port) is the SAM bridge with which
	// --listen=i2p makes the node's I2P destination; empty means I2P's
	// usual tcp:127.0.0.1:7656. I2PLaunch (--i2p-launch) and
	// I2PExecutable (--i2p-executable) are refused, as Tahoe refuses
	// them (create_i2p.go).
	I2PSAMPort    string
	I2PLaunch     bool
	I2PExecutable string
	// i2p is the destination --listen=i2p made (create_i2p.go).
	i2p *createdI2P
	// onion is the onion service --listen=tor made (create_tor.go).
	onion *createdOnion
	// StorageBackend is [storage] backend (--storage-backend): BackendDisk
	// (the default) or BackendS3. Nodes only.
	StorageBackend string
	// S3 is the bucket of BackendS3 (--s3-endpoint, --s3-bucket,
	// --s3-region, --s3-prefix, --s3-path-style); Region defaults to
	// DefaultS3Region.
	S3 S3Config
	// S3AccessKeyID and S3SecretAccessKey are the store's credentials,
	// which BackendS3 needs: written to private/ (S3AccessKeyFile,
	// S3SecretKeyFile), never to tahoe.cfg, and never in an error.
	S3AccessKeyID, S3SecretAccessKey string
}

// ErrUsage is wrapped by every error about bad CreateOptions.
var ErrUsage = errors.New("bad options")

// ErrNotEmpty is returned by Create for a base directory that exists and
// is not empty: Tahoe refuses "to avoid clobbering anything".
var ErrNotEmpty = errors.New("the base directory is not empty")

// DefaultWebPort is the web API endpoint that create-node and create-client
// write by default.
const DefaultWebPort = "tcp:3456:interface=127.0.0.1"

// Create makes a node directory at basedir as Tahoe's create commands do,
// and then its identity: tahoe-client.tac (or tahoe-introducer.tac, which
// tell Tahoe the node type), tahoe.cfg with Tahoe's text, private/ (0700),
// private/introducers.yaml when introducers are given, then node.pem,
// node.privkey, node.pubkey and my_nodeid (LoadOrCreateIdentity), and for
// clients private/secret and private/convergence (LoadOrCreateSecrets);
// Tahoe makes these at the node's first start. basedir must not exist or
// be empty. A node on an S3 backend also gets the store's credentials and
// its storage seal key in private/ (create_s3.go); the store is not
// contacted. The options are checked as Tahoe checks its flags, and the
// tahoe.cfg they give must load with ReadConfig, before anything is
// written.
func Create(basedir string, opts CreateOptions) error {
	o, err := opts.normalize()
	if err != nil {
		return err
	}
	if entries, err := os.ReadDir(basedir); err == nil {
		if len(entries) > 0 {
			return fmt.Errorf("%w: %s", ErrNotEmpty, basedir)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	tubPort, tubLocation, err := o.where()
	if err != nil {
		return err
	}
	if tubPort, tubLocation, err = o.makeOnion(tubPort, tubLocation); err != nil {
		return err
	}
	if tubPort, tubLocation, err = o.makeI2P(tubPort, tubLocation); err != nil {
		return err
	}
	cfgPath := filepath.Join(basedir, "tahoe.cfg")
	cfg := o.tahoeCfg(tubPort, tubLocation)
	if _, err := ParseConfigKind(cfgPath, []byte(cfg), o.Kind); err != nil {
		return fmt.Errorf("%w: %v", ErrUsage, err)
	}
	var introYAML []byte
	if len(o.Introducers) > 0 {
		if introYAML, err = introducersYAML(o.Introducers); err != nil {
			return err
		}
	}

	if err := os.MkdirAll(basedir, 0o755); err != nil {
		return err
	}
	tac := "tahoe-client.tac"
	if o.Kind == KindIntroducer {
		tac = "tahoe-introducer.tac"
	}
	if err := writeNewFile(filepath.Join(basedir, tac), []byte(dummyTac), publicFileMode); err != nil {
		return err
	}
	priv, err := privateDir(basedir)
	if err != nil {
		return err
	}
	if err := writeNewFile(cfgPath, []byte(cfg), publicFileMode); err != nil {
		return err
	}
	if introYAML != nil {
		if err := writeNewFile(filepath.Join(priv, "introducers.yaml"), introYAML, secretFileMode); err != nil {
			return err
		}
	}
	if err := o.writeOnionKey(basedir); err != nil {
		return err
	}
	if err := o.writeI2PKey(basedir); err != nil {
		return err
	}
	id, err := LoadOrCreateIdentity(basedir)
	if err != nil {
		return err
	}
	if o.Kind != KindIntroducer {
		if _, err := LoadOrCreateSecrets(basedir); err != nil {
			return err
		}
	}
	return o.writeS3Files(basedir, id, tubLocation)
}

// dummyTac is what scripts/create_node.py writes into the .tac file.
const dummyTac = `
import sys
print("Nodes created by Tahoe-LAFS v1.11.0 or later cannot be run by")
print("releases of Tahoe-LAFS before v1.10.0.")
sys.exit(1)
`

func usage(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrUsage}, args...)...)
}

// normalize checks the options a kind of node takes and fills in defaults.
func (o CreateOptions) normalize() (CreateOptions, error) {
	if o.Kind == "" {
		o.Kind = KindNode
	}
	for _, s := range append([]string{o.Nickname, o.WebPort, o.Listen, o.Hostname, o.Location, o.Port, o.StorageDir}, o.Introducers...) {
		if strings.ContainsAny(s, "\r\n") {
			return o, usage("%q: values may not hold line breaks", s)
		}
	}
	shares := o.SharesNeeded != 0 || o.SharesHappy != 0 || o.SharesTotal != 0
	switch o.Kind {
	case KindNode:
	case KindClient:
		switch {
		case o.Listen != "" && o.Listen != "none", o.Hostname != "", o.Location != "", o.Port != "":
			return o, usage("a client does not listen: --listen, --hostname, --location and --port are for nodes and introducers")
		case o.StorageDir != "" || o.Helper:
			return o, usage("--storage-dir and --helper are for nodes (create-node), not clients")
		}
		o.Listen, o.NoStorage = "none", true
	case KindIntroducer:
		if len(o.Introducers) > 0 || shares || o.NoStorage || o.StorageDir != "" || o.Helper {
			return o, usage("--introducer, --shares-*, --no-storage, --storage-dir and --helper are not options of create-introducer")
		}
	default:
		return o, usage("unknown node kind %q (want node, client or introducer)", o.Kind)
	}
	if o.Listen == "" {
		o.Listen = "tcp"
	}
	switch {
	case o.WebPort == "" && o.Kind != KindIntroducer:
		o.WebPort = DefaultWebPort
	case strings.EqualFold(o.WebPort, "none"):
		o.WebPort = ""
	}
	if o.Kind != KindIntroducer {
		o.SharesNeeded = orDefault(o.SharesNeeded, 3)
		o.SharesHappy = orDefault(o.SharesHappy, 7)
		o.SharesTotal = orDefault(o.SharesTotal, 10)
	}
	if err := o.checkTor(); err != nil {
		return o, err
	}
	if err := o.checkI2P(); err != nil {
		return o, err
	}
	o, err := o.normalizeBackend()
	if err != nil {
		return o, err
	}
	return o, o.checkWhere()
}

func orDefault(n, def int) int {
	if n == 0 {
		return def
	}
	return n
}

// checkWhere is create_node.py validate_where_options.
func (o CreateOptions) checkWhere() error {
	if o.Listen == "none" {
		if o.Hostname != "" {
			return usage("--hostname cannot be used when --listen=none")
		}
		if o.Port != "" || o.Location != "" {
			return usage("--port/--location cannot be used when --listen=none")
		}
	}
	if o.Location != "" && o.Port == "" {
		return usage("--location must be used with --port")
	}
	if o.Port != "" && o.Location == "" {
		return usage("--port must be used with --location")
	}
	if o.Location != "" {
		if o.Hostname != "" {
			return usage("--hostname cannot be used with --location/--port")
		}
		return nil
	}
	if o.Listen == "none" {
		return nil
	}
	listeners := strings.Split(o.Listen, ",")
	for _, l := range listeners {
		switch l {
		case "tcp", "none":
		case "tor", "i2p":
		default:
			return usage("--listen= must be one/some of: i2p, none, tcp, tor")
		}
	}
	hasTCP := contains(listeners, "tcp")
	if hasTCP && o.Hostname == "" {
		return usage("--listen=tcp requires --hostname=")
	}
	if !hasTCP && o.Hostname != "" {
		return usage("--listen= must be tcp to use --hostname")
	}
	return nil
}

// where returns tub.port and tub.location, as the listeners of
// create_node.py write_node_config make them.
func (o CreateOptions) where() (port, location string, err error) {
	if contains(strings.Split(o.Listen, ","), "none") {
		return "disabled", "disabled", nil
	}
	if o.Port != "" {
		return o.Port, o.Location, nil
	}
	if !contains(strings.Split(o.Listen, ","), "tcp") {
		return "", "", nil // --listen=tor or i2p: makeOnion and makeI2P fill them
	}
	p, err := allocateTCPPort()
	if err != nil {
		return "", "", err
	}
	host := strings.TrimSuffix(strings.TrimPrefix(o.Hostname, "["), "]")
	return fmt.Sprintf("tcp:%d", p), "tcp:" + joinHostPort(host, p), nil
}

// handedOut remembers the ports allocateTCPPort returned, so that nodes
// created one after another in one process never share one.
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// allocateTCPPort finds a free TCP port as Foolscap's allocate_tcp_port
// does: it lets the kernel pick one for a listener on every interface, then
// closes that listener.
func allocateTCPPort() (int, error) {
	for range 50 {
		l, err := net.Listen("tcp", ":0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		handedOut.Lock()
		fresh := !handedOut.ports[port]
		handedOut.ports[port] = true
		handedOut.Unlock()
		if fresh {
			return port, nil
		}
	}
	return 0, errors.New("no free TCP port found")
}

// cfgValue escapes a value for tahoe.cfg: "%" must be doubled, or
// ConfigParser's interpolation refuses it (Tahoe's create commands do not
// escape it, and write a tahoe.cfg the node then cannot read).
func cfgValue(s string) string { return strings.ReplaceAll(s, "%", "%%") }

// tahoeCfg writes tahoe.cfg as write_node_config and write_client_config do.
func (o CreateOptions) tahoeCfg(tubPort, tubLocation string) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# -*- mode: conf; coding: utf-8 -*-\n")
	w("\n")
	w("# This file controls the configuration of the Tahoe node that\n")
	w("# lives in this directory. It is only read at node startup.\n")
	w("# For details about the keys that can be set here, please\n")
	w("# read the 'docs/configuration.rst' file that came with your\n")
	w("# Tahoe installation.\n")
	w("\n\n")
	w("[node]\n")
	w("nickname = %s\n", cfgValue(o.Nickname))
	w("reveal-IP-address = %t\n", !o.HideIP)
	w("web.port = %s\n", cfgValue(o.WebPort))
	w("web.static = public_html\n")
	w("tub.port = %s\n", cfgValue(tubPort))
	w("tub.location = %s\n", cfgValue(tubLocation))
	w("\n")
	w("#log_gatherer.furl =\n")
	w("#timeout.keepalive =\n")
	w("#timeout.disconnect =\n")
	w("#ssh.port = 8022\n")
	w("#ssh.authorized_keys_file = ~/.ssh/authorized_keys\n")
	w("\n")
	o.writeTor(w)
	o.writeI2P(w)
	if o.Kind == KindIntroducer {
		return b.String()
	}
	w("[client]\n")
	w("helper.furl =\n")
	w("\n")
	w("# Encoding parameters this client will use for newly-uploaded files\n")
	w("# This can be changed at any time: the encoding is saved in\n")
	w("# each filecap, and we can download old files with any encoding\n")
	w("# settings\n")
	w("shares.needed = %d\n", o.SharesNeeded)
	w("shares.happy = %d\n", o.SharesHappy)
	w("shares.total = %d\n", o.SharesTotal)
	w("\n")
	w("[storage]\n")
	w("# Shall this node provide storage service?\n")
	w("enabled = %t\n", !o.NoStorage)
	w("#readonly =\n")
	w("reserved_space = 1G\n")
	if o.StorageDir != "" {
		w("storage_dir = %s\n", cfgValue(o.StorageDir))
	} else {
		w("#storage_dir =\n")
	}
	w("#expire.enabled =\n")
	w("#expire.mode =\n")
	o.writeStorageBackend(w)
	w("\n")
	w("[helper]\n")
	w("# Shall this node run a helper service that clients can use?\n")
	w("enabled = %t\n", o.Helper)
	w("\n")
	return b.String()
}

// introducersYAML is private/introducers.yaml as scripts/common.py
// write_introducer writes it, for one or more introducers.
func introducersYAML(furls []string) ([]byte, error) {
	type entry struct {
		FURL string `yaml:"furl"`
	}
	m := map[string]entry{}
	for i, f := range furls {
		// A NURL (pb://SPKIHASH@HOST:PORT/SWISSNUM#v=1) names one of our
		// HTTPS introducers; anything else must be a Foolscap fURL.
		if strings.HasSuffix(f, "#v=1") {
			if _, err := nurl.Parse(strings.Replace(f, "@tcp:", "@", 1)); err != nil {
				return nil, fmt.Errorf("%w: --introducer: %v", ErrUsage, err)
			}
		} else if _, _, _, err := decodeFURL(f); err != nil {
			return nil, fmt.Errorf("%w: --introducer: %v", ErrUsage, err)
		}
		name := "default"
		if i > 0 {
			name = fmt.Sprintf("introducer%d", i+1)
		}
		m[name] = entry{FURL: f}
	}
	var b strings.Builder
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(map[string]any{"introducers": m}); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return []byte(b.String()), nil
}
