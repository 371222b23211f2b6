// Package benchup measures the upload path alone: a client uploading to
// ten storage servers over real HTTPS on 127.0.0.1 with disk backends, in
// one process so that a CPU profile shows every side.
package benchup

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"net"
	"os"
	"testing"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/backend/disk"
	"github.com/lafs/lafs/grid"
	"github.com/lafs/lafs/immutable"
	"github.com/lafs/lafs/node"
	"github.com/lafs/lafs/storage"
	"github.com/lafs/lafs/storagehttp"
)

type peers []*lafs.Server

func (p peers) ServersFor(si lafs.StorageIndex) []*lafs.Server { return grid.Permute(si, p) }

func startServers(b *testing.B, n int) peers {
	var ps peers
	for i := 0; i < n; i++ {
		id, err := node.GenerateIdentity()
		if err != nil {
			b.Fatal(err)
		}
		be, err := disk.Open(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		s, _ := storage.New(be, storage.Config{NodeID: id.NodeID})
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		h := storagehttp.Handler(s, []byte("swiss"))
		srv := storagehttp.NewServer(h, id.TLSCert)
		go srv.Serve(tls.NewListener(ln, storagehttp.ServerTLSConfig(id.TLSCert)))
		b.Cleanup(func() { srv.Close() })
		u := storagehttp.NURL{SPKIHash: id.SPKIHash, Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, Swissnum: "swiss"}
		c, err := storagehttp.Dial(u)
		if err != nil {
			b.Fatal(err)
		}
		seed := make([]byte, 32)
		rand.Read(seed)
		ps = append(ps, &lafs.Server{ID: id.LongNodeID(), NodeID: id.NodeID, PermutationSeed: seed, Storage: c})
	}
	return ps
}

func BenchmarkUpload(b *testing.B) {
	ps := startServers(b, 10)
	f, _ := os.CreateTemp(b.TempDir(), "f")
	const size = 64 << 20
	buf := make([]byte, size)
	rand.Read(buf)
	f.Write(buf)
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, err := immutable.Upload(context.Background(), ps, f, size, immutable.UploadOptions{
			Params: lafs.DefaultParams, LeaseSecret: make([]byte, 32)}) // random key: a new file each time
		if err != nil {
			b.Fatal(err)
		}
	}
}
