package s3

import (
	"context"
	"crypto/rand"
	"io"
	"os"
	"testing"

	"github.com/lafs/lafs/backend"
	"github.com/lafs/lafs/backend/backendtest"
	"github.com/lafs/lafs/backend/disk"
	"github.com/lafs/lafs/internal/s3test"
)

var ctx = context.Background()

func TestMain(m *testing.M) {
	code := m.Run()
	s3test.StopShared()
	os.Exit(code)
}

// testConfig returns the configuration of a backend on srv under a prefix
// of its own, with a random seal key.
func testConfig(t testing.TB, srv *s3test.Server) Config {
	var key [32]byte
	rand.Read(key[:])
	return Config{
		Endpoint:   srv.Endpoint,
		Bucket:     srv.Bucket,
		Prefix:     s3test.Prefix(),
		PathStyle:  true,
		AccessKey:  srv.AccessKey,
		SecretKey:  srv.SecretKey,
		SealKey:    key,
		StagingDir: t.TempDir(),
		NodeID:     "node-" + t.Name(),
		MaxRetries: 2,
	}
}

// openConfig opens cfg, closing the backend when t ends.
func openConfig(t testing.TB, cfg Config) *Backend {
	t.Helper()
	b, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// openShared opens a fresh backend on the shared server.
func openShared(t testing.TB) *Backend {
	t.Helper()
	return openConfig(t, testConfig(t, s3test.Shared(t)))
}

func TestBackend(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backend.Backend { return openShared(t) })
}

func TestRecords(t *testing.T) {
	backendtest.RunRecords(t, func(t *testing.T) backend.RecordStore { return openShared(t) })
}

func BenchmarkBackend(b *testing.B) {
	backendtest.Bench(b, func(b *testing.B) backend.Backend { return openShared(b) })
}

// BenchmarkBackendNoChunkCache measures every read going to the store.
func BenchmarkBackendNoChunkCache(b *testing.B) {
	backendtest.Bench(b, func(b *testing.B) backend.Backend {
		be := openShared(b)
		be.chunks = newChunkCache(0)
		return be
	})
}

// BenchmarkLarge stores and reads a 64 MiB object in 1 MiB writes and
// reads, where the S3 backend pipelines multipart parts, beside the disk
// backend.
func BenchmarkLarge(b *testing.B) {
	const size, piece = 64 << 20, 1 << 20
	data := pattern(9, piece)
	for _, bk := range []struct {
		name string
		open func(b *testing.B) backend.Backend
	}{
		{"s3", func(b *testing.B) backend.Backend { return openShared(b) }},
		{"disk", func(b *testing.B) backend.Backend {
			d, err := disk.Open(b.TempDir())
			must(b, err)
			b.Cleanup(func() { d.Close() })
			return d
		}},
	} {
		b.Run(bk.name+"/CreateCommit", func(b *testing.B) {
			be := bk.open(b)
			b.SetBytes(size)
			i := 0
			for b.Loop() {
				k := testKeyOf(byte(i), 0)
				i++
				st, err := be.Create(ctx, k, size)
				must(b, err)
				for off := 0; off < size; off += piece {
					must(b, st.WriteAt(data, int64(off)))
				}
				must(b, st.Commit(ctx))
				b.StopTimer()
				must(b, be.Delete(ctx, k))
				b.StartTimer()
			}
		})
		b.Run(bk.name+"/ReadAt", func(b *testing.B) {
			be := bk.open(b)
			k := testKeyOf(0, 0)
			st, err := be.Create(ctx, k, size)
			must(b, err)
			for off := 0; off < size; off += piece {
				must(b, st.WriteAt(data, int64(off)))
			}
			must(b, st.Commit(ctx))
			p := make([]byte, piece)
			b.SetBytes(size)
			for b.Loop() {
				for off := 0; off < size; off += piece {
					if _, err := be.ReadAt(ctx, k, p, int64(off)); err != nil && err != io.EOF {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
