package introducer

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

// The client's timing (back-off, poll timeouts, poll spacing, publishing
// again) is tested in synctest bubbles over in-memory connections
// (memnet_test.go), with the default settings, to the nanosecond. The
// tests over real HTTPS in client_test.go show the same client on real
// sockets.

// memClient starts a client of the memory introducer ti with the default
// timing, quiet, closed at the end of the test.
func memClient(t *testing.T, ti *testIntro, opts ...ClientOption) *Client {
	t.Helper()
	opts = append([]ClientOption{WithLogger(quietLog()), WithDialContext(ti.dial)}, opts...)
	c, err := NewClient(ti.NURL(), "tester", opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// checkStatus checks whether the client is connected, and since when.
func checkStatus(t *testing.T, c *Client, clk clock, connected bool, since time.Duration) Status {
	t.Helper()
	st := c.Status()
	if st.Connected != connected || st.Since.Sub(clk.t0) != since {
		t.Errorf("at %s: connected %v since %s (%v), want %v since %s", secs(time.Since(clk.t0)), st.Connected, secs(st.Since.Sub(clk.t0)), st.LastError, connected, secs(since))
	}
	return st
}

// TestClientBackoff follows a client through an introducer that is down,
// comes up, fails and recovers: after each failed poll it waits 1 s, then
// twice as long each time up to 30 s; one success resets the wait to 1 s;
// the first poll after a failure has no "after" (it answers at once), and a
// successful poll is followed by a long poll asking to wait 60 s.
func TestClientBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := newClock(t)
		ti := newMemIntro(t, "intro", "swiss")
		log, f := newReqLog(clk), &faults{}
		ti.handler = log.wrap(f.wrap(ti.handler))
		var mu sync.Mutex
		var dials []string
		dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
			mu.Lock()
			dials = append(dials, secs(time.Since(clk.t0)))
			mu.Unlock()
			return ti.dial(ctx, network, addr)
		}
		c := memClient(t, ti, WithDialContext(dial))

		// Down: every dial is refused, 1, 2, 4, 8, 16, then 30 s apart.
		clk.to(200 * time.Second)
		mu.Lock()
		if got, want := strings.Join(dials, " "), "0s 1s 3s 7s 15s 31s 61s 91s 121s 151s 181s"; got != want {
			t.Errorf("dials at %s, want %s", got, want)
		}
		mu.Unlock()
		st := checkStatus(t, c, clk, false, 0)
		if !errors.Is(st.LastError, syscall.ECONNREFUSED) {
			t.Errorf("error while down: %v", st.LastError)
		}

		// Up at 200 s: the next attempt, 30 s after the last, connects.
		ti.start()
		clk.to(211*time.Second - 1)
		checkStatus(t, c, clk, false, 0)
		clk.to(211 * time.Second)
		if st := checkStatus(t, c, clk, true, 211*time.Second); st.LastError != nil || st.LastReceived.Sub(clk.t0) != 211*time.Second {
			t.Errorf("connected: %+v", st)
		}

		// Failing with 503 from 250 s: the long poll under way ends well
		// at 271.1 s, the next one fails; then 1, 2, 4, 8 s apart.
		clk.to(250 * time.Second)
		f.set(func(f *faults) { f.pollCode = http.StatusServiceUnavailable })
		clk.to(271100 * time.Millisecond)
		st = checkStatus(t, c, clk, false, 271100*time.Millisecond)
		var se *StatusError
		if !errors.As(st.LastError, &se) || se.Code != http.StatusServiceUnavailable {
			t.Errorf("error: %v", st.LastError)
		}
		// Well again from 280 s: the poll due at 286.1 s connects, and
		// one more failure waits 1 s again, not 16 s.
		clk.to(280 * time.Second)
		f.set(func(f *faults) { f.pollCode = 0 })
		clk.to(286100 * time.Millisecond)
		checkStatus(t, c, clk, true, 286100*time.Millisecond)
		clk.to(300 * time.Second)
		f.set(func(f *faults) { f.pollCode = http.StatusServiceUnavailable })
		clk.to(350 * time.Second)
		checkStatus(t, c, clk, false, 346200*time.Millisecond)

		log.check(t, "",
			"211s poll 200",
			"211.1s long poll 200", // waits 60 s
			"271.1s long poll 503",
			"272.1s poll 503",
			"274.1s poll 503",
			"278.1s poll 503",
			"286.1s poll 200",
			"286.2s long poll 200",
			"346.2s long poll 503",
			"347.2s poll 503",
			"349.2s poll 503",
		)
		mu.Lock()
		if len(dials) != 12 {
			t.Errorf("dials at %v: want one more, at 211 s, and no other", dials)
		}
		mu.Unlock()
	})
}

// TestClientPollTimeout has an introducer that takes requests and never
// answers: a long poll (asking to wait 60 s) is given up 60 + 30 s after
// it began, a poll without "after" 30 s after, each a failure followed by
// the back-off.
func TestClientPollTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := newClock(t)
		ti := newMemIntro(t, "intro", "swiss")
		log, f := newReqLog(clk), &faults{hangLong: true}
		ti.handler = log.wrap(f.wrap(ti.handler))
		ti.start()
		c := memClient(t, ti)

		clk.to(90100*time.Millisecond - 1)
		checkStatus(t, c, clk, true, 0)
		clk.to(90100 * time.Millisecond)
		if st := checkStatus(t, c, clk, false, 90100*time.Millisecond); !errors.Is(st.LastError, context.DeadlineExceeded) {
			t.Errorf("error: %v", st.LastError)
		}
		clk.to(91100 * time.Millisecond)
		checkStatus(t, c, clk, true, 91100*time.Millisecond)

		// From 100 s no poll is answered at all.
		clk.to(100 * time.Second)
		f.set(func(f *faults) { f.hangAll = true })
		clk.to(250 * time.Second)
		log.check(t, "",
			"0s poll 200",
			"0.1s long poll 0", // given up at 90.1 s
			"91.1s poll 200",
			"91.2s long poll 0", // given up at 181.2 s
			"182.2s poll 0",     // given up at 212.2 s
			"214.2s poll 0",     // given up at 244.2 s
			"248.2s poll 0",
		)
		checkStatus(t, c, clk, false, 181200*time.Millisecond)
	})
}

// TestClientPollSpacing has an introducer that never holds a poll, as a
// broken or hostile one might, answering each after 30 ms (later 250 ms)
// of work: the client starts a poll at most every 100 ms, counted from the
// start of the last one, and at once when the last one took longer.
func TestClientPollSpacing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := newClock(t)
		var mu sync.Mutex
		delay := 30 * time.Millisecond
		ti := newMemIntro(t, "intro", "swiss")
		srv := ti.handler
		log := newReqLog(clk)
		ti.handler = log.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			d := delay
			mu.Unlock()
			select {
			case <-time.After(d):
			case <-r.Context().Done():
				return
			}
			r.URL.RawQuery = "service=storage" // no after: no wait
			srv.ServeHTTP(w, r)
		}))
		ti.start()
		memClient(t, ti)

		// 30 ms per answer: polls start 100 ms apart.
		clk.to(550 * time.Millisecond)
		mu.Lock()
		delay = 250 * time.Millisecond
		mu.Unlock()
		// 250 ms per answer: each poll starts when the last one ends.
		clk.to(1400 * time.Millisecond)
		log.check(t, "",
			"0s poll 200",
			"0.1s long poll 200",
			"0.2s long poll 200",
			"0.3s long poll 200",
			"0.4s long poll 200",
			"0.5s long poll 200",
			"0.6s long poll 200", // answered at 0.85 s
			"0.85s long poll 200",
			"1.1s long poll 200",
			"1.35s long poll 0", // until 1.6 s
		)
	})
}

// TestMaliciousIntroducer has an introducer relay forged, tampered and
// replayed announcements, answering every poll at once: the client takes
// only the genuine newest one, once, whatever the number of polls, and
// counts the others as rejected at every poll.
func TestMaliciousIntroducer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := newClock(t)
		x, y, z, w := newNode("x"), newNode("y"), newNode("z"), newNode("w")
		x1, x2 := x.storageAnn(t, 1), x.storageAnn(t, 2)
		tampered := y.storageAnn(t, 1)
		tampered.Msg = []byte(strings.Replace(string(tampered.Msg), `"y"`, `"evil"`, 1))
		swapped := z.storageAnn(t, 1)
		swapped.Key = y.id() // z's message and signature, claimed as y's
		forgedSig := y.storageAnn(t, 9)
		forgedSig.Sig = "v0-" + strings.Repeat("a", 103)
		other, _ := Sign(NewAnnouncement("other", "w", "v", 1), w.key)
		anns := []wireSigned{toWire(x2), toWire(tampered), toWire(swapped), toWire(forgedSig), toWire(other), toWire(x1), toWire(Signed{Msg: x2.Msg, Sig: forgedSig.Sig, Key: x2.Key})}
		answer := mustCBOR(t, pollResponse{Version: 7, Instance: []byte("evil"), Announcements: anns})

		mux := http.NewServeMux()
		mux.HandleFunc("GET "+pathAnnouncements, func(w http.ResponseWriter, r *http.Request) {
			writeCBOR(w, 200, answer)
		})
		ti := newMemIntro(t, "intro", "swiss")
		log := newReqLog(clk)
		ti.handler = log.wrap(mux)
		ti.start()
		rec := newRecorder()
		c := memClient(t, ti, OnAnnouncement(rec.fn))

		// Polls at 0, 0.1, ... 1 s: eleven of them.
		clk.to(time.Second + 50*time.Millisecond)
		if n := len(log.of("")); n != 11 {
			t.Errorf("%d polls, want 11", n)
		}
		if n := rec.count(); n != 1 || rec.seqnum(x.id()) != 2 {
			t.Errorf("deliveries %d: %+v", n, rec.got)
		}
		st := c.Status()
		if st.Servers != 1 || st.Rejected != 4*11 || !st.Connected {
			t.Errorf("status: %+v, want 1 server, 44 rejected, connected", st)
		}
	})
}

// TestWrongSwissnum: a 401 leaves the client disconnected, saying why, and
// trying again with the back-off (the operator may fix the introducer);
// meanwhile nothing is published.
func TestWrongSwissnum(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := newClock(t)
		ti := newMemIntro(t, "intro", "swiss")
		log := newReqLog(clk)
		ti.handler = log.wrap(ti.handler)
		ti.start()
		c, err := NewClient(strings.Replace(ti.NURL(), "/swiss#", "/wrong#", 1), "tester", WithLogger(quietLog()), WithDialContext(ti.dial))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Publish(newNode("n").storageAnn(t, 1)); err != nil {
			t.Fatal(err)
		}
		clk.to(10 * time.Minute)
		st := checkStatus(t, c, clk, false, 0)
		if !errors.Is(st.LastError, ErrUnauthorized) {
			t.Errorf("status: %+v", st)
		}
		var se *StatusError
		if !errors.As(st.LastError, &se) || se.Code != 401 || !strings.Contains(st.Summary(), "401") {
			t.Errorf("error: %v; summary %q", st.LastError, st.Summary())
		}
		log.check(t, "",
			"0s poll 401", "1s poll 401", "3s poll 401", "7s poll 401", "15s poll 401",
			"31s poll 401", "61s poll 401", "91s poll 401", "121s poll 401", "151s poll 401",
			"181s poll 401", "211s poll 401", "241s poll 401", "271s poll 401", "301s poll 401",
			"331s poll 401", "361s poll 401", "391s poll 401", "421s poll 401", "451s poll 401",
			"481s poll 401", "511s poll 401", "541s poll 401", "571s poll 401",
		)
		if n := len(ti.Server.Status().Announcements); n != 0 {
			t.Errorf("%d announcements", n)
		}
	})
}

// TestClientPublishRetry: a publish that fails for a while (503) is tried
// again 1, 2, 4, 8 s later, until it goes through; one success resets the
// wait to 1 s; an announcement the introducer refuses (400) is not tried
// again until something changes: here, a reconnection, which publishes
// everything again at once.
func TestClientPublishRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := newClock(t)
		ti := newMemIntro(t, "intro", "swiss")
		log, f := newReqLog(clk), &faults{publishCode: http.StatusServiceUnavailable}
		ti.handler = log.wrap(f.wrap(ti.handler))
		ti.start()
		c := memClient(t, ti)
		n := newNode("n")
		publish := func(seq int64) {
			t.Helper()
			if err := c.Publish(n.storageAnn(t, seq)); err != nil {
				t.Fatal(err)
			}
		}
		held := func(seq int64, when time.Duration) {
			t.Helper()
			a := ti.Server.Status().Announcements
			if len(a) != 1 || a[0].Seqnum != seq || a[0].When.Sub(clk.t0) != when {
				t.Errorf("at %s the introducer holds %+v, want seqnum %d published at %s", secs(time.Since(clk.t0)), a, seq, secs(when))
			}
		}
		publish(1)
		clk.to(10 * time.Second)
		f.set(func(f *faults) { f.publishCode = 0 })
		clk.to(15 * time.Second)
		held(1, 15*time.Second)

		clk.to(20 * time.Second)
		f.set(func(f *faults) { f.publishCode = http.StatusServiceUnavailable })
		publish(2)
		clk.to(24 * time.Second)
		f.set(func(f *faults) { f.publishCode = 0 })
		clk.to(27 * time.Second)
		held(2, 27*time.Second)

		clk.to(30 * time.Second)
		f.set(func(f *faults) { f.publishCode = http.StatusBadRequest })
		publish(3)
		clk.to(100 * time.Second)
		st := c.Status()
		var se *StatusError
		if !errors.As(st.LastError, &se) || se.Code != http.StatusBadRequest || !st.Connected {
			t.Errorf("status after a refusal: %+v", st)
		}
		// Down from 100 s to 102 s: the client reconnects at 103 s.
		f.set(func(f *faults) { f.publishCode = 0 })
		ti.stop()
		clk.to(102 * time.Second)
		ti.start()
		clk.to(110 * time.Second)
		checkStatus(t, c, clk, true, 103*time.Second)
		held(3, 103*time.Second)
		log.check(t, "publish",
			"0s publish 503",
			"1s publish 503",
			"3s publish 503",
			"7s publish 503",
			"15s publish 200",
			"20s publish 503",
			"21s publish 503",
			"23s publish 503",
			"27s publish 200",
			"30s publish 400",
			"103s publish 200",
		)
	})
}

// swapHandler serves whichever handler was set last.
type swapHandler struct {
	mu sync.Mutex
	h  http.Handler
}

func (s *swapHandler) set(h http.Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.h = h
}

func (s *swapHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	h := s.h
	s.mu.Unlock()
	h.ServeHTTP(w, r)
}

// TestClientRepublishOnNewInstance: when a poll answer comes from another
// instance of the introducer (it restarted and forgot, between two polls),
// the client publishes again at once, without ever being disconnected.
func TestClientRepublishOnNewInstance(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := newClock(t)
		ti := newMemIntro(t, "intro", "swiss")
		log, swap := newReqLog(clk), &swapHandler{h: ti.handler}
		ti.handler = log.wrap(swap)
		ti.start()
		c := memClient(t, ti)
		if err := c.Publish(newNode("n").storageAnn(t, 1)); err != nil {
			t.Fatal(err)
		}
		// At 30 s a new instance takes the requests; the long poll
		// waiting on the old one since 0.2 s ends at 60.2 s.
		clk.to(30 * time.Second)
		second := NewServer([]byte("swiss"), WithServerLogger(quietLog()))
		defer second.Close()
		swap.set(second.Handler())
		clk.to(70 * time.Second)
		log.check(t, "",
			"0s poll 200",
			"0s publish 200",
			"0.1s long poll 200",  // the publish changed the version
			"0.2s long poll 200",  // until 60.2 s
			"60.2s long poll 200", // from the new instance
			"60.2s publish 200",
			"60.3s long poll 200", // the publish changed the version
			"60.4s long poll 0",
		)
		if a := second.Status().Announcements; len(a) != 1 || a[0].When.Sub(clk.t0) != 60200*time.Millisecond {
			t.Errorf("the new instance holds %+v", a)
		}
		if st := checkStatus(t, c, clk, true, 0); st.LastError != nil {
			t.Errorf("status: %+v", st)
		}
	})
}

// TestClientCloseAtOnce: Close abandons a waiting poll and a publish
// back-off at once, and every goroutine of the client ends.
func TestClientCloseAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := newClock(t)
		ti := newMemIntro(t, "intro", "swiss")
		f := &faults{publishCode: http.StatusServiceUnavailable}
		ti.handler = f.wrap(ti.handler)
		ti.start()
		c, err := NewClient(ti.NURL(), "tester", WithLogger(quietLog()), WithDialContext(ti.dial))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Publish(newNode("n").storageAnn(t, 1)); err != nil {
			t.Fatal(err)
		}
		// At 5 s a poll waits (since 0.1 s, until 60.1 s) and the
		// publisher waits too (until 7 s).
		clk.to(5 * time.Second)
		if s := ti.Server.Status().Subscribers; len(s) != 1 || !s[0].Polling {
			t.Fatalf("subscribers: %+v", s)
		}
		c.Close()
		if d := time.Since(clk.t0); d != 5*time.Second {
			t.Errorf("Close took %v", d-5*time.Second)
		}
		synctest.Wait()
		if !clientGoroutinesGone() {
			t.Error("client goroutines still running after Close")
		}
		if s := ti.Server.Status().Subscribers; len(s) != 1 || s[0].Polling {
			t.Errorf("the abandoned poll still waits: %+v", s)
		}
		if err := c.Publish(newNode("m").storageAnn(t, 1)); !errors.Is(err, ErrClosed) {
			t.Errorf("Publish after Close: %v", err)
		}
	})
}

// TestClientCloseWaits: Close waits for the client's goroutines, here one
// busy in the AnnouncementFunc, to end.
func TestClientCloseWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ti := startMemIntro(t)
		ti.publishRaw(t, newNode("s").storageAnn(t, 1))
		release := make(chan struct{})
		c := memClient(t, ti, OnAnnouncement(func(string, Announcement) { <-release }))
		synctest.Wait() // the first poll's announcement is being delivered
		closed := make(chan struct{})
		go func() {
			c.Close()
			close(closed)
		}()
		synctest.Wait()
		select {
		case <-closed:
			t.Fatal("Close returned while the AnnouncementFunc runs")
		default:
		}
		close(release)
		<-closed
	})
}
