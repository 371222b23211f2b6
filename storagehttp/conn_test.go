package storagehttp

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lafs/lafs"
)

// countingConn counts the writes made to a socket.
type countingConn struct {
	net.Conn
	writes *atomic.Int32
}

func (c countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// TestLargeWriteFewSocketWrites checks that a large share write arrives
// whole and goes out in few socket writes, not one per TLS record.
func TestLargeWriteFewSocketWrites(t *testing.T) {
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(i*13 + i>>10)
	}
	var mu sync.Mutex
	got := make([]byte, len(data))
	s := &fakeServer{
		write: func(_ context.Context, _ lafs.StorageIndex, _ lafs.ShareNum, _ []byte, off uint64, d []byte) (lafs.WriteResult, error) {
			mu.Lock()
			defer mu.Unlock()
			copy(got[off:], d)
			return lafs.WriteResult{Required: []lafs.ByteRange{}}, nil
		},
	}
	var writes atomic.Int32
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countingConn{c, &writes}, nil
	}
	c := dialTest(t, serveTLS(t, Handler(s, []byte(testSwissnum)), newTestCert(t, "a"), testSwissnum), WithDialContext(dial))
	ctx := t.Context()
	// A first request, so that the handshake is not counted.
	if _, err := c.WriteImmutable(ctx, testSI, 0, []byte("up"), 0, data[:10]); err != nil {
		t.Fatal(err)
	}
	before := writes.Load()
	if _, err := c.WriteImmutable(ctx, testSI, 0, []byte("up"), 0, data); err != nil {
		t.Fatal(err)
	}
	// The head of the request, then the records maxGather bytes at a
	// time (one per 16 KiB record without the gathering).
	if n, most := writes.Load()-before, int32(2+len(data)/maxGather); n > most {
		t.Errorf("a 1 MiB write took %d socket writes, want at most %d", n, most)
	}
	mu.Lock()
	defer mu.Unlock()
	if !bytes.Equal(got, data) {
		t.Error("the server got other bytes")
	}
}

// TestCancelStalledWrite: a request whose body the server stops reading
// (its socket buffers full) ends promptly when its context does, not
// after TLS's close_notify waits out the stuck write.
func TestCancelStalledWrite(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	stall := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release })
	c := dialTest(t, serveTLS(t, stall, newTestCert(t, "a"), testSwissnum))
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	_, err := c.WriteImmutable(ctx, testSI, 0, []byte("up"), 0, make([]byte, 64<<20))
	if err == nil {
		t.Fatal("a write to a stalled server succeeded")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("the cancelled write took %v to end", d)
	}
}
