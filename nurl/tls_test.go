package nurl

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/lafs/lafs/internal/vectors"
)

// TestSPKIHashVectors checks SPKIHash, and the pin check, against Tahoe's
// src/allmydata/test/data/spki-hash-test-vectors.yaml (RSA-2048, RSA-4096
// and Ed25519 keys).
func TestSPKIHashVectors(t *testing.T) {
	var doc struct {
		Vector []struct {
			Hash string `yaml:"expected-hash"`
			SPKI string `yaml:"expected-spki"`
			Cert string `yaml:"certificate"`
		} `yaml:"vector"`
	}
	if err := yaml.Unmarshal(vectors.Read(t, "spki-hash-test-vectors.yaml"), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Vector) == 0 {
		t.Fatal("no vectors")
	}
	for i, v := range doc.Vector {
		block, _ := pem.Decode([]byte(v.Cert))
		if block == nil {
			t.Fatalf("vector %d: no PEM", i)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatalf("vector %d: %v", i, err)
		}
		if got := base64.StdEncoding.EncodeToString(cert.RawSubjectPublicKeyInfo); got != v.SPKI {
			t.Errorf("vector %d: SPKI %s, want %s", i, got, v.SPKI)
		}
		if got, err := SPKIHash(cert); err != nil || got != v.Hash {
			t.Errorf("vector %d: hash %s, %v; want %s", i, got, err, v.Hash)
		}
		// The pin accepts the certificate: it is one self-signed
		// certificate (expired, which does not matter).
		want, err := decodeSPKIHash(v.Hash)
		if err != nil {
			t.Fatal(err)
		}
		if err := verifyPinned([]*x509.Certificate{cert}, want); err != nil {
			t.Errorf("vector %d: %v", i, err)
		}
	}
}

// selfSigned makes a self-signed certificate for key.
func selfSigned(t testing.TB, key crypto.Signer) tls.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "newpb_thingy"},
		NotBefore:    time.Now().Add(-48 * time.Hour),
		NotAfter:     time.Now().Add(-24 * time.Hour), // expired: no matter
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	x, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: x}
}

func ecKey(t testing.TB) crypto.Signer {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func hashOf(t testing.TB, c *x509.Certificate) string {
	t.Helper()
	h, err := SPKIHash(c)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestSPKIHashKinds(t *testing.T) {
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	for _, key := range []crypto.Signer{ecKey(t), edKey} {
		c := selfSigned(t, key).Leaf
		h := hashOf(t, c)
		// The re-encoded key is the certificate's own SPKI.
		if want, _ := decodeSPKIHash(h); want != sha256.Sum256(c.RawSubjectPublicKeyInfo) {
			t.Errorf("%T: hash %s is not that of the certificate's SPKI", key, h)
		}
		if len(h) != 43 {
			t.Errorf("%T: %q", key, h)
		}
	}
	// A key Go cannot encode has no hash, and fails the pin.
	c := *selfSigned(t, ecKey(t)).Leaf
	c.PublicKey = nil
	if _, err := SPKIHash(&c); err == nil {
		t.Error("hash of no key")
	}
	if err := verifyPinned([]*x509.Certificate{&c}, [32]byte{}); !errors.Is(err, ErrPin) {
		t.Errorf("no key: %v", err)
	}
}

func TestVerifyPinned(t *testing.T) {
	a, b := selfSigned(t, ecKey(t)).Leaf, selfSigned(t, ecKey(t)).Leaf
	want, err := decodeSPKIHash(hashOf(t, a))
	if err != nil {
		t.Fatal(err)
	}
	if err := verifyPinned([]*x509.Certificate{a}, want); err != nil {
		t.Fatal(err)
	}
	err = verifyPinned([]*x509.Certificate{b}, want)
	if !errors.Is(err, ErrPin) || !strings.Contains(err.Error(), hashOf(t, b)) {
		t.Errorf("another certificate: %v", err)
	}
	for _, certs := range [][]*x509.Certificate{nil, {a, b}, {a, a}} {
		if err := verifyPinned(certs, want); !errors.Is(err, ErrPin) {
			t.Errorf("%d certificates: %v", len(certs), err)
		}
	}
	// A certificate that names another issuer is not self-signed.
	other := *a
	other.RawIssuer = []byte("someone else")
	if err := verifyPinned([]*x509.Certificate{&other}, want); !errors.Is(err, ErrPin) {
		t.Errorf("not self-issued: %v", err)
	}
	bad := *a
	bad.Signature = append([]byte{}, a.Signature...)
	bad.Signature[10]++
	if err := verifyPinned([]*x509.Certificate{&bad}, want); !errors.Is(err, ErrPin) {
		t.Errorf("bad signature: %v", err)
	}
}

func TestClientTLSConfigBadPin(t *testing.T) {
	for _, pin := range []string{"", "short", hash43 + "=", strings.ReplaceAll(hash43, "_", "/")} {
		if _, err := ClientTLSConfig(pin); !errors.Is(err, ErrNURL) {
			t.Errorf("%q: %v", pin, err)
		}
	}
}

// TestHandshake runs real TLS handshakes between ServerTLSConfig and
// ClientTLSConfig: the pinned certificate is taken, another refused.
func TestHandshake(t *testing.T) {
	cert := selfSigned(t, ecKey(t))
	handshake := func(pin string) error {
		conf, err := ClientTLSConfig(pin)
		if err != nil {
			t.Fatal(err)
		}
		ln, err := tls.Listen("tcp", "127.0.0.1:0", ServerTLSConfig(cert))
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			if s, err := ln.Accept(); err == nil {
				s.(*tls.Conn).Handshake()
				s.Close()
			}
		}()
		c, err := net.DialTimeout("tcp", ln.Addr().String(), 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		cl := tls.Client(c, conf)
		err = cl.Handshake()
		if err == nil && cl.ConnectionState().NegotiatedProtocol != "http/1.1" {
			t.Errorf("ALPN %q", cl.ConnectionState().NegotiatedProtocol)
		}
		return err
	}
	if err := handshake(hashOf(t, cert.Leaf)); err != nil {
		t.Errorf("pinned server: %v", err)
	}
	if err := handshake(hashOf(t, selfSigned(t, ecKey(t)).Leaf)); !errors.Is(err, ErrPin) {
		t.Errorf("impostor: %v", err)
	}
}
