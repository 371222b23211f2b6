package node

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/lafs/lafs"
)

// This file edits tahoe.cfg in place, for "lafs config": one key's line
// changes (or is added at the end of its section, or removed) and every
// other byte of the file stays as written: comments, blank lines, the order
// and spelling of keys, other sections. It finds lines by the rules of
// ini.go (parseINI), which it checks itself against after every edit.

// CfgFile is the text of a tahoe.cfg, to read and edit key by key. It
// checks syntax only; EditConfig validates the result as the node would.
type CfgFile struct {
	name  string
	bom   bool     // the text started with a byte order mark, kept
	lines []string // the text split at "\n" ("\r" stays on its line)
}

// CfgEntry is one key that a tahoe.cfg sets.
type CfgEntry struct {
	Section, Key string
	// Value is what the node reads: with %-references interpolated
	// (Raw where that fails, as in an invalid file).
	Value string
	// Raw is the value as written in the file.
	Raw string
}

// ParseCfgFile reads tahoe.cfg text for editing; name is used in errors.
// A syntax error is a *ConfigError.
func ParseCfgFile(name string, data []byte) (*CfgFile, error) {
	text := string(data)
	f := &CfgFile{name: name}
	if rest, ok := strings.CutPrefix(text, "\ufeff"); ok {
		f.bom, text = true, rest
	}
	if !utf8.ValidString(text) {
		return nil, &ConfigError{File: name, Msg: "not UTF-8 text"}
	}
	f.lines = strings.Split(text, "\n")
	if _, err := f.ini(); err != nil {
		return nil, err
	}
	return f, nil
}

// Bytes returns the file's text.
func (f *CfgFile) Bytes() []byte {
	text := strings.Join(f.lines, "\n")
	if f.bom {
		text = "\ufeff" + text
	}
	return []byte(text)
}

func (f *CfgFile) ini() (*iniFile, error) {
	ini, err := parseINI(strings.Join(f.lines, "\n"))
	if err != nil {
		var se *iniSyntaxError
		if errors.As(err, &se) {
			return nil, &ConfigError{File: f.name, Line: se.line, Msg: se.msg}
		}
		return nil, err
	}
	return ini, nil
}

// Get returns the value of key (matched as the node matches it, in any
// case) in section, as the node reads it: interpolated, and inherited from
// [DEFAULT] when the section does not set it. ok is false if it is not set.
func (f *CfgFile) Get(section, key string) (value string, ok bool, err error) {
	ini, err := f.ini()
	if err != nil {
		return "", false, err
	}
	it, ok := ini.lookup(section, strings.ToLower(key))
	if !ok {
		return "", false, nil
	}
	v, err := ini.interpolate(section, it.value)
	if err != nil {
		return "", true, &ConfigError{File: f.name, Section: section, Key: it.key, Line: it.line, Msg: err.Error()}
	}
	return v, true, nil
}

// Entries lists every key the file sets, section by section in file order,
// each section's keys in file order followed by those it inherits from
// [DEFAULT].
func (f *CfgFile) Entries() ([]CfgEntry, error) {
	ini, err := f.ini()
	if err != nil {
		return nil, err
	}
	var out []CfgEntry
	for _, s := range ini.sections {
		for _, it := range ini.keys(s.name) {
			v, err := ini.interpolate(s.name, it.value)
			if err != nil {
				v = it.value
			}
			out = append(out, CfgEntry{Section: s.name, Key: it.key, Value: v, Raw: it.value})
		}
	}
	return out, nil
}

// cfgKeyLines is where one assignment of a key is.
type cfgKeyLines struct {
	key  string // lower-cased
	line int    // index of the key's line
	cont []int  // indices of its continuation lines
}

// cfgBlock is one "[name]" header and the lines up to the next one.
type cfgBlock struct {
	name   string
	header int // index of the header line
	last   int // index of its last header, key or continuation line
	keys   []cfgKeyLines
}

// indentOf is the leading whitespace of a line, as parseINI measures it.
func indentOf(line string) string {
	for i, r := range line {
		if !pyIsSpace(r) {
			return line[:i]
		}
	}
	return line
}

// blocks finds the sections and keys by parseINI's rules; the text is
// known to parse.
func (f *CfgFile) blocks() []cfgBlock {
	var out []cfgBlock
	opt := false // the last key of the last block takes continuations
	indentLevel := 0
	for i, line := range f.lines {
		clean := pyStrip(line)
		if clean == "" || strings.HasPrefix(clean, "#") || strings.HasPrefix(clean, ";") {
			continue
		}
		indent := utf8.RuneCountInString(indentOf(line))
		if len(out) > 0 && opt && indent > indentLevel {
			b := &out[len(out)-1]
			k := &b.keys[len(b.keys)-1]
			k.cont = append(k.cont, i)
			b.last = i
			continue
		}
		indentLevel = indent
		if name, ok := sectionHeader(clean); ok {
			out = append(out, cfgBlock{name: name, header: i, last: i})
			opt = false
			continue
		}
		if len(out) == 0 {
			continue // not reached: parseINI refuses it
		}
		d := strings.IndexAny(clean, "=:")
		if d < 0 {
			continue // not reached
		}
		b := &out[len(out)-1]
		b.keys = append(b.keys, cfgKeyLines{key: strings.ToLower(pyRStrip(clean[:d])), line: i})
		b.last = i
		opt = true
	}
	return out
}

// checkCfgName refuses a section or key name that tahoe.cfg cannot hold
// as written.
func checkCfgName(section, key string) error {
	switch {
	case section == "" || strings.ContainsAny(section, "\n\r") || pyStrip(section) != section:
		return fmt.Errorf("section name %q cannot be written in tahoe.cfg", section)
	case section == defaultSection:
		return errors.New("the [DEFAULT] section is not edited here")
	case key == "" || strings.ContainsAny(key, "=:\n\r") || pyStrip(key) != key ||
		strings.HasPrefix(key, "[") || strings.HasPrefix(key, "#") || strings.HasPrefix(key, ";"):
		return fmt.Errorf("key name %q cannot be written in tahoe.cfg", key)
	}
	return nil
}

// Set makes key in section read as value, escaping "%" as tahoe.cfg needs.
// It replaces the value on the key's line (the last one, if the key is
// repeated), keeping its spelling, separator and spacing, and drops its
// continuation lines; a new key goes after the last key of the section's
// last block, and a new section at the end of the file. Keys are matched in
// any case, as the node reads them, and written in lower case. A value
// cannot span lines or begin or end with white space, which the node would
// strip.
func (f *CfgFile) Set(section, key, value string) error {
	key = strings.ToLower(key)
	if err := checkCfgName(section, key); err != nil {
		return err
	}
	if strings.ContainsAny(value, "\n\r") {
		return errors.New("a value must be one line")
	}
	if pyStrip(value) != value {
		return errors.New("a value cannot begin or end with white space (the node would strip it)")
	}
	escaped := strings.ReplaceAll(value, "%", "%%")
	before, err := f.ini()
	if err != nil {
		return err
	}
	old := slices.Clone(f.lines)
	f.set(section, key, escaped)
	if err := f.verify(before, section, key, escaped, true); err != nil {
		f.lines = old
		return err
	}
	return nil
}

func (f *CfgFile) set(section, key, escaped string) {
	blocks := f.blocks()
	var last *cfgBlock
	var at *cfgKeyLines
	for bi := range blocks {
		b := &blocks[bi]
		if b.name != section {
			continue
		}
		last = b
		for ki := range b.keys {
			if b.keys[ki].key == key {
				at = &b.keys[ki]
			}
		}
	}
	switch {
	case at != nil:
		f.lines[at.line] = replaceValue(f.lines[at.line], escaped)
		f.deleteLines(at.cont)
	case last != nil:
		// After the section's last key, indented as it is, so that the
		// lines after it keep their meaning.
		after := last.last
		indent := indentOf(f.lines[last.header])
		if n := len(last.keys); n > 0 {
			indent = indentOf(f.lines[last.keys[n-1].line])
		} else if next := f.nextContent(after); next >= 0 {
			indent = indentOf(f.lines[next]) // a key line after a bare header starts no continuation
		}
		line := indent + keyLine(key, escaped) + f.lineEnd()
		f.lines = slices.Insert(f.lines, after+1, line)
	default:
		f.appendSection(section, key, escaped)
	}
}

// nextContent is the index of the first header or key line after i, or -1.
func (f *CfgFile) nextContent(i int) int {
	for j := i + 1; j < len(f.lines); j++ {
		clean := pyStrip(f.lines[j])
		if clean != "" && !strings.HasPrefix(clean, "#") && !strings.HasPrefix(clean, ";") {
			return j
		}
	}
	return -1
}

func (f *CfgFile) appendSection(section, key, escaped string) {
	end := f.lineEnd()
	lines := f.lines
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1] // the text ended with "\n"
	}
	if len(lines) > 0 && pyStrip(lines[len(lines)-1]) != "" {
		lines = append(lines, end) // a blank line before the new section
	}
	f.lines = append(lines, "["+section+"]"+end, keyLine(key, escaped)+end, "")
}

// keyLine is a new "key = value" line.
func keyLine(key, escaped string) string {
	if escaped == "" {
		return key + " ="
	}
	return key + " = " + escaped
}

// lineEnd is what new lines end with before their "\n": "\r" in a file
// whose first line ends so (CRLF line ends).
func (f *CfgFile) lineEnd() string {
	if len(f.lines) > 1 && strings.HasSuffix(f.lines[0], "\r") {
		return "\r"
	}
	return ""
}

// replaceValue puts escaped in place of the value on a key's line.
func replaceValue(line, escaped string) string {
	end := ""
	if strings.HasSuffix(line, "\r") {
		end = "\r"
	}
	sep := strings.IndexAny(line, "=:")
	prefix, rest := line[:sep+1], line[sep+1:]
	if v := strings.TrimLeftFunc(rest, pyIsSpace); pyStrip(v) != "" {
		prefix += rest[:len(rest)-len(v)] // the spacing after the separator
	} else if escaped != "" {
		prefix += " "
	}
	return prefix + escaped + end
}

func (f *CfgFile) deleteLines(idx []int) {
	for i := len(idx) - 1; i >= 0; i-- {
		f.lines = slices.Delete(f.lines, idx[i], idx[i]+1)
	}
}

// Unset removes key from section (every assignment of it there) with its
// continuation lines, and reports whether there was one. A value the
// section inherits from [DEFAULT] stays.
func (f *CfgFile) Unset(section, key string) (bool, error) {
	key = strings.ToLower(key)
	before, err := f.ini()
	if err != nil {
		return false, err
	}
	var del []int
	for _, b := range f.blocks() {
		if b.name != section {
			continue
		}
		for _, k := range b.keys {
			if k.key == key {
				del = append(del, k.line)
				del = append(del, k.cont...)
			}
		}
	}
	if len(del) == 0 {
		return false, nil
	}
	slices.Sort(del)
	old := slices.Clone(f.lines)
	f.deleteLines(del)
	if err := f.verify(before, section, key, "", false); err != nil {
		f.lines = old
		return false, err
	}
	return true, nil
}

// verify checks that an edit did only what it was to do: section's key
// holds raw (or, if !set, is gone from the section), and every other key
// of every section holds what it did.
func (f *CfgFile) verify(before *iniFile, section, key, raw string, set bool) error {
	after, err := f.ini()
	if err != nil {
		return fmt.Errorf("internal error: the edited file does not parse: %w", err)
	}
	bad := func(what string) error {
		return fmt.Errorf("editing [%s] %s here would also change %s; edit tahoe.cfg by hand", section, key, what)
	}
	snapshot := func(ini *iniFile) map[string]string {
		m := map[string]string{}
		for _, s := range ini.sections {
			for _, it := range ini.keys(s.name) {
				if s.name != section || it.key != key {
					m[s.name+"\x00"+it.key] = it.value
				}
			}
		}
		return m
	}
	b, a := snapshot(before), snapshot(after)
	delete(a, section+"\x00"+key)
	for k, v := range b {
		if a[k] != v {
			return bad(strings.Replace(k, "\x00", " ", 1))
		}
	}
	if len(a) != len(b) {
		return bad("other keys")
	}
	var it *iniItem
	if s := after.byName[section]; s != nil {
		it = s.index[key]
	}
	switch {
	case set && (it == nil || it.value != raw):
		return bad("the key's value")
	case !set && it != nil:
		return bad("nothing")
	}
	return nil
}

// EditConfig applies edit to BASEDIR/tahoe.cfg and, if the result parses
// and validates as ReadConfig would for the node's kind, replaces the file
// at once (a new file renamed over it, with the old one's permissions;
// through a symbolic link, its target). Otherwise nothing is written and
// the error, wrapping the *ConfigError that names the key, says why. It
// reports whether the file changed.
func EditConfig(basedir string, edit func(*CfgFile) error) (bool, error) {
	kind, err := IdentifyKind(basedir)
	if err != nil {
		return false, err
	}
	path, err := filepath.EvalSymlinks(filepath.Join(basedir, "tahoe.cfg"))
	if err != nil {
		return false, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return false, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	f, err := ParseCfgFile(path, data)
	if err != nil {
		return false, fmt.Errorf("tahoe.cfg not changed: %w", err)
	}
	if err := edit(f); err != nil {
		return false, err
	}
	out := f.Bytes()
	if string(out) == string(data) {
		return false, nil
	}
	if _, err := ParseConfigKind(path, out, kind); err != nil {
		note := ""
		if _, oldErr := ParseConfigKind(path, data, kind); oldErr != nil {
			note = " (it is not valid now either)"
		}
		return false, fmt.Errorf("tahoe.cfg not changed, as the node would refuse it%s: %w", note, err)
	}
	if err := writeFileAtomic(path, out, st.Mode().Perm()); err != nil {
		return false, fmt.Errorf("writing %s: %w", path, err)
	}
	return true, nil
}

// ConfigKey describes a key tahoe.cfg may hold.
type ConfigKey struct {
	Section, Key string
	// Default is what the node reads when the key is not set, as it
	// would be written; "" when that is nothing or depends on other keys.
	Default string
	// Description is one line about what the key does.
	Description string
}

// configKeyDocs describes each key of commonSections and clientSections
// (a test keeps them in step): default and description.
var configKeyDocs = map[string][2]string{
	"node.nickname":           {"<unspecified>", "the node's name, shown to other nodes and on its web pages"},
	"node.web.port":           {"", "where the web API listens, e.g. tcp:3456:interface=127.0.0.1 (unset or empty: no web API)"},
	"node.web.static":         {"public_html", "directory served under /static (relative to the node directory)"},
	"node.tub.port":           {"", "where the node listens for other nodes: endpoints, comma-separated, or disabled (unset: a port picked once and kept in client.port)"},
	"node.tub.location":       {"AUTO", "how other nodes reach this one: connection hints, comma-separated (AUTO: the detected addresses), or disabled"},
	"node.tempdir":            {"tmp", "directory for uploads in progress (relative to the node directory)"},
	"node.log_gatherer.furl":  {"", "a Foolscap log gatherer to send logs to"},
	"node.timeout.keepalive":  {"240", "seconds of silence after which a connection is probed"},
	"node.timeout.disconnect": {"", "seconds of silence after which a connection is dropped (unset: never)"},
	"node.reveal-ip-address":  {"true", "false refuses every setting that would reveal the node's IP address"},

	"connections.tcp": {"tcp", "how tcp hints are reached: tcp (directly), tor, i2p or disabled"},

	"tor.enabled":                {"true", "false: never use Tor, even for tor hints"},
	"tor.socks.port":             {"", "the SOCKS endpoint of a running Tor, e.g. tcp:127.0.0.1:9050"},
	"tor.control.port":           {"", "the control endpoint of a running Tor"},
	"tor.launch":                 {"false", "start a Tor of the node's own"},
	"tor.tor.executable":         {"", "the tor program to start (with launch = true)"},
	"tor.onion":                  {"false", "run an onion service for this node"},
	"tor.onion.local_port":       {"", "local port the onion service forwards to"},
	"tor.onion.external_port":    {"", "port the onion service offers"},
	"tor.onion.private_key_file": {"", "file holding the onion service's private key"},

	"i2p.enabled":               {"true", "false: never use I2P, even for i2p hints"},
	"i2p.sam.port":              {"", "the SAM endpoint of a running I2P router"},
	"i2p.launch":                {"false", "start an I2P router of the node's own (not supported, nor by Tahoe)"},
	"i2p.i2p.executable":        {"", "the i2p program to start (with launch = true)"},
	"i2p.i2p.configdir":         {"", "configuration directory of the I2P router"},
	"i2p.dest":                  {"false", "run an I2P destination for this node"},
	"i2p.dest.port":             {"", "port of the I2P destination"},
	"i2p.dest.private_key_file": {"", "file holding the I2P destination's private key"},
	"i2p.lafs.sam-options":      {"", "lafs only: I2CP options for the node's SAM sessions, e.g. inbound.length=2 outbound.length=2"},

	"client.introducer.furl":                                {"", "an introducer to use (older form of private/introducers.yaml)"},
	"client.helper.furl":                                    {"", "an upload helper to use"},
	"client.shares.needed":                                  {"3", "shares needed to read a new file (k)"},
	"client.shares.happy":                                   {"7", "servers a new file must reach for an upload to succeed"},
	"client.shares.total":                                   {"10", "shares made of a new file (N)"},
	"client.mutable.format":                                 {"sdmf", "format of new mutable files: sdmf or mdmf"},
	"client.peers.preferred":                                {"", "node IDs of servers to use first, comma-separated"},
	"client.storage.plugins":                                {"", "storage client plugins to enable, comma-separated"},
	"client.force_foolscap":                                 {"false", "talk to storage servers over Foolscap only"},
	"client.key_generator.furl":                             {"", "ignored (as by Tahoe)"},
	"client.lafs.key-pool-size":                             {"", "RSA keys made ahead for new mutable files and directories (unset: 16, or 2 on a storage node)"},
	"client.shares._max_immutable_segment_size_for_testing": {strconv.Itoa(lafs.DefaultSegmentSize), "largest segment of new immutable files, in bytes (for tests)"},

	"storage.enabled":                        {"true", "run a storage server"},
	"storage.anonymous":                      {"true", "offer the storage server to anyone who has its fURL"},
	"storage.readonly":                       {"false", "accept no new shares"},
	"storage.reserved_space":                 {"0", "free disk space never to use, e.g. 10G or 5GiB"},
	"storage.storage_dir":                    {"storage", "directory of the shares (relative to the node directory)"},
	"storage.debug_discard":                  {"false", "throw share data away (for tests)"},
	"storage.expire.enabled":                 {"false", "expire leases and delete shares left with none"},
	"storage.expire.mode":                    {"age", "when leases expire: age or cutoff-date"},
	"storage.expire.override_lease_duration": {"", "lease duration to use instead of each lease's own, e.g. 60 days (age mode)"},
	"storage.expire.cutoff_date":             {"", "leases last renewed before this date (YYYY-MM-DD) expire (cutoff-date mode)"},
	"storage.expire.immutable":               {"true", "expire leases on immutable shares"},
	"storage.expire.mutable":                 {"true", "expire leases on mutable shares"},
	"storage.plugins":                        {"", "storage server plugins to enable, comma-separated"},
	"storage.grid_management":                {"false", "announce the certificates of [grid_manager_certificates]"},
	"storage.force_foolscap":                 {"false", "serve storage over Foolscap only, not HTTPS"},
	"storage.backend":                        {"disk", "where the shares live: disk (storage_dir) or s3 (a bucket; credentials in private/)"},
	"storage.s3.endpoint":                    {"", "the S3-compatible store's URL, e.g. https://s3.example.com (backend = s3)"},
	"storage.s3.region":                      {"us-east-1", "the bucket's region (backend = s3)"},
	"storage.s3.bucket":                      {"", "the bucket holding the shares (backend = s3)"},
	"storage.s3.prefix":                      {"", "put before every key in the bucket, e.g. node1/ (backend = s3)"},
	"storage.s3.path_style":                  {"false", "name the bucket in the path, not the host name (MinIO, Garage, Ceph) (backend = s3)"},

	"helper.enabled": {"false", "run an upload helper for other clients"},

	"sftpd.enabled":           {"false", "run an SFTP server"},
	"sftpd.port":              {"tcp:8022", "where the SFTP server listens"},
	"sftpd.host_pubkey_file":  {"", "the SFTP server's SSH public key file"},
	"sftpd.host_privkey_file": {"", "the SFTP server's SSH private key file"},
	"sftpd.accounts.file":     {"", "file of SFTP accounts"},
}

// configSectionOrder is the order KnownConfigKeys lists sections in.
var configSectionOrder = []string{"node", "client", "storage", "helper", "connections", "tor", "i2p", "sftpd"}

// ConfigPatterns describes the sections whose keys are names the user
// chooses, which a client's tahoe.cfg may hold with any keys; NAME stands
// for a name.
var ConfigPatterns = []ConfigKey{
	{Section: "grid_managers", Key: "NAME", Description: "a Grid Manager whose certificates this client trusts: its public key (pub-v0-...)"},
	{Section: "grid_manager_certificates", Key: "NAME", Description: "a file holding a Grid Manager certificate of this storage server"},
	{Section: "storageserver.plugins.NAME", Key: "KEY", Description: "a setting of storage server plugin NAME"},
	{Section: "storageclient.plugins.NAME", Key: "KEY", Description: "a setting of storage client plugin NAME"},
}

// KnownConfigKeys returns the keys of fixed name that the tahoe.cfg of a
// node of the given kind may hold, section by section (each in name
// order), with their defaults and descriptions. The sections of ConfigPatterns (for clients)
// hold keys of any name besides.
func KnownConfigKeys(kind Kind) []ConfigKey {
	var out []ConfigKey
	for _, sec := range configSectionOrder {
		keys, ok := commonSections[sec]
		if !ok && kind != KindIntroducer {
			keys = clientSections[sec]
		}
		for _, k := range slices.Sorted(slices.Values(keys)) {
			doc := configKeyDocs[sec+"."+k]
			out = append(out, ConfigKey{Section: sec, Key: k, Default: doc[0], Description: doc[1]})
		}
	}
	return out
}

// SplitConfigName splits "SECTION.KEY" as "lafs config" takes it: at the
// first dot, except that the section of a plugin's settings is
// "storageserver.plugins.NAME" or "storageclient.plugins.NAME". The key is
// lower-cased, as the node reads keys.
func SplitConfigName(name string) (section, key string, err error) {
	rest, prefix := name, ""
	for _, p := range []string{"storageserver.plugins.", "storageclient.plugins."} {
		if r, ok := strings.CutPrefix(name, p); ok {
			rest, prefix = r, p
		}
	}
	section, key, ok := strings.Cut(rest, ".")
	if !ok || section == "" || key == "" {
		return "", "", fmt.Errorf("%q is not SECTION.KEY (such as node.nickname)", name)
	}
	return prefix + section, strings.ToLower(key), nil
}

// CheckConfigKey reports whether the tahoe.cfg of a node of the given kind
// may hold key in section; if not, the error names the nearest known key.
func CheckConfigKey(kind Kind, section, key string) error {
	key = strings.ToLower(key)
	_, common := commonSections[section]
	_, forClient := clientSections[section]
	switch {
	case kind == KindIntroducer && (forClient || dynamicSection(section)):
		return fmt.Errorf("an introducer's tahoe.cfg has no section [%s]", section)
	case dynamicSection(section):
		return checkCfgName(section, key)
	case !common && !forClient:
		return fmt.Errorf("unknown section [%s] in %s.%s%s", section, section, key, suggestKey(kind, section, key))
	}
	keys := commonSections[section]
	if !common {
		keys = clientSections[section]
	}
	if !contains(keys, key) {
		return fmt.Errorf("unknown key %s in [%s]%s", key, section, suggestKey(kind, section, key))
	}
	return nil
}

// suggestKey proposes the known key nearest to section.key, if one is near.
func suggestKey(kind Kind, section, key string) string {
	want := section + "." + key
	best, bestDist := "", len(want)/3+2
	for _, k := range KnownConfigKeys(kind) {
		name := k.Section + "." + k.Key
		if d := EditDistance(strings.ToLower(want), name); d < bestDist {
			best, bestDist = name, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}

// EditDistance is the Levenshtein distance between a and b, in bytes:
// what the "did you mean" suggestions of the config keys (here) and of
// the CLI (mistyped cap kinds) go by.
func EditDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
