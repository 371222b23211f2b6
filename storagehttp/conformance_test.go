package storagehttp

import (
	"testing"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/backend/mem"
	"github.com/lafs/lafs/storage"
	"github.com/lafs/lafs/storage/storagetest"
)

// newRemote serves srv through Handler over real HTTPS on 127.0.0.1 and
// returns a client dialed with a pinning NURL.
func newRemote(t testing.TB, srv lafs.StorageServer) *Client {
	t.Helper()
	cert := newTestCert(t, "a")
	n := serveTLS(t, Handler(srv, []byte(testSwissnum), WithErrorLog(discardLog())), cert, testSwissnum)
	c, err := Dial(n)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func newMemServer(t testing.TB) *storage.Server {
	t.Helper()
	s, err := storage.New(mem.New(), storage.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestConformance runs the storage server conformance suite against a
// storage.Server on the far side of the HTTP protocol.
func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) lafs.StorageServer {
		return newRemote(t, newMemServer(t))
	})
}
