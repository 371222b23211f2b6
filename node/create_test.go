package node

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites it under -update. The
// golden files hold the tahoe.cfg text of Tahoe 1.20's create commands
// (scripts/create_node.py write_node_config and write_client_config).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCreateNode(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "storage1")
	err := Create(dir, CreateOptions{
		Nickname:    "storage1",
		Introducers: []string{"pb://ok45ssoklj4y7eok5c3xkmj@tcp:tahoe.example:44801/ii3uumo"},
		WebPort:     "tcp:6301:interface=127.0.0.1",
		Location:    "tcp:localhost:6303",
		Port:        "tcp:6303",
	})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "create-node.tahoe.cfg", readFile(t, filepath.Join(dir, "tahoe.cfg")))
	if got := readFile(t, filepath.Join(dir, "private", "introducers.yaml")); got != "introducers:\n  default:\n    furl: pb://ok45ssoklj4y7eok5c3xkmj@tcp:tahoe.example:44801/ii3uumo\n" {
		t.Errorf("introducers.yaml:\n%s", got)
	}
	if got := readFile(t, filepath.Join(dir, "tahoe-client.tac")); got != dummyTac {
		t.Errorf("tac: %q", got)
	}

	// Round trip.
	c, err := ReadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := c.Node()
	if c.Kind() != KindClient || n.Nickname != "storage1" || n.Web.Port != 6301 || n.TubPort != "tcp:6303" ||
		n.TubLocation != "tcp:localhost:6303" || !n.RevealIPAddress || n.WebStatic != "public_html" {
		t.Errorf("node: %+v", n)
	}
	if s := c.Storage(); !s.Enabled || s.ReservedSpace != 1e9 || s.StorageDir != "storage" {
		t.Errorf("storage: %+v", s)
	}
	if cl := c.Client(); cl.SharesNeeded != 3 || cl.SharesHappy != 7 || cl.SharesTotal != 10 || cl.HelperFURL != "" {
		t.Errorf("client: %+v", cl)
	}

	// Identity and secrets exist, with the right modes, and are the ones
	// a later load finds.
	for name, mode := range map[string]os.FileMode{
		"private":              0o700 | os.ModeDir,
		"private/node.pem":     0o600,
		"private/node.privkey": 0o600,
		"private/secret":       0o600,
		"private/convergence":  0o600,
		"node.pubkey":          0o644,
		"my_nodeid":            0o644,
		"tahoe.cfg":            0o644,
	} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode() != mode {
			t.Errorf("%s: mode %v, want %v", name, st.Mode(), mode)
		}
	}
	id, err := LoadOrCreateIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	if readFile(t, filepath.Join(dir, "my_nodeid")) != id.TubID+"\n" {
		t.Error("my_nodeid does not match node.pem")
	}

	// A second Create refuses the now non-empty directory.
	if err := Create(dir, CreateOptions{Hostname: "localhost"}); !errors.Is(err, ErrNotEmpty) {
		t.Errorf("second create: %v", err)
	}
}

func TestCreateClientAndIntroducer(t *testing.T) {
	base := t.TempDir()
	client := filepath.Join(base, "alice")
	if err := Create(client, CreateOptions{Kind: KindClient, Nickname: "alice", SharesNeeded: 2, SharesHappy: 3, SharesTotal: 4}); err != nil {
		t.Fatal(err)
	}
	golden(t, "create-client.tahoe.cfg", readFile(t, filepath.Join(client, "tahoe.cfg")))
	c, err := ReadConfig(client)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Node().TubDisabled || c.Storage().Enabled || c.Client().SharesTotal != 4 {
		t.Errorf("client: %+v %+v", c.Node(), c.Storage())
	}
	if _, err := os.Stat(filepath.Join(client, "private", "introducers.yaml")); err == nil {
		t.Error("introducers.yaml without introducers")
	}

	intro := filepath.Join(base, "introducer")
	os.Mkdir(intro, 0o755) // an empty directory is fine
	if err := Create(intro, CreateOptions{Kind: KindIntroducer, Location: "tcp:intro.example:5000", Port: "tcp:5000"}); err != nil {
		t.Fatal(err)
	}
	golden(t, "create-introducer.tahoe.cfg", readFile(t, filepath.Join(intro, "tahoe.cfg")))
	c, err = ReadConfig(intro)
	if err != nil {
		t.Fatal(err)
	}
	if c.Kind() != KindIntroducer || c.Node().WebPort != "" || c.Node().Nickname != "" {
		t.Errorf("introducer: %q %+v", c.Kind(), c.Node())
	}
	if _, err := os.Stat(filepath.Join(intro, "tahoe-introducer.tac")); err != nil {
		t.Error(err)
	}
	if _, err := os.Stat(filepath.Join(intro, "private", "secret")); err == nil {
		t.Error("an introducer has no lease secret")
	}
}

func TestCreateHostname(t *testing.T) {
	base := t.TempDir()
	ports := map[string]bool{}
	re := regexp.MustCompile(`(?m)^tub\.port = tcp:(\d+)\ntub\.location = tcp:(\S+):(\d+)$`)
	for _, name := range []string{"a", "b", "c", "d", "e"} {
		dir := filepath.Join(base, name)
		if err := Create(dir, CreateOptions{Hostname: "localhost", WebPort: "none"}); err != nil {
			t.Fatal(err)
		}
		m := re.FindStringSubmatch(readFile(t, filepath.Join(dir, "tahoe.cfg")))
		if m == nil || m[1] != m[3] || m[2] != "localhost" {
			t.Fatalf("%s: tub.port/tub.location: %q", name, m)
		}
		if ports[m[1]] {
			t.Errorf("port %s given twice", m[1])
		}
		ports[m[1]] = true
		c, err := ReadConfig(dir)
		if err != nil {
			t.Fatal(err)
		}
		if c.Node().WebPort != "" {
			t.Errorf("web.port %q, want none", c.Node().WebPort)
		}
	}
	// An IPv6 host gets brackets.
	dir := filepath.Join(base, "v6")
	if err := Create(dir, CreateOptions{Hostname: "::1", Listen: "tcp"}); err != nil {
		t.Fatal(err)
	}
	c, err := ReadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	if loc := c.Node().TubLocation; !strings.HasPrefix(loc, "tcp:[::1]:") {
		t.Errorf("location %q", loc)
	}
}

func TestCreateEscapes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "n")
	if err := Create(dir, CreateOptions{Kind: KindClient, Nickname: "100% #1 Bob", StorageDir: ""}); err != nil {
		t.Fatal(err)
	}
	c, err := ReadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Node().Nickname; got != "100% #1 Bob" {
		t.Errorf("nickname %q", got)
	}
}

func TestCreateBadOptions(t *testing.T) {
	cases := []struct {
		name string
		opts CreateOptions
	}{
		{"listen tcp needs hostname", CreateOptions{}},
		{"listen tcp needs hostname (explicit)", CreateOptions{Listen: "tcp"}},
		{"location without port", CreateOptions{Location: "tcp:h:1"}},
		{"port without location", CreateOptions{Port: "tcp:1"}},
		{"hostname with location/port", CreateOptions{Hostname: "h", Location: "tcp:h:1", Port: "tcp:1"}},
		{"hostname with listen none", CreateOptions{Listen: "none", Hostname: "h", NoStorage: true}},
		{"port with listen none", CreateOptions{Listen: "none", Location: "tcp:h:1", Port: "tcp:1"}},
		{"unknown listener", CreateOptions{Listen: "udp", Hostname: "h"}},
		{"i2p launch", CreateOptions{Listen: "i2p", I2PLaunch: true}},
		{"i2p launch and sam port", CreateOptions{Listen: "i2p", I2PLaunch: true, I2PSAMPort: "tcp:127.0.0.1:7656"}},
		{"i2p executable", CreateOptions{Listen: "i2p", I2PExecutable: "/usr/bin/i2prouter"}},
		{"i2p sam port without i2p", CreateOptions{Listen: "tcp", Hostname: "h", I2PSAMPort: "tcp:127.0.0.1:7656"}},
		{"i2p sam port by name", CreateOptions{Listen: "i2p", I2PSAMPort: "tcp:i2p.example:7656"}},
		{"tor launch with a control port", CreateOptions{Listen: "tor", TorLaunch: true, TorControlPort: "tcp:127.0.0.1:9051"}},
		{"hostname without tcp", CreateOptions{Listen: "i2p,none", Hostname: "h"}},
		{"storage without listening", CreateOptions{Listen: "none"}},
		{"k > N", CreateOptions{Hostname: "h", SharesNeeded: 11}},
		{"happy > N", CreateOptions{Hostname: "h", SharesHappy: 11}},
		{"negative k", CreateOptions{Hostname: "h", SharesNeeded: -1}},
		{"bad webport", CreateOptions{Hostname: "h", WebPort: "tcp:http"}},
		{"bad port", CreateOptions{Location: "tcp:h:1", Port: "tcp:x"}},
		{"bad location", CreateOptions{Location: "tcp:h", Port: "tcp:1"}},
		{"line break", CreateOptions{Hostname: "h", Nickname: "a\nb"}},
		{"bad introducer", CreateOptions{Hostname: "h", Introducers: []string{"http://intro"}}},
		{"client listens", CreateOptions{Kind: KindClient, Hostname: "h"}},
		{"client storage dir", CreateOptions{Kind: KindClient, StorageDir: "/s"}},
		{"introducer shares", CreateOptions{Kind: KindIntroducer, Hostname: "h", SharesTotal: 5}},
		{"introducer introducers", CreateOptions{Kind: KindIntroducer, Hostname: "h", Introducers: []string{"pb://a@tcp:h:1/s"}}},
		{"introducer not listening", CreateOptions{Kind: KindIntroducer, Listen: "none"}},
		{"unknown kind", CreateOptions{Kind: "server"}},
	}
	for _, c := range cases {
		dir := filepath.Join(t.TempDir(), "n")
		err := Create(dir, c.opts)
		if !errors.Is(err, ErrUsage) {
			t.Errorf("%s: got %v, want ErrUsage", c.name, err)
		}
		if _, serr := os.Stat(dir); serr == nil {
			t.Errorf("%s: wrote %s despite the error", c.name, dir)
		}
	}
	// A file in the way, or a non-empty directory.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "x"), nil, 0o644)
	if err := Create(dir, CreateOptions{Hostname: "h"}); !errors.Is(err, ErrNotEmpty) {
		t.Errorf("non-empty: %v", err)
	}
	if err := Create(filepath.Join(dir, "x"), CreateOptions{Hostname: "h"}); err == nil {
		t.Error("created over a file")
	}
}
