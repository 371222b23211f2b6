package storagehttp

import (
	"errors"
	"testing"

	"github.com/lafs/lafs/nurl"
)

// hash43 is a well-formed SPKI hash.
const hash43 = "JIj6ezHkdSBlHhrnezAgIC_mrVQHy4KAFyL-8ZNPGPM"

// TestNURLAliases: NURLs are package nurl's (its tests hold the grammar
// and the SPKI hash vectors); the storage protocol's names for them keep
// working, errors.Is included.
func TestNURLAliases(t *testing.T) {
	s := "pb://" + hash43 + "@127.0.0.1:1234/s#v=1"
	n, err := ParseNURL(s)
	if err != nil || n != (nurl.NURL{SPKIHash: hash43, Host: "127.0.0.1", Port: 1234, Swissnum: "s"}) || n.String() != s {
		t.Errorf("%+v, %v", n, err)
	}
	if _, err := ParseNURL("pb://" + hash43 + "@127.0.0.1:1234/s"); !errors.Is(err, ErrNURL) || !errors.Is(err, nurl.ErrNURL) {
		t.Errorf("fURL: %v", err)
	}
	if ErrPin != nurl.ErrPin {
		t.Error("ErrPin is not nurl.ErrPin")
	}
}

// TestAnonymousNURLsNeedADialer: a pb+tor or pb+i2p NURL is never dialled
// with the default dialer, which would ask the DNS for its name.
func TestAnonymousNURLsNeedADialer(t *testing.T) {
	for _, s := range []string{"pb+tor://" + hash43 + "@abcdefghijklmnop.onion:1234/s#v=1",
		"pb+i2p://" + hash43 + "@abcdefghijklmnop.b32.i2p:1234/s#v=1"} {
		n, err := ParseNURL(s)
		if err != nil {
			t.Fatal(err)
		}
		if c, err := Dial(n); !errors.Is(err, ErrNURL) {
			if c != nil {
				c.Close()
			}
			t.Errorf("%s without a dialer: %v", s, err)
		}
	}
}
