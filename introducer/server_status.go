package introducer

import (
	"encoding/json"
	"mime"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/lafs/lafs/cbor"
)

// ServerStatus describes an introducer for its web status page, as
// Tahoe's introweb.py does.
type ServerStatus struct {
	Announcements []AnnouncementInfo
	Subscribers   []SubscriberInfo
}

// AnnouncementInfo describes one announcement the introducer holds.
type AnnouncementInfo struct {
	ServerID    string
	ServiceName string
	Nickname    string
	Version     string // my-version
	Seqnum      int64
	When        time.Time // when it was published
	NURLs       []string  // anonymous-storage-NURLs
	// Hints are the connection hints of its anonymous-storage-FURL.
	Hints []string
	// Protocol is how it was published: "https" or "foolscap".
	Protocol string
}

// SubscriberInfo describes one subscriber: a client that polled recently.
type SubscriberInfo struct {
	ServiceName   string
	Nickname      string
	Version       string // my-version
	RemoteAddress string
	Since         time.Time // its first poll
	LastSeen      time.Time // the end of its last poll, or its start
	Polling       bool      // a poll of it is waiting now, or it is connected by Foolscap
	// Protocol is how it subscribed: "https" or "foolscap".
	Protocol string
	// TubID is a Foolscap subscriber's tub ID.
	TubID string
}

// Status returns the introducer's announcements, sorted by service name,
// nickname and server id, and its current subscribers, sorted by service
// name, nickname and the start of their subscription.
func (s *Server) Status() ServerStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	var st ServerStatus
	for name, svc := range s.services {
		for id, rec := range svc.anns {
			st.Announcements = append(st.Announcements, AnnouncementInfo{
				ServerID: id, ServiceName: name,
				Nickname: rec.ann.String("nickname"), Version: rec.ann.String("my-version"),
				Seqnum: rec.seqnum, When: rec.when, NURLs: rec.ann.NURLs(),
				Hints: furlHints(rec.ann.String("anonymous-storage-FURL")), Protocol: rec.protocol,
			})
		}
	}
	sort.Slice(st.Announcements, func(i, j int) bool {
		a, b := st.Announcements[i], st.Announcements[j]
		if a.ServiceName != b.ServiceName {
			return a.ServiceName < b.ServiceName
		}
		if a.Nickname != b.Nickname {
			return a.Nickname < b.Nickname
		}
		return a.ServerID < b.ServerID
	})
	s.pruneLocked(s.now())
	for _, sub := range s.subs {
		st.Subscribers = append(st.Subscribers, SubscriberInfo{
			ServiceName: sub.service, Nickname: sub.nickname, Version: sub.version,
			RemoteAddress: sub.remote, Since: sub.since, LastSeen: sub.lastSeen, Polling: sub.polling > 0,
			Protocol: sub.protocol, TubID: sub.tubID,
		})
	}
	sort.Slice(st.Subscribers, func(i, j int) bool {
		a, b := st.Subscribers[i], st.Subscribers[j]
		if a.ServiceName != b.ServiceName {
			return a.ServiceName < b.ServiceName
		}
		if a.Nickname != b.Nickname {
			return a.Nickname < b.Nickname
		}
		return a.Since.Before(b.Since)
	})
	return st
}

// AnnouncementSummary counts the announcements per service name (Tahoe's
// announcement_summary).
func (st ServerStatus) AnnouncementSummary() map[string]int {
	m := map[string]int{}
	for _, a := range st.Announcements {
		m[a.ServiceName]++
	}
	return m
}

// SubscriptionSummary counts the subscribers per service name (Tahoe's
// subscription_summary).
func (st ServerStatus) SubscriptionSummary() map[string]int {
	m := map[string]int{}
	for _, sub := range st.Subscribers {
		m[sub.ServiceName]++
	}
	return m
}

// wireStatus is ServerStatus on the wire: times are seconds since the
// epoch, as in Tahoe's JSON.
type wireStatus struct {
	AnnouncementSummary map[string]int     `json:"announcement_summary"`
	SubscriptionSummary map[string]int     `json:"subscription_summary"`
	Announcements       []wireAnnouncement `json:"announcements"`
	Subscribers         []wireSubscriber   `json:"subscribers"`
}

type wireAnnouncement struct {
	ServerID    string   `json:"server-id"`
	ServiceName string   `json:"service-name"`
	Nickname    string   `json:"nickname"`
	Version     string   `json:"my-version"`
	Seqnum      int64    `json:"seqnum"`
	Announced   float64  `json:"announced"`
	NURLs       []string `json:"anonymous-storage-NURLs"`
}

type wireSubscriber struct {
	ServiceName   string  `json:"service-name"`
	Nickname      string  `json:"nickname"`
	Version       string  `json:"my-version"`
	RemoteAddress string  `json:"remote-address"`
	Since         float64 `json:"since"`
	LastSeen      float64 `json:"last-seen"`
	Polling       bool    `json:"polling"`
}

// encode writes the status as CBOR, each map's keys in core
// deterministic order.
func (st wireStatus) encode(w *cbor.Writer) {
	w.Map(4)
	w.Text("subscribers")
	w.Array(len(st.Subscribers))
	for _, s := range st.Subscribers {
		s.encode(w)
	}
	w.Text("announcements")
	w.Array(len(st.Announcements))
	for _, a := range st.Announcements {
		a.encode(w)
	}
	w.Text("announcement_summary")
	writeCounts(w, st.AnnouncementSummary)
	w.Text("subscription_summary")
	writeCounts(w, st.SubscriptionSummary)
}

func (a wireAnnouncement) encode(w *cbor.Writer) {
	w.Map(7)
	w.Text("seqnum")
	w.Int(a.Seqnum)
	w.Text("nickname")
	w.Text(a.Nickname)
	w.Text("announced")
	w.Float(a.Announced)
	w.Text("server-id")
	w.Text(a.ServerID)
	w.Text("my-version")
	w.Text(a.Version)
	w.Text("service-name")
	w.Text(a.ServiceName)
	w.Text("anonymous-storage-NURLs")
	w.Array(len(a.NURLs))
	for _, n := range a.NURLs {
		w.Text(n)
	}
}

func (s wireSubscriber) encode(w *cbor.Writer) {
	w.Map(7)
	w.Text("since")
	w.Float(s.Since)
	w.Text("polling")
	w.Bool(s.Polling)
	w.Text("nickname")
	w.Text(s.Nickname)
	w.Text("last-seen")
	w.Float(s.LastSeen)
	w.Text("my-version")
	w.Text(s.Version)
	w.Text("service-name")
	w.Text(s.ServiceName)
	w.Text("remote-address")
	w.Text(s.RemoteAddress)
}

// writeCounts writes a map of counts with its keys sorted as their
// encodings sort: shorter first, then bytewise.
func writeCounts(w *cbor.Writer, m map[string]int) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if len(a) != len(b) {
			return len(a) - len(b)
		}
		return strings.Compare(a, b)
	})
	w.Map(len(keys))
	for _, k := range keys {
		w.Text(k)
		w.Int(int64(m[k]))
	}
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixMicro()) / 1e6 }

func (st ServerStatus) wire() wireStatus {
	w := wireStatus{
		AnnouncementSummary: st.AnnouncementSummary(),
		SubscriptionSummary: st.SubscriptionSummary(),
		Announcements:       []wireAnnouncement{},
		Subscribers:         []wireSubscriber{},
	}
	for _, a := range st.Announcements {
		nurls := a.NURLs
		if nurls == nil {
			nurls = []string{}
		}
		w.Announcements = append(w.Announcements, wireAnnouncement{a.ServerID, a.ServiceName, a.Nickname, a.Version, a.Seqnum, unixSeconds(a.When), nurls})
	}
	for _, sub := range st.Subscribers {
		w.Subscribers = append(w.Subscribers, wireSubscriber{sub.ServiceName, sub.Nickname, sub.Version, sub.RemoteAddress, unixSeconds(sub.Since), unixSeconds(sub.LastSeen), sub.Polling})
	}
	return w
}

func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request) {
	st := s.Status().wire()
	if wantsJSON(r.Header) {
		b, err := json.MarshalIndent(st, "", " ")
		if err != nil {
			writeError(w, err)
			return
		}
		w.Header().Set("Content-Type", mediaJSON)
		w.Write(append(b, '\n'))
		return
	}
	s.encode(w, st)
}

// wantsJSON reports whether the Accept header names application/json and
// not application/cbor.
func wantsJSON(h http.Header) bool {
	js := false
	for _, v := range h.Values("Accept") {
		for item := range strings.SplitSeq(v, ",") {
			t, _, err := mime.ParseMediaType(strings.TrimSpace(item))
			if err != nil {
				continue
			}
			switch t {
			case mediaCBOR:
				return false
			case mediaJSON:
				js = true
			}
		}
	}
	return js
}
