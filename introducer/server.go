package introducer

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Defaults of the server's limits.
const (
	// DefaultMaxAnnouncements bounds the announcement table.
	DefaultMaxAnnouncements = 10000
	// DefaultMaxWait bounds how long a poll waits for a change.
	DefaultMaxWait = 5 * time.Minute
	// maxSubscribers bounds the subscribers tracked for the status page.
	maxSubscribers = 10000
	// maxPolls bounds the polls waiting at once; more get 503.
	maxPolls = 10000
	// subscriberGrace is how long after its last poll a subscriber is
	// still listed (beyond the longest wait).
	subscriberGrace = time.Minute
)

// Server is an introducer: it keeps the newest signed announcement of each
// (server id, service name), checking every signature, and answers
// subscribers' long polls. It keeps its table in memory (publishers
// re-publish when they notice a new instance). Serve Handler over TLS with
// the node's certificate, whose SPKI hash the introducer's NURL pins; a
// Server is safe for concurrent use.
type Server struct {
	auth     [32]byte // SHA-256 of the expected Authorization value
	noAuth   bool     // an empty swissnum authorizes nobody
	instance []byte
	log      *slog.Logger
	appVer   string
	maxAnns  int
	maxWait  time.Duration
	now      func() time.Time
	closing  chan struct{}

	mu       sync.Mutex
	closed   bool
	start    uint64 // the first version, of every service not yet announced
	clock    uint64 // the last version given out
	count    int    // announcements in all services
	services map[string]*service
	created  chan struct{} // closed (and replaced) when a service appears
	subs     map[string]*subscriber
	polls    int
}

// service holds the announcements of one service name.
type service struct {
	version uint64
	changed chan struct{} // closed (and replaced) on every change
	anns    map[string]*record
	answer  []byte // the encoded poll answer of this version, once made
}

type record struct {
	signed   Signed
	ann      Announcement
	seqnum   int64
	when     time.Time
	protocol string // how it came: "https" or "foolscap"
}

type subscriber struct {
	service, nickname, version, remote string
	protocol                           string // "https" or "foolscap"
	tubID                              string // a Foolscap subscriber's tub
	since, lastSeen                    time.Time
	polling                            int           // polls waiting, or 1 while a Foolscap subscriber is connected
	stop                               chan struct{} // closed to stop a Foolscap subscriber's feed
}

// ServerOption configures NewServer.
type ServerOption func(*Server)

// WithMaxAnnouncements bounds the number of announcements kept
// (DefaultMaxAnnouncements unless set); a publish of a new one beyond it
// gets 507.
func WithMaxAnnouncements(n int) ServerOption { return func(s *Server) { s.maxAnns = max(n, 1) } }

// WithMaxWait bounds how long a poll waits (DefaultMaxWait unless set).
func WithMaxWait(d time.Duration) ServerOption { return func(s *Server) { s.maxWait = max(d, 0) } }

// WithServerLogger sets where the server logs (slog.Default unless set).
func WithServerLogger(l *slog.Logger) ServerOption { return func(s *Server) { s.log = l } }

// WithApplicationVersion sets the application-version of the version
// answer (for instance "lafs/0.1").
func WithApplicationVersion(v string) ServerOption { return func(s *Server) { s.appVer = v } }

// NewServer returns an introducer that authorizes requests carrying
// swissnum (the path of its NURL). An empty swissnum authorizes nobody.
func NewServer(swissnum []byte, opts ...ServerOption) *Server {
	s := &Server{
		auth:     sha256.Sum256([]byte(authorization(swissnum))),
		noAuth:   len(swissnum) == 0,
		instance: make([]byte, 16),
		log:      slog.Default(),
		appVer:   "lafs",
		maxAnns:  DefaultMaxAnnouncements,
		maxWait:  DefaultMaxWait,
		now:      time.Now,
		closing:  make(chan struct{}),
		services: map[string]*service{},
		created:  make(chan struct{}),
		subs:     map[string]*subscriber{},
	}
	rand.Read(s.instance)
	for _, o := range opts {
		o(s)
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	// Versions start at the time in microseconds so that a restarted
	// introducer does not repeat the versions its subscribers saw.
	s.start = uint64(s.now().UnixMicro())
	s.clock = s.start
	return s
}

// Close makes the server refuse further requests with 503 and answers the
// waiting polls with 503 at once. It does not close connections: shut
// the http.Server down for that.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.closing)
	}
	return nil
}

// Handler returns the HTTP handler of the protocol's endpoints, all under
// /introducer/v1/ (docs/introducer.md). Every request must carry the
// swissnum. The caller serves the handler over TLS with the node's
// certificate (nurl.ServerTLSConfig), for instance with storagehttp.NewServer; the http.Server
// must have no WriteTimeout shorter than the longest poll (WithMaxWait).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+pathVersion, s.handleVersion)
	mux.HandleFunc("POST "+pathPublish, s.handlePublish)
	mux.HandleFunc("GET "+pathAnnouncements, s.handlePoll)
	mux.HandleFunc("GET "+pathStatus, s.handleStatus)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			// A handler must never take the process down.
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.Error("introducer: panic in handler", "path", r.URL.Path, "panic", p)
				writeError(w, &httpError{http.StatusInternalServerError, "internal error"})
			}
		}()
		if s.noAuth || !authorized(r, s.auth) {
			writeError(w, &httpError{http.StatusUnauthorized, "wrong Authorization header"})
			return
		}
		s.mu.Lock()
		closed := s.closed
		s.mu.Unlock()
		if closed {
			writeError(w, &httpError{http.StatusServiceUnavailable, "introducer is shutting down"})
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func writeError(w http.ResponseWriter, err error) {
	var he *httpError
	if !errors.As(err, &he) {
		he = &httpError{http.StatusInternalServerError, err.Error()}
	}
	if he.code == http.StatusServiceUnavailable || he.code == http.StatusInsufficientStorage {
		w.Header().Set("Retry-After", "5")
	}
	http.Error(w, he.msg, he.code)
}

func writeCBOR(w http.ResponseWriter, code int, b []byte) {
	w.Header().Set("Content-Type", mediaCBOR)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(code)
	w.Write(b)
}

func (s *Server) encode(w http.ResponseWriter, m message) {
	writeCBOR(w, http.StatusOK, encode(m))
}

func (s *Server) handleVersion(w http.ResponseWriter, r *http.Request) {
	s.encode(w, versionResponse{
		Protocol: versionParams{
			MaximumWait:              uint64(s.maxWait / time.Second),
			MaximumAnnouncementSize:  MaxAnnouncementSize,
			MaximumAnnouncementCount: uint64(s.maxAnns),
		},
		ApplicationVersion: []byte(s.appVer),
	})
}

func (s *Server) handlePublish(w http.ResponseWriter, r *http.Request) {
	if t := requestMediaType(r.Header); t != mediaCBOR {
		writeError(w, &httpError{http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Type %q is not %s", t, mediaCBOR)})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxPublishBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, &httpError{http.StatusRequestEntityTooLarge, fmt.Sprintf("body longer than %d bytes", maxPublishBody)})
			return
		}
		writeError(w, badRequest("reading body: %v", err))
		return
	}
	signed, err := decodePublish(body)
	if errors.Is(err, errTooLarge) {
		writeError(w, &httpError{http.StatusRequestEntityTooLarge, err.Error()})
		return
	}
	if err != nil {
		writeError(w, badRequest("%v", err))
		return
	}
	ann, err := Verify(signed)
	if err != nil {
		writeError(w, badRequest("%v", err))
		return
	}
	name, seqnum, err := checkAnnouncement(ann)
	if err != nil {
		writeError(w, badRequest("%v", err))
		return
	}
	outcome, version, err := s.publish(name, seqnum, signed, ann, "https")
	if err != nil {
		writeError(w, err)
		return
	}
	s.log.Debug("introducer: publish", "service", name, "server", signed.Key, "seqnum", seqnum, "outcome", outcome)
	s.encode(w, publishResponse{Outcome: outcome, Version: version})
}

// publish enters an announcement in the table, keeping per (service, key)
// only the one with the highest seqnum.
func (s *Server) publish(name string, seqnum int64, signed Signed, ann Announcement, protocol string) (string, uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	svc := s.services[name]
	if svc != nil {
		if old := svc.anns[signed.Key]; old != nil {
			switch {
			case bytes.Equal(old.signed.Msg, signed.Msg):
				return outcomeDuplicate, svc.version, nil
			case seqnum <= old.seqnum:
				return outcomeStale, svc.version, nil
			}
			svc.anns[signed.Key] = &record{signed, ann, seqnum, s.now(), protocol}
			s.changedLocked(svc)
			return outcomeUpdated, svc.version, nil
		}
	}
	if s.count >= s.maxAnns {
		return "", 0, &httpError{http.StatusInsufficientStorage, fmt.Sprintf("introducer holds its maximum of %d announcements", s.maxAnns)}
	}
	if svc == nil {
		svc = &service{changed: make(chan struct{}), anns: map[string]*record{}}
		s.services[name] = svc
		close(s.created)
		s.created = make(chan struct{})
	}
	svc.anns[signed.Key] = &record{signed, ann, seqnum, s.now(), protocol}
	s.count++
	s.changedLocked(svc)
	return outcomeNew, svc.version, nil
}

func (s *Server) changedLocked(svc *service) {
	s.clock++
	svc.version = s.clock
	svc.answer = nil
	close(svc.changed)
	svc.changed = make(chan struct{})
}

// requestMediaType is the media type of a request body; none means CBOR.
func requestMediaType(h http.Header) string {
	v := h.Get("Content-Type")
	if v == "" {
		return mediaCBOR
	}
	t, _, err := mime.ParseMediaType(v)
	if err != nil {
		return v
	}
	return t
}
