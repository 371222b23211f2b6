package introducer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lafs/lafs/introducer/foolscap"
)

// A grid of Foolscap and HTTPS nodes on one introducer sees one set of
// servers: what is published by either protocol reaches subscribers of
// both, and the introducer's status lists both kinds.
func TestFoolscapAndHTTPSMixedGrid(t *testing.T) {
	ti := startIntro(t)
	fooRec, httpRec := newRecorder(), newRecorder()
	fc := newFoolscapClient(t, newTub(t, "fc"), ti.FURL(), OnAnnouncement(fooRec.fn))
	hc := newTestClient(t, ti.NURL(), OnAnnouncement(httpRec.fn))

	tahoeNode, lafsNode := newNode("tahoe-s"), newNode("lafs-s")
	if err := fc.Publish(tahoeNode.storageAnn(t, 1)); err != nil {
		t.Fatal(err)
	}
	if err := hc.Publish(lafsNode.storageAnn(t, 1)); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*recorder{fooRec, httpRec} {
		waitFor(t, "both announcements", 10*time.Second, func() bool {
			return r.seqnum(tahoeNode.id()) == 1 && r.seqnum(lafsNode.id()) == 1
		})
	}
	// An update over Foolscap reaches the HTTPS subscriber.
	if err := fc.Publish(tahoeNode.storageAnn(t, 2)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the update", 10*time.Second, func() bool { return httpRec.seqnum(tahoeNode.id()) == 2 })
	if err := fc.Publish(tahoeNode.storageAnn(t, 2)); err == nil {
		t.Error("Publish accepted an older or equal seqnum with other content")
	}

	st := ti.Server.Status()
	protocols := map[string]string{}
	for _, a := range st.Announcements {
		protocols[a.Nickname] = a.Protocol
	}
	if protocols["tahoe-s"] != "foolscap" || protocols["lafs-s"] != "https" {
		t.Errorf("announcement protocols %v", protocols)
	}
	waitFor(t, "both subscribers listed", 10*time.Second, func() bool {
		subs := map[string]bool{}
		for _, s := range ti.Server.Status().Subscribers {
			subs[s.Protocol] = true
			if s.Protocol == "foolscap" && (s.TubID == "" || s.Nickname != "tester") {
				t.Errorf("foolscap subscriber %+v", s)
			}
		}
		return subs["foolscap"] && subs["https"]
	})
	fst := fc.Status()
	if !fst.Connected || fst.Protocol != "foolscap" || fst.Servers != 2 || contains(fst.Address, ti.swissnum) || fst.Hint != "tcp:"+ti.addr {
		t.Errorf("status %+v", fst)
	}
}

// A restarted introducer forgets everything; the Foolscap client
// reconnects, subscribes and publishes again.
func TestFoolscapReconnect(t *testing.T) {
	ti := startIntro(t)
	rec := newRecorder()
	fc := newFoolscapClient(t, newTub(t, "fc"), ti.FURL(), OnAnnouncement(rec.fn))
	other := newFoolscapClient(t, newTub(t, "other"), ti.FURL())
	n := newNode("s1")
	if err := other.Publish(n.storageAnn(t, 1)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the announcement", 10*time.Second, func() bool { return rec.seqnum(n.id()) == 1 })

	ti.stop()
	waitFor(t, "the client to notice", 10*time.Second, func() bool { return !fc.Status().Connected })
	if fc.Status().LastError == nil {
		t.Error("no LastError while disconnected")
	}
	waitFor(t, "a reconnection to be planned", 10*time.Second, func() bool {
		st := fc.Status()
		return !st.NextAttempt.IsZero() && !st.LastAttempt.IsZero()
	})
	ti.start()
	waitFor(t, "reconnection", 10*time.Second, func() bool { return fc.Status().Connected })
	// The new introducer got the announcement again from the publisher.
	waitFor(t, "republication", 10*time.Second, func() bool { return len(ti.Server.Status().Announcements) == 1 })
	if err := other.Publish(n.storageAnn(t, 5)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the new seqnum", 10*time.Second, func() bool { return rec.seqnum(n.id()) == 5 })
}

// liarIntroducer is a Foolscap introducer that relays what it is told to,
// to test that clients check signatures themselves.
type liarIntroducer struct {
	relay foolscap.Set
}

func (l *liarIntroducer) RemoteInterface() string { return publisherInterface }

func (l *liarIntroducer) RemoteCall(ctx context.Context, call *foolscap.Call) (any, error) {
	switch call.Method {
	case "get_version":
		return foolscap.Dict{{Key: []byte(foolscapV2), Value: foolscap.Dict{}}}, nil
	case "subscribe_v2":
		v, _ := call.Arg(0, "subscriber")
		ref := v.(*foolscap.RemoteRef)
		go ref.Call(context.Background(), "announce_v2", l.relay)
		return nil, nil
	case "publish_v2":
		return nil, nil
	}
	return nil, errors.New("no such method")
}

func TestFoolscapClientRejectsForgedAnnouncements(t *testing.T) {
	good, victim := newNode("good"), newNode("victim")
	g := good.storageAnn(t, 1)
	forged := victim.storageAnn(t, 1)
	forged.Msg = append([]byte(nil), forged.Msg...)
	forged.Msg[len(forged.Msg)-3] ^= 1 // the signature no longer matches
	wrongService := victim.storageAnn(t, 2)
	a, _ := Verify(wrongService)
	a["service-name"] = "stub_client"
	wrongService, _ = Sign(a, victim.key)
	liar := &liarIntroducer{relay: foolscap.Set{
		foolscap.Tuple{g.Msg, []byte(g.Sig), []byte(g.Key)},
		foolscap.Tuple{forged.Msg, []byte(forged.Sig), []byte(forged.Key)},
		foolscap.Tuple{wrongService.Msg, []byte(wrongService.Sig), []byte(wrongService.Key)},
		foolscap.Tuple{[]byte("x"), int64(3)},
	}}
	ln := listenLocal(t)
	srv := newTub(t, "liar")
	srv.SetLocation("tcp:" + ln.Addr().String())
	furl := srv.Register("liar-swiss", liar)
	go serveFoolscap(srv, ln)

	rec := newRecorder()
	fc := newFoolscapClient(t, newTub(t, "fc"), furl, OnAnnouncement(rec.fn))
	waitFor(t, "the relay", 10*time.Second, func() bool { return fc.Status().Rejected == 3 })
	if rec.count() != 1 || rec.seqnum(good.id()) != 1 {
		t.Errorf("accepted %d announcements", rec.count())
	}
}

// The introducer refuses announcements that do not verify.
func TestFoolscapPublishRefusesBadSignature(t *testing.T) {
	ti := startIntro(t)
	tub := newTub(t, "pub")
	ref, err := tub.Dial(context.Background(), ti.FURL())
	if err != nil {
		t.Fatal(err)
	}
	s := newNode("s").storageAnn(t, 1)
	s.Msg = append(append([]byte(nil), s.Msg[:len(s.Msg)-1]...), ' ', '}')
	_, err = ref.Call(context.Background(), "publish_v2", foolscap.Tuple{s.Msg, []byte(s.Sig), []byte(s.Key)}, &canaryObject{})
	var f *foolscap.Failure
	if !errors.As(err, &f) {
		t.Fatalf("publish of a bad signature: %v", err)
	}
	if n := len(ti.Server.Status().Announcements); n != 0 {
		t.Errorf("introducer holds %d announcements", n)
	}
	// get_version answers as Tahoe's does.
	v, err := ref.Call(context.Background(), "get_version")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := v.(foolscap.Dict).Get(foolscapV2); !ok {
		t.Errorf("get_version: %v", v)
	}
}

// Clients keeps each introducer's announcements in Tahoe's cache file and
// uses them when the introducer cannot be reached at start.
func TestClientsAnnouncementCache(t *testing.T) {
	dir := t.TempDir()
	ti := startIntro(t)
	n := newNode("cached")
	pub := newFoolscapClient(t, newTub(t, "pub"), ti.FURL())
	if err := pub.Publish(n.storageAnn(t, 7)); err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	cs := NewClients("me", rec.fn, append(fast(), WithFoolscapTub(newTub(t, "cs")), WithCacheDir(dir))...)
	if err := cs.Add("grid", ti.FURL()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the announcement", 10*time.Second, func() bool { return rec.seqnum(n.id()) == 7 })
	cs.Close()
	path := filepath.Join(dir, "introducer_grid_cache.yaml")
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("cache file: %v %v", fi, err)
	}

	ti.stop()
	rec2 := newRecorder()
	cs2 := NewClients("me", rec2.fn, append(fast(), WithFoolscapTub(newTub(t, "cs2")), WithCacheDir(dir))...)
	defer cs2.Close()
	if err := cs2.Add("grid", ti.FURL()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the cached announcement", 10*time.Second, func() bool { return rec2.seqnum(n.id()) == 7 })
	if cs2.Statuses()["grid"].Connected {
		t.Error("connected to a stopped introducer")
	}
}

func contains(s, sub string) bool { return sub != "" && strings.Contains(s, sub) }

// listenLocal listens on a free port of 127.0.0.1 until the test ends.
func listenLocal(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// serveFoolscap serves every connection of ln with tub until ln closes.
func serveFoolscap(tub *foolscap.Tub, ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go tub.ServeConn(context.Background(), c)
	}
}

// After Close, a Foolscap client passes nothing on, and the introducer
// sees its subscription end.
func TestFoolscapClientCloseStopsAnnouncements(t *testing.T) {
	ti := startIntro(t)
	rec := newRecorder()
	fc, err := NewFoolscapClient(newTub(t, "fc"), ti.FURL(), "closing", fast(OnAnnouncement(rec.fn))...)
	if err != nil {
		t.Fatal(err)
	}
	pub := newFoolscapClient(t, newTub(t, "pub"), ti.FURL())
	n := newNode("s")
	pub.Publish(n.storageAnn(t, 1))
	waitFor(t, "the announcement", 10*time.Second, func() bool { return rec.seqnum(n.id()) == 1 })
	fc.Close()
	pub.Publish(n.storageAnn(t, 2))
	waitFor(t, "the subscription to end", 10*time.Second, func() bool {
		for _, s := range ti.Server.Status().Subscribers {
			if s.Nickname == "closing" {
				return false
			}
		}
		return true
	})
	time.Sleep(100 * time.Millisecond)
	if rec.seqnum(n.id()) != 1 {
		t.Error("an announcement was passed on after Close")
	}
}

// One Foolscap node may subscribe to a few services only, so that it
// cannot fill the introducer's table of subscribers.
func TestFoolscapSubscriptionsPerNode(t *testing.T) {
	ti := startIntro(t)
	ref, err := newTub(t, "greedy").Dial(context.Background(), ti.FURL())
	if err != nil {
		t.Fatal(err)
	}
	sub := &subscriberObject{c: &FoolscapClient{ctx: context.Background()}}
	for i := range maxServicesPerTub + 1 {
		_, err := ref.Call(context.Background(), "subscribe_v2", sub, []byte(fmt.Sprintf("svc%d", i)), foolscap.Dict{})
		if (err == nil) != (i < maxServicesPerTub) {
			t.Fatalf("subscription %d: %v", i, err)
		}
	}
	// Subscribing again to one of its services is fine.
	if _, err := ref.Call(context.Background(), "subscribe_v2", sub, []byte("svc0"), foolscap.Dict{}); err != nil {
		t.Fatal(err)
	}
}
