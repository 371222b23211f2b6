package webapi

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"testing"
	"time"

	"github.com/lafs/lafs/client"
	"github.com/lafs/lafs/internal/testgrid"
	"github.com/lafs/lafs/internal/testutil"
)

// pattern is a file of any size whose bytes are computed from their
// offsets, so that tests need not hold it.
type pattern int64

func patternByte(off int64) byte { return byte(off*2654435761>>13) ^ byte(off>>20) }

func (p pattern) ReadAt(b []byte, off int64) (int, error) {
	n := 0
	for ; n < len(b) && off+int64(n) < int64(p); n++ {
		b[n] = patternByte(off + int64(n))
	}
	if n < len(b) {
		return n, io.EOF
	}
	return n, nil
}

func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestHeavyStreamingMemory downloads a 64 MiB file through the web API and
// checks that the live heap stays far below the file's size: the file is
// streamed, never held. The heap is measured (after a GC) while the client
// holds the transfer still, so that the server's segments in flight count.
func TestHeavyStreamingMemory(t *testing.T) {
	testutil.Heavy(t)
	const size = 64 << 20
	g := testgrid.New(t, 10)
	c := testClient(t, g)
	start := time.Now()
	up, err := c.Upload(context.Background(), pattern(size), size, client.UploadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	k := up.Cap
	t.Logf("uploaded %d MiB in %v", size>>20, time.Since(start))
	srv := httptest.NewServer(New(c, nil, Options{}))
	defer srv.Close()

	base := liveHeap()
	for _, rng := range []string{"", "bytes=1000000-"} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/uri/"+url.PathEscape(k.String()), nil)
		off := int64(0)
		if rng != "" {
			req.Header.Set("Range", rng)
			off = 1000000
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprint(size - off); resp.Header.Get("Content-Length") != want {
			t.Fatalf("Content-Length %s, want %s", resp.Header.Get("Content-Length"), want)
		}
		var peak uint64
		buf := make([]byte, 1<<20)
		want := make([]byte, 1<<20)
		for i := 0; ; i++ {
			n, err := io.ReadFull(resp.Body, buf)
			pattern(size).ReadAt(want[:n], off)
			if !bytes.Equal(buf[:n], want[:n]) {
				t.Fatalf("wrong bytes at %d", off)
			}
			off += int64(n)
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if i%8 == 4 {
				time.Sleep(20 * time.Millisecond) // let the server fill its pipeline
				if h := liveHeap(); h > peak {
					peak = h
				}
			}
		}
		resp.Body.Close()
		if off != size {
			t.Fatalf("read %d bytes, want %d", off, size)
		}
		growth := int64(peak) - int64(base)
		t.Logf("range %q: live heap grew by at most %.1f MiB while streaming %d MiB", rng, float64(growth)/(1<<20), size>>20)
		if growth > 24<<20 {
			t.Errorf("live heap grew by %d MiB while streaming: the file is not streamed", growth>>20)
		}
	}
}
