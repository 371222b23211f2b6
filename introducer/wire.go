package introducer

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net/http"

	"github.com/fxamacker/cbor/v2"
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
	// ErrFoolscap is returned by NewClient (and Clients.Add) for a Foolscap
	// fURL, which has no "#v=1" fragment: callers log it and go on.
	ErrFoolscap = errors.New("Tahoe's Foolscap introducers are not supported yet; list the storage servers in private/servers.yaml")
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

// wireSigned is a signed announcement on the wire: the CBOR array
// [msg: bstr, sig: tstr, key: tstr], Tahoe's (msg, sig, key) tuple.
type wireSigned struct {
	_   struct{} `cbor:",toarray"`
	Msg []byte
	Sig string
	Key string
}

func toWire(s Signed) wireSigned    { return wireSigned{Msg: s.Msg, Sig: s.Sig, Key: s.Key} }
func (w wireSigned) signed() Signed { return Signed{Msg: w.Msg, Sig: w.Sig, Key: w.Key} }

// publishRequest is the body of POST /introducer/v1/publish.
type publishRequest struct {
	Announcement *wireSigned `cbor:"announcement"`
}

// Outcomes of a publish, as the server reports them.
const (
	outcomeNew       = "new"       // first announcement of (key, service)
	outcomeUpdated   = "updated"   // replaced one with a lower seqnum
	outcomeDuplicate = "duplicate" // the same message was already there
	outcomeStale     = "stale"     // one with an equal or higher seqnum was there
)

// publishResponse is the answer to a publish.
type publishResponse struct {
	Outcome string `cbor:"outcome"`
	Version uint64 `cbor:"version"`
}

// pollResponse is the answer to GET /introducer/v1/announcements.
type pollResponse struct {
	Version       uint64       `cbor:"version"`
	Instance      []byte       `cbor:"instance"`
	Announcements []wireSigned `cbor:"announcements"`
}

// versionResponse is the answer to GET /introducer/v1/version.
type versionResponse struct {
	Protocol           versionParams `cbor:"github.com/lafs/lafs/introducer/v1"`
	ApplicationVersion []byte        `cbor:"application-version"`
}

type versionParams struct {
	MaximumWait              uint64 `cbor:"maximum-wait"`
	MaximumAnnouncementSize  uint64 `cbor:"maximum-announcement-size"`
	MaximumAnnouncementCount uint64 `cbor:"maximum-announcements"`
}

var (
	encMode cbor.EncMode
	decMode cbor.DecMode
)

func init() {
	var err error
	if encMode, err = cbor.CoreDetEncOptions().EncMode(); err != nil {
		panic(err)
	}
	decMode, err = cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		MaxNestedLevels:  8,
		MaxArrayElements: 1 << 20,
		MaxMapPairs:      1 << 10,
		IndefLength:      cbor.IndefLengthAllowed,
		UTF8:             cbor.UTF8RejectInvalid,
	}.DecMode()
	if err != nil {
		panic(err)
	}
}

// decodePublish decodes and checks the shape of a publish body.
func decodePublish(b []byte) (Signed, error) {
	var req publishRequest
	if err := decMode.Unmarshal(b, &req); err != nil {
		return Signed{}, fmt.Errorf("body is not the publish schema: %v", err)
	}
	if req.Announcement == nil {
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

// decodePoll decodes a poll answer.
func decodePoll(b []byte) (pollResponse, error) {
	var resp pollResponse
	if err := decMode.Unmarshal(b, &resp); err != nil {
		return resp, err
	}
	if resp.Instance == nil {
		return resp, errors.New(`answer has no "instance"`)
	}
	return resp, nil
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
