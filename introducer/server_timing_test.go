package introducer

import (
	"net/http"
	"strconv"
	"testing"
	"testing/synctest"
	"time"
)

// The server's timing (how long a poll waits, what wakes it, how long a
// subscriber stays listed) is tested in synctest bubbles over in-memory
// connections (memnet_test.go), to the nanosecond. TestServerClose and the
// client tests show long polls on real sockets.

// TestServerLongPoll: a poll waits as long as it asks (to the
// millisecond), at most the introducer's maximum, unless its "after" is
// not the current version; a change of its service answers it at once,
// and nothing else does, nor restarts its wait.
func TestServerLongPoll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ti := startMemIntro(t)
		poll := func(query string, version uint64, wait time.Duration) pollResponse {
			t.Helper()
			p, d := ti.pollRaw(t, query)
			if p.Version != version || d != wait {
				t.Errorf("%s: version %d after %v, want %d after %v", query, p.Version, d, version, wait)
			}
			return p
		}
		p0, _ := ti.pollRaw(t, "service=storage")
		v0 := p0.Version
		after := "&after=" + strconv.FormatUint(v0, 10)
		if len(p0.Announcements) != 0 || v0 != uint64(time.Now().UnixMicro()) {
			t.Fatalf("first poll: %+v", p0)
		}
		// The same version: the poll waits the time asked.
		poll("service=storage&wait=0.3"+after, v0, 300*time.Millisecond)
		poll("service=storage&wait=0.125"+after, v0, 125*time.Millisecond)
		poll("service=storage&wait=2"+after, v0, 2*time.Second)
		// Another service appearing neither answers a poll of a service
		// nobody announced, nor starts its wait again.
		n := newNode("n")
		other1, _ := Sign(NewAnnouncement("other", "n", "v", 1), n.key)
		go func() {
			time.Sleep(100 * time.Millisecond)
			ti.publishRaw(t, other1)
		}()
		poll("service=storage&wait=0.5"+after, v0, 500*time.Millisecond)
		// A publish wakes a waiting poll at once.
		s1 := n.storageAnn(t, 1)
		go func() {
			time.Sleep(200 * time.Millisecond)
			ti.publishRaw(t, s1)
		}()
		p2, d := ti.pollRaw(t, "service=storage&wait=20"+after)
		if p2.Version == v0 || len(p2.Announcements) != 1 || d != 200*time.Millisecond {
			t.Errorf("poll after publish: version %d, %d announcements, in %v", p2.Version, len(p2.Announcements), d)
		}
		v2 := p2.Version
		after = "&after=" + strconv.FormatUint(v2, 10)
		// Neither a change of another service nor a duplicate or a stale
		// publish answers a storage poll.
		go func() {
			time.Sleep(100 * time.Millisecond)
			other2, _ := Sign(NewAnnouncement("other", "n", "v", 2), n.key)
			ti.publishRaw(t, other2)
			time.Sleep(100 * time.Millisecond)
			ti.publishRaw(t, s1)
			time.Sleep(100 * time.Millisecond)
			ti.publishRaw(t, n.storageAnn(t, 1))
		}()
		poll("service=storage&wait=0.5"+after, v2, 500*time.Millisecond)
		// A different (say, stale) after answers at once; so does a poll
		// without after, whatever its wait.
		poll("service=storage&wait=20&after=12345", v2, 0)
		poll("service=storage&wait=100", v2, 0)
		poll("service=storage&wait=0"+after, v2, 0)
		// A wait beyond the maximum (300 s) is cut to it.
		poll("service=storage&wait=1000"+after, v2, 300*time.Second)
		// Closing the introducer answers a waiting poll at once (503).
		go func() {
			time.Sleep(100 * time.Millisecond)
			ti.Server.Close()
		}()
		start := time.Now()
		resp, _ := ti.do(t, "GET", pathAnnouncements+"?service=storage&wait=60"+after, nil)
		if d := time.Since(start); resp.StatusCode != http.StatusServiceUnavailable || d != 100*time.Millisecond {
			t.Errorf("a waiting poll got %d after %v when the introducer closed", resp.StatusCode, d)
		}
	})
}

// TestServerMaxWait: WithMaxWait bounds every wait.
func TestServerMaxWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ti := startMemIntro(t, WithMaxWait(200*time.Millisecond))
		p, _ := ti.pollRaw(t, "service=storage")
		after := "&after=" + strconv.FormatUint(p.Version, 10)
		for _, c := range []struct {
			wait string
			want time.Duration
		}{
			{"60", 200 * time.Millisecond},
			{"0.2", 200 * time.Millisecond},
			{"0.15", 150 * time.Millisecond},
		} {
			if _, d := ti.pollRaw(t, "service=storage&wait="+c.wait+after); d != c.want {
				t.Errorf("wait=%s: answered after %v, want %v", c.wait, d, c.want)
			}
		}
	})
}

// TestServerSubscriberExpiry: a subscriber is listed from its first poll,
// as polling while a poll of it waits, and until the longest wait (300 s)
// and one minute have passed since its last poll ended.
func TestServerSubscriberExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := newClock(t)
		ti := startMemIntro(t)
		check := func(polling bool, since, lastSeen time.Duration) {
			t.Helper()
			s := ti.Server.Status().Subscribers
			if len(s) != 1 || s[0].Nickname != "alice" || s[0].Polling != polling || s[0].Since.Sub(clk.t0) != since || s[0].LastSeen.Sub(clk.t0) != lastSeen {
				t.Errorf("at %s, subscribers %+v; want alice, polling %v, since %s, last seen %s", secs(time.Since(clk.t0)), s, polling, secs(since), secs(lastSeen))
			}
		}
		hdr := []string{headerSubscriber, "id=abc&nickname=alice"}
		resp, body := ti.do(t, "GET", pathAnnouncements+"?service=storage", nil, hdr...)
		p, err := decodePoll(body)
		if resp.StatusCode != 200 || err != nil {
			t.Fatal(resp.Status, err)
		}
		check(false, 0, 0)
		clk.to(10 * time.Second)
		done := make(chan int)
		go func() {
			resp, _ := ti.do(t, "GET", pathAnnouncements+"?service=storage&wait=60&after="+strconv.FormatUint(p.Version, 10), nil, hdr...)
			done <- resp.StatusCode
		}()
		clk.to(30 * time.Second)
		check(true, 0, 10*time.Second)
		clk.to(70 * time.Second)
		if code := <-done; code != 200 {
			t.Errorf("long poll: %d", code)
		}
		check(false, 0, 70*time.Second)
		clk.to(430 * time.Second) // 300 s + 1 min after its last poll
		check(false, 0, 70*time.Second)
		clk.to(430*time.Second + 1)
		if s := ti.Server.Status().Subscribers; len(s) != 0 {
			t.Errorf("stale subscriber still listed: %+v", s)
		}
	})
}
