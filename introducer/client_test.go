package introducer

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/grid"
	"github.com/lafs/lafs/nurl"
)

func TestRoundTrip(t *testing.T) {
	ti := startIntro(t)
	server := newNode("server1")
	pubc := newTestClient(t, ti.NURL())
	if err := pubc.Publish(server.storageAnn(t, 1)); err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	newTestClient(t, ti.NURL(), OnAnnouncement(rec.fn))
	waitFor(t, "the announcement", 5*time.Second, func() bool { return rec.seqnum(server.id()) == 1 })

	// What the node does with it: feed the storage broker.
	rec.mu.Lock()
	ann := rec.last[server.id()]
	rec.mu.Unlock()
	ga, err := grid.AnnouncementFromMap(ann)
	if err != nil {
		t.Fatal(err)
	}
	if ga.Nickname != "server1" || ga.Seqnum != 1 || len(ga.NURLs) != 1 || ga.FURL == "" {
		t.Errorf("grid announcement: %+v", ga)
	}
	b := grid.NewBroker(func(context.Context, string) (lafs.StorageServer, error) {
		return nil, errors.New("no dialing in this test")
	}, quietLog())
	defer b.Close()
	if err := b.Add(server.id(), ga); err != nil {
		t.Fatal(err)
	}
	if st := b.States(); len(st) != 1 || st[0].ID != server.id() {
		t.Errorf("broker states: %+v", st)
	}

	waitFor(t, "the publisher to see it", 5*time.Second, func() bool { return pubc.Status().Servers == 1 })
	if st := pubc.Status(); !st.Connected || st.LastError != nil || strings.Contains(st.Address, ti.swissnum) {
		t.Errorf("publisher status: %+v", st)
	}
	// The introducer lists both clients as subscribers.
	waitFor(t, "two subscribers", 5*time.Second, func() bool {
		s := ti.Server.Status().Subscribers
		return len(s) == 2 && s[0].Nickname == "tester"
	})
}

func TestClientSeqnums(t *testing.T) {
	ti := startIntro(t)
	server := newNode("s")
	pubc := newTestClient(t, ti.NURL())
	rec := newRecorder()
	newTestClient(t, ti.NURL(), OnAnnouncement(rec.fn))

	pubc.Publish(server.storageAnn(t, 1))
	waitFor(t, "seqnum 1", 5*time.Second, func() bool { return rec.seqnum(server.id()) == 1 })
	if err := pubc.Publish(server.storageAnn(t, 2)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "seqnum 2", 5*time.Second, func() bool { return rec.seqnum(server.id()) == 2 })
	// The client refuses to go back.
	if err := pubc.Publish(server.storageAnn(t, 1)); !errors.Is(err, ErrBadAnnouncement) {
		t.Errorf("publish of an older seqnum: %v", err)
	}
	// Another publisher of the same key with an old seqnum is ignored by
	// the introducer; and a newer one goes through.
	if out := ti.publishRaw(t, server.storageAnn(t, 1)); out.Outcome != outcomeStale {
		t.Errorf("outcome %q", out.Outcome)
	}
	ti.publishRaw(t, server.storageAnn(t, 5))
	waitFor(t, "seqnum 5", 5*time.Second, func() bool { return rec.seqnum(server.id()) == 5 })
	if n := rec.count(); n != 3 {
		t.Errorf("%d deliveries, want 3 (1, 2, 5)", n)
	}
}

func TestPinning(t *testing.T) {
	ti := startIntro(t)
	wrong := "pb://" + spkiHash(t, testCert(t, "impostor").Leaf) + "@" + ti.addr + "/" + ti.swissnum + "#v=1"
	c := newTestClient(t, wrong)
	waitFor(t, "an error", 5*time.Second, func() bool { return c.Status().LastError != nil })
	if st := c.Status(); !errors.Is(st.LastError, nurl.ErrPin) || st.Connected {
		t.Errorf("status: %+v", st)
	}
	if len(ti.Server.Status().Subscribers) != 0 {
		t.Error("a request got through")
	}
}

func TestLongPollWakesPromptly(t *testing.T) {
	ti := startIntro(t)
	rec := newRecorder()
	newTestClient(t, ti.NURL(), OnAnnouncement(rec.fn), WithPollWait(30*time.Second))
	waitFor(t, "a waiting poll", 5*time.Second, func() bool {
		s := ti.Server.Status().Subscribers
		return len(s) == 1 && s[0].Polling
	})
	time.Sleep(200 * time.Millisecond) // surely waiting now
	n := newNode("n")
	start := time.Now()
	ti.publishRaw(t, n.storageAnn(t, 1))
	select {
	case <-rec.ch:
	case <-time.After(10 * time.Second):
		t.Fatal("no announcement")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("announcement arrived after %v", d)
	}
}

func TestTwoIntroducersOneDown(t *testing.T) {
	up := startIntro(t)
	down := newIntro(t, "intro2", "swiss2")
	rec := newRecorder()
	cs := NewClients("me", rec.fn, fast()...)
	defer cs.Close()
	if err := cs.Add("up", up.NURL()); err != nil {
		t.Fatal(err)
	}
	if err := cs.Add("down", down.NURL()); err != nil {
		t.Fatal(err)
	}
	if err := cs.Add("up", up.NURL()); err == nil {
		t.Error("petname used twice")
	}
	s := newNode("s")
	if err := cs.Publish(s.storageAnn(t, 1)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the announcement through the live introducer", 5*time.Second, func() bool { return rec.seqnum(s.id()) == 1 })
	waitFor(t, "the down one's error", 5*time.Second, func() bool { return cs.Statuses()["down"].LastError != nil })
	st := cs.Statuses()
	if !st["up"].Connected || st["down"].Connected || cs.Connected() != 1 {
		t.Errorf("statuses: %+v", st)
	}

	down.start()
	waitFor(t, "the reconnection", 5*time.Second, func() bool { return cs.Statuses()["down"].Connected })
	waitFor(t, "the announcement published to the revived introducer", 5*time.Second, func() bool {
		return len(down.Server.Status().Announcements) == 1
	})
	waitFor(t, "the revived introducer's relay", 5*time.Second, func() bool { return cs.Statuses()["down"].Servers == 1 })
	if st := cs.Statuses()["down"]; st.LastError != nil {
		t.Errorf("revived status: %+v", st)
	}
	// Both introducers relay it; it is delivered once. A later client
	// added gets what was published.
	time.Sleep(100 * time.Millisecond)
	if n := rec.count(); n != 1 {
		t.Errorf("%d deliveries", n)
	}
	third := startIntro(t)
	if err := cs.Add("third", third.NURL()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "publication to the third", 5*time.Second, func() bool { return len(third.Server.Status().Announcements) == 1 })
}

func TestRepublishAfterRestart(t *testing.T) {
	ti := startIntro(t)
	c := newTestClient(t, ti.NURL())
	if err := c.Publish(newNode("n").storageAnn(t, 1)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "publication", 5*time.Second, func() bool { return len(ti.Server.Status().Announcements) == 1 })
	// The introducer restarts with an empty table.
	ti.stop()
	ti.Server = NewServer([]byte(ti.swissnum), WithServerLogger(quietLog()))
	ti.handler = ti.Server.Handler()
	ti.start()
	waitFor(t, "publication to the new instance", 5*time.Second, func() bool { return len(ti.Server.Status().Announcements) == 1 })
}

func TestNewClientURLs(t *testing.T) {
	hash := spkiHash(t, testCert(t, "intro").Leaf)
	for _, c := range []struct {
		in   string
		want error // nil: accepted
	}{
		{"pb://" + hash + "@127.0.0.1:1/swiss#v=1", nil},
		{"pb://" + hash + "@tcp:127.0.0.1:1/swiss#v=1", nil},
		{"pb://ok45ssoklj4y7eok5c3xkmj@tcp:tahoe.example:44801/ii3uumo", ErrFoolscap},
		{"pb://ok45ssoklj4y7eok5c3xkmj@tcp:a:1,tcp:b:2/ii3uumo", ErrFoolscap},
		{"pb://" + hash + "@127.0.0.1:1/swiss#v=2", nurl.ErrNURL},
		{"https://example.com/", nurl.ErrNURL},
		{"pb+tor://" + hash + "@abcdefghijklmnop.onion:1/swiss#v=1", nurl.ErrNURL}, // no Tor dialer
	} {
		cl, err := NewClient(c.in, "n", fast()...)
		if c.want == nil {
			if err != nil {
				t.Errorf("%s: %v", c.in, err)
			} else {
				cl.Close()
			}
			continue
		}
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.in, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "ii3uumo") {
			t.Errorf("error shows the swissnum: %v", err)
		}
	}
}

// Clients takes a fURL only with a tub to reach it through.
func TestClientsFURLNeedsTub(t *testing.T) {
	cs := NewClients("n", nil, fast()...)
	defer cs.Close()
	furl := "pb://ntf3hdaw72avdtkhcpmo7akiwuqxpnjt@tcp:127.0.0.1:1/ii3uumoswissnum"
	err := cs.Add("tahoe", furl)
	if !errors.Is(err, ErrFoolscap) || strings.Contains(err.Error(), "ii3uumo") {
		t.Errorf("Add without a tub: %v", err)
	}
	cs2 := NewClients("n", nil, fast(WithFoolscapTub(newTub(t, "cs")))...)
	defer cs2.Close()
	if err := cs2.Add("tahoe", furl); err != nil {
		t.Errorf("Add with a tub: %v", err)
	}
	if st := cs2.Statuses()["tahoe"]; st.Protocol != "foolscap" || strings.Contains(st.Address, "ii3uumo") {
		t.Errorf("status %+v", st)
	}
}

func TestClientClose(t *testing.T) {
	before := runtime.NumGoroutine()
	ti := startIntro(t)
	c, err := NewClient(ti.NURL(), "n", fast(WithPollWait(30*time.Second))...)
	if err != nil {
		t.Fatal(err)
	}
	c.Publish(newNode("n").storageAnn(t, 1))
	waitFor(t, "a waiting poll", 5*time.Second, func() bool {
		s := ti.Server.Status().Subscribers
		return len(s) == 1 && s[0].Polling
	})
	done := make(chan struct{})
	go func() { c.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close hangs")
	}
	if !clientGoroutinesGone() {
		t.Error("client goroutines still running after Close")
	}
	if err := c.Publish(newNode("m").storageAnn(t, 1)); !errors.Is(err, ErrClosed) {
		t.Errorf("Publish after Close: %v", err)
	}
	c.Close() // again
	ti.stop()
	ti.Server.Close()
	waitFor(t, "goroutines to end", 5*time.Second, func() bool { return runtime.NumGoroutine() <= before })

	// Clients closes all of its clients, even a disconnected one.
	cs := NewClients("me", nil, fast()...)
	cs.Add("nowhere", newIntro(t, "intro", "s").NURL())
	cs.Close()
	if !clientGoroutinesGone() {
		t.Error("goroutines left after Clients.Close")
	}
	if err := cs.Add("late", ti.NURL()); !errors.Is(err, ErrClosed) {
		t.Errorf("Add after Close: %v", err)
	}
}

// clientGoroutinesGone reports whether no goroutine runs a Client's code.
// A goroutine that Close waited for may still be returning (its deferred
// WaitGroup.Done has run): it gets a few milliseconds to do so.
func clientGoroutinesGone() bool {
	buf := make([]byte, 1<<20)
	for range 100 {
		n := runtime.Stack(buf, true)
		if !strings.Contains(string(buf[:n]), "introducer.(*Client)") {
			return true
		}
		time.Sleep(time.Millisecond)
	}
	return false
}

// TestAnonymousNURLsNeedADialer: a pb+tor or pb+i2p introducer NURL is
// never dialled with the default dialer, which would ask the DNS.
func TestAnonymousNURLsNeedADialer(t *testing.T) {
	hash := "JIj6ezHkdSBlHhrnezAgIC_mrVQHy4KAFyL-8ZNPGPM"
	for _, s := range []string{"pb+tor://" + hash + "@abcdefghijklmnop.onion:1234/s#v=1",
		"pb+i2p://" + hash + "@abcdefghijklmnop.b32.i2p:1234/s#v=1"} {
		if c, err := NewClient(s, "n"); err == nil || !strings.Contains(err.Error(), "needs") {
			if c != nil {
				c.Close()
			}
			t.Errorf("%s without a dialer: %v", s, err)
		}
	}
}
