package node

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"
)

// ErrInvalidConfig is matched (errors.Is) by every *ConfigError.
var ErrInvalidConfig = errors.New("invalid configuration")

// ConfigError reports a bad tahoe.cfg: a syntax error, an unknown section
// or key, or a bad value. Fields that do not apply are empty (Line 0).
type ConfigError struct {
	File    string
	Section string
	Key     string
	Line    int
	Msg     string
}

// Error formats the error as "FILE:LINE: [SECTION] KEY: MSG".
func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Section != "" {
		fmt.Fprintf(&b, "[%s] ", e.Section)
	}
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Is reports whether target is ErrInvalidConfig.
func (e *ConfigError) Is(target error) bool { return target == ErrInvalidConfig }

// ParseConfig parses and validates the tahoe.cfg text data of a client
// node (KindClient); name is used in errors.
func ParseConfig(name string, data []byte) (*Config, error) {
	return ParseConfigKind(name, data, KindClient)
}

// ParseConfigKind parses and validates tahoe.cfg text for a node of the
// given kind (KindNode counts as KindClient). Every error is a *ConfigError.
func ParseConfigKind(name string, data []byte, kind Kind) (*Config, error) {
	switch kind {
	case KindNode, KindClient:
		kind = KindClient
	case KindIntroducer:
	default:
		return nil, &ConfigError{File: name, Msg: fmt.Sprintf("unknown node kind %q", kind)}
	}
	return decodeConfig(name, data, kind)
}

// oldConfigFiles are the pre-v1.3 configuration files whose presence makes
// Tahoe refuse to start (node.py _error_about_old_config_files).
var oldConfigFiles = []string{
	"nickname", "webport", "keepalive_timeout", "log_gatherer.furl",
	"disconnect_timeout", "advertised_ip_addresses", "introducer.furl",
	"helper.furl", "key_generator.furl", "stats_gatherer.furl",
	"no_storage", "readonly_storage", "sizelimit",
	"debug_discard_storage", "run_helper",
}

// ReadConfig reads and validates BASEDIR/tahoe.cfg. The node's kind comes
// from its .tac file (see IdentifyKind). Like Tahoe it refuses a directory
// holding pre-v1.3 configuration files (BASEDIR/nickname and the like).
// Unlike Tahoe, which runs a node without tahoe.cfg on defaults, a missing
// tahoe.cfg is an error matching fs.ErrNotExist.
func ReadConfig(basedir string) (*Config, error) {
	kind, err := IdentifyKind(basedir)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(basedir, "tahoe.cfg")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var old []string
	for _, name := range oldConfigFiles {
		if kind == KindIntroducer && name == "introducer.furl" {
			continue // an introducer's own old fURL file, which it moves
		}
		if _, err := os.Stat(filepath.Join(basedir, name)); err == nil {
			old = append(old, name)
		}
	}
	if len(old) > 0 {
		return nil, &ConfigError{File: path, Msg: fmt.Sprintf(
			"found pre-Tahoe-LAFS-v1.3 configuration file(s) %s in %s; move their settings into tahoe.cfg (see docs/historical/configuration.rst)",
			strings.Join(old, ", "), basedir)}
	}
	return ParseConfigKind(path, data, kind)
}

// IdentifyKind tells a node directory's kind as "tahoe run" does, from the
// name of its .tac file: tahoe-introducer.tac means KindIntroducer,
// tahoe-client.tac KindClient. A directory without one counts as a client.
func IdentifyKind(basedir string) (Kind, error) {
	entries, err := os.ReadDir(basedir)
	if err != nil {
		return "", err
	}
	var tacs []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tac") {
			tacs = append(tacs, e.Name())
		}
	}
	sort.Strings(tacs)
	for _, tac := range tacs {
		switch {
		case strings.Contains(tac, "client"):
			return KindClient, nil
		case strings.Contains(tac, "introducer"):
			return KindIntroducer, nil
		}
	}
	return KindClient, nil
}

// commonSections are the sections and keys every node may have
// (node.py _common_valid_config).
var commonSections = map[string][]string{
	"connections": {"tcp"},
	"node": {"log_gatherer.furl", "nickname", "reveal-ip-address", "tempdir",
		"timeout.disconnect", "timeout.keepalive", "tub.location", "tub.port",
		"web.port", "web.static"},
	"i2p": {"enabled", "i2p.configdir", "i2p.executable", "launch", "sam.port",
		"dest", "dest.port", "dest.private_key_file",
		"lafs.sam-options"}, // lafs's own: I2CP options for its SAM sessions
	"tor": {"control.port", "enabled", "launch", "socks.port", "tor.executable",
		"onion", "onion.local_port", "onion.external_port", "onion.private_key_file"},
}

// clientSections are the further sections and keys of client nodes
// (client.py _client_config).
var clientSections = map[string][]string{
	"client": {"helper.furl", "introducer.furl", "key_generator.furl",
		"mutable.format", "peers.preferred", "shares.happy", "shares.needed",
		"shares.total", "shares._max_immutable_segment_size_for_testing",
		"storage.plugins", "force_foolscap", "lafs.key-pool-size"},
	"storage": {"debug_discard", "enabled", "anonymous", "expire.cutoff_date",
		"expire.enabled", "expire.immutable", "expire.mode", "expire.mutable",
		"expire.override_lease_duration", "readonly", "reserved_space",
		"storage_dir", "plugins", "grid_management", "force_foolscap",
		"backend", "s3.endpoint", "s3.region", "s3.bucket", "s3.prefix", "s3.path_style"},
	"sftpd":  {"accounts.file", "enabled", "host_privkey_file", "host_pubkey_file", "port"},
	"helper": {"enabled"},
}

// dynamicSection reports whether a client may have section name with any
// keys at all (client.py _is_valid_section).
func dynamicSection(name string) bool {
	return strings.HasPrefix(name, "storageserver.plugins.") ||
		strings.HasPrefix(name, "storageclient.plugins.") ||
		name == "grid_managers" || name == "grid_manager_certificates"
}

// decoder turns a parsed file into a Config, keeping the first error.
type decoder struct {
	file   string
	kind   Kind
	ini    *iniFile
	values map[string]map[string]string
	err    *ConfigError
}

func (d *decoder) fail(section, key string, line int, format string, args ...any) {
	if d.err == nil {
		d.err = &ConfigError{File: d.file, Section: section, Key: key, Line: line, Msg: fmt.Sprintf(format, args...)}
	}
}

// line is where key is set, or else where its section starts.
func (d *decoder) line(section, key string) int {
	if it, ok := d.ini.lookup(section, key); ok {
		return it.line
	}
	if s := d.ini.byName[section]; s != nil {
		return s.line
	}
	return 0
}

// failKey records an error about a key, at the key's line.
func (d *decoder) failKey(section, key string, format string, args ...any) {
	d.fail(section, key, d.line(section, key), format, args...)
}

func (d *decoder) get(section, key string) (string, bool) {
	v, ok := d.values[section][key]
	return v, ok
}

func (d *decoder) str(section, key, def string) string {
	if v, ok := d.get(section, key); ok {
		return v
	}
	return def
}

func (d *decoder) boolean(section, key string, def bool) bool {
	v, ok := d.get(section, key)
	if !ok {
		return def
	}
	b, err := pyBool(v)
	if err != nil {
		d.failKey(section, key, "%v", err)
	}
	return b
}

// integer reads an int key, which must lie in lo..hi.
func (d *decoder) integer(section, key string, def, lo, hi int64) int64 {
	v, ok := d.get(section, key)
	if !ok {
		return def
	}
	n, err := pyInt(v)
	switch {
	case err != nil:
		d.failKey(section, key, "%v", err)
	case n < lo || n > hi:
		d.failKey(section, key, "%d is out of range %d-%d", n, lo, hi)
	}
	return n
}

// list splits a comma-separated key, dropping empty entries.
func (d *decoder) list(section, key string) []string {
	var out []string
	for _, s := range strings.Split(d.str(section, key, ""), ",") {
		if s = pyStrip(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func decodeConfig(name string, data []byte, kind Kind) (*Config, error) {
	data = []byte(strings.TrimPrefix(string(data), "\ufeff"))
	if !utf8.Valid(data) {
		bad := 0
		for bad < len(data) {
			r, size := utf8.DecodeRune(data[bad:])
			if r == utf8.RuneError && size <= 1 {
				break
			}
			bad += size
		}
		return nil, &ConfigError{File: name, Line: 1 + strings.Count(string(data[:bad]), "\n"), Msg: "not UTF-8 text"}
	}
	f, err := parseINI(string(data))
	if err != nil {
		se := err.(*iniSyntaxError)
		return nil, &ConfigError{File: name, Line: se.line, Msg: se.msg}
	}
	d := &decoder{file: name, kind: kind, ini: f, values: map[string]map[string]string{}}
	d.checkKeys()
	d.interpolateAll()
	if d.err != nil {
		return nil, d.err
	}
	c := &Config{file: name, kind: kind, values: d.values}
	for _, s := range f.sections {
		c.sections = append(c.sections, s.name)
	}
	d.decodeNode(&c.node)
	c.connections = d.decodeConnections(c.node.RevealIPAddress)
	c.tor = d.decodeTor(c.node)
	c.i2p = d.decodeI2P(c.node)
	if kind == KindIntroducer {
		if c.node.TubDisabled {
			d.failKey("node", "tub.port", "an introducer must listen: tub.port may not be disabled")
		}
	} else {
		c.client = d.decodeClient()
		c.storage = d.decodeStorage()
		c.helper = HelperConfig{Enabled: d.boolean("helper", "enabled", false)}
		c.sftpd = d.decodeSFTP()
		c.gridManagers, c.gridCerts = d.decodeGridManagers()
		if c.node.TubDisabled {
			if c.storage.Enabled {
				d.failKey("storage", "enabled", "storage is enabled, but the node does not listen (tub.port = disabled); set [storage] enabled = false")
			}
			if c.helper.Enabled {
				d.failKey("helper", "enabled", "the helper is enabled, but the node does not listen (tub.port = disabled)")
			}
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	return c, nil
}

// checkKeys refuses unknown sections and keys, in file order, as
// configutil.validate_config does.
func (d *decoder) checkKeys() {
	for _, s := range d.ini.sections {
		static, ok := commonSections[s.name]
		if !ok && d.kind == KindClient {
			static, ok = clientSections[s.name]
		}
		dynamic := d.kind == KindClient && dynamicSection(s.name)
		if !ok && !dynamic {
			what := "unknown section"
			if d.kind == KindIntroducer {
				if _, isClient := clientSections[s.name]; isClient || dynamicSection(s.name) {
					what = "section not allowed in an introducer's configuration"
				}
			}
			d.fail(s.name, "", s.line, "%s [%s]", what, s.name)
			return
		}
		for _, it := range d.ini.keys(s.name) {
			if !dynamic && !contains(static, it.key) {
				d.fail(s.name, it.key, it.line, "unknown option %q in section [%s]", it.key, s.name)
				return
			}
		}
	}
}

// interpolateAll reads every key of every section as Tahoe's get_config
// would, so that values are checked once and for all.
func (d *decoder) interpolateAll() {
	for _, s := range d.ini.sections {
		m := map[string]string{}
		d.values[s.name] = m
		for _, it := range d.ini.keys(s.name) {
			v, err := d.ini.interpolate(s.name, it.value)
			if err != nil {
				d.fail(s.name, it.key, it.line, "%v", err)
				return
			}
			if (s.name == "node" || s.name == "client") && strings.HasSuffix(it.key, ".furl") && strings.Contains(v, "#") {
				d.fail(s.name, it.key, it.line, "contains an unescaped '#' character")
				return
			}
			m[it.key] = v
		}
	}
}
