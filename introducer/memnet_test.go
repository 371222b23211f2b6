package introducer

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

// The timing tests run in synctest bubbles, whose clock moves only when
// every goroutine of the bubble waits on something inside it. A goroutine
// reading a real socket waits on the kernel, so the bubble never idles:
// those tests reach their introducer over net.Pipe instead, through a
// memListener that an http.Server serves with TLS exactly as over TCP. The
// client's own http.Transport, TLS pinning and timeouts all run; only its
// dialer is replaced (WithDialContext, which Tor uses too).

// memAddr is the address of a memListener.
type memAddr string

func (a memAddr) Network() string { return "mem" }
func (a memAddr) String() string  { return string(a) }

// memListener is a net.Listener whose connections are net.Pipes made by
// connect.
type memListener struct {
	addr  memAddr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newMemListener(addr string) *memListener {
	return &memListener{addr: memAddr(addr), conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *memListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *memListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *memListener) Addr() net.Addr { return l.addr }

// connect hands the listener one end of a new pipe and returns the other;
// a closed listener refuses, as a closed port does.
func (l *memListener) connect(ctx context.Context) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
		client.Close()
		server.Close()
		return nil, refused(string(l.addr))
	case <-ctx.Done():
		client.Close()
		server.Close()
		return nil, ctx.Err()
	}
}

// refused is the error of a dial to a port nobody listens on.
func refused(addr string) error {
	return &net.OpError{Op: "dial", Net: "tcp", Addr: memAddr(addr), Err: syscall.ECONNREFUSED}
}

// clock steps a bubble's fake clock to moments counted from t0.
type clock struct {
	t  *testing.T
	t0 time.Time
}

func newClock(t *testing.T) clock { return clock{t, time.Now()} }

// to sleeps until the moment d after t0 and lets every goroutine of the
// bubble run until it waits.
func (c clock) to(d time.Duration) {
	c.t.Helper()
	if now := time.Since(c.t0); now > d {
		c.t.Fatalf("clock.to(%v): already at %v", d, now)
	}
	time.Sleep(time.Until(c.t0.Add(d)))
	synctest.Wait()
}

// secs writes a duration as seconds: "211.1s".
func secs(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s" }

// reqLog records the requests an introducer gets, by the bubble's clock,
// with the status they were answered (0 while unanswered). A long poll
// asking to wait other than the client's default 60 s shows its wait.
type reqLog struct {
	t0      time.Time
	mu      sync.Mutex
	entries []*logEntry
}

type logEntry struct {
	at   time.Duration
	kind string // "publish", "poll" (no after) or "long poll"
	code int
}

func newReqLog(c clock) *reqLog { return &reqLog{t0: c.t0} }

func (l *reqLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e := &logEntry{at: time.Since(l.t0), kind: r.URL.Path}
		switch {
		case r.URL.Path == pathPublish:
			e.kind = "publish"
		case r.URL.Path == pathAnnouncements && r.URL.Query().Has("after"):
			e.kind = "long poll"
			if wait := r.URL.Query().Get("wait"); wait != "60.000" {
				e.kind += " wait=" + wait
			}
		case r.URL.Path == pathAnnouncements:
			e.kind = "poll"
		}
		l.mu.Lock()
		l.entries = append(l.entries, e)
		l.mu.Unlock()
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		l.mu.Lock()
		e.code = sw.code
		l.mu.Unlock()
	})
}

// of lists the requests whose kind starts with prefix, one line each:
// "211.1s long poll 200".
func (l *reqLog) of(prefix string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, e := range l.entries {
		if strings.HasPrefix(e.kind, prefix) {
			out = append(out, fmt.Sprintf("%s %s %d", secs(e.at), e.kind, e.code))
		}
	}
	return out
}

// check compares the requests of a kind with the ones expected.
func (l *reqLog) check(t *testing.T, prefix string, want ...string) {
	t.Helper()
	got := l.of(prefix)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s requests:\n\t%s\nwant:\n\t%s", prefix, strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// faults makes an introducer misbehave on demand.
type faults struct {
	mu          sync.Mutex
	pollCode    int  // when not 0, polls get this status
	publishCode int  // when not 0, publishes get this status
	hangLong    bool // long polls are never answered
	hangAll     bool // no poll is answered
}

func (f *faults) set(fn func(f *faults)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *faults) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		pollCode, publishCode := f.pollCode, f.publishCode
		hang := f.hangAll || f.hangLong && r.URL.Query().Has("after")
		f.mu.Unlock()
		switch {
		case r.URL.Path == pathPublish && publishCode != 0:
			http.Error(w, "publish fault", publishCode)
		case r.URL.Path == pathAnnouncements && pollCode != 0:
			http.Error(w, "poll fault", pollCode)
		case r.URL.Path == pathAnnouncements && hang:
			<-r.Context().Done()
		default:
			h.ServeHTTP(w, r)
		}
	})
}
