package introducer

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"

	fx "github.com/fxamacker/cbor/v2"
)

// The introducer's messages were once encoded and decoded by
// github.com/fxamacker/cbor/v2, configured as below; now they are written
// and read by package cbor, which also carries the storage protocol. The
// old codec stays here as the reference that the new one is fuzzed
// against: what the new decoders take, the old ones took, as the same
// values; what the new encoders write, the old one wrote, byte for byte.
//
// One thing changed on purpose: the old decoder matched a key to a field
// ignoring case when no key matched exactly ("VERSION" was "version");
// keys are now compared exactly, as docs/introducer.md names them. The
// reference decoder below is the old one with exact matching (see
// TestOldCodecFoldedCase for the difference itself).

var (
	oldEncMode fx.EncMode
	oldDecMode fx.DecMode // the old production decoder
	refDecMode fx.DecMode // the same, matching keys exactly
)

func init() {
	var err error
	if oldEncMode, err = fx.CoreDetEncOptions().EncMode(); err != nil {
		panic(err)
	}
	opts := fx.DecOptions{
		DupMapKey:        fx.DupMapKeyEnforcedAPF,
		MaxNestedLevels:  8,
		MaxArrayElements: 1 << 20,
		MaxMapPairs:      1 << 10,
		IndefLength:      fx.IndefLengthAllowed,
		UTF8:             fx.UTF8RejectInvalid,
	}
	if oldDecMode, err = opts.DecMode(); err != nil {
		panic(err)
	}
	opts.FieldNameMatching = fx.FieldNameMatchingCaseSensitive
	if refDecMode, err = opts.DecMode(); err != nil {
		panic(err)
	}
}

// The old wire types. (wireStatus was encoded as it is: fxamacker reads
// its json tags, which were its cbor tags.)
type (
	oldSigned struct {
		_   struct{} `cbor:",toarray"`
		Msg []byte
		Sig string
		Key string
	}
	oldPublishRequest struct {
		Announcement *oldSigned `cbor:"announcement"`
	}
	oldPublishResponse struct {
		Outcome string `cbor:"outcome"`
		Version uint64 `cbor:"version"`
	}
	oldPollResponse struct {
		Version       uint64      `cbor:"version"`
		Instance      []byte      `cbor:"instance"`
		Announcements []oldSigned `cbor:"announcements"`
	}
	oldVersionResponse struct {
		Protocol           oldVersionParams `cbor:"github.com/lafs/lafs/introducer/v1"`
		ApplicationVersion []byte           `cbor:"application-version"`
	}
	oldVersionParams struct {
		MaximumWait              uint64 `cbor:"maximum-wait"`
		MaximumAnnouncementSize  uint64 `cbor:"maximum-announcement-size"`
		MaximumAnnouncementCount uint64 `cbor:"maximum-announcements"`
	}
)

func oldSignedOf(s wireSigned) oldSigned { return oldSigned{Msg: s.Msg, Sig: s.Sig, Key: s.Key} }
func (o oldSigned) wire() wireSigned     { return wireSigned{Msg: o.Msg, Sig: o.Sig, Key: o.Key} }

// oldDecodePublish is the old decodePublish, with dm for its decoder.
func oldDecodePublish(dm fx.DecMode, b []byte) (Signed, error) {
	var req oldPublishRequest
	if err := dm.Unmarshal(b, &req); err != nil {
		return Signed{}, err
	}
	if req.Announcement == nil {
		return Signed{}, errors.New(`body has no "announcement"`)
	}
	s := req.Announcement.wire().signed()
	if err := checkShape(s); err != nil {
		return Signed{}, err
	}
	return s, nil
}

// oldDecodePoll is the old decodePoll.
func oldDecodePoll(dm fx.DecMode, b []byte) (pollResponse, error) {
	var o oldPollResponse
	if err := dm.Unmarshal(b, &o); err != nil {
		return pollResponse{}, err
	}
	if o.Instance == nil {
		return pollResponse{}, errors.New(`answer has no "instance"`)
	}
	resp := pollResponse{Version: o.Version, Instance: o.Instance}
	if o.Announcements != nil {
		resp.Announcements = []wireSigned{}
		for _, a := range o.Announcements {
			resp.Announcements = append(resp.Announcements, a.wire())
		}
	}
	return resp, nil
}

// oldDecodePublishResponse is the old client's reading of a publish answer.
func oldDecodePublishResponse(dm fx.DecMode, b []byte) (publishResponse, error) {
	var o oldPublishResponse
	err := dm.Unmarshal(b, &o)
	return publishResponse(o), err
}

func oldEncode(t testing.TB, v any) []byte {
	t.Helper()
	b, err := oldEncMode.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fxCBOR encodes v with fxamacker, for requests that our encoders would
// never write.
func fxCBOR(t testing.TB, v any) []byte { return oldEncode(t, v) }

// agree checks one decoder against its reference on input b: what the
// new one takes, the old one took as the same value; and what the old one
// took, written by the new encoder, the new one reads as that value.
// Values are compared after norm.
func agree[T any](t *testing.T, b []byte, dec func([]byte) (T, error), ref func([]byte) (T, error), enc func(T) []byte, norm func(T) T) {
	t.Helper()
	got, err := dec(b)
	want, refErr := ref(b)
	got, want = norm(got), norm(want)
	switch {
	case err == nil && refErr != nil:
		t.Fatalf("%x: taken as %+v, but the old decoder refused it: %v", b, got, refErr)
	case err == nil && !reflect.DeepEqual(got, want):
		t.Fatalf("%x: decoded\n %+v, the old decoder\n %+v", b, got, want)
	case refErr == nil:
		again, err := dec(enc(want))
		if err != nil || !reflect.DeepEqual(norm(again), want) {
			t.Fatalf("%x: the old decoder's %+v, encoded, reads back as %+v, %v", b, want, again, err)
		}
	}
}

func same[T any](v T) T { return v }

// normPoll makes nil slices empty: the client does not tell them apart.
func normPoll(p pollResponse) pollResponse {
	if p.Announcements == nil {
		p.Announcements = []wireSigned{}
	}
	for i, a := range p.Announcements {
		if a.Msg == nil {
			p.Announcements[i].Msg = []byte{}
		}
	}
	return p
}

func hexBytes(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func seedMessages(f *testing.F) {
	n := newNode("n")
	s := toWire(n.storageAnn(f, 1))
	for _, m := range []message{
		publishRequest{Announcement: s},
		publishResponse{Outcome: outcomeNew, Version: 1 << 40},
		pollResponse{Version: 7, Instance: []byte("i"), Announcements: []wireSigned{s, {Msg: []byte("m"), Sig: "s", Key: "k"}}},
		pollResponse{Instance: []byte{}, Announcements: []wireSigned{}},
	} {
		f.Add(encode(m))
	}
	for _, h := range []string{
		"a1 6c616e6e6f756e63656d656e74 83 4161 6173 616b",                              // {"announcement": [h'61', "s", "k"]}
		"bf 6c616e6e6f756e63656d656e74 9f 5f4161ff 7f6173ff 616b ff 6178 f6 ff",        // indefinite lengths, an unknown key
		"a3 6776657273696f6e 01 68696e7374616e6365 40 6d616e6e6f756e63656d656e7473 80", // {"version": 1, "instance": h'', "announcements": []}
		"a2 676f7574636f6d65 63 6e6577 6776657273696f6e 1b ffffffffffffffff",           // {"outcome": "new", "version": 2^64-1}
		"a1 6776657273696f6e c2 41 01",                                                 // a bignum
		"a1 6756455253494f4e 01",                                                       // "VERSION"
	} {
		f.Add(hexBytes(f, h))
	}
}

// FuzzCodecsAgree runs the new and the old decoders on the same bytes.
func FuzzCodecsAgree(f *testing.F) {
	seedMessages(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		agree(t, b, decodePublish, func(b []byte) (Signed, error) { return oldDecodePublish(refDecMode, b) },
			func(s Signed) []byte { return encode(publishRequest{Announcement: toWire(s)}) }, same)
		agree(t, b, decodePoll, func(b []byte) (pollResponse, error) { return oldDecodePoll(refDecMode, b) },
			func(p pollResponse) []byte { return encode(p) }, normPoll)
		agree(t, b, decodePublishResponse, func(b []byte) (publishResponse, error) { return oldDecodePublishResponse(refDecMode, b) },
			func(p publishResponse) []byte { return encode(p) }, same)
	})
}

// FuzzEncodersAgree writes messages made of the fuzzer's values with the
// new encoders and the old one: the same bytes.
func FuzzEncodersAgree(f *testing.F) {
	f.Add([]byte("msg"), "sig", "key", uint64(7), 1.7e9+0.25, 3, true)
	f.Add([]byte{}, "", "\u00e9", uint64(1<<63), math.Inf(1), 0, false)
	f.Fuzz(func(t *testing.T, msg []byte, sig, key string, n uint64, x float64, k int, flag bool) {
		if msg == nil {
			msg = []byte{} // the old encoder wrote nil as null; the protocol never sends it
		}
		k %= 40
		if k < 0 {
			k = -k
		}
		s := wireSigned{Msg: msg, Sig: sig, Key: key}
		anns := make([]wireSigned, k)
		oldAnns := make([]oldSigned, k)
		for i := range anns {
			anns[i] = wireSigned{Msg: msg[:min(i, len(msg))], Sig: sig, Key: key}
			oldAnns[i] = oldSignedOf(anns[i])
		}
		summary := map[string]int{}
		for i := range k {
			summary[strings.Repeat(sig, i%4)+key[:min(i, len(key))]] = i - k/2
		}
		nurls := []string{}
		for i := range k % 4 {
			nurls = append(nurls, key+sig[:min(i, len(sig))])
		}
		status := wireStatus{
			AnnouncementSummary: summary,
			SubscriptionSummary: map[string]int{sig: k, key: -k},
			Announcements: []wireAnnouncement{
				{ServerID: key, ServiceName: sig, Nickname: string(msg), Version: key, Seqnum: int64(n), Announced: x, NURLs: nurls},
				{NURLs: []string{}},
			},
			Subscribers: []wireSubscriber{
				{ServiceName: sig, Nickname: key, Version: sig, RemoteAddress: key, Since: x, LastSeen: -x / 3, Polling: flag},
			},
		}
		if k%2 == 0 {
			status.Subscribers = []wireSubscriber{}
		}
		for _, c := range []struct {
			name     string
			new, old any
		}{
			{"publish", publishRequest{Announcement: s}, oldPublishRequest{Announcement: ptr(oldSignedOf(s))}},
			{"publish answer", publishResponse{Outcome: sig, Version: n}, oldPublishResponse{Outcome: sig, Version: n}},
			{"poll answer", pollResponse{Version: n, Instance: msg, Announcements: anns}, oldPollResponse{Version: n, Instance: msg, Announcements: oldAnns}},
			{"version", versionResponse{Protocol: versionParams{n, n / 3, uint64(k)}, ApplicationVersion: msg},
				oldVersionResponse{Protocol: oldVersionParams{n, n / 3, uint64(k)}, ApplicationVersion: msg}},
			{"status", status, status},
		} {
			got, want := encode(c.new.(message)), oldEncode(t, c.old)
			if !bytes.Equal(got, want) {
				t.Fatalf("%s: %+v\n %x, the old encoder\n %x", c.name, c.new, got, want)
			}
		}
	})
}

func ptr[T any](v T) *T { return &v }

// TestOldCodecFoldedCase shows the one deliberate change: a key that
// matches a field only when case is ignored was that field for the old
// decoder, and is an unknown key now.
func TestOldCodecFoldedCase(t *testing.T) {
	b := hexBytes(t, "a3 6756455253494f4e 05 68696e7374616e6365 40 6d616e6e6f756e63656d656e7473 80") // "VERSION": 5
	old, err := oldDecodePoll(oldDecMode, b)
	if err != nil || old.Version != 5 {
		t.Fatalf("old: %+v %v", old, err)
	}
	got, err := decodePoll(b)
	if err != nil || got.Version != 0 {
		t.Errorf("new: %+v %v", got, err)
	}
}

// BenchmarkPollAnswer decodes and encodes a poll answer of 100 storage
// announcements, with the new codec and the old.
func BenchmarkPollAnswer(b *testing.B) {
	anns := make([]wireSigned, 100)
	old := oldPollResponse{Version: 1, Instance: make([]byte, 16)}
	for i := range anns {
		anns[i] = toWire(newNode(strconv.Itoa(i)).storageAnn(b, 1))
		old.Announcements = append(old.Announcements, oldSignedOf(anns[i]))
	}
	p := pollResponse{Version: 1, Instance: make([]byte, 16), Announcements: anns}
	body := encode(p)
	for _, c := range []struct {
		name string
		f    func() error
	}{
		{"decode/new", func() error { _, err := decodePoll(body); return err }},
		{"decode/old", func() error { _, err := oldDecodePoll(oldDecMode, body); return err }},
		{"encode/new", func() error { encode(p); return nil }},
		{"encode/old", func() error { _, err := oldEncMode.Marshal(old); return err }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := c.f(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
