package tornet

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/proxy"

	"github.com/lafs/lafs/internal/testutil"
)

// echoServer serves TCP echo on 127.0.0.1 until t ends and returns its
// address.
func echoServer(t *testing.T) string {
	t.Helper()
	return testutil.Serve(t, "tcp", "127.0.0.1:0", func(c net.Conn) {
		c.SetDeadline(time.Now().Add(time.Minute))
		io.Copy(c, c)
	}).Addr().String()
}

// dialEcho dials addr through the SOCKS port socks, retrying until it
// answers or wait passes, and checks that it echoes.
func dialEcho(t *testing.T, socks, addr string, wait time.Duration) {
	t.Helper()
	d, err := proxy.SOCKS5("tcp", socks, nil, &net.Dialer{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	began := time.Now()
	var lastErr error
	for ctx.Err() == nil {
		lastErr = tryEcho(ctx, d.(proxy.ContextDialer), addr)
		if lastErr == nil {
			t.Logf("reached %s through %s in %v", addr, socks, time.Since(began).Round(time.Millisecond))
			return
		}
		t.Logf("dial %s: %v (retrying)", addr, lastErr)
		select {
		case <-ctx.Done():
		case <-time.After(2 * time.Second):
		}
	}
	t.Fatalf("no echo from %s through Tor after %v: %v", addr, wait, lastErr)
}

func tryEcho(ctx context.Context, d proxy.ContextDialer, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	msg := []byte("hello through a private Tor network\n")
	if _, err := c.Write(msg); err != nil {
		return err
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		return err
	}
	if !bytes.Equal(got, msg) {
		return io.ErrUnexpectedEOF
	}
	return nil
}

func TestNetwork(t *testing.T) {
	n := Start(t)
	for name, addr := range map[string]string{"SOCKS": n.SOCKS(), "Control": n.Control()} {
		if host, _, err := net.SplitHostPort(addr); err != nil || host != "127.0.0.1" {
			t.Errorf("%s() = %q, want 127.0.0.1:PORT", name, addr)
		}
	}

	// The control port takes the cookie, and the client is bootstrapped.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cc, err := dialControl(ctx, n.Control(), n.ControlCookie())
	if err != nil {
		t.Fatal(err)
	}
	lines, err := cc.command(ctx, "GETINFO status/bootstrap-phase")
	cc.close()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(lines, " "), "PROGRESS=100") {
		t.Errorf("bootstrap phase: %q", lines)
	}

	echo := echoServer(t)

	t.Run("SOCKSToLoopback", func(t *testing.T) {
		// An exit of the private network reaches 127.0.0.1.
		dialEcho(t, n.SOCKS(), echo, 60*time.Second)
	})

	t.Run("NoExitElsewhere", func(t *testing.T) {
		// The exits reject every address outside 127.0.0.0/8. 192.0.2.1
		// is TEST-NET-1, routed nowhere even if a packet left.
		d, err := proxy.SOCKS5("tcp", n.SOCKS(), nil, &net.Dialer{})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		c, err := d.(proxy.ContextDialer).DialContext(ctx, "tcp", "192.0.2.1:80")
		if err == nil {
			c.Close()
			t.Fatal("dial 192.0.2.1:80 through the private network succeeded")
		}
		t.Logf("dial 192.0.2.1:80: %v", err)
	})

	t.Run("OnionService", func(t *testing.T) {
		// A second client runs the service; the first reaches it.
		server := n.NewClient(t)
		began := time.Now()
		onion := server.AddOnion(t, 80, echo)
		t.Logf("onion service %s published in %v", onion, time.Since(began).Round(time.Millisecond))
		dialEcho(t, n.SOCKS(), net.JoinHostPort(onion, "80"), 90*time.Second)
	})
}

func TestReadReply(t *testing.T) {
	in := "250-ServiceID=abc\r\n250+data=\r\nline1\r\n..dotted\r\n.\r\n250 OK\r\n" +
		"650 HS_DESC UPLOADED abc UNKNOWN $X\r\n" +
		"552 Unrecognized key\r\n"
	server, client := net.Pipe()
	go func() {
		io.WriteString(server, in)
		server.Close()
	}()
	cc := &controlConn{conn: client}
	cc.r = bufio.NewReader(client)
	code, lines, err := cc.readReply()
	if err != nil || code != 250 {
		t.Fatalf("readReply = %d, %v", code, err)
	}
	want := []string{"ServiceID=abc", "data=\nline1\n.dotted", "OK"}
	if strings.Join(lines, "|") != strings.Join(want, "|") {
		t.Errorf("lines = %q, want %q", lines, want)
	}
	code, lines, err = cc.readReply()
	if err != nil || code != 650 || lines[0] != "HS_DESC UPLOADED abc UNKNOWN $X" {
		t.Errorf("event = %d %q %v", code, lines, err)
	}
	code, _, err = cc.readReply()
	if err != nil || code != 552 {
		t.Errorf("error reply = %d, %v", code, err)
	}
	if _, _, err := cc.readReply(); err == nil {
		t.Error("readReply after EOF: no error")
	}
}

func TestVotingOffset(t *testing.T) {
	for _, now := range []time.Time{
		time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 1, 2, 13, 45, 17, 300_000_000, time.UTC),
		time.Date(2026, 1, 2, 23, 59, 55, 0, time.UTC),
		time.Date(2026, 1, 2, 8, 0, 3, 0, time.FixedZone("X", 3600)),
	} {
		off := votingOffset(now)
		if off < 0 || off >= votingInterval {
			t.Fatalf("votingOffset(%v) = %d, want 0 <= offset < %d", now, off, votingInterval)
		}
		// The first vote after now, on the schedule the offset makes.
		u := now.UTC()
		midnight := u.Truncate(24 * time.Hour)
		start := midnight.Add(time.Duration(off) * time.Second)
		for !start.After(u) {
			start = start.Add(votingInterval * time.Second)
		}
		vote := start.Add(-(voteDelay + distDelay) * time.Second)
		for vote.Before(u) {
			vote = vote.Add(votingInterval * time.Second)
		}
		if d := vote.Sub(u); d < firstVoteAfter || d >= firstVoteAfter+time.Second {
			t.Errorf("votingOffset(%v) = %d: first vote after %v, want %v", now, off, d, firstVoteAfter)
		}
	}
}
