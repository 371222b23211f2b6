package introducer

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/lafs/lafs/introducer/foolscap"
)

// furlHints returns the connection hints of a fURL ("" gives none).
func furlHints(s string) []string {
	f, err := foolscap.ParseFURL(s)
	if err != nil {
		return nil
	}
	return f.Hints
}

// maxServicesPerTub bounds the services one Foolscap node subscribes to
// (Tahoe's subscribe to one, "storage").
const maxServicesPerTub = 8

// FoolscapService returns the introducer as the Foolscap object Tahoe's
// nodes call (RIIntroducerPublisherAndSubscriberService_v2): register it
// on the node's tub under the introducer's swissnum. Announcements
// published over Foolscap and over HTTPS go into one table, and each kind
// of subscriber sees them all, so a grid of Tahoe and lafs nodes sees one
// set of servers.
func (s *Server) FoolscapService() foolscap.Object { return &foolscapService{s} }

type foolscapService struct{ s *Server }

func (f *foolscapService) RemoteInterface() string { return publisherInterface }

func (f *foolscapService) RemoteCall(ctx context.Context, call *foolscap.Call) (any, error) {
	s := f.s
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("the introducer is shutting down")
	}
	switch call.Method {
	case "get_version":
		if err := call.CheckArgs(); err != nil {
			return nil, err
		}
		return foolscap.Dict{
			{Key: []byte(foolscapV2), Value: foolscap.Dict{}},
			{Key: []byte("application-version"), Value: []byte(s.appVer)},
		}, nil
	case "publish_v2":
		if err := call.CheckArgs("announcement", "canary"); err != nil {
			return nil, err
		}
		v, _ := call.Arg(0, "announcement")
		signed, err := signedFromFoolscap(v)
		if err != nil {
			return nil, err
		}
		ann, err := Verify(signed)
		if err != nil {
			return nil, err
		}
		name, seqnum, err := checkAnnouncement(ann)
		if err != nil {
			return nil, err
		}
		outcome, _, err := s.publish(name, seqnum, signed, ann, "foolscap")
		if err != nil {
			return nil, err
		}
		s.log.Debug("introducer: publish", "service", name, "server", signed.Key, "seqnum", seqnum, "outcome", outcome, "protocol", "foolscap")
		return nil, nil
	case "subscribe_v2":
		if err := call.CheckArgs("subscriber", "service_name", "subscriber_info"); err != nil {
			return nil, err
		}
		v, _ := call.Arg(0, "subscriber")
		ref, ok := v.(*foolscap.RemoteRef)
		if !ok || ref.Interface() != subscriberInterface {
			return nil, fmt.Errorf("subscribe_v2: the subscriber is not a reference to an %s", subscriberInterface)
		}
		v, _ = call.Arg(1, "service_name")
		name, ok := foolscap.Bytes(v)
		if !ok || !validServiceName(string(name)) {
			return nil, fmt.Errorf("subscribe_v2: bad service name")
		}
		v, _ = call.Arg(2, "subscriber_info")
		info, _ := v.(foolscap.Dict)
		return nil, f.subscribe(ref, string(name), info)
	}
	return nil, fmt.Errorf("no method %q", call.Method)
}

// infoText returns a text field of a subscriber_info dict.
func infoText(info foolscap.Dict, key string) string {
	v, ok := info.Get(key)
	if !ok {
		return ""
	}
	b, ok := foolscap.Bytes(v)
	if !ok {
		return ""
	}
	return truncateUTF8(strings.ToValidUTF8(string(b), "\uFFFD"), maxSubscriberField)
}

// subscribe registers a Foolscap subscriber and starts sending it the
// service's announcements: all of them at once, then each change, one
// call at a time, for as long as its connection lives.
func (f *foolscapService) subscribe(ref *foolscap.RemoteRef, service string, info foolscap.Dict) error {
	s := f.s
	conn := ref.Conn()
	now := s.now()
	key := service + "\x00foolscap\x00" + conn.PeerTubID()
	sub := &subscriber{
		service: service, nickname: infoText(info, "nickname"), version: infoText(info, "my-version"),
		remote: conn.RemoteAddr().String(), protocol: "foolscap", tubID: conn.PeerTubID(),
		since: now, lastSeen: now, polling: 1, stop: make(chan struct{}),
	}
	s.mu.Lock()
	old := s.subs[key]
	if old == nil {
		n := 0
		for _, o := range s.subs {
			if o.protocol == "foolscap" && o.tubID == sub.tubID {
				n++
			}
		}
		if n >= maxServicesPerTub {
			s.mu.Unlock()
			return fmt.Errorf("subscribed to %d services already, the most one node may", n)
		}
	}
	if old == nil && len(s.subs) >= maxSubscribers {
		s.pruneLocked(now)
	}
	if old == nil && len(s.subs) >= maxSubscribers {
		s.mu.Unlock()
		return fmt.Errorf("the introducer serves its maximum of %d subscribers", maxSubscribers)
	}
	s.subs[key] = sub
	s.mu.Unlock()
	if old != nil && old.stop != nil {
		close(old.stop) // the same tub subscribed again: the new feed replaces it
	}
	go func() {
		defer func() {
			s.mu.Lock()
			if s.subs[key] == sub {
				delete(s.subs, key)
			}
			s.mu.Unlock()
		}()
		sent := map[string][]byte{}
		for {
			batch, changed := f.changes(service, sent)
			if len(batch) > 0 {
				// A lost connection fails the call at once.
				ctx, cancel := context.WithTimeout(context.Background(), foolscapCallTimeout)
				_, err := ref.Call(ctx, "announce_v2", batch)
				cancel()
				if err != nil {
					if conn.Err() == nil {
						s.log.Debug("introducer: announce_v2 failed", "subscriber", conn.PeerTubID(), "err", err)
						conn.Close()
					}
					return
				}
				s.mu.Lock()
				sub.lastSeen = s.now()
				s.mu.Unlock()
			}
			select {
			case <-changed:
			case <-conn.Done():
				return
			case <-s.closing:
				return
			case <-sub.stop:
				return
			}
		}
	}()
	return nil
}

// changes returns the announcements of service that differ from what sent
// holds (updating it), as a set of Tahoe's announcement tuples, and a
// channel closed at the next change.
func (f *foolscapService) changes(service string, sent map[string][]byte) (foolscap.Set, <-chan struct{}) {
	s := f.s
	s.mu.Lock()
	defer s.mu.Unlock()
	svc := s.services[service]
	if svc == nil {
		return nil, s.created
	}
	keys := make([]string, 0, len(svc.anns))
	for k, rec := range svc.anns {
		if string(sent[k]) != string(rec.signed.Msg) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var batch foolscap.Set
	for _, k := range keys {
		rec := svc.anns[k]
		sent[k] = rec.signed.Msg
		batch = append(batch, foolscap.Tuple{rec.signed.Msg, []byte(rec.signed.Sig), []byte(rec.signed.Key)})
	}
	return batch, svc.changed
}
