package storagehttp

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/lafs/lafs"
)

// Benchmarks of share transfer through Dial -> Handler -> storage.Server
// (over the mem backend) across TLS on 127.0.0.1, beside a baseline: the
// same bytes copied over a plain TLS 1.3 connection on the same loopback.
// Compare MB/s: BenchmarkImmutableWrite against BenchmarkPlainTLSCopy.

const (
	benchShare = 64 << 20 // one large immutable share
	benchChunk = 1 << 20  // written in PATCHes of this size
)

// swapServer forwards to a storage server the benchmark can replace
// between iterations (so that finished shares do not pile up in memory).
type swapServer struct {
	mu sync.Mutex
	lafs.StorageServer
}

func (s *swapServer) set(srv lafs.StorageServer) {
	s.mu.Lock()
	s.StorageServer = srv
	s.mu.Unlock()
}

func (s *swapServer) get() lafs.StorageServer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.StorageServer
}

func (s *swapServer) AllocateBuckets(ctx context.Context, si lafs.StorageIndex, l lafs.LeaseSecrets, up lafs.UploadSecret, sh []lafs.ShareNum, n uint64) (lafs.AllocateResult, error) {
	return s.get().AllocateBuckets(ctx, si, l, up, sh, n)
}

func (s *swapServer) WriteImmutable(ctx context.Context, si lafs.StorageIndex, sh lafs.ShareNum, up lafs.UploadSecret, off uint64, d []byte) (lafs.WriteResult, error) {
	return s.get().WriteImmutable(ctx, si, sh, up, off, d)
}

func (s *swapServer) ReadImmutable(ctx context.Context, si lafs.StorageIndex, sh lafs.ShareNum, off, n uint64) ([]byte, error) {
	return s.get().ReadImmutable(ctx, si, sh, off, n)
}

func randomBytes(b *testing.B, n int) []byte {
	d := make([]byte, n)
	rand.Read(d)
	return d
}

func randomSI() (si lafs.StorageIndex) {
	rand.Read(si[:])
	return si
}

// uploadShare allocates share 0 of si and writes data in chunks.
func uploadShare(b *testing.B, s lafs.StorageServer, si lafs.StorageIndex, data []byte, chunk int) {
	ctx := context.Background()
	up := []byte("upload secret")
	res, err := s.AllocateBuckets(ctx, si, lafs.LeaseSecrets{}, up, []lafs.ShareNum{0}, uint64(len(data)))
	if err != nil || len(res.Allocated) != 1 {
		b.Fatalf("allocate: %+v, %v", res, err)
	}
	for off := 0; off < len(data); off += chunk {
		end := min(off+chunk, len(data))
		wr, err := s.WriteImmutable(ctx, si, 0, up, uint64(off), data[off:end])
		if err != nil {
			b.Fatal(err)
		}
		if wr.Done != (end == len(data)) {
			b.Fatalf("write at %d: done %v", off, wr.Done)
		}
	}
}

// BenchmarkImmutableWrite uploads a 64 MiB share in 1 MiB PATCHes.
func BenchmarkImmutableWrite(b *testing.B) {
	data := randomBytes(b, benchShare)
	b.Run("HTTPS", func(b *testing.B) {
		sw := &swapServer{StorageServer: newMemServer(b)}
		c := newRemote(b, sw)
		b.SetBytes(benchShare)
		b.ResetTimer()
		for range b.N {
			b.StopTimer()
			sw.set(newMemServer(b))
			runtime.GC() // collect the last server's shares outside the timing
			b.StartTimer()
			uploadShare(b, c, randomSI(), data, benchChunk)
		}
	})
	b.Run("HTTPS-Parallel4", func(b *testing.B) {
		sw := &swapServer{StorageServer: newMemServer(b)}
		c := newRemote(b, sw)
		b.SetBytes(benchShare)
		b.ResetTimer()
		for range b.N {
			b.StopTimer()
			sw.set(newMemServer(b))
			runtime.GC()
			b.StartTimer()
			uploadShareParallel(b, c, randomSI(), data, benchChunk, 4)
		}
	})
	b.Run("HTTPS-Discard", func(b *testing.B) {
		// The protocol alone: a storage server that drops what it gets.
		var mu sync.Mutex
		var written uint64
		s := &fakeServer{
			allocate: func(context.Context, lafs.StorageIndex, lafs.LeaseSecrets, []byte, []lafs.ShareNum, uint64) (lafs.AllocateResult, error) {
				mu.Lock()
				written = 0
				mu.Unlock()
				return lafs.AllocateResult{Allocated: []lafs.ShareNum{0}}, nil
			},
			write: func(_ context.Context, _ lafs.StorageIndex, _ lafs.ShareNum, _ []byte, _ uint64, d []byte) (lafs.WriteResult, error) {
				mu.Lock()
				defer mu.Unlock()
				written += uint64(len(d))
				return lafs.WriteResult{Done: written == benchShare}, nil
			},
		}
		c := newRemote(b, s)
		b.SetBytes(benchShare)
		b.ResetTimer()
		for range b.N {
			uploadShare(b, c, randomSI(), data, benchChunk)
		}
	})
	b.Run("Local", func(b *testing.B) {
		b.SetBytes(benchShare)
		for range b.N {
			b.StopTimer()
			s := newMemServer(b)
			runtime.GC()
			b.StartTimer()
			uploadShare(b, s, randomSI(), data, benchChunk)
		}
	})
}

// uploadShareParallel is uploadShare with n writes in flight at once.
func uploadShareParallel(b *testing.B, s lafs.StorageServer, si lafs.StorageIndex, data []byte, chunk, n int) {
	ctx := context.Background()
	up := []byte("upload secret")
	if _, err := s.AllocateBuckets(ctx, si, lafs.LeaseSecrets{}, up, []lafs.ShareNum{0}, uint64(len(data))); err != nil {
		b.Fatal(err)
	}
	offs := make(chan int)
	var wg sync.WaitGroup
	var done atomic.Int32
	for range n {
		wg.Go(func() {
			for off := range offs {
				wr, err := s.WriteImmutable(ctx, si, 0, up, uint64(off), data[off:min(off+chunk, len(data))])
				if err != nil {
					b.Error(err)
				}
				if wr.Done {
					done.Add(1)
				}
			}
		})
	}
	for off := 0; off < len(data); off += chunk {
		offs <- off
	}
	close(offs)
	wg.Wait()
	if done.Load() != 1 {
		b.Fatalf("%d writes completed the share", done.Load())
	}
}

// BenchmarkImmutableRead reads a 64 MiB share whole, and in 1 MiB reads.
func BenchmarkImmutableRead(b *testing.B) {
	data := randomBytes(b, benchShare)
	s := newMemServer(b)
	si := randomSI()
	uploadShare(b, s, si, data, benchChunk)
	c := newRemote(b, s)
	ctx := context.Background()
	b.Run("Whole", func(b *testing.B) {
		b.SetBytes(benchShare)
		for range b.N {
			got, err := c.ReadImmutable(ctx, si, 0, 0, benchShare)
			if err != nil || len(got) != benchShare {
				b.Fatalf("%d bytes, %v", len(got), err)
			}
		}
	})
	b.Run("Chunks", func(b *testing.B) {
		b.SetBytes(benchShare)
		for range b.N {
			for off := 0; off < benchShare; off += benchChunk {
				got, err := c.ReadImmutable(ctx, si, 0, uint64(off), benchChunk)
				if err != nil || len(got) != benchChunk {
					b.Fatalf("%d bytes, %v", len(got), err)
				}
			}
		}
	})
}

// BenchmarkSmallShares: per op, allocate, write and read back one 4 KiB
// share over HTTPS (three requests on a kept-alive connection).
func BenchmarkSmallShares(b *testing.B) {
	data := randomBytes(b, 4096)
	sw := &swapServer{StorageServer: newMemServer(b)}
	c := newRemote(b, sw)
	ctx := context.Background()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := range b.N {
		if i%10000 == 9999 {
			b.StopTimer()
			sw.set(newMemServer(b))
			b.StartTimer()
		}
		si := randomSI()
		uploadShare(b, c, si, data, len(data))
		got, err := c.ReadImmutable(ctx, si, 0, 0, uint64(len(data)))
		if err != nil || len(got) != len(data) {
			b.Fatalf("%d bytes, %v", len(got), err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "shares/s")
}

// BenchmarkPlainTLSCopy is the baseline: 64 MiB in 1 MiB writes over one
// TLS 1.3 connection on 127.0.0.1 with the same certificate, the reader
// answering one byte when it has them all.
func BenchmarkPlainTLSCopy(b *testing.B) {
	cert := newTestCert(b, "a")
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert.tls}, MinVersion: tls.VersionTLS13})
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		buf := make([]byte, 64<<10)
		for {
			for got := 0; got < benchShare; {
				n, err := conn.Read(buf)
				if err != nil {
					return
				}
				got += n
			}
			if _, err := conn.Write([]byte{1}); err != nil {
				return
			}
		}
	}()
	conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13})
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	data := randomBytes(b, benchShare)
	b.SetBytes(benchShare)
	b.ResetTimer()
	for range b.N {
		for off := 0; off < benchShare; off += benchChunk {
			if _, err := conn.Write(data[off : off+benchChunk]); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := io.ReadFull(conn, make([]byte, 1)); err != nil {
			b.Fatal(err)
		}
	}
}
