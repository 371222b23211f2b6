package s3

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/lafs/lafs/backend"
	"github.com/lafs/lafs/internal/s3test"
)

// killer is a transport that kills the server once a PUT whose path
// contains target has sent after bytes of its body, as a crash of the
// store in the middle of a write would.
type killer struct {
	srv    *s3test.Server
	inner  http.RoundTripper
	mu     sync.Mutex
	target string
	after  int64
	fired  bool
}

func (k *killer) arm(target string, after int64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.target, k.after, k.fired = target, after, false
}

func (k *killer) RoundTrip(req *http.Request) (*http.Response, error) {
	k.mu.Lock()
	hit := k.target != "" && !k.fired && req.Method == http.MethodPut && strings.Contains(req.URL.Path, k.target) && req.Body != nil
	if hit {
		k.fired = true
		req = req.Clone(req.Context())
		req.Body = &killingBody{ReadCloser: req.Body, left: k.after, kill: k.srv.Kill}
	}
	k.mu.Unlock()
	return k.inner.RoundTrip(req)
}

type killingBody struct {
	io.ReadCloser
	left int64
	kill func()
	once sync.Once
}

func (b *killingBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		b.once.Do(b.kill)
		return 0, errors.New("server killed")
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	return n, err
}

// faultSetup starts a server of the test's own and opens a backend on it
// whose transport can kill the server mid-request.
func faultSetup(t *testing.T) (*s3test.Server, Config, *killer) {
	srv := s3test.Start(t)
	cfg := testConfig(t, srv)
	cfg.PartSize = MinPartSize
	tr, err := minio.DefaultTransport(false)
	must(t, err)
	kl := &killer{srv: srv, inner: tr}
	cfg.Transport = kl
	return srv, cfg, kl
}

func restart(t *testing.T, srv *s3test.Server) {
	t.Helper()
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
}

// reopen opens cfg again with a staging folder of its own and no
// transport tricks, as the node would after a restart.
func reopen(t *testing.T, cfg Config) *Backend {
	cfg.StagingDir = t.TempDir()
	cfg.Transport = nil
	return openConfig(t, cfg)
}

// TestKilledMidUpload kills the S3 server while a multipart object is
// being uploaded, in a part's body and then before Commit: Commit fails
// cleanly, nothing of it is visible, the objects committed before read
// back intact, and the next Open clears what it left.
func TestKilledMidUpload(t *testing.T) {
	srv, cfg, kl := faultSetup(t)
	b := openConfig(t, cfg)
	const ps = MinPartSize
	small, large := testKeyOf(8, 0), testKeyOf(8, 1)
	smallData, largeData := pattern(1, 1000), pattern(2, 2*ps+77)
	put(t, b, small, smallData)
	put(t, b, large, largeData)

	k := testKeyOf(8, 2)
	data := pattern(3, 3*ps+5)
	st, err := b.Create(ctx, k, int64(len(data)))
	must(t, err)
	kl.arm(shareName(k), ps/2) // in the body of the first part
	must(t, st.WriteAt(data[:2*ps+1], 0))
	must(t, st.WriteAt(data[2*ps+1:], 2*ps+1))
	if err := st.Commit(ctx); err == nil {
		t.Fatalf("Commit with the server killed mid-part succeeded")
	}
	must(t, st.Abort())
	restart(t, srv)
	if _, err := b.Size(ctx, k); !errors.Is(err, backend.ErrNotExist) {
		t.Errorf("Size of the failed upload: %v, want ErrNotExist", err)
	}
	b2 := reopen(t, cfg)
	wantNoUploads(t, srv, b2)
	for _, bk := range []*Backend{b, b2} {
		wantBytes(t, bk, small, smallData, "committed before the crash")
		wantBytes(t, bk, large, largeData, "committed before the crash")
		if _, err := bk.Size(ctx, k); !errors.Is(err, backend.ErrNotExist) {
			t.Errorf("Size of the failed upload: %v, want ErrNotExist", err)
		}
	}
	put(t, b2, k, data)
	wantBytes(t, b2, k, data, "uploaded again")

	// Killed (and restarted a moment later) while Commit completes: it
	// either succeeds, and then holds exactly the bytes, or fails and
	// holds nothing.
	cfg3 := cfg
	cfg3.MaxRetries = 10
	b3 := reopen(t, cfg3)
	k3 := testKeyOf(8, 3)
	st, err = b3.Create(ctx, k3, int64(len(data)))
	must(t, err)
	must(t, st.WriteAt(data, 0))
	waitUploads(t, st.(*staged), 2)
	srv.Kill()
	restarted := make(chan error, 1)
	go func() {
		time.Sleep(300 * time.Millisecond)
		restarted <- srv.Restart()
	}()
	err = st.Commit(ctx)
	must(t, <-restarted)
	b4 := reopen(t, cfg)
	if err == nil {
		wantBytes(t, b4, k3, data, "committed across a restart of the server")
	} else if _, serr := b4.Size(ctx, k3); !errors.Is(serr, backend.ErrNotExist) {
		t.Errorf("Commit failed (%v), yet Size = %v", err, serr)
	}
	t.Logf("Commit across a restart of the server: %v", err)
	wantBytes(t, b4, large, largeData, "committed before the crashes")
}

// TestKilledBeforeSync changes a committed (mutable) object in place and
// kills the server before Sync, then in the middle of Sync's PUT: Sync
// fails cleanly and the store holds the old bytes, whole; once the
// server is back, a Sync writes the change.
func TestKilledBeforeSync(t *testing.T) {
	srv, cfg, kl := faultSetup(t)
	b := openConfig(t, cfg)
	k := testKeyOf(9, 0)
	old := pattern(4, 3*chunkSize+9)
	put(t, b, k, old)
	must(t, b.WriteAt(ctx, k, []byte("new bytes"), chunkSize-3))
	changed := bytes.Clone(old)
	copy(changed[chunkSize-3:], "new bytes")

	srv.Kill()
	if err := b.Sync(ctx, k); err == nil || errors.Is(err, errLostUpdate) {
		t.Fatalf("Sync with the server down: %v, want a failure (not a lost update)", err)
	}
	restart(t, srv)
	wantBytes(t, reopen(t, cfg), k, old, "after a failed Sync")
	wantBytes(t, b, k, changed, "in place, before a Sync succeeds")

	// Killed in the middle of the PUT.
	kl.arm(shareName(k), chunkSize+100)
	if err := b.Sync(ctx, k); err == nil {
		t.Fatalf("Sync with the server killed mid-PUT succeeded")
	}
	restart(t, srv)
	wantBytes(t, reopen(t, cfg), k, old, "after a Sync cut short")

	must(t, b.Sync(ctx, k))
	wantBytes(t, reopen(t, cfg), k, changed, "after Sync")
	if b.getOverlay(shareName(k)) != nil {
		t.Errorf("overlay kept after a successful Sync")
	}
}
