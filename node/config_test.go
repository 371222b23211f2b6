package node

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lafs/lafs"
)

// docsExample is the example tahoe.cfg of docs/configuration.rst.
const docsExample = `[node]
nickname = Bob's Tahoe-LAFS Node
tub.port = tcp:34912
tub.location = tcp:123.45.67.89:8098,tcp:44.55.66.77:8098
web.port = tcp:3456
log_gatherer.furl = pb://soklj4y7eok5c3xkmjeqpw@192.168.69.247:44801/eqpwqtzm
timeout.keepalive = 240
timeout.disconnect = 1800

[client]
helper.furl = pb://ggti5ssoklj4y7eok5c3xkmj@tcp:helper.tahoe.example:7054/kk8lhr

[storage]
enabled = True
readonly = True
reserved_space = 10000000000

[helper]
enabled = True
`

func mustParse(t *testing.T, text string) *Config {
	t.Helper()
	c, err := ParseConfig("tahoe.cfg", []byte(text))
	if err != nil {
		t.Fatalf("ParseConfig: %v\n%s", err, text)
	}
	return c
}

func TestDocsExample(t *testing.T) {
	c := mustParse(t, docsExample)
	n := c.Node()
	if n.Nickname != "Bob's Tahoe-LAFS Node" || n.WebPort != "tcp:3456" || n.Web.Port != 3456 || n.Web.Interface != "" {
		t.Errorf("node: %+v", n)
	}
	if n.TubPort != "tcp:34912" || len(n.TubListeners) != 1 || n.TubListeners[0].Port != 34912 {
		t.Errorf("tub.port: %+v", n)
	}
	if !reflect.DeepEqual(n.Location, []string{"tcp:123.45.67.89:8098", "tcp:44.55.66.77:8098"}) {
		t.Errorf("location: %q", n.Location)
	}
	if n.KeepaliveTimeout != 240*time.Second || n.DisconnectTimeout != 30*time.Minute {
		t.Errorf("timeouts: %v %v", n.KeepaliveTimeout, n.DisconnectTimeout)
	}
	if n.LogGathererFURL != "pb://soklj4y7eok5c3xkmjeqpw@192.168.69.247:44801/eqpwqtzm" {
		t.Errorf("log gatherer: %q", n.LogGathererFURL)
	}
	if cl := c.Client(); cl.HelperFURL != "pb://ggti5ssoklj4y7eok5c3xkmj@tcp:helper.tahoe.example:7054/kk8lhr" {
		t.Errorf("helper.furl: %q", cl.HelperFURL)
	}
	if s := c.Storage(); !s.Enabled || !s.ReadOnly || s.ReservedSpace != 10000000000 {
		t.Errorf("storage: %+v", s)
	}
	if !c.Helper().Enabled {
		t.Error("helper not enabled")
	}
}

func TestDefaults(t *testing.T) {
	c := mustParse(t, "")
	n := c.Node()
	want := NodeConfig{
		Nickname: "<unspecified>", WebStatic: "public_html", TempDir: "tmp",
		Location: []string{"AUTO"}, KeepaliveTimeout: 240 * time.Second, RevealIPAddress: true,
	}
	if !reflect.DeepEqual(n, want) {
		t.Errorf("node defaults:\n got %+v\nwant %+v", n, want)
	}
	cl := c.Client()
	if cl.Params() != (lafs.Params{K: 3, Happy: 7, N: 10, SegmentSize: lafs.DefaultSegmentSize}) || cl.MutableFormat != SDMF {
		t.Errorf("client defaults: %+v", cl)
	}
	s := c.Storage()
	if !s.Enabled || !s.Anonymous || s.ReadOnly || s.ReservedSpace != 0 || s.StorageDir != "storage" ||
		s.ExpireEnabled || s.ExpireMode != ExpireAge || !s.ExpireImmutable || !s.ExpireMutable ||
		s.ExpireOverrideLeaseDuration != nil || !s.ExpireCutoffDate.IsZero() {
		t.Errorf("storage defaults: %+v", s)
	}
	if c.Connections().TCP != "tcp" || !c.Tor().Enabled || !c.I2P().Enabled || c.Helper().Enabled {
		t.Errorf("other defaults: %+v %+v %+v %+v", c.Connections(), c.Tor(), c.I2P(), c.Helper())
	}
	if sf := c.SFTPD(); sf.Enabled || sf.Port != "tcp:8022" || sf.Listen.Port != 8022 {
		t.Errorf("sftpd defaults: %+v", sf)
	}
	if c.Kind() != KindClient || c.File() != "tahoe.cfg" {
		t.Errorf("kind %q file %q", c.Kind(), c.File())
	}
}

// TestEverySection sets every key that Tahoe knows.
func TestEverySection(t *testing.T) {
	c := mustParse(t, `
[node]
nickname = n1
web.port = 3456
web.static = www
tub.port = tcp:8098,listen:tor
tub.location = tcp:example.org:8098,AUTO,tor:abc.onion:29212,i2p:xyz.b32.i2p,example.net:7
log_gatherer.furl =
timeout.keepalive = 60
timeout.disconnect = 0
tempdir = /var/tmp
reveal-IP-address = yes

[connections]
tcp = TOR

[tor]
enabled = true
socks.port = tcp:127.0.0.1:9050
control.port = tcp:127.0.0.1:9051
launch = false
tor.executable = /usr/bin/tor
onion = true
onion.local_port = 8098
onion.external_port = 29212
onion.private_key_file = private/tor_onion.privkey

[i2p]
enabled = true
sam.port = tcp:127.0.0.1:7656
launch = false
i2p.executable = /usr/bin/i2p
i2p.configdir = /etc/i2p
dest = true
dest.port = 3457
dest.private_key_file = private/i2p.privkey

[client]
introducer.furl = pb://aaaa@tcp:intro.example:1/swiss
helper.furl = None
shares.needed = 2
shares.happy = 1
shares.total = 4
shares._max_immutable_segment_size_for_testing = 131072
mutable.format = MDMF
peers.preferred = v0-aaa, v0-bbb,,
storage.plugins = acme-foo-v1
force_foolscap = on
key_generator.furl = pb://kg@tcp:kg:1/x

[storage]
enabled = true
anonymous = false
readonly = 0
reserved_space = 5GiB
storage_dir = /srv/shares
debug_discard = false
expire.enabled = true
expire.mode = cutoff-date
expire.override_lease_duration = 60 days
expire.cutoff_date = 2009-03-18
expire.immutable = false
expire.mutable = true
plugins = acme-bar-v1
grid_management = true
force_foolscap = false

[helper]
enabled = true

[sftpd]
enabled = true
port = tcp:8022:interface=127.0.0.1
host_pubkey_file = private/ssh_host_rsa_key.pub
host_privkey_file = private/ssh_host_rsa_key
accounts.file = private/accounts

[grid_managers]
example_grid = pub-v0-vqimc4s5eflwajttsofisp5st566dbq36xnpp4siz57ufdavpvlq

[grid_manager_certificates]
default = gridmanager.cert

[storageserver.plugins.acme-bar-v1]
Some.Key = 100%%

[storageclient.plugins.acme-foo-v1]
x = 1
`)
	n := c.Node()
	if n.Web.Raw != "tcp:3456" || n.Web.Port != 3456 || n.WebPort != "3456" || n.WebStatic != "www" || n.TempDir != "/var/tmp" {
		t.Errorf("web: %+v", n)
	}
	if len(n.TubListeners) != 2 || n.TubListeners[1].Type != "listen:tor" || len(n.Location) != 5 {
		t.Errorf("tub: %+v", n)
	}
	if n.KeepaliveTimeout != time.Minute || n.DisconnectTimeout != 0 {
		t.Errorf("timeouts: %+v", n)
	}
	if c.Connections().TCP != "tor" {
		t.Errorf("connections: %+v", c.Connections())
	}
	wantTor := TorConfig{Enabled: true, SocksPort: "tcp:127.0.0.1:9050", ControlPort: "tcp:127.0.0.1:9051",
		Executable: "/usr/bin/tor", Onion: true, OnionLocalPort: 8098, OnionExternalPort: 29212,
		OnionPrivateKeyFile: "private/tor_onion.privkey"}
	if c.Tor() != wantTor {
		t.Errorf("tor: %+v", c.Tor())
	}
	wantI2P := I2PConfig{Enabled: true, SAMPort: "tcp:127.0.0.1:7656", Executable: "/usr/bin/i2p",
		ConfigDir: "/etc/i2p", Dest: true, DestPort: "3457", DestPrivateKeyFile: "private/i2p.privkey", SAMOptions: []string{}}
	if !reflect.DeepEqual(c.I2P(), wantI2P) {
		t.Errorf("i2p: %+v", c.I2P())
	}
	cl := c.Client()
	if cl.IntroducerFURL != "pb://aaaa@tcp:intro.example:1/swiss" || cl.HelperFURL != "" ||
		cl.Params() != (lafs.Params{K: 2, Happy: 1, N: 4, SegmentSize: 131072}) || cl.MutableFormat != MDMF ||
		!reflect.DeepEqual(cl.PreferredPeers, []string{"v0-aaa", "v0-bbb"}) ||
		!reflect.DeepEqual(cl.StoragePlugins, []string{"acme-foo-v1"}) || !cl.ForceFoolscap || cl.KeyGeneratorFURL == "" {
		t.Errorf("client: %+v", cl)
	}
	s := c.Storage()
	if s.Anonymous || s.ReservedSpace != 5<<30 || s.StorageDir != "/srv/shares" || !s.ExpireEnabled ||
		s.ExpireMode != ExpireCutoffDate || s.ExpireOverrideLeaseDuration == nil ||
		*s.ExpireOverrideLeaseDuration != 60*24*time.Hour || s.ExpireCutoffDate.Unix() != 1237334400 ||
		s.ExpireImmutable || !s.ExpireMutable || !reflect.DeepEqual(s.Plugins, []string{"acme-bar-v1"}) ||
		!s.GridManagement || s.ForceFoolscap {
		t.Errorf("storage: %+v", s)
	}
	if sf := c.SFTPD(); !sf.Enabled || sf.Listen.Interface != "127.0.0.1" || sf.AccountsFile != "private/accounts" {
		t.Errorf("sftpd: %+v", sf)
	}
	gm := c.GridManagers()
	if len(gm) != 1 || gm[0].Name != "example_grid" || len(gm[0].Key) != 32 {
		t.Errorf("grid managers: %+v", gm)
	}
	if gc := c.GridManagerCertificates(); len(gc) != 1 || gc[0] != (GridManagerCertificate{"default", "gridmanager.cert"}) {
		t.Errorf("grid manager certificates: %+v", gc)
	}
	if p, ok := c.Section("storageserver.plugins.acme-bar-v1"); !ok || !reflect.DeepEqual(p, map[string]string{"some.key": "100%"}) {
		t.Errorf("plugin section: %v %v", p, ok)
	}
	if v, ok := c.Get("storageclient.plugins.acme-foo-v1", "x"); !ok || v != "1" {
		t.Errorf("Get: %q %v", v, ok)
	}
	if _, ok := c.Section("nope"); ok {
		t.Error("Section(nope) found")
	}
	if len(c.Sections()) != 12 {
		t.Errorf("sections: %q", c.Sections())
	}
}

func TestConfigImmutable(t *testing.T) {
	c := mustParse(t, docsExample+"\n[client]\npeers.preferred = a,b\n")
	n := c.Node()
	n.Location[0] = "changed"
	n.TubListeners[0].Port = 1
	cl := c.Client()
	cl.PreferredPeers[0] = "changed"
	if c.Node().Location[0] == "changed" || c.Node().TubListeners[0].Port == 1 || c.Client().PreferredPeers[0] == "changed" {
		t.Error("accessor results share memory with the Config")
	}
}

func TestTubDisabled(t *testing.T) {
	c := mustParse(t, "[node]\ntub.port = disabled\ntub.location = disabled\n[storage]\nenabled = false\n")
	if n := c.Node(); !n.TubDisabled || n.TubListeners != nil || n.Location != nil {
		t.Errorf("%+v", n)
	}
}

// TestBadConfigs checks that each bad config is refused with an error
// naming the right place.
func TestBadConfigs(t *testing.T) {
	cases := []struct {
		name, text   string
		section, key string
		line         int
	}{
		{"unknown section", "[node]\n[nodes]\nx = 1\n", "nodes", "", 2},
		{"unknown key", "[node]\nnickname = a\nnick = b\n", "node", "nick", 3},
		{"unknown key from DEFAULT", "[DEFAULT]\nenabled = true\n[node]\n", "node", "enabled", 2},
		{"ftpd is gone", "[ftpd]\nenabled = false\n", "ftpd", "", 1},
		{"sftpd accounts.url is not accepted", "[sftpd]\naccounts.url = https://x\n", "sftpd", "accounts.url", 2},
		{"syntax", "[node]\nnickname\n", "", "", 2},
		{"no header", "nickname = a\n", "", "", 1},
		{"bad interpolation", "[node]\nnickname = 100% Bob\n", "node", "nickname", 2},
		{"unescaped hash in furl", "[client]\nhelper.furl = pb://a@tcp:h:1/s#v=1\n", "client", "helper.furl", 2},
		{"bad boolean", "[storage]\nenabled = maybe\n", "storage", "enabled", 2},
		{"empty boolean", "[helper]\nenabled =\n", "helper", "enabled", 2},
		{"bad reveal-IP-address", "[node]\nreveal-IP-address = nope\n", "node", "reveal-ip-address", 2},
		{"bad size", "[storage]\nreserved_space = 10 G\n", "storage", "reserved_space", 2},
		{"bad size suffix", "[storage]\nreserved_space = 10X\n", "storage", "reserved_space", 2},
		{"bad size bogus", "[storage]\nreserved_space = bogus\n", "storage", "reserved_space", 2},
		{"bad int", "[client]\nshares.needed = three\n", "client", "shares.needed", 2},
		{"float int", "[client]\nshares.total = 10.0\n", "client", "shares.total", 2},
		{"k zero", "[client]\nshares.needed = 0\n", "client", "shares.needed", 2},
		{"k > N", "[client]\nshares.needed = 11\nshares.total = 10\n", "client", "shares.needed", 2},
		{"happy > N", "[client]\nshares.happy = 11\n", "client", "shares.happy", 2},
		{"N > 256", "[client]\nshares.total = 257\n", "client", "shares.total", 2},
		{"bad segment size", "[client]\nshares._max_immutable_segment_size_for_testing = 0\n", "client", "shares._max_immutable_segment_size_for_testing", 2},
		{"bad mutable format", "[client]\nmutable.format = ldmf\n", "client", "mutable.format", 2},
		{"introducer.furl None", "[client]\nintroducer.furl = None\n", "client", "introducer.furl", 2},
		{"bad keepalive", "[node]\ntimeout.keepalive = soon\n", "node", "timeout.keepalive", 2},
		{"negative disconnect", "[node]\ntimeout.disconnect = -1\n", "node", "timeout.disconnect", 2},
		{"bad web.port", "[node]\nweb.port = tcp:http\n", "node", "web.port", 2},
		{"web.port too big", "[node]\nweb.port = tcp:65536\n", "node", "web.port", 2},
		{"web.port unknown type", "[node]\nweb.port = foo:3456\n", "node", "web.port", 2},
		{"web.port none", "[node]\nweb.port = none\n", "node", "web.port", 2},
		{"web.port bad keyword", "[node]\nweb.port = tcp:3456:iface=127.0.0.1\n", "node", "web.port", 2},
		{"web.port port twice", "[node]\nweb.port = tcp:3456:port=1\n", "node", "web.port", 2},
		{"empty tub.port", "[node]\ntub.port =\n", "node", "tub.port", 2},
		{"empty tub.location", "[node]\ntub.location =\n", "node", "tub.location", 2},
		{"tub.port 0", "[node]\ntub.port = 0\n", "node", "tub.port", 2},
		{"tub.port tcp:0", "[node]\ntub.port = tcp:0\n", "node", "tub.port", 2},
		{"tub.port bad", "[node]\ntub.port = tcp:x\n", "node", "tub.port", 2},
		{"tub.port disabled alone", "[node]\ntub.port = disabled\ntub.location = tcp:h:1\n", "node", "tub.port", 2},
		{"tub.location disabled alone", "[node]\ntub.port = tcp:1\ntub.location = disabled\n", "node", "tub.location", 3},
		{"bad hint", "[node]\ntub.location = tcp:host\n", "node", "tub.location", 2},
		{"hint with space", "[node]\ntub.location = tcp:a:1, tcp:b:2\n", "node", "tub.location", 2},
		{"empty hint", "[node]\ntub.location = tcp:a:1,,tcp:b:2\n", "node", "tub.location", 2},
		{"AUTO with non-TCP port", "[node]\ntub.port = unix:/x\n", "node", "tub.location", 0},
		{"storage without listening", "[node]\ntub.port = disabled\ntub.location = disabled\n", "storage", "enabled", 0},
		{"helper without listening", "[node]\ntub.port = disabled\ntub.location = disabled\n[storage]\nenabled = false\n[helper]\nenabled = true\n", "helper", "enabled", 7},
		{"privacy: AUTO", "[node]\nreveal-IP-address = false\n[connections]\ntcp = tor\n", "node", "tub.location", 0},
		{"privacy: tcp hint", "[node]\nreveal-IP-address = false\ntub.location = tor:x.onion:1,tcp:1.2.3.4:5\n[connections]\ntcp = tor\n", "node", "tub.location", 3},
		{"privacy: legacy hint", "[node]\nreveal-IP-address = false\ntub.location = example.org:5\n[connections]\ntcp = tor\n", "node", "tub.location", 3},
		{"privacy: tcp = tcp", "[node]\nreveal-IP-address = false\ntub.port = disabled\ntub.location = disabled\n[storage]\nenabled = false\n", "connections", "tcp", 0},
		{"bad connections", "[connections]\ntcp = udp\n", "connections", "tcp", 2},
		{"tcp = tor with tor disabled", "[connections]\ntcp = tor\n[tor]\nenabled = false\n", "connections", "tcp", 2},
		{"onion needs control port", "[tor]\nonion = true\nonion.local_port = 1\nonion.external_port = 2\nonion.private_key_file = k\n", "tor", "onion", 2},
		{"onion needs local port", "[tor]\nonion = true\nlaunch = true\n", "tor", "onion", 2},
		{"bad onion port", "[tor]\nonion.local_port = x\n", "tor", "onion.local_port", 2},
		{"listen:tor needs onion.local_port", "[node]\ntub.port = listen:tor\ntub.location = tor:x.onion:1\n", "node", "tub.port", 2},
		{"listen:i2p needs sam.port", "[node]\ntub.port = listen:i2p\ntub.location = i2p:x\n[i2p]\ndest.port = 1\ndest.private_key_file = k\n", "node", "tub.port", 2},
		{"i2p sam.port and launch", "[i2p]\nsam.port = tcp:h:1\nlaunch = true\n", "i2p", "launch", 3},
		{"i2p dest needs a way", "[i2p]\ndest = true\ndest.port = 1\ndest.private_key_file = k\n", "i2p", "dest", 2},
		{"expire.mode missing", "[storage]\nexpire.enabled = true\n", "storage", "expire.enabled", 2},
		{"bad expire.mode", "[storage]\nexpire.mode = size\n", "storage", "expire.mode", 2},
		{"cutoff_date missing", "[storage]\nexpire.mode = cutoff-date\n", "storage", "expire.mode", 2},
		{"bad cutoff_date", "[storage]\nexpire.cutoff_date = yesterday\n", "storage", "expire.cutoff_date", 2},
		{"bad override duration", "[storage]\nexpire.override_lease_duration = 5 hours\n", "storage", "expire.override_lease_duration", 2},
		{"sftpd without keys", "[sftpd]\nenabled = true\naccounts.file = a\n", "sftpd", "enabled", 2},
		{"sftpd without accounts", "[sftpd]\nenabled = true\nhost_pubkey_file = a\nhost_privkey_file = b\n", "sftpd", "enabled", 2},
		{"sftpd bad port", "[sftpd]\nport = 8022\n", "sftpd", "port", 2},
		{"bad grid manager key", "[grid_managers]\ng = pub-v0-xyz\n", "grid_managers", "g", 2},
	}
	for _, c := range cases {
		_, err := ParseConfig("tahoe.cfg", []byte(c.text))
		var ce *ConfigError
		if !errors.As(err, &ce) {
			t.Errorf("%s: got %v, want a *ConfigError", c.name, err)
			continue
		}
		if !errors.Is(err, ErrInvalidConfig) || ce.File != "tahoe.cfg" || ce.Section != c.section || ce.Key != c.key || (c.line != 0 && ce.Line != c.line) {
			t.Errorf("%s: got %#v, want [%s] %s line %d", c.name, ce, c.section, c.key, c.line)
		}
		if !strings.HasPrefix(ce.Error(), "tahoe.cfg") {
			t.Errorf("%s: message %q", c.name, ce.Error())
		}
	}
}

func TestGoodOddities(t *testing.T) {
	cases := []struct{ name, text string }{
		{"bare tub.port number", "[node]\ntub.port = 8098\n"},
		{"tub.port keywords", "[node]\ntub.port = tcp:port=8098:interface=127.0.0.1\ntub.location = tcp:127.0.0.1:8098\n"},
		{"tub.port list", "[node]\ntub.port = tcp6:interface=2600\\:3c01\\:\\:1:3456,tcp:interface=8.8.8.8:3456\ntub.location = tcp:[2600:3c01::1]:3456\n"},
		{"unreachable location", "[node]\ntub.port = tcp:8098\ntub.location = tcp:unreachable.example.org:0\n"},
		{"web.port ssl", "[node]\nweb.port = ssl:3456:privateKey=mykey.pem:certKey=cert.pem\n"},
		{"web.port unix", "[node]\nweb.port = unix:/tmp/tahoe.sock\n"},
		{"web.port tcp:0", "[node]\nweb.port = tcp:0:interface=127.0.0.1\n"},
		{"happy below k", "[client]\nshares.needed = 5\nshares.happy = 2\n"},
		{"helper.furl empty", "[client]\nhelper.furl =\n"},
		{"hash outside furls", "[node]\nnickname = #1 node\n"},
		{"colon delimiter", "[node]\nnickname: bob\n"},
		{"BOM", "\ufeff[node]\nnickname = bob\n"},
		{"privacy respected", "[node]\nreveal-IP-address = false\ntub.port = tcp:1234:interface=127.0.0.1\ntub.location = tor:abc.onion:1234\n[connections]\ntcp = tor\n"},
		{"unknown hint types pass", "[node]\ntub.location = tcp:a:1,foo:bar\n"},
		{"plugin section any keys", "[storageclient.plugins.x]\nanything = goes\n"},
		{"empty plugin name", "[storageserver.plugins.]\na = b\n"},
		{"cutoff date ignored in age mode is still parsed", "[storage]\nexpire.cutoff_date = 2020-01-01\n"},
		{"mutable.format case", "[client]\nmutable.format = SDMF\n"},
	}
	for _, c := range cases {
		if _, err := ParseConfig("tahoe.cfg", []byte(c.text)); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

func TestIntroducerConfig(t *testing.T) {
	good := "[node]\nnickname = intro\ntub.port = tcp:5000\ntub.location = tcp:example.org:5000\n[connections]\ntcp = tcp\n"
	c, err := ParseConfigKind("tahoe.cfg", []byte(good), KindIntroducer)
	if err != nil {
		t.Fatal(err)
	}
	if c.Kind() != KindIntroducer || c.Storage().Enabled {
		t.Errorf("kind %q storage %+v", c.Kind(), c.Storage())
	}
	for _, bad := range []string{
		good + "[client]\nshares.needed = 3\n",
		good + "[storage]\nenabled = false\n",
		good + "[grid_managers]\n",
		"[node]\ntub.port = disabled\ntub.location = disabled\n",
	} {
		if _, err := ParseConfigKind("tahoe.cfg", []byte(bad), KindIntroducer); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("introducer config accepted: %v\n%s", err, bad)
		}
	}
	if _, err := ParseConfigKind("x", nil, "server"); err == nil {
		t.Error("unknown kind accepted")
	}
}

func TestNotUTF8(t *testing.T) {
	_, err := ParseConfig("tahoe.cfg", []byte("[node]\nnickname = \xff\n"))
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Line != 2 {
		t.Errorf("got %v", err)
	}
}

func TestReadConfig(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadConfig(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing tahoe.cfg: %v", err)
	}
	cfg := "[node]\nnickname = x\ntub.port = tcp:5000\ntub.location = tcp:h:5000\n[client]\nshares.needed = 3\n"
	if err := os.WriteFile(filepath.Join(dir, "tahoe.cfg"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := ReadConfig(dir)
	if err != nil || c.Kind() != KindClient || c.File() != filepath.Join(dir, "tahoe.cfg") {
		t.Fatalf("ReadConfig: %v %v", c, err)
	}
	// The .tac file says what kind of node this is.
	if err := os.WriteFile(filepath.Join(dir, "tahoe-introducer.tac"), []byte(dummyTac), 0o644); err != nil {
		t.Fatal(err)
	}
	var ce *ConfigError
	if _, err := ReadConfig(dir); !errors.As(err, &ce) || ce.Section != "client" || ce.File != filepath.Join(dir, "tahoe.cfg") {
		t.Errorf("introducer with [client]: %v", err)
	}
	os.Remove(filepath.Join(dir, "tahoe-introducer.tac"))
	// An introducer's old public introducer.furl is allowed, for the
	// introducer to move; other old configuration files are not.
	if err := os.WriteFile(filepath.Join(dir, "nickname"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadConfig(dir); !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "nickname") {
		t.Errorf("old config file: %v", err)
	}
}

func TestIdentifyKind(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		tac  string
		want Kind
	}{{"", KindClient}, {"tahoe-client.tac", KindClient}, {"tahoe-introducer.tac", KindIntroducer}} {
		d := filepath.Join(dir, c.tac+"x")
		os.Mkdir(d, 0o755)
		if c.tac != "" {
			os.WriteFile(filepath.Join(d, c.tac), nil, 0o644)
		}
		if k, err := IdentifyKind(d); err != nil || k != c.want {
			t.Errorf("%q: %q %v", c.tac, k, err)
		}
	}
	if _, err := IdentifyKind(filepath.Join(dir, "nope")); err == nil {
		t.Error("missing directory accepted")
	}
}
