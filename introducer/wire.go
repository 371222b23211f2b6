package introducer

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net/http"

	"github.com/lafs/lafs/cbor"
)

// The protocol's paths, headers and media types (docs/introducer.md).
const (
	pathPrefix        = "/introducer/v1/"
	pathVersion       = pathPrefix + "version"
	pathPublish       = pathPrefix + "publish"
	pathAnnouncements = pathPrefix + "announcements"
	pathStatus        = pathPrefix + "status"

	headerSubscriber = "X-Lafs-Subscriber"
	authScheme       = "Tahoe-LAFS"
	mediaCBOR        = "application/cbor"
	mediaJSON        = "application/json"

	// protocolKey names the protocol in the version answer.
	protocolKey = "github.com/lafs/lafs/introducer/v1"
)

// StorageService is the service name of storage servers' announcements,
// the one a Client subscribes to.
const StorageService = "storage"

// Limits of the protocol (docs/introducer.md, "Limits").
const (
	// MaxAnnouncementSize bounds the JSON message of one announcement.
	// Tahoe's storage announcements are about 1 KiB.
	MaxAnnouncementSize = 32 << 10
	// maxPublishBody bounds a publish request's body.
	maxPublishBody = 64 << 10
	// maxAnswer bounds any answer the client reads.
	maxAnswer = 64 << 20
	// maxErrorBody bounds what the client reads of an error answer.
	maxErrorBody = 4 << 10
	// maxServiceName bounds a service name.
	maxServiceName = 64
	// maxSubscriberField bounds each field of the subscriber header.
	maxSubscriberField = 256
	// maxSeqnum is the largest seqnum kept exactly: Tahoe's JSON numbers
	// are read as float64 here.
	maxSeqnum = 1 << 53
)

// Errors of the client, matched with errors.Is.
var (
	// ErrFoolscap is returned by NewClient for a Foolscap fURL, which has
	// no "#v=1" fragment (NewFoolscapClient takes those), and by
	// Clients.Add for one when it has no tub (WithFoolscapTub).
	ErrFoolscap = errors.New("a Foolscap fURL needs a Foolscap client")
	// ErrUnauthorized is wrapped by the error of a request the introducer
	// refused with 401: the NURL's swissnum is not the introducer's.
	ErrUnauthorized = errors.New("introducer refused the swissnum (401)")
	// ErrProtocol is wrapped by the errors for answers that break the
	// protocol: a wrong Content-Type, malformed or oversized CBOR.
	ErrProtocol = errors.New("introducer broke the introducer protocol")
	// ErrClosed is returned by the methods of a closed Client or Clients.
	ErrClosed = errors.New("introducer client closed")
)

// errTooLarge marks an announcement over MaxAnnouncementSize (413).
var errTooLarge = errors.New("too large")

// httpError is an error the server answers with its status code and
// message: the one place where server errors take their codes.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(format string, args ...any) *httpError {
	return &httpError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

// StatusError is the client's error for an answer with an unexpected
// status code. A 401 matches ErrUnauthorized with errors.Is.
type StatusError struct {
	Method, Path string
	Code         int
	// Message is the start of the answer's body, where the server says why.
	Message string
}

// Error implements error.
func (e *StatusError) Error() string {
	s := fmt.Sprintf("introducer: %s %s: %d %s", e.Method, e.Path, e.Code, http.StatusText(e.Code))
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Unwrap returns ErrUnauthorized for a 401, else nil.
func (e *StatusError) Unwrap() error {
	if e.Code == http.StatusUnauthorized {
		return ErrUnauthorized
	}
	return nil
}

// permanent reports whether a request that got this status would get it
// again: a bad request stays bad. 401 is not permanent, since the
// introducer's operator may fix it, nor are 429, 503 and 507.
func (e *StatusError) permanent() bool {
	switch e.Code {
	case http.StatusUnauthorized, http.StatusTooManyRequests, http.StatusInsufficientStorage:
		return false
	}
	return e.Code >= 400 && e.Code < 500
}

// authorization is the Authorization value for a swissnum, as the storage
// protocol's: "Tahoe-LAFS " + standard base64 of the swissnum's bytes.
// (storagehttp keeps its own copy unexported.)
func authorization(swissnum []byte) string {
	return authScheme + " " + base64.StdEncoding.EncodeToString(swissnum)
}

// authorized checks the first Authorization header against the hash of
// the expected value, in time independent of where they differ.
func authorized(r *http.Request, want [32]byte) bool {
	got := ""
	if v := r.Header.Values("Authorization"); len(v) > 0 {
		got = v[0]
	}
	h := sha256.Sum256([]byte(got))
	return subtle.ConstantTimeCompare(h[:], want[:]) == 1
}

// The messages on the wire (docs/introducer.md), each with its encoder and
// the decoder of the side that reads it. Encoders write maps with their
// keys in RFC 8949's core deterministic order (shorter keys first, then
// bytewise), which is how the protocol's bytes have always looked.
// Decoders take what the document allows: keys not known are skipped, a
// missing key leaves its field zero, each key appears once, integers are
// unsigned, byte strings are bstr and text is tstr.

// limits bound every message the protocol reads (a poll answer may hold
// many announcements, but no map has more than a few keys).
var limits = cbor.Limits{Depth: 8, Array: 1 << 20, Map: 1 << 10}

// message is a body of the protocol.
type message interface {
	encode(w *cbor.Writer)
}

// encode returns the CBOR of m.
func encode(m message) []byte {
	var w cbor.Writer
	m.encode(&w)
	return w.Bytes()
}

// wireSigned is a signed announcement on the wire: the CBOR array
// [msg: bstr, sig: tstr, key: tstr], Tahoe's (msg, sig, key) tuple.
type wireSigned struct {
	Msg []byte
	Sig string
	Key string
}

func toWire(s Signed) wireSigned    { return wireSigned(s) }
func (s wireSigned) signed() Signed { return Signed(s) }

func (s wireSigned) encode(w *cbor.Writer) {
	w.Array(3)
	w.ByteString(s.Msg)
	w.Text(s.Sig)
	w.Text(s.Key)
}

func readSigned(r *cbor.Reader) (s wireSigned, err error) {
	n := 0
	err = r.Array(3, func(i int) (err error) {
		n++
		switch i {
		case 0:
			var m []byte
			m, err = r.ByteString()
			s.Msg = bytes.Clone(m)
		case 1:
			s.Sig, err = r.Text()
		default:
			s.Key, err = r.Text()
		}
		return err
	})
	if err == nil && n != 3 {
		err = cbor.SchemaError("signed announcement of %d elements, want 3", n)
	}
	return s, err
}

// publishRequest is the body of POST /introducer/v1/publish:
//
//	{"announcement": signed-announcement}
type publishRequest struct {
	Announcement wireSigned
}

func (m publishRequest) encode(w *cbor.Writer) {
	w.Map(1)
	w.Text("announcement")
	m.Announcement.encode(w)
}

// Outcomes of a publish, as the server reports them.
const (
	outcomeNew       = "new"       // first announcement of (key, service)
	outcomeUpdated   = "updated"   // replaced one with a lower seqnum
	outcomeDuplicate = "duplicate" // the same message was already there
	outcomeStale     = "stale"     // one with an equal or higher seqnum was there
)

// publishResponse is the answer to a publish:
//
//	{"outcome": tstr, "version": uint}
type publishResponse struct {
	Outcome string
	Version uint64
}

func (m publishResponse) encode(w *cbor.Writer) {
	w.Map(2)
	w.Text("outcome")
	w.Text(m.Outcome)
	w.Text("version")
	w.Uint(m.Version)
}

func decodePublishResponse(b []byte) (m publishResponse, err error) {
	err = cbor.DecodeLimited(b, limits, func(r *cbor.Reader) error {
		return r.Fields(cbor.MajorText, cbor.Extensible, []string{"outcome", "version"}, func(i int) (err error) {
			if i == 0 {
				m.Outcome, err = r.Text()
			} else {
				m.Version, err = r.Uint()
			}
			return err
		})
	})
	return m, err
}

// pollResponse is the answer to GET /introducer/v1/announcements:
//
//	{"version": uint, "instance": bstr, "announcements": [* signed-announcement]}
type pollResponse struct {
	Version       uint64
	Instance      []byte
	Announcements []wireSigned
}

func (m pollResponse) encode(w *cbor.Writer) {
	n := 64 + len(m.Instance)
	for _, a := range m.Announcements {
		n += 16 + len(a.Msg) + len(a.Sig) + len(a.Key)
	}
	w.Grow(n)
	w.Map(3)
	w.Text("version")
	w.Uint(m.Version)
	w.Text("instance")
	w.ByteString(m.Instance)
	w.Text("announcements")
	w.Array(len(m.Announcements))
	for _, a := range m.Announcements {
		a.encode(w)
	}
}

// decodePoll decodes a poll answer, which must have an instance.
func decodePoll(b []byte) (m pollResponse, err error) {
	err = cbor.DecodeLimited(b, limits, func(r *cbor.Reader) error {
		return r.Fields(cbor.MajorText, cbor.Extensible, []string{"version", "instance", "announcements"}, func(i int) (err error) {
			switch i {
			case 0:
				m.Version, err = r.Uint()
			case 1:
				var inst []byte
				inst, err = r.ByteString()
				m.Instance = bytes.Clone(inst)
			default:
				m.Announcements = []wireSigned{}
				err = r.Array(math.MaxInt, func(int) error {
					s, err := readSigned(r)
					m.Announcements = append(m.Announcements, s)
					return err
				})
			}
			return err
		})
	})
	if err == nil && m.Instance == nil {
		err = errors.New(`answer has no "instance"`)
	}
	return m, err
}

// versionResponse is the answer to GET /introducer/v1/version:
//
//	{"application-version": bstr,
//	 "github.com/lafs/lafs/introducer/v1": {"maximum-wait": uint,
//	     "maximum-announcements": uint, "maximum-announcement-size": uint}}
type versionResponse struct {
	Protocol           versionParams
	ApplicationVersion []byte
}

type versionParams struct {
	MaximumWait              uint64
	MaximumAnnouncementSize  uint64
	MaximumAnnouncementCount uint64
}

func (m versionResponse) encode(w *cbor.Writer) {
	w.Map(2)
	w.Text("application-version")
	w.ByteString(m.ApplicationVersion)
	w.Text(protocolKey)
	w.Map(3)
	w.Text("maximum-wait")
	w.Uint(m.Protocol.MaximumWait)
	w.Text("maximum-announcements")
	w.Uint(m.Protocol.MaximumAnnouncementCount)
	w.Text("maximum-announcement-size")
	w.Uint(m.Protocol.MaximumAnnouncementSize)
}

// decodePublish decodes and checks the shape of a publish body.
func decodePublish(b []byte) (Signed, error) {
	var req publishRequest
	found := false
	err := cbor.DecodeLimited(b, limits, func(r *cbor.Reader) error {
		return r.Fields(cbor.MajorText, cbor.Extensible, []string{"announcement"}, func(int) (err error) {
			found = true
			req.Announcement, err = readSigned(r)
			return err
		})
	})
	if err != nil {
		return Signed{}, fmt.Errorf("body is not the publish schema: %v", err)
	}
	if !found {
		return Signed{}, errors.New(`body has no "announcement"`)
	}
	s := req.Announcement.signed()
	if err := checkShape(s); err != nil {
		return Signed{}, err
	}
	return s, nil
}

// checkShape checks the sizes of a signed announcement before its
// signature is checked.
func checkShape(s Signed) error {
	switch {
	case len(s.Msg) == 0:
		return errors.New("announcement message is empty")
	case len(s.Msg) > MaxAnnouncementSize:
		return fmt.Errorf("%w: announcement message is %d bytes, more than %d", errTooLarge, len(s.Msg), MaxAnnouncementSize)
	case len(s.Sig) > 256 || len(s.Key) > 256:
		return errors.New("announcement signature or key too long")
	}
	return nil
}

// checkAnnouncement checks what Verify leaves to the protocol: a
// service-name that is a valid name, and an integer seqnum from 0 to 2^53,
// which it returns.
func checkAnnouncement(a Announcement) (service string, seqnum int64, err error) {
	service = a.String("service-name")
	if !validServiceName(service) {
		return "", 0, fmt.Errorf("%w: service-name %q is not 1 to %d characters of [a-z0-9_.-]", ErrBadAnnouncement, service, maxServiceName)
	}
	f, ok := a["seqnum"].(float64)
	if !ok || f != math.Trunc(f) || f < 0 || f > maxSeqnum {
		return "", 0, fmt.Errorf("%w: seqnum %v is not an integer from 0 to 2^53", ErrBadAnnouncement, a["seqnum"])
	}
	return service, int64(f), nil
}

// validServiceName reports whether s is 1 to 64 characters of a-z, 0-9,
// '_', '.' and '-' (Tahoe's names are "storage" and, once, "stub_client").
func validServiceName(s string) bool {
	if s == "" || len(s) > maxServiceName {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}
