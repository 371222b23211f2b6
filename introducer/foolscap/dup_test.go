package foolscap

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// The deciding side refuses a second connection from a peer that does not
// know the first is gone (a parallel attempt over another hint, as
// Foolscap dials every hint): accepting it would drop the one the peer
// kept, over and over. It accepts one from a peer that remembers the last
// decision (it reconnects because it lost the old one), or from a new
// incarnation of the peer (it restarted). Foolscap's
// compareOfferAndExisting.
func TestDeciderDuplicateConnections(t *testing.T) {
	server, client := testTubPair(t, true)
	s := serveTub(t, server)
	f, err := ParseFURL(s.furl)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	offer := func(tub *Tub) (*Conn, error) {
		nc, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		c, err := tub.negotiateClient(ctx, nc, "127.0.0.1", f.TubID, nil)
		if err != nil {
			nc.Close()
		}
		return c, err
	}
	alive := func(c *Conn) bool {
		ref, err := c.call(ctx, 0, "getReferenceByName", nil, Dict{{"name", []byte(f.Name)}}, true)
		if err != nil {
			return false
		}
		_, err = ref.(*RemoteRef).Call(ctx, "hello", int64(1))
		return err == nil
	}
	c1, err := offer(client)
	if err != nil {
		t.Fatal(err)
	}
	remembered := client.lastConnection(f.TubID)

	// A parallel first attempt ("last-connection: none 0") is refused.
	client.mu.Lock()
	delete(client.lastConn, f.TubID)
	client.mu.Unlock()
	if _, err := offer(client); err == nil || !strings.Contains(err.Error(), "Duplicate connection") {
		t.Fatalf("a parallel first attempt: %v", err)
	}
	if !alive(c1) {
		t.Fatal("the first connection died")
	}

	// One that remembers the last decision replaces it.
	client.setLastConnection(f.TubID, remembered)
	c2, err := offer(client)
	if err != nil {
		t.Fatalf("a reconnection that names the last decision: %v", err)
	}
	select {
	case <-c1.Done():
	case <-time.After(5 * time.Second):
		t.Error("the replaced connection is still up")
	}
	if !alive(c2) {
		t.Fatal("the new connection does not work")
	}

	// A restarted peer (same tub ID, new incarnation) replaces it too.
	restarted, err := NewTub(client.cert)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { restarted.Close() })
	c3, err := offer(restarted)
	if err != nil {
		t.Fatalf("a restarted peer: %v", err)
	}
	select {
	case <-c2.Done():
	case <-time.After(5 * time.Second):
		t.Error("the connection of the old incarnation is still up")
	}
	if !alive(c3) {
		t.Fatal("the restarted peer's connection does not work")
	}
}

// Parallel offers end with one live connection on each side, never with
// none.
func TestParallelOffersSettle(t *testing.T) {
	server, client := testTubPair(t, true)
	s := serveTub(t, server)
	f, _ := ParseFURL(s.furl)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nc, err := net.Dial("tcp", s.addr)
			if err != nil {
				return
			}
			if _, err := client.negotiateClient(ctx, nc, "127.0.0.1", f.TubID, nil); err != nil {
				nc.Close()
			}
		}()
	}
	wg.Wait()
	ref, err := client.Dial(ctx, s.furl)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ref.Call(ctx, "hello", int64(1)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	server.mu.Lock()
	live := 0
	for c := range server.all {
		if !c.isDone() {
			live++
		}
	}
	server.mu.Unlock()
	if live != 1 {
		t.Errorf("the deciding side holds %d live connections", live)
	}
}

func TestAcceptOffer(t *testing.T) {
	existing := &Conn{peerIncarnation: "aaaa", seq: 3}
	for _, c := range []struct {
		offer map[string]string
		want  bool
	}{
		{map[string]string{"my-incarnation": "aaaa"}, false},                                    // too old to tell
		{map[string]string{"my-incarnation": "bbbb", "last-connection": "none 0"}, true},        // the peer restarted
		{map[string]string{"my-incarnation": "aaaa", "last-connection": "none 0"}, false},       // a parallel first attempt
		{map[string]string{"my-incarnation": "aaaa", "last-connection": "past 3"}, true},        // from our past life
		{map[string]string{"my-incarnation": "aaaa", "last-connection": "ours 3"}, true},        // knows the existing one
		{map[string]string{"my-incarnation": "aaaa", "last-connection": "ours 2"}, false},       // living in the past
		{map[string]string{"my-incarnation": "aaaa", "last-connection": "ours 4"}, false},       // impossible
		{map[string]string{"my-incarnation": "aaaa", "last-connection": "ours x"}, false},       // malformed
		{map[string]string{"my-incarnation": "aaaa", "last-connection": "ours 3 extra"}, false}, // malformed
	} {
		if got := acceptOffer(c.offer, existing, "ours"); got != c.want {
			t.Errorf("%v: %v, want %v", c.offer, got, c.want)
		}
	}
}

// A hint that accepts TCP and then says nothing does not hold up the
// others: every hint is negotiated at once.
func TestStalledHintDoesNotDelay(t *testing.T) {
	server, client := testTubPair(t, false)
	s := serveTub(t, server)
	stall, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stall.Close() })
	go func() {
		for {
			c, err := stall.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() }) // accepted, never answered
		}
	}()
	f, _ := ParseFURL(s.furl)
	f.Hints = []string{"tcp:" + stall.Addr().String(), "tcp:" + s.addr}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	ref, err := client.Dial(ctx, f.String())
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Dial took %s: the stalled hint held it up", d)
	}
	if _, err := ref.Call(ctx, "hello", int64(1)); err != nil {
		t.Fatal(err)
	}
}
