package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/internal/testgrid"
)

// Every storage request goes through the client's decorator: a read that
// fails in transit is tried once more, a request is bounded by
// RequestTimeout, and both are counted.
func TestStorageDecorator(t *testing.T) {
	g := testgrid.New(t, 10)
	c, err := New(Config{Params: lafs.DefaultParams, Convergence: []byte("x"), Peers: g, TempDir: t.TempDir(),
		RequestTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	data := make([]byte, 200000)
	rand.Read(data)
	up, err := c.Upload(ctx, bytes.NewReader(data), int64(len(data)), UploadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	k := up.Cap
	// Every server fails its next request once: each read is retried.
	for _, f := range g.Faults {
		f.Set(func(f *testgrid.Faults) { f.FailNext = 1 })
	}
	before := c.StorageStats()
	f, err := c.OpenFile(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := f.WriteRange(ctx, &buf, 0, -1); err != nil || !bytes.Equal(buf.Bytes(), data) {
		t.Fatalf("read after transient failures: %v", err)
	}
	after := c.StorageStats()
	if after.Retries-before.Retries < 3 || after.Failures-before.Failures < 3 {
		t.Errorf("stats %+v -> %+v: want retries and failures counted", before, after)
	}
	// A server that does not answer: its requests end at RequestTimeout.
	g.Faults[0].Set(func(f *testgrid.Faults) { f.Delay = time.Hour })
	s := c.cfg.Peers.ServersFor(lafs.StorageIndex{})
	for _, srv := range s {
		if srv.ID != g.Servers[0].ID {
			continue
		}
		start := time.Now()
		_, err := srv.Storage.Version(ctx)
		if err == nil || time.Since(start) > 2*time.Second {
			t.Errorf("a frozen server's request: %v after %v", err, time.Since(start))
		}
	}
	if st := c.StorageStats(); st.Timeouts == 0 {
		t.Errorf("no timeout counted: %+v", st)
	}
}
