package client

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/internal/testgrid"
)

// BenchmarkCreateDir measures making an empty SDMF directory on ten
// in-memory servers with a warm key pool: the client's share of `lafs mkdir`.
func BenchmarkCreateDir(b *testing.B) {
	g := testgrid.New(b, 10)
	c, err := New(Config{Params: lafs.DefaultParams, Convergence: []byte("c"), LeaseSecret: bytes.Repeat([]byte{1}, 32), Peers: g, KeyPoolSize: b.N + 1})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	for c.keys.Ready() < b.N {
		time.Sleep(10 * time.Millisecond) // let the pool warm up
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.CreateDir(context.Background(), cap.SDMF); err != nil {
			b.Fatal(err)
		}
	}
}
