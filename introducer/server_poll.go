package introducer

import (
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// waitRE is the grammar of the wait parameter: decimal seconds with at
// most three decimals.
var waitRE = regexp.MustCompile(`^[0-9]{1,9}(\.[0-9]{1,3})?$`)

// pollQuery is the parsed query of a poll.
type pollQuery struct {
	service  string
	after    uint64
	hasAfter bool
	wait     time.Duration
}

func parsePollQuery(q url.Values) (pollQuery, error) {
	var p pollQuery
	one := func(k string) (string, bool, error) {
		v, ok := q[k]
		if !ok {
			return "", false, nil
		}
		if len(v) != 1 {
			return "", false, badRequest("query parameter %q given %d times", k, len(v))
		}
		return v[0], true, nil
	}
	svc, ok, err := one("service")
	if err != nil {
		return p, err
	}
	if !ok || !validServiceName(svc) {
		return p, badRequest("query parameter service must be 1 to %d characters of [a-z0-9_.-]", maxServiceName)
	}
	p.service = svc
	after, ok, err := one("after")
	if err != nil {
		return p, err
	}
	if ok {
		if after == "" || after[0] < '0' || after[0] > '9' {
			return p, badRequest("query parameter after must be a decimal version")
		}
		if p.after, err = strconv.ParseUint(after, 10, 64); err != nil {
			return p, badRequest("query parameter after must be a decimal version")
		}
		p.hasAfter = true
	}
	wait, ok, err := one("wait")
	if err != nil {
		return p, err
	}
	if ok {
		if !waitRE.MatchString(wait) {
			return p, badRequest("query parameter wait must be decimal seconds")
		}
		f, _ := strconv.ParseFloat(wait, 64)
		p.wait = time.Duration(f * float64(time.Second))
	}
	return p, nil
}

// parseSubscriber reads the X-Lafs-Subscriber header.
func parseSubscriber(h http.Header) (id, nickname, version string, err error) {
	v := h.Values(headerSubscriber)
	if len(v) == 0 {
		return "", "", "", nil
	}
	if len(v) > 1 {
		return "", "", "", badRequest("%s given %d times", headerSubscriber, len(v))
	}
	q, perr := url.ParseQuery(v[0])
	if perr != nil {
		return "", "", "", badRequest("%s: %v", headerSubscriber, perr)
	}
	get := func(k string) (string, error) {
		s := q.Get(k)
		if len(s) > maxSubscriberField || !utf8.ValidString(s) {
			return "", badRequest("%s: %s is longer than %d bytes or not UTF-8", headerSubscriber, k, maxSubscriberField)
		}
		return s, nil
	}
	if id, err = get("id"); err != nil {
		return
	}
	if nickname, err = get("nickname"); err != nil {
		return
	}
	version, err = get("my-version")
	return
}

func (s *Server) handlePoll(w http.ResponseWriter, r *http.Request) {
	q, err := parsePollQuery(r.URL.Query())
	if err != nil {
		writeError(w, err)
		return
	}
	id, nickname, version, err := parseSubscriber(r.Header)
	if err != nil {
		writeError(w, err)
		return
	}
	wait := min(q.wait, s.maxWait)
	if !q.hasAfter {
		wait = 0
	}

	s.mu.Lock()
	if wait > 0 && s.polls >= maxPolls {
		s.mu.Unlock()
		writeError(w, &httpError{http.StatusServiceUnavailable, "too many polls waiting"})
		return
	}
	s.polls++
	sub := s.trackLocked(q.service, id, nickname, version, r.RemoteAddr)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.polls--
		if sub != nil {
			sub.polling--
			sub.lastSeen = s.now()
		}
		s.mu.Unlock()
	}()

	var timeout <-chan time.Time
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		timeout = t.C
	}
	for {
		s.mu.Lock()
		svc := s.services[q.service]
		ver, ch := s.start, s.created
		if svc != nil {
			ver, ch = svc.version, svc.changed
		}
		if wait == 0 || ver != q.after {
			b := s.answerLocked(svc)
			s.mu.Unlock()
			writeCBOR(w, http.StatusOK, b)
			return
		}
		s.mu.Unlock()
		select {
		case <-ch:
		case <-timeout:
			wait = 0
		case <-r.Context().Done():
			return
		case <-s.closing:
			writeError(w, &httpError{http.StatusServiceUnavailable, "introducer is shutting down"})
			return
		}
	}
}

// answerLocked encodes (or reuses) the poll answer for a service.
func (s *Server) answerLocked(svc *service) []byte {
	if svc == nil {
		return encode(pollResponse{Version: s.start, Instance: s.instance, Announcements: []wireSigned{}})
	}
	if svc.answer != nil {
		return svc.answer
	}
	keys := make([]string, 0, len(svc.anns))
	for k := range svc.anns {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	resp := pollResponse{Version: svc.version, Instance: s.instance, Announcements: make([]wireSigned, len(keys))}
	for i, k := range keys {
		resp.Announcements[i] = toWire(svc.anns[k].signed)
	}
	svc.answer = encode(resp)
	return svc.answer
}

// trackLocked notes a poll for the status page and returns its
// subscriber (nil when the table is full).
func (s *Server) trackLocked(service, id, nickname, version, remote string) *subscriber {
	now := s.now()
	host := remote
	if i := strings.LastIndexByte(remote, ':'); i > 0 {
		host = remote[:i]
	}
	key := service + "\x00" + id
	if id == "" {
		key += "\x00" + host + "\x00" + nickname
	}
	sub := s.subs[key]
	if sub == nil {
		if len(s.subs) >= maxSubscribers {
			s.pruneLocked(now)
		}
		if len(s.subs) >= maxSubscribers {
			return nil
		}
		sub = &subscriber{service: service, since: now, protocol: "https"}
		s.subs[key] = sub
	}
	sub.nickname, sub.version, sub.remote = nickname, version, remote
	sub.lastSeen = now
	sub.polling++
	return sub
}

// pruneLocked forgets the subscribers that stopped polling.
func (s *Server) pruneLocked(now time.Time) {
	for k, sub := range s.subs {
		if sub.polling == 0 && now.Sub(sub.lastSeen) > s.maxWait+subscriberGrace {
			delete(s.subs, k)
		}
	}
}
