package node

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

func TestStorageURLs(t *testing.T) {
	dir := t.TempDir()
	id, err := LoadOrCreateIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	hints := []string{"tcp:example.org:3456,tcp:127.0.0.1:3456", "tor:abcdefgh.onion:29212", "i2p:xyz.b32.i2p", "i2p:xyz.b32.i2p:3457", "legacy.example:7", "tcp:[2001:db8::1]:3456"}
	u, err := LoadOrCreateStorageURLs(dir, id, hints)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[a-z2-7]{32}$`).MatchString(u.Swissnum) {
		t.Errorf("swissnum %q: want base32 of 160 bits", u.Swissnum)
	}
	wantFURL := "pb://" + id.TubID + "@tcp:example.org:3456,tcp:127.0.0.1:3456,tor:abcdefgh.onion:29212,i2p:xyz.b32.i2p,i2p:xyz.b32.i2p:3457,legacy.example:7,tcp:[2001:db8::1]:3456/" + u.Swissnum
	if u.FURL != wantFURL {
		t.Errorf("fURL\n got %s\nwant %s", u.FURL, wantFURL)
	}
	sum := sha256.Sum256(id.Cert.RawSubjectPublicKeyInfo)
	spki := base64.RawURLEncoding.EncodeToString(sum[:])
	wantNURLs := []string{
		"pb://" + spki + "@example.org:3456/" + u.Swissnum + "#v=1",
		"pb://" + spki + "@127.0.0.1:3456/" + u.Swissnum + "#v=1",
		"pb+tor://" + spki + "@abcdefgh.onion:29212/" + u.Swissnum + "#v=1",
		"pb+i2p://" + spki + "@xyz.b32.i2p:3457/" + u.Swissnum + "#v=1",
		"pb://" + spki + "@[2001:db8::1]:3456/" + u.Swissnum + "#v=1",
	}
	if !reflect.DeepEqual(u.NURLs, wantNURLs) {
		t.Errorf("NURLs\n got %q\nwant %q", u.NURLs, wantNURLs)
	}
	read := func(name string) (string, os.FileMode) {
		p := filepath.Join(dir, "private", name)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		st, _ := os.Stat(p)
		return string(b), st.Mode().Perm()
	}
	if got, mode := read("storage.furl"); got != wantFURL+"\n" || mode != 0o600 {
		t.Errorf("storage.furl %q %v", got, mode)
	}
	if got, mode := read("storage.nurl"); got != strings.Join(wantNURLs, "\n")+"\n" || mode != 0o600 {
		t.Errorf("storage.nurl %q %v", got, mode)
	}

	// The swissnum survives a restart at a new address.
	u2, err := LoadOrCreateStorageURLs(dir, id, []string{"tcp:new.example:1"})
	if err != nil {
		t.Fatal(err)
	}
	if u2.Swissnum != u.Swissnum || u2.FURL != "pb://"+id.TubID+"@tcp:new.example:1/"+u.Swissnum {
		t.Errorf("restart: %+v", u2)
	}

	// A fURL from another tub is refused, not overwritten.
	other, _ := GenerateIdentity()
	if _, err := LoadOrCreateStorageURLs(dir, other, []string{"tcp:h:1"}); !errors.Is(err, ErrIdentity) {
		t.Errorf("other tub: %v", err)
	}

	// A Tahoe storage.furl is reused as it is.
	tahoe := "pb://" + id.TubID + "@tcp:old.example:9/abcdefghijklmnopqrstuvwxyz234567\n"
	os.WriteFile(filepath.Join(dir, "private", "storage.furl"), []byte(tahoe), 0o600)
	u3, err := LoadOrCreateStorageURLs(dir, id, []string{"tcp:old.example:9"})
	if err != nil || u3.FURL+"\n" != tahoe {
		t.Errorf("Tahoe fURL: %+v %v", u3, err)
	}
}

func TestServiceURLErrors(t *testing.T) {
	id, err := GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	for _, hints := range [][]string{nil, {""}, {"AUTO"}, {"tcp:a:1,"}, {"tor:example.org:1"}, {"tcp:a/b:1"}} {
		if _, err := LoadOrCreateServiceURLs(t.TempDir(), "introducer", id, hints); !errors.Is(err, ErrEndpoint) {
			t.Errorf("hints %q: %v", hints, err)
		}
	}
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "private"), 0o700)
	os.WriteFile(filepath.Join(dir, "private", "introducer.furl"), []byte("not a furl\n"), 0o600)
	if _, err := LoadOrCreateServiceURLs(dir, "introducer", id, []string{"tcp:h:1"}); !errors.Is(err, ErrEndpoint) {
		t.Errorf("bad fURL file: %v", err)
	}
}

func TestDecodeFURL(t *testing.T) {
	tub, hints, name, err := decodeFURL("pb://u33m4y7klhz3bypswqkozwetvabelhxtEXTRA@tcp:8.8.8.8:51298,tcp:b:1/eiu2i7p6d6mm4ihmss7ieou5hac3wn6b")
	if err != nil || tub != "u33m4y7klhz3bypswqkozwetvabelhxt" || !reflect.DeepEqual(hints, []string{"tcp:8.8.8.8:51298", "tcp:b:1"}) || name != "eiu2i7p6d6mm4ihmss7ieou5hac3wn6b" {
		t.Errorf("%q %q %q %v", tub, hints, name, err)
	}
	if _, hints, _, err := decodeFURL("pb://aaaa@/x"); err != nil || hints != nil {
		t.Errorf("no hints: %q %v", hints, err)
	}
	for _, bad := range []string{"http://x", "pb://a!b@h:1/x", "pb://aaaa@a,,b/x", "pb://aaaa@h:1/"} {
		if _, _, _, err := decodeFURL(bad); err == nil {
			t.Errorf("decodeFURL(%q) accepted", bad)
		}
	}
}
