package introducer

import (
	"crypto/ed25519"
	"errors"
	"testing"
)

func TestSignVerify(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(nil)
	a := NewAnnouncement("storage", "n1", "lafs/0.1", 7)
	a["anonymous-storage-NURLs"] = []string{"pb://x@tcp:127.0.0.1:1/s#v=1"}
	s, err := Sign(a, key)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Verify(s)
	if err != nil {
		t.Fatal(err)
	}
	if got.Seqnum() != 7 || got.String("nickname") != "n1" || got.NURLs()[0] != "pb://x@tcp:127.0.0.1:1/s#v=1" {
		t.Errorf("round trip: %v", got)
	}
	if s.Key != ServerID(key.Public().(ed25519.PublicKey)) || len(s.Key) != 3+52 {
		t.Errorf("key %q", s.Key)
	}
	bad := s
	bad.Msg = append([]byte(nil), s.Msg...)
	bad.Msg[5] ^= 1
	if _, err := Verify(bad); !errors.Is(err, ErrBadAnnouncement) {
		t.Errorf("tampered message: %v", err)
	}
	for _, b := range []Signed{{s.Msg, "v1-" + s.Sig[3:], s.Key}, {s.Msg, s.Sig, "pub-" + s.Key}, {s.Msg, s.Sig[:20], s.Key}, {[]byte("{}"), s.Sig, s.Key}} {
		if _, err := Verify(b); !errors.Is(err, ErrBadAnnouncement) {
			t.Errorf("%q: %v", b.Sig[:5], err)
		}
	}
}
