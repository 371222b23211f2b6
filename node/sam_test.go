package node

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lafs/lafs/internal/i2ptest"
	"github.com/lafs/lafs/internal/testutil"
)

// fakeKey is an I2P private key in SAM's form: a destination (256 + 128
// random bytes and a key certificate of 4 bytes) followed by private keys.
func fakeKey(t testing.TB) (key string, dest []byte) {
	t.Helper()
	dest = make([]byte, 384, 384+7+288)
	rand.Read(dest)
	dest = append(dest, 5, 0, 4, 0, 7, 0, 0)
	priv := make([]byte, 256+32)
	rand.Read(priv)
	return i2pB64.EncodeToString(append(dest, priv...)), dest
}

func TestI2PKeyAddress(t *testing.T) {
	key, dest := fakeKey(t)
	got, err := i2pKeyAddress(key + "\n")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(dest)
	want := strings.ToLower(strings.TrimRight(base32.StdEncoding.EncodeToString(sum[:]), "=")) + ".b32.i2p"
	if got != want || len(got) != 52+len(".b32.i2p") {
		t.Fatalf("address %s, want %s", got, want)
	}
	for _, bad := range []string{"", "!!!!", i2pB64.EncodeToString(dest), i2pB64.EncodeToString(dest[:300]),
		// a certificate longer than what follows it
		i2pB64.EncodeToString(append(append([]byte{}, dest[:384]...), 5, 0xff, 0xff))} {
		if _, err := i2pKeyAddress(bad); err == nil {
			t.Errorf("i2pKeyAddress(%.20q…) took it", bad)
		}
	}
}

func TestParseSAMArgs(t *testing.T) {
	got, err := parseSAMArgs(` RESULT=I2P_ERROR MESSAGE="no \"such\" \\ thing" FLAG VERSION=3.1`)
	if err != nil {
		t.Fatal(err)
	}
	if got["RESULT"] != "I2P_ERROR" || got["MESSAGE"] != `no "such" \ thing` || got["VERSION"] != "3.1" {
		t.Fatalf("%q", got)
	}
	if _, ok := got["FLAG"]; !ok {
		t.Fatalf("FLAG missing: %q", got)
	}
	if _, err := parseSAMArgs(`MESSAGE="unterminated`); err == nil {
		t.Fatal("an unterminated quote was taken")
	}
}

func FuzzParseSAMArgs(f *testing.F) {
	f.Add(`RESULT=OK DESTINATION=abc`)
	f.Add(`MESSAGE="a \" b" X`)
	f.Fuzz(func(t *testing.T, s string) {
		parseSAMArgs(s)
		i2pKeyAddress(s)
	})
}

// serveFakeSAM serves each connection to a fake bridge with handle.
func serveFakeSAM(t *testing.T, handle func(c net.Conn, r *bufio.Reader)) string {
	t.Helper()
	return testutil.Serve(t, "tcp", "127.0.0.1:0", func(c net.Conn) { handle(c, bufio.NewReader(c)) }).Addr().String()
}

// fakeSAM serves a scripted bridge: reply gives the answer to each
// command line ("" closes the connection).
func fakeSAM(t *testing.T, reply func(cmd string) string) string {
	return serveFakeSAM(t, func(c net.Conn, r *bufio.Reader) {
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			a := reply(strings.TrimSpace(line))
			if a == "" {
				return
			}
			if _, err := io.WriteString(c, a); err != nil {
				return
			}
		}
	})
}

// TestSAMHostile: a bridge that answers wrongly gives clear errors, never
// a panic or a hang.
func TestSAMHostile(t *testing.T) {
	key, _ := fakeKey(t)
	hello := "HELLO REPLY RESULT=OK VERSION=3.1\n"
	cases := []struct {
		name  string
		reply func(string) string
		want  string
	}{
		{"old version", func(string) string { return "HELLO REPLY RESULT=OK VERSION=2.0\n" }, "not 3"},
		{"no hello", func(string) string { return "HELLO REPLY RESULT=NOVERSION\n" }, "NOVERSION"},
		{"closes", func(string) string { return "" }, "closed"},
		{"long line", func(string) string { return strings.Repeat("x", maxSAMLine+10) + "\n" }, "longer than"},
		{"other reply", func(c string) string {
			if strings.HasPrefix(c, "HELLO") {
				return hello
			}
			return "STREAM STATUS RESULT=OK\n"
		}, "unexpected reply"},
		{"session refused", func(c string) string {
			if strings.HasPrefix(c, "HELLO") {
				return hello
			}
			return `SESSION STATUS RESULT=DUPLICATED_DEST MESSAGE="in use"` + "\n"
		}, "DUPLICATED_DEST (in use)"},
		{"bad destination", func(c string) string {
			if strings.HasPrefix(c, "HELLO") {
				return hello
			}
			return "SESSION STATUS RESULT=OK DESTINATION=AAAA\n"
		}, "too short"},
		{"quote", func(c string) string {
			if strings.HasPrefix(c, "HELLO") {
				return hello
			}
			return `SESSION STATUS RESULT=OK MESSAGE="` + "\n"
		}, "unterminated"},
	}
	for _, c := range cases {
		addr := fakeSAM(t, c.reply)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		s, err := openSAMSession(ctx, addr, key, 0, nil)
		cancel()
		if err == nil {
			s.Close()
			t.Errorf("%s: a session", c.name)
			continue
		}
		if !errors.Is(err, ErrSAM) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want ErrSAM naming %q", c.name, err, c.want)
		}
		if strings.Contains(err.Error(), key[len(key)-40:]) || strings.Contains(err.Error(), key[:40]) {
			t.Errorf("%s: the error shows the private key", c.name)
		}
	}
	if _, err := openSAMSession(context.Background(), "127.0.0.1:1", "", 0, []string{"inbound.length=0 DESTINATION=x"}); err == nil {
		t.Error("an option with a space was sent")
	}
}

// TestSAMCommandTimeout: a bridge that never answers is given up on when
// the context ends.
func TestSAMCommandTimeout(t *testing.T) {
	addr := fakeSAM(t, func(string) string { time.Sleep(5 * time.Second); return "" })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := dialSAM(ctx, addr); err == nil {
		t.Fatal("a silent bridge answered")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("gave up after %v", d)
	}
}

// TestHeavySAMStreams: two SAM sessions on one real i2pd (zero-hop
// tunnels) carry a stream both ways; the served one uses a key made by
// DEST GENERATE, and the accepted stream names its caller.
func TestHeavySAMStreams(t *testing.T) {
	r := i2ptest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	key, b32, err := samGenerateKey(ctx, r.SAM)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := i2pKeyAddress(key); got != b32 {
		t.Fatalf("key of %s, said %s", got, b32)
	}
	var server, client *samSession
	var serr, cerr error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); server, serr = openSAMSession(ctx, r.SAM, key, 3457, i2ptest.SessionOptions) }()
	go func() { defer wg.Done(); client, cerr = openSAMSession(ctx, r.SAM, "", 0, i2ptest.SessionOptions) }()
	wg.Wait()
	if err := errors.Join(serr, cerr); err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	defer client.Close()
	if server.b32 != b32 {
		t.Fatalf("the session is %s, the key %s", server.b32, b32)
	}
	msg := make([]byte, 1<<20)
	rand.Read(msg)
	accepted := make(chan error, 1)
	go func() {
		c, err := server.accept(ctx)
		if err != nil {
			accepted <- err
			return
		}
		defer c.Close()
		if c.RemoteAddr().(i2pAddr).host != client.b32 {
			accepted <- errors.New("the accepted stream names " + c.RemoteAddr().String() + ", not " + client.b32)
			return
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(c, got); err != nil {
			accepted <- err
			return
		}
		_, err = c.Write(got) // echo
		accepted <- err
	}()
	c, err := client.dial(ctx, b32, 3457)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go c.Write(msg)
	back := make([]byte, len(msg))
	if _, err := io.ReadFull(c, back); err != nil {
		t.Fatal(err)
	}
	if err := <-accepted; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back, msg) {
		t.Fatal("the echo differs")
	}
	// An unknown destination is unreachable, not a hang.
	other, _ := fakeKey(t)
	ob32, _ := i2pKeyAddress(other)
	dctx, dcancel := context.WithTimeout(ctx, 90*time.Second)
	defer dcancel()
	if c, err := client.dial(dctx, ob32, 1); err == nil {
		c.Close()
		t.Fatal("reached a destination that does not exist")
	}
}

// fakeBridge answers each connection's HELLO, then serves it with handle,
// given the command that followed.
func fakeBridge(t *testing.T, handle func(c net.Conn, r *bufio.Reader, first string)) string {
	return serveFakeSAM(t, func(c net.Conn, r *bufio.Reader) {
		if _, err := r.ReadString('\n'); err != nil {
			return
		}
		io.WriteString(c, "HELLO REPLY RESULT=OK VERSION=3.1\n")
		first, err := r.ReadString('\n')
		if err != nil {
			return
		}
		handle(c, r, strings.TrimSpace(first))
	})
}

// TestSAMAcceptAndPing: a stream that ACCEPT gives carries the peer's name
// and the bytes after its line; a peer line that is not a destination is
// an error; the session's connection answers PING with PONG.
func TestSAMAcceptAndPing(t *testing.T) {
	key, _ := fakeKey(t)
	_, peerDest := fakeKey(t)
	pong := make(chan string, 1)
	var bad bool
	var mu sync.Mutex
	addr := fakeBridge(t, func(c net.Conn, r *bufio.Reader, first string) {
		switch {
		case strings.HasPrefix(first, "SESSION CREATE"):
			io.WriteString(c, "SESSION STATUS RESULT=OK DESTINATION="+key+"\n")
			io.WriteString(c, "PING 42\n")
			l, _ := r.ReadString('\n')
			pong <- strings.TrimSpace(l)
			io.Copy(io.Discard, r)
		case strings.HasPrefix(first, "STREAM ACCEPT"):
			io.WriteString(c, "STREAM STATUS RESULT=OK\n")
			mu.Lock()
			b := bad
			mu.Unlock()
			if b {
				io.WriteString(c, "not-a-destination FROM_PORT=1\n")
				return
			}
			io.WriteString(c, i2pB64.EncodeToString(peerDest)+" FROM_PORT=7 TO_PORT=3457\nhello")
			io.Copy(io.Discard, r)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := openSAMSession(ctx, addr, key, 0, []string{"inbound.length=1"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if p := <-pong; p != "PONG 42" {
		t.Fatalf("answered PING 42 with %q", p)
	}
	c, err := s.accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := i2pB32Address(peerDest)
	if a := c.RemoteAddr().(i2pAddr); a.host != want || a.port != 7 {
		t.Errorf("the peer is %v, want %s:7", a, want)
	}
	got := make([]byte, 5)
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "hello" {
		t.Errorf("read %q, %v", got, err)
	}
	c.Close()
	mu.Lock()
	bad = true
	mu.Unlock()
	if c, err := s.accept(ctx); err == nil || !errors.Is(err, ErrSAM) {
		if c != nil {
			c.Close()
		}
		t.Errorf("a peer line that is no destination: %v", err)
	}
}

// TestI2PListenerRecreatesAndCloses: when the bridge drops the session,
// the listener makes it again; and Close returns at once although the
// bridge holds its ACCEPT open forever.
func TestI2PListenerRecreatesAndCloses(t *testing.T) {
	key, _ := fakeKey(t)
	var mu sync.Mutex
	creates := 0
	addr := fakeBridge(t, func(c net.Conn, r *bufio.Reader, first string) {
		switch {
		case strings.HasPrefix(first, "SESSION CREATE"):
			mu.Lock()
			creates++
			n := creates
			mu.Unlock()
			io.WriteString(c, "SESSION STATUS RESULT=OK DESTINATION="+key+"\n")
			if n == 1 {
				time.Sleep(100 * time.Millisecond)
				return // the bridge drops the first session
			}
			io.Copy(io.Discard, r)
		case strings.HasPrefix(first, "STREAM ACCEPT"):
			io.WriteString(c, "STREAM STATUS RESULT=OK\n")
			io.Copy(io.Discard, r) // never a peer
		}
	})
	l, err := newI2PListener(addr, key, 3457, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		mu.Lock()
		n := creates
		mu.Unlock()
		if n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions made; the dropped one was not made again", n)
		}
	}
	time.Sleep(100 * time.Millisecond) // an ACCEPT waits now
	done := make(chan error, 1)
	go func() { done <- l.Close() }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("Close hangs")
	}
	if c, err := l.Accept(); err == nil {
		c.Close()
		t.Fatal("accepted after Close")
	}
}

// TestI2PRouteSessionOutlivesACaller: a caller that stops waiting does
// not end the session others wait for, and close ends it.
func TestI2PRouteSessionOutlivesACaller(t *testing.T) {
	key, _ := fakeKey(t)
	release := make(chan struct{})
	addr := fakeBridge(t, func(c net.Conn, r *bufio.Reader, first string) {
		if strings.HasPrefix(first, "SESSION CREATE") {
			<-release // a slow bridge: tunnels take a while
			io.WriteString(c, "SESSION STATUS RESULT=OK DESTINATION="+key+"\n")
			io.Copy(io.Discard, r)
		}
	})
	r := &i2pRoute{sam: addr}
	defer r.close()
	short, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := r.session(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a caller that gave up: %v", err)
	}
	close(release)
	ctx, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	s, err := r.session(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !s.alive() {
		t.Fatal("a dead session")
	}
	r.close()
	if _, err := r.session(ctx); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
}
