package node

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestCfgEditLayout edits small files and compares the whole text: only
// the one line changes, everything else stays byte for byte.
func TestCfgEditLayout(t *testing.T) {
	for _, tt := range []struct {
		name, in   string
		section    string
		key, value string
		want       string
	}{
		{"replace", "[node]\nnickname = a\nweb.port = tcp:1\n", "node", "nickname", "b c", "[node]\nnickname = b c\nweb.port = tcp:1\n"},
		{"colon and spacing kept", "[node]\nnickname:\told  \n", "node", "nickname", "new", "[node]\nnickname:\tnew\n"},
		{"no spaces kept", "[node]\nnickname=old\n", "node", "nickname", "new", "[node]\nnickname=new\n"},
		{"empty old value", "[node]\nnickname =\n", "node", "nickname", "x", "[node]\nnickname = x\n"},
		{"empty new value", "[node]\nnickname = x\n", "node", "nickname", "", "[node]\nnickname = \n"},
		{"key spelling kept", "[node]\nreveal-IP-address = true\n", "node", "reveal-ip-address", "false", "[node]\nreveal-IP-address = false\n"},
		{"key matched in any case", "[node]\nNickName = a\n", "node", "NICKNAME", "b", "[node]\nNickName = b\n"},
		{"inline comment is value", "[node]\nnickname = a # b\n", "node", "nickname", "c", "[node]\nnickname = c\n"},
		{"percent escaped", "[node]\nnickname = a\n", "node", "nickname", "100% me", "[node]\nnickname = 100%% me\n"},
		{"continuation dropped, comment kept", "[node]\nnickname = a\n# note\n  b\n\n  c\nweb.port = tcp:1\n", "node", "nickname", "z",
			"[node]\nnickname = z\n# note\n\nweb.port = tcp:1\n"},
		{"last of repeated key", "[node]\nnickname = a\nnickname = b\n", "node", "nickname", "c", "[node]\nnickname = a\nnickname = c\n"},
		{"append after last key", "[node]\nnickname = a\n\n#web.port =\n\n[client]\nshares.total = 10\n", "node", "web.port", "tcp:1",
			"[node]\nnickname = a\nweb.port = tcp:1\n\n#web.port =\n\n[client]\nshares.total = 10\n"},
		{"append after continuation", "[node]\nnickname = a\n  b\n[client]\n", "node", "web.port", "tcp:1",
			"[node]\nnickname = a\n  b\nweb.port = tcp:1\n[client]\n"},
		{"append to repeated section's last block", "[node]\na = 1\n[client]\n[node]\nb = 2\n\n", "node", "web.port", "tcp:1",
			"[node]\na = 1\n[client]\n[node]\nb = 2\nweb.port = tcp:1\n\n"},
		{"append to empty section", "[node]\n# nothing\n\n[client]\n", "node", "nickname", "a", "[node]\nnickname = a\n# nothing\n\n[client]\n"},
		{"indented keys", "[node]\n  a = 1\n  b = 2\n[client]\n", "node", "nickname", "n", "[node]\n  a = 1\n  b = 2\n  nickname = n\n[client]\n"},
		{"indented header after empty section", "[node]\n   [client]\n", "node", "nickname", "n", "[node]\n   nickname = n\n   [client]\n"},
		{"new section", "# hi\n[node]\nnickname = a\n", "tor", "enabled", "false", "# hi\n[node]\nnickname = a\n\n[tor]\nenabled = false\n"},
		{"new section after blank", "[node]\nnickname = a\n\n", "tor", "enabled", "false", "[node]\nnickname = a\n\n[tor]\nenabled = false\n"},
		{"new section, no final newline", "[node]\nnickname = a", "tor", "enabled", "false", "[node]\nnickname = a\n\n[tor]\nenabled = false\n"},
		{"new section in empty file", "", "tor", "enabled", "false", "[tor]\nenabled = false\n"},
		{"no final newline kept", "[node]\nnickname = a", "node", "web.port", "tcp:1", "[node]\nnickname = a\nweb.port = tcp:1"},
		{"CRLF replace", "[node]\r\nnickname = a\r\n", "node", "nickname", "b", "[node]\r\nnickname = b\r\n"},
		{"CRLF append", "[node]\r\nnickname = a\r\n", "node", "web.port", "tcp:1", "[node]\r\nnickname = a\r\nweb.port = tcp:1\r\n"},
		{"CRLF new section", "[node]\r\nnickname = a\r\n", "tor", "enabled", "no", "[node]\r\nnickname = a\r\n\r\n[tor]\r\nenabled = no\r\n"},
		{"BOM kept", "\ufeff[node]\nnickname = a\n", "node", "nickname", "b", "\ufeff[node]\nnickname = b\n"},
		{"unchanged", "[node]\nnickname = a\n", "node", "nickname", "a", "[node]\nnickname = a\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseCfgFile("tahoe.cfg", []byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Set(tt.section, tt.key, tt.value); err != nil {
				t.Fatal(err)
			}
			if got := string(f.Bytes()); got != tt.want {
				t.Fatalf("got\n%q\nwant\n%q", got, tt.want)
			}
			v, ok, err := f.Get(tt.section, tt.key)
			if err != nil || !ok || v != tt.value {
				t.Fatalf("Get = %q %v %v, want %q", v, ok, err, tt.value)
			}
		})
	}
}

func TestCfgEditUnset(t *testing.T) {
	for _, tt := range []struct {
		name, in, section, key, want string
		was                          bool
	}{
		{"one", "[node]\nnickname = a\nweb.port = 1\n", "node", "nickname", "[node]\nweb.port = 1\n", true},
		{"every assignment and continuation", "[node]\nnickname = a\n  more\n[client]\nnickname = keep\n[node]\n# c\nNickname: b\n", "node", "nickname",
			"[node]\n[client]\nnickname = keep\n[node]\n# c\n", true},
		{"absent", "[node]\nweb.port = 1\n", "node", "nickname", "[node]\nweb.port = 1\n", false},
		{"no section", "[node]\n", "tor", "enabled", "[node]\n", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseCfgFile("tahoe.cfg", []byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			was, err := f.Unset(tt.section, tt.key)
			if err != nil || was != tt.was {
				t.Fatalf("Unset = %v %v, want %v", was, err, tt.was)
			}
			if got := string(f.Bytes()); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			if _, ok, _ := f.Get(tt.section, tt.key); ok {
				t.Fatal("still set")
			}
		})
	}
	// A value inherited from [DEFAULT] stays.
	f, _ := ParseCfgFile("x", []byte("[DEFAULT]\nk = d\n[s]\nk = own\n"))
	if was, err := f.Unset("s", "k"); !was || err != nil {
		t.Fatal(was, err)
	}
	if v, ok, _ := f.Get("s", "k"); !ok || v != "d" {
		t.Fatalf("Get after Unset = %q %v, want the DEFAULT", v, ok)
	}
}

func TestCfgEditRefuses(t *testing.T) {
	in := "[node]\nnickname = a\n"
	for _, tt := range []struct{ section, key, value, err string }{
		{"node", "nickname", "a\nb", "one line"},
		{"node", "nickname", " a", "white space"},
		{"node", "nickname", "a\t", "white space"},
		{"node", "a=b", "x", "cannot be written"},
		{"node", "a:b", "x", "cannot be written"},
		{"node", "[x]", "x", "cannot be written"},
		{"node", "#x", "x", "cannot be written"},
		{"node", " x", "x", "cannot be written"},
		{"node", "", "x", "cannot be written"},
		{"", "x", "x", "cannot be written"},
		{"a\nb", "x", "x", "cannot be written"},
		{"DEFAULT", "x", "x", "DEFAULT"},
	} {
		f, err := ParseCfgFile("tahoe.cfg", []byte(in))
		if err != nil {
			t.Fatal(err)
		}
		err = f.Set(tt.section, tt.key, tt.value)
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("Set(%q, %q, %q) = %v, want %q", tt.section, tt.key, tt.value, err, tt.err)
		}
		if string(f.Bytes()) != in {
			t.Errorf("Set(%q, %q, %q) changed the file", tt.section, tt.key, tt.value)
		}
	}
	for _, bad := range []string{"nickname = a\n", "[node]\nno separator\n", "[node]\n= x\n", "\xff"} {
		var ce *ConfigError
		if _, err := ParseCfgFile("tahoe.cfg", []byte(bad)); !errors.As(err, &ce) {
			t.Errorf("ParseCfgFile(%q) = %v, want a *ConfigError", bad, err)
		}
	}
}

// cfgCorpus is text that exercises parseINI's rules.
var cfgCorpus = []string{
	docsExample,
	"[s]\na = 1\n  2\n\n\t3\nb: 4\n",
	"[s]\n  a = 1\n b = 2\n    c\n[t]\n\n a=1\n#  x\n  y\n[s]\nA = 3\n",
	"; c\n[DEFAULT]\nx = 1\n[s]\ny = %(x)s\n[s]] junk\nz = 2\n",
	"[s]\r\na = 1\r\n  b\r\n",
	"[a]\nk = v\n   [b]\nk = w\n",
}

// TestCfgBlocksAgree checks the editor finds keys where parseINI does.
func TestCfgBlocksAgree(t *testing.T) {
	corpus := slices.Clone(cfgCorpus)
	for _, name := range []string{"create-node.tahoe.cfg", "create-client.tahoe.cfg", "create-introducer.tahoe.cfg"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		corpus = append(corpus, string(b))
	}
	for _, text := range corpus {
		checkBlocksAgree(t, text)
	}
}

func checkBlocksAgree(t *testing.T, text string) {
	t.Helper()
	f, err := ParseCfgFile("tahoe.cfg", []byte(text))
	if err != nil {
		return
	}
	ini, _ := f.ini()
	lines := map[string]int{} // section, key -> 1-based line of the last assignment
	for _, b := range f.blocks() {
		for _, k := range b.keys {
			lines[b.name+"\x00"+k.key] = k.line + 1
		}
	}
	want := map[string]int{}
	for _, s := range append(ini.sections, ini.defaults) {
		for _, it := range s.items {
			want[s.name+"\x00"+it.key] = it.line
		}
	}
	if !reflect.DeepEqual(lines, want) {
		t.Fatalf("%q: editor sees keys at %v, parser at %v", text, lines, want)
	}
}

// FuzzCfgEdit edits arbitrary files and checks that an edit changes the
// one key only and keeps every comment and blank line.
func FuzzCfgEdit(f *testing.F) {
	for _, text := range cfgCorpus {
		f.Add([]byte(text), "s", "a", "x y")
		f.Add([]byte(text), "node", "nickname", "100%")
		f.Add([]byte(text), "new", "k", "")
	}
	f.Fuzz(func(t *testing.T, data []byte, section, key, value string) {
		c, err := ParseCfgFile("tahoe.cfg", data)
		if err != nil {
			return
		}
		checkBlocksAgree(t, strings.TrimPrefix(string(data), "\ufeff"))
		before, _ := c.Entries()
		orig := string(c.Bytes())
		if orig != string(data) {
			t.Fatalf("Bytes() = %q, not the text read", orig)
		}
		if err := c.Set(section, key, value); err != nil {
			if string(c.Bytes()) != orig {
				t.Fatalf("failed Set changed the file: %v", err)
			}
			if strings.Contains(err.Error(), "would also change") && !strings.Contains(orig, "[DEFAULT]") {
				t.Fatalf("Set could not edit safely: %v", err)
			}
			return
		}
		key = strings.ToLower(key)
		if v, ok, err := c.Get(section, key); err != nil || !ok || v != value {
			t.Fatalf("Get = %q %v %v, want %q", v, ok, err, value)
		}
		after, _ := c.Entries()
		checkOthersKept(t, before, after, section, key)
		checkCommentsKept(t, orig, string(c.Bytes()))
		set := string(c.Bytes())
		if was, err := c.Unset(section, key); err != nil || !was {
			t.Fatalf("Unset = %v %v", was, err)
		}
		checkCommentsKept(t, set, string(c.Bytes()))
	})
}

func checkOthersKept(t *testing.T, before, after []CfgEntry, section, key string) {
	t.Helper()
	drop := func(es []CfgEntry) []CfgEntry {
		return slices.DeleteFunc(slices.Clone(es), func(e CfgEntry) bool { return e.Section == section && e.Key == key })
	}
	b, a := drop(before), drop(after)
	for i := range b {
		b[i].Value = "" // interpolation may see the new value
	}
	for i := range a {
		a[i].Value = ""
	}
	if !slices.Equal(a, b) {
		t.Fatalf("other keys changed:\n%v\n%v", b, a)
	}
}

// checkCommentsKept checks that the comment and blank lines of before
// appear in after, in order.
func checkCommentsKept(t *testing.T, before, after string) {
	t.Helper()
	rest := strings.Split(after, "\n")
	for _, l := range strings.Split(before, "\n") {
		c := pyStrip(l)
		if c != "" && !strings.HasPrefix(c, "#") && !strings.HasPrefix(c, ";") {
			continue
		}
		i := slices.Index(rest, l)
		if i < 0 {
			t.Fatalf("line %q lost:\n%q\n%q", l, before, after)
		}
		rest = rest[i+1:]
	}
}

// TestKnownConfigKeys checks the key table covers what the parser accepts
// and that each default means what leaving the key out means.
func TestKnownConfigKeys(t *testing.T) {
	all := map[string]bool{}
	for _, table := range []map[string][]string{commonSections, clientSections} {
		for sec, keys := range table {
			if !slices.Contains(configSectionOrder, sec) {
				t.Errorf("section [%s] missing from configSectionOrder", sec)
			}
			for _, k := range keys {
				all[sec+"."+k] = true
				if d, ok := configKeyDocs[sec+"."+k]; !ok || d[1] == "" {
					t.Errorf("%s.%s has no description", sec, k)
				}
			}
		}
	}
	for name := range configKeyDocs {
		if !all[name] {
			t.Errorf("%s is described but not accepted", name)
		}
	}
	if n := len(KnownConfigKeys(KindClient)); n != len(all) {
		t.Errorf("KnownConfigKeys(client) has %d keys, want %d", n, len(all))
	}
	for _, k := range KnownConfigKeys(KindIntroducer) {
		if _, ok := commonSections[k.Section]; !ok {
			t.Errorf("introducer offered %s.%s", k.Section, k.Key)
		}
	}
	base, err := ParseConfig("tahoe.cfg", nil)
	if err != nil {
		t.Fatal(err)
	}
	strip := func(c *Config) Config {
		cc := *c
		cc.values, cc.sections = nil, nil
		cc.node.TubLocation = "" // as written; Location holds its meaning
		return cc
	}
	for _, k := range KnownConfigKeys(KindClient) {
		if k.Default == "" {
			continue
		}
		text := "[" + k.Section + "]\n" + k.Key + " = " + strings.ReplaceAll(k.Default, "%", "%%") + "\n"
		c, err := ParseConfig("tahoe.cfg", []byte(text))
		if err != nil {
			t.Errorf("%s.%s = %s (its default): %v", k.Section, k.Key, k.Default, err)
			continue
		}
		if !reflect.DeepEqual(strip(c), strip(base)) {
			t.Errorf("%s.%s = %s (its default) reads differently from no setting", k.Section, k.Key, k.Default)
		}
	}
}

func TestCheckConfigKey(t *testing.T) {
	for _, tt := range []struct {
		kind         Kind
		section, key string
		err          string // "" for none
	}{
		{KindClient, "node", "nickname", ""},
		{KindClient, "node", "NickName", ""},
		{KindClient, "client", "shares.needed", ""},
		{KindClient, "grid_managers", "anything", ""},
		{KindClient, "storageserver.plugins.foo", "bar", ""},
		{KindClient, "node", "nicknam", "did you mean node.nickname?"},
		{KindClient, "node", "webport", "did you mean node.web.port?"},
		{KindClient, "nod", "nickname", "did you mean node.nickname?"},
		{KindClient, "Node", "nickname", "unknown section [Node]"},
		{KindClient, "client", "shares.neded", "did you mean client.shares.needed?"},
		{KindClient, "nothing", "like.anything", "unknown section"},
		{KindIntroducer, "client", "shares.needed", "introducer's tahoe.cfg has no section [client]"},
		{KindIntroducer, "node", "nickname", ""},
		{KindClient, "grid_managers", "a=b", "cannot be written"},
	} {
		err := CheckConfigKey(tt.kind, tt.section, tt.key)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("%s %s.%s: %v", tt.kind, tt.section, tt.key, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%s %s.%s: %v, want %q", tt.kind, tt.section, tt.key, err, tt.err)
		}
	}
	if err := CheckConfigKey(KindClient, "nothing", "like.anything"); strings.Contains(err.Error(), "did you mean") {
		t.Errorf("far-off name got a suggestion: %v", err)
	}
}

func TestSplitConfigName(t *testing.T) {
	for _, tt := range []struct{ in, section, key string }{
		{"node.nickname", "node", "nickname"},
		{"node.web.port", "node", "web.port"},
		{"client.shares._max_immutable_segment_size_for_testing", "client", "shares._max_immutable_segment_size_for_testing"},
		{"node.Reveal-IP-Address", "node", "reveal-ip-address"},
		{"storageserver.plugins.foo.bar.baz", "storageserver.plugins.foo", "bar.baz"},
		{"storageclient.plugins.x.y", "storageclient.plugins.x", "y"},
	} {
		s, k, err := SplitConfigName(tt.in)
		if err != nil || s != tt.section || k != tt.key {
			t.Errorf("SplitConfigName(%q) = %q %q %v", tt.in, s, k, err)
		}
	}
	for _, bad := range []string{"node", "node.", ".x", "storageserver.plugins.foo", ""} {
		if _, _, err := SplitConfigName(bad); err == nil {
			t.Errorf("SplitConfigName(%q) accepted", bad)
		}
	}
}

// cfgNodeDir makes a client node directory holding text as tahoe.cfg.
func cfgNodeDir(t *testing.T, text string, mode os.FileMode) (dir, path string) {
	t.Helper()
	dir = t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tahoe-client.tac"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(dir, "tahoe.cfg")
	if err := os.WriteFile(path, []byte(text), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return dir, path
}

func TestEditConfig(t *testing.T) {
	orig, err := os.ReadFile(filepath.Join("testdata", "create-node.tahoe.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	dir, path := cfgNodeDir(t, string(orig), 0o640)

	changed, err := EditConfig(dir, func(f *CfgFile) error { return f.Set("client", "shares.needed", "4") })
	if err != nil || !changed {
		t.Fatalf("EditConfig = %v %v", changed, err)
	}
	got, _ := os.ReadFile(path)
	want := strings.Replace(string(orig), "shares.needed = 3\n", "shares.needed = 4\n", 1)
	if string(got) != want {
		t.Fatalf("file after set:\n%s", got)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", st.Mode().Perm())
	}
	cfg, err := ReadConfig(dir)
	if err != nil || cfg.Client().SharesNeeded != 4 {
		t.Fatalf("ReadConfig after set: %v", err)
	}

	// An edit that makes the file invalid writes nothing and names the key.
	changed, err = EditConfig(dir, func(f *CfgFile) error { return f.Set("client", "shares.needed", "11") })
	var ce *ConfigError
	if changed || !errors.As(err, &ce) || ce.Key != "shares.needed" || !strings.Contains(err.Error(), "not changed") {
		t.Fatalf("invalid edit: %v %v", changed, err)
	}
	if again, _ := os.ReadFile(path); string(again) != want {
		t.Fatal("invalid edit was written")
	}
	changed, err = EditConfig(dir, func(f *CfgFile) error { return f.Set("storage", "reserved_space", "lots") })
	if changed || !errors.As(err, &ce) || ce.Key != "reserved_space" {
		t.Fatalf("bad size: %v %v", changed, err)
	}
	// Unsetting a key others depend on is refused too.
	if _, err := EditConfig(dir, func(f *CfgFile) error { return f.Set("storage", "expire.enabled", "true") }); err == nil {
		t.Fatal("expire.enabled without expire.mode accepted")
	}

	// No change, no write.
	before, _ := os.Stat(path)
	changed, err = EditConfig(dir, func(f *CfgFile) error { return f.Set("client", "shares.needed", "4") })
	if changed || err != nil {
		t.Fatalf("same value: %v %v", changed, err)
	}
	if after, _ := os.Stat(path); !os.SameFile(before, after) {
		t.Error("unchanged file was replaced")
	}

	changed, err = EditConfig(dir, func(f *CfgFile) error { _, err := f.Unset("client", "shares.needed"); return err })
	if err != nil || !changed {
		t.Fatalf("unset: %v %v", changed, err)
	}
	got, _ = os.ReadFile(path)
	if want := strings.Replace(string(orig), "shares.needed = 3\n", "", 1); string(got) != want {
		t.Fatalf("file after unset:\n%s", got)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("temporary files left: %v", entries)
	}
}

func TestEditConfigSymlink(t *testing.T) {
	dir, path := cfgNodeDir(t, "[node]\nnickname = a\n", 0o600)
	real := filepath.Join(t.TempDir(), "real.cfg")
	if err := os.Rename(path, real); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, path); err != nil {
		t.Skip("no symlinks:", err)
	}
	if _, err := EditConfig(dir, func(f *CfgFile) error { return f.Set("node", "nickname", "b") }); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Lstat(path); err != nil || st.Mode()&os.ModeSymlink == 0 {
		t.Fatal("the link was replaced")
	}
	if b, _ := os.ReadFile(real); string(b) != "[node]\nnickname = b\n" {
		t.Fatalf("target holds %q", b)
	}
}

func TestEditConfigIntroducer(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "tahoe-introducer.tac"), nil, 0o644)
	os.WriteFile(filepath.Join(dir, "tahoe.cfg"), []byte("[node]\ntub.port = tcp:1234\ntub.location = tcp:localhost:1234\n"), 0o644)
	_, err := EditConfig(dir, func(f *CfgFile) error { return f.Set("client", "shares.needed", "2") })
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Section != "client" {
		t.Fatalf("introducer took [client]: %v", err)
	}
	_, err = EditConfig(dir, func(f *CfgFile) error { return f.Set("node", "tub.port", "disabled") })
	if err == nil || !strings.Contains(err.Error(), "tub.port") {
		t.Fatalf("introducer with tub.port disabled: %v", err)
	}
}
