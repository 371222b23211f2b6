package introducer

import (
	"net/url"
	"testing"
)

// FuzzDecodePublish feeds the server's publish decoder untrusted bodies.
func FuzzDecodePublish(f *testing.F) {
	n := newNode("n")
	f.Add(publishBody(f, n.storageAnn(f, 1)))
	f.Add([]byte{0xa1, 0x6c, 'a', 'n', 'n', 'o', 'u', 'n', 'c', 'e', 'm', 'e', 'n', 't', 0x83, 0x40, 0x60, 0x60})
	f.Add([]byte{0xbf, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodePublish(b)
		if err != nil {
			return
		}
		if len(s.Msg) == 0 || len(s.Msg) > MaxAnnouncementSize {
			t.Fatalf("accepted a message of %d bytes", len(s.Msg))
		}
		if a, err := Verify(s); err == nil {
			checkAnnouncement(a)
		}
	})
}

// FuzzDecodePoll feeds the client's poll decoder untrusted answers.
func FuzzDecodePoll(f *testing.F) {
	n := newNode("n")
	f.Add(mustCBOR(f, pollResponse{Version: 1, Instance: []byte("i"), Announcements: []wireSigned{toWire(n.storageAnn(f, 1))}}))
	f.Add(mustCBOR(f, pollResponse{Instance: []byte{}, Announcements: []wireSigned{}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodePoll(b)
		if err != nil {
			return
		}
		for _, w := range p.Announcements {
			if a, err := Verify(w.signed()); err == nil {
				checkAnnouncement(a)
			}
		}
	})
}

// FuzzParseIntroducersYAML checks the yaml loader never panics.
func FuzzParseIntroducersYAML(f *testing.F) {
	f.Add([]byte("introducers:\n  a:\n    furl: pb://x\n"))
	f.Add([]byte("introducers:\n  1:\n    furl: [1]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ParseIntroducersYAML("f", b)
	})
}

// FuzzPollQuery checks the query and subscriber-header parsers.
func FuzzPollQuery(f *testing.F) {
	f.Add("service=storage&after=1&wait=1.5", "id=a&nickname=b")
	f.Fuzz(func(t *testing.T, q, h string) {
		if v, err := url.ParseQuery(q); err == nil {
			if p, err := parsePollQuery(v); err == nil && (p.wait < 0 || !validServiceName(p.service)) {
				t.Fatalf("accepted %+v", p)
			}
		}
		parseSubscriber(map[string][]string{headerSubscriber: {h}})
	})
}
