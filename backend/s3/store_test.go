package s3

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/backend"
	"github.com/lafs/lafs/internal/s3test"
)

func testKeyOf(b byte, n lafs.ShareNum) backend.Key {
	return backend.Key{SI: lafs.StorageIndex{b, 0x42, 15: 0x5a}, Share: n}
}

func pattern(seed, n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(seed*131 + i*7 + i>>8)
	}
	return p
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func put(t testing.TB, b backend.Backend, k backend.Key, data []byte) {
	t.Helper()
	st, err := b.Create(ctx, k, int64(len(data)))
	must(t, err)
	must(t, st.WriteAt(data, 0))
	must(t, st.Commit(ctx))
}

// readAll reads a whole object through Size and ReadAt, asking for one
// byte more than Size says (so that a stale size is noticed).
func readAll(b backend.Backend, k backend.Key) ([]byte, error) {
	n, err := b.Size(ctx, k)
	if err != nil {
		return nil, err
	}
	p := make([]byte, n+1)
	m, err := b.ReadAt(ctx, k, p, 0)
	switch {
	case err == io.EOF && int64(m) == n:
		err = nil
	case err == nil || err == io.EOF:
		err = fmt.Errorf("read %d bytes of an object of %d", m, n)
	}
	return p[:m], err
}

func wantBytes(t testing.TB, b backend.Backend, k backend.Key, want []byte, when string) {
	t.Helper()
	got, err := readAll(b, k)
	if err != nil {
		t.Fatalf("%s: reading %v: %v", when, k, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: %v holds %d other bytes, want %d", when, k, len(got), len(want))
	}
}

// raw is the stored object of name, read and written behind the
// backend's back.
type raw struct {
	t    testing.TB
	c    *minio.Core
	b    *Backend
	name string
}

func rawObject(t testing.TB, srv *s3test.Server, b *Backend, name string) raw {
	return raw{t: t, c: srv.Client(), b: b, name: name}
}

func (r raw) get() []byte {
	r.t.Helper()
	body, _, _, err := r.c.GetObject(ctx, r.b.cfg.Bucket, r.b.key(r.name), minio.GetObjectOptions{})
	must(r.t, err)
	defer body.Close()
	p, err := io.ReadAll(body)
	must(r.t, err)
	return p
}

func (r raw) put(p []byte) {
	r.t.Helper()
	_, err := r.c.PutObject(ctx, r.b.cfg.Bucket, r.b.key(r.name), bytes.NewReader(p), int64(len(p)), "", "", minio.PutObjectOptions{})
	must(r.t, err)
}

// wantTampered checks that err wraps ErrTampered, and so matches
// backend.ErrCorrupt too.
func wantTampered(t testing.TB, what string, err error) {
	t.Helper()
	if !errors.Is(err, ErrTampered) || !errors.Is(err, backend.ErrCorrupt) {
		t.Errorf("%s: %v, want ErrTampered and backend.ErrCorrupt", what, err)
	}
}

// TestTampered changes objects in the bucket behind the backend's back:
// a flipped byte, an object moved to another key, one cut short, one
// with its chunks swapped. Reads fail with ErrTampered (not a panic, not
// wrong bytes), naming the object. The backend has read (and cached) the
// first chunk before; it serves that from memory, as it was checked when
// fetched, and notices the change when it fetches any other.
func TestTampered(t *testing.T) {
	srv := s3test.Shared(t)
	b := openConfig(t, testConfig(t, srv))
	data := pattern(1, 3*chunkSize+100)
	k := testKeyOf(1, 0)
	fresh := func(name string) backend.Key {
		put(t, b, k, data)
		p := make([]byte, 100)
		if n, err := b.ReadAt(ctx, k, p, 0); n != len(p) || err != nil || !bytes.Equal(p, data[:100]) {
			t.Fatalf("before tampering %s: ReadAt = %d, %v", name, n, err)
		}
		return k
	}
	// reader opens a backend of the same node with nothing cached.
	reader := func() *Backend {
		cfg := b.cfg
		cfg.StagingDir = t.TempDir()
		return openConfig(t, cfg)
	}
	readErr := func(off int64) error {
		_, err := b.ReadAt(ctx, k, make([]byte, 100), off)
		return err
	}
	r := rawObject(t, srv, b, shareName(k))

	fresh("flip")
	p := r.get()
	p[sealedOffset(2)+10] ^= 0x80
	r.put(p)
	wantTampered(t, "ReadAt of a flipped chunk", readErr(2*chunkSize+5))
	if err := readErr(0); err != nil {
		t.Errorf("ReadAt of an intact chunk of a changed object: %v", err)
	}
	if err := readErr(2*chunkSize + 5); err == nil || !strings.Contains(err.Error(), b.key(shareName(k))) {
		t.Errorf("error does not name the object: %v", err)
	}
	must(t, b.Delete(ctx, k))

	// Another object's bytes under this key: both were sealed by this
	// node, but for another name.
	other := testKeyOf(1, 1)
	put(t, b, other, data)
	fresh("move")
	r.put(rawObject(t, srv, b, shareName(other)).get())
	wantTampered(t, "ReadAt of an object moved from another key", readErr(chunkSize))
	_, err := reader().ReadAt(ctx, k, make([]byte, 10), 0)
	wantTampered(t, "ReadAt of an object moved from another key, nothing cached", err)
	must(t, b.Delete(ctx, k))

	fresh("truncate")
	p = r.get()
	r.put(p[:sealedOffset(3)]) // whole chunks, the last one gone
	_, err = readAll(b, k)
	wantTampered(t, "reading an object cut at a chunk boundary", err)
	r.put(p[:len(p)-1])
	_, err = readAll(b, k)
	wantTampered(t, "reading an object cut by a byte", err)
	r.put(p[:headerSize+3])
	_, err = reader().ReadAt(ctx, k, make([]byte, 10), 0)
	wantTampered(t, "ReadAt of an object cut into its first chunk", err)
	must(t, b.Delete(ctx, k))

	fresh("swap")
	p = r.get()
	swapped := bytes.Clone(p)
	copy(swapped[sealedOffset(0):sealedOffset(1)], p[sealedOffset(1):sealedOffset(2)])
	copy(swapped[sealedOffset(1):sealedOffset(2)], p[sealedOffset(0):sealedOffset(1)])
	r.put(swapped)
	wantTampered(t, "ReadAt of swapped chunks", readErr(chunkSize))

	// A fresh backend (no cache) and an in-place write see it too.
	b2 := reader()
	wantTampered(t, "ReadAt without a cached header", func() error {
		_, err := b2.ReadAt(ctx, k, make([]byte, 10), chunkSize)
		return err
	}())
	wantTampered(t, "WriteAt of a tampered object", b2.WriteAt(ctx, k, []byte("x"), 0))

	// Records and the claim are sealed too.
	must(t, b.PutRecord(ctx, "leases/x", []byte("secret lease")))
	rr := rawObject(t, srv, b, recordName("leases/x"))
	p = rr.get()
	if bytes.Contains(p, []byte("secret lease")) {
		t.Errorf("a record is stored in the clear")
	}
	p[len(p)-1] ^= 1
	rr.put(p)
	_, err = b.GetRecord(ctx, "leases/x")
	wantTampered(t, "GetRecord of a tampered record", err)
}

// TestClaim opens a second backend on one prefix: refused for another
// node (with the same seal key or another), accepted for the same node.
func TestClaim(t *testing.T) {
	srv := s3test.Shared(t)
	cfg := testConfig(t, srv)
	cfg.NodeID = "node-one"
	b := openConfig(t, cfg)
	put(t, b, testKeyOf(2, 0), []byte("kept"))

	second := cfg
	second.NodeID = "node-two"
	second.StagingDir = t.TempDir()
	_, err := Open(ctx, second)
	if !errors.Is(err, ErrClaimed) || !strings.Contains(err.Error(), "node-one") || !strings.Contains(err.Error(), cfg.Prefix+"claim") {
		t.Errorf("second node on the prefix: %v; want ErrClaimed naming node-one and the claim object", err)
	}
	second.SealKey[0] ^= 1
	if _, err := Open(ctx, second); !errors.Is(err, ErrClaimed) {
		t.Errorf("second node with other keys on the prefix: %v; want ErrClaimed", err)
	}

	// The same node again (a restart, or its folder restored elsewhere).
	again := cfg
	again.StagingDir = t.TempDir()
	b2 := openConfig(t, again)
	wantBytes(t, b2, testKeyOf(2, 0), []byte("kept"), "after taking the claim over")

	// Another prefix of the bucket is free.
	other := cfg
	other.Prefix = s3test.Prefix()
	other.NodeID = "node-two"
	openConfig(t, other)

	// The claim is sealed: no node name in the clear.
	if p := rawObject(t, srv, b, claimName).get(); bytes.Contains(p, []byte("node-one")) {
		t.Errorf("the claim is stored in the clear")
	}
	if c, r := b.ConditionalWrites(); !c || !r {
		t.Errorf("ConditionalWrites = %v, %v; versitygw honours both", c, r)
	}
}

// TestPermanentErrors checks the errors of a wrong secret, an unknown
// access key and a missing bucket: each its sentinel, naming the bucket
// and endpoint, never holding the secret key.
func TestPermanentErrors(t *testing.T) {
	srv := s3test.Shared(t)
	const secret = "Sup3r-S3cret-Do-Not-Leak-0123456789"
	check := func(what string, cfg Config, want error) {
		t.Helper()
		_, err := Open(ctx, cfg)
		if !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", what, err, want)
			return
		}
		msg := err.Error()
		if strings.Contains(msg, secret) || strings.Contains(msg, srv.SecretKey) {
			t.Errorf("%s: the error holds the secret key: %s", what, msg)
		}
		if !strings.Contains(msg, cfg.Bucket) || !strings.Contains(msg, srv.Endpoint) {
			t.Errorf("%s: the error does not name the bucket and endpoint: %s", what, msg)
		}
	}
	cfg := testConfig(t, srv)
	cfg.SecretKey = secret
	check("wrong secret", cfg, ErrBadCredentials)
	cfg.AccessKey = "NOSUCHACCESSKEY"
	check("unknown access key", cfg, ErrBadCredentials)
	cfg = testConfig(t, srv)
	cfg.Bucket = "no-such-bucket-here"
	check("missing bucket", cfg, ErrNoBucket)
}

// TestConfig checks the validation of a configuration.
func TestConfig(t *testing.T) {
	good := Config{Endpoint: "127.0.0.1:9000", Bucket: "b", SealKey: [32]byte{1}, StagingDir: "x", NodeID: "n"}
	if c, host, err := normalize(good); err != nil || c.PartSize != DefaultPartSize || c.MaxRetries != DefaultMaxRetries || host != "127.0.0.1:9000" || c.Secure {
		t.Errorf("normalize(good) = %+v, %q, %v", c, host, err)
	}
	for _, c := range []struct {
		endpoint, prefix string
		secure           bool
		want             string
	}{
		{"https://s3.example.com", "lafs", true, "lafs/"},
		{"http://127.0.0.1:9000/", "a/b/", false, "a/b/"},
	} {
		cfg := good
		cfg.Endpoint, cfg.Prefix = c.endpoint, c.prefix
		got, _, err := normalize(cfg)
		if err != nil || got.Secure != c.secure || got.Prefix != c.want {
			t.Errorf("normalize(%q, %q) = secure %v prefix %q, %v", c.endpoint, c.prefix, got.Secure, got.Prefix, err)
		}
	}
	for what, f := range map[string]func(*Config){
		"no bucket":         func(c *Config) { c.Bucket = "" },
		"no endpoint":       func(c *Config) { c.Endpoint = "" },
		"ftp endpoint":      func(c *Config) { c.Endpoint = "ftp://h" },
		"endpoint path":     func(c *Config) { c.Endpoint = "http://h/path" },
		"user in endpoint":  func(c *Config) { c.Endpoint = "http://user:Sup3r@h" },
		"no seal key":       func(c *Config) { c.SealKey = [32]byte{} },
		"no staging folder": func(c *Config) { c.StagingDir = "" },
		"no node ID":        func(c *Config) { c.NodeID = "" },
		"small parts":       func(c *Config) { c.PartSize = 1 << 20 },
		"odd parts":         func(c *Config) { c.PartSize = 6<<20 + 1 },
		"absolute prefix":   func(c *Config) { c.Prefix = "/lafs" },
	} {
		cfg := good
		f(&cfg)
		_, _, err := normalize(cfg)
		if err == nil {
			t.Errorf("%s: accepted", what)
		} else if strings.Contains(err.Error(), "Sup3r") {
			t.Errorf("%s: error shows the password: %v", what, err)
		}
	}
}

// TestMultipart writes an object of several parts out of order, rewrites
// a part already uploaded (with the same bytes, then with other bytes)
// and reads it back exactly, in pieces and across part boundaries.
func TestMultipart(t *testing.T) {
	srv := s3test.Shared(t)
	cfg := testConfig(t, srv)
	cfg.PartSize = MinPartSize
	b := openConfig(t, cfg)
	const ps = MinPartSize
	size := int64(3*ps + ps/2 + 12345)
	data := pattern(7, int(size))
	k := testKeyOf(4, 3)
	st, err := b.Create(ctx, k, size)
	must(t, err)
	write := func(off, end int64) { t.Helper(); must(t, st.WriteAt(data[off:end], off)) }
	// Part 2 first, then part 0, then the tail, then part 1: parts go up
	// as soon as they are whole and something lies beyond them.
	write(2*ps, 3*ps)
	write(0, ps)
	write(3*ps, size)
	write(ps, 2*ps)
	ss := st.(*staged)
	waitUploads(t, ss, 3)
	mp := ss.mp
	// Repeating bytes changes nothing; other bytes start over.
	write(ps+10, ps+5000)
	if ss.mp != mp {
		t.Fatalf("rewriting the same bytes started the upload over")
	}
	data[ps+100] ^= 0xff
	write(ps+100, ps+101)
	if ss.mp == mp {
		t.Fatalf("changing an uploaded part's bytes did not start the upload over")
	}
	// Read back through the staged object.
	p := make([]byte, 1000)
	if n, err := ss.ReadAt(p, ps+50); n != len(p) || err != nil || !bytes.Equal(p, data[ps+50:ps+1050]) {
		t.Fatalf("staged ReadAt: %d, %v", n, err)
	}
	must(t, st.Commit(ctx))
	wantBytes(t, b, k, data, "committed multipart object")
	for _, off := range []int64{0, ps - 7, 2*ps - chunkSize/2, size - 3} {
		p := make([]byte, 2*chunkSize)
		n, err := b.ReadAt(ctx, k, p, off)
		want := data[off:min(size, off+int64(len(p)))]
		if n != len(want) || (err != nil && err != io.EOF) || !bytes.Equal(p[:n], want) {
			t.Errorf("ReadAt at %d: %d, %v", off, n, err)
		}
	}
	// The stored object is the sealed size, in as many parts.
	info, err := srv.Client().StatObject(ctx, cfg.Bucket, b.key(shareName(k)), minio.StatObjectOptions{})
	must(t, err)
	if info.Size != sealedSize(size) || !strings.HasSuffix(info.ETag, "-4") {
		t.Errorf("stored %d bytes, ETag %s; want %d bytes in 4 parts", info.Size, info.ETag, sealedSize(size))
	}
	// Nothing left behind.
	wantNoUploads(t, srv, b)
	if ents, _ := os.ReadDir(cfg.StagingDir); len(ents) != 0 {
		t.Errorf("staging folder holds %d files after Commit", len(ents))
	}

	// A second commit to the key is refused, and its upload aborted.
	st, err = b.Create(ctx, k, size)
	must(t, err)
	must(t, st.WriteAt(data, 0))
	if err := st.Commit(ctx); !errors.Is(err, backend.ErrExist) {
		t.Errorf("second Commit: %v, want ErrExist", err)
	}
	b.wg.Wait()
	wantNoUploads(t, srv, b)
	wantBytes(t, b, k, data, "after a refused second commit")
}

// waitUploads waits until n parts of s are up.
func waitUploads(t testing.TB, s *staged, n int) {
	t.Helper()
	for range 1000 {
		s.mu.Lock()
		done := 0
		for _, p := range s.parts {
			if p.state == partDone {
				done++
			}
		}
		s.mu.Unlock()
		if done >= n {
			return
		}
		sleep()
	}
	t.Fatalf("parts not uploaded in the background")
}

// wantNoUploads checks that no multipart upload is left under b's prefix.
func wantNoUploads(t testing.TB, srv *s3test.Server, b *Backend) {
	t.Helper()
	res, err := srv.Client().ListMultipartUploads(ctx, b.cfg.Bucket, b.prefix, "", "", "", 1000)
	must(t, err)
	if len(res.Uploads) != 0 {
		t.Errorf("%d incomplete uploads left under %s", len(res.Uploads), b.prefix)
	}
}

// TestCrashLeftovers abandons staged uploads (one with parts up in the
// background) without Commit or Abort, as a crash would, and opens the
// prefix again: the spool files and the multipart upload are gone, and
// nothing is visible.
func TestCrashLeftovers(t *testing.T) {
	srv := s3test.Shared(t)
	cfg := testConfig(t, srv)
	cfg.PartSize = MinPartSize
	b, err := Open(ctx, cfg)
	must(t, err)
	big, err := b.Create(ctx, testKeyOf(5, 0), 3*MinPartSize)
	must(t, err)
	must(t, big.WriteAt(pattern(1, 2*MinPartSize+1), 0))
	waitUploads(t, big.(*staged), 2)
	small, err := b.Create(ctx, testKeyOf(5, 1), 10)
	must(t, err)
	must(t, small.WriteAt([]byte("abc"), 0))
	b.Close() // stops background work only, as if the process died
	res, err := srv.Client().ListMultipartUploads(ctx, cfg.Bucket, cfg.Prefix, "", "", "", 1000)
	must(t, err)
	if len(res.Uploads) != 1 {
		t.Fatalf("before reopening, %d incomplete uploads; want 1", len(res.Uploads))
	}
	if left, _ := filepath.Glob(filepath.Join(cfg.StagingDir, spoolPattern)); len(left) != 2 {
		t.Fatalf("before reopening, %d spool files; want 2", len(left))
	}

	b2 := openConfig(t, cfg)
	wantNoUploads(t, srv, b2)
	if ents, _ := os.ReadDir(cfg.StagingDir); len(ents) != 0 {
		t.Errorf("staging folder holds %d files after Open", len(ents))
	}
	var sis []lafs.StorageIndex
	must(t, b2.Walk(ctx, func(si lafs.StorageIndex) error { sis = append(sis, si); return nil }))
	if len(sis) != 0 {
		t.Errorf("Walk after a crash shows %v", sis)
	}
	// The keys are free.
	put(t, b2, testKeyOf(5, 0), []byte("new"))
	wantBytes(t, b2, testKeyOf(5, 0), []byte("new"), "after the crash")
}

// TestLostUpdate changes one object through two backends of the same
// node (as two processes would): the second Sync finds the object
// changed and drops its changes instead of overwriting the first.
func TestLostUpdate(t *testing.T) {
	srv := s3test.Shared(t)
	cfg := testConfig(t, srv)
	b1 := openConfig(t, cfg)
	cfg2 := cfg
	cfg2.StagingDir = t.TempDir()
	b2 := openConfig(t, cfg2)
	k := testKeyOf(6, 0)
	put(t, b1, k, []byte("0123456789"))
	must(t, b1.WriteAt(ctx, k, []byte("AB"), 0))
	must(t, b2.WriteAt(ctx, k, []byte("CD"), 4))
	must(t, b2.Sync(ctx, k))
	err := b1.Sync(ctx, k)
	if err == nil || !errors.Is(err, errLostUpdate) {
		t.Fatalf("Sync of a stale in-place change: %v, want a lost update", err)
	}
	wantBytes(t, b1, k, []byte("0123CD6789"), "after the refused Sync")
}

// TestErrorsHoldNoSecret runs failing operations and checks that no
// error holds the secret key.
func TestErrorsHoldNoSecret(t *testing.T) {
	srv := s3test.Shared(t)
	cfg := testConfig(t, srv)
	b := openConfig(t, cfg)
	var errs []error
	k := testKeyOf(7, 0)
	_, err := b.Size(ctx, k)
	errs = append(errs, err)
	_, err = b.ReadAt(ctx, k, make([]byte, 3), 0)
	errs = append(errs, err)
	errs = append(errs, b.WriteAt(ctx, k, []byte("x"), 0), b.Delete(ctx, k), b.Sync(ctx, k))
	_, err = b.GetRecord(ctx, "nothing")
	errs = append(errs, err)
	// The secret changed at the store: every request is refused.
	b.client.Client = mustClient(t, srv.Endpoint, srv.AccessKey, "wrong-"+srv.SecretKey)
	_, err = b.List(ctx, k.SI)
	errs = append(errs, err)
	errs = append(errs, b.PutRecord(ctx, "a", []byte("x")))
	st, err := b.Create(ctx, k, 3)
	must(t, err)
	must(t, st.WriteAt([]byte("abc"), 0))
	errs = append(errs, st.Commit(ctx))
	for i, err := range errs {
		if err == nil {
			t.Errorf("operation %d did not fail", i)
			continue
		}
		if strings.Contains(err.Error(), srv.SecretKey) {
			t.Errorf("operation %d: the error holds the secret key: %v", i, err)
		}
	}
	if !errors.Is(errs[len(errs)-1], ErrBadCredentials) {
		t.Errorf("Commit with a wrong secret: %v, want ErrBadCredentials", errs[len(errs)-1])
	}
}

func mustClient(t testing.TB, endpoint, access, secret string) *minio.Client {
	t.Helper()
	c, err := minio.New(endpoint, &minio.Options{
		Creds:        credentialsV4(access, secret),
		BucketLookup: minio.BucketLookupPath,
		MaxRetries:   1,
	})
	must(t, err)
	return c
}

func credentialsV4(access, secret string) *credentials.Credentials {
	return credentials.NewStaticV4(access, secret, "")
}

// sleep waits a little, for polling loops.
func sleep() { time.Sleep(10 * time.Millisecond) }

// TestConfigString checks that printing a configuration shows neither
// credential nor the seal key, only that an access key is set.
func TestConfigString(t *testing.T) {
	cfg := Config{Endpoint: "h:1", Bucket: "b", AccessKey: "AKIDLAFS42", SecretKey: "Sup3r-S3cret", SealKey: [32]byte{0xab, 0xcd}}
	for _, s := range []string{fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), fmt.Sprintf("%v", &cfg), cfg.LogValue().String()} {
		if strings.Contains(s, "Sup3r") || strings.Contains(s, "171") || strings.Contains(s, "0xab") || strings.Contains(s, "AKIDLAFS42") || !strings.Contains(s, "access key set") {
			t.Errorf("printed configuration: %s", s)
		}
	}
	cfg.AccessKey = ""
	if s := cfg.String(); !strings.Contains(s, "no access key") {
		t.Errorf("printed configuration without an access key: %s", s)
	}
}

// counter is a transport that counts requests by method.
type counter struct {
	inner http.RoundTripper
	mu    sync.Mutex
	n     map[string]int
}

func (c *counter) RoundTrip(req *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.n[req.Method]++
	c.mu.Unlock()
	return c.inner.RoundTrip(req)
}

func (c *counter) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.n
	c.n = map[string]int{}
	return n
}

// TestRequests counts the requests of reads and writes: a small read
// near the start of an object fetches header and chunks at once, a small
// read of chunks read before makes none, a large read one, and a changed
// object is fetched anew.
func TestRequests(t *testing.T) {
	srv := s3test.Shared(t)
	cfg := testConfig(t, srv)
	tr, err := minio.DefaultTransport(false)
	must(t, err)
	c := &counter{inner: tr, n: map[string]int{}}
	cfg.Transport = c
	b := openConfig(t, cfg)
	k := testKeyOf(10, 0)
	data := pattern(3, 20*chunkSize)
	put(t, b, k, data)
	b.cache.drop(shareName(k)) // as after a restart
	c.take()
	read := func(off, n int64, what string, want map[string]int) {
		t.Helper()
		p := make([]byte, n)
		if m, err := b.ReadAt(ctx, k, p, off); m != len(p) || err != nil && err != io.EOF || !bytes.Equal(p, data[off:off+n]) {
			t.Fatalf("%s: ReadAt = %d, %v", what, m, err)
		}
		if got := c.take(); !maps.Equal(got, want) {
			t.Errorf("%s: requests %v, want %v", what, got, want)
		}
	}
	get1 := map[string]int{"GET": 1}
	read(10, 100, "first read near the start", get1)
	read(0, 20, "again, the header and chunk cached", map[string]int{})
	read(5*chunkSize+7, 3000, "read further in", get1)
	read(5*chunkSize+70, 3000, "again", map[string]int{})
	read(chunkSize, 10*chunkSize, "large read", get1)
	read(chunkSize, 10*chunkSize, "large read again", get1)
	if n, err := b.Size(ctx, k); n != int64(len(data)) || err != nil {
		t.Errorf("Size = %d, %v", n, err)
	}
	if got := c.take(); len(got) != 0 {
		t.Errorf("Size: requests %v, want none", got)
	}
	must(t, b.WriteAt(ctx, k, []byte("changed"), 3))
	must(t, b.Sync(ctx, k))
	copy(data[3:], "changed")
	c.take()
	read(0, 20, "after a change", get1)
}
