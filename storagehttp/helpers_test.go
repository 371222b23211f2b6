package storagehttp

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/nurl"
)

// testCert is a self-signed RSA-2048 certificate like a node's node.pem.
type testCert struct {
	tls  tls.Certificate
	x509 *x509.Certificate
}

var (
	certMu    sync.Mutex
	certCache = map[string]*testCert{}
)

// newTestCert returns the self-signed certificate called name, made once
// per test binary (RSA key generation is slow).
func newTestCert(t testing.TB, name string) *testCert {
	t.Helper()
	certMu.Lock()
	defer certMu.Unlock()
	if c, ok := certCache[name]; ok {
		return c
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "newpb_thingy"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	x, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	c := &testCert{tls: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: x}, x509: x}
	certCache[name] = c
	return c
}

// spkiHash is the pin of cert.
func spkiHash(t testing.TB, cert *x509.Certificate) string {
	t.Helper()
	h, err := nurl.SPKIHash(cert)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// serveTLS serves h over real TLS on 127.0.0.1 with cert and returns the
// NURL that reaches it with swissnum.
func serveTLS(t testing.TB, h http.Handler, cert *testCert, swissnum string) NURL {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(h, cert.tls)
	srv.ErrorLog = log.New(io.Discard, "", 0)
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.ServeTLS(ln, "", "")
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	addr := ln.Addr().(*net.TCPAddr)
	return NURL{SPKIHash: spkiHash(t, cert.x509), Host: "127.0.0.1", Port: addr.Port, Swissnum: swissnum}
}

var errUnimplemented = errors.New("fake: not implemented")

// fakeServer is a lafs.StorageServer of function fields; a nil field
// answers errUnimplemented.
type fakeServer struct {
	version    func(ctx context.Context) (lafs.ServerVersion, error)
	allocate   func(ctx context.Context, si lafs.StorageIndex, lease lafs.LeaseSecrets, upload []byte, shares []lafs.ShareNum, size uint64) (lafs.AllocateResult, error)
	write      func(ctx context.Context, si lafs.StorageIndex, shnum lafs.ShareNum, upload []byte, offset uint64, data []byte) (lafs.WriteResult, error)
	abort      func(ctx context.Context, si lafs.StorageIndex, shnum lafs.ShareNum, upload []byte) error
	readImm    func(ctx context.Context, si lafs.StorageIndex, shnum lafs.ShareNum, offset, length uint64) ([]byte, error)
	listImm    func(ctx context.Context, si lafs.StorageIndex) ([]lafs.ShareNum, error)
	corruptImm func(ctx context.Context, si lafs.StorageIndex, shnum lafs.ShareNum, reason string) error
	lease      func(ctx context.Context, si lafs.StorageIndex, lease lafs.LeaseSecrets) error
	rtw        func(ctx context.Context, si lafs.StorageIndex, we lafs.Secret, lease lafs.LeaseSecrets, tw map[lafs.ShareNum]lafs.TestWriteVectors, read []lafs.ReadVector) (lafs.ReadTestWriteResult, error)
	readMut    func(ctx context.Context, si lafs.StorageIndex, shnum lafs.ShareNum, offset, length uint64) ([]byte, error)
	listMut    func(ctx context.Context, si lafs.StorageIndex) ([]lafs.ShareNum, error)
	corruptMut func(ctx context.Context, si lafs.StorageIndex, shnum lafs.ShareNum, reason string) error
}

func (f *fakeServer) Version(ctx context.Context) (lafs.ServerVersion, error) {
	if f.version == nil {
		return lafs.ServerVersion{}, errUnimplemented
	}
	return f.version(ctx)
}

func (f *fakeServer) AllocateBuckets(ctx context.Context, si lafs.StorageIndex, lease lafs.LeaseSecrets, upload lafs.UploadSecret, shares []lafs.ShareNum, size uint64) (lafs.AllocateResult, error) {
	if f.allocate == nil {
		return lafs.AllocateResult{}, errUnimplemented
	}
	return f.allocate(ctx, si, lease, upload, shares, size)
}

func (f *fakeServer) WriteImmutable(ctx context.Context, si lafs.StorageIndex, shnum lafs.ShareNum, upload lafs.UploadSecret, offset uint64, data []byte) (lafs.WriteResult, error) {
	if f.write == nil {
		return lafs.WriteResult{}, errUnimplemented
	}
	return f.write(ctx, si, shnum, upload, offset, data)
}

func (f *fakeServer) AbortImmutable(ctx context.Context, si lafs.StorageIndex, shnum lafs.ShareNum, upload lafs.UploadSecret) error {
	if f.abort == nil {
		return errUnimplemented
	}
	return f.abort(ctx, si, shnum, upload)
}

func (f *fakeServer) ReadImmutable(ctx context.Context, si lafs.StorageIndex, shnum lafs.ShareNum, offset, length uint64) ([]byte, error) {
	if f.readImm == nil {
		return nil, errUnimplemented
	}
	return f.readImm(ctx, si, shnum, offset, length)
}

func (f *fakeServer) ListImmutable(ctx context.Context, si lafs.StorageIndex) ([]lafs.ShareNum, error) {
	if f.listImm == nil {
		return nil, errUnimplemented
	}
	return f.listImm(ctx, si)
}

func (f *fakeServer) AdviseCorruptImmutable(ctx context.Context, si lafs.StorageIndex, shnum lafs.ShareNum, reason string) error {
	if f.corruptImm == nil {
		return errUnimplemented
	}
	return f.corruptImm(ctx, si, shnum, reason)
}

func (f *fakeServer) AddOrRenewLease(ctx context.Context, si lafs.StorageIndex, lease lafs.LeaseSecrets) error {
	if f.lease == nil {
		return errUnimplemented
	}
	return f.lease(ctx, si, lease)
}

func (f *fakeServer) ReadTestWrite(ctx context.Context, si lafs.StorageIndex, we lafs.Secret, lease lafs.LeaseSecrets, tw map[lafs.ShareNum]lafs.TestWriteVectors, read []lafs.ReadVector) (lafs.ReadTestWriteResult, error) {
	if f.rtw == nil {
		return lafs.ReadTestWriteResult{}, errUnimplemented
	}
	return f.rtw(ctx, si, we, lease, tw, read)
}

func (f *fakeServer) ReadMutable(ctx context.Context, si lafs.StorageIndex, shnum lafs.ShareNum, offset, length uint64) ([]byte, error) {
	if f.readMut == nil {
		return nil, errUnimplemented
	}
	return f.readMut(ctx, si, shnum, offset, length)
}

func (f *fakeServer) ListMutable(ctx context.Context, si lafs.StorageIndex) ([]lafs.ShareNum, error) {
	if f.listMut == nil {
		return nil, errUnimplemented
	}
	return f.listMut(ctx, si)
}

func (f *fakeServer) AdviseCorruptMutable(ctx context.Context, si lafs.StorageIndex, shnum lafs.ShareNum, reason string) error {
	if f.corruptMut == nil {
		return errUnimplemented
	}
	return f.corruptMut(ctx, si, shnum, reason)
}

// shareReader serves reads of data as a complete share does: up to length
// bytes at offset, fewer at the end, none past it. calls counts them.
func shareReader(data []byte, calls *int) func(context.Context, lafs.StorageIndex, lafs.ShareNum, uint64, uint64) ([]byte, error) {
	var mu sync.Mutex
	return func(_ context.Context, _ lafs.StorageIndex, _ lafs.ShareNum, off, n uint64) ([]byte, error) {
		mu.Lock()
		if calls != nil {
			*calls++
		}
		mu.Unlock()
		if off >= uint64(len(data)) {
			return []byte{}, nil
		}
		end := min(uint64(len(data)), off+min(n, uint64(len(data))))
		return append([]byte{}, data[off:end]...), nil
	}
}
